//! [`HttpStore`]: the client of the p8fs HTTP proxy, over its `/v1` routes (the full
//! contract: binary values, batches, compare-and-swap, continuations). The proxy also
//! serves the legacy routes for old clients; this client does not need them.
//!
//! Keys never travel as URL paths: a key is one base64url path segment (`k/{key}`: no
//! `.`, `/` or `%`, so no client, proxy or server normalising the URL can turn it into
//! another key or another tenant's), or part of a JSON body. `connect` refuses a proxy
//! that does not serve those routes.
//!
//! Scans follow the proxy's `next`: a proxy ends a page early at its answer budget, and
//! this client keeps reading until it has the entries asked for. A batch get the proxy
//! refuses as too large an answer is split in halves.
//!
//! Retries: only idempotent calls (everything but compare-and-swap) are retried, and only
//! after a transport error or a 5xx answer, with exponential backoff. No base URL is
//! built in: it must be configured.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::wire::{ErrorAnswer, v1};
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result};

const NAME: &str = "http";

/// What a [`KvError::TooLarge`] names when the proxy refused to build an answer that big.
const ANSWER_TOO_LARGE: &str = "answer (proxy limit)";

/// Settings of an [`HttpStore`]. Its `Debug` hides the token and the URL's secrets.
#[derive(Clone)]
pub struct HttpConfig {
    /// The proxy's base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Bearer token, when the proxy requires one.
    pub token: Option<String>,
    /// Deadline of one request.
    pub timeout: Duration,
    /// Retries of an idempotent call after a transport error or a 5xx answer.
    pub retries: u32,
    /// The certificate authorities (a PEM file) an `https://` proxy's certificate must
    /// chain to, instead of the Web PKI roots (a proxy serving a private CA's certificate).
    pub tls_ca: Option<std::path::PathBuf>,
}

impl HttpConfig {
    /// Defaults for `base_url`: no token, 30 s per request, 3 retries.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self { base_url: base_url.into(), token: None, timeout: Duration::from_secs(30), retries: 3, tls_ca: None }
    }
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("base_url", &p8fs_redact::connection(&self.base_url))
            .field("token", &p8fs_redact::option(&self.token))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}

/// The HTTP proxy as a KV backend. Its `Debug` hides the token and the URL's secrets.
#[derive(Clone)]
pub struct HttpStore {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
    retries: u32,
    cap: Capability,
}

/// How long a pooled connection may stay idle: less than the proxy's header timeout
/// (10 s by default), which closes idle keep-alive connections, so a request is not sent
/// on a connection the proxy is closing.
const POOL_IDLE: Duration = Duration::from_secs(5);

impl std::fmt::Debug for HttpStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpStore")
            .field("base", &p8fs_redact::connection(&self.base))
            .field("token", &p8fs_redact::option(&self.token))
            .field("retries", &self.retries)
            .field("cap", &self.cap)
            .finish()
    }
}

/// Percent-encodes a query value: everything but unreserved characters.
fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn ns_path(ns: &Namespace) -> String {
    match ns {
        Namespace::Tenant(t) => format!("/v1/kv/{}", encode_query(t.as_str())),
        Namespace::Global => "/v1/global".to_owned(),
    }
}

/// The path of one key: its UTF-8 as a single base64url segment.
fn key_path(ns: &Namespace, key: &str) -> String {
    format!("{}/k/{}", ns_path(ns), B64URL.encode(key))
}

fn ttl_ms(ttl: Option<Duration>) -> Option<u64> {
    ttl.filter(|t| !t.is_zero()).map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1))
}

fn pair(e: v1::Entry) -> Result<KvPair> {
    Ok(KvPair { value: B64.decode(&e.value).map_err(|_| corrupt("value is not base64"))?, key: e.key })
}

fn pairs(entries: Vec<v1::Entry>) -> Result<Vec<KvPair>> {
    entries.into_iter().map(pair).collect()
}

/// An answer without a body (`204`); any body is ignored.
struct NoContent;

/// What a call's successful answer is parsed as.
trait Answer: Sized {
    fn parse(bytes: &[u8]) -> Result<Self>;
}

