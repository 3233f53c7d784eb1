//! SQLite (the embedded default): JSON as text, vectors as little-endian `f32` blobs.

use sea_query::{ColumnType, Expr, Func, SqliteQueryBuilder, Value};

use super::{Dialect, DialectFacts, DialectKind, Metric, VectorIndexParams, VectorOutput};
use crate::model::FieldType;
use crate::{Error, ErrorKind, Result, Statement, vector_to_le_bytes};

/// SQLite. JSON is stored as text (queried with SQLite's JSON functions); vectors are
/// blobs whose distances are SQL functions `p8fs-sqlite` registers
/// ([`Sqlite::distance_function`]), so SQLite orders and limits a search itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sqlite;

impl Sqlite {
    /// The SQL function `p8fs-sqlite` registers for `metric`'s distance between a stored
    /// vector blob and the query's: exactly [`Metric::distance`].
    pub fn distance_function(metric: Metric) -> &'static str {
        match metric {
            Metric::Cosine => "p8fs_cosine_distance",
            Metric::L2 => "p8fs_l2_distance",
            Metric::InnerProduct => "p8fs_ip_distance",
        }
    }
}

impl Dialect for Sqlite {
    fn facts(&self) -> &'static DialectFacts {
        &DialectFacts {
            kind: DialectKind::Sqlite,
            inline_indexes: false,
            upsert_returning: true,
            multi_row_upsert: true,
            vector_output: VectorOutput::Bytes,
            quote: '"',
            schemas: false,
        }
    }

    fn build_any_query(&self, stmt: super::AnyQuery<'_>) -> Statement {
        stmt.build_with(SqliteQueryBuilder)
    }

    fn build_any_schema(&self, stmt: super::AnySchema<'_>) -> Statement {
        stmt.build_with(SqliteQueryBuilder)
    }

    fn create_schema(&self, _name: &str) -> Option<Statement> {
        None
    }

    fn text_column(&self) -> ColumnType {
        ColumnType::Text
    }

    fn timestamp_column(&self) -> ColumnType {
        ColumnType::Text
    }

    fn timestamp_value(&self, t: chrono::DateTime<chrono::Utc>) -> Value {
        // Fixed width, so text order is time order.
        Value::String(Some(crate::entity::codec::format_timestamp(t)))
    }

    fn replace_primary_key(&self, qualified: &str, _columns: &[&str]) -> Result<Vec<Statement>> {
        Err(crate::Error::new(
            crate::ErrorKind::Unsupported,
            format!("SQLite cannot change the primary key of {qualified} in place"),
        ))
    }

    fn excluded(&self, column: &str) -> Expr {
        Expr::cust(format!("excluded.{}", self.quote_ident(column)))
    }

    fn merge_patch(&self, current: Expr, patch: Expr, _schema: Option<&str>) -> Expr {
        Func::cust("json_patch").arg(Func::coalesce([current, Expr::val("{}")])).arg(patch).into()
    }

    fn like(&self, column: Expr, pattern: &str) -> Expr {
        // Registered by p8fs-sqlite: SQLite's own LIKE ignores ASCII case.
        Func::cust("p8fs_like").arg(column).arg(pattern).into()
    }

    fn full_text_index(&self, schema: Option<&str>, table: &str, index: &str, columns: &[&str]) -> Vec<Statement> {
        // An FTS5 index table over the entity table's rows (external content: the text is
        // not stored twice), Porter stemming over Unicode words, kept in step by triggers;
        // built from the rows when it has fewer documents than the table (new, or created
        // over an existing table).
        let t = self.qualified(schema, table);
        let fts = self.qualified(schema, index);
        let fts_name = self.quote_ident(index);
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        let list = cols.join(", ");
        let new_vals: Vec<String> = cols.iter().map(|c| format!("new.{c}")).collect();
        let old_vals: Vec<String> = cols.iter().map(|c| format!("old.{c}")).collect();
        let content = table.replace('\'', "''");
        let trigger = |suffix: &str| self.qualified(schema, &format!("{index}_{suffix}"));
        let stmt = |sql: String| Statement { sql, values: vec![] };
        let insert_new = format!("INSERT INTO {fts}(rowid, {list}) VALUES (new.rowid, {});", new_vals.join(", "));
        let delete_old = format!(
            "INSERT INTO {fts}({fts_name}, rowid, {list}) VALUES ('delete', old.rowid, {});",
            old_vals.join(", ")
        );
        vec![
            stmt(format!(
                "CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({list}, content='{content}', content_rowid='rowid', \
                 tokenize='porter unicode61')"
            )),
            stmt(format!("CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {t} BEGIN {insert_new} END", trigger("ai"))),
            stmt(format!("CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {t} BEGIN {delete_old} END", trigger("ad"))),
            stmt(format!(
                "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE ON {t} BEGIN {delete_old} {insert_new} END",
                trigger("au")
            )),
            stmt(format!(
                "INSERT INTO {fts}({fts_name}) SELECT 'rebuild' WHERE (SELECT count(*) FROM {}) <> (SELECT count(*) FROM {t})",
                self.qualified(schema, &format!("{index}_docsize"))
            )),
        ]
    }

    fn full_text_match(
        &self,
        schema: Option<&str>,
        table: &str,
        _columns: &[&str],
        words: &[String],
    ) -> Option<(Expr, Expr)> {
        // Words are letters and digits only, each quoted as an FTS5 string: the MATCH
        // syntax is never the caller's. bm25() is lower for better matches: negated.
        let index = format!("{table}_fts");
        let fts = self.qualified(schema, &index);
        let t = self.qualified(schema, table);
        let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        let query = query.join(" OR ");
        let filter = Expr::cust_with_values(
            format!("{t}.rowid IN (SELECT rowid FROM {fts} WHERE {fts} MATCH ?)"),
            [query.clone()],
        );
        let score = Expr::cust_with_values(
            format!("(SELECT -bm25({fts}) FROM {fts} WHERE {fts} MATCH ? AND {fts}.rowid = {t}.rowid)"),
            [query],
        );
        Some((filter, score))
    }

    fn ilike(&self, column: Expr, pattern: &str) -> Expr {
        Func::cust("p8fs_ilike").arg(column).arg(pattern).into()
    }

    fn json_contains(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Func::cust("p8fs_json_contains").arg(column).arg(value.to_string()).into()
    }

    fn json_overlaps(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Func::cust("p8fs_json_overlaps").arg(column).arg(value.to_string()).into()
    }

    fn index_names_query(&self, _schema: Option<&str>, table: &str) -> Statement {
        Statement {
            sql: "SELECT name FROM pragma_index_list(?) ORDER BY name".into(),
            values: vec![Value::from(table)],
        }
    }

    fn table_info_query(&self, _schema: Option<&str>, table: &str) -> Statement {
        Statement {
            sql: "SELECT name, pk > 0 FROM pragma_table_info(?) ORDER BY cid".into(),
            values: vec![Value::from(table)],
        }
    }

    fn distance(&self, metric: Metric, column: Expr, query: &[f32]) -> Result<Option<Expr>> {
        crate::vector::check_finite(query)?;
        let query = Expr::val(Value::Bytes(Some(vector_to_le_bytes(query)?)));
        Ok(Some(Func::cust(Self::distance_function(metric)).arg(column).arg(query).into()))
    }

    fn create_vector_index(
        &self,
        _schema: Option<&str>,
        _table: &str,
        _metric: Metric,
        _params: &VectorIndexParams,
    ) -> Result<Vec<Statement>> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "SQLite keeps no vector index in the database: p8fs-sqlite builds its HNSW index in process, on the first approximate search of a tenant with 20,000 rows or more",
        ))
    }

    fn drop_vector_index(&self, _schema: Option<&str>, _table: &str, _metric: Metric) -> Result<Statement> {
        Err(Error::new(
            ErrorKind::Unsupported,
            "SQLite keeps no vector index in the database (p8fs-sqlite holds it in process)",
        ))
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

    fn json_bound(&self, value: &serde_json::Value) -> Value {
        value.to_string().into()
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        Ok(Expr::val(Value::Bytes(Some(vector_to_le_bytes(vector)?))))
    }

    fn vector_select(&self, column: Expr) -> Expr {
        column
    }

    fn typed_null(&self, ty: FieldType) -> Value {
        match ty {
            // Timestamps are fixed-width text.
            FieldType::Timestamp => Value::String(None),
            FieldType::Text | FieldType::Uuid => Value::String(None),
            FieldType::Int => Value::BigInt(None),
            FieldType::Float => Value::Double(None),
            FieldType::Bool => Value::Bool(None),
            FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray => Value::String(None),
        }
    }

    fn has_vector_index(&self) -> bool {
        false
    }

    fn owned_by_table(&self, name: &str) -> bool {
        name.starts_with("sqlite_autoindex")
    }

    fn vector_search_summary(&self) -> &'static str {
        "in process: exact SIMD scan, or an HNSW index per tenant of 20,000+ rows (approximate)"
    }
}
