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
/// | `auto:` | native TiKV when PD and a TiKV store it names answer, the proxy otherwise ([`KvConfig::Auto`]; the URL names neither: fill in its fields) |
///
/// Its `Debug` output hides the passwords and secret parameters of the URLs
/// ([`p8fs_redact`]).
#[derive(Clone, PartialEq, Eq)]
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
    /// Native TiKV if PD *and* a TiKV store it names answer, else the HTTP proxy; decided
    /// when opened ([`KvConfig::open`]) and again after the chosen side fails with
    /// `Unavailable` (see `AutoStore`).
    Auto {
        /// PD endpoints to try first (`host:port`); none: straight to the proxy.
        pd_endpoints: Vec<String>,
        /// The proxy's base URL, used when native TiKV does not answer.
        proxy_url: Option<String>,
    },
}

impl std::fmt::Debug for KvConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvConfig::Embedded { path } => f.debug_struct("Embedded").field("path", path).finish(),
            KvConfig::Tikv { pd_endpoints } => f.debug_struct("Tikv").field("pd_endpoints", pd_endpoints).finish(),
            KvConfig::Http { base_url } => {
                f.debug_struct("Http").field("base_url", &p8fs_redact::connection(base_url)).finish()
            }
            KvConfig::Sql { url } => f.debug_struct("Sql").field("url", &p8fs_redact::connection(url)).finish(),
            KvConfig::Auto { pd_endpoints, proxy_url } => f
                .debug_struct("Auto")
                .field("pd_endpoints", pd_endpoints)
                .field("proxy_url", &proxy_url.as_deref().map(p8fs_redact::connection))
                .finish(),
        }
    }
}

impl KvConfig {
    /// Parses a URL (see the table on [`KvConfig`]).
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] naming the valid schemes. The message never contains
    /// the URL, which may hold a password: at most its scheme.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |why: &str| KvError::InvalidArgument { message: format!("the KV URL (not shown): {why}") };
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
                let parsed = url::Url::parse(url).map_err(|_| bad("the proxy URL does not parse"))?;
                if parsed.query().is_some() || parsed.fragment().is_some() {
                    // The client appends its routes to the base URL: a query there would
                    // break them (and a token belongs in P8FS_KV_TOKEN, sent as a header).
                    return Err(bad("the proxy URL takes no query or fragment; give a token in P8FS_KV_TOKEN"));
                }
                Ok(KvConfig::Http { base_url: url.trim_end_matches('/').to_owned() })
            }
            "mysql" | "postgres" | "postgresql" | "sqlite" => Ok(KvConfig::Sql { url: url.to_owned() }),
            "auto" => {
                if !rest.trim_start_matches('/').is_empty() {
                    return Err(bad("auto takes no address (auto:): give its PD endpoints and proxy URL separately"));
                }
                Ok(KvConfig::Auto { pd_endpoints: Vec::new(), proxy_url: None })
            }
            other => {
                // A scheme is letters, digits, `+`, `-`, `.`: only then is it shown (text
                // before a `:` might be anything, a password included).
                let shown = !other.is_empty()
                    && other.len() <= 16
                    && other.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                let what = if shown { format!("unknown scheme {other:?}") } else { "no known scheme".to_owned() };
                Err(bad(&format!("{what}; valid: embedded, tikv, http, https, mysql, postgres, sqlite, auto")))
            }
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
        assert_eq!(KvConfig::parse("auto:").unwrap(), KvConfig::Auto { pd_endpoints: Vec::new(), proxy_url: None });
    }

    #[test]
    fn bad_urls_say_what_is_valid() {
        for bad in ["redis://x", "nothing", "tikv://", "tikv://nohostport", "embedded://", "http://", "auto://pd:2379"]
        {
            let e = KvConfig::parse(bad).unwrap_err().to_string();
            assert!(e.contains("valid") || e.contains("scheme embedded") || e.contains("needs"), "{bad}: {e}");
        }
        assert!(KvConfig::parse("redis://x").unwrap_err().to_string().contains("unknown scheme \"redis\""));
    }

    #[test]
    fn parse_errors_never_echo_the_url() {
        for bad in [
            "redis://u:S3cretKV@h",
            "S3cretKV",
            "p8fs S3cretKV:x",
            "http://u:S3cretKV@[::1",
            "https://h/?token=S3cretKV",
            "http://h#S3cretKV",
            "tikv://S3cretKV",
        ] {
            let e = KvConfig::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("S3cretKV"), "{bad}: {e}");
        }
    }

    #[test]
    fn debug_hides_passwords_and_tokens() {
        for url in ["http://u:S3cretKV@proxy:8080", "postgres://u:S3cretKV@h/db?password=S3cretKV"] {
            let c = KvConfig::parse(url).unwrap();
            let shown = format!("{c:?}");
            assert!(!shown.contains("S3cretKV") && shown.contains("u:***@"), "{shown}");
        }
        let auto = KvConfig::Auto {
            pd_endpoints: vec!["pd:2379".into()],
            proxy_url: Some("https://u:S3cretKV@proxy:8080".into()),
        };
        let shown = format!("{auto:?}");
        assert!(!shown.contains("S3cretKV") && shown.contains("u:***@") && shown.contains("pd:2379"), "{shown}");
    }
}
