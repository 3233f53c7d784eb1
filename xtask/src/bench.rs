//! `cargo xtask bench [--smoke] [--scale] [--rounds N] [WORKLOAD...]`: builds the benchmark binary
//! (release; a smoke run uses the dev build the tests already compiled), starts the local
//! databases, runs the workloads and, for a full run, rewrites `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::paths::Paths;
use crate::services::{self, Service};

/// Builds the benchmark binary; returns its path.
fn build(paths: &Paths, release: bool) -> Result<PathBuf> {
    let mut c = cmd::cargo();
    c.current_dir(&paths.root).args(["build", "--locked", "-p", "p8fs-bench", "--bin", "p8fs-bench"]);
    if release {
        c.arg("--release");
    }
    cmd::run(&mut c)?;
    let bin = paths.target.join(if release { "release" } else { "debug" }).join("p8fs-bench");
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// The peers of W14 (numpy, LanceDB), pinned, in their own virtualenv under `target/`.
const PEERS: [&str; 2] = ["numpy==2.2.6", "lancedb==0.40.0"];

/// Creates (or reuses) the peers' virtualenv; returns its Python.
fn peers_python(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.target.join("py-peers");
    let python = dir.join("bin/python");
    let stamp = dir.join("p8fs-stamp");
    let want = PEERS.join("\n");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(python);
    }
    let t = Instant::now();
    cmd::output(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir))
        .context("creating the benchmark peers' virtualenv (needs python3 with venv)")?;
    cmd::output_from_registry(|| {
        let mut c = Command::new(&python);
        c.args(["-m", "pip", "install", "-q"]).args(PEERS);
        c
    })
    .context("installing the benchmark peers (numpy, LanceDB) from the Python package registry")?;
    std::fs::write(&stamp, want)?;
    println!("benchmark peers installed ({}) in {:.0} s", PEERS.join(", "), t.elapsed().as_secs_f64());
    Ok(python)
}

/// Runs the benchmark binary with the services' URLs; `Ok` only when every row passed.
fn run_bin(paths: &Paths, bin: &PathBuf, args: &[String], env: &BTreeMap<String, String>) -> Result<()> {
    let mut c = Command::new(bin);
    c.current_dir(&paths.root).args(args).stdin(Stdio::null());
    c.env("P8FS_BENCH_PYTHON", peers_python(paths)?);
    for (k, v) in env {
        c.env(k, v);
    }
    println!("+ {}", cmd::display(&c));
    let status = c.status().context("starting the benchmark binary")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("some rows missed their goal (see MISSED above)"),
        _ => bail!("the benchmark run failed ({status})"),
    }
}

/// The smoke run the test matrix includes: tiny sizes, one round, the dev build; checks
/// that every workload runs, judges nothing, leaves the docs alone.
pub(crate) fn smoke(paths: &Paths, env: &BTreeMap<String, String>) -> Result<((), String)> {
    let bin = build(paths, false)?;
    let out = paths.target.join("bench");
    let args = vec!["--smoke".to_owned(), "--out".to_owned(), out.display().to_string()];
    run_bin(paths, &bin, &args, env)?;
    Ok(((), format!("all workloads ran ({})", out.join("smoke-results.jsonl").display())))
}

pub(crate) fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let smoke = args.iter().any(|a| a == "--smoke");
    let t0 = Instant::now();
    let started = services::up(paths, &Service::ALL)?;
    let env = services::read_env(&paths.env_file);
    let t = Instant::now();
    let bin = build(paths, !smoke)?;
    println!("build: {:.1}s", t.elapsed().as_secs_f64());
    let out = paths.target.join("bench");
    let mut bench_args: Vec<String> = vec!["--out".into(), out.display().to_string()];
    // Only a run of every workload rewrites the report: a partial run would replace the
    // whole table with its few rows.
    let partial = args.iter().any(|a| a.len() > 1 && a.starts_with(['W', 'w']) && a[1..].parse::<u32>().is_ok());
    let at_scale = args.iter().any(|a| a == "--scale");
    if at_scale && !partial {
        // The cost curves: W14 at 10k, 100k and 1M rows, and W5 (the servers' indexes
        // against their exact scans) at 100k.
        bench_args.extend(["W5".into(), "W14".into()]);
    }
    if at_scale {
        bench_args.extend(["--out".into(), out.join("scale").display().to_string()]);
        if !partial {
            let docs = paths.root.join("docs").join("benchmark-scale.md");
            bench_args.extend(["--docs".into(), docs.display().to_string()]);
        }
        println!("--scale: W5 at 100k rows, W14 at 10k, 100k and 1M rows; docs/benchmark-scale.md is rewritten");
    } else if !smoke && !partial {
        bench_args.extend(["--docs".into(), paths.root.join("docs").join("benchmarks.md").display().to_string()]);
    } else if partial {
        println!("some workloads only: docs/benchmarks.md is left as it is (a run of all of them rewrites it)");
    }
    bench_args.extend(args.iter().cloned());
    let t = Instant::now();
    let result = run_bin(paths, &bin, &bench_args, &env);
    println!("workloads: {:.1}s", t.elapsed().as_secs_f64());
    if !started.is_empty() {
        services::down(paths, &started)?;
    }
    println!("total: {:.1}s", t0.elapsed().as_secs_f64());
    result
}
