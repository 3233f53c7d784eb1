//! [`TidbProvider`]: one pool, one detected flavor, statements in, rows out.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Params, Pool, PoolConstraints, PoolOpts, TxOpts};
use p8fs_entity::deadline::TimerAnchor;
use p8fs_entity::lease::Lease;
use p8fs_entity::retry::retry_conflict;
use p8fs_sql_dialect::{
    DialectKind, Error, ErrorKind, Flavor, Result, Row, RowCheck, ServerInfo, SqlExecutor, Statement,
};

use crate::config::{MySqlConfig, MySqlFlavorChoice, redact};
use crate::{binder, error};

/// How long an idle pooled connection is kept before it is closed (the pool then shrinks
/// back to no idle connections; checked every 30 s by mysql_async).
const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(60);

/// A TiDB or MariaDB database reached over the MySQL protocol.
///
/// Connections run with the session time zone set to UTC, so timestamps mean the same on
/// every engine.
pub struct TidbProvider {
    pool: Pool,
    /// The pool's options, for the connection that sends `KILL QUERY` (see `lease`).
    opts: Opts,
    info: ServerInfo,
    dialect: DialectKind,
    backend: &'static str,
    op_timeout: Duration,
    key: String,
    /// Keeps statement deadlines from waking a parked thread (see `p8fs_sql_dialect::deadline`).
    _anchor: Option<Arc<TimerAnchor>>,
}

impl std::fmt::Debug for TidbProvider {
    /// Without the pool, whose options hold the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TidbProvider")
            .field("key", &self.key)
            .field("info", &self.info)
            .field("dialect", &self.dialect)
            .field("backend", &self.backend)
            .field("op_timeout", &self.op_timeout)
            .finish_non_exhaustive()
    }
}

impl TidbProvider {
    /// A connection from the pool for one operation. Abandoned (see [`Lease`]), the server
    /// is asked to end its statement (`KILL QUERY`, from a connection of its own) and then
    /// it is closed, never returned to the pool with the statement running. (The pool would
    /// drain the abandoned answer before reusing it, but the server would run the statement
    /// to its end.)
    async fn lease(&self) -> Result<Lease<Conn, impl FnOnce(Conn) + use<>>> {
        let conn = self.pool.get_conn().await.map_err(|e| error::map(e, self.backend))?;
        let opts = self.opts.clone();
        Ok(Lease::new(conn, move |conn: Conn| {
            let Ok(rt) = tokio::runtime::Handle::try_current() else { return };
            rt.spawn(async move {
                // The id is the server's number for the connection, not input: formatted,
                // as KILL takes no placeholders. Sent on a connection outside the pool,
                // which may be full of callers waiting for this one.
                let kill = format!("KILL QUERY {}", conn.id());
                let _ = tokio::time::timeout(Duration::from_secs(10), async {
                    let mut other = Conn::new(opts).await?;
                    other.query_drop(kill).await?;
                    other.disconnect().await
                })
                .await;
                // Closed, not returned: whatever it was doing is over for this pool.
                let _ = tokio::time::timeout(Duration::from_secs(10), conn.disconnect()).await;
            });
        }))
    }

