//! [`SqliteProvider`]: one connection on a blocking thread.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use p8fs_sql_dialect::{
    Error, ErrorKind, Flavor, NearestAnswer, NearestQuery, Result, Row, RowCheck, ServerInfo, SqlExecutor, Statement,
};
use rusqlite::{Connection, OpenFlags};

use crate::binder;
use crate::vectors::{VectorMemory, Vectors};

/// The connection's page cache, KiB (SQLite's default is 2,000).
const CACHE_KIB: i64 = 65_536;

/// WAL pages between automatic checkpoints (SQLite's default is 1,000, 4 MB of 4 KiB pages).
const WAL_CHECKPOINT_PAGES: i64 = 16_384;

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteConfig {
    /// A file (created if missing), opened in WAL mode.
    File(PathBuf),
    /// A private in-memory database, gone when the provider is dropped.
    Memory,
}

impl SqliteConfig {
    /// Parses `sqlite:///absolute/path`, `sqlite://relative/path`, `sqlite::memory:` or a
    /// plain path.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for an empty path.
    pub fn from_url(url: &str) -> Result<Self> {
        if url == "sqlite::memory:" || url == ":memory:" {
            return Ok(SqliteConfig::Memory);
        }
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        if path.is_empty() {
            return Err(Error::invalid_input("SQLite URL has an empty path").with_backend("sqlite"));
        }
        Ok(SqliteConfig::File(PathBuf::from(path)))
    }
}

/// A SQLite database.
///
/// One connection serves all calls (SQLite serialises writers anyway); each call runs on
/// tokio's blocking pool. The busy timeout makes a writer wait for another process's lock
/// instead of failing at once.
#[derive(Debug, Clone)]
pub struct SqliteProvider {
    conn: Arc<Mutex<Connection>>,
    key: String,
    /// The embeddings tables held in process for vector search ([`crate::vectors`]).
    vectors: Arc<Vectors>,
}

impl SqliteProvider {
    /// Opens (or creates) the database.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] when the file cannot be opened or created.
    pub async fn open(cfg: SqliteConfig) -> Result<Self> {
        let key = match &cfg {
            SqliteConfig::Memory => format!("sqlite::memory:{:p}", &cfg),
            SqliteConfig::File(p) => format!("sqlite://{}", p.display()),
        };
        let path = match &cfg {
            SqliteConfig::Memory => None,
            SqliteConfig::File(p) => Some(p.clone()),
        };
        let conn = tokio::task::spawn_blocking(move || -> Result<Connection> {
            let conn = match &cfg {
                SqliteConfig::Memory => Connection::open_in_memory(),
                SqliteConfig::File(p) => {
                    if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            Error::new(ErrorKind::Unavailable, format!("cannot create {}", dir.display()))
                                .with_backend("sqlite")
                                .with_source(e)
                        })?;
                    }
                    Connection::open_with_flags(
                        p,
                        OpenFlags::SQLITE_OPEN_READ_WRITE
                            | OpenFlags::SQLITE_OPEN_CREATE
                            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                }
            }
            .map_err(map)?;
            conn.busy_timeout(Duration::from_secs(30)).map_err(map)?;
            if matches!(cfg, SqliteConfig::File(_)) {
                // WAL: readers do not block the writer; NORMAL sync is durable at each
                // checkpoint and never corrupts. FULL makes every commit durable.
                conn.pragma_update(None, "journal_mode", "WAL").map_err(map)?;
                conn.pragma_update(None, "synchronous", "FULL").map_err(map)?;
                // Checkpoint every WAL_CHECKPOINT_PAGES instead of SQLite's 1,000: a page
                // written by many commits (an index page of random ids) is copied back once,
                // and the database file is flushed less often.
                conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES).map_err(map)?;
            }
            conn.pragma_update(None, "foreign_keys", "ON").map_err(map)?;
            // SQLite's default page cache is 2 MB: past a few hundred thousand rows, inserts
            // keyed by random ids (UUIDs) miss it on every B-tree page they touch. The one
            // connection gets CACHE_KIB; temporary tables (RETURNING's) stay in memory.
            conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(map)?;
            conn.pragma_update(None, "temp_store", "MEMORY").map_err(map)?;
            crate::functions::register(&conn).map_err(map)?;
            Ok(conn)
        })
        .await
        .map_err(join_error)??;
        Ok(Self { conn: Arc::new(Mutex::new(conn)), key, vectors: Arc::new(Vectors::new(path)) })
    }

    /// Tenant partitions with fewer rows than this are searched exactly even when an
    /// approximate search is asked for (default [`crate::DEFAULT_ANN_MIN_ROWS`]); lower it to
    /// use the HNSW index on small data (tests do).
    pub fn set_ann_min_rows(&self, rows: usize) {
        self.vectors.set_ann_min_rows(rows);
    }

    /// What the in-process vector search holds: rows, bytes of vectors, bytes and number of
    /// HNSW indexes.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] when a panic poisoned a lock.
    pub fn vector_memory(&self) -> Result<VectorMemory> {
        self.vectors.memory()
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| {
                Error::new(ErrorKind::Unavailable, "connection lock poisoned by a panic").with_backend("sqlite")
            })?;
            f(&mut guard)
        })
        .await
        .map_err(join_error)?
    }
}

