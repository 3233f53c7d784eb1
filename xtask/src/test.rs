//! `cargo xtask test`: build once, run the unit tests, then the same conformance suites
//! against each backend, then the outage drill; print what ran, per backend, with timings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::paths::Paths;
use crate::pytest::Provider;
use crate::services::{self, Service};

/// A backend of the matrix. Mirrors `p8fs_tests::Backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Backend {
    Embedded,
    Postgres,
    MariaDb,
    Tidb,
    Http,
    Tikv,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Embedded => "embedded",
            Backend::Postgres => "postgres",
            Backend::MariaDb => "mariadb",
            Backend::Tidb => "tidb",
            Backend::Http => "http",
            Backend::Tikv => "tikv",
        }
    }

    fn parse(s: &str) -> Result<Vec<Backend>> {
        Ok(match s {
            "embedded" => vec![Backend::Embedded],
            "postgres" | "postgresql" => vec![Backend::Postgres],
            "mariadb" => vec![Backend::MariaDb],
            "tidb" => vec![Backend::Tidb],
            "http" => vec![Backend::Http],
            "tikv" => vec![Backend::Tikv],
            "all" => Backend::all(),
            _ => bail!("unknown backend {s:?}; valid: embedded, postgres, mariadb, http, tikv, tidb, all"),
        })
    }

    /// Every backend.
    fn all() -> Vec<Backend> {
        vec![Backend::Embedded, Backend::Postgres, Backend::MariaDb, Backend::Tidb, Backend::Http, Backend::Tikv]
    }

    /// The Python client's runs this backend stands for: the embedded run covers SQLite
    /// and the KV-only server; the proxy and TiKV backends are KV-only and need none.
    fn python_providers(self) -> Vec<Provider> {
        match self {
            Backend::Embedded => vec![Provider::KvOnly, Provider::Sqlite],
            Backend::Postgres => vec![Provider::Postgres],
            Backend::MariaDb => vec![Provider::MariaDb],
            Backend::Tidb => vec![Provider::Tidb],
            Backend::Http | Backend::Tikv => vec![],
        }
    }

    /// Whether it has a SQL engine (the soak runs on it).
    fn has_sql(self) -> bool {
        !matches!(self, Backend::Http | Backend::Tikv)
    }

    fn service(self) -> Option<Service> {
        match self {
            Backend::Postgres => Some(Service::Postgres),
            Backend::MariaDb => Some(Service::MariaDb),
            // A TiDB the user points at replaces the local tidb-server.
            Backend::Tidb if std::env::var_os("P8FS_TIDB_URL").is_some() => None,
            Backend::Tidb => Some(Service::Tidb),
            Backend::Embedded | Backend::Http | Backend::Tikv => None,
        }
    }
}

/// One line of the closing report.
struct Stage {
    name: String,
    secs: f64,
    outcome: String,
    ok: bool,
}

struct Report {
    stages: Vec<Stage>,
}

impl Report {
    fn stage<T>(&mut self, name: &str, f: impl FnOnce() -> Result<(T, String)>) -> Option<T> {
        println!("\n==> {name}");
        let t = Instant::now();
        let r = f();
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok((v, outcome)) => {
                println!("<== {name}: {outcome} ({secs:.1}s)");
                self.stages.push(Stage { name: name.to_owned(), secs, outcome, ok: true });
                Some(v)
            }
            Err(e) => {
                println!("<== {name}: FAILED ({secs:.1}s): {e:#}");
                self.stages.push(Stage { name: name.to_owned(), secs, outcome: format!("FAILED: {e:#}"), ok: false });
                None
            }
        }
    }

    fn print(&self) {
        println!("\n{:<32} {:>8}  result", "stage", "seconds");
        for s in &self.stages {
            let first_line = s.outcome.lines().next().unwrap_or("");
            println!("{:<32} {:>8.1}  {}", s.name, s.secs, first_line);
        }
        let total: f64 = self.stages.iter().map(|s| s.secs).sum();
        println!("{:<32} {:>8.1}", "total", total);
        // A failed stage's cause is often at the end of a long error (a command's stderr):
        // repeat its last lines here, where a log cut in the middle still shows them.
        for s in self.stages.iter().filter(|s| !s.ok) {
            let lines: Vec<&str> = s.outcome.lines().collect();
            if lines.len() > 1 {
                println!("\n{} failed; the last lines of its error:", s.name);
                for line in &lines[lines.len().saturating_sub(20)..] {
                    println!("    {line}");
                }
            }
        }
    }

    /// Stops the services this run started (`started`), prints the stages, and fails with
    /// `failed` when one failed.
    fn close(&mut self, paths: &Paths, started: &[Service], failed: &str) -> Result<()> {
        if !started.is_empty() {
            self.stage("services down (those this run started)", || {
                services::down(paths, started)?;
                Ok(((), "ok".to_owned()))
            });
        }
        self.print();
        if !self.ok() {
            bail!("{failed} (see the stages above)");
        }
        Ok(())
    }

    /// The stage that builds every test target once.
    fn build(&mut self, paths: &Paths) -> Option<Built> {
        self.stage("build (cargo test --no-run)", || {
            let b = build(paths)?;
            let n = b.tests.len();
            Ok((b, format!("{n} test binaries")))
        })
    }

    /// The "services up" stage for the databases `backends` need (none: no stage); the
    /// services it started.
    fn services_up(&mut self, paths: &Paths, backends: &[Backend]) -> Vec<Service> {
        let needed: Vec<Service> = backends.iter().filter_map(|b| b.service()).collect();
        if needed.is_empty() {
            return Vec::new();
        }
        self.stage("services up", || {
            let s = services::up(paths, &needed)?;
            Ok((s, "ok".to_owned()))
        })
        .unwrap_or_default()
    }

    fn ok(&self) -> bool {
        self.stages.iter().all(|s| s.ok)
    }
}

