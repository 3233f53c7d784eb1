//! Dialects: one zero-sized type per engine, one object-safe trait holding what they
//! share, reached at run time as one `&'static dyn Dialect`.
//!
//! Each engine's file holds only its differences (its facts, vector types and functions,
//! JSON binding, catalog queries, upsert quirks, helper functions); everything standard
//! goes through sea-query. Code outside these files and the providers never branches on
//! the engine (the layering stage of `cargo xtask test` checks it).

mod mariadb;
mod mysql_family;
mod postgres;
mod sqlite;
mod tidb;

use std::fmt;
use std::str::FromStr;

pub use mariadb::MariaDb;
pub use postgres::{MERGE_PATCH_FN, Postgres, merge_patch_function};
pub use sqlite::Sqlite;
pub use tidb::Tidb;

use sea_query::{
    ColumnType, DeleteStatement, Expr, IndexCreateStatement, IndexDropStatement, InsertStatement, QueryBuilder,
    SchemaBuilder, SelectStatement, TableAlterStatement, TableCreateStatement, TableDropStatement, UpdateStatement,
};

use crate::model::FieldType;
use crate::{Error, Result, Statement};

/// How a dialect's vector select expression ([`Dialect::vector_select`]) comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorOutput {
    /// As the driver's own vector type (pgvector).
    Native,
    /// As `[x,y,z]` text (TiDB `VEC_AS_TEXT`, MariaDB `VEC_ToText`).
    Text,
    /// As little-endian `f32` bytes (SQLite blobs).
    Bytes,
}

/// A vector distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Cosine distance, `1 - cos(a, b)`; score `1 - distance`.
    Cosine,
    /// Euclidean distance; score `-distance`.
    L2,
    /// Negative inner product; score is the inner product.
    InnerProduct,
}

impl Metric {
    /// Parses `cosine`, `l2`, `ip` (also `inner_product`).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] listing the valid names.
    pub fn parse(s: &str) -> Result<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" => Ok(Metric::Cosine),
            "l2" | "euclidean" => Ok(Metric::L2),
            "ip" | "inner_product" | "dot" => Ok(Metric::InnerProduct),
            other => Err(Error::invalid_input(format!("unknown metric {other:?}; valid: cosine, l2, ip"))),
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::L2 => "l2",
            Metric::InnerProduct => "ip",
        }
    }

    /// The score of a distance under this metric (higher is more similar).
    pub fn score(self, distance: f64) -> f64 {
        match self {
            Metric::Cosine => 1.0 - distance,
            Metric::L2 | Metric::InnerProduct => -distance,
        }
    }

    /// The distance in Rust, exactly as the engines define it (SQLite's search and the
    /// brute-force ground truth of the tests).
    pub fn distance(self, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        match self {
            Metric::InnerProduct => -dot,
            Metric::L2 => a.iter().zip(b).map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2)).sum::<f64>().sqrt(),
            Metric::Cosine => {
                let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                if na == 0.0 || nb == 0.0 { 1.0 } else { 1.0 - dot / (na * nb) }
            }
        }
    }
}

