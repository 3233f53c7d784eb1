//! Which backend this process tests, and how to reach it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use p8fs_sql_dialect::{Flavor, SqlExecutor};

/// A backend of the test matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite (and, with the KV layer, the embedded KV store): no server.
    Embedded,
    /// PostgreSQL with pgvector.
    Postgres,
    /// MariaDB 11.8 over the MySQL protocol.
    MariaDb,
    /// TiDB: the local tidb-server (`cargo xtask services up`), or a cluster given by
    /// `P8FS_TIDB_URL`.
    Tidb,
    /// The p8fs HTTP proxy on loopback (in front of the embedded store) and its client.
    Http,
    /// Native TiKV through tikv-client, against the in-process PD/TiKV stand-in
    /// (`p8fs-tikv-test-server`; no TiKV can run here), or a real cluster when
    /// `P8FS_TIKV_PD_ENDPOINTS` is set.
    Tikv,
}

impl Backend {
    /// Parses a backend name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "embedded" | "sqlite" => Backend::Embedded,
            "postgres" | "postgresql" => Backend::Postgres,
            "mariadb" => Backend::MariaDb,
            "tidb" => Backend::Tidb,
            "http" => Backend::Http,
            "tikv" => Backend::Tikv,
            other => bail!("unknown P8FS_TEST_BACKEND {other:?}; valid: embedded, postgres, mariadb, tidb, http, tikv"),
        })
    }

    /// The name used in test names and messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Postgres => "postgres",
            Backend::MariaDb => "mariadb",
            Backend::Tidb => "tidb",
            Backend::Http => "http",
            Backend::Tikv => "tikv",
        }
    }

    /// Whether the backend has a SQL engine (the SQL suites run on it).
    pub fn has_sql(self) -> bool {
        !matches!(self, Backend::Http | Backend::Tikv)
    }

    /// The flavor the server of this backend must report.
    pub fn expected_flavor(self) -> Flavor {
        match self {
            Backend::Embedded => Flavor::Sqlite,
            Backend::Postgres => Flavor::Postgres,
            Backend::MariaDb => Flavor::MariaDb,
            Backend::Tidb => Flavor::Tidb,
            Backend::Http | Backend::Tikv => Flavor::Sqlite,
        }
    }

    /// The variable holding this backend's URL, for those that need one.
    pub fn url_var(self) -> Option<&'static str> {
        match self {
            Backend::Embedded | Backend::Http | Backend::Tikv => None,
            Backend::Postgres => Some("P8FS_TEST_PG_URL"),
            Backend::MariaDb => Some("P8FS_TEST_MARIADB_URL"),
            Backend::Tidb => Some("P8FS_TIDB_URL"),
        }
    }
}

/// A KV backend a test backend offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvKind {
    /// The embedded redb store.
    Redb,
    /// The SQL table backend on the test backend's SQL engine.
    Sql,
    /// The HTTP client against the real proxy on loopback, in front of the embedded store.
    Http,
    /// `TikvStore` (tikv-client) against a fresh PD/TiKV stand-in with several regions, or
    /// the real cluster of `P8FS_TIKV_PD_ENDPOINTS`.
    Tikv,
    /// The HTTP client against the real proxy in front of [`KvKind::Tikv`].
    HttpTikv,
}

impl KvKind {
    /// The name used in test names.
    pub fn name(self) -> &'static str {
        match self {
            KvKind::Redb => "redb",
            KvKind::Sql => "sql",
            KvKind::Http => "http",
            KvKind::Tikv => "tikv",
            KvKind::HttpTikv => "http-tikv",
        }
    }
}

/// The test process's configuration, read once.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// The backend under test.
    pub backend: Backend,
    /// Whether an unreachable backend fails (`P8FS_TEST_REQUIRED=1`).
    pub required: bool,
    /// Soak duration per test (`P8FS_TEST_SOAK_SECS`), zero when off.
    pub soak: Duration,
    vars: BTreeMap<String, String>,
}