/// How long the matrix runs each fuzz target (`cargo xtask fuzz` runs longer).
const FUZZ_SECS: u64 = 15;
/// How long the matrix's soak runs on each SQL backend (`cargo xtask soak` runs longer).
const SOAK_SECS: u64 = 20;

pub(crate) fn run(paths: &Paths, args: &[String]) -> Result<()> {
    let mut backends = Vec::new();
    let mut keep_services = false;
    let mut drill = true;
    let mut fuzz = true;
    for a in args {
        match a.as_str() {
            "--keep-services" => keep_services = true,
            "--no-drill" => drill = false,
            "--no-fuzz" => fuzz = false,
            other => backends.extend(Backend::parse(other)?),
        }
    }
    if backends.is_empty() {
        backends = Backend::all();
    }
    backends.sort();
    backends.dedup();

    let mut report = Report { stages: Vec::new() };
    let started = report.services_up(paths, &backends);
    let env = services::read_env(&paths.env_file);
    if backends.contains(&Backend::Tidb) {
        report.stage("tidb version", || {
            let url = std::env::var("P8FS_TIDB_URL")
                .ok()
                .or_else(|| env.get("P8FS_TIDB_URL").cloned())
                .context("no TiDB URL: the services file names none and P8FS_TIDB_URL is not set")?;
            Ok(((), format!("tidb_version(): {}", services::tidb::version(paths, &url)?)))
        });
    }

    let built = report.build(paths);
    let binaries = built.as_ref().map(|b| &b.tests);

    // The local embedding model, as p8fs fetches it on first use: the MiniLM correctness
    // test, the suites and the eval need it, and a missing model fails here, not as a skip.
    if let Some(p8fs) = built.as_ref().and_then(|b| b.p8fs.as_deref()) {
        report.stage("embedding model (p8fs model install)", || crate::eval::install_model(p8fs));
    }
    report.stage("layering (cargo tree)", || layering(paths));
    report.stage("deploy manifests", || manifests(paths));
    if let Some(binaries) = binaries {
        report.stage("unit and golden tests", || unit_tests(paths, binaries));
        if fuzz {
            report.stage(&format!("fuzz ({} targets, {FUZZ_SECS} s each)", crate::fuzz::TARGETS.len()), || {
                crate::fuzz::stage(paths, FUZZ_SECS)
            });
        }
        let conformance = binaries.iter().find(|b| b.name == "conformance");
        for &b in &backends {
            let name = format!("suite {}", b.name());
            report.stage(&name, || {
                let bin = conformance.context("the conformance test binary was not built")?;
                suite(paths, bin, b, &env)
            });
        }
        if let Some(bin) = conformance {
            for &b in backends.iter().filter(|b| b.has_sql()) {
                report.stage(&format!("soak {} ({SOAK_SECS} s)", b.name()), || soak(paths, bin, b, &env, SOAK_SECS));
            }
        }
        if drill {
            for &b in &backends {
                if let (Some(svc), Some(bin)) = (b.service(), conformance) {
                    report.stage(&format!("outage drill {}", b.name()), || outage_drill(paths, bin, b, svc, &env));
                    report.stage(&format!("restart drill {}", b.name()), || restart_drill(paths, bin, b, svc, &env));
                }
            }
        }
    }

    if let Some(built) = &built {
        let providers: Vec<Provider> = backends.iter().flat_map(|b| b.python_providers()).collect();
        if !providers.is_empty() {
            python_stages(paths, &mut report, built.p8fs.as_deref(), &providers, &env);
        }
    }

    let engines: Vec<&str> = backends
        .iter()
        .filter(|b| matches!(b, Backend::Embedded | Backend::Postgres | Backend::MariaDb | Backend::Tidb))
        .map(|b| b.name())
        .collect();
    if !engines.is_empty() {
        report.stage("retrieval eval (goals checked)", || crate::eval::checked(paths, &engines, &env));
    }

    if backends.contains(&Backend::Postgres) && backends.contains(&Backend::MariaDb) {
        report.stage("bench smoke (tiny sizes, one round)", || crate::bench::smoke(paths, &env));
    }

    let started = if keep_services { Vec::new() } else { started };
    report.close(paths, &started, "the test matrix failed")?;
    println!("\nall stages passed");
    Ok(())
}

