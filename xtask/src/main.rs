//! `cargo xtask`: the commands people and CI run. Every external command is printed
//! before it runs.
//!
//! ```text
//! cargo xtask services up|down|status   local PostgreSQL+pgvector and MariaDB 11.8
//! cargo xtask test [BACKEND...]         the test matrix (default: all)
//! cargo xtask pytest [PROVIDER...]      the Python client's suite alone
//! cargo xtask bench [--smoke] [W1 ...]  benchmarks against hand-written driver calls
//! cargo xtask fuzz [--target T] [--seconds N]  a cargo-fuzz target of fuzz/ for N seconds
//! ```

mod bench;
mod cmd;
mod eval;
mod fuzz;
mod paths;
mod pytest;
mod services;
mod test;

use anyhow::{Result, bail};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  services up|down|status     start, stop or show the local test databases
  test [BACKEND...] [--keep-services] [--no-drill] [--no-fuzz]
                              run the test matrix; BACKEND is one of
                              embedded, postgres, mariadb, tikv, http, tidb, all (default)
  drill [BACKEND...]          the outage and restart drills alone: each database
                              stopped mid-run (and started again) by the service
                              scripts; BACKEND is one of postgres, mariadb, tidb
  soak [--minutes N] [BACKEND...]
                              64 clients of mixed entity and proxy operations per SQL
                              backend for N minutes (default 10), then a read-back of
                              every acknowledged write and a memory check
  pytest [PROVIDER...]        the Python client's suite against p8fs serve; PROVIDER
                              is one of kv-only, sqlite, postgres, mariadb, tidb
                              (default: those available)
  bench [--smoke] [--scale] [--rounds N] [W1 .. W14]
                              p8fs against the hand-written driver calls; a full run
                              (release build, >= 5 rounds) rewrites docs/benchmarks.md
  eval [--engines embedded,postgres,mariadb]
                              retrieval quality (recall@10, nDCG@10) of every search
                              mode per engine; rewrites docs/retrieval-eval.md
  fuzz [--target T]... [--all] [--seconds N] [-- LIBFUZZER_ARGS...]
                              run fuzz targets of fuzz/ (rem_parse, kv_codec,
                              vector_codec, entity_sql, proxy_request) for N seconds
                              each (default 60) from their corpora; installs
                              cargo-fuzz if missing
";

fn main() {
    if let Err(e) = run() {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let paths = paths::Paths::discover()?;
    match args.first().map(String::as_str) {
        Some("services") => match args.get(1).map(String::as_str) {
            Some("up") => services::up(&paths, &services::Service::ALL).map(|_| ()),
            Some("down") => services::down(&paths, &services::Service::ALL),
            Some("status") => services::status(&paths),
            _ => bail!("{USAGE}"),
        },
        Some("test") => test::run(&paths, &args[1..]),
        Some("drill") => test::run_drills(&paths, &args[1..]),
        Some("soak") => test::run_soak(&paths, &args[1..]),
        Some("pytest") => test::run_python(&paths, &args[1..]),
        Some("bench") => bench::run(&paths, &args[1..]),
        Some("fuzz") => fuzz::run(&paths, &args[1..]),
        Some("eval") => eval::run(&paths, &args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            Ok(())
        }
        _ => bail!("{USAGE}"),
    }
}
