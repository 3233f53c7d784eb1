//! [`PgProvider`]: one pool, statements in, rows out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use p8fs_entity::deadline::TimerAnchor;
use p8fs_entity::lease::Lease;
use p8fs_entity::retry::retry_conflict;
use p8fs_sql_dialect::{Error, ErrorKind, Flavor, Result, Row, RowCheck, ServerInfo, SqlExecutor, Statement};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PgConfig, PgTls};
use crate::{binder, error, statements};

/// A PostgreSQL database (with the pgvector extension for vector columns).
#[derive(Clone)]
pub struct PgProvider {
    pool: Pool,
    /// For cancel requests (the same TLS settings as the pool's connections).
    tls: MakeRustlsConnect,
    op_timeout: Duration,
    max_cached_statements: usize,
    key: String,
    /// Keeps statement deadlines from waking a parked thread (see `p8fs_sql_dialect::deadline`).
    _anchor: Option<Arc<TimerAnchor>>,
}

impl std::fmt::Debug for PgProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgProvider")
            .field("pool", &self.pool)
            .field("op_timeout", &self.op_timeout)
            .field("max_cached_statements", &self.max_cached_statements)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl PgProvider {
    /// A connection from the pool for one operation. Abandoned (see [`Lease`]), it leaves
    /// the pool and is closed, and the server is sent a cancel request for its statement.
    async fn lease(&self) -> Result<Lease<Object, impl FnOnce(Object) + use<>>> {
        let conn = self.pool.get().await.map_err(error::map_pool)?;
        let tls = self.tls.clone();
        Ok(Lease::new(conn, move |conn: Object| {
            let cancel = conn.cancel_token();
            // Out of the pool; dropping the client closes the connection.
            drop(Object::take(conn));
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    // Best effort: without it the server's statement_timeout ends it.
                    let _ = tokio::time::timeout(Duration::from_secs(10), cancel.cancel_query(tls)).await;
                });
            }
        }))
    }

    /// Builds the pool and checks that the server answers.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] or [`ErrorKind::Timeout`] when the server cannot be
    /// reached or refuses the credentials.
    pub async fn connect(mut cfg: PgConfig) -> Result<Self> {
        // The server cancels a statement a little after the client would have given up.
        let server_ms = cfg.op_timeout.as_millis() + 5000;
        let mut opts = cfg.pg.get_options().unwrap_or("").to_owned();
        if !opts.contains("TimeZone=UTC") {
            opts.push_str(" -c TimeZone=UTC");
        }
        cfg.pg.options(format!("{} -c statement_timeout={server_ms}", opts.trim_start()));
        let host = match cfg.pg.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".into(),
        };
        let key = format!(
            "postgres://{}@{host}:{}/{}",
            cfg.pg.get_user().unwrap_or(""),
            cfg.pg.get_ports().first().copied().unwrap_or(5432),
            cfg.pg.get_dbname().unwrap_or("")
        );
        // TLS as the URL asks (`sslmode=require` for managed PostgreSQL); the default
        // `prefer` falls back to plain text when the server offers no TLS.
        let tls = tls_connector(&cfg.tls)?;
        let mgr = Manager::from_config(cfg.pg, tls.clone(), ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr).max_size(cfg.max_connections.max(1)).build().map_err(|e| {
            Error::invalid_input("cannot build the PostgreSQL pool").with_backend("postgres").with_source(e)
        })?;
        let this = Self {
            pool,
            tls,
            op_timeout: cfg.op_timeout,
            max_cached_statements: cfg.max_cached_statements,
            key,
            _anchor: TimerAnchor::start(),
        };
        this.server_info().await?;
        Ok(this)
    }

    /// The connection pool, for callers that need the driver directly.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn timed<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.op_timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::new(ErrorKind::Timeout, format!("{what} did not finish within {:?}", self.op_timeout))
                    .with_backend("postgres"))
            }
        }
    }
}

/// A rustls connector (ring as the crypto provider) that verifies certificates against the
/// Web PKI roots or the CAs of `tls.root_cert`, or accepts any with `tls.verify == false`
/// (`sslverify=false`; see [`PgTls`]).
fn tls_connector(tls: &PgTls) -> Result<MakeRustlsConnect> {
    let setup = |e: rustls::Error| {
        Error::new(ErrorKind::InvalidInput, "TLS setup failed").with_backend("postgres").with_source(e)
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(setup)?;
    let config = if tls.verify {
        let roots = match &tls.root_cert {
            None => rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() },
            Some(path) => crate::tls::root_store(path)?,
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::tls::Unverified::new(provider)))
            .with_no_client_auth()
    };
    Ok(MakeRustlsConnect::new(config))
}

