//! The hand-written peers of W4-W6 (exact and index nearest-neighbour queries, the
//! two-step semantic search) and the engines' own timings and plans of them.

use anyhow::{Context, Result, ensure};
use p8fs_tidb::mysql_async::prelude::Queryable;

use super::{EMB_SCHEMA, Engine, Pool, TENANT};

pub(super) fn vec_text(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    format!("[{}]", parts.join(","))
}

/// The hand-written nearest-neighbour query: exact (`None`) or through the index with
/// `Some(candidates)`; returns (entity_id, distance) pairs.
pub(super) async fn peer_knn(e: &Engine, q: &[f32], candidates: Option<usize>) -> Result<Vec<(String, f64)>> {
    match &e.pool {
        Pool::Pg(p) => {
            let mut c = p.pool().get().await?;
            let v = pgvector::Vector::from(q.to_vec());
            match candidates {
                None => {
                    let stmt = c
                        .prepare_cached(
                            "SELECT entity_id, field_name, embedding_vector <=> $2 AS distance FROM p8fs_bench_e.bench_vecs_embeddings \
                             WHERE tenant_id = $1 ORDER BY distance LIMIT 10",
                        )
                        .await?;
                    let rows = c.query(&stmt, &[&TENANT, &v]).await?;
                    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, f64>(2))).collect())
                }
                Some(k) => {
                    let tx = c.transaction().await?;
                    tx.batch_execute(&format!(
                        "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order",
                        k.max(40)
                    ))
                    .await?;
                    let stmt = tx
                        .prepare_cached(
                            "SELECT entity_id, field_name, distance FROM (SELECT entity_id, field_name, tenant_id, embedding_vector <=> $2 AS distance \
                             FROM p8fs_bench_e.bench_vecs_embeddings ORDER BY distance LIMIT $3) knn WHERE tenant_id = $1 ORDER BY distance LIMIT 10",
                        )
                        .await?;
                    let rows = tx.query(&stmt, &[&TENANT, &v, &(k as i64)]).await?;
                    tx.commit().await?;
                    Ok(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, f64>(2))).collect())
                }
            }
        }
        Pool::My(p) => {
            let mut c = p.pool().get_conn().await?;
            let text = vec_text(q);
            let rows: Vec<(String, String, f64)> = match candidates {
                None => {
                    c.exec(
                        "SELECT entity_id, field_name, VEC_DISTANCE_COSINE(embedding_vector, VEC_FromText(?)) AS distance \
                         FROM p8fs_bench_e.bench_vecs_embeddings WHERE tenant_id = ? ORDER BY distance LIMIT 10",
                        (text, TENANT),
                    )
                    .await?
                }
                Some(k) => {
                    c.query_drop(format!("SET SESSION mhnsw_ef_search = {}", k.clamp(200, 10_000))).await?;
                    c.exec(
                        "SELECT entity_id, field_name, distance FROM (SELECT entity_id, field_name, tenant_id, \
                         VEC_DISTANCE_COSINE(embedding_vector, VEC_FromText(?)) AS distance FROM p8fs_bench_e.bench_vecs_embeddings \
                         ORDER BY distance LIMIT ?) knn WHERE tenant_id = ? ORDER BY distance LIMIT 10",
                        (text, k as u64, TENANT),
                    )
                    .await?
                }
            };
            Ok(rows.into_iter().map(|r| (r.0, r.2)).collect())
        }
    }
}

/// The two-step peer of W6: ANN on the embeddings, then the entities by primary key.
pub(super) async fn peer_two_step(e: &Engine, q: &[f32]) -> Result<()> {
    let hits = peer_knn(e, q, Some(40)).await?;
    let ids: Vec<String> = hits.into_iter().map(|h| h.0).collect();
    match &e.pool {
        Pool::Pg(p) => {
            let c = p.pool().get().await?;
            let stmt = c
                .prepare_cached("SELECT id, tenant_id, name, created_at, updated_at FROM p8fs_bench.bench_vecs WHERE tenant_id = $1 AND id = ANY($2)")
                .await?;
            let rows = c.query(&stmt, &[&TENANT, &ids]).await?;
            ensure!(rows.len() == ids.len(), "{} of {} entities", rows.len(), ids.len());
        }
        Pool::My(p) => {
            if ids.is_empty() {
                return Ok(());
            }
            let mut c = p.pool().get_conn().await?;
            let marks = vec!["?"; ids.len()].join(", ");
            let mut params: Vec<p8fs_tidb::mysql_async::Value> = vec![TENANT.into()];
            params.extend(ids.iter().map(|i| i.as_str().into()));
            let rows: Vec<(String, String, String, String, String)> = c
                .exec(
                    format!(
                        "SELECT id, tenant_id, name, CAST(created_at AS CHAR), CAST(updated_at AS CHAR) FROM p8fs_bench.bench_vecs \
                         WHERE tenant_id = ? AND id IN ({marks})"
                    ),
                    params,
                )
                .await?;
            ensure!(rows.len() == ids.len(), "{} of {} entities", rows.len(), ids.len());
        }
    }
    Ok(())
}

