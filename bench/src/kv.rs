//! KV workloads: W7 (the embedded store through the trait against redb's own API), W8
//! (the HTTP proxy against direct calls and against a minimal axum proxy), W9 (a
//! reverse-mapping write against three separate puts), W11 (the TiKV store against
//! tikv-client called directly).
//!
//! The p8fs side always goes through the public p8fs API; the peer is the hand-written
//! direct call doing the same work on a store of the same kind.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, ensure};
use async_trait::async_trait;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use futures::future::try_join_all;
use p8fs_kv::Result as KvResult;
use p8fs_kv::{
    Capability, EmbeddedStore, HttpConfig, HttpStore, Key, Kv, KvBackend, KvPair, Namespace, ScopedKv, TenantId,
    TikvConfig, TikvStore,
};
use p8fs_reverse_map::{Mapping, ReverseMap};
use p8fs_server::{Limits, Metrics, ServerConfig};
use p8fs_tikv_test_server::TestCluster;
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::Env;
use crate::harness::{Row, Scale, compare};

/// The tenant of the embedded and HTTP workloads (both sides; they use separate files).
const TENANT: &str = "bench";
/// Bytes of every value.
const VALUE_BYTES: usize = 100;
/// Keys under each scan prefix, and the scan limit (W7).
const SCAN_LEN: usize = 100;
/// Concurrent requests of one operation in the `c32` variants (W8).
const GROUP: usize = 32;
/// Note of the `c32` rows.
const GROUP_NOTE: &str = "one operation = a group of 32 concurrent requests (join): requests/s = ops/s x 32";

/// The value written for number `n`: `VALUE_BYTES` ASCII bytes that name `n`.
fn val(n: usize) -> Vec<u8> {
    format!("{n:0>VALUE_BYTES$}").into_bytes()
}

/// The pre-populated keys read by the get variants: `g0`, `g1`, ...
fn pool_key(n: usize, pool: usize) -> String {
    format!("g{}", n % pool)
}

/// `pool` keys and their values.
fn pool_entries(pool: usize) -> Vec<(String, Vec<u8>)> {
    (0..pool).map(|n| (pool_key(n, pool), val(n))).collect()
}

/// Writes `entries` through `t`, a batch at a time (setup, not measured).
async fn populate(t: &ScopedKv, entries: &[(String, Vec<u8>)]) -> Result<()> {
    for chunk in entries.chunks(500) {
        let refs: Vec<(&str, &[u8])> = chunk.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        t.batch_put(&refs, None).await?;
    }
    Ok(())
}

/// Reads one key through p8fs; a missing key is an error (it would measure the wrong path).
async fn get_one(t: &ScopedKv, key: &str) -> Result<()> {
    let v = t.get(key).await?;
    ensure!(v.is_some(), "key {key} is missing");
    Ok(())
}

/// Reads `GROUP` pool keys concurrently through p8fs.
async fn get_group(t: &ScopedKv, i: usize, pool: usize) -> Result<()> {
    let keys: Vec<String> = (0..GROUP).map(|j| pool_key(i * GROUP + j, pool)).collect();
    let found = try_join_all(keys.iter().map(|k| t.get(k))).await?;
    ensure!(found.iter().all(Option::is_some), "a key of group {i} is missing");
    Ok(())
}

