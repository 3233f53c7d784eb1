//! The embedded default's vector search: each embeddings table is held in process, one
//! partition per tenant, and searched there instead of through a SQL function per row.
//!
//! * **Exact** search scans the tenant's vectors, stored contiguously, with SIMD distances
//!   (`numkong`, chosen at run time for the CPU), keeps the best candidates and recomputes
//!   their distances with [`Metric::distance`], so distances and order (distance, then
//!   entity id) are exactly those of the SQL path and of the brute-force ground truth.
//! * **Approximate** search uses an HNSW index (`usearch`) built per tenant partition, with
//!   the same exact re-ranking. A partition smaller than [`DEFAULT_ANN_MIN_ROWS`] is
//!   searched exactly (and says so: `exact: true`). A field filter that leaves fewer than
//!   `limit` hits widens the candidates until it has them or has compared every row, so a
//!   filter never silently returns fewer than exist. One partition per tenant means
//!   another tenant's rows are never candidates.
//!
//! **Kept in step with SQLite, also across processes.** SQLite is the only truth. On first
//! use each embeddings table gets triggers that append the `rowid` of every inserted,
//! updated or deleted row to a log table (`p8fs_vlog_<table>`) in the writing transaction
//! itself. Before each search the log's new entries are read, with the rows' current state,
//! in one read transaction and applied, so a search sees every write committed before it,
//! from this process or another. A rolled-back write leaves no log entry. The vectors are
//! loaded from SQLite by the first search of a process; an HNSW index built from them is
//! saved next to the database ([`persist`]) and a later process loads it and brings it up
//! to date from the log instead of building it again; a file the log cannot bring up to
//! date, or that does not match the rows afterwards, is not used. The log is trimmed once it grows past [`LOG_KEEP`]
//! entries; a process that fell behind a trim, or sees any change of the schema (the table
//! recreated, a migration, a `VACUUM`, which may renumber rowids), reloads.

mod partition;
mod persist;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use p8fs_sql_dialect::{Error, ErrorKind, NearestAnswer, NearestQuery, Result};
use rusqlite::{Connection, OptionalExtension, params};

use partition::{Partition, Search};

/// Partitions with fewer rows are searched exactly even when an approximate search is
/// asked for: scanning 20,000 vectors of 384 dimensions takes about 2 ms on one core,
/// less than an index saves (measured in `docs/benchmarks.md`, W14).
pub const DEFAULT_ANN_MIN_ROWS: usize = 20_000;

/// Log entries kept before the log is trimmed.
pub const LOG_KEEP: i64 = 100_000;

/// Every embeddings table of one database, in process.
#[derive(Debug)]
pub(crate) struct Vectors {
    tables: Mutex<HashMap<String, Arc<RwLock<Table>>>>,
    ann_min_rows: AtomicUsize,
    /// The database file (`None` in memory: nothing is saved).
    path: Option<PathBuf>,
    /// Where HNSW indexes are saved, once the database's id is known.
    store: OnceLock<persist::Store>,
    loaded: AtomicUsize,
    built: AtomicUsize,
}

impl Vectors {
    pub(crate) fn new(path: Option<PathBuf>) -> Self {
        Self {
            tables: Mutex::new(HashMap::new()),
            ann_min_rows: AtomicUsize::new(DEFAULT_ANN_MIN_ROWS),
            path,
            store: OnceLock::new(),
            loaded: AtomicUsize::new(0),
            built: AtomicUsize::new(0),
        }
    }
}

/// What is held of one embeddings table.
#[derive(Debug, Default)]
struct Table {
    /// The log entry applied last.
    seq: i64,
    /// The database's schema version when the triggers were last checked.
    schema_version: Option<i64>,
    loaded: bool,
    /// Tenant (`None`: a row without one, never a candidate) to its partition.
    partitions: HashMap<Option<String>, Partition>,
    /// Which partition holds each row.
    tenant_of: HashMap<i64, Option<String>>,
}

