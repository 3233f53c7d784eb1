//! [`SqlStore`]: KV in a table of the SQL database the deployment already has (TiDB,
//! MariaDB, PostgreSQL, SQLite), for deployments without raw TiKV access.
//!
//! ```sql
//! p8fs_kv (tenant VARBINARY(255), k VARBINARY(1024), v LONGBLOB, expires_at BIGINT NULL,
//!          PRIMARY KEY (tenant, k))          -- bytea / BLOB on PostgreSQL / SQLite
//! ```
//!
//! `tenant` is the tenant id (empty for the global namespace) and `k` the logical key,
//! both binary so that ordering is byte order on every engine; prefix scans are range
//! scans on the primary key. `expires_at` is an absolute expiry in ms since the epoch,
//! computed by the writer's clock and compared against the reader's. All SQL goes through
//! `p8fs-sql-dialect` and a provider's [`SqlExecutor`]; this module links no driver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use p8fs_sql_dialect::sea_query::{
    Alias, ColumnDef, ColumnType, Cond, Expr, ExprTrait, Index, OnConflict, Order, Query, SimpleExpr, StringLen, Table,
};
use p8fs_sql_dialect::{Dialect, ErrorKind, SqlExecutor, SqlValue, Statement};

use super::{expiry_ms, now_ms};
use crate::backend::effective_ttl;
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result};

const NAME: &str = "sql";
const TABLE: &str = "p8fs_kv";
/// Longest logical key the `k` column holds.
const MAX_KEY: usize = 1024;
/// Rows per multi-row statement in a batch.
const CHUNK: usize = 200;

/// KV in a SQL table, through any p8fs SQL provider.
#[derive(Clone)]
pub struct SqlStore {
    db: Arc<dyn SqlExecutor>,
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore").field("dialect", &self.db.dialect()).finish_non_exhaustive()
    }
}

fn t() -> Alias {
    Alias::new(TABLE)
}
fn c(name: &'static str) -> Alias {
    Alias::new(name)
}

fn tenant_bytes(ns: &Namespace) -> Vec<u8> {
    ns.tenant().map(|t| t.as_str().as_bytes().to_vec()).unwrap_or_default()
}

/// `expires_at IS NULL OR expires_at > now`.
fn live(now: u64) -> Cond {
    Cond::any().add(Expr::col(c("expires_at")).is_null()).add(Expr::col(c("expires_at")).gt(now as i64))
}

fn ns_key(ns: &Namespace, key: &[u8]) -> Cond {
    Cond::all().add(Expr::col(c("tenant")).eq(tenant_bytes(ns))).add(Expr::col(c("k")).eq(key.to_vec()))
}

fn exp_value(exp: Option<u64>) -> SimpleExpr {
    Expr::val(exp.map(|e| i64::try_from(e).unwrap_or(i64::MAX)))
}

fn map_sql(e: p8fs_sql_dialect::Error) -> KvError {
    match e.kind() {
        ErrorKind::Unavailable => KvError::unavailable(NAME, "the SQL database is unavailable", e),
        ErrorKind::Timeout => KvError::Timeout { backend: NAME, message: e.to_string() },
        _ => KvError::backend(NAME, "SQL call failed", e),
    }
}

fn cell_bytes(v: SqlValue) -> Result<Vec<u8>> {
    match v {
        SqlValue::Bytes(b) => Ok(b),
        SqlValue::Text(s) => Ok(s.into_bytes()),
        other => {
            Err(KvError::Corrupt { backend: NAME, message: format!("expected bytes, found {}", other.kind_name()) })
        }
    }
}

