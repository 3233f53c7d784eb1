//! The REM (Resource-Entity-Moment) query language of p8fs: a query string parsed into a
//! typed [`RemQuery`], with no I/O and nothing from the rest of p8fs.
//!
//! ```
//! use p8fs_rem::{parse, LookupKey, RemQuery};
//!
//! let q = parse(r#"LOOKUP resources:my-project-alpha, "sign in page""#).unwrap();
//! assert_eq!(
//!     q,
//!     RemQuery::Lookup {
//!         keys: vec![
//!             LookupKey { table: Some("resources".into()), key: "my-project-alpha".into() },
//!             LookupKey { table: None, key: "sign in page".into() },
//!         ]
//!     }
//! );
//! ```
//!
//! The forms (the full grammar, with every decision, is in `docs/rem.md`):
//!
//! * `LOOKUP k1, "k2", table:k3` and `GET k`: by name ([`RemQuery::Lookup`]);
//! * `SEARCH "text" [IN table] [LIMIT n]`: semantic search ([`RemQuery::Search`]);
//! * `FUZZY text [IN table] [LIMIT n]`: approximate name match ([`RemQuery::Fuzzy`]);
//! * `SELECT ... FROM table [WHERE ...] [ORDER BY ...] [LIMIT n] [OFFSET n]`: parsed by
//!   `sqlparser` and turned into p8fs's filter grammar, never passed on as SQL
//!   ([`RemQuery::Select`]);
//! * `TRAVERSE [types] WITH (LOOKUP keys | SEARCH "text") [DEPTH n] [IN table] [LIMIT n]
//!   [PLAN]`: graph traversal ([`RemQuery::Traverse`]);
//! * anything else: an implicit `SEARCH` of the whole text.
//!
//! What the parser guarantees, so the executor need not check it again: keywords are
//! case-insensitive; table and column names are plain identifiers
//! (`[A-Za-z_][A-Za-z0-9_]*`, at most [`MAX_IDENT_LEN`] bytes); limits, depths and key
//! counts are within the bounds below; a `SELECT` holds only columns, literals and the
//! operators of the filter grammar. What it does not know, and the executor checks: which
//! tables and columns exist, and which columns a caller may filter on (a
//! `WHERE tenant_id = 'b'` parses into a `tenant_id` filter, which the executor refuses:
//! the tenant comes from the caller, never from the query).
//!
//! [`parse`] never panics and does bounded work: a query is at most [`MAX_QUERY_BYTES`],
//! `LOOKUP` takes at most [`MAX_LOOKUP_KEYS`] keys, and the SQL parser's recursion is
//! limited to [`SQL_RECURSION_LIMIT`] levels.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod ast;
mod error;
mod keys;
mod lexer;
mod query;
mod select;
mod text;
mod traverse;

pub use ast::{LookupKey, RemQuery, Seed, SelectQuery, TraverseQuery};
pub use error::ParseError;
pub use query::parse;

/// The longest query accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 16 * 1024;
/// The most keys of one `LOOKUP` (or of a `TRAVERSE ... WITH LOOKUP` seed).
pub const MAX_LOOKUP_KEYS: usize = 1_000;
/// The largest `LIMIT` of any form.
pub const MAX_LIMIT: u64 = 10_000;
/// The largest `DEPTH` of a `TRAVERSE`.
pub const MAX_DEPTH: u32 = 10;
/// The longest table, column or edge-type name, in bytes (MySQL's limit; PostgreSQL's is 63).
pub const MAX_IDENT_LEN: usize = 64;
/// How deeply the SQL parser may nest (parentheses, operators, subqueries) before it
/// refuses a `SELECT`.
pub const SQL_RECURSION_LIMIT: usize = 50;
