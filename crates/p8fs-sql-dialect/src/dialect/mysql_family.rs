//! What TiDB and MariaDB share: the MySQL protocol's SQL, quoting, types, upserts, JSON
//! functions and catalog. Each dialect file adds only its vector SQL.

/// Expands, inside `impl Dialect for X`, the methods the MySQL family shares.
macro_rules! mysql_family_methods {
    () => {
        fn build_any_query(&self, stmt: super::AnyQuery<'_>) -> Statement {
            stmt.build_with(MysqlQueryBuilder)
        }

        fn build_any_schema(&self, stmt: super::AnySchema<'_>) -> Statement {
            stmt.build_with(MysqlQueryBuilder)
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

        fn json_bound(&self, value: &serde_json::Value) -> sea_query::Value {
            value.to_string().into()
        }

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
            // Binary NO PAD collation: equality, ordering, uniqueness and LIKE are exact and
            // case-sensitive, and trailing spaces count, as on PostgreSQL and SQLite.
            table.character_set("utf8mb4").collate(Self::NOPAD_COLLATION);
        }

        fn exact_collation(&self) -> Option<&'static str> {
            Some(Self::NOPAD_COLLATION)
        }

        fn swap_tables(&self, schema: Option<&str>, live: &str, old: &str, new: &str) -> Option<Statement> {
            let q = |t: &str| self.qualified(schema, t);
            Some(Statement::raw(format!("RENAME TABLE {} TO {}, {} TO {}", q(live), q(old), q(new), q(live))))
        }

        fn rename_table(&self, schema: Option<&str>, table: &str, to: &str) -> Statement {
            // The MySQL family would move an unqualified new name to the current database.
            Statement::raw(format!(
                "ALTER TABLE {} RENAME TO {}",
                self.qualified(schema, table),
                self.qualified(schema, to)
            ))
        }

        fn inexact_columns_query(&self, schema: Option<&str>, table: &str) -> Option<Statement> {
            Some(Statement {
                sql: "SELECT column_name FROM information_schema.columns \
                  WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
                  AND collation_name IS NOT NULL AND collation_name <> ? ORDER BY ordinal_position"
                    .into(),
                values: vec![
                    Value::String(schema.map(str::to_owned)),
                    Value::from(table),
                    Value::from(Self::NOPAD_COLLATION),
                ],
            })
        }

        fn excluded(&self, column: &str) -> Expr {
            Expr::cust(format!("VALUES({})", self.quote_ident(column)))
        }

        fn upsert_meets_any_unique_key(&self) -> bool {
            true
        }

        fn guard_conflict(&self, new: Expr, column: &str, identity: &[&str]) -> Expr {
            let same: Vec<String> = identity
                .iter()
                .map(|c| {
                    let c = self.quote_ident(c);
                    format!("{c} <=> VALUES({c})")
                })
                .collect();
            if same.is_empty() {
                return new;
            }
            Expr::cust_with_exprs(format!("IF({}, ?, {})", same.join(" AND "), self.quote_ident(column)), [new])
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

        fn index_names_query(&self, schema: Option<&str>, table: &str) -> Statement {
            Statement {
                sql: "SELECT DISTINCT index_name FROM information_schema.statistics \
                  WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY index_name"
                    .into(),
                values: vec![Value::String(schema.map(str::to_owned)), Value::from(table)],
            }
        }

        fn table_info_query(&self, schema: Option<&str>, table: &str) -> Statement {
            Statement {
                sql: "SELECT column_name, column_key = 'PRI' FROM information_schema.columns \
                  WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY ordinal_position"
                    .into(),
                values: vec![Value::String(schema.map(str::to_owned)), Value::from(table)],
            }
        }
    };
}

pub(super) use mysql_family_methods;
