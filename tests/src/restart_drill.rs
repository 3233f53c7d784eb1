//! The restart drill's writer: `cargo xtask test` runs the conformance binary with
//! [`RESTART_DRILL_ENV`] set to a directory, stops the backend's database with the project's
//! service scripts while this process writes, starts it again, and judges what this process
//! reports.
//!
//! The writer stores entities through the p8fs API (row, embedding and reverse mapping in
//! one transaction), writes KV keys through the real proxy in front of the same database's
//! KV table, reads its own writes back, and polls the proxy's `/readyz`, all without pause.
//! It fails when
//! - a call fails with an error that is not retryable ([`p8fs_core::Error::is_retryable`]),
//! - a read answers anything but the value last acknowledged (a lost write),
//! - no call failed while the database was down (the drill did not bite),
//! - writes do not succeed again within 60 s of the restart (the pools did not reconnect),
//! - the proxy's `/readyz` did not answer 503 while the database was down, a data route
//!   answered anything but 503 with the JSON error body then, or `/readyz` did not recover,
//! - after the restart, through a fresh connection, an acknowledged entity, its mapping or
//!   an acknowledged KV key is missing or different, or an entity is visible without its
//!   mapping (half-written).
//!
//! The control files in the directory: `ready` (written here once writing runs),
//! `stopping` and `restarted` (written by xtask around the stop and the start), and
//! `summary.txt` (written here: the line xtask prints).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use p8fs_kv::{HttpConfig, HttpStore, Kv, TenantId};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::TestEnv;
use crate::proxy::RunningProxy;

/// Set to the control directory in the writer process of the restart drill.
pub const RESTART_DRILL_ENV: &str = "P8FS_TEST_RESTART_DRILL";

/// Writers in parallel (entities and KV keys each).
const WRITERS: usize = 6;
/// Writes that must succeed after the restart before the writer stops.
const AFTER_RESTART: u64 = 120;
/// How long after the restart writes may take to succeed again.
const RECOVERY: Duration = Duration::from_secs(60);

/// What the writers saw, shared between them.
#[derive(Default)]
struct Seen {
    /// Entities acknowledged: (name, content).
    entities: Vec<(String, String)>,
    /// KV keys acknowledged through the proxy: (key, value).
    keys: Vec<(String, String)>,
    /// Names written but never acknowledged (in flight when the writer stopped).
    unacked: Vec<String>,
    /// Retryable errors, by a short description, with a count.
    retryable: std::collections::BTreeMap<String, u64>,
    /// Broken promises: non-retryable errors, lost writes, bad proxy answers.
    violations: Vec<String>,
    /// `/readyz` answers other than 200, and data-route answers while it failed.
    readyz_failed: u64,
    data_route_503: u64,
    /// Whether `/readyz` answered 200 after the restart.
    readyz_recovered: bool,
    /// When the first write begun after the restart succeeded.
    first_after_restart: Option<std::time::SystemTime>,
}

/// Phases as the control files tell them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Phase {
    Before,
    Stopping,
    Restarted,
}

fn phase(dir: &Path) -> Phase {
    if dir.join("restarted").exists() {
        Phase::Restarted
    } else if dir.join("stopping").exists() {
        Phase::Stopping
    } else {
        Phase::Before
    }
}

/// A short description of an error for counting: its first line, at most 120 characters.
fn describe(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or("").chars().take(120).collect()
}

/// Runs the writer; the process's exit status says whether the drill held.
pub fn restart_drill_main(dir: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(drill(PathBuf::from(dir)))
}

