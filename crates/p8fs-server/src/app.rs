//! The router: state, the layers every request passes, fallbacks, health and metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use p8fs_kv::{Kv, KvBackend, Namespace, ScopedKv};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::error::error_chain;
use crate::guard::{self, Scope};
use crate::{ApiError, MeteredBackend, Metrics, ServerConfig, legacy, v1};

/// Shared by all handlers.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) kv: Kv,
    pub(crate) cfg: Arc<ServerConfig>,
    pub(crate) metrics: Arc<Metrics>,
    /// One permit per data request being served ([`crate::Limits::max_concurrent_requests`]).
    pub(crate) requests: Arc<Semaphore>,
    /// The in-flight memory pool ([`crate::Limits::max_inflight_bytes`]).
    pub(crate) memory: Arc<Semaphore>,
    /// The last readiness probe of the backend and when it ran: `/readyz` needs no token,
    /// so anyone may call it; the backend is asked at most once a second whatever the rate.
    pub(crate) ready: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
}

impl AppState {
    /// The store of `ns`.
    pub(crate) fn scoped(&self, ns: Namespace) -> ScopedKv {
        match ns {
            Namespace::Tenant(t) => self.kv.tenant(&t),
            Namespace::Global => self.kv.global(),
        }
    }
}

/// `routes` behind the guard of `scope` (see [`guard`]): it runs after routing and before
/// the handlers' extractors read anything.
pub(crate) fn guarded(state: &AppState, scope: Scope, routes: Router<AppState>) -> Router<AppState> {
    routes.route_layer(middleware::from_fn_with_state((state.clone(), scope), guard::check))
}

/// The proxy's router over `backend`.
pub fn router(backend: Arc<dyn KvBackend>, cfg: ServerConfig, metrics: Arc<Metrics>) -> Router {
    let metered: Arc<dyn KvBackend> = Arc::new(MeteredBackend::new(backend, Arc::clone(&metrics)));
    let requests = Arc::new(Semaphore::new(cfg.limits.max_concurrent_requests.clamp(1, Semaphore::MAX_PERMITS)));
    let memory = Arc::new(Semaphore::new(cfg.limits.memory_units()));
    let ready = Arc::new(tokio::sync::Mutex::new(None));
    let state = AppState { kv: Kv::new(metered), cfg: Arc::new(cfg), metrics, requests, memory, ready };
    let body_limit = state.cfg.limits.max_body_bytes;
    Router::new()
        .merge(legacy::routes(&state))
        .merge(v1::routes(&state))
        .merge(guarded(&state, Scope::Operator, Router::new().route("/metrics", get(metrics_text))))
        .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
        .route("/readyz", get(readyz))
        .route("/openapi.json", get(|| async { Json(crate::openapi::document().clone()) }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard::loopback_only))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// How long a readiness answer is reused.
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(1);

async fn readyz(State(s): State<AppState>) -> Response {
    // One probe at a time, reused for a second: callers without a token cannot turn this
    // route into load on the backend.
    let mut last = s.ready.lock().await;
    let probe = match *last {
        Some((at, ok)) if at.elapsed() < READY_FOR => {
            if ok {
                Ok(())
            } else {
                Err(p8fs_kv::KvError::unavailable(
                    "proxy",
                    "the last readiness probe failed",
                    std::io::Error::other("see the log"),
                ))
            }
        }
        _ => {
            let r = s.kv.backend().ping().await;
            *last = Some((Instant::now(), r.is_ok()));
            r
        }
    };
    drop(last);
    match probe {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the KV backend does not answer",
            &error_chain(&e),
        )
        .into_response(),
    }
}

async fn metrics_text(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

async fn not_found(method: Method, uri: axum::http::Uri) -> ApiError {
    // Not `not_found`: a client must never take a missing route for a missing key.
    ApiError::new(StatusCode::NOT_FOUND, "no_route", format!("no route for {method} {}", uri.path()))
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
