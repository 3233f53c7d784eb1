//! What runs before a handler reads anything a client sent in a body.
//!
//! * [`check`], a route layer of every guarded route ([`Guards::apply`]): the bearer token
//!   from the headers (401), then for data routes a slot among
//!   [`Limits::max_concurrent_requests`](crate::Limits) (503 when none is free), held
//!   until the answer has been sent.
//! * The handlers' extractors then run in order: [`Scoped`] (a `/v1` route's namespace
//!   from the path and the token's grant of it, 403) before the body is read. Legacy
//!   routes that name their tenant in the body check the grant after parsing it
//!   ([`Caller::open`]).
//! * [`loopback_only`], without tokens: requests whose `Host` is not a loopback name or
//!   address, or whose `Origin` is not loopback, are refused (403), so web pages cannot
//!   drive the proxy through a browser (cross-site requests, DNS rebinding).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, RawPathParams, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use p8fs_kv::{Namespace, ScopedKv, TenantId};
use tokio::sync::OwnedSemaphorePermit;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::OpenApiRouter;

use crate::ApiError;
use crate::auth::Grant;
use crate::state::AppState;

/// The name of the bearer security scheme in the OpenAPI document.
pub(crate) const BEARER: &str = "bearer";

/// Puts routes behind the guard; the route table is built once with each kind.
pub(crate) enum Guards {
    /// The proxy's: every guarded route checks its scope against this state.
    Live(AppState),
    /// For the OpenAPI document only (no state to check against): the routes are left
    /// unguarded, and only the document learns which need a token.
    DocumentOnly,
}

impl Guards {
    /// `routes` behind the guard of `scope` (see the module docs): it runs after routing
    /// and before the handlers' extractors read anything. Their operations in the document
    /// require the bearer token, so the document says which routes are guarded because
    /// this put them there.
    pub(crate) fn apply(&self, scope: Scope, mut routes: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
        for op in routes.get_openapi_mut().paths.paths.values_mut().flat_map(operations) {
            op.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
        }
        match self {
            Guards::Live(s) => routes.route_layer(middleware::from_fn_with_state((s.clone(), scope), check)),
            Guards::DocumentOnly => routes,
        }
    }
}

/// Who is calling, as the guard established it.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// The proxy has no tokens.
    Open,
    /// A valid token with this grant.
    Token(Arc<Grant>),
}

impl Caller {
    /// The store of `ns`, if the caller may reach it (403 otherwise): the one way a
    /// handler opens a store.
    pub(crate) fn open(&self, s: &AppState, ns: Namespace) -> Result<ScopedKv, ApiError> {
        self.check(&ns)?;
        Ok(s.scoped(ns))
    }

    /// 403 unless the caller may reach `ns`.
    pub(crate) fn check(&self, ns: &Namespace) -> Result<(), ApiError> {
        match self {
            Caller::Open => Ok(()),
            Caller::Token(g) if g.reaches(ns.tenant().map(TenantId::as_str)) => Ok(()),
            Caller::Token(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token does not grant access to {}", ns.describe()),
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| unguarded("Caller"))
    }
}

/// The store of the namespace a `/v1` path names (`/v1/kv/{tenant}/...`: that tenant;
/// `/v1/global/...`: the global namespace), validated (400) and authorized against the
/// caller's grant (403). A request part: it runs before any body extractor, so a body is
/// never read for a namespace the token does not reach.
pub(crate) struct Scoped(pub(crate) ScopedKv);

impl FromRequestParts<AppState> for Scoped {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, s).await?;
        let ns = path_namespace(parts).await?;
        caller.open(s, ns).map(Scoped)
    }
}

/// The SQL side and the tenant an entity or REM path names (`/v1/entities/{tenant}/...`,
/// `/v1/rem/{tenant}`), validated (400) and authorized against the caller's grant (403),
/// with the path's other parameters (percent-decoded). Like [`Scoped`], a request part:
/// no body is read for a tenant the token does not reach.
pub(crate) struct SqlScoped {
    /// The entities, search, REM and edges.
    pub(crate) p8fs: Arc<p8fs_core::P8fs>,
    /// The tenant, checked.
    pub(crate) tenant: TenantId,
    /// The path's parameters but the tenant (`type`, `id`, `name`).
    params: HashMap<String, String>,
}

impl SqlScoped {
    /// A parameter of the path (the route declares it, so it is there; empty otherwise).
    pub(crate) fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

impl FromRequestParts<AppState> for SqlScoped {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, s).await?;
        let Path(mut params) = Path::<HashMap<String, String>>::from_request_parts(parts, &())
            .await
            .map_err(|e| ApiError::bad_request(format!("bad path: {e}")))?;
        let tenant = TenantId::new(params.remove("tenant").unwrap_or_default())?;
        caller.check(&Namespace::Tenant(tenant.clone()))?;
        // Only routes of a router built with a SQL provider reach here.
        let p8fs = s.p8fs.clone().ok_or_else(|| {
            ApiError::internal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the proxy failed",
                "an entity route is served without a SQL provider",
            )
        })?;
        Ok(SqlScoped { p8fs, tenant, params })
    }
}

