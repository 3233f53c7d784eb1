//! The wire contract clients of the replaced system speak, byte-compatible.
//!
//! Physical keys are `{tenant}/{key}` (a key without `/` is a global key); values travel
//! as JSON text inside JSON (`{"value": "<json text>"}`) and are stored as that text's
//! UTF-8 bytes. `/kv/scan` and `/kv/batch` win over `/kv/{key...}`; tenant ids `scan`
//! and `batch` are refused by `TenantId`, so no tenant is shadowed.
//!
//! The guard checks the token before anything is read; the tenant, named by the path, the
//! query or the body, is checked against the token's grant by each handler when it opens
//! the store ([`Caller::open`]). The bodies are [`p8fs_kv::wire::legacy`]'s; the routes are
//! documented, and marked deprecated (tag `legacy`): new clients use `/v1`.

use std::collections::HashSet;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use p8fs_kv::wire::legacy::{DeletedAnswer, Entry, OkAnswer, PutRequest, ScanQuery, ValueAnswer};
use p8fs_kv::wire::v1::KeysRequest;
use p8fs_kv::{Key, Namespace, ScopedKv, TenantId};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;
use crate::body::{JsonBody, query_string};
use crate::guard::{Caller, Guards, Scope};
use crate::reply::{self, Entries, Range};
use crate::state::AppState;

/// The tag of the legacy routes' operations, which the document marks deprecated.
pub(crate) const TAG: &str = "legacy";

/// The legacy routes; their documented paths are those the router serves.
pub(crate) fn routes(guards: &Guards) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(put_value))
        .routes(routes!(scan))
        .routes(routes!(batch_get))
        .routes(routes!(get_value, delete_value));
    guards.apply(Scope::Data, routes)
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

/// The physical key of the path.
const PHYSICAL_KEY: &str = "`{tenant}/{key}` (a key without '/' is global); the key may contain '/'";

/// Legacy: read `{tenant}/{key}` (or a global key); 404 when missing.
#[utoipa::path(get, path = "/kv/{*key}", tag = TAG, operation_id = "legacy_get",
    params(("key" = String, Path, description = PHYSICAL_KEY)),
    responses((status = 200, description = "the value (JSON text)", body = ValueAnswer),
              (status = 404, description = "no such key (`not_found`)", body = p8fs_kv::wire::ErrorAnswer),
              (status = 409, description = "`binary_value`: the value is not text; read it through /v1", body = p8fs_kv::wire::ErrorAnswer)))]
async fn get_value(
    State(s): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ValueAnswer>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    let kv = caller.open(&s, ns)?;
    let k = Key::new(key)?;
    match kv.get(k.as_str()).await? {
        Some(v) => Ok(Json(ValueAnswer { value: text(&v, &physical)?.to_owned() })),
        None => Err(ApiError::not_found(format!("no key {physical:?}"))),
    }
}

/// Legacy: delete; 200 also when the key is missing.
#[utoipa::path(delete, path = "/kv/{*key}", tag = TAG, operation_id = "legacy_delete",
    params(("key" = String, Path, description = PHYSICAL_KEY)),
    responses((status = 200, description = "deleted, or was missing", body = DeletedAnswer)))]
async fn delete_value(
    State(s): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<DeletedAnswer>, ApiError> {
    let physical = path_key(path)?;
    let (ns, key) = split_physical(&physical)?;
    let kv = caller.open(&s, ns)?;
    // Deleting a missing key succeeds: old clients treat 404 as an error.
    kv.delete(&key).await?;
    Ok(Json(DeletedAnswer { deleted: true }))
}

/// Legacy: write `{tenant}/{key}`; the value is JSON text; `ttl` in seconds, 0 = none.
#[utoipa::path(put, path = "/kv", tag = TAG, operation_id = "legacy_put",
    request_body = PutRequest,
    responses((status = 200, description = "written", body = OkAnswer)))]
async fn put_value(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PutRequest>,
) -> Result<Json<OkAnswer>, ApiError> {
    let (ns, key) = split_physical(&body.key)?;
    let kv = caller.open(&s, ns)?;
    let ttl = match body.ttl {
        None | Some(0) => None,
        Some(t) if t < 0 => return Err(ApiError::bad_request("ttl must be a whole number of seconds >= 0")),
        Some(t) => Some(Duration::from_secs(t.unsigned_abs())),
    };
    kv.put(&key, body.value.as_bytes(), ttl).await?;
    Ok(Json(OkAnswer { ok: true }))
}

/// Legacy: keys starting with `prefix` (`{tenant}/{prefix}`), sorted.
///
/// The contract has no continuation: an answer that reaches the answer limit in bytes
/// holds fewer entries than `limit`.
#[utoipa::path(get, path = "/kv/scan", tag = TAG, operation_id = "legacy_scan",
    params(ScanQuery),
    responses((status = 200, description = "the entries", body = Vec<Entry>)))]
async fn scan(State(s): State<AppState>, caller: Caller, uri: Uri) -> Result<Response, ApiError> {
    let q: ScanQuery = query_string(&uri)?;
    let prefix = q.prefix.ok_or_else(|| ApiError::bad_request("scan needs ?prefix={tenant}/{prefix}"))?;
    let limit = q.limit.unwrap_or(100);
    let limits = s.cfg.limits;
    s.kv.capability().check_scan_limit(limit)?;
    let (ns, key_prefix) = split_physical(&prefix)?;
    let head = physical_prefix(&ns);
    let kv = caller.open(&s, ns)?;
    let mut out = Entries::new("[", limits.max_response_bytes);
    let push = |o: &mut Entries, k: &str, v: &[u8]| {
        let physical = format!("{head}{k}");
        o.push(&physical, reply::Value::Text(text(v, &physical)?))
    };
    reply::scan(&kv, &Range::Prefix(key_prefix), limit, None, &limits, &mut out, push).await?;
    Ok(out.finish("]"))
}

/// Legacy: read several physical keys, in the order asked (each once); missing ones
/// omitted.
///
/// A batch may span the tenants the token reaches. `413 response_too_large` when the
/// values exceed the answer limit.
#[utoipa::path(post, path = "/kv/batch", tag = TAG, operation_id = "legacy_batch_get",
    request_body = KeysRequest,
    responses((status = 200, description = "the entries found", body = Vec<Entry>)))]
async fn batch_get(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<KeysRequest>,
) -> Result<Response, ApiError> {
    let limits = s.cfg.limits;
    s.kv.capability().check_batch(body.keys.len())?;
    // Runs of consecutive keys of one namespace, each key once; every namespace is
    // authorized before anything is read.
    let mut seen = HashSet::new();
    let mut runs: Vec<(ScopedKv, Vec<String>)> = Vec::new();
    for physical in body.keys.iter().filter(|k| seen.insert(k.as_str())) {
        let (ns, key) = split_physical(physical)?;
        match runs.last_mut() {
            Some((last, keys)) if *last.namespace() == ns => keys.push(key),
            _ => runs.push((caller.open(&s, ns)?, vec![key])),
        }
    }
    let mut out = Entries::new("[", limits.max_response_bytes);
    for (kv, keys) in runs {
        let head = physical_prefix(kv.namespace());
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let push = |o: &mut Entries, k: &str, v: &[u8]| {
            let physical = format!("{head}{k}");
            o.push(&physical, reply::Value::Text(text(v, &physical)?))
        };
        reply::batch_get(&kv, &refs, &limits, &mut out, push).await?;
    }
    Ok(out.finish("]"))
}
