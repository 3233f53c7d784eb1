//! End-to-end: `p8fs import` streams its input. An ~80 MB file of large lines is imported,
//! with `--strict` (which reads it twice) and without, while the child's peak resident
//! memory is sampled: it stays far below what holding the file would take (~80 MB of text,
//! several times that parsed; the code that held it peaked at 530 MB and 450 MB).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Lines of the generated file and the size of each line's large field.
const LINES: usize = 80;
const FIELD_BYTES: usize = 1024 * 1024;

/// The peak RSS the import may reach. Holding the file as text alone would be ~80 MB on top
/// of the process's own ~30 MB; streaming peaks at ~85-110 MB (one batch of up to 8 MB of
/// JSON, parsed, and the statements built from it).
const MAX_PEAK_KB: u64 = 200 * 1024;

/// `VmHWM` (peak resident set) of a running process, in kB.
fn peak_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_file(path: &Path) {
    let mut f = BufWriter::new(std::fs::File::create(path).unwrap());
    let filler = "x".repeat(FIELD_BYTES);
    for i in 0..LINES {
        let line = serde_json::json!({
            "name": format!("doc-{i:03}"),
            "content": format!("document number {i}"),
            // A plain text column: a large JSON column costs seconds more to store in a
            // debug build, and the test is about reading the input.
            "summary": filler,
        });
        serde_json::to_writer(&mut f, &line).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
}

#[test]
fn import_of_a_large_file_keeps_memory_bounded() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("big.jsonl");
    write_file(&file);
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 80_000_000, "{size} bytes");
    for (tenant, strict) in [("s", true), ("n", false)] {
        let peak = import(d.path(), &file, tenant, strict);
        assert!(peak < MAX_PEAK_KB, "strict {strict}: peak RSS {} MB for a {} MB file", peak / 1024, size / 1_000_000);
    }
}

/// Imports `file` into `tenant`; returns the child's peak RSS in kB.
fn import(dir: &Path, file: &Path, tenant: &str, strict: bool) -> u64 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_p8fs"));
    cmd.args(["--data-dir", dir.to_str().unwrap(), "--json", "import"]).arg(file).args([
        "--type",
        "resources",
        "--tenant",
        tenant,
    ]);
    if strict {
        cmd.arg("--strict");
    }
    let mut child = cmd
        .env_remove("P8FS_STORAGE_PROVIDER")
        .env_remove("P8FS_KV_URL")
        .env_remove("P8FS_SQLITE_PATH")
        .env_remove("P8FS_EMBEDDING_URL")
        // The lexical embedder: the local model's fixed ~90 MB of weights (and ~90 MB more
        // while they load) would hide what this measures, the streaming of the input.
        .env("P8FS_EMBEDDER", "lexical")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        // The high-water mark only grows: the last sample before the exit is the peak, up
        // to what the last few milliseconds added.
        peak = peak.max(peak_kb(pid).unwrap_or(0));
        assert!(started.elapsed() < Duration::from_secs(300), "the import did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["imported"], LINES);
    println!("import (strict {strict}): peak RSS {} MB in {:.1} s", peak / 1024, started.elapsed().as_secs_f64());
    assert!(peak > 0, "no sample of the child's memory was taken");
    peak
}

#[test]
fn strict_import_from_stdin_writes_what_it_checked() {
    let d = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_p8fs"))
        .args(["--data-dir", d.path().to_str().unwrap(), "--json", "import", "-"])
        .args(["--type", "resources", "--tenant", "t", "--strict"])
        .env_remove("P8FS_STORAGE_PROVIDER")
        .env_remove("P8FS_KV_URL")
        .env_remove("P8FS_SQLITE_PATH")
        .env_remove("P8FS_EMBEDDING_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = "{\"name\": \"a\", \"content\": \"one\"}\n\n{\"name\": \"b\", \"content\": \"two\"}\n";
    child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["imported"], 2, "both lines, read again from the copy of stdin: {v}");
}