/// One SQL engine's flavour of SQL: the one dialect object code above the dialects holds
/// (`&'static dyn Dialect`, from [`DialectKind::dialect`] or a provider's
/// `SqlExecutor::dialect`).
///
/// Implementors are zero-sized types, one per engine, each in its own file; shared code
/// never branches on which engine it talks to, it asks the dialect. A new engine is a new
/// implementation of this trait (and a provider crate), nothing else.
pub trait Dialect: fmt::Debug + Send + Sync + 'static {
    /// What this dialect is, as constants (its name and the shape of its SQL).
    fn facts(&self) -> &'static DialectFacts;

    /// This dialect's runtime name (for configuration, messages and metrics; not for
    /// branching).
    fn kind(&self) -> DialectKind {
        self.facts().kind
    }

    /// Builds a query (select, insert, update, delete) into text and bound values; callers
    /// write `d.build_query(&stmt)` (an inherent method of `dyn Dialect`).
    fn build_any_query(&self, stmt: AnyQuery<'_>) -> Statement;

    /// Builds a schema statement (create/alter/drop table or index). Schema statements
    /// carry no values: everything in them comes from a model.
    fn build_any_schema(&self, stmt: AnySchema<'_>) -> Statement;

    /// Whether secondary indexes are declared inside `CREATE TABLE` (the MySQL family, whose
    /// `CREATE INDEX` has no `IF NOT EXISTS` in MySQL) rather than as separate
    /// `CREATE INDEX IF NOT EXISTS` statements (PostgreSQL, SQLite).
    fn inline_indexes(&self) -> bool {
        self.facts().inline_indexes
    }

    /// Whether an upsert can return the rows it wrote or matched (`RETURNING`: PostgreSQL,
    /// SQLite, MariaDB >= 10.5; not TiDB or MySQL, where the stored ids are read back with
    /// a second query).
    fn upsert_returning(&self) -> bool {
        self.facts().upsert_returning
    }

    /// Whether a batch is written as multi-row upserts (one statement of many rows; on a
    /// server one round trip) rather than one prepared single-row upsert stepped per row.
    /// True for every engine here. On SQLite, in process, 200-row statements
    /// measured ~2.2x faster batches than one prepared statement stepped per row (FTS5
    /// flushes its pending terms at every statement's savepoint, so per-row statements
    /// flush the full-text index per row). The store bounds a statement's values by bytes
    /// as well as rows, so that large texts do not sit in one statement (on SQLite an
    /// import's batches of 1 MB texts, one statement each, peaked at up to 216 MB against
    /// ~140 MB stepped per row).
    fn multi_row_upsert(&self) -> bool {
        self.facts().multi_row_upsert
    }

    /// `CREATE TABLE IF NOT EXISTS` for `table` with its secondary `indexes`, as the
    /// statements this engine needs; running them again changes nothing.
    fn create_table_with_indexes(
        &self,
        table: &TableCreateStatement,
        indexes: &[IndexCreateStatement],
    ) -> Vec<Statement> {
        if self.inline_indexes() {
            let mut t = table.clone();
            for i in indexes {
                t.index(&mut i.clone());
            }
            vec![self.build_any_schema(AnySchema::TableCreate(&t))]
        } else {
            let mut out = vec![self.build_any_schema(AnySchema::TableCreate(table))];
            out.extend(
                indexes
                    .iter()
                    .map(|i| self.build_any_schema(AnySchema::IndexCreate(&i.clone().if_not_exists().to_owned()))),
            );
            out
        }
    }

    /// The quote character of identifiers.
    fn quote(&self) -> char {
        self.facts().quote
    }

    /// Whether the engine has schemas (PostgreSQL) or databases (MySQL family) to put
    /// tables in; SQLite has neither here.
    fn schemas(&self) -> bool {
        self.facts().schemas
    }

    /// `ident` quoted, with the quote character doubled inside it (so even a name that was
    /// not validated cannot end the identifier). Every identifier p8fs itself emits comes
    /// from a model and is checked by [`crate::model::check_ident`] (`[a-z0-9_]`).
    fn quote_ident(&self, ident: &str) -> String {
        let q = self.quote();
        let mut out = String::with_capacity(ident.len() + 2);
        out.push(q);
        for c in ident.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// The quoted name of `table`, qualified by `schema` when there is one, for statements
    /// written as text (names from models; the vector-index builders check names from callers first).
    fn qualified(&self, schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", self.quote_ident(s), self.quote_ident(table)),
            None => self.quote_ident(table),
        }
    }

    /// `CREATE SCHEMA`/`CREATE DATABASE IF NOT EXISTS` for a validated name, where the
    /// engine has schemas.
    fn create_schema(&self, name: &str) -> Option<Statement>;

    /// Statements that make vector columns available, before the first table that has
    /// one (pgvector's `CREATE EXTENSION IF NOT EXISTS vector`); idempotent.
    fn vector_prelude(&self) -> Vec<Statement> {
        Vec::new()
    }

    /// Functions p8fs's statements call that the engine lacks, created in `schema`
    /// (PostgreSQL's JSON merge patch); idempotent. Printed by `p8fs schema`; the store
    /// creates them itself when it migrates.
    fn helper_functions(&self, _schema: Option<&str>) -> Vec<HelperFunction> {
        Vec::new()
    }

    /// The extension that gives this engine trigram similarity (PostgreSQL: `pg_trgm`),
    /// with a query that finds it installed; `None` where p8fs scores names itself.
    fn trigram_extension(&self) -> Option<HelperFunction> {
        None
    }

    /// An index that serves `ILIKE '%...%'` and trigram similarity on `column` of `table`
    /// (qualified, quoted), once [`Dialect::trigram_extension`] is installed.
    fn trigram_index(&self, _table: &str, _index: &str, _column: &str) -> Option<Statement> {
        None
    }

    /// The engine's trigram similarity of `column` and `text` (0..1), once
    /// [`Dialect::trigram_extension`] is installed.
    fn trigram_similarity(&self, _column: Expr, _text: &str) -> Option<Expr> {
        None
    }

    /// Where the engine searches text itself ([`Dialect::full_text_match`]) or p8fs ranks
    /// `LIKE` candidates (see `entity::text`).
    fn full_text(&self) -> crate::entity::FullText {
        if self.full_text_match(None, "t", &["c"], &["w".to_owned()]).is_some() {
            crate::entity::FullText::Native
        } else {
            crate::entity::FullText::Fallback
        }
    }

    /// What serves [`Dialect::full_text_match`] over `columns` of `table` in `schema` (an
    /// index, or an index table kept in step by triggers), idempotent, run at every
    /// migrate; empty without native full-text search.
    fn full_text_index(&self, _schema: Option<&str>, _table: &str, _index: &str, _columns: &[&str]) -> Vec<Statement> {
        Vec::new()
    }

    /// The filter that matches rows of `table` whose `columns` hold any of `words`
    /// (letters and digits, lower-cased), and their score (higher is better), each word a
    /// bound value; `None` where the engine has no full-text search.
    fn full_text_match(
        &self,
        _schema: Option<&str>,
        _table: &str,
        _columns: &[&str],
        _words: &[String],
    ) -> Option<(Expr, Expr)> {
        None
    }

    /// Splits a new entity table into `partitions` by `column` (the tenant) where p8fs
    /// partitions tables on this engine (TiDB: `PARTITION BY KEY`); nothing elsewhere.
    fn partition_by_key(&self, _table: &mut TableCreateStatement, _column: &str, _partitions: u32) {}

    /// Secondary indexes that serve JSON containment on `table`'s JSON columns `fields`
    /// (PostgreSQL: GIN, for `@>`); none where the engine has no such index.
    fn json_indexes(&self, _table: &str, _fields: &[&str]) -> Vec<IndexCreateStatement> {
        Vec::new()
    }

    /// The typed SQL `NULL` a field of type `ty` binds (drivers that type parameters need
    /// the column's type even for a `NULL`).
    fn typed_null(&self, ty: FieldType) -> sea_query::Value {
        standard_null(ty)
    }

    /// `upsert` built so that it returns `columns` of every row it wrote or matched; only
    /// called when [`Dialect::upsert_returning`] holds.
    fn build_returning(&self, upsert: &mut InsertStatement, columns: &[&str]) -> Statement {
        upsert.returning(sea_query::Query::returning().columns(columns.iter().map(|c| sea_query::Alias::new(*c))));
        self.build_any_query(AnyQuery::Insert(upsert))
    }

    /// Whether the engine has an approximate vector index p8fs can search through; without
    /// one every search is exact (ordered and limited in SQL).
    fn has_vector_index(&self) -> bool {
        true
    }

    /// Whether index `name` (from [`Dialect::index_names_query`]) is the engine's own index
    /// of a table constraint, which goes with its table (PostgreSQL `*_pkey`, SQLite
    /// `sqlite_autoindex_*`), rather than one p8fs created.
    fn owned_by_table(&self, _name: &str) -> bool {
        false
    }

    /// One line on how vector search works on this engine (for `p8fs doctor`).
    fn vector_search_summary(&self) -> &'static str;

    /// A query for the replica status of `table` on the engine's analytical store (TiDB:
    /// TiFlash), one row of (replicas, available, progress); `None` where there is none.
    fn replica_status_query(&self, _schema: Option<&str>, _table: &str) -> Option<Statement> {
        None
    }

    /// Column type of unbounded text.
    fn text_column(&self) -> ColumnType;

    /// Column type of timestamps (UTC, microseconds).
    fn timestamp_column(&self) -> ColumnType;

    /// Engine-specific table options (character set and collation on the MySQL family).
    fn table_options(&self, _table: &mut TableCreateStatement) {}

    /// The collation text columns must have: binary and `NO PAD` on the MySQL family (a
    /// `PAD SPACE` collation compares `"acme "` equal to `"acme"`, so a tenant id, key or id
    /// with a trailing space would match another's row); `None` where comparison is always
    /// exact (PostgreSQL, SQLite).
    fn exact_collation(&self) -> Option<&'static str> {
        None
    }

    /// Statements that give an existing table [`Dialect::exact_collation`] in place (tables
    /// created before it was used); empty where there is nothing to change.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] where the engine cannot (TiDB refuses to change
    /// the collation of indexed columns): the store rebuilds the table instead.
    fn convert_collation(&self, _qualified: &str) -> Result<Vec<Statement>> {
        Ok(Vec::new())
    }

    /// One statement that renames `live` to `old` and `new` to `live` at once, where the
    /// engine has one (`RENAME TABLE` on the MySQL family, whose DDL is not transactional);
    /// `None` elsewhere (there the rebuild runs in one transaction).
    fn swap_tables(&self, _schema: Option<&str>, _live: &str, _old: &str, _new: &str) -> Option<Statement> {
        None
    }

    /// `ALTER TABLE ... RENAME TO` that renames `table` of `schema` to `to`, in the same
    /// schema.
    fn rename_table(&self, schema: Option<&str>, table: &str, to: &str) -> Statement {
        Statement::raw(format!("ALTER TABLE {} RENAME TO {}", self.qualified(schema, table), self.quote_ident(to)))
    }

    /// A catalog query for the text columns of a table whose collation is not
    /// [`Dialect::exact_collation`] (one row per column); `None` where there is none.
    fn inexact_columns_query(&self, _schema: Option<&str>, _table: &str) -> Option<Statement> {
        None
    }

    /// Statements that make `columns` the primary key of an existing table whose primary
    /// key is another.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] where the engine cannot change a primary key in
    /// place (SQLite: the store rebuilds the table instead).
    fn replace_primary_key(&self, qualified: &str, columns: &[&str]) -> Result<Vec<Statement>>;

    /// A timestamp as a bound value.
    fn timestamp_value(&self, t: chrono::DateTime<chrono::Utc>) -> sea_query::Value {
        sea_query::Value::ChronoDateTimeUtc(Some(t))
    }

    /// The value the conflicting insert proposed for `column`, inside an upsert's update
    /// clause (`VALUES(c)`, `EXCLUDED.c`).
    fn excluded(&self, column: &str) -> Expr;

    /// In an upsert's update clause: `new` when the conflicting row is the row the insert
    /// names (every column of `identity`, such as the tenant and the business key, equal
    /// to the inserted values; `NULL` equal to `NULL`), else the column's current value.
    /// Needed on the MySQL family, where `ON DUPLICATE KEY UPDATE` fires on any unique key:
    /// a clash on the primary key with a row of another key must leave that row alone (the
    /// store then finds the key missing and rolls the transaction back). Elsewhere the
    /// conflict target names the identity and a clash on another unique key is an error.
    fn guard_conflict(&self, new: Expr, _column: &str, _identity: &[&str]) -> Expr {
        new
    }

    /// Whether an upsert meets a row by any unique key, the primary key first (the MySQL
    /// family's `ON DUPLICATE KEY UPDATE`), rather than by its conflict target alone
    /// (PostgreSQL, SQLite). Then its update clause is guarded
    /// ([`Dialect::guard_conflict`]): a row met by another key than the entity's is left as
    /// it was, and the upsert's count says whether a row was changed, which is what
    /// [`crate::entity::dml::upsert_id_guarded`] relies on.
    fn upsert_meets_any_unique_key(&self) -> bool {
        false
    }

    /// RFC 7396 JSON merge patch of `patch` onto `current` (a `NULL` current counts as
    /// `{}`; a `NULL` patch gives `NULL`). `schema` is where PostgreSQL's helper function
    /// lives.
    fn merge_patch(&self, current: Expr, patch: Expr, schema: Option<&str>) -> Expr;

    /// Case-sensitive `LIKE` with a bound pattern.
    fn like(&self, column: Expr, pattern: &str) -> Expr;

    /// Case-insensitive `LIKE` with a bound pattern.
    fn ilike(&self, column: Expr, pattern: &str) -> Expr;

    /// JSON containment: the document in `column` contains `value` (MySQL `JSON_CONTAINS`
    /// semantics, PostgreSQL `@>`).
    fn json_contains(&self, column: Expr, value: &serde_json::Value) -> Expr;

    /// JSON arrays with at least one element in common.
    fn json_overlaps(&self, column: Expr, value: &serde_json::Value) -> Expr;

    /// `column IN (values...)` for long lists of keys or ids, each bound. PostgreSQL binds
    /// the whole list as one parameter instead: a prepared statement with a thousand
    /// parameters gets a generic plan after five runs that compares every row of the
    /// tenant with every parameter (measured: 350 ms for 1,000 keys in 12,000 rows, against
    /// 4 ms planned for the values).
    fn in_list(&self, column: Expr, values: &[&str]) -> Expr {
        sea_query::ExprTrait::is_in(column, values.iter().copied())
    }

    /// A catalog query for a table's columns, as rows of (column name, is part of the
    /// primary key), in column order; no rows when the table does not exist. `schema`
    /// `None` means the connection's default. Uses the engine's fast catalog
    /// (`pg_catalog` on PostgreSQL, not `information_schema`).
    fn table_info_query(&self, schema: Option<&str>, table: &str) -> Statement;

    /// A catalog query for the names of a table's indexes, one row and column per index;
    /// no rows when the table does not exist. `schema` `None` means the connection's
    /// default.
    fn index_names_query(&self, schema: Option<&str>, table: &str) -> Statement;

    /// The engine's distance between vector column `column` and the bound `query` (on
    /// SQLite, functions `p8fs-sqlite` registers; `None` from a dialect whose engine cannot
    /// compute it).
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] for a metric the engine lacks (MariaDB has no
    /// inner product); non-finite query components.
    fn distance(&self, metric: Metric, column: Expr, query: &[f32]) -> Result<Option<Expr>>;

    /// Session settings that let a vector index return `candidates` results for one query
    /// (pgvector `hnsw.ef_search` and iterative scans, MariaDB `mhnsw_ef_search`), run in
    /// the query's transaction.
    fn ann_settings(&self, _candidates: usize) -> Vec<Statement> {
        Vec::new()
    }

    /// The statements that create a vector index on a model's embeddings table for
    /// `metric` (idempotent where the engine allows), or `Unsupported`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] where the engine has no such index.
    fn create_vector_index(
        &self,
        schema: Option<&str>,
        table: &str,
        metric: Metric,
        params: &VectorIndexParams,
    ) -> Result<Vec<Statement>>;

    /// The statement that drops that index.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Unsupported`] where the engine has no such index.
    fn drop_vector_index(&self, schema: Option<&str>, table: &str, metric: Metric) -> Result<Statement>;

    /// The statement that returns the server's version text as a single row and column.
    fn version_query(&self) -> Statement;

    /// The column type used for JSON documents.
    fn json_column(&self) -> ColumnType;

    /// The column type used for binary values of any size (up to the engine's limit:
    /// `LONGBLOB` on the MySQL family, `bytea` on PostgreSQL, `BLOB` on SQLite).
    fn blob_column(&self) -> ColumnType;

    /// The column type used for vectors of `dim` dimensions.
    fn vector_column(&self, dim: u32) -> ColumnType;

    /// The value that binds `value` as a JSON document (`jsonb` on PostgreSQL, text
    /// elsewhere).
    fn json_bound(&self, value: &serde_json::Value) -> sea_query::Value;

    /// An expression that binds `value` as a JSON document: one placeholder bound to
    /// [`Dialect::json_bound`].
    fn json_value(&self, value: &serde_json::Value) -> Expr {
        Expr::val(self.json_bound(value))
    }

    /// An expression that binds `vector` so the engine stores it in a vector column.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for NaN or infinite components.
    fn vector_value(&self, vector: &[f32]) -> Result<Expr>;

    /// An expression selecting vector column `column` in a form the provider can read;
    /// [`Dialect::vector_output`] says which.
    fn vector_select(&self, column: Expr) -> Expr;

    /// How [`Dialect::vector_select`] comes back.
    fn vector_output(&self) -> VectorOutput {
        self.facts().vector_output
    }
}

