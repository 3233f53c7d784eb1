//! The p8fs-core API on every SQL provider: store with reverse mapping, find by name and by
//! storage key, cross-type names, tenant isolation, delete and rename, search by text, and
//! repair after a crash between the row commit and the mapping write.

use std::sync::Arc;

use anyhow::{Context, Result, ensure};
use p8fs_core::embed::LexicalEmbedder;
use p8fs_core::{Error as CoreError, ErrorKind, P8fs};
use p8fs_sql_dialect::DialectKind;
use p8fs_sql_dialect::entity::{Layout, SearchOptions};
use serde_json::{Map, Value, json};

use crate::harness::Ctx;

pub(crate) fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A call's outcome: answered (`Some`), or refused as bad input (`None`: `InvalidInput`,
/// `NotFound`); any other error, an engine's above all, is the error.
pub(crate) fn answered_or_refused<T>(what: &str, r: p8fs_core::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{what}: neither answered nor refused as bad input: {e:?}")),
    }
}

/// A P8fs on `scratch`'s schemas: KV in the embedded store (SQLite backend) or in the same
/// database's KV table (server backends).
pub(crate) async fn open_core(
    env: &crate::TestEnv,
    scratch: &str,
) -> Result<(P8fs, Arc<dyn p8fs_sql_dialect::SqlExecutor>)> {
    let sql = env.sql(scratch).await?;
    Ok((open_core_on(env, scratch, Arc::clone(&sql)).await?, sql))
}

/// [`open_core`] on an executor the caller made (one that records what it runs, say).
pub(crate) async fn open_core_on(
    env: &crate::TestEnv,
    scratch: &str,
    sql: Arc<dyn p8fs_sql_dialect::SqlExecutor>,
) -> Result<P8fs> {
    let layout = Layout::new(Some(scratch), Some(&format!("{scratch}_e")))?;
    let embedder = Arc::new(LexicalEmbedder::new(384));
    let p = match sql.dialect().kind() {
        // Embedded: KV in the embedded store, two commits per entity (repair covers a crash).
        DialectKind::Sqlite => {
            P8fs::with_layout(Arc::clone(&sql), layout, Arc::new(env.embedded_store(scratch)?), embedder)
        }
        // Servers: KV in the same database, one transaction per entity.
        _ => P8fs::with_sql_kv(Arc::clone(&sql), layout, embedder).await?,
    };
    Ok(p)
}

/// A P8fs on this test's schemas (dropped afterwards), core models migrated.
pub(crate) async fn with_core<F>(ctx: &Ctx, body: F) -> Result<()>
where
    F: AsyncFnOnce(&P8fs) -> Result<()>,
{
    let (p, sql) = open_core(&ctx.env, &ctx.scratch).await?;
    let result = async {
        p.migrate().await?;
        body(&p).await
    }
    .await;
    super::drop_schemas(sql.as_ref(), &ctx.scratch).await?;
    result
}

pub(crate) async fn core_finds_entities_by_name_and_storage_key(ctx: Ctx) -> Result<()> {
    let tenant = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        let s = p
            .store_entity_with_reverse_mapping(
                "UserManual",
                "resources",
                obj(json!({"content": "How to use the device", "category": "docs"})),
                &tenant,
            )
            .await?;
        ensure!(s.storage_key == format!("resources/{}", s.id), "storage key {}", s.storage_key);
        let server = ctx.env.backend != crate::Backend::Embedded;
        ensure!(p.atomic_mappings() == server, "rows and mappings in one transaction: {}", p.atomic_mappings());
        let by_name = p.get_entity_by_name("UserManual", "resources", &tenant).await?.context("by name")?;
        ensure!(by_name["id"] == json!(s.id) && by_name["category"] == json!("docs"));
        let by_key = p.get_entities_by_storage_key(&s.storage_key, &tenant).await?;
        ensure!(by_key.len() == 1 && by_key[0] == by_name, "by storage key: {by_key:?}");
        ensure!(
            p.entities().count_embeddings(&p8fs_sql_dialect::model::resources(), &tenant, &s.id).await? == 1,
            "content not embedded"
        );
        let bad = p.get_entities_by_storage_key("no-slash", &tenant).await.err().context("no-slash accepted")?;
        ensure!(matches!(bad, CoreError::InvalidInput(_)) && bad.kind() == ErrorKind::InvalidInput, "{bad}");
        let unknown =
            p.get_entities_by_storage_key("nosuchtype/x", &tenant).await.err().context("an unknown type accepted")?;
        ensure!(unknown.kind() == ErrorKind::InvalidInput && !unknown.is_retryable(), "{unknown}");
        // The same name as another entity type.
        let m = p
            .store_entity_with_reverse_mapping(
                "UserManual",
                "moments",
                obj(json!({"content": "reading the manual"})),
                &tenant,
            )
            .await?;
        let mut types: Vec<String> =
            p.mappings().lookup_by_name(&tenant, "UserManual").await?.into_iter().map(|e| e.entity_type).collect();
        types.sort();
        ensure!(types == ["moments", "resources"], "{types:?}");
        ensure!(p.get_entity_by_name("UserManual", "moments", &tenant).await?.context("moment")?["id"] == json!(m.id));
        // Search by text through the embedder.
        let hits =
            p.semantic_search("resources", &tenant, "how do I use the device", &SearchOptions::default()).await?;
        ensure!(hits.hits.first().map(|h| h.entity["name"].clone()) == Some(json!("UserManual")), "{:?}", hits.hits);
        Ok(())
    })
    .await
}