/// Sizes of what is held, for `p8fs doctor` and the benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VectorMemory {
    /// Rows held.
    pub rows: usize,
    /// Bytes of the vectors, norms and keys held for exact search.
    pub exact_bytes: usize,
    /// Bytes of the HNSW indexes built so far.
    pub index_bytes: usize,
    /// HNSW indexes held (one per tenant partition and metric).
    pub indexes: usize,
    /// Indexes this process built from the rows.
    pub indexes_built: usize,
    /// Indexes this process loaded from a saved file (and brought up to date from the log).
    pub indexes_loaded: usize,
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

fn log_table(table: &str) -> String {
    format!("p8fs_vlog_{table}")
}

fn map(e: rusqlite::Error) -> Error {
    Error::new(ErrorKind::Database, "SQLite call of the vector index failed").with_backend("sqlite").with_source(e)
}

impl Vectors {
    pub(crate) fn set_ann_min_rows(&self, n: usize) {
        self.ann_min_rows.store(n, Ordering::Relaxed);
    }

    fn table(&self, name: &str) -> Result<Arc<RwLock<Table>>> {
        let mut tables = self.tables.lock().map_err(|_| poisoned())?;
        Ok(Arc::clone(tables.entry(name.to_owned()).or_default()))
    }

    /// Brings the table up to date with every committed write (`conn` is held by the
    /// caller). `Ok(false)`: the table does not exist (the SQL path answers).
    pub(crate) fn sync(&self, conn: &mut Connection, name: &str) -> Result<bool> {
        let table = self.table(name)?;
        let mut t = table.write().map_err(|_| poisoned())?;
        let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0)).map_err(map)?;
        if t.schema_version != Some(version) {
            match ensure_log(conn, name)? {
                None => {
                    *t = Table::default();
                    return Ok(false);
                }
                Some(()) => {
                    // Saved indexes need the database's id; a database that cannot be
                    // written (read-only, or busy past the timeout) still searches, it
                    // only builds its indexes in memory.
                    if let Some(path) = &self.path
                        && self.store.get().is_none()
                        && let Ok(id) = db_id(conn)
                    {
                        let _ = self.store.set(persist::Store::new(path, &id));
                    }
                    // Any change of the schema (a migration, the table recreated, triggers
                    // added, a `VACUUM`, which may renumber rowids) reloads: rare, and the
                    // rowids held may no longer name the same rows.
                    *t = Table::default();
                    t.schema_version = Some(conn.query_row("PRAGMA schema_version", [], |r| r.get(0)).map_err(map)?);
                }
            }
        }
        let log = quote(&log_table(name));
        let tx = conn.transaction().map_err(map)?;
        let (min, max): (Option<i64>, Option<i64>) = tx
            .query_row(&format!("SELECT min(seq), max(seq) FROM {log}"), [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(map)?;
        let behind = min.is_some_and(|m| m > t.seq + 1);
        if !t.loaded || behind {
            let seq = max.unwrap_or(0);
            let mut fresh = Table { seq, schema_version: t.schema_version, loaded: true, ..Table::default() };
            let sql = format!("SELECT rowid, tenant_id, entity_id, field_name, embedding_vector FROM {}", quote(name));
            let mut stmt = tx.prepare(&sql).map_err(map)?;
            let mut rows = stmt.query([]).map_err(map)?;
            while let Some(r) = rows.next().map_err(map)? {
                fresh.put(
                    r.get(0).map_err(map)?,
                    r.get(1).map_err(map)?,
                    r.get_ref(2).map_err(map)?.as_str().map_err(|e| map(e.into()))?,
                    r.get_ref(3).map_err(map)?.as_str().map_err(|e| map(e.into()))?,
                    r.get_ref(4).map_err(map)?.as_blob().map_err(|e| map(e.into()))?,
                )?;
            }
            drop(rows);
            drop(stmt);
            *t = fresh;
        } else if max.is_some_and(|m| m > t.seq) {
            let sql = format!(
                "SELECT l.seq, l.rid, e.tenant_id, e.entity_id, e.field_name, e.embedding_vector \
                 FROM {log} AS l LEFT JOIN {} AS e ON e.rowid = l.rid WHERE l.seq > ?1 ORDER BY l.seq",
                quote(name)
            );
            let mut stmt = tx.prepare_cached(&sql).map_err(map)?;
            let mut rows = stmt.query(params![t.seq]).map_err(map)?;
            while let Some(r) = rows.next().map_err(map)? {
                let seq: i64 = r.get(0).map_err(map)?;
                let rid: i64 = r.get(1).map_err(map)?;
                t.remove(rid);
                let entity: Option<String> = r.get(3).map_err(map)?;
                if let Some(entity) = entity {
                    let field: String = r.get(4).map_err(map)?;
                    let blob: Vec<u8> = r.get(5).map_err(map)?;
                    t.put(rid, r.get(2).map_err(map)?, &entity, &field, &blob)?;
                }
                t.seq = seq;
            }
        }
        tx.commit().map_err(map)?;
        // Trim: the entries every up-to-date process has applied. One that is behind the
        // trim reloads (above). A busy database just skips the trim this time.
        if let Some(min) = min
            && t.seq - min > LOG_KEEP
        {
            let _ = conn.execute(&format!("DELETE FROM {log} WHERE seq < ?1"), params![t.seq]);
        }
        Ok(true)
    }

    /// Answers a search from the table (synced by the caller just before).
    pub(crate) fn search(&self, q: &NearestQuery<'_>) -> Result<NearestAnswer> {
        let table = self.table(q.table)?;
        let min_rows = self.ann_min_rows.load(Ordering::Relaxed);
        let wants_index = {
            let t = table.read().map_err(|_| poisoned())?;
            match t.partitions.get(&Some(q.tenant.to_owned())) {
                None => return Ok(NearestAnswer { hits: Vec::new(), exact: true, candidates_examined: None }),
                Some(p) => {
                    if q.exact || p.len() < min_rows {
                        return p.search(&Search::from(q));
                    }
                    !p.has_index(q.metric)
                }
            }
        };
        if wants_index {
            let mut t = table.write().map_err(|_| poisoned())?;
            let seq = t.seq;
            if let Some(p) = t.partitions.get_mut(&Some(q.tenant.to_owned()))
                && !p.has_index(q.metric)
            {
                // A saved index brought up to date from the log, or one built from the rows
                // (and saved for the next process).
                let store = self.store.get();
                let loaded = store
                    .and_then(|s| s.load(q.table, q.tenant, q.metric, seq, || p.new_index(q.metric).ok()))
                    .is_some_and(|(index, changed)| p.adopt_index(q.metric, index, &changed));
                if loaded {
                    self.loaded.fetch_add(1, Ordering::Relaxed);
                } else {
                    p.build_index(q.metric)?;
                    self.built.fetch_add(1, Ordering::Relaxed);
                    if let (Some(s), Some(index)) = (store, p.index(q.metric)) {
                        s.save(q.table, q.tenant, q.metric, seq, index);
                    }
                }
            }
        }
        let t = table.read().map_err(|_| poisoned())?;
        match t.partitions.get(&Some(q.tenant.to_owned())) {
            None => Ok(NearestAnswer { hits: Vec::new(), exact: true, candidates_examined: None }),
            Some(p) => p.search(&Search::from(q)),
        }
    }

    /// What is held, summed over the tables.
    pub(crate) fn memory(&self) -> Result<VectorMemory> {
        let tables: Vec<_> = self.tables.lock().map_err(|_| poisoned())?.values().cloned().collect();
        let mut m = VectorMemory {
            indexes_built: self.built.load(Ordering::Relaxed),
            indexes_loaded: self.loaded.load(Ordering::Relaxed),
            ..VectorMemory::default()
        };
        for t in tables {
            let t = t.read().map_err(|_| poisoned())?;
            for p in t.partitions.values() {
                p.add_memory(&mut m);
            }
        }
        Ok(m)
    }
}