/// What a dialect is, as constants ([`Dialect::facts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DialectFacts {
    /// [`Dialect::kind`].
    pub kind: DialectKind,
    /// [`Dialect::inline_indexes`].
    pub inline_indexes: bool,
    /// [`Dialect::upsert_returning`].
    pub upsert_returning: bool,
    /// [`Dialect::multi_row_upsert`].
    pub multi_row_upsert: bool,
    /// [`Dialect::vector_output`].
    pub vector_output: VectorOutput,
    /// [`Dialect::quote`].
    pub quote: char,
    /// [`Dialect::schemas`].
    pub schemas: bool,
}

impl dyn Dialect {
    /// Builds a query (select, insert, update, delete) into text and bound values.
    pub fn build_query<'a>(&self, stmt: impl Into<AnyQuery<'a>>) -> Statement {
        self.build_any_query(stmt.into())
    }

    /// Builds a schema statement (create/alter/drop table or index).
    pub fn build_schema<'a>(&self, stmt: impl Into<AnySchema<'a>>) -> Statement {
        self.build_any_schema(stmt.into())
    }
}

/// A query statement of any kind, for [`Dialect::build_any_query`] (sea-query's builders
/// are generic, the dialect object is not).
#[derive(Debug, Clone, Copy)]
pub enum AnyQuery<'a> {
    /// `SELECT`.
    Select(&'a SelectStatement),
    /// `INSERT`.
    Insert(&'a InsertStatement),
    /// `UPDATE`.
    Update(&'a UpdateStatement),
    /// `DELETE`.
    Delete(&'a DeleteStatement),
}

impl AnyQuery<'_> {
    /// Builds the statement with `builder`: what each dialect's `build_any_query` does with
    /// its own sea-query builder.
    pub fn build_with(self, builder: impl QueryBuilder) -> Statement {
        let (sql, values) = match self {
            AnyQuery::Select(s) => s.build_any(&builder),
            AnyQuery::Insert(s) => s.build_any(&builder),
            AnyQuery::Update(s) => s.build_any(&builder),
            AnyQuery::Delete(s) => s.build_any(&builder),
        };
        Statement { sql, values: values.0 }
    }
}

/// A schema statement of any kind, for [`Dialect::build_any_schema`].
#[derive(Debug, Clone, Copy)]
pub enum AnySchema<'a> {
    /// `CREATE TABLE`.
    TableCreate(&'a TableCreateStatement),
    /// `ALTER TABLE`.
    TableAlter(&'a TableAlterStatement),
    /// `DROP TABLE`.
    TableDrop(&'a TableDropStatement),
    /// `CREATE INDEX`.
    IndexCreate(&'a IndexCreateStatement),
    /// `DROP INDEX`.
    IndexDrop(&'a IndexDropStatement),
}

impl AnySchema<'_> {
    /// Builds the statement with `builder`.
    pub fn build_with(self, builder: impl SchemaBuilder) -> Statement {
        Statement::raw(match self {
            AnySchema::TableCreate(s) => s.build(builder),
            AnySchema::TableAlter(s) => s.build(builder),
            AnySchema::TableDrop(s) => s.build(builder),
            AnySchema::IndexCreate(s) => s.build(builder),
            AnySchema::IndexDrop(s) => s.build(builder),
        })
    }
}

macro_rules! any_from {
    ($any:ident, $($variant:ident($ty:ty)),*) => {
        $(impl<'a> From<&'a $ty> for $any<'a> {
            fn from(s: &'a $ty) -> Self {
                $any::$variant(s)
            }
        })*
    };
}
any_from!(AnyQuery, Select(SelectStatement), Insert(InsertStatement), Update(UpdateStatement), Delete(DeleteStatement));
any_from!(
    AnySchema,
    TableCreate(TableCreateStatement),
    TableAlter(TableAlterStatement),
    TableDrop(TableDropStatement),
    IndexCreate(IndexCreateStatement),
    IndexDrop(IndexDropStatement)
);

/// The typed `NULL` of a field of type `ty` where JSON is bound as text and timestamps
/// as timestamps (the default of `Dialect::typed_null`).
fn standard_null(ty: FieldType) -> sea_query::Value {
    match ty {
        FieldType::Text | FieldType::Uuid => sea_query::Value::String(None),
        FieldType::Int => sea_query::Value::BigInt(None),
        FieldType::Float => sea_query::Value::Double(None),
        FieldType::Bool => sea_query::Value::Bool(None),
        FieldType::Timestamp => sea_query::Value::ChronoDateTimeUtc(None),
        FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray => sea_query::Value::String(None),
    }
}

/// A function p8fs's statements call that the engine lacks ([`Dialect::helper_functions`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HelperFunction {
    /// A query with a row when the function exists already.
    pub exists: Statement,
    /// The statement that creates (or replaces) it.
    pub create: Statement,
}

/// Parameters of an HNSW vector index (engines ignore what they do not support).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VectorIndexParams {
    /// Neighbours per node (pgvector `m`, MariaDB `M`).
    pub m: u32,
    /// Candidate list size while building (pgvector `ef_construction`).
    pub ef_construction: u32,
}

impl Default for VectorIndexParams {
    fn default() -> Self {
        Self { m: 16, ef_construction: 64 }
    }
}

/// The conventional name of a model's vector index for a metric.
pub fn vector_index_name(table: &str, metric: Metric) -> String {
    format!("{table}_vec_{}", metric.name())
}

/// The runtime name of a dialect, for configuration and for code that picks one at run
/// time. Parsed once at the edge; nothing inside p8fs branches on strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialectKind {
    /// [`Tidb`].
    Tidb,
    /// [`MariaDb`].
    MariaDb,
    /// [`Postgres`].
    Postgres,
    /// [`Sqlite`].
    Sqlite,
}

impl DialectKind {
    /// Every dialect, in a stable order.
    pub const ALL: [DialectKind; 4] =
        [DialectKind::Tidb, DialectKind::MariaDb, DialectKind::Postgres, DialectKind::Sqlite];

    /// The lower-case name used in configuration (`tidb`, `mariadb`, `postgresql`, `sqlite`).
    pub fn name(self) -> &'static str {
        match self {
            DialectKind::Tidb => "tidb",
            DialectKind::MariaDb => "mariadb",
            DialectKind::Postgres => "postgresql",
            DialectKind::Sqlite => "sqlite",
        }
    }

    /// The dialect object of this engine: the one place a runtime name becomes SQL.
    pub fn dialect(self) -> &'static dyn Dialect {
        match self {
            DialectKind::Tidb => &Tidb,
            DialectKind::MariaDb => &MariaDb,
            DialectKind::Postgres => &Postgres,
            DialectKind::Sqlite => &Sqlite,
        }
    }
}

