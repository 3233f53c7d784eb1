//! Key-value layer of p8fs: one async contract over an embedded store, TiKV, the p8fs HTTP proxy and SQL tables.
