//! Crash safety of the embedded default's vector search: a child process writes batches of
//! entities with embeddings (and deletes some, and searches, so its in-process index and
//! the trigger log are busy) and is killed with SIGKILL mid-stream, three times over on one
//! file. Afterwards every acknowledged batch is there whole, no batch is there in part, and
//! both a fresh process's search and that of a reader that followed the log across the
//! crashes equal a brute-force ranking of what SQLite holds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p8fs_entity::{EntityEmbeddings, EntityStore};
use p8fs_sql_dialect::entity::knn::qualified;
use p8fs_sql_dialect::entity::{Layout, SearchMode, SearchOptions};
use p8fs_sql_dialect::model::{FieldType, Model};
use p8fs_sql_dialect::{Metric, SqlExecutor, SqlValue, Sqlite, Statement};
use p8fs_sqlite::{SqliteConfig, SqliteProvider};
use serde_json::{Map, Value, json};

const CHILD_ENV: &str = "P8FS_VECTOR_CRASH_CHILD";
const BATCH: usize = 50;
const DIM: usize = 8;

fn model() -> Model {
    Model::builder("crashdocs")
        .field("name", FieldType::Text)
        .embedded("body", "t", DIM as u32)
        .key("name")
        .build()
        .unwrap()
}

/// A distinct vector per (batch, row).
fn vector(batch: usize, j: usize) -> Vec<f32> {
    (0..DIM).map(|d| (((batch * 131 + j * 17 + d * 7) % 97) as f32 - 48.0) / 48.0 + d as f32 * 0.01).collect()
}

async fn open(path: &str) -> (Arc<SqliteProvider>, EntityStore) {
    let p = Arc::new(SqliteProvider::open(SqliteConfig::File(path.into())).await.unwrap());
    let store = EntityStore::new(Arc::clone(&p) as Arc<dyn SqlExecutor>, Layout::default());
    (p, store)
}

/// The child: from batch `start` on, writes batch after batch (one transaction each),
/// printing `ack {batch}` after each commit; every third batch also deletes one entity of
/// the batch before it and searches.
#[tokio::test(flavor = "current_thread")]
async fn crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let (path, start) = spec.split_once('|').unwrap();
    let start: usize = start.parse().unwrap();
    let (db, store) = open(path).await;
    db.set_ann_min_rows(100);
    let m = model();
    store.migrate(&m).await.unwrap();
    for b in start.. {
        let ents: Vec<Map<String, Value>> =
            (0..BATCH).map(|j| json!({"name": format!("b{b}-{j}")}).as_object().cloned().unwrap()).collect();
        let embs: Vec<EntityEmbeddings> = (0..BATCH).map(|j| vec![("body".to_owned(), vector(b, j))]).collect();
        store.batch_upsert_with_embeddings(&m, "t", &ents, &embs).await.unwrap();
        println!("ack {b}");
        if b % 3 == 0 && b > start {
            let prev = store.get_by_key(&m, "t", &format!("b{}-0", b - 1)).await.unwrap();
            if let Some(e) = prev {
                store.delete(&m, "t", e["id"].as_str().unwrap()).await.unwrap();
                println!("deleted {}", b - 1);
            }
            let opts = SearchOptions { mode: SearchMode::Approximate, ..Default::default() };
            store.vector_similarity_search(&m, "t", &vector(b, 1), &opts).await.unwrap();
        }
    }
}

