//! Which KV backend to use, and opening it.

use std::path::Path;
use std::sync::Arc;

use p8fs_kv::{KvBackend, KvConfig, KvOptions, SqlStore};

use crate::{Error, Result, SqlConfig, connect_sql};

/// The KV settings, parsed once. Its `Debug` output hides the token and the URLs'
/// passwords ([`p8fs_redact`]).
#[derive(Clone, PartialEq, Eq)]
pub struct KvSettings {
    /// The backend. For `auto:` its PD endpoints and proxy URL come from
    /// `P8FS_TIKV_PD_ENDPOINTS` (comma separated) and `P8FS_KV_PROXY_URL`.
    pub backend: KvConfig,
    /// Bearer token for the HTTP proxy (`P8FS_KV_TOKEN`).
    pub token: Option<String>,
    /// TiKV keyspace (`P8FS_TIKV_KEYSPACE`; needed on an API v2 cluster).
    pub tikv_keyspace: Option<String>,
    /// The CA file (PEM) an `https://` proxy's certificate must chain to instead of the Web
    /// PKI roots (`P8FS_KV_TLS_CA`).
    pub tls_ca: Option<std::path::PathBuf>,
}

impl KvSettings {
    /// The embedded default under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        Self {
            backend: KvConfig::Embedded { path: data_dir.join("kv.redb") },
            token: None,
            tikv_keyspace: None,
            tls_ca: None,
        }
    }

    /// Reads `P8FS_KV_URL` (see [`KvConfig::parse`]; default: the embedded store under
    /// `data_dir`), `P8FS_KV_TOKEN`, `P8FS_TIKV_KEYSPACE`, `P8FS_KV_TLS_CA`, and for `auto:`
    /// `P8FS_TIKV_PD_ENDPOINTS` and `P8FS_KV_PROXY_URL`.
    ///
    /// # Errors
    /// [`Error::Config`] for a URL that does not parse (the message does not show it).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Self> {
        let mut backend = match get("P8FS_KV_URL") {
            Some(url) => KvConfig::parse(&url).map_err(|e| Error::Config(format!("P8FS_KV_URL: {e}")))?,
            None => Self::embedded(data_dir).backend,
        };
        if let KvConfig::Auto { pd_endpoints, proxy_url } = &mut backend {
            *pd_endpoints = get("P8FS_TIKV_PD_ENDPOINTS")
                .map(|l| l.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
                .unwrap_or_default();
            *proxy_url = get("P8FS_KV_PROXY_URL");
        }
        Ok(Self {
            backend,
            token: get("P8FS_KV_TOKEN"),
            tikv_keyspace: get("P8FS_TIKV_KEYSPACE"),
            tls_ca: get("P8FS_KV_TLS_CA").map(std::path::PathBuf::from),
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
            KvConfig::Auto { pd_endpoints, proxy_url } => format!(
                "auto (pd {}, proxy {})",
                if pd_endpoints.is_empty() { "none".to_owned() } else { pd_endpoints.join(",") },
                proxy_url.as_deref().map_or_else(|| "none".to_owned(), p8fs_redact::connection)
            ),
        }
    }

    /// What [`KvConfig::open`] needs besides the URL.
    fn options(&self) -> KvOptions {
        KvOptions {
            token: self.token.clone(),
            tikv_keyspace: self.tikv_keyspace.clone(),
            tls_ca: self.tls_ca.clone(),
            ..KvOptions::default()
        }
    }
}

impl std::fmt::Debug for KvSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvSettings")
            .field("backend", &self.backend)
            .field("token", &p8fs_redact::option(&self.token))
            .field("tikv_keyspace", &self.tikv_keyspace)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

/// Opens the configured KV backend: a `sql` store on the SQL provider its URL names, any
/// other through [`KvConfig::open`] (which makes the `auto:` decision).
///
/// # Errors
/// [`Error::Config`] for a backend this build cannot open; the backend's error when it
/// cannot be reached.
pub async fn connect_kv(settings: &KvSettings) -> Result<Arc<dyn KvBackend>> {
    Ok(match &settings.backend {
        KvConfig::Sql { url } => {
            let sql = sql_config_for(url)?;
            Arc::new(SqlStore::open(connect_sql(&sql).await?).await?)
        }
        other => other.open(&settings.options()).await?,
    })
}

/// The SQL provider a `sql` KV URL names.
fn sql_config_for(url: &str) -> Result<SqlConfig> {
    SqlConfig::from_url(url)
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
        let s = settings(&[
            ("P8FS_KV_URL", "auto:"),
            ("P8FS_TIKV_PD_ENDPOINTS", "pd1:2379, pd2:2379"),
            ("P8FS_KV_PROXY_URL", "https://p:S3cretKV@proxy"),
        ])
        .unwrap();
        assert_eq!(
            s.backend,
            KvConfig::Auto {
                pd_endpoints: vec!["pd1:2379".into(), "pd2:2379".into()],
                proxy_url: Some("https://p:S3cretKV@proxy".into())
            }
        );
        for shown in [s.describe(), format!("{s:?}")] {
            assert!(!shown.contains("S3cretKV") && shown.contains("pd1:2379"), "{shown}");
        }
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
