//! The reverse map over every KV backend: the three-key layout byte for byte, lookups,
//! cross-type names, tenant isolation, paging, delete, rename, verify and repair.

use anyhow::{Context, Result, ensure};
use p8fs_reverse_map::{Mapping, ReverseMap};
use serde_json::{Value, json};

use super::{store, tenant};
use crate::harness::Ctx;

fn m(name: &str, ty: &str, key: &str) -> Mapping {
    Mapping { name: name.into(), entity_type: ty.into(), entity_key: key.into(), table_name: ty.into() }
}

pub(crate) async fn reverse_map_keys_are_byte_compatible(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "")?;
    let map = ReverseMap::new(kv.clone());
    map.store(t.as_str(), &m("UserManual", "document", "doc456")).await?;
    let raw = kv.tenant(&t);
    let get = |k: &'static str| {
        let raw = raw.clone();
        async move {
            anyhow::Ok(serde_json::from_slice::<Value>(&raw.get(k).await?.with_context(|| format!("{k} missing"))?)?)
        }
    };
    ensure!(
        get("UserManual/document").await?
            == json!({"entity_type": "document", "entity_name": "UserManual", "entity_key": "doc456"})
    );
    ensure!(
        get("document/UserManual").await?
            == json!({"entity_key": "doc456", "table_name": "document", "tenant_id": t.as_str(), "entity_type": "document", "name": "UserManual"})
    );
    ensure!(
        get("reverse/doc456/document").await?
            == json!({"name": "UserManual", "entity_type": "document", "table_name": "document"})
    );
    ensure!(raw.scan_prefix("", 10, None).await?.entries.len() == 3, "exactly three keys per mapping");
    // Mappings written by the replaced system (other key order, spacing) read as they are.
    raw.put("document/Legacy", br#"{"name": "Legacy", "tenant_id": "x", "entity_type": "document", "table_name": "document", "entity_key": "old1"}"#, None).await?;
    let legacy = map.lookup(t.as_str(), "document", "Legacy").await?.context("legacy entry unreadable")?;
    ensure!(legacy.entity_key == "old1");
    Ok(())
}

pub(crate) async fn reverse_map_lookups_round_trip(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "")?;
    let map = ReverseMap::new(kv);
    let ts = t.as_str();
    map.store(ts, &m("Sarah Chen", "users", "u-1")).await?;
    map.store(ts, &m("Sarah Chen", "resources", "r-9")).await?;
    map.store(ts, &m("users", "resources", "r-10")).await?; // a name spelled like a type
    map.store(ts, &m("reverse", "resources", "r-11")).await?; // and like the reverse prefix
    map.store(ts, &m("a/b%c", "resources", "r/12")).await?; // separators in every part
    let mut by_name: Vec<String> =
        map.lookup_by_name(ts, "Sarah Chen").await?.into_iter().map(|e| e.entity_type).collect();
    by_name.sort();
    ensure!(by_name == ["resources", "users"], "cross-type lookup: {by_name:?}");
    ensure!(map.lookup(ts, "users", "Sarah Chen").await?.context("by type")?.entity_key == "u-1");
    ensure!(map.reverse(ts, "r-9", "resources").await?.context("reverse")?.name == "Sarah Chen");
    let users: Vec<String> = map.lookup_by_name(ts, "users").await?.into_iter().map(|e| e.entity_key).collect();
    ensure!(users == ["r-10"], "name 'users' found {users:?}");
    ensure!(map.lookup_by_name(ts, "reverse").await?.len() == 1, "name 'reverse' confused with reverse keys");
    ensure!(map.lookup(ts, "resources", "a/b%c").await?.context("escaped name")?.entity_key == "r/12");
    ensure!(map.reverse(ts, "r/12", "resources").await?.context("escaped key")?.name == "a/b%c");
    ensure!(map.lookup(ts, "users", "Nobody").await?.is_none());
    let (page, next) = map.list_by_type(ts, "users", 10, None).await?;
    ensure!(page.len() == 1 && page[0].name == "Sarah Chen" && next.is_none(), "list users: {page:?}");
    Ok(())
}

