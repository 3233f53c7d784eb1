//! A connection's prepared statements stay bounded however many distinct statements run.
//!
//! On PostgreSQL the bound is `p8fs-postgres`'s (deadpool-postgres keeps every statement
//! otherwise); on the MySQL protocol it is `mysql_async`'s own LRU of `stmt_cache_size`
//! statements per connection, which closes what it evicts: the server's count of
//! statements this session closed shows it. TiDB keeps no per-session statement
//! counters; its status port's `tidb_server_prepared_stmts` gauge (every session's
//! statements) shows it there.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{SqlExecutor, SqlValue, Statement};

use crate::Backend;
use crate::harness::Ctx;

const MAX: usize = 8;

pub(crate) async fn distinct_statements_keep_the_prepared_statements_bounded(ctx: Ctx) -> Result<()> {
    if ctx.env.backend == Backend::MariaDb {
        return mysql_protocol_statements_stay_bounded(&ctx).await;
    }
    if ctx.env.backend == Backend::Tidb {
        return tidb_statements_stay_bounded(&ctx).await;
    }
    if ctx.env.backend != Backend::Postgres {
        anyhow::bail!("no SQL server for this case on {}", ctx.env.backend.name());
    }
    let mut cfg = p8fs_postgres::PgConfig::from_url(ctx.env.url().context("no URL")?)?;
    cfg.op_timeout = Duration::from_secs(20);
    // One connection: every statement below is prepared on it.
    cfg.max_connections = 1;
    cfg.max_cached_statements = MAX;
    let db = p8fs_postgres::PgProvider::connect(cfg).await?;
    let server_count = Statement {
        sql: "SELECT count(*)::bigint FROM pg_prepared_statements WHERE $1::int = 1".into(),
        values: vec![Value::Int(Some(1))],
    };
    for i in 0..(5 * MAX) {
        // Distinct text, bound values: each one is prepared.
        let stmt = Statement { sql: format!("SELECT $1::bigint + {i}"), values: vec![Value::BigInt(Some(1))] };
        let rows = db.query(&stmt).await?;
        ensure!(rows.first().and_then(|r| r.first()) == Some(&SqlValue::Int(1 + i as i64)), "statement {i}: {rows:?}");
        let cached = db.pool().get().await?.statement_cache.size();
        ensure!(cached <= MAX, "after {} statements the client caches {cached} (max {MAX})", i + 1);
        let rows = db.query(&server_count).await?;
        let on_server = match rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Int(n)) => *n,
            other => anyhow::bail!("count of prepared statements: {other:?}"),
        };
        ensure!(on_server <= MAX as i64, "after {} statements the server holds {on_server} (max {MAX})", i + 1);
    }
    Ok(())
}

/// The MySQL protocol: many distinct prepared statements on one connection make the
/// driver close the ones it evicts (`Com_stmt_close` of the session grows), so the server
/// never holds more than the cache of that connection. (The pool also resets a connection
/// when it is returned, which drops its statements: one transaction keeps one connection
/// for the whole check.)
async fn mysql_protocol_statements_stay_bounded(ctx: &Ctx) -> Result<()> {
    let mut cfg = p8fs_tidb::MySqlConfig::from_url(ctx.env.url().context("no URL")?)?;
    cfg.op_timeout = Duration::from_secs(20);
    cfg.max_connections = 1;
    let db = p8fs_tidb::TidbProvider::connect(cfg).await?;
    let closed = Statement {
        sql: "SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?"
            .into(),
        values: vec![Value::from("COM_STMT_CLOSE")],
    };
    let n = 200i64;
    let mut stmts = vec![closed.clone()];
    stmts.extend((0..n).map(|i| Statement { sql: format!("SELECT ? + {i}"), values: vec![Value::BigInt(Some(1))] }));
    stmts.push(closed);
    let rows = db.query_in_transaction(&stmts, None).await?;
    let count = |r: &Vec<p8fs_sql_dialect::Row>| match r.first().and_then(|r| r.first()) {
        Some(SqlValue::Int(n)) => Ok(*n),
        other => Err(anyhow::anyhow!("Com_stmt_close: {other:?}")),
    };
    let (before, after) = (count(&rows[0])?, count(&rows[rows.len() - 1])?);
    for (i, r) in rows[1..rows.len() - 1].iter().enumerate() {
        ensure!(r.first().and_then(|r| r.first()) == Some(&SqlValue::Int(1 + i as i64)), "statement {i}: {r:?}");
    }
    ensure!(after - before >= n - 64, "{n} distinct statements closed only {} on the server", after - before);
    Ok(())
}

/// TiDB: no per-session counters, so the server-wide gauge of prepared statements is read
/// from the status port while one connection holds the statements it prepared. Other
/// tests running at the same time move the gauge too, by at most their own bounded
/// caches: `N` distinct statements are many more than that noise, and a driver that kept
/// them all would raise the gauge by `N`.
async fn tidb_statements_stay_bounded(ctx: &Ctx) -> Result<()> {
    use p8fs_tidb::mysql_async::prelude::Queryable;
    const N: i64 = 1500;
    let status = ctx.env.var("P8FS_TIDB_STATUS_URL").context(
        "P8FS_TIDB_STATUS_URL is not set: the TiDB status port (http://host:10080) shows the server's prepared statements",
    )?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let gauge = async || -> Result<i64> {
        let text = http
            .get(format!("{}/metrics", status.trim_end_matches('/')))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        text.lines()
            .find_map(|l| l.strip_prefix("tidb_server_prepared_stmts "))
            .context("the status port has no tidb_server_prepared_stmts gauge")?
            .trim()
            .parse::<f64>()
            .map(|v| v as i64)
            .context("tidb_server_prepared_stmts is not a number")
    };
    let mut cfg = p8fs_tidb::MySqlConfig::from_url(ctx.env.url().context("no URL")?)?;
    cfg.op_timeout = Duration::from_secs(20);
    cfg.max_connections = 1;
    let db = p8fs_tidb::TidbProvider::connect(cfg).await?;
    let mut conn = db.pool().get_conn().await?;
    let before = gauge().await?;
    for i in 0..N {
        let v: Option<i64> = conn.exec_first(format!("SELECT ? + {i}"), (1i64,)).await?;
        ensure!(v == Some(1 + i), "statement {i}: {v:?}");
    }
    // Measured while the connection still holds whatever it kept.
    let after = gauge().await?;
    drop(conn);
    db.disconnect().await?;
    println!(
        "tidb: {N} distinct statements on one connection moved the server's prepared statements by {}",
        after - before
    );
    ensure!(after - before < N / 3, "{N} distinct statements left {} more prepared on the server", after - before);
    Ok(())
}
