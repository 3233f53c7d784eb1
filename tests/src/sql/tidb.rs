//! What only TiDB has, on a real tidb-server: tables hash-partitioned by tenant,
//! `ANALYZE`, TiFlash replicas (refused with a clear error where the cluster has no TiFlash
//! store, as over the in-process store), placement policies. The statements are those the
//! golden tests pin (`p8fs_sql_dialect::tidb_admin`), here run by the server.

use anyhow::{Context, Result, ensure};
use p8fs_sql_dialect::model::{FieldType as T, Model, resources};
use p8fs_sql_dialect::tidb_admin::{self, PlacementPolicy};
use p8fs_sql_dialect::{ErrorKind, SqlExecutor, SqlValue, Statement};
use serde_json::{Map, Value, json};

use super::entity::with_store;
use crate::harness::Ctx;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn one_int(rows: &[Vec<SqlValue>]) -> Result<i64> {
    match rows.first().and_then(|r| r.first()) {
        Some(SqlValue::Int(n)) => Ok(*n),
        other => anyhow::bail!("expected one number, got {other:?}"),
    }
}

fn one_text(rows: Vec<Vec<SqlValue>>) -> Result<Option<String>> {
    match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
        None | Some(SqlValue::Null) => Ok(None),
        Some(v) => Ok(Some(v.into_text()?)),
    }
}

fn table_row(schema: &str, table: &str, column: &str) -> Statement {
    Statement {
        sql: format!("SELECT {column} FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"),
        values: vec![schema.into(), table.into()],
    }
}

pub(crate) async fn partitions_statistics_tiflash_and_placement_run_on_the_server(ctx: Ctx) -> Result<()> {
    let events = Model::builder("events")
        .field("name", T::Text)
        .field("rank", T::Int)
        .key("name")
        .partition_by_tenant(16)
        .build()?;
    let (schema, emb) = (ctx.scratch.clone(), format!("{}_e", ctx.scratch));
    let policy = PlacementPolicy {
        name: format!("p8fs_{}", ctx.scratch),
        primary_region: "us-east-1".into(),
        regions: vec!["us-east-1".into(), "us-west-1".into()],
        followers: Some(2),
    };
    let result = with_store(&ctx, &[events.clone(), resources()], async |store, _| {
        let db = store.executor();

        // Hash partitions by tenant, and the tenant wall across them.
        let parts = db
            .query(&Statement {
                sql: "SELECT COUNT(*) FROM information_schema.partitions \
                      WHERE table_schema = ? AND table_name = ? AND partition_name IS NOT NULL"
                    .into(),
                values: vec![schema.as_str().into(), "events".into()],
            })
            .await?;
        ensure!(one_int(&parts)? == 16, "events has {} partitions, not 16", one_int(&parts)?);
        let a = store.upsert(&events, "tenant-a", &obj(json!({"name": "same", "rank": 1}))).await?.ids[0].clone();
        let b = store.upsert(&events, "tenant-b", &obj(json!({"name": "same", "rank": 2}))).await?.ids[0].clone();
        ensure!(a != b, "one name in two tenants is two entities");
        ensure!(store.get(&events, "tenant-b", &a).await?.is_none(), "tenant-b reads tenant-a's row by id");
        let mine = store.get_by_key(&events, "tenant-b", "same").await?.context("tenant-b's own row")?;
        ensure!(mine["rank"] == json!(2), "tenant-b's row: {mine:?}");

        // Statistics.
        db.execute(&tidb_admin::analyze_table(Some(&schema), "events")?).await?;
        let analyzed = db
            .query(&Statement {
                sql: "SELECT COUNT(*) FROM mysql.stats_meta m JOIN information_schema.tables t \
                      ON m.table_id = t.tidb_table_id WHERE t.table_schema = ? AND t.table_name = ?"
                    .into(),
                values: vec![schema.as_str().into(), "events".into()],
            })
            .await?;
        ensure!(one_int(&analyzed)? >= 1, "ANALYZE left no statistics for events");

        // TiFlash: none here, and p8fs says so instead of passing on error 1105.
        let status = db.query(&tidb_admin::tiflash_replica_status(Some(&schema), "resources")).await?;
        ensure!(status.is_empty(), "a TiFlash replica without TiFlash: {status:?}");
        for s in tidb_admin::tiflash_replicas_for(&resources(), Some(&schema), Some(&emb), 1)? {
            match db.execute(&s).await {
                Err(e) if e.kind() == ErrorKind::Unsupported && e.to_string().contains("no TiFlash store") => {}
                other => anyhow::bail!("{}: {other:?}", s.sql),
            }
        }
        for s in tidb_admin::tiflash_replicas_for(&resources(), Some(&schema), Some(&emb), 0)? {
            db.execute(&s).await.with_context(|| s.sql.clone())?;
        }

        // Placement: the policy is created once, applied, and shown by the catalog.
        for _ in 0..2 {
            db.execute(&policy.create()?).await?;
        }
        db.execute(&policy.apply_to(Some(&schema), "events")?).await?;
        let applied = one_text(db.query(&table_row(&schema, "events", "tidb_placement_policy_name")).await?)?;
        ensure!(applied.as_deref() == Some(policy.name.as_str()), "events' placement policy: {applied:?}");
        // Still a table that answers.
        ensure!(store.get_by_key(&events, "tenant-a", "same").await?.is_some(), "tenant-a's row after placement");
        // Names that would be written into DDL never reach the server.
        let hostile = PlacementPolicy { name: "p; DROP DATABASE p8fs".into(), ..policy.clone() };
        ensure!(hostile.create().is_err(), "a hostile policy name was accepted");
        ensure!(policy.apply_to(Some(&schema), "events`; --").is_err(), "a hostile table name was accepted");
        let region = PlacementPolicy { primary_region: "us\"east".into(), ..policy.clone() };
        ensure!(region.create().is_err(), "a hostile region was accepted");
        Ok(())
    })
    .await;
    // The tables are gone with their databases; the policy is the server's and goes too.
    let sql = ctx.env.sql(&ctx.scratch).await?;
    let drop = Statement::raw(format!("DROP PLACEMENT POLICY IF EXISTS `{}`", policy.name));
    let cleanup = sql.execute(&drop).await;
    result?;
    cleanup?;
    Ok(())
}

