//! `TikvStore` against the PD + TiKV stand-in (`p8fs-tikv-test-server`), through the real
//! tikv-client `RawClient`, on clusters of two or more regions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use p8fs_kv::{Key, Kv, KvBackend, KvError, KvErrorKind, Namespace, TenantId, TenantKv};
use p8fs_kv::{TikvConfig, TikvStore, probe_tikv as probe};
use p8fs_tikv_test_server::TestCluster;
use tikv_client::RawClient;

const TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds every test body: a scan that loops forever fails instead of hanging the run.
const TEST_DEADLINE: Duration = Duration::from_secs(60);

async fn cluster(splits: &[&[u8]]) -> TestCluster {
    TestCluster::start(splits.iter().map(|s| s.to_vec()).collect()).await.expect("start the test cluster")
}

fn config(c: &TestCluster) -> TikvConfig {
    TikvConfig { pd_endpoints: vec![c.pd_endpoint()], keyspace: None, timeout: TIMEOUT }
}

async fn kv(c: &TestCluster) -> Kv {
    Kv::new(Arc::new(TikvStore::connect(config(c)).await.expect("connect")))
}

fn tenant(kv: &Kv, id: &str) -> TenantKv {
    kv.tenant(&TenantId::new(id).expect("tenant id"))
}

