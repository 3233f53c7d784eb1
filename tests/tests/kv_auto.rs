//! `KvConfig::Auto` (`AutoStore`) in both directions, against the PD + TiKV stand-in
//! (`p8fs-tikv-test-server`: no TiKV can run here, so this is the one stand-in) and the real
//! p8fs proxy on loopback, in front of an embedded store.
//!
//! Each test checks where the data went, not only which side was chosen: a key written
//! through `auto` must be in the stand-in's store (native) or in the proxy's store (HTTP).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use p8fs_kv::{EmbeddedStore, Kv, KvBackend, KvConfig, KvOptions, TenantId};
use p8fs_tests::proxy::RunningProxy;
use p8fs_tikv_test_server::TestCluster;

/// Bounds every test body.
const TEST_DEADLINE: Duration = Duration::from_secs(60);

macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout(TEST_DEADLINE, $body).await.expect("the test did not finish in time")
    };
}

/// Options with short timeouts; `reprobe` is the least time between re-probes.
fn options(reprobe: Duration) -> KvOptions {
    KvOptions {
        tikv_timeout: Duration::from_secs(2),
        probe_timeout: Duration::from_secs(2),
        reprobe_interval: reprobe,
        ..KvOptions::default()
    }
}

/// An address nothing listens on (bound, then released).
fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// The real proxy over a fresh embedded store; the store is returned to read what the
/// proxy wrote.
async fn proxy() -> (RunningProxy, Kv, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn KvBackend> = Arc::new(EmbeddedStore::open(dir.path().join("kv.redb")).expect("embedded"));
    let proxy = RunningProxy::start(Arc::clone(&store), p8fs_server::ServerConfig::default()).await.expect("proxy");
    (proxy, Kv::new(store), dir)
}

fn auto(pd: &[String], proxy: Option<&RunningProxy>) -> KvConfig {
    KvConfig::Auto { pd_endpoints: pd.to_vec(), proxy_url: proxy.map(RunningProxy::base_url) }
}

fn tenant() -> TenantId {
    TenantId::new("t1").expect("tenant")
}