/// The engine's own execution time of a nearest-neighbour query, in ms (PostgreSQL
/// `EXPLAIN (ANALYZE, TIMING OFF)`, MariaDB `ANALYZE FORMAT=JSON`): through the index with
/// `candidates` and the settings p8fs uses for them, or exact (`None`). Median over the
/// queries given (each asked once, so no query finds its own pages already read).
pub(super) async fn server_ms(e: &Engine, queries: &[&[f32]], candidates: Option<usize>) -> Result<f64> {
    let (limit, tenant_inside) = match candidates {
        Some(c) => (c, String::new()),
        None => (10, format!("WHERE tenant_id = '{TENANT}'")),
    };
    let mut times = Vec::new();
    for q in queries {
        let text = vec_text(q);
        let (out, marker) = match &e.pool {
            Pool::Pg(p) => {
                let dist = match candidates {
                    Some(_) => format!("embedding_vector <=> '{text}'"),
                    None => format!("(embedding_vector <=> '{text}') + 0"),
                };
                let ef = limit.clamp(40, 1000);
                let sql = format!(
                    "BEGIN; SET LOCAL hnsw.ef_search = {ef}; SET LOCAL hnsw.iterative_scan = relaxed_order; \
                     EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) SELECT entity_id FROM (SELECT entity_id, tenant_id, \
                     {dist} AS distance FROM {EMB_SCHEMA}.bench_vecs_embeddings {tenant_inside} \
                     ORDER BY distance LIMIT {limit}) knn WHERE tenant_id = '{TENANT}'; COMMIT"
                );
                let c = p.pool().get().await?;
                let mut out = String::new();
                for m in c.simple_query(&sql).await? {
                    if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                        out.push_str(r.get(0).unwrap_or_default());
                    }
                }
                (out, "\"Execution Time\":")
            }
            Pool::My(p) => {
                let mut c = p.pool().get_conn().await?;
                c.query_drop(format!("SET SESSION mhnsw_ef_search = {}", limit.clamp(200, 10_000))).await?;
                // Parsed once, as p8fs binds its bytes once (a VEC_FromText in the query
                // would be evaluated per row).
                c.query_drop(format!("SET @p8fs_q = VEC_FromText('{text}')")).await?;
                let plus = if candidates.is_some() { "" } else { " + 0" };
                let sql = format!(
                    "ANALYZE FORMAT=JSON SELECT entity_id FROM (SELECT entity_id, tenant_id, \
                     VEC_DISTANCE_COSINE(embedding_vector, @p8fs_q){plus} AS distance \
                     FROM {EMB_SCHEMA}.bench_vecs_embeddings {tenant_inside} \
                     ORDER BY distance LIMIT {limit}) knn WHERE tenant_id = '{TENANT}'"
                );
                let rows: Vec<p8fs_tidb::mysql_async::Row> = c.query(&sql).await?;
                let out = rows
                    .into_iter()
                    .filter_map(|r| match r.as_ref(0) {
                        Some(p8fs_tidb::mysql_async::Value::Bytes(b)) => Some(String::from_utf8_lossy(b).into_owned()),
                        _ => None,
                    })
                    .collect::<String>();
                // The whole query's time is the first r_total_time_ms of the query block.
                let at = out.find("\"query_block\"").context("no query_block in ANALYZE output")?;
                (out[at..].to_owned(), "\"r_total_time_ms\":")
            }
        };
        let at = out.find(marker).with_context(|| format!("no {marker} in {out}"))?;
        let num: String =
            out[at + marker.len()..].trim_start().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        times.push(num.parse::<f64>().with_context(|| format!("execution time {num:?}"))?);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

pub(super) async fn explain_knn(e: &Engine, q: &[f32]) -> Result<String> {
    let text = vec_text(q);
    let sql = match e.pool {
        Pool::Pg(_) => format!(
            "EXPLAIN SELECT entity_id FROM (SELECT entity_id, tenant_id, embedding_vector <=> '{text}' AS distance \
             FROM p8fs_bench_e.bench_vecs_embeddings ORDER BY distance LIMIT 40) knn WHERE tenant_id = '{TENANT}'"
        ),
        Pool::My(_) => format!(
            "EXPLAIN SELECT entity_id FROM (SELECT entity_id, tenant_id, VEC_DISTANCE_COSINE(embedding_vector, VEC_FromText('{text}')) AS distance \
             FROM p8fs_bench_e.bench_vecs_embeddings ORDER BY distance LIMIT 40) knn WHERE tenant_id = '{TENANT}'"
        ),
    };
    Ok(e.raw_rows(&sql).await?.join(" / "))
}
