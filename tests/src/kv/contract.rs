//! The `KvBackend` contract, behaviour by behaviour.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use p8fs_kv::{KvError, KvErrorKind, TenantId};
use serde_json::json;

use super::{store, tenant, tenant_store};
use crate::harness::Ctx;

fn kind_of(r: Result<impl std::fmt::Debug, KvError>) -> Result<KvErrorKind> {
    match r {
        Ok(v) => bail!("expected an error, got {v:?}"),
        Err(e) => Ok(e.kind()),
    }
}

/// A value that is different for every `i`, with bytes JSON and UTF-8 would mangle.
fn value(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| ((i * 131 + j * 7) % 256) as u8).collect()
}

pub(crate) async fn get_returns_none_for_a_missing_key(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    ensure!(kv.get("never/written").await?.is_none());
    Ok(())
}

pub(crate) async fn get_returns_the_last_written_value(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.put("UserManual/document", b"v1", None).await?;
    ensure!(kv.get("UserManual/document").await?.as_deref() == Some(&b"v1"[..]));
    Ok(())
}

pub(crate) async fn put_overwrites_the_previous_value(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.put("k", b"first, longer value", None).await?;
    kv.put("k", b"2nd", None).await?;
    ensure!(kv.get("k").await?.as_deref() == Some(&b"2nd"[..]), "overwrite did not replace the whole value");
    Ok(())
}

pub(crate) async fn put_stores_values_byte_for_byte(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("binary", (0..=255).collect()),
        ("nul", vec![0, 0, 0]),
        ("not-utf8", vec![0xff, 0xfe, 0xc3, 0x28]),
        ("mib", value(7, 1 << 20)),
    ];
    for (k, v) in &cases {
        kv.put(k, v, None).await?;
    }
    for (k, v) in &cases {
        let back = kv.get(k).await?.with_context(|| format!("{k} missing"))?;
        ensure!(&back == v, "{k}: {} bytes stored, {} bytes read, or different bytes", v.len(), back.len());
    }
    Ok(())
}

pub(crate) async fn json_round_trips_every_kind(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let big = "x".repeat(1 << 20);
    let docs = [
        json!("string with \"quotes\" and ünïcode 🐢"),
        json!(12345),
        json!(-0.5),
        json!(true),
        json!(null),
        json!({"a": {"b": [1, 2, {"c": null}]}, "d": "e"}),
        json!([1, "two", [3], {}]),
        json!({}),
        json!([]),
        json!({"big": big}),
    ];
    for (i, d) in docs.iter().enumerate() {
        kv.put_json(&format!("doc/{i}"), d, None).await?;
    }
    for (i, d) in docs.iter().enumerate() {
        let back: serde_json::Value =
            kv.get_json(&format!("doc/{i}")).await?.with_context(|| format!("doc {i} missing"))?;
        ensure!(&back == d, "doc {i} changed");
    }
    // No {"value": ...} envelope: the stored bytes are exactly the JSON text.
    ensure!(kv.get("doc/3").await?.as_deref() == Some(&b"true"[..]));
    Ok(())
}

pub(crate) async fn delete_removes_the_key(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.put("a", b"1", None).await?;
    kv.put("ab", b"2", None).await?;
    kv.delete("a").await?;
    ensure!(kv.get("a").await?.is_none(), "deleted key still readable");
    ensure!(kv.get("ab").await?.is_some(), "delete removed a neighbour");
    Ok(())
}

pub(crate) async fn delete_of_a_missing_key_succeeds(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.delete("never/written").await?;
    kv.delete("never/written").await?;
    Ok(())
}

/// For a backend without TTL (none in the matrix today): a put with a TTL must be refused
/// as `Unsupported`, never silently kept forever. Returns whether the backend has TTL.
async fn ttl_capable(kv: &p8fs_kv::TenantKv) -> Result<bool> {
    if kv.backend().capability().ttl {
        return Ok(true);
    }
    let r = kv.put("ttl-probe", b"x", Some(Duration::from_secs(1))).await;
    ensure!(kind_of(r)? == KvErrorKind::Unsupported, "a backend without TTL accepted one");
    Ok(false)
}

