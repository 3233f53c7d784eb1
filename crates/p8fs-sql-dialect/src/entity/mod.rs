//! Entities: DDL, statements and the store that runs them on any [`crate::SqlExecutor`].

pub mod ddl;
mod layout;

pub use layout::{EMBEDDINGS_SCHEMA, Layout};
