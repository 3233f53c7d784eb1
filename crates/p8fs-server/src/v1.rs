//! `/v1`: the full KV contract over HTTP. Values are base64 (any bytes); TTLs are
//! milliseconds. Routes exist for a tenant (`/v1/kv/{tenant}/...`) and for the global
//! namespace (`/v1/global/...`); each handler gets its store from [`Scoped`], which has
//! checked the namespace against the token's grant before any body is read.
//!
//! A key travels either as one base64url path segment (`k/{key}`, what `HttpStore`
//! sends: no URL normalisation can change it, since base64url has neither `.`, `/` nor
//! `%`), as a percent-encoded path (`keys/{key...}`, for people with curl), or in a JSON
//! body. The bodies are [`p8fs_kv::wire::v1`]'s.

use std::time::Duration;

use axum::Json;
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{RawPathParams, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use p8fs_kv::ScopedKv;
use p8fs_kv::wire::v1::{
    BatchPutRequest, CapabilityAnswer, CasRequest, DeletedAnswer, EntriesAnswer, Entry, KEY_ROUTE, KeysRequest,
    PrefixRequest, PutRequest, ScanAnswer, ScanQuery, SwappedAnswer, WrittenAnswer,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;
use crate::body::{JsonBody, query_string};
use crate::guard::{Guards, Scope, Scoped};
use crate::reply::{self, Entries, Range, next_tail};
use crate::state::AppState;

/// The `/v1` routes; their documented paths are those the router serves.
pub(crate) fn routes(guards: &Guards) -> OpenApiRouter<AppState> {
    let ns_routes = || {
        let routes = OpenApiRouter::new()
            .routes(routes!(get_path, put_path, delete_path))
            .routes(routes!(get_b64, put_b64, delete_b64))
            .routes(routes!(batch_get))
            .routes(routes!(batch_put))
            .routes(routes!(batch_delete))
            .routes(routes!(cas))
            .routes(routes!(scan))
            .routes(routes!(delete_prefix));
        guards.apply(Scope::Data, routes)
    };
    OpenApiRouter::new()
        .nest(TENANT_PREFIX, ns_routes())
        .nest(GLOBAL_PREFIX, ns_routes())
        .merge(guards.apply(Scope::Token, OpenApiRouter::new().routes(routes!(capability))))
}

/// Where a tenant's routes are.
pub(crate) const TENANT_PREFIX: &str = "/v1/kv/{tenant}";
/// Where the global namespace's routes are.
pub(crate) const GLOBAL_PREFIX: &str = "/v1/global";

/// The `key` of a `k/{key}` path.
const B64URL_KEY: &str =
    "the key's UTF-8 as base64url without padding (one segment: no URL normalisation can change it)";
/// The `key` of a `keys/{key...}` path.
const PATH_KEY: &str = "the logical key, percent-encoded; may contain '/'";

type Params = Result<RawPathParams, RawPathParamsRejection>;

/// The `key` of a `keys/{key...}` path, percent-decoded.
fn path_key(p: Params) -> Result<String, ApiError> {
    let p = p.map_err(|e| ApiError::bad_request(format!("bad path: {e}")))?;
    Ok(p.iter().find(|(k, _)| *k == "key").map(|(_, v)| v.to_owned()).unwrap_or_default())
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

/// The keys of a batch read. Its length is checked here, against the same capability the
/// KV check layer enforces: the answer is read in pages within the byte budget, so the
/// layer sees pages, not the request. The layer checks each key it reads.
fn checked_keys<'a>(s: &AppState, keys: &'a [String]) -> Result<Vec<&'a str>, ApiError> {
    s.kv.capability().check_batch(keys.len())?;
    Ok(keys.iter().map(String::as_str).collect())
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Read a key (404 when missing).
#[utoipa::path(get, path = "/keys/{*key}", tag = "v1",
    params(("key" = String, Path, description = PATH_KEY)),
    responses((status = 200, description = "the key and its value", body = Entry),
              (status = 404, description = "no such key (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn get_path(Scoped(kv): Scoped, p: Params) -> Result<Json<Entry>, ApiError> {
    read(&kv, path_key(p)?).await
}

/// Read a key named by one base64url segment (404 when missing); what `HttpStore` uses.
#[utoipa::path(get, path = "/k/{key}", tag = "v1",
    params(("key" = String, Path, description = B64URL_KEY)),
    responses((status = 200, description = "the key and its value", body = Entry),
              (status = 404, description = "no such key (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn get_b64(Scoped(kv): Scoped, p: Params) -> Result<Json<Entry>, ApiError> {
    read(&kv, b64_key(p)?).await
}

async fn read(kv: &ScopedKv, key: String) -> Result<Json<Entry>, ApiError> {
    match kv.get(&key).await? {
        Some(v) => Ok(Json(Entry { key, value: B64.encode(v) })),
        None => Err(ApiError::not_found(format!("no key {key:?} in {}", kv.namespace().describe()))),
    }
}

/// Write a key.
#[utoipa::path(put, path = "/keys/{*key}", tag = "v1",
    params(("key" = String, Path, description = PATH_KEY)),
    request_body = PutRequest,
    responses((status = 204, description = "written")))]
async fn put_path(Scoped(kv): Scoped, p: Params, JsonBody(body): JsonBody<PutRequest>) -> Result<Response, ApiError> {
    write(&kv, path_key(p)?, body).await
}

/// Write a key named by one base64url segment.
#[utoipa::path(put, path = "/k/{key}", tag = "v1",
    params(("key" = String, Path, description = B64URL_KEY)),
    request_body = PutRequest,
    responses((status = 204, description = "written")))]