impl Table {
    fn put(&mut self, rid: i64, tenant: Option<String>, entity: &str, field: &str, blob: &[u8]) -> Result<()> {
        if !blob.len().is_multiple_of(4) {
            return Err(Error::decode(format!(
                "a stored vector blob of {} bytes is not a whole number of f32s",
                blob.len()
            ))
            .with_backend("sqlite"));
        }
        self.partitions.entry(tenant.clone()).or_default().put(rid, entity, field, blob)?;
        self.tenant_of.insert(rid, tenant);
        Ok(())
    }

    fn remove(&mut self, rid: i64) {
        if let Some(tenant) = self.tenant_of.remove(&rid)
            && let Some(p) = self.partitions.get_mut(&tenant)
        {
            p.remove(rid);
            if p.len() == 0 {
                self.partitions.remove(&tenant);
            }
        }
    }
}

/// Creates the log table and its triggers where missing. `None`: the embeddings table does
/// not exist.
fn ensure_log(conn: &mut Connection, name: &str) -> Result<Option<()>> {
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", params![name], |r| r.get(0))
        .optional()
        .map_err(map)?;
    if exists.is_none() {
        return Ok(None);
    }
    let log = log_table(name);
    let names = [format!("{log}_i"), format!("{log}_u"), format!("{log}_d")];
    let have: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?1 AND name IN (?2, ?3, ?4)",
            params![name, names[0], names[1], names[2]],
            |r| r.get(0),
        )
        .map_err(map)?;
    if have == 3 {
        return Ok(Some(()));
    }
    let (t, l) = (quote(name), quote(&log));
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map)?;
    tx.execute(
        &format!("CREATE TABLE IF NOT EXISTS {l} (seq INTEGER PRIMARY KEY AUTOINCREMENT, rid INTEGER NOT NULL)"),
        [],
    )
    .map_err(map)?;
    // Triggers of an older table of this name went with it; the log's entries are stale.
    tx.execute(&format!("DELETE FROM {l}"), []).map_err(map)?;
    for (n, body) in [
        (&names[0], format!("AFTER INSERT ON {t} BEGIN INSERT INTO {l}(rid) VALUES (new.rowid); END")),
        (
            &names[1],
            format!(
                "AFTER UPDATE ON {t} BEGIN INSERT INTO {l}(rid) VALUES (old.rowid); \
                 INSERT INTO {l}(rid) SELECT new.rowid WHERE new.rowid <> old.rowid; END"
            ),
        ),
        (&names[2], format!("AFTER DELETE ON {t} BEGIN INSERT INTO {l}(rid) VALUES (old.rowid); END")),
    ] {
        tx.execute(&format!("DROP TRIGGER IF EXISTS {}", quote(n)), []).map_err(map)?;
        tx.execute(&format!("CREATE TRIGGER {} {body}", quote(n)), []).map_err(map)?;
    }
    tx.commit().map_err(map)?;
    Ok(Some(()))
}

