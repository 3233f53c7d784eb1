//! [`PgProvider`]: one pool, statements in, rows out.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use p8fs_sql_dialect::{DialectKind, Error, ErrorKind, Flavor, Result, Row, ServerInfo, SqlExecutor, Statement};
use tokio_postgres::NoTls;

use crate::config::PgConfig;
use crate::{binder, error};

/// A PostgreSQL database (with the pgvector extension for vector columns).
#[derive(Debug, Clone)]
pub struct PgProvider {
    pool: Pool,
    op_timeout: Duration,
    key: String,
}

impl PgProvider {
    /// Builds the pool and checks that the server answers.
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] or [`ErrorKind::Timeout`] when the server cannot be
    /// reached or refuses the credentials.
    pub async fn connect(cfg: PgConfig) -> Result<Self> {
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
        let mgr = Manager::from_config(cfg.pg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr).max_size(cfg.max_connections.max(1)).build().map_err(|e| {
            Error::invalid_input("cannot build the PostgreSQL pool").with_backend("postgres").with_source(e)
        })?;
        let this = Self { pool, op_timeout: cfg.op_timeout, key };
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

#[async_trait]
impl SqlExecutor for PgProvider {
    fn dialect(&self) -> DialectKind {
        DialectKind::Postgres
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
            let client = self.pool.get().await.map_err(error::map_pool)?;
            if stmt.values.is_empty() {
                // Simple protocol: DDL and other parameterless statements need no prepare.
                client.batch_execute(&stmt.sql).await.map_err(error::map)?;
                return Ok(0);
            }
            let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
            let prepared = client.prepare_cached(&stmt.sql).await.map_err(error::map)?;
            client.execute(&prepared, &binder::refs(&params)).await.map_err(error::map)
        })
        .await
    }

    async fn execute_in_transaction(&self, stmts: &[Statement]) -> Result<Vec<u64>> {
        self.timed("transaction", async {
            let mut client = self.pool.get().await.map_err(error::map_pool)?;
            let tx = client.transaction().await.map_err(error::map)?;
            let mut counts = Vec::with_capacity(stmts.len());
            for stmt in stmts {
                let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
                let prepared = tx.prepare_cached(&stmt.sql).await.map_err(error::map)?;
                // An error drops `tx`, which rolls back.
                counts.push(tx.execute(&prepared, &binder::refs(&params)).await.map_err(error::map)?);
            }
            tx.commit().await.map_err(error::map)?;
            Ok(counts)
        })
        .await
    }

    async fn query(&self, stmt: &Statement) -> Result<Vec<Row>> {
        self.timed("query", async {
            let client = self.pool.get().await.map_err(error::map_pool)?;
            let params = binder::bind(&stmt.values).map_err(|e| e.with_backend("postgres"))?;
            let prepared = client.prepare_cached(&stmt.sql).await.map_err(error::map)?;
            let rows = client.query(&prepared, &binder::refs(&params)).await.map_err(error::map)?;
            rows.iter().map(|r| binder::decode_row(r).map_err(|e| e.with_backend("postgres"))).collect()
        })
        .await
    }
}
