//! Entities: DDL, statements and the store that runs them on any [`crate::SqlExecutor`].

mod cache;
pub mod codec;
pub mod ddl;
pub mod dml;
mod filter;
mod layout;
pub mod search;
mod store;

pub use cache::{CacheScope, CacheStats, MetadataCache, TableInfo};
pub use filter::{EntityQuery, Filter, Op};
pub use layout::{EMBEDDINGS_SCHEMA, Layout};
pub use search::{MAX_CANDIDATES, SearchMode, SearchOptions, SearchResult, SemanticHit, VectorHit};
pub use store::{BATCH_CHUNK, Entity, EntityEmbeddings, EntityStore, ExtraStatements, Migration, UpsertResult};
