//! [`AutoStore`]: native TiKV when it answers, the HTTP proxy otherwise (features `tikv`
//! and `http`; what `KvConfig::Auto` opens).
//!
//! **The decision.** Native wins when PD answers *and* the TiKV store PD names for a key
//! answers at its advertised address, within [`AutoConfig::probe_timeout`]
//! ([`TikvStore::connect_and_ping`]). PD alone is not enough: from outside a cluster PD often
//! answers while the stores advertise addresses only reachable inside it. Otherwise the
//! proxy is used. Each decision is logged (`tracing`, target `p8fs_kv::auto`) with its
//! reason; URLs are logged without their secrets.
//!
//! **Re-probing.** A call whose backend fails with `Unavailable` or `Timeout` returns that
//! error as it is (it is never retried on the other side: a write may have happened), and
//! then the decision is made again, at most once per [`AutoConfig::reprobe_interval`] and by
//! one task at a time: on the proxy, native TiKV that now answers is switched to; on native
//! TiKV that no longer answers, the proxy is switched to if it answers. Later calls use the
//! new side. Both sides see the same data only when the proxy fronts the same cluster (the
//! deployment this mode is for: the proxy inside the cluster's network, clients outside).

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::http::{HttpConfig, HttpStore};
use super::tikv::{TikvConfig, TikvStore};
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result};

const TARGET: &str = "p8fs_kv::auto";

/// Settings of an [`AutoStore`]. Its `Debug` hides the proxy's token and the URL's secrets.
#[derive(Debug, Clone)]
pub struct AutoConfig {
    /// Native TiKV: PD endpoints, keyspace and the per-call timeout once connected. No PD
    /// endpoints: the proxy only.
    pub tikv: TikvConfig,
    /// The proxy, used when native TiKV does not answer; `None`: native only.
    pub proxy: Option<HttpConfig>,
    /// How long the native probe (PD, then a read from a store) may take.
    pub probe_timeout: Duration,
    /// Least time between two re-probes.
    pub reprobe_interval: Duration,
}

impl AutoConfig {
    /// Native TiKV at `pd_endpoints` (no keyspace, 30 s per call), else the proxy at
    /// `proxy_url`; a 3 s probe, at most one re-probe every 10 s.
    pub fn new(pd_endpoints: Vec<String>, proxy_url: Option<String>) -> Self {
        Self {
            tikv: TikvConfig { timeout: Duration::from_secs(30), ..TikvConfig::new(pd_endpoints) },
            proxy: proxy_url.map(HttpConfig::new),
            probe_timeout: Duration::from_secs(3),
            reprobe_interval: Duration::from_secs(10),
        }
    }
}

/// Which side an [`AutoStore`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSide {
    /// Native TiKV (gRPC through PD).
    Native,
    /// The HTTP proxy.
    Http,
}

#[derive(Debug, Clone)]
struct Current {
    side: AutoSide,
    backend: Arc<dyn KvBackend>,
}

/// Native TiKV or the proxy, whichever answers (see the module docs). Cheap to share
/// behind an `Arc`; every call goes to the side chosen last.
#[derive(Debug)]
pub struct AutoStore {
    config: AutoConfig,
    current: RwLock<Current>,
    /// Held while re-probing; holds when the last re-probe started.
    reprobe: tokio::sync::Mutex<Option<Instant>>,
}

/// Why native TiKV was not used, for the log.
fn why_not_native(config: &AutoConfig, e: &KvError) -> String {
    if config.tikv.pd_endpoints.is_empty() {
        NO_PD.to_owned()
    } else {
        format!("PD and a TiKV store it names did not both answer: {e}")
    }
}

const NO_PD: &str = "no PD endpoints are configured";

