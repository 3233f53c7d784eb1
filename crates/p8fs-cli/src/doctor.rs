//! `p8fs doctor`: what is configured, whether it answers, and whether it can store what
//! p8fs needs: the SQL provider (version, a JSON and vector round trip, vector indexes,
//! TiFlash replicas on TiDB) and the KV backend (a put, get and delete of a probe key of
//! its own in the global namespace, so no tenant's keys are touched).
//!
//! Every check runs even when an earlier one failed; the exit status is 3 when any failed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, ensure};
use p8fs_core::entity::EntityStore;
use p8fs_core::kv_layer::Kv;
use p8fs_core::sql::SqlExecutor;
use p8fs_core::sql::entity::Layout;
use p8fs_core::sql::model::Model;
use p8fs_core::sql::probe::ProbeTable;
use p8fs_core::sql::{Flavor, SqlValue, Statement};
use serde_json::{Value, json};

use crate::cmds::settings;
use crate::output::{Align, Style, Table};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    /// Works, but something a production deployment wants is absent.
    Warn,
    Failed,
    /// Not applicable on this engine.
    Info,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "missing",
            Status::Failed => "failed",
            Status::Info => "-",
        }
    }
}

struct Check {
    area: &'static str,
    what: String,
    status: Status,
    detail: String,
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
}

impl Report {
    fn add(&mut self, area: &'static str, what: impl Into<String>, status: Status, detail: impl Into<String>) {
        self.checks.push(Check { area, what: what.into(), status, detail: detail.into() });
    }
}

fn ms_since(t: Instant) -> String {
    format!("{:.1} ms", t.elapsed().as_secs_f64() * 1e3)
}

