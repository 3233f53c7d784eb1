//! The MySQL-protocol provider of p8fs: TiDB (the target at scale) and MariaDB (the
//! MySQL-protocol engine with vectors that runs on development machines).
//!
//! [`TidbProvider`] connects with one `mysql_async` pool per URL, reads `VERSION()` to
//! detect the flavor (or takes a forced one), and executes [`p8fs_sql_dialect::Statement`]s
//! built for the matching dialect. Every value is bound as a parameter.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod binder;
mod config;
mod error;
mod provider;

pub use config::{MySqlConfig, MySqlFlavorChoice, TidbTxnMode};
pub use provider::TidbProvider;

/// The driver this crate is built on, re-exported so users avoid version skew.
pub use mysql_async;
