//! The Python client's pytest suite (`clients/python/tests`) against a real `p8fs serve`:
//! once per SQL provider with the entity routes (`--sql URL`), and once KV-only (no SQL
//! provider: the entity routes must be absent and the KV routes work as before).
//!
//! Each run gets a fresh directory under `target/p8fs-test-results/`, two tenants with
//! fresh ids (the server databases outlive runs), a token file granting one tenant each,
//! and a server on a free loopback port; the counts come back from the suite's conftest
//! (`P8FS_PYTEST_RESULT_FILE`). A skipped test is a failure, except in the KV-only run,
//! where the entity tests must skip (that is what shows the routes are absent).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::paths::Paths;

/// What the Python virtualenv holds besides the client; a change rebuilds it.
const TOOLS: [&str; 2] = ["pytest==8.4.2", "mypy==1.15.0"];

/// How `p8fs serve` is configured for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Provider {
    /// No SQL provider: the KV routes only, on the embedded store.
    KvOnly,
    /// SQLite in the run's directory; KV on the embedded store there.
    Sqlite,
    /// The services' PostgreSQL; KV in its `p8fs_kv` table.
    Postgres,
    /// The services' MariaDB; KV in its `p8fs_kv` table.
    MariaDb,
    /// A TiDB the user provides (`P8FS_TIDB_URL`); KV in its `p8fs_kv` table.
    Tidb,
}

impl Provider {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Provider::KvOnly => "kv-only",
            Provider::Sqlite => "sqlite",
            Provider::Postgres => "postgres",
            Provider::MariaDb => "mariadb",
            Provider::Tidb => "tidb",
        }
    }

    /// The variable (of the environment or the services file) holding the server URL.
    fn url_var(self) -> Option<&'static str> {
        match self {
            Provider::KvOnly | Provider::Sqlite => None,
            Provider::Postgres => Some("P8FS_TEST_PG_URL"),
            Provider::MariaDb => Some("P8FS_TEST_MARIADB_URL"),
            Provider::Tidb => Some("P8FS_TIDB_URL"),
        }
    }

    /// `(--sql, --kv)` for a run in `dir`.
    fn urls(self, dir: &Path, env: &BTreeMap<String, String>) -> Result<(Option<String>, String)> {
        let embedded = format!("embedded://{}", dir.join("kv.redb").display());
        Ok(match self {
            Provider::KvOnly => (None, embedded),
            Provider::Sqlite => (Some(format!("sqlite://{}", dir.join("p8fs.sqlite").display())), embedded),
            Provider::Postgres | Provider::MariaDb | Provider::Tidb => {
                let var = self.url_var().context("a server provider has a URL variable")?;
                let url = std::env::var(var)
                    .ok()
                    .or_else(|| env.get(var).cloned())
                    .filter(|u| !u.is_empty())
                    .with_context(|| format!("{var} is not set: {} is not running", self.name()))?;
                (Some(url.clone()), url)
            }
        })
    }
}

/// Creates (or reuses) the virtualenv under `target/` with pytest, mypy and the client
/// installed editable, so the suite always runs the checkout's code.
pub(crate) fn venv(paths: &Paths) -> Result<PathBuf> {
    let dir = paths.target.join("py-client");
    let python = dir.join("bin/python");
    let project = paths.root.join("clients/python");
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).context("reading clients/python")?;
    let want = format!("{}\n{pyproject}", TOOLS.join("\n"));
    let stamp = dir.join("p8fs-stamp");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == want) {
        return Ok(python);
    }
    cmd::output(Command::new("python3").args(["-m", "venv", "--clear"]).arg(&dir))
        .context("creating a Python virtualenv (needs python3 >= 3.9 with venv)")?;
    cmd::output_from_registry(|| {
        let mut c = Command::new(&python);
        c.args(["-m", "pip", "install", "-q"]).args(TOOLS);
        c
    })
    .context("installing pytest and mypy from the Python package registry")?;
    cmd::output_from_registry(|| {
        let mut c = Command::new(&python);
        c.args(["-m", "pip", "install", "-q", "-e"]).arg(&project);
        c
    })
    .context("installing the Python client (editable) and its dependencies")?;
    std::fs::write(&stamp, want)?;
    Ok(python)
}

