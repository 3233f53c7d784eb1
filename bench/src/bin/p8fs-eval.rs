//! `p8fs-eval`: retrieval quality of p8fs's search modes on the labelled set in
//! `tests/data/retrieval`, on each engine. Usually started by `cargo xtask eval` (which
//! starts the databases and writes the docs) or by `cargo xtask test` (`--check`):
//!
//! ```text
//! p8fs-eval [--data DIR] [--engines embedded,postgres,mariadb,tidb] [--out DIR] [--docs FILE] [--check]
//! ```
//!
//! Every document is stored as a `resources` entity (name = its id, content = title and
//! text) in one tenant per embedder, through the public API, and every query is searched
//! with limit 10 in each mode. recall@10 is the share of a query's relevant documents in
//! its top 10; nDCG@10 uses binary relevance. Texts are embedded once per process and
//! reused on every engine (the embedders are deterministic).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use p8fs_core::embed::{Embedder, LexicalEmbedder, MiniLmEmbedder};
use p8fs_core::sql::entity::{Layout, SearchOptions};
use p8fs_core::sql::{DialectKind, SqlExecutor, Statement};
use p8fs_core::{Fusion, P8fs, QueryMode, SqlConfig, connect_sql};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

const K: usize = 10;
const SCHEMA: &str = "p8fs_eval";
const EMB_SCHEMA: &str = "p8fs_eval_e";
/// The engines the eval runs on (all by default).
const ENGINES: [&str; 4] = ["embedded", "postgres", "mariadb", "tidb"];

#[derive(Debug, Deserialize)]
struct Doc {
    id: String,
    topic: String,
    title: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct Query {
    id: String,
    text: String,
    relevant: Vec<String>,
    kind: String,
}

/// One embedder's vectors, computed once per text in this process.
#[derive(Debug)]
struct Cached {
    inner: Arc<dyn Embedder>,
    seen: Mutex<HashMap<String, Vec<f32>>>,
}

#[async_trait]
impl Embedder for Cached {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    async fn embed(&self, texts: &[String]) -> p8fs_core::Result<Vec<Vec<f32>>> {
        let missing: Vec<String> = {
            let seen = self.seen.lock().map_err(|_| p8fs_core::Error::Config("poisoned".into()))?;
            texts.iter().filter(|t| !seen.contains_key(*t)).cloned().collect()
        };
        if !missing.is_empty() {
            let vectors = self.inner.embed(&missing).await?;
            let mut seen = self.seen.lock().map_err(|_| p8fs_core::Error::Config("poisoned".into()))?;
            for (t, v) in missing.into_iter().zip(vectors) {
                seen.insert(t, v);
            }
        }
        let seen = self.seen.lock().map_err(|_| p8fs_core::Error::Config("poisoned".into()))?;
        Ok(texts.iter().map(|t| seen.get(t).cloned().unwrap_or_default()).collect())
    }
}

/// The scores of one (engine, method) over a set of queries.
#[derive(Debug, Clone, Default, Serialize)]
struct Scores {
    queries: usize,
    recall: f64,
    ndcg: f64,
}

/// One line of the results.
#[derive(Debug, Clone, Serialize)]
struct ResultRow {
    engine: String,
    method: String,
    kind: String,
    queries: usize,
    recall_at_10: f64,
    ndcg_at_10: f64,
    ms_per_query: f64,
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1)))
        .collect()
}

fn recall_and_ndcg(ranked: &[String], relevant: &[String]) -> (f64, f64) {
    let top = &ranked[..ranked.len().min(K)];
    let hits = relevant.iter().filter(|r| top.contains(r)).count();
    let recall = hits as f64 / relevant.len().max(1) as f64;
    let dcg: f64 = top
        .iter()
        .enumerate()
        .filter(|(_, id)| relevant.contains(id))
        .map(|(i, _)| 1.0 / ((i + 2) as f64).log2())
        .sum();
    let ideal: f64 = (0..relevant.len().min(K)).map(|i| 1.0 / ((i + 2) as f64).log2()).sum();
    (recall, if ideal > 0.0 { dcg / ideal } else { 0.0 })
}

