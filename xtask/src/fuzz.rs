//! `cargo xtask fuzz [--target T]... [--all] [--seconds N] [-- LIBFUZZER_ARGS...]`: runs
//! cargo-fuzz targets of `fuzz/` for N seconds each (default 60) from their corpora,
//! installing cargo-fuzz first if it is missing. `cargo xtask test` runs every target
//! briefly ([`stage`]).
//!
//! It runs on the pinned stable toolchain: `--sanitizer none` leaves out the one nightly
//! flag cargo-fuzz would pass (`-Zsanitizer=address`); the coverage instrumentation
//! libFuzzer needs (`-Cpasses=sancov-module` and its `-Cllvm-args`) is stable. Safe Rust
//! needs no address sanitizer to find what matters here: panics, stack overflows, hangs
//! and runaway memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::paths::Paths;

/// The cargo-fuzz release installed when none is found.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The targets of `fuzz/Cargo.toml`.
pub(crate) const TARGETS: &[&str] = &["rem_parse", "kv_codec", "vector_codec", "entity_sql", "proxy_request"];

pub(crate) fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let mut targets: Vec<String> = Vec::new();
    let mut seconds: u64 = 60;
    let mut libfuzzer_args = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--target" => targets.push(it.next().context("--target needs a name")?.clone()),
            "--all" => targets.extend(TARGETS.iter().map(|t| (*t).to_owned())),
            "--seconds" => {
                seconds = it.next().context("--seconds needs a number")?.parse().context("--seconds needs a number")?
            }
            "--" => libfuzzer_args.extend(it.by_ref().cloned()),
            other => bail!(
                "unknown argument {other:?}; usage: cargo xtask fuzz [--target T]... [--all] [--seconds N] [-- ARGS]"
            ),
        }
    }
    if targets.is_empty() {
        targets.push(TARGETS[0].to_owned());
    }
    for t in &targets {
        if !TARGETS.contains(&t.as_str()) {
            bail!("unknown fuzz target {t:?}; targets: {}", TARGETS.join(", "));
        }
    }
    let t0 = Instant::now();
    for line in fuzz(paths, &targets, seconds, &libfuzzer_args)? {
        println!("{line}");
    }
    println!("total: {:.1}s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// The test matrix's stage: every target for `seconds` each, from its corpus.
pub(crate) fn stage(paths: &Paths, seconds: u64) -> Result<((), String)> {
    let targets: Vec<String> = TARGETS.iter().map(|t| (*t).to_owned()).collect();
    let lines = fuzz(paths, &targets, seconds, &[])?;
    Ok(((), format!("no crash; {}", lines.join("; "))))
}

/// Installs cargo-fuzz if needed, builds the targets, runs each for `seconds`; returns one
/// line per target (`NAME: N runs in S s`). A crash fails with libFuzzer's report (which
/// names the input it saved under `fuzz/artifacts/`).
fn fuzz(paths: &Paths, targets: &[String], seconds: u64, libfuzzer_args: &[String]) -> Result<Vec<String>> {
    let t = Instant::now();
    let tools = ensure_cargo_fuzz()?;
    println!("cargo-fuzz: {:.1}s", t.elapsed().as_secs_f64());
    let t = Instant::now();
    // Against the lock file, which holds the root workspace's versions.
    let mut build = cargo_fuzz(paths, &tools);
    build.args(["build", "--sanitizer", "none"]);
    if targets.len() == 1 {
        build.arg(&targets[0]);
    }
    cmd::run(&mut build)?;
    println!("build: {:.1}s", t.elapsed().as_secs_f64());
    let mut lines = Vec::new();
    for target in targets {
        // New inputs land in fuzz/corpus/<target> beside the checked-in seeds (seed-*);
        // fuzz/.gitignore keeps them out of git. A crash is written to fuzz/artifacts/.
        let t = Instant::now();
        let mut run = cargo_fuzz(paths, &tools);
        run.args(["run", "--sanitizer", "none", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            // An input that takes more than 10 s is a failure: each is bounded work.
            .arg("-timeout=10")
            .arg("-rss_limit_mb=2048")
            .args(libfuzzer_args);
        let out = cmd::output(&mut run).with_context(|| format!("fuzz target {target} failed"))?;
        let text = String::from_utf8_lossy(&out.stderr);
        let runs = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("Done ").and_then(|r| r.split_whitespace().next()))
            .unwrap_or("?")
            .to_owned();
        lines.push(format!("{target}: {runs} runs in {:.0}s", t.elapsed().as_secs_f64()));
    }
    Ok(lines)
}

/// `cargo-fuzz fuzz` (what `cargo fuzz` runs) in `fuzz/`'s parent. cargo-fuzz runs the
/// `cargo` on PATH, which the toolchain file pins.
fn cargo_fuzz(paths: &Paths, tools: &Path) -> Command {
    let mut c = Command::new(tools.join("cargo-fuzz"));
    cmd::without_cargo_vars(&mut c);
    c.current_dir(&paths.root).arg("fuzz");
    c
}

/// The directory holding a `cargo-fuzz` binary: the one on PATH, else p8fs's own copy
/// under the cargo home (`$CARGO_HOME/p8fs-tools/bin`), installed there if missing so
/// that nothing is added to the user's own `~/.cargo/bin`.
fn ensure_cargo_fuzz() -> Result<PathBuf> {
    if let Some(dir) =
        std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).find(|d| d.join("cargo-fuzz").is_file()))
    {
        return Ok(dir);
    }
    let home = match std::env::var_os("CARGO_HOME") {
        Some(h) => PathBuf::from(h),
        None => PathBuf::from(std::env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?).join(".cargo"),
    };
    let root = home.join("p8fs-tools");
    let bin = root.join("bin");
    if !bin.join("cargo-fuzz").is_file() {
        let mut c = cmd::cargo();
        c.args(["install", "cargo-fuzz", "--locked", "--version", CARGO_FUZZ_VERSION, "--root"]).arg(&root);
        cmd::run(&mut c)?;
    }
    Ok(bin)
}
