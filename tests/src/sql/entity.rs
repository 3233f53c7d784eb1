//! The entity store on every SQL engine: DDL, CRUD, the filter grammar, batches, merge
//! semantics, JSON typing, cascading deletes, tenant isolation, the metadata cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail, ensure};
use async_trait::async_trait;
use p8fs_entity::EntityStore;
use p8fs_sql_dialect::entity::{EntityQuery, Layout, ddl};
use p8fs_sql_dialect::model::{FieldType as T, Model, resources};
use p8fs_sql_dialect::{DialectKind, ErrorKind, ServerInfo, SqlExecutor, Statement};
use serde_json::{Map, Value, json};

use crate::harness::Ctx;

fn items() -> Model {
    Model::builder("items")
        .field("name", T::Text)
        .field("category", T::Text)
        .field("rank", T::Int)
        .field("score", T::Float)
        .field("active", T::Bool)
        .field("seen_at", T::Timestamp)
        .field("tags", T::TextArray)
        .field("metadata", T::JsonObject)
        .field("payload", T::JsonArray)
        .field("notes", T::Text)
        .key("name")
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Counts the statements an executor runs (for the cache test); with `dialect` set, it
/// answers that dialect instead of its executor's.
#[derive(Debug)]
pub(crate) struct Counting {
    inner: Arc<dyn SqlExecutor>,
    queries: AtomicU64,
    dialect: Option<DialectKind>,
}

impl Counting {
    fn new(inner: Arc<dyn SqlExecutor>) -> Self {
        Self { inner, queries: AtomicU64::new(0), dialect: None }
    }

    /// TiDB's statements on MariaDB: the same provider, answering [`DialectKind::Tidb`], so
    /// the store writes without `RETURNING` and reads the stored ids back, as it does on TiDB
    /// (the plain-table DML of the two is the same MySQL-family SQL). The `tidb` backend runs
    /// the same cases on TiDB itself.
    fn as_tidb(inner: Arc<dyn SqlExecutor>) -> Self {
        Self { dialect: Some(DialectKind::Tidb), ..Self::new(inner) }
    }
}

#[async_trait]
impl SqlExecutor for Counting {
    fn dialect(&self) -> &'static dyn p8fs_sql_dialect::Dialect {
        self.dialect.map_or_else(|| self.inner.dialect(), DialectKind::dialect)
    }
    fn cache_key(&self) -> String {
        match self.dialect {
            Some(d) => format!("as-{d}:{}", self.inner.cache_key()),
            None => self.inner.cache_key(),
        }
    }
    async fn server_info(&self) -> p8fs_sql_dialect::Result<ServerInfo> {
        self.inner.server_info().await
    }
    async fn execute(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<u64> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.execute(stmt).await
    }
    async fn execute_in_transaction(&self, stmts: &[Statement]) -> p8fs_sql_dialect::Result<Vec<u64>> {
        self.queries.fetch_add(stmts.len() as u64, Ordering::SeqCst);
        self.inner.execute_in_transaction(stmts).await
    }
    async fn query_in_transaction(
        &self,
        stmts: &[Statement],
        check: Option<Arc<p8fs_sql_dialect::RowCheck>>,
    ) -> p8fs_sql_dialect::Result<Vec<Vec<p8fs_sql_dialect::Row>>> {
        self.queries.fetch_add(stmts.len() as u64, Ordering::SeqCst);
        self.inner.query_in_transaction(stmts, check).await
    }
    async fn query_with_setup(
        &self,
        setup: &[Statement],
        stmt: &Statement,
    ) -> p8fs_sql_dialect::Result<Vec<p8fs_sql_dialect::Row>> {
        self.queries.fetch_add(setup.len() as u64 + 1, Ordering::SeqCst);
        self.inner.query_with_setup(setup, stmt).await
    }
    async fn query(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<Vec<p8fs_sql_dialect::Row>> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(stmt).await
    }
}

/// An executor wrapper written before `query_in_transaction` existed: it does not pass
/// that call on (the trait's default answers `Unsupported`).
#[derive(Debug)]
pub(crate) struct OldWrapper(Arc<dyn SqlExecutor>);

#[async_trait]
impl SqlExecutor for OldWrapper {
    fn dialect(&self) -> &'static dyn p8fs_sql_dialect::Dialect {
        self.0.dialect()
    }
    fn cache_key(&self) -> String {
        self.0.cache_key()
    }
    async fn server_info(&self) -> p8fs_sql_dialect::Result<ServerInfo> {
        self.0.server_info().await
    }
    async fn execute(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<u64> {
        self.0.execute(stmt).await
    }
    async fn execute_in_transaction(&self, stmts: &[Statement]) -> p8fs_sql_dialect::Result<Vec<u64>> {
        self.0.execute_in_transaction(stmts).await
    }
    async fn query_with_setup(
        &self,
        setup: &[Statement],
        stmt: &Statement,
    ) -> p8fs_sql_dialect::Result<Vec<p8fs_sql_dialect::Row>> {
        self.0.query_with_setup(setup, stmt).await
    }
    async fn query(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<Vec<p8fs_sql_dialect::Row>> {
        self.0.query(stmt).await
    }
}

/// The stores a write test runs through: the store itself and, on MariaDB, the same
/// tables through TiDB's statements ([`Counting::as_tidb`]), so the id read-back that TiDB needs runs
/// against a real server.
fn write_paths(store: &EntityStore) -> Vec<(&'static str, EntityStore)> {
    let mut out = vec![("", store.clone())];
    if store.executor().dialect().kind() == DialectKind::MariaDb {
        let as_tidb =
            EntityStore::new(Arc::new(Counting::as_tidb(Arc::clone(store.executor()))), store.layout().clone());
        out.push((" (TiDB's statements)", as_tidb));
    }
    out
}

/// A store in schemas of this test only (dropped afterwards), with `models` migrated.
pub(crate) async fn with_store<F>(ctx: &Ctx, models: &[Model], body: F) -> Result<()>
where
    F: AsyncFnOnce(&EntityStore, Arc<Counting>) -> Result<()>,
{
    let inner = ctx.env.sql(&ctx.scratch).await?;
    let db = Arc::new(Counting::new(Arc::clone(&inner)));
    let (schema, emb) = (ctx.scratch.clone(), format!("{}_e", ctx.scratch));
    let store = EntityStore::new(db.clone(), Layout::new(Some(&schema), Some(&emb))?);
    let result = async {
        for m in models {
            store.migrate(m).await.with_context(|| format!("migrating {m}"))?;
        }
        body(&store, db).await
    }
    .await;
    // Drop this test's schemas (databases on the MySQL family), pass or fail.
    super::drop_schemas(inner.as_ref(), &schema).await?;
    result
}

fn kind_of<T: std::fmt::Debug>(r: p8fs_sql_dialect::Result<T>) -> Result<ErrorKind> {
    match r {
        Ok(v) => bail!("expected an error, got {v:?}"),
        Err(e) => Ok(e.kind()),
    }
}

pub(crate) async fn ddl_is_idempotent_and_versioned(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[], async |store, _| {
        let m = items();
        let first = store.migrate(&m).await?;
        ensure!(first.created && first.version == 1, "first migration: {first:?}");
        let again = store.migrate(&m).await?;
        ensure!(!again.created && again.added_columns.is_empty() && again.version == 1, "second migration: {again:?}");
        store.upsert(&m, "t", &obj(json!({"name": "kept", "rank": 1}))).await?;
        // Adding a field adds a column and bumps the version; data stays.
        let v2 = Model::builder("items")
            .field("name", T::Text)
            .field("category", T::Text)
            .field("rank", T::Int)
            .field("score", T::Float)
            .field("active", T::Bool)
            .field("seen_at", T::Timestamp)
            .field("tags", T::TextArray)
            .field("metadata", T::JsonObject)
            .field("payload", T::JsonArray)
            .field("notes", T::Text)
            .field("added_later", T::JsonObject)
            .key("name")
            .build()?;
        let third = store.migrate(&v2).await.context("migrating to v2")?;
        ensure!(third.added_columns == ["added_later"] && third.version == 2, "after adding a field: {third:?}");
        let info = store.table_info("items").await?.context("table vanished")?;
        ensure!(info.columns.iter().any(|c| c == "added_later"), "column not added: {:?}", info.columns);
        let mut pk = info.primary_key.clone();
        pk.sort();
        ensure!(pk == ["id", "tenant_id"], "primary key (ids are unique per tenant): {:?}", info.primary_key);
        let row = store
            .get_by_key(&v2, "t", "kept")
            .await
            .context("reading after the migration")?
            .context("row lost by the migration")?;
        ensure!(row["rank"] == json!(1) && row["added_later"].is_null(), "{row:?}");
        // The core models create cleanly too (entity and embeddings tables).
        let r = store.migrate(&resources()).await?;
        ensure!(r.created, "resources: {r:?}");
        Ok(())
    })
    .await
}