/// For a backend without compare-and-swap: it must be refused as `Unsupported`.
async fn cas_capable(kv: &p8fs_kv::TenantKv) -> Result<bool> {
    if kv.backend().capability().cas {
        return Ok(true);
    }
    let r = kv.compare_and_swap("cas-probe", None, b"x", None).await;
    ensure!(kind_of(r)? == KvErrorKind::Unsupported, "a backend without CAS accepted one");
    Ok(false)
}

/// Waits until `ttl` (plus the backend's granularity) has passed since `start`, taken after
/// the put that set the TTL returned (the server starts a TTL when the put reaches it).
async fn wait_past(start: std::time::Instant, ttl: Duration, kv: &p8fs_kv::TenantKv) {
    let granularity = kv.backend().capability().ttl_granularity;
    let deadline = ttl + granularity + Duration::from_millis(150);
    if let Some(left) = deadline.checked_sub(start.elapsed()) {
        tokio::time::sleep(left).await;
    }
}

pub(crate) async fn get_hides_an_expired_key(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !ttl_capable(&kv).await? {
        return Ok(());
    }
    kv.put("short", b"v", Some(Duration::from_secs(1))).await?;
    // After the put has returned: its TTL started no later than this.
    let start = std::time::Instant::now();
    kv.put("long", b"v", Some(Duration::from_secs(600))).await?;
    ensure!(kv.get("short").await?.is_some(), "a live key must be readable before it expires");
    wait_past(start, Duration::from_secs(1), &kv).await;
    ensure!(kv.get("short").await?.is_none(), "an expired key is still readable");
    ensure!(kv.get("long").await?.is_some(), "a key with a long TTL vanished");
    let got = kv.batch_get(&["short", "long"]).await?;
    ensure!(
        got.len() == 1 && got[0].key == "long",
        "batch get returned {:?}",
        got.iter().map(|p| &p.key).collect::<Vec<_>>()
    );
    Ok(())
}

pub(crate) async fn scan_hides_expired_keys(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !ttl_capable(&kv).await? {
        return Ok(());
    }
    kv.put("p/1", b"v", Some(Duration::from_secs(1))).await?;
    kv.put("p/2", b"v", None).await?;
    kv.put("p/3", b"v", Some(Duration::from_secs(1))).await?;
    // After the last put with a TTL has returned (timed from before the first, a put slow
    // under load left p/3 short of its expiry when the scan ran).
    let start = std::time::Instant::now();
    wait_past(start, Duration::from_secs(1), &kv).await;
    let page = kv.scan_prefix("p/", 10, None).await?;
    let keys: Vec<&str> = page.entries.iter().map(|e| e.key.as_str()).collect();
    ensure!(keys == ["p/2"], "scan after expiry returned {keys:?}");
    Ok(())
}

pub(crate) async fn put_without_ttl_clears_an_earlier_ttl(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !ttl_capable(&kv).await? {
        return Ok(());
    }
    kv.put("k", b"old", Some(Duration::from_secs(1))).await?;
    let start = std::time::Instant::now();
    kv.put("k", b"new", None).await?;
    wait_past(start, Duration::from_secs(1), &kv).await;
    ensure!(kv.get("k").await?.as_deref() == Some(&b"new"[..]), "the second put kept the first put's TTL");
    Ok(())
}

/// Writes keys chosen to sit on both sides of likely boundaries (prefix ends, `/`,
/// high bytes), returns them sorted.
async fn seed(kv: &p8fs_kv::TenantKv, n: usize) -> Result<Vec<String>> {
    let mut keys: Vec<String> = (0..n).map(|i| format!("item/{i:05}")).collect();
    keys.extend(["item", "item/", "item0", "item/ü", "items/x", "itel"].map(String::from));
    let entries: Vec<(String, Vec<u8>)> = keys.iter().enumerate().map(|(i, k)| (k.clone(), value(i, 16))).collect();
    for chunk in entries.chunks(100) {
        let refs: Vec<(&str, &[u8])> = chunk.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        kv.batch_put(&refs, None).await?;
    }
    keys.sort();
    Ok(keys)
}

