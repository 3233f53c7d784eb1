//! W14: the embedded default's vector search at scale, against the systems a user would
//! pick instead, on the same vectors, queries and tenant filter in the same run: brute
//! force in numpy (the memory-bandwidth bound of exact search) and LanceDB with and without
//! its IVF_HNSW_SQ index (`bench/peers/vector_peers.py`, in the Python of
//! `P8FS_BENCH_PYTHON`).
//!
//! One SQLite file per size; 90% of the rows belong to the searched tenant, 10% to
//! another. Ingest is `batch_upsert_with_embeddings` of precomputed vectors (1,000 entities
//! per call). The first exact search loads the tenant into memory, the first approximate
//! one builds its HNSW index; both are timed and reported, not hidden in a warm-up.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use p8fs_entity::EntityStore;
use p8fs_sql_dialect::SqlExecutor;
use p8fs_sql_dialect::entity::{Layout, SearchMode, SearchOptions};
use p8fs_sqlite::{SqliteConfig, SqliteProvider};
use serde_json::{Map, Value, json};

use super::obj;
use super::vector_data::{vecs_model, vectors};
use crate::Env;
use crate::harness::{Comparison, Row, Scale, Side};

const DIM: usize = 384;
const K: usize = 10;
const TENANT: &str = "t";

/// One system's answer from the peer script.
#[derive(Debug, serde::Deserialize)]
struct PeerResult {
    latencies_us: Vec<f64>,
    round_ops_per_s: Vec<f64>,
    recall: f64,
    build_s: f64,
    /// LanceDB: seconds to load every row (one Arrow table, no index).
    #[serde(default)]
    ingest_s: f64,
}

/// The goals for the embedded index (on this 2-core machine, up to 1M rows).
const ANN_P50_MS: f64 = 10.0;
const ANN_RECALL: f64 = 0.95;
const INGEST_PER_S: f64 = 10_000.0;

fn side(latencies_us: &[f64], rounds: &[f64]) -> Side {
    Side {
        latencies: latencies_us.iter().map(|u| Duration::from_secs_f64(u / 1e6)).collect(),
        round_ops_per_s: rounds.to_vec(),
    }
}

