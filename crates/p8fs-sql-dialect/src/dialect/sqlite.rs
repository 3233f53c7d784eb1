//! SQLite (the embedded default): JSON as text, vectors as little-endian `f32` blobs.

use sea_query::{ColumnType, Expr, QueryStatementWriter, SchemaStatementBuilder, SqliteQueryBuilder, Value};

use super::{Dialect, DialectKind, VectorOutput, build_with};
use crate::{Result, Statement, vector_to_le_bytes};

/// SQLite. JSON is stored as text (queried with SQLite's JSON functions); vectors are
/// blobs whose distances p8fs computes in Rust.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sqlite;

impl Dialect for Sqlite {
    const KIND: DialectKind = DialectKind::Sqlite;
    const INLINE_INDEXES: bool = false;
    const VECTOR_OUTPUT: VectorOutput = VectorOutput::Bytes;

    fn build_query<S: QueryStatementWriter>(&self, stmt: &S) -> Statement {
        build_with(stmt, SqliteQueryBuilder)
    }

    fn build_schema<S: SchemaStatementBuilder>(&self, stmt: &S) -> Statement {
        Statement::raw(stmt.build(SqliteQueryBuilder))
    }

    fn version_query(&self) -> Statement {
        Statement::raw("SELECT sqlite_version()")
    }

    fn json_column(&self) -> ColumnType {
        ColumnType::Text
    }

    fn blob_column(&self) -> ColumnType {
        ColumnType::Blob
    }

    fn vector_column(&self, _dim: u32) -> ColumnType {
        ColumnType::Blob
    }

    fn json_value(&self, value: &serde_json::Value) -> Expr {
        Expr::val(value.to_string())
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        Ok(Expr::val(Value::Bytes(Some(vector_to_le_bytes(vector)?))))
    }

    fn vector_select(&self, column: Expr) -> Expr {
        column
    }
}