/// A test executable cargo built.
struct TestBinary {
    package: String,
    name: String,
    path: PathBuf,
    manifest_dir: PathBuf,
}

/// What the build stage made.
struct Built {
    /// The test executables.
    tests: Vec<TestBinary>,
    /// The `p8fs` binary (the CLI's tests need it, so the test build makes it).
    p8fs: Option<PathBuf>,
}

/// Builds every test target once and lists the executables.
fn build(paths: &Paths) -> Result<Built> {
    let mut c = cmd::cargo();
    c.current_dir(&paths.root)
        .args(["test", "--workspace", "--no-run", "--locked", "--message-format=json-render-diagnostics"])
        .stderr(Stdio::inherit());
    let out = cmd::output(&mut c)?;
    let mut bins = Vec::new();
    let mut p8fs = None;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else { continue };
        if msg["profile"]["test"] != true {
            if msg["target"]["name"] == "p8fs"
                && msg["target"]["kind"].as_array().is_some_and(|k| k.contains(&"bin".into()))
            {
                p8fs = Some(PathBuf::from(exe));
            }
            continue;
        }
        let manifest = PathBuf::from(msg["manifest_path"].as_str().unwrap_or_default());
        bins.push(TestBinary {
            package: msg["package_id"].as_str().unwrap_or_default().to_owned(),
            name: msg["target"]["name"].as_str().unwrap_or_default().to_owned(),
            path: PathBuf::from(exe),
            manifest_dir: manifest.parent().map(Path::to_path_buf).unwrap_or_default(),
        });
    }
    bins.sort_by(|a, b| (&a.package, &a.name).cmp(&(&b.package, &b.name)));
    Ok(Built { tests: bins, p8fs })
}

/// `cargo xtask pytest [PROVIDER...]`: the Python client's stages alone (default: every
/// provider the services file names, SQLite and the KV-only server), on a `p8fs` binary
/// built for it. The databases must be up (`cargo xtask services up`).
pub(crate) fn run_python(paths: &Paths, args: &[String]) -> Result<()> {
    let env = services::read_env(&paths.env_file);
    let mut providers = Vec::new();
    for a in args {
        providers.push(match a.as_str() {
            "kv-only" => Provider::KvOnly,
            "sqlite" => Provider::Sqlite,
            "postgres" => Provider::Postgres,
            "mariadb" => Provider::MariaDb,
            "tidb" => Provider::Tidb,
            other => bail!("unknown provider {other:?}; valid: kv-only, sqlite, postgres, mariadb, tidb"),
        });
    }
    if providers.is_empty() {
        providers = vec![Provider::KvOnly, Provider::Sqlite];
        if env.contains_key("P8FS_TEST_PG_URL") {
            providers.push(Provider::Postgres);
        }
        if env.contains_key("P8FS_TEST_MARIADB_URL") {
            providers.push(Provider::MariaDb);
        }
        if std::env::var_os("P8FS_TIDB_URL").is_some() {
            providers.push(Provider::Tidb);
        }
    }
    let mut report = Report { stages: Vec::new() };
    let p8fs = report.stage("build (cargo build -p p8fs-cli)", || {
        let mut c = cmd::cargo();
        c.current_dir(&paths.root).args(["build", "--locked", "-p", "p8fs-cli"]);
        cmd::run(&mut c)?;
        Ok((paths.target.join("debug/p8fs"), "ok".to_owned()))
    });
    python_stages(paths, &mut report, p8fs.as_deref(), &providers, &env);
    report.print();
    if !report.ok() {
        bail!("the Python client's suite failed (see the stages above)");
    }
    Ok(())
}