struct Args {
    data: PathBuf,
    engines: Vec<String>,
    out: PathBuf,
    docs: Option<PathBuf>,
    check: bool,
    /// More fusions to report besides the default (`rrf:K`, `weighted:T`).
    fusions: Vec<String>,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        data: PathBuf::from("tests/data/retrieval"),
        engines: ENGINES.iter().map(|e| (*e).to_owned()).collect(),
        out: PathBuf::from("target/eval"),
        docs: None,
        check: false,
        fusions: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--data" => a.data = PathBuf::from(it.next().context("--data needs a directory")?),
            "--engines" => {
                a.engines = it.next().context("--engines needs a list")?.split(',').map(str::to_owned).collect();
            }
            "--out" => a.out = PathBuf::from(it.next().context("--out needs a directory")?),
            "--docs" => a.docs = Some(PathBuf::from(it.next().context("--docs needs a file")?)),
            "--check" => a.check = true,
            "--fusions" => {
                a.fusions = it.next().context("--fusions needs a list")?.split(',').map(str::to_owned).collect();
                for f in &a.fusions {
                    parse_fusion(f)?;
                }
            }
            other => bail!("unknown argument {other:?}"),
        }
    }
    for e in &a.engines {
        if !ENGINES.contains(&e.as_str()) {
            bail!("unknown engine {e:?}: {}", ENGINES.join(", "));
        }
    }
    Ok(a)
}

