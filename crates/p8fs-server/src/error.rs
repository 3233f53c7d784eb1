//! Errors as HTTP responses: a status and [`ErrorAnswer`] (`{"error": {"code",
//! "message"}}`).
//!
//! A backend's failure answers 5xx with a generic message and a request id; the error's
//! whole chain (which may name internal hosts and addresses) goes to the log at warn level
//! with the same id, never to the client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use p8fs_kv::wire::{ErrorAnswer, ErrorDetail};
use p8fs_kv::{KvError, KvErrorKind};

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid_key`, `too_large`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// On a 5xx: the id of the log line with the details.
    pub request_id: Option<String>,
    /// On a failed compare-and-swap: the current value (base64), `None` inside when the
    /// key is missing.
    pub current: Option<Option<String>>,
    /// Seconds a client should wait before retrying (`Retry-After`), on a 503.
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), request_id: None, current: None, retry_after: None }
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A failure inside the proxy or its backend: the client gets `generic` and a request
    /// id (in the message and as `request_id`); `detail` is logged at warn with that id.
    pub fn internal(status: StatusCode, code: &'static str, generic: &str, detail: &str) -> Self {
        let id = request_id();
        tracing::warn!(request_id = %id, code, error = %detail, "request failed");
        let mut e = Self::new(status, code, format!("{generic} (request id {id}; details are in the proxy's log)"));
        e.request_id = Some(id);
        e
    }
}

/// A process-unique id for one failed request: the process's start time and a counter.
fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = *START.get_or_init(|| {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) ^ u64::from(std::process::id())
    });
    format!("{:08x}-{:06x}", start & 0xffff_ffff, COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = ErrorDetail {
            code: self.code.to_owned(),
            message: self.message,
            request_id: self.request_id,
            current: self.current,
        };
        let mut resp = (self.status, Json(ErrorAnswer { error })).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

impl From<KvError> for ApiError {
    fn from(e: KvError) -> Self {
        let (status, code) = match e.kind() {
            KvErrorKind::InvalidKey => (StatusCode::BAD_REQUEST, "invalid_key"),
            KvErrorKind::InvalidArgument => (StatusCode::BAD_REQUEST, "bad_request"),
            KvErrorKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            KvErrorKind::ConditionNotMet => (StatusCode::CONFLICT, "condition_not_met"),
            KvErrorKind::Serde => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_value"),
            KvErrorKind::Unsupported => {
                return ApiError::internal(
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported",
                    "the proxy's backend does not support this operation",
                    &error_chain(&e),
                );
            }
            KvErrorKind::Timeout => {
                return ApiError::internal(
                    StatusCode::GATEWAY_TIMEOUT,
                    "backend_timeout",
                    "the KV backend did not answer in time",
                    &error_chain(&e),
                );
            }
            KvErrorKind::Unavailable => {
                return ApiError::internal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend_unavailable",
                    "the KV backend is unavailable",
                    &error_chain(&e),
                );
            }
            _ => {
                return ApiError::internal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "backend_error",
                    "the KV backend failed",
                    &error_chain(&e),
                );
            }
        };
        let mut api = ApiError::new(status, code, error_chain(&e));
        if let KvError::ConditionNotMet { current, .. } = &e {
            use base64::Engine;
            let cur = current.as_ref().map(|c| base64::engine::general_purpose::STANDARD.encode(c));
            api.current = Some(cur);
        }
        api
    }
}

impl From<p8fs_core::Error> for ApiError {
    /// The core error kinds as statuses: invalid input 400, not found 404, conflict 409,
    /// permission denied 403, unsupported 501, unavailable 503 (`Retry-After: 1`),
    /// configuration and internal errors 500. Client errors keep their message (it
    /// describes the request); the others answer a generic one and a request id, the
    /// details going to the log.
    fn from(e: p8fs_core::Error) -> Self {
        use p8fs_core::ErrorKind;
        let (status, code) = match e.kind() {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "bad_request"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::PermissionDenied => {
                // The proxy's own backend refused it: not the caller's token.
                return ApiError::internal(
                    StatusCode::FORBIDDEN,
                    "backend_forbidden",
                    "the proxy's backend refused the operation",
                    &error_chain(&e),
                );
            }
            ErrorKind::Unsupported => {
                return ApiError::internal(
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported",
                    "the proxy's backend does not support this operation",
                    &error_chain(&e),
                );
            }
            ErrorKind::Unavailable => {
                let mut api = ApiError::internal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend_unavailable",
                    "a backend is unavailable; retry shortly",
                    &error_chain(&e),
                );
                api.retry_after = Some(1);
                return api;
            }
            _ => {
                return ApiError::internal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "backend_error",
                    "the backend failed",
                    &error_chain(&e),
                );
            }
        };
        ApiError::new(status, code, error_chain(&e))
    }
}

/// The error and its causes, one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(e: ApiError) -> (StatusCode, serde_json::Value) {
        let resp = e.into_response();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn backend_failures_answer_a_generic_message_and_a_request_id() {
        let source = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connect to 10.9.8.7:2379 refused");
        for (e, status) in [
            (KvError::unavailable("tikv", "region 7 leader pd-2.internal:2379", source), 503),
            (KvError::Timeout { backend: "tikv", message: "store 10.9.8.7:20160".into() }, 504),
            (KvError::Backend { backend: "sql", message: "db.internal:3306 said no".into(), source: None }, 500),
        ] {
            let (got, v) = body_of(ApiError::from(e)).await;
            assert_eq!(got.as_u16(), status);
            let text = v.to_string();
            for secret in ["10.9.8.7", "internal", "2379", "refused"] {
                assert!(!text.contains(secret), "{secret:?} leaked: {text}");
            }
            let id = v.pointer("/error/request_id").and_then(serde_json::Value::as_str).unwrap();
            assert!(v.pointer("/error/message").and_then(serde_json::Value::as_str).unwrap().contains(id), "{text}");
        }
        // Client errors keep their message: they describe the request, not the backend.
        let (got, v) = body_of(ApiError::from(KvError::InvalidKey { key: "k".into(), reason: "empty".into() })).await;
        assert_eq!(got, StatusCode::BAD_REQUEST);
        assert!(v.to_string().contains("empty"));
    }

    #[tokio::test]
    async fn core_error_kinds_answer_their_statuses_and_unavailable_says_when_to_retry() {
        use p8fs_core::Error as CoreError;
        let unavailable = || {
            CoreError::from(KvError::Unavailable {
                backend: "tikv",
                message: "pd-1.internal:2379 down".into(),
                source: None,
            })
        };
        for (e, status, code) in [
            (CoreError::InvalidInput("unknown entity type \"x\"".into()), 400, "bad_request"),
            (CoreError::NotFound("no resources with id 1".into()), 404, "not_found"),
            (CoreError::from(KvError::ConditionNotMet { key: "k".into(), current: None }), 409, "conflict"),
            (
                CoreError::from(KvError::PermissionDenied { backend: "http", message: "403 from 10.1.2.3".into() }),
                403,
                "backend_forbidden",
            ),
            (CoreError::from(KvError::Unsupported { backend: "http", what: "ttl" }), 501, "unsupported"),
            (unavailable(), 503, "backend_unavailable"),
            (CoreError::Config("P8FS_PG_URL=postgres://u:S3cret@db.internal".into()), 500, "backend_error"),
            (CoreError::Internal("db.internal:5432 broke".into()), 500, "backend_error"),
        ] {
            let api = ApiError::from(e);
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{}", api.message);
            let retry = api.retry_after;
            let resp = api.into_response();
            let header = resp.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
            assert_eq!(header.as_deref(), (status == 503).then_some("1"), "{status}");
            assert_eq!(retry.is_some(), status == 503);
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if status >= 500 || status == 403 {
                for secret in ["internal", "S3cret", "10.1.2.3"] {
                    assert!(!text.contains(secret), "{secret:?} leaked: {text}");
                }
                assert!(text.contains("request_id"), "{text}");
            }
        }
    }
}
