//! Transactions that deadlock on a server: the engine picks a victim (PostgreSQL 40P01,
//! MySQL-family 1213), the provider retries it, and both transactions' writes land once.

use anyhow::{Context, Result, ensure};
use p8fs_sql_dialect::{DialectKind, SqlValue, Statement};

use super::entity::with_store;
use crate::harness::Ctx;

pub(crate) async fn deadlocked_transactions_are_retried_and_applied_once(ctx: Ctx) -> Result<()> {
    let schema = ctx.scratch.clone();
    with_store(&ctx, &[], async |store, _| {
        let db = store.executor();
        let kind = db.dialect().kind();
        let (table, ph, sleep) = match kind {
            DialectKind::Postgres => (format!("\"{schema}\".\"counters\""), "$1", "SELECT pg_sleep(0.5)::text"),
            _ => (format!("`{schema}`.`counters`"), "?", "SELECT SLEEP(0.5)"),
        };
        if kind == DialectKind::Postgres {
            db.execute(&Statement::raw(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))).await?;
        } else {
            db.execute(&Statement::raw(format!("CREATE DATABASE IF NOT EXISTS `{schema}`"))).await?;
        }
        db.execute(&Statement::raw(format!("CREATE TABLE {table} (id INT PRIMARY KEY, n INT NOT NULL)"))).await?;
        db.execute(&Statement::raw(format!("INSERT INTO {table} (id, n) VALUES (1, 0), (2, 0)"))).await?;
        let bump = |id: i32| Statement {
            sql: format!("UPDATE {table} SET n = n + 1 WHERE id = {ph}"),
            values: vec![id.into()],
        };
        // Opposite orders with a pause between: each holds the row the other wants next.
        let one = [bump(1), Statement::raw(sleep), bump(2)];
        let two = [bump(2), Statement::raw(sleep), bump(1)];
        let (a, b) = tokio::join!(db.execute_in_transaction(&one), db.execute_in_transaction(&two));
        a.context("the first transaction")?;
        b.context("the second transaction")?;
        let rows = db.query(&Statement::raw(format!("SELECT id, n FROM {table} ORDER BY id"))).await?;
        let got: Vec<(i64, i64)> = rows
            .iter()
            .filter_map(|r| match (r.first(), r.get(1)) {
                (Some(SqlValue::Int(id)), Some(SqlValue::Int(n))) => Some((*id, *n)),
                _ => None,
            })
            .collect();
        ensure!(got == [(1, 2), (2, 2)], "each row bumped once by each transaction, got {got:?}");
        Ok(())
    })
    .await
}