pub(crate) async fn scan_is_sorted_and_bounded(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let all = seed(&kv, 40).await?;
    let page = kv.scan_prefix("item/", 1000, None).await?;
    let got: Vec<&str> = page.entries.iter().map(|e| e.key.as_str()).collect();
    let want: Vec<&str> = all.iter().map(String::as_str).filter(|k| k.starts_with("item/")).collect();
    ensure!(
        got == want,
        "prefix scan: got {} keys, want {}; first difference near {:?}",
        got.len(),
        want.len(),
        got.iter().zip(&want).find(|(a, b)| a != b)
    );
    ensure!(page.next.is_none(), "an exhausted scan must not offer a continuation");
    let range = kv.scan_range("item/00010", Some("item/00020"), 1000, None).await?;
    let got: Vec<&str> = range.entries.iter().map(|e| e.key.as_str()).collect();
    let want: Vec<String> = (10..20).map(|i| format!("item/{i:05}")).collect();
    ensure!(got == want, "range scan returned {got:?}");
    Ok(())
}

pub(crate) async fn scan_respects_the_limit(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    seed(&kv, 30).await?;
    let page = kv.scan_prefix("item/", 7, None).await?;
    ensure!(page.entries.len() == 7, "limit 7 returned {}", page.entries.len());
    ensure!(page.next.as_deref() == Some(page.entries[6].key.as_str()), "continuation is not the last key");
    let zero = kv.scan_prefix("item/", 0, None).await;
    ensure!(kind_of(zero)? == KvErrorKind::InvalidArgument, "a zero limit must be refused");
    Ok(())
}

pub(crate) async fn scan_pages_have_no_duplicates_and_no_gaps(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let all = seed(&kv, 250).await?;
    for page_size in [1, 7, 100, 1000] {
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = kv.scan_prefix("", page_size, after.as_deref()).await?;
            ensure!(page.entries.len() <= page_size, "page of {} for limit {page_size}", page.entries.len());
            got.extend(page.entries.into_iter().map(|e| e.key));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
            ensure!(got.len() <= all.len(), "paging returns more keys than exist (duplicates)");
        }
        ensure!(got == all, "page size {page_size}: {} keys paged, {} stored, or out of order", got.len(), all.len());
    }
    Ok(())
}

pub(crate) async fn scan_stays_in_its_namespace(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    // Tenant ids where one is a prefix of the other: the classic escape.
    let a = kv.tenant(&tenant(&ctx, "1")?);
    let b = kv.tenant(&tenant(&ctx, "10")?);
    let c = kv.tenant(&tenant(&ctx, "1.")?);
    for (t, label) in [(&a, "a"), (&b, "b"), (&c, "c")] {
        for k in ["x", "/x", "0/y", "a/b/c"] {
            t.put(k, label.as_bytes(), None).await?;
        }
    }
    kv.global().put(&format!("{}1", ctx.scratch), b"global", None).await?;
    for prefix in ["", "/", "0", "a"] {
        let page = a.scan_prefix(prefix, 100, None).await?;
        for e in &page.entries {
            ensure!(e.value == b"a", "tenant a's scan of {prefix:?} returned {:?} of another tenant", e.key);
        }
        let want = ["x", "/x", "0/y", "a/b/c"].iter().filter(|k| k.starts_with(prefix)).count();
        ensure!(page.entries.len() == want, "tenant a, prefix {prefix:?}: {} entries, want {want}", page.entries.len());
    }
    ensure!(b.get("x").await?.as_deref() == Some(&b"b"[..]), "tenant b's value was overwritten");
    let global = kv.global().scan_prefix(&ctx.scratch, 100, None).await?;
    let keys: Vec<&str> = global.entries.iter().map(|e| e.key.as_str()).collect();
    ensure!(keys == [format!("{}1", ctx.scratch)], "a global scan returned tenant keys: {keys:?}");
    Ok(())
}

