//! TiKV faults, injected through the PD + TiKV stand-in (`p8fs-tikv-test-server`; no real
//! TiKV runs here): region errors, leaders that move to another store, busy and unavailable
//! stores, slow answers. `TikvStore` drives the real tikv-client `RawClient` against them and
//! must retry what can be retried, with backoff, and otherwise fail with a retryable error
//! within its timeout: never a hang, never a wrong answer. The stand-in answers each fault
//! the way TiKV does, so the retry logic under test is tikv-client's and p8fs's own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use p8fs_kv::{Key, Kv, KvBackend, KvErrorKind, Namespace, TenantId, TenantKv};
use p8fs_kv::{TikvConfig, TikvStore};
use p8fs_tests::proxy::RunningProxy;
use p8fs_tikv_test_server::{Fault, TestCluster};
use reqwest::StatusCode;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds every test body: a client that retries forever fails the test instead of hanging.
const TEST_DEADLINE: Duration = Duration::from_secs(90);

/// The region errors tikv-client resolves by asking PD again, and a store that answers
/// gRPC `UNAVAILABLE`.
const RETRIED_BY_THE_CLIENT: [Fault; 4] =
    [Fault::NotLeaderUnknown, Fault::EpochNotMatch, Fault::RegionNotFound, Fault::StoreUnavailable];

macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout(TEST_DEADLINE, $body).await.expect("the test did not finish in time")
    };
}

async fn cluster() -> TestCluster {
    TestCluster::start(vec![b"g".to_vec(), b"t".to_vec()]).await.expect("start the test cluster")
}

async fn store(c: &TestCluster, timeout: Duration) -> Arc<TikvStore> {
    let config = TikvConfig { pd_endpoints: vec![c.pd_endpoint()], keyspace: None, timeout };
    Arc::new(TikvStore::connect(config).await.expect("connect"))
}

fn tenant(store: &Arc<TikvStore>, id: &str) -> TenantKv {
    let kv = Kv::new(Arc::clone(store) as Arc<dyn KvBackend>);
    kv.tenant(&TenantId::new(id).expect("tenant id"))
}

