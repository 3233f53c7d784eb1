//! The proxy's own behaviour, on the `http` backend: the legacy wire contract as an old
//! client speaks it, JSON errors for every kind of bad request, authentication, limits,
//! metrics, and load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use p8fs_server::auth::TokenSet;
use p8fs_server::{Limits, ServerConfig};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::case;
use crate::harness::{Case, Ctx, Suite};
use crate::proxy::RunningProxy;
use crate::proxy_hardening;

/// Every proxy case.
pub fn cases() -> Vec<Case> {
    let mut cases = vec![
        case!(Suite::Proxy, legacy_client_round_trips_the_old_contract),
        case!(Suite::Proxy, legacy_ttl_expires),
        case!(Suite::Proxy, bad_requests_get_a_json_4xx),
        case!(Suite::Proxy, limits_answer_4xx_never_5xx),
        case!(Suite::Proxy, tokens_bind_to_tenants),
        case!(Suite::Proxy, health_readiness_and_metrics),
        case!(Suite::Proxy, sixty_four_clients_lose_no_acknowledged_write),
        case!(Suite::Proxy, one_mapping_is_one_request),
    ];
    cases.extend(proxy_hardening::cases());
    cases
}

pub(crate) async fn proxy(ctx: &Ctx, cfg: ServerConfig) -> Result<RunningProxy> {
    RunningProxy::start(ctx.env.proxy_backend(&ctx.scratch, &ctx.guards).await?, cfg).await
}

/// The client of the replaced system, as it speaks the contract: JSON text inside JSON,
/// unencoded keys in paths, `{tenant}/` prefixes.
struct OldClient {
    http: Client,
    base: String,
    tenant: String,
}

impl OldClient {
    fn new(base: String, tenant: &str) -> Self {
        Self { http: Client::new(), base, tenant: tenant.to_owned() }
    }