async fn put_b64(Scoped(kv): Scoped, p: Params, JsonBody(body): JsonBody<PutRequest>) -> Result<Response, ApiError> {
    write(&kv, b64_key(p)?, body).await
}

async fn write(kv: &ScopedKv, key: String, body: PutRequest) -> Result<Response, ApiError> {
    let value = decode(&body.value, "value")?;
    kv.put(&key, &value, ttl(body.ttl_ms)).await?;
    Ok(no_content())
}

/// Delete a key (204 also when missing).
#[utoipa::path(delete, path = "/keys/{*key}", tag = "v1",
    params(("key" = String, Path, description = PATH_KEY)),
    responses((status = 204, description = "deleted, or was missing")))]
async fn delete_path(Scoped(kv): Scoped, p: Params) -> Result<Response, ApiError> {
    remove(&kv, path_key(p)?).await
}

/// Delete a key named by one base64url segment (204 also when missing).
#[utoipa::path(delete, path = "/k/{key}", tag = "v1",
    params(("key" = String, Path, description = B64URL_KEY)),
    responses((status = 204, description = "deleted, or was missing")))]
async fn delete_b64(Scoped(kv): Scoped, p: Params) -> Result<Response, ApiError> {
    remove(&kv, b64_key(p)?).await
}

async fn remove(kv: &ScopedKv, key: String) -> Result<Response, ApiError> {
    kv.delete(&key).await?;
    Ok(no_content())
}

/// Read several keys, in the order asked; missing ones omitted.
///
/// `413 response_too_large` when the values exceed the answer limit: ask for fewer keys.
#[utoipa::path(post, path = "/batch/get", tag = "v1",
    request_body = KeysRequest,
    responses((status = 200, description = "the keys found", body = EntriesAnswer)))]
async fn batch_get(
    State(s): State<AppState>,
    Scoped(kv): Scoped,
    JsonBody(body): JsonBody<KeysRequest>,
) -> Result<Response, ApiError> {
    let refs = checked_keys(&s, &body.keys)?;
    let limits = s.cfg.limits;
    let mut out = Entries::new("{\"entries\":[", limits.max_response_bytes);
    reply::batch_get(&kv, &refs, &limits, &mut out, |o, k, v| o.push(k, reply::Value::Base64(v))).await?;
    Ok(out.finish("]}"))
}

/// Write several keys (atomic where the backend is).
#[utoipa::path(post, path = "/batch/put", tag = "v1",
    request_body = BatchPutRequest,
    responses((status = 200, description = "written", body = WrittenAnswer)))]
async fn batch_put(
    Scoped(kv): Scoped,
    JsonBody(body): JsonBody<BatchPutRequest>,
) -> Result<Json<WrittenAnswer>, ApiError> {
    let mut decoded = Vec::with_capacity(body.entries.len());
    for e in &body.entries {
        let v = decode(&e.value, "value")?;
        decoded.push((e.key.as_str(), v));
    }
    let refs: Vec<(&str, &[u8])> = decoded.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    kv.batch_put(&refs, ttl(body.ttl_ms)).await?;
    Ok(Json(WrittenAnswer { written: count(refs.len()) }))
}

/// Delete several keys.
#[utoipa::path(post, path = "/batch/delete", tag = "v1",
    request_body = KeysRequest,
    responses((status = 200, description = "the number of keys asked", body = DeletedAnswer)))]
async fn batch_delete(
    State(s): State<AppState>,
    Scoped(kv): Scoped,
    JsonBody(body): JsonBody<KeysRequest>,
) -> Result<Json<DeletedAnswer>, ApiError> {
    let refs = checked_keys(&s, &body.keys)?;
    kv.batch_delete(&refs).await?;
    Ok(Json(DeletedAnswer { deleted: count(refs.len()) }))
}

