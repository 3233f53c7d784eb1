//! An exact search on SQLite keeps only the best rows in memory: SQLite computes each
//! distance with p8fs's registered function, orders and keeps the top `limit`, so the peak
//! memory of a search over ~60 MB of a tenant's embeddings grows by far less than the
//! embeddings' size. (Reading every embedding into p8fs, as before, added ~70 MB here;
//! ~105 MB with 60,000 rows.)
//!
//! Alone in its test binary: it measures the process's peak resident memory (`VmHWM`, reset
//! through `/proc/self/clear_refs`), which other tests running at the same time would
//! disturb.

use std::sync::Arc;

use p8fs_entity::EntityStore;
use p8fs_sql_dialect::entity::knn::qualified;
use p8fs_sql_dialect::entity::{Layout, SearchOptions};
use p8fs_sql_dialect::model::{FieldType, Model};
use p8fs_sql_dialect::{Metric, SqlExecutor, Sqlite, Statement};
use p8fs_sqlite::{SqliteConfig, SqliteProvider};

const ROWS: usize = 40_000;
const DIM: u32 = 384;

/// The most a search may add to the peak resident memory.
const MAX_GROWTH_KB: u64 = 30 * 1024;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn exact_search_keeps_only_the_best_rows_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db: Arc<dyn SqlExecutor> =
        Arc::new(SqliteProvider::open(SqliteConfig::File(dir.path().join("s.sqlite"))).await.unwrap());
    let m =
        Model::builder("vecs").field("name", FieldType::Text).embedded("body", "t", DIM).key("name").build().unwrap();
    let store = EntityStore::new(Arc::clone(&db), Layout::default());
    store.migrate(&m).await.unwrap();
    // ROWS zero vectors (their cosine distance to anything is 1), written by SQLite itself.
    let table = qualified(&Sqlite, &Layout::default(), &m);
    let bytes = DIM * 4;
    db.execute(&Statement::raw(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS}) \
         INSERT INTO {table} (id, entity_id, field_name, embedding_provider, embedding_vector, vector_dimension, \
         tenant_id, created_at, updated_at) \
         SELECT 'id' || i, 'e' || i, 'body', 't', zeroblob({bytes}), {DIM}, 't', 'now', 'now' FROM n"
    )))
    .await
    .unwrap();

    let query: Vec<f32> = (0..DIM).map(|i| i as f32 - 191.5).collect();
    let opts = SearchOptions { metric: Metric::Cosine, limit: 10, ..Default::default() };
    // Peak memory from here on: the search alone.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kb("VmHWM:");
    let found = store.vector_similarity_search(&m, "t", &query, &opts).await.unwrap();
    let growth = status_kb("VmHWM:").saturating_sub(before);
    println!("search over {} MB of embeddings: peak RSS grew {} MB", (ROWS * bytes as usize) >> 20, growth / 1024);

    let mut want: Vec<String> = (1..=ROWS).map(|i| format!("e{i}")).collect();
    want.sort();
    want.truncate(10);
    let got: Vec<String> = found.hits.iter().map(|h| h.entity_id.clone()).collect();
    assert_eq!(got, want, "equal distances are ordered by entity id");
    assert!(found.hits.iter().all(|h| h.distance == 1.0) && found.exact);
    assert!(growth < MAX_GROWTH_KB, "the search added {} MB to the peak RSS", growth / 1024);
}