impl TestEnv {
    /// Reads the environment and the services file.
    pub fn load() -> Result<Self> {
        let backend = Backend::parse(&std::env::var("P8FS_TEST_BACKEND").unwrap_or_else(|_| "embedded".into()))?;
        let required = std::env::var("P8FS_TEST_REQUIRED").is_ok_and(|v| v == "1");
        let soak = std::env::var("P8FS_TEST_SOAK_SECS")
            .ok()
            .map(|s| s.parse::<u64>().context("P8FS_TEST_SOAK_SECS must be a number of seconds"))
            .transpose()?
            .map_or(Duration::ZERO, Duration::from_secs);
        let file = std::env::var_os("P8FS_SERVICES_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/p8fs-services/services.env"));
        let mut vars: BTreeMap<String, String> = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        // The process environment wins over the file.
        for (k, v) in std::env::vars() {
            if k.starts_with("P8FS_") {
                vars.insert(k, v);
            }
        }
        Ok(Self { backend, required, soak, vars })
    }

    /// The backend's URL, when configured.
    pub fn url(&self) -> Option<&str> {
        self.backend.url_var().and_then(|k| self.vars.get(k)).map(String::as_str)
    }

    /// Another `P8FS_*` setting from the environment or the services file.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// Why the backend cannot be tested, if it cannot: a URL it needs is missing.
    pub fn missing(&self) -> Option<String> {
        let var = self.backend.url_var()?;
        if self.url().is_some() {
            return None;
        }
        Some(match self.backend {
            Backend::Tidb => format!(
                "{var} is not set: run `cargo xtask services up` (builds and starts a tidb-server) or point it at a TiDB (mysql://user:pass@host:4000/db)"
            ),
            _ => format!("{var} is not set: run `cargo xtask services up` or `cargo xtask test`"),
        })
    }

    /// Connects a SQL provider to the backend.
    pub async fn sql(&self, scratch: &str) -> Result<Arc<dyn SqlExecutor>> {
        let timeout = Duration::from_secs(20);
        Ok(match self.backend {
            Backend::Embedded => {
                let path = std::env::temp_dir().join(format!("p8fs-test-{scratch}.sqlite"));
                Arc::new(p8fs_sqlite::SqliteProvider::open(p8fs_sqlite::SqliteConfig::File(path)).await?)
            }
            Backend::Postgres => {
                let mut cfg = p8fs_postgres::PgConfig::from_url(self.url().context("no URL")?)?;
                cfg.op_timeout = timeout;
                cfg.pg.connect_timeout(Duration::from_secs(5));
                Arc::new(p8fs_postgres::PgProvider::connect(cfg).await?)
            }
            Backend::MariaDb | Backend::Tidb => {
                let mut cfg = p8fs_tidb::MySqlConfig::from_url(self.url().context("no URL")?)?;
                cfg.op_timeout = timeout;
                Arc::new(p8fs_tidb::TidbProvider::connect(cfg).await?)
            }
            Backend::Http | Backend::Tikv => anyhow::bail!("the {} backend has no SQL engine", self.backend.name()),
        })
    }

    /// The KV backends this test backend offers.
    pub fn kv_kinds(&self) -> Vec<KvKind> {
        match self.backend {
            Backend::Embedded => vec![KvKind::Redb, KvKind::Sql],
            Backend::Postgres | Backend::MariaDb | Backend::Tidb => vec![KvKind::Sql],
            Backend::Http => vec![KvKind::Http],
            Backend::Tikv => vec![KvKind::Tikv, KvKind::HttpTikv],
        }
    }

    /// Opens a KV store of `kind` for the test named by `scratch`. For [`KvKind::Http`]
    /// this starts a proxy, which runs until `guards` is dropped.
    pub async fn kv(&self, kind: KvKind, scratch: &str, guards: &crate::harness::Guards) -> Result<p8fs_kv::Kv> {
        let backend: Arc<dyn p8fs_kv::KvBackend> = match kind {
            KvKind::Redb => Arc::new(self.embedded_store(scratch)?),
            KvKind::Sql => Arc::new(p8fs_kv::SqlStore::open(self.sql(scratch).await?).await?),
            KvKind::Tikv => self.tikv_store(scratch, guards).await?,
            KvKind::Http | KvKind::HttpTikv => {
                let inner: Arc<dyn p8fs_kv::KvBackend> = if kind == KvKind::Http {
                    Arc::new(self.embedded_store(scratch)?)
                } else {
                    self.tikv_store(scratch, guards).await?
                };
                let proxy = crate::proxy::RunningProxy::start(inner, p8fs_server::ServerConfig::default()).await?;
                let store = p8fs_kv::HttpStore::connect(p8fs_kv::HttpConfig::new(proxy.base_url())).await?;
                guards.keep(proxy);
                Arc::new(store)
            }
        };
        Ok(p8fs_kv::Kv::new(backend))
    }

    /// The store behind the proxy suite: the embedded store on the `http` backend, TiKV on
    /// the `tikv` backend.
    pub async fn proxy_backend(
        &self,
        scratch: &str,
        guards: &crate::harness::Guards,
    ) -> Result<Arc<dyn p8fs_kv::KvBackend>> {
        Ok(match self.backend {
            Backend::Tikv => self.tikv_store(scratch, guards).await?,
            _ => Arc::new(self.embedded_store(scratch)?),
        })
    }

    /// A `TikvStore`: on the real cluster of `P8FS_TIKV_PD_ENDPOINTS`, or on a fresh
    /// stand-in whose regions split inside this test's namespaces (so scans cross region
    /// boundaries and end in the last region).
    pub async fn tikv_store(
        &self,
        scratch: &str,
        guards: &crate::harness::Guards,
    ) -> Result<Arc<dyn p8fs_kv::KvBackend>> {
        let timeout = Duration::from_secs(10);
        let pd = match self.vars.get("P8FS_TIKV_PD_ENDPOINTS") {
            Some(list) => list.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
            None => {
                let splits = [
                    format!("{scratch}/item/00050"),
                    format!("{scratch}/item/00123"),
                    format!("{scratch}/p"),
                    format!("{scratch}1"),
                ];
                let cluster =
                    p8fs_tikv_test_server::TestCluster::start(splits.iter().map(|s| s.as_bytes().to_vec()).collect())
                        .await
                        .context("starting the PD/TiKV stand-in")?;
                let pd = vec![cluster.pd_endpoint()];
                guards.keep(cluster);
                pd
            }
        };
        let cfg =
            p8fs_kv::TikvConfig { pd_endpoints: pd, keyspace: self.vars.get("P8FS_TIKV_KEYSPACE").cloned(), timeout };
        Ok(Arc::new(p8fs_kv::TikvStore::connect(cfg).await?))
    }

    /// A fresh embedded store for the test named by `scratch`.
    pub fn embedded_store(&self, scratch: &str) -> Result<p8fs_kv::EmbeddedStore> {
        Ok(p8fs_kv::EmbeddedStore::open(std::env::temp_dir().join(format!("p8fs-test-{scratch}.redb")))?)
    }

    /// Removes what [`TestEnv::sql`] and [`TestEnv::kv`] created for `scratch` outside the
    /// databases.
    pub fn cleanup(&self, scratch: &str) {
        for ext in ["sqlite", "sqlite-wal", "sqlite-shm", "redb"] {
            std::fs::remove_file(std::env::temp_dir().join(format!("p8fs-test-{scratch}.{ext}"))).ok();
        }
    }
}
