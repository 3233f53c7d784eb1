//! Throwaway local databases for the test matrix: PostgreSQL with pgvector and MariaDB
//! 11.8, on free loopback ports, data under `target/`. Idempotent: `up` on running
//! services only reports them. Servers are stopped by pid, never by name.

mod mariadb;
mod postgres;
pub(crate) mod tidb;
pub(crate) mod tls;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::paths::Paths;

/// A service the matrix can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    Postgres,
    MariaDb,
    /// A real tidb-server over its in-process store, built from Go modules.
    Tidb,
}

impl Service {
    pub(crate) const ALL: [Service; 3] = [Service::Postgres, Service::MariaDb, Service::Tidb];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Postgres => "postgres",
            Service::MariaDb => "mariadb",
            Service::Tidb => "tidb",
        }
    }

    /// The variable in the services file that holds this service's URL.
    pub(crate) fn env_var(self) -> &'static str {
        match self {
            Service::Postgres => "P8FS_TEST_PG_URL",
            Service::MariaDb => "P8FS_TEST_MARIADB_URL",
            Service::Tidb => "P8FS_TIDB_URL",
        }
    }

    fn up(self, p: &Paths) -> Result<String> {
        match self {
            Service::Postgres => postgres::up(p),
            Service::MariaDb => mariadb::up(p),
            Service::Tidb => tidb::up(p),
        }
    }

    fn down(self, p: &Paths) -> Result<()> {
        match self {
            Service::Postgres => postgres::down(p),
            Service::MariaDb => mariadb::down(p),
            Service::Tidb => tidb::down(p),
        }
    }

    /// The pid of the running server, if it runs.
    pub(crate) fn running_pid(self, p: &Paths) -> Option<u32> {
        match self {
            Service::Postgres => postgres::running_pid(p),
            Service::MariaDb => mariadb::running_pid(p),
            Service::Tidb => tidb::running_pid(p),
        }
    }
}

/// Starts `which` (installing what is missing) and records their URLs in the services
/// file. Returns the services that were not running before.
pub(crate) fn up(p: &Paths, which: &[Service]) -> Result<Vec<Service>> {
    let mut started = Vec::new();
    let mut env = read_env(&p.env_file);
    for &s in which {
        let t = Instant::now();
        let was_running = s.running_pid(p).is_some();
        let url = s.up(p).with_context(|| format!("starting {}", s.name()))?;
        if !was_running {
            started.push(s);
        }
        println!(
            "{:<9} {} in {:.1}s: {}",
            s.name(),
            if was_running { "already running" } else { "started" },
            t.elapsed().as_secs_f64(),
            url
        );
        env.insert(s.env_var().to_owned(), url);
        if s == Service::Tidb
            && let Some(status) = tidb::status_url(p)
        {
            env.insert("P8FS_TIDB_STATUS_URL".to_owned(), status);
        }
    }
    env.insert(tls::CA_VAR.to_owned(), tls::ca(p)?.display().to_string());
    write_env(&p.env_file, &env)?;
    println!("service URLs written to {}", p.env_file.display());
    Ok(started)
}

/// Stops `which`.
pub(crate) fn down(p: &Paths, which: &[Service]) -> Result<()> {
    let mut env = read_env(&p.env_file);
    for &s in which {
        s.down(p).with_context(|| format!("stopping {}", s.name()))?;
        env.remove(s.env_var());
        if s == Service::Tidb {
            env.remove("P8FS_TIDB_STATUS_URL");
        }
        println!("{:<9} stopped", s.name());
    }
    write_env(&p.env_file, &env)
}

/// Prints each service's state.
pub(crate) fn status(p: &Paths) -> Result<()> {
    let env = read_env(&p.env_file);
    println!("state directory: {}", p.state.display());
    for s in Service::ALL {
        match s.running_pid(p) {
            Some(pid) => println!(
                "{:<9} running  pid {pid:<7} {}",
                s.name(),
                env.get(s.env_var()).map_or("(no URL recorded)", String::as_str)
            ),
            None => println!("{:<9} stopped", s.name()),
        }
    }
    Ok(())
}

/// Reads `KEY=VALUE` lines.
pub(crate) fn read_env(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn write_env(path: &Path, env: &BTreeMap<String, String>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut s = String::from("# Written by `cargo xtask services up`; read by the test suites.\n");
    for (k, v) in env {
        s.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

/// A free loopback port: `preferred` when it is free, otherwise one the kernel picks.
fn free_port(preferred: Option<u16>) -> Result<u16> {
    if let Some(port) = preferred
        && TcpListener::bind(("127.0.0.1", port)).is_ok()
    {
        return Ok(port);
    }
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on the loopback `port`.
fn wait_for_port(port: u16, timeout: Duration, alive: impl Fn() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        anyhow::ensure!(alive(), "the server exited during start-up");
        std::thread::sleep(Duration::from_millis(100));
    }
    anyhow::bail!("nothing listens on 127.0.0.1:{port} after {timeout:?}")
}

/// Whether process `pid` exists.
fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
            .unwrap_or(false)
}

/// Reads a pid file (first line) and returns the pid if that process is alive.
fn pid_from_file(path: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(path).ok()?.lines().next()?.trim().parse().ok()?;
    pid_alive(pid).then_some(pid)
}

/// Sends SIGTERM to `pid` and waits for it to exit; SIGKILL after `grace`.
fn stop_pid(pid: u32, grace: Duration) -> Result<()> {
    let mut kill = std::process::Command::new("kill");
    kill.args(["-TERM", &pid.to_string()]);
    crate::cmd::run(&mut kill)?;
    let start = Instant::now();
    while pid_alive(pid) {
        if start.elapsed() > grace {
            crate::cmd::run(std::process::Command::new("kill").args(["-KILL", &pid.to_string()]))?;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Makes `dir` (created if missing) owned by `user` when we are root.
fn own_dir(dir: &Path, user: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    if crate::cmd::is_root() {
        crate::cmd::output(std::process::Command::new("chown").args(["-R", &format!("{user}:")]).arg(dir))?;
    }
    Ok(())
}

/// Reads a remembered port.
fn read_port(path: &Path) -> Option<u16> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}