fn map(e: rusqlite::Error) -> Error {
    use rusqlite::ffi::ErrorCode;
    let kind = match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                ErrorKind::UniqueViolation
            }
            _ => ErrorKind::InvalidInput,
        },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => ErrorKind::Conflict,
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::NotADatabase | ErrorCode::DiskFull) => {
            ErrorKind::Unavailable
        }
        Some(ErrorCode::TooBig) => ErrorKind::InvalidInput,
        _ => ErrorKind::Database,
    };
    Error::new(kind, "SQLite call failed").with_backend("sqlite").with_source(e)
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::new(ErrorKind::Unavailable, "SQLite worker thread failed").with_backend("sqlite").with_source(e)
}

/// Runs one statement (cached) and decodes every row it returns.
fn query_rows(c: &Connection, sql: &str, params: Vec<rusqlite::types::Value>) -> Result<Vec<Row>> {
    let mut s = c.prepare_cached(sql).map_err(map)?;
    let n = s.column_count();
    let mut rows = s.query(rusqlite::params_from_iter(params)).map_err(map)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(map)? {
        let row = (0..n)
            .map(|i| binder::decode_cell(r.get_ref(i).map_err(map)?).map_err(|e| e.with_backend("sqlite")))
            .collect::<Result<Row>>()?;
        out.push(row);
    }
    Ok(out)
}

fn bind_params(stmt: &Statement) -> Result<Vec<rusqlite::types::Value>> {
    binder::bind(&stmt.values).map_err(|e| e.with_backend("sqlite"))
}

