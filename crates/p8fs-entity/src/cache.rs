//! The table metadata cache: whether a table exists, its columns and primary key, keyed
//! by (database, schema, table), served from memory after the first catalog query.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use serde::Serialize;

use p8fs_sql_dialect::{Result, SqlExecutor};

/// What the catalog says about a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    /// Columns, in table order.
    pub columns: Vec<String>,
    /// Primary-key columns.
    pub primary_key: Vec<String>,
}

/// A table's columns and primary key straight from the catalog, past any cache (`None`:
/// no such table).
///
/// # Errors
/// The catalog query's error.
pub(crate) async fn read_table_info(
    db: &dyn SqlExecutor,
    schema: Option<&str>,
    table: &str,
) -> Result<Option<TableInfo>> {
    let stmt = db.dialect().table_info_query(schema, table);
    let rows = db.query(&stmt).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut info = TableInfo { columns: Vec::new(), primary_key: Vec::new() };
    for row in rows {
        let mut it = row.into_iter();
        let name = it.next().map(p8fs_sql_dialect::SqlValue::into_text).transpose()?.unwrap_or_default();
        let pk =
            matches!(it.next(), Some(p8fs_sql_dialect::SqlValue::Bool(true) | p8fs_sql_dialect::SqlValue::Int(1..)));
        if pk {
            info.primary_key.push(name.clone());
        }
        info.columns.push(name);
    }
    Ok(Some(info))
}

/// Counters of a [`MetadataCache`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Tables cached.
    pub size: usize,
    /// Their keys, `database/schema/table`, sorted.
    pub tables: Vec<String>,
    /// Lookups served from memory.
    pub hits: u64,
    /// Lookups that queried the catalog.
    pub misses: u64,
}

/// The tables of one (database, schema), by name: what a store looks up on every call,
/// with no allocation (a `&str` finds a `String` key).
#[derive(Debug, Default)]
pub struct CacheScope {
    tables: DashMap<String, Arc<TableInfo>>,
}

/// Caches [`TableInfo`] per (database, schema, table). Only existing tables are cached, so
/// a table created by another process is seen at the next lookup.
#[derive(Debug, Default)]
pub struct MetadataCache {
    scopes: DashMap<(String, String), Arc<CacheScope>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MetadataCache {
    /// The tables of (`database`, `schema`); a store keeps this and looks tables up in it.
    pub fn scope(&self, database: &str, schema: Option<&str>) -> Arc<CacheScope> {
        let k = (database.to_owned(), schema.unwrap_or("").to_owned());
        Arc::clone(self.scopes.entry(k).or_default().value())
    }

    /// The table's info, from memory or from the catalog (`None`: no such table).
    ///
    /// # Errors
    /// The catalog query's error.
    pub async fn table_info(
        &self,
        db: &dyn SqlExecutor,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<Arc<TableInfo>>> {
        let scope = self.scope(&db.cache_key(), schema);
        self.table_info_in(&scope, db, schema, table).await
    }

    /// [`MetadataCache::table_info`] in a scope taken from [`MetadataCache::scope`] for
    /// this executor and schema.
    ///
    /// # Errors
    /// The catalog query's error.
    pub async fn table_info_in(
        &self,
        scope: &CacheScope,
        db: &dyn SqlExecutor,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<Arc<TableInfo>>> {
        if let Some(hit) = scope.tables.get(table) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Arc::clone(hit.value())));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let Some(info) = read_table_info(db, schema, table).await? else { return Ok(None) };
        let info = Arc::new(info);
        scope.tables.insert(table.to_owned(), Arc::clone(&info));
        Ok(Some(info))
    }

    /// Forgets one table (after DDL on it).
    pub fn invalidate_table(&self, database: &str, schema: Option<&str>, table: &str) {
        if let Some(scope) = self.scopes.get(&(database.to_owned(), schema.unwrap_or("").to_owned())) {
            scope.tables.remove(table);
        }
    }

    /// Forgets everything (the scopes stores hold are emptied, not replaced).
    pub fn clear(&self) {
        for scope in &self.scopes {
            scope.tables.clear();
        }
    }

    /// Size, tables, hits and misses.
    pub fn stats(&self) -> CacheStats {
        let mut tables: Vec<String> = Vec::new();
        for scope in &self.scopes {
            let (database, schema) = scope.key();
            tables.extend(scope.tables.iter().map(|t| format!("{database}/{schema}/{}", t.key())));
        }
        tables.sort();
        CacheStats {
            size: tables.len(),
            tables,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}