/// The Python client's suite, one stage per provider (see [`crate::pytest`]).
fn python_stages(
    paths: &Paths,
    report: &mut Report,
    p8fs: Option<&Path>,
    providers: &[Provider],
    env: &BTreeMap<String, String>,
) {
    let python = report.stage("python client: virtualenv", || Ok((crate::pytest::venv(paths)?, "ready".to_owned())));
    report
        .stage("python client: types", || crate::pytest::typecheck(paths, python.as_deref().context("no virtualenv")?));
    for &p in providers {
        report.stage(&format!("python client {}", p.name()), || {
            let python = python.as_deref().context("no virtualenv")?;
            let p8fs = p8fs.context("the build made no p8fs binary")?;
            crate::pytest::run(paths, p8fs, python, p, env)
        });
    }
}

/// The dependency rules of docs/architecture.md: (crate, features, crates it must not pull in).
const LAYERING: &[(&str, &[&str], &[&str])] = &[
    ("p8fs-redact", &[], &["p8fs-sql-dialect", "p8fs-kv", "reqwest", "tokio"]),
    ("p8fs-tenant", &[], &["p8fs-sql-dialect", "p8fs-kv", "p8fs-redact", "serde", "tokio"]),
    // The REM parser is a leaf: text in, a typed query out; no p8fs crate, no runtime.
    (
        "p8fs-rem",
        &[],
        &[
            "p8fs-tenant",
            "p8fs-redact",
            "p8fs-sql-dialect",
            "p8fs-entity",
            "p8fs-kv",
            "p8fs-reverse-map",
            "p8fs-core",
            "tokio",
        ],
    ),
    // The local embedding model is a leaf: files in, vectors out; no p8fs crate, no runtime,
    // no HTTP client (it fetches through pip).
    ("p8fs-minilm", &[], &["p8fs-core", "p8fs-sql-dialect", "p8fs-entity", "p8fs-kv", "tokio", "reqwest"]),
    // SQL as data: no driver, no runtime, no store.
    (
        "p8fs-sql-dialect",
        &[],
        &["mysql_async", "tokio-postgres", "rusqlite", "tikv-client", "p8fs-kv", "tokio", "p8fs-entity"],
    ),
    ("p8fs-entity", &[], &["mysql_async", "tokio-postgres", "rusqlite", "tikv-client", "p8fs-kv"]),
    // A workspace embedding p8fs for PostgreSQL compiles no other driver.
    (
        "p8fs-core",
        &["--no-default-features", "--features", "postgres"],
        &["mysql_async", "tikv-client", "rusqlite", "redb", "p8fs-tidb", "p8fs-sqlite"],
    ),
    ("p8fs-core", &["--no-default-features", "--features", "tidb"], &["tokio-postgres", "tikv-client", "rusqlite"]),
    ("p8fs-core", &[], &["mysql_async", "tokio-postgres", "tikv-client"]),
    ("p8fs-kv", &["--no-default-features"], &["mysql_async", "tokio-postgres", "rusqlite", "tikv-client", "tonic"]),
    ("p8fs-reverse-map", &[], &["mysql_async", "tokio-postgres", "rusqlite", "p8fs-sql-dialect"]),
    ("p8fs-tidb", &[], &["tokio-postgres", "rusqlite", "p8fs-postgres", "p8fs-sqlite", "p8fs-core"]),
    ("p8fs-postgres", &[], &["mysql_async", "rusqlite", "p8fs-tidb", "p8fs-sqlite", "p8fs-core"]),
    ("p8fs-sqlite", &[], &["mysql_async", "tokio-postgres", "p8fs-tidb", "p8fs-postgres", "p8fs-core"]),
    // The proxy's client is built without the OpenAPI machinery, and the proxy without
    // the client's HTTP stack: the wire types are all they share.
    ("p8fs-kv", &["--no-default-features", "--features", "http"], &["utoipa", "utoipa-gen"]),
    // The REM grammar is a leaf: strings in, a syntax tree out.
    ("p8fs-rem", &[], &["p8fs-sql-dialect", "p8fs-kv", "p8fs-entity", "tokio"]),
    // The proxy takes p8fs-core without providers or the OpenAI embedder (ADR 0013): the
    // binary picks them.
    (
        "p8fs-server",
        &[],
        &[
            "mysql_async",
            "tokio-postgres",
            "rusqlite",
            "tikv-client",
            "redb",
            "p8fs-tidb",
            "p8fs-postgres",
            "p8fs-sqlite",
            // The HTTP client of the KV backend and of the embedder: the proxy needs neither.
            "reqwest",
            // Nor the local embedding model: the binary brings it.
            "candle-core",
        ],
    ),
];

