//! The entity store: p8fs's entity operations, written once, on any SQL provider.
//!
//! `p8fs-sql-dialect` turns models into statements and performs no I/O; this crate runs
//! them. [`EntityStore`] migrates, upserts (with embeddings and extra statements in one
//! transaction), reads, selects, deletes and searches entities through any
//! [`p8fs_sql_dialect::SqlExecutor`] (`p8fs-tidb`, `p8fs-postgres`, `p8fs-sqlite`),
//! asking the executor's dialect object for every engine difference. The
//! [`MetadataCache`] keeps what the catalog says of each table, and [`deadline`] keeps
//! the providers' per-statement deadlines cheap.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod cache;
pub mod deadline;
mod fuzzy;
pub mod graph;
pub mod lease;
pub mod retry;
mod search;
mod store;
mod text;

pub use cache::{CacheScope, CacheStats, MetadataCache, TableInfo};
pub use fuzzy::{FuzzyHit, MIN_SIMILARITY};
pub use graph::{Edge, EdgeChange};
pub use search::{SearchResult, SemanticHit, VectorHit};
pub use store::{
    BATCH_CHUNK, BATCH_CHUNK_BYTES, Entity, EntityEmbeddings, EntityStore, ExtraStatements, Migration, UpsertResult,
};
pub use text::{Fusion, TEXT_FIELD, fuse};

/// The dialect crate this store builds its statements with, re-exported so users avoid
/// version skew.
pub use p8fs_sql_dialect;
