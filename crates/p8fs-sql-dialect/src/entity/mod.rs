//! Entities: DDL, statements and the store that runs them on any [`crate::SqlExecutor`].

mod cache;
pub mod codec;
pub mod ddl;
pub mod dml;
mod filter;
mod layout;
mod store;

pub use cache::{CacheStats, MetadataCache, TableInfo};
pub use filter::{EntityQuery, Filter, Op};
pub use layout::{EMBEDDINGS_SCHEMA, Layout};
pub use store::{BATCH_CHUNK, Entity, EntityStore, Migration, UpsertResult};