pub(crate) async fn crud_round_trip_keeps_types(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let e = obj(json!({
            "name": "Alpha", "category": "docs", "rank": 7, "score": 0.25, "active": true,
            "seen_at": "2026-01-02T03:04:05.123456Z", "tags": ["a", "b"],
            "metadata": {"k": {"nested": [1, 2]}, "s": "x"}, "payload": [{"dst": "b", "weight": 0.5}],
            "notes": "{\"looks\": \"like json\"}"
        }));
        let r = store.upsert(&m, "tenant-a", &e).await?;
        ensure!(r.success && r.entity_count == 1 && r.ids.len() == 1, "{r:?}");
        let id = &r.ids[0];
        let got = store.get(&m, "tenant-a", id).await?.context("get by id")?;
        for (k, v) in &e {
            ensure!(&got[k] == v, "{k}: stored {v}, read {}", got[k]);
        }
        ensure!(got["notes"].is_string(), "text that looks like JSON must stay text");
        ensure!(got["tenant_id"] == json!("tenant-a") && got["id"] == json!(id));
        let by_key = store.get_by_key(&m, "tenant-a", "Alpha").await?.context("get by key")?;
        ensure!(by_key == got, "by key differs from by id");
        ensure!(store.get(&m, "tenant-b", id).await?.is_none(), "another tenant reads the row");
        ensure!(store.delete(&m, "tenant-a", id).await?, "delete reported nothing deleted");
        ensure!(store.get(&m, "tenant-a", id).await?.is_none(), "deleted row still there");
        ensure!(!store.delete(&m, "tenant-a", id).await?, "second delete reported a deletion");
        Ok(())
    })
    .await
}

async fn seed(store: &EntityStore, m: &Model, tenant: &str) -> Result<()> {
    let rows: Vec<Map<String, Value>> = (0..10)
        .map(|i| {
            obj(json!({
                "name": format!("item-{i}"),
                "category": if i % 2 == 0 { "Even" } else { "odd" },
                "rank": i,
                "score": f64::from(i) / 4.0,
                "active": i % 3 == 0,
                "seen_at": format!("2026-01-{:02}T00:00:00Z", i + 1),
                "tags": [format!("t{}", i % 3), "all"],
                "metadata": {"group": i % 2, "label": format!("L{i}")},
                "payload": [i],
                "notes": if i == 4 { Value::Null } else { json!(format!("note {i}")) }
            }))
        })
        .collect();
    store.batch_upsert(m, tenant, &rows).await?;
    Ok(())
}

async fn names(store: &EntityStore, m: &Model, tenant: &str, filters: Value) -> Result<Vec<String>> {
    let q = EntityQuery::parse(m, &obj(filters), &["name".into()], None, None)?;
    Ok(store.select(m, tenant, &q).await?.into_iter().map(|r| r["name"].as_str().unwrap_or("").to_owned()).collect())
}

pub(crate) async fn filter_grammar_each_operator(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        seed(store, &m, "t").await?;
        seed(store, &m, "other").await?;
        let n = |v: &[i32]| v.iter().map(|i| format!("item-{i}")).collect::<Vec<_>>();
        let cases: Vec<(Value, Vec<String>)> = vec![
            (json!({"rank": 3}), n(&[3])),
            (json!({"rank__gt": 7}), n(&[8, 9])),
            (json!({"rank__gte": 7}), n(&[7, 8, 9])),
            (json!({"rank__lt": 2}), n(&[0, 1])),
            (json!({"rank__lte": 1}), n(&[0, 1])),
            (json!({"score__gt": 2.0}), n(&[9])),
            (json!({"seen_at__gte": "2026-01-09T00:00:00Z"}), n(&[8, 9])),
            (json!({"rank__in": [1, 5, 42]}), n(&[1, 5])),
            (json!({"rank__in": []}), vec![]),
            (json!({"category": "Even", "active": true}), n(&[0, 6])),
            (json!({"notes": null}), n(&[4])),
            (json!({"name__like": "item-1%"}), n(&[1])),
            (json!({"category__like": "even"}), vec![]),
            (json!({"category__ilike": "EVEN"}), n(&[0, 2, 4, 6, 8])),
            (json!({"metadata__contains": {"group": 1, "label": "L3"}}), n(&[3])),
            (json!({"tags__contains": ["t2"]}), n(&[2, 5, 8])),
            (json!({"tags__overlap": ["t0", "zz"]}), n(&[0, 3, 6, 9])),
            (json!({"payload__contains": [4]}), n(&[4])),
        ];
        for (filter, want) in cases {
            let got = names(store, &m, "t", filter.clone()).await.with_context(|| format!("filter {filter}"))?;
            ensure!(got == want, "filter {filter}: got {got:?}, want {want:?}");
        }
        // Unknown fields and operators are errors, never ignored.
        for bad in [
            json!({"nope": 1}),
            json!({"rank__between": [1, 2]}),
            json!({"metadata": {"a": 1}}),
            json!({"rank__like": "1%"}),
        ] {
            let r = EntityQuery::parse(&m, &obj(bad.clone()), &[], None, None);
            ensure!(kind_of(r)? == ErrorKind::InvalidInput, "{bad} was accepted");
        }
        ensure!(
            EntityQuery::parse(&m, &Map::new(), &["-nope".into()], None, None).is_err(),
            "unknown order field accepted"
        );
        // A value of the wrong type for its field is an error too.
        let q = EntityQuery::parse(&m, &obj(json!({"rank": "seven"})), &[], None, None)?;
        ensure!(kind_of(store.select(&m, "t", &q).await)? == ErrorKind::InvalidInput);
        Ok(())
    })
    .await
}

