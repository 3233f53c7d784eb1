//! `bench_items`, the keyed entity without embeddings of W1, W2, W10 and W12: its model,
//! its rows, and the hand-written single-row upsert and rows of the peers.

use anyhow::Result;
use p8fs_sql_dialect::model::{FieldType as T, Model};
use p8fs_tidb::mysql_async::prelude::Queryable;
use serde_json::{Map, Value, json};

use super::{Engine, Pool, TENANT, obj};

/// `bench_items`: a keyed entity without embeddings (W1, W2).
pub(super) fn items_model() -> Result<Model> {
    Ok(Model::builder("bench_items")
        .field("name", T::Text)
        .field("category", T::Text)
        .field("ordinal", T::Int)
        .field("summary", T::Text)
        .key("name")
        .build()?)
}

pub(super) fn item(prefix: &str, i: usize) -> Map<String, Value> {
    obj(json!({
        "name": format!("{prefix}-{i}"),
        "category": format!("c{}", i % 7),
        "ordinal": i as i64,
        "summary": format!("item number {i} of the benchmark"),
    }))
}

/// The id p8fs gives a new keyed entity (so the peer writes the same kind of row).
pub(super) fn id_for(model: &str, key: &str) -> String {
    uuid_v5(&format!("{TENANT}:{model}:{key}"))
}

pub(super) fn uuid_v5(name: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, name.as_bytes()).to_string()
}

/// The hand-written single-row upsert of `bench_items`.
pub(super) const PG_UPSERT: &str = "INSERT INTO p8fs_bench.bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, now(), now()) \
     ON CONFLICT (tenant_id, name) DO UPDATE SET category = EXCLUDED.category, ordinal = EXCLUDED.ordinal, \
     summary = EXCLUDED.summary, updated_at = EXCLUDED.updated_at";
pub(super) const MY_UPSERT: &str = "INSERT INTO p8fs_bench.bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, NOW(6), NOW(6)) \
     ON DUPLICATE KEY UPDATE category = VALUES(category), ordinal = VALUES(ordinal), summary = VALUES(summary), \
     updated_at = VALUES(updated_at)";

pub(super) async fn peer_upsert_one(e: &Engine, prefix: &str, i: usize) -> Result<()> {
    let name = format!("{prefix}-{i}");
    let id = id_for("bench_items", &name);
    let category = format!("c{}", i % 7);
    let summary = format!("item number {i} of the benchmark");
    match &e.pool {
        Pool::Pg(p) => {
            let c = p.pool().get().await?;
            let stmt = c.prepare_cached(PG_UPSERT).await?;
            c.execute(&stmt, &[&id, &TENANT, &name, &category, &(i as i64), &summary]).await?;
        }
        Pool::My(p) => {
            let mut c = p.pool().get_conn().await?;
            c.exec_drop(MY_UPSERT, (id, TENANT, name, category, i as i64, summary)).await?;
        }
    }
    Ok(())
}

/// A row of the hand-written peers: name, category, ordinal, summary (the id is derived
/// from the name inside the timed call, as p8fs derives it).
pub(super) type PeerRow = (String, String, i64, String);

pub(super) fn peer_inputs(prefix: &str, n: usize) -> Vec<PeerRow> {
    (0..n)
        .map(|j| {
            (format!("{prefix}-{j}"), format!("c{}", j % 7), j as i64, format!("item number {j} of the benchmark"))
        })
        .collect()
}

/// One of p8fs's upsert statements, its values converted to driver parameters. `None`
/// stands for a timestamp, taken at each call (an upsert that wrote the same timestamp
/// again would change nothing, which MariaDB does not write at all).
pub(super) struct OwnStatement {
    sql: String,
    values: Vec<Option<OwnValue>>,
    returning: bool,
}

pub(super) enum OwnValue {
    Text(String),
    Int(i64),
}

