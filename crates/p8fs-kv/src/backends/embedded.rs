//! [`EmbeddedStore`]: a redb file in the process.
//!
//! Durability: every write is its own redb transaction committed with
//! `Durability::Immediate` (fsync before the call returns), so every acknowledged write
//! survives a crash or `kill -9` (checked by the crash test in the conformance crate).
//!
//! Layout: table `kv` maps the physical key (`{tenant}/{key}`) to an 8-byte big-endian
//! absolute expiry in ms (0 = none) followed by the value; table `kv_expiry` indexes
//! `(expiry, key)` so expired keys are found without a full scan. Expired keys are
//! invisible at once and purged by later writes (a bounded number per write).
//!
//! Reads run inline on the caller's task (redb reads take microseconds and never wait for
//! writers); writes, which wait for the disk, run on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition};

use super::{expiry_ms, now_ms};
use crate::backend::effective_ttl;
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result, prefix_upper_bound};

const DATA: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv");
const EXPIRY: TableDefinition<'_, (u64, &[u8]), ()> = TableDefinition::new("kv_expiry");
const NAME: &str = "embedded";
/// Expired keys purged per write at most.
const PURGE_PER_WRITE: usize = 64;

/// The embedded KV store. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    path: PathBuf,
    writes: Arc<AtomicU64>,
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").field("path", &self.path).finish_non_exhaustive()
    }
}

fn be(what: &'static str) -> impl FnOnce(redb::Error) -> KvError {
    move |e| match e {
        redb::Error::DatabaseAlreadyOpen => KvError::Unavailable {
            backend: NAME,
            message: format!("{what}: the store is open in another process"),
            source: None,
        },
        other => KvError::backend(NAME, what, other),
    }
}

/// Converts any redb error type into [`redb::Error`], then into [`KvError`].
macro_rules! r {
    ($e:expr, $what:literal) => {
        $e.map_err(|e| be($what)(redb::Error::from(e)))
    };
}

impl EmbeddedStore {
    /// Opens the store at `path` (a file; created with its directory if missing).
    ///
    /// # Errors
    /// [`KvError::Unavailable`] when the file is held by another process or cannot be
    /// created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| KvError::unavailable(NAME, format!("cannot create {}", dir.display()), e))?;
        }
        let db = r!(Database::create(&path), "opening the store")?;
        let tx = r!(db.begin_write(), "opening the store")?;
        {
            r!(tx.open_table(DATA), "creating tables")?;
            r!(tx.open_table(EXPIRY), "creating tables")?;
        }
        r!(tx.commit(), "creating tables")?;
        Ok(Self { db: Arc::new(db), path, writes: Arc::new(AtomicU64::new(0)) })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Deletes up to `max` expired keys now; returns how many.
    ///
    /// # Errors
    /// The store's errors.
    pub fn purge_expired(&self, max: usize) -> Result<usize> {
        self.write(move |data, exp| purge(data, exp, max))
    }

    /// Runs `f` in one write transaction and commits it durably; also purges a few
    /// expired keys.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Table<'_, &[u8], &[u8]>, &mut Table<'_, (u64, &[u8]), ()>) -> Result<T>,
    ) -> Result<T> {
        let tx = r!(self.db.begin_write(), "starting a write")?;
        let out = {
            let mut data = r!(tx.open_table(DATA), "opening the table")?;
            let mut exp = r!(tx.open_table(EXPIRY), "opening the table")?;
            let out = f(&mut data, &mut exp)?;
            if self.writes.fetch_add(1, Ordering::Relaxed).is_multiple_of(16) {
                purge(&mut data, &mut exp, PURGE_PER_WRITE)?;
            }
            out
        };
        r!(tx.commit(), "committing")?;
        Ok(out)
    }

    /// Runs a write on the blocking pool.
    async fn write_async<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Table<'_, &[u8], &[u8]>, &mut Table<'_, (u64, &[u8]), ()>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.write(f))
            .await
            .map_err(|e| KvError::backend(NAME, "the write thread failed", e))?
    }

    fn read_live(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tx = r!(self.db.begin_read(), "starting a read")?;
        let t = r!(tx.open_table(DATA), "opening the table")?;
        let now = now_ms();
        Ok(r!(t.get(key), "reading")?.and_then(|v| live(v.value(), now).map(<[u8]>::to_vec)))
    }
}

/// Up to `limit` live entries of `range` into `out`, their keys cut by `cut` bytes (the
/// namespace's prefix, which every key of the range starts with); the global namespace skips
/// tenant keys. The engine's error is mapped once, by the caller.
fn live_entries(
    range: redb::Range<'_, &'static [u8], &'static [u8]>,
    ns: &Namespace,
    cut: usize,
    now: u64,
    limit: usize,
    out: &mut Vec<KvPair>,
) -> std::result::Result<(), redb::StorageError> {
    let global = matches!(ns, Namespace::Global);
    for item in range {
        let (k, v) = item?;
        let Some(value) = live(v.value(), now) else { continue };
        let Some(logical) = k.value().get(cut..).and_then(|l| std::str::from_utf8(l).ok()) else { continue };
        if global && logical.contains('/') {
            continue;
        }
        out.push(KvPair { key: logical.to_owned(), value: value.to_vec() });
        if out.len() == limit {
            break;
        }
    }
    Ok(())
}

/// The value of an encoded entry if it has not expired at `now`.
fn live(raw: &[u8], now: u64) -> Option<&[u8]> {
    let (head, value) = raw.split_at_checked(8)?;
    let exp = u64::from_be_bytes(head.try_into().ok()?);
    (exp == 0 || exp > now).then_some(value)
}

fn encode(value: &[u8], expiry: Option<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&expiry.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(value);
    out
}