impl PgProvider {
    /// One attempt of [`SqlExecutor::execute_in_transaction`].
    async fn execute_in_transaction_once(&self, stmts: &[Statement]) -> Result<Vec<u64>> {
        self.timed("transaction", async {
            let mut lease = self.lease().await?;
            let result = async {
                let client = &mut *lease;
                let tx = client.transaction().await.map_err(error::map)?;
                let mut counts = Vec::with_capacity(stmts.len());
                for stmt in stmts {
                    let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                    statements::make_room(&tx.statement_cache, self.max_cached_statements);
                    let prepared = tx.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                    // An error drops `tx`, which rolls back.
                    counts.push(tx.execute(&prepared, &binder::refs(&params)).await.map_err(error::map)?);
                }
                tx.commit().await.map_err(error::map)?;
                Ok(counts)
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    /// One attempt of [`SqlExecutor::query_in_transaction`]; `refused` is set when `check`
    /// refused the rows.
    async fn query_in_transaction_once(
        &self,
        stmts: &[Statement],
        check: Option<&RowCheck>,
        refused: &mut bool,
    ) -> Result<Vec<Vec<Row>>> {
        self.timed("transaction", async {
            let mut lease = self.lease().await?;
            let result = async {
                let client = &mut *lease;
                let tx = client.transaction().await.map_err(error::map)?;
                let mut out = Vec::with_capacity(stmts.len());
                for (i, stmt) in stmts.iter().enumerate() {
                    let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                    statements::make_room(&tx.statement_cache, self.max_cached_statements);
                    let prepared = tx.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                    // An error drops `tx`, which rolls back.
                    let rows = tx.query(&prepared, &binder::refs(&params)).await.map_err(error::map)?;
                    let decoded = rows
                        .iter()
                        .map(|r| binder::decode_row(r).map_err(|e| e.with_backend("postgres")))
                        .collect::<Result<Vec<_>>>()?;
                    if let Some(check) = check
                        && let Err(e) = check(i, &decoded)
                    {
                        *refused = true;
                        return Err(e);
                    }
                    out.push(decoded);
                }
                tx.commit().await.map_err(error::map)?;
                Ok(out)
            }
            .await;
            lease.finish(result)
        })
        .await
    }
}

#[async_trait]
impl SqlExecutor for PgProvider {
    fn dialect(&self) -> &'static dyn p8fs_sql_dialect::Dialect {
        &p8fs_sql_dialect::Postgres
    }

    fn cache_key(&self) -> String {
        self.key.clone()
    }

    async fn server_info(&self) -> Result<ServerInfo> {
        let rows = self.query(&Statement::raw("SELECT version()")).await?;
        let text = rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .ok_or_else(|| Error::decode("SELECT version() returned no row").with_backend("postgres"))?
            .into_text()?;
        Ok(ServerInfo::parse(Flavor::Postgres, &text))
    }

    async fn execute(&self, stmt: &Statement) -> Result<u64> {
        self.timed("statement", async {
            let mut lease = self.lease().await?;
            let result = async {
                let client = &mut *lease;
                if stmt.values.is_empty() {
                    // The extended protocol (an unnamed, uncached statement), never the simple
                    // one: it runs exactly one statement, so no text can stack another.
                    return client.execute(stmt.sql.as_str(), &[]).await.map_err(error::map);
                }
                let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                statements::make_room(&client.statement_cache, self.max_cached_statements);
                let prepared = client.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                client.execute(&prepared, &binder::refs(&params)).await.map_err(error::map)
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    async fn execute_in_transaction(&self, stmts: &[Statement]) -> Result<Vec<u64>> {
        let mut attempt = 0u32;
        loop {
            match self.execute_in_transaction_once(stmts).await {
                Err(e) if retry_conflict(&e, &mut attempt, "postgres").await => {}
                other => return other,
            }
        }
    }

    async fn query_in_transaction(&self, stmts: &[Statement], check: Option<Arc<RowCheck>>) -> Result<Vec<Vec<Row>>> {
        let mut attempt = 0u32;
        loop {
            // The caller's check refusing the rows is its answer, not a conflict to retry:
            // the same statements would meet the same rows.
            let mut refused = false;
            match self.query_in_transaction_once(stmts, check.as_deref(), &mut refused).await {
                Err(e) if !refused && retry_conflict(&e, &mut attempt, "postgres").await => {}
                other => return other,
            }
        }
    }

    async fn query_with_setup(&self, setup: &[Statement], stmt: &Statement) -> Result<Vec<Row>> {
        self.timed("query", async {
            let mut lease = self.lease().await?;
            let result = async {
                let client = &mut *lease;
                let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                statements::make_room(&client.statement_cache, self.max_cached_statements);
                let prepared = client.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                let tx = client.transaction().await.map_err(error::map)?;
                // The settings (one simple-query batch) and the query go out together: the
                // driver pipelines both, so they cost one round trip, not one each.
                let setup_sql = setup.iter().map(|s| s.sql.as_str()).collect::<Vec<_>>().join("; ");
                let refs = binder::refs(&params);
                let (_, rows) = tokio::try_join!(
                    async { if setup_sql.is_empty() { Ok(()) } else { tx.batch_execute(&setup_sql).await } },
                    tx.query(&prepared, &refs),
                )
                .map_err(error::map)?;
                tx.commit().await.map_err(error::map)?;
                rows.iter().map(|r| binder::decode_row(r).map_err(|e| e.with_backend("postgres"))).collect()
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    async fn query(&self, stmt: &Statement) -> Result<Vec<Row>> {
        self.timed("query", async {
            let mut lease = self.lease().await?;
            let result = async {
                let client = &mut *lease;
                let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                statements::make_room(&client.statement_cache, self.max_cached_statements);
                let prepared = client.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                let rows = client.query(&prepared, &binder::refs(&params)).await.map_err(error::map)?;
                rows.iter().map(|r| binder::decode_row(r).map_err(|e| e.with_backend("postgres"))).collect()
            }
            .await;
            lease.finish(result)
        })
        .await
    }
}
