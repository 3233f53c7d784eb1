//! End-to-end: the built `p8fs` binary serving the proxy, spoken to over plain TCP the way
//! an old client would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(dir: &std::path::Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_p8fs"))
            .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("P8FS_KV_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("{line:?}")).to_owned();
        Server { child, addr }
    }

    fn term(&mut self) -> std::process::ExitStatus {
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

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: p8fs\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn serve_speaks_the_old_contract() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let a = srv.addr.as_str();
    let put = |key: &str, v: Value, ttl: Option<u64>| {
        let mut b = json!({"key": key, "value": v.to_string()});
        if let Some(t) = ttl {
            b["ttl"] = json!(t);
        }
        http(a, "PUT", "/kv", Some(&b), None).0
    };
    assert_eq!(put("t1/UserManual/document", json!({"entity_key": "doc456"}), None), 200);
    assert_eq!(put("t1/document/UserManual", json!({"entity_key": "doc456"}), Some(3600)), 200);
    let (status, body) = http(a, "GET", "/kv/t1/UserManual/document", None, None);
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(serde_json::from_str::<Value>(v["value"].as_str().unwrap()).unwrap(), json!({"entity_key": "doc456"}));
    assert_eq!(http(a, "GET", "/kv/t1/missing", None, None).0, 404);
    let (status, body) = http(a, "GET", "/kv/scan?prefix=t1/&limit=10", None, None);
    assert_eq!(status, 200);
    let keys: Vec<String> = serde_json::from_str::<Vec<Value>>(&body)
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["t1/UserManual/document", "t1/document/UserManual"]);
    let (status, body) =
        http(a, "POST", "/kv/batch", Some(&json!({"keys": ["t1/document/UserManual", "t1/nope"]})), None);
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&body).unwrap().len(), 1);
    assert_eq!(http(a, "DELETE", "/kv/t1/UserManual/document", None, None).0, 200);
    assert_eq!(http(a, "DELETE", "/kv/t1/UserManual/document", None, None).0, 200);
    assert_eq!(http(a, "GET", "/kv/t1/UserManual/document", None, None).0, 404);
}

#[test]
fn sigterm_finishes_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Server::start(dir.path(), &[]);
    // Send a request's head and half its body, then SIGTERM, then the rest.
    let body = json!({"key": "t/inflight", "value": "\"done\""}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "PUT /kv HTTP/1.1\r\nHost: p8fs\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}", body.len()).unwrap();
    s.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill").args(["-TERM", &srv.child.id().to_string()]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(rest.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "in-flight request after SIGTERM: {resp:?}");
    let status = srv.term();
    assert!(status.success(), "p8fs serve exited with {status}");
    // The write is durable: a new server on the same data reads it.
    let srv2 = Server::start(dir.path(), &[]);
    let (code, body) = http(&srv2.addr, "GET", "/kv/t/inflight", None, None);
    assert_eq!(code, 200, "{body}");
}

#[test]
fn tokens_guard_the_binary_and_open_addresses_need_them() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "# operators\ntenant-a-token-123456 tenant-a\n").unwrap();
    let srv = Server::start(dir.path(), &["--auth-tokens", tokens.to_str().unwrap()]);
    let b = json!({"key": "tenant-a/k", "value": "1"});
    assert_eq!(http(&srv.addr, "PUT", "/kv", Some(&b), None).0, 401);
    assert_eq!(http(&srv.addr, "PUT", "/kv", Some(&b), Some("tenant-a-token-123456")).0, 200);
    let other = json!({"key": "tenant-b/k", "value": "1"});
    assert_eq!(http(&srv.addr, "PUT", "/kv", Some(&other), Some("tenant-a-token-123456")).0, 403);
    // Without tokens, only loopback addresses may be served.
    let out = Command::new(env!("CARGO_BIN_EXE_p8fs"))
        .args(["--data-dir", dir.path().to_str().unwrap(), "serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-unauthenticated"));
}

#[test]
fn the_checked_in_openapi_document_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_p8fs")).args(["serve", "--print-openapi"]).output().unwrap();
    assert!(out.status.success());
    let generated: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        generated == committed,
        "docs/openapi.json is stale: run `cargo run -p p8fs-cli -- serve --print-openapi > docs/openapi.json`"
    );
}
