//! SQL generation for p8fs.
//!
//! This crate turns p8fs's models into SQL for each engine p8fs supports and defines the
//! small execution contract the provider crates implement. It performs no I/O, has no
//! runtime and links no database driver: `p8fs-tidb`, `p8fs-postgres` and `p8fs-sqlite`
//! execute statements, and `p8fs-entity` runs the entity operations on them.
//!
//! * A dialect is a zero-sized type per engine ([`Tidb`], [`MariaDb`], [`Postgres`],
//!   [`Sqlite`]), each in its own file, implementing the object-safe [`Dialect`]; code above
//!   holds one `&'static dyn Dialect` (from `SqlExecutor::dialect` or
//!   [`DialectKind::dialect`]) and asks it for every engine difference. [`DialectKind`] is
//!   the runtime name, parsed once at the edge.
//! * [`entity`] holds the builders of the entity statements (DDL, DML, filters, knn) and
//!   the row codec.
//! * Every statement is a [`Statement`]: SQL text plus the values bound to its
//!   placeholders. Values are never formatted into the text.
//! * [`SqlExecutor`] is what a provider does with a statement; [`Error`] is the one error
//!   type of all providers, with a matchable [`ErrorKind`].
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod conn_url;
mod dialect;
pub mod entity;
mod error;
mod executor;
mod flavor;
pub mod model;
pub mod probe;
mod statement;
pub mod text_check;
pub mod tidb_admin;
mod vector;

pub use dialect::{
    AnyQuery, AnySchema, Dialect, DialectFacts, DialectKind, HelperFunction, MERGE_PATCH_FN, MariaDb, Metric, Postgres,
    Sqlite, Tidb, VectorIndexParams, VectorOutput, merge_patch_function, vector_index_name,
};
pub use error::{Error, ErrorKind, Result};
pub use executor::{NearestAnswer, NearestHit, NearestQuery, RowCheck, SqlExecutor};
pub use flavor::{Flavor, ServerInfo};
pub use statement::{Row, SqlValue, Statement};
pub use vector::{format_vector_text, parse_vector_text, vector_from_le_bytes, vector_to_le_bytes};

/// The sea-query version this crate builds with, re-exported so users avoid version skew.
pub use sea_query;