pub(crate) async fn ordering_limit_and_offset(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        seed(store, &m, "t").await?;
        let m = &m;
        let run = |order: Vec<String>, limit, offset| {
            let q = EntityQuery::parse(m, &Map::new(), &order, limit, offset);
            async move {
                let rows = store.select(m, "t", &q?).await?;
                anyhow::Ok(rows.into_iter().map(|r| r["rank"].as_i64().unwrap_or(-1)).collect::<Vec<_>>())
            }
        };
        ensure!(run(vec!["-rank".into()], Some(3), None).await? == [9, 8, 7]);
        ensure!(run(vec!["rank".into()], Some(3), Some(2)).await? == [2, 3, 4]);
        ensure!(run(vec!["category".into(), "-rank".into()], Some(2), None).await? == [8, 6], "multi-key ordering");
        ensure!(run(vec!["rank".into()], None, Some(8)).await? == [8, 9], "offset without limit");
        Ok(())
    })
    .await
}

pub(crate) async fn batch_of_a_thousand(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let rows: Vec<Map<String, Value>> =
            (0..1000).map(|i| obj(json!({"name": format!("n{i:04}"), "rank": i, "metadata": {"v": 1}}))).collect();
        let r = store.batch_upsert(&m, "t", &rows).await?;
        ensure!(r.entity_count == 1000 && r.ids.len() == 1000, "{} entities, {} ids", r.entity_count, r.ids.len());
        let q = EntityQuery::parse(&m, &Map::new(), &[], None, None)?;
        let all = store.select(&m, "t", &q).await?;
        ensure!(all.len() == 1000, "{} rows after a batch of 1000", all.len());
        let created: std::collections::HashMap<String, Value> =
            all.iter().map(|r| (r["name"].as_str().unwrap_or("").to_owned(), r["created_at"].clone())).collect();
        // The same batch again updates in place.
        let rows2: Vec<Map<String, Value>> =
            (0..1000).map(|i| obj(json!({"name": format!("n{i:04}"), "rank": i + 1, "metadata": {"w": 2}}))).collect();
        let r2 = store.batch_upsert(&m, "t", &rows2).await?;
        ensure!(r2.ids == r.ids, "re-upserting changed ids");
        let all = store.select(&m, "t", &q).await?;
        ensure!(all.len() == 1000, "re-upsert duplicated rows: {}", all.len());
        for row in &all {
            let name = row["name"].as_str().unwrap_or("");
            ensure!(row["created_at"] == created[name], "{name}: created_at changed on update");
            ensure!(row["metadata"] == json!({"v": 1, "w": 2}), "{name}: metadata {}", row["metadata"]);
        }
        ensure!(kind_of(store.batch_upsert(&m, "t", &[]).await)? == ErrorKind::InvalidInput, "empty batch accepted");
        // Through a wrapper that returns no rows from transactions: the same ids.
        let old = EntityStore::new(Arc::new(OldWrapper(Arc::clone(store.executor()))), store.layout().clone());
        let r3 = old.batch_upsert(&m, "t", &rows2).await?;
        ensure!(r3.ids == r.ids, "a wrapper without query_in_transaction changed the ids");
        for (via, s) in write_paths(store) {
            let r4 = s.batch_upsert(&m, "t", &rows).await?;
            ensure!(r4.ids == r.ids, "re-upserting changed ids{via}");
            let one = s.upsert(&m, "t", &rows[7]).await?;
            ensure!(one.ids == [r.ids[7].clone()], "a single re-upsert changed the id{via}: {:?}", one.ids);
            let new = s.upsert(&m, "t", &obj(json!({"name": format!("new{via}"), "rank": 1}))).await?;
            let got = s.get_by_key(&m, "t", &format!("new{via}")).await?.context("the new row")?;
            ensure!(got["id"] == json!(new.ids[0]), "a new row's id{via}: {} vs {:?}", got["id"], new.ids);
        }
        Ok(())
    })
    .await
}

/// A batch whose texts exceed one statement's byte bound (`BATCH_CHUNK_BYTES`) is written
/// in several statements of one transaction: every row lands whole, the ids come back in
/// the batch's order (a repeated key, across statements, gets the last row and one id), and
/// the same batch again updates in place.
pub(crate) async fn a_batch_of_large_texts_spans_statements(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, db| {
        let m = items();
        let big = p8fs_entity::BATCH_CHUNK_BYTES * 2 / 5;
        let text = |i: usize, n: usize| format!("{i:02}:").repeat(n / 3 + 1)[..n].to_owned();
        // Large and small rows interleaved; "n03" again last (the last one wins).
        let mut rows: Vec<Map<String, Value>> = (0..8)
            .map(|i| {
                let n = if i % 3 == 2 { 10 } else { big };
                obj(json!({"name": format!("n{i:02}"), "rank": i, "notes": text(i, n)}))
            })
            .collect();
        rows.push(obj(json!({"name": "n03", "rank": 99, "notes": text(99, big)})));
        let before = db.queries.load(Ordering::SeqCst);
        let r = store.batch_upsert(&m, "t", &rows).await?;
        // Two large rows and a small one per statement: three upserts at least.
        let ran = db.queries.load(Ordering::SeqCst) - before;
        ensure!(ran >= 3, "the batch ran {ran} statements: its texts were not split by bytes");
        ensure!(r.ids.len() == rows.len(), "{} ids for {} rows", r.ids.len(), rows.len());
        ensure!(r.ids[3] == r.ids[8], "a repeated key got two ids: {} and {}", r.ids[3], r.ids[8]);
        for (i, e) in rows.iter().enumerate() {
            let name = e["name"].as_str().unwrap_or_default();
            let got = store.get_by_key(&m, "t", name).await?.with_context(|| format!("{name} missing"))?;
            ensure!(got["id"] == json!(r.ids[i]), "{name}: id {} but the batch returned {}", got["id"], r.ids[i]);
            let want = if name == "n03" { &rows[8] } else { e };
            ensure!(got["rank"] == want["rank"], "{name}: rank {} (want {})", got["rank"], want["rank"]);
            ensure!(
                got["notes"] == want["notes"],
                "{name}: notes of {} bytes differ",
                want["notes"].as_str().map_or(0, str::len)
            );
        }
        let q = EntityQuery::parse(&m, &Map::new(), &[], None, None)?;
        ensure!(store.select(&m, "t", &q).await?.len() == 8, "not 8 rows after the batch");
        let again = store.batch_upsert(&m, "t", &rows).await?;
        ensure!(again.ids == r.ids, "the same batch again changed ids");
        ensure!(store.select(&m, "t", &q).await?.len() == 8, "the same batch again added rows");
        Ok(())
    })
    .await
}