async fn drill(dir: PathBuf) -> Result<()> {
    let env = TestEnv::load()?;
    ensure!(
        env.backend.url_var().is_some(),
        "the restart drill needs a database server; {} has none",
        env.backend.name()
    );
    let scratch = format!("drill{}", std::process::id());
    let tenant = scratch.clone();
    let (p, sql) = crate::sql::core_api::open_core(&env, &scratch).await?;
    p.migrate().await?;
    let p = Arc::new(p);
    // The real proxy over this database's KV table, and its real client.
    let proxy = RunningProxy::start(
        Arc::new(p8fs_kv::SqlStore::open(Arc::clone(&sql)).await?),
        p8fs_server::ServerConfig::default(),
    )
    .await?;
    let base = proxy.base_url();
    let http = Kv::new(Arc::new(HttpStore::connect(HttpConfig::new(base.clone())).await?));
    let kv_tenant = TenantId::new(tenant.clone())?;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let after_restart = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::fs::write(dir.join("ready"), "")?;

    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (p, seen, stop, after, dir, tenant) = (
            Arc::clone(&p),
            Arc::clone(&seen),
            Arc::clone(&stop),
            Arc::clone(&after_restart),
            dir.clone(),
            tenant.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let name = format!("w{w}-{i}");
                let content = format!("content of {name}");
                let began = phase(&dir);
                let data = json!({ "content": content }).as_object().cloned().unwrap_or_default();
                match p.store_entity_with_reverse_mapping(&name, "resources", data, &tenant).await {
                    Ok(_) => {
                        let mut s = seen.lock().await;
                        s.entities.push((name.clone(), content.clone()));
                        if began == Phase::Restarted {
                            s.first_after_restart.get_or_insert_with(std::time::SystemTime::now);
                            after.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(e) if e.is_retryable() => {
                        *seen.lock().await.retryable.entry(format!("entity write: {}", describe(&e))).or_default() += 1;
                        // Idempotent (an upsert by name): the same write again, a little later.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(e) => {
                        seen.lock().await.violations.push(format!("{name}: not retryable ({:?}): {e}", e.kind()));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                // Every 4th: read the entity just acknowledged back.
                if i.is_multiple_of(4) {
                    match p.get_entity_by_name(&name, "resources", &tenant).await {
                        Ok(Some(row)) if row.get("content") == Some(&Value::String(content.clone())) => {}
                        Ok(other) => {
                            seen.lock().await.violations.push(format!("{name} read back as {other:?} after its ack"))
                        }
                        Err(e) if e.is_retryable() => {
                            *seen.lock().await.retryable.entry(format!("read: {}", describe(&e))).or_default() += 1;
                        }
                        Err(e) => seen.lock().await.violations.push(format!("read {name}: not retryable: {e}")),
                    }
                }
                i += 1;
            }
        }));
    }

    // KV keys through the proxy, by writers of their own (so they run through the outage).
    for w in 0..WRITERS / 2 {
        let (http, seen, stop) = (http.tenant(&kv_tenant), Arc::clone(&seen), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let (key, value) = (format!("k{w}-{i}"), format!("value of k{w}-{i}"));
                match http.put(&key, value.as_bytes(), None).await {
                    Ok(()) => {
                        seen.lock().await.keys.push((key, value));
                        i += 1;
                    }
                    Err(e) if e.is_retryable() => {
                        *seen.lock().await.retryable.entry(format!("proxy put: {}", describe(&e))).or_default() += 1;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        seen.lock().await.violations.push(format!("proxy put {key}: not retryable: {e}"));
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }

    // The monitor: /readyz every 100 ms, and a data route whenever it fails.
    let monitor = {
        let (seen, stop, dir, base, tenant) =
            (Arc::clone(&seen), Arc::clone(&stop), dir.clone(), base.clone(), tenant.clone());
        tokio::spawn(async move {
            let h = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap_or_default();
            while !stop.load(Ordering::Relaxed) {
                let ph = phase(&dir);
                match h.get(format!("{base}/readyz")).send().await {
                    Ok(r) if r.status().is_success() => {
                        if ph == Phase::Restarted {
                            seen.lock().await.readyz_recovered = true;
                        }
                    }
                    Ok(r) => {
                        let status = r.status();
                        let body = r.text().await.unwrap_or_default();
                        let mut s = seen.lock().await;
                        s.readyz_failed += 1;
                        if status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
                            s.violations.push(format!("/readyz answered {status} while the database was down: {body}"));
                        }
                        drop(s);
                        // A data route while the backend is down: 503 with the JSON error body.
                        if let Ok(r) = h.get(format!("{base}/v1/kv/{tenant}/keys/probe")).send().await {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            let code = serde_json::from_str::<Value>(&body)
                                .ok()
                                .and_then(|v| v.pointer("/error/code").and_then(Value::as_str).map(str::to_owned));
                            let mut s = seen.lock().await;
                            match (status.as_u16(), code) {
                                (503, Some(_)) => s.data_route_503 += 1,
                                // The database came back between the two requests.
                                (404, _) => {}
                                (st, code) => s.violations.push(format!(
                                    "a data route answered {st} (code {code:?}) while /readyz failed: {body}"
                                )),
                            }
                        }
                    }
                    Err(e) => seen.lock().await.violations.push(format!("/readyz did not answer: {e}")),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    // Run until enough writes succeeded after the restart, or give up.
    let mut restarted_at: Option<Instant> = None;
    let outcome = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let ph = phase(&dir);
        if ph == Phase::Restarted && restarted_at.is_none() {
            restarted_at = Some(Instant::now());
        }
        if let Some(at) = restarted_at {
            let done = after_restart.load(Ordering::Relaxed);
            if done >= AFTER_RESTART && at.elapsed() > Duration::from_secs(1) {
                break Ok(());
            }
            if at.elapsed() > RECOVERY {
                break Err(anyhow::anyhow!(
                    "only {done} writes succeeded in the {RECOVERY:?} after the database came back: the pools did not recover"
                ));
            }
        } else if start.elapsed() > Duration::from_secs(300) {
            break Err(anyhow::anyhow!("the database was not restarted within 300 s (no `restarted` file)"));
        }
    };
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }
    monitor.await?;
    proxy.stop().await;
    outcome?;

    // Read everything back through fresh connections, bypassing the proxy for the keys.
    let (fresh, fresh_sql) = crate::sql::core_api::open_core(&env, &scratch).await?;
    let direct = Kv::new(Arc::new(p8fs_kv::SqlStore::open(Arc::clone(&fresh_sql)).await?));
    let direct = direct.tenant(&kv_tenant);
    let mut s = seen.lock().await;
    let (n_entities, n_keys) = (s.entities.len(), s.keys.len());
    let mut lost = Vec::new();
    for (name, content) in &s.entities {
        let row = fresh.get_entity_by_name(name, "resources", &tenant).await?;
        if row.as_ref().and_then(|r| r.get("content")) != Some(&Value::String(content.clone())) {
            lost.push(format!("entity {name}: {row:?}"));
        }
        if fresh.mappings().lookup(&tenant, "resources", name).await?.is_none() {
            lost.push(format!("the mapping of {name}"));
        }
    }
    for (key, value) in &s.keys {
        let got = direct.get(key).await?;
        if got.as_deref() != Some(value.as_bytes()) {
            lost.push(format!("key {key}: {:?}", got.map(|v| String::from_utf8_lossy(&v).into_owned())));
        }
    }
    // Nothing half-written: every row of the tenant has its mapping (rows of writes that
    // failed in flight may exist, but only whole).
    let rows = fresh.select("resources", &tenant, &Default::default()).await?;
    for row in &rows {
        let Some(name) = row.get("name").and_then(Value::as_str) else { continue };
        if fresh.mappings().lookup(&tenant, "resources", name).await?.is_none() {
            lost.push(format!("row {name} is there without its mapping (half-written)"));
        }
    }
    let acked: std::collections::HashSet<&str> = s.entities.iter().map(|(n, _)| n.as_str()).collect();
    let unacked: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .filter(|n| !acked.contains(n))
        .map(str::to_owned)
        .collect();
    s.unacked = unacked;

    crate::sql::drop_schemas(fresh_sql.as_ref(), &scratch).await.ok();
    // The tenant's keys in the shared KV table: names (`w...`), types, reverse keys and
    // the proxy's keys.
    for prefix in ["w", "resources/", "reverse/", "k"] {
        direct.delete_prefix(prefix).await.ok();
    }

    let errors: u64 = s.retryable.values().sum();
    // From the moment xtask wrote `restarted` (the server accepted connections again).
    let restarted = std::fs::metadata(dir.join("restarted"))?.modified()?;
    let first = s.first_after_restart.map_or(0.0, |t| t.duration_since(restarted).unwrap_or_default().as_secs_f64());
    let summary = format!(
        "{n_entities} entities and {n_keys} proxy keys acknowledged, all read back through new connections; \
         {errors} calls failed retryably during the outage; the first write begun after the restart succeeded in \
         {first:.2}s; /readyz failed {} times (data routes 503 {} times) and recovered",
        s.readyz_failed, s.data_route_503
    );
    let mut problems = std::mem::take(&mut s.violations);
    problems.extend(lost.iter().take(20).map(|l| format!("lost after the restart: {l}")));
    if lost.len() > 20 {
        problems.push(format!("... and {} more lost", lost.len() - 20));
    }
    if errors == 0 {
        problems.push("no call failed while the database was down: the stop did not interrupt the writers".into());
    }
    if s.readyz_failed == 0 {
        problems.push("/readyz never failed while the database was down".into());
    }
    if !s.readyz_recovered {
        problems.push("/readyz did not answer 200 after the restart".into());
    }
    println!("restart drill: errors seen, by kind:");
    for (what, n) in &s.retryable {
        println!("  {n:>6}  {what}");
    }
    if !s.unacked.is_empty() {
        println!("restart drill: rows of writes in flight at the stop (whole, not acknowledged): {:?}", s.unacked);
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("restart drill: {p}");
        }
        bail!("{} problems; the first: {}", problems.len(), problems[0]);
    }
    println!("restart drill: {summary}");
    std::fs::write(dir.join("summary.txt"), &summary).context("writing the summary")?;
    Ok(())
}
