//! p8fs: entities, embeddings, key-value state and reverse name mappings behind one API.
//!
//! This is the only crate that picks backends. Configuration is parsed once, at the edge,
//! into typed values ([`SqlConfig`]); nothing below branches on strings.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod api;
mod config;
pub mod embed;
mod error;
mod kv;
pub mod rem;
mod search;

pub use api::{EmbedderSettings, P8fs, Settings, StoredEntity};
pub use config::{DEFAULT_DATA_DIR, SqlConfig, SqlTimeouts, connect_sql, connect_sql_with};
pub use error::{Error, ErrorKind, Result};
pub use kv::{KvSettings, connect_kv};
pub use p8fs_entity::Fusion;
pub use p8fs_entity::{Edge, EdgeChange};
pub use rem::{RemAnswer, RemHit};
pub use search::QueryMode;

/// The KV layer, re-exported.
pub use p8fs_kv as kv_layer;

/// The SQL layer (dialects, statements, models), re-exported.
pub use p8fs_sql_dialect as sql;

/// The entity store, re-exported.
pub use p8fs_entity as entity;