fn write_f32(path: &Path, rows: &[Vec<f32>]) -> Result<()> {
    let mut bytes = Vec::with_capacity(rows.len() * DIM * 4);
    for r in rows {
        for x in r {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// p8fs's timed searches: `rounds` rounds of every query; per-query latencies, each
/// round's queries per second, and the answers of the first round (row numbers).
async fn p8fs_rounds(
    store: &EntityStore,
    m: &p8fs_sql_dialect::model::Model,
    queries: &[Vec<f32>],
    opts: &SearchOptions,
    rounds: usize,
    row_of: &HashMap<String, usize>,
) -> Result<(Side, Vec<Vec<usize>>, bool)> {
    let mut s = Side::default();
    let mut answers = Vec::new();
    let mut exact = true;
    for r in 0..rounds {
        let start = Instant::now();
        for q in queries {
            let t = Instant::now();
            let found = store.vector_similarity_search(m, TENANT, q, opts).await?;
            s.latencies.push(t.elapsed());
            exact &= found.exact;
            if r == 0 {
                answers.push(found.hits.iter().filter_map(|h| row_of.get(&h.entity_id).copied()).collect());
            }
        }
        s.round_ops_per_s.push(queries.len() as f64 / start.elapsed().as_secs_f64().max(1e-9));
    }
    Ok((s, answers, exact))
}

fn recall(got: &[Vec<usize>], truth: &[Vec<usize>]) -> f64 {
    let (mut found, mut wanted) = (0usize, 0usize);
    for (g, t) in got.iter().zip(truth) {
        found += g.iter().filter(|x| t.contains(x)).count();
        wanted += t.len();
    }
    found as f64 / wanted.max(1) as f64
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// W14 at each size (rows in all tenants).
pub(crate) async fn w14_scale(env: &Env, scale: Scale, sizes: &[usize]) -> Result<Vec<Row>> {
    let python = std::env::var("P8FS_BENCH_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .context("P8FS_BENCH_PYTHON is not set (cargo xtask bench makes the peers' virtualenv and sets it)")?;
    let script = std::env::current_dir()?.join("bench/peers/vector_peers.py");
    ensure!(script.exists(), "{} is missing", script.display());
    let mut rows = Vec::new();
    for &n in sizes {
        rows.extend(one_size(env, scale, n, &python, &script).await.with_context(|| format!("W14 at {n} rows"))?);
    }
    Ok(rows)
}

async fn one_size(env: &Env, scale: Scale, n: usize, python: &str, script: &Path) -> Result<Vec<Row>> {
    let label = if n >= 1_000_000 { format!("{}M", n / 1_000_000) } else { format!("{}k", n / 1000) };
    let nq = scale.pick(100, 10);
    let data = vectors(n, DIM, 14);
    let queries = vectors(nq, DIM, 1414);
    let in_tenant = |i: usize| !i.is_multiple_of(10);
    let dir = env.scratch.join(format!("w14-{n}"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("w14.sqlite");
    let provider = Arc::new(SqliteProvider::open(SqliteConfig::File(path.clone())).await?);
    let store = EntityStore::new(Arc::clone(&provider) as Arc<dyn SqlExecutor>, Layout::default());
    let m = vecs_model(DIM as u32)?;
    store.migrate(&m).await?;

    // Ingest: precomputed vectors, 1,000 entities a call, both tenants.
    let rss0 = rss_mb();
    let t = Instant::now();
    let mut row_of: HashMap<String, usize> = HashMap::with_capacity(n);
    let all: Vec<usize> = (0..n).collect();
    for chunk in all.chunks(1000) {
        for tenant in [TENANT, "other"] {
            let mine: Vec<usize> = chunk.iter().copied().filter(|i| in_tenant(*i) == (tenant == TENANT)).collect();
            if mine.is_empty() {
                continue;
            }
            let ents: Vec<Map<String, Value>> =
                mine.iter().map(|i| obj(json!({"name": format!("v{i}"), "content": "x"}))).collect();
            let embs: Vec<Vec<(String, Vec<f32>)>> =
                mine.iter().map(|&i| vec![("content".to_owned(), data[i].clone())]).collect();
            let r = store.batch_upsert_with_embeddings(&m, tenant, &ents, &embs).await?;
            for (id, i) in r.ids.into_iter().zip(&mine) {
                row_of.insert(id, *i);
            }
        }
    }
    let ingest_s = t.elapsed().as_secs_f64();
    let disk_mb = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
        + std::fs::metadata(dir.join("w14.sqlite-wal")).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;

    // The first exact search loads the tenant; the first approximate one builds the index.
    let exact = SearchOptions { limit: K, mode: SearchMode::Exact, ..Default::default() };
    let approx = SearchOptions { limit: K, mode: SearchMode::Approximate, ..Default::default() };
    let t = Instant::now();
    store.vector_similarity_search(&m, TENANT, &queries[0], &exact).await?;
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    store.vector_similarity_search(&m, TENANT, &queries[0], &approx).await?;
    let build_s = t.elapsed().as_secs_f64();
    let mem = provider.vector_memory()?;
    let rss = rss_mb() - rss0;

    let rounds = scale.rounds;
    let (exact_side, truth, all_exact) = p8fs_rounds(&store, &m, &queries, &exact, rounds, &row_of).await?;
    ensure!(all_exact, "an exact search reported approximate");
    let (ann_side, ann_answers, ann_exact) = p8fs_rounds(&store, &m, &queries, &approx, rounds, &row_of).await?;
    let ann_recall = recall(&ann_answers, &truth);

    // The peers, on the same vectors, queries and tenant; truth is p8fs's exact answer.
    let peer_dir = dir.join("peers");
    std::fs::create_dir_all(&peer_dir)?;
    write_f32(&peer_dir.join("vectors.f32"), &data)?;
    write_f32(&peer_dir.join("queries.f32"), &queries)?;
    std::fs::write(peer_dir.join("tenant.u8"), (0..n).map(|i| u8::from(in_tenant(i))).collect::<Vec<u8>>())?;
    std::fs::write(peer_dir.join("truth.json"), serde_json::to_vec(&truth)?)?;
    std::fs::write(
        peer_dir.join("meta.json"),
        serde_json::to_vec(&json!({"n": n, "dim": DIM, "queries": nq, "k": K, "rounds": rounds}))?,
    )?;
    drop(data);
    let out = tokio::task::spawn_blocking({
        let (python, script, peer_dir) = (python.to_owned(), script.to_owned(), peer_dir.clone());
        move || Command::new(python).arg(script).arg(peer_dir).output()
    })
    .await?
    .context("starting the peers' Python")?;
    if !out.status.success() {
        bail!("the peers failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    let peers: HashMap<String, PeerResult> =
        serde_json::from_slice(&out.stdout).context("reading the peers' answer")?;
    std::fs::remove_dir_all(&dir).ok();

    let get = |k: &str| peers.get(k).with_context(|| format!("the peers gave no {k} result"));
    let mut rows = Vec::new();
    let figures = [
        ("rows", n as f64),
        ("ingest_per_s", n as f64 / ingest_s),
        ("disk_mb", disk_mb),
        ("load_s", load_s),
        ("build_s", build_s),
        ("vectors_mb", mem.exact_bytes as f64 / 1e6),
        ("index_mb", mem.index_bytes as f64 / 1e6),
        ("rss_mb", rss),
    ];
    let notes = |row: Row| {
        row.metrics(&figures).note(format!(
            "{n} rows x {DIM} (90% in the tenant); ingest {:.0} entities/s ({ingest_s:.1} s), SQLite file {disk_mb:.0} MB",
            n as f64 / ingest_s
        ))
        .note(format!(
            "first exact search (load) {:.2} s; first approximate search (HNSW build) {build_s:.2} s; held: {:.0} MB of \
             vectors, {:.0} MB of index, RSS grew {rss:.0} MB",
            load_s,
            mem.exact_bytes as f64 / 1e6,
            mem.index_bytes as f64 / 1e6
        ))
    };

    let np = get("numpy")?;
    let c = Comparison { a: exact_side.clone(), b: side(&np.latencies_us, &np.round_ops_per_s) };
    rows.push(
        notes(Row::from(
            scale,
            "W14",
            &format!("embedded exact {label}"),
            "numpy brute force (normalised float32 matrix, argpartition)",
            &c,
            nq,
            ">= 0.33x",
            Some(0.33),
        ))
        .metrics(&[("recall", 1.0), ("peer_recall", np.recall)]),
    );
    let flat = get("lancedb-flat")?;
    let c = Comparison { a: exact_side, b: side(&flat.latencies_us, &flat.round_ops_per_s) };
    rows.push(
        Row::from(
            scale,
            "W14",
            &format!("embedded exact {label}"),
            "LanceDB, no vector index, tenant prefilter",
            &c,
            nq,
            ">= 1.0x",
            Some(1.0),
        )
        .metrics(&[("rows", n as f64), ("recall", 1.0), ("peer_recall", flat.recall)]),
    );
    let hnsw = get("lancedb-hnsw")?;
    let ann_p50_ms = ann_side.percentile_us(0.5) / 1000.0;
    let c = Comparison { a: ann_side, b: side(&hnsw.latencies_us, &hnsw.round_ops_per_s) };
    let index_used = !ann_exact || n < p8fs_sqlite::DEFAULT_ANN_MIN_ROWS * 10 / 9;
    rows.push(
        Row::from(
            scale,
            "W14",
            &format!("embedded approximate {label}"),
            "LanceDB IVF_HNSW_SQ + bitmap tenant index, prefilter",
            &c,
            nq,
            ">= 1.0x at >= its recall",
            Some(1.0),
        )
        .note(format!(
            "recall@10 p8fs {ann_recall:.3} ({}), LanceDB {:.3}; index build p8fs {build_s:.1} s, LanceDB {:.1} s",
            if ann_exact { "searched exactly: the tenant is under the index threshold" } else { "HNSW" },
            hnsw.recall,
            hnsw.build_s
        ))
        .metrics(&[
            ("rows", n as f64),
            ("recall", ann_recall),
            ("peer_recall", hnsw.recall),
            ("build_s", build_s),
            ("peer_build_s", hnsw.build_s),
            ("exact", f64::from(u8::from(ann_exact))),
        ])
        .fail_unless(
            ann_recall + 0.005 >= hnsw.recall,
            format!("recall {ann_recall:.3} < LanceDB's {:.3}", hnsw.recall),
        )
        .fail_unless(index_used, "a tenant over the threshold was searched without the index")
        .fail_unless(
            scale.smoke || (ann_recall >= ANN_RECALL && ann_p50_ms <= ANN_P50_MS),
            format!(
                "the absolute goal is p50 <= {ANN_P50_MS} ms at recall@10 >= {ANN_RECALL}; measured p50 \
                 {ann_p50_ms:.2} ms at recall@10 {ann_recall:.3}"
            ),
        ),
    );
    // Ingest against the absolute goal (there is no like-for-like peer: LanceDB's figure
    // is one bulk Arrow load with no keys, JSON or transactions, reported for scale).
    let rate = n as f64 / ingest_s;
    let goal_side = Side { latencies: Vec::new(), round_ops_per_s: vec![INGEST_PER_S] };
    let c = Comparison { a: Side { latencies: Vec::new(), round_ops_per_s: vec![rate] }, b: goal_side };
    rows.push(
        Row::from(
            scale,
            "W14",
            &format!("embedded ingest {label}"),
            "the goal: 10,000 entities/s with precomputed embeddings",
            &c,
            n,
            ">= 1.0x (10,000 entities/s)",
            Some(1.0),
        )
        .note(format!(
            "{rate:.0} entities/s: batch_upsert_with_embeddings of 1,000 entities a call (entity row, embedding \
             row, index log entry each) into one SQLite file; LanceDB's bulk load of the same vectors: {:.0} rows/s",
            if hnsw.ingest_s > 0.0 { n as f64 / hnsw.ingest_s } else { 0.0 }
        ))
        .metrics(&[("rows", n as f64), ("ingest_per_s", rate)]),
    );
    Ok(rows)
}
