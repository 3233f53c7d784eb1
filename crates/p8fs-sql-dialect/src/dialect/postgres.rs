//! PostgreSQL with pgvector: `JSONB`, `vector(D)`, vectors bound in binary.

use sea_query::{
    Alias, ColumnType, Expr, ExprTrait, Index, IndexCreateStatement, IndexType, PostgresQueryBuilder, Value,
};

use super::{
    Dialect, DialectFacts, DialectKind, HelperFunction, Metric, VectorIndexParams, VectorOutput, vector_index_name,
};
use crate::model::FieldType;
use crate::{Result, Statement};

/// Name of the PostgreSQL function that implements RFC 7396 merge patch on `jsonb`.
pub const MERGE_PATCH_FN: &str = "p8fs_jsonb_merge_patch";

/// `CREATE OR REPLACE FUNCTION` of [`MERGE_PATCH_FN`] in `schema` (or the default one).
pub fn merge_patch_function(schema: Option<&str>) -> Statement {
    let name = match schema {
        Some(s) => format!("{}.{MERGE_PATCH_FN}", Postgres.quote_ident(s)),
        None => MERGE_PATCH_FN.to_owned(),
    };
    Statement::raw(format!(
        "CREATE OR REPLACE FUNCTION {name}(target jsonb, patch jsonb) RETURNS jsonb LANGUAGE plpgsql IMMUTABLE AS $f$
DECLARE result jsonb; k text; v jsonb;
BEGIN
  IF patch IS NULL THEN RETURN NULL; END IF;
  IF jsonb_typeof(patch) <> 'object' THEN RETURN patch; END IF;
  IF target IS NULL OR jsonb_typeof(target) <> 'object' THEN result := '{{}}'::jsonb; ELSE result := target; END IF;
  FOR k, v IN SELECT key, value FROM jsonb_each(patch) LOOP
    IF jsonb_typeof(v) = 'null' THEN result := result - k;
    ELSE result := jsonb_set(result, ARRAY[k], {name}(result -> k, v), true);
    END IF;
  END LOOP;
  RETURN result;
END $f$"
    ))
}

/// PostgreSQL. JSON is `JSONB` bound as a JSON value; vectors are pgvector's `vector`
/// bound in its binary format (no text formatting on the hot path).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Postgres;