/// Optimistic transactions on TiDB: a concurrent commit to the same row fails the later
/// commit with 9007. p8fs runs such a transaction again (the whole of it: every statement
/// is re-evaluated, so nothing is applied twice); when the conflicts do not stop, the
/// error it returns is a retryable `Conflict` naming 9007.
pub(crate) async fn optimistic_write_conflicts_are_retried_then_reported_retryable(ctx: Ctx) -> Result<()> {
    use p8fs_tidb::mysql_async::prelude::Queryable;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let url = ctx.env.url().context("no URL")?.to_owned();
    let mut cfg = p8fs_tidb::MySqlConfig::from_url(&url)?;
    cfg.op_timeout = std::time::Duration::from_secs(20);
    cfg.tidb_txn_mode = Some(p8fs_tidb::TidbTxnMode::Optimistic);
    let db = p8fs_tidb::TidbProvider::connect(cfg).await?;
    let schema = ctx.scratch.clone();
    let table = format!("`{schema}`.`counters`");
    let result = async {
        let mode = one_text(db.query(&Statement::raw("SELECT @@tidb_txn_mode")).await?)?;
        ensure!(mode.as_deref() == Some("optimistic"), "the session's tidb_txn_mode is {mode:?}");
        db.execute(&Statement::raw(format!("CREATE DATABASE IF NOT EXISTS `{schema}`"))).await?;
        db.execute(&Statement::raw(format!("CREATE TABLE {table} (id INT PRIMARY KEY, n INT NOT NULL)"))).await?;
        db.execute(&Statement::raw(format!("INSERT INTO {table} (id, n) VALUES (1, 0)"))).await?;
        let bump = Statement { sql: format!("UPDATE {table} SET n = n + 1 WHERE id = ?"), values: vec![1i32.into()] };
        let txn = [bump.clone(), Statement::raw("SELECT SLEEP(0.5)")];
        let n = async || -> Result<i64> {
            one_int(&db.query(&Statement::raw(format!("SELECT n FROM {table} WHERE id = 1"))).await?)
        };

        // Two at once: without locks both write, the later commit meets 9007 and runs again.
        let (a, b) = tokio::join!(db.execute_in_transaction(&txn), db.execute_in_transaction(&txn));
        a.context("the first transaction")?;
        b.context("the second transaction")?;
        ensure!(n().await? == 2, "two transactions applied {} times", n().await?);

        // Conflicts that do not stop: another session commits to the row every 100 ms.
        let stop = Arc::new(AtomicBool::new(false));
        let hammer = tokio::spawn({
            let (stop, url, table) = (Arc::clone(&stop), url.clone(), table.clone());
            async move {
                let mut conn = p8fs_tidb::mysql_async::Conn::from_url(url).await?;
                let mut writes = 0i64;
                while !stop.load(Ordering::SeqCst) {
                    conn.query_drop(format!("UPDATE {table} SET n = n + 10 WHERE id = 1")).await?;
                    writes += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                conn.disconnect().await?;
                anyhow::Ok(writes)
            }
        });
        let long = [bump.clone(), Statement::raw("SELECT SLEEP(1)")];
        let outcome = db.execute_in_transaction(&long).await;
        stop.store(true, Ordering::SeqCst);
        let writes = hammer.await??;
        match &outcome {
            Err(e) if e.kind() == ErrorKind::Conflict && e.is_retryable() && e.to_string().contains("9007") => {}
            other => anyhow::bail!("under endless conflicts: {other:?}"),
        }
        ensure!(n().await? == 2 + 10 * writes, "the refused transaction left a write: n = {}", n().await?);
        // And once the other writer stops, the same transaction goes through.
        db.execute_in_transaction(&long).await?;
        ensure!(n().await? == 3 + 10 * writes, "n = {}", n().await?);
        Ok(())
    }
    .await;
    let cleanup = db.execute(&Statement::raw(format!("DROP DATABASE IF EXISTS `{schema}`"))).await;
    result?;
    cleanup?;
    Ok(())
}
