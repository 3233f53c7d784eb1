//! TiDB: MySQL syntax, `VECTOR(D)` columns and the `VEC_*` functions (TiDB >= 8.4).

use sea_query::{ColumnType, Expr, Func, MysqlQueryBuilder, QueryStatementWriter, SchemaStatementBuilder};

use super::{Dialect, DialectKind, VectorOutput, build_with};
use crate::{Result, Statement, format_vector_text};

/// TiDB. Vectors are bound as `[..]` text through `VEC_FROM_TEXT(?)` and read back with
/// `VEC_AS_TEXT(col)`; JSON is a native `JSON` column bound as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tidb;

impl Dialect for Tidb {
    const KIND: DialectKind = DialectKind::Tidb;
    const INLINE_INDEXES: bool = true;
    const VECTOR_OUTPUT: VectorOutput = VectorOutput::Text;

    fn build_query<S: QueryStatementWriter>(&self, stmt: &S) -> Statement {
        build_with(stmt, MysqlQueryBuilder)
    }

    fn build_schema<S: SchemaStatementBuilder>(&self, stmt: &S) -> Statement {
        Statement::raw(stmt.build(MysqlQueryBuilder))
    }

    fn version_query(&self) -> Statement {
        Statement::raw("SELECT VERSION()")
    }

    fn json_column(&self) -> ColumnType {
        ColumnType::Json
    }

    fn blob_column(&self) -> ColumnType {
        ColumnType::custom("LONGBLOB")
    }

    fn vector_column(&self, dim: u32) -> ColumnType {
        ColumnType::custom(format!("VECTOR({dim})"))
    }

    fn json_value(&self, value: &serde_json::Value) -> Expr {
        Expr::val(value.to_string())
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        Ok(Func::cust("VEC_FROM_TEXT").arg(format_vector_text(vector)?).into())
    }

    fn vector_select(&self, column: Expr) -> Expr {
        Func::cust("VEC_AS_TEXT").arg(column).into()
    }
}
