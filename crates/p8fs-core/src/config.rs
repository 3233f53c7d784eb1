//! Which SQL provider to use: from the environment (the variables of the Python p8fs),
//! from a value built in code, or the embedded default.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use p8fs_sql_dialect::SqlExecutor;

use crate::{Error, Result};

/// Where the embedded default keeps its files when nothing else is configured.
pub const DEFAULT_DATA_DIR: &str = "./p8fs-data";

/// The SQL provider to use. Its `Debug` output hides passwords ([`p8fs_redact`]).
#[derive(Clone, PartialEq, Eq)]
pub enum SqlConfig {
    /// SQLite in one file: the embedded default.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// PostgreSQL with pgvector.
    Postgres {
        /// `postgres://user:password@host:port/database`, or a key=value connection string
        /// (`host=... password=...`).
        url: String,
    },
    /// TiDB (or MariaDB) over the MySQL protocol.
    Tidb {
        /// `mysql://user:password@host:port/database`.
        url: String,
    },
}

impl SqlConfig {
    /// The embedded default under `data_dir`.
    pub fn embedded(data_dir: &Path) -> Self {
        SqlConfig::Sqlite { path: data_dir.join("p8fs.sqlite") }
    }

    /// Reads the process environment; see [`SqlConfig::from_vars`].
    ///
    /// # Errors
    /// [`Error::Config`] for an unknown provider or a missing required setting.
    pub fn from_env() -> Result<Self> {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads the settings of the system p8fs replaces:
    ///
    /// * `P8FS_STORAGE_PROVIDER` = `sqlite` (default) | `postgresql` | `tidb`;
    /// * `sqlite`: `P8FS_SQLITE_PATH`, else `{P8FS_DATA_DIR or ./p8fs-data}/p8fs.sqlite`;
    /// * `postgresql`: `P8FS_PG_URL`;
    /// * `tidb`: `P8FS_TIDB_URL`, or `P8FS_TIDB_HOST` (required), `P8FS_TIDB_PORT`
    ///   (4000), `P8FS_TIDB_USER` (root), `P8FS_TIDB_PASSWORD` (empty),
    ///   `P8FS_TIDB_DATABASE` (p8fs).
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable and the valid values.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let provider = get("P8FS_STORAGE_PROVIDER").unwrap_or_else(|| "sqlite".to_owned());
        match provider.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(match get("P8FS_SQLITE_PATH") {
                Some(p) => SqlConfig::Sqlite { path: PathBuf::from(p) },
                None => {
                    SqlConfig::embedded(Path::new(&get("P8FS_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into())))
                }
            }),
            "postgresql" | "postgres" => get("P8FS_PG_URL")
                .map(|url| SqlConfig::Postgres { url })
                .ok_or_else(|| Error::Config("P8FS_STORAGE_PROVIDER=postgresql needs P8FS_PG_URL".into())),
            "tidb" => {
                if let Some(url) = get("P8FS_TIDB_URL") {
                    return Ok(SqlConfig::Tidb { url });
                }
                let host = get("P8FS_TIDB_HOST").ok_or_else(|| {
                    Error::Config("P8FS_STORAGE_PROVIDER=tidb needs P8FS_TIDB_URL or P8FS_TIDB_HOST".into())
                })?;
                let port = get("P8FS_TIDB_PORT").unwrap_or_else(|| "4000".into());
                port.parse::<u16>()
                    .map_err(|_| Error::Config(format!("P8FS_TIDB_PORT must be a port number, got {port:?}")))?;
                let user = get("P8FS_TIDB_USER").unwrap_or_else(|| "root".into());
                let password = get("P8FS_TIDB_PASSWORD").unwrap_or_default();
                let db = get("P8FS_TIDB_DATABASE").unwrap_or_else(|| "p8fs".into());
                let creds = if password.is_empty() {
                    percent_encode(&user)
                } else {
                    format!("{}:{}", percent_encode(&user), percent_encode(&password))
                };
                Ok(SqlConfig::Tidb { url: format!("mysql://{creds}@{host}:{port}/{}", percent_encode(&db)) })
            }
            other => Err(Error::Config(format!(
                "P8FS_STORAGE_PROVIDER={other:?} is not a provider; valid: sqlite, postgresql, tidb"
            ))),
        }
    }

    /// The provider a URL names: `postgres://` or `postgresql://` (PostgreSQL), `mysql://`
    /// (TiDB or MariaDB), `sqlite://PATH` (a SQLite file).
    ///
    /// # Errors
    /// [`Error::Config`] for any other URL (shown without its password).
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("mysql://") {
            Ok(SqlConfig::Tidb { url: url.to_owned() })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(SqlConfig::Postgres { url: url.to_owned() })
        } else if let Some(path) = url.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
            Ok(SqlConfig::Sqlite { path: PathBuf::from(path) })
        } else {
            Err(Error::Config(format!(
                "{} is not a SQL URL (mysql://, postgres://, sqlite://PATH)",
                p8fs_redact::connection(url)
            )))
        }
    }

