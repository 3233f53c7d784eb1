//! The handles applications use: [`Kv`] over any backend, [`ScopedKv`] for one namespace.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::check_scan_limit;
use crate::error::clip;
use crate::key::check_chars;
use crate::{Key, KvBackend, KvError, KvPair, Namespace, Result, TenantId, prefix_upper_bound};

/// A KV store. Cheap to clone; all clones share the backend.
#[derive(Debug, Clone)]
pub struct Kv {
    backend: Arc<dyn KvBackend>,
}

/// The keys of one tenant. It cannot name a key of another tenant.
pub type TenantKv = ScopedKv;

/// The global namespace: keys that belong to no tenant (device-auth codes). Its keys never
/// contain `/`, so they never collide with a tenant's keys.
pub type GlobalKv = ScopedKv;

impl Kv {
    /// A handle over `backend`.
    pub fn new(backend: Arc<dyn KvBackend>) -> Self {
        Self { backend }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    /// The keys of `tenant`.
    pub fn tenant(&self, tenant: &TenantId) -> TenantKv {
        ScopedKv { backend: Arc::clone(&self.backend), ns: Namespace::Tenant(tenant.clone()) }
    }

    /// The global namespace.
    pub fn global(&self) -> GlobalKv {
        ScopedKv { backend: Arc::clone(&self.backend), ns: Namespace::Global }
    }
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanPage {
    /// Entries, sorted by key.
    pub entries: Vec<KvPair>,
    /// Pass this as `after` to get the next page; `None` when the range is exhausted.
    pub next: Option<String>,
}

/// The keys of one [`Namespace`] of a [`Kv`] store: validation, limits, paging and typed
/// JSON on top of the backend's contract.
#[derive(Debug, Clone)]
pub struct ScopedKv {
    backend: Arc<dyn KvBackend>,
    ns: Namespace,
}

impl ScopedKv {
    /// The namespace.
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    fn key(&self, key: &str) -> Result<Key> {
        let k = Key::new(key)?;
        self.backend.capability().check_key(&self.ns, &k)?;
        Ok(k)
    }

    fn keys(&self, keys: &[&str]) -> Result<Vec<Key>> {
        self.backend.capability().check_batch(keys.len())?;
        keys.iter().map(|k| self.key(k)).collect()
    }

    /// Reads `key`; `None` when it is missing or expired.
    ///
    /// # Errors
    /// Invalid keys; the backend's errors.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let k = self.key(key)?;
        self.backend.get(&self.ns, &k).await
    }

    /// Writes `key`; with `ttl`, it expires that long from now.
    ///
    /// # Errors
    /// Invalid keys, values over the backend's limits; the backend's errors.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let k = self.key(key)?;
        self.backend.capability().check_value(value)?;
        self.backend.put(&self.ns, &k, value, ttl).await
    }

