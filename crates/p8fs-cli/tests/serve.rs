//! End-to-end: the built `p8fs` binary serving the proxy, spoken to over plain TCP the way
//! an old client would.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Server;

use serde_json::{Value, json};

/// One HTTP/1.1 request; returns the status and the body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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
    write!(s, "PUT /kv HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}", body.len()).unwrap();
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
    private(&tokens);
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
fn serve_with_a_sql_provider_serves_entities_over_the_same_kv_and_without_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "tenant-a-token-123456 tenant-a\n").unwrap();
    private(&tokens);
    let db = dir.path().join("entities.sqlite");
    let sql = format!("sqlite://{}", db.display());
    let t = Some("tenant-a-token-123456");
    let srv = Server::start(dir.path(), &["--auth-tokens", tokens.to_str().unwrap(), "--sql", &sql]);
    let a = srv.addr.as_str();
    let put = json!({"name": "my-doc", "data": {"content": "a document"}});
    let (status, body) = http(a, "PUT", "/v1/entities/tenant-a/resources", Some(&put), t);
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    let (status, body) = http(a, "GET", "/v1/entities/tenant-a/resources/name/my-doc", None, t);
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["entity"]["id"], id.as_str());
    assert_eq!(http(a, "PUT", "/v1/entities/tenant-b/resources", Some(&put), t).0, 403);
    assert_eq!(http(a, "PUT", "/v1/entities/tenant-a/resources", Some(&put), None).0, 401);
    // The reverse mapping the entity route wrote is a key the KV routes read.
    let (status, body) = http(a, "GET", "/kv/tenant-a/my-doc/resources", None, t);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&id), "{body}");
    drop(srv);
    // Started again on the same database: the migration is idempotent and the entity is there.
    let srv = Server::start(dir.path(), &["--auth-tokens", tokens.to_str().unwrap(), "--sql", &sql]);
    assert_eq!(http(&srv.addr, "GET", &format!("/v1/entities/tenant-a/resources/id/{id}"), None, t).0, 200);
    drop(srv);
    // KV only: the entity paths are unknown paths; the KV routes are as before.
    let kv_only = Server::start(dir.path(), &["--auth-tokens", tokens.to_str().unwrap()]);
    let (status, body) = http(&kv_only.addr, "GET", "/v1/entities/tenant-a/resources/name/my-doc", None, t);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no_route"), "{body}");
    assert_eq!(http(&kv_only.addr, "POST", "/v1/rem/tenant-a", Some(&json!({"query": "LOOKUP x"})), t).0, 404);
    drop(kv_only);
    // The provider variables name a provider as --sql does (here the same database).
    let db_path = db.to_str().unwrap();
    let vars = [("P8FS_STORAGE_PROVIDER", "sqlite"), ("P8FS_SQLITE_PATH", db_path)];
    let by_env = Server::start_with_env(dir.path(), &["--auth-tokens", tokens.to_str().unwrap()], &vars);
    let (status, body) = http(&by_env.addr, "GET", "/v1/entities/tenant-a/resources/name/my-doc", None, t);
    assert_eq!(status, 200, "{body}");
    drop(by_env);
    // A URL that names no SQL provider is refused at start-up, without its password.
    let err = refused(dir.path(), &["--sql", "oracle://u:S3cretPW@h/db"]);
    assert!(err.contains("not a SQL URL") && !err.contains("S3cretPW"), "{err}");
}