impl fmt::Display for DialectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DialectKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "tidb" => Ok(DialectKind::Tidb),
            "mariadb" => Ok(DialectKind::MariaDb),
            "postgresql" | "postgres" | "pg" => Ok(DialectKind::Postgres),
            "sqlite" => Ok(DialectKind::Sqlite),
            _ => Err(Error::invalid_input(format!(
                "unknown SQL dialect {s:?}; valid: tidb, mariadb, postgresql, sqlite"
            ))),
        }
    }
}

/// The quoted, schema-qualified name of a table for statements written as text, after
/// checking both names ([`crate::model::check_ident`]): public builders that take names
/// (vector index DDL) refuse anything a model could not have produced.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] for a name that is not an identifier.
pub(crate) fn checked_qualified(d: &(impl Dialect + ?Sized), schema: Option<&str>, table: &str) -> Result<String> {
    crate::model::check_ident("table", table)?;
    if let Some(s) = schema {
        crate::model::check_ident("schema", s)?;
    }
    Ok(d.qualified(schema, table))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_identifiers_cannot_be_ended_from_inside() {
        assert_eq!(Postgres.quote_ident("plain"), "\"plain\"");
        assert_eq!(Postgres.quote_ident("a\"; DROP TABLE x; --"), "\"a\"\"; DROP TABLE x; --\"");
        assert_eq!(MariaDb.quote_ident("a`b"), "`a``b`");
        assert_eq!(Tidb.quote_ident("``"), "``````");
        assert_eq!(Sqlite.quote_ident("x\""), "\"x\"\"\"");
        let s = Postgres.create_schema("evil\"schema").map(|s| s.sql).unwrap_or_default();
        assert_eq!(s, "CREATE SCHEMA IF NOT EXISTS \"evil\"\"schema\"");
    }

    #[test]
    fn kinds_parse_and_unknown_ones_list_the_valid_names() {
        for k in DialectKind::ALL {
            assert_eq!(k.name().parse::<DialectKind>().unwrap(), k);
        }
        assert_eq!("PG".parse::<DialectKind>().unwrap(), DialectKind::Postgres);
        let e = "oracle".parse::<DialectKind>().unwrap_err();
        assert!(e.to_string().contains("valid: tidb, mariadb, postgresql, sqlite"), "{e}");
    }
}
