//! PostgreSQL with pgvector: `JSONB`, `vector(D)`, vectors bound in binary.

use sea_query::{ColumnType, Expr, PostgresQueryBuilder, QueryStatementWriter, SchemaStatementBuilder, Value};

use super::{Dialect, DialectKind, VectorOutput, build_with};
use crate::{Result, Statement};

/// PostgreSQL. JSON is `JSONB` bound as a JSON value; vectors are pgvector's `vector`
/// bound in its binary format (no text formatting on the hot path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Postgres;

impl Dialect for Postgres {
    const KIND: DialectKind = DialectKind::Postgres;
    const INLINE_INDEXES: bool = false;
    const VECTOR_OUTPUT: VectorOutput = VectorOutput::Native;

    fn build_query<S: QueryStatementWriter>(&self, stmt: &S) -> Statement {
        build_with(stmt, PostgresQueryBuilder)
    }

    fn build_schema<S: SchemaStatementBuilder>(&self, stmt: &S) -> Statement {
        Statement::raw(stmt.build(PostgresQueryBuilder))
    }

    fn version_query(&self) -> Statement {
        Statement::raw("SELECT version()")
    }

    fn json_column(&self) -> ColumnType {
        ColumnType::JsonBinary
    }

    fn blob_column(&self) -> ColumnType {
        ColumnType::Binary(1)
    }

    fn vector_column(&self, dim: u32) -> ColumnType {
        ColumnType::Vector(Some(dim))
    }

    fn json_value(&self, value: &serde_json::Value) -> Expr {
        Expr::val(Value::Json(Some(Box::new(value.clone()))))
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        crate::vector::check_finite(vector)?;
        Ok(Expr::val(Value::Vector(Some(pgvector::Vector::from(vector.to_vec())))))
    }

    fn vector_select(&self, column: Expr) -> Expr {
        column
    }
}
