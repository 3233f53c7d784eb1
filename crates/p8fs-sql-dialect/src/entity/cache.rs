//! The table metadata cache: whether a table exists, its columns and primary key, keyed
//! by (database, schema, table), served from memory after the first catalog query.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use serde::Serialize;

use crate::{Result, SqlExecutor};

/// What the catalog says about a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    /// Columns, in table order.
    pub columns: Vec<String>,
    /// Primary-key columns.
    pub primary_key: Vec<String>,
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

type Key = (String, String, String);

/// Caches [`TableInfo`] per (database, schema, table). Only existing tables are cached, so
/// a table created by another process is seen at the next lookup.
#[derive(Debug, Default)]
pub struct MetadataCache {
    entries: DashMap<Key, Arc<TableInfo>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn key(database: &str, schema: Option<&str>, table: &str) -> Key {
    (database.to_owned(), schema.unwrap_or("").to_owned(), table.to_owned())
}

impl MetadataCache {
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
        let k = key(&db.cache_key(), schema, table);
        if let Some(hit) = self.entries.get(&k) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(Arc::clone(hit.value())));
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let stmt = crate::with_dialect!(db.dialect(), |d| crate::Dialect::table_info_query(&d, schema, table));
        let rows = db.query(&stmt).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut info = TableInfo { columns: Vec::new(), primary_key: Vec::new() };
        for row in rows {
            let mut it = row.into_iter();
            let name = it.next().map(crate::SqlValue::into_text).transpose()?.unwrap_or_default();
            let pk = matches!(it.next(), Some(crate::SqlValue::Bool(true) | crate::SqlValue::Int(1..)));
            if pk {
                info.primary_key.push(name.clone());
            }
            info.columns.push(name);
        }
        let info = Arc::new(info);
        self.entries.insert(k, Arc::clone(&info));
        Ok(Some(info))
    }

    /// Forgets one table (after DDL on it).
    pub fn invalidate_table(&self, database: &str, schema: Option<&str>, table: &str) {
        self.entries.remove(&key(database, schema, table));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.entries.clear();
    }

    /// Size, tables, hits and misses.
    pub fn stats(&self) -> CacheStats {
        let mut tables: Vec<String> =
            self.entries.iter().map(|e| format!("{}/{}/{}", e.key().0, e.key().1, e.key().2)).collect();
        tables.sort();
        CacheStats {
            size: tables.len(),
            tables,
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}
