//! Opening a [`KvConfig`]: the backends this crate can open by itself.

use std::sync::Arc;
use std::time::Duration;

use crate::{KvBackend, KvConfig, KvError, Result};

/// What opening a [`KvConfig`] needs besides its URL. Its `Debug` hides the token.
#[derive(Clone)]
pub struct KvOptions {
    /// Bearer token for the HTTP proxy.
    pub token: Option<String>,
    /// TiKV API v2 keyspace (`None`: the whole, API v1, key space).
    pub tikv_keyspace: Option<String>,
    /// Longest one TiKV call may take once connected.
    pub tikv_timeout: Duration,
    /// `Auto`: how long the native probe may take.
    pub probe_timeout: Duration,
    /// `Auto`: least time between two re-probes.
    pub reprobe_interval: Duration,
    /// The certificate authorities (a PEM file) an `https://` proxy must be signed by,
    /// instead of the Web PKI roots.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for KvOptions {
    /// No token, no keyspace, 30 s per TiKV call, a 3 s probe, a re-probe at most every 10 s.
    fn default() -> Self {
        Self {
            token: None,
            tikv_keyspace: None,
            tikv_timeout: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(3),
            reprobe_interval: Duration::from_secs(10),
            tls_ca: None,
        }
    }
}

impl std::fmt::Debug for KvOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvOptions")
            .field("token", &p8fs_redact::option(&self.token))
            .field("tikv_keyspace", &self.tikv_keyspace)
            .field("tikv_timeout", &self.tikv_timeout)
            .field("probe_timeout", &self.probe_timeout)
            .field("reprobe_interval", &self.reprobe_interval)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

/// The error for a backend this build was compiled without.
#[allow(dead_code)]
fn not_built(what: &'static str) -> KvError {
    KvError::Unsupported { backend: "config", what }
}

impl KvConfig {
    /// Opens the backend: the embedded store, TiKV, the proxy, or for
    /// [`KvConfig::Auto`] native TiKV when PD and a TiKV store it names answer, else the
    /// proxy (an `AutoStore`, which re-decides after an unreachable backend).
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] for [`KvConfig::Sql`] (its store runs on a SQL provider
    /// this crate does not link: open one and give it to `SqlStore::open`);
    /// [`KvError::Unsupported`] for a backend whose feature is not compiled in; the
    /// backend's errors when it cannot be reached.
    #[cfg_attr(not(any(feature = "tikv", feature = "http")), allow(unused_variables))]
    pub async fn open(&self, options: &KvOptions) -> Result<Arc<dyn KvBackend>> {
        match self {
            #[cfg(feature = "embedded")]
            KvConfig::Embedded { path } => Ok(Arc::new(crate::EmbeddedStore::open(path)?)),
            #[cfg(not(feature = "embedded"))]
            KvConfig::Embedded { .. } => Err(not_built("the embedded backend (feature `embedded`)")),
            #[cfg(feature = "tikv")]
            KvConfig::Tikv { pd_endpoints } => {
                Ok(Arc::new(crate::TikvStore::connect(tikv_config(options, pd_endpoints.clone())).await?))
            }
            #[cfg(not(feature = "tikv"))]
            KvConfig::Tikv { .. } => Err(not_built("the tikv backend (feature `tikv`)")),
            #[cfg(feature = "http")]
            KvConfig::Http { base_url } => {
                Ok(Arc::new(crate::HttpStore::connect(http_config(options, base_url)).await?))
            }
            #[cfg(not(feature = "http"))]
            KvConfig::Http { .. } => Err(not_built("the http backend (feature `http`)")),
            #[cfg(all(feature = "tikv", feature = "http"))]
            KvConfig::Auto { pd_endpoints, proxy_url } => {
                let config = crate::AutoConfig {
                    tikv: tikv_config(options, pd_endpoints.clone()),
                    proxy: proxy_url.as_deref().map(|u| http_config(options, u)),
                    probe_timeout: options.probe_timeout,
                    reprobe_interval: options.reprobe_interval,
                };
                Ok(Arc::new(crate::AutoStore::open(config).await?))
            }
            #[cfg(not(all(feature = "tikv", feature = "http")))]
            KvConfig::Auto { .. } => Err(not_built("the auto mode (features `tikv` and `http`)")),
            KvConfig::Sql { .. } => Err(KvError::InvalidArgument {
                message: "a SQL KV store is opened on a SQL provider: connect one and call SqlStore::open".into(),
            }),
        }
    }
}

#[cfg(feature = "tikv")]
fn tikv_config(options: &KvOptions, pd_endpoints: Vec<String>) -> crate::TikvConfig {
    crate::TikvConfig { pd_endpoints, keyspace: options.tikv_keyspace.clone(), timeout: options.tikv_timeout }
}

#[cfg(feature = "http")]
fn http_config(options: &KvOptions, base_url: &str) -> crate::HttpConfig {
    crate::HttpConfig {
        token: options.token.clone(),
        tls_ca: options.tls_ca.clone(),
        ..crate::HttpConfig::new(base_url)
    }
}
