//! The OpenAI-compatible embeddings client against a local service on loopback that
//! speaks the same shape (`POST /v1/embeddings`): batching, order, retries on 429/5xx,
//! no retry on 4xx, dimension checks, and the kind of each failure.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use p8fs_core::ErrorKind;
use p8fs_core::embed::{Embedder, OpenAiConfig, OpenAiEmbedder};
use serde_json::{Value, json};

#[derive(Clone)]
struct Svc {
    calls: Arc<AtomicU32>,
    fail_first: Arc<AtomicU32>,
    status: StatusCode,
    dim: usize,
}

async fn embeddings(State(s): State<Svc>, Json(body): Json<Value>) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    if s.fail_first.load(Ordering::SeqCst) > 0 {
        s.fail_first.fetch_sub(1, Ordering::SeqCst);
        return (s.status, [("retry-after", "0")], "slow down").into_response();
    }
    let inputs = body["input"].as_array().cloned().unwrap_or_default();
    // Like OpenAI's text-embedding-3 models: `dimensions` shortens the vectors.
    let dim = body["dimensions"].as_u64().map_or(s.dim, |d| d as usize);
    // Answer in reverse order with explicit indexes: the client must reorder.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, t)| {
            let len = t.as_str().unwrap_or("").len() as f64;
            json!({"index": i, "embedding": (0..dim).map(|j| len + j as f64).collect::<Vec<_>>()})
        })
        .collect();
    Json(json!({"data": data, "model": body["model"]})).into_response()
}

async fn serve(svc: Svc) -> String {
    let app = axum::Router::new().route("/v1/embeddings", post(embeddings)).with_state(svc);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}")
}

fn svc(fail_first: u32, status: StatusCode, dim: usize) -> Svc {
    Svc { calls: Arc::new(AtomicU32::new(0)), fail_first: Arc::new(AtomicU32::new(fail_first)), status, dim }
}

#[tokio::test]
async fn batches_reorders_and_retries_429_and_5xx() {
    let s = svc(2, StatusCode::TOO_MANY_REQUESTS, 4);
    let base = serve(s.clone()).await;
    let mut cfg = OpenAiConfig::new(base, "test-model", 4);
    cfg.batch_size = 2;
    let e = OpenAiEmbedder::new(cfg).unwrap();
    let texts: Vec<String> = ["a", "bb", "ccc", "dddd", "eeeee"].iter().map(|s| s.to_string()).collect();
    let v = e.embed(&texts).await.unwrap();
    assert_eq!(v.len(), 5);
    for (i, t) in texts.iter().enumerate() {
        assert_eq!(v[i][0], t.len() as f32, "order kept for {t}");
    }
    assert_eq!(s.calls.load(Ordering::SeqCst), 3 + 2, "3 batches and 2 retried 429s");
    let s5 = svc(1, StatusCode::SERVICE_UNAVAILABLE, 4);
    let e5 = OpenAiEmbedder::new(OpenAiConfig::new(serve(s5.clone()).await, "m", 4)).unwrap();
    assert_eq!(e5.embed(&["x".into()]).await.unwrap().len(), 1);
    assert_eq!(s5.calls.load(Ordering::SeqCst), 2, "a 503 is retried once");
}

#[tokio::test]
async fn client_errors_are_not_retried_and_dimensions_are_checked() {
    let s = svc(10, StatusCode::BAD_REQUEST, 4);
    let e = OpenAiEmbedder::new(OpenAiConfig::new(serve(s.clone()).await, "m", 4)).unwrap();
    let err = e.embed(&["x".into()]).await.unwrap_err().to_string();
    assert!(err.contains("400"), "{err}");
    assert_eq!(s.calls.load(Ordering::SeqCst), 1, "a 400 must not be retried");
    let wrong = svc(0, StatusCode::OK, 3);
    let e = OpenAiEmbedder::new(OpenAiConfig::new(serve(wrong).await, "m", 4)).unwrap();
    let err = e.embed(&["x".into()]).await.unwrap_err().to_string();
    assert!(err.contains("3 dimensions") && err.contains("expected 4"), "{err}");
    assert!(OpenAiEmbedder::new(OpenAiConfig::new("ftp://x", "m", 4)).is_err());
}

#[tokio::test]
async fn text_embedding_3_models_are_asked_for_the_configured_dimension() {
    // A service whose native size (1536) does not fit the core models' 384 columns.
    let native = svc(0, StatusCode::OK, 1536);
    let base = serve(native).await;
    let e = OpenAiEmbedder::new(OpenAiConfig::new(base.clone(), "text-embedding-3-small", 384)).unwrap();
    assert_eq!(e.embed(&["x".into()]).await.unwrap()[0].len(), 384, "dimensions sent");
    // Other models get no `dimensions` field (services may refuse it): a size mismatch is
    // then a clear error.
    let e = OpenAiEmbedder::new(OpenAiConfig::new(base, "all-MiniLM-L6-v2", 384)).unwrap();
    let err = e.embed(&["x".into()]).await.unwrap_err().to_string();
    assert!(err.contains("1536 dimensions"), "{err}");
}

/// A client of `base` that retries `retries` times, without waiting long.
fn client(base: String, retries: u32) -> OpenAiEmbedder {
    let mut cfg = OpenAiConfig::new(base, "m", 4);
    cfg.retries = retries;
    OpenAiEmbedder::new(cfg).unwrap()
}

#[tokio::test]
async fn a_429_or_5xx_that_outlasts_the_retries_is_unavailable_and_retryable() {
    for status in [StatusCode::TOO_MANY_REQUESTS, StatusCode::SERVICE_UNAVAILABLE, StatusCode::INTERNAL_SERVER_ERROR] {
        let s = svc(u32::MAX, status, 4);
        let err = client(serve(s.clone()).await, 1).embed(&["x".into()]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{status}: {err}");
        assert!(err.is_retryable(), "{status}: {err}");
        assert!(err.to_string().contains(status.as_str()), "{err}");
        assert_eq!(s.calls.load(Ordering::SeqCst), 2, "{status}: the first call and one retry");
    }
}

#[tokio::test]
async fn a_4xx_is_bad_input_or_configuration_and_not_retryable() {
    for (status, kind) in [
        (StatusCode::BAD_REQUEST, ErrorKind::InvalidInput),
        (StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::InvalidInput),
        (StatusCode::UNAUTHORIZED, ErrorKind::Config),
        (StatusCode::NOT_FOUND, ErrorKind::Config),
    ] {
        let s = svc(u32::MAX, status, 4);
        let err = client(serve(s.clone()).await, 3).embed(&["x".into()]).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        assert!(!err.is_retryable(), "{status}: {err}");
        assert_eq!(s.calls.load(Ordering::SeqCst), 1, "{status} must not be retried");
    }
}

#[tokio::test]
async fn an_unreadable_answer_is_internal_and_no_answer_is_unavailable() {
    let app = axum::Router::new().route("/v1/embeddings", post(|| async { "<html>not json</html>" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let err = client(format!("http://{addr}"), 3).embed(&["x".into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
    assert!(!err.is_retryable() && err.to_string().contains("not JSON"), "{err}");
    // Nothing listens: a port just closed.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = l.local_addr().unwrap();
    drop(l);
    let err = client(format!("http://{closed}"), 0).embed(&["x".into()]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.is_retryable(), "{err}");
}
