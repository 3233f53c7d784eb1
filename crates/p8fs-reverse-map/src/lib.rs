//! Reverse name <-> entity mappings of p8fs, on the p8fs-kv contract.
