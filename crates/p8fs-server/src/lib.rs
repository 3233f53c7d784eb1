//! The p8fs HTTP KV proxy service.
