//! [`MeteredBackend`]: a backend wrapper that records each call's latency and outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use p8fs_kv::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result};

use crate::Metrics;

/// Wraps a backend and records every call in [`Metrics`].
#[derive(Debug)]
pub struct MeteredBackend {
    inner: Arc<dyn KvBackend>,
    metrics: Arc<Metrics>,
}

impl MeteredBackend {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn KvBackend>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    fn record<T>(&self, op: &'static str, start: Instant, r: &Result<T>) {
        // A failed compare-and-swap is an answer, not a backend failure.
        let ok = matches!(r, Ok(_) | Err(KvError::ConditionNotMet { .. }));
        self.metrics.backend_call(op, start.elapsed(), ok);
    }
}

#[async_trait]
impl KvBackend for MeteredBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capability(&self) -> Capability {
        self.inner.capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        let t = Instant::now();
        let r = self.inner.get(ns, key).await;
        self.record("get", t, &r);
        r
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.put(ns, key, value, ttl).await;
        self.record("put", t, &r);
        r
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.delete(ns, key).await;
        self.record("delete", t, &r);
        r
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let t = Instant::now();
        let r = self.inner.scan(ns, start, end, limit).await;
        self.record("scan", t, &r);
        r
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let t = Instant::now();
        let r = self.inner.batch_get(ns, keys).await;
        self.record("batch_get", t, &r);
        r
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.batch_put(ns, entries, ttl).await;
        self.record("batch_put", t, &r);
        r
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.batch_delete(ns, keys).await;
        self.record("batch_delete", t, &r);
        r
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.compare_and_swap(ns, key, expected, new, ttl).await;
        self.record("compare_and_swap", t, &r);
        r
    }

    async fn ping(&self) -> Result<()> {
        let t = Instant::now();
        let r = self.inner.ping().await;
        self.record("ping", t, &r);
        r
    }
}
