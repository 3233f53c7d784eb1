//! Which KV backend to use, parsed once from a URL.

use std::path::PathBuf;

use crate::{KvError, Result};

/// A KV backend, as configured.
///
/// | URL | backend |
/// |---|---|
/// | `embedded:///abs/path/kv.redb`, `embedded://rel/path` | [`crate::EmbeddedStore`] |
/// | `tikv://pd1:2379,pd2:2379` | TiKV through its PD endpoints (native gRPC) |
/// | `http://proxy:8080`, `https://...` | the p8fs HTTP proxy |
/// | `mysql://...`, `postgres://...`, `postgresql://...`, `sqlite:///path` | a table in that SQL database |
/// | `auto:` | native TiKV when `P8FS_TIKV_PD_ENDPOINTS` answer, the proxy (`P8FS_KV_PROXY_URL`) otherwise |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvConfig {
    /// The embedded store in this file.
    Embedded {
        /// The redb file.
        path: PathBuf,
    },
    /// TiKV, reached through these PD endpoints (`host:port`).
    Tikv {
        /// PD endpoints.
        pd_endpoints: Vec<String>,
    },
    /// The HTTP proxy at this base URL.
    Http {
        /// Base URL, e.g. `http://127.0.0.1:8080`.
        base_url: String,
    },
    /// A table in a SQL database; the URL is the provider's.
    Sql {
        /// `mysql://`, `postgres://` or `sqlite://` URL.
        url: String,
    },
    /// Native TiKV if reachable, else the proxy.
    Auto,
}

impl KvConfig {
    /// Parses a URL (see the table on [`KvConfig`]).
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] naming the valid schemes.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| KvError::InvalidArgument { message: format!("KV URL {url:?}: {why}") };
        let (scheme, rest) = url.split_once(':').ok_or_else(|| {
            bad("expected scheme:... with scheme embedded, tikv, http, https, mysql, postgres, sqlite or auto")
        })?;
        match scheme {
            "embedded" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(bad("embedded needs a path, e.g. embedded:///var/lib/p8fs/kv.redb"));
                }
                Ok(KvConfig::Embedded { path: PathBuf::from(path) })
            }
            "tikv" => {
                let list = rest.strip_prefix("//").unwrap_or(rest);
                let pd: Vec<String> =
                    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
                if pd.is_empty() || pd.iter().any(|e| !e.contains(':')) {
                    return Err(bad("tikv needs PD endpoints as host:port, e.g. tikv://pd1:2379,pd2:2379"));
                }
                Ok(KvConfig::Tikv { pd_endpoints: pd })
            }
            "http" | "https" => {
                if rest.trim_start_matches('/').is_empty() {
                    return Err(bad("the proxy URL needs a host"));
                }
                Ok(KvConfig::Http { base_url: url.trim_end_matches('/').to_owned() })
            }
            "mysql" | "postgres" | "postgresql" | "sqlite" => Ok(KvConfig::Sql { url: url.to_owned() }),
            "auto" => Ok(KvConfig::Auto),
            other => Err(bad(&format!(
                "unknown scheme {other:?}; valid: embedded, tikv, http, https, mysql, postgres, sqlite, auto"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        assert_eq!(KvConfig::parse("embedded:///d/kv.redb").unwrap(), KvConfig::Embedded { path: "/d/kv.redb".into() });
        assert_eq!(
            KvConfig::parse("tikv://pd1:2379, pd2:2379").unwrap(),
            KvConfig::Tikv { pd_endpoints: vec!["pd1:2379".into(), "pd2:2379".into()] }
        );
        assert_eq!(KvConfig::parse("http://p:8080/").unwrap(), KvConfig::Http { base_url: "http://p:8080".into() });
        assert!(matches!(KvConfig::parse("postgres://u@h/db").unwrap(), KvConfig::Sql { .. }));
        assert_eq!(KvConfig::parse("auto:").unwrap(), KvConfig::Auto);
    }

    #[test]
    fn bad_urls_say_what_is_valid() {
        for bad in ["redis://x", "nothing", "tikv://", "tikv://nohostport", "embedded://", "http://"] {
            let e = KvConfig::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad.split(':').next().unwrap_or("")), "{bad}: {e}");
        }
        assert!(KvConfig::parse("redis://x").unwrap_err().to_string().contains("valid: embedded"));
    }
}