fn create_table(d: &dyn Dialect) -> Vec<Statement> {
    let table = Table::create()
        .table(t())
        .if_not_exists()
        .col(ColumnDef::new_with_type(c("tenant"), ColumnType::VarBinary(StringLen::N(255))).not_null())
        .col(ColumnDef::new_with_type(c("k"), ColumnType::VarBinary(StringLen::N(MAX_KEY as u32))).not_null())
        .col(ColumnDef::new_with_type(c("v"), d.blob_column()).not_null())
        .col(ColumnDef::new_with_type(c("expires_at"), ColumnType::BigInteger).null())
        .primary_key(Index::create().col(c("tenant")).col(c("k")))
        .to_owned();
    let index = Index::create().name("p8fs_kv_expires_at").table(t()).col(c("expires_at")).to_owned();
    d.create_table_with_indexes(&table, &[index])
}

fn upsert(d: &dyn Dialect, ns: &Namespace, rows: &[(Vec<u8>, Vec<u8>)], exp: Option<u64>) -> Result<Statement> {
    let mut q = Query::insert();
    q.into_table(t()).columns([c("tenant"), c("k"), c("v"), c("expires_at")]);
    for (k, v) in rows {
        q.values([Expr::val(tenant_bytes(ns)), Expr::val(k.clone()), Expr::val(v.clone()), exp_value(exp)])
            .map_err(|e| KvError::Backend { backend: NAME, message: e.to_string(), source: None })?;
    }
    q.on_conflict(OnConflict::columns([c("tenant"), c("k")]).update_columns([c("v"), c("expires_at")]).to_owned());
    Ok(d.build_query(&q))
}

impl SqlStore {
    /// A store on `db`; creates its table if missing (idempotent).
    ///
    /// # Errors
    /// The provider's error when the table cannot be created.
    pub async fn open(db: Arc<dyn SqlExecutor>) -> Result<Self> {
        let stmts = create_table(db.dialect());
        for s in &stmts {
            // Processes starting together may race to create the table; PostgreSQL can
            // then fail one `CREATE TABLE IF NOT EXISTS` on its catalog's unique index.
            // The statements are idempotent: run them again.
            let mut attempt = 0;
            loop {
                match db.execute(s).await {
                    Ok(_) => break,
                    Err(e) if attempt < 3 && matches!(e.kind(), ErrorKind::UniqueViolation | ErrorKind::Conflict) => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                    }
                    Err(e) => return Err(map_sql(e)),
                }
            }
        }
        Ok(Self { db, writes: Arc::new(AtomicU64::new(0)) })
    }

    /// The statements of a batch put, for callers that run them in their own transaction
    /// (an entity row and its mapping keys committing together). Later entries for the same
    /// key win, as with sequential puts: one statement may not name a key twice
    /// (PostgreSQL refuses it).
    ///
    /// This is a way into the store that bypasses [`crate::Kv`], so it runs the same check
    /// layer ([`Capability::check_entries`], [`Capability::check_ttl`]) a batch put through
    /// [`crate::ScopedKv::batch_put`] runs.
    ///
    /// # Errors
    /// Invalid keys or values, too many entries.
    pub fn put_statements(
        &self,
        ns: &Namespace,
        entries: &[(Key, Vec<u8>)],
        ttl: Option<Duration>,
    ) -> Result<Vec<Statement>> {
        let cap = capability();
        cap.check_ttl(NAME, ttl)?;
        cap.check_entries(ns, entries)?;
        self.upserts(ns, entries, ttl)
    }

    /// The upserts of checked entries (see [`SqlStore::put_statements`]).
    fn upserts(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<Vec<Statement>> {
        let mut rows: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(entries.len());
        let mut index = std::collections::HashMap::new();
        for (k, v) in entries {
            let kb = k.as_str().as_bytes().to_vec();
            match index.get(&kb) {
                Some(&i) => rows[i] = (kb, v.clone()),
                None => {
                    index.insert(kb.clone(), rows.len());
                    rows.push((kb, v.clone()));
                }
            }
        }
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        rows.chunks(CHUNK).map(|chunk| upsert(self.db.dialect(), ns, chunk, exp)).collect()
    }

    /// Whether this store runs on `db` (so its statements can join `db`'s transactions).
    pub fn runs_on(&self, db: &Arc<dyn SqlExecutor>) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.db), Arc::as_ptr(db))
    }

    /// The provider underneath.
    pub fn executor(&self) -> &Arc<dyn SqlExecutor> {
        &self.db
    }

    /// Deletes expired rows now; returns how many.
    ///
    /// # Errors
    /// The provider's errors.
    pub async fn purge_expired(&self) -> Result<u64> {
        let q = Query::delete()
            .from_table(t())
            .and_where(Expr::col(c("expires_at")).is_not_null())
            .and_where(Expr::col(c("expires_at")).lte(now_ms() as i64))
            .to_owned();
        let stmt = self.db.dialect().build_query(&q);
        self.db.execute(&stmt).await.map_err(map_sql)
    }

    /// After a write: now and then, purge expired rows.
    async fn after_write(&self) -> Result<()> {
        if self.writes.fetch_add(1, Ordering::Relaxed) % 256 == 255 {
            self.purge_expired().await?;
        }
        Ok(())
    }

    async fn read_one(&self, ns: &Namespace, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let q = Query::select().column(c("v")).from(t()).cond_where(ns_key(ns, key).add(live(now_ms()))).to_owned();
        let stmt = self.db.dialect().build_query(&q);
        let rows = self.db.query(&stmt).await.map_err(map_sql)?;
        rows.into_iter().next().and_then(|r| r.into_iter().next()).map(cell_bytes).transpose()
    }
}