pub(crate) async fn reupsert_merges_json_objects_and_keeps_the_rest(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let first = store
            .upsert(&m, "t", &obj(json!({"name": "x", "rank": 1, "notes": "keep me", "metadata": {"a": 1, "nested": {"x": 1}, "gone": true}})))
            .await?;
        let before = store.get(&m, "t", &first.ids[0]).await?.context("missing")?;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second = store
            .upsert(&m, "t", &obj(json!({"name": "x", "rank": 2, "metadata": {"b": 2, "nested": {"y": 2}, "gone": null}})))
            .await?;
        ensure!(second.ids == first.ids, "the id changed on update");
        let after = store.get(&m, "t", &first.ids[0]).await?.context("missing")?;
        ensure!(after["metadata"] == json!({"a": 1, "b": 2, "nested": {"x": 1, "y": 2}}), "merge: {}", after["metadata"]);
        ensure!(after["rank"] == json!(2), "named field not replaced");
        ensure!(after["notes"] == json!("keep me"), "a field not named was changed");
        ensure!(after["created_at"] == before["created_at"], "created_at changed");
        ensure!(after["updated_at"].as_str() > before["updated_at"].as_str(), "updated_at not advanced");
        // A JSON null replaces the object.
        store.upsert(&m, "t", &obj(json!({"name": "x", "metadata": null}))).await?;
        let cleared = store.get(&m, "t", &first.ids[0]).await?.context("missing")?;
        ensure!(cleared["metadata"].is_null(), "null metadata: {}", cleared["metadata"]);
        // Merging onto NULL starts from {}.
        store.upsert(&m, "t", &obj(json!({"name": "x", "metadata": {"c": 3}}))).await?;
        let again = store.get(&m, "t", &first.ids[0]).await?.context("missing")?;
        ensure!(again["metadata"] == json!({"c": 3}), "merge onto null: {}", again["metadata"]);
        Ok(())
    })
    .await
}

pub(crate) async fn delete_cascades_to_embeddings(ctx: Ctx) -> Result<()> {
    let m = Model::builder("docs")
        .field("name", T::Text)
        .embedded("content", "test-3d", 3)
        .embedded("title", "test-3d", 3)
        .key("name")
        .build()?;
    with_store(&ctx, std::slice::from_ref(&m), async |store, _| {
        let a = store.upsert(&m, "t", &obj(json!({"name": "a", "content": "x", "title": "y"}))).await?.ids[0].clone();
        let b = store.upsert(&m, "t", &obj(json!({"name": "b", "content": "z"}))).await?.ids[0].clone();
        store.upsert_embeddings(&m, "t", &a, &[("content", &[0.1, -0.2, 0.3]), ("title", &[1.0, 0.0, -1.0])]).await?;
        store.upsert_embeddings(&m, "t", &a, &[("content", &[0.5, 0.5, 0.5])]).await?; // replaces, not adds
        store.upsert_embeddings(&m, "t", &b, &[("content", &[0.0, 1.0, 0.0])]).await?;
        ensure!(store.count_embeddings(&m, "t", &a).await? == 2, "one row per (tenant, entity, field)");
        let wrong = store.upsert_embeddings(&m, "t", &a, &[("content", &[1.0, 2.0])]).await.unwrap_err();
        let msg = wrong.to_string();
        ensure!(msg.contains("docs.content") && msg.contains('2') && msg.contains('3'), "dimension error: {msg}");
        ensure!(store.delete(&m, "t", &a).await?);
        ensure!(store.count_embeddings(&m, "t", &a).await? == 0, "embeddings outlived their entity");
        ensure!(store.count_embeddings(&m, "t", &b).await? == 1, "delete removed another entity's embeddings");
        Ok(())
    })
    .await
}

pub(crate) async fn tenants_never_see_each_other(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let a = store.upsert(&m, "tenant-a", &obj(json!({"name": "shared-name", "rank": 1}))).await?.ids[0].clone();
        let b = store.upsert(&m, "tenant-b", &obj(json!({"name": "shared-name", "rank": 2}))).await?.ids[0].clone();
        ensure!(a != b, "the same name in two tenants must be two entities");
        ensure!(store.get(&m, "tenant-b", &a).await?.is_none(), "tenant-b reads tenant-a's row by id");
        ensure!(store.get_by_key(&m, "tenant-b", "shared-name").await?.context("b's own")?["rank"] == json!(2));
        let q = EntityQuery::parse(&m, &Map::new(), &[], None, None)?;
        let b_rows = store.select(&m, "tenant-b", &q).await?;
        ensure!(b_rows.len() == 1 && b_rows[0]["id"] == json!(b), "tenant-b's select: {b_rows:?}");
        ensure!(!store.delete(&m, "tenant-b", &a).await?, "tenant-b deleted tenant-a's row");
        // Another tenant's id is just an id in another tenant: writing it creates that
        // tenant's own entity (ids are unique per tenant), and never touches tenant-a's.
        for (via, s) in write_paths(store) {
            let own = s.upsert(&m, "tenant-b", &obj(json!({"id": a, "name": "shared-name", "rank": 2}))).await;
            // tenant-b's own row keeps its id (matched by key); never tenant-a's row.
            ensure!(own.as_ref().is_ok_and(|r| r.ids == [b.clone()]), "tenant-b's own name with a's id{via}: {own:?}");
            for (tenant, name) in [("tenant-b", "other"), ("tenant-c", "shared-name")] {
                let r = s.upsert(&m, tenant, &obj(json!({"id": a, "name": name, "rank": 99}))).await?;
                ensure!(r.ids == [a.clone()], "{tenant}'s own entity with that id{via}: {r:?}");
                let batch = [obj(json!({"name": "fine", "rank": 5})), obj(json!({"id": a, "name": name, "rank": 98}))];
                s.batch_upsert(&m, tenant, &batch).await.with_context(|| format!("{tenant} batch{via}"))?;
                let row = s.get(&m, tenant, &a).await?.context("the tenant's own row")?;
                ensure!(row["name"] == json!(name) && row["rank"] == json!(98), "{tenant}'s row{via}: {row:?}");
            }
            let a_row = store.get(&m, "tenant-a", &a).await?.context("tenant-a's row vanished")?;
            ensure!(
                a_row["rank"] == json!(1) && a_row["name"] == json!("shared-name"),
                "tenant-a's row changed{via}: {a_row:?}"
            );
            ensure!(store.select(&m, "tenant-a", &q).await?.len() == 1, "tenant-a sees another tenant's row{via}");
        }
        // Trailing spaces and other non-ids never reach a statement (MySQL-family PAD SPACE
        // collations would match "tenant-a " to tenant-a's rows).
        for bad in ["tenant-a ", " tenant-a", "tenant-a\t", "tenant a", "tenant-a/x", ".."] {
            ensure!(store.get(&m, bad, &a).await.is_err(), "get as {bad:?}");
            ensure!(store.select(&m, bad, &q).await.is_err(), "select as {bad:?}");
            ensure!(store.delete(&m, bad, &a).await.is_err(), "delete as {bad:?}");
            let w = store.upsert(&m, bad, &obj(json!({"name": "shared-name", "rank": 666}))).await;
            ensure!(w.is_err(), "upsert as {bad:?}: {w:?}");
        }
        let a_row = store.get(&m, "tenant-a", &a).await?.context("tenant-a's row vanished")?;
        ensure!(a_row["rank"] == json!(1), "tenant-a's row changed: {a_row:?}");
        Ok(())
    })
    .await
}

