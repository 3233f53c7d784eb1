//! `p8fs-bench`: the workloads of `cargo xtask bench`, each against its peer in the same
//! process. Usually started by xtask (which builds it in release and starts the
//! databases); by hand:
//!
//! ```text
//! p8fs-bench [--smoke] [--scale] [--rows N,N] [--rounds N] [--out DIR] [--docs FILE] [W1 W7 ...]
//! p8fs-bench --report-from target/bench/results.jsonl --docs docs/benchmarks.md
//! ```
//!
//! Database URLs come from `P8FS_TEST_PG_URL` and `P8FS_TEST_MARIADB_URL` (what
//! `cargo xtask services up` writes); a workload whose database is not configured fails.

mod embed;
mod harness;
mod kv;
mod report;
mod scale_report;
mod sql;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::harness::{Row, Scale};

/// Every workload, in order.
pub(crate) const WORKLOADS: [&str; 14] =
    ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9", "W10", "W11", "W12", "W13", "W14"];

/// W14's sizes (rows in all tenants): a smoke run, a default run, `--scale`.
const W14_SMOKE: [usize; 1] = [2_000];
const W14_DEFAULT: [usize; 1] = [100_000];
const W14_SCALE: [usize; 3] = [10_000, 100_000, 1_000_000];
/// W4-W6's rows under `--scale` (20,000 otherwise): where an index matters on the servers.
const VECTOR_ROWS_SCALE: usize = 100_000;

/// Where the databases are.
#[derive(Debug, Clone)]
pub(crate) struct Env {
    /// PostgreSQL with pgvector.
    pub(crate) pg_url: Option<String>,
    /// MariaDB 11.8 (MySQL protocol).
    pub(crate) mariadb_url: Option<String>,
    /// TiDB (the local tidb-server over its in-process store, or a cluster): W1-W3 add
    /// its rows when it is set.
    pub(crate) tidb_url: Option<String>,
    /// Scratch files.
    pub(crate) scratch: PathBuf,
}

impl Env {
    /// The PostgreSQL URL, or why there is none.
    pub(crate) fn pg(&self) -> Result<&str> {
        self.pg_url.as_deref().context("P8FS_TEST_PG_URL is not set (cargo xtask services up writes it)")
    }

    /// The MariaDB URL, or why there is none.
    pub(crate) fn mariadb(&self) -> Result<&str> {
        self.mariadb_url.as_deref().context("P8FS_TEST_MARIADB_URL is not set (cargo xtask services up writes it)")
    }
}

struct Args {
    scale: Scale,
    out: PathBuf,
    docs: Option<PathBuf>,
    workloads: Vec<String>,
    /// Only rewrite the report from an earlier run's results.
    report_from: Option<PathBuf>,
    /// W14 at 10k, 100k and 1M rows.
    at_scale: bool,
    /// W14's sizes when given (`--rows 10000,250000`).
    rows: Option<Vec<usize>>,
}

fn parse_args() -> Result<Args> {
    let mut smoke = false;
    let mut rounds = None;
    let mut out = PathBuf::from("target/bench");
    let mut docs = None;
    let mut report_from = None;
    let mut workloads = Vec::new();
    let mut at_scale = false;
    let mut sizes = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => smoke = true,
            "--scale" => at_scale = true,
            "--rounds" => {
                let n = it.next().context("--rounds needs a number")?;
                rounds = Some(n.parse::<usize>().with_context(|| format!("--rounds {n:?} is not a number"))?);
            }
            "--rows" => {
                let list = it.next().context("--rows needs sizes such as 10000,250000")?;
                let parsed = list
                    .split(',')
                    .map(|n| n.trim().replace('_', "").parse::<usize>().ok().filter(|n| (100..=10_000_000).contains(n)))
                    .collect::<Option<Vec<usize>>>();
                sizes = Some(parsed.with_context(|| format!("--rows {list:?}: sizes are 100-10000000 rows"))?);
            }
            "--out" => out = PathBuf::from(it.next().context("--out needs a directory")?),
            "--docs" => docs = Some(PathBuf::from(it.next().context("--docs needs a file")?)),
            "--report-from" => report_from = Some(PathBuf::from(it.next().context("--report-from needs a file")?)),
            w if WORKLOADS.iter().any(|x| x.eq_ignore_ascii_case(w)) => workloads.push(w.to_ascii_uppercase()),
            other => bail!("unknown argument {other:?}; workloads: {}", WORKLOADS.join(" ")),
        }
    }
    if workloads.is_empty() {
        workloads = WORKLOADS.iter().map(|s| (*s).to_owned()).collect();
    }
    let rounds = rounds.unwrap_or(if smoke { 1 } else { 5 });
    if !smoke && rounds < 5 {
        bail!("a judged run needs at least 5 rounds (got {rounds}); use --smoke for a quick check");
    }
    Ok(Args { scale: Scale { rounds, smoke }, out, docs, workloads, report_from, at_scale, rows: sizes })
}

fn main() {
    let code = match run() {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            eprintln!("p8fs-bench: {e:#}");
            2
        }
    };
    std::process::exit(code);
}

