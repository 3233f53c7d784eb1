//! PostgreSQL 15 with pgvector: the machine's own server binaries, pgvector built from
//! Debian's source package when missing, a private cluster under the state directory.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::{free_port, own_dir, pid_from_file, read_port};
use crate::cmd;
use crate::paths::Paths;

const USER: &str = "p8fs";
const PASSWORD: &str = "p8fs";
const DATABASE: &str = "p8fs";

fn dir(p: &Paths) -> PathBuf {
    p.state.join("postgres")
}

fn data(p: &Paths) -> PathBuf {
    dir(p).join("data")
}

/// The PostgreSQL server binaries: `P8FS_PG_BIN`, or Debian's version 15 directory.
fn bin_dir() -> PathBuf {
    std::env::var_os("P8FS_PG_BIN").map_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"), PathBuf::from)
}

/// Plain text, as the MySQL-protocol URLs are: the suites and benchmarks compare engines
/// on equal terms; the TLS case asks for TLS itself.
fn url(port: u16) -> String {
    format!("postgres://{USER}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}?sslmode=disable")
}

pub(super) fn running_pid(p: &Paths) -> Option<u32> {
    pid_from_file(&data(p).join("postmaster.pid"))
}

pub(super) fn up(p: &Paths) -> Result<String> {
    let port_file = dir(p).join("port");
    if running_pid(p).is_some()
        && let Some(port) = read_port(&port_file)
    {
        return Ok(url(port));
    }
    install(p)?;
    let bin = bin_dir();
    let user = "postgres";
    own_dir(&dir(p), user)?;
    let sockets = p.sockets.join("postgres");
    own_dir(&sockets, user)?;
    if !data(p).join("PG_VERSION").exists() {
        let pwfile = dir(p).join("pwfile");
        std::fs::write(&pwfile, PASSWORD)?;
        own_dir(&dir(p), user)?;
        cmd::output(
            cmd::as_user(user, bin.join("initdb"))
                .arg("-D")
                .arg(data(p))
                .args(["-U", USER, "--pwfile"])
                .arg(&pwfile)
                .args(["-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256"]),
        )?;
        std::fs::remove_file(&pwfile).ok();
    }
    let port = free_port(read_port(&port_file))?;
    // TLS with the test CA's certificate; plain connections are still accepted.
    let tls = super::tls::server_copy(p, &dir(p).join("tls"), Some(user))?;
    let opts = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200 -c shared_buffers=1GB \
         -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        sockets.display(),
        tls.cert.display(),
        tls.key.display()
    );
    cmd::output(
        cmd::as_user(user, bin.join("pg_ctl"))
            .arg("-D")
            .arg(data(p))
            .arg("-l")
            .arg(dir(p).join("postgres.log"))
            .args(["-o", &opts, "-w", "-t", "60", "start"]),
    )
    .with_context(|| format!("see {}", dir(p).join("postgres.log").display()))?;
    std::fs::write(&port_file, port.to_string())?;

    // The database and the extension, once.
    let psql = |db: &str, sql: &str| -> Result<String> {
        let out = cmd::output(
            Command::new(bin_dir().join("psql"))
                .env("PGPASSWORD", PASSWORD)
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", USER, "-d", db])
                .args(["-v", "ON_ERROR_STOP=1", "-tAc", sql]),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if psql("postgres", &format!("SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"))? != "1" {
        psql("postgres", &format!("CREATE DATABASE {DATABASE}"))?;
    }
    psql(DATABASE, "CREATE EXTENSION IF NOT EXISTS vector")?;
    Ok(url(port))
}

pub(super) fn down(p: &Paths) -> Result<()> {
    if running_pid(p).is_none() {
        return Ok(());
    }
    // pg_ctl stops the postmaster named in its pid file.
    cmd::output(
        cmd::as_user("postgres", bin_dir().join("pg_ctl"))
            .arg("-D")
            .arg(data(p))
            .args(["-m", "fast", "-w", "-t", "60", "stop"]),
    )?;
    Ok(())
}

/// Installs PostgreSQL 15 and pgvector when missing (as root), or says what to install.
fn install(p: &Paths) -> Result<()> {
    let bin = bin_dir();
    let have_server = bin.join("postgres").exists();
    let have_vector = have_server && {
        let out = Command::new(bin.join("pg_config")).arg("--sharedir").output();
        out.map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("extension/vector.control").exists())
            .unwrap_or(false)
    };
    if have_server && have_vector {
        return Ok(());
    }
    if !cmd::is_root() {
        bail!(
            "PostgreSQL 15 with pgvector is needed and this is not root.\n\
             Install as root: apt-get install postgresql-15 postgresql-client-15 postgresql-server-dev-15 make gcc,\n\
             then build pgvector >= 0.7 from source (make OPTFLAGS=\"\" && make install),\n\
             or set P8FS_PG_BIN to a PostgreSQL bin directory that has it."
        );
    }
    cmd::run(Command::new("bash").arg(p.root.join("deploy/local/install-pgvector.sh")).arg(p.state.join("apt")))
        .context("installing PostgreSQL 15 and pgvector")?;
    Ok(())
}