fn main() {
    let code = match tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(anyhow::Error::from) {
        Ok(rt) => match rt.block_on(run()) {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(e) => {
                eprintln!("p8fs-eval: {e:#}");
                2
            }
        },
        Err(e) => {
            eprintln!("p8fs-eval: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

async fn connect(engine: &str, scratch: &Path) -> Result<(Arc<dyn SqlExecutor>, Layout)> {
    let config = match engine {
        "embedded" => SqlConfig::Sqlite { path: scratch.join("eval.sqlite") },
        "postgres" => SqlConfig::Postgres {
            url: std::env::var("P8FS_TEST_PG_URL").context("P8FS_TEST_PG_URL is not set (cargo xtask services up)")?,
        },
        "tidb" => SqlConfig::Tidb {
            url: std::env::var("P8FS_TIDB_URL").context("P8FS_TIDB_URL is not set (cargo xtask services up)")?,
        },
        _ => SqlConfig::Tidb {
            url: std::env::var("P8FS_TEST_MARIADB_URL")
                .context("P8FS_TEST_MARIADB_URL is not set (cargo xtask services up)")?,
        },
    };
    let sql = connect_sql(&config).await?;
    let layout = match sql.dialect().kind() {
        DialectKind::Sqlite => Layout::default(),
        kind => {
            for s in [SCHEMA, EMB_SCHEMA] {
                let drop = match kind {
                    DialectKind::Postgres => format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"),
                    _ => format!("DROP DATABASE IF EXISTS `{s}`"),
                };
                sql.execute(&Statement::raw(drop)).await?;
            }
            Layout::new(Some(SCHEMA), Some(EMB_SCHEMA))?
        }
    };
    Ok((sql, layout))
}

/// A method: its name and how it searches (`None`: not available in this build).
type Ranked = Vec<String>;

/// `hybrid` (the default fusion) or `hybrid(rrf:K)` / `hybrid(weighted:T)` (T: the text
/// side's weight).
fn parse_fusion(spec: &str) -> Result<Fusion> {
    let (kind, value) = spec.split_once(':').context("a fusion is rrf:K or weighted:TEXT_WEIGHT")?;
    let v: f64 = value.parse().with_context(|| format!("{value:?} is not a number"))?;
    Ok(match kind {
        "rrf" => Fusion::Rrf { k: v },
        "weighted" => Fusion::Weighted { text: v, vector: 1.0 - v },
        other => bail!("unknown fusion {other:?}"),
    })
}

async fn search(p: &P8fs, tenant: &str, method: &str, text: &str) -> Result<Ranked> {
    let opts = SearchOptions { limit: K, ..SearchOptions::default() };
    let (mode, fusion) = match method {
        "lexical" | "minilm" => (QueryMode::Vector, Fusion::default()),
        "text" => (QueryMode::Text, Fusion::default()),
        "hybrid" => (QueryMode::Hybrid, Fusion::default()),
        other => match other.strip_prefix("hybrid(").and_then(|r| r.strip_suffix(')')) {
            Some(spec) => (QueryMode::Hybrid, parse_fusion(spec)?),
            None => bail!("no method {other}"),
        },
    };
    let hits = match p.search("resources", tenant, text, mode, &opts, fusion).await {
        Ok(r) => r.hits,
        // A query with no word to match (all stop words) finds nothing by text.
        Err(e) if mode == QueryMode::Text && e.kind() == p8fs_core::ErrorKind::InvalidInput => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(hits.iter().filter_map(|h| h.entity.get("name").and_then(Value::as_str).map(str::to_owned)).collect())
}

async fn run() -> Result<bool> {
    let args = parse_args()?;
    let docs: Vec<Doc> = read_jsonl(&args.data.join("documents.jsonl"))?;
    let queries: Vec<Query> = read_jsonl(&args.data.join("queries.jsonl"))?;
    println!("{} documents, {} queries", docs.len(), queries.len());
    let t = Instant::now();
    let minilm = MiniLmEmbedder::open(None, true).await.context("all-MiniLM-L6-v2 is needed for the eval")?;
    println!("model loaded in {:.1}s", t.elapsed().as_secs_f64());
    let embedders: Vec<(&str, Arc<dyn Embedder>)> = vec![
        ("lexical", Arc::new(Cached { inner: Arc::new(LexicalEmbedder::new(384)), seen: Mutex::default() })),
        ("minilm", Arc::new(Cached { inner: Arc::new(minilm), seen: Mutex::default() })),
    ];
    let scratch = std::env::temp_dir().join(format!("p8fs-eval-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut per_query = String::new();
    for engine in &args.engines {
        let (sql, layout) = connect(engine, &scratch).await?;
        for (method, embedder) in &embedders {
            let tenant = format!("eval-{method}");
            let p = P8fs::with_sql_kv(Arc::clone(&sql), layout.clone(), Arc::clone(embedder)).await?;
            p.migrate().await?;
            let t = Instant::now();
            for chunk in docs.chunks(100) {
                let items: Vec<(String, Map<String, Value>)> = chunk
                    .iter()
                    .map(|d| {
                        let data = json!({"content": format!("{}. {}", d.title, d.text), "category": d.topic});
                        (d.id.clone(), data.as_object().cloned().unwrap_or_default())
                    })
                    .collect();
                p.store_entities_with_reverse_mappings("resources", &tenant, items).await?;
            }
            println!("{engine}: stored {} documents with {method} in {:.1}s", docs.len(), t.elapsed().as_secs_f64());
            // Full-text search does not depend on the embedder: it and hybrid (full-text
            // fused with MiniLM) run in the MiniLM tenant.
            let extra: Vec<String> = args.fusions.iter().map(|f| format!("hybrid({f})")).collect();
            let methods: Vec<&str> = if *method == "minilm" {
                ["minilm", "text", "hybrid"].into_iter().chain(extra.iter().map(String::as_str)).collect()
            } else {
                vec![method]
            };
            for m in methods {
                let mut by_kind: BTreeMap<String, (Scores, f64)> = BTreeMap::new();
                for q in &queries {
                    let t = Instant::now();
                    let ranked = search(&p, &tenant, m, &q.text).await?;
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    let (r, n) = recall_and_ndcg(&ranked, &q.relevant);
                    let line = json!({"engine": engine, "method": m, "query": q.id, "kind": q.kind, "recall": r, "ndcg": n, "top": ranked, "relevant": q.relevant});
                    per_query.push_str(&line.to_string());
                    per_query.push('\n');
                    for kind in [q.kind.as_str(), "all"] {
                        let e = by_kind.entry(kind.to_owned()).or_default();
                        e.0.queries += 1;
                        e.0.recall += r;
                        e.0.ndcg += n;
                        e.1 += ms;
                    }
                }
                for (kind, (s, ms)) in by_kind {
                    let n = s.queries.max(1) as f64;
                    rows.push(ResultRow {
                        engine: engine.clone(),
                        method: m.to_owned(),
                        kind,
                        queries: s.queries,
                        recall_at_10: s.recall / n,
                        ndcg_at_10: s.ndcg / n,
                        ms_per_query: ms / n,
                    });
                }
            }
        }
    }
    std::fs::remove_dir_all(&scratch).ok();
    std::fs::create_dir_all(&args.out)?;
    let mut text = String::new();
    for r in &rows {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    let results = args.out.join("results.jsonl");
    std::fs::write(&results, text)?;
    std::fs::write(args.out.join("per-query.jsonl"), per_query)?;
    let table = markdown(&rows);
    println!("{table}");
    let (ok, verdicts) = goals(&rows);
    for v in &verdicts {
        println!("{v}");
    }
    if let Some(docs_path) = &args.docs {
        write_docs(docs_path, &table, &verdicts, &rows)?;
        println!("wrote {} and its plot", docs_path.display());
    }
    Ok(ok || !args.check)
}

fn get<'a>(rows: &'a [ResultRow], engine: &str, method: &str, kind: &str) -> Option<&'a ResultRow> {
    rows.iter().find(|r| r.engine == engine && r.method == method && r.kind == kind)
}

/// The issue's goals per engine: MiniLM >= 1.5x lexical's recall@10 on the paraphrase
/// queries; hybrid at least as good as the best single mode on the whole set (recall@10;
/// nDCG@10 reported beside it).
fn goals(rows: &[ResultRow]) -> (bool, Vec<String>) {
    let mut ok = true;
    let mut out = Vec::new();
    let mut engines: Vec<&str> = rows.iter().map(|r| r.engine.as_str()).collect();
    engines.dedup();
    for e in engines {
        match (get(rows, e, "minilm", "paraphrase"), get(rows, e, "lexical", "paraphrase")) {
            (Some(m), Some(l)) => {
                let pass = m.recall_at_10 >= 1.5 * l.recall_at_10;
                ok &= pass;
                out.push(format!(
                    "{e}: MiniLM recall@10 on paraphrases {:.3} vs lexical {:.3} ({:.2}x, goal >= 1.5x): {}",
                    m.recall_at_10,
                    l.recall_at_10,
                    m.recall_at_10 / l.recall_at_10.max(1e-9),
                    if pass { "pass" } else { "MISSED" }
                ));
            }
            _ => {
                ok = false;
                out.push(format!("{e}: MiniLM or lexical missing: MISSED"));
            }
        }
        if let Some(h) = get(rows, e, "hybrid", "all") {
            let singles: Vec<&ResultRow> =
                ["lexical", "minilm", "text"].iter().filter_map(|m| get(rows, e, m, "all")).collect();
            let best_recall = singles.iter().map(|r| r.recall_at_10).fold(0.0, f64::max);
            let best_ndcg = singles.iter().map(|r| r.ndcg_at_10).fold(0.0, f64::max);
            // Judged on recall@10, the issue's measure; nDCG@10 is reported beside it.
            let pass = h.recall_at_10 >= best_recall;
            ok &= pass;
            out.push(format!(
                "{e}: hybrid recall@10 {:.3} vs best single mode {best_recall:.3} (goal: at least as good): {}; nDCG@10 \
                 {:.3} vs {best_ndcg:.3} ({:+.3})",
                h.recall_at_10,
                if pass { "pass" } else { "MISSED" },
                h.ndcg_at_10,
                h.ndcg_at_10 - best_ndcg
            ));
        }
    }
    (ok, out)
}

fn markdown(rows: &[ResultRow]) -> String {
    let mut s = String::from(
        "| engine | method | queries | recall@10 | nDCG@10 | ms/query |\n| --- | --- | --- | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} ({}) | {:.3} | {:.3} | {:.1} |",
            r.engine, r.method, r.kind, r.queries, r.recall_at_10, r.ndcg_at_10, r.ms_per_query
        );
    }
    s
}

/// Replaces the text between the markers in the docs file, and writes the plot next to it.
fn write_docs(path: &Path, table: &str, verdicts: &[String], rows: &[ResultRow]) -> Result<()> {
    const BEGIN: &str = "<!-- eval:begin -->";
    const END: &str = "<!-- eval:end -->";
    let doc = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        bail!("{} has no {BEGIN} ... {END} markers", path.display());
    };
    let svg_name = "retrieval-eval.svg";
    let mut body = format!("\n![recall@10 by method and engine]({svg_name})\n\n{table}\n");
    for v in verdicts {
        let _ = writeln!(body, "- {v}");
    }
    let new = format!("{}{BEGIN}{body}{}", &doc[..b], &doc[e..]);
    std::fs::write(path, new)?;
    std::fs::write(path.with_file_name(svg_name), svg(rows))?;
    Ok(())
}

/// Grouped bars: recall@10 on all queries, per engine, one bar per method.
fn svg(rows: &[ResultRow]) -> String {
    let all: Vec<&ResultRow> = rows.iter().filter(|r| r.kind != "all").collect::<Vec<_>>();
    let mut groups: Vec<(String, String)> = Vec::new();
    for r in &all {
        let g = (r.engine.clone(), r.kind.clone());
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    let mut methods: Vec<&str> = Vec::new();
    for r in &all {
        if !methods.contains(&r.method.as_str()) {
            methods.push(&r.method);
        }
    }
    let colors = ["#9aa5b1", "#3b82f6", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444"];
    let bar = 14.0;
    let gap = 18.0;
    let group_w = bar * methods.len() as f64 + gap;
    let (left, top, plot_h) = (40.0, 30.0, 200.0);
    let w = left + group_w * groups.len() as f64 + 20.0;
    let h = top + plot_h + 80.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" font-family="sans-serif" font-size="10">"#
    );
    let _ = write!(s, r#"<text x="{left}" y="16" font-size="12">recall@10 by engine and query kind</text>"#);
    for i in 0..=4 {
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.0}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="4" y="{:.1}">{:.2}</text>"##,
            w - 10.0,
            y + 3.0,
            f64::from(i) / 4.0
        );
    }
    for (gi, (engine, kind)) in groups.iter().enumerate() {
        let x0 = left + gap / 2.0 + group_w * gi as f64;
        for (mi, m) in methods.iter().enumerate() {
            if let Some(r) = all.iter().find(|r| &r.engine == engine && &r.kind == kind && r.method == *m) {
                let bh = plot_h * r.recall_at_10.clamp(0.0, 1.0);
                let _ = write!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{bar}" height="{bh:.1}" fill="{}"><title>{engine} {kind} {m}: {:.3}</title></rect>"#,
                    x0 + bar * mi as f64,
                    top + plot_h - bh,
                    colors[mi % colors.len()],
                    r.recall_at_10
                );
            }
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{engine}</text><text x="{:.1}" y="{:.1}">{kind}</text>"#,
            x0,
            top + plot_h + 14.0,
            x0,
            top + plot_h + 26.0
        );
    }
    for (mi, m) in methods.iter().enumerate() {
        let x = left + 90.0 * mi as f64;
        let y = top + plot_h + 50.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{y:.1}">{m}</text>"#,
            y - 9.0,
            colors[mi % colors.len()],
            x + 14.0
        );
    }
    s.push_str("</svg>\n");
    s
}
