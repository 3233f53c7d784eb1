//! Assembles the proxy: the route table behind its guards, the fallbacks, and the layers
//! every request passes.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use p8fs_core::P8fs;
use p8fs_kv::{Kv, KvBackend};
use tokio::sync::Semaphore;

use crate::guard::{self, Guards};
use crate::state::{AppState, Shared};
use crate::{ApiError, MeteredBackend, Metrics, ServerConfig, openapi, routes};

/// The proxy's router over `backend`: the KV routes only.
pub fn router(backend: Arc<dyn KvBackend>, cfg: ServerConfig, metrics: Arc<Metrics>) -> Router {
    build(backend, None, cfg, metrics)
}

/// The proxy's router with a SQL provider: the KV routes over `p8fs`'s own KV backend (so
/// the reverse mappings the entity routes write are the keys the KV routes read), and the
/// entity, search, REM and edge routes over `p8fs`.
pub fn router_with_entities(p8fs: Arc<P8fs>, cfg: ServerConfig, metrics: Arc<Metrics>) -> Router {
    let backend = Arc::clone(p8fs.kv().backend());
    build(backend, Some(p8fs), cfg, metrics)
}

fn build(backend: Arc<dyn KvBackend>, p8fs: Option<Arc<P8fs>>, cfg: ServerConfig, metrics: Arc<Metrics>) -> Router {
    let metered: Arc<dyn KvBackend> = Arc::new(MeteredBackend::new(backend, Arc::clone(&metrics)));
    let requests = Arc::new(Semaphore::new(cfg.limits.max_concurrent_requests.clamp(1, Semaphore::MAX_PERMITS)));
    let memory = Arc::new(Semaphore::new(cfg.limits.memory_units()));
    let ready = Arc::new(tokio::sync::Mutex::new(None));
    // Plain data: serializing it cannot fail.
    let openapi = serde_json::to_vec(openapi::document()).unwrap_or_default().into();
    let kv = Kv::new(metered).with_limits(cfg.limits.capability());
    let with_entities = p8fs.is_some();
    let state = AppState::new(Shared { kv, cfg: Arc::new(cfg), metrics, requests, memory, ready, openapi, p8fs });
    let body_limit = state.cfg.limits.max_body_bytes;
    let (routes, _) = routes::table(&Guards::Live(state.clone()), with_entities).split_for_parts();
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .with_state(state)
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

/// The one layer every request passes (one `from_fn`, not one per concern): refuses
/// browsers when the proxy has no tokens ([`guard::loopback_only`]), times out slow
/// requests (408) and records every request's route, status and latency.
async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let resp = if let Err(refused) = guard::loopback_only(&s, &req) {
        refused.into_response()
    } else {
        let timeout = s.cfg.limits.request_timeout;
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!("the request did not finish within {timeout:?}"),
            )
            .into_response(),
        }
    };
    let took = start.elapsed();
    s.metrics.request(route, method.as_str(), resp.status().as_u16(), took);
    tracing::debug!(%method, route, status = resp.status().as_u16(), micros = took.as_micros() as u64, "request");
    resp
}