pub(crate) async fn core_isolates_tenants_with_the_same_name(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        let ea =
            p.store_entity_with_reverse_mapping("Sarah Chen", "resources", obj(json!({"summary": "in a"})), &a).await?;
        let eb =
            p.store_entity_with_reverse_mapping("Sarah Chen", "resources", obj(json!({"summary": "in b"})), &b).await?;
        ensure!(ea.id != eb.id, "one entity for two tenants");
        ensure!(p.get_entity_by_name("Sarah Chen", "resources", &a).await?.context("a")?["summary"] == json!("in a"));
        ensure!(p.get_entity_by_name("Sarah Chen", "resources", &b).await?.context("b")?["summary"] == json!("in b"));
        ensure!(
            p.get_entities_by_storage_key(&ea.storage_key, &b).await?.is_empty(),
            "tenant b reads a's entity by storage key"
        );
        let only_a = p.store_entity_with_reverse_mapping("OnlyA", "resources", obj(json!({})), &a).await?;
        ensure!(p.get_entity_by_name("OnlyA", "resources", &b).await?.is_none(), "a name of tenant a found from b");
        ensure!(!p.delete_entity("resources", &only_a.id, &b).await?, "tenant b deleted a's entity");
        ensure!(p.get_entity_by_name("OnlyA", "resources", &a).await?.is_some());
        Ok(())
    })
    .await
}

pub(crate) async fn core_delete_and_rename_update_mappings(ctx: Ctx) -> Result<()> {
    let t = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        let e = p.store_entity_with_reverse_mapping("Draft", "resources", obj(json!({"content": "text"})), &t).await?;
        p.rename_entity("resources", &e.id, "Final", &t).await?;
        ensure!(p.get_entity_by_name("Draft", "resources", &t).await?.is_none(), "old name still finds it");
        let f = p.get_entity_by_name("Final", "resources", &t).await?.context("new name")?;
        ensure!(f["id"] == json!(e.id) && f["name"] == json!("Final"));
        ensure!(p.mappings().reverse(&t, &e.id, "resources").await?.context("reverse")?.name == "Final");
        // Its id under another name: another entity's id is taken, whatever the engine.
        let taken = p
            .store_entity_with_reverse_mapping("Other", "resources", obj(json!({"id": e.id, "content": "x"})), &t)
            .await
            .err()
            .context("a second entity with the same id was stored")?;
        ensure!(taken.kind() == ErrorKind::Conflict && !taken.is_retryable(), "{taken}");
        ensure!(p.delete_entity("resources", &e.id, &t).await?);
        let gone = p.rename_entity("resources", &e.id, "Again", &t).await.err().context("renamed a deleted entity")?;
        ensure!(gone.kind() == ErrorKind::NotFound, "{gone}");
        ensure!(p.get_entity_by_name("Final", "resources", &t).await?.is_none());
        ensure!(p.mappings().lookup_by_name(&t, "Final").await?.is_empty(), "mapping outlived its entity");
        ensure!(p.repair(&t).await?.is_clean(), "repair found something after delete");
        Ok(())
    })
    .await
}