impl Answer for NoContent {
    fn parse(_: &[u8]) -> Result<Self> {
        Ok(NoContent)
    }
}

impl<T: DeserializeOwned> Answer for T {
    fn parse(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| {
            corrupt(&format!("not a {}: {e}", std::any::type_name::<T>().rsplit("::").next().unwrap_or("")))
        })
    }
}

/// A request body.
type Body<'a> = Option<&'a (dyn ErasedBody + Sync)>;

/// A serializable body behind a reference (`Serialize` is not object-safe).
trait ErasedBody {
    fn to_json(&self) -> Result<Vec<u8>>;
}

impl<T: Serialize> ErasedBody for T {
    fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| KvError::backend(NAME, "cannot encode the request body", e))
    }
}

fn corrupt(what: &str) -> KvError {
    KvError::Corrupt { backend: NAME, message: format!("the proxy sent an unexpected answer: {what}") }
}

impl HttpStore {
    /// Connects: reads the proxy's capability (which also checks that it answers).
    ///
    /// # Errors
    /// [`KvError::Unavailable`] when the proxy cannot be reached;
    /// [`KvError::InvalidArgument`] for a base URL that is not http(s).
    pub async fn connect(cfg: HttpConfig) -> Result<Self> {
        let base = cfg.base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(KvError::InvalidArgument {
                message: format!("proxy URL {base:?} must start with http:// or https://"),
            });
        }
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(64)
            .pool_idle_timeout(POOL_IDLE);
        if let Some(path) = &cfg.tls_ca {
            let bad = |e: &dyn std::fmt::Display| KvError::InvalidArgument {
                message: format!("the proxy's CA file {}: {e}", path.display()),
            };
            let pem = std::fs::read(path).map_err(|e| bad(&e))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(&e))?;
            if certs.is_empty() {
                return Err(bad(&"no certificate in it"));
            }
            builder = certs.into_iter().fold(builder.tls_built_in_root_certs(false), |b, c| b.add_root_certificate(c));
        }
        let client = builder.build().map_err(|e| KvError::backend(NAME, "cannot build the HTTP client", e))?;
        let mut this = Self {
            client,
            base,
            token: cfg.token,
            retries: cfg.retries,
            cap: Capability {
                ttl: false,
                ttl_granularity: Duration::ZERO,
                cas: false,
                cas_ttl: false,
                atomic_batch: false,
                max_key_bytes: 0,
                max_value_bytes: 0,
                max_scan_limit: 1,
                max_batch: 0,
            },
        };
        let c: v1::CapabilityAnswer = this.call_found(Method::GET, "/v1/capability", None, true).await?;
        if c.key_route.is_none() {
            // An older proxy has no `k/{key}` routes: its 404s would read as missing keys.
            return Err(KvError::Unsupported {
                backend: NAME,
                what: "a proxy without the /v1/.../k/{key} routes (older than this client): upgrade the proxy first",
            });
        }
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        this.cap = Capability {
            ttl: c.ttl,
            ttl_granularity: Duration::from_millis(c.ttl_granularity_ms),
            cas: c.cas,
            // A proxy that does not say lets its own check layer decide (it answers 501,
            // `Unsupported`, when its backend cannot).
            cas_ttl: c.cas_ttl.unwrap_or(true),
            atomic_batch: c.atomic_batch,
            max_key_bytes: n(c.max_key_bytes),
            max_value_bytes: n(c.max_value_bytes),
            max_scan_limit: n(c.max_scan_limit),
            max_batch: n(c.max_batch),
        };
        Ok(this)
    }

    /// One call: `Ok(None)` for `404 not_found` (a missing key; a missing route answers
    /// another code), `Ok(Some(answer))` for 2xx.
    async fn call<A: Answer>(&self, method: Method, path: &str, body: Body<'_>, idempotent: bool) -> Result<Option<A>> {
        let url = format!("{}{path}", self.base);
        let body = body.map(ErasedBody::to_json).transpose()?;
        let mut attempt = 0;
        loop {
            let mut req = self.client.request(method.clone(), &url);
            if let Some(t) = &self.token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = &body {
                req = req.header("content-type", "application/json").body(b.clone());
            }
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    match resp.bytes().await {
                        Ok(bytes) => Ok((status, bytes)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let retry = match &outcome {
                Err(_) => true,
                Ok((status, _)) => status.is_server_error(),
            };
            if retry && idempotent && attempt < self.retries {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                continue;
            }
            return match outcome {
                Err(e) if e.is_timeout() => {
                    Err(KvError::Timeout { backend: NAME, message: format!("{method} {path}: {e}") })
                }
                Err(e) => Err(KvError::unavailable(NAME, format!("{method} {path} failed"), e)),
                Ok((status, bytes)) => self.answer(status, &bytes, path),
            };
        }
    }

    /// A call whose answer is never "missing": a 404 is an error.
    async fn call_found<A: Answer>(&self, method: Method, path: &str, body: Body<'_>, idempotent: bool) -> Result<A> {
        self.call(method, path, body, idempotent).await?.ok_or_else(|| corrupt(&format!("{path} answered 404")))
    }

    fn answer<A: Answer>(&self, status: StatusCode, bytes: &[u8], path: &str) -> Result<Option<A>> {
        if status.is_success() {
            return A::parse(bytes).map(Some);
        }
        // Anything that is not the error body (a load balancer's page) is an error without
        // a code.
        let error = serde_json::from_slice::<ErrorAnswer>(bytes).ok().map(|a| a.error);
        let code = error.as_ref().map_or("", |e| e.code.as_str());
        let message = format!("{path}: {status} {code}: {}", error.as_ref().map_or("", |e| e.message.as_str()));
        Err(match (status.as_u16(), code) {
            (404, "not_found") => return Ok(None),
            (401 | 403, _) => KvError::PermissionDenied { backend: NAME, message },
            (409, "condition_not_met") => {
                let current = match error.and_then(|e| e.current).flatten() {
                    Some(s) => Some(B64.decode(s).map_err(|_| corrupt("current is not base64"))?),
                    None => None,
                };
                KvError::ConditionNotMet { key: String::new(), current }
            }
            (400, "invalid_key") => KvError::InvalidKey { key: String::new(), reason: message },
            (413, "response_too_large") => KvError::TooLarge { what: ANSWER_TOO_LARGE, size: 0, max: 0 },
            (413, _) => KvError::TooLarge { what: "request (proxy limit)", size: 0, max: 0 },
            (400 | 422, _) => KvError::InvalidArgument { message },
            (501, _) => KvError::Unsupported { backend: NAME, what: "this operation (the proxy's backend lacks it)" },
            (408 | 504, _) => KvError::Timeout { backend: NAME, message },
            (503, _) => KvError::Unavailable { backend: NAME, message, source: None },
            _ => KvError::Backend { backend: NAME, message, source: None },
        })
    }
}

#[async_trait]
impl KvBackend for HttpStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capability(&self) -> Capability {
        self.cap
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        let found: Option<v1::Entry> = self.call(Method::GET, &key_path(ns, key.as_str()), None, true).await?;
        Ok(found.map(pair).transpose()?.map(|p| p.value))
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let body = v1::PutRequest { value: B64.encode(value), ttl_ms: ttl_ms(ttl) };
        let NoContent = self.call_found(Method::PUT, &key_path(ns, key.as_str()), Some(&body), true).await?;
        Ok(())
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        let NoContent = self.call_found(Method::DELETE, &key_path(ns, key.as_str()), None, true).await?;
        Ok(())
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let mut q = v1::ScanQuery {
            start_b64: Some(B64.encode(start)),
            end_b64: end.map(|e| B64.encode(e)),
            ..v1::ScanQuery::default()
        };
        let mut out = Vec::new();
        // The proxy may end a page early (its answer budget): follow `next` until `limit`.
        // Every page holds at least one entry, so this takes at most `limit` calls.
        while out.len() < limit {
            q.limit = Some(limit - out.len());
            let query =
                serde_urlencoded::to_string(&q).map_err(|e| KvError::backend(NAME, "cannot encode a scan", e))?;
            let path = format!("{}/scan?{query}", ns_path(ns));
            let page: v1::ScanAnswer = self.call_found(Method::GET, &path, None, true).await?;
            if page.entries.is_empty() {
                break;
            }
            out.extend(pairs(page.entries)?);
            match page.next {
                Some(n) => q.after = Some(n),
                None => break,
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let path = format!("{}/batch/get", ns_path(ns));
        let mut out = Vec::new();
        // A batch whose answer the proxy finds too large is asked for in halves, in order
        // (a single key always fits): at most 2 x keys calls.
        let mut todo: Vec<&[Key]> = vec![keys];
        while let Some(chunk) = todo.pop() {
            let body = v1::KeysRequest { keys: chunk.iter().map(|k| k.as_str().to_owned()).collect() };
            match self.call_found::<v1::EntriesAnswer>(Method::POST, &path, Some(&body), true).await {
                Err(KvError::TooLarge { what: ANSWER_TOO_LARGE, .. }) if chunk.len() > 1 => {
                    let (first, second) = chunk.split_at(chunk.len() / 2);
                    todo.push(second);
                    todo.push(first);
                }
                r => out.extend(pairs(r?.entries)?),
            }
        }
        Ok(out)
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        let body = v1::BatchPutRequest {
            entries: entries
                .iter()
                .map(|(k, v)| v1::Entry { key: k.as_str().to_owned(), value: B64.encode(v) })
                .collect(),
            ttl_ms: ttl_ms(ttl),
        };
        let _: v1::WrittenAnswer =
            self.call_found(Method::POST, &format!("{}/batch/put", ns_path(ns)), Some(&body), true).await?;
        Ok(())
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let body = v1::KeysRequest { keys: keys.iter().map(|k| k.as_str().to_owned()).collect() };
        let _: v1::DeletedAnswer =
            self.call_found(Method::POST, &format!("{}/batch/delete", ns_path(ns)), Some(&body), true).await?;
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        let body = v1::CasRequest {
            key: key.as_str().to_owned(),
            expected: expected.map(|e| B64.encode(e)),
            value: B64.encode(new),
            ttl_ms: ttl_ms(ttl),
        };
        // Not idempotent: never retried (a retry after a lost answer could fail a swap
        // that in fact succeeded).
        match self
            .call_found::<v1::SwappedAnswer>(Method::POST, &format!("{}/cas", ns_path(ns)), Some(&body), false)
            .await
        {
            Err(KvError::ConditionNotMet { current, .. }) => {
                Err(KvError::ConditionNotMet { key: key.as_str().to_owned(), current })
            }
            other => other.map(|_| ()),
        }
    }

    async fn ping(&self) -> Result<()> {
        let _: crate::wire::StatusAnswer = self.call_found(Method::GET, "/readyz", None, true).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_travel_as_one_segment_no_url_parser_can_resolve() {
        let ns = Namespace::Tenant(crate::TenantId::new("alice").unwrap());
        for key in ["../../bob/keys/secret", "%2e%2e/%2E%2E/x", "a/./b", "50% off?#frag ü/🙂", "..."] {
            let path = key_path(&ns, key);
            let segment = path.strip_prefix("/v1/kv/alice/k/").unwrap();
            assert!(segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{path}");
            assert_eq!(B64URL.decode(segment).unwrap(), key.as_bytes());
            // What a URL parser makes of the path is the path itself.
            let url = reqwest::Url::parse(&format!("http://127.0.0.1{path}")).unwrap();
            assert_eq!(url.path(), path);
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let mut cfg = HttpConfig::new("http://user:hunter2@127.0.0.1:8080");
        cfg.token = Some("secret-token-0123456789".into());
        let text = format!("{cfg:?}");
        assert!(!text.contains("secret-token") && !text.contains("hunter2"), "{text}");
        assert!(text.contains("***") && text.contains("127.0.0.1:8080"), "{text}");
    }

    #[test]
    fn query_values_are_fully_percent_encoded() {
        assert_eq!(encode_query("a/b c+d&e=f?#%ü"), "a%2Fb%20c%2Bd%26e%3Df%3F%23%25%C3%BC");
    }
}