/// Writes `GROUP` fresh keys concurrently through p8fs.
async fn put_group(t: &ScopedKv, i: usize) -> Result<()> {
    let entries: Vec<(String, Vec<u8>)> = (0..GROUP).map(|j| (format!("p32-{i}-{j}"), val(i * GROUP + j))).collect();
    try_join_all(entries.iter().map(|(k, v)| t.put(k, v, None))).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// W7: the embedded store against redb's own API.
// ---------------------------------------------------------------------------------------

/// The tables of `EmbeddedStore` (crates/p8fs-kv/src/backends/embedded.rs), declared again
/// for the hand-written peer.
const DATA: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("kv");
const EXPIRY: TableDefinition<'_, (u64, &[u8]), ()> = TableDefinition::new("kv_expiry");

/// redb's error types as `anyhow` errors, through `redb::Error` (as embedded.rs does).
trait RedbResult<T> {
    fn redb(self) -> Result<T>;
}

impl<T, E: Into<redb::Error>> RedbResult<T> for std::result::Result<T, E> {
    fn redb(self) -> Result<T> {
        self.map_err(|e| {
            let e: redb::Error = e.into();
            anyhow::Error::new(e)
        })
    }
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The stored form of a value without TTL: 8-byte big-endian expiry (0) + the value.
fn encode(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&0u64.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// The value of a stored entry, if it has not expired at `now`.
fn live(raw: &[u8], now: u64) -> Option<&[u8]> {
    let (head, value) = raw.split_at_checked(8)?;
    let exp = u64::from_be_bytes(head.try_into().ok()?);
    (exp == 0 || exp > now).then_some(value)
}

/// The physical key of `key` of `TENANT`: `{tenant}/{key}`.
fn physical(key: &str) -> Vec<u8> {
    format!("{TENANT}/{key}").into_bytes()
}

/// The peer of W7: `EmbeddedStore`'s layout written by hand with redb's API — same tables,
/// same encoding, same durability (`Durability::Immediate`, redb's default), writes on
/// tokio's blocking pool and reads inline, as embedded.rs does. No expiry index writes
/// (none without a TTL) and no purging.
struct RedbPeer {
    db: Arc<Database>,
}

impl RedbPeer {
    fn open(path: &Path) -> Result<Self> {
        let db = Database::create(path).redb()?;
        let tx = db.begin_write().redb()?;
        tx.open_table(DATA).redb()?;
        tx.open_table(EXPIRY).redb()?;
        tx.commit().redb()?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Writes `entries` (logical keys of `TENANT`) in one transaction (setup).
    fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        let tx = self.db.begin_write().redb()?;
        {
            let mut t = tx.open_table(DATA).redb()?;
            for (k, v) in entries {
                t.insert(physical(k).as_slice(), encode(v).as_slice()).redb()?;
            }
        }
        tx.commit().redb()
    }

    /// One durable write transaction for one key, on the blocking pool.
    async fn put(&self, key: Vec<u8>, value: &[u8]) -> Result<()> {
        let db = Arc::clone(&self.db);
        let raw = encode(value);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let tx = db.begin_write().redb()?;
            {
                let mut t = tx.open_table(DATA).redb()?;
                t.insert(key.as_slice(), raw.as_slice()).redb()?;
            }
            tx.commit().redb()
        })
        .await?
    }

    /// Reads one physical key, hiding expired entries.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().redb()?;
        let t = tx.open_table(DATA).redb()?;
        let now = now_ms();
        Ok(t.get(key).redb()?.and_then(|g| live(g.value(), now).map(<[u8]>::to_vec)))
    }

    /// Up to `limit` live entries under the physical `prefix` (which ends in `/`), with the
    /// first `strip` bytes (the tenant prefix) cut from their keys.
    fn scan(&self, prefix: &[u8], strip: usize, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        // The prefix ends in '/' (ASCII): the same bytes with the last one bumped end its range.
        let mut end = prefix.to_vec();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let tx = self.db.begin_read().redb()?;
        let t = tx.open_table(DATA).redb()?;
        let now = now_ms();
        let mut out = Vec::with_capacity(limit);
        for item in t.range::<&[u8]>(prefix..end.as_slice()).redb()? {
            let (k, v) = item.redb()?;
            if let Some(value) = live(v.value(), now) {
                let logical = k.value().get(strip..).context("a key shorter than its prefix")?;
                out.push((std::str::from_utf8(logical)?.to_owned(), value.to_vec()));
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

/// The keys of scan group `g`: `s007/000` .. `s007/099`.
fn group_prefix(g: usize) -> String {
    format!("s{g:03}/")
}

/// W7: KV put/get/scan on the embedded backend.
///
/// p8fs: `EmbeddedStore` through `Kv`/`ScopedKv` (put, get, `scan_prefix` of 100 keys).
/// Peer: redb's own API on a separate file with the same tables, encoding and durability
/// ([`RedbPeer`]). Goal: >= 0.95x for each variant.
pub(crate) async fn w7_embedded(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let kv = Kv::new(Arc::new(EmbeddedStore::open(env.scratch.join("w7-p8fs.redb"))?));
    let t = kv.tenant(&TenantId::new(TENANT)?);
    let peer = RedbPeer::open(&env.scratch.join("w7-peer.redb"))?;
    let strip = TENANT.len() + 1;

    // The same data in both files: the get pool and the scan groups.
    let pool = scale.pick(10_000, 100);
    let groups = scale.pick(100, 2);
    let mut data = pool_entries(pool);
    for g in 0..groups {
        data.extend((0..SCAN_LEN).map(|j| (format!("{}{j:03}", group_prefix(g)), val(j))));
    }
    // Written the same way on both sides (a transaction per 500 entries), so that the two
    // B-trees have the same shape.
    populate(&t, &data).await?;
    for chunk in data.chunks(500) {
        peer.put_many(chunk)?;
    }

    let mut rows = Vec::new();
    let note = "peer: a separate redb file, same tables and encoding, Durability::Immediate, \
                writes on spawn_blocking, reads inline";

    // put: one durable write transaction per put on both sides.
    let ops = scale.pick(300, 10);
    let c = compare(
        scale,
        ops,
        async |i| {
            t.put(&format!("p{i}"), &val(i), None).await?;
            Ok(())
        },
        async |i| peer.put(physical(&format!("p{i}")), &val(i)).await,
    )
    .await?;
    ensure!(t.get("p0").await? == Some(val(0)), "p8fs did not store p0");
    ensure!(peer.get(&physical("p0"))? == Some(val(0)), "the peer did not store p0");
    rows.push(
        Row::from(scale, "W7", "put", "redb API", &c, ops, ">= 0.95x", Some(0.95))
            .note(note)
            .note("durable: one fsync'd commit per put on both sides"),
    );

    // get: pre-populated keys. A get takes ~1 us: 20,000 per side and round make each timed
    // stretch ~20 ms, long enough that one scheduling hiccup does not decide a round.
    let ops = scale.pick(20_000, 20);
    let c = compare(
        scale,
        ops,
        async |i| get_one(&t, &pool_key(i, pool)).await,
        async |i| {
            let v = peer.get(&physical(&pool_key(i, pool)))?;
            ensure!(v.is_some(), "the peer misses key {}", pool_key(i, pool));
            Ok(())
        },
    )
    .await?;
    ensure!(t.get("g1").await? == peer.get(&physical("g1"))?, "the two stores read g1 differently");
    rows.push(
        Row::from(scale, "W7", "get", "redb API", &c, ops, ">= 0.95x", Some(0.95))
            .note(note)
            .note(format!("{pool} pre-populated keys")),
    );

    // scan: a prefix holding exactly SCAN_LEN keys, limit SCAN_LEN (~13 us each).
    let ops = scale.pick(5_000, 20);
    let c = compare(
        scale,
        ops,
        async |i| {
            let page = t.scan_prefix(&group_prefix(i % groups), SCAN_LEN, None).await?;
            ensure!(page.entries.len() == SCAN_LEN, "p8fs scanned {} keys", page.entries.len());
            Ok(())
        },
        async |i| {
            let found = peer.scan(&physical(&group_prefix(i % groups)), strip, SCAN_LEN)?;
            ensure!(found.len() == SCAN_LEN, "the peer scanned {} keys", found.len());
            Ok(())
        },
    )
    .await?;
    let ours = t.scan_prefix(&group_prefix(0), SCAN_LEN, None).await?.entries;
    let theirs = peer.scan(&physical(&group_prefix(0)), strip, SCAN_LEN)?;
    ensure!(
        ours.len() == SCAN_LEN
            && ours
                .iter()
                .map(|p| (p.key.as_str(), p.value.as_slice()))
                .eq(theirs.iter().map(|(k, v)| (k.as_str(), v.as_slice()))),
        "the two scans of {} differ",
        group_prefix(0)
    );
    rows.push(Row::from(scale, "W7", "scan", "redb API", &c, ops, ">= 0.95x", Some(0.95)).note(note).note(format!(
        "prefix scan of {SCAN_LEN} keys ({groups} prefixes), expiry checked and tenant prefix cut on both sides"
    )));
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// W8: the HTTP proxy.
// ---------------------------------------------------------------------------------------

/// A server task on a loopback port; stopped when dropped.
struct Served {
    /// `http://127.0.0.1:PORT`.
    base: String,
    task: JoinHandle<std::io::Result<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn loopback() -> Result<(TcpListener, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// The real p8fs proxy over `backend`, without tokens, with the default limits.
async fn serve_p8fs(backend: Arc<dyn KvBackend>) -> Result<Served> {
    let (listener, base) = loopback().await?;
    let cfg = ServerConfig { limits: Limits::default(), ..ServerConfig::default() };
    let router = p8fs_server::router(backend, cfg, Arc::new(Metrics::default()));
    let task = tokio::spawn(p8fs_server::serve(listener, router, Limits::default(), std::future::pending()));
    Ok(Served { base, task })
}

/// The minimal proxy: GET/PUT of one key, no auth, no limits, no metrics, no timeouts. It
/// speaks the same JSON shapes as p8fs's `/v1` key routes (`{"value": base64}`), so the
/// comparison measures the proxies and clients, not a wire format.
fn minimal_router(kv: Kv) -> Router {
    Router::new().route("/kv/{tenant}/{key}", get(minimal_get).put(minimal_put)).with_state(kv)
}

async fn minimal_get(
    State(kv): State<Kv>,
    UrlPath((tenant, key)): UrlPath<(String, String)>,
) -> std::result::Result<Json<Value>, StatusCode> {
    let tenant = TenantId::new(tenant).map_err(|_| StatusCode::BAD_REQUEST)?;
    match kv.tenant(&tenant).get(&key).await {
        Ok(Some(v)) => Ok(Json(json!({ "key": key, "value": B64.encode(v) }))),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[derive(Deserialize)]
struct MinimalPut {
    value: String,
}

async fn minimal_put(
    State(kv): State<Kv>,
    UrlPath((tenant, key)): UrlPath<(String, String)>,
    Json(body): Json<MinimalPut>,
) -> StatusCode {
    let Ok(tenant) = TenantId::new(tenant) else { return StatusCode::BAD_REQUEST };
    let Ok(value) = B64.decode(&body.value) else { return StatusCode::BAD_REQUEST };
    match kv.tenant(&tenant).put(&key, &value, None).await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn serve_minimal(kv: Kv) -> Result<Served> {
    let (listener, base) = loopback().await?;
    let task = tokio::spawn(async move { axum::serve(listener, minimal_router(kv)).await });
    Ok(Served { base, task })
}

/// The minimal client: a plain reqwest GET of one key.
async fn minimal_get_req(client: &reqwest::Client, base: &str, key: &str) -> Result<Vec<u8>> {
    let v: Value = client.get(format!("{base}/kv/{TENANT}/{key}")).send().await?.error_for_status()?.json().await?;
    let b64 = v.get("value").and_then(Value::as_str).context("an answer without value")?;
    Ok(B64.decode(b64)?)
}

/// The minimal client: a plain reqwest PUT of one key.
async fn minimal_put_req(client: &reqwest::Client, base: &str, key: &str, value: &[u8]) -> Result<()> {
    client
        .put(format!("{base}/kv/{TENANT}/{key}"))
        .json(&json!({ "value": B64.encode(value) }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn minimal_get_group(client: &reqwest::Client, base: &str, i: usize, pool: usize) -> Result<()> {
    let keys: Vec<String> = (0..GROUP).map(|j| pool_key(i * GROUP + j, pool)).collect();
    try_join_all(keys.iter().map(|k| minimal_get_req(client, base, k))).await?;
    Ok(())
}

async fn minimal_put_group(client: &reqwest::Client, base: &str, i: usize) -> Result<()> {
    let entries: Vec<(String, Vec<u8>)> = (0..GROUP).map(|j| (format!("p32-{i}-{j}"), val(i * GROUP + j))).collect();
    try_join_all(entries.iter().map(|(k, v)| minimal_put_req(client, base, k, v))).await?;
    Ok(())
}

/// W8: KV over the HTTP proxy, concurrency 1 and 32.
///
/// p8fs: `HttpStore` (through `Kv`) -> the p8fs proxy (`p8fs_server::router`) -> an
/// `EmbeddedStore`, over loopback. Peers: (a) direct in-process `Kv` calls on that same
/// store, goal for get >= 0.2x; (b) plain reqwest -> a minimal axum proxy -> another
/// `EmbeddedStore` file, goal >= 0.9x for get and put at c1 and c32.
pub(crate) async fn w8_proxy(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let tenant = TenantId::new(TENANT)?;
    let store = EmbeddedStore::open(env.scratch.join("w8-p8fs.redb"))?;
    let direct = Kv::new(Arc::new(store.clone())).tenant(&tenant);
    let proxy = serve_p8fs(Arc::new(store)).await?;
    let p8fs = Kv::new(Arc::new(HttpStore::connect(HttpConfig::new(proxy.base.as_str())).await?)).tenant(&tenant);

    let peer_kv = Kv::new(Arc::new(EmbeddedStore::open(env.scratch.join("w8-peer.redb"))?));
    let peer_direct = peer_kv.tenant(&tenant);
    let minimal = serve_minimal(peer_kv).await?;
    let client = reqwest::Client::new();
    let base = minimal.base.as_str();

    let pool = scale.pick(1000, 20);
    let entries = pool_entries(pool);
    populate(&direct, &entries).await?;
    populate(&peer_direct, &entries).await?;

    let mut rows = Vec::new();
    let c1 = scale.pick(1000, 10);
    let c32 = scale.pick(100, 2);
    // Puts fsync on the embedded store: fewer of them, or a round takes minutes.
    let put_c1 = scale.pick(300, 10);
    let put_c32 = scale.pick(20, 2);
    let wire = "both proxies on loopback, each over its own EmbeddedStore file; the minimal proxy \
                speaks the same JSON (base64 values) without auth, limits, metrics or timeouts";

    // (a) Against direct calls on the same store.
    let direct_peer = "direct Kv calls on the same store";
    let c = compare(
        scale,
        c1,
        async |i| get_one(&p8fs, &pool_key(i, pool)).await,
        async |i| get_one(&direct, &pool_key(i, pool)).await,
    )
    .await?;
    rows.push(Row::from(scale, "W8", "get c1 vs direct", direct_peer, &c, c1, ">= 0.2x", Some(0.2)));
    let c = compare(scale, c32, async |i| get_group(&p8fs, i, pool).await, async |i| get_group(&direct, i, pool).await)
        .await?;
    rows.push(Row::from(scale, "W8", "get c32 vs direct", direct_peer, &c, c32, ">= 0.2x", Some(0.2)).note(GROUP_NOTE));
    ensure!(p8fs.get("g0").await? == direct.get("g0").await?, "the proxy and the store read g0 differently");

    // (b) Against a minimal proxy.
    let minimal_peer = "minimal axum proxy + reqwest";
    let c = compare(
        scale,
        c1,
        async |i| get_one(&p8fs, &pool_key(i, pool)).await,
        async |i| {
            minimal_get_req(&client, base, &pool_key(i, pool)).await?;
            Ok(())
        },
    )
    .await?;
    ensure!(minimal_get_req(&client, base, "g0").await? == val(0), "the minimal proxy read g0 wrong");
    rows.push(Row::from(scale, "W8", "get c1", minimal_peer, &c, c1, ">= 0.9x", Some(0.9)).note(wire));
    let c = compare(
        scale,
        c32,
        async |i| get_group(&p8fs, i, pool).await,
        async |i| minimal_get_group(&client, base, i, pool).await,
    )
    .await?;
    rows.push(
        Row::from(scale, "W8", "get c32", minimal_peer, &c, c32, ">= 0.9x", Some(0.9)).note(wire).note(GROUP_NOTE),
    );

    let c = compare(
        scale,
        put_c1,
        async |i| {
            p8fs.put(&format!("p1-{i}"), &val(i), None).await?;
            Ok(())
        },
        async |i| minimal_put_req(&client, base, &format!("p1-{i}"), &val(i)).await,
    )
    .await?;
    ensure!(direct.get("p1-0").await? == Some(val(0)), "p8fs did not store p1-0");
    ensure!(peer_direct.get("p1-0").await? == Some(val(0)), "the minimal proxy did not store p1-0");
    rows.push(
        Row::from(scale, "W8", "put c1", minimal_peer, &c, put_c1, ">= 0.9x", Some(0.9))
            .note(wire)
            .note("puts are durable (one fsync'd commit each) on both sides: disk-bound"),
    );
    let c = compare(
        scale,
        put_c32,
        async |i| put_group(&p8fs, i).await,
        async |i| minimal_put_group(&client, base, i).await,
    )
    .await?;
    ensure!(direct.get("p32-0-0").await? == Some(val(0)), "p8fs did not store p32-0-0");
    ensure!(peer_direct.get("p32-0-0").await? == Some(val(0)), "the minimal proxy did not store p32-0-0");
    rows.push(
        Row::from(scale, "W8", "put c32", minimal_peer, &c, put_c32, ">= 0.9x", Some(0.9))
            .note(wire)
            .note(GROUP_NOTE)
            .note("puts are durable (one fsync'd commit each) on both sides: disk-bound"),
    );
    Ok(rows)
}

// ---------------------------------------------------------------------------------------
// W9: reverse-mapping writes.
// ---------------------------------------------------------------------------------------

/// A backend that counts write requests (put, delete, batch put, batch delete,
/// compare-and-swap) and passes every call on. On the embedded store each write request is
/// one redb write transaction, one durable commit.
#[derive(Debug)]
struct CountingBackend {
    inner: Arc<dyn KvBackend>,
    writes: AtomicU64,
}

impl CountingBackend {
    fn new(inner: Arc<dyn KvBackend>) -> Self {
        Self { inner, writes: AtomicU64::new(0) }
    }

    /// Write requests so far.
    fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl KvBackend for CountingBackend {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capability(&self) -> Capability {
        self.inner.capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> KvResult<Option<Vec<u8>>> {
        self.inner.get(ns, key).await
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> KvResult<()> {
        self.count();
        self.inner.put(ns, key, value, ttl).await
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> KvResult<()> {
        self.count();
        self.inner.delete(ns, key).await
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> KvResult<Vec<KvPair>> {
        self.inner.scan(ns, start, end, limit).await
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> KvResult<Vec<KvPair>> {
        self.inner.batch_get(ns, keys).await
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> KvResult<()> {
        self.count();
        self.inner.batch_put(ns, entries, ttl).await
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> KvResult<()> {
        self.count();
        self.inner.batch_delete(ns, keys).await
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> KvResult<()> {
        self.count();
        self.inner.compare_and_swap(ns, key, expected, new, ttl).await
    }

    async fn ping(&self) -> KvResult<()> {
        self.inner.ping().await
    }
}

/// The mapping of entity number `i`.
fn mapping(i: usize) -> Mapping {
    Mapping {
        name: format!("Entity {i}"),
        entity_type: "document".into(),
        entity_key: format!("doc{i}"),
        table_name: "document".into(),
    }
}

/// W9: a durable reverse-mapping write.
///
/// p8fs: `ReverseMap::store` over an `EmbeddedStore` (the three keys in one batch request,
/// one commit). Peer: the same three keys and payloads (`ReverseMap::entries`) written by
/// three separate `put`s through the same `Kv` API over another `EmbeddedStore` file.
/// Goal: >= 2.5x, and exactly one write request (commit) per mapping on the p8fs side.
pub(crate) async fn w9_mapping_write(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let tenant = TenantId::new(TENANT)?;
    let ours = Arc::new(CountingBackend::new(Arc::new(EmbeddedStore::open(env.scratch.join("w9-p8fs.redb"))?)));
    let theirs = Arc::new(CountingBackend::new(Arc::new(EmbeddedStore::open(env.scratch.join("w9-peer.redb"))?)));
    // `.clone()` (not `Arc::clone`): the `Arc<CountingBackend>` then coerces to `Arc<dyn KvBackend>`.
    let map = ReverseMap::new(Kv::new(ours.clone()));
    let peer = Kv::new(theirs.clone()).tenant(&tenant);

    let ops = scale.pick(200, 5);
    let (mut stored, mut peer_stored) = (0u64, 0u64);
    let c = compare(
        scale,
        ops,
        async |i| {
            map.store(TENANT, &mapping(i)).await?;
            stored += 1;
            Ok(())
        },
        async |i| {
            for (k, v) in ReverseMap::entries(TENANT, &mapping(i))? {
                peer.put(&k, &v, None).await?;
            }
            peer_stored += 1;
            Ok(())
        },
    )
    .await?;
    let (writes, peer_writes) = (ours.writes(), theirs.writes());

    // Both sides wrote the same bytes under the same keys.
    let check = Kv::new(ours.clone()).tenant(&tenant);
    for (k, v) in ReverseMap::entries(TENANT, &mapping(0))? {
        ensure!(check.get(&k).await?.as_deref() == Some(v.as_slice()), "p8fs did not store {k}");
        ensure!(peer.get(&k).await?.as_deref() == Some(v.as_slice()), "the peer did not store {k}");
    }
    ensure!(map.lookup(TENANT, "document", "Entity 0").await?.is_some(), "the stored mapping does not resolve");

    let per = |w: u64, n: u64| if n == 0 { 0.0 } else { w as f64 / n as f64 };
    let row = Row::from(scale, "W9", "mapping write, durable", "three separate puts", &c, ops, ">= 2.5x", Some(2.5))
        .note(format!(
            "p8fs: {writes} write requests for {stored} mappings ({:.2} per mapping); each is one redb commit",
            per(writes, stored)
        ))
        .note(format!(
            "peer: {peer_writes} write requests for {peer_stored} mappings ({:.2} per mapping)",
            per(peer_writes, peer_stored)
        ))
        .fail_unless(
            stored > 0 && writes == stored,
            format!("expected exactly one commit per mapping, got {writes} write requests for {stored} mappings"),
        );
    Ok(vec![row])
}

// ---------------------------------------------------------------------------------------
// W11: TiKV through tikv-client.
// ---------------------------------------------------------------------------------------

/// `TikvConfig::timeout` of the p8fs side, and tikv-client's timeout on both sides.
const TIKV_TIMEOUT: Duration = Duration::from_secs(10);
/// The response size limit `TikvStore` configures (`MAX_RESPONSE_BYTES` in tikv.rs).
const TIKV_MAX_RESPONSE_BYTES: usize = 128 * 1024 * 1024;
/// The p8fs side's tenant, so its physical keys are `p8fs/...`.
const TIKV_TENANT: &str = "p8fs";
/// The peer's physical key prefix: a tenant of the same length, so keys are as long.
const TIKV_PEER_PREFIX: &str = "peer/";

/// The peer's physical key of `key`.
fn peer_key(key: &str) -> Vec<u8> {
    format!("{TIKV_PEER_PREFIX}{key}").into_bytes()
}

/// W11: KV via tikv-client against the in-process TiKV stand-in.
///
/// p8fs: `TikvStore` through `Kv` (put, get). Peer: tikv-client's `RawClient` called
/// directly, configured as `TikvStore` configures it (atomic mode, timeout, message size, no
/// keyspace), with the same physical key layout (`{tenant}/{key}`). Goal: >= 0.95x.
pub(crate) async fn w11_tikv(_env: &Env, scale: Scale) -> Result<Vec<Row>> {
    // Two regions, one per side.
    let cluster = TestCluster::start(vec![TIKV_PEER_PREFIX.as_bytes().to_vec()]).await?;
    let pd = vec![cluster.pd_endpoint()];
    let store =
        TikvStore::connect(TikvConfig { pd_endpoints: pd.clone(), keyspace: None, timeout: TIKV_TIMEOUT }).await?;
    let t = Kv::new(Arc::new(store)).tenant(&TenantId::new(TIKV_TENANT)?);
    let config = tikv_client::Config::default()
        .with_timeout(TIKV_TIMEOUT)
        .with_grpc_max_decoding_message_size(TIKV_MAX_RESPONSE_BYTES);
    let raw = tikv_client::RawClient::new_with_config(pd, config).await?.with_atomic_for_cas();

    let pool = scale.pick(1000, 20);
    let entries = pool_entries(pool);
    populate(&t, &entries).await?;
    raw.batch_put(entries.iter().map(|(k, v)| (peer_key(k), v.clone()))).await?;

    let mut rows = Vec::new();
    let ops = scale.pick(2000, 20);
    let stand_in = "server: p8fs-tikv-test-server, the in-process PD + TiKV stand-in (an in-memory map), \
                    not a real TiKV: the ratio measures client-side cost only";
    let clients = "both clients in atomic mode, same timeout and message size, API v1 (no keyspace)";

    let c = compare(
        scale,
        ops,
        async |i| {
            t.put(&format!("k{i}"), &val(i), None).await?;
            Ok(())
        },
        async |i| {
            raw.put(peer_key(&format!("k{i}")), val(i)).await?;
            Ok(())
        },
    )
    .await?;
    ensure!(t.get("k0").await? == Some(val(0)), "p8fs did not store k0");
    ensure!(raw.get(peer_key("k0")).await? == Some(val(0)), "the peer did not store k0");
    ensure!(
        raw.get(format!("{TIKV_TENANT}/k0").into_bytes()).await? == Some(val(0)),
        "p8fs's physical key is not {TIKV_TENANT}/k0"
    );
    rows.push(
        Row::from(scale, "W11", "put", "tikv-client RawClient", &c, ops, ">= 0.95x", Some(0.95))
            .note(stand_in)
            .note(clients),
    );

    let c = compare(
        scale,
        ops,
        async |i| get_one(&t, &pool_key(i, pool)).await,
        async |i| {
            let v = raw.get(peer_key(&pool_key(i, pool))).await?;
            ensure!(v.is_some(), "the peer misses key {}", pool_key(i, pool));
            Ok(())
        },
    )
    .await?;
    ensure!(t.get("g1").await? == raw.get(peer_key("g1")).await?, "the two sides read g1 differently");
    rows.push(
        Row::from(scale, "W11", "get", "tikv-client RawClient", &c, ops, ">= 0.95x", Some(0.95))
            .note(stand_in)
            .note(clients)
            .note(format!("{pool} pre-populated keys per side")),
    );

    drop(t);
    drop(raw);
    cluster.shutdown().await;
    Ok(rows)
}