fn private(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `p8fs serve` with these arguments, which must fail at start-up (within 10 s): its
/// stderr.
fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_p8fs"))
        .args(["--data-dir", dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("p8fs serve {args:?} started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(2), "{err}");
    err
}

#[test]
fn token_files_must_be_private_and_list_each_token_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    let arg = tokens.to_str().unwrap().to_owned();
    std::fs::write(&tokens, "tenant-a-token-123456 tenant-a\n").unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused(dir.path(), &["--auth-tokens", &arg]);
    assert!(err.contains("chmod 600") && err.contains("0644"), "{err}");
    std::fs::write(&tokens, "tenant-a-token-123456 tenant-a\n# more\ntenant-a-token-123456 *\n").unwrap();
    private(&tokens);
    let err = refused(dir.path(), &["--auth-tokens", &arg]);
    assert!(err.contains("line 3") && err.contains("line 1"), "{err}");
    assert!(!err.contains("tenant-a-token-123456"), "the token was printed: {err}");
}

#[test]
fn half_sent_connections_do_not_lock_out_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &["--max-connections", "4", "--header-read-timeout-secs", "1"]);
    // Three times the cap of connections that send half a request head and stop.
    let idle: Vec<TcpStream> = (0..12)
        .map(|_| {
            let mut s = TcpStream::connect(&srv.addr).unwrap();
            s.write_all(b"GET /kv/t/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    let start = std::time::Instant::now();
    let (status, body) = http(&srv.addr, "GET", "/healthz", None, None);
    let took = start.elapsed();
    assert_eq!(status, 200, "{body}");
    // The half-sent ones time out a slot-full at a time (1 s each): about three rounds.
    assert!(took < Duration::from_secs(8), "a normal request waited {took:?}");
    // And the idle ones were closed by the proxy, not kept.
    for mut s in idle {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = Vec::new();
        assert!(s.read_to_end(&mut buf).is_ok(), "a half-sent connection was kept open");
        assert!(buf.is_empty() || buf.starts_with(b"HTTP/1.1 408"), "{:?}", String::from_utf8_lossy(&buf));
    }
}

/// A field of `/proc/PID/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends one request with `body` and reads the whole answer; returns the status and the
/// answer's length.
fn exchange(addr: &str, head: &str, body: &[u8]) -> (u16, usize) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "{head}Host: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let status =
        String::from_utf8_lossy(&resp[..resp.len().min(64)]).split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, resp.len())
}

/// Stores `n` values of `size` bytes (`big00`, `big01`, ...) in tenant `t` through `/v1`.
fn put_big_values(addr: &str, n: usize, size: usize) {
    let value = "A".repeat(size / 3 * 4); // the base64 of `size` zero-ish bytes
    let body = format!("{{\"value\": \"{value}\"}}");
    for i in 0..n {
        let (status, _) = exchange(addr, &format!("PUT /v1/kv/t/keys/big{i:02} HTTP/1.1\r\n"), body.as_bytes());
        assert_eq!(status, 204);
    }
}

#[test]
fn scans_of_large_values_stay_within_the_answer_budget() {
    const VALUES: usize = 24;
    const SIZE: usize = 8 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    let pid = srv.child.id();
    put_big_values(&srv.addr, VALUES, SIZE);
    // Measure the scans alone: reset the peak, then two scans at once asking for everything.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kib(pid, "VmRSS:");
    let scans: Vec<_> = (0..2)
        .map(|_| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                let mut after = String::new();
                let mut entries = 0;
                // Pages end early at the budget: follow `next` (at most one page per value).
                for _ in 0..=VALUES {
                    let (status, body) = http(&addr, "GET", &format!("/v1/kv/t/scan?limit=10000{after}"), None, None);
                    assert_eq!(status, 200);
                    let v: Value = serde_json::from_str(&body).unwrap();
                    entries += v["entries"].as_array().unwrap().len();
                    match v["next"].as_str() {
                        Some(n) => after = format!("&after={n}"),
                        None => break,
                    }
                }
                entries
            })
        })
        .collect();
    for s in scans {
        assert_eq!(s.join().unwrap(), VALUES);
    }
    let peak = status_kib(pid, "VmHWM:");
    let grew_mib = peak.saturating_sub(before) / 1024;
    println!("RSS before the scans {} MiB, peak during them {} MiB (+{grew_mib} MiB)", before / 1024, peak / 1024);
    // The values are 192 MiB, 256 MiB as base64: two whole answers at once would add well
    // over 500 MiB; two budgeted ones (16 MiB each) add a few tens.
    assert!(grew_mib < 160, "two scans grew the proxy by {grew_mib} MiB");
}

