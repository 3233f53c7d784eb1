//! TiDB: a real `tidb-server` (TiDB's SQL layer: parser, planner, executor, DDL, vector and
//! JSON functions) over its in-process `unistore` store, built from Go modules by the
//! project's own consumer module `deploy/tidb-local` and cached outside the clone by pin.
//! Not TiKV, not TiFlash, not PD: one process, one store.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::{free_port, pid_alive, pid_from_file, read_port, stop_pid, wait_for_port};
use crate::cmd;
use crate::paths::Paths;

const USER: &str = "p8fs";
const PASSWORD: &str = "p8fs";
const DATABASE: &str = "p8fs";
/// TiDB's module path; its version in `deploy/tidb-local/go.mod` is the pin.
const MODULE: &str = "github.com/pingcap/tidb";

fn dir(p: &Paths) -> PathBuf {
    p.state.join("tidb")
}

fn pid_file(p: &Paths) -> PathBuf {
    dir(p).join("tidb.pid")
}

fn url(port: u16) -> String {
    format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}")
}

/// The consumer module that builds `tidb-server`.
fn module_dir(p: &Paths) -> PathBuf {
    p.root.join("deploy/tidb-local")
}

pub(super) fn running_pid(p: &Paths) -> Option<u32> {
    let pid = pid_from_file(&pid_file(p))?;
    // A pid the kernel gave to something else since is not our server.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    String::from_utf8_lossy(&cmdline).contains("tidb-server").then_some(pid)
}

pub(super) fn up(p: &Paths) -> Result<String> {
    let port_file = dir(p).join("port");
    if running_pid(p).is_some()
        && let Some(port) = read_port(&port_file)
    {
        return Ok(url(port));
    }
    let server = binary(p)?;
    std::fs::create_dir_all(dir(p).join("tmp"))?;
    std::fs::create_dir_all(p.sockets.join("tidb"))?;
    let port = free_port(read_port(&port_file))?;
    // Both ports are remembered across restarts (the outage drill restarts the server).
    let status_port = free_port(read_port(&dir(p).join("status-port")))?;
    let log = dir(p).join("tidb.log");
    // TLS with the test CA's certificate (TiDB takes it from its config file); plain
    // connections are still accepted.
    let tls = super::tls::server_copy(p, &dir(p).join("tls"), None)?;
    let config = dir(p).join("tidb.toml");
    std::fs::write(
        &config,
        format!("[security]\nssl-cert = {}\nssl-key = {}\n", toml_literal(&tls.cert)?, toml_literal(&tls.key)?),
    )?;
    let mut c = Command::new(&server);
    c.current_dir(dir(p))
        // TiDB derives its spill directory from the system temporary directory.
        .env("TMPDIR", dir(p).join("tmp"))
        .args(["-store", "unistore", "-host", "127.0.0.1", "-L", "warn"])
        .arg("-config")
        .arg(&config)
        .arg("-path")
        .arg(dir(p).join("data"))
        .arg("-P")
        .arg(port.to_string())
        .arg("-status")
        .arg(status_port.to_string())
        // The status port listens on every interface unless told otherwise.
        .args(["-status-host", "127.0.0.1"])
        .arg("-socket")
        .arg(p.sockets.join("tidb").join("tidb.sock"))
        .arg("-temp-dir")
        .arg(dir(p).join("tmp"))
        .arg("-log-file")
        .arg(&log);
    // Detached, like the other servers: its own process group and no inherited stdio.
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    println!("+ {} &", cmd::display(&c));
    let child = c.spawn().context("starting tidb-server")?;
    let pid = child.id();
    std::fs::write(pid_file(p), pid.to_string())?;
    // The first start bootstraps the system tables, which takes a while on 2 cores.
    wait_for_port(port, Duration::from_secs(180), || pid_alive(pid))
        .with_context(|| format!("tidb-server did not start; see {}", log.display()))?;
    std::fs::write(&port_file, port.to_string())?;
    std::fs::write(dir(p).join("status-port"), status_port.to_string())?;

    // A fresh server has a passwordless root; make the test account like the others'.
    let sql = format!(
        "CREATE DATABASE IF NOT EXISTS {DATABASE}; \
         CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; \
         GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION;"
    );
    let start = Instant::now();
    loop {
        match client(p, port, "root", None, &sql) {
            Ok(_) => break,
            Err(e) if pid_alive(pid) && start.elapsed() < Duration::from_secs(120) => {
                println!("  (not ready yet: {})", e.to_string().lines().last().unwrap_or(""));
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => return Err(e).with_context(|| format!("tidb-server is not usable; see {}", log.display())),
        }
    }
    println!("  tidb_version(): {}", version(p, &url(port))?);
    Ok(url(port))
}

/// `P8FS_TIDB_STATUS_URL`: the status port (metrics, `/status`) of the running server.
pub(super) fn status_url(p: &Paths) -> Option<String> {
    running_pid(p)?;
    read_port(&dir(p).join("status-port")).map(|port| format!("http://127.0.0.1:{port}"))
}

pub(super) fn down(p: &Paths) -> Result<()> {
    if let Some(pid) = running_pid(p) {
        stop_pid(pid, Duration::from_secs(60))?;
    }
    Ok(())
}

/// `tidb_version()` of the server at `url` (`mysql://user:password@host:port/db`), on one
/// line (TiDB's own newlines shown as ` | `).
pub(crate) fn version(p: &Paths, url: &str) -> Result<String> {
    let rest = url.strip_prefix("mysql://").with_context(|| format!("not a mysql:// URL: {url}"))?;
    let (auth, addr) = rest.rsplit_once('@').unwrap_or(("root", rest));
    let (user, password) = auth.split_once(':').map_or((auth, None), |(u, pw)| (u, Some(pw)));
    let hostport = addr.split(['/', '?']).next().unwrap_or(addr);
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "4000"));
    let port: u16 = port.parse().with_context(|| format!("bad port in {url}"))?;
    Ok(client_at(p, host, port, user, password, "SELECT tidb_version()")?.replace("\\n", " | "))
}

