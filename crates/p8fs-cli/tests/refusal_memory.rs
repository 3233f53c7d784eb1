//! The peak memory of each refusal, one class at a time: the built `p8fs serve` (KV and
//! entity routes, over SQLite and the embedded store) is sent requests far over its limits
//! (64 MiB bodies announced or streamed without a length, a million keys, a 1 MiB key, 300
//! large headers, JSON nested a million levels deep, a scan limit of 10^12), three times
//! each. Every one must be refused with a 4xx and a JSON error body (or, for a request
//! head too large to parse, a bare 431/414 or the connection closed), and the server's peak
//! resident set (`VmHWM`, reset before each class) may exceed its resident set before the
//! class by at most [`MAX_RISE_KB`]: a server that buffered the 64 MiB before refusing would
//! rise by more than that.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Limits the server runs with: small, so that buffering past them shows.
const MAX_BODY: usize = 4 << 20;
const MAX_VALUE: usize = 1 << 20;
/// How much one class of refusal may raise the peak resident set. A refused request may
/// hold up to a body's worth of bytes while it is read and parsed (the in-flight budget
/// counts three times the body), plus allocator slack; 64 MiB bodies are far above it.
const MAX_RISE_KB: u64 = 24 * 1024;
const BIG: usize = 64 << 20;