/// Ids are unique per tenant: a tenant that computes another's derived id (UUIDv5 of
/// tenant, type and name) and stores it first neither blocks that tenant's later put nor
/// learns from an error that the id exists.
pub(crate) async fn ids_cannot_be_squatted_or_probed_across_tenants(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let derived = |tenant: &str, name: &str| {
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, format!("{tenant}:items:{name}").as_bytes()).to_string()
        };
        store.upsert(&m, "acme", &obj(json!({"name": "merger-plan", "rank": 1}))).await?;
        for (via, s) in write_paths(store) {
            // Probing: the same answer whether acme has the entity or not.
            let exists =
                s.upsert(&m, "mallory", &obj(json!({"id": derived("acme", "merger-plan"), "name": "p1"}))).await;
            let absent =
                s.upsert(&m, "mallory", &obj(json!({"id": derived("acme", "nothing-here"), "name": "p2"}))).await;
            ensure!(exists.is_ok() && absent.is_ok(), "probe answers differ{via}: {exists:?} / {absent:?}");
            // Squatting: mallory stores acme's future id first; acme's put still works.
            let future = derived("acme", &format!("layoffs-2027{}", via.len()));
            let squat = format!("squat{}", via.len());
            s.upsert(&m, "mallory", &obj(json!({"id": future, "name": squat}))).await?;
            let r =
                s.upsert(&m, "acme", &obj(json!({"name": format!("layoffs-2027{}", via.len()), "rank": 7}))).await?;
            ensure!(r.ids == [future.clone()], "acme's put{via}: {r:?}");
            ensure!(s.get(&m, "acme", &future).await?.context("acme's row")?["rank"] == json!(7));
            ensure!(s.get(&m, "mallory", &future).await?.context("mallory's row")?["name"] == json!(squat));
        }
        Ok(())
    })
    .await
}

/// An upsert refused inside a tenant (a given id that names another entity of the same
/// tenant) writes nothing at all: not the other rows of its batch, not its embeddings,
/// not the extra statements of its transaction, and it leaves the other entity as it was.
pub(crate) async fn a_refused_upsert_writes_nothing(ctx: Ctx) -> Result<()> {
    let m = Model::builder("docs")
        .field("name", T::Text)
        .field("rank", T::Int)
        .embedded("content", "test-3d", 3)
        .key("name")
        .build()?;
    with_store(&ctx, std::slice::from_ref(&m), async |store, _| {
        let a = store.upsert(&m, "t", &obj(json!({"name": "a", "rank": 1, "content": "A"}))).await?.ids[0].clone();
        store.upsert_embeddings(&m, "t", &a, &[("content", &[1.0, 0.0, 0.0])]).await?;
        let q = EntityQuery::parse(&m, &Map::new(), &[], None, None)?;
        for (via, s) in write_paths(store) {
            let clash = obj(json!({"id": a, "name": "b", "rank": 99, "content": "B"}));
            let fine = obj(json!({"name": "fine", "rank": 5, "content": "F"}));
            let e = s.upsert(&m, "t", &clash).await;
            ensure!(e.is_err(), "a clash was accepted{via}: {e:?}");
            let e = s.batch_upsert(&m, "t", &[fine.clone(), clash.clone()]).await;
            ensure!(e.is_err(), "a batch with a clash was accepted{via}: {e:?}");
            let vectors = vec![
                vec![("content".to_owned(), vec![0.0, 1.0, 0.0])],
                vec![("content".to_owned(), vec![0.0, 0.0, 1.0])],
            ];
            let e = s.batch_upsert_with_embeddings(&m, "t", &[fine.clone(), clash.clone()], &vectors).await;
            ensure!(e.is_err(), "a batch with embeddings and a clash was accepted{via}: {e:?}");
            let extra_ran = |_: &[String]| -> p8fs_sql_dialect::Result<Vec<Statement>> {
                Ok(vec![Statement {
                    sql: match s.executor().dialect().kind() {
                        DialectKind::Postgres => format!("UPDATE {}.docs SET rank = rank + 1000", ctx.scratch),
                        DialectKind::Sqlite => "UPDATE docs SET rank = rank + 1000".to_owned(),
                        _ => format!("UPDATE `{}`.docs SET `rank` = `rank` + 1000", ctx.scratch),
                    },
                    values: vec![],
                }])
            };
            let e = s.batch_upsert_with_extra(&m, "t", &[fine.clone(), clash.clone()], &vectors, &extra_ran).await;
            ensure!(e.is_err(), "a batch with extra statements and a clash was accepted{via}: {e:?}");
            let rows = s.select(&m, "t", &q).await?;
            ensure!(rows.len() == 1, "rows left behind{via}: {rows:?}");
            ensure!(rows[0]["name"] == json!("a") && rows[0]["rank"] == json!(1), "a changed{via}: {rows:?}");
            ensure!(store.count_embeddings(&m, "t", &a).await? == 1, "a's embeddings changed{via}");
            let hits = store
                .vector_similarity_search(
                    &m,
                    "t",
                    &[0.0, 1.0, 0.0],
                    &p8fs_sql_dialect::entity::SearchOptions::default(),
                )
                .await?
                .hits;
            ensure!(hits.len() == 1 && hits[0].entity_id == a, "embeddings left behind{via}: {hits:?}");
        }
        Ok(())
    })
    .await
}

/// The business key decides which row an upsert meets, on every engine: a given id that
/// names another row of the tenant neither redirects the write there nor makes it vanish
/// (the MySQL family meets the primary key first, PostgreSQL and SQLite the key); a given
/// id taken by another key with a new key is the same error everywhere.
pub(crate) async fn a_given_id_never_decides_which_row_an_upsert_meets(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        for (via, s) in write_paths(store) {
            let (xn, yn, zn) = (format!("x{}", via.len()), format!("y{}", via.len()), format!("z{}", via.len()));
            let x = s.upsert(&m, "t", &obj(json!({"name": xn, "rank": 1}))).await?.ids[0].clone();
            let y = s.upsert(&m, "t", &obj(json!({"name": yn, "rank": 2}))).await?.ids[0].clone();
            // X's id with Y's key: Y is updated and keeps its id; X is untouched.
            for batch in [
                vec![obj(json!({"id": x, "name": yn, "rank": 20}))],
                vec![
                    obj(json!({"name": format!("w{}", via.len()), "rank": 0})),
                    obj(json!({"id": x, "name": yn, "rank": 21})),
                ],
            ] {
                let r = s.batch_upsert(&m, "t", &batch).await.with_context(|| format!("X's id, Y's key{via}"))?;
                ensure!(r.ids.last() == Some(&y), "the upsert met another row than the key's{via}: {r:?}");
                let rx = s.get(&m, "t", &x).await?.context("x")?;
                let ry = s.get(&m, "t", &y).await?.context("y")?;
                ensure!(rx["name"] == json!(xn) && rx["rank"] == json!(1), "x changed{via}: {rx:?}");
                ensure!(ry["name"] == json!(yn) && ry["rank"] != json!(2), "y not updated{via}: {ry:?}");
            }
            // X's id with a new key: refused the same way on every engine, nothing written.
            let e = s.upsert(&m, "t", &obj(json!({"id": x, "name": zn, "rank": 3}))).await;
            let kind = e.as_ref().err().map(p8fs_sql_dialect::Error::kind);
            ensure!(kind == Some(ErrorKind::UniqueViolation), "X's id with a new key{via}: {e:?}");
            ensure!(s.get_by_key(&m, "t", &zn).await?.is_none(), "a refused row was written{via}");
        }
        Ok(())
    })
    .await
}

