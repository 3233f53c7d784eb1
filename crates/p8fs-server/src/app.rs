//! The router: state, limits, authentication, metrics, fallbacks, graceful serving.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use p8fs_kv::{Kv, KvBackend, Namespace};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::auth::{Denied, TokenSet};
use crate::{ApiError, MeteredBackend, Metrics, legacy, v1};

/// Limits the proxy enforces before anything reaches the backend. Exceeding any answers
/// a 4xx with the JSON error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest logical key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes (decoded).
    pub max_value_bytes: usize,
    /// Most keys or entries in one batch request.
    pub max_batch: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most entries one scan returns.
    pub max_scan_limit: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: 4096,
            max_value_bytes: 8 * 1024 * 1024,
            max_batch: 1000,
            max_body_bytes: 16 * 1024 * 1024,
            max_scan_limit: 10_000,
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// How the proxy serves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Limits.
    pub limits: Limits,
    /// Tokens; `None` serves without authentication (the binary allows that on loopback
    /// addresses only).
    pub tokens: Option<TokenSet>,
}

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) kv: Kv,
    pub(crate) cfg: Arc<ServerConfig>,
    pub(crate) metrics: Arc<Metrics>,
}

impl AppState {
    /// Checks the request's credentials for `ns`.
    pub(crate) fn authorize(&self, headers: &HeaderMap, ns: &Namespace) -> Result<(), ApiError> {
        let Some(tokens) = &self.cfg.tokens else { return Ok(()) };
        let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match tokens.check(auth, ns.tenant().map(|t| t.as_str())) {
            Ok(()) => Ok(()),
            Err(Denied::Unauthenticated) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or invalid bearer token (Authorization: Bearer TOKEN)",
            )),
            Err(Denied::Forbidden) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this token does not grant access to {}", ns.describe()),
            )),
        }
    }

    /// Checks a value's size.
    pub(crate) fn check_value(&self, len: usize) -> Result<(), ApiError> {
        let max = self.cfg.limits.max_value_bytes;
        if len > max {
            return Err(too_large("value bytes", len, max));
        }
        Ok(())
    }

    /// Checks a key's size.
    pub(crate) fn check_key(&self, key: &str) -> Result<(), ApiError> {
        let max = self.cfg.limits.max_key_bytes;
        if key.len() > max {
            return Err(too_large("key bytes", key.len(), max));
        }
        Ok(())
    }

    /// Checks a batch's size.
    pub(crate) fn check_batch(&self, len: usize) -> Result<(), ApiError> {
        let max = self.cfg.limits.max_batch;
        if len > max {
            return Err(too_large("batch entries", len, max));
        }
        Ok(())
    }
}

pub(crate) fn too_large(what: &str, size: usize, max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("{what} of {size} exceeds the limit of {max}"))
}

/// A JSON request body whose every failure (too large, not JSON, wrong shape) answers
/// with the JSON error body.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body exceeds the size limit")
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string()),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e}")),
            }
        })
    }
}

/// The proxy's router over `backend`.
pub fn router(backend: Arc<dyn KvBackend>, cfg: ServerConfig, metrics: Arc<Metrics>) -> Router {
    let metered: Arc<dyn KvBackend> = Arc::new(MeteredBackend::new(backend, Arc::clone(&metrics)));
    let state = AppState { kv: Kv::new(metered), cfg: Arc::new(cfg), metrics };
    let body_limit = state.cfg.limits.max_body_bytes;
    Router::new()
        .merge(legacy::routes())
        .merge(v1::routes())
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(|| async { Json(crate::openapi::document().clone()) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> Response {
    match s.kv.backend().ping().await {
        Ok(()) => Json(json!({"status": "ready", "backend": s.kv.backend().name()})).into_response(),
        Err(e) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e.to_string()).into_response(),
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

/// Times out slow requests (408) and records every request's route, status and latency.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let timeout = s.cfg.limits.request_timeout;
    let resp = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            format!("the request did not finish within {timeout:?}"),
        )
        .into_response(),
    };
    let took = start.elapsed();
    s.metrics.request(&route, method.as_str(), resp.status().as_u16(), took);
    tracing::debug!(%method, route, status = resp.status().as_u16(), micros = took.as_micros() as u64, "request");
    resp
}

/// Serves `router` on `listener` until `shutdown` resolves; requests in flight then
/// finish before this returns.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
