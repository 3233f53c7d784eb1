//! The proxy under attack, on the `http` backend: each case probes one finding of the
//! security review the way an attacker would (raw requests where a client library would
//! tidy them up) and checks the effect, not only the status.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p8fs_kv::{HttpConfig, HttpStore, Kv, KvBackend, KvError, TenantId};
use p8fs_server::auth::TokenSet;
use p8fs_server::{Limits, ServerConfig};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::case;
use crate::harness::{Case, Ctx, Suite};
use crate::proxy::RunningProxy;
use crate::proxy_suite::{Slow, proxy};

/// Every hardening case.
pub fn cases() -> Vec<Case> {
    vec![
        case!(Suite::Proxy, chained_proxies_never_resolve_keys_as_paths),
        case!(Suite::Proxy, metrics_stay_bounded_and_need_a_token),
        case!(Suite::Proxy, nothing_is_read_before_authentication),
        case!(Suite::Proxy, answers_stay_within_their_byte_budget),
        case!(Suite::Proxy, requests_beyond_the_cap_answer_503_at_once),
        case!(Suite::Proxy, browsers_cannot_drive_a_proxy_without_tokens),
        case!(Suite::Proxy, backend_failures_answer_5xx_without_their_details),
    ]
}

/// An answer read off the wire.
struct Raw {
    status: u16,
    head: String,
    body: String,
    took: Duration,
}

/// Sends `request` as it is on a fresh connection and reads one answer (at most 5 s).
async fn raw(addr: SocketAddr, request: &[u8]) -> Result<Raw> {
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(request).await?;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let deadline = start + Duration::from_secs(5);
    let parsed = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                break Some((head, body));
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, s.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => anyhow::bail!("no complete answer within 5 s (got {:?})", String::from_utf8_lossy(&buf)),
        }
    };
    let (head, body) =
        parsed.with_context(|| format!("connection closed after {:?}", String::from_utf8_lossy(&buf)))?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).context("no status line")?;
    Ok(Raw { status, head, body, took: start.elapsed() })
}

fn code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/code").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

async fn http_store(base: String, token: &str) -> Result<Kv> {
    let mut cfg = HttpConfig::new(base);
    cfg.token = Some(token.to_owned());
    Ok(Kv::new(Arc::new(HttpStore::connect(cfg).await?)))
}

fn tokens(text: &str) -> Result<Option<TokenSet>> {
    Ok(Some(TokenSet::parse(text).map_err(anyhow::Error::msg)?))
}

const B_ROOT: &str = "proxy-b-root-token-0000";
const ALICE: &str = "alice-only-token-000000";

