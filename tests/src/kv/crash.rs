//! Crash safety of the embedded store: a child process writes and acknowledges keys, is
//! killed with SIGKILL mid-stream, and every acknowledged key must read back whole; three
//! times on the same file, each child going on where the last one's acknowledgements
//! ended, killed at a different point. A key written when the kill came may be there or
//! not, but never torn.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use p8fs_kv::{EmbeddedStore, Kv, TenantId};

use crate::harness::Ctx;

/// The variable that turns the conformance binary into the crash test's child.
pub const CHILD_ENV: &str = "P8FS_KV_CRASH_CHILD";
/// The first index the child writes (default 0).
const FROM_ENV: &str = "P8FS_KV_CRASH_FROM";
/// After how many acknowledgements of its own each round's child is killed.
const KILL_AFTER: [u64; 3] = [150, 90, 210];

fn value(i: u64) -> Vec<u8> {
    format!("value-{i}-").repeat(50).into_bytes()
}

/// The child: writes `crash/{i}` from `P8FS_KV_CRASH_FROM` on, forever, printing `ack {i}`
/// after each write returns.
pub fn child_main(path: &str) -> Result<()> {
    let from: u64 = std::env::var(FROM_ENV).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let kv = Kv::new(std::sync::Arc::new(EmbeddedStore::open(path)?));
        let t = kv.tenant(&TenantId::new("crash")?);
        let mut out = std::io::stdout().lock();
        for i in from.. {
            t.put(&format!("crash/{i:08}"), &value(i), None).await?;
            writeln!(out, "ack {i}")?;
            out.flush()?;
        }
        Ok(())
    })
}

pub(crate) async fn acknowledged_writes_survive_kill_9(ctx: Ctx) -> Result<()> {
    let path = std::env::temp_dir().join(format!("p8fs-test-{}.redb", ctx.scratch));
    let mut acked: Option<u64> = None;
    for (round, kill_after) in KILL_AFTER.into_iter().enumerate() {
        let from = acked.map_or(0, |n| n + 1);
        let last = kill_a_writer(&path, from, kill_after).await?;
        let last = last.or(acked).context("the writer acknowledged nothing before it was killed")?;
        acked = Some(last);
        let kv = Kv::new(std::sync::Arc::new(EmbeddedStore::open(&path).context("reopening after SIGKILL")?));
        let t = kv.tenant(&TenantId::new("crash")?);
        for i in 0..=last {
            let got = t.get(&format!("crash/{i:08}")).await?;
            ensure!(
                got.as_deref() == Some(value(i).as_slice()),
                "round {round}: acknowledged write {i} of {last} lost or torn after SIGKILL"
            );
        }
        // The write in flight when the kill came: there or not, never torn.
        if let Some(got) = t.get(&format!("crash/{:08}", last + 1)).await? {
            ensure!(got == value(last + 1), "round {round}: the write in flight at the kill is torn");
        }
    }
    let last = acked.unwrap_or_default();
    println!("embedded: all {} acknowledged writes survived {} SIGKILLs", last + 1, KILL_AFTER.len());
    std::fs::remove_file(&path).ok();
    Ok(())
}

/// Runs a writer from index `from` on `path`, kills it with SIGKILL once it acknowledged
/// `kill_after` writes (or after 10 s), and returns the last index it acknowledged.
async fn kill_a_writer(path: &std::path::Path, from: u64, kill_after: u64) -> Result<Option<u64>> {
    let exe = std::env::current_exe()?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || -> Result<Option<u64>> {
        let mut child = Command::new(exe)
            .env(CHILD_ENV, &path)
            .env(FROM_ENV, from.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the writer process")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let start = Instant::now();
        let mut last = None;
        for line in lines.by_ref() {
            let line = line?;
            if let Some(n) = line.strip_prefix("ack ") {
                last = Some(n.parse::<u64>()?);
            }
            if last.is_some_and(|n| n + 1 >= from + kill_after) || start.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
        child.kill().context("SIGKILL")?; // SIGKILL on Unix
        // Acknowledgements already written before the kill count too.
        for line in lines.map_while(Result::ok) {
            if let Some(n) = line.strip_prefix("ack ") {
                last = Some(n.parse::<u64>()?);
            }
        }
        child.wait()?;
        Ok(last)
    })
    .await?
}