fn unguarded(what: &str) -> ApiError {
    ApiError::internal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the proxy failed",
        &format!("a route without the guard asked for {what}"),
    )
}

/// The operations of a documented path.
pub(crate) fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.options]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// What the guard of a route checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A token granted `*` (`/metrics`: the whole proxy's traffic is no one tenant's
    /// business); no request slot.
    Operator,
    /// A valid token with any grant (`/v1/capability`); no request slot.
    Token,
    /// A data route: a valid token and a request slot now, the grant of the namespace
    /// once a handler's extractor or the handler has found it.
    Data,
}

/// The route layer of every guarded route (see the module docs).
pub(crate) async fn check(State((s, scope)): State<(AppState, Scope)>, req: Request, next: Next) -> Response {
    match admit(&s, scope, req).await {
        Ok((req, None)) => next.run(req).await,
        Ok((req, Some(permits))) => {
            next.run(req).await.map(|inner| Body::new(Held { inner, pending: None, _permits: permits }))
        }
        Err(refused) => refused,
    }
}

async fn admit(
    s: &AppState,
    scope: Scope,
    req: Request,
) -> Result<(Request, Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>), Response> {
    let caller = authenticate(s, req.headers()).map_err(IntoResponse::into_response)?;
    if scope == Scope::Operator && matches!(&caller, Caller::Token(g) if **g != Grant::All) {
        let e = ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this route needs a token granted `*`");
        return Err(e.into_response());
    }
    let (mut parts, body) = req.into_parts();
    let overloaded = |what: String| {
        let e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", format!("{what}; retry shortly"));
        ([(header::RETRY_AFTER, "1")], e).into_response()
    };
    let permit = match scope {
        Scope::Operator | Scope::Token => None,
        Scope::Data => {
            let slot = Arc::clone(&s.requests).try_acquire_owned().map_err(|_| {
                overloaded(format!(
                    "the proxy is serving its limit of {} requests at once",
                    s.cfg.limits.max_concurrent_requests
                ))
            })?;
            let units = request_units(&s.cfg.limits, &parts);
            let memory = tokio::time::timeout(MEMORY_WAIT, Arc::clone(&s.memory).acquire_many_owned(units))
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| {
                    overloaded(format!(
                        "the requests in flight hold the proxy's memory limit of {} bytes",
                        s.cfg.limits.max_inflight_bytes
                    ))
                })?;
            Some((slot, memory))
        }
    };
    parts.extensions.insert(caller);
    Ok((Request::from_parts(parts, body), permit))
}

async fn path_namespace(parts: &mut Parts) -> Result<Namespace, ApiError> {
    // The raw parameters (percent-decoded, no map built per request).
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("bad path: {e}")))?;
    let tenant = params.iter().find(|(k, _)| *k == "tenant").map(|(_, v)| v);
    Ok(match tenant {
        Some(t) => Namespace::Tenant(TenantId::new(t)?),
        None => Namespace::Global,
    })
}

fn authenticate(s: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let Some(tokens) = &s.cfg.tokens else { return Ok(Caller::Open) };
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    tokens.authenticate(auth).map(Caller::Token).map_err(|_| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token (Authorization: Bearer TOKEN)",
        )
    })
}

/// Longest a request waits for its share of the in-flight memory pool.
const MEMORY_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a request reserves of the in-flight memory pool, from its method, path and
/// declared body length (see [`crate::Limits::max_inflight_bytes`]).
fn request_units(limits: &crate::Limits, parts: &Parts) -> u32 {
    use axum::http::Method;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let has_body = !matches!(parts.method, Method::GET | Method::HEAD | Method::DELETE);
    let path = parts.uri.path();
    // Entity, search and REM answers carry entities whatever their method.
    let carries_values = parts.method == Method::GET
        || path.ends_with("/batch/get")
        || path == "/kv/batch"
        || crate::entities::PREFIXES.iter().any(|p| path.starts_with(p));
    limits.request_units(declared, has_body, carries_values)
}

/// Frames an answer is handed to the connection in. hyper asks for the next frame only
/// when it has written most of the previous one, so a large answer keeps its request's
/// reservation until all but its last chunk is on the wire (as one frame, the whole answer
/// would sit in the connection's write buffer after the reservation was returned, and
/// slow readers could pile up answers beyond the memory limit).
const CHUNK: usize = 64 * 1024;

/// An answer's body that keeps its request's slot and memory until it has been sent (or
/// dropped), handed over in chunks of [`CHUNK`] bytes.
struct Held {
    inner: Body,
    /// The rest of a data frame larger than a chunk (the same buffer, not a copy).
    pending: Option<Bytes>,
    _permits: (OwnedSemaphorePermit, OwnedSemaphorePermit),
}

impl Held {
    /// The next chunk of `data`, keeping the rest as pending.
    fn chunk(&mut self, mut data: Bytes) -> Frame<Bytes> {
        if data.len() > CHUNK {
            let first = data.split_to(CHUNK);
            self.pending = Some(data);
            Frame::data(first)
        } else {
            self.pending = None;
            Frame::data(data)
        }
    }
}

