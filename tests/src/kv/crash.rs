//! Crash safety of the embedded store: a child process writes and acknowledges keys, is
//! killed with SIGKILL mid-stream, and every acknowledged key must read back whole.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use p8fs_kv::{EmbeddedStore, Kv, TenantId};

use crate::harness::Ctx;

/// The variable that turns the conformance binary into the crash test's child.
pub const CHILD_ENV: &str = "P8FS_KV_CRASH_CHILD";

fn value(i: u64) -> Vec<u8> {
    format!("value-{i}-").repeat(50).into_bytes()
}

/// The child: writes `crash/{i}` forever, printing `ack {i}` after each write returns.
pub fn child_main(path: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let kv = Kv::new(std::sync::Arc::new(EmbeddedStore::open(path)?));
        let t = kv.tenant(&TenantId::new("crash")?);
        let mut out = std::io::stdout().lock();
        for i in 0u64.. {
            t.put(&format!("crash/{i:08}"), &value(i), None).await?;
            writeln!(out, "ack {i}")?;
            out.flush()?;
        }
        Ok(())
    })
}

pub(crate) async fn acknowledged_writes_survive_kill_9(ctx: Ctx) -> Result<()> {
    let path = std::env::temp_dir().join(format!("p8fs-test-{}.redb", ctx.scratch));
    let exe = std::env::current_exe()?;
    let acked = tokio::task::spawn_blocking(move || -> Result<(Option<u64>, std::path::PathBuf)> {
        let mut child = Command::new(exe)
            .env(CHILD_ENV, &path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the writer process")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let start = Instant::now();
        let mut last = None;
        // Kill once it has acknowledged a good number of writes (or after 10 s).
        for line in lines.by_ref() {
            let line = line?;
            if let Some(n) = line.strip_prefix("ack ") {
                last = Some(n.parse::<u64>()?);
            }
            if last.is_some_and(|n| n >= 150) || start.elapsed() > Duration::from_secs(10) {
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
        Ok((last, path))
    })
    .await??;
    let (last, path) = acked;
    let last = last.context("the writer acknowledged nothing before it was killed")?;
    let kv = Kv::new(std::sync::Arc::new(EmbeddedStore::open(&path).context("reopening after SIGKILL")?));
    let t = kv.tenant(&TenantId::new("crash")?);
    for i in 0..=last {
        let got = t.get(&format!("crash/{i:08}")).await?;
        ensure!(
            got.as_deref() == Some(value(i).as_slice()),
            "acknowledged write {i} of {last} lost or torn after SIGKILL"
        );
    }
    println!("embedded: all {} acknowledged writes survived SIGKILL", last + 1);
    Ok(())
}
