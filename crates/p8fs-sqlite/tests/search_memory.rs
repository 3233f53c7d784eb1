//! Vector search on SQLite holds each embeddings table once, in process (see
//! `p8fs_sqlite::VectorMemory`): the first search loads a tenant's ~60 MB of embeddings and
//! may grow the peak memory by about that much and no more (at most 1.5 times the vectors'
//! bytes), and every later search adds only its own distances (8 bytes a row), far less
//! than the embeddings' size. Before the in-process index, the SQL path kept the growth
//! under 30 MB but read every blob through SQLite on every search.
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

/// The most a later search may add to the peak resident memory.
const MAX_GROWTH_KB: u64 = 8 * 1024;

fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn vectors_are_held_once_and_a_later_search_adds_only_its_distances() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(SqliteProvider::open(SqliteConfig::File(dir.path().join("s.sqlite"))).await.unwrap());
    let db: Arc<dyn SqlExecutor> = Arc::clone(&provider) as Arc<dyn SqlExecutor>;
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
    // Peak memory from here on: the first search (the load) alone.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kb("VmHWM:");
    store.vector_similarity_search(&m, "t", &query, &opts).await.unwrap();
    let load = status_kb("VmHWM:").saturating_sub(before);
    let vectors_kb = (ROWS as u64 * u64::from(bytes)) / 1024;
    println!("first search over {} MB of embeddings: peak RSS grew {} MB", vectors_kb / 1024, load / 1024);
    assert!(load < vectors_kb * 3 / 2, "loading {} MB of vectors added {} MB", vectors_kb / 1024, load / 1024);
    let held = provider.vector_memory().unwrap();
    assert_eq!(held.rows, ROWS);
    assert!(held.exact_bytes as u64 / 1024 < vectors_kb * 5 / 4, "{held:?}");

    // A later search: its distances only.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kb("VmHWM:");
    let found = store.vector_similarity_search(&m, "t", &query, &opts).await.unwrap();
    let growth = status_kb("VmHWM:").saturating_sub(before);
    println!("a later search: peak RSS grew {} MB", growth / 1024);

    let mut want: Vec<String> = (1..=ROWS).map(|i| format!("e{i}")).collect();
    want.sort();
    want.truncate(10);
    let got: Vec<String> = found.hits.iter().map(|h| h.entity_id.clone()).collect();
    assert_eq!(got, want, "equal distances are ordered by entity id");
    assert!(found.hits.iter().all(|h| h.distance == 1.0) && found.exact);
    assert!(growth < MAX_GROWTH_KB, "the search added {} MB to the peak RSS", growth / 1024);
}
