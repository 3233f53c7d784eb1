//! Network deadlines against a server that accepts connections and never answers (a hung
//! database, a black-holed proxy): each client fails within its configured deadline with a
//! retryable error naming the backend, never hangs. The defaults are asserted where they
//! are defined (`PgConfig`, `MySqlConfig`, `SqlTimeouts`, `HttpConfig`, the proxy's
//! `Limits`).

use std::time::{Duration, Instant};

use p8fs_core::{SqlConfig, SqlTimeouts};

/// A listener on loopback that accepts every connection and never writes a byte; the
/// connections stay open while it runs.
async fn silent_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    addr
}

const SHORT: SqlTimeouts = SqlTimeouts { connect: Duration::from_secs(1), operation: Duration::from_secs(2) };

async fn connect_fails_in_time(cfg: SqlConfig, backend: &str) {
    let t = Instant::now();
    let Err(e) = p8fs_core::connect_sql_with(&cfg, &SHORT).await else {
        panic!("{backend}: a silent server cannot be connected to");
    };
    let took = t.elapsed();
    assert!(took < Duration::from_millis(2500), "{backend}: connect gave up after {took:?} (deadline 1 s)");
    assert!(e.is_retryable(), "{backend}: {e} ({:?}) is not retryable", e.kind());
    assert!(e.to_string().contains(backend) || e.to_string().contains("mysql"), "{backend} not named: {e}");
}

#[tokio::test]
async fn postgres_connect_to_a_silent_server_ends_at_the_connect_deadline() {
    let addr = silent_server().await;
    connect_fails_in_time(SqlConfig::Postgres { url: format!("postgres://u:p@{addr}/db") }, "postgres").await;
}

#[tokio::test]
async fn mysql_connect_to_a_silent_server_ends_at_the_connect_deadline() {
    let addr = silent_server().await;
    connect_fails_in_time(SqlConfig::Tidb { url: format!("mysql://u:p@{addr}/db") }, "mysql").await;
}

#[tokio::test]
async fn the_proxy_client_against_a_silent_proxy_ends_at_its_deadline() {
    let addr = silent_server().await;
    let mut cfg = p8fs_kv::HttpConfig::new(format!("http://{addr}"));
    cfg.timeout = Duration::from_secs(1);
    cfg.retries = 0;
    let t = Instant::now();
    let result = async {
        let store = p8fs_kv::HttpStore::connect(cfg).await?;
        let kv = p8fs_kv::Kv::new(std::sync::Arc::new(store));
        kv.tenant(&p8fs_kv::TenantId::new("t")?).get("k").await
    }
    .await;
    let took = t.elapsed();
    let e = result.expect_err("a silent proxy cannot answer");
    assert!(took < Duration::from_millis(2500), "the HTTP KV client gave up after {took:?} (deadline 1 s)");
    assert!(e.is_retryable(), "{e} is not retryable");
}

#[test]
fn the_documented_defaults_hold() {
    // docs/operations.md, "Timeouts".
    let d = SqlTimeouts::default();
    assert_eq!((d.connect, d.operation), (Duration::from_secs(10), Duration::from_secs(30)));
    assert_eq!(p8fs_kv::HttpConfig::new("http://h").timeout, Duration::from_secs(30));
    let openai = p8fs_core::embed::OpenAiConfig::new("http://h".to_owned(), "m".to_owned(), 384);
    assert_eq!(openai.timeout, Duration::from_secs(60));
    let limits = p8fs_server::Limits::default();
    assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
    assert_eq!(limits.write_timeout, Duration::from_secs(30));
    assert_eq!(limits.request_timeout, Duration::from_secs(30));
    let from_vars = |pairs: &[(&str, &str)]| {
        let m: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SqlTimeouts::from_vars(|k| m.get(k).cloned())
    };
    assert_eq!(from_vars(&[]).unwrap(), d);
    let set = from_vars(&[("P8FS_SQL_CONNECT_TIMEOUT_SECS", "3"), ("P8FS_SQL_TIMEOUT_SECS", "120")]).unwrap();
    assert_eq!((set.connect, set.operation), (Duration::from_secs(3), Duration::from_secs(120)));
    for bad in ["0", "-1", "1.5", "ten", "", "86401"] {
        let e = from_vars(&[("P8FS_SQL_TIMEOUT_SECS", bad)]).unwrap_err();
        assert!(e.to_string().contains("P8FS_SQL_TIMEOUT_SECS"), "{bad:?}: {e}");
    }
}