fn capability() -> Capability {
    Capability {
        ttl: true,
        ttl_granularity: Duration::from_millis(1),
        cas: true,
        cas_ttl: true,
        atomic_batch: true,
        // The `k` column holds the logical key; the limit counts the tenant prefix too, so
        // every key the check layer lets through fits.
        max_key_bytes: MAX_KEY,
        max_value_bytes: 16 * 1024 * 1024,
        max_scan_limit: 10_000,
        max_batch: 10_000,
    }
}

#[async_trait]
impl KvBackend for SqlStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capability(&self) -> Capability {
        capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        self.read_one(ns, key.as_str().as_bytes()).await
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        let rows = [(key.as_str().as_bytes().to_vec(), value.to_vec())];
        let stmt = upsert(self.db.dialect(), ns, &rows, exp)?;
        self.db.execute(&stmt).await.map_err(map_sql)?;
        self.after_write().await
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        let q = Query::delete().from_table(t()).cond_where(ns_key(ns, key.as_str().as_bytes())).to_owned();
        let stmt = self.db.dialect().build_query(&q);
        self.db.execute(&stmt).await.map_err(map_sql)?;
        Ok(())
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let mut cond = Cond::all()
            .add(Expr::col(c("tenant")).eq(tenant_bytes(ns)))
            .add(Expr::col(c("k")).gte(start.to_vec()))
            .add(live(now_ms()));
        if let Some(e) = end {
            cond = cond.add(Expr::col(c("k")).lt(e.to_vec()));
        }
        let q = Query::select()
            .columns([c("k"), c("v")])
            .from(t())
            .cond_where(cond)
            .order_by(c("k"), Order::Asc)
            .limit(limit as u64)
            .to_owned();
        let stmt = self.db.dialect().build_query(&q);
        let rows = self.db.query(&stmt).await.map_err(map_sql)?;
        rows.into_iter()
            .map(|r| {
                let mut it = r.into_iter();
                let k = cell_bytes(it.next().unwrap_or(SqlValue::Null))?;
                let v = cell_bytes(it.next().unwrap_or(SqlValue::Null))?;
                let key = String::from_utf8(k)
                    .map_err(|_| KvError::Corrupt { backend: NAME, message: "a stored key is not UTF-8".into() })?;
                Ok(KvPair { key, value: v })
            })
            .collect()
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        let now = now_ms();
        for chunk in keys.chunks(CHUNK) {
            let ks: Vec<Vec<u8>> = chunk.iter().map(|k| k.as_str().as_bytes().to_vec()).collect();
            let q = Query::select()
                .columns([c("k"), c("v")])
                .from(t())
                .cond_where(
                    Cond::all()
                        .add(Expr::col(c("tenant")).eq(tenant_bytes(ns)))
                        .add(Expr::col(c("k")).is_in(ks))
                        .add(live(now)),
                )
                .to_owned();
            let stmt = self.db.dialect().build_query(&q);
            for r in self.db.query(&stmt).await.map_err(map_sql)? {
                let mut it = r.into_iter();
                let k = cell_bytes(it.next().unwrap_or(SqlValue::Null))?;
                let v = cell_bytes(it.next().unwrap_or(SqlValue::Null))?;
                let key = String::from_utf8(k)
                    .map_err(|_| KvError::Corrupt { backend: NAME, message: "a stored key is not UTF-8".into() })?;
                out.push(KvPair { key, value: v });
            }
        }
        Ok(out)
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        let stmts = self.upserts(ns, entries, ttl)?;
        if stmts.is_empty() {
            return Ok(());
        }
        self.db.execute_in_transaction(&stmts).await.map_err(map_sql)?;
        self.after_write().await
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let stmts: Vec<Statement> = keys
            .chunks(CHUNK)
            .map(|chunk| {
                let ks: Vec<Vec<u8>> = chunk.iter().map(|k| k.as_str().as_bytes().to_vec()).collect();
                let q = Query::delete()
                    .from_table(t())
                    .cond_where(
                        Cond::all().add(Expr::col(c("tenant")).eq(tenant_bytes(ns))).add(Expr::col(c("k")).is_in(ks)),
                    )
                    .to_owned();
                self.db.dialect().build_query(&q)
            })
            .collect();
        if stmts.is_empty() {
            return Ok(());
        }
        self.db.execute_in_transaction(&stmts).await.map_err(map_sql)?;
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let k = key.as_str().as_bytes();
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        let dialect = self.db.dialect();
        let swapped = match expected {
            Some(want) => {
                // One conditional UPDATE: atomic on every engine.
                let q = Query::update()
                    .table(t())
                    .value(c("v"), new.to_vec())
                    .value(c("expires_at"), exp_value(exp))
                    .cond_where(ns_key(ns, k).add(Expr::col(c("v")).eq(want.to_vec())).add(live(now_ms())))
                    .to_owned();
                let stmt = dialect.build_query(&q);
                self.db.execute(&stmt).await.map_err(map_sql)? == 1
            }
            None => {
                // An expired row counts as absent: remove it, then insert; the primary key
                // makes concurrent creators conflict, and exactly one wins.
                let purge = Query::delete()
                    .from_table(t())
                    .cond_where(ns_key(ns, k).add(Expr::col(c("expires_at")).lte(now_ms() as i64)))
                    .to_owned();
                self.db.execute(&dialect.build_query(&purge)).await.map_err(map_sql)?;
                let mut q = Query::insert();
                q.into_table(t())
                    .columns([c("tenant"), c("k"), c("v"), c("expires_at")])
                    .values([
                        Expr::val(tenant_bytes(ns)),
                        Expr::val(k.to_vec()),
                        Expr::val(new.to_vec()),
                        exp_value(exp),
                    ])
                    .map_err(|e| KvError::Backend { backend: NAME, message: e.to_string(), source: None })?;
                match self.db.execute(&dialect.build_query(&q)).await {
                    Ok(n) => n == 1,
                    Err(e) if e.kind() == ErrorKind::UniqueViolation => false,
                    Err(e) => return Err(map_sql(e)),
                }
            }
        };
        if swapped {
            return self.after_write().await;
        }
        let current = self.read_one(ns, k).await?;
        Err(KvError::ConditionNotMet { key: key.as_str().to_owned(), current })
    }

    async fn ping(&self) -> Result<()> {
        self.db.server_info().await.map_err(map_sql)?;
        Ok(())
    }
}
