//! `/v1`: the full KV contract over HTTP. Values are base64 (any bytes); TTLs are
//! milliseconds. Routes exist for a tenant (`/v1/kv/{tenant}/...`) and for the global
//! namespace (`/v1/global/...`); the guard has authorized the namespace before a handler
//! runs ([`Target`]).
//!
//! A key travels either as one base64url path segment (`k/{key}`, what `HttpStore`
//! sends: no URL normalisation can change it, since base64url has neither `.`, `/` nor
//! `%`), as a percent-encoded path (`keys/{key...}`, for people with curl), or in a JSON
//! body.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::app::{AppState, guarded};
use crate::body::{JsonBody, bounded};
use crate::guard::{Scope, Target};
use crate::reply::{self, Entries, Range, next_tail};

/// What `/v1/capability` says about the `k/{key}` routes; a client that needs them (every
/// `HttpStore`) refuses a proxy whose capability lacks it.
const KEY_ROUTE: &str = "k/{base64url}";

pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let ns_routes = || {
        let routes = Router::new()
            .route("/keys/{*key}", get(get_path).put(put_path).delete(delete_path))
            .route("/k/{key}", get(get_b64).put(put_b64).delete(delete_b64))
            .route("/batch/get", post(batch_get))
            .route("/batch/put", post(batch_put))
            .route("/batch/delete", post(batch_delete))
            .route("/cas", post(cas))
            .route("/scan", get(scan))
            .route("/delete-prefix", post(delete_prefix));
        guarded(state, Scope::V1Path, routes)
    };
    Router::new().nest("/v1/kv/{tenant}", ns_routes()).nest("/v1/global", ns_routes()).merge(guarded(
        state,
        Scope::Token,
        Router::new().route("/v1/capability", get(capability)),
    ))
}

type Params = Result<Path<HashMap<String, String>>, PathRejection>;

/// The `key` of a `keys/{key...}` path, percent-decoded.
fn path_key(p: Params) -> Result<String, ApiError> {
    let Path(mut p) = p.map_err(|e| ApiError::bad_request(format!("bad path: {e}")))?;
    Ok(p.remove("key").unwrap_or_default())
}

/// The `key` of a `k/{key}` path: base64url without padding of the key's UTF-8.
fn b64_key(p: Params) -> Result<String, ApiError> {
    let segment = path_key(p)?;
    let bytes = B64URL
        .decode(&segment)
        .map_err(|e| ApiError::bad_request(format!("the key segment is not base64url without padding: {e}")))?;
    String::from_utf8(bytes)
        .map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, "invalid_key", "the key segment does not decode to UTF-8"))
}

fn decode(b64: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(b64).map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}")))
}

fn ttl(ms: Option<u64>) -> Option<Duration> {
    ms.filter(|m| *m > 0).map(Duration::from_millis)
}

/// The keys of a batch request, checked against the key limit (the batch limit held while
/// the body was parsed).
fn checked_keys<'a>(s: &AppState, keys: &'a [String]) -> Result<Vec<&'a str>, ApiError> {
    s.cfg.limits.check_batch(keys.len())?;
    for k in keys {
        s.cfg.limits.check_key(k)?;
    }
    Ok(keys.iter().map(String::as_str).collect())
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn get_path(State(s): State<AppState>, Target(ns): Target, p: Params) -> Result<Json<Value>, ApiError> {
    read(&s, ns, path_key(p)?).await
}

async fn get_b64(State(s): State<AppState>, Target(ns): Target, p: Params) -> Result<Json<Value>, ApiError> {
    read(&s, ns, b64_key(p)?).await
}