    /// A short description without secrets, for logs and `p8fs doctor`: the URL or
    /// connection string with its password and secret parameters shown as `***`, or not
    /// at all when it does not parse.
    pub fn describe(&self) -> String {
        match self {
            SqlConfig::Sqlite { path } => format!("sqlite ({})", path.display()),
            SqlConfig::Postgres { url } => format!("postgresql ({})", p8fs_redact::connection(url)),
            SqlConfig::Tidb { url } => format!("tidb ({})", p8fs_redact::connection(url)),
        }
    }
}

impl std::fmt::Debug for SqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SqlConfig::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            SqlConfig::Postgres { url } => {
                f.debug_struct("Postgres").field("url", &p8fs_redact::connection(url)).finish()
            }
            SqlConfig::Tidb { url } => f.debug_struct("Tidb").field("url", &p8fs_redact::connection(url)).finish(),
        }
    }
}

/// Deadlines of the SQL servers' network calls (PostgreSQL and the MySQL protocol; SQLite
/// makes none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlTimeouts {
    /// Opening a connection, the TLS and authentication handshakes included
    /// (`P8FS_SQL_CONNECT_TIMEOUT_SECS`, default 10 s). A PostgreSQL URL's own
    /// `connect_timeout` wins over it.
    pub connect: Duration,
    /// One operation: a statement, or a transaction with all its statements, waiting for a
    /// pooled connection included (`P8FS_SQL_TIMEOUT_SECS`, default 30 s). Past it the call
    /// fails as retryable (`Unavailable`), the connection is closed and the server is asked
    /// to cancel the statement; the server's own statement timeout is set 5 s later as a
    /// backstop.
    pub operation: Duration,
}

impl Default for SqlTimeouts {
    fn default() -> Self {
        Self { connect: Duration::from_secs(10), operation: Duration::from_secs(30) }
    }
}

impl SqlTimeouts {
    /// Reads `P8FS_SQL_CONNECT_TIMEOUT_SECS` and `P8FS_SQL_TIMEOUT_SECS` (whole seconds,
    /// at least 1); unset ones keep their defaults.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable when it is not a positive whole number.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let secs = |var: &str, default: Duration| -> Result<Duration> {
            match get(var) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=86_400).contains(n))
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        Error::Config(format!("{var} must be a whole number of seconds from 1 to 86400, got {v:?}"))
                    }),
            }
        };
        let d = Self::default();
        Ok(Self {
            connect: secs("P8FS_SQL_CONNECT_TIMEOUT_SECS", d.connect)?,
            operation: secs("P8FS_SQL_TIMEOUT_SECS", d.operation)?,
        })
    }
}

/// Connects the configured provider with the default [`SqlTimeouts`].
///
/// # Errors
/// The provider's error when it cannot connect (the message names the backend).
pub async fn connect_sql(cfg: &SqlConfig) -> Result<Arc<dyn SqlExecutor>> {
    connect_sql_with(cfg, &SqlTimeouts::default()).await
}