/// An upsert that gives no id meets its key's row whatever id that row is stored under,
/// on every engine: a row created under a given id keeps it and is updated; a key whose
/// derived id another key's row holds is refused with nothing written, unless the key has
/// a row of its own, which is then updated. On TiDB (no `RETURNING`) updating a row
/// stored under its derived id is one statement; the other cases read the stored id.
pub(crate) async fn an_upsert_by_key_meets_the_keys_row_whatever_its_id(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, db| {
        let m = items();
        let mut paths: Vec<(&str, EntityStore, Arc<Counting>)> = vec![("", store.clone(), db)];
        if store.executor().dialect().kind() == DialectKind::MariaDb {
            let c = Arc::new(Counting::as_tidb(Arc::clone(store.executor())));
            paths.push((" (TiDB's statements)", EntityStore::new(c.clone(), store.layout().clone()), c));
        }
        let derived = |name: &str| {
            uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, format!("t:items:{name}").as_bytes()).to_string()
        };
        for (via, s, count) in paths {
            let n = via.len();
            let rank_of = async |id: &str| -> Result<Value> {
                Ok(s.get(&m, "t", id).await?.with_context(|| format!("row {id}{via}"))?["rank"].clone())
            };
            // Created under a given id: writes by key alone keep that id.
            let (k1, custom) = (format!("given{n}"), format!("custom-{n}"));
            let r = s.upsert(&m, "t", &obj(json!({"id": custom, "name": k1, "rank": 1}))).await?;
            ensure!(r.ids == [custom.clone()], "created under a given id{via}: {r:?}");
            let r = s.upsert(&m, "t", &obj(json!({"name": k1, "rank": 2}))).await?;
            ensure!(r.ids == [custom.clone()], "a write by key alone{via}: {r:?}");
            ensure!(rank_of(&custom).await? == json!(2), "the key's row was not updated{via}");
            ensure!(s.get(&m, "t", &derived(&k1)).await?.is_none(), "a second row under the derived id{via}");
            // Derived ids: inserted, then updated; one statement for the update on TiDB.
            let k2 = format!("plain{n}");
            let r = s.upsert(&m, "t", &obj(json!({"name": k2, "rank": 1}))).await?;
            ensure!(r.ids == [derived(&k2)], "a new key{via}: {r:?}");
            let before = count.queries.load(Ordering::SeqCst);
            let r = s.upsert(&m, "t", &obj(json!({"name": k2, "rank": 2}))).await?;
            let statements = count.queries.load(Ordering::SeqCst) - before;
            ensure!(r.ids == [derived(&k2)], "an update{via}: {r:?}");
            ensure!(rank_of(&derived(&k2)).await? == json!(2), "not updated{via}");
            if s.executor().dialect().kind() == DialectKind::Tidb {
                ensure!(statements == 1, "an update by key took {statements} statements on TiDB{via}");
            }
            // The derived id held by another key's row, no row of the key: refused, nothing written.
            let (k3, holder) = (format!("squatted{n}"), format!("holder{n}"));
            s.upsert(&m, "t", &obj(json!({"id": derived(&k3), "name": holder, "rank": 1}))).await?;
            let e = s.upsert(&m, "t", &obj(json!({"name": k3, "rank": 5}))).await;
            let kind = e.as_ref().err().map(p8fs_sql_dialect::Error::kind);
            ensure!(kind == Some(ErrorKind::UniqueViolation), "a key whose derived id is held{via}: {e:?}");
            ensure!(s.get_by_key(&m, "t", &k3).await?.is_none(), "a refused row was written{via}");
            ensure!(rank_of(&derived(&k3)).await? == json!(1), "the holder changed{via}");
            // The derived id held by another key's row, and the key's own row under a given
            // id: the key's row is updated, the holder left as it was.
            let (k4, own, other) = (format!("both{n}"), format!("own-{n}"), format!("other{n}"));
            s.upsert(&m, "t", &obj(json!({"id": own, "name": k4, "rank": 1}))).await?;
            s.upsert(&m, "t", &obj(json!({"id": derived(&k4), "name": other, "rank": 1}))).await?;
            let r = s.upsert(&m, "t", &obj(json!({"name": k4, "rank": 7}))).await;
            ensure!(r.as_ref().is_ok_and(|r| r.ids == [own.clone()]), "the key's own row{via}: {r:?}");
            ensure!(rank_of(&own).await? == json!(7), "the key's row was not updated{via}");
            let held = s.get(&m, "t", &derived(&k4)).await?.context("the holder")?;
            ensure!(held["name"] == json!(other) && held["rank"] == json!(1), "the holder changed{via}: {held:?}");
        }
        Ok(())
    })
    .await
}

/// Global models (shared by every tenant, such as `tenants`) are out of reach of every
/// tenant's call; only the administrative calls read and change them.
pub(crate) async fn global_models_are_out_of_tenants_reach(ctx: Ctx) -> Result<()> {
    let m = p8fs_sql_dialect::model::tenants();
    with_store(&ctx, std::slice::from_ref(&m), async |store, _| {
        let r = store.admin_batch_upsert(&m, &[obj(json!({"tenant_name": "acme", "public_key": "ACME-KEY"}))]).await?;
        let id = r.ids[0].clone();
        let q = EntityQuery::parse(&m, &Map::new(), &[], None, None)?;
        // Through a tenant's calls: refused, whatever the tenant.
        let put = store.upsert(&m, "mallory", &obj(json!({"tenant_name": "acme", "public_key": "MALLORY-KEY"}))).await;
        ensure!(put.is_err(), "a tenant wrote a global model: {put:?}");
        ensure!(store.get(&m, "mallory", &id).await.is_err(), "a tenant read a global row by id");
        ensure!(store.get_by_key(&m, "mallory", "acme").await.is_err(), "a tenant read a global row by key");
        ensure!(store.select(&m, "mallory", &q).await.is_err(), "a tenant listed a global model");
        ensure!(store.delete(&m, "mallory", &id).await.is_err(), "a tenant deleted a global row");
        ensure!(store.rename_key(&m, "mallory", &id, "pwned").await.is_err(), "a tenant renamed a global row");
        let row = store.admin_get_by_key(&m, "acme").await?.context("acme's row")?;
        ensure!(row["public_key"] == json!("ACME-KEY") && row["id"] == json!(id), "acme's row changed: {row:?}");
        ensure!(row["tenant_id"].is_null(), "a global row belongs to no tenant: {row:?}");
        // The administrative calls: global models only.
        ensure!(store.admin_select(&m, &q).await?.len() == 1);
        ensure!(store.admin_batch_upsert(&items(), &[obj(json!({"name": "x"}))]).await.is_err());
        ensure!(store.admin_delete(&m, &id).await?, "admin delete");
        ensure!(store.admin_get(&m, &id).await?.is_none());
        Ok(())
    })
    .await
}

/// A table made before ids were unique per tenant (primary key `id`) and, on the MySQL
/// family, with a `PAD SPACE` collation, as an earlier p8fs or the system it replaces made
/// it: `migrate` gives it the primary key `(tenant_id, id)` and exact collations, keeps
/// its rows, and afterwards a name with a trailing space is another name.
pub(crate) async fn existing_tables_migrate_to_tenant_keys_and_exact_collation(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |outer, _| {
        for (i, (via, store)) in write_paths(outer).into_iter().enumerate() {
            migrate_a_legacy_table(&ctx, &store, &format!("legacy{i}"))
                .await
                .with_context(|| format!("legacy table{via}"))?;
        }
        Ok(())
    })
    .await
}