/// The variable that turns the conformance binary into the core fault test's child.
pub const FAULT_CHILD_ENV: &str = "P8FS_CORE_FAULT_CHILD";

/// The child: stores one entity with `P8FS_FAILPOINT=after_entity_commit`, so the process
/// aborts after the row commits and before the mapping is written.
pub fn fault_child_main(dir: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let p = P8fs::open(&p8fs_core::Settings::embedded(std::path::Path::new(dir))).await?;
        p.migrate().await?;
        p.store_entity_with_reverse_mapping(
            "Crashed",
            "resources",
            obj(json!({"content": "half written"})),
            "tenant-x",
        )
        .await?;
        anyhow::bail!("the failpoint did not abort the process")
    })
}

pub(crate) async fn core_repair_after_crash_between_row_and_mapping(ctx: Ctx) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("p8fs-test-{}-core", ctx.scratch));
    let exe = std::env::current_exe()?;
    let d = dir.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new(exe)
            .env(FAULT_CHILD_ENV, &d)
            .env("P8FS_FAILPOINT", "after_entity_commit")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
    })
    .await??;
    ensure!(!status.success(), "the child was not killed at the failpoint ({status})");
    let p = P8fs::open(&p8fs_core::Settings::embedded(&dir)).await?;
    let row = p.entities().get_by_key(&p8fs_sql_dialect::model::resources(), "tenant-x", "Crashed").await?;
    let row = row.context("the row did not commit before the crash")?;
    ensure!(
        p.mappings().lookup("tenant-x", "resources", "Crashed").await?.is_none(),
        "the mapping was written before the crash?"
    );
    let report = p.repair("tenant-x").await?;
    ensure!(report.completed.len() == 1, "repair: {report:?}");
    let entry = p.mappings().lookup("tenant-x", "resources", "Crashed").await?.context("mapping not restored")?;
    ensure!(json!(entry.entity_key) == row["id"], "restored mapping points elsewhere");
    ensure!(p.repair("tenant-x").await?.is_clean(), "second repair not clean");
    drop(p);
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Set (to a scratch name) in the child process of `core_row_and_mapping_commit_together`.
pub const SQL_FAULT_CHILD_ENV: &str = "P8FS_CORE_SQL_FAULT_CHILD";

/// The child: on the configured server backend, stores one entity with
/// `P8FS_FAILPOINT=after_entity_commit`, so the process aborts right after the commit.
pub fn sql_fault_child_main(scratch: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let env = crate::TestEnv::load()?;
        let (p, _) = open_core(&env, scratch).await?;
        p.store_entity_with_reverse_mapping("Crashed", "resources", obj(json!({"content": "one commit"})), scratch)
            .await?;
        anyhow::bail!("the failpoint did not abort the process")
    })
}

/// With the KV table in the entities' database, the mapping keys are part of the row's
/// commit: a process killed right after it leaves row and mapping both written, with
/// nothing for repair to do.
pub(crate) async fn core_row_and_mapping_commit_together(ctx: Ctx) -> Result<()> {
    let scratch = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        ensure!(p.atomic_mappings(), "a server backend with its KV table should commit mappings with rows");
        let exe = std::env::current_exe()?;
        let s = scratch.clone();
        let status = tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .env(SQL_FAULT_CHILD_ENV, &s)
                .env("P8FS_FAILPOINT", "after_entity_commit")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
        })
        .await??;
        ensure!(
            !status.status.success(),
            "the child was not killed at the failpoint ({}): {}",
            status.status,
            String::from_utf8_lossy(&status.stderr)
        );
        let row = p.entities().get_by_key(&p8fs_sql_dialect::model::resources(), &scratch, "Crashed").await?;
        let row = row.context("the row did not commit before the crash")?;
        let entry = p.mappings().lookup(&scratch, "resources", "Crashed").await?.context("mapping missing")?;
        ensure!(json!(entry.entity_key) == row["id"], "the mapping points elsewhere");
        ensure!(p.repair(&scratch).await?.is_clean(), "repair found work after an atomic store");
        Ok(())
    })
    .await
}