/// The database's id for saved indexes (a random value made once, in `p8fs_vindex_meta`).
fn db_id(conn: &mut Connection) -> Result<String> {
    let read = |c: &Connection| -> rusqlite::Result<Option<String>> {
        c.query_row("SELECT v FROM p8fs_vindex_meta WHERE k = 'db_id'", [], |r| r.get(0)).optional()
    };
    if let Ok(Some(id)) = read(conn) {
        return Ok(id);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(map)?;
    tx.execute("CREATE TABLE IF NOT EXISTS p8fs_vindex_meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)", []).map_err(map)?;
    tx.execute("INSERT OR IGNORE INTO p8fs_vindex_meta (k, v) VALUES ('db_id', lower(hex(randomblob(16))))", [])
        .map_err(map)?;
    let id = read(&tx).map_err(map)?.ok_or_else(|| Error::decode("no database id after writing one"))?;
    tx.commit().map_err(map)?;
    Ok(id)
}

fn poisoned() -> Error {
    Error::new(ErrorKind::Unavailable, "the vector index lock was poisoned by a panic").with_backend("sqlite")
}

impl<'a> From<&NearestQuery<'a>> for Search<'a> {
    fn from(q: &NearestQuery<'a>) -> Self {
        Search {
            query: q.query,
            metric: q.metric,
            fields: q.fields,
            limit: q.limit,
            exact: q.exact,
            candidates: q.candidates,
        }
    }
}