pub(crate) async fn batch_get_omits_missing_keys(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.batch_put(&[("a", b"1"), ("c", b"3")], None).await?;
    let got = kv.batch_get(&["a", "b", "c", "d", "a"]).await?;
    let map: BTreeMap<&str, &[u8]> = got.iter().map(|p| (p.key.as_str(), p.value.as_slice())).collect();
    ensure!(got.len() == 2, "batch get returned {} entries for 2 present keys", got.len());
    ensure!(map.get("a") == Some(&&b"1"[..]) && map.get("c") == Some(&&b"3"[..]), "wrong values: {map:?}");
    Ok(())
}

pub(crate) async fn batch_put_writes_every_entry(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let entries: Vec<(String, Vec<u8>)> = (0..500).map(|i| (format!("b/{i}"), value(i, 32))).collect();
    let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    kv.batch_put(&refs, None).await?;
    let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let got = kv.batch_get(&keys).await?;
    ensure!(got.len() == 500, "{} of 500 entries readable", got.len());
    for p in got {
        let i: usize = p.key[2..].parse()?;
        ensure!(p.value == value(i, 32), "{} has the wrong value", p.key);
    }
    Ok(())
}

pub(crate) async fn batch_put_rejects_a_bad_entry_and_writes_nothing(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let huge = vec![0u8; kv.backend().capability().max_value_bytes + 1];
    let r = kv.batch_put(&[("ok1", b"1"), ("bad", &huge), ("ok2", b"2")], None).await;
    ensure!(kind_of(r)? == KvErrorKind::TooLarge);
    let r = kv.batch_put(&[("ok1", b"1"), ("bad\n", b"x")], None).await;
    ensure!(kind_of(r)? == KvErrorKind::InvalidKey);
    ensure!(kv.batch_get(&["ok1", "ok2"]).await?.is_empty(), "a refused batch wrote some entries");
    Ok(())
}

pub(crate) async fn batch_delete_removes_every_key(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    kv.batch_put(&[("a", b"1"), ("b", b"2"), ("c", b"3")], None).await?;
    kv.batch_delete(&["a", "c", "missing"]).await?;
    let left: Vec<String> = kv.scan_prefix("", 10, None).await?.entries.into_iter().map(|e| e.key).collect();
    ensure!(left == ["b"], "after batch delete: {left:?}");
    Ok(())
}

pub(crate) async fn cas_succeeds_when_the_value_matches(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !cas_capable(&kv).await? {
        return Ok(());
    }
    kv.put("c", b"v1", None).await?;
    kv.compare_and_swap("c", Some(b"v1"), b"v2", None).await?;
    ensure!(kv.get("c").await?.as_deref() == Some(&b"v2"[..]));
    // Swapping to an equal value is still a success.
    kv.compare_and_swap("c", Some(b"v2"), b"v2", None).await?;
    Ok(())
}

pub(crate) async fn cas_creates_when_absent_is_expected(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !cas_capable(&kv).await? {
        return Ok(());
    }
    kv.compare_and_swap("new", None, b"created", None).await?;
    ensure!(kv.get("new").await?.as_deref() == Some(&b"created"[..]));
    Ok(())
}

