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
