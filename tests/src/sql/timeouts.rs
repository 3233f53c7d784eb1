//! Statements that outlive the operation deadline fail as timeouts, in bounded time, and
//! leave the pool usable: the connection that ran the slow statement is not handed to the
//! next caller with the statement still running on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use p8fs_sql_dialect::{ErrorKind, SqlExecutor, SqlValue, Statement};

use crate::Backend;
use crate::harness::Ctx;

/// A provider with a 1 s operation deadline and two connections.
async fn short_deadline(ctx: &Ctx) -> Result<Arc<dyn SqlExecutor>> {
    let url = ctx.env.url().context("no URL")?;
    let deadline = Duration::from_secs(1);
    Ok(match ctx.env.backend {
        Backend::Postgres => {
            let mut cfg = p8fs_postgres::PgConfig::from_url(url)?;
            cfg.op_timeout = deadline;
            cfg.max_connections = 2;
            Arc::new(p8fs_postgres::PgProvider::connect(cfg).await?)
        }
        Backend::MariaDb | Backend::Tidb => {
            let mut cfg = p8fs_tidb::MySqlConfig::from_url(url)?;
            cfg.op_timeout = deadline;
            cfg.max_connections = 2;
            Arc::new(p8fs_tidb::TidbProvider::connect(cfg).await?)
        }
        other => bail!("no SQL server on {}", other.name()),
    })
}

pub(crate) async fn statements_past_the_deadline_fail_as_timeouts_and_the_pool_recovers(ctx: Ctx) -> Result<()> {
    let db = short_deadline(&ctx).await?;
    // Tagged, to find this test's statements on the server.
    let tag = format!("p8fs timeout test {}", ctx.scratch);
    let sleep = match ctx.env.backend {
        Backend::Postgres => format!("SELECT pg_sleep(8) /* {tag} */"),
        _ => format!("SELECT SLEEP(8) /* {tag} */"),
    };
    // Both connections of the pool busy with a statement that outlives the deadline.
    let t = Instant::now();
    let sleep = Statement::raw(sleep);
    let slow = futures::future::join_all((0..2).map(|_| db.query(&sleep))).await;
    let took = t.elapsed();
    for r in &slow {
        match r {
            Err(e) if e.kind() == ErrorKind::Timeout && e.is_retryable() => {}
            other => bail!("a statement past the 1 s deadline answered {other:?}"),
        }
    }
    ensure!(took < Duration::from_secs(3), "the timed-out statements took {took:?} to fail (deadline 1 s)");
    // At once, every later call on the same pool answers quickly: neither connection is
    // handed out with the sleep still running on it.
    let one = Statement::raw("SELECT 1");
    for round in 0..3 {
        let t = Instant::now();
        let answers = futures::future::join_all((0..4).map(|_| db.query(&one))).await;
        for a in answers {
            let rows = a.with_context(|| format!("round {round}: SELECT 1 after the timeouts"))?;
            ensure!(rows.first().and_then(|r| r.first()) == Some(&SqlValue::Int(1)), "SELECT 1 answered {rows:?}");
        }
        ensure!(
            t.elapsed() < Duration::from_millis(900),
            "round {round}: SELECT 1 took {:?} after the timeouts: a connection still ran the slow statement",
            t.elapsed()
        );
    }
    // And the server stops running them (a cancel request, or the closed connection),
    // long before they would have ended by themselves.
    let running = match ctx.env.backend {
        Backend::Postgres => "SELECT count(*)::bigint FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1",
        _ => "SELECT CAST(COUNT(*) AS SIGNED) FROM information_schema.PROCESSLIST WHERE INFO LIKE ?",
    };
    let running =
        Statement { sql: running.into(), values: vec![p8fs_sql_dialect::sea_query::Value::from(format!("%{tag}%"))] };
    let t = Instant::now();
    loop {
        let rows = db.query(&running).await?;
        let n = match rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Int(n)) => *n,
            other => bail!("count of running statements: {other:?}"),
        };
        if n == 0 {
            break;
        }
        ensure!(
            t.elapsed() < Duration::from_secs(4),
            "{n} timed-out statements still run on the server {:?} after the timeouts",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
