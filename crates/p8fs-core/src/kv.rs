//! Which KV backend to use, and opening it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

#[cfg(feature = "kv-embedded")]
use p8fs_kv::EmbeddedStore;
#[cfg(all(feature = "kv-tikv", feature = "kv-http"))]
use p8fs_kv::probe_tikv;
#[cfg(feature = "kv-http")]
use p8fs_kv::{HttpConfig, HttpStore};
use p8fs_kv::{KvBackend, KvConfig, SqlStore};
#[cfg(feature = "kv-tikv")]
use p8fs_kv::{TikvConfig, TikvStore};

use crate::{Error, Result, SqlConfig, connect_sql};

/// The KV settings, parsed once. Its `Debug` output hides the token and the URLs'
/// passwords ([`p8fs_redact`]).
#[derive(Clone, PartialEq, Eq)]
pub struct KvSettings {
    /// The backend.
    pub backend: KvConfig,
    /// Bearer token for the HTTP proxy (`P8FS_KV_TOKEN`).
    pub token: Option<String>,
    /// TiKV keyspace (`P8FS_TIKV_KEYSPACE`; needed on an API v2 cluster).
    pub tikv_keyspace: Option<String>,
    /// For `auto:`: PD endpoints to try first (`P8FS_TIKV_PD_ENDPOINTS`, comma separated).
    pub auto_pd_endpoints: Vec<String>,
    /// For `auto:`: the proxy to use when PD does not answer (`P8FS_KV_PROXY_URL`).
    pub auto_proxy_url: Option<String>,
}

impl KvSettings {
    /// The embedded default under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        Self {
            backend: KvConfig::Embedded { path: data_dir.join("kv.redb") },
            token: None,
            tikv_keyspace: None,
            auto_pd_endpoints: Vec::new(),
            auto_proxy_url: None,
        }
    }

    /// Reads `P8FS_KV_URL` (see [`KvConfig::parse`]; default: the embedded store under
    /// `data_dir`) and `P8FS_KV_TOKEN`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse (the message does not show it).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Self> {
        let backend = match get("P8FS_KV_URL") {
            Some(url) => KvConfig::parse(&url).map_err(|e| Error::Config(format!("P8FS_KV_URL: {e}")))?,
            None => Self::embedded(data_dir).backend,
        };
        Ok(Self {
            backend,
            token: get("P8FS_KV_TOKEN"),
            tikv_keyspace: get("P8FS_TIKV_KEYSPACE"),
            auto_pd_endpoints: get("P8FS_TIKV_PD_ENDPOINTS")
                .map(|l| l.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default(),
            auto_proxy_url: get("P8FS_KV_PROXY_URL"),
        })
    }

    /// A description without secrets: URLs with their passwords and secret parameters
    /// shown as `***` (or not at all when they do not parse), never the token.
    pub fn describe(&self) -> String {
        match &self.backend {
            KvConfig::Embedded { path } => format!("embedded ({})", path.display()),
            KvConfig::Tikv { pd_endpoints } => match &self.tikv_keyspace {
                Some(k) => format!("tikv ({}, keyspace {k})", pd_endpoints.join(",")),
                None => format!("tikv ({})", pd_endpoints.join(",")),
            },
            KvConfig::Http { base_url } => format!("http ({})", p8fs_redact::connection(base_url)),
            KvConfig::Sql { url } => format!("sql ({})", p8fs_redact::connection(url)),
            KvConfig::Auto => "auto".into(),
        }
    }
}

impl std::fmt::Debug for KvSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvSettings")
            .field("backend", &self.backend)
            .field("token", &p8fs_redact::option(&self.token))
            .field("tikv_keyspace", &self.tikv_keyspace)
            .field("auto_pd_endpoints", &self.auto_pd_endpoints)
            .field("auto_proxy_url", &self.auto_proxy_url.as_deref().map(p8fs_redact::connection))
            .finish()
    }
}