/// Type-checks the client and its tests (`mypy --strict`, for the oldest Python the
/// package supports).
pub(crate) fn typecheck(paths: &Paths, python: &Path) -> Result<((), String)> {
    // The cache lives with the virtualenv, not in the source tree.
    let cache = paths.target.join("py-client/mypy-cache");
    // The package for the oldest Python it supports; the tests for the virtualenv's.
    for (what, version) in [("src", Some("3.9")), ("tests", None)] {
        let mut c = Command::new(python);
        c.current_dir(paths.root.join("clients/python")).args(["-m", "mypy", "--strict"]);
        if let Some(v) = version {
            c.args(["--python-version", v]);
        }
        c.arg("--cache-dir").arg(&cache).arg(what);
        cmd::output(&mut c).with_context(|| format!("mypy --strict found errors in clients/python/{what}"))?;
    }
    Ok(((), "mypy --strict: no issues".to_owned()))
}

/// The counts the suite's conftest writes.
#[derive(Debug, Default)]
struct Counts {
    passed: u64,
    failed: u64,
    skipped: u64,
    errors: u64,
}

impl Counts {
    fn read(file: &Path) -> Option<Counts> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
        let n = |k: &str| v[k].as_u64().unwrap_or(0);
        // The suite marks nothing xfail: an "expected" failure is counted as a failure.
        Some(Counts {
            passed: n("passed") + n("xpassed"),
            failed: n("failed") + n("xfailed"),
            skipped: n("skipped"),
            errors: n("error"),
        })
    }

    fn line(&self) -> String {
        format!("{} passed, {} failed, {} errors, {} skipped", self.passed, self.failed, self.errors, self.skipped)
    }
}

