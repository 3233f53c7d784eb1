//! Running external commands: each is printed before it runs, and a failure says which.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// The command as a shell-like line, for printing.
pub(crate) fn display(cmd: &Command) -> String {
    let mut s = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            s.push_str(&format!("{}={} ", k.to_string_lossy(), quote(v)));
        }
    }
    s.push_str(&quote(cmd.get_program()));
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&quote(a));
    }
    s
}

fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c)) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Runs `cmd`, inheriting stdout/stderr; fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    println!("+ {}", display(cmd));
    let status = cmd.status().with_context(|| format!("cannot start {}", display(cmd)))?;
    if !status.success() {
        bail!("command failed ({status}): {}", display(cmd));
    }
    Ok(())
}

/// Runs `cmd` quietly and returns its output; fails unless it exits 0, showing its stderr.
pub(crate) fn output(cmd: &mut Command) -> Result<Output> {
    println!("+ {}", display(cmd));
    let out = cmd.stdin(Stdio::null()).output().with_context(|| format!("cannot start {}", display(cmd)))?;
    if !out.status.success() {
        bail!(
            "command failed ({}): {}\n{}{}",
            out.status,
            display(cmd),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Runs a command that downloads from a package registry (`pip install`, ...) the way
/// [`output`] does, trying again twice, 10 s and then 30 s later, when it fails: a dropped
/// connection or a read that timed out half-way through a wheel is not a failure of the
/// project. Each failed try is printed with the command's last lines; the error of the last
/// try is returned.
pub(crate) fn output_from_registry(mut make: impl FnMut() -> Command) -> Result<Output> {
    let waits = [10, 30];
    let mut attempt = 0;
    loop {
        match output(&mut make()) {
            Ok(out) => return Ok(out),
            Err(e) if attempt < waits.len() => {
                let text = format!("{e:#}");
                let tail: Vec<&str> = text.lines().rev().take(6).collect();
                println!(
                    "registry download failed (try {} of {}), trying again in {} s:",
                    attempt + 1,
                    waits.len() + 1,
                    waits[attempt]
                );
                for line in tail.iter().rev() {
                    println!("    {line}");
                }
                std::thread::sleep(std::time::Duration::from_secs(waits[attempt]));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether the current process runs as root.
pub(crate) fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A command that runs `program` as `user` when we are root (servers refuse to run as
/// root), or as ourselves otherwise.
pub(crate) fn as_user(user: &str, program: impl AsRef<OsStr>) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", user, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A `cargo` command for the toolchain running xtask, without the variables `cargo run`
/// set for xtask itself (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...): build scripts watch some
/// of them (ring's reruns on `CARGO_MANIFEST_DIR`), so inheriting them made every build from
/// xtask rebuild half the tree after a plain `cargo build`, and the other way round.
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    without_cargo_vars(&mut c);
    c
}

/// Removes from `c`'s environment the variables `cargo run` set for xtask itself (see
/// [`cargo`]), for commands that run cargo in turn (cargo-fuzz).
pub(crate) fn without_cargo_vars(c: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || matches!(
                k,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_MANIFEST_LINKS"
            )
        {
            c.env_remove(k);
        }
    }
}
