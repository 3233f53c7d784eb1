//! `p8fs demo`: the built-in corpus stored with embeddings and reverse mappings, then
//! lookups by name and storage key, a KV round trip and semantic searches, each timed.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use p8fs_core::Error as CoreError;
use p8fs_core::kv_layer::{ScanPage, TenantKv};
use p8fs_core::sql::entity::SearchOptions;
use serde_json::{Map, Value, json};

use crate::cmds::{settings, tenant_kv};
use crate::corpus;
use crate::hits::HitRow;
use crate::output::{Align, Style, Table, ms, progress};

/// Entities per store call while loading.
const LOAD_BATCH: usize = 25;

/// Results shown per search.
const SHOW: usize = 5;

struct Steps {
    steps: Vec<(String, Duration)>,
}

impl Steps {
    fn add(&mut self, what: impl Into<String>, d: Duration) {
        self.steps.push((what.into(), d));
    }
}

/// Puts `state` under `demo/session/42` and a second key, reads the first back, scans
/// both, deletes the second: the value read back, the scan and whether the delete took.
async fn kv_round_trip(kv: &TenantKv, state: &Value) -> Result<(Option<Value>, ScanPage, bool), CoreError> {
    kv.put_json("demo/session/42", state, Some(Duration::from_secs(3600))).await?;
    kv.put_json("demo/session/43", &json!({"step": 1}), None).await?;
    let back: Option<Value> = kv.get_json("demo/session/42").await?;
    let page = kv.scan_prefix("demo/session/", 10, None).await?;
    kv.delete("demo/session/43").await?;
    let gone = kv.get("demo/session/43").await?.is_none();
    Ok((back, page, gone))
}

