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
