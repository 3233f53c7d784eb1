//! W12: the SQLite provider against rusqlite.

use std::sync::Arc;

use anyhow::Result;
use p8fs_entity::EntityStore;
use p8fs_sql_dialect::SqlExecutor;
use p8fs_sql_dialect::entity::{Layout, SearchMode, SearchOptions};
use serde_json::{Map, Value, json};

use crate::Env;
use crate::harness::{Row, Scale, compare};

use super::items::{PeerRow, id_for, item, items_model, peer_inputs};
use super::vector_data::{cosine_distance, vecs_model, vectors};
use super::{TENANT, obj};

/// W12: the SQLite provider (upsert, batch, exact vector search) against rusqlite.
pub(crate) async fn w12_sqlite(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let path = env.scratch.join("w12.sqlite");
    let provider = Arc::new(p8fs_sqlite::SqliteProvider::open(p8fs_sqlite::SqliteConfig::File(path.clone())).await?);
    let exec: Arc<dyn SqlExecutor> = provider;
    let store = EntityStore::new(Arc::clone(&exec), Layout::default());
    let items = items_model()?;
    let dim = 384;
    let vmodel = vecs_model(dim as u32)?;
    store.migrate(&items).await?;
    store.migrate(&vmodel).await?;
    // The peer: its own connection to the same file, the provider's settings.
    let conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let conn = Arc::new(std::sync::Mutex::new(conn));
    const UPSERT: &str = "INSERT INTO bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) \
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (tenant_id, name) DO UPDATE SET category = excluded.category, \
        ordinal = excluded.ordinal, summary = excluded.summary, updated_at = excluded.updated_at";
    let peer_rows = |input: Arc<Vec<PeerRow>>| {
        let conn = Arc::clone(&conn);
        async move {
            tokio::task::spawn_blocking(move || -> Result<()> {
                let mut c = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                let tx = c.transaction()?;
                {
                    let mut st = tx.prepare_cached(UPSERT)?;
                    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                    for (name, category, ordinal, summary) in input.iter() {
                        st.execute(rusqlite::params![
                            id_for("bench_items", name),
                            TENANT,
                            name,
                            category,
                            ordinal,
                            summary,
                            now
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(())
            })
            .await?
        }
    };
    let ops = scale.pick(300, 5);
    let key = |i: usize| if i.is_multiple_of(2) { i / 2 % 50 } else { 1000 + i };
    let c = compare(
        scale,
        ops,
        async |i| {
            store.upsert(&items, TENANT, &item("p8fs", key(i))).await?;
            Ok(())
        },
        async |i| {
            let k = key(i);
            let row =
                (format!("peer-{k}"), format!("c{}", k % 7), k as i64, format!("item number {k} of the benchmark"));
            peer_rows(Arc::new(vec![row])).await
        },
    )
    .await?;
    rows.push(Row::from(scale, "W12", "sqlite upsert", "rusqlite prepared upsert", &c, ops, ">= 0.95x", Some(0.95)));
    let n = scale.pick(1000, 20);
    let bops = scale.pick(6, 1);
    // Inputs built before timing on both sides (see W2).
    let batches: Vec<Vec<Map<String, Value>>> =
        (0..3).map(|k| (0..n).map(|j| item(&format!("pb{k}"), j)).collect()).collect();
    let peer_batches: Vec<Arc<Vec<PeerRow>>> = (0..3).map(|k| Arc::new(peer_inputs(&format!("rb{k}"), n))).collect();
    let c = compare(
        scale,
        bops,
        async |i| {
            store.batch_upsert(&items, TENANT, &batches[i % 3]).await?;
            Ok(())
        },
        async |i| peer_rows(Arc::clone(&peer_batches[i % 3])).await,
    )
    .await?;
    rows.push(Row::from(
        scale,
        "W12",
        &format!("sqlite batch x{n}"),
        "rusqlite prepared statement, one transaction",
        &c,
        bops,
        ">= 0.95x",
        Some(0.95),
    ));
    // Exact vector search.
    let vn = scale.pick(5000, 100);
    let data = vectors(vn, dim, 7);
    for chunk in (0..vn).collect::<Vec<_>>().chunks(500) {
        let ents: Vec<Map<String, Value>> =
            chunk.iter().map(|i| obj(json!({"name": format!("v{i}"), "content": "x"}))).collect();
        let embs: Vec<Vec<(String, Vec<f32>)>> =
            chunk.iter().map(|&i| vec![("content".to_owned(), data[i].clone())]).collect();
        store.batch_upsert_with_embeddings(&vmodel, TENANT, &ents, &embs).await?;
    }
    let queries = vectors(8, dim, 77);
    let exact = SearchOptions { limit: 10, mode: SearchMode::Exact, ..Default::default() };
    let sops = scale.pick(30, 2);
    let c = compare(
        scale,
        sops,
        async |i| {
            store.vector_similarity_search(&vmodel, TENANT, &queries[i % queries.len()], &exact).await?;
            Ok(())
        },
        async |i| {
            let q = queries[i % queries.len()].clone();
            let conn = Arc::clone(&conn);
            tokio::task::spawn_blocking(move || -> Result<()> {
                let c = conn.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                let mut st = c.prepare_cached(
                    "SELECT entity_id, field_name, embedding_vector FROM bench_vecs_embeddings WHERE tenant_id = ?1",
                )?;
                let mut hits: Vec<(f64, String)> = Vec::new();
                let mut rs = st.query([TENANT])?;
                while let Some(r) = rs.next()? {
                    let id: String = r.get(0)?;
                    let blob: Vec<u8> = r.get(2)?;
                    let v: Vec<f32> =
                        blob.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                    hits.push((cosine_distance(&q, &v), id));
                }
                hits.sort_by(|a, b| a.0.total_cmp(&b.0));
                hits.truncate(10);
                std::hint::black_box(hits);
                Ok(())
            })
            .await?
        },
    )
    .await?;
    rows.push(Row::from(
        scale,
        "W12",
        &format!("sqlite exact search {vn}x{dim}"),
        "rusqlite scan + distances in Rust",
        &c,
        sops,
        ">= 0.95x",
        Some(0.95),
    ));
    Ok(rows)
}