pub(crate) async fn run(data_dir: &Path, as_json: bool) -> Result<()> {
    let settings = settings(data_dir)?;
    let mut r = Report::default();

    // SQL provider.
    r.add("sql", "provider", Status::Info, settings.sql.describe());
    let t = Instant::now();
    match p8fs_core::connect_sql_with(&settings.sql, &settings.sql_timeouts).await {
        Err(e) => r.add("sql", "reachable", Status::Failed, format!("{e}")),
        Ok(db) => {
            r.add("sql", "reachable", Status::Ok, ms_since(t));
            sql_checks(&db, &mut r).await;
        }
    }

    // KV backend.
    r.add("kv", "backend", Status::Info, settings.kv.describe());
    let t = Instant::now();
    match p8fs_core::connect_kv(&settings.kv).await {
        Err(e) => r.add("kv", "reachable", Status::Failed, format!("{e}")),
        Ok(kv) => {
            r.add("kv", "reachable", Status::Ok, ms_since(t));
            let cap = kv.capability();
            r.add(
                "kv",
                "capabilities",
                Status::Info,
                format!(
                    "{}: ttl {}, compare-and-swap {}, atomic batches {}, max batch {}",
                    kv.name(),
                    yes(cap.ttl),
                    yes(cap.cas),
                    yes(cap.atomic_batch),
                    cap.max_batch
                ),
            );
            let t = Instant::now();
            match kv_round_trip(Kv::new(kv)).await {
                Ok(()) => r.add("kv", "put, get, delete", Status::Ok, ms_since(t)),
                Err(e) => r.add("kv", "put, get, delete", Status::Failed, format!("{e:#}")),
            }
        }
    }

    let failed = r.checks.iter().filter(|c| c.status == Status::Failed).count();
    if as_json {
        let checks: Vec<Value> = r
            .checks
            .iter()
            .map(|c| json!({"area": c.area, "check": c.what, "status": c.status.name(), "detail": c.detail}))
            .collect();
        println!("{}", json!({"ok": failed == 0, "checks": checks}));
    } else {
        let style = Style::detect();
        let mut t = Table::new(&[
            ("area", Align::Left),
            ("check", Align::Left),
            ("status", Align::Left),
            ("detail", Align::Left),
        ]);
        for c in &r.checks {
            let status = match c.status {
                Status::Ok => style.green(c.status.name()),
                Status::Warn => style.yellow(c.status.name()),
                Status::Failed => style.red(c.status.name()),
                Status::Info => style.dim(c.status.name()),
            };
            t.row(vec![c.area.to_owned(), c.what.clone(), status, c.detail.clone()]);
        }
        println!("{}", t.render(style));
    }
    if failed > 0 {
        return Err(anyhow!("{failed} check(s) failed; see the table above (or the JSON) for which"));
    }
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

async fn sql_checks(db: &Arc<dyn SqlExecutor>, r: &mut Report) {
    let mut flavor = None;
    match db.server_info().await {
        Ok(info) => {
            flavor = Some(info.flavor);
            r.add(
                "sql",
                "server",
                Status::Info,
                format!(
                    "{} {}.{}.{} ({})",
                    info.flavor.name(),
                    info.version.0,
                    info.version.1,
                    info.version.2,
                    info.version_text
                ),
            );
        }
        Err(e) => r.add("sql", "server", Status::Failed, format!("{e}")),
    }
    let d = db.dialect();
    r.add("sql", "dialect", Status::Info, d.kind().name());
    let t = Instant::now();
    match probe_round_trip(db).await {
        Ok(()) => r.add("sql", "JSON + vector round trip", Status::Ok, ms_since(t)),
        Err(e) => r.add("sql", "JSON + vector round trip", Status::Failed, format!("{e:#}")),
    }
    r.add("sql", "vector search", Status::Info, d.vector_search_summary());
    // Per core model with embeddings: its tables, vector indexes, TiFlash replicas.
    let store = EntityStore::new(Arc::clone(db), Layout::default());
    for model in p8fs_core::sql::model::core_models().into_iter().filter(|m| m.embedding().is_some()) {
        let name = model.name().to_owned();
        match store.table_exists(&model).await {
            Ok(false) => {
                r.add("sql", format!("{name} table"), Status::Warn, "not created; run `p8fs migrate`");
                continue;
            }
            Err(e) => {
                r.add("sql", format!("{name} table"), Status::Failed, format!("{e}"));
                continue;
            }
            Ok(true) => r.add("sql", format!("{name} table"), Status::Ok, "exists"),
        }
        if d.has_vector_index() {
            match store.vector_indexes(&model).await {
                Ok(m) if m.is_empty() => r.add(
                    "sql",
                    format!("{name} vector index"),
                    Status::Warn,
                    "none: searches are exact (fine for small tables); see docs/providers.md",
                ),
                Ok(m) => {
                    r.add(
                        "sql",
                        format!("{name} vector index"),
                        Status::Ok,
                        m.iter().map(|x| x.name()).collect::<Vec<_>>().join(", "),
                    );
                    if flavor == Some(Flavor::MariaDb) {
                        mariadb_index_cache(db, store.layout(), &model, r).await;
                    }
                    if flavor == Some(Flavor::Postgres) {
                        postgres_index_buffers(db, store.layout(), &model, r).await;
                    }
                }
                Err(e) => r.add("sql", format!("{name} vector index"), Status::Failed, format!("{e}")),
            }
        }
        let layout = store.layout();
        let (schema, emb_schema) = (layout.schema(d), layout.embeddings_schema(d));
        for (schema, table) in [(schema, model.name().to_owned()), (emb_schema, model.embeddings_table())] {
            let Some(stmt) = d.replica_status_query(schema, &table) else { continue };
            match db.query(&stmt).await {
                Ok(rows) if rows.is_empty() => r.add(
                    "sql",
                    format!("{table} TiFlash replica"),
                    Status::Warn,
                    "none: vector indexes and analytics need one",
                ),
                Ok(rows) => {
                    let cells: Vec<String> = rows[0]
                        .iter()
                        .map(|v| v.clone().into_json().map_or_else(|_| v.kind_name().to_owned(), |j| j.to_string()))
                        .collect();
                    let detail = format!("replicas, available, progress: {}", cells.join(", "));
                    r.add("sql", format!("{table} TiFlash replica"), Status::Ok, detail);
                }
                Err(e) => r.add("sql", format!("{table} TiFlash replica"), Status::Failed, format!("{e}")),
            }
        }
    }
}

/// Bytes MariaDB's index cache holds per row, besides the vector's two bytes a dimension
/// (vectors are kept as 16-bit integers): the neighbour lists of an M=16 graph and the
/// node's bookkeeping, rounded up.
const MARIADB_NODE_OVERHEAD: u64 = 256;

/// MariaDB keeps a vector index's graph in a cache bounded by `mhnsw_max_cache_size`
/// (16 MB unless set). Measured on MariaDB 11.8 at 20,000 x 768: with the index larger
/// than the cache, the build took 103 s instead of 17 s and recall@10 fell from 1.00 to
/// 0.74, whatever the search width (docs/benchmark-profiles.md, W5). So the table's size
/// is compared with the cache; the row count is the engine's estimate.
async fn mariadb_index_cache(db: &Arc<dyn SqlExecutor>, layout: &Layout, model: &Model, r: &mut Report) {
    let d = db.dialect();
    let table = model.embeddings_table();
    let dim = model.embedding().map_or(0, |e| u64::from(e.dim));
    let stmt = Statement {
        sql: "SELECT @@mhnsw_max_cache_size, (SELECT TABLE_ROWS FROM information_schema.TABLES \
              WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?)"
            .to_owned(),
        values: vec![
            p8fs_core::sql::sea_query::Value::String(layout.embeddings_schema(d).map(str::to_owned)),
            p8fs_core::sql::sea_query::Value::String(Some(table.clone())),
        ],
    };
    let what = format!("{table} MariaDB index cache");
    match db.query(&stmt).await {
        Ok(rows) => {
            let row = rows.first();
            let (Some(cache), rows) =
                (as_u64(row.and_then(|c| c.first())), as_u64(row.and_then(|c| c.get(1))).unwrap_or(0))
            else {
                r.add("sql", what, Status::Warn, "mhnsw_max_cache_size could not be read");
                return;
            };
            let (status, detail) = cache_verdict(cache, rows, dim);
            r.add("sql", what, status, detail);
        }
        Err(e) => r.add("sql", what, Status::Failed, format!("{e}")),
    }
}

/// A non-negative integer cell, as the engine returns it (integer, decimal text or float).
fn as_u64(v: Option<&SqlValue>) -> Option<u64> {
    match v {
        Some(SqlValue::Int(i)) => u64::try_from(*i).ok(),
        Some(SqlValue::Text(t)) => t.trim().parse().ok(),
        Some(SqlValue::Float(f)) if *f >= 0.0 => Some(*f as u64),
        _ => None,
    }
}

/// PostgreSQL reads a vector index through its shared buffers; pages outside them come
/// from the operating system's cache, a copy each. Measured at 100,000 x 768 (an HNSW index
/// of 391 MB, searches between exact scans of the same table): with 128 MB of buffers each
/// search read ~3,000 pages from outside and took 12-18 ms; with 1 GB it read none and took
/// ~6 ms (docs/benchmark-profiles.md, W5). So the indexes' size is compared with
/// `shared_buffers`.
async fn postgres_index_buffers(db: &Arc<dyn SqlExecutor>, layout: &Layout, model: &Model, r: &mut Report) {
    let d = db.dialect();
    let table = model.embeddings_table();
    let qualified = d.qualified(layout.embeddings_schema(d), &table);
    let stmt = Statement {
        sql: "SELECT pg_size_bytes(current_setting('shared_buffers')), COALESCE((SELECT SUM(pg_relation_size(i.indexrelid)) \
              FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
              JOIN pg_catalog.pg_am a ON a.oid = c.relam \
              WHERE i.indrelid = to_regclass($1) AND a.amname IN ('hnsw', 'ivfflat')), 0)::bigint"
            .to_owned(),
        values: vec![p8fs_core::sql::sea_query::Value::String(Some(qualified))],
    };
    let what = format!("{table} PostgreSQL shared buffers");
    match db.query(&stmt).await {
        Ok(rows) => {
            let row = rows.first();
            let (Some(buffers), Some(index)) =
                (as_u64(row.and_then(|c| c.first())), as_u64(row.and_then(|c| c.get(1))))
            else {
                r.add("sql", what, Status::Warn, "shared_buffers or the index size could not be read");
                return;
            };
            let (status, detail) = buffers_verdict(buffers, index);
            r.add("sql", what, status, detail);
        }
        Err(e) => r.add("sql", what, Status::Failed, format!("{e}")),
    }
}