    /// Connects, asks the server for its version, and picks the dialect from the flavor
    /// (or from [`MySqlConfig::flavor`] when forced).
    ///
    /// # Errors
    /// [`ErrorKind::Unavailable`] or [`ErrorKind::Timeout`] when the server cannot be
    /// reached; [`ErrorKind::Unsupported`] for servers without vector support (MySQL,
    /// MariaDB before 11.7).
    pub async fn connect(cfg: MySqlConfig) -> Result<Self> {
        let mut opts = Opts::from_url(&cfg.url).map_err(|e| {
            Error::invalid_input(format!("bad MySQL URL {}", redact(&cfg.url))).with_backend("mysql").with_source(e)
        })?;
        if let Some(ca) = &cfg.ssl_ca {
            // mysql_async reads the file at each connect and names no path when it fails.
            std::fs::File::open(ca).map_err(|e| {
                Error::invalid_input(format!("ssl_ca {}: {e}", ca.display())).with_backend("mysql").with_source(e)
            })?;
            // The URL's own TLS choices (`verify_ca`, `verify_identity`) are kept.
            let ssl = opts.ssl_opts().cloned().unwrap_or_default();
            let ssl = ssl.with_root_certs(vec![ca.clone().into()]).with_disable_built_in_roots(true);
            opts = OptsBuilder::from_opts(opts).ssl_opts(Some(ssl)).into();
        }
        // mysql_async's `prefer_socket` (on unless the URL turns it off): after connecting
        // over TCP to a server on this host it asks for `@@socket` and logs in again over
        // that socket, as `user@localhost`, another account than the URL's `user@127.0.0.1`
        // (other grants, another password) and outside the TLS settings; where no such
        // account exists, every new connection leaves an `Access denied` in the server's
        // log and pays a failed login. p8fs connects as the URL says: the socket only when
        // the URL asks for it (`prefer_socket=true` or `socket=`).
        if p8fs_sql_dialect::conn_url::take_params(&cfg.url, &["prefer_socket"]).1.is_empty() {
            opts = OptsBuilder::from_opts(opts).prefer_socket(false).into();
        }
        let constraints = PoolConstraints::new(0, cfg.max_connections.max(1))
            .ok_or_else(|| Error::invalid_input("max_connections must be at least 1").with_backend("mysql"))?;
        // One connection first, to learn the flavor: the session settings differ.
        let version = match tokio::time::timeout(cfg.connect_timeout, async {
            let mut conn = mysql_async::Conn::new(opts.clone()).await.map_err(|e| error::map(e, "mysql"))?;
            let v: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(|e| error::map(e, "mysql"))?;
            conn.disconnect().await.map_err(|e| error::map(e, "mysql"))?;
            v.ok_or_else(|| Error::decode("SELECT VERSION() returned no row").with_backend("mysql"))
        })
        .await
        {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("connect did not finish within {:?}", cfg.connect_timeout),
                )
                .with_backend("mysql"));
            }
        };
        let detected = Flavor::from_mysql_version(&version);
        let flavor = match cfg.flavor {
            MySqlFlavorChoice::Detect => detected,
            MySqlFlavorChoice::Tidb => Flavor::Tidb,
            MySqlFlavorChoice::MariaDb => Flavor::MariaDb,
        };
        let info = ServerInfo::parse(detected, &version);
        let dialect = dialect_for(&version, flavor, cfg.flavor)?;
        // Every session in UTC; the server stops a statement a little after the client
        // would have given up on it (TiDB: max_execution_time, ms, SELECTs; MariaDB:
        // max_statement_time, seconds, every statement).
        let server_ms = cfg.op_timeout.as_millis() + 5000;
        let timeout_var = match dialect {
            DialectKind::MariaDb => format!("SET SESSION max_statement_time = {}", server_ms.div_ceil(1000)),
            _ => format!("SET SESSION max_execution_time = {server_ms}"),
        };
        let mut init = vec!["SET time_zone = '+00:00'".to_owned(), timeout_var];
        match (cfg.tidb_txn_mode, dialect) {
            (None, _) => {}
            (Some(mode), DialectKind::Tidb) => init.push(format!("SET SESSION tidb_txn_mode = '{}'", mode.as_str())),
            (Some(mode), _) => {
                return Err(Error::invalid_input(format!(
                    "tidb_txn_mode = {} is TiDB's setting; this server is {version}",
                    mode.as_str()
                ))
                .with_backend(flavor.name()));
            }
        }
        let opts = OptsBuilder::from_opts(opts)
            .init(init)
            // Idle connections are kept (up to the maximum) for IDLE_CONNECTION_TTL: with
            // mysql_async's default TTL of zero the pool keeps only `min` idle connections,
            // and with `min` 0 it closed every connection it was handed back, so each call
            // paid a new connection (TCP, authentication, the session settings above, its
            // statements prepared again). A connection handed back is not reset
            // (COM_RESET_CONNECTION would drop the session settings above, which `init`
            // does not run again, and its prepared statements), as deadpool-postgres does
            // not reset PostgreSQL's: p8fs keeps no state in a session but those settings
            // and `mhnsw_ef_search`, which every approximate search sets before it runs; an
            // open transaction is rolled back by the pool.
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_inactive_connection_ttl(IDLE_CONNECTION_TTL)
                    .with_reset_connection(false),
            )
            .tcp_nodelay(true)
            // Affected rows = rows matched, so an UPDATE that writes an equal value still
            // reports that it found its row (compare-and-swap relies on it).
            .client_found_rows(true);
        let this = Self {
            pool: Pool::new(opts.clone()),
            opts: opts.into(),
            info,
            dialect,
            backend: flavor.name(),
            op_timeout: cfg.op_timeout,
            key: redact(&cfg.url),
            _anchor: TimerAnchor::start(),
        };
        this.check_exact_collation().await?;
        tracing::debug!(backend = this.backend, version = %version, "connected");
        Ok(this)
    }

    /// Checks that the collation p8fs's tables use compares exactly on this server: a TiDB
    /// cluster bootstrapped without the new collation framework
    /// (`new_collations_enabled_on_first_bootstrap = false`) ignores collations and pads
    /// trailing spaces, so `"acme "` would match `"acme"`: refused, naming the setting.
    async fn check_exact_collation(&self) -> Result<()> {
        let Some(c) = self.dialect.dialect().exact_collation() else {
            return Ok(());
        };
        let probe = Statement::raw(format!("SELECT CAST(('a' = 'a ' COLLATE {c}) AS SIGNED)"));
        let rows = self.query(&probe).await?;
        match rows.first().and_then(|r| r.first()) {
            Some(p8fs_sql_dialect::SqlValue::Int(0)) => Ok(()),
            other => Err(Error::new(
                ErrorKind::Unsupported,
                format!(
                    "this server compares 'a' and 'a ' as equal under {c} (answer {other:?}): p8fs needs exact \
                     comparisons of tenant ids and keys (on TiDB: a cluster bootstrapped with \
                     new_collations_enabled_on_first_bootstrap = true, the default since 4.0)"
                ),
            )
            .with_backend(self.backend)),
        }
    }

    /// What the server reported at connect time.
    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// The connection pool, for callers that need the driver directly.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Closes every pooled connection.
    ///
    /// # Errors
    /// When a connection fails to close cleanly.
    pub async fn disconnect(self) -> Result<()> {
        let backend = self.backend;
        self.pool.disconnect().await.map_err(|e| error::map(e, backend))
    }

    async fn version_text(&self) -> Result<String> {
        let rows = self.query(&Statement::raw("SELECT VERSION()")).await?;
        let cell = rows.into_iter().next().and_then(|r| r.into_iter().next());
        cell.ok_or_else(|| Error::decode("SELECT VERSION() returned no row").with_backend(self.backend))?
            .into_text()
            .map_err(|e| e.with_backend(self.backend))
    }

    /// One attempt of a transaction: each statement's affected rows, and its rows when
    /// `rows` is set.
    async fn transaction_once(
        &self,
        stmts: &[Statement],
        rows: bool,
        check: Option<&RowCheck>,
        refused: &mut bool,
    ) -> Result<Vec<(u64, Vec<Row>)>> {
        let b = self.backend;
        self.timed("transaction", async {
            let mut lease = self.lease().await?;
            let result = async {
                let conn = &mut *lease;
                let mut tx = conn.start_transaction(TxOpts::default()).await.map_err(|e| error::map(e, b))?;
                let mut out = Vec::with_capacity(stmts.len());
                for (i, stmt) in stmts.iter().enumerate() {
                    let params = params(stmt, b)?;
                    // An error drops `tx`, which rolls back.
                    if rows {
                        let got: Vec<mysql_async::Row> =
                            tx.exec(&stmt.sql, params).await.map_err(|e| error::map(e, b))?;
                        let decoded: Vec<Row> = got
                            .into_iter()
                            .map(|r| binder::decode_row(r).map_err(|e| e.with_backend(b)))
                            .collect::<Result<_>>()?;
                        if let Some(check) = check
                            && let Err(e) = check(i, &decoded)
                        {
                            *refused = true;
                            return Err(e);
                        }
                        out.push((tx.affected_rows(), decoded));
                    } else {
                        tx.exec_drop(&stmt.sql, params).await.map_err(|e| error::map(e, b))?;
                        out.push((tx.affected_rows(), Vec::new()));
                    }
                }
                tx.commit().await.map_err(|e| error::map(e, b))?;
                Ok(out)
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    /// A transaction, retried on conflicts: TiDB does not retry optimistic-transaction
    /// conflicts itself (since v8.0), and any engine may pick this transaction as a
    /// deadlock victim.
    async fn transaction(
        &self,
        stmts: &[Statement],
        rows: bool,
        check: Option<&RowCheck>,
    ) -> Result<Vec<(u64, Vec<Row>)>> {
        let mut attempt = 0u32;
        loop {
            // The caller's check refusing the rows is its answer, not a conflict to retry:
            // the same statements would meet the same rows.
            let mut refused = false;
            match self.transaction_once(stmts, rows, check, &mut refused).await {
                Err(e) if !refused && retry_conflict(&e, &mut attempt, self.backend).await => {}
                other => return other,
            }
        }
    }

    /// Runs `fut` under the operation deadline.
    async fn timed<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.op_timeout, fut).await {
            Ok(r) => r,
            Err(_) => {
                Err(Error::new(ErrorKind::Timeout, format!("{what} did not finish within {:?}", self.op_timeout))
                    .with_backend(self.backend))
            }
        }
    }
}

/// The dialect for a server that answered `version`, or why p8fs cannot use it: vector
/// columns need TiDB >= 8.4 and MariaDB >= 11.7 (checked when the flavor is detected; a
/// forced flavor is the operator's call).
fn dialect_for(version: &str, flavor: Flavor, choice: MySqlFlavorChoice) -> Result<DialectKind> {
    let info = ServerInfo::parse(Flavor::from_mysql_version(version), version);
    let detect = choice == MySqlFlavorChoice::Detect;
    match flavor {
        Flavor::Tidb if detect && !info.at_least(8, 4) => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "TiDB v{}.{}.{} ({version}) has no vector search; p8fs needs TiDB 8.4 or later (8.5 recommended)",
                info.version.0, info.version.1, info.version.2
            ),
        )
        .with_backend("tidb")),
        Flavor::Tidb => Ok(DialectKind::Tidb),
        Flavor::MariaDb if detect && !info.at_least(11, 7) => Err(Error::new(
            ErrorKind::Unsupported,
            format!("MariaDB {version} has no VECTOR type; p8fs needs MariaDB 11.7 or later"),
        )
        .with_backend("mariadb")),
        Flavor::MariaDb => Ok(DialectKind::MariaDb),
        _ => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "server {version} is neither TiDB nor MariaDB; p8fs speaks TiDB >= 8.4 and MariaDB >= 11.7 over the MySQL protocol (force a flavor to override)"
            ),
        )
        .with_backend("mysql")),
    }
}