/// Checks [`LAYERING`] with `cargo tree` (normal dependencies only).
fn layering(paths: &Paths) -> Result<((), String)> {
    let mut violations = Vec::new();
    for (krate, flags, forbidden) in LAYERING {
        let mut c = cmd::cargo();
        c.current_dir(&paths.root)
            .args(["tree", "--locked", "-e", "normal", "--prefix", "none", "-p", krate])
            .args(*flags);
        let out = cmd::output(&mut c)?;
        let tree = String::from_utf8_lossy(&out.stdout);
        for dep in *forbidden {
            if tree.lines().any(|l| l.split_whitespace().next() == Some(dep)) {
                violations.push(format!("{krate} {} depends on {dep}", flags.join(" ")));
            }
        }
    }
    // The test hook that aborts the process stays out of the binary built alone.
    let mut c = cmd::cargo();
    c.current_dir(&paths.root).args(["tree", "--locked", "-e", "features", "--prefix", "none", "-p", "p8fs-cli"]);
    let out = cmd::output(&mut c)?;
    if String::from_utf8_lossy(&out.stdout).lines().any(|l| l.contains("feature \"failpoints\"")) {
        violations.push("p8fs-cli built alone has p8fs-core's failpoints feature".to_owned());
    }
    violations.extend(engine_branches(paths)?);
    // Each feature combination of p8fs-core the docs promise builds alone.
    for features in CORE_FEATURES {
        let mut c = cmd::cargo();
        c.current_dir(&paths.root).args(["check", "--locked", "-q", "-p", "p8fs-core", "--no-default-features"]);
        if !features.is_empty() {
            c.args(["--features", features]);
        }
        if cmd::run(&mut c).is_err() {
            violations.push(format!("p8fs-core with features [{features}] alone does not build"));
        }
    }
    if !violations.is_empty() {
        bail!("dependency rules broken: {}", violations.join("; "));
    }
    Ok(((), format!("{} rules hold, {} feature sets build", LAYERING.len() + 2, CORE_FEATURES.len())))
}

/// The feature sets of `p8fs-core` docs/architecture.md promises, each built alone.
const CORE_FEATURES: &[&str] =
    &["sqlite,kv-embedded", "postgres", "tidb", "postgres,kv-tikv,kv-http", "sqlite,kv-http", "full"];

/// Where code may name an engine: the dialect files and the provider crates. Anywhere
/// else, engine differences are questions to the dialect object.
const ENGINE_FILES: &[&str] = &[
    "crates/p8fs-sql-dialect/src/dialect/",
    "crates/p8fs-sql-dialect/src/flavor.rs",
    "crates/p8fs-tidb/",
    "crates/p8fs-postgres/",
    "crates/p8fs-sqlite/",
];

/// Finds branches on the engine outside [`ENGINE_FILES`]: a `DialectKind` variant, the
/// removed `with_dialect!` bridge, or a comparison of a dialect's kind.
fn engine_branches(paths: &Paths) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut stack = vec![paths.root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&paths.root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if ENGINE_FILES.iter().any(|allowed| rel.starts_with(allowed)) {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            for (n, line) in text.lines().enumerate() {
                if is_engine_branch(line) {
                    found.push(format!("{rel}:{}: engine branch outside the dialect files and providers", n + 1));
                }
            }
        }
    }
    Ok(found)
}

/// Whether a line of code (comments aside) branches on the engine.
fn is_engine_branch(line: &str) -> bool {
    const VARIANTS: [&str; 4] =
        ["DialectKind::Tidb", "DialectKind::MariaDb", "DialectKind::Postgres", "DialectKind::Sqlite"];
    let code = line.split("//").next().unwrap_or("");
    VARIANTS.iter().any(|v| code.contains(v))
        || code.contains("with_dialect!")
        || code.contains("kind() == DialectKind")
        || code.contains("kind() != DialectKind")
        || code.contains("::KIND ==")
}