/// Compare and swap.
///
/// `409 condition_not_met` with the current value (`current`, base64; `null` when the key
/// is missing) when the key does not hold `expected`.
#[utoipa::path(post, path = "/cas", tag = "v1",
    request_body = CasRequest,
    responses((status = 200, description = "swapped", body = SwappedAnswer),
              (status = 409, description = "`condition_not_met`, with `current`", body = p8fs_kv::wire::ErrorAnswer)))]
async fn cas(Scoped(kv): Scoped, JsonBody(body): JsonBody<CasRequest>) -> Result<Json<SwappedAnswer>, ApiError> {
    let expected = body.expected.as_deref().map(|e| decode(e, "expected")).transpose()?;
    let value = decode(&body.value, "value")?;
    kv.compare_and_swap(&body.key, expected.as_deref(), &value, ttl(body.ttl_ms)).await?;
    Ok(Json(SwappedAnswer { swapped: true }))
}

/// One page of keys by prefix or range.
///
/// At most `limit` entries and about the answer limit in bytes (at least one entry);
/// `next` continues.
#[utoipa::path(get, path = "/scan", tag = "v1",
    params(ScanQuery),
    responses((status = 200, description = "one page", body = ScanAnswer)))]
async fn scan(State(s): State<AppState>, Scoped(kv): Scoped, uri: Uri) -> Result<Response, ApiError> {
    let q: ScanQuery = query_string(&uri)?;
    let limit = q.limit.unwrap_or(100);
    let limits = s.cfg.limits;
    // The request's limit (the layer sees the pages the byte budget allows).
    s.kv.capability().check_scan_limit(limit)?;
    let bytes = |v: &Option<String>, what: &str| v.as_deref().map(|v| decode(v, what)).transpose();
    let (start_b64, end_b64) = (bytes(&q.start_b64, "start_b64")?, bytes(&q.end_b64, "end_b64")?);
    let ranges = [q.prefix.is_some(), q.start.is_some(), start_b64.is_some()];
    if ranges.iter().filter(|x| **x).count() > 1 {
        return Err(ApiError::bad_request("give one of prefix, start/end or start_b64/end_b64"));
    }
    let range = if let Some(start) = q.start {
        Range::Text(start, q.end)
    } else if let Some(start) = start_b64 {
        Range::Bytes(start, end_b64)
    } else {
        Range::Prefix(q.prefix.unwrap_or_default())
    };
    let mut out = Entries::new("{\"entries\":[", limits.max_response_bytes);
    let push = |o: &mut Entries, k: &str, v: &[u8]| o.push(k, reply::Value::Base64(v));
    let next = reply::scan(&kv, &range, limit, q.after, &limits, &mut out, push).await?;
    Ok(out.finish(&next_tail(next.as_deref())?))
}

/// Delete every key with a (non-empty) prefix.
#[utoipa::path(post, path = "/delete-prefix", tag = "v1",
    request_body = PrefixRequest,
    responses((status = 200, description = "the number of keys deleted", body = DeletedAnswer)))]
async fn delete_prefix(
    Scoped(kv): Scoped,
    JsonBody(body): JsonBody<PrefixRequest>,
) -> Result<Json<DeletedAnswer>, ApiError> {
    let n = kv.delete_prefix(&body.prefix).await?;
    Ok(Json(DeletedAnswer { deleted: count(n) }))
}

/// What the backend supports, with the proxy's limits applied.
///
/// Needs a token (any grant) when the proxy has tokens.
#[utoipa::path(get, path = "/v1/capability", tag = "v1",
    responses((status = 200, description = "the capability", body = CapabilityAnswer)))]
async fn capability(State(s): State<AppState>) -> Json<CapabilityAnswer> {
    // What the check layer enforces: the backend's capability narrowed by the limits.
    let c = s.kv.capability();
    let l = s.cfg.limits;
    Json(CapabilityAnswer {
        backend: s.kv.backend().name().to_owned(),
        ttl: c.ttl,
        ttl_granularity_ms: u64::try_from(c.ttl_granularity.as_millis()).unwrap_or(u64::MAX),
        cas: c.cas,
        cas_ttl: Some(c.cas_ttl),
        atomic_batch: c.atomic_batch,
        max_key_bytes: count(c.max_key_bytes),
        max_value_bytes: count(c.max_value_bytes),
        max_scan_limit: count(c.max_scan_limit),
        max_batch: count(c.max_batch),
        max_response_bytes: count(l.max_response_bytes),
        key_route: Some(KEY_ROUTE.to_owned()),
    })
}
