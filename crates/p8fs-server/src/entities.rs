//! Entities, semantic search, REM and graph edges over HTTP (`/v1/entities/{tenant}/...`,
//! `/v1/rem/{tenant}`): the calls of `p8fs-core`'s [`P8fs`](p8fs_core::P8fs), with the
//! bodies of [`crate::wire`].
//!
//! Served only when the proxy has a SQL provider ([`crate::router_with_entities`]);
//! otherwise these paths answer 404 `no_route` like any unknown path. The document always
//! lists them (tags `entities` and `rem`), saying so.
//!
//! Every route is a data route behind the guard: the token is checked before anything
//! is read, then [`SqlScoped`] checks the path's tenant against the token's grant (403)
//! before the body is read. `{type}` is an entity type (a table: `resources`,
//! `moments`, ...); an unknown type answers 400. An id or name the tenant does not have
//! answers 404, whoever else has it. The core errors map to statuses in
//! [`ApiError`]'s `From<p8fs_core::Error>`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use p8fs_core::sql::entity::{EntityQuery, SearchMode, SearchOptions};
use p8fs_core::{EdgeChange, RemAnswer, StoredEntity};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;
use crate::body::{JsonBody, query_string};
use crate::guard::{Guards, Scope, SqlScoped};
use crate::state::AppState;
use crate::wire::{
    BatchPutEntitiesRequest, EdgesBody, EntitiesAnswer, EntityAnswer, EntityDeletedAnswer, MAX_LIMIT, PutEntityRequest,
    RemRequest, RemoveEdgesQuery, SEARCH_DEFAULT_LIMIT, SELECT_DEFAULT_LIMIT, SearchAnswer, SearchHit, SearchRequest,
    SelectRequest, StorageKeyQuery, StoredAnswer,
};

/// The tag of the entity, search and edge routes.
pub(crate) const TAG: &str = "entities";
/// The tag of the REM route.
pub(crate) const REM_TAG: &str = "rem";
/// Where these routes are (their answers carry entities whatever their method: the guard
/// reserves memory for that).
pub(crate) const PREFIXES: [&str; 2] = ["/v1/entities/", "/v1/rem/"];

/// The routes of this module, behind the data guard.
pub(crate) fn routes(guards: &Guards) -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(put_entity))
        .routes(routes!(put_batch))
        .routes(routes!(get_by_id, delete_by_id))
        .routes(routes!(get_by_name))
        .routes(routes!(by_storage_key))
        .routes(routes!(select))
        .routes(routes!(search))
        .routes(routes!(list_edges, add_edges, remove_edges))
        .routes(routes!(rem));
    guards.apply(Scope::Data, routes)
}

const TENANT: &str = "the tenant id (the token must grant it)";
const TYPE: &str = "the entity type (table): resources, moments, ...; unknown types answer 400";
const ID: &str = "the entity's id";
const NAME: &str = "the entity's name, percent-encoded as one segment (may contain '/' as %2F)";

/// `value` as JSON, unless it is larger than the answer limit (413 `response_too_large`).
fn answer<T: Serialize>(s: &AppState, value: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(value).map_err(|e| {
        ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the proxy failed", &e.to_string())
    })?;
    let max = s.cfg.limits.max_response_bytes;
    if bytes.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "response_too_large",
            format!("the answer of {} bytes exceeds the limit of {max} bytes; ask for fewer entities", bytes.len()),
        ));
    }
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// `limit` within `1..=MAX_LIMIT` (400 otherwise), `default` when absent.
fn limit(limit: Option<u64>, default: u64) -> Result<u64, ApiError> {
    match limit.unwrap_or(default) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(ApiError::bad_request(format!("limit {n} is out of range: give 1 to {MAX_LIMIT}"))),
    }
}

fn not_found(ty: &str, what: &str) -> ApiError {
    ApiError::not_found(format!("no {ty} {what} in this tenant"))
}

/// Store an entity under its name, with its embeddings and reverse mapping.
///
/// The entity is matched by name: storing a name again updates that entity (same id).
#[utoipa::path(put, path = "/v1/entities/{tenant}/{type}", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE)),
    request_body = PutEntityRequest,
    responses((status = 200, description = "what was stored", body = StoredEntity)))]
async fn put_entity(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<PutEntityRequest>,
) -> Result<Response, ApiError> {
    let stored = sql
        .p8fs
        .store_entity_with_reverse_mapping(&body.name, sql.param("type"), body.data, sql.tenant.as_str())
        .await?;
    answer(&s, &stored)
}

/// Store entities of one type together (at most the batch limit); nothing is stored when
/// one is invalid.
#[utoipa::path(post, path = "/v1/entities/{tenant}/{type}/batch", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE)),
    request_body = BatchPutEntitiesRequest,
    responses((status = 200, description = "what was stored, in input order", body = StoredAnswer)))]