/// A field of `/proc/PID/status` in kB (`VmHWM`: the peak resident set; `VmRSS`: now).
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Resets the process's peak resident set to its current one (Linux: `5` to `clear_refs`),
/// so that the next peak is this class's own and not the start-up's. The server may still
/// be handing the last class's memory back when the peak is reset (its resident set then
/// falls below the peak just set): the reset is repeated until the two agree.
fn reset_peak(pid: u32) {
    for _ in 0..50 {
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
        if status_kb(pid, "VmHWM:") <= status_kb(pid, "VmRSS:") + 1024 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the peak was not reset: VmHWM stays above VmRSS after 50 resets 0.1 s apart");
}

/// A body sent in pieces, never held whole by the test: a prefix, `n` filler bytes, a
/// suffix.
struct Body {
    prefix: String,
    filler: u8,
    n: usize,
    suffix: String,
}

impl Body {
    fn len(&self) -> usize {
        self.prefix.len() + self.n + self.suffix.len()
    }
}

/// Sends the head, then the body (with a `Content-Length` or chunked), stopping quietly
/// when the server closes; returns the status (0: closed without an answer) and the body.
fn send(addr: &str, head: &str, body: Option<&Body>, chunked: bool) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    let framing = match body {
        None => String::new(),
        Some(_) if chunked => "Transfer-Encoding: chunked\r\n".to_owned(),
        Some(b) => format!("Content-Length: {}\r\n", b.len()),
    };
    let mut out =
        format!("{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n{framing}\r\n")
            .into_bytes();
    let _ = s.write_all(&out);
    if let Some(b) = body {
        let piece = vec![b.filler; 64 * 1024];
        let mut write = |bytes: &[u8]| -> bool {
            out.clear();
            if chunked {
                out.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            } else {
                out.extend_from_slice(bytes);
            }
            s.write_all(&out).is_ok()
        };
        let mut ok = write(b.prefix.as_bytes());
        let mut left = b.n;
        while ok && left > 0 {
            let k = left.min(piece.len());
            ok = write(&piece[..k]);
            left -= k;
        }
        if ok && write(b.suffix.as_bytes()) && chunked {
            let _ = s.write_all(b"0\r\n\r\n");
        }
    }
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let status = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn each_refusal_keeps_the_peak_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("entities.db").display());
    let (max_body, max_value) = (MAX_BODY.to_string(), MAX_VALUE.to_string());
    let srv = common::Server::start(
        dir.path(),
        &["--sql", &db, "--embedder", "lexical", "--max-body-bytes", &max_body, "--max-value-bytes", &max_value],
    );
    let (addr, pid) = (srv.addr.as_str(), srv.child.id());

    // Warm up every route used below with requests that succeed.
    let small = Body { prefix: r#"{"value":""#.into(), filler: b'x', n: 1000, suffix: r#""}"#.into() };
    assert_eq!(send(addr, "PUT /v1/kv/t/keys/k HTTP/1.1", Some(&small), false).0, 204);
    let batch = Body { prefix: r#"{"keys":["k""#.into(), filler: b' ', n: 10, suffix: "]}".into() };
    assert_eq!(send(addr, "POST /v1/kv/t/batch/get HTTP/1.1", Some(&batch), false).0, 200);
    let entity =
        Body { prefix: r#"{"name":"warm","data":{"content":""#.into(), filler: b'w', n: 1000, suffix: r#""}}"#.into() };
    let (status, text) = send(addr, "PUT /v1/entities/t/resources HTTP/1.1", Some(&entity), false);
    assert_eq!(status, 200, "{text}");
    assert_eq!(send(addr, "GET /v1/kv/t/scan?limit=10 HTTP/1.1", None, false).0, 200);

    let value = || Body { prefix: r#"{"value":""#.into(), filler: b'x', n: BIG, suffix: r#""}"#.into() };
    let million_keys = || Body {
        prefix: r#"{"keys":["#.into(),
        // `"k",` repeated: a million keys in 4 MB... sent as filler of the same shape.
        filler: b'"',
        n: 0,
        suffix: format!("{}\"k\"]}}", "\"k\",".repeat(1_000_000)),
    };
    let deep = || Body {
        prefix: r#"{"name":"deep","data":{"content":"#.into(),
        filler: b'[',
        n: 1_000_000,
        suffix: String::new(),
    };
    let big_entity = || Body {
        prefix: r#"{"name":"big","data":{"content":""#.into(),
        filler: b'y',
        n: BIG,
        suffix: r#""}}"#.into(),
    };
    let long_key = format!("GET /v1/kv/t/keys/{} HTTP/1.1", "k".repeat(1 << 20));
    let many_headers =
        format!("GET /v1/kv/t/keys/k HTTP/1.1{}", format!("\r\nX-Filler: {}", "h".repeat(4096)).repeat(300));

    type Case<'a> = (&'a str, String, Option<Body>, bool, &'a [u16]);
    let cases: Vec<Case<'_>> = vec![
        ("a 64 MiB value, announced", "PUT /v1/kv/t/keys/k HTTP/1.1".into(), Some(value()), false, &[413]),
        ("a 64 MiB value, chunked", "PUT /v1/kv/t/keys/k HTTP/1.1".into(), Some(value()), true, &[413]),
        ("a million keys, chunked", "POST /v1/kv/t/batch/get HTTP/1.1".into(), Some(million_keys()), true, &[413, 400]),
        ("a 1 MiB key", long_key, None, false, &[0, 414, 431, 400]),
        ("300 headers of 4 KiB", many_headers, None, false, &[0, 431, 400]),
        ("a scan limit of 10^12", "GET /v1/kv/t/scan?limit=1000000000000 HTTP/1.1".into(), None, false, &[400]),
        (
            "an entity nested a million levels",
            "PUT /v1/entities/t/resources HTTP/1.1".into(),
            Some(deep()),
            false,
            &[400],
        ),
        ("a 64 MiB entity, chunked", "PUT /v1/entities/t/resources HTTP/1.1".into(), Some(big_entity()), true, &[413]),
    ];
    let mut report = Vec::new();
    for (what, head, body, chunked, allowed) in &cases {
        reset_peak(pid);
        let before = status_kb(pid, "VmRSS:");
        for _ in 0..3 {
            let (status, text) = send(addr, head, body.as_ref(), *chunked);
            assert!(allowed.contains(&status), "{what}: answered {status} {text}");
            // A head too large to parse is answered by the HTTP layer itself (431, 414,
            // no body) or the connection is closed; everything else has the JSON error.
            if ![0, 414, 431].contains(&status) {
                let v: serde_json::Value =
                    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not a JSON error ({e}): {text}"));
                assert!(v.pointer("/error/message").is_some(), "{what}: {text}");
            }
        }
        let peak = status_kb(pid, "VmHWM:");
        let rise = peak.saturating_sub(before);
        report.push(format!("{what}: {before} -> peak {peak} kB (+{rise})"));
        assert!(
            rise <= MAX_RISE_KB,
            "{what}: the resident set rose {rise} kB (to {peak} kB), more than {MAX_RISE_KB} kB"
        );
    }
    // Still serving.
    assert_eq!(send(addr, "GET /v1/kv/t/keys/k HTTP/1.1", None, false).0, 200);
    eprintln!("resident set per class of refusal: {}", report.join("; "));
}
