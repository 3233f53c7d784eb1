//! The soak: `cargo xtask soak` (and, short, `cargo xtask test`) runs the conformance binary
//! with [`SOAK_ENV`] set to a number of seconds. For that long, 64 clients run a mix of
//! entity writes, reads by name, filtered selects and vector searches through the p8fs API,
//! and KV puts, gets and scans through the real proxy in front of the same backend's KV
//! store, each client checking every answer against what it last wrote. Each client writes
//! over its own working set of 25 entity names (`SLOTS`) and as many keys, again and again
//! (updates: new content, new embeddings), so the data stops growing early and memory must
//! level off. At the end every slot's last acknowledged value is read back through new
//! connections (the keys straight from the store, bypassing the proxy), and the process's
//! resident memory, sampled every 500 ms, must not have kept growing.
//!
//! It fails on a non-retryable error, an answer that disagrees with the client's writes,
//! anything lost or stale at the read-back, or memory whose peak in the last third of the
//! run exceeds its peak in the middle third by more than a fifth plus 32 MiB.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use p8fs_kv::{HttpConfig, HttpStore, Kv, TenantId};
use p8fs_sql_dialect::entity::{EntityQuery, SearchOptions};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::TestEnv;
use crate::proxy::RunningProxy;

/// Set to the run's length in seconds in the soak's process.
pub const SOAK_ENV: &str = "P8FS_TEST_SOAK_RUN";

/// Concurrent clients.
const CLIENTS: usize = 64;
/// Entity names, and keys, each client writes over.
const SLOTS: u64 = 25;

