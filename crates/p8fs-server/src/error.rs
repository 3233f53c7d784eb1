//! Errors as HTTP responses: a status and `{"error": {"code", "message"}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use p8fs_kv::{KvError, KvErrorKind};
use serde_json::json;

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_key`, `too_large`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// Extra fields of the error object (the current value of a failed CAS).
    pub extra: Option<serde_json::Value>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: None }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut err = json!({"code": self.code, "message": self.message});
        if let (Some(serde_json::Value::Object(extra)), Some(obj)) = (self.extra, err.as_object_mut()) {
            obj.extend(extra);
        }
        (self.status, Json(json!({ "error": err }))).into_response()
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> Self {
        let (status, code) = match e.kind() {
            KvErrorKind::InvalidKey => (StatusCode::BAD_REQUEST, "invalid_key"),
            KvErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "bad_request"),
            KvErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            KvErrorKind::ConditionNotMet => (StatusCode::CONFLICT, "condition_not_met"),
            KvErrorKind::Unsupported => (StatusCode::NOT_IMPLEMENTED, "unsupported"),
            KvErrorKind::Serde => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
            KvErrorKind::Timeout => (StatusCode::GATEWAY_TIMEOUT, "backend_timeout"),
            KvErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "backend_error"),
        };
        if status.is_server_error() {
            tracing::warn!(error = %error_chain(&e), "backend call failed");
        }
        let mut api = ApiError::new(status, code, error_chain(&e));
        if let KvError::ConditionNotMet { current, .. } = &e {
            use base64::Engine;
            let cur = current.as_ref().map(|c| base64::engine::general_purpose::STANDARD.encode(c));
            api.extra = Some(json!({ "current": cur }));
        }
        api
    }
}

/// The error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