impl Dialect for Postgres {
    fn facts(&self) -> &'static DialectFacts {
        &DialectFacts {
            kind: DialectKind::Postgres,
            inline_indexes: false,
            upsert_returning: true,
            multi_row_upsert: true,
            vector_output: VectorOutput::Native,
            quote: '"',
            schemas: true,
        }
    }

    fn build_any_query(&self, stmt: super::AnyQuery<'_>) -> Statement {
        stmt.build_with(PostgresQueryBuilder)
    }

    fn build_any_schema(&self, stmt: super::AnySchema<'_>) -> Statement {
        stmt.build_with(PostgresQueryBuilder)
    }

    fn create_schema(&self, name: &str) -> Option<Statement> {
        Some(Statement::raw(format!("CREATE SCHEMA IF NOT EXISTS {}", self.quote_ident(name))))
    }

    fn vector_prelude(&self) -> Vec<Statement> {
        vec![Statement::raw("CREATE EXTENSION IF NOT EXISTS vector")]
    }

    fn helper_functions(&self, schema: Option<&str>) -> Vec<HelperFunction> {
        vec![HelperFunction {
            exists: Statement {
                sql: "SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace \
                      WHERE p.proname = $1 AND n.nspname = COALESCE($2, current_schema())"
                    .into(),
                values: vec![MERGE_PATCH_FN.into(), Value::String(schema.map(str::to_owned))],
            },
            create: merge_patch_function(schema),
        }]
    }

    fn trigram_extension(&self) -> Option<HelperFunction> {
        Some(HelperFunction {
            exists: Statement {
                sql: "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = $1".into(),
                values: vec!["pg_trgm".into()],
            },
            // A trusted extension: a user who may create in the database may install it.
            create: Statement { sql: "CREATE EXTENSION IF NOT EXISTS pg_trgm".into(), values: vec![] },
        })
    }

    fn trigram_index(&self, table: &str, index: &str, column: &str) -> Option<Statement> {
        Some(Statement {
            sql: format!(
                "CREATE INDEX IF NOT EXISTS {} ON {table} USING gin ({} gin_trgm_ops)",
                self.quote_ident(index),
                self.quote_ident(column)
            ),
            values: vec![],
        })
    }

    fn trigram_similarity(&self, column: Expr, text: &str) -> Option<Expr> {
        Some(sea_query::Func::cust("similarity").arg(column).arg(text).into())
    }

    fn full_text_index(&self, schema: Option<&str>, table: &str, index: &str, columns: &[&str]) -> Vec<Statement> {
        vec![Statement {
            sql: format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} USING gin ({})",
                self.quote_ident(index),
                self.qualified(schema, table),
                self.tsvector(columns)
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
        // OR of the words: a question in natural language rarely has every word of its
        // answer. Words are letters and digits only, so the tsquery syntax is never the
        // caller's; the expression is the index's, so the GIN index serves the match.
        let doc = self.tsvector(columns);
        let query = words.join(" | ");
        let filter = Expr::cust_with_exprs(format!("{doc} @@ to_tsquery('english', $1)"), [Expr::val(query.clone())]);
        let score = Expr::cust_with_exprs(format!("ts_rank_cd({doc}, to_tsquery('english', $1))"), [Expr::val(query)]);
        Some((filter, score))
    }

    fn json_indexes(&self, table: &str, fields: &[&str]) -> Vec<IndexCreateStatement> {
        // GIN indexes serve JSON containment (`@>`).
        fields
            .iter()
            .map(|f| {
                Index::create()
                    .name(format!("{table}_{f}_gin"))
                    .table(Alias::new(table))
                    .col(Alias::new(*f))
                    .index_type(IndexType::Custom(Alias::new("GIN").into()))
                    .to_owned()
            })
            .collect()
    }

    fn typed_null(&self, ty: FieldType) -> Value {
        match ty {
            // JSON is bound as `jsonb`.
            FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray => Value::Json(None),
            FieldType::Text | FieldType::Uuid => Value::String(None),
            FieldType::Int => Value::BigInt(None),
            FieldType::Float => Value::Double(None),
            FieldType::Bool => Value::Bool(None),
            FieldType::Timestamp => Value::ChronoDateTimeUtc(None),
        }
    }

    fn owned_by_table(&self, name: &str) -> bool {
        name.ends_with("_pkey")
    }

    fn vector_search_summary(&self) -> &'static str {
        "pgvector: exact, or HNSW index"
    }

    fn text_column(&self) -> ColumnType {
        ColumnType::Text
    }

    fn timestamp_column(&self) -> ColumnType {
        ColumnType::TimestampWithTimeZone
    }

    fn excluded(&self, column: &str) -> Expr {
        Expr::cust(format!("EXCLUDED.{}", self.quote_ident(column)))
    }

    fn replace_primary_key(&self, qualified: &str, columns: &[&str]) -> Result<Vec<Statement>> {
        // The current key's constraint has whatever name its creator gave it: look it up
        // and drop it in the same statement. `qualified` is built from checked identifiers
        // (no single quote can occur in it).
        let cols: Vec<String> = columns.iter().map(|c| self.quote_ident(c)).collect();
        let literal = qualified.replace('\'', "''");
        Ok(vec![Statement::raw(format!(
            "DO $p8fs$ DECLARE c text; BEGIN \
             SELECT conname INTO c FROM pg_catalog.pg_constraint WHERE conrelid = '{literal}'::regclass AND contype = 'p'; \
             IF c IS NULL THEN EXECUTE 'ALTER TABLE {qsql} ADD PRIMARY KEY ({cols})'; \
             ELSE EXECUTE format('ALTER TABLE {qsql} DROP CONSTRAINT %I, ADD PRIMARY KEY ({cols})', c); END IF; \
             END $p8fs$",
            qsql = literal,
            cols = cols.join(", ").replace('\'', "''"),
        ))])
    }

    fn merge_patch(&self, current: Expr, patch: Expr, schema: Option<&str>) -> Expr {
        // PostgreSQL has no merge-patch function; migrations create this one.
        let func = match schema {
            Some(s) => format!("{}.{MERGE_PATCH_FN}", self.quote_ident(s)),
            None => MERGE_PATCH_FN.to_owned(),
        };
        Expr::cust_with_exprs(format!("{func}($1, $2)"), [current, patch])
    }

    fn like(&self, column: Expr, pattern: &str) -> Expr {
        column.like(pattern)
    }

    fn ilike(&self, column: Expr, pattern: &str) -> Expr {
        Expr::cust_with_exprs("$1 ILIKE $2", [column, Expr::val(pattern)])
    }

    fn json_contains(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Expr::cust_with_exprs("$1 @> $2", [column, Expr::val(Value::Json(Some(Box::new(value.clone()))))])
    }

    fn in_list(&self, column: Expr, values: &[&str]) -> Expr {
        let list = serde_json::Value::from(values.iter().map(|v| serde_json::Value::from(*v)).collect::<Vec<_>>());
        Expr::cust_with_exprs(
            "$1 = ANY(ARRAY(SELECT jsonb_array_elements_text($2)))",
            [column, Expr::val(Value::Json(Some(Box::new(list))))],
        )
    }

    fn json_overlaps(&self, column: Expr, value: &serde_json::Value) -> Expr {
        Expr::cust_with_exprs(
            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof($1) = 'array' THEN $1 ELSE '[]'::jsonb END) AS a(v) \
             WHERE a.v IN (SELECT jsonb_array_elements(CASE WHEN jsonb_typeof($2) = 'array' THEN $2 ELSE '[]'::jsonb END)))",
            [column, Expr::val(Value::Json(Some(Box::new(value.clone()))))],
        )
    }

    fn index_names_query(&self, schema: Option<&str>, table: &str) -> Statement {
        Statement {
            sql: "SELECT i.relname::text FROM pg_catalog.pg_index x \
                  JOIN pg_catalog.pg_class c ON c.oid = x.indrelid \
                  JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid \
                  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 ORDER BY 1"
                .into(),
            values: vec![Value::String(schema.map(str::to_owned)), Value::from(table)],
        }
    }

    fn table_info_query(&self, schema: Option<&str>, table: &str) -> Statement {
        Statement {
            sql: "SELECT a.attname::text, COALESCE(a.attnum = ANY(i.indkey), false) \
                  FROM pg_catalog.pg_class c \
                  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                  LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary \
                  WHERE n.nspname = COALESCE($1, current_schema()) AND c.relname = $2 \
                  ORDER BY a.attnum"
                .into(),
            values: vec![Value::String(schema.map(str::to_owned)), Value::from(table)],
        }
    }

    fn distance(&self, metric: Metric, column: Expr, query: &[f32]) -> Result<Option<Expr>> {
        let op = match metric {
            Metric::Cosine => "<=>",
            Metric::L2 => "<->",
            Metric::InnerProduct => "<#>",
        };
        Ok(Some(Expr::cust_with_exprs(format!("$1 {op} $2"), [column, self.vector_value(query)?])))
    }

    fn ann_settings(&self, candidates: usize) -> Vec<Statement> {
        // HNSW returns at most ef_search rows (<= 1000); iterative scans continue past it
        // when filters remove rows (pgvector 0.8).
        vec![
            Statement::raw(format!("SET LOCAL hnsw.ef_search = {}", candidates.clamp(40, 1000))),
            Statement::raw("SET LOCAL hnsw.iterative_scan = relaxed_order"),
        ]
    }

    fn create_vector_index(
        &self,
        schema: Option<&str>,
        table: &str,
        metric: Metric,
        params: &VectorIndexParams,
    ) -> Result<Vec<Statement>> {
        let qualified = super::checked_qualified(self, schema, table)?;
        let ops = match metric {
            Metric::Cosine => "vector_cosine_ops",
            Metric::L2 => "vector_l2_ops",
            Metric::InnerProduct => "vector_ip_ops",
        };
        Ok(vec![Statement::raw(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {qualified} USING hnsw ({} {ops}) WITH (m = {}, ef_construction = {})",
            self.quote_ident(&vector_index_name(table, metric)),
            self.quote_ident("embedding_vector"),
            params.m.clamp(2, 100),
            params.ef_construction.clamp(4, 1000)
        ))])
    }

    fn drop_vector_index(&self, schema: Option<&str>, table: &str, metric: Metric) -> Result<Statement> {
        // The index lives in the table's schema: qualify its name the same way.
        super::checked_qualified(self, schema, table)?;
        let name = self.quote_ident(&vector_index_name(table, metric));
        let schema = schema.map(|s| format!("{}.", self.quote_ident(s))).unwrap_or_default();
        Ok(Statement::raw(format!("DROP INDEX IF EXISTS {schema}{name}")))
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

    fn json_bound(&self, value: &serde_json::Value) -> Value {
        Value::Json(Some(Box::new(value.clone())))
    }

    fn vector_value(&self, vector: &[f32]) -> Result<Expr> {
        crate::vector::check_finite(vector)?;
        Ok(Expr::val(Value::Vector(Some(pgvector::Vector::from(vector.to_vec())))))
    }

    fn vector_select(&self, column: Expr) -> Expr {
        column
    }
}

impl Postgres {
    /// The document of a full-text search over `columns`: English stemming and stop words,
    /// `NULL`s as empty text. The same text in the index and in the query.
    fn tsvector(&self, columns: &[&str]) -> String {
        let parts: Vec<String> = columns.iter().map(|c| format!("coalesce({}, '')", self.quote_ident(c))).collect();
        format!("to_tsvector('english', {})", parts.join(" || ' ' || "))
    }
}
