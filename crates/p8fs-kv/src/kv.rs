//! The handles applications use: [`Kv`] over any backend, [`ScopedKv`] for one namespace.
//!
//! [`ScopedKv`] is where the check layer runs (`crate::check`): every call validates its
//! keys, values, batch length, scan limit, TTL and compare-and-swap against the backend's
//! [`Capability`] (narrowed by [`Kv::with_limits`]) once, here, and the backend trusts it.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::clip;
use crate::key::check_chars;
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result, TenantId, prefix_upper_bound};

/// A KV store. Cheap to clone; all clones share the backend.
#[derive(Debug, Clone)]
pub struct Kv {
    backend: Arc<dyn KvBackend>,
    limits: Option<Capability>,
}

/// The keys of one tenant. It cannot name a key of another tenant.
pub type TenantKv = ScopedKv;

/// The global namespace: keys that belong to no tenant (device-auth codes). Its keys never
/// contain `/`, so they never collide with a tenant's keys.
pub type GlobalKv = ScopedKv;

impl Kv {
    /// A handle over `backend`.
    pub fn new(backend: Arc<dyn KvBackend>) -> Self {
        Self { backend, limits: None }
    }

    /// The same store, with the check layer also enforcing `limits` (narrowing the
    /// backend's [`Capability`] with [`Capability::narrowed`]): for a caller whose own
    /// limits are tighter than the backend's, such as a proxy in front of it.
    #[must_use]
    pub fn with_limits(self, limits: Capability) -> Self {
        let limits = match self.limits {
            Some(l) => l.narrowed(&limits),
            None => limits,
        };
        Self { limits: Some(limits), ..self }
    }

