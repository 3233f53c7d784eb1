//! Which KV backend to use, and opening it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use p8fs_kv::{EmbeddedStore, HttpConfig, HttpStore, KvBackend, KvConfig, SqlStore};

use crate::{Error, Result, SqlConfig, connect_sql};

/// The KV settings, parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSettings {
    /// The backend.
    pub backend: KvConfig,
    /// Bearer token for the HTTP proxy (`P8FS_KV_TOKEN`).
    pub token: Option<String>,
}

impl KvSettings {
    /// The embedded default under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        Self { backend: KvConfig::Embedded { path: data_dir.join("kv.redb") }, token: None }
    }

    /// Reads `P8FS_KV_URL` (see [`KvConfig::parse`]; default: the embedded store under
    /// `data_dir`) and `P8FS_KV_TOKEN`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Self> {
        let backend = match get("P8FS_KV_URL") {
            Some(url) => KvConfig::parse(&url).map_err(|e| Error::Config(format!("P8FS_KV_URL: {e}")))?,
            None => return Ok(Self { token: get("P8FS_KV_TOKEN"), ..Self::embedded(data_dir) }),
        };
        Ok(Self { backend, token: get("P8FS_KV_TOKEN") })
    }

    /// A description without secrets.
    pub fn describe(&self) -> String {
        match &self.backend {
            KvConfig::Embedded { path } => format!("embedded ({})", path.display()),
            KvConfig::Tikv { pd_endpoints } => format!("tikv ({})", pd_endpoints.join(",")),
            KvConfig::Http { base_url } => format!("http ({base_url})"),
            KvConfig::Sql { url } => format!("sql ({})", SqlConfig::Tidb { url: url.clone() }.describe_url()),
            KvConfig::Auto => "auto".into(),
        }
    }
}

/// Opens the configured KV backend.
///
/// # Errors
/// [`Error::Config`] for a backend this build cannot open; the backend's error when it
/// cannot be reached.
pub async fn connect_kv(settings: &KvSettings) -> Result<Arc<dyn KvBackend>> {
    Ok(match &settings.backend {
        KvConfig::Embedded { path } => Arc::new(EmbeddedStore::open(path)?),
        KvConfig::Http { base_url } => {
            let mut cfg = HttpConfig::new(base_url.clone());
            cfg.token = settings.token.clone();
            Arc::new(HttpStore::connect(cfg).await?)
        }
        KvConfig::Sql { url } => {
            let sql = sql_config_for(url)?;
            Arc::new(SqlStore::open(connect_sql(&sql).await?).await?)
        }
        KvConfig::Tikv { .. } => {
            return Err(Error::Config(
                "the tikv KV backend is not built into this p8fs yet; use the HTTP proxy (http://...) in front of TiKV"
                    .into(),
            ));
        }
        KvConfig::Auto => {
            let proxy = std::env::var("P8FS_KV_PROXY_URL").ok().filter(|s| !s.is_empty()).ok_or_else(|| {
                Error::Config(
                    "P8FS_KV_URL=auto: no native TiKV client in this build and P8FS_KV_PROXY_URL is not set".into(),
                )
            })?;
            tracing::info!(proxy = %proxy, "KV auto mode: using the HTTP proxy (no native TiKV client in this build)");
            let mut cfg = HttpConfig::new(proxy);
            cfg.token = settings.token.clone();
            cfg.timeout = Duration::from_secs(30);
            Arc::new(HttpStore::connect(cfg).await?)
        }
    })
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
        Err(Error::Config(format!("{url:?} is not a SQL URL (mysql://, postgres://, sqlite://)")))
    }
}