/// Every kind of call once, each checked: put, get, batch put, batch get, scan,
/// compare-and-swap, delete, batch delete. `round` makes the values of each run differ.
async fn every_call(t: &TenantKv, round: usize) {
    let value = format!("v{round}");
    t.put("a", value.as_bytes(), None).await.expect("put");
    assert_eq!(t.get("a").await.expect("get").as_deref(), Some(value.as_bytes()), "get after put");
    let batch: Vec<(String, Vec<u8>)> =
        (0..6).map(|i| (format!("b/{i}"), format!("{value}/{i}").into_bytes())).collect();
    let entries: Vec<(&str, &[u8])> = batch.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    t.batch_put(&entries, None).await.expect("batch put");
    let keys: Vec<&str> = batch.iter().map(|(k, _)| k.as_str()).collect();
    let got = t.batch_get(&keys).await.expect("batch get");
    assert_eq!(got.len(), batch.len(), "batch get found {got:?}");
    let page = t.scan_prefix("b/", 100, None).await.expect("scan");
    let scanned: Vec<(String, Vec<u8>)> = page.entries.into_iter().map(|e| (e.key, e.value)).collect();
    assert_eq!(scanned, batch, "scan answered other entries");
    let swapped = format!("{value}-swapped");
    t.compare_and_swap("a", Some(value.as_bytes()), swapped.as_bytes(), None).await.expect("compare-and-swap");
    assert_eq!(t.get("a").await.expect("get").as_deref(), Some(swapped.as_bytes()));
    t.delete("a").await.expect("delete");
    assert!(t.get("a").await.expect("get").is_none(), "deleted key still answers");
    t.batch_delete(&keys).await.expect("batch delete");
    assert!(t.scan_prefix("b/", 100, None).await.expect("scan").entries.is_empty(), "batch delete left keys");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_region_errors_and_store_failures_are_retried_and_every_call_succeeds() {
    bounded!(async {
        let c = cluster().await;
        let s = store(&c, TIMEOUT).await;
        // Users on both sides of each split key, so calls span regions.
        let tenants = [tenant(&s, "alpha"), tenant(&s, "mike"), tenant(&s, "zulu")];
        every_call(&tenants[0], 0).await;
        for (round, fault) in RETRIED_BY_THE_CLIENT.into_iter().enumerate() {
            let lookups = c.request_count("GetRegion") + c.request_count("GetRegionByID");
            c.inject(fault, Some(3));
            let started = Instant::now();
            for t in &tenants {
                every_call(t, round + 1).await;
            }
            assert_eq!(c.faults_answered(fault.name()), 3, "{fault:?}: the fault was not met three times");
            let after = c.request_count("GetRegion") + c.request_count("GetRegionByID");
            assert!(after > lookups, "{fault:?}: the client never asked PD again for the region");
            assert!(started.elapsed() < Duration::from_secs(10), "{fault:?}: took {:?}", started.elapsed());
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_moves_to_another_store_is_followed() {
    bounded!(async {
        let c = cluster().await;
        let s = store(&c, TIMEOUT).await;
        let t = tenant(&s, "mike");
        every_call(&t, 0).await;
        assert_eq!(c.calls_to_store(2), 0, "calls went to store 2 before any leader moved there");
        for (round, to) in [2_u64, 1, 2].into_iter().enumerate() {
            let refused = c.faults_answered("NotLeader");
            assert_eq!(c.move_leaders(), to);
            every_call(&t, round + 1).await;
            assert!(c.faults_answered("NotLeader") > refused, "no call met the old leader");
            // Settled: the client now sends everything to the new leader's store.
            let from = if to == 1 { 2 } else { 1 };
            let (old, new) = (c.calls_to_store(from), c.calls_to_store(to));
            every_call(&t, round + 10).await;
            assert_eq!(c.calls_to_store(from), old, "calls still went to store {from} after the move");
            assert!(c.calls_to_store(to) > new, "no call reached the new leader on store {to}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_store_is_asked_again_with_backoff_then_reported_unavailable() {
    bounded!(async {
        let c = cluster().await;
        let timeout = Duration::from_secs(2);
        let s = store(&c, timeout).await;
        let t = tenant(&s, "mike");
        // Busy for four calls: tikv-client hands ServerIsBusy back, p8fs asks again after
        // 20, 40, 80 and 160 ms.
        c.inject(Fault::ServerIsBusy, Some(4));
        let started = Instant::now();
        t.put("k", b"1", None).await.expect("a put to a store busy for four calls");
        let took = started.elapsed();
        assert_eq!(c.faults_answered("ServerIsBusy"), 4);
        assert!(took >= Duration::from_millis(300), "no backoff between the calls: {took:?}");
        assert_eq!(t.get("k").await.expect("get").as_deref(), Some(&b"1"[..]));
        // Compare-and-swap too: a busy store ran nothing, so asking again is safe.
        c.inject(Fault::ServerIsBusy, Some(2));
        t.compare_and_swap("k", Some(b"1"), b"2", None).await.expect("compare-and-swap to a busy store");
        assert_eq!(t.get("k").await.expect("get").as_deref(), Some(&b"2"[..]));

        // Busy for good: a retryable Unavailable within the timeout, after a bounded
        // number of calls (the backoff doubles up to 500 ms).
        let before = c.faults_answered("ServerIsBusy");
        c.inject(Fault::ServerIsBusy, None);
        let started = Instant::now();
        let e = t.put("k", b"3", None).await.expect_err("a put to a store that stays busy");
        let took = started.elapsed();
        assert_eq!(e.kind(), KvErrorKind::Unavailable, "{e}");
        assert!(e.is_retryable(), "{e}");
        assert!(
            p8fs_tests::error_chain(&e).contains("busy"),
            "the error does not say why: {}",
            p8fs_tests::error_chain(&e)
        );
        assert!(took <= timeout + Duration::from_millis(500), "took {took:?} for a {timeout:?} timeout");
        let calls = c.faults_answered("ServerIsBusy") - before;
        assert!((3..=12).contains(&calls), "{calls} calls in {took:?}: not a doubling backoff");
        c.clear_faults();
        assert_eq!(t.get("k").await.expect("get once the store is no longer busy").as_deref(), Some(&b"2"[..]));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_errors_that_never_clear_end_as_unavailable_within_the_timeout() {
    bounded!(async {
        let c = cluster().await;
        let s = store(&c, TIMEOUT).await;
        let t = tenant(&s, "mike");
        t.put("k", b"kept", None).await.expect("put");
        for fault in RETRIED_BY_THE_CLIENT {
            let before = c.faults_answered(fault.name());
            c.inject(fault, None);
            let started = Instant::now();
            let get = t.get("k").await.expect_err("a get that meets the fault on every call");
            let put = t.put("k", b"lost?", None).await.expect_err("a put that meets the fault on every call");
            let took = started.elapsed();
            for e in [&get, &put] {
                assert_eq!(e.kind(), KvErrorKind::Unavailable, "{fault:?}: {e}");
                assert!(e.is_retryable(), "{fault:?}: {e}");
            }
            assert!(took < TIMEOUT, "{fault:?}: two calls took {took:?}");
            let calls = c.faults_answered(fault.name()) - before;
            assert!((4..=60).contains(&calls), "{fault:?}: {calls} calls for two operations");
            c.clear_faults();
            assert_eq!(t.get("k").await.expect("get after the fault").as_deref(), Some(&b"kept"[..]), "{fault:?}");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_stores_answer_late_or_time_out_never_hang() {
    bounded!(async {
        let c = cluster().await;
        let timeout = Duration::from_secs(1);
        let s = store(&c, timeout).await;
        let t = tenant(&s, "mike");
        t.put("k", b"v", None).await.expect("put");
        // Slower than usual, within the timeout: answered, late.
        c.inject(Fault::Slow(Duration::from_millis(300)), Some(1));
        let started = Instant::now();
        assert_eq!(t.get("k").await.expect("a slow get").as_deref(), Some(&b"v"[..]));
        assert!(started.elapsed() >= Duration::from_millis(300), "the call was not delayed");
        // A store that stops answering: a retryable timeout at the deadline.
        c.inject(Fault::Slow(Duration::from_secs(60)), None);
        for op in ["get", "put", "scan"] {
            let started = Instant::now();
            let e = match op {
                "get" => t.get("k").await.map(|_| ()),
                "put" => t.put("k", b"w", None).await,
                _ => t.scan_prefix("", 10, None).await.map(|_| ()),
            }
            .expect_err("a call to a store that does not answer");
            let took = started.elapsed();
            assert_eq!(e.kind(), KvErrorKind::Timeout, "{op}: {e}");
            assert!(e.is_retryable(), "{op}: {e}");
            assert!(took < timeout + Duration::from_millis(700), "{op}: took {took:?} for a {timeout:?} timeout");
        }
        c.clear_faults();
        let started = Instant::now();
        t.get("k").await.expect("get once the store answers again");
        assert!(started.elapsed() < timeout, "the client did not recover at once: {:?}", started.elapsed());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_answers_503_while_its_tikv_store_is_down_and_recovers_by_itself() {
    bounded!(async {
        let c = cluster().await;
        let s = store(&c, TIMEOUT).await;
        s.put(&Namespace::Tenant(TenantId::new("t").unwrap()), &Key::new("k").unwrap(), b"v", None).await.unwrap();
        let proxy = RunningProxy::start(Arc::clone(&s) as Arc<dyn KvBackend>, p8fs_server::ServerConfig::default())
            .await
            .expect("proxy");
        let b = proxy.base_url();
        let h = reqwest::Client::new();
        assert_eq!(h.get(format!("{b}/readyz")).send().await.unwrap().status(), StatusCode::OK);
        c.inject(Fault::StoreUnavailable, None);
        // The data route first: readiness reuses its last probe for a second.
        for (what, url) in [("get", format!("{b}/v1/kv/t/keys/k")), ("readiness", format!("{b}/readyz"))] {
            let started = Instant::now();
            let r = h.get(url).send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {text}");
            let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
            assert!(body.pointer("/error/message").is_some(), "{what}: {text}");
            assert!(started.elapsed() < TIMEOUT, "{what}: took {:?}", started.elapsed());
        }
        c.clear_faults();
        // Back by itself, no restart: readiness within its one-second reuse, data at once.
        let r = h.get(format!("{b}/v1/kv/t/keys/k")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let back = Instant::now();
        while h.get(format!("{b}/readyz")).send().await.unwrap().status() != StatusCode::OK {
            assert!(back.elapsed() < Duration::from_secs(3), "readiness did not come back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        proxy.stop().await;
    });
}