fn expiry_of(raw: &[u8]) -> u64 {
    raw.get(..8).and_then(|h| h.try_into().ok()).map_or(0, u64::from_be_bytes)
}

/// Writes one entry, keeping the expiry index in step.
fn put_one(
    data: &mut Table<'_, &[u8], &[u8]>,
    exp: &mut Table<'_, (u64, &[u8]), ()>,
    key: &[u8],
    value: &[u8],
    expiry: Option<u64>,
) -> Result<()> {
    let old = r!(data.insert(key, encode(value, expiry).as_slice()), "writing")?.map(|v| expiry_of(v.value()));
    if let Some(old_exp) = old.filter(|e| *e != 0) {
        r!(exp.remove((old_exp, key)), "writing")?;
    }
    if let Some(e) = expiry {
        r!(exp.insert((e, key), ()), "writing")?;
    }
    Ok(())
}

fn delete_one(data: &mut Table<'_, &[u8], &[u8]>, exp: &mut Table<'_, (u64, &[u8]), ()>, key: &[u8]) -> Result<()> {
    let old = r!(data.remove(key), "deleting")?.map(|v| expiry_of(v.value()));
    if let Some(old_exp) = old.filter(|e| *e != 0) {
        r!(exp.remove((old_exp, key)), "deleting")?;
    }
    Ok(())
}

fn purge(data: &mut Table<'_, &[u8], &[u8]>, exp: &mut Table<'_, (u64, &[u8]), ()>, max: usize) -> Result<usize> {
    let now = now_ms();
    let mut due: Vec<(u64, Vec<u8>)> = Vec::new();
    for item in r!(exp.range((0u64, &[][..])..(now, &[][..])), "purging")? {
        let (k, _) = r!(item, "purging")?;
        let (e, key) = k.value();
        due.push((e, key.to_vec()));
        if due.len() >= max {
            break;
        }
    }
    for (e, key) in &due {
        r!(exp.remove((*e, key.as_slice())), "purging")?;
        // Remove the entry only if it still carries this expiry (it may have been rewritten).
        let still = r!(data.get(key.as_slice()), "purging")?.is_some_and(|v| expiry_of(v.value()) == *e);
        if still {
            r!(data.remove(key.as_slice()), "purging")?;
        }
    }
    Ok(due.len())
}

fn capability() -> Capability {
    Capability {
        ttl: true,
        ttl_granularity: Duration::from_millis(1),
        cas: true,
        cas_ttl: true,
        atomic_batch: true,
        max_key_bytes: 8 * 1024,
        max_value_bytes: 64 * 1024 * 1024,
        max_scan_limit: 10_000,
        max_batch: 10_000,
    }
}

#[async_trait]
impl KvBackend for EmbeddedStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capability(&self) -> Capability {
        capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        ns.with_physical(key.as_str(), |k| self.read_live(k))
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let (k, v) = (ns.physical(key.as_str()), value.to_vec());
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        self.write_async(move |data, e| put_one(data, e, &k, &v, exp)).await
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        let k = ns.physical(key.as_str());
        self.write_async(move |data, e| delete_one(data, e, &k)).await
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let lo = ns.physical_bytes(start);
        let hi = match end {
            Some(e) => Some(ns.physical_bytes(e)),
            None => prefix_upper_bound(&ns.prefix()),
        };
        let tx = r!(self.db.begin_read(), "starting a read")?;
        let t = r!(tx.open_table(DATA), "opening the table")?;
        let now = now_ms();
        let mut out = Vec::with_capacity(limit.min(1024));
        let range = match &hi {
            Some(h) => r!(t.range::<&[u8]>(lo.as_slice()..h.as_slice()), "scanning")?,
            None => r!(t.range::<&[u8]>(lo.as_slice()..), "scanning")?,
        };
        r!(live_entries(range, ns, ns.prefix_len(), now, limit, &mut out), "scanning")?;
        Ok(out)
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let tx = r!(self.db.begin_read(), "starting a read")?;
        let t = r!(tx.open_table(DATA), "opening the table")?;
        let now = now_ms();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for key in keys {
            if !seen.insert(key.as_str()) {
                continue;
            }
            if let Some(v) = r!(ns.with_physical(key.as_str(), |k| t.get(k)), "reading")?
                && let Some(value) = live(v.value(), now)
            {
                out.push(KvPair { key: key.as_str().to_owned(), value: value.to_vec() });
            }
        }
        Ok(out)
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        let owned: Vec<(Vec<u8>, Vec<u8>)> =
            entries.iter().map(|(k, v)| (ns.physical(k.as_str()), v.clone())).collect();
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        self.write_async(move |data, e| {
            for (k, v) in &owned {
                put_one(data, e, k, v, exp)?;
            }
            Ok(())
        })
        .await
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let owned: Vec<Vec<u8>> = keys.iter().map(|k| ns.physical(k.as_str())).collect();
        self.write_async(move |data, e| {
            for k in &owned {
                delete_one(data, e, k)?;
            }
            Ok(())
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let (k, v, want) = (ns.physical(key.as_str()), new.to_vec(), expected.map(<[u8]>::to_vec));
        let name = key.as_str().to_owned();
        let exp = expiry_ms(effective_ttl(ttl, capability().ttl_granularity));
        self.write_async(move |data, e| {
            let now = now_ms();
            let current = r!(data.get(k.as_slice()), "reading")?.and_then(|g| live(g.value(), now).map(<[u8]>::to_vec));
            if current != want {
                return Err(KvError::ConditionNotMet { key: name, current });
            }
            put_one(data, e, &k, &v, exp)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        let tx = r!(self.db.begin_read(), "ping")?;
        r!(tx.open_table(DATA), "ping")?;
        Ok(())
    }
}