impl AutoStore {
    /// Decides (see the module docs) and connects the side chosen.
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] with neither PD endpoints nor a proxy; when native TiKV
    /// does not answer, the proxy's connection error, or [`KvError::Unavailable`] without a
    /// proxy.
    pub async fn open(config: AutoConfig) -> Result<Self> {
        if config.tikv.pd_endpoints.is_empty() && config.proxy.is_none() {
            return Err(KvError::InvalidArgument { message: "auto: give PD endpoints, a proxy URL, or both".into() });
        }
        let native = Self::native(&config).await;
        let current = match native {
            Ok(store) => {
                tracing::info!(
                    target: TARGET,
                    pd = %config.tikv.pd_endpoints.join(","),
                    "KV auto mode: PD and a TiKV store answer, using native TiKV"
                );
                Current { side: AutoSide::Native, backend: Arc::new(store) }
            }
            Err(e) => {
                let reason = why_not_native(&config, &e);
                let Some(proxy) = config.proxy.clone() else {
                    return Err(KvError::Unavailable {
                        backend: "auto",
                        message: format!("{reason}, and no proxy URL is configured"),
                        source: Some(Box::new(e)),
                    });
                };
                let store = HttpStore::connect(proxy).await?;
                tracing::info!(
                    target: TARGET,
                    proxy = %config.proxy.as_ref().map(|p| p8fs_redact::connection(&p.base_url)).unwrap_or_default(),
                    reason = %reason,
                    "KV auto mode: using the HTTP proxy"
                );
                Current { side: AutoSide::Http, backend: Arc::new(store) }
            }
        };
        Ok(Self { config, current: RwLock::new(current), reprobe: tokio::sync::Mutex::new(None) })
    }

    /// The side in use now.
    pub fn side(&self) -> AutoSide {
        self.current().side
    }

    fn current(&self) -> Current {
        self.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Native TiKV, connected and answering, or why not.
    async fn native(config: &AutoConfig) -> Result<TikvStore> {
        if config.tikv.pd_endpoints.is_empty() {
            return Err(KvError::InvalidArgument { message: NO_PD.into() });
        }
        TikvStore::connect_and_ping(config.tikv.clone(), config.probe_timeout).await
    }

    /// After a call on `used` ended with `r`: re-probes when the side failed as
    /// unreachable (see the module docs).
    async fn after<T>(&self, used: AutoSide, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && e.is_retryable()
        {
            self.reprobe(used, e).await;
        }
        r
    }

    async fn reprobe(&self, failed: AutoSide, error: &KvError) {
        // One re-probe at a time; the others go on with the side they have.
        let Ok(mut last) = self.reprobe.try_lock() else { return };
        if last.is_some_and(|t| t.elapsed() < self.config.reprobe_interval) || self.side() != failed {
            return;
        }
        *last = Some(Instant::now());
        let next = match (failed, Self::native(&self.config).await) {
            (AutoSide::Http, Ok(store)) => {
                Some(Current { side: AutoSide::Native, backend: Arc::new(store) as Arc<dyn KvBackend> })
            }
            (AutoSide::Native, Err(e)) => match &self.config.proxy {
                Some(proxy) => match HttpStore::connect(proxy.clone()).await {
                    Ok(store) => {
                        tracing::debug!(target: TARGET, native = %e, "re-probe: native TiKV still does not answer");
                        Some(Current { side: AutoSide::Http, backend: Arc::new(store) as Arc<dyn KvBackend> })
                    }
                    Err(pe) => {
                        tracing::warn!(target: TARGET, native = %e, proxy = %pe, "re-probe: neither side answers");
                        None
                    }
                },
                None => None,
            },
            // The failed side answers again, or the other side does not answer either.
            (AutoSide::Native, Ok(_)) | (AutoSide::Http, Err(_)) => None,
        };
        match next {
            Some(next) => {
                tracing::warn!(
                    target: TARGET,
                    from = ?failed,
                    to = ?next.side,
                    error = %error,
                    "KV auto mode: switching sides after an unreachable backend"
                );
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
            }
            None => tracing::info!(target: TARGET, side = ?failed, error = %error, "KV auto mode: re-probed, staying"),
        }
    }
}

#[async_trait]
impl KvBackend for AutoStore {
    /// The name of the side in use (`tikv` or `http`), as its errors carry it.
    fn name(&self) -> &'static str {
        self.current().backend.name()
    }

    /// The capability of the side in use.
    fn capability(&self) -> Capability {
        self.current().backend.capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        let c = self.current();
        self.after(c.side, c.backend.get(ns, key).await).await
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.put(ns, key, value, ttl).await).await
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.delete(ns, key).await).await
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let c = self.current();
        self.after(c.side, c.backend.scan(ns, start, end, limit).await).await
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let c = self.current();
        self.after(c.side, c.backend.batch_get(ns, keys).await).await
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.batch_put(ns, entries, ttl).await).await
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.batch_delete(ns, keys).await).await
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.compare_and_swap(ns, key, expected, new, ttl).await).await
    }

    async fn ping(&self) -> Result<()> {
        let c = self.current();
        self.after(c.side, c.backend.ping().await).await
    }
}