fn run() -> Result<bool> {
    let args = parse_args()?;
    if let Some(from) = &args.report_from {
        let text = std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
        let rows = text.lines().map(serde_json::from_str).collect::<std::result::Result<Vec<Row>, _>>()?;
        let docs = args.docs.as_ref().context("--report-from needs --docs FILE")?;
        if args.at_scale {
            scale_report::write(docs, &rows)?;
            println!("wrote {} from {}", docs.display(), from.display());
            return Ok(rows.iter().all(|r| r.pass));
        }
        let rounds = rows.first().map_or(args.scale.rounds, |r| r.rounds);
        report::write_markdown(docs, &rows, &[], Scale { rounds, smoke: false })?;
        println!("wrote {} from {}", docs.display(), from.display());
        return Ok(rows.iter().all(|r| r.pass));
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let scratch = std::env::temp_dir().join(format!("p8fs-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let env = Env {
        pg_url: std::env::var("P8FS_TEST_PG_URL").ok().filter(|s| !s.is_empty()),
        mariadb_url: std::env::var("P8FS_TEST_MARIADB_URL").ok().filter(|s| !s.is_empty()),
        tidb_url: std::env::var("P8FS_TIDB_URL").ok().filter(|s| !s.is_empty()),
        scratch: scratch.clone(),
    };
    std::fs::create_dir_all(&args.out)?;
    let results = args.out.join(if args.scale.smoke { "smoke-results.jsonl" } else { "results.jsonl" });
    let mut rows: Vec<Row> = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    // W4-W6 share one load of the vectors (and W4 runs before the index exists).
    let mut order: Vec<Vec<String>> = Vec::new();
    for w in &args.workloads {
        let vector = ["W4", "W5", "W6"].contains(&w.as_str());
        match order.iter_mut().find(|g| vector && ["W4", "W5", "W6"].contains(&g[0].as_str())) {
            Some(g) => g.push(w.clone()),
            None => order.push(vec![w.clone()]),
        }
    }
    for group in &order {
        let w = &group.join("+");
        let t = Instant::now();
        println!("== {w}");
        let sizes: &[usize] = if let Some(rows) = &args.rows {
            rows
        } else if args.scale.smoke {
            &W14_SMOKE
        } else if args.at_scale {
            &W14_SCALE
        } else {
            &W14_DEFAULT
        };
        let vector_rows = (args.at_scale && !args.scale.smoke).then_some(VECTOR_ROWS_SCALE);
        let r = rt.block_on(run_workload(group, &env, args.scale, sizes, vector_rows));
        match r {
            Ok(mut new) => {
                for row in &new {
                    println!("{}", report::line(row));
                }
                rows.append(&mut new);
            }
            Err(e) => {
                eprintln!("{w}: FAILED: {e:#}");
                failures.push(format!("{w}: {e:#}"));
            }
        }
        println!("   ({w} took {:.1} s)", t.elapsed().as_secs_f64());
    }
    let mut text = String::new();
    for r in &rows {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    std::fs::write(&results, text).with_context(|| format!("writing {}", results.display()))?;
    println!("wrote {} ({} rows) in {:.0} s", results.display(), rows.len(), started.elapsed().as_secs_f64());
    if let Some(docs) = &args.docs {
        if args.at_scale {
            scale_report::write(docs, &rows)?;
        } else {
            report::write_markdown(docs, &rows, &failures, args.scale)?;
        }
        println!("wrote {} and its plot", docs.display());
    }
    std::fs::remove_dir_all(&scratch).ok();
    let missed: Vec<&Row> = rows.iter().filter(|r| !r.pass).collect();
    for r in &missed {
        println!("MISSED {} {}: ratio {:.3}, goal {}", r.workload, r.variant, r.ratio, r.goal);
    }
    Ok(failures.is_empty() && missed.is_empty())
}

async fn run_workload(
    group: &[String],
    env: &Env,
    scale: Scale,
    w14_sizes: &[usize],
    vector_rows: Option<usize>,
) -> Result<Vec<Row>> {
    let mut sorted = group.to_vec();
    sorted.sort_by_key(|w| w[1..].parse::<u32>().unwrap_or(0));
    match group[0].as_str() {
        "W1" => sql::w1_single_upsert(env, scale).await,
        "W2" => sql::w2_batch_upsert(env, scale).await,
        "W3" => sql::w3_json_filter(env, scale).await,
        "W4" | "W5" | "W6" => sql::vector_workload(&sorted, env, scale, vector_rows).await,
        "W7" => kv::w7_embedded(env, scale).await,
        "W8" => kv::w8_proxy(env, scale).await,
        "W9" => kv::w9_mapping_write(env, scale).await,
        "W10" => sql::w10_metadata_cache(env, scale).await,
        "W11" => kv::w11_tikv(env, scale).await,
        "W12" => sql::w12_sqlite(env, scale).await,
        "W13" => embed::w13_embedding(env, scale).await,
        "W14" => sql::w14_scale(env, scale, w14_sizes).await,
        other => bail!("no workload {other}"),
    }
}
