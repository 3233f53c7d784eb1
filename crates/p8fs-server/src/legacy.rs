//! The wire contract clients of the replaced system speak, byte-compatible.
//!
//! Physical keys are `{tenant}/{key}` (a key without `/` is a global key); values travel
//! as JSON text inside JSON (`{"value": "<json text>"}`) and are stored as that text's
//! UTF-8 bytes. `/kv/scan` and `/kv/batch` win over `/kv/{key...}`; tenant ids `scan`
//! and `batch` are refused by `TenantId`, so no tenant is shadowed.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use p8fs_kv::{Key, Namespace, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::app::{AppState, JsonBody};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/kv", put(put_value))
        .route("/kv/scan", get(scan))
        .route("/kv/batch", post(batch_get))
        .route("/kv/{*key}", get(get_value).delete(delete_value))
}

/// Splits a physical key into its namespace and logical key.
pub(crate) fn split_physical(physical: &str) -> Result<(Namespace, String), ApiError> {
    match physical.split_once('/') {
        Some((tenant, key)) => Ok((Namespace::Tenant(TenantId::new(tenant)?), key.to_owned())),
        None => Ok((Namespace::Global, physical.to_owned())),
    }
}

pub(crate) fn path_key(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(k)| k).map_err(|e| ApiError::bad_request(format!("bad key in the path: {e}")))
}

fn text(bytes: Vec<u8>, key: &str) -> Result<String, ApiError> {
    String::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "binary_value",
            format!("the value of {key:?} is binary, not JSON text; read it through /v1"),
        )
    })
}

async fn get_value(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    s.authorize(&headers, &ns)?;
    s.check_key(&key)?;
    let k = Key::new(key)?;
    let scoped = scoped(&s, ns);
    match scoped.get(k.as_str()).await? {
        Some(v) => Ok(Json(json!({ "value": text(v, &physical)? }))),
        None => Err(ApiError::not_found(format!("no key {physical:?}"))),
    }
}

async fn delete_value(
    State(s): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    s.authorize(&headers, &ns)?;
    s.check_key(&key)?;
    // Deleting a missing key succeeds: old clients treat 404 as an error.
    scoped(&s, ns).delete(&key).await?;
    Ok(Json(json!({ "deleted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    key: String,
    value: String,
    #[serde(default)]
    ttl: Option<i64>,
}

async fn put_value(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, key) = split_physical(&body.key)?;
    s.authorize(&headers, &ns)?;
    s.check_key(&key)?;
    s.check_value(body.value.len())?;
    let ttl = match body.ttl {
        None | Some(0) => None,
        Some(t) if t < 0 => return Err(ApiError::bad_request("ttl must be a whole number of seconds >= 0")),
        Some(t) => Some(Duration::from_secs(t.unsigned_abs())),
    };
    scoped(&s, ns).put(&key, body.value.as_bytes(), ttl).await?;
    Ok(Json(json!({ "ok": true })))
}

async fn scan(
    State(s): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let prefix = q.get("prefix").ok_or_else(|| ApiError::bad_request("scan needs ?prefix={tenant}/{prefix}"))?;
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request("limit must be a positive integer"))?,
    };
    if limit == 0 || limit > s.cfg.limits.max_scan_limit {
        return Err(ApiError::bad_request(format!("limit must be between 1 and {}", s.cfg.limits.max_scan_limit)));
    }
    let (ns, key_prefix) = split_physical(prefix)?;
    s.authorize(&headers, &ns)?;
    let scoped = scoped(&s, ns.clone());
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    // The backend may return shorter pages than asked: page until the limit is met.
    while out.len() < limit {
        let page = scoped.scan_prefix(&key_prefix, limit - out.len(), after.as_deref()).await?;
        for e in page.entries {
            let physical = String::from_utf8(ns.physical(&e.key)).unwrap_or_default();
            out.push(json!({ "key": physical.clone(), "value": text(e.value, &physical)? }));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(Json(Value::Array(out)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    keys: Vec<String>,
}

async fn batch_get(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Json<Value>, ApiError> {
    s.check_batch(body.keys.len())?;
    // Group by namespace (a batch may span tenants the token reaches), keep request order.
    let mut groups: Vec<(Namespace, Vec<String>)> = Vec::new();
    for physical in &body.keys {
        let (ns, key) = split_physical(physical)?;
        s.check_key(&key)?;
        match groups.iter_mut().find(|(n, _)| *n == ns) {
            Some((_, keys)) => keys.push(key),
            None => groups.push((ns, vec![key])),
        }
    }
    let mut found: HashMap<String, Vec<u8>> = HashMap::new();
    for (ns, keys) in groups {
        s.authorize(&headers, &ns)?;
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        for pair in scoped(&s, ns.clone()).batch_get(&refs).await? {
            found.insert(String::from_utf8(ns.physical(&pair.key)).unwrap_or_default(), pair.value);
        }
    }
    let mut out = Vec::new();
    for physical in body.keys {
        if let Some(v) = found.remove(&physical) {
            out.push(json!({ "key": physical.clone(), "value": text(v, &physical)? }));
        }
    }
    Ok(Json(Value::Array(out)))
}

pub(crate) fn scoped(s: &AppState, ns: Namespace) -> p8fs_kv::ScopedKv {
    match ns {
        Namespace::Tenant(t) => s.kv.tenant(&t),
        Namespace::Global => s.kv.global(),
    }
}