pub(crate) async fn reverse_map_tenants_are_isolated(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let (a, b) = (tenant(&ctx, "a")?, tenant(&ctx, "a0")?);
    let map = ReverseMap::new(kv);
    map.store(a.as_str(), &m("Shared", "document", "in-a")).await?;
    map.store(b.as_str(), &m("Shared", "document", "in-b")).await?;
    map.store(a.as_str(), &m("OnlyA", "document", "a-2")).await?;
    ensure!(map.lookup(a.as_str(), "document", "Shared").await?.context("a")?.entity_key == "in-a");
    ensure!(map.lookup(b.as_str(), "document", "Shared").await?.context("b")?.entity_key == "in-b");
    ensure!(map.lookup(b.as_str(), "document", "OnlyA").await?.is_none(), "tenant a0 sees tenant a's name");
    ensure!(map.reverse(b.as_str(), "a-2", "document").await?.is_none());
    ensure!(map.lookup_by_name(b.as_str(), "OnlyA").await?.is_empty());
    Ok(())
}

pub(crate) async fn reverse_map_lists_by_type_in_pages(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "")?;
    let map = ReverseMap::new(kv);
    for i in 0..25 {
        map.store(t.as_str(), &m(&format!("doc{i:02}"), "document", &format!("k{i}"))).await?;
    }
    map.store(t.as_str(), &m("elsewhere", "user", "u")).await?;
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (page, next) = map.list_by_type(t.as_str(), "document", 7, after.as_deref()).await?;
        names.extend(page.into_iter().map(|e| e.name));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let want: Vec<String> = (0..25).map(|i| format!("doc{i:02}")).collect();
    ensure!(names == want, "paged listing: {names:?}");
    Ok(())
}

pub(crate) async fn reverse_map_delete_and_rename(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "")?;
    let ts = t.as_str();
    let map = ReverseMap::new(kv.clone());
    let old = m("Draft", "document", "d1");
    map.store(ts, &old).await?;
    let renamed = map.rename(ts, &old, "Final").await?;
    ensure!(map.lookup(ts, "document", "Draft").await?.is_none(), "old name still maps");
    ensure!(map.lookup(ts, "document", "Final").await?.context("new name")?.entity_key == "d1");
    ensure!(map.reverse(ts, "d1", "document").await?.context("reverse")?.name == "Final");
    ensure!(kv.tenant(&t).scan_prefix("", 10, None).await?.entries.len() == 3, "rename left extra keys");
    map.delete(ts, &renamed).await?;
    map.delete(ts, &renamed).await?; // idempotent
    ensure!(kv.tenant(&t).scan_prefix("", 10, None).await?.entries.is_empty(), "delete left keys");
    Ok(())
}

pub(crate) async fn reverse_map_repair_restores_consistency(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "")?;
    let ts = t.as_str();
    let raw = kv.tenant(&t);
    let map = ReverseMap::new(kv.clone());
    // 1. A complete mapping.
    map.store(ts, &m("Good", "document", "g1")).await?;
    // 2. A write that stopped after the reverse key: name and type keys missing.
    let partial = ReverseMap::entries(ts, &m("Partial", "document", "p1"))?;
    raw.put(&partial[2].0, &partial[2].1, None).await?;
    // 3. A rename that stopped before deleting the old name's keys.
    let r = m("Before", "document", "r1");
    map.store(ts, &r).await?;
    map.store(ts, &Mapping { name: "After".into(), ..r.clone() }).await?;
    // 4. A mapping whose entity was deleted.
    map.store(ts, &m("Gone", "document", "x1")).await?;
    let exists = |_ty: &str, key: &str| key != "x1";
    let report = map.verify(ts, &exists).await?;
    ensure!(report.consistent == 2, "consistent: {report:?}");
    ensure!(report.completed.len() == 1 && report.completed[0].name == "Partial", "{report:?}");
    let mut removed = report.removed_keys.clone();
    removed.sort();
    ensure!(
        removed == ["Before/document", "Gone/document", "document/Before", "document/Gone", "reverse/x1/document"],
        "removed: {removed:?}"
    );
    ensure!(raw.get("Before/document").await?.is_some(), "verify must not change anything");
    let fixed = map.repair(ts, &exists).await?;
    ensure!(fixed == report, "repair did other than verify said");
    let after = map.verify(ts, &exists).await?;
    ensure!(after.is_clean() && after.consistent == 3, "not clean after repair: {after:?}");
    ensure!(map.lookup(ts, "document", "Partial").await?.is_some(), "partial mapping not completed");
    ensure!(map.lookup(ts, "document", "Before").await?.is_none(), "stale rename keys remain");
    Ok(())
}