#[async_trait]
impl SqlExecutor for SqliteProvider {
    fn dialect(&self) -> &'static dyn p8fs_sql_dialect::Dialect {
        &p8fs_sql_dialect::Sqlite
    }

    fn cache_key(&self) -> String {
        self.key.clone()
    }

    async fn server_info(&self) -> Result<ServerInfo> {
        let rows = self.query(&Statement::raw("SELECT sqlite_version()")).await?;
        let text = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| Error::decode("sqlite_version() returned no row").with_backend("sqlite"))?
            .into_text()?;
        Ok(ServerInfo::parse(Flavor::Sqlite, &text))
    }

    async fn execute(&self, stmt: &Statement) -> Result<u64> {
        let sql = stmt.sql.clone();
        let params = bind_params(stmt)?;
        self.with_conn(move |c| {
            // One statement per call, also without values (SQLite's batch API would run
            // every statement of a text).
            let mut s = c.prepare_cached(&sql).map_err(map)?;
            let n = s.execute(rusqlite::params_from_iter(params)).map_err(map)?;
            Ok(n as u64)
        })
        .await
    }

    async fn execute_in_transaction(&self, stmts: &[Statement]) -> Result<Vec<u64>> {
        let owned = stmts.iter().map(|s| Ok((s.sql.clone(), bind_params(s)?))).collect::<Result<Vec<_>>>()?;
        self.with_conn(move |c| {
            // IMMEDIATE: take the write lock up front, so the transaction cannot fail
            // half-way on a lock upgrade.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map)?;
            let mut counts = Vec::with_capacity(owned.len());
            for (sql, params) in owned {
                let mut s = tx.prepare_cached(&sql).map_err(map)?;
                counts.push(s.execute(rusqlite::params_from_iter(params)).map_err(map)? as u64);
            }
            // Dropping an uncommitted transaction (on `?` above) rolls it back.
            tx.commit().map_err(map)?;
            Ok(counts)
        })
        .await
    }

    async fn query_in_transaction(&self, stmts: &[Statement], check: Option<Arc<RowCheck>>) -> Result<Vec<Vec<Row>>> {
        let owned = stmts.iter().map(|s| Ok((s.sql.clone(), bind_params(s)?))).collect::<Result<Vec<_>>>()?;
        self.with_conn(move |c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map)?;
            let mut out = Vec::with_capacity(owned.len());
            for (i, (sql, params)) in owned.into_iter().enumerate() {
                let rows = query_rows(&tx, &sql, params)?;
                // An error drops `tx` uncommitted, which rolls it back.
                if let Some(check) = &check {
                    check(i, &rows)?;
                }
                out.push(rows);
            }
            tx.commit().map_err(map)?;
            Ok(out)
        })
        .await
    }

    async fn query_with_setup(&self, setup: &[Statement], stmt: &Statement) -> Result<Vec<Row>> {
        for s in setup {
            self.execute(s).await?;
        }
        self.query(stmt).await
    }

    async fn query(&self, stmt: &Statement) -> Result<Vec<Row>> {
        let sql = stmt.sql.clone();
        let params = bind_params(stmt)?;
        self.with_conn(move |c| query_rows(c, &sql, params)).await
    }

    async fn nearest(&self, q: &NearestQuery<'_>) -> Option<Result<NearestAnswer>> {
        if q.schema.is_some() {
            return None;
        }
        let (conn, vectors) = (Arc::clone(&self.conn), Arc::clone(&self.vectors));
        let owned = OwnedQuery::from(q);
        let answer = tokio::task::spawn_blocking(move || -> Result<Option<NearestAnswer>> {
            {
                // Every write committed before this search is applied first; the connection
                // is released before the scan.
                let mut guard = conn.lock().map_err(|_| {
                    Error::new(ErrorKind::Unavailable, "connection lock poisoned by a panic").with_backend("sqlite")
                })?;
                if !vectors.sync(&mut guard, &owned.table)? {
                    return Ok(None);
                }
            }
            vectors.search(&owned.as_query()).map(Some)
        })
        .await;
        match answer {
            Err(e) => Some(Err(join_error(e))),
            Ok(Ok(None)) => None,
            Ok(Ok(Some(a))) => Some(Ok(a)),
            Ok(Err(e)) => Some(Err(e)),
        }
    }
}

/// A [`NearestQuery`] moved onto the blocking pool.
struct OwnedQuery {
    table: String,
    tenant: String,
    query: Vec<f32>,
    metric: p8fs_sql_dialect::Metric,
    fields: Vec<String>,
    limit: usize,
    exact: bool,
    candidates: Option<usize>,
}

impl From<&NearestQuery<'_>> for OwnedQuery {
    fn from(q: &NearestQuery<'_>) -> Self {
        Self {
            table: q.table.to_owned(),
            tenant: q.tenant.to_owned(),
            query: q.query.to_vec(),
            metric: q.metric,
            fields: q.fields.to_vec(),
            limit: q.limit,
            exact: q.exact,
            candidates: q.candidates,
        }
    }
}

impl OwnedQuery {
    fn as_query(&self) -> NearestQuery<'_> {
        NearestQuery {
            schema: None,
            table: &self.table,
            tenant: &self.tenant,
            query: &self.query,
            metric: self.metric,
            fields: &self.fields,
            limit: self.limit,
            exact: self.exact,
            candidates: self.candidates,
        }
    }
}
