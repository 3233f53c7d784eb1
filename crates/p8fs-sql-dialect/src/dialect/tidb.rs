//! TiDB: MySQL syntax, `VECTOR(D)` columns and the `VEC_*` functions (TiDB >= 8.4).

use sea_query::{
    ColumnType, Expr, ExprTrait, Func, MysqlQueryBuilder, QueryStatementWriter, SchemaStatementBuilder,
    TableCreateStatement, Value,
};

use super::{Dialect, DialectKind, Metric, VectorIndexParams, VectorOutput, build_with, vector_index_name};
use crate::{Error, ErrorKind, Result, Statement, format_vector_text};

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

    const QUOTE: char = '`';
    const SCHEMAS: bool = true;

    fn create_schema(&self, name: &str) -> Option<Statement> {
        Some(Statement::raw(format!("CREATE DATABASE IF NOT EXISTS {}", self.quote_ident(name))))
    }

    fn text_column(&self) -> ColumnType {
        ColumnType::custom("LONGTEXT")
    }

    fn timestamp_column(&self) -> ColumnType {
        ColumnType::custom("DATETIME(6)")
    }

    fn table_options(&self, table: &mut TableCreateStatement) {
        // Binary collation: equality, ordering, uniqueness and LIKE are exact and
        // case-sensitive, as on PostgreSQL and SQLite.
        table.character_set("utf8mb4").collate("utf8mb4_bin");
    }

    fn excluded(&self, column: &str) -> Expr {
        Expr::cust(format!("VALUES({})", self.quote_ident(column)))
    }

    fn guard_tenant(&self, new: Expr, column: &str) -> Expr {
        let t = self.quote_ident("tenant_id");
        Expr::cust_with_exprs(format!("IF({t} <=> VALUES({t}), ?, {})", self.quote_ident(column)), [new])
    }

    fn merge_patch(&self, current: Expr, patch: Expr, _schema: Option<&str>) -> Expr {
        Func::cust("JSON_MERGE_PATCH").arg(Func::coalesce([current, Expr::val("{}")])).arg(patch).into()
    }

    fn like(&self, column: Expr, pattern: &str) -> Expr {
        column.like(pattern)
    }

    fn ilike(&self, column: Expr, pattern: &str) -> Expr {
        Func::lower(column).like(pattern.to_lowercase())
    }

    fn json_contains(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Func::cust("JSON_CONTAINS").arg(column).arg(value.to_string()).into()
    }

    fn json_overlaps(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Func::cust("JSON_OVERLAPS").arg(column).arg(value.to_string()).into()
    }

    fn table_info_query(&self, schema: Option<&str>, table: &str) -> Statement {
        Statement {
            sql: "SELECT column_name, column_key = 'PRI' FROM information_schema.columns \
                  WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY ordinal_position"
                .into(),
            values: vec![Value::String(schema.map(str::to_owned)), Value::from(table)],
        }
    }

    fn distance(&self, metric: Metric, column: Expr, query: &[f32]) -> Result<Option<Expr>> {
        let f = match metric {
            Metric::Cosine => "VEC_COSINE_DISTANCE",
            Metric::L2 => "VEC_L2_DISTANCE",
            Metric::InnerProduct => "VEC_NEGATIVE_INNER_PRODUCT",
        };
        Ok(Some(Func::cust(f).arg(column).arg(self.vector_value(query)?).into()))
    }

    fn create_vector_index(
        &self,
        table: &str,
        qualified: &str,
        metric: Metric,
        _params: &VectorIndexParams,
    ) -> Result<Vec<Statement>> {
        let f = match metric {
            Metric::Cosine => "VEC_COSINE_DISTANCE",
            Metric::L2 => "VEC_L2_DISTANCE",
            Metric::InnerProduct => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "TiDB vector indexes support cosine and l2 distance only",
                ));
            }
        };
        // The index lives in TiFlash: the table needs a replica first. HNSW has no
        // tunables on TiDB.
        Ok(vec![
            Statement::raw(format!("ALTER TABLE {qualified} SET TIFLASH REPLICA 1")),
            Statement::raw(format!(
                "CREATE VECTOR INDEX IF NOT EXISTS {} ON {qualified} (({f}({}))) USING HNSW",
                self.quote_ident(&vector_index_name(table, metric)),
                self.quote_ident("embedding_vector")
            )),
        ])
    }

    fn drop_vector_index(&self, table: &str, qualified: &str, metric: Metric) -> Result<Statement> {
        Ok(Statement::raw(format!(
            "DROP INDEX IF EXISTS {} ON {qualified}",
            self.quote_ident(&vector_index_name(table, metric))
        )))
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