/// A statement's values as the driver's parameters (none: `Params::Empty`).
fn params(stmt: &Statement, backend: &'static str) -> Result<Params> {
    if stmt.values.is_empty() {
        return Ok(Params::Empty);
    }
    Ok(Params::Positional(binder::bind(&stmt.values).map_err(|e| e.with_backend(backend))?))
}

#[async_trait]
impl SqlExecutor for TidbProvider {
    fn dialect(&self) -> &'static dyn p8fs_sql_dialect::Dialect {
        self.dialect.dialect()
    }

    fn cache_key(&self) -> String {
        self.key.clone()
    }

    async fn server_info(&self) -> Result<ServerInfo> {
        let version = self.version_text().await?;
        Ok(ServerInfo::parse(Flavor::from_mysql_version(&version), &version))
    }

    async fn execute(&self, stmt: &Statement) -> Result<u64> {
        let b = self.backend;
        self.timed("statement", async {
            let mut lease = self.lease().await?;
            let result = async {
                let conn = &mut *lease;
                // Always the prepared-statement protocol, also without values: one statement per
                // call (the text protocol would run stacked statements), and rows decode by
                // their column types.
                conn.exec_drop(&stmt.sql, params(stmt, b)?).await.map_err(|e| error::map(e, b))?;
                Ok(conn.affected_rows())
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    async fn execute_in_transaction(&self, stmts: &[Statement]) -> Result<Vec<u64>> {
        Ok(self.transaction(stmts, false, None).await?.into_iter().map(|(n, _)| n).collect())
    }

    async fn query_in_transaction(&self, stmts: &[Statement], check: Option<Arc<RowCheck>>) -> Result<Vec<Vec<Row>>> {
        Ok(self.transaction(stmts, true, check.as_deref()).await?.into_iter().map(|(_, r)| r).collect())
    }

    async fn query_with_setup(&self, setup: &[Statement], stmt: &Statement) -> Result<Vec<Row>> {
        let b = self.backend;
        self.timed("query", async {
            let mut lease = self.lease().await?;
            let result = async {
                let conn = &mut *lease;
                let mut tx = conn.start_transaction(TxOpts::default()).await.map_err(|e| error::map(e, b))?;
                for s in setup {
                    tx.exec_drop(&s.sql, params(s, b)?).await.map_err(|e| error::map(e, b))?;
                }
                let params = Params::Positional(binder::bind(&stmt.values).map_err(|e| e.with_backend(b))?);
                let rows: Vec<mysql_async::Row> = tx.exec(&stmt.sql, params).await.map_err(|e| error::map(e, b))?;
                tx.commit().await.map_err(|e| error::map(e, b))?;
                rows.into_iter().map(|r| binder::decode_row(r).map_err(|e| e.with_backend(b))).collect()
            }
            .await;
            lease.finish(result)
        })
        .await
    }

    async fn query(&self, stmt: &Statement) -> Result<Vec<Row>> {
        let b = self.backend;
        self.timed("query", async {
            let mut lease = self.lease().await?;
            let result = async {
                let conn = &mut *lease;
                let rows: Vec<mysql_async::Row> =
                    conn.exec(&stmt.sql, params(stmt, b)?).await.map_err(|e| error::map(e, b))?;
                rows.into_iter().map(|r| binder::decode_row(r).map_err(|e| e.with_backend(b))).collect()
            }
            .await;
            lease.finish(result)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_without_vectors_are_refused_naming_their_version() {
        let old = dialect_for("8.0.11-TiDB-v7.5.2", Flavor::Tidb, MySqlFlavorChoice::Detect).unwrap_err();
        assert_eq!(old.kind(), ErrorKind::Unsupported);
        assert!(old.to_string().contains("v7.5.2") && old.to_string().contains("8.4"), "{old}");
        assert_eq!(
            dialect_for("8.0.11-TiDB-v8.4.0", Flavor::Tidb, MySqlFlavorChoice::Detect).unwrap(),
            DialectKind::Tidb
        );
        assert_eq!(
            dialect_for("8.0.11-TiDB-v8.5.1", Flavor::Tidb, MySqlFlavorChoice::Detect).unwrap(),
            DialectKind::Tidb
        );
        // A forced flavor is the operator's decision.
        assert_eq!(
            dialect_for("8.0.11-TiDB-v7.5.2", Flavor::Tidb, MySqlFlavorChoice::Tidb).unwrap(),
            DialectKind::Tidb
        );
        let maria = dialect_for("10.11.6-MariaDB-0+deb12u1", Flavor::MariaDb, MySqlFlavorChoice::Detect).unwrap_err();
        assert!(maria.to_string().contains("11.7"), "{maria}");
        assert_eq!(
            dialect_for("11.8.2-MariaDB", Flavor::MariaDb, MySqlFlavorChoice::Detect).unwrap(),
            DialectKind::MariaDb
        );
        assert!(dialect_for("8.0.36", Flavor::MySql, MySqlFlavorChoice::Detect).is_err());
    }
}