/// Validates the Kubernetes manifests under deploy/k8s against the Kubernetes schemas
/// (`kubernetes-validate` from PyPI, in a virtualenv under target/; it works offline
/// once installed).
fn manifests(paths: &Paths) -> Result<((), String)> {
    let venv = paths.target.join("py-tools");
    let tool = venv.join("bin/kubernetes-validate");
    if !tool.exists() {
        cmd::output(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("creating a Python virtualenv (needs python3 with venv)")?;
        cmd::output(Command::new(venv.join("bin/pip")).args(["install", "-q", "kubernetes-validate==1.37.0"]))?;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(paths.root.join("deploy/k8s"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut c = Command::new(&tool);
    c.args(["--strict", "--quiet"]).args(&files);
    cmd::output(&mut c).context("a manifest does not match the Kubernetes schema")?;
    Ok(((), format!("{} files valid", files.len())))
}

/// Runs every test binary but the conformance suites, then the doc tests.
fn unit_tests(paths: &Paths, bins: &[TestBinary]) -> Result<((), String)> {
    let (mut passed, mut failed) = (0u64, 0u64);
    let mut failures = Vec::new();
    for b in bins.iter().filter(|b| b.name != "conformance") {
        let mut c = Command::new(&b.path);
        c.current_dir(&b.manifest_dir).arg("-q");
        println!("+ {}", cmd::display(&c));
        let out = c.stdin(Stdio::null()).output().with_context(|| format!("running {}", b.path.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let (p, f) = libtest_counts(&text);
        passed += p;
        failed += f;
        if !out.status.success() {
            failures.push(b.name.clone());
        }
    }
    let mut c = cmd::cargo();
    c.current_dir(&paths.root).args(["test", "--workspace", "--locked", "--doc", "-q"]);
    println!("+ {}", cmd::display(&c));
    let out = c.stdin(Stdio::null()).output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let (p, f) = libtest_counts(&text);
    passed += p;
    failed += f;
    if !out.status.success() {
        failures.push("doc tests".to_owned());
    }
    if !failures.is_empty() {
        bail!("{passed} passed, {failed} failed; failing: {}", failures.join(", "));
    }
    Ok(((), format!("{passed} passed, 0 failed")))
}

/// Sums libtest's `test result: ok. N passed; M failed` lines.
fn libtest_counts(text: &str) -> (u64, u64) {
    let mut p = 0;
    let mut f = 0;
    for line in text.lines().filter(|l| l.starts_with("test result:")) {
        for part in line.split([';', '.']) {
            let words: Vec<&str> = part.split_whitespace().collect();
            if let [n, what] = words[..] {
                match what {
                    "passed" => p += n.parse::<u64>().unwrap_or(0),
                    "failed" => f += n.parse::<u64>().unwrap_or(0),
                    _ => {}
                }
            }
        }
    }
    (p, f)
}

/// The environment a conformance run gets for `backend`.
fn suite_command(paths: &Paths, bin: &TestBinary, backend: Backend, env: &BTreeMap<String, String>) -> Command {
    let mut c = Command::new(&bin.path);
    c.current_dir(&bin.manifest_dir)
        .env("P8FS_TEST_BACKEND", backend.name())
        .env("P8FS_TEST_REQUIRED", "1")
        .env("P8FS_SERVICES_FILE", &paths.env_file);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn suite(paths: &Paths, bin: &TestBinary, backend: Backend, env: &BTreeMap<String, String>) -> Result<((), String)> {
    let result_file = paths.target.join("p8fs-test-results").join(format!("{}.txt", backend.name()));
    std::fs::create_dir_all(result_file.parent().context("no parent")?)?;
    std::fs::remove_file(&result_file).ok();
    let mut c = suite_command(paths, bin, backend, env);
    c.env("P8FS_TEST_RESULT_FILE", &result_file);
    println!("+ {}", cmd::display(&c));
    let status = c.stdin(Stdio::null()).status()?;
    // The runner writes its counts, then one line per failed test (name: first line).
    let text = std::fs::read_to_string(&result_file).unwrap_or_default();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let counts = lines.next().unwrap_or_default();
    if !status.success() {
        let failures: Vec<&str> = lines.collect();
        let counts = if counts.is_empty() { "the suite did not finish" } else { counts };
        if failures.is_empty() {
            bail!("backend {}: {counts}", backend.name());
        }
        bail!("backend {}: {counts}; {}", backend.name(), failures.join("; "));
    }
    Ok(((), format!("backend {}: {counts}", backend.name())))
}

/// Runs the backend's suite in soak mode, stops its database two seconds in, and checks
/// that the run fails promptly with a message naming the backend (no hang). Restarts the
/// database afterwards.
fn outage_drill(
    paths: &Paths,
    bin: &TestBinary,
    backend: Backend,
    svc: Service,
    env: &BTreeMap<String, String>,
) -> Result<((), String)> {
    let log = paths.target.join("p8fs-test-results").join(format!("drill-{}.log", backend.name()));
    std::fs::create_dir_all(log.parent().context("no parent")?)?;
    let mut c = suite_command(paths, bin, backend, env);
    c.env("P8FS_TEST_SOAK_SECS", "120").arg("--test-threads=2");
    let mut child = spawn_logged(&mut c, &log)?;
    std::thread::sleep(Duration::from_secs(2));
    if let Some(status) = child.try_wait()? {
        bail!("the suite ended ({status}) before the database was stopped; see {}", log.display());
    }
    let stopped_at = Instant::now();
    services::down(paths, &[svc])?;
    let deadline = Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if stopped_at.elapsed() > deadline {
            child.kill().ok();
            services::up(paths, &[svc])?;
            bail!("the suite still ran {deadline:?} after {} stopped: it hangs", backend.name());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = stopped_at.elapsed();
    let text = std::fs::read_to_string(&log).unwrap_or_default()
        + &std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
    services::up(paths, &[svc])?;
    if status.success() {
        bail!("the suite passed although {} was stopped mid-run; see {}", backend.name(), log.display());
    }
    // libtest-mimic prints each failure as "---- NAME ----" followed by its message.
    let needle = format!("{}:", backend.name());
    let mut lines = text.lines().skip_while(|l| !l.starts_with("---- "));
    let Some(line) = lines.find(|l| l.starts_with(&needle)) else {
        bail!("the failure output never names {}; see {}", backend.name(), log.display());
    };
    Ok(((), format!("failed in {:.1}s after the stop, as it must: {}", took.as_secs_f64(), line.trim())))
}

/// `cargo xtask drill [BACKEND...]`: the outage and restart drills alone (every server
/// backend by default), with the services they need; the databases this run started are
/// stopped again.
pub(crate) fn run_drills(paths: &Paths, args: &[String]) -> Result<()> {
    let mut backends = Vec::new();
    for a in args {
        backends.extend(Backend::parse(a)?);
    }
    if backends.is_empty() {
        backends = Backend::all();
    }
    backends.retain(|b| b.service().is_some());
    with_conformance(paths, backends, "a drill failed", |report, bin, b, env| {
        if let Some(svc) = b.service() {
            report.stage(&format!("outage drill {}", b.name()), || outage_drill(paths, bin, b, svc, env));
            report.stage(&format!("restart drill {}", b.name()), || restart_drill(paths, bin, b, svc, env));
        }
    })
}

/// Runs `each` for every backend with the conformance binary built and the services the
/// backends need started (and stopped again when this run started them), then prints the
/// stages; fails with `failed` when a stage failed.
fn with_conformance(
    paths: &Paths,
    mut backends: Vec<Backend>,
    failed: &str,
    each: impl Fn(&mut Report, &TestBinary, Backend, &BTreeMap<String, String>),
) -> Result<()> {
    backends.sort();
    backends.dedup();
    let mut report = Report { stages: Vec::new() };
    let started = report.services_up(paths, &backends);
    let env = services::read_env(&paths.env_file);
    let built = report.build(paths);
    if let Some(bin) = built.as_ref().and_then(|b| b.tests.iter().find(|t| t.name == "conformance")) {
        for &b in &backends {
            each(&mut report, bin, b, &env);
        }
    }
    report.close(paths, &started, failed)
}

/// Starts `c` (the conformance binary in one of its modes) with its output in `log` and
/// `log.err`.
fn spawn_logged(c: &mut Command, log: &Path) -> Result<std::process::Child> {
    c.stdin(Stdio::null())
        .stdout(std::fs::File::create(log)?)
        .stderr(std::fs::File::create(log.with_extension("err"))?);
    println!("+ {} > {}", cmd::display(c), log.display());
    Ok(c.spawn()?)
}

/// Waits for `child` until `limit` has passed (then kills it: `hang` says what that means);
/// a failure carries the last lines of its stderr.
fn wait_logged(mut child: std::process::Child, limit: Duration, log: &Path, what: &str, hang: &str) -> Result<()> {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            bail!("{hang}; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        let err = std::fs::read_to_string(log.with_extension("err")).unwrap_or_default();
        let mut last: Vec<&str> = err.lines().rev().take(12).collect();
        last.reverse();
        bail!("{what} ({status}); see {}\n{}", log.display(), last.join("\n"));
    }
    Ok(())
}

/// The soak (`tests/src/soak.rs`): 64 clients of mixed entity and proxy operations on
/// `backend` for `secs`, then a read-back of everything acknowledged and a check that
/// memory stopped growing.
fn soak(
    paths: &Paths,
    bin: &TestBinary,
    backend: Backend,
    env: &BTreeMap<String, String>,
    secs: u64,
) -> Result<((), String)> {
    let results = paths.target.join("p8fs-test-results");
    std::fs::create_dir_all(&results)?;
    let summary = results.join(format!("soak-{}.txt", backend.name()));
    std::fs::remove_file(&summary).ok();
    let log = results.join(format!("soak-{}.log", backend.name()));
    let mut c = suite_command(paths, bin, backend, env);
    c.env("P8FS_TEST_SOAK_RUN", secs.to_string()).env("P8FS_TEST_RESULT_FILE", &summary);
    let child = spawn_logged(&mut c, &log)?;
    let hang = format!("the soak still ran 300 s past its {secs} s");
    wait_logged(child, Duration::from_secs(secs + 300), &log, backend.name(), &hang)?;
    Ok(((), std::fs::read_to_string(&summary).context("the soak wrote no summary")?))
}

/// `cargo xtask soak [--minutes N] [BACKEND...]`: the soak on each SQL backend (embedded,
/// postgres, mariadb, tidb by default) for N minutes each (default 10).
pub(crate) fn run_soak(paths: &Paths, args: &[String]) -> Result<()> {
    let mut backends = Vec::new();
    let mut minutes: u64 = 10;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => {
                minutes = it.next().context("--minutes needs a number")?.parse().context("--minutes needs a number")?
            }
            other => backends.extend(Backend::parse(other)?),
        }
    }
    if backends.is_empty() {
        backends = Backend::all();
    }
    backends.retain(|b| b.has_sql());
    with_conformance(paths, backends, "a soak failed", |report, bin, b, env| {
        report.stage(&format!("soak {} ({minutes} min)", b.name()), || soak(paths, bin, b, env, minutes * 60));
    })
}

/// The restart drill: the conformance binary writes entities and proxy keys without pause
/// (`tests/src/restart_drill.rs`); after 2 s the database is stopped with the project's
/// service scripts, 3 s later started again; the writer then needs writes to succeed again,
/// `/readyz` to recover, and every acknowledged write read back through new connections.
fn restart_drill(
    paths: &Paths,
    bin: &TestBinary,
    backend: Backend,
    svc: Service,
    env: &BTreeMap<String, String>,
) -> Result<((), String)> {
    let results = paths.target.join("p8fs-test-results");
    let dir = results.join(format!("restart-{}", backend.name()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let log = results.join(format!("restart-{}.log", backend.name()));
    let mut c = suite_command(paths, bin, backend, env);
    c.env("P8FS_TEST_RESTART_DRILL", &dir);
    let mut child = spawn_logged(&mut c, &log)?;
    let waited = Instant::now();
    while !dir.join("ready").exists() {
        if let Some(status) = child.try_wait()? {
            bail!("the writer ended ({status}) before it began writing; see {}", log.with_extension("err").display());
        }
        if waited.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            bail!("the writer was not writing after 120 s; see {}", log.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(dir.join("stopping"), "")?;
    let stop = Instant::now();
    services::down(paths, &[svc])?;
    std::thread::sleep(Duration::from_secs(3));
    let up = services::up(paths, &[svc]);
    let outage = stop.elapsed();
    std::fs::write(dir.join("restarted"), "")?;
    up?;
    let hang = format!("the writer still ran 150 s after {} came back: it hangs", backend.name());
    wait_logged(child, Duration::from_secs(150), &log, backend.name(), &hang)?;
    let summary = std::fs::read_to_string(dir.join("summary.txt")).context("the writer wrote no summary")?;
    Ok(((), format!("down {:.1}s (stop to started); {summary}", outage.as_secs_f64())))
}

#[cfg(test)]
mod tests {
    use super::is_engine_branch;

    #[test]
    fn engine_branches_are_found_and_comments_are_not() {
        assert!(is_engine_branch("    if d.kind() == DialectKind::Postgres {"));
        assert!(is_engine_branch("        DialectKind::Sqlite => \"exact\","));
        assert!(is_engine_branch("    let s = with_dialect!(kind, |d| d.schema());"));
        assert!(!is_engine_branch("    // DialectKind::Tidb is parsed at the edge"));
        assert!(!is_engine_branch("    let d = db.dialect(); d.has_vector_index()"));
    }
}