/// Runs the soak; the process's exit status says whether it held.
pub fn soak_main(secs: &str) -> Result<()> {
    let secs: u64 = secs.parse().with_context(|| format!("{SOAK_ENV} must be a number of seconds, got {secs:?}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(soak(Duration::from_secs(secs)))
}

/// Resident memory of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

#[derive(Default)]
struct Tally {
    ops: BTreeMap<&'static str, u64>,
    retryable: BTreeMap<String, u64>,
    violations: Vec<String>,
}

/// What one client acknowledged last, per slot.
#[derive(Default)]
struct Acks {
    entities: BTreeMap<String, String>,
    keys: BTreeMap<String, String>,
}

/// The `r`-th entry of `m` (modulo its length), when it has any.
fn nth(m: &BTreeMap<String, String>, r: usize) -> Option<(&String, &String)> {
    if m.is_empty() { None } else { m.iter().nth(r % m.len()) }
}

async fn soak(length: Duration) -> Result<()> {
    let env = TestEnv::load()?;
    ensure!(env.backend.has_sql(), "the soak needs a SQL backend; {} has none", env.backend.name());
    let scratch = format!("soak{}", std::process::id());
    let tenant = scratch.clone();
    let kv_tenant = TenantId::new(tenant.clone())?;
    let (p, _) = crate::sql::core_api::open_core(&env, &scratch).await?;
    p.migrate().await?;
    let p = Arc::new(p);
    let proxy = RunningProxy::start(Arc::clone(p.kv().backend()), p8fs_server::ServerConfig::default()).await?;
    let http = Kv::new(Arc::new(HttpStore::connect(HttpConfig::new(proxy.base_url())).await?));

    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<(Duration, u64)>::new()));
    let start = Instant::now();
    let sampler = {
        let (samples, stop) = (Arc::clone(&samples), Arc::clone(&stop));
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                samples.lock().await.push((start.elapsed(), rss()));
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };
    let model = p.model("resources")?;
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (p, kv, tally, stop, tenant, model) = (
            Arc::clone(&p),
            http.tenant(&kv_tenant),
            Arc::clone(&tally),
            Arc::clone(&stop),
            tenant.clone(),
            model.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut acks = Acks::default();
            let mut n = 0u64;
            // Each client's own sequence (xorshift), seeded by its number.
            let mut x = 0x9E37_79B9_7F4A_7C15_u64 ^ (c as u64 + 1);
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let pick = next();
                let r = pick as usize;
                let (what, outcome): (&'static str, Result<Option<String>, p8fs_core::Error>) = match pick % 10 {
                    0..=2 => {
                        let name = format!("c{c}-{}", n % SLOTS);
                        let content = format!("soak client {c} entry {n} about topic{}", n % 7);
                        let data = json!({ "content": content }).as_object().cloned().unwrap_or_default();
                        let r = p.store_entity_with_reverse_mapping(&name, "resources", data, &tenant).await;
                        if r.is_ok() {
                            acks.entities.insert(name, content);
                        }
                        ("entity write", r.map(|_| None))
                    }
                    3 if !acks.entities.is_empty() => {
                        let Some((name, content)) = nth(&acks.entities, r) else { continue };
                        let r = p.get_entity_by_name(name, "resources", &tenant).await;
                        let bad = match &r {
                            Ok(Some(row)) if row.get("content") == Some(&Value::String(content.clone())) => None,
                            Ok(other) => Some(format!("{name} read back as {other:?}")),
                            Err(_) => None,
                        };
                        ("entity read", r.map(|_| bad))
                    }
                    4 if !acks.entities.is_empty() => {
                        let Some((name, _)) = nth(&acks.entities, r) else { continue };
                        let filters = json!({ "name": name }).as_object().cloned().unwrap_or_default();
                        match EntityQuery::parse(&model, &filters, &[], Some(5), None) {
                            Ok(q) => {
                                let r = p.select("resources", &tenant, &q).await;
                                let bad = match &r {
                                    Ok(rows) if rows.len() == 1 => None,
                                    Ok(rows) => Some(format!("select name = {name} answered {} rows", rows.len())),
                                    Err(_) => None,
                                };
                                ("select", r.map(|_| bad))
                            }
                            Err(e) => ("select", Err(p8fs_core::Error::from(e))),
                        }
                    }
                    5 => {
                        let opts = SearchOptions { limit: 5, ..SearchOptions::default() };
                        let r = p.semantic_search("resources", &tenant, &format!("topic{}", n % 7), &opts).await;
                        ("search", r.map(|_| None))
                    }
                    6 | 7 => {
                        let (key, value) = (format!("c{c}/k{}", n % SLOTS), format!("value {c} {n}"));
                        let r = kv.put(&key, value.as_bytes(), None).await;
                        if r.is_ok() {
                            acks.keys.insert(key, value);
                        }
                        ("proxy put", r.map(|()| None).map_err(Into::into))
                    }
                    8 if !acks.keys.is_empty() => {
                        let Some((key, value)) = nth(&acks.keys, r) else { continue };
                        let r = kv.get(key).await;
                        let bad = match &r {
                            Ok(Some(v)) if v == value.as_bytes() => None,
                            Ok(other) => Some(format!("proxy get {key} answered {other:?}")),
                            Err(_) => None,
                        };
                        ("proxy get", r.map(|_| bad).map_err(Into::into))
                    }
                    _ => {
                        let prefix = format!("c{c}/");
                        let r = kv.scan_prefix(&prefix, 50, None).await;
                        let bad = match &r {
                            Ok(page) => page
                                .entries
                                .iter()
                                .find(|e| !e.key.starts_with(&prefix))
                                .map(|e| format!("scan of {prefix} answered {}", e.key)),
                            Err(_) => None,
                        };
                        ("proxy scan", r.map(|_| bad).map_err(Into::into))
                    }
                };
                let mut t = tally.lock().await;
                *t.ops.entry(what).or_default() += 1;
                match outcome {
                    Ok(None) => {}
                    Ok(Some(bad)) => t.violations.push(bad),
                    Err(e) if e.is_retryable() => *t.retryable.entry(format!("{what}: {e}")).or_default() += 1,
                    Err(e) => t.violations.push(format!("{what}: not retryable ({:?}): {e}", e.kind())),
                }
            }
            acks
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Acks::default();
    for c in clients {
        let a = c.await?;
        all.entities.extend(a.entities);
        all.keys.extend(a.keys);
    }
    sampler.await?;
    let ran = start.elapsed();
    proxy.stop().await;

    // Read everything back through new connections; the keys straight from the store.
    // (The embedded store's file is locked while a handle holds it.)
    drop((p, http));
    let (fresh, fresh_sql) =
        crate::sql::core_api::open_core(&env, &scratch).await.context("reopening for the read-back")?;
    let mut lost = Vec::new();
    for (name, content) in &all.entities {
        let row = fresh.get_entity_by_name(name, "resources", &tenant).await?;
        if row.as_ref().and_then(|r| r.get("content")) != Some(&Value::String(content.clone())) {
            lost.push(format!("entity {name}"));
        }
    }
    let direct = fresh.kv().tenant(&kv_tenant);
    for (key, value) in &all.keys {
        if direct.get(key).await?.as_deref() != Some(value.as_bytes()) {
            lost.push(format!("key {key}"));
        }
    }
    for prefix in ["c", "resources/", "reverse/"] {
        direct.delete_prefix(prefix).await.ok();
    }
    crate::sql::drop_schemas(fresh_sql.as_ref(), &scratch).await.ok();
    drop(fresh);
    env.cleanup(&scratch);

    // Memory: the largest sample of the middle third against that of the last third (the
    // working sets are full by then).
    let samples = samples.lock().await;
    let third = ran / 3;
    let peak = |from: Duration, to: Duration| {
        samples.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, r)| *r).max().unwrap_or(0)
    };
    let (early, late) = (peak(third, third * 2), peak(third * 2, ran + Duration::from_secs(1)));
    let bound = early + early / 5 + (32 << 20);
    let t = tally.lock().await;
    let total: u64 = t.ops.values().sum();
    let errors: u64 = t.retryable.values().sum();
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("soak: operations by kind:");
    for (what, n) in &t.ops {
        println!("  {n:>8}  {what}");
    }
    for (what, n) in &t.retryable {
        println!("  retryable error x{n}: {what}");
    }
    let mut problems: Vec<String> = t.violations.iter().take(20).cloned().collect();
    problems.extend(lost.iter().take(20).map(|l| format!("lost: {l}")));
    if late > bound {
        problems.push(format!(
            "memory kept growing: {:.0} MiB peak in the middle third, {:.0} MiB in the last (bound {:.0} MiB)",
            mb(early),
            mb(late),
            mb(bound)
        ));
    }
    ensure!(total > 0, "no operation ran");
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("soak: {p}");
        }
        bail!("{} problems; the first: {}", problems.len(), problems[0]);
    }
    let summary = format!(
        "{CLIENTS} clients, {:.0}s: {total} operations ({:.0}/s), {errors} retryable errors; {} entities and {} \
         proxy keys (the last writes of each slot) read back through new connections; RSS peak {:.0} MiB in the \
         middle third, {:.0} MiB in the last",
        ran.as_secs_f64(),
        total as f64 / ran.as_secs_f64(),
        all.entities.len(),
        all.keys.len(),
        mb(early),
        mb(late)
    );
    println!("soak: {summary}");
    if let Some(path) = std::env::var_os("P8FS_TEST_RESULT_FILE") {
        std::fs::write(path, &summary)?;
    }
    Ok(())
}