pub(crate) async fn cas_fails_with_the_current_value(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !cas_capable(&kv).await? {
        return Ok(());
    }
    kv.put("c", b"actual", None).await?;
    match kv.compare_and_swap("c", Some(b"stale"), b"lost", None).await {
        Err(KvError::ConditionNotMet { current, .. }) => {
            ensure!(current.as_deref() == Some(&b"actual"[..]), "reported current {current:?}")
        }
        other => bail!("expected ConditionNotMet, got {other:?}"),
    }
    match kv.compare_and_swap("c", None, b"lost", None).await {
        Err(KvError::ConditionNotMet { current, .. }) => ensure!(current.as_deref() == Some(&b"actual"[..])),
        other => bail!("create-if-absent on a present key: expected ConditionNotMet, got {other:?}"),
    }
    match kv.compare_and_swap("absent", Some(b"x"), b"lost", None).await {
        Err(KvError::ConditionNotMet { current, .. }) => ensure!(current.is_none()),
        other => bail!("swap of an absent key: expected ConditionNotMet, got {other:?}"),
    }
    ensure!(kv.get("c").await?.as_deref() == Some(&b"actual"[..]), "a failed CAS wrote");
    ensure!(kv.get("absent").await?.is_none(), "a failed CAS created a key");
    Ok(())
}

pub(crate) async fn cas_increments_from_concurrent_tasks_are_not_lost(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    if !cas_capable(&kv).await? {
        return Ok(());
    }
    kv.put("counter", b"0", None).await?;
    let (tasks, each) = (8, 10);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let kv = kv.clone();
        handles.push(tokio::spawn(async move {
            let mut done = 0;
            while done < each {
                let cur = kv.get("counter").await?.context("counter vanished")?;
                let n: u64 = std::str::from_utf8(&cur)?.parse()?;
                match kv.compare_and_swap("counter", Some(&cur), (n + 1).to_string().as_bytes(), None).await {
                    Ok(()) => done += 1,
                    Err(KvError::ConditionNotMet { .. }) => {}
                    Err(e) => return Err(anyhow::Error::from(e)),
                }
            }
            anyhow::Ok(())
        }));
    }
    for h in handles {
        h.await??;
    }
    let end = kv.get("counter").await?.context("counter vanished")?;
    ensure!(
        end == (tasks * each).to_string().as_bytes(),
        "counter is {:?}, want {}",
        String::from_utf8_lossy(&end),
        tasks * each
    );
    Ok(())
}

pub(crate) async fn concurrent_writers_leave_one_whole_value(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    let writers = 16;
    let mut handles = Vec::new();
    for i in 0..writers {
        let kv = kv.clone();
        handles.push(tokio::spawn(async move { kv.put("contended", &value(i, 64 * 1024), None).await }));
    }
    for h in handles {
        h.await??;
    }
    let end = kv.get("contended").await?.context("key missing after 16 writes")?;
    ensure!((0..writers).any(|i| end == value(i, 64 * 1024)), "the final value is not any one writer's whole value");
    Ok(())
}

pub(crate) async fn bad_keys_and_tenants_are_rejected(ctx: Ctx) -> Result<()> {
    for bad in ["", "a/b", "/", "bad\u{0}", "x\ny", "scan", "..", "a b", &"t".repeat(256)] {
        ensure!(TenantId::new(bad).is_err(), "tenant id {bad:?} accepted");
    }
    let kv = tenant_store(&ctx).await?;
    let cap = kv.backend().capability();
    ensure!(kind_of(kv.put("", b"x", None).await)? == KvErrorKind::InvalidKey);
    ensure!(kind_of(kv.put("ctl\u{1}", b"x", None).await)? == KvErrorKind::InvalidKey);
    ensure!(kind_of(kv.get("tab\t").await)? == KvErrorKind::InvalidKey);
    ensure!(kind_of(kv.put(&"k".repeat(cap.max_key_bytes + 1), b"x", None).await)? == KvErrorKind::TooLarge);
    ensure!(kind_of(kv.put("big", &vec![1u8; cap.max_value_bytes + 1], None).await)? == KvErrorKind::TooLarge);
    ensure!(kind_of(kv.scan_prefix("p\u{0}", 10, None).await)? == KvErrorKind::InvalidKey);
    ensure!(kv.scan_prefix("", 100, None).await?.entries.is_empty(), "a rejected write left something behind");
    Ok(())
}

