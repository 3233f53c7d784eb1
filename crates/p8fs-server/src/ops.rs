//! The routes for operators and tools: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use std::time::Instant;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use p8fs_kv::wire::StatusAnswer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;
use crate::error::error_chain;
use crate::guard::{Guards, Scope};
use crate::state::AppState;

/// The tag of these routes' operations.
const TAG: &str = "operations";

/// The operators' routes: `/metrics` behind the operator's guard, the others public (the
/// document says so: they pass no guard).
pub(crate) fn routes(guards: &Guards) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(guards.apply(Scope::Operator, OpenApiRouter::new().routes(routes!(metrics_text))))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(openapi_json))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = TAG,
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = StatusAnswer)))]
async fn healthz() -> Json<StatusAnswer> {
    Json(StatusAnswer { status: "ok".to_owned() })
}

/// How long a readiness answer is reused.
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The backend answers (503 `not_ready` otherwise).
///
/// The backend is pinged at most once a second; the answer is reused meanwhile.
#[utoipa::path(get, path = "/readyz", tag = TAG,
    responses((status = 200, description = "`{\"status\": \"ready\"}`", body = StatusAnswer),
              (status = 503, description = "`not_ready`: the backend does not answer", body = p8fs_kv::wire::ErrorAnswer)))]
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
        Ok(()) => Json(StatusAnswer { status: "ready".to_owned() }).into_response(),
        Err(e) => ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the KV backend does not answer",
            &error_chain(&e),
        )
        .into_response(),
    }
}

/// Prometheus text exposition.
///
/// Needs a token granted `*` when the proxy has tokens: the whole proxy's traffic is no
/// one tenant's business.
#[utoipa::path(get, path = "/metrics", tag = TAG,
    responses((status = 200, description = "the metrics", body = String, content_type = "text/plain")))]
async fn metrics_text(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = TAG,
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi_json(State(s): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], s.openapi.clone()).into_response()
}
