//! MariaDB 11.8 (the MySQL-protocol server with VECTOR support that runs here): a
//! `mariadbd` >= 11.7 from PATH when there is one, otherwise Debian 13's packages unpacked
//! under the state directory and run through their own loader.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use super::{free_port, own_dir, pid_alive, pid_from_file, read_port, stop_pid, wait_for_port};
use crate::cmd;
use crate::paths::Paths;

const USER: &str = "p8fs";
const PASSWORD: &str = "p8fs";
const DATABASE: &str = "p8fs";

fn dir(p: &Paths) -> PathBuf {
    p.state.join("mariadb")
}

fn data(p: &Paths) -> PathBuf {
    dir(p).join("data")
}

fn pid_file(p: &Paths) -> PathBuf {
    dir(p).join("mariadb.pid")
}

fn socket_dir(p: &Paths) -> PathBuf {
    p.sockets.join("mariadb")
}

fn socket(p: &Paths) -> PathBuf {
    socket_dir(p).join("mariadb.sock")
}

fn url(port: u16) -> String {
    format!("mysql://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}")
}

/// Where the programs come from.
struct Install {
    /// `--basedir` for an unpacked tree; `None` for a system install.
    basedir: Option<PathBuf>,
    mariadbd: PathBuf,
    client: PathBuf,
    install_db: PathBuf,
}

pub(super) fn running_pid(p: &Paths) -> Option<u32> {
    pid_from_file(&pid_file(p))
}

