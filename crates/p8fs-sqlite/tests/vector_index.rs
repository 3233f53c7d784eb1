//! The in-process vector search of the embedded default, probed as an attacker and a
//! second process would: every answer equals a brute-force ranking of what SQLite holds
//! after writes from another connection, rolled-back writes, deletes, a trimmed log and a
//! recreated table; the HNSW path keeps recall, never returns fewer hits than exist under a
//! field filter, and never returns another tenant's rows.

use std::collections::HashSet;
use std::sync::Arc;

use p8fs_entity::{EntityEmbeddings, EntityStore};
use p8fs_sql_dialect::entity::knn::qualified;
use p8fs_sql_dialect::entity::{Layout, SearchMode, SearchOptions};
use p8fs_sql_dialect::model::{FieldType, Model};
use p8fs_sql_dialect::{Metric, SqlExecutor, Sqlite, Statement};
use p8fs_sqlite::{LOG_KEEP, SqliteConfig, SqliteProvider};
use serde_json::{Map, Value, json};

const DIM: u32 = 16;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vector(&mut self) -> Vec<f32> {
        (0..DIM).map(|_| self.next()).collect()
    }
}

fn model() -> Model {
    Model::builder("docs")
        .field("name", FieldType::Text)
        .embedded("body", "t", DIM)
        .embedded("summary", "t", DIM)
        .key("name")
        .build()
        .unwrap()
}

async fn open(path: &std::path::Path) -> (Arc<SqliteProvider>, EntityStore) {
    let p = Arc::new(SqliteProvider::open(SqliteConfig::File(path.to_owned())).await.unwrap());
    let store = EntityStore::new(Arc::clone(&p) as Arc<dyn SqlExecutor>, Layout::default());
    (p, store)
}

/// What SQLite holds, read with plain SQL: (tenant, entity id, field, vector).
async fn held(db: &SqliteProvider, m: &Model) -> Vec<(Option<String>, String, String, Vec<f32>)> {
    let table = qualified(&Sqlite, &Layout::default(), m);
    let rows = db
        .query(&Statement::raw(format!("SELECT tenant_id, entity_id, field_name, embedding_vector FROM {table}")))
        .await
        .unwrap();
    rows.into_iter()
        .map(|r| {
            let mut it = r.into_iter();
            let tenant = it.next().unwrap().into_text().ok();
            let entity = it.next().unwrap().into_text().unwrap();
            let field = it.next().unwrap().into_text().unwrap();
            let v = it.next().unwrap().into_vector().unwrap();
            (tenant, entity, field, v)
        })
        .collect()
}

/// The brute-force answer: (entity id, field, distance), best first.
fn truth(
    rows: &[(Option<String>, String, String, Vec<f32>)],
    tenant: &str,
    q: &[f32],
    metric: Metric,
    fields: &[String],
    k: usize,
) -> Vec<(String, String, f64)> {
    let mut all: Vec<(String, String, f64)> = rows
        .iter()
        .filter(|r| r.0.as_deref() == Some(tenant) && (fields.is_empty() || fields.contains(&r.2)))
        .map(|r| (r.1.clone(), r.2.clone(), metric.distance(q, &r.3)))
        .collect();
    all.sort_by(|a, b| a.2.total_cmp(&b.2).then_with(|| a.0.cmp(&b.0)));
    all.truncate(k);
    all
}

async fn search(
    store: &EntityStore,
    m: &Model,
    tenant: &str,
    q: &[f32],
    opts: &SearchOptions,
) -> (Vec<(String, String, f64)>, bool) {
    let r = store.vector_similarity_search(m, tenant, q, opts).await.unwrap();
    (r.hits.into_iter().map(|h| (h.entity_id, h.field, h.distance)).collect(), r.exact)
}

async fn seed(store: &EntityStore, m: &Model, tenant: &str, names: std::ops::Range<usize>, rng: &mut Rng) {
    let names: Vec<usize> = names.collect();
    for chunk in names.chunks(200) {
        let ents: Vec<Map<String, Value>> =
            chunk.iter().map(|i| json!({"name": format!("n{i}")}).as_object().cloned().unwrap()).collect();
        // One entity in ten also has a summary: a field filter keeps 1 row in 11.
        let embs: Vec<EntityEmbeddings> = chunk
            .iter()
            .map(|i| {
                let mut e = vec![("body".to_owned(), rng.vector())];
                if i % 10 == 0 {
                    e.push(("summary".to_owned(), rng.vector()));
                }
                e
            })
            .collect();
        store.batch_upsert_with_embeddings(m, tenant, &ents, &embs).await.unwrap();
    }
}

