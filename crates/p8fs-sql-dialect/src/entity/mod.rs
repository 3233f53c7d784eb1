//! Entities as SQL: the DDL, the statements (upsert, select, delete, the id checks, the
//! nearest-neighbour searches) and the row codec. `p8fs-entity` runs them on any
//! [`crate::SqlExecutor`].

pub mod codec;
pub mod ddl;
pub mod dml;
mod filter;
pub mod fuzzy;
pub mod knn;
mod layout;
pub mod text;

pub use filter::{EntityQuery, Filter, Op};
pub use knn::{MAX_CANDIDATES, SearchMode, SearchOptions};
pub use layout::{EMBEDDINGS_SCHEMA, Layout};
pub use text::FullText;