/// Opens the configured KV backend.
///
/// # Errors
/// [`Error::Config`] for a backend this build cannot open; the backend's error when it
/// cannot be reached.
pub async fn connect_kv(settings: &KvSettings) -> Result<Arc<dyn KvBackend>> {
    Ok(match &settings.backend {
        #[cfg(feature = "kv-embedded")]
        KvConfig::Embedded { path } => Arc::new(EmbeddedStore::open(path)?),
        #[cfg(not(feature = "kv-embedded"))]
        KvConfig::Embedded { .. } => return Err(crate::config::not_built("the embedded KV store", "kv-embedded")),
        #[cfg(not(feature = "kv-http"))]
        KvConfig::Http { .. } => return Err(crate::config::not_built("the KV HTTP client", "kv-http")),
        #[cfg(not(feature = "kv-tikv"))]
        KvConfig::Tikv { .. } => return Err(crate::config::not_built("native TiKV", "kv-tikv")),
        #[cfg(not(all(feature = "kv-tikv", feature = "kv-http")))]
        KvConfig::Auto => return Err(crate::config::not_built("the native/HTTP switch", "kv-tikv` and `kv-http")),
        #[cfg(feature = "kv-http")]
        KvConfig::Http { base_url } => {
            let mut cfg = HttpConfig::new(base_url.clone());
            cfg.token = settings.token.clone();
            Arc::new(HttpStore::connect(cfg).await?)
        }
        KvConfig::Sql { url } => {
            let sql = sql_config_for(url)?;
            Arc::new(SqlStore::open(connect_sql(&sql).await?).await?)
        }
        #[cfg(feature = "kv-tikv")]
        KvConfig::Tikv { pd_endpoints } => {
            Arc::new(TikvStore::connect(tikv_config(settings, pd_endpoints.clone())).await?)
        }
        #[cfg(all(feature = "kv-tikv", feature = "kv-http"))]
        KvConfig::Auto => {
            let pd = settings.auto_pd_endpoints.clone();
            if !pd.is_empty() && probe_tikv(&pd, std::time::Duration::from_secs(3)).await {
                tracing::info!(pd = %pd.join(","), "KV auto mode: PD answers, using native TiKV");
                return Ok(Arc::new(TikvStore::connect(tikv_config(settings, pd)).await?));
            }
            let why = if pd.is_empty() { "P8FS_TIKV_PD_ENDPOINTS is not set" } else { "PD does not answer" };
            let proxy = settings
                .auto_proxy_url
                .clone()
                .ok_or_else(|| Error::Config(format!("P8FS_KV_URL=auto: {why} and P8FS_KV_PROXY_URL is not set")))?;
            tracing::info!(
                proxy = %p8fs_redact::connection(&proxy),
                reason = why,
                "KV auto mode: using the HTTP proxy"
            );
            let mut cfg = HttpConfig::new(proxy);
            cfg.token = settings.token.clone();
            Arc::new(HttpStore::connect(cfg).await?)
        }
    })
}

#[cfg(feature = "kv-tikv")]
fn tikv_config(settings: &KvSettings, pd_endpoints: Vec<String>) -> TikvConfig {
    TikvConfig { pd_endpoints, keyspace: settings.tikv_keyspace.clone(), timeout: std::time::Duration::from_secs(30) }
}

/// The SQL provider a `sql` KV URL names.
fn sql_config_for(url: &str) -> Result<SqlConfig> {
    if url.starts_with("mysql://") {
        Ok(SqlConfig::Tidb { url: url.to_owned() })
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(SqlConfig::Postgres { url: url.to_owned() })
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        Ok(SqlConfig::Sqlite { path: PathBuf::from(path) })
    } else {
        Err(Error::Config(format!(
            "{} is not a SQL URL (mysql://, postgres://, sqlite://)",
            p8fs_redact::connection(url)
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<KvSettings> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        KvSettings::from_vars(|k| m.get(k).cloned(), Path::new("/d"))
    }

    #[test]
    fn describe_and_debug_hide_tokens_and_passwords() {
        let s = settings(&[
            ("P8FS_KV_URL", "http://u:S3cretKV@proxy:8080"),
            ("P8FS_KV_TOKEN", "T0kenKV"),
            ("P8FS_KV_PROXY_URL", "https://p:S3cretKV@proxy"),
        ])
        .unwrap();
        for shown in [s.describe(), format!("{s:?}")] {
            assert!(!shown.contains("S3cretKV") && !shown.contains("T0kenKV"), "{shown}");
        }
        assert_eq!(s.describe(), "http (http://u:***@proxy:8080/)");
        let s = settings(&[("P8FS_KV_URL", "postgres://u@h/db?sslpassword=S3cretKV")]).unwrap();
        assert_eq!(s.describe(), "sql (postgres://u@h/db?sslpassword=***)");
    }

    #[test]
    fn a_url_that_does_not_parse_is_not_echoed() {
        for url in ["S3cretKV", "bogus://u:S3cretKV@h", "http://u:S3cretKV@[::1"] {
            let e = settings(&[("P8FS_KV_URL", url)]).unwrap_err().to_string();
            assert!(!e.contains("S3cretKV") && e.contains("P8FS_KV_URL"), "{url}: {e}");
        }
        let e = sql_config_for("oracle://u:S3cretKV@h").unwrap_err().to_string();
        assert!(!e.contains("S3cretKV"), "{e}");
    }
}
