//! `/v1`: the full KV contract over HTTP. Values are base64 (any bytes); TTLs are
//! milliseconds. Routes exist for a tenant (`/v1/kv/{tenant}/...`) and for the global
//! namespace (`/v1/global/...`).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p8fs_kv::{Namespace, ScopedKv, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::app::{AppState, JsonBody};
use crate::legacy::scoped;

pub(crate) fn routes() -> Router<AppState> {
    let ns_routes = || {
        Router::new()
            .route("/keys/{*key}", get(get_value).put(put_value).delete(delete_value))
            .route("/batch/get", post(batch_get))
            .route("/batch/put", post(batch_put))
            .route("/batch/delete", post(batch_delete))
            .route("/cas", post(cas))
            .route("/scan", get(scan))
            .route("/delete-prefix", post(delete_prefix))
    };
    Router::new()
        .nest("/v1/kv/{tenant}", ns_routes())
        .nest("/v1/global", ns_routes())
        .route("/v1/capability", get(capability))
}

type Params = Result<Path<HashMap<String, String>>, PathRejection>;

/// The namespace and (for key routes) the key named by the path.
fn target(p: Params) -> Result<(Namespace, Option<String>), ApiError> {
    let Path(mut p) = p.map_err(|e| ApiError::bad_request(format!("bad path: {e}")))?;
    let ns = match p.remove("tenant") {
        Some(t) => Namespace::Tenant(TenantId::new(t)?),
        None => Namespace::Global,
    };
    Ok((ns, p.remove("key")))
}

/// Authorizes and returns the scoped store.
fn open(s: &AppState, headers: &HeaderMap, ns: Namespace) -> Result<ScopedKv, ApiError> {
    s.authorize(headers, &ns)?;
    Ok(scoped(s, ns))
}

fn decode(b64: &str, what: &str) -> Result<Vec<u8>, ApiError> {
    B64.decode(b64).map_err(|e| ApiError::bad_request(format!("{what} is not valid base64: {e}")))
}

fn ttl(ms: Option<u64>) -> Option<Duration> {
    ms.filter(|m| *m > 0).map(Duration::from_millis)
}

/// The keys of a batch request, checked against the batch and key limits.
fn checked_keys<'a>(s: &AppState, keys: &'a [String]) -> Result<Vec<&'a str>, ApiError> {
    s.check_batch(keys.len())?;
    for k in keys {
        s.check_key(k)?;
    }
    Ok(keys.iter().map(String::as_str).collect())
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

async fn get_value(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Json<Value>, ApiError> {
    let (ns, key) = target(p)?;
    let key = key.unwrap_or_default();
    s.check_key(&key)?;
    let kv = open(&s, &headers, ns)?;
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

async fn put_value(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Response, ApiError> {
    let (ns, key) = target(p)?;
    let key = key.unwrap_or_default();
    s.check_key(&key)?;
    let value = decode(&body.value, "value")?;
    s.check_value(value.len())?;
    open(&s, &headers, ns)?.put(&key, &value, ttl(body.ttl_ms)).await?;
    Ok(no_content())
}

async fn delete_value(State(s): State<AppState>, headers: HeaderMap, p: Params) -> Result<Response, ApiError> {
    let (ns, key) = target(p)?;
    let key = key.unwrap_or_default();
    s.check_key(&key)?;
    open(&s, &headers, ns)?.delete(&key).await?;
    Ok(no_content())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysBody {
    keys: Vec<String>,
}

async fn batch_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<KeysBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    let refs = checked_keys(&s, &body.keys)?;
    let found = open(&s, &headers, ns)?.batch_get(&refs).await?;
    let entries: Vec<Value> =
        found.into_iter().map(|p| json!({ "key": p.key, "value": B64.encode(p.value) })).collect();
    Ok(Json(json!({ "entries": entries })))
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
    entries: Vec<Entry>,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

async fn batch_put(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<BatchPutBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    s.check_batch(body.entries.len())?;
    let mut decoded = Vec::with_capacity(body.entries.len());
    for e in &body.entries {
        s.check_key(&e.key)?;
        let v = decode(&e.value, "value")?;
        s.check_value(v.len())?;
        decoded.push((e.key.as_str(), v));
    }
    let refs: Vec<(&str, &[u8])> = decoded.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    open(&s, &headers, ns)?.batch_put(&refs, ttl(body.ttl_ms)).await?;
    Ok(Json(json!({ "written": refs.len() })))
}

async fn batch_delete(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<KeysBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    let refs = checked_keys(&s, &body.keys)?;
    open(&s, &headers, ns)?.batch_delete(&refs).await?;
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
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<CasBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    s.check_key(&body.key)?;
    let expected = body.expected.as_deref().map(|e| decode(e, "expected")).transpose()?;
    let value = decode(&body.value, "value")?;
    s.check_value(value.len())?;
    open(&s, &headers, ns)?.compare_and_swap(&body.key, expected.as_deref(), &value, ttl(body.ttl_ms)).await?;
    Ok(Json(json!({ "swapped": true })))
}

async fn scan(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request("limit must be a positive integer"))?,
    };
    if limit == 0 || limit > s.cfg.limits.max_scan_limit {
        return Err(ApiError::bad_request(format!("limit must be between 1 and {}", s.cfg.limits.max_scan_limit)));
    }
    let after = q.get("after").map(String::as_str);
    let kv = open(&s, &headers, ns)?;
    let bytes = |k: &str| q.get(k).map(|v| decode(v, k)).transpose();
    let (start_b64, end_b64) = (bytes("start_b64")?, bytes("end_b64")?);
    let ranges = [q.contains_key("prefix"), q.contains_key("start"), start_b64.is_some()];
    if ranges.iter().filter(|x| **x).count() > 1 {
        return Err(ApiError::bad_request("give one of prefix, start/end or start_b64/end_b64"));
    }
    let page = if let Some(start) = q.get("start") {
        kv.scan_range(start, q.get("end").map(String::as_str), limit, after).await?
    } else if let Some(start) = start_b64 {
        kv.scan_bytes(&start, end_b64.as_deref(), limit, after).await?
    } else {
        kv.scan_prefix(q.get("prefix").map_or("", String::as_str), limit, after).await?
    };
    let entries: Vec<Value> =
        page.entries.into_iter().map(|p| json!({ "key": p.key, "value": B64.encode(p.value) })).collect();
    Ok(Json(json!({ "entries": entries, "next": page.next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrefixBody {
    prefix: String,
}

async fn delete_prefix(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Params,
    JsonBody(body): JsonBody<PrefixBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, _) = target(p)?;
    let n = open(&s, &headers, ns)?.delete_prefix(&body.prefix).await?;
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
    }))
}