/// Many tenants' scans at once (the review's 128 concurrent scans of 8 MiB values, scaled
/// down): whatever each asks for, together they hold at most the in-flight memory limit;
/// the ones that find it full wait for their turn (or answer 503, and are retried).
#[test]
fn concurrent_scans_stay_within_the_inflight_memory_limit() {
    const VALUES: usize = 12;
    const SIZE: usize = 8 * 1024 * 1024;
    const SCANS: usize = 16;
    const LIMIT_MIB: u64 = 96;
    let dir = tempfile::tempdir().unwrap();
    let limit = (LIMIT_MIB << 20).to_string();
    let srv = Server::start(dir.path(), &["--max-inflight-bytes", &limit]);
    let pid = srv.child.id();
    put_big_values(&srv.addr, VALUES, SIZE);
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kib(pid, "VmRSS:");
    let scans: Vec<_> = (0..SCANS)
        .map(|_| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                let (mut after, mut entries, mut waits) = (String::new(), 0, 0);
                let started = std::time::Instant::now();
                while started.elapsed() < Duration::from_secs(120) {
                    let (status, body) = http(&addr, "GET", &format!("/v1/kv/t/scan?limit=10000{after}"), None, None);
                    if status == 503 {
                        waits += 1;
                        std::thread::sleep(Duration::from_millis(100));
                        continue;
                    }
                    assert_eq!(status, 200, "{body}");
                    let v: Value = serde_json::from_str(&body).unwrap();
                    entries += v["entries"].as_array().unwrap().len();
                    match v["next"].as_str() {
                        Some(n) => after = format!("&after={n}"),
                        None => break,
                    }
                }
                (entries, waits)
            })
        })
        .collect();
    let mut waits = 0;
    for s in scans {
        let (entries, w) = s.join().unwrap();
        assert_eq!(entries, VALUES, "a scan did not finish");
        waits += w;
    }
    let peak = status_kib(pid, "VmHWM:");
    let grew_mib = peak.saturating_sub(before) / 1024;
    println!(
        "{SCANS} scans at once: RSS before {} MiB, peak {} MiB (+{grew_mib} MiB; limit {LIMIT_MIB} MiB); {waits} answers 503",
        before / 1024,
        peak / 1024
    );
    // Unbounded, 16 budgeted scans at once hold 16 x ~37 MiB (about 600 MiB).
    assert!(grew_mib < LIMIT_MIB + 64, "{SCANS} scans grew the proxy by {grew_mib} MiB");
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

/// A CA and a server certificate it signed for 127.0.0.1, written under `dir`: (CA, cert,
/// key) paths.
fn test_certs(dir: &std::path::Path) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert =
        CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca_cert, &ca_key).unwrap();
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(path("ca.pem"), ca_cert.pem()).unwrap();
    std::fs::write(path("cert.pem"), cert.pem()).unwrap();
    std::fs::write(path("key.pem"), key.serialize_pem()).unwrap();
    (path("ca.pem"), path("cert.pem"), path("key.pem"))
}

#[test]
fn serve_over_https_for_clients_given_its_ca() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certs(certs.path());
    let srv = Server::start(dir.path(), &["--tls-cert", &cert, "--tls-key", &key]);
    let url = format!("https://{}", srv.addr);
    let client = tempfile::tempdir().unwrap();
    let with_ca = [("P8FS_KV_URL", url.as_str()), ("P8FS_KV_TLS_CA", ca.as_str())];
    let put = common::p8fs_with_env(client.path(), &with_ca, &["kv", "put", "k", "\"tls\"", "--tenant", "alice"]);
    assert!(put.status.success(), "{}", String::from_utf8_lossy(&put.stderr));
    let get = common::p8fs_with_env(client.path(), &with_ca, &["--json", "kv", "get", "k", "--tenant", "alice"]);
    assert_eq!(serde_json::from_slice::<Value>(&get.stdout).unwrap(), json!("tls"));
    // Without the CA the proxy is not trusted: refused, saying why.
    let get = common::p8fs_with_env(client.path(), &with_ca[..1], &["kv", "get", "k", "--tenant", "alice"]);
    assert!(!get.status.success(), "a client without the CA was served");
    let err = String::from_utf8_lossy(&get.stderr).to_lowercase();
    assert!(err.contains("certificate") || err.contains("issuer"), "{err}");
    // A key that is not the certificate's: refused at start, naming the problem; a
    // certificate without its key: a usage error.
    let other_key = certs.path().join("other-key.pem");
    std::fs::write(&other_key, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let other_key = other_key.display().to_string();
    let serve = ["serve", "--listen", "127.0.0.1:0", "--tls-cert", &cert, "--tls-key", &other_key];
    let out = common::p8fs_with_env(dir.path(), &[], &serve);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not fit"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = common::p8fs_with_env(dir.path(), &[], &serve[..5]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