/// Runs the child from batch `start`, kills it once it acknowledged `at_least` batches (or
/// after 20 s); returns the last acknowledged batch and the batches whose first entity it
/// deleted.
fn run_child(path: &str, start: usize, at_least: usize) -> (Option<usize>, Vec<usize>) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, format!("{path}|{start}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut last, mut deleted) = (None, Vec::new());
    let read = |line: &str, last: &mut Option<usize>, deleted: &mut Vec<usize>| {
        if let Some(n) = line.strip_prefix("ack ") {
            *last = Some(n.parse().unwrap());
        } else if let Some(n) = line.strip_prefix("deleted ") {
            deleted.push(n.parse().unwrap());
        }
    };
    let started = Instant::now();
    for line in lines.by_ref() {
        read(&line.unwrap(), &mut last, &mut deleted);
        if last.is_some_and(|n| n >= start + at_least) || started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    for line in lines.map_while(Result::ok) {
        read(&line, &mut last, &mut deleted);
    }
    child.wait().unwrap();
    (last, deleted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_sigkill_whole_and_searches_stay_exact() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.sqlite").display().to_string();
    let m = model();
    // A reader that lives through every crash (a server sharing the file with a CLI).
    let (_rdb, reader) = open(&path).await;
    reader.migrate(&m).await.unwrap();
    let (mut next, mut acked, mut deleted) = (0usize, Vec::new(), Vec::new());
    for round in 0..3 {
        let (last, del) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || run_child(&path, next, 25)
        })
        .await
        .unwrap();
        let last = last.unwrap_or_else(|| panic!("round {round}: the writer acknowledged nothing"));
        acked.extend(next..=last);
        deleted.extend(del);
        // The killed batch may or may not have committed: the next child starts after it.
        next = last + 2;
        // The reader follows the log across the crash.
        let q = vector(last, 3);
        reader.vector_similarity_search(&m, "t", &q, &SearchOptions::default()).await.unwrap();
    }

    let (db, fresh) = open(&path).await;
    let table = qualified(&Sqlite, &Layout::default(), &m);
    let rows = db
        .query(&Statement::raw(format!("SELECT entity_id, embedding_vector FROM {table} WHERE tenant_id = 't'")))
        .await
        .unwrap();
    let held: Vec<(String, Vec<f32>)> = rows
        .into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            (it.next().unwrap().into_text().unwrap(), it.next().unwrap().into_vector().unwrap())
        })
        .collect();
    // Every batch is whole or absent; every acknowledged one is there.
    let counts = db
        .query(&Statement::raw(format!(
            "SELECT substr(name, 2, instr(name, '-') - 2) AS b, count(*) FROM {} GROUP BY b",
            m.name()
        )))
        .await
        .unwrap();
    for r in counts {
        let (SqlValue::Text(b), SqlValue::Int(n)) = (&r[0], &r[1]) else { panic!("{r:?}") };
        let b: usize = b.parse().unwrap();
        let want = if deleted.contains(&b) { BATCH - 1 } else { BATCH };
        assert_eq!(n, &(want as i64), "batch {b} is half there after SIGKILL");
    }
    for b in &acked {
        let e = fresh.get_by_key(&m, "t", &format!("b{b}-1")).await.unwrap();
        assert!(e.is_some(), "acknowledged batch {b} lost after SIGKILL");
    }
    // Both the fresh process and the reader that lived through the crashes answer exactly.
    for (i, b) in acked.iter().enumerate().step_by(7) {
        let q = vector(*b, i % BATCH);
        let mut truth: Vec<(String, f64)> =
            held.iter().map(|(e, v)| (e.clone(), Metric::Cosine.distance(&q, v))).collect();
        truth.sort_by(|x, y| x.1.total_cmp(&y.1).then_with(|| x.0.cmp(&y.0)));
        truth.truncate(10);
        for (who, store) in [("fresh", &fresh), ("reader", &reader)] {
            let got = store.vector_similarity_search(&m, "t", &q, &SearchOptions::default()).await.unwrap();
            let got: Vec<(String, f64)> = got.hits.into_iter().map(|h| (h.entity_id, h.distance)).collect();
            assert_eq!(got, truth, "{who}: search after SIGKILL differs from SQLite's rows");
        }
    }
    println!("{} acknowledged batches of {BATCH} survived 3 SIGKILLs whole", acked.len());
}
