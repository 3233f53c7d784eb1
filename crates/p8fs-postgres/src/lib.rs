//! The PostgreSQL + pgvector provider of p8fs.
//!
//! [`PgProvider`] keeps one `deadpool-postgres` pool per URL, prepares each statement once
//! per connection (the driver's statement cache, bounded by
//! [`PgConfig::max_cached_statements`]), binds vectors in pgvector's binary
//! format and JSON as `jsonb`, and maps SQLSTATE codes to portable error kinds.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod binder;
mod config;
mod error;
mod provider;
mod statements;
mod tls;

pub use config::{PgConfig, PgTls};
pub use provider::PgProvider;

/// The driver this crate is built on, re-exported so users avoid version skew.
pub use tokio_postgres;