pub(crate) async fn run(data_dir: &Path, json_out: bool, tenant: &str) -> Result<()> {
    crate::cmds::check_tenant(tenant)?;
    let style = Style::detect();
    let human = !json_out;
    let settings = settings(data_dir)?;
    let mut steps = Steps { steps: Vec::new() };
    if human {
        println!("{}", style.bold("p8fs demo"));
        println!("  SQL  {}", settings.sql.describe());
        println!("  KV   {}", settings.kv.describe());
        println!("  tenant {tenant}\n");
    }

    let t = Instant::now();
    let p = p8fs_core::P8fs::open(&settings).await?;
    p.migrate().await.context("creating the tables")?;
    steps.add("open and migrate", t.elapsed());
    if human {
        println!("  embedder {}\n", crate::cmds::describe_embedder(&p));
    }

    // Load.
    let docs = corpus::documents();
    let bar = if human { Some(progress(docs.len() as u64, "loading")) } else { None };
    let t = Instant::now();
    let mut stored = Vec::with_capacity(docs.len());
    for chunk in docs.chunks(LOAD_BATCH) {
        let items: Vec<(String, Map<String, Value>)> = chunk
            .iter()
            .map(|d| {
                let data = json!({
                    "category": d.category,
                    "content": d.content,
                    "summary": d.summary,
                    "ordinal": d.ordinal,
                    "metadata": {"source": "p8fs demo corpus"},
                });
                (d.name.clone(), data.as_object().cloned().unwrap_or_default())
            })
            .collect();
        stored.extend(p.store_entities_with_reverse_mappings("resources", tenant, items).await?);
        if let Some(b) = &bar {
            b.inc(chunk.len() as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let load = t.elapsed();
    steps.add(format!("store {} resources (embeddings + mappings)", stored.len()), load);
    let embed_load = p.embed_stats();
    steps.add(format!("  of which embedding {} texts ({})", embed_load.texts, p.embedder().name()), embed_load.elapsed);
    if human {
        let rate = stored.len() as f64 / load.as_secs_f64().max(1e-9);
        println!(
            "{} {} resources with embeddings and reverse mappings in {} ({rate:.0}/s)\n",
            style.green("stored"),
            stored.len(),
            ms(load)
        );
    }

    // Lookups.
    let mut lookups = Vec::new();
    let mut table =
        Table::new(&[("lookup", Align::Left), ("asked", Align::Left), ("found", Align::Left), ("time", Align::Right)]);
    for name in ["vector-search-overview", "disaster-recovery-runbook", "feature-flags-faq"] {
        let t = Instant::now();
        let e = p.get_entity_by_name(name, "resources", tenant).await?.with_context(|| format!("{name} not found"))?;
        let d = t.elapsed();
        let id = e.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        table.row(vec!["by name".into(), name.into(), format!("resources/{id}"), ms(d)]);
        lookups.push(
            json!({"by": "name", "asked": name, "found": format!("resources/{id}"), "ms": d.as_secs_f64() * 1e3}),
        );
    }
    let key = &stored[42].storage_key;
    let t = Instant::now();
    let by_key = p.get_entities_by_storage_key(key, tenant).await?;
    let d = t.elapsed();
    let found = by_key.first().and_then(|e| e.get("name")).and_then(Value::as_str).unwrap_or("").to_owned();
    ensure!(found == stored[42].name, "storage key {key} found {found:?}, expected {}", stored[42].name);
    table.row(vec!["by storage key".into(), key.clone(), found.clone(), ms(d)]);
    lookups.push(json!({"by": "storage_key", "asked": key, "found": found, "ms": d.as_secs_f64() * 1e3}));
    let t = Instant::now();
    let everything = p.mappings().lookup_by_name(tenant, "caching-howto").await.map_err(CoreError::from)?;
    let d = t.elapsed();
    table.row(vec![
        "every type named".into(),
        "caching-howto".into(),
        everything.iter().map(|e| format!("{}/{}", e.entity_type, e.entity_key)).collect::<Vec<_>>().join(", "),
        ms(d),
    ]);
    lookups.push(json!({"by": "name_any_type", "asked": "caching-howto", "found": everything.len(), "ms": d.as_secs_f64() * 1e3}));
    let lookup_time: Duration =
        Duration::from_secs_f64(lookups.iter().map(|l| l["ms"].as_f64().unwrap_or(0.0)).sum::<f64>() / 1e3);
    steps.add("lookups (name, storage key, any type)", lookup_time);
    if human {
        println!("{}\n", table.render(style));
    }

    // KV round trip.
    let kv = tenant_kv(&p, tenant)?;
    let t = Instant::now();
    let state = json!({"step": 3, "status": "reviewing", "reviewers": ["ana", "bo"]});
    let (back, page, gone) = kv_round_trip(&kv, &state).await?;
    ensure!(back.as_ref() == Some(&state), "KV round trip changed the value: {back:?}");
    let kv_time = t.elapsed();
    steps.add("KV put, get, scan, delete", kv_time);
    let kv_json = json!({
        "put": "demo/session/42", "value": state, "ttl_s": 3600,
        "scan": page.entries.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
        "deleted": "demo/session/43", "deleted_gone": gone, "ms": kv_time.as_secs_f64() * 1e3,
    });
    if human {
        println!(
            "{} put demo/session/42 (TTL 1 h), read it back equal, scan demo/session/ found {} keys, delete demo/session/43 {} ({})\n",
            style.bold("KV"),
            page.entries.len(),
            if gone { "ok" } else { "FAILED" },
            ms(kv_time)
        );
    }

    // Semantic searches.
    let mut searches = Vec::new();
    let t_all = Instant::now();
    for (query, topic) in corpus::QUERIES {
        let t = Instant::now();
        let r =
            p.semantic_search("resources", tenant, query, &SearchOptions { limit: SHOW, ..Default::default() }).await?;
        let d = t.elapsed();
        let hits: Vec<HitRow> = r.hits.iter().map(HitRow::without_field).collect();
        let top_ok = hits.first().and_then(|h| h.name.as_deref()).is_some_and(|n| n.starts_with(topic));
        if human {
            println!("{} {query:?}  {}", style.bold("search"), style.dim(&format!("({})", ms(d))));
            let mut t = Table::new(&[("rank", Align::Right), ("score", Align::Right), ("name", Align::Left)]);
            for (i, h) in hits.iter().enumerate() {
                t.row(vec![format!("{}", i + 1), h.score_cell(), h.name_cell().to_owned()]);
            }
            println!("{}", t.render(style));
            let verdict =
                if top_ok { style.green("expected topic first") } else { style.yellow("expected topic not first") };
            println!("  {verdict} ({topic})\n");
        }
        searches.push(json!({"query": query, "expected_topic": topic, "top_hit_matches": top_ok, "ms": d.as_secs_f64() * 1e3, "hits": hits}));
    }
    steps.add(format!("{} semantic searches (top {SHOW})", corpus::QUERIES.len()), t_all.elapsed());

    if json_out {
        let steps_json: Vec<Value> =
            steps.steps.iter().map(|(s, d)| json!({"step": s, "ms": d.as_secs_f64() * 1e3})).collect();
        println!(
            "{}",
            json!({
                "sql": settings.sql.describe(),
                "kv": settings.kv.describe(),
                "tenant": tenant,
                "loaded": stored.len(),
                "atomic_mappings": p.atomic_mappings(),
                "embedder": p.embedder().name(),
                "embedder_note": p.embedder_note(),
                "embedding": {"texts": embed_load.texts, "ms": embed_load.elapsed.as_secs_f64() * 1e3},
                "steps": steps_json,
                "lookups": lookups,
                "kv_round_trip": kv_json,
                "searches": searches,
            })
        );
    } else {
        let mut t = Table::new(&[("step", Align::Left), ("time", Align::Right)]);
        for (s, d) in &steps.steps {
            t.row(vec![s.clone(), ms(*d)]);
        }
        println!("{}", t.render(style));
        println!(
            "\nTry: p8fs search \"rotate the certificate key pair\" --type resources --tenant {tenant}\n     p8fs entity get --type resources --name tls-certificates-runbook --tenant {tenant}"
        );
    }
    Ok(())
}
