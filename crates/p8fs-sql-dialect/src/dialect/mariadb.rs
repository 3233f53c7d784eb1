//! MariaDB (>= 11.7): MySQL syntax, `VECTOR(D)` columns, `VEC_FromText`/`VEC_ToText`.

use sea_query::{ColumnType, Expr, Func, MysqlQueryBuilder, QueryStatementWriter, SchemaStatementBuilder};

use super::{Dialect, DialectKind, VectorOutput, build_with};
use crate::{Result, Statement, format_vector_text};

/// MariaDB. Its `JSON` type is `LONGTEXT` with a validity check, so JSON comes back as
/// text and is decoded by the model that knows the column is JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MariaDb;

impl Dialect for MariaDb {
    const KIND: DialectKind = DialectKind::MariaDb;
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

    fn vector_column(&self, dim: u32) -> ColumnType {
        ColumnType::custom(format!("VECTOR({dim})"))
    }

    fn json_value(&self, value: &serde_json::Value) -> Expr {
        Expr::val(value.to_string())
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        Ok(Func::cust("VEC_FromText").arg(format_vector_text(vector)?).into())
    }

    fn vector_select(&self, column: Expr) -> Expr {
        Func::cust("VEC_ToText").arg(column).into()
    }
}