async fn migrate_a_legacy_table(ctx: &Ctx, store: &EntityStore, t: &str) -> Result<()> {
    let legacy = Model::builder(t).field("name", T::Text).field("rank", T::Int).key("name").build()?;
    {
        let db = store.executor();
        let kind = db.dialect().kind();
        let s = &ctx.scratch;
        let ddl = match kind {
            DialectKind::Postgres => format!(
                "CREATE TABLE \"{s}\".{t} (id VARCHAR(64) NOT NULL PRIMARY KEY, tenant_id VARCHAR(255) NOT NULL, \
                 name VARCHAR(255) NOT NULL, rank BIGINT, created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL, \
                 CONSTRAINT {t}_key_uq UNIQUE (tenant_id, name))"
            ),
            DialectKind::Sqlite => format!(
                "CREATE TABLE {t} (id VARCHAR(64) NOT NULL PRIMARY KEY, tenant_id VARCHAR(255) NOT NULL, \
                 name VARCHAR(255) NOT NULL, rank BIGINT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, \
                 CONSTRAINT {t}_key_uq UNIQUE (tenant_id, name))"
            ),
            DialectKind::MariaDb | DialectKind::Tidb => format!(
                "CREATE TABLE `{s}`.{t} (id VARCHAR(64) NOT NULL, tenant_id VARCHAR(255) NOT NULL, \
                 name VARCHAR(255) NOT NULL, `rank` BIGINT, created_at DATETIME(6) NOT NULL, updated_at DATETIME(6) NOT NULL, \
                 PRIMARY KEY (id), UNIQUE KEY {t}_key_uq (tenant_id, name)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            ),
        };
        db.execute(&Statement::raw(ddl)).await?;
        let table = match kind {
            DialectKind::Postgres => format!("\"{s}\".{t}"),
            DialectKind::Sqlite => t.to_owned(),
            _ => format!("`{s}`.{t}"),
        };
        let stamp = db.dialect().timestamp_value(chrono::Utc::now());
        for (id, tenant, name, rank) in [("id-1", "t", "budget", 1i64), ("id-2", "u", "budget", 2)] {
            let rank_col = if matches!(kind, DialectKind::MariaDb | DialectKind::Tidb) { "`rank`" } else { "rank" };
            let q = if kind == DialectKind::Postgres { "$1, $2, $3, $4, $5, $6" } else { "?, ?, ?, ?, ?, ?" };
            db.execute(&Statement {
                sql: format!(
                    "INSERT INTO {table} (id, tenant_id, name, {rank_col}, created_at, updated_at) VALUES ({q})"
                ),
                values: vec![id.into(), tenant.into(), name.into(), rank.into(), stamp.clone(), stamp.clone()],
            })
            .await?;
        }
        if matches!(kind, DialectKind::MariaDb | DialectKind::Tidb) {
            // What the PAD SPACE collation did before the migration.
            let padded = Statement {
                sql: format!("SELECT id FROM {table} WHERE tenant_id = ? AND name = ?"),
                values: vec!["t ".into(), "budget ".into()],
            };
            ensure!(db.query(&padded).await?.len() == 1, "the legacy table does not pad: the test proves nothing");
        }
        if matches!(kind, DialectKind::Sqlite | DialectKind::Tidb) {
            // Engines that rebuild the table refuse to start over a leftover of an earlier
            // rebuild that stopped part-way.
            let leftover = match kind {
                DialectKind::Sqlite => format!("{t}__p8fs_old"),
                _ => format!("`{s}`.{t}__p8fs_new"),
            };
            db.execute(&Statement::raw(format!("CREATE TABLE {leftover} (a INT)"))).await?;
            let e = store.migrate(&legacy).await;
            ensure!(e.as_ref().is_err_and(|e| e.to_string().contains("stopped part-way")), "over a leftover: {e:?}");
            db.execute(&Statement::raw(format!("DROP TABLE {leftover}"))).await?;
        }
        store.migrate(&legacy).await.context("migrating the legacy table")?;
        store.migrate(&legacy).await.context("migrating it again")?;
        let info = store.table_info(t).await?.context("table vanished")?;
        let mut pk = info.primary_key.clone();
        pk.sort();
        ensure!(pk == ["id", "tenant_id"], "primary key after migration: {:?}", info.primary_key);
        let row_t = store.get_by_key(&legacy, "t", "budget").await?.context("t's row lost")?;
        let row_u = store.get_by_key(&legacy, "u", "budget").await?.context("u's row lost")?;
        ensure!(
            row_t["id"] == json!("id-1") && row_t["rank"] == json!(1) && row_u["rank"] == json!(2),
            "rows changed: {row_t:?} {row_u:?}"
        );
        ensure!(store.get_by_key(&legacy, "t", "budget ").await?.is_none(), "a trailing space matched another key");
        let (p1, p2) = if kind == DialectKind::Postgres { ("$1", "$2") } else { ("?", "?") };
        let padded = Statement {
            sql: format!("SELECT id FROM {table} WHERE tenant_id = {p1} AND name = {p2}"),
            values: vec!["t ".into(), "budget ".into()],
        };
        ensure!(db.query(&padded).await?.is_empty(), "the migrated table still pads trailing spaces");
        // Ids are now unique per tenant: another tenant may use id-1.
        store.upsert(&legacy, "u", &obj(json!({"id": "id-1", "name": "other", "rank": 3}))).await?;
        ensure!(store.get(&legacy, "t", "id-1").await?.context("t's row")?["name"] == json!("budget"));
        let e = store.upsert(&legacy, "t", &obj(json!({"name": "budget ", "rank": 9}))).await;
        ensure!(e.is_err(), "a key with a trailing space was accepted: {e:?}");
        Ok(())
    }
}

/// What `p8fs schema --dialect D` prints (`ddl::schema_script` over the core models) runs
/// unchanged on a database of that dialect that has none of it (the vector extension
/// and PostgreSQL's merge-patch function included), and runs again without changing
/// anything; a store then works on the tables it made.
pub(crate) async fn printed_schema_runs_twice_on_an_empty_database(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[], async |store, _| {
        let db = store.executor();
        let models = p8fs_sql_dialect::model::core_models();
        let script = ddl::schema_script(db.dialect(), &models, store.layout());
        ensure!(script.len() > models.len(), "a script of {} statements", script.len());
        for round in 1..=2 {
            for stmt in &script {
                db.execute(stmt).await.with_context(|| format!("round {round}: {}", stmt.sql))?;
            }
        }
        let m = resources();
        let r = store.upsert(&m, "t", &obj(json!({"name": "n", "metadata": {"a": 1}}))).await?;
        store.upsert(&m, "t", &obj(json!({"name": "n", "metadata": {"b": 2}}))).await?;
        let row = store.get(&m, "t", &r.ids[0]).await?.context("row")?;
        ensure!(row["metadata"] == json!({"a": 1, "b": 2}), "merge patch after the printed schema: {row:?}");
        if db.dialect().kind() == DialectKind::Postgres {
            printed_schema_on_a_fresh_postgres_database(&ctx, &models).await?;
        }
        Ok(())
    })
    .await
}