/// Connects the configured provider with these deadlines.
///
/// # Errors
/// The provider's error when it cannot connect (the message names the backend).
// Built without any provider, every arm returns an error.
#[cfg_attr(not(any(feature = "sqlite", feature = "postgres", feature = "tidb")), allow(unreachable_code))]
#[cfg_attr(not(all(feature = "postgres", feature = "tidb")), allow(unused_variables))]
pub async fn connect_sql_with(cfg: &SqlConfig, timeouts: &SqlTimeouts) -> Result<Arc<dyn SqlExecutor>> {
    Ok(match cfg {
        #[cfg(feature = "sqlite")]
        SqlConfig::Sqlite { path } => {
            Arc::new(p8fs_sqlite::SqliteProvider::open(p8fs_sqlite::SqliteConfig::File(path.clone())).await?)
        }
        #[cfg(feature = "postgres")]
        SqlConfig::Postgres { url } => {
            let mut pg = p8fs_postgres::PgConfig::from_url(url)?;
            pg.op_timeout = timeouts.operation;
            if !pg.connect_timeout_from_url {
                pg.pg.connect_timeout(timeouts.connect);
            }
            Arc::new(p8fs_postgres::PgProvider::connect(pg).await?)
        }
        #[cfg(feature = "tidb")]
        SqlConfig::Tidb { url } => {
            let mut my = p8fs_tidb::MySqlConfig::from_url(url)?;
            my.op_timeout = timeouts.operation;
            my.connect_timeout = timeouts.connect;
            Arc::new(p8fs_tidb::TidbProvider::connect(my).await?)
        }
        #[cfg(not(feature = "sqlite"))]
        SqlConfig::Sqlite { .. } => return Err(not_built("SQLite", "sqlite")),
        #[cfg(not(feature = "postgres"))]
        SqlConfig::Postgres { .. } => return Err(not_built("PostgreSQL", "postgres")),
        #[cfg(not(feature = "tidb"))]
        SqlConfig::Tidb { .. } => return Err(not_built("TiDB/MariaDB", "tidb")),
    })
}

/// The error for a provider this build of `p8fs-core` was compiled without (a KV backend
/// it lacks is refused by `p8fs-kv`'s `KvConfig::open`).
#[cfg(not(all(feature = "sqlite", feature = "postgres", feature = "tidb")))]
fn not_built(what: &str, feature: &str) -> Error {
    Error::Config(format!("{what} is not built into this p8fs-core: enable its cargo feature `{feature}`"))
}

/// Percent-encodes everything but unreserved URL characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SqlConfig> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SqlConfig::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_embedded_sqlite() {
        assert_eq!(cfg(&[]).unwrap(), SqlConfig::Sqlite { path: PathBuf::from("./p8fs-data/p8fs.sqlite") });
        assert_eq!(
            cfg(&[("P8FS_DATA_DIR", "/d")]).unwrap(),
            SqlConfig::Sqlite { path: PathBuf::from("/d/p8fs.sqlite") }
        );
    }

    #[test]
    fn tidb_from_parts_encodes_credentials() {
        let c = cfg(&[
            ("P8FS_STORAGE_PROVIDER", "tidb"),
            ("P8FS_TIDB_HOST", "tidb.local"),
            ("P8FS_TIDB_PASSWORD", "p@ss:w/rd"),
        ])
        .unwrap();
        assert_eq!(c, SqlConfig::Tidb { url: "mysql://root:p%40ss%3Aw%2Frd@tidb.local:4000/p8fs".into() });
        assert!(!c.describe().contains("p%40ss"), "{}", c.describe());
    }

    #[test]
    fn describe_and_debug_hide_every_form_of_password() {
        for url in [
            "postgres://u:S3cretPW@127.0.0.1:1/db?password=S3cretPW",
            "host=127.0.0.1 port=1 password=S3cretPW",
            "host=127.0.0.1 password='S3cretPW and more'",
            "postgres://u:S3cretPW@[unparsable/db",
        ] {
            let c = cfg(&[("P8FS_STORAGE_PROVIDER", "postgresql"), ("P8FS_PG_URL", url)]).unwrap();
            for shown in [c.describe(), format!("{c:?}")] {
                assert!(!shown.contains("S3cretPW"), "{url}: {shown}");
            }
        }
        let c = cfg(&[("P8FS_STORAGE_PROVIDER", "tidb"), ("P8FS_TIDB_URL", "mysql://u:S3cretPW@h/db")]).unwrap();
        assert_eq!(c.describe(), "tidb (mysql://u:***@h/db)");
        assert!(!format!("{c:?}").contains("S3cretPW"));
    }

    #[test]
    fn a_wrong_provider_lists_the_valid_ones() {
        let e = cfg(&[("P8FS_STORAGE_PROVIDER", "oracle")]).unwrap_err().to_string();
        assert!(e.contains("valid: sqlite, postgresql, tidb"), "{e}");
        let e = cfg(&[("P8FS_STORAGE_PROVIDER", "postgresql")]).unwrap_err().to_string();
        assert!(e.contains("P8FS_PG_URL"), "{e}");
        let e = cfg(&[("P8FS_STORAGE_PROVIDER", "tidb"), ("P8FS_TIDB_HOST", "h"), ("P8FS_TIDB_PORT", "x")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("P8FS_TIDB_PORT"), "{e}");
    }
}
