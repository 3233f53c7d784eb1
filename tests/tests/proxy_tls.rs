//! The proxy serving HTTPS itself (`p8fs_server::serve_tls`, rustls) with a certificate a
//! CA made by the test signed: p8fs's HTTP KV client and a plain HTTPS client that trust
//! that CA are served; clients that do not (the Web PKI roots, another CA) are refused at
//! the handshake with an error that says so; plain HTTP to the TLS port gets no answer; a
//! client that stalls the handshake is disconnected after the header timeout and frees its
//! connection slot; certificate and key files that do not fit are clear errors.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use p8fs_kv::{EmbeddedStore, HttpConfig, HttpStore, Kv, KvBackend, KvErrorKind, TenantId};
use p8fs_server::{Limits, ServerConfig, TlsConfig};
use p8fs_tests::certs::TestCa;
use p8fs_tests::proxy::RunningProxy;

const DEADLINE: Duration = Duration::from_secs(60);

macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout(DEADLINE, $body).await.expect("the test did not finish in time")
    };
}

struct Setup {
    proxy: RunningProxy,
    ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn url(&self) -> String {
        format!("https://{}", self.proxy.addr())
    }
}

async fn setup(limits: Limits) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("p8fs proxy test CA").unwrap();
    let (cert, key) = ca.server(&["127.0.0.1", "localhost"]).unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let store: Arc<dyn KvBackend> = Arc::new(EmbeddedStore::open(dir.path().join("kv.redb")).unwrap());
    let tls = TlsConfig::from_pem(cert.as_bytes(), key.as_bytes()).unwrap();
    let cfg = ServerConfig { limits, ..ServerConfig::default() };
    let proxy = RunningProxy::start_tls(store, cfg, tls).await.unwrap();
    Setup { proxy, ca_file, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_trust_the_ca_are_served_over_https() {
    bounded!(async {
        let s = setup(Limits::default()).await;
        let store = HttpStore::connect(HttpConfig { tls_ca: Some(s.ca_file.clone()), ..HttpConfig::new(s.url()) })
            .await
            .expect("the KV client with the proxy's CA");
        let kv = Kv::new(Arc::new(store));
        let t = kv.tenant(&TenantId::new("alice").unwrap());
        t.put("notes/a", b"over tls", None).await.unwrap();
        assert_eq!(t.get("notes/a").await.unwrap().as_deref(), Some(&b"over tls"[..]));
        let page = t.scan_prefix("notes/", 10, None).await.unwrap();
        assert_eq!(page.entries.len(), 1);

        let pem = std::fs::read(&s.ca_file).unwrap();
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let r = client.get(format!("{}/readyz", s.url())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        // By name too: the certificate names localhost.
        let port = s.proxy.addr().port();
        let r = client.get(format!("https://localhost:{port}/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_do_not_trust_it_are_refused_at_the_handshake() {
    bounded!(async {
        let s = setup(Limits::default()).await;
        // p8fs's client with the Web PKI roots, then with another CA.
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.pem");
        std::fs::write(&other, TestCa::new("another CA").unwrap().pem).unwrap();
        for (what, ca) in [("the Web PKI roots", None), ("another CA", Some(other))] {
            let e = HttpStore::connect(HttpConfig { tls_ca: ca, retries: 0, ..HttpConfig::new(s.url()) })
                .await
                .err()
                .unwrap_or_else(|| panic!("{what}: connected to a proxy it cannot trust"));
            assert_eq!(e.kind(), KvErrorKind::Unavailable, "{what}: {e}");
            let text = p8fs_tests::error_chain(&e).to_lowercase();
            assert!(
                text.contains("certificate") || text.contains("issuer"),
                "{what}: the error does not say why: {text}"
            );
        }
        // A CA file that is not there, or holds no certificate.
        let missing = dir.path().join("missing.pem");
        let e =
            HttpStore::connect(HttpConfig { tls_ca: Some(missing), ..HttpConfig::new(s.url()) }).await.err().unwrap();
        assert_eq!(e.kind(), KvErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("missing.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = HttpStore::connect(HttpConfig { tls_ca: Some(empty), ..HttpConfig::new(s.url()) }).await.err().unwrap();
        assert_eq!(e.kind(), KvErrorKind::InvalidArgument, "{e}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_gets_no_answer() {
    bounded!(async {
        let s = setup(Limits::default()).await;
        let addr = s.proxy.addr();
        let answer = tokio::task::spawn_blocking(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            c.write_all(b"GET /v1/kv/alice/keys/notes/a HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut got = Vec::new();
            let _ = c.read_to_end(&mut got);
            got
        })
        .await
        .unwrap();
        assert!(!answer.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&answer));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_is_closed_and_frees_its_slot() {
    bounded!(async {
        let limits = Limits { max_connections: 1, header_read_timeout: Duration::from_secs(1), ..Limits::default() };
        let s = setup(limits).await;
        let addr = s.proxy.addr();
        // Takes the only connection slot and says nothing.
        let staller = tokio::task::spawn_blocking(move || {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let started = Instant::now();
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap_or(0);
            (n, started.elapsed())
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let store = HttpStore::connect(HttpConfig { tls_ca: Some(s.ca_file.clone()), ..HttpConfig::new(s.url()) })
            .await
            .expect("a client behind the staller is served once its slot is free");
        store.ping().await.unwrap();
        let (n, took) = staller.await.unwrap();
        assert_eq!(n, 0, "the stalled connection got bytes");
        assert!(took < Duration::from_secs(5), "the stalled handshake held its slot for {took:?}");
    });
}

#[test]
fn certificate_and_key_files_that_do_not_fit_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("p8fs proxy test CA").unwrap();
    let (cert, _) = ca.server(&["127.0.0.1"]).unwrap();
    let (_, other_key) = ca.server(&["127.0.0.1"]).unwrap();
    let e = TlsConfig::from_pem(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
    assert!(e.contains("does not fit"), "{e}");
    let missing = dir.path().join("missing-cert.pem");
    let e = TlsConfig::from_pem_files(&missing, &missing).unwrap_err();
    assert!(e.contains("missing-cert.pem"), "{e}");
    let e = TlsConfig::from_pem(b"", other_key.as_bytes()).unwrap_err();
    assert!(e.contains("no certificate"), "{e}");
}