/// The statements p8fs sends for `batch` (its 200-row chunks, with or without `RETURNING`),
/// converted to driver parameters before timing.
pub(super) fn own_statements(
    e: &Engine,
    store: &p8fs_entity::EntityStore,
    model: &p8fs_sql_dialect::model::Model,
    batch: &[Map<String, Value>],
    returning: bool,
) -> Result<Vec<OwnStatement>> {
    use p8fs_sql_dialect::entity::dml;
    use p8fs_sql_dialect::sea_query::Value as V;
    let d = e.exec.dialect();
    let rows: Vec<dml::UpsertRow<'_>> = batch
        .iter()
        .map(|m| dml::UpsertRow { id: id_for("bench_items", m["name"].as_str().unwrap_or_default()), fields: m })
        .collect();
    let now = chrono::Utc::now();
    let mut out = Vec::new();
    for chunk in rows.chunks(p8fs_entity::BATCH_CHUNK) {
        let s = if returning {
            dml::upsert_returning(d, model, store.layout(), TENANT, chunk, now)?
        } else {
            dml::upsert(d, model, store.layout(), TENANT, chunk, now)?
        };
        let mut values = Vec::with_capacity(s.values.len());
        for v in &s.values {
            values.push(match v {
                V::String(Some(x)) => Some(OwnValue::Text(x.clone())),
                V::BigInt(Some(x)) => Some(OwnValue::Int(*x)),
                V::ChronoDateTimeUtc(Some(_)) => None,
                other => anyhow::bail!("no hand-written binding for {other:?}"),
            });
        }
        out.push(OwnStatement { sql: s.sql, values, returning });
    }
    Ok(out)
}

/// Sends p8fs's own statements by hand (one alone in autocommit, as p8fs sends a single
/// row, more in one transaction), with the call's timestamp, reading the returned ids as a
/// hand-written caller would (borrowed, not converted).
pub(super) async fn run_own(e: &Engine, stmts: &[OwnStatement]) -> Result<()> {
    let now = chrono::Utc::now();
    // The statement's parameters, borrowed (PostgreSQL); ids read back borrowed.
    macro_rules! pg_send {
        ($client:expr, $s:expr) => {{
            use tokio_postgres::types::ToSql;
            let s = $s;
            let st = $client.prepare_cached(&s.sql).await?;
            let refs: Vec<&(dyn ToSql + Sync)> = s
                .values
                .iter()
                .map(|v| match v {
                    Some(OwnValue::Text(x)) => x as &(dyn ToSql + Sync),
                    Some(OwnValue::Int(x)) => x,
                    None => &now,
                })
                .collect();
            if s.returning {
                let got = $client.query(&st, &refs).await?;
                let mut seen = 0usize;
                for r in &got {
                    let id: &str = r.try_get(0)?;
                    seen += id.len();
                }
                std::hint::black_box(seen);
            } else {
                $client.execute(&st, &refs).await?;
            }
        }};
    }
    match &e.pool {
        Pool::Pg(p) => {
            let mut c = p.pool().get().await?;
            if let [one] = stmts {
                pg_send!(c, one);
            } else {
                let tx = c.transaction().await?;
                for s in stmts {
                    pg_send!(tx, s);
                }
                tx.commit().await?;
            }
        }
        Pool::My(p) => {
            use chrono::{Datelike, Timelike};
            use p8fs_tidb::mysql_async::Value as My;
            let n = now.naive_utc();
            let stamp = My::Date(
                u16::try_from(n.year())?,
                n.month() as u8,
                n.day() as u8,
                n.hour() as u8,
                n.minute() as u8,
                n.second() as u8,
                n.nanosecond() / 1000,
            );
            let mut c = p.pool().get_conn().await?;
            if let [one] = stmts {
                my_send(&mut c, one, &stamp).await?;
            } else {
                let mut tx = c.start_transaction(Default::default()).await?;
                for s in stmts {
                    my_send(&mut tx, s, &stamp).await?;
                }
                tx.commit().await?;
            }
        }
    }
    Ok(())
}

/// One of p8fs's statements through a MySQL-protocol connection or transaction.
async fn my_send(q: &mut impl Queryable, s: &OwnStatement, stamp: &p8fs_tidb::mysql_async::Value) -> Result<()> {
    let ps: Vec<p8fs_tidb::mysql_async::Value> = s
        .values
        .iter()
        .map(|v| match v {
            Some(OwnValue::Text(x)) => x.as_str().into(),
            Some(OwnValue::Int(x)) => (*x).into(),
            None => stamp.clone(),
        })
        .collect();
    if s.returning {
        let got: Vec<p8fs_tidb::mysql_async::Row> = q.exec(s.sql.as_str(), ps).await?;
        std::hint::black_box(got.len());
    } else {
        q.exec_drop(s.sql.as_str(), ps).await?;
    }
    Ok(())
}