/// A store refused inside its transaction (a given id that names another entity of the
/// tenant) leaves nothing: no row of the batch, no embeddings, no mapping keys (in one
/// transaction with the rows on the servers, where the KV store is a table of the same
/// database). Names that would share mapping keys with an entity type are refused before
/// anything is written.
pub(crate) async fn core_refused_store_leaves_no_rows_or_mappings(ctx: Ctx) -> Result<()> {
    let tenant = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        let a =
            p.store_entity_with_reverse_mapping("a", "resources", obj(json!({"content": "first"})), &tenant).await?;
        let batch = vec![
            ("fine".to_owned(), obj(json!({"content": "fine"}))),
            ("b".to_owned(), obj(json!({"id": a.id, "content": "clash"}))),
        ];
        let r = p.store_entities_with_reverse_mappings("resources", &tenant, batch).await;
        ensure!(r.is_err(), "a batch with a clashing id was stored: {r:?}");
        for name in ["fine", "b"] {
            ensure!(p.get_entity_by_name(name, "resources", &tenant).await?.is_none(), "{name} was stored");
            ensure!(p.mappings().lookup(&tenant, "resources", name).await?.is_none(), "{name}'s mapping was written");
            ensure!(p.mappings().lookup_by_name(&tenant, name).await?.is_empty(), "{name}'s name key was written");
        }
        let row = p.get_entity_by_name("a", "resources", &tenant).await?.context("a vanished")?;
        ensure!(row["content"] == json!("first"), "a changed: {row:?}");
        ensure!(p.repair(&tenant).await?.is_clean(), "the refused store left work for repair");
        // A resource called `moments` has the name key `moments/resources`, which is the
        // type key of a moment called `resources`.
        for name in ["moments", "resources", "reverse", "tenants"] {
            let r = p.store_entity_with_reverse_mapping(name, "resources", obj(json!({"content": "x"})), &tenant).await;
            ensure!(r.is_err(), "an entity called {name:?} was stored");
        }
        Ok(())
    })
    .await
}

/// Many entities in one call: every one findable by name and storage key, a repeated name
/// stored once (last data wins), and an invalid name anywhere in the batch writes nothing.
pub(crate) async fn core_batch_store_with_mappings(ctx: Ctx) -> Result<()> {
    let tenant = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        let mut items: Vec<(String, Map<String, Value>)> = (0..120)
            .map(|i| {
                (format!("doc-{i:03}"), obj(json!({"content": format!("document number {i}"), "category": "batch"})))
            })
            .collect();
        items.push(("doc-007".into(), obj(json!({"content": "the last copy of seven", "category": "batch"}))));
        let stored = p.store_entities_with_reverse_mappings("resources", &tenant, items).await?;
        ensure!(stored.len() == 121, "one result per input: {}", stored.len());
        ensure!(stored[7].id == stored[120].id, "a repeated name is one entity");
        for (i, s) in stored.iter().enumerate().take(120) {
            let by_name = p.get_entity_by_name(&format!("doc-{i:03}"), "resources", &tenant).await?;
            let by_name = by_name.with_context(|| format!("doc-{i:03} not found by name"))?;
            ensure!(by_name["id"] == json!(s.id), "doc-{i:03}: mapping points elsewhere");
            ensure!(p.get_entities_by_storage_key(&s.storage_key, &tenant).await?.len() == 1);
        }
        let seven = p.get_entity_by_name("doc-007", "resources", &tenant).await?.context("doc-007")?;
        ensure!(seven["content"] == json!("the last copy of seven"), "last data wins: {seven:?}");
        let model = p8fs_sql_dialect::model::resources();
        ensure!(p.entities().count_embeddings(&model, &tenant, &stored[0].id).await? == 1, "not embedded");

        // A name the KV store cannot key (a control character; one far too long) anywhere in
        // a batch: a clear error, and not one row of the batch written.
        let too_long = "n".repeat(p.kv().backend().capability().max_key_bytes + 1);
        for bad in ["bad\u{1}name".to_owned(), too_long] {
            let batch =
                vec![("fresh-a".to_owned(), obj(json!({"content": "a"}))), (bad.clone(), obj(json!({"content": "b"})))];
            let Err(err) = p.store_entities_with_reverse_mappings("resources", &tenant, batch).await else {
                anyhow::bail!("a name of {} bytes was accepted", bad.len());
            };
            ensure!(matches!(err, CoreError::Kv(_)) && err.kind() == ErrorKind::InvalidInput, "{err}");
            ensure!(
                p.entities().get_by_key(&model, &tenant, "fresh-a").await?.is_none(),
                "a rejected batch left a row behind ({err})"
            );
        }
        Ok(())
    })
    .await
}