/// Runs `sql` with the MariaDB command-line client (a MySQL-protocol client the matrix
/// already installs) and returns its batch output.
fn client(p: &Paths, port: u16, user: &str, password: Option<&str>, sql: &str) -> Result<String> {
    client_at(p, "127.0.0.1", port, user, password, sql)
}

fn client_at(p: &Paths, host: &str, port: u16, user: &str, password: Option<&str>, sql: &str) -> Result<String> {
    let mut c = Command::new(super::mariadb::client(p)?);
    c.args(["--no-defaults", "--skip-ssl", "--batch", "--skip-column-names", "--protocol=TCP"])
        .arg(format!("--host={host}"))
        .arg(format!("--port={port}"))
        .arg(format!("--user={user}"));
    if let Some(pw) = password {
        c.arg(format!("--password={pw}"));
    }
    c.args(["-e", sql]);
    let out = cmd::output(&mut c)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The pin: TiDB's version in the consumer module's `go.mod`.
fn pin(module: &Path) -> Result<String> {
    let gomod = std::fs::read_to_string(module.join("go.mod")).context("reading deploy/tidb-local/go.mod")?;
    gomod
        .lines()
        .map(str::trim)
        .find_map(|l| {
            l.strip_prefix(MODULE)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.split_whitespace().next())
                .map(str::to_owned)
        })
        .filter(|v| v.starts_with('v'))
        .with_context(|| format!("deploy/tidb-local/go.mod requires no {MODULE}"))
}

/// Where built servers are kept: `P8FS_TIDB_CACHE`, else the user's cache directory.
fn cache_root() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("P8FS_TIDB_CACHE") {
        return Ok(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither P8FS_TIDB_CACHE, XDG_CACHE_HOME nor HOME is set")?;
    Ok(base.join("p8fs").join("tidb-server"))
}

/// The `tidb-server` of the pinned version, built once per pin, Go version and module
/// files (a changed `replace` line builds again).
pub(crate) fn binary(p: &Paths) -> Result<PathBuf> {
    let module = module_dir(p);
    let pin = pin(&module)?;
    let go = go_version()?;
    let files = ["go.mod", "go.sum"]
        .iter()
        .map(|f| std::fs::read_to_string(module.join(f)).with_context(|| format!("reading deploy/tidb-local/{f}")))
        .collect::<Result<Vec<_>>>()?
        .concat();
    let key = format!("{pin}-{go}-{}", crate::paths::short_hash(&files));
    let dest = cache_root()?.join(&key);
    let server = dest.join("tidb-server");
    if server.is_file() {
        return Ok(server);
    }
    let staging = cache_root()?.join(format!("{key}.building-{}", std::process::id()));
    std::fs::create_dir_all(&staging)?;
    let commit = pin.rsplit('-').next().unwrap_or_default();
    // TiDB's Makefile stamps these from git; a module build has no git, so name the pin.
    // The release version stays TiDB's own default for a build outside its Makefile.
    let ldflags = format!(
        "-X {MODULE}/pkg/util/versioninfo.TiDBGitHash={commit} \
         -X {MODULE}/pkg/util/versioninfo.TiDBGitBranch=go-module-{pin} \
         -X '{MODULE}/pkg/util/versioninfo.TiDBBuildTS=built by cargo xtask services'"
    );
    let mut c = Command::new("go");
    c.current_dir(&module)
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=readonly")
        .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
        .arg(staging.join("tidb-server"))
        .arg(format!("{MODULE}/cmd/tidb-server"));
    println!(
        "building tidb-server {pin} with {go} (once per pin, Go version and module files; about 5 minutes on 2 cores with the modules downloaded)"
    );
    let t = Instant::now();
    cmd::run(&mut c).context("building tidb-server (needs Go >= 1.26 and the Go module proxy)")?;
    println!("tidb-server built in {:.0}s: {}", t.elapsed().as_secs_f64(), dest.display());
    if dest.exists() {
        std::fs::remove_dir_all(&dest).ok();
    }
    std::fs::rename(&staging, &dest).with_context(|| format!("moving the build to {}", dest.display()))?;
    Ok(server)
}

/// `go env GOVERSION`, e.g. `go1.26.8`.
fn go_version() -> Result<String> {
    let out = Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .context("running `go` (TiDB is built from Go modules: install Go >= 1.26)")?;
    if !out.status.success() {
        bail!("`go env GOVERSION` failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A path as a TOML literal string (`'...'`: no escapes, so backslashes and `"` are taken
/// as written); a path TOML cannot hold that way (a `'` or a control character) is refused.
fn toml_literal(path: &Path) -> Result<String> {
    let s = path.to_str().with_context(|| format!("{} is not UTF-8", path.display()))?;
    if s.chars().any(|c| c == '\'' || c.is_control()) {
        bail!("{s:?} cannot be written into TiDB's TOML config (a quote or control character)");
    }
    Ok(format!("'{s}'"))
}
