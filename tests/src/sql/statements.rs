//! A connection's prepared statements stay bounded however many distinct statements run.
//!
//! PostgreSQL only: the bound is `p8fs-postgres`'s (deadpool-postgres keeps every statement
//! otherwise); `mysql_async` bounds its own cache (an LRU of `stmt_cache_size` statements per
//! connection), so the MySQL-protocol providers have nothing of p8fs's to check here.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{SqlExecutor, SqlValue, Statement};

use crate::Backend;
use crate::harness::Ctx;

const MAX: usize = 8;

pub(crate) async fn distinct_statements_keep_the_prepared_statements_bounded(ctx: Ctx) -> Result<()> {
    if ctx.env.backend != Backend::Postgres {
        return Ok(());
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