    async fn put(&self, key: &str, value: &Value, ttl: Option<u64>) -> Result<()> {
        let mut body = json!({"key": format!("{}/{key}", self.tenant), "value": value.to_string()});
        if let Some(t) = ttl {
            body["ttl"] = json!(t);
        }
        let r = self.http.put(format!("{}/kv", self.base)).json(&body).send().await?;
        ensure!(r.status().is_success(), "put {key}: {}", r.status());
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Value>> {
        let r = self.http.get(format!("{}/kv/{}/{key}", self.base, self.tenant)).send().await?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        ensure!(r.status().is_success(), "get {key}: {}", r.status());
        let body: Value = r.json().await?;
        let text = body["value"].as_str().context("value is not a string")?;
        Ok(Some(serde_json::from_str(text)?))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let r = self.http.delete(format!("{}/kv/{}/{key}", self.base, self.tenant)).send().await?;
        ensure!(r.status().is_success(), "delete {key}: {}", r.status());
        Ok(())
    }

    async fn scan(&self, prefix: &str, limit: usize) -> Result<Vec<(String, Value)>> {
        let r = self
            .http
            .get(format!("{}/kv/scan", self.base))
            .query(&[("prefix", format!("{}/{prefix}", self.tenant)), ("limit", limit.to_string())])
            .send()
            .await?;
        ensure!(r.status().is_success(), "scan: {}", r.status());
        let items: Vec<Value> = r.json().await?;
        let strip = format!("{}/", self.tenant);
        items
            .into_iter()
            .map(|i| {
                let key = i["key"].as_str().context("key")?;
                let key = key.strip_prefix(&strip).context("scan returned another tenant's key")?.to_owned();
                Ok((key, serde_json::from_str(i["value"].as_str().context("value")?)?))
            })
            .collect()
    }

    async fn batch_get(&self, keys: &[&str]) -> Result<Vec<(String, Value)>> {
        let full: Vec<String> = keys.iter().map(|k| format!("{}/{k}", self.tenant)).collect();
        let r = self.http.post(format!("{}/kv/batch", self.base)).json(&json!({"keys": full})).send().await?;
        ensure!(r.status().is_success(), "batch: {}", r.status());
        let items: Vec<Value> = r.json().await?;
        items
            .into_iter()
            .map(|i| {
                Ok((
                    i["key"].as_str().context("key")?.to_owned(),
                    serde_json::from_str(i["value"].as_str().context("value")?)?,
                ))
            })
            .collect()
    }
}

pub(crate) async fn legacy_client_round_trips_the_old_contract(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let c = OldClient::new(p.base_url(), "tenant-a");
    let doc = json!({"entity_type": "document", "entity_name": "UserManual", "entity_key": "doc456"});
    c.put("UserManual/document", &doc, None).await?;
    c.put("document/UserManual", &json!({"entity_key": "doc456"}), Some(3600)).await?;
    c.put("reverse/doc456/document", &json!("a plain string"), None).await?;
    c.put("with space/ü", &json!([1, 2, 3]), None).await?;
    ensure!(c.get("UserManual/document").await? == Some(doc.clone()), "get returned something else");
    ensure!(c.get("with%20space/%C3%BC").await? == Some(json!([1, 2, 3])), "percent-encoded path not decoded");
    ensure!(c.get("missing/key").await?.is_none(), "a missing key must answer 404");
    let scanned = c.scan("", 100).await?;
    let keys: Vec<&str> = scanned.iter().map(|(k, _)| k.as_str()).collect();
    ensure!(
        keys == ["UserManual/document", "document/UserManual", "reverse/doc456/document", "with space/ü"],
        "scan returned {keys:?}"
    );
    ensure!(c.scan("reverse/", 100).await?.len() == 1);
    ensure!(c.scan("", 2).await?.len() == 2, "scan ignored its limit");
    let got = c.batch_get(&["UserManual/document", "nope", "reverse/doc456/document"]).await?;
    let got_keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    ensure!(got_keys == ["tenant-a/UserManual/document", "tenant-a/reverse/doc456/document"], "batch: {got_keys:?}");
    c.delete("UserManual/document").await?;
    c.delete("UserManual/document").await?; // missing: still 2xx
    ensure!(c.get("UserManual/document").await?.is_none());
    // Another tenant sees none of it.
    let other = OldClient::new(p.base_url(), "tenant-a0");
    ensure!(other.scan("", 100).await?.is_empty(), "tenant-a0 sees tenant-a's keys");
    // Global keys (no tenant prefix), as the device-auth flow writes them.
    let http = Client::new();
    let r = http
        .put(format!("{}/kv", p.base_url()))
        .json(&json!({"key": "device_auth:abc123", "value": "{\"status\":\"pending\"}", "ttl": 600}))
        .send()
        .await?;
    ensure!(r.status().is_success());
    let v: Value = http.get(format!("{}/kv/device_auth:abc123", p.base_url())).send().await?.json().await?;
    ensure!(v == json!({"value": "{\"status\":\"pending\"}"}), "global key: {v}");
    Ok(())
}

pub(crate) async fn legacy_ttl_expires(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let c = OldClient::new(p.base_url(), "t");
    let start = Instant::now();
    c.put("short", &json!(1), Some(1)).await?;
    c.put("zero-means-none", &json!(2), Some(0)).await?;
    ensure!(c.get("short").await?.is_some());
    tokio::time::sleep(Duration::from_millis(1200).saturating_sub(start.elapsed())).await;
    ensure!(c.get("short").await?.is_none(), "expired key still served");
    ensure!(c.scan("", 10).await?.len() == 1, "expired key still scanned");
    ensure!(c.get("zero-means-none").await? == Some(json!(2)), "ttl 0 must mean no expiry");
    Ok(())
}

/// Sends a request and checks it is a 4xx with the JSON error body.
pub(crate) async fn expect_4xx(
    http: &Client,
    method: Method,
    url: String,
    body: Option<Vec<u8>>,
    want: u16,
    what: &str,
) -> Result<()> {
    let mut req = http.request(method, &url);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let r = req.send().await?;
    let status = r.status();
    let text = r.text().await?;
    ensure!(status.as_u16() == want, "{what}: status {status}, want {want}; body {text}");
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{what}: error body is not JSON: {text:?}"))?;
    ensure!(
        v.pointer("/error/code").and_then(Value::as_str).is_some()
            && v.pointer("/error/message").and_then(Value::as_str).is_some(),
        "{what}: error body lacks error.code/error.message: {text}"
    );
    Ok(())
}

pub(crate) async fn bad_requests_get_a_json_4xx(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let b = p.base_url();
    let h = Client::new();
    let put = |body: &str| Some(body.as_bytes().to_vec());
    expect_4xx(&h, Method::PUT, format!("{b}/kv"), put("{not json"), 400, "malformed JSON").await?;
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        put(r#"{"key": "t/k", "value": 5}"#),
        422,
        "value of the wrong type",
    )
    .await?;
    expect_4xx(&h, Method::PUT, format!("{b}/kv"), put(r#"{"key": "t/k"}"#), 422, "missing value").await?;
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        put(r#"{"key": "t/k", "value": "1", "ttl": -5}"#),
        400,
        "negative ttl",
    )
    .await?;
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        put(r#"{"key": "a/b/c", "value": "1", "ttl": "x"}"#),
        422,
        "ttl of the wrong type",
    )
    .await?;
    expect_4xx(&h, Method::PUT, format!("{b}/kv"), Some(vec![b'{', 0xff, 0xfe, b'}']), 400, "invalid UTF-8 body")
        .await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/t/%FF%FE"), None, 400, "invalid UTF-8 in the path").await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/bad%2Ftenant%0A/k"), None, 400, "control character in the key").await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/t/%E2%82"), None, 400, "truncated percent-encoded UTF-8").await?;
    // The same in query strings: a malformed escape or bytes that are not UTF-8 are refused,
    // not scanned as a prefix the client never sent.
    for (q, what) in [
        ("prefix=%ZZ&limit=10", "malformed escape in a query string"),
        ("prefix=t/%E2%82&limit=10", "truncated UTF-8 in a query string"),
        ("prefix=t/a&limit=1%", "a lone '%' in a query string"),
        ("prefix=t/%FF&limit=10", "a byte that is not UTF-8 in a query string"),
    ] {
        expect_4xx(&h, Method::GET, format!("{b}/kv/scan?{q}"), None, 400, what).await?;
        expect_4xx(&h, Method::GET, format!("{b}/v1/kv/t/scan?{q}"), None, 400, what).await?;
    }
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        put(r#"{"key": "bad tenant/k", "value": "1"}"#),
        400,
        "invalid tenant",
    )
    .await?;
    expect_4xx(&h, Method::PUT, format!("{b}/kv"), put(r#"{"key": "t/", "value": "1"}"#), 400, "empty key").await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/scan?prefix=t/&limit=0"), None, 400, "zero limit").await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/scan?prefix=t/&limit=abc"), None, 400, "non-numeric limit").await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/scan"), None, 400, "scan without prefix").await?;
    expect_4xx(&h, Method::POST, format!("{b}/kv/batch"), put(r#"{"keys": "t/a"}"#), 422, "keys not a list").await?;
    expect_4xx(&h, Method::GET, format!("{b}/nope"), None, 404, "unknown route").await?;
    expect_4xx(&h, Method::POST, format!("{b}/kv/t/k"), put("{}"), 405, "wrong method").await?;
    expect_4xx(&h, Method::PATCH, format!("{b}/kv"), None, 405, "wrong method on /kv").await?;
    expect_4xx(&h, Method::PUT, format!("{b}/v1/kv/t/keys/k"), put(r#"{"value": "***"}"#), 400, "bad base64").await?;
    expect_4xx(
        &h,
        Method::POST,
        format!("{b}/v1/kv/t/cas"),
        put(r#"{"key": "k", "value": "", "extra": 1}"#),
        422,
        "unknown field",
    )
    .await?;
    expect_4xx(&h, Method::GET, format!("{b}/v1/kv/scan/keys/k"), None, 400, "reserved tenant id").await?;
    // A binary value written through /v1 is refused by the JSON-text legacy route, clearly.
    let r = h.put(format!("{b}/v1/kv/t/keys/bin")).json(&json!({"value": "//79"})).send().await?;
    ensure!(r.status() == StatusCode::NO_CONTENT, "v1 put: {}", r.status());
    expect_4xx(&h, Method::GET, format!("{b}/kv/t/bin"), None, 409, "binary value on the legacy route").await?;
    // Nothing above wrote anything but the one binary value.
    let v: Value = h.get(format!("{b}/v1/kv/t/scan?limit=100")).send().await?.json().await?;
    ensure!(v["entries"].as_array().map(Vec::len) == Some(1), "bad requests left data: {v}");
    Ok(())
}

pub(crate) async fn limits_answer_4xx_never_5xx(ctx: Ctx) -> Result<()> {
    let limits = Limits {
        max_key_bytes: 64,
        max_value_bytes: 1024,
        max_batch: 10,
        max_body_bytes: 64 * 1024,
        max_scan_limit: 50,
        ..Limits::default()
    };
    let p = proxy(&ctx, ServerConfig { limits, ..ServerConfig::default() }).await?;
    let b = p.base_url();
    let h = Client::new();
    let body = |v: Value| Some(v.to_string().into_bytes());
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        body(json!({"key": format!("t/{}", "k".repeat(65)), "value": "1"})),
        413,
        "key too long",
    )
    .await?;
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        body(json!({"key": "t/k", "value": "v".repeat(1025)})),
        413,
        "value too large",
    )
    .await?;
    let keys: Vec<String> = (0..11).map(|i| format!("t/{i}")).collect();
    expect_4xx(&h, Method::POST, format!("{b}/kv/batch"), body(json!({"keys": keys})), 413, "batch too large").await?;
    expect_4xx(
        &h,
        Method::PUT,
        format!("{b}/kv"),
        body(json!({"key": "t/k", "value": "v".repeat(70_000)})),
        413,
        "body too large",
    )
    .await?;
    expect_4xx(&h, Method::GET, format!("{b}/kv/scan?prefix=t/&limit=51"), None, 400, "scan limit too large").await?;
    // Request timeout: a backend slower than the limit.
    let slow = RunningProxy::start(
        Arc::new(Slow(Arc::new(ctx.env.embedded_store(&format!("{}s", ctx.scratch))?))),
        ServerConfig {
            limits: Limits { request_timeout: Duration::from_millis(200), ..Limits::default() },
            ..ServerConfig::default()
        },
    )
    .await?;
    expect_4xx(&h, Method::GET, format!("{}/kv/t/k", slow.base_url()), None, 408, "request timeout").await?;
    ctx.env.cleanup(&format!("{}s", ctx.scratch));
    Ok(())
}

/// A backend that takes a second to answer a get.
#[derive(Debug)]
pub(crate) struct Slow(pub(crate) Arc<dyn p8fs_kv::KvBackend>);

#[async_trait::async_trait]
impl p8fs_kv::KvBackend for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn capability(&self) -> p8fs_kv::Capability {
        self.0.capability()
    }
    async fn get(&self, ns: &p8fs_kv::Namespace, key: &p8fs_kv::Key) -> p8fs_kv::Result<Option<Vec<u8>>> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.0.get(ns, key).await
    }
    async fn put(
        &self,
        ns: &p8fs_kv::Namespace,
        k: &p8fs_kv::Key,
        v: &[u8],
        t: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        self.0.put(ns, k, v, t).await
    }
    async fn delete(&self, ns: &p8fs_kv::Namespace, k: &p8fs_kv::Key) -> p8fs_kv::Result<()> {
        self.0.delete(ns, k).await
    }
    async fn scan(
        &self,
        ns: &p8fs_kv::Namespace,
        s: &[u8],
        e: Option<&[u8]>,
        l: usize,
    ) -> p8fs_kv::Result<Vec<p8fs_kv::KvPair>> {
        self.0.scan(ns, s, e, l).await
    }
    async fn batch_get(&self, ns: &p8fs_kv::Namespace, k: &[p8fs_kv::Key]) -> p8fs_kv::Result<Vec<p8fs_kv::KvPair>> {
        self.0.batch_get(ns, k).await
    }
    async fn batch_put(
        &self,
        ns: &p8fs_kv::Namespace,
        e: &[(p8fs_kv::Key, Vec<u8>)],
        t: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        self.0.batch_put(ns, e, t).await
    }
    async fn batch_delete(&self, ns: &p8fs_kv::Namespace, k: &[p8fs_kv::Key]) -> p8fs_kv::Result<()> {
        self.0.batch_delete(ns, k).await
    }
    async fn compare_and_swap(
        &self,
        ns: &p8fs_kv::Namespace,
        k: &p8fs_kv::Key,
        e: Option<&[u8]>,
        n: &[u8],
        t: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        self.0.compare_and_swap(ns, k, e, n, t).await
    }
    async fn ping(&self) -> p8fs_kv::Result<()> {
        self.0.ping().await
    }
}

pub(crate) async fn tokens_bind_to_tenants(ctx: Ctx) -> Result<()> {
    let tokens =
        TokenSet::parse("token-for-tenant-a-000 tenant-a\ntoken-for-everything-0 *\n").map_err(anyhow::Error::msg)?;
    let p = proxy(&ctx, ServerConfig { tokens: Some(tokens), ..ServerConfig::default() }).await?;
    let b = p.base_url();
    let h = Client::new();
    let put =
        |t: &str, key: &str| h.put(format!("{b}/kv")).bearer_auth(t).json(&json!({"key": key, "value": "1"})).send();
    ensure!(put("token-for-tenant-a-000", "tenant-a/k").await?.status().is_success(), "own tenant refused");
    ensure!(
        put("token-for-tenant-a-000", "tenant-b/k").await?.status() == StatusCode::FORBIDDEN,
        "other tenant not 403"
    );
    ensure!(
        put("wrong-token-000000000", "tenant-a/k").await?.status() == StatusCode::UNAUTHORIZED,
        "bad token not 401"
    );
    ensure!(put("token-for-everything-0", "tenant-b/k").await?.status().is_success(), "* token refused");
    // The scheme is case-insensitive (RFC 9110): `bearer` and `BEARER` are `Bearer`.
    for scheme in ["bearer", "BEARER"] {
        let r = h
            .put(format!("{b}/kv"))
            .header("authorization", format!("{scheme} token-for-tenant-a-000"))
            .json(&json!({"key": "tenant-a/k", "value": "1"}))
            .send()
            .await?;
        ensure!(r.status().is_success(), "scheme {scheme:?}: {}", r.status());
    }
    for (m, url) in [
        (Method::GET, format!("{b}/kv/tenant-a/k")),
        (Method::DELETE, format!("{b}/kv/tenant-a/k")),
        (Method::GET, format!("{b}/kv/scan?prefix=tenant-a/")),
        (Method::GET, format!("{b}/v1/kv/tenant-a/keys/k")),
        (Method::GET, format!("{b}/v1/kv/tenant-a/scan")),
        (Method::GET, format!("{b}/v1/global/keys/device_auth:x")),
    ] {
        expect_4xx(&h, m.clone(), url.clone(), None, 401, &format!("{m} {url} without a token")).await?;
    }
    let r = h
        .post(format!("{b}/kv/batch"))
        .bearer_auth("token-for-tenant-a-000")
        .json(&json!({"keys": ["tenant-a/k", "tenant-b/k"]}))
        .send()
        .await?;
    ensure!(r.status() == StatusCode::FORBIDDEN, "a batch reaching another tenant: {}", r.status());
    let r = h.get(format!("{b}/v1/global/keys/x")).bearer_auth("token-for-tenant-a-000").send().await?;
    ensure!(r.status() == StatusCode::FORBIDDEN, "a tenant token on the global namespace: {}", r.status());
    ensure!(h.get(format!("{b}/healthz")).send().await?.status().is_success(), "/healthz needs no token");
    Ok(())
}

pub(crate) async fn health_readiness_and_metrics(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let b = p.base_url();
    let h = Client::new();
    ensure!(h.get(format!("{b}/healthz")).send().await?.status() == StatusCode::OK);
    ensure!(h.get(format!("{b}/readyz")).send().await?.status() == StatusCode::OK);
    h.get(format!("{b}/kv/t/missing")).send().await?;
    h.put(format!("{b}/kv")).json(&json!({"key": "t/k", "value": "1"})).send().await?;
    let text = h.get(format!("{b}/metrics")).send().await?.text().await?;
    for needle in [
        "p8fs_http_requests_total{route=\"/kv/{*key}\",method=\"GET\",status=\"404\"} 1",
        "p8fs_http_requests_total{route=\"/kv\",method=\"PUT\",status=\"200\"} 1",
        "p8fs_http_request_duration_seconds_count{route=\"/kv\"} 1",
        "p8fs_kv_backend_call_duration_seconds_count{op=\"put\"} 1",
    ] {
        ensure!(text.contains(needle), "/metrics lacks {needle:?}:\n{text}");
    }
    let doc: Value = h.get(format!("{b}/openapi.json")).send().await?.json().await?;
    ensure!(doc["openapi"] == "3.1.0" && doc["paths"]["/kv/scan"].is_object(), "openapi.json");
    Ok(())
}

pub(crate) async fn sixty_four_clients_lose_no_acknowledged_write(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let base = p.base_url();
    let secs = std::env::var("P8FS_TEST_LOAD_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10u64);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..64 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let client = OldClient::new(base, &format!("load{}", c % 8));
            let mut acked = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let key = format!("c{c}/k{i}");
                client.put(&key, &json!({"c": c, "i": i}), None).await?;
                acked.push(key.clone());
                if i.is_multiple_of(4) {
                    ensure!(
                        client.get(&key).await? == Some(json!({"c": c, "i": i})),
                        "read-your-write failed for {key}"
                    );
                }
                i += 1;
            }
            anyhow::Ok((c, acked))
        }));
    }
    let mut total = 0;
    let mut all = Vec::new();
    for t in tasks {
        let (c, acked) = t.await??;
        total += acked.len();
        all.push((c, acked));
    }
    ensure!(total > 64, "only {total} writes in {secs}s");
    // Every acknowledged write is there afterwards.
    for (c, acked) in all {
        let client = OldClient::new(base.clone(), &format!("load{}", c % 8));
        for chunk in acked.chunks(500) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let got = client.batch_get(&refs).await?;
            if got.len() != chunk.len() {
                bail!("client {c}: {} of {} acknowledged writes read back", got.len(), chunk.len());
            }
        }
    }
    println!("{}: {total} acknowledged writes from 64 clients in {secs}s, all read back", ctx.env.backend.name());
    Ok(())
}