/// Whether `buffers` bytes of PostgreSQL shared buffers hold vector indexes of `index`
/// bytes, and the line that says so.
fn buffers_verdict(buffers: u64, index: u64) -> (Status, String) {
    let mb = |b: u64| b.div_ceil(1 << 20);
    if index > buffers {
        let detail = format!(
            "shared_buffers is {} MB but the vector indexes take {} MB: searches read index pages from \
             outside the buffers (measured 12-18 ms instead of ~6 ms a search); raise shared_buffers \
             (docs/operations.md, PostgreSQL)",
            mb(buffers),
            mb(index)
        );
        (Status::Warn, detail)
    } else {
        (Status::Ok, format!("shared_buffers {} MB holds the vector indexes ({} MB)", mb(buffers), mb(index)))
    }
}

/// Whether MariaDB's index cache of `cache` bytes holds the index of `rows` vectors of
/// `dim` dimensions, and the line that says so.
fn cache_verdict(cache: u64, rows: u64, dim: u64) -> (Status, String) {
    let need = rows.saturating_mul(2 * dim + MARIADB_NODE_OVERHEAD);
    let mb = |b: u64| b.div_ceil(1 << 20);
    if need > cache {
        let detail = format!(
            "mhnsw_max_cache_size is {} MB but the index of ~{rows} rows needs about {} MB: builds slow \
             down and recall drops (measured 0.74 instead of 1.00); raise it (docs/operations.md, MariaDB)",
            mb(cache),
            mb(need)
        );
        (Status::Warn, detail)
    } else {
        (Status::Ok, format!("mhnsw_max_cache_size {} MB holds the index (~{} MB)", mb(cache), mb(need)))
    }
}