    /// What the check layer enforces: the backend's capability, narrowed by
    /// [`Kv::with_limits`]. Asked of the backend on every call (a backend that switches
    /// stores, `KvConfig::Auto`, changes it).
    pub fn capability(&self) -> Capability {
        effective(&self.backend, self.limits.as_ref())
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn KvBackend> {
        &self.backend
    }

    /// The keys of `tenant`.
    pub fn tenant(&self, tenant: &TenantId) -> TenantKv {
        ScopedKv { backend: Arc::clone(&self.backend), limits: self.limits, ns: Namespace::Tenant(tenant.clone()) }
    }

    /// The global namespace.
    pub fn global(&self) -> GlobalKv {
        ScopedKv { backend: Arc::clone(&self.backend), limits: self.limits, ns: Namespace::Global }
    }
}

fn effective(backend: &Arc<dyn KvBackend>, limits: Option<&Capability>) -> Capability {
    let cap = backend.capability();
    match limits {
        Some(l) => cap.narrowed(l),
        None => cap,
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

/// The keys of one [`Namespace`] of a [`Kv`] store: the check layer (every call is checked
/// against the [`Capability`] once, here), paging and typed JSON on top of the backend's
/// contract.
#[derive(Debug, Clone)]
pub struct ScopedKv {
    backend: Arc<dyn KvBackend>,
    limits: Option<Capability>,
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

    /// What the check layer enforces (see [`Kv::capability`]).
    pub fn capability(&self) -> Capability {
        effective(&self.backend, self.limits.as_ref())
    }

    fn key(&self, cap: &Capability, key: &str) -> Result<Key> {
        let k = Key::new(key)?;
        cap.check_key(&self.ns, &k)?;
        Ok(k)
    }

    fn keys(&self, keys: &[&str]) -> Result<Vec<Key>> {
        let cap = self.capability();
        cap.check_batch(keys.len())?;
        keys.iter().map(|k| self.key(&cap, k)).collect()
    }

    /// Checks a put of `value` under `key` with `ttl` as [`ScopedKv::put`] would, without
    /// writing (for callers that must know before they commit elsewhere).
    ///
    /// # Errors
    /// As [`ScopedKv::put`] for bad input.
    pub fn check_put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<Key> {
        let cap = self.capability();
        let k = self.key(&cap, key)?;
        cap.check_value(value)?;
        cap.check_ttl(self.backend.name(), ttl)?;
        Ok(k)
    }

    /// Checks a batch put as [`ScopedKv::batch_put`] would, without writing; returns the
    /// entries with validated keys.
    ///
    /// # Errors
    /// As [`ScopedKv::batch_put`] for bad input.
    pub fn check_batch_put(&self, entries: &[(&str, &[u8])], ttl: Option<Duration>) -> Result<Vec<(Key, Vec<u8>)>> {
        let cap = self.capability();
        cap.check_ttl(self.backend.name(), ttl)?;
        cap.check_batch(entries.len())?;
        let owned = entries.iter().map(|(k, v)| Ok((Key::new(*k)?, v.to_vec()))).collect::<Result<Vec<_>>>()?;
        cap.check_entries(&self.ns, &owned)?;
        Ok(owned)
    }

    /// Reads `key`; `None` when it is missing or expired.
    ///
    /// # Errors
    /// Invalid keys; the backend's errors.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let k = self.key(&self.capability(), key)?;
        self.backend.get(&self.ns, &k).await
    }

    /// Writes `key`; with `ttl`, it expires that long from now.
    ///
    /// # Errors
    /// Invalid keys, values over the backend's limits; the backend's errors.
    pub async fn put(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let k = self.check_put(key, value, ttl)?;
        self.backend.put(&self.ns, &k, value, ttl).await
    }

    /// Deletes `key` (succeeds when it is missing).
    ///
    /// # Errors
    /// Invalid keys; the backend's errors.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let k = self.key(&self.capability(), key)?;
        self.backend.delete(&self.ns, &k).await
    }

    /// Reads several keys; missing ones are omitted.
    ///
    /// # Errors
    /// Invalid keys, too many keys; the backend's errors.
    pub async fn batch_get(&self, keys: &[&str]) -> Result<Vec<KvPair>> {
        let ks = self.keys(keys)?;
        if ks.is_empty() {
            return Ok(Vec::new());
        }
        self.backend.batch_get(&self.ns, &ks).await
    }

    /// Writes several keys with one optional TTL.
    ///
    /// # Errors
    /// Invalid keys or values, too many entries; the backend's errors.
    pub async fn batch_put(&self, entries: &[(&str, &[u8])], ttl: Option<Duration>) -> Result<()> {
        let owned = self.check_batch_put(entries, ttl)?;
        if owned.is_empty() {
            return Ok(());
        }
        self.backend.batch_put(&self.ns, &owned, ttl).await
    }

    /// Deletes several keys.
    ///
    /// # Errors
    /// Invalid keys, too many keys; the backend's errors.
    pub async fn batch_delete(&self, keys: &[&str]) -> Result<()> {
        let ks = self.keys(keys)?;
        if ks.is_empty() {
            return Ok(());
        }
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
        let cap = self.capability();
        cap.check_cas(self.backend.name(), ttl)?;
        let k = self.key(&cap, key)?;
        cap.check_value(new)?;
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
        let cap = self.capability();
        let page_limit = limit.min(cap.max_scan_limit);
        cap.check_scan_limit(page_limit)?;
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
            let page = self.scan_prefix(prefix, self.capability().max_scan_limit, after.as_deref()).await?;
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
        let cap = self.capability();
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

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::{EmbeddedStore, KvErrorKind};

    /// The embedded store, counting the calls that reach it.
    #[derive(Debug)]
    struct Counted {
        inner: EmbeddedStore,
        calls: AtomicUsize,
    }

    impl Counted {
        fn hit(&self) {
            self.calls.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[async_trait]
    impl KvBackend for Counted {
        fn name(&self) -> &'static str {
            "counted"
        }
        fn capability(&self) -> Capability {
            self.inner.capability()
        }
        async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
            self.hit();
            self.inner.get(ns, key).await
        }
        async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
            self.hit();
            self.inner.put(ns, key, value, ttl).await
        }
        async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
            self.hit();
            self.inner.delete(ns, key).await
        }
        async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
            self.hit();
            self.inner.scan(ns, start, end, limit).await
        }
        async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
            self.hit();
            self.inner.batch_get(ns, keys).await
        }
        async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
            self.hit();
            self.inner.batch_put(ns, entries, ttl).await
        }
        async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
            self.hit();
            self.inner.batch_delete(ns, keys).await
        }
        async fn compare_and_swap(
            &self,
            ns: &Namespace,
            key: &Key,
            expected: Option<&[u8]>,
            new: &[u8],
            ttl: Option<Duration>,
        ) -> Result<()> {
            self.hit();
            self.inner.compare_and_swap(ns, key, expected, new, ttl).await
        }
        async fn ping(&self) -> Result<()> {
            self.hit();
            self.inner.ping().await
        }
    }

    fn store() -> (tempfile::TempDir, Arc<Counted>) {
        let dir = tempfile::tempdir().unwrap();
        let inner = EmbeddedStore::open(dir.path().join("kv.redb")).unwrap();
        (dir, Arc::new(Counted { inner, calls: AtomicUsize::new(0) }))
    }

    fn limits() -> Capability {
        Capability {
            ttl: false,
            ttl_granularity: Duration::ZERO,
            cas: false,
            cas_ttl: false,
            atomic_batch: true,
            max_key_bytes: 12,
            max_value_bytes: 4,
            max_scan_limit: 3,
            max_batch: 2,
        }
    }

    #[tokio::test]
    async fn refused_calls_never_reach_the_backend() {
        let (_dir, backend) = store();
        let kv = Kv::new(backend.clone() as Arc<dyn KvBackend>).with_limits(limits());
        // "alice/" is 6 bytes of the 12: keys of 7 bytes or more are too long.
        let t = kv.tenant(&TenantId::new("alice").unwrap());
        let kind = |r: Result<()>| r.unwrap_err().kind();
        assert_eq!(kind(t.put("1234567", b"v", None).await), KvErrorKind::TooLarge);
        assert_eq!(kind(t.put("k", b"12345", None).await), KvErrorKind::TooLarge);
        assert_eq!(kind(t.put("k", b"v", Some(Duration::from_secs(1))).await), KvErrorKind::Unsupported);
        assert_eq!(kind(t.put("../bob/k", b"v", None).await), KvErrorKind::InvalidKey);
        assert_eq!(kind(t.batch_put(&[("a", b"1"), ("b", b"2"), ("c", b"3")], None).await), KvErrorKind::TooLarge);
        assert_eq!(kind(t.batch_put(&[("a", b"1"), ("b", b"12345")], None).await), KvErrorKind::TooLarge);
        assert_eq!(kind(t.compare_and_swap("k", None, b"v", None).await), KvErrorKind::Unsupported);
        assert_eq!(t.get("1234567").await.unwrap_err().kind(), KvErrorKind::TooLarge);
        assert_eq!(t.batch_get(&["a", "b", "c"]).await.unwrap_err().kind(), KvErrorKind::TooLarge);
        assert_eq!(t.scan_prefix("", 0, None).await.unwrap_err().kind(), KvErrorKind::InvalidArgument);
        assert_eq!(kv.global().put("a/b", b"v", None).await.unwrap_err().kind(), KvErrorKind::InvalidKey);
        assert_eq!(backend.calls.load(Ordering::SeqCst), 0, "a refused call reached the backend");
        // Every refusal is the caller's input, or a capability the store lacks.
        assert!(t.put("1234567", b"v", None).await.unwrap_err().is_invalid_input());
        // Empty batches need no round trip either.
        t.batch_put(&[], None).await.unwrap();
        t.batch_delete(&[]).await.unwrap();
        assert!(t.batch_get(&[]).await.unwrap().is_empty());
        assert_eq!(backend.calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn accepted_calls_reach_the_backend_once_and_limits_narrow_only() {
        let (_dir, backend) = store();
        let kv = Kv::new(backend.clone() as Arc<dyn KvBackend>).with_limits(limits());
        assert_eq!(kv.capability(), backend.capability().narrowed(&limits()));
        let t = kv.tenant(&TenantId::new("alice").unwrap());
        t.put("123456", b"1234", None).await.unwrap();
        t.batch_put(&[("a", b"1"), ("b", b"2")], None).await.unwrap();
        assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
        // A scan larger than the page limit is served as a page with a continuation.
        let page = t.scan_prefix("", 100, None).await.unwrap();
        assert_eq!(page.entries.len(), 3);
        assert_eq!(page.next.as_deref(), Some("b"));
        // Limits of their own never widen the backend's.
        let wide = Capability { max_value_bytes: usize::MAX, ..backend.capability() };
        assert_eq!(Kv::new(backend.clone() as Arc<dyn KvBackend>).with_limits(wide).capability(), backend.capability());
    }
}