pub(crate) async fn reverse_map_store_batch_writes_whole_mappings(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let t = tenant(&ctx, "1")?;
    // A tenant whose id extends the other's: it must see none of its mappings.
    let other = tenant(&ctx, "10")?;
    let map = ReverseMap::new(kv.clone());
    // More than one request holds (300 mappings each, fewer on a small batch limit).
    let ms: Vec<Mapping> = (0..650).map(|i| Mapping::new(format!("n{i:03}"), "document", format!("k{i}"))).collect();
    map.store_batch(t.as_str(), &ms).await?;
    let report = map.verify(t.as_str(), &|_: &str, _: &str| true).await?;
    ensure!(report.is_clean() && report.consistent == 650, "{report:?}");
    for m in [&ms[0], &ms[299], &ms[300], &ms[649]] {
        let e = map.lookup(t.as_str(), "document", &m.name).await?.context("lookup")?;
        ensure!(e.entity_key == m.entity_key && e.tenant_id == t.as_str(), "{e:?}");
    }
    ensure!(map.lookup(other.as_str(), "document", "n001").await?.is_none(), "another tenant sees the mapping");
    ensure!(kv.tenant(&other).scan_prefix("", 10, None).await?.entries.is_empty(), "keys leaked to another tenant");
    // An incomplete mapping anywhere in the batch: nothing of the batch is written.
    let bad = [Mapping::new("Fine", "document", "f1"), Mapping::new("Keyless", "document", "")];
    ensure!(map.store_batch(other.as_str(), &bad).await.is_err(), "an incomplete mapping was accepted");
    ensure!(kv.tenant(&other).scan_prefix("", 10, None).await?.entries.is_empty(), "a refused batch wrote");
    Ok(())
}

/// Mappings whose KV store is a table of a SQL database commit with the caller's
/// transaction: written when it commits, absent when it rolls back.
pub(crate) async fn reverse_map_statements_commit_with_the_transaction(ctx: Ctx) -> Result<()> {
    if ctx.kv != Some(crate::backend::KvKind::Sql) {
        // Statements need a KV store in a SQL table; the other stores have none.
        return Ok(());
    }
    let sql = ctx.env.sql(&ctx.scratch).await?;
    let map = ReverseMap::in_database(std::sync::Arc::clone(&sql)).await?;
    ensure!(map.commits_with(&sql), "mappings on this database's KV table must commit with it");
    let t = tenant(&ctx, "")?;
    let ts = t.as_str();
    // A transaction that fails after the mapping statements: rolled back, no mapping.
    let mut stmts = map.put_statements(ts, &[Mapping::new("RolledBack", "document", "r1")])?;
    stmts.push(p8fs_sql_dialect::Statement::raw(format!("SELECT * FROM p8fs_no_such_table_{}", ctx.scratch)));
    ensure!(sql.execute_in_transaction(&stmts).await.is_err(), "a statement on a missing table succeeded");
    ensure!(map.lookup(ts, "document", "RolledBack").await?.is_none(), "a rolled-back mapping is visible");
    // The same statements alone: committed, all three keys.
    let ms: Vec<Mapping> = (0..5).map(|i| Mapping::new(format!("Doc{i}"), "document", format!("d{i}"))).collect();
    sql.execute_in_transaction(&map.put_statements(ts, &ms)?).await?;
    let report = map.verify(ts, &|_: &str, _: &str| true).await?;
    ensure!(report.is_clean() && report.consistent == 5, "{report:?}");
    // Bad input is refused by the KV check layer before any statement exists.
    let e = map.put_statements(ts, &[Mapping::new("x".repeat(2000), "document", "big")]).unwrap_err();
    ensure!(e.kind() == p8fs_kv::KvErrorKind::TooLarge, "{e}");
    ensure!(map.put_statements("../other", &ms).is_err(), "an invalid tenant was accepted");
    // A map over another store cannot give statements.
    let plain = ReverseMap::new(map.kv().clone());
    ensure!(!plain.commits_with(&sql) && plain.put_statements(ts, &ms).is_err());
    Ok(())
}