/// A JSON and vector round trip through a throwaway table.
async fn probe_round_trip(db: &Arc<dyn SqlExecutor>) -> Result<()> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let table = ProbeTable::new(&format!("doctor_{}_{nanos}", std::process::id()))?;
    let doc = json!({"name": "doctor", "tags": ["a", "b"], "nested": {"ok": true}});
    let vector = [0.25_f32, -0.5, 0.125];
    let d = db.dialect();
    db.execute(&table.create(d)).await?;
    let round_trip = async {
        db.execute(&table.insert(d, "probe", &doc, &vector)?).await?;
        let rows = db.query(&table.select(d, "probe")).await?;
        let row = ProbeTable::decode(rows.into_iter().next().context("the probe row was not read back")?)?;
        ensure!(row.doc == doc && row.embedding == vector, "the probe row changed in the round trip: {row:?}");
        anyhow::Ok(())
    }
    .await;
    db.execute(&table.drop(d)).await?;
    round_trip
}

/// A put, get and delete of one key of its own in the global namespace
/// (`p8fs-doctor-probe:{pid}-{nanos}`): no tenant can see it, and no tenant's keys, a
/// tenant named `p8fs-doctor` included, can be overwritten or deleted by it. The key is
/// deleted even when a step after the put fails.
async fn kv_round_trip(kv: Kv) -> Result<()> {
    let g = kv.global();
    let key = probe_key();
    let steps = async {
        g.put(&key, b"doctor", None).await?;
        let back = g.get(&key).await?;
        g.delete(&key).await?;
        ensure!(back.as_deref() == Some(&b"doctor"[..]), "read back {back:?}");
        ensure!(g.get(&key).await?.is_none(), "the key survived its delete");
        anyhow::Ok(())
    }
    .await;
    if steps.is_err() {
        // Best effort: the step that failed may have been the delete itself.
        let _ = g.delete(&key).await;
    }
    steps
}

/// A global key no other process or run uses.
fn probe_key() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("p8fs-doctor-probe:{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::{Status, buffers_verdict, cache_verdict};

    #[test]
    fn postgres_buffers_smaller_than_the_indexes_are_a_warning() {
        // The measured case: a 391 MB index against 128 MB of buffers, then 1 GB.
        let (status, detail) = buffers_verdict(128 << 20, 391 << 20);
        assert_eq!(status, Status::Warn, "{detail}");
        assert!(detail.contains("128 MB") && detail.contains("391 MB"), "{detail}");
        assert_eq!(buffers_verdict(1 << 30, 391 << 20).0, Status::Ok);
        assert_eq!(buffers_verdict(1 << 30, 0).0, Status::Ok);
    }

    #[test]
    fn mariadb_cache_smaller_than_the_index_is_a_warning() {
        // The measured case: 20,000 x 768 against the 16 MB default.
        let (status, detail) = cache_verdict(16 << 20, 20_000, 768);
        assert_eq!(status, Status::Warn, "{detail}");
        assert!(detail.contains("16 MB") && detail.contains("35 MB"), "{detail}");
        // The same index in the 1 GB the test servers are given.
        assert_eq!(cache_verdict(1 << 30, 20_000, 768).0, Status::Ok);
        // An empty table fits any cache; a huge estimate does not overflow.
        assert_eq!(cache_verdict(1 << 20, 0, 768).0, Status::Ok);
        assert_eq!(cache_verdict(u64::MAX - 1, u64::MAX, 768).0, Status::Warn);
    }
}
