//! The SQLite provider of p8fs: the embedded default, a single file, no server.
//!
//! [`SqliteProvider`] runs `rusqlite` (SQLite compiled in) on a blocking thread so async
//! callers are never blocked. JSON is stored as text and vectors as little-endian `f32`
//! blobs; vector distances are SQL functions p8fs registers (computed in Rust, so SQLite
//! orders and limits a search itself).
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod binder;
mod distance;
mod functions;
mod like;
mod provider;
mod vectors;

pub use like::MAX_PATTERN_CHARS;
pub use provider::{SqliteConfig, SqliteProvider};
pub use vectors::{DEFAULT_ANN_MIN_ROWS, LOG_KEEP, VectorMemory};

/// The driver this crate is built on, re-exported so users avoid version skew.
pub use rusqlite;