/// A `p8fs serve` that is stopped when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only the process this run started, by its handle.
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Runs the suite against `p8fs` configured for `provider`.
pub(crate) fn run(
    paths: &Paths,
    p8fs: &Path,
    python: &Path,
    provider: Provider,
    env: &BTreeMap<String, String>,
) -> Result<((), String)> {
    let dir = paths.target.join("p8fs-test-results").join(format!("python-{}", provider.name()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let (sql, kv) = provider.urls(&dir, env)?;
    let run_id = run_id()?;
    let (tenant_a, tenant_b) = (format!("py-a-{run_id}"), format!("py-b-{run_id}"));
    let (token_a, token_b) = (random_hex(16)?, random_hex(16)?);
    let tokens = dir.join("tokens");
    std::fs::write(&tokens, format!("{token_a} {tenant_a}\n{token_b} {tenant_b}\n"))?;
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600))?;

    let mut c = Command::new(p8fs);
    // Only what this run sets: no provider, KV or token variable of the caller leaks in.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("P8FS_") {
            c.env_remove(&k);
        }
    }
    c.arg("--data-dir").arg(dir.join("data")).args(["serve", "--listen", "127.0.0.1:0", "--kv", &kv]);
    c.arg("--auth-tokens").arg(&tokens);
    if let Some(sql) = &sql {
        c.args(["--sql", sql]);
    }
    let server = start(c, &dir.join("serve.log"))?;
    wait_ready(server.addr, Duration::from_secs(60))?;

    let results = dir.join("counts.json");
    // test_tls.py serves HTTPS itself with the services' certificate.
    let ca = crate::services::tls::ca(paths)?;
    let (cert, key) = crate::services::tls::server_files(paths)?;
    let mut t = Command::new(python);
    t.current_dir(paths.root.join("clients/python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        // Why tests failed; and why they skipped, except where the entity tests must skip.
        .arg(if provider == Provider::KvOnly { "-rfE" } else { "-rfEs" })
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("P8FS_URL", format!("http://{}", server.addr))
        .env("P8FS_TOKEN", &token_a)
        .env("P8FS_TOKEN_B", &token_b)
        .env("P8FS_TENANT_A", &tenant_a)
        .env("P8FS_TENANT_B", &tenant_b)
        .env("P8FS_PYTEST_RESULT_FILE", &results)
        .env("P8FS_TEST_ENTITIES", if provider == Provider::KvOnly { "0" } else { "1" })
        .env("P8FS_BIN", p8fs)
        .env("P8FS_TEST_TLS_CERT", &cert)
        .env("P8FS_TEST_TLS_KEY", &key)
        .env("P8FS_TEST_TLS_CA", &ca)
        .stdin(Stdio::null());
    println!("+ {}", cmd::display(&t));
    let status = t.status().context("running pytest")?;
    drop(server);
    let counts = Counts::read(&results).context("pytest wrote no counts (did it start?)")?;
    let line = format!("provider {}: {}", provider.name(), counts.line());
    if !status.success() || counts.failed > 0 || counts.errors > 0 || counts.passed == 0 {
        bail!("{line} (server log: {})", dir.join("serve.log").display());
    }
    match provider {
        // The entity tests skip because the routes answer 404: a KV-only server has none.
        Provider::KvOnly if counts.skipped == 0 => bail!("{line}: the entity routes answered without a SQL provider"),
        Provider::KvOnly => {}
        _ if counts.skipped > 0 => bail!("{line}: a skipped test is a failure here"),
        _ => {}
    }
    Ok(((), line))
}

/// Starts the server and reads the address it prints (`listening on http://ADDR`).
fn start(mut c: Command, log: &Path) -> Result<Server> {
    c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(std::fs::File::create(log)?);
    println!("+ {} 2> {}", cmd::display(&c), log.display());
    let mut child = c.spawn().context("starting p8fs serve")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(addr) = line.strip_prefix("listening on http://") {
                tx.send(addr.trim().to_owned()).ok();
            }
        }
    });
    let printed = rx.recv_timeout(Duration::from_secs(60)).ok();
    match printed.as_deref().map(str::parse::<SocketAddr>) {
        Some(Ok(addr)) => Ok(Server { child, addr }),
        other => {
            child.kill().ok();
            child.wait().ok();
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let why = match other {
                Some(Err(e)) => format!("it printed an address that does not parse: {e}"),
                // The error line, not clap's closing hint.
                _ => text
                    .lines()
                    .find(|l| l.contains("error"))
                    .or_else(|| text.lines().last())
                    .unwrap_or("(no log)")
                    .to_owned(),
            };
            bail!("p8fs serve did not start: {why}")
        }
    }
}

/// Waits until `/readyz` answers 200.
fn wait_ready(addr: SocketAddr, within: Duration) -> Result<()> {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < within {
        match readyz(addr) {
            Ok(status) if status.starts_with("HTTP/1.1 200") => return Ok(()),
            Ok(status) => last = status,
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("p8fs serve at {addr} not ready after {within:?}: {last}")
}

fn readyz(addr: SocketAddr) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    Ok(answer.lines().next().unwrap_or("").to_owned())
}

/// A tag unique to this run: the time and the process id.
fn run_id() -> Result<String> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    Ok(format!("{:x}{:x}", nanos, std::process::id()))
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::Counts;

    #[test]
    fn counts_add_up_what_the_conftest_writes() {
        let dir = std::env::temp_dir().join(format!("p8fs-xtask-counts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.json");
        std::fs::write(&f, r#"{"passed": 3, "failed": 1, "skipped": 2, "error": 4, "xfailed": 0, "xpassed": 1}"#)
            .unwrap();
        let c = Counts::read(&f).unwrap();
        assert_eq!((c.passed, c.failed, c.skipped, c.errors), (4, 1, 2, 4));
        std::fs::write(&f, "not json").unwrap();
        assert!(Counts::read(&f).is_none());
        std::fs::remove_dir_all(&dir).ok();
    }
}
