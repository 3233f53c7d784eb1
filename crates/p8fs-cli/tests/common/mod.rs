//! What the end-to-end tests of the built `p8fs` binary share: running a command on the
//! embedded default (or with its KV store behind a proxy) and serving the proxy.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The binary on the embedded default under `dir`, with its KV store behind `kv_url` when
/// given; no provider, KV or embedder variable of the environment leaks in.
pub(crate) fn p8fs_with_kv(dir: &Path, kv_url: Option<&str>, args: &[&str]) -> Output {
    match kv_url {
        Some(u) => p8fs_with_env(dir, &[("P8FS_KV_URL", u)], args),
        None => p8fs_with_env(dir, &[], args),
    }
}

/// The binary under `dir` with exactly `vars` of the provider, KV and embedder variables
/// (none of the environment's leaks in).
pub(crate) fn p8fs_with_env(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p8fs"));
    c.args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env_remove("P8FS_STORAGE_PROVIDER")
        .env_remove("P8FS_SQLITE_PATH")
        .env_remove("P8FS_EMBEDDING_URL")
        .env_remove("P8FS_EMBEDDER")
        .env_remove("P8FS_MINILM_WHEEL")
        .env_remove("P8FS_KV_TOKEN")
        .env_remove("P8FS_KV_URL")
        .env_remove("P8FS_KV_TLS_CA")
        .env_remove("P8FS_TLS_CERT_FILE")
        .env_remove("P8FS_TLS_KEY_FILE")
        .envs(vars.iter().copied());
    c.output().unwrap()
}

/// `p8fs serve` on a free loopback port, killed when dropped.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
}

impl Server {
    /// Starts the proxy over the embedded store under `dir`, with `extra` arguments.
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
        Self::start_with_env(dir, extra, &[])
    }

    /// [`Server::start`] with these variables set.
    pub(crate) fn start_with_env(dir: &Path, extra: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p8fs"))
            .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("P8FS_KV_URL")
            .env_remove("P8FS_TLS_CERT_FILE")
            .env_remove("P8FS_TLS_KEY_FILE")
            // A SQL provider of the environment would add the entity routes.
            .env_remove("P8FS_STORAGE_PROVIDER")
            .env_remove("P8FS_SQLITE_PATH")
            .env_remove("P8FS_EMBEDDING_URL")
            .env_remove("P8FS_EMBEDDER")
            .env_remove("P8FS_MINILM_WHEEL")
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let line = line.trim();
        let addr = line
            .strip_prefix("listening on http://")
            .or_else(|| line.strip_prefix("listening on https://"))
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_owned();
        Server { child, addr }
    }

    /// Its base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops it with SIGTERM and waits.
    pub(crate) fn term(&mut self) -> std::process::ExitStatus {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