async fn assert_exact_everywhere(reader: &EntityStore, db: &SqliteProvider, m: &Model, rng: &mut Rng, what: &str) {
    let rows = held(db, m).await;
    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        for fields in [vec![], vec!["summary".to_owned()]] {
            for tenant in ["a", "b", "nobody"] {
                let q = rng.vector();
                let opts = SearchOptions { metric, limit: 7, fields: fields.clone(), ..Default::default() };
                let (got, exact) = search(reader, m, tenant, &q, &opts).await;
                assert!(exact, "{what}");
                assert_eq!(got, truth(&rows, tenant, &q, metric, &fields, 7), "{what}: {metric:?} {fields:?} {tenant}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_from_another_connection_is_seen_by_the_next_search() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    let m = model();
    let (wdb, writer) = open(&path).await;
    writer.migrate(&m).await.unwrap();
    let mut rng = Rng(42);
    seed(&writer, &m, "a", 0..300, &mut rng).await;
    seed(&writer, &m, "b", 300..400, &mut rng).await;
    // The reader is a second connection (as a second process would be).
    let (_rdb, reader) = open(&path).await;
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after the first load").await;

    // Updates (new vectors for existing rows), new rows, deletes, through the writer.
    seed(&writer, &m, "a", 250..350, &mut rng).await;
    for i in (0..300).step_by(7) {
        let id =
            writer.get_by_key(&m, "a", &format!("n{i}")).await.unwrap().unwrap()["id"].as_str().unwrap().to_owned();
        assert!(writer.delete(&m, "a", &id).await.unwrap());
    }
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after updates and deletes").await;

    // A rolled-back write leaves nothing: the second statement fails, the first is undone.
    let table = qualified(&Sqlite, &Layout::default(), &m);
    let bad = vec![
        Statement::raw(format!("DELETE FROM {table} WHERE tenant_id = 'b'")),
        Statement::raw("SELECT no_such_function()"),
    ];
    assert!(wdb.execute_in_transaction(&bad).await.is_err());
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after a rolled-back delete").await;

    // A row moved to another tenant by hand leaves the old tenant's answers.
    wdb.execute(&Statement::raw(format!(
        "UPDATE {table} SET tenant_id = 'b' WHERE rowid IN (SELECT rowid FROM {table} WHERE tenant_id = 'a' LIMIT 5)"
    )))
    .await
    .unwrap();
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after moving rows between tenants").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trimmed_log_or_a_recreated_table_makes_a_lagging_reader_reload() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    let m = model();
    let (wdb, writer) = open(&path).await;
    writer.migrate(&m).await.unwrap();
    let mut rng = Rng(7);
    seed(&writer, &m, "a", 0..50, &mut rng).await;
    let (_rdb, reader) = open(&path).await;
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "loaded").await;

    // More log entries than are kept, written by SQLite itself (zero vectors: every
    // distance ties, so the order is the entity ids'); the writer's own search
    // trims the log, so the reader is behind the trim.
    let table = qualified(&Sqlite, &Layout::default(), &m);
    let rows = LOG_KEEP + 50;
    wdb.execute(&Statement::raw(format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         INSERT INTO {table} (id, entity_id, field_name, embedding_provider, embedding_vector, vector_dimension, \
         tenant_id, created_at, updated_at) \
         SELECT 'x' || i, 'x' || i, 'body', 't', zeroblob({bytes}), {DIM}, 'b', 'now', 'now' FROM n",
        bytes = DIM * 4
    )))
    .await
    .unwrap();
    let q = rng.vector();
    writer.vector_similarity_search(&m, "b", &q, &SearchOptions::default()).await.unwrap();
    let log = format!("\"p8fs_vlog_{}\"", m.embeddings_table());
    let left = wdb.query(&Statement::raw(format!("SELECT count(*) FROM {log}"))).await.unwrap();
    let p8fs_sql_dialect::SqlValue::Int(left) = left[0][0] else { panic!("{left:?}") };
    assert!(left < 1000, "the log was not trimmed: {left} entries");
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "behind a trimmed log").await;

    // The table dropped and made again: the reader reloads instead of answering stale rows.
    wdb.execute(&Statement::raw(format!("DROP TABLE {table}"))).await.unwrap();
    writer.invalidate_table_cache(&m.embeddings_table());
    writer.invalidate_table_cache(m.name());
    wdb.execute(&Statement::raw(format!("DROP TABLE {}", m.name()))).await.unwrap();
    writer.migrate(&m).await.unwrap();
    seed(&writer, &m, "a", 1000..1020, &mut rng).await;
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after the table was recreated").await;

    // VACUUM may renumber rowids: the reader reloads rather than trust the ones it holds.
    for i in (1000..1020).step_by(3) {
        let id =
            writer.get_by_key(&m, "a", &format!("n{i}")).await.unwrap().unwrap()["id"].as_str().unwrap().to_owned();
        writer.delete(&m, "a", &id).await.unwrap();
    }
    wdb.execute(&Statement::raw("VACUUM")).await.unwrap();
    seed(&writer, &m, "a", 1018..1030, &mut rng).await;
    assert_exact_everywhere(&reader, &wdb, &m, &mut rng, "after VACUUM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hnsw_index_keeps_recall_fills_filtered_answers_and_keeps_tenants_apart() {
    let dir = tempfile::tempdir().unwrap();
    let m = model();
    let (db, store) = open(&dir.path().join("v.sqlite")).await;
    db.set_ann_min_rows(500);
    store.migrate(&m).await.unwrap();
    let mut rng = Rng(3);
    seed(&store, &m, "a", 0..3000, &mut rng).await;
    seed(&store, &m, "b", 3000..3100, &mut rng).await;
    let rows = held(&db, &m).await;
    let b_ids: HashSet<String> = rows.iter().filter(|r| r.0.as_deref() == Some("b")).map(|r| r.1.clone()).collect();

    for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
        let (mut found, mut wanted) = (0, 0);
        for _ in 0..30 {
            let q = rng.vector();
            let opts = SearchOptions { metric, limit: 10, mode: SearchMode::Approximate, ..Default::default() };
            let r = store.vector_similarity_search(&m, "a", &q, &opts).await.unwrap();
            assert!(!r.exact, "{metric:?}: a partition of 3,300 rows over the threshold of 500 used no index");
            assert_eq!(r.hits.len(), 10);
            assert!(r.hits.iter().all(|h| !b_ids.contains(&h.entity_id)), "tenant b's row answered tenant a");
            let t = truth(&rows, "a", &q, metric, &[], 10);
            // Distances are exact (re-ranked), whatever the index holds.
            for h in &r.hits {
                let v = &rows.iter().find(|x| x.1 == h.entity_id && x.2 == h.field).unwrap().3;
                assert_eq!(h.distance.to_bits(), metric.distance(&q, v).to_bits());
            }
            let tset: HashSet<(String, String)> = t.iter().map(|x| (x.0.clone(), x.1.clone())).collect();
            found += r.hits.iter().filter(|h| tset.contains(&(h.entity_id.clone(), h.field.clone()))).count();
            wanted += t.len();

            // One row in eleven is a summary: the filtered answer is still full.
            let f = SearchOptions { fields: vec!["summary".to_owned()], ..opts.clone() };
            let r = store.vector_similarity_search(&m, "a", &q, &f).await.unwrap();
            assert_eq!(r.hits.len(), 10, "{metric:?}: a field filter returned fewer hits than exist");
            assert!(r.hits.iter().all(|h| h.field == "summary"));

            // Tenant b (100 rows, under the threshold) is searched exactly and completely.
            let r = store.vector_similarity_search(&m, "b", &q, &opts).await.unwrap();
            assert!(r.exact);
            let got: Vec<_> = r.hits.iter().map(|h| (h.entity_id.clone(), h.field.clone(), h.distance)).collect();
            assert_eq!(got, truth(&rows, "b", &q, metric, &[], 10));
            // A tenant with no rows, and hostile tenant names, get nothing.
            for t in ["c", "a ", "a%", "../a", ""] {
                if let Ok(r) = store.vector_similarity_search(&m, t, &q, &opts).await {
                    assert!(r.hits.is_empty(), "tenant {t:?} saw rows");
                }
            }
        }
        let recall = found as f64 / wanted as f64;
        assert!(recall >= 0.95, "{metric:?}: recall@10 {recall:.3}");
    }
    // Writes after the index was built reach it: a new nearest row is found at once.
    let q = rng.vector();
    let ent = json!({"name": "fresh"}).as_object().cloned().unwrap();
    store.batch_upsert_with_embeddings(&m, "a", &[ent], &[vec![("body".to_owned(), q.clone())]]).await.unwrap();
    let opts = SearchOptions { limit: 1, mode: SearchMode::Approximate, ..Default::default() };
    let r = store.semantic_search(&m, "a", &q, &opts).await.unwrap();
    assert_eq!(r.hits[0].entity["name"], "fresh");
    let mem = db.vector_memory().unwrap();
    assert!(mem.indexes >= 3 && mem.index_bytes > 0 && mem.rows >= 3400, "{mem:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_index_is_loaded_brought_up_to_date_and_ignored_when_unusable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.sqlite");
    let m = model();
    let approx = SearchOptions { limit: 10, mode: SearchMode::Approximate, ..Default::default() };
    let mut rng = Rng(11);
    {
        let (db, store) = open(&path).await;
        db.set_ann_min_rows(500);
        store.migrate(&m).await.unwrap();
        seed(&store, &m, "a", 0..2000, &mut rng).await;
        let r = store.vector_similarity_search(&m, "a", &rng.vector(), &approx).await.unwrap();
        assert!(!r.exact);
        let mem = db.vector_memory().unwrap();
        assert_eq!((mem.indexes_built, mem.indexes_loaded), (1, 0));
        // Written after the save: updates, deletes, new rows.
        seed(&store, &m, "a", 1900..2100, &mut rng).await;
        for i in (0..300).step_by(3) {
            let e = store.get_by_key(&m, "a", &format!("n{i}")).await.unwrap().unwrap();
            store.delete(&m, "a", e["id"].as_str().unwrap()).await.unwrap();
        }
    }
    let mut saved: Vec<std::path::PathBuf> = Vec::new();
    for d in std::fs::read_dir(dir.path().join("v.sqlite.vindex")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            saved.push(f.unwrap().path());
        }
    }
    let index_file = saved.iter().find(|p| p.extension().is_some_and(|e| e == "usearch")).cloned();
    let index_file = index_file.unwrap_or_else(|| panic!("no index file saved: {saved:?}"));

    // A new process loads the file and replays the log: same answers as a build would give.
    let check = |store: EntityStore, db: Arc<SqliteProvider>, want: (usize, usize), what: &'static str| {
        let (m, approx) = (m.clone(), approx.clone());
        async move {
            let rows = held(&db, &m).await;
            let ids: HashSet<&str> =
                rows.iter().filter(|r| r.0.as_deref() == Some("a")).map(|r| r.1.as_str()).collect();
            let mut rng = Rng(99);
            let (mut found, mut wanted) = (0, 0);
            for _ in 0..30 {
                let q = rng.vector();
                let r = store.vector_similarity_search(&m, "a", &q, &approx).await.unwrap();
                assert!(!r.exact, "{what}");
                assert!(r.hits.iter().all(|h| ids.contains(h.entity_id.as_str())), "{what}: a deleted row was found");
                let t: HashSet<(String, String)> =
                    truth(&rows, "a", &q, Metric::Cosine, &[], 10).into_iter().map(|x| (x.0, x.1)).collect();
                found += r.hits.iter().filter(|h| t.contains(&(h.entity_id.clone(), h.field.clone()))).count();
                wanted += t.len();
            }
            let recall = found as f64 / wanted as f64;
            assert!(recall >= 0.95, "{what}: recall@10 {recall:.3}");
            // A row written after the save is found by its own vector.
            let e = store.get_by_key(&m, "a", "n2050").await.unwrap().unwrap();
            let own = rows.iter().find(|r| r.1 == e["id"].as_str().unwrap() && r.2 == "body").unwrap().3.clone();
            let r = store.vector_similarity_search(&m, "a", &own, &approx).await.unwrap();
            assert_eq!(r.hits[0].entity_id, e["id"].as_str().unwrap(), "{what}");
            let mem = db.vector_memory().unwrap();
            assert_eq!((mem.indexes_built, mem.indexes_loaded), want, "{what}: (built, loaded)");
        }
    };
    let (db, store) = open(&path).await;
    db.set_ann_min_rows(500);
    check(store, db, (0, 1), "loaded from the file").await;

    // A damaged file is not used: the index is built from the rows (and saved again).
    std::fs::write(&index_file, b"not an index").unwrap();
    let (db, store) = open(&path).await;
    db.set_ann_min_rows(500);
    check(store, db, (1, 0), "after the file was damaged").await;

    // A file from a future the database never reached (a restored copy) is not used.
    let newest = std::fs::read_dir(index_file.parent().unwrap())
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "usearch"))
        .unwrap();
    let name = newest.file_name().unwrap().to_string_lossy().into_owned();
    let (stem, _) = name.rsplit_once('.').unwrap();
    let (head, _) = stem.rsplit_once('.').unwrap();
    std::fs::rename(&newest, newest.with_file_name(format!("{head}.999999999.usearch"))).unwrap();
    let (db, store) = open(&path).await;
    db.set_ann_min_rows(500);
    check(store, db, (1, 0), "with a file from the future").await;
}
