//! The test server as tikv-client's `RawClient` sees it, including the RPCs `TikvStore` does
//! not use (`RawScan`, `RawBatchDelete`, `RawDeleteRange`, `RawGetKeyTTL`).

use std::time::Duration;

use p8fs_tikv_test_server::TestCluster;
use tikv_client::{Config, RawClient};

fn keys(pairs: Vec<tikv_client::KvPair>) -> Vec<Vec<u8>> {
    pairs.into_iter().map(|p| p.0.into()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_client_round_trip() {
    let c = TestCluster::start(vec![b"m".to_vec()]).await.unwrap();
    assert!(TestCluster::start(vec![]).await.is_err(), "one region is refused");
    let raw = RawClient::new(vec![c.pd_endpoint()]).await.unwrap();
    for k in [&b"a"[..], b"b", b"c", b"n", b"o"] {
        raw.put(k.to_vec(), k.to_vec()).await.unwrap();
    }
    // Scans within one region: key-only, and reverse (TiKV's bounds, swapped by the client).
    let got = raw.scan_keys(b"a".to_vec()..b"c".to_vec(), 10).await.unwrap();
    assert_eq!(got, vec![tikv_client::Key::from(b"a".to_vec()), b"b".to_vec().into()]);
    let got = raw.scan_reverse(b"a".to_vec()..b"c".to_vec(), 10).await.unwrap();
    assert_eq!(keys(got), vec![b"b".to_vec(), b"a".to_vec()]);
    let got = raw.scan(b"a".to_vec()..b"l".to_vec(), 2).await.unwrap();
    assert_eq!(keys(got), vec![b"a".to_vec(), b"b".to_vec()], "the limit holds");
    assert!(c.request_count("RawScan") >= 3);

    // TTLs, in whole seconds.
    raw.put_with_ttl(b"t".to_vec(), b"v".to_vec(), 30).await.unwrap();
    let ttl = raw.get_key_ttl_secs(b"t".to_vec()).await.unwrap();
    assert!(matches!(ttl, Some(29..=30)), "{ttl:?}");
    assert_eq!(raw.get_key_ttl_secs(b"a".to_vec()).await.unwrap(), Some(0), "no TTL");
    assert_eq!(raw.get_key_ttl_secs(b"zz".to_vec()).await.unwrap(), None, "missing key");

    // Batch delete and delete range, across the split.
    raw.batch_delete(vec![b"a".to_vec(), b"n".to_vec(), b"zz".to_vec()]).await.unwrap();
    assert_eq!(c.request_count("RawBatchDelete"), 2, "one request per region");
    assert_eq!(raw.batch_get(vec![b"a".to_vec(), b"b".to_vec(), b"n".to_vec()]).await.unwrap().len(), 1);
    raw.delete_range(b"b".to_vec()..b"o".to_vec()).await.unwrap();
    assert_eq!(c.stored_keys(), vec![b"o".to_vec(), b"t".to_vec()]);

    // Compare-and-swap in atomic mode.
    let atomic = raw.with_atomic_for_cas();
    assert_eq!(
        atomic.compare_and_swap(b"o".to_vec(), None, b"x".to_vec()).await.unwrap(),
        (Some(b"o".to_vec()), false)
    );
    assert_eq!(
        atomic.compare_and_swap(b"o".to_vec(), Some(b"o".to_vec()), b"x".to_vec()).await.unwrap(),
        (Some(b"o".to_vec()), true)
    );
    assert_eq!(atomic.compare_and_swap(b"new".to_vec(), None, b"1".to_vec()).await.unwrap(), (None, true));
    assert!(c.request_count("GetMembers") >= 1 && c.request_count("GetRegion") >= 2);
    c.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_cluster_serves_an_api_v2_client() {
    let c = TestCluster::start_with_keyspace("ks", 0x01_02_03, vec![b"k5".to_vec()]).await.unwrap();
    let config = Config::default().with_keyspace("ks").with_timeout(Duration::from_secs(5));
    let raw = RawClient::new_with_config(vec![c.pd_endpoint()], config).await.unwrap();
    for i in 0..10 {
        raw.put(format!("k{i}").into_bytes(), vec![i]).await.unwrap();
    }
    // Keyspace scans are bounded by the keyspace's end, a region boundary: no restart quirk.
    let got = raw.scan(b"k".to_vec().., 100).await.unwrap();
    assert_eq!(got.len(), 10);
    assert!(c.stored_keys().iter().all(|k| k.starts_with(b"r\x01\x02\x03k")));
    c.shutdown().await;
}