/// Finding 1: proxy A (a token granting only `alice`) in front of proxy B (whose token
/// grants `*`) through `HttpStore`. Keys that look like relative paths must stay keys of
/// alice's, and keys with URL metacharacters must round-trip unchanged.
pub(crate) async fn chained_proxies_never_resolve_keys_as_paths(ctx: Ctx) -> Result<()> {
    let b = proxy(&ctx, ServerConfig { tokens: tokens(&format!("{B_ROOT} *\n"))?, ..ServerConfig::default() }).await?;
    let b_kv = http_store(b.base_url(), B_ROOT).await?;
    let a = RunningProxy::start(
        Arc::clone(b_kv.backend()),
        ServerConfig { tokens: tokens(&format!("{ALICE} alice\n"))?, ..ServerConfig::default() },
    )
    .await?;
    let bob = b_kv.tenant(&TenantId::new("bob")?);
    bob.put("keys/secret", b"bob's secret", None).await?;
    bob.put("secret", b"bob's other secret", None).await?;
    let secret_b64 = B64.encode(b"bob's secret");

    let auth = format!("Authorization: Bearer {ALICE}\r\n");
    let put_body = json!({"value": B64.encode(b"planted")}).to_string();
    let legacy_body = |key: &str| json!({"key": key, "value": "\"planted\""}).to_string();
    let mut attacks: Vec<(String, String)> = Vec::new();
    for path in [
        "/v1/kv/alice/keys/..%2F..%2Fbob%2Fkeys%2Fsecret",
        "/v1/kv/alice/keys/%2e%2e%2F%2e%2e%2Fbob%2Fkeys%2Fsecret",
        "/v1/kv/alice/keys/%2E%2E/%2E%2E/bob/keys/secret",
        "/v1/kv/alice/keys/../../bob/keys/secret",
        "/kv/alice/..%2F..%2Fbob%2Fkeys%2Fsecret",
        "/kv/alice/../../../bob/secret",
    ] {
        attacks.push((format!("GET {path}"), String::new()));
        attacks.push((format!("DELETE {path}"), String::new()));
    }
    for path in [
        "/v1/kv/alice/keys/..%2F..%2Fbob%2Fkeys%2Fsecret",
        "/v1/kv/alice/keys/..%2F..%2F..%2Fglobal%2Fkeys%2Fplanted",
        "/v1/kv/alice/keys/%2e%2e%2F%2e%2e%2F%2e%2e%2Fglobal%2Fkeys%2Fplanted",
    ] {
        attacks.push((format!("PUT {path}"), put_body.clone()));
    }
    attacks.push(("PUT /kv".into(), legacy_body("alice/../../bob/keys/secret")));
    attacks.push(("PUT /kv".into(), legacy_body("alice/../../../global/keys/planted")));
    for (line, body) in &attacks {
        let req = format!(
            "{line} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let r = raw(a.addr(), req.as_bytes()).await?;
        ensure!(
            !r.body.contains(&secret_b64) && !r.body.contains("bob's"),
            "{line} with alice's token answered bob's value: {} {}",
            r.status,
            r.body
        );
        ensure!(r.status != 500, "{line}: {} {}", r.status, r.body);
    }
    ensure!(bob.get("keys/secret").await?.as_deref() == Some(&b"bob's secret"[..]), "bob's value changed");
    ensure!(bob.get("secret").await?.as_deref() == Some(&b"bob's other secret"[..]), "bob's other value changed");
    let global = b_kv.global();
    ensure!(global.scan_prefix("", 100, None).await?.entries.is_empty(), "a key was planted in the global namespace");

    // Keys with every URL metacharacter round-trip through the chain, as alice's keys.
    let alice = http_store(a.base_url(), ALICE).await?.tenant(&TenantId::new("alice")?);
    let keys = [
        "50% off",
        "%2e%2e",
        "a%2Fb",
        "query?x=1&y=2",
        "#fragment",
        "with space/and/slashes",
        "ünïcødé/🙂",
        "...",
        "back\\slash",
        "+plus=eq;semi",
        "trailing/",
    ];
    for (i, k) in keys.iter().enumerate() {
        alice.put(k, format!("value {i}").as_bytes(), None).await?;
    }
    for (i, k) in keys.iter().enumerate() {
        let got = alice.get(k).await?;
        ensure!(got.as_deref() == Some(format!("value {i}").as_bytes()), "{k:?} read back {got:?}");
    }
    let mut want: Vec<&str> = keys.to_vec();
    want.sort_unstable();
    let listed = alice.scan_prefix("", 100, None).await?;
    let listed: Vec<&str> = listed.entries.iter().map(|e| e.key.as_str()).collect();
    ensure!(listed == want, "alice lists {listed:?}");
    let on_b = b_kv.tenant(&TenantId::new("alice")?).scan_prefix("", 100, None).await?;
    let on_b: Vec<&str> = on_b.entries.iter().map(|e| e.key.as_str()).collect();
    ensure!(on_b == want, "proxy B holds alice's keys as {on_b:?}");
    ensure!(alice.batch_get(&keys).await?.len() == keys.len(), "batch get through the chain");
    alice.compare_and_swap("50% off", Some(b"value 0"), b"swapped", None).await?;
    ensure!(alice.get("50% off").await?.as_deref() == Some(&b"swapped"[..]));
    alice.delete("query?x=1&y=2").await?;
    ensure!(alice.get("query?x=1&y=2").await?.is_none(), "delete through the chain");

    // The chain carried every key as one base64url segment: proxy B never saw a key in a
    // `keys/...` path, which a URL parser could have resolved.
    let text = b.metrics.render();
    ensure!(
        !text.contains("/keys/{*key}") && text.contains("route=\"/v1/kv/{tenant}/k/{key}\""),
        "proxy B's routes:\n{}",
        text.lines().filter(|l| l.starts_with("p8fs_http_requests_total")).collect::<Vec<_>>().join("\n")
    );
    Ok(())
}

/// Finding 6: request methods cannot grow the metrics, `/metrics` needs a token, and a
/// request head over the limit is refused.
pub(crate) async fn metrics_stay_bounded_and_need_a_token(ctx: Ctx) -> Result<()> {
    let both = format!("{ALICE} alice\n{B_ROOT} *\n");
    let p = proxy(&ctx, ServerConfig { tokens: tokens(&both)?, ..ServerConfig::default() }).await?;
    let h = Client::new();
    let r = h.get(format!("{}/metrics", p.base_url())).send().await?;
    ensure!(r.status() == StatusCode::UNAUTHORIZED, "/metrics without a token: {}", r.status());
    ensure!(code(&r.text().await?) == "unauthorized");
    // The whole proxy's traffic is no one tenant's business.
    let r = h.get(format!("{}/metrics", p.base_url())).bearer_auth(ALICE).send().await?;
    ensure!(r.status() == StatusCode::FORBIDDEN, "/metrics with a tenant's token: {}", r.status());
    for i in 0..200 {
        let method = format!("X{i:03}{}", "M".repeat(30_000));
        let req = format!("{method} /kv/alice/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let r = raw(p.addr(), req.as_bytes()).await?;
        ensure!(r.status >= 400, "a made-up method answered {}", r.status);
    }
    // A request head larger than the limit (64 KiB) is refused before any handler runs.
    let huge = format!("{} /kv/alice/k HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "M".repeat(200_000));
    let refused = match raw(p.addr(), huge.as_bytes()).await {
        Ok(r) => r.status == 431,
        Err(_) => true, // closed without an answer: also refused
    };
    ensure!(refused, "a 200 KB request line was accepted");
    // Readiness needs no token: a burst of it pings the backend once, not once a call.
    for _ in 0..50 {
        ensure!(h.get(format!("{}/readyz", p.base_url())).send().await?.status() == StatusCode::OK);
    }
    let r = h.get(format!("{}/metrics", p.base_url())).bearer_auth(B_ROOT).send().await?;
    ensure!(r.status() == StatusCode::OK, "/metrics with a `*` token: {}", r.status());
    let text = r.text().await?;
    let pings = text
        .lines()
        .find(|l| l.starts_with("p8fs_kv_backend_call_duration_seconds_count{op=\"ping\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .context("no ping count in /metrics")?;
    ensure!(pings <= 3, "50 readiness calls pinged the backend {pings} times");
    ensure!(!text.contains("MMMM"), "a client's method became a label");
    ensure!(text.contains("method=\"other\""), "made-up methods are not counted as other:\n{text}");
    ensure!(text.len() < 64 * 1024, "/metrics grew to {} bytes", text.len());
    Ok(())
}

/// Finding 7: the token (and for `/v1` the tenant grant) is checked from the head alone;
/// no body is read, parsed or even waited for before.
pub(crate) async fn nothing_is_read_before_authentication(ctx: Ctx) -> Result<()> {
    let p =
        proxy(&ctx, ServerConfig { tokens: tokens(&format!("{ALICE} alice\n"))?, ..ServerConfig::default() }).await?;
    // Heads announcing 16 MiB, then nothing: the answer comes at once, not after a body
    // or the request timeout.
    let announce = |line: &str, auth: &str| {
        format!(
            "{line} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            16 * 1024 * 1024
        )
    };
    for line in [
        "PUT /kv",
        "POST /kv/batch",
        "PUT /v1/kv/alice/keys/k",
        "PUT /v1/kv/alice/k/aw",
        "POST /v1/kv/alice/batch/put",
        "POST /v1/global/cas",
        "POST /v1/kv/bad%20tenant/batch/get",
    ] {
        let r = raw(p.addr(), announce(line, "").as_bytes()).await?;
        ensure!(r.status == 401 && code(&r.body) == "unauthorized", "{line} without a token: {} {}", r.status, r.body);
        ensure!(r.took < Duration::from_secs(2), "{line} without a token took {:?}", r.took);
    }
    let auth = format!("Authorization: Bearer {ALICE}\r\n");
    for line in ["POST /v1/kv/bob/batch/put", "PUT /v1/global/keys/k", "POST /v1/kv/bob/delete-prefix"] {
        let r = raw(p.addr(), announce(line, &auth).as_bytes()).await?;
        ensure!(r.status == 403 && code(&r.body) == "forbidden", "{line} with alice's token: {} {}", r.status, r.body);
        ensure!(r.took < Duration::from_secs(2), "{line} with alice's token took {:?}", r.took);
    }
    // Without a token, what the body holds does not matter: 401, never 400, 413 or 422.
    let h = Client::new();
    let b = p.base_url();
    for body in [
        "{not json".to_owned(),
        json!({"key": "bad tenant/k", "value": "1"}).to_string(),
        json!({"key": "alice/k", "value": 5}).to_string(),
        json!({"key": "alice/k", "value": "v".repeat(17 << 20)}).to_string(),
    ] {
        let r = h.put(format!("{b}/kv")).header("content-type", "application/json").body(body).send().await;
        // The proxy may close the connection before taking the whole body; a 401 that
        // arrives is the only answer allowed.
        if let Ok(r) = r {
            ensure!(r.status() == StatusCode::UNAUTHORIZED, "unauthenticated body answered {}", r.status());
        }
    }
    // A million tiny keys is refused while it is parsed: the parse stops at the limit, so
    // the garbage after the millionth key is never reached (400 invalid_json if it were).
    let mut body = String::from("{\"keys\": [");
    for _ in 0..1_000_000 {
        body.push_str("\"a\",");
    }
    body.push_str("!!! not json");
    let r = h
        .post(format!("{b}/v1/kv/alice/batch/get"))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = r.status();
    let text = r.text().await?;
    ensure!(status == StatusCode::PAYLOAD_TOO_LARGE && code(&text) == "too_large", "a million keys: {status} {text}");
    Ok(())
}

/// Finding 8: scans and batch gets answer within `max_response_bytes`, reading the
/// backend a page at a time; scans continue with `next`, and `HttpStore` follows it.
pub(crate) async fn answers_stay_within_their_byte_budget(ctx: Ctx) -> Result<()> {
    let budget = 64 * 1024;
    let limits = Limits { max_response_bytes: budget, max_value_bytes: 16 * 1024, ..Limits::default() };
    let p = proxy(&ctx, ServerConfig { limits, ..ServerConfig::default() }).await?;
    let b = p.base_url();
    let h = Client::new();
    // 40 values of 10 KiB of JSON text: 400 KiB in all, six times the budget.
    let value = |i: usize| format!("\"{i:02}{}\"", "x".repeat(10_240));
    let entries: Vec<Value> =
        (0..40).map(|i| json!({"key": format!("k{i:02}"), "value": B64.encode(value(i))})).collect();
    let r = h.post(format!("{b}/v1/kv/t/batch/put")).json(&json!({"entries": entries})).send().await?;
    ensure!(r.status() == StatusCode::OK, "batch put: {}", r.status());

    // /v1 scan: pages within the budget, continued with `next`, together exactly the keys.
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        pages += 1;
        ensure!(pages <= 40, "the scan does not end");
        let mut q = vec![("prefix", "k".to_owned()), ("limit", "1000".to_owned())];
        if let Some(a) = &after {
            q.push(("after", a.clone()));
        }
        let text = h.get(format!("{b}/v1/kv/t/scan")).query(&q).send().await?.text().await?;
        ensure!(text.len() <= budget, "a scan page of {} bytes", text.len());
        let v: Value = serde_json::from_str(&text)?;
        let page = v["entries"].as_array().context("entries")?;
        ensure!(!page.is_empty(), "an empty page with a continuation");
        for e in page {
            let k = e["key"].as_str().context("key")?;
            let i: usize = k[1..].parse()?;
            ensure!(B64.decode(e["value"].as_str().context("value")?)? == value(i).as_bytes(), "{k}'s value");
            keys.push(k.to_owned());
        }
        match v["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    let want: Vec<String> = (0..40).map(|i| format!("k{i:02}")).collect();
    ensure!(keys == want, "the pages held {keys:?}");
    ensure!(pages >= 8, "{pages} pages for 400 KiB under a 64 KiB budget");

    // The legacy scan has no continuation: it answers fewer entries.
    let r = h.get(format!("{b}/kv/scan?prefix=t/k&limit=1000")).send().await?;
    let text = r.text().await?;
    let n = serde_json::from_str::<Vec<Value>>(&text)?.len();
    ensure!(text.len() <= budget && (1..40).contains(&n), "legacy scan: {n} entries in {} bytes", text.len());

    // A batch get over the budget is refused; under it, answered in the order asked.
    let all: Vec<String> = (0..40).map(|i| format!("k{i:02}")).collect();
    let r = h.post(format!("{b}/v1/kv/t/batch/get")).json(&json!({"keys": all})).send().await?;
    let status = r.status();
    let text = r.text().await?;
    ensure!(status == StatusCode::PAYLOAD_TOO_LARGE && code(&text) == "response_too_large", "{status} {text}");
    let legacy: Vec<String> = all.iter().map(|k| format!("t/{k}")).collect();
    let r = h.post(format!("{b}/kv/batch")).json(&json!({"keys": legacy})).send().await?;
    ensure!(r.status() == StatusCode::PAYLOAD_TOO_LARGE, "legacy batch over the budget: {}", r.status());
    let r =
        h.post(format!("{b}/v1/kv/t/batch/get")).json(&json!({"keys": ["k07", "nope", "k03", "k07"]})).send().await?;
    let v: Value = r.json().await?;
    let got: Vec<&str> = v["entries"].as_array().context("entries")?.iter().filter_map(|e| e["key"].as_str()).collect();
    ensure!(got == ["k07", "k03"], "batch get answered {got:?}");

    // HttpStore follows `next` and splits batches: its callers see every entry.
    let t = http_store(b, "unused-token-0000000").await?.tenant(&TenantId::new("t")?);
    let page = t.scan_prefix("k", 1000, None).await?;
    ensure!(page.entries.len() == 40 && page.next.is_none(), "HttpStore scanned {}", page.entries.len());
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let got = t.batch_get(&refs).await?;
    ensure!(got.len() == 40, "HttpStore batch get found {}", got.len());
    Ok(())
}

/// Finding 8: beyond `max_concurrent_requests` a data request answers 503 at once, while
/// health checks still answer.
pub(crate) async fn requests_beyond_the_cap_answer_503_at_once(ctx: Ctx) -> Result<()> {
    let backend: Arc<dyn KvBackend> = Arc::new(Slow(ctx.env.proxy_backend(&ctx.scratch, &ctx.guards).await?));
    let limits = Limits { max_concurrent_requests: 2, ..Limits::default() };
    let p = RunningProxy::start(backend, ServerConfig { limits, ..ServerConfig::default() }).await?;
    let b = p.base_url();
    let h = Client::new();
    let slow: Vec<_> = (0..2).map(|_| tokio::spawn(h.get(format!("{b}/kv/t/k")).send())).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    let r = h.get(format!("{b}/v1/kv/t/keys/k")).send().await?;
    let took = start.elapsed();
    ensure!(r.status() == StatusCode::SERVICE_UNAVAILABLE, "a third request: {}", r.status());
    ensure!(r.headers().get("retry-after").is_some(), "503 without Retry-After");
    ensure!(code(&r.text().await?) == "overloaded");
    ensure!(took < Duration::from_millis(500), "the refusal took {took:?}");
    ensure!(h.get(format!("{b}/healthz")).send().await?.status() == StatusCode::OK, "/healthz under the cap");
    for t in slow {
        ensure!(t.await??.status() == StatusCode::NOT_FOUND, "a request within the cap failed");
    }
    ensure!(h.get(format!("{b}/kv/t/k")).send().await?.status() == StatusCode::NOT_FOUND, "the slots came back");
    Ok(())
}

/// Finding 10: without tokens, only JSON bodies, loopback hosts and loopback origins.
pub(crate) async fn browsers_cannot_drive_a_proxy_without_tokens(ctx: Ctx) -> Result<()> {
    let p = proxy(&ctx, ServerConfig::default()).await?;
    let b = p.base_url();
    let h = Client::new();
    let r = h.put(format!("{b}/v1/kv/t/keys/doc")).json(&json!({"value": B64.encode("\"kept\"")})).send().await?;
    ensure!(r.status() == StatusCode::NO_CONTENT);
    let prefix = json!({"prefix": "d"}).to_string();
    // What an HTML form or `fetch` without a preflight can send.
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
        let mut req = h.post(format!("{b}/v1/kv/t/delete-prefix")).body(prefix.clone());
        if !ct.is_empty() {
            req = req.header("content-type", ct);
        }
        let r = req.send().await?;
        ensure!(r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE, "delete-prefix as {ct:?}: {}", r.status());
        let r = h
            .put(format!("{b}/kv"))
            .header("content-type", ct)
            .body(json!({"key": "t/doc", "value": "\"x\""}).to_string())
            .send()
            .await?;
        ensure!(r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE, "legacy put as {ct:?}: {}", r.status());
    }
    let port = p.addr().port();
    let send = |host: String, origin: Option<&str>| {
        let origin = origin.map(|o| format!("Origin: {o}\r\n")).unwrap_or_default();
        format!(
            "POST /v1/kv/t/delete-prefix HTTP/1.1\r\nHost: {host}\r\n{origin}Connection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{prefix}",
            prefix.len()
        )
    };
    // DNS rebinding: the attacker's name resolves to 127.0.0.1, the browser sends it.
    for (host, origin, want) in [
        (format!("rebind.attacker.example:{port}"), None, "forbidden_host"),
        (format!("localhost.attacker.example:{port}"), None, "forbidden_host"),
        (format!("127.0.0.1:{port}"), Some("https://attacker.example"), "forbidden_origin"),
        (format!("127.0.0.1:{port}"), Some("null"), "forbidden_origin"),
    ] {
        let r = raw(p.addr(), send(host.clone(), origin).as_bytes()).await?;
        ensure!(r.status == 403 && code(&r.body) == want, "Host {host} Origin {origin:?}: {} {}", r.status, r.body);
    }
    let r = h.get(format!("{b}/v1/kv/t/keys/doc")).send().await?;
    ensure!(r.status() == StatusCode::OK, "the key was deleted by a refused request");
    // Loopback names and a page served from loopback are fine.
    for (host, origin) in [
        (format!("localhost:{port}"), Some("http://localhost:3000")),
        (format!("[::1]:{port}"), None),
        (format!("127.0.0.2:{port}"), Some("http://127.0.0.1:8000")),
    ] {
        let r = raw(p.addr(), send(host.clone(), origin).as_bytes()).await?;
        ensure!(r.status == 200, "Host {host} Origin {origin:?}: {} {}", r.status, r.body);
    }
    // With tokens the host does not matter (the token does).
    let other = format!("{}b", ctx.scratch);
    let q = RunningProxy::start(
        Arc::new(ctx.env.embedded_store(&other)?),
        ServerConfig { tokens: tokens(&format!("{ALICE} alice\n"))?, ..ServerConfig::default() },
    )
    .await?;
    let req = format!(
        "GET /v1/kv/alice/keys/k HTTP/1.1\r\nHost: p8fs-proxy.cluster.example\r\nAuthorization: Bearer {ALICE}\r\nConnection: close\r\n\r\n"
    );
    let r = raw(q.addr(), req.as_bytes()).await?;
    ensure!(r.status == 404 && code(&r.body) == "not_found", "any host with a token: {} {}", r.status, r.head);
    drop(q);
    ctx.env.cleanup(&other);
    Ok(())
}

/// Finding 13: a backend failure answers 5xx with a generic message and a request id;
/// its error chain, which names internal addresses, stays in the log.
pub(crate) async fn backend_failures_answer_5xx_without_their_details(_ctx: Ctx) -> Result<()> {
    let p = RunningProxy::start(Arc::new(Broken), ServerConfig::default()).await?;
    let b = p.base_url();
    let h = Client::new();
    for (what, req) in [
        ("v1 get", h.get(format!("{b}/v1/kv/t/keys/k"))),
        ("legacy get", h.get(format!("{b}/kv/t/k"))),
        ("v1 scan", h.get(format!("{b}/v1/kv/t/scan"))),
        ("legacy put", h.put(format!("{b}/kv")).json(&json!({"key": "t/k", "value": "1"}))),
        ("readiness", h.get(format!("{b}/readyz"))),
    ] {
        let r = req.send().await?;
        let status = r.status();
        let text = r.text().await?;
        ensure!(status == StatusCode::SERVICE_UNAVAILABLE, "{what}: {status} {text}");
        for secret in ["10.11.12.13", "pd-0.internal", "2379", "refused"] {
            ensure!(!text.contains(secret), "{what} leaked {secret:?}: {text}");
        }
        let v: Value = serde_json::from_str(&text)?;
        let id = v.pointer("/error/request_id").and_then(Value::as_str).context("no request id")?;
        ensure!(v["error"]["message"].as_str().is_some_and(|m| m.contains(id)), "{what}: {text}");
    }
    Ok(())
}

/// A backend whose every call fails naming internal hosts.
#[derive(Debug)]
struct Broken;

impl Broken {
    fn fail<T>() -> p8fs_kv::Result<T> {
        Err(KvError::unavailable(
            "tikv",
            "region 7: leader pd-0.internal:2379",
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connect to 10.11.12.13:2379 refused"),
        ))
    }
}

#[async_trait::async_trait]
impl KvBackend for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn capability(&self) -> p8fs_kv::Capability {
        p8fs_kv::Capability {
            ttl: true,
            ttl_granularity: Duration::from_millis(1),
            cas: true,
            cas_ttl: true,
            atomic_batch: true,
            max_key_bytes: 1024,
            max_value_bytes: 1 << 20,
            max_scan_limit: 1000,
            max_batch: 100,
        }
    }
    async fn get(&self, _: &p8fs_kv::Namespace, _: &p8fs_kv::Key) -> p8fs_kv::Result<Option<Vec<u8>>> {
        Self::fail()
    }
    async fn put(
        &self,
        _: &p8fs_kv::Namespace,
        _: &p8fs_kv::Key,
        _: &[u8],
        _: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        Self::fail()
    }
    async fn delete(&self, _: &p8fs_kv::Namespace, _: &p8fs_kv::Key) -> p8fs_kv::Result<()> {
        Self::fail()
    }
    async fn scan(
        &self,
        _: &p8fs_kv::Namespace,
        _: &[u8],
        _: Option<&[u8]>,
        _: usize,
    ) -> p8fs_kv::Result<Vec<p8fs_kv::KvPair>> {
        Self::fail()
    }
    async fn batch_get(&self, _: &p8fs_kv::Namespace, _: &[p8fs_kv::Key]) -> p8fs_kv::Result<Vec<p8fs_kv::KvPair>> {
        Self::fail()
    }
    async fn batch_put(
        &self,
        _: &p8fs_kv::Namespace,
        _: &[(p8fs_kv::Key, Vec<u8>)],
        _: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        Self::fail()
    }
    async fn batch_delete(&self, _: &p8fs_kv::Namespace, _: &[p8fs_kv::Key]) -> p8fs_kv::Result<()> {
        Self::fail()
    }
    async fn compare_and_swap(
        &self,
        _: &p8fs_kv::Namespace,
        _: &p8fs_kv::Key,
        _: Option<&[u8]>,
        _: &[u8],
        _: Option<Duration>,
    ) -> p8fs_kv::Result<()> {
        Self::fail()
    }
    async fn ping(&self) -> p8fs_kv::Result<()> {
        Self::fail()
    }
}
