//! TiDB: MySQL syntax, `VECTOR(D)` columns and the `VEC_*` functions (TiDB >= 8.4).

use sea_query::{ColumnType, Expr, ExprTrait, Func, MysqlQueryBuilder, TableCreateStatement, Value};

use super::{Dialect, DialectFacts, DialectKind, Metric, VectorIndexParams, VectorOutput, vector_index_name};
use crate::{Error, ErrorKind, Result, Statement, format_vector_text};

/// TiDB. Vectors are bound as `[..]` text through `VEC_FROM_TEXT(?)` and read back with
/// `VEC_AS_TEXT(col)`; JSON is a native `JSON` column bound as text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tidb;

impl Tidb {
    /// Binary and `NO PAD` (TiDB >= 7.4; its `utf8mb4_bin` pads, as MySQL's does).
    pub const NOPAD_COLLATION: &'static str = "utf8mb4_0900_bin";
}

impl Dialect for Tidb {
    fn facts(&self) -> &'static DialectFacts {
        &DialectFacts {
            kind: DialectKind::Tidb,
            inline_indexes: true,
            upsert_returning: false,
            multi_row_upsert: true,
            vector_output: VectorOutput::Text,
            quote: '`',
            schemas: true,
        }
    }

    super::mysql_family::mysql_family_methods!();

    fn partition_by_key(&self, table: &mut TableCreateStatement, column: &str, partitions: u32) {
        table.extra(format!("PARTITION BY KEY({}) PARTITIONS {partitions}", self.quote_ident(column)));
    }

    fn vector_search_summary(&self) -> &'static str {
        "TiDB VECTOR: exact, or vector index on TiFlash (cosine, L2)"
    }

    fn replica_status_query(&self, schema: Option<&str>, table: &str) -> Option<Statement> {
        Some(crate::tidb_admin::tiflash_replica_status(schema, table))
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
        schema: Option<&str>,
        table: &str,
        metric: Metric,
        _params: &VectorIndexParams,
    ) -> Result<Vec<Statement>> {
        let qualified = super::checked_qualified(self, schema, table)?;
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

    fn drop_vector_index(&self, schema: Option<&str>, table: &str, metric: Metric) -> Result<Statement> {
        let qualified = super::checked_qualified(self, schema, table)?;
        Ok(Statement::raw(format!(
            "DROP INDEX IF EXISTS {} ON {qualified}",
            self.quote_ident(&vector_index_name(table, metric))
        )))
    }

    fn convert_collation(&self, qualified: &str) -> Result<Vec<Statement>> {
        // TiDB refuses to change the collation of an indexed column (8200 "Unsupported
        // converting collation of column ... when index is defined on it").
        Err(Error::new(ErrorKind::Unsupported, format!("TiDB cannot change the collation of {qualified} in place")))
    }

    fn replace_primary_key(&self, qualified: &str, _columns: &[&str]) -> Result<Vec<Statement>> {
        // A clustered primary key (TiDB's default) cannot be dropped, and no primary key can
        // be swapped in one statement.
        Err(Error::new(ErrorKind::Unsupported, format!("TiDB cannot change the primary key of {qualified} in place")))
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        Ok(Func::cust("VEC_FROM_TEXT").arg(format_vector_text(vector)?).into())
    }

    fn vector_select(&self, column: Expr) -> Expr {
        Func::cust("VEC_AS_TEXT").arg(column).into()
    }
}