async fn put_batch(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<BatchPutEntitiesRequest>,
) -> Result<Response, ApiError> {
    let ty = sql.param("type");
    // The type is checked even when there is nothing to store.
    sql.p8fs.model(ty)?;
    let stored = if body.entities.is_empty() {
        Vec::new()
    } else {
        let items = body.entities.into_iter().map(|e| (e.name, e.data)).collect();
        sql.p8fs.store_entities_with_reverse_mappings(ty, sql.tenant.as_str(), items).await?
    };
    answer(&s, &StoredAnswer { stored })
}

/// Read an entity by id (404 when the tenant has none).
#[utoipa::path(get, path = "/v1/entities/{tenant}/{type}/id/{id}", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("id" = String, Path, description = ID)),
    responses((status = 200, description = "the entity", body = EntityAnswer),
              (status = 404, description = "no such entity in the tenant (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn get_by_id(State(s): State<AppState>, sql: SqlScoped) -> Result<Response, ApiError> {
    let (ty, id) = (sql.param("type"), sql.param("id"));
    let model = sql.p8fs.model(ty)?;
    let entity = sql
        .p8fs
        .entities()
        .get(&model, sql.tenant.as_str(), id)
        .await
        .map_err(p8fs_core::Error::from)?
        .ok_or_else(|| not_found(ty, &format!("with id {id:?}")))?;
    answer(&s, &EntityAnswer { entity })
}

/// Delete an entity, its embeddings and its mapping by id.
#[utoipa::path(delete, path = "/v1/entities/{tenant}/{type}/id/{id}", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("id" = String, Path, description = ID)),
    responses((status = 200, description = "whether the tenant had it", body = EntityDeletedAnswer)))]
async fn delete_by_id(sql: SqlScoped) -> Result<Json<EntityDeletedAnswer>, ApiError> {
    let deleted = sql.p8fs.delete_entity(sql.param("type"), sql.param("id"), sql.tenant.as_str()).await?;
    Ok(Json(EntityDeletedAnswer { deleted }))
}

/// Read an entity by name, through its reverse mapping (404 when the tenant has none).
#[utoipa::path(get, path = "/v1/entities/{tenant}/{type}/name/{name}", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("name" = String, Path, description = NAME)),
    responses((status = 200, description = "the entity", body = EntityAnswer),
              (status = 404, description = "no such entity in the tenant (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn get_by_name(State(s): State<AppState>, sql: SqlScoped) -> Result<Response, ApiError> {
    let (ty, name) = (sql.param("type"), sql.param("name"));
    let entity = sql
        .p8fs
        .get_entity_by_name(name, ty, sql.tenant.as_str())
        .await?
        .ok_or_else(|| not_found(ty, &format!("called {name:?}")))?;
    answer(&s, &EntityAnswer { entity })
}

/// The entity a storage key (`TYPE/ID`) names, as a list (empty when the tenant has none).
#[utoipa::path(get, path = "/v1/entities/{tenant}/storage-key", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), StorageKeyQuery),
    responses((status = 200, description = "the entity, or none", body = EntitiesAnswer)))]
async fn by_storage_key(State(s): State<AppState>, sql: SqlScoped, uri: Uri) -> Result<Response, ApiError> {
    let q: StorageKeyQuery = query_string(&uri)?;
    let entities = sql.p8fs.get_entities_by_storage_key(&q.key, sql.tenant.as_str()).await?;
    answer(&s, &EntitiesAnswer { entities })
}

/// The tenant's entities of a type matching filters, in order, a page at a time.
///
/// Unknown fields and operators are errors naming them; the tenant is always applied.
#[utoipa::path(post, path = "/v1/entities/{tenant}/{type}/select", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE)),
    request_body = SelectRequest,
    responses((status = 200, description = "the entities", body = EntitiesAnswer)))]
async fn select(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<SelectRequest>,
) -> Result<Response, ApiError> {
    let ty = sql.param("type");
    let model = sql.p8fs.model(ty)?;
    let limit = limit(body.limit, SELECT_DEFAULT_LIMIT)?;
    // Engines bind OFFSET as a signed 64-bit number.
    if body.offset.is_some_and(|o| i64::try_from(o).is_err()) {
        return Err(ApiError::bad_request(format!("offset must be at most {}", i64::MAX)));
    }
    let q = EntityQuery::parse(&model, &body.filters, &body.order_by, Some(limit), body.offset)
        .map_err(p8fs_core::Error::from)?;
    let entities = sql.p8fs.select(ty, sql.tenant.as_str(), &q).await?;
    answer(&s, &EntitiesAnswer { entities })
}

/// Search by text, best first: by meaning through the proxy's embedder (`mode: vector`, the
/// default), by words (`text`), or both fused (`hybrid`).
#[utoipa::path(post, path = "/v1/entities/{tenant}/{type}/search", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE)),
    request_body = SearchRequest,
    responses((status = 200, description = "the hits", body = SearchAnswer)))]