async fn read(s: &AppState, ns: p8fs_kv::Namespace, key: String) -> Result<Json<Value>, ApiError> {
    s.cfg.limits.check_key(&key)?;
    let kv = s.scoped(ns);
    match kv.get(&key).await? {
        Some(v) => Ok(Json(json!({ "key": key, "value": B64.encode(v) }))),
        None => Err(ApiError::not_found(format!("no key {key:?} in {}", kv.namespace().describe()))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    value: String,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

async fn put_path(
    State(s): State<AppState>,
    Target(ns): Target,
    p: Params,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Response, ApiError> {
    write(&s, ns, path_key(p)?, body).await
}

async fn put_b64(
    State(s): State<AppState>,
    Target(ns): Target,
    p: Params,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Response, ApiError> {
    write(&s, ns, b64_key(p)?, body).await
}

async fn write(s: &AppState, ns: p8fs_kv::Namespace, key: String, body: PutBody) -> Result<Response, ApiError> {
    s.cfg.limits.check_key(&key)?;
    let value = decode(&body.value, "value")?;
    s.cfg.limits.check_value(value.len())?;
    s.scoped(ns).put(&key, &value, ttl(body.ttl_ms)).await?;
    Ok(no_content())
}

async fn delete_path(State(s): State<AppState>, Target(ns): Target, p: Params) -> Result<Response, ApiError> {
    remove(&s, ns, path_key(p)?).await
}

async fn delete_b64(State(s): State<AppState>, Target(ns): Target, p: Params) -> Result<Response, ApiError> {
    remove(&s, ns, b64_key(p)?).await
}

async fn remove(s: &AppState, ns: p8fs_kv::Namespace, key: String) -> Result<Response, ApiError> {
    s.cfg.limits.check_key(&key)?;
    s.scoped(ns).delete(&key).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysBody {
    #[serde(deserialize_with = "bounded")]
    keys: Vec<String>,
}

async fn batch_get(
    State(s): State<AppState>,
    Target(ns): Target,
    JsonBody(body): JsonBody<KeysBody>,
) -> Result<Response, ApiError> {
    let refs = checked_keys(&s, &body.keys)?;
    let limits = s.cfg.limits;
    let mut out = Entries::new("{\"entries\":[", limits.max_response_bytes);
    reply::batch_get(&s.scoped(ns), &refs, &limits, &mut out, |o, k, v| o.push(k, reply::Value::Base64(v))).await?;
    Ok(out.finish("]}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchPutBody {
    #[serde(deserialize_with = "bounded")]
    entries: Vec<Entry>,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

async fn batch_put(
    State(s): State<AppState>,
    Target(ns): Target,
    JsonBody(body): JsonBody<BatchPutBody>,
) -> Result<Json<Value>, ApiError> {
    s.cfg.limits.check_batch(body.entries.len())?;
    let mut decoded = Vec::with_capacity(body.entries.len());
    for e in &body.entries {
        s.cfg.limits.check_key(&e.key)?;
        let v = decode(&e.value, "value")?;
        s.cfg.limits.check_value(v.len())?;
        decoded.push((e.key.as_str(), v));
    }
    let refs: Vec<(&str, &[u8])> = decoded.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    s.scoped(ns).batch_put(&refs, ttl(body.ttl_ms)).await?;
    Ok(Json(json!({ "written": refs.len() })))
}

async fn batch_delete(
    State(s): State<AppState>,
    Target(ns): Target,
    JsonBody(body): JsonBody<KeysBody>,
) -> Result<Json<Value>, ApiError> {
    let refs = checked_keys(&s, &body.keys)?;
    s.scoped(ns).batch_delete(&refs).await?;
    Ok(Json(json!({ "deleted": refs.len() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CasBody {
    key: String,
    expected: Option<String>,
    value: String,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

async fn cas(
    State(s): State<AppState>,
    Target(ns): Target,
    JsonBody(body): JsonBody<CasBody>,
) -> Result<Json<Value>, ApiError> {
    s.cfg.limits.check_key(&body.key)?;
    let expected = body.expected.as_deref().map(|e| decode(e, "expected")).transpose()?;
    let value = decode(&body.value, "value")?;
    s.cfg.limits.check_value(value.len())?;
    s.scoped(ns).compare_and_swap(&body.key, expected.as_deref(), &value, ttl(body.ttl_ms)).await?;
    Ok(Json(json!({ "swapped": true })))
}

/// One page: at most `limit` entries and about `max_response_bytes`; `next` continues.
async fn scan(
    State(s): State<AppState>,
    Target(ns): Target,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request("limit must be a positive integer"))?,
    };
    let limits = s.cfg.limits;
    limits.check_scan_limit(limit)?;
    let bytes = |k: &str| q.get(k).map(|v| decode(v, k)).transpose();
    let (start_b64, end_b64) = (bytes("start_b64")?, bytes("end_b64")?);
    let ranges = [q.contains_key("prefix"), q.contains_key("start"), start_b64.is_some()];
    if ranges.iter().filter(|x| **x).count() > 1 {
        return Err(ApiError::bad_request("give one of prefix, start/end or start_b64/end_b64"));
    }
    let range = if let Some(start) = q.get("start") {
        Range::Text(start.clone(), q.get("end").cloned())
    } else if let Some(start) = start_b64 {
        Range::Bytes(start, end_b64)
    } else {
        Range::Prefix(q.get("prefix").cloned().unwrap_or_default())
    };
    let after = q.get("after").cloned();
    let mut out = Entries::new("{\"entries\":[", limits.max_response_bytes);
    let push = |o: &mut Entries, k: &str, v: &[u8]| o.push(k, reply::Value::Base64(v));
    let next = reply::scan(&s.scoped(ns), &range, limit, after, &limits, &mut out, push).await?;
    Ok(out.finish(&next_tail(next.as_deref())?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefixBody {
    prefix: String,
}

async fn delete_prefix(
    State(s): State<AppState>,
    Target(ns): Target,
    JsonBody(body): JsonBody<PrefixBody>,
) -> Result<Json<Value>, ApiError> {
    let n = s.scoped(ns).delete_prefix(&body.prefix).await?;
    Ok(Json(json!({ "deleted": n })))
}

/// What this proxy and its backend support, with the proxy's limits applied.
async fn capability(State(s): State<AppState>) -> Json<Value> {
    let c = s.kv.backend().capability();
    let l = s.cfg.limits;
    Json(json!({
        "backend": s.kv.backend().name(),
        "ttl": c.ttl,
        "ttl_granularity_ms": u64::try_from(c.ttl_granularity.as_millis()).unwrap_or(u64::MAX),
        "cas": c.cas,
        "atomic_batch": c.atomic_batch,
        "max_key_bytes": c.max_key_bytes.min(l.max_key_bytes),
        "max_value_bytes": c.max_value_bytes.min(l.max_value_bytes),
        "max_scan_limit": c.max_scan_limit.min(l.max_scan_limit),
        "max_batch": c.max_batch.min(l.max_batch),
        "max_response_bytes": l.max_response_bytes,
        "key_route": KEY_ROUTE,
    }))
}