fn keys_of(entries: &[p8fs_kv::KvPair]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

/// Every key of `prefix`, paged with `page_size`, checking each page.
async fn page_through(t: &TenantKv, prefix: &str, page_size: usize) -> Vec<String> {
    let mut got: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10_000 {
        let page = t.scan_prefix(prefix, page_size, after.as_deref()).await.expect("scan");
        assert!(page.entries.len() <= page_size, "page of {} for limit {page_size}", page.entries.len());
        got.extend(page.entries.into_iter().map(|e| e.key));
        match page.next {
            Some(n) => after = Some(n),
            None => return got,
        }
    }
    panic!("paging did not end");
}

fn assert_strictly_sorted(keys: &[String]) {
    for w in keys.windows(2) {
        assert!(w[0] < w[1], "out of order or duplicate: {:?} then {:?}", w[0], w[1]);
    }
}

macro_rules! bounded {
    ($body:expr) => {
        tokio::time::timeout(TEST_DEADLINE, $body).await.expect("the test did not finish in time")
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_put_overwrite_delete() {
    bounded!(async {
        let c = cluster(&[b"t1/m"]).await;
        let t = tenant(&kv(&c).await, "t1");
        assert_eq!(t.get("a").await.unwrap(), None);
        for k in ["a", "z"] {
            // "t1/a" and "t1/z" sit on both sides of the split.
            t.put(k, b"first, longer value", None).await.unwrap();
            t.put(k, b"2nd", None).await.unwrap();
            assert_eq!(t.get(k).await.unwrap().as_deref(), Some(&b"2nd"[..]));
        }
        t.put("empty", b"", None).await.unwrap();
        assert_eq!(t.get("empty").await.unwrap().as_deref(), Some(&b""[..]), "empty values are values");
        t.delete("a").await.unwrap();
        t.delete("a").await.unwrap();
        t.delete("never").await.unwrap();
        assert_eq!(t.get("a").await.unwrap(), None);
        assert_eq!(t.get("z").await.unwrap().as_deref(), Some(&b"2nd"[..]));
        assert!(c.request_count("RawPut") >= 5 && c.request_count("RawDelete") >= 3);
        t.backend().ping().await.unwrap();
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_values_round_trip() {
    bounded!(async {
        let c = cluster(&[b"t1/m"]).await;
        let t = tenant(&kv(&c).await, "t1");
        let max = t.backend().capability().max_value_bytes;
        let big: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
        t.put("big", &big, None).await.unwrap();
        assert!(t.get("big").await.unwrap() == Some(big), "an 8 MiB value did not round-trip");
        let too_big = vec![0u8; max + 1];
        assert_eq!(t.put("big", &too_big, None).await.unwrap_err().kind(), KvErrorKind::TooLarge);
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_keys_are_invisible_right_after_expiry() {
    bounded!(async {
        let c = cluster(&[b"t1/m"]).await;
        let t = tenant(&kv(&c).await, "t1");
        let start = Instant::now();
        t.put("short", b"v", Some(Duration::from_secs(1))).await.unwrap();
        t.batch_put(&[("short-b", b"v"), ("zz-short", b"v")], Some(Duration::from_millis(300))).await.unwrap();
        t.put("long", b"v", Some(Duration::from_secs(600))).await.unwrap();
        t.put("cleared", b"old", Some(Duration::from_secs(1))).await.unwrap();
        t.put("cleared", b"new", None).await.unwrap();
        assert!(t.get("short").await.unwrap().is_some(), "a live key must be readable");
        assert_eq!(t.batch_get(&["short", "short-b", "zz-short", "long"]).await.unwrap().len(), 4);
        if let Some(left) = Duration::from_millis(1500).checked_sub(start.elapsed()) {
            tokio::time::sleep(left).await;
        }
        // Sub-second TTLs round up to 1 s, so all three short keys have expired at 1.5 s.
        for k in ["short", "short-b", "zz-short"] {
            assert_eq!(t.get(k).await.unwrap(), None, "{k} is still readable after its TTL");
        }
        let got = t.batch_get(&["short", "short-b", "zz-short", "long"]).await.unwrap();
        assert_eq!(keys_of(&got), ["long"]);
        let page = t.scan_prefix("", 100, None).await.unwrap();
        assert_eq!(keys_of(&page.entries), ["cleared", "long"]);
        assert_eq!(t.get("cleared").await.unwrap().as_deref(), Some(&b"new"[..]), "a put without TTL keeps a TTL");
        // CAS sees an expired key as absent.
        t.compare_and_swap("short", None, b"again", None).await.unwrap();
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_get_put_delete_across_regions() {
    bounded!(async {
        let c = cluster(&[b"t1/b/150"]).await;
        let t = tenant(&kv(&c).await, "t1");
        let entries: Vec<(String, Vec<u8>)> =
            (100..300).map(|i| (format!("b/{i}"), format!("v{i}").into_bytes())).collect();
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        t.batch_put(&refs, None).await.unwrap();
        assert!(c.request_count("RawBatchPut") >= 2, "a batch over two regions is two requests");

        let got = t.batch_get(&["b/100", "b/149", "b/150", "b/299", "missing", "b/999", "b/100"]).await.unwrap();
        let mut keys: Vec<&str> = keys_of(&got);
        keys.sort_unstable();
        assert_eq!(keys, ["b/100", "b/149", "b/150", "b/299"], "missing keys are omitted, each key once");
        for p in &got {
            assert_eq!(p.value, format!("v{}", &p.key[2..]).into_bytes());
        }

        let doomed: Vec<String> = (140..160).map(|i| format!("b/{i}")).chain(["missing".to_owned()]).collect();
        let doomed: Vec<&str> = doomed.iter().map(String::as_str).collect();
        let before = c.request_count("RawDelete");
        t.batch_delete(&doomed).await.unwrap();
        assert_eq!(c.request_count("RawDelete") - before, 21, "atomic mode: one delete per key");
        let left = page_through(&t, "b/", 1000).await;
        assert_eq!(left.len(), 180);
        assert!(!left.iter().any(|k| ("b/140".."b/160").contains(&k.as_str())));
        assert_eq!(t.delete_prefix("b/").await.unwrap(), 180);
        assert!(t.scan_prefix("", 10, None).await.unwrap().entries.is_empty());
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_swap_succeeds_and_conflicts() {
    bounded!(async {
        let c = cluster(&[b"t1/m"]).await;
        let t = tenant(&kv(&c).await, "t1");
        t.compare_and_swap("c", None, b"v1", None).await.unwrap();
        t.compare_and_swap("c", Some(b"v1"), b"v2", None).await.unwrap();
        t.compare_and_swap("c", Some(b"v2"), b"v2", None).await.unwrap();
        assert_eq!(t.get("c").await.unwrap().as_deref(), Some(&b"v2"[..]));
        match t.compare_and_swap("c", Some(b"stale"), b"lost", None).await {
            Err(KvError::ConditionNotMet { current, .. }) => assert_eq!(current.as_deref(), Some(&b"v2"[..])),
            other => panic!("expected ConditionNotMet, got {other:?}"),
        }
        match t.compare_and_swap("c", None, b"lost", None).await {
            Err(KvError::ConditionNotMet { current, .. }) => assert_eq!(current.as_deref(), Some(&b"v2"[..])),
            other => panic!("create-if-absent on a present key: got {other:?}"),
        }
        match t.compare_and_swap("zabsent", Some(b"x"), b"lost", None).await {
            Err(KvError::ConditionNotMet { current, .. }) => assert_eq!(current, None),
            other => panic!("swap of an absent key: got {other:?}"),
        }
        // An empty expected value is not "absent".
        match t.compare_and_swap("zabsent", Some(b""), b"lost", None).await {
            Err(KvError::ConditionNotMet { current, .. }) => assert_eq!(current, None),
            other => panic!("swap from empty of an absent key: got {other:?}"),
        }
        assert_eq!(t.get("zabsent").await.unwrap(), None, "a failed CAS created a key");
        let e = t.compare_and_swap("c", Some(b"v2"), b"v3", Some(Duration::from_secs(5))).await.unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::Unsupported, "{e}");

        // Concurrent increments on both sides of the split: none lost.
        for key in ["counter", "zcounter"] {
            t.put(key, b"0", None).await.unwrap();
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let t = t.clone();
                tasks.push(tokio::spawn(async move {
                    let mut done = 0;
                    while done < 10 {
                        let cur = t.get(key).await.unwrap().expect("counter");
                        let n: u64 = std::str::from_utf8(&cur).unwrap().parse().unwrap();
                        match t.compare_and_swap(key, Some(&cur), (n + 1).to_string().as_bytes(), None).await {
                            Ok(()) => done += 1,
                            Err(KvError::ConditionNotMet { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            assert_eq!(t.get(key).await.unwrap().as_deref(), Some(&b"80"[..]));
        }
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_pages_across_region_boundaries_without_duplicates_or_gaps() {
    bounded!(async {
        // Two splits inside the tenant's range, one of them an existing key.
        let c = cluster(&[b"t1/item/00100", b"t1/item/00200x"]).await;
        assert_eq!(c.regions().len(), 3);
        let t = tenant(&kv(&c).await, "t1");
        let mut all: Vec<String> = (0..250).map(|i| format!("item/{i:05}")).collect();
        all.extend(["item", "item/", "item0", "item/ü", "items/x", "itel", "item/00200x"].map(String::from));
        for chunk in all.chunks(64) {
            let entries: Vec<(&str, &[u8])> = chunk.iter().map(|k| (k.as_str(), k.as_bytes())).collect();
            t.batch_put(&entries, None).await.unwrap();
        }
        all.sort();
        for page_size in [1, 7, 99, 100, 101, 1000] {
            let got = page_through(&t, "", page_size).await;
            assert_strictly_sorted(&got);
            assert_eq!(got, all, "page size {page_size}");
        }
        let item: Vec<String> = all.iter().filter(|k| k.starts_with("item/")).cloned().collect();
        assert_eq!(page_through(&t, "item/", 13).await, item);
        // A range that starts and ends at region boundaries.
        let range = t.scan_range("item/00100", Some("item/00200x"), 1000, None).await.unwrap();
        let want: Vec<String> = (100..200).map(|i| format!("item/{i:05}")).chain(["item/00200".into()]).collect();
        assert_eq!(keys_of(&range.entries), want.iter().map(String::as_str).collect::<Vec<_>>());
        // A limit that ends exactly at a boundary, then the continuation.
        let first = t.scan_range("item/00090", None, 10, None).await.unwrap();
        assert_eq!(first.entries.last().map(|e| e.key.as_str()), Some("item/00099"));
        let next = t.scan_range("item/00090", None, 2, first.next.as_deref()).await.unwrap();
        assert_eq!(keys_of(&next.entries), ["item/00100", "item/00101"]);
        for e in &range.entries {
            assert_eq!(e.value, e.key.as_bytes(), "values follow their keys");
        }
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_entirely_in_the_last_region_with_fewer_keys_than_the_limit() {
    bounded!(async {
        let c = cluster(&[b"m"]).await;
        let kv = kv(&c).await;
        // Keys before the range, in the first region: tikv-client's scan would return them.
        tenant(&kv, "a").put("before", b"x", None).await.unwrap();
        let z = tenant(&kv, "z1");
        for k in ["k1", "k2", "k3"] {
            z.put(k, b"v", None).await.unwrap();
        }
        let page = z.scan_prefix("", 100, None).await.unwrap();
        assert_eq!(keys_of(&page.entries), ["k1", "k2", "k3"]);
        assert_eq!(page.next, None);
        let page = z.scan_range("k2", None, 10_000, None).await.unwrap();
        assert_eq!(keys_of(&page.entries), ["k2", "k3"]);
        // A range ending inside the last region.
        let page = z.scan_range("k1", Some("k3"), 50, None).await.unwrap();
        assert_eq!(keys_of(&page.entries), ["k1", "k2"]);
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_ranges_terminate() {
    bounded!(async {
        let c = cluster(&[b"m"]).await;
        let kv = kv(&c).await;
        for id in ["a", "z"] {
            // "a/" lies in the first region, "z/" in the last; neither tenant has keys.
            let t = tenant(&kv, id);
            assert!(t.scan_prefix("", 100, None).await.unwrap().entries.is_empty());
            assert!(t.scan_range("x", Some("y"), 100, None).await.unwrap().entries.is_empty());
            assert!(t.scan_range("y", Some("x"), 100, None).await.unwrap().entries.is_empty());
        }
        let ns = Namespace::Tenant(TenantId::new("z").unwrap());
        let backend = kv.backend();
        assert!(backend.scan(&ns, b"q", Some(b"q"), 5).await.unwrap().is_empty());
        // The whole, empty, cluster from the global namespace.
        assert!(kv.global().scan_prefix("", 100, None).await.unwrap().entries.is_empty());
        assert!(c.request_count("RawBatchScan") < 20, "empty scans took {} requests", c.request_count("RawBatchScan"));
        // Limits are the check layer's: 0 is refused before TiKV is asked, and the backend
        // declares its maximum (a larger limit through `Kv` is served page by page).
        let before = c.request_count("RawBatchScan");
        let e = tenant(&kv, "z").scan_prefix("", 0, None).await.unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::InvalidArgument);
        assert_eq!(c.request_count("RawBatchScan"), before, "a refused scan reached TiKV");
        let cap = backend.capability();
        assert_eq!(cap.max_scan_limit, 10_240);
        assert_eq!(cap.check_scan_limit(10_241).unwrap_err().kind(), KvErrorKind::InvalidArgument);
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_whose_ids_share_a_prefix_stay_apart() {
    bounded!(async {
        // "t1." < "t1/" < "t10/" in byte order; splits between and inside them.
        let c = cluster(&[b"t10/", b"t1/m"]).await;
        let kv = kv(&c).await;
        let (t1, t10, t1dot) = (tenant(&kv, "t1"), tenant(&kv, "t10"), tenant(&kv, "t1."));
        for (t, label) in [(&t1, "t1"), (&t10, "t10"), (&t1dot, "t1.")] {
            for k in ["x", "/x", "0/y", "a/b/c", "zz"] {
                t.put(k, label.as_bytes(), None).await.unwrap();
            }
        }
        kv.global().put("device_auth:abc", b"global", None).await.unwrap();
        for prefix in ["", "/", "0", "a", "z"] {
            for page_size in [1, 2, 100] {
                let mut after = None;
                let mut seen = Vec::new();
                loop {
                    let page = t1.scan_prefix(prefix, page_size, after.as_deref()).await.unwrap();
                    for e in &page.entries {
                        assert_eq!(e.value, b"t1", "t1's scan of {prefix:?} returned {:?} of another tenant", e.key);
                        seen.push(e.key.clone());
                    }
                    match page.next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                let want = ["x", "/x", "0/y", "a/b/c", "zz"].iter().filter(|k| k.starts_with(prefix)).count();
                assert_eq!(seen.len(), want, "t1, prefix {prefix:?}, page {page_size}");
            }
        }
        assert_eq!(t10.get("x").await.unwrap().as_deref(), Some(&b"t10"[..]));
        let global = kv.global().scan_prefix("", 100, None).await.unwrap();
        assert_eq!(keys_of(&global.entries), ["device_auth:abc"], "a global scan returned tenant keys");
        let global = kv.global().scan_prefix("", 1, None).await.unwrap();
        assert_eq!(keys_of(&global.entries), ["device_auth:abc"], "tenant keys before it are skipped, not counted");
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_mode_basics() {
    bounded!(async {
        let c = TestCluster::start_with_keyspace("p8fs", 7, vec![b"t1/m".to_vec()]).await.unwrap();
        // PD's layout around the keyspace, plus the user split inside it.
        let starts: Vec<Vec<u8>> = c.regions().into_iter().map(|r| r.0).collect();
        assert!(starts.contains(&b"r\x00\x00\x07".to_vec()) && starts.contains(&b"r\x00\x00\x08".to_vec()));
        assert!(starts.contains(&b"r\x00\x00\x07t1/m".to_vec()));
        let store = TikvStore::connect(TikvConfig { keyspace: Some("p8fs".into()), ..config(&c) }).await.unwrap();
        assert_eq!(c.request_count("LoadKeyspace"), 1);
        let kv = Kv::new(Arc::new(store));
        let t = tenant(&kv, "t1");
        let keys: Vec<String> = (0..40).map(|i| format!("{}{i:02}", if i % 2 == 0 { "a" } else { "z" })).collect();
        let entries: Vec<(&str, &[u8])> = keys.iter().map(|k| (k.as_str(), k.as_bytes())).collect();
        t.batch_put(&entries, None).await.unwrap();
        t.put("m", b"at the split", None).await.unwrap();
        let mut want: Vec<String> = keys.clone();
        want.push("m".into());
        want.sort();
        for page_size in [1, 3, 1000] {
            assert_eq!(page_through(&t, "", page_size).await, want, "page size {page_size}");
        }
        assert_eq!(t.get("m").await.unwrap().as_deref(), Some(&b"at the split"[..]));
        t.compare_and_swap("m", Some(b"at the split"), b"swapped", None).await.unwrap();
        assert!(t.compare_and_swap("m", None, b"x", None).await.is_err());
        t.batch_delete(&["a00", "z01", "m"]).await.unwrap();
        assert_eq!(t.batch_get(&["a00", "z01", "m", "a02"]).await.unwrap().len(), 1);
        t.put("ttl", b"v", Some(Duration::from_secs(1))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(t.get("ttl").await.unwrap(), None);
        assert!(tenant(&kv, "t10").scan_prefix("", 10, None).await.unwrap().entries.is_empty());

        // The keys live under the keyspace's raw prefix.
        let stored = c.stored_keys();
        assert!(stored.contains(&b"r\x00\x00\x07t1/a02".to_vec()), "{stored:?}");
        assert!(stored.iter().all(|k| k.starts_with(b"r\x00\x00\x07t1/")), "{stored:?}");

        // An unknown keyspace fails to connect.
        let bad = TikvConfig { keyspace: Some("nope".into()), timeout: Duration::from_secs(3), ..config(&c) };
        let e = TikvStore::connect(bad).await.unwrap_err();
        assert!(matches!(e.kind(), KvErrorKind::Unavailable | KvErrorKind::Timeout), "{e}");
        c.shutdown().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_pd_is_unavailable_and_probe_says_so() {
    bounded!(async {
        let c = cluster(&[b"m"]).await;
        assert!(probe(&[c.pd_endpoint()], TIMEOUT).await);
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let started = Instant::now();
        assert!(!probe(std::slice::from_ref(&dead), Duration::from_secs(2)).await);
        let e = TikvStore::connect(TikvConfig { pd_endpoints: vec![dead], keyspace: None, timeout: TIMEOUT })
            .await
            .unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::Unavailable, "{e}");
        assert!(e.to_string().starts_with("tikv: "), "{e}");
        assert!(started.elapsed() < Duration::from_secs(4), "a refused connection should fail fast");

        // The cluster goes away under a connected store: retryable errors, within the timeout.
        let store = TikvStore::connect(TikvConfig { timeout: Duration::from_secs(2), ..config(&c) }).await.unwrap();
        let ns = Namespace::Global;
        store.put(&ns, &Key::new("k").unwrap(), b"v", None).await.unwrap();
        c.shutdown().await;
        let started = Instant::now();
        let e = store.get(&ns, &Key::new("k").unwrap()).await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    });
}

/// Documents the tikv-client 0.4 quirk `TikvStore` avoids: `RawClient::scan` over a range that
/// ends in the last region, holding fewer keys than the limit, starts over from the first
/// region. If this test fails, tikv-client changed and the guard may be simplified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tikv_client_raw_scan_restarts_from_the_first_region() {
    bounded!(async {
        let c = cluster(&[b"m"]).await;
        let raw = RawClient::new(vec![c.pd_endpoint()]).await.unwrap();
        raw.put(b"a".to_vec(), b"before the range".to_vec()).await.unwrap();
        raw.put(b"x1".to_vec(), b"v".to_vec()).await.unwrap();
        let got = raw.scan(b"x".to_vec()..b"y".to_vec(), 5).await.unwrap();
        let keys: Vec<Vec<u8>> = got.into_iter().map(|p| p.0.into()).collect();
        assert!(keys.contains(&b"a".to_vec()), "expected keys from outside the range, got {keys:?}");
        assert!(keys.iter().filter(|k| k.as_slice() == b"x1").count() > 1, "expected duplicates, got {keys:?}");
        // With nothing before the range either, it never returns.
        let empty = cluster(&[b"m"]).await;
        let raw = RawClient::new(vec![empty.pd_endpoint()]).await.unwrap();
        let hung = tokio::time::timeout(Duration::from_secs(1), raw.scan(b"x".to_vec()..b"y".to_vec(), 5)).await;
        assert!(hung.is_err(), "the empty scan returned: {hung:?}");
        // An unbounded end stops after the first region.
        raw.put(b"b".to_vec(), b"v".to_vec()).await.unwrap();
        raw.put(b"n".to_vec(), b"v".to_vec()).await.unwrap();
        let got = raw.scan(b"a".to_vec().., 10).await.unwrap();
        assert_eq!(got.len(), 1, "the unbounded scan saw past the first region");
        c.shutdown().await;
        empty.shutdown().await;
    });
}