pub(crate) async fn one_mapping_is_one_request(ctx: Ctx) -> Result<()> {
    // Entities in SQLite, KV through the proxy: 1,000 entities stored with their mappings.
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let store = p8fs_kv::HttpStore::connect(p8fs_kv::HttpConfig::new(p.base_url())).await?;
    let path = std::env::temp_dir().join(format!("p8fs-test-{}.sqlite", ctx.scratch));
    let sql = Arc::new(p8fs_sqlite::SqliteProvider::open(p8fs_sqlite::SqliteConfig::File(path)).await?);
    let core = p8fs_core::P8fs::from_parts(sql, Arc::new(store), Arc::new(p8fs_core::embed::LexicalEmbedder::new(384)));
    core.migrate().await?;
    let before = p.metrics.render();
    for i in 0..1000 {
        let data = json!({"content": format!("entity number {i}")}).as_object().cloned().unwrap_or_default();
        core.store_entity_with_reverse_mapping(&format!("entity-{i}"), "resources", data, "tenant-one").await?;
    }
    let count = |text: &str, filter: &dyn Fn(&str) -> bool| -> u64 {
        text.lines()
            .filter(|l| l.starts_with("p8fs_http_requests_total{") && filter(l))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let after = p.metrics.render();
    let batches = count(&after, &|l| l.contains("route=\"/v1/kv/{tenant}/batch/put\""))
        - count(&before, &|l| l.contains("route=\"/v1/kv/{tenant}/batch/put\""));
    let all = count(&after, &|_| true) - count(&before, &|_| true);
    ensure!(
        batches == 1000 && all == 1000,
        "1,000 entities took {batches} mapping batches and {all} KV requests in all"
    );
    ensure!(core.get_entity_by_name("entity-999", "resources", "tenant-one").await?.is_some());
    Ok(())
}