async fn search(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<SearchRequest>,
) -> Result<Response, ApiError> {
    if body.query.trim().is_empty() {
        return Err(ApiError::bad_request("the search query is empty"));
    }
    if body.threshold.is_some_and(|t| !t.is_finite()) {
        return Err(ApiError::bad_request("threshold must be a finite number"));
    }
    let limit = limit(body.limit, SEARCH_DEFAULT_LIMIT)?;
    let opts = SearchOptions {
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        threshold: body.threshold,
        fields: body.fields,
        mode: if body.exact.unwrap_or(true) { SearchMode::Exact } else { SearchMode::Approximate },
        ..SearchOptions::default()
    };
    let fusion = match (body.rrf_k, body.text_weight) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give rrf_k or text_weight, not both")),
        (_, Some(w)) if !(0.0..=1.0).contains(&w) => {
            return Err(ApiError::bad_request("text_weight must be a number from 0 to 1"));
        }
        (_, Some(w)) => p8fs_core::Fusion::Weighted { text: w, vector: 1.0 - w },
        (Some(k), None) => p8fs_core::Fusion::Rrf { k },
        (None, None) => p8fs_core::Fusion::default(),
    };
    let mode = body.mode.unwrap_or_default();
    let r = sql.p8fs.search(sql.param("type"), sql.tenant.as_str(), &body.query, mode, &opts, fusion).await?;
    let hits = r
        .hits
        .into_iter()
        .map(|h| SearchHit { entity: h.entity, field: h.field, distance: h.distance, score: h.score })
        .collect();
    let candidates_examined = r.candidates_examined.map(|n| u64::try_from(n).unwrap_or(u64::MAX));
    answer(&s, &SearchAnswer { hits, exact: r.exact, candidates_examined })
}

/// An entity's graph edges (404 when the tenant has no such entity).
#[utoipa::path(get, path = "/v1/entities/{tenant}/{type}/id/{id}/edges", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("id" = String, Path, description = ID)),
    responses((status = 200, description = "the edges", body = EdgesBody),
              (status = 404, description = "no such entity in the tenant (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn list_edges(State(s): State<AppState>, sql: SqlScoped) -> Result<Response, ApiError> {
    let edges = sql.p8fs.edges(sql.param("type"), sql.param("id"), sql.tenant.as_str()).await?;
    answer(&s, &EdgesBody { edges })
}

/// Add edges to an entity, merged by `(dst, rel_type)` (an edge that exists is replaced,
/// keeping its `created_at` unless one is given).
#[utoipa::path(post, path = "/v1/entities/{tenant}/{type}/id/{id}/edges", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("id" = String, Path, description = ID)),
    request_body = EdgesBody,
    responses((status = 200, description = "what changed, and the edges now", body = EdgeChange),
              (status = 404, description = "no such entity in the tenant (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn add_edges(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<EdgesBody>,
) -> Result<Response, ApiError> {
    let change = sql.p8fs.add_edges(sql.param("type"), sql.param("id"), &body.edges, sql.tenant.as_str()).await?;
    answer(&s, &change)
}

/// Remove an entity's edges to `dst` (of `rel_type` only, when given).
#[utoipa::path(delete, path = "/v1/entities/{tenant}/{type}/id/{id}/edges", tag = TAG,
    params(("tenant" = String, Path, description = TENANT), ("type" = String, Path, description = TYPE),
           ("id" = String, Path, description = ID), RemoveEdgesQuery),
    responses((status = 200, description = "what changed, and the edges now", body = EdgeChange),
              (status = 404, description = "no such entity in the tenant (`not_found`)", body = p8fs_kv::wire::ErrorAnswer)))]
async fn remove_edges(State(s): State<AppState>, sql: SqlScoped, uri: Uri) -> Result<Response, ApiError> {
    let q: RemoveEdgesQuery = query_string(&uri)?;
    let change = sql
        .p8fs
        .remove_edges(sql.param("type"), sql.param("id"), &q.dst, q.rel_type.as_deref(), sql.tenant.as_str())
        .await?;
    answer(&s, &change)
}

/// Run a REM query (`LOOKUP`, `GET`, `SEARCH`, `FUZZY`, `SELECT`, `TRAVERSE`; anything
/// else is a `SEARCH`) in the tenant.
///
/// A malformed query, or one naming what is not allowed, answers 400 with a message
/// naming the part.
#[utoipa::path(post, path = "/v1/rem/{tenant}", tag = REM_TAG,
    params(("tenant" = String, Path, description = TENANT)),
    request_body = RemRequest,
    responses((status = 200, description = "the answer", body = RemAnswer)))]
async fn rem(
    State(s): State<AppState>,
    sql: SqlScoped,
    JsonBody(body): JsonBody<RemRequest>,
) -> Result<Response, ApiError> {
    if body.query.trim().is_empty() {
        return Err(ApiError::bad_request("the REM query is empty"));
    }
    let opts = p8fs_core::rem::RemOptions {
        threshold: body.threshold,
        mode: body.mode.unwrap_or_default(),
        ..Default::default()
    };
    let a = sql.p8fs.rem_with(&body.query, sql.tenant.as_str(), &opts).await?;
    answer(&s, &a)
}