    /// Deletes `key` (succeeds when it is missing).
    ///
    /// # Errors
    /// Invalid keys; the backend's errors.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let k = self.key(key)?;
        self.backend.delete(&self.ns, &k).await
    }

    /// Reads several keys; missing ones are omitted.
    ///
    /// # Errors
    /// Invalid keys, too many keys; the backend's errors.
    pub async fn batch_get(&self, keys: &[&str]) -> Result<Vec<KvPair>> {
        let ks = self.keys(keys)?;
        self.backend.batch_get(&self.ns, &ks).await
    }

    /// Writes several keys with one optional TTL.
    ///
    /// # Errors
    /// Invalid keys or values, too many entries; the backend's errors.
    pub async fn batch_put(&self, entries: &[(&str, &[u8])], ttl: Option<Duration>) -> Result<()> {
        let cap = self.backend.capability();
        cap.check_batch(entries.len())?;
        let mut owned = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            cap.check_value(v)?;
            owned.push((self.key(k)?, v.to_vec()));
        }
        self.backend.batch_put(&self.ns, &owned, ttl).await
    }

    /// Deletes several keys.
    ///
    /// # Errors
    /// Invalid keys, too many keys; the backend's errors.
    pub async fn batch_delete(&self, keys: &[&str]) -> Result<()> {
        let ks = self.keys(keys)?;
        self.backend.batch_delete(&self.ns, &ks).await
    }

    /// Writes `new` if the current value is `expected` (`None`: absent).
    ///
    /// # Errors
    /// [`KvError::ConditionNotMet`] with the current value; the backend's errors.
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let k = self.key(key)?;
        self.backend.capability().check_value(new)?;
        self.backend.compare_and_swap(&self.ns, &k, expected, new, ttl).await
    }

    /// One page of the keys starting with `prefix` (which may be empty), after the key
    /// `after` (exclusive) when given. Limits above the backend's maximum return a shorter
    /// page with a continuation.
    ///
    /// # Errors
    /// A zero limit, a prefix with control characters; the backend's errors.
    pub async fn scan_prefix(&self, prefix: &str, limit: usize, after: Option<&str>) -> Result<ScanPage> {
        check_chars(prefix)?;
        let end = prefix_upper_bound(prefix.as_bytes());
        self.scan_bytes(prefix.as_bytes(), end.as_deref(), limit, after).await
    }

    /// One page of the keys in `start <= key < end` (`end = None`: to the end of the
    /// namespace), after `after` when given.
    ///
    /// # Errors
    /// A zero limit; the backend's errors.
    pub async fn scan_range(
        &self,
        start: &str,
        end: Option<&str>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<ScanPage> {
        check_chars(start)?;
        self.scan_bytes(start.as_bytes(), end.map(str::as_bytes), limit, after).await
    }

    /// One page of the keys in `start <= key < end` given as bytes (bounds need not be
    /// UTF-8), after `after` when given.
    ///
    /// # Errors
    /// A zero limit; the backend's errors.
    pub async fn scan_bytes(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
        after: Option<&str>,
    ) -> Result<ScanPage> {
        let cap = self.backend.capability();
        let page_limit = limit.min(cap.max_scan_limit);
        check_scan_limit(&cap, page_limit)?;
        // Continue strictly after `after`: the smallest key greater than it is after + NUL.
        let resume;
        let start = match after {
            Some(a) if a.as_bytes() >= start => {
                resume = [a.as_bytes(), &[0]].concat();
                resume.as_slice()
            }
            _ => start,
        };
        if end.is_some_and(|e| start >= e) {
            return Ok(ScanPage { entries: Vec::new(), next: None });
        }
        let entries = self.backend.scan(&self.ns, start, end, page_limit).await?;
        let next = if entries.len() == page_limit { entries.last().map(|e| e.key.clone()) } else { None };
        Ok(ScanPage { entries, next })
    }

    /// Every key starting with `prefix`, page by page, up to `max` entries.
    ///
    /// # Errors
    /// [`KvError::TooLarge`] when more than `max` entries match; the backend's errors.
    pub async fn scan_prefix_all(&self, prefix: &str, max: usize) -> Result<Vec<KvPair>> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.scan_prefix(prefix, self.backend.capability().max_scan_limit, after.as_deref()).await?;
            out.extend(page.entries);
            if out.len() > max {
                return Err(KvError::TooLarge { what: "scan entries", size: out.len(), max });
            }
            match page.next {
                Some(n) => after = Some(n),
                None => return Ok(out),
            }
        }
    }

    /// Deletes every key starting with `prefix` (which must not be empty), page by page;
    /// returns how many keys were deleted.
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] for an empty prefix; the backend's errors.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize> {
        if prefix.is_empty() {
            return Err(KvError::InvalidArgument {
                message: "delete_prefix needs a non-empty prefix; delete a tenant's keys explicitly".into(),
            });
        }
        let cap = self.backend.capability();
        let page = cap.max_scan_limit.min(cap.max_batch);
        let mut deleted = 0;
        loop {
            let p = self.scan_prefix(prefix, page, None).await?;
            if p.entries.is_empty() {
                return Ok(deleted);
            }
            let keys: Vec<&str> = p.entries.iter().map(|e| e.key.as_str()).collect();
            self.batch_delete(&keys).await?;
            deleted += keys.len();
        }
    }

    /// Reads `key` as JSON of type `T`.
    ///
    /// # Errors
    /// [`KvError::Serde`] when the stored bytes are not that type; the backend's errors.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key).await? {
            Some(bytes) => {
                serde_json::from_slice(&bytes).map(Some).map_err(|source| KvError::Serde { key: clip(key), source })
            }
            None => Ok(None),
        }
    }

    /// Writes `value` as JSON.
    ///
    /// # Errors
    /// [`KvError::Serde`] when `value` cannot be serialised; as [`ScopedKv::put`].
    pub async fn put_json<T: Serialize + ?Sized>(&self, key: &str, value: &T, ttl: Option<Duration>) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|source| KvError::Serde { key: clip(key), source })?;
        self.put(key, &bytes, ttl).await
    }
}
