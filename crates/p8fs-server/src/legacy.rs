//! The wire contract clients of the replaced system speak, byte-compatible.
//!
//! Physical keys are `{tenant}/{key}` (a key without `/` is a global key); values travel
//! as JSON text inside JSON (`{"value": "<json text>"}`) and are stored as that text's
//! UTF-8 bytes. `/kv/scan` and `/kv/batch` win over `/kv/{key...}`; tenant ids `scan`
//! and `batch` are refused by `TenantId`, so no tenant is shadowed.
//!
//! The guard checks the token before anything is read; the tenant, named by the path, the
//! query or the body, is checked against the token's grant by each handler.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use p8fs_kv::{Key, Namespace, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ApiError;
use crate::app::{AppState, guarded};
use crate::body::{JsonBody, bounded};
use crate::guard::{Caller, Scope};
use crate::reply::{self, Entries, Range};

pub(crate) fn routes(state: &AppState) -> Router<AppState> {
    let routes = Router::new()
        .route("/kv", put(put_value))
        .route("/kv/scan", get(scan))
        .route("/kv/batch", post(batch_get))
        .route("/kv/{*key}", get(get_value).delete(delete_value));
    guarded(state, Scope::Data, routes)
}

/// Splits a physical key into its namespace and logical key.
fn split_physical(physical: &str) -> Result<(Namespace, String), ApiError> {
    match physical.split_once('/') {
        Some((tenant, key)) => Ok((Namespace::Tenant(TenantId::new(tenant)?), key.to_owned())),
        None => Ok((Namespace::Global, physical.to_owned())),
    }
}

/// What physical keys of `ns` start with: `{tenant}/`, or nothing.
fn physical_prefix(ns: &Namespace) -> String {
    ns.tenant().map_or_else(String::new, |t| format!("{t}/"))
}

fn path_key(p: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    p.map(|Path(k)| k).map_err(|e| ApiError::bad_request(format!("bad key in the path: {e}")))
}

fn text<'a>(bytes: &'a [u8], key: &str) -> Result<&'a str, ApiError> {
    std::str::from_utf8(bytes).map_err(|_| {
        ApiError::new(
            StatusCode::CONFLICT,
            "binary_value",
            format!("the value of {key:?} is binary, not JSON text; read it through /v1"),
        )
    })
}

async fn get_value(
    State(s): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    caller.check(&ns)?;
    s.cfg.limits.check_key(&key)?;
    let k = Key::new(key)?;
    match s.scoped(ns).get(k.as_str()).await? {
        Some(v) => Ok(Json(json!({ "value": text(&v, &physical)? }))),
        None => Err(ApiError::not_found(format!("no key {physical:?}"))),
    }
}

async fn delete_value(
    State(s): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    caller.check(&ns)?;
    s.cfg.limits.check_key(&key)?;
    // Deleting a missing key succeeds: old clients treat 404 as an error.
    s.scoped(ns).delete(&key).await?;
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
    caller: Caller,
    JsonBody(body): JsonBody<PutBody>,
) -> Result<Json<Value>, ApiError> {
    let (ns, key) = split_physical(&body.key)?;
    caller.check(&ns)?;
    s.cfg.limits.check_key(&key)?;
    s.cfg.limits.check_value(body.value.len())?;
    let ttl = match body.ttl {
        None | Some(0) => None,
        Some(t) if t < 0 => return Err(ApiError::bad_request("ttl must be a whole number of seconds >= 0")),
        Some(t) => Some(Duration::from_secs(t.unsigned_abs())),
    };
    s.scoped(ns).put(&key, body.value.as_bytes(), ttl).await?;
    Ok(Json(json!({ "ok": true })))
}

/// The keys starting with a physical prefix, sorted. The contract has no continuation: an
/// answer that reaches `max_response_bytes` holds fewer entries than the limit.
async fn scan(
    State(s): State<AppState>,
    caller: Caller,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let prefix = q.get("prefix").ok_or_else(|| ApiError::bad_request("scan needs ?prefix={tenant}/{prefix}"))?;
    let limit = match q.get("limit") {
        None => 100,
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request("limit must be a positive integer"))?,
    };
    let limits = s.cfg.limits;
    limits.check_scan_limit(limit)?;
    let (ns, key_prefix) = split_physical(prefix)?;
    caller.check(&ns)?;
    let head = physical_prefix(&ns);
    let mut out = Entries::new("[", limits.max_response_bytes);
    let push = |o: &mut Entries, k: &str, v: &[u8]| {
        let physical = format!("{head}{k}");
        o.push(&physical, reply::Value::Text(text(v, &physical)?))
    };
    reply::scan(&s.scoped(ns), &Range::Prefix(key_prefix), limit, None, &limits, &mut out, push).await?;
    Ok(out.finish("]"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    #[serde(deserialize_with = "bounded")]
    keys: Vec<String>,
}

/// Found keys in the order asked (each once), missing ones omitted; a batch may span the
/// tenants the token reaches.
async fn batch_get(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<BatchBody>,
) -> Result<Response, ApiError> {
    let limits = s.cfg.limits;
    limits.check_batch(body.keys.len())?;
    // Runs of consecutive keys of one namespace, each key once; every namespace is
    // authorized before anything is read.
    let mut seen = HashSet::new();
    let mut runs: Vec<(Namespace, Vec<String>)> = Vec::new();
    for physical in body.keys.iter().filter(|k| seen.insert(k.as_str())) {
        let (ns, key) = split_physical(physical)?;
        limits.check_key(&key)?;
        match runs.last_mut() {
            Some((last, keys)) if *last == ns => keys.push(key),
            _ => {
                caller.check(&ns)?;
                runs.push((ns, vec![key]));
            }
        }
    }
    let mut out = Entries::new("[", limits.max_response_bytes);
    for (ns, keys) in runs {
        let head = physical_prefix(&ns);
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let push = |o: &mut Entries, k: &str, v: &[u8]| {
            let physical = format!("{head}{k}");
            o.push(&physical, reply::Value::Text(text(v, &physical)?))
        };
        reply::batch_get(&s.scoped(ns), &refs, &limits, &mut out, push).await?;
    }
    Ok(out.finish("]"))
}