pub(crate) async fn dot_segments_are_refused_and_dotted_names_round_trip(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let alice = kv.tenant(&tenant(&ctx, "-alice")?);
    let bob_id = tenant(&ctx, "-bob")?;
    let bob = kv.tenant(&bob_id);
    bob.put("keys/secret", b"bob's", None).await?;
    // Keys a URL would resolve as paths: refused on every operation, on every backend.
    let escape = format!("../{bob_id}/keys/secret");
    for bad in [".", "..", "a/../b", "x/.", "./x", "notes/..", "a/./b", escape.as_str(), "../../global-key"] {
        ensure!(kind_of(alice.put(bad, b"owned", None).await)? == KvErrorKind::InvalidKey, "put {bad:?}");
        ensure!(kind_of(alice.get(bad).await)? == KvErrorKind::InvalidKey, "get {bad:?}");
        ensure!(kind_of(alice.delete(bad).await)? == KvErrorKind::InvalidKey, "delete {bad:?}");
        ensure!(kind_of(alice.batch_get(&[bad]).await)? == KvErrorKind::InvalidKey, "batch get {bad:?}");
        ensure!(
            kind_of(alice.batch_put(&[("fine", b"x".as_slice()), (bad, b"owned".as_slice())], None).await)?
                == KvErrorKind::InvalidKey,
            "batch put {bad:?}"
        );
    }
    ensure!(alice.scan_prefix("", 100, None).await?.entries.is_empty(), "a refused write left something behind");
    ensure!(bob.get("keys/secret").await?.as_deref() == Some(&b"bob's"[..]), "bob's value changed");
    // Dots that are not whole segments are ordinary characters, kept as they are.
    let dotted = ["...", ".hidden", "a..b/c", "notes/.x", "x./y", "a/.../b"];
    for (i, k) in dotted.iter().enumerate() {
        alice.put(k, format!("v{i}").as_bytes(), None).await?;
    }
    for (i, k) in dotted.iter().enumerate() {
        let back = alice.get(k).await?.with_context(|| format!("{k:?} missing"))?;
        ensure!(back == format!("v{i}").into_bytes(), "{k:?} read back {back:?}");
    }
    let mut keys: Vec<String> = alice.scan_prefix("", 100, None).await?.entries.into_iter().map(|e| e.key).collect();
    keys.sort();
    let mut want: Vec<String> = dotted.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    ensure!(keys == want, "stored under other names: {keys:?}");
    Ok(())
}

pub(crate) async fn global_keys_live_outside_every_tenant(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let code = format!("device_auth:{}", ctx.scratch);
    let g = kv.global();
    g.put_json(&code, &json!({"status": "pending"}), Some(Duration::from_secs(600))).await?;
    let back: serde_json::Value = g.get_json(&code).await?.context("global key missing")?;
    ensure!(back == json!({"status": "pending"}));
    ensure!(
        kind_of(g.put("has/slash", b"x", None).await)? == KvErrorKind::InvalidKey,
        "a global key with '/' would name a tenant"
    );
    let t = kv.tenant(&tenant(&ctx, "")?);
    ensure!(t.get(&code).await?.is_none(), "a tenant sees a global key");
    Ok(())
}

pub(crate) async fn delete_prefix_removes_only_that_prefix(ctx: Ctx) -> Result<()> {
    let kv = tenant_store(&ctx).await?;
    seed(&kv, 120).await?;
    let n = kv.delete_prefix("item/").await?;
    ensure!(n == 122, "deleted {n} keys, want 122");
    let left: Vec<String> = kv.scan_prefix("", 100, None).await?.entries.into_iter().map(|e| e.key).collect();
    ensure!(
        left == ["item", "item0", "items/x", "itel"]
            .map(String::from)
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>(),
        "left: {left:?}"
    );
    ensure!(kind_of(kv.delete_prefix("").await)? == KvErrorKind::InvalidArgument);
    Ok(())
}