impl http_body::Body for Held {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(rest) = self.pending.take() {
            return Poll::Ready(Some(Ok(self.chunk(rest))));
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => Poll::Ready(Some(Ok(self.chunk(data)))),
                Err(other) => Poll::Ready(Some(Ok(other))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let pending = self.pending.as_ref().map_or(0, |p| p.len() as u64);
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower() + pending);
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper + pending);
        }
        hint
    }
}

/// The check of a proxy without tokens (see the module docs), run first by the global
/// layer on every request.
pub(crate) fn loopback_only(s: &AppState, req: &Request) -> Result<(), ApiError> {
    match s.cfg.tokens {
        None => browser_check(req, s.cfg.allow_any_host),
        Some(_) => Ok(()),
    }
}

fn browser_check(req: &Request, allow_any_host: bool) -> Result<(), ApiError> {
    let forbidden = |code, message: String| Err(ApiError::new(StatusCode::FORBIDDEN, code, message));
    if !allow_any_host {
        // An unreadable Host counts as present and not loopback.
        let host = req.headers().get(header::HOST).map(|h| h.to_str().unwrap_or(""));
        let authority = req.uri().authority().map(|a| a.as_str());
        let ok = match (host, authority) {
            (None, None) => false,
            (Some(h), a) => is_loopback_host(h) && a.is_none_or(is_loopback_host),
            (None, Some(a)) => is_loopback_host(a),
        };
        if !ok {
            let shown = host.or(authority).unwrap_or("");
            return forbidden(
                "forbidden_host",
                format!(
                    "this proxy has no tokens, so it answers only requests for a loopback host (localhost, 127.0.0.1, [::1]), not {shown:?}"
                ),
            );
        }
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let value = origin.to_str().unwrap_or("");
        let host = value.split_once("://").map(|(_, rest)| rest);
        if !host.is_some_and(is_loopback_host) {
            return forbidden(
                "forbidden_origin",
                format!("this proxy has no tokens, so it refuses requests from web pages (Origin {value:?})"),
            );
        }
    }
    Ok(())
}

/// Whether `host[:port]` names a loopback address: `localhost`, 127.0.0.0/8, `[::1]`.
fn is_loopback_host(hostport: &str) -> bool {
    let port_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = hostport.strip_prefix('[') {
        let Some((ip, after)) = rest.split_once(']') else { return false };
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(port_ok);
        return port_ok && ip.parse::<Ipv6Addr>().is_ok_and(|a| IpAddr::V6(a).to_canonical().is_loopback());
    }
    let host = match hostport.rsplit_once(':') {
        Some((h, p)) if port_ok(p) => h,
        Some(_) => return false,
        None => hostport,
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<Ipv4Addr>().is_ok_and(|a| a.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised_and_lookalikes_are_not() {
        for ok in [
            "localhost",
            "LocalHost:8080",
            "127.0.0.1",
            "127.0.0.1:0",
            "127.5.6.7:65535",
            "[::1]",
            "[::1]:8080",
            "[::ffff:127.0.0.1]:80",
            "localhost:",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.evil.example",
            "evil.example:80",
            "localhost:80:80",
            "localhost:http",
            "128.0.0.1",
            "0.0.0.0",
            "10.0.0.1:8080",
            "[::2]",
            "[::1",
            "[::1]x",
            "::1",
            "127.1",
            "2130706433",
            "null",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    fn req(host: Option<&str>, origin: Option<&str>, uri: &str) -> Request {
        let mut b = Request::builder().uri(uri);
        if let Some(h) = host {
            b = b.header(header::HOST, h);
        }
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::empty()).unwrap()
    }

    #[test]
    fn browsers_cannot_reach_a_proxy_without_tokens() {
        assert!(browser_check(&req(Some("127.0.0.1:8080"), None, "/kv"), false).is_ok());
        assert!(browser_check(&req(Some("localhost:8080"), Some("http://localhost:3000"), "/kv"), false).is_ok());
        let code = |r: Request, any: bool| browser_check(&r, any).unwrap_err().code;
        // DNS rebinding: the page's own name in Host.
        assert_eq!(code(req(Some("rebind.evil.example:8080"), None, "/kv"), false), "forbidden_host");
        assert_eq!(code(req(None, None, "/kv"), false), "forbidden_host");
        assert_eq!(code(req(Some("127.0.0.1"), None, "http://evil.example/kv"), false), "forbidden_host");
        // A cross-site request from a page elsewhere.
        assert_eq!(code(req(Some("127.0.0.1:8080"), Some("https://evil.example"), "/kv"), false), "forbidden_origin");
        assert_eq!(code(req(Some("127.0.0.1:8080"), Some("null"), "/kv"), false), "forbidden_origin");
        // Served open on purpose: any Host, but still no web pages.
        assert!(browser_check(&req(Some("p8fs-proxy:8080"), None, "/kv"), true).is_ok());
        assert_eq!(code(req(Some("p8fs-proxy:8080"), Some("http://evil.example"), "/kv"), true), "forbidden_origin");
    }
}
