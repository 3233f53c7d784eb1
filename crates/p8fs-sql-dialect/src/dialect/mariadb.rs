//! MariaDB (>= 11.7): MySQL syntax, `VECTOR(D)` columns bound and read as little-endian
//! `f32` bytes.

use sea_query::{ColumnType, Expr, ExprTrait, Func, MysqlQueryBuilder, TableCreateStatement, Value};

use super::{Dialect, DialectFacts, DialectKind, Metric, VectorIndexParams, VectorOutput, vector_index_name};
use crate::{Error, ErrorKind, Result, Statement, vector_to_le_bytes};

/// MariaDB. Its `JSON` type is `LONGTEXT` with a validity check, so JSON comes back as
/// text and is decoded by the model that knows the column is JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MariaDb;

impl MariaDb {
    /// Binary and `NO PAD`: `'a ' = 'a'` is false (MariaDB's `utf8mb4_bin` pads).
    pub const NOPAD_COLLATION: &'static str = "utf8mb4_nopad_bin";
}

impl Dialect for MariaDb {
    fn facts(&self) -> &'static DialectFacts {
        &DialectFacts {
            kind: DialectKind::MariaDb,
            inline_indexes: true,
            upsert_returning: true,
            multi_row_upsert: true,
            vector_output: VectorOutput::Bytes,
            quote: '`',
            schemas: true,
        }
    }

    super::mysql_family::mysql_family_methods!();

    fn full_text_index(&self, schema: Option<&str>, table: &str, index: &str, columns: &[&str]) -> Vec<Statement> {
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        vec![Statement {
            sql: format!(
                "CREATE FULLTEXT INDEX IF NOT EXISTS {} ON {} ({})",
                self.quote_ident(index),
                self.qualified(schema, table),
                cols.join(", ")
            ),
            values: vec![],
        }]
    }

    fn full_text_match(
        &self,
        _schema: Option<&str>,
        _table: &str,
        columns: &[&str],
        words: &[String],
    ) -> Option<(Expr, Expr)> {
        // Natural-language mode ranks by any of the words. The columns' collation is
        // binary (NO PAD), which makes InnoDB's full-text matching case-sensitive, so each
        // word is also asked for capitalised and in capitals. InnoDB drops words shorter
        // than `innodb_ft_min_token_size` (3) and its own stop words.
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        let mut terms: Vec<String> = Vec::new();
        for w in words {
            let mut chars = w.chars();
            let capital: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
            for t in [w.clone(), capital, w.to_uppercase()] {
                if !terms.contains(&t) {
                    terms.push(t);
                }
            }
        }
        let m = format!("MATCH ({}) AGAINST (? IN NATURAL LANGUAGE MODE)", cols.join(", "));
        let q = terms.join(" ");
        Some((Expr::cust_with_values(m.clone(), [q.clone()]), Expr::cust_with_values(m, [q])))
    }

    fn build_returning(&self, upsert: &mut sea_query::InsertStatement, columns: &[&str]) -> Statement {
        // sea-query renders no RETURNING for the MySQL family (MySQL has none); MariaDB's
        // goes after ON DUPLICATE KEY UPDATE, and the values stay positional.
        let mut stmt = self.build_any_query(super::AnyQuery::Insert(upsert));
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        stmt.sql.push_str(" RETURNING ");
        stmt.sql.push_str(&cols.join(", "));
        stmt
    }

    fn vector_search_summary(&self) -> &'static str {
        "MariaDB VECTOR: exact, or vector index (cosine, L2)"
    }

    fn distance(&self, metric: Metric, column: Expr, query: &[f32]) -> Result<Option<Expr>> {
        let f = match metric {
            Metric::Cosine => "VEC_DISTANCE_COSINE",
            Metric::L2 => "VEC_DISTANCE_EUCLIDEAN",
            Metric::InnerProduct => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "MariaDB has no inner-product vector distance; use cosine or l2",
                ));
            }
        };
        Ok(Some(Func::cust(f).arg(column).arg(self.vector_value(query)?).into()))
    }

    fn ann_settings(&self, candidates: usize) -> Vec<Statement> {
        // Search wider than the candidates asked for: MariaDB's HNSW loses recall quickly at
        // small ef_search (0.91 at 40 on 768-d clustered data in the suite, >= 0.95 at 200).
        vec![Statement::raw(format!("SET SESSION mhnsw_ef_search = {}", candidates.clamp(200, 10_000)))]
    }

    fn create_vector_index(
        &self,
        schema: Option<&str>,
        table: &str,
        metric: Metric,
        params: &VectorIndexParams,
    ) -> Result<Vec<Statement>> {
        let qualified = super::checked_qualified(self, schema, table)?;
        let d = match metric {
            Metric::Cosine => "cosine",
            Metric::L2 => "euclidean",
            Metric::InnerProduct => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "MariaDB vector indexes support cosine and euclidean distance only",
                ));
            }
        };
        Ok(vec![Statement::raw(format!(
            "CREATE VECTOR INDEX IF NOT EXISTS {} ON {qualified} ({}) M={} DISTANCE={d}",
            self.quote_ident(&vector_index_name(table, metric)),
            self.quote_ident("embedding_vector"),
            params.m.clamp(3, 200)
        ))])
    }

    fn drop_vector_index(&self, schema: Option<&str>, table: &str, metric: Metric) -> Result<Statement> {
        let qualified = super::checked_qualified(self, schema, table)?;
        Ok(Statement::raw(format!(
            "DROP INDEX IF EXISTS {} ON {qualified}",
            self.quote_ident(&vector_index_name(table, metric))
        )))
    }

    fn convert_collation(&self, qualified: &str) -> Result<Vec<Statement>> {
        Ok(vec![Statement::raw(format!(
            "ALTER TABLE {qualified} CONVERT TO CHARACTER SET utf8mb4 COLLATE {}",
            Self::NOPAD_COLLATION
        ))])
    }

    fn replace_primary_key(&self, qualified: &str, columns: &[&str]) -> Result<Vec<Statement>> {
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        Ok(vec![Statement::raw(format!(
            "ALTER TABLE {qualified} DROP PRIMARY KEY, ADD PRIMARY KEY ({})",
            cols.join(", ")
        ))])
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        // Binary in: exact and without text formatting. A raw byte parameter must be cast
        // to BINARY for MariaDB to accept it as a vector.
        Ok(Expr::val(Value::Bytes(Some(vector_to_le_bytes(vector)?))).cast_as("BINARY"))
    }

    fn vector_select(&self, column: Expr) -> Expr {
        // Binary out: `VEC_ToText` prints six significant digits, which loses precision.
        column
    }
}