/// PostgreSQL: the printed script on a new database, which has no `vector` extension yet
/// (a new user's first `p8fs schema --dialect postgresql | psql`).
async fn printed_schema_on_a_fresh_postgres_database(ctx: &Ctx, models: &[Model]) -> Result<()> {
    let admin = ctx.env.sql(&ctx.scratch).await?;
    let fresh = format!("{}_fresh", ctx.scratch);
    admin.execute(&Statement::raw(format!("CREATE DATABASE \"{fresh}\""))).await?;
    let result = async {
        let url = ctx.env.url().context("no PostgreSQL URL")?;
        // The URL's parameters (the services' `sslmode`, which may hold a `/`) are kept.
        let (head, query) = url.split_once('?').map_or((url, String::new()), |(h, q)| (h, format!("?{q}")));
        let (base, _) = head.rsplit_once('/').context("a URL without a database")?;
        let mut cfg = p8fs_postgres::PgConfig::from_url(&format!("{base}/{fresh}{query}"))?;
        cfg.op_timeout = std::time::Duration::from_secs(20);
        let db = p8fs_postgres::PgProvider::connect(cfg).await?;
        let script = ddl::schema_script(&p8fs_sql_dialect::Postgres, models, &Layout::default());
        for round in 1..=2 {
            for stmt in &script {
                db.execute(stmt).await.with_context(|| format!("fresh database, round {round}: {}", stmt.sql))?;
            }
        }
        let ext = db.query(&Statement::raw("SELECT extname FROM pg_extension WHERE extname = 'vector'")).await?;
        ensure!(ext.len() == 1, "the script did not create the vector extension");
        anyhow::Ok(())
    }
    .await;
    admin.execute(&Statement::raw(format!("DROP DATABASE IF EXISTS \"{fresh}\" WITH (FORCE)"))).await?;
    result
}

pub(crate) async fn metadata_cache_hits_issue_no_query(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, db| {
        let m = items();
        store.cache().clear();
        let s0 = store.cache().stats();
        let before = db.queries.load(Ordering::SeqCst);
        ensure!(store.table_exists(&m).await?, "table not found");
        let after_miss = db.queries.load(Ordering::SeqCst);
        ensure!(after_miss == before + 1, "a miss ran {} queries", after_miss - before);
        for _ in 0..5 {
            ensure!(store.table_exists(&m).await?);
            store.table_info("items").await?;
        }
        ensure!(db.queries.load(Ordering::SeqCst) == after_miss, "hits queried the catalog");
        let s = store.cache().stats();
        ensure!(s.hits - s0.hits == 10 && s.misses - s0.misses == 1 && s.size == 1, "stats {s:?} after {s0:?}");
        ensure!(s.tables[0].ends_with("/items"), "{:?}", s.tables);
        store.invalidate_table_cache("items");
        store.table_exists(&m).await?;
        ensure!(db.queries.load(Ordering::SeqCst) == after_miss + 1, "invalidation did not force a lookup");
        store.cache().clear();
        ensure!(store.cache().stats().size == 0);
        let missing = Model::builder("not_there").field("x", T::Text).build()?;
        ensure!(!store.table_exists(&missing).await?, "a missing table exists");
        ensure!(kind_of(store.get(&missing, "t", "id").await)? == ErrorKind::InvalidInput, "use of a missing table");
        Ok(())
    })
    .await
}

pub(crate) async fn hostile_values_are_stored_and_matched_literally(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let hostile =
            ["'; DROP TABLE items; --", "quote\"d 'x'", "back\\slash\\", "percent%_", "ünïcødé 🐢", "nul\0byte"];
        for h in hostile {
            let r = store.upsert(&m, "t", &obj(json!({"name": h, "notes": h, "metadata": {"v": h}}))).await;
            if let Err(e) = &r {
                // PostgreSQL text cannot hold NUL: refused cleanly, nothing stored.
                ensure!(h.contains('\0') && e.kind() == ErrorKind::InvalidInput, "{h:?}: {e}");
                continue;
            }
            let got = names(store, &m, "t", json!({"name": h})).await?;
            ensure!(got == [h], "{h:?} matched {got:?}");
            let via_notes = names(store, &m, "t", json!({"notes": h})).await?;
            ensure!(via_notes == [h], "notes {h:?} matched {via_notes:?}");
            let row = store.get_by_key(&m, "t", h).await?.context("by key")?;
            ensure!(row["metadata"] == json!({"v": h}), "metadata changed: {}", row["metadata"]);
        }
        ensure!(store.table_exists(&m).await?, "the table survived");
        Ok(())
    })
    .await
}

/// A Rust struct as a model, through serde.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Person {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    email: String,
    name: String,
    role_level: Option<i64>,
    interested_in: Vec<String>,
    #[serde(default)]
    created_at: Option<String>,
}

impl p8fs_entity::Entity for Person {
    fn model() -> Model {
        p8fs_sql_dialect::model::users()
    }
}

pub(crate) async fn rust_structs_round_trip_through_serde(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[p8fs_sql_dialect::model::users()], async |store, _| {
        let sarah = Person {
            id: None,
            email: "sarah@example.com".into(),
            name: "Sarah Chen".into(),
            role_level: Some(3),
            interested_in: vec!["ml".into(), "music".into()],
            created_at: None,
        };
        let r = store.put("t", std::slice::from_ref(&sarah)).await?;
        let back: Person = store.fetch_by_key("t", "sarah@example.com").await?.context("not found by email")?;
        ensure!(back.id.as_deref() == Some(r.ids[0].as_str()), "id {:?} vs {:?}", back.id, r.ids);
        ensure!(back.created_at.is_some(), "created_at not filled on read");
        ensure!(Person { id: None, created_at: None, ..back.clone() } == sarah, "round trip changed {back:?}");
        let by_id: Option<Person> = store.fetch("t", &r.ids[0]).await?;
        ensure!(by_id.as_ref() == Some(&back));
        ensure!(store.fetch::<Person>("other", &r.ids[0]).await?.is_none(), "another tenant fetched it");
        Ok(())
    })
    .await
}

pub(crate) async fn extra_statements_commit_or_roll_back_with_the_rows(ctx: Ctx) -> Result<()> {
    with_store(&ctx, &[items()], async |store, _| {
        let m = items();
        let e = obj(json!({"name": "atomic", "rank": 1}));
        // A statement that fails inside the transaction: the row must not survive it.
        let failing = |_: &[String]| Ok(vec![Statement::raw("UPDATE p8fs_no_such_table SET x = 1")]);
        let r = store.batch_upsert_with_extra(&m, "t", std::slice::from_ref(&e), &[Vec::new()], &failing).await;
        ensure!(r.is_err(), "a failing extra statement was ignored");
        ensure!(store.get_by_key(&m, "t", "atomic").await?.is_none(), "the row committed without its extra statements");
        // The ids are the stored ones, and the extra statements run.
        let seen = std::sync::Mutex::new(Vec::new());
        let ok = |ids: &[String]| {
            if let Ok(mut s) = seen.lock() {
                s.extend_from_slice(ids);
            }
            Ok(Vec::new())
        };
        let r = store.batch_upsert_with_extra(&m, "t", std::slice::from_ref(&e), &[Vec::new()], &ok).await?;
        ensure!(seen.lock().map(|s| s.clone()).unwrap_or_default() == r.ids, "extra saw other ids");
        Ok(())
    })
    .await
}