pub(super) fn up(p: &Paths) -> Result<String> {
    let port_file = dir(p).join("port");
    if running_pid(p).is_some()
        && let Some(port) = read_port(&port_file)
    {
        return Ok(url(port));
    }
    let inst = install(p)?;
    let root = cmd::is_root();
    if root {
        ensure_mysql_user()?;
    }
    own_dir(&dir(p), "mysql")?;
    own_dir(&socket_dir(p), "mysql")?;
    // No server runs (checked above): a socket file left by a crash would make the new
    // server refuse to start.
    std::fs::remove_file(socket(p)).ok();
    if !data(p).join("mysql").exists() {
        let mut c = Command::new(&inst.install_db);
        c.arg("--no-defaults");
        if let Some(b) = &inst.basedir {
            c.arg(format!("--basedir={}", b.display()));
        }
        c.arg(format!("--datadir={}", data(p).display()))
            .args(["--auth-root-authentication-method=socket", "--skip-test-db"]);
        if root {
            c.arg("--user=mysql");
        }
        cmd::output(&mut c).context("mariadb-install-db")?;
    }
    let port = free_port(read_port(&port_file))?;
    let log = dir(p).join("mariadb.log");
    let mut c = Command::new(&inst.mariadbd);
    c.arg("--no-defaults");
    if let Some(b) = &inst.basedir {
        c.arg(format!("--basedir={}", b.display()))
            .arg(format!("--lc-messages-dir={}", b.join("share/mariadb").display()))
            .arg(format!("--plugin-dir={}", b.join("lib/mysql/plugin").display()));
    }
    c.arg(format!("--datadir={}", data(p).display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", socket(p).display()))
        .arg(format!("--pid-file={}", pid_file(p).display()))
        .arg(format!("--log-error={}", log.display()))
        .args(["--skip-name-resolve", "--max-connections=500", "--innodb-buffer-pool-size=256M"])
        // MariaDB keeps each vector index's graph in a cache of this bound (16 MB by default);
        // an index larger than it builds ~6x slower and loses recall (docs/operations.md).
        .arg("--mhnsw-max-cache-size=1G");
    // TLS with the test CA's certificate; plain connections are still accepted.
    let tls = super::tls::server_copy(p, &dir(p).join("tls"), root.then_some("mysql"))?;
    c.arg(format!("--ssl-cert={}", tls.cert.display())).arg(format!("--ssl-key={}", tls.key.display()));
    if root {
        c.arg("--user=mysql");
    }
    // Detached: its own process group, no inherited stdio (a CI runner waiting for our
    // output must not wait for the server too).
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    println!("+ {} &", cmd::display(&c));
    let child = c.spawn().context("starting mariadbd")?;
    let pid = child.id();
    wait_for_port(port, Duration::from_secs(60), || pid_alive(pid))
        .with_context(|| format!("mariadbd did not start; see {}", log.display()))?;
    std::fs::write(&port_file, port.to_string())?;

    // Bootstrap the test account through the socket (root authenticates by socket).
    let sql = format!(
        "CREATE DATABASE IF NOT EXISTS {DATABASE}; \
         CREATE USER IF NOT EXISTS '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; \
         GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1' WITH GRANT OPTION;"
    );
    let mut client = Command::new(&inst.client);
    client
        .args(["--no-defaults", "--skip-ssl", "-uroot"])
        .arg(format!("--socket={}", socket(p).display()))
        .args(["-e", &sql]);
    // The TCP port can open a moment before the server is ready (or before it gives up):
    // retry while the server lives.
    let start = std::time::Instant::now();
    loop {
        match cmd::output(&mut client) {
            Ok(_) => break,
            Err(e) if pid_alive(pid) && start.elapsed() < Duration::from_secs(60) => {
                println!("  (not ready yet: {})", e.to_string().lines().last().unwrap_or(""));
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => return Err(e).with_context(|| format!("mariadbd is not usable; see {}", log.display())),
        }
    }
    Ok(url(port))
}

pub(super) fn down(p: &Paths) -> Result<()> {
    if let Some(pid) = running_pid(p) {
        stop_pid(pid, Duration::from_secs(60))?;
    }
    Ok(())
}

/// The `mariadb` command-line client (unpacked when missing); the TiDB service uses it too.
pub(super) fn client(p: &Paths) -> Result<PathBuf> {
    Ok(install(p)?.client)
}

/// Finds or unpacks MariaDB >= 11.7.
fn install(p: &Paths) -> Result<Install> {
    if let Some(sys) = system_install() {
        return Ok(sys);
    }
    let dest = dir(p).join("dist");
    cmd::run(
        Command::new("bash").arg(p.root.join("deploy/local/install-mariadb.sh")).arg(&dest).arg(p.state.join("apt")),
    )
    .context("unpacking MariaDB 11.8 (needs apt-get and dpkg; or put mariadbd >= 11.7 on PATH)")?;
    let usr = dest.join("root/usr");
    Ok(Install {
        mariadbd: usr.join("sbin/mariadbd"),
        client: usr.join("bin/mariadb"),
        install_db: usr.join("bin/mariadb-install-db"),
        basedir: Some(usr),
    })
}

/// A `mariadbd` on PATH that is new enough to have VECTOR.
fn system_install() -> Option<Install> {
    let path = std::env::var_os("PATH")?;
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]).collect();
    let find = |name: &str| dirs.iter().map(|d| d.join(name)).find(|p| p.is_file());
    let mariadbd = find("mariadbd")?;
    let out = Command::new(&mariadbd).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text.split_whitespace().find(|w| w.contains("MariaDB"))?;
    let mut nums = version.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u32>().ok());
    let (major, minor) = (nums.next()?, nums.next()?);
    if (major, minor) < (11, 7) {
        return None;
    }
    Some(Install { basedir: None, mariadbd, client: find("mariadb")?, install_db: find("mariadb-install-db")? })
}

/// Creates the `mysql` system user the server drops privileges to.
fn ensure_mysql_user() -> Result<()> {
    if Command::new("id").arg("mysql").stdout(Stdio::null()).stderr(Stdio::null()).status()?.success() {
        return Ok(());
    }
    cmd::output(Command::new("useradd").args([
        "--system",
        "--user-group",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        "mysql",
    ]))?;
    Ok(())
}