/// Whether the stand-in holds `t1/{key}`.
fn in_cluster(c: &TestCluster, key: &str) -> bool {
    c.stored_keys().contains(&format!("t1/{key}").into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pd_and_a_store_that_answer_mean_native() {
    bounded!(async {
        let c = TestCluster::start(vec![b"t1/m".to_vec()]).await.expect("cluster");
        let (proxy, behind_proxy, _dir) = proxy().await;
        let backend = auto(&[c.pd_endpoint()], Some(&proxy)).open(&options(Duration::ZERO)).await.expect("open");
        assert_eq!(backend.name(), "tikv");
        let kv = Kv::new(backend).tenant(&tenant());
        kv.put("a", b"native", None).await.expect("put");
        assert_eq!(kv.get("a").await.expect("get").as_deref(), Some(&b"native"[..]));
        assert!(in_cluster(&c, "a"), "the write did not reach TiKV");
        assert!(behind_proxy.tenant(&tenant()).get("a").await.expect("get").is_none(), "the write went to the proxy");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pd_that_answers_with_an_unreachable_store_means_http() {
    bounded!(async {
        // PD answers; the store it names does not (an address only reachable inside the
        // cluster's network, seen from outside).
        let c = TestCluster::start_advertising_store(vec![b"t1/m".to_vec()], dead_addr().to_string())
            .await
            .expect("cluster");
        // PD alone answers: a client that only asked PD would pick native and then fail.
        tikv_client::RawClient::new(vec![c.pd_endpoint()]).await.expect("PD answers");
        let (proxy, behind_proxy, _dir) = proxy().await;
        let backend = auto(&[c.pd_endpoint()], Some(&proxy)).open(&options(Duration::ZERO)).await.expect("open");
        assert_eq!(backend.name(), "http");
        let kv = Kv::new(backend).tenant(&tenant());
        kv.put("a", b"via the proxy", None).await.expect("put");
        assert_eq!(
            behind_proxy.tenant(&tenant()).get("a").await.expect("get").as_deref(),
            Some(&b"via the proxy"[..]),
            "the write did not reach the proxy's store"
        );
        assert!(c.stored_keys().is_empty(), "something reached the stand-in's store");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_native_means_http_and_nothing_at_all_is_an_error() {
    bounded!(async {
        let (proxy, behind_proxy, _dir) = proxy().await;
        for pd in [vec![dead_addr().to_string()], Vec::new()] {
            let backend = auto(&pd, Some(&proxy)).open(&options(Duration::ZERO)).await.expect("open");
            assert_eq!(backend.name(), "http", "pd {pd:?}");
            Kv::new(backend).tenant(&tenant()).put("a", b"x", None).await.expect("put");
            assert!(behind_proxy.tenant(&tenant()).get("a").await.expect("get").is_some());
        }
        // Native unreachable and no proxy: an error that says so, not a hang.
        let e = auto(&[dead_addr().to_string()], None).open(&options(Duration::ZERO)).await.unwrap_err();
        assert_eq!(e.kind(), p8fs_kv::KvErrorKind::Unavailable, "{e}");
        assert!(e.to_string().contains("no proxy URL"), "{e}");
        let e = auto(&[], None).open(&options(Duration::ZERO)).await.unwrap_err();
        assert_eq!(e.kind(), p8fs_kv::KvErrorKind::InvalidArgument, "{e}");
        // A proxy that does not answer either: its error.
        let dead_proxy = format!("http://{}", dead_addr());
        let cfg = KvConfig::Auto { pd_endpoints: vec![dead_addr().to_string()], proxy_url: Some(dead_proxy) };
        let e = cfg.open(&options(Duration::ZERO)).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_that_stops_answering_switches_to_http() {
    bounded!(async {
        let c = TestCluster::start(vec![b"t1/m".to_vec()]).await.expect("cluster");
        let (proxy, behind_proxy, _dir) = proxy().await;
        let backend = auto(&[c.pd_endpoint()], Some(&proxy)).open(&options(Duration::ZERO)).await.expect("open");
        let kv = Kv::new(Arc::clone(&backend)).tenant(&tenant());
        kv.put("before", b"1", None).await.expect("put");
        assert_eq!(backend.name(), "tikv");
        c.shutdown().await;
        // The call that meets the outage fails (it is not replayed on the other side)...
        let e = kv.put("during", b"2", None).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        // ... and the re-probe behind it switched sides.
        assert_eq!(backend.name(), "http");
        kv.put("after", b"3", None).await.expect("put after the switch");
        assert_eq!(behind_proxy.tenant(&tenant()).get("after").await.expect("get").as_deref(), Some(&b"3"[..]));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_that_stops_answering_switches_to_native_once_it_answers() {
    bounded!(async {
        let pd = dead_addr();
        let (proxy, _behind_proxy, _dir) = proxy().await;
        let backend = auto(&[pd.to_string()], Some(&proxy)).open(&options(Duration::ZERO)).await.expect("open");
        assert_eq!(backend.name(), "http");
        let kv = Kv::new(Arc::clone(&backend)).tenant(&tenant());
        kv.put("before", b"1", None).await.expect("put");
        // Native comes up where auto was told to look, then the proxy goes away.
        let c = TestCluster::start_at(pd, vec![b"t1/m".to_vec()]).await.expect("cluster");
        proxy.stop().await;
        let e = kv.put("during", b"2", None).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert_eq!(backend.name(), "tikv");
        kv.put("after", b"3", None).await.expect("put after the switch");
        assert!(in_cluster(&c, "after"), "the write after the switch did not reach TiKV");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprobes_are_rate_limited() {
    bounded!(async {
        let pd = dead_addr();
        let (proxy, _behind_proxy, _dir) = proxy().await;
        let backend =
            auto(&[pd.to_string()], Some(&proxy)).open(&options(Duration::from_secs(3600))).await.expect("open");
        let kv = Kv::new(Arc::clone(&backend)).tenant(&tenant());
        proxy.stop().await;
        // The first failure re-probes: native does not answer, so auto stays on the proxy.
        assert!(kv.get("a").await.unwrap_err().is_retryable());
        assert_eq!(backend.name(), "http");
        // Native comes up, but the next re-probe is an hour away: still the proxy.
        let c = TestCluster::start_at(pd, vec![b"t1/m".to_vec()]).await.expect("cluster");
        assert!(kv.get("a").await.unwrap_err().is_retryable());
        assert_eq!(backend.name(), "http", "a second re-probe ran within the interval");
        assert_eq!(c.request_count("RawGet"), 0, "auto probed the cluster within the interval");
    });
}
