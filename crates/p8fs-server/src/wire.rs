//! The bodies of the entity, search, REM and edge routes (`/v1/entities/...`,
//! `/v1/rem/...`; see `docs/http-api.md`). The entities, edges and REM answers inside them
//! are `p8fs-core`'s own types ([`StoredEntity`], [`Edge`], [`EdgeChange`](p8fs_core::EdgeChange), [`RemAnswer`](p8fs_core::RemAnswer));
//! an entity is a JSON object of its model's fields.
//!
//! Request lists are bounded while they are parsed by the proxy's batch limit
//! ([`p8fs_kv::wire::bounded`]); unknown request fields are refused, so a misspelt option
//! is an error, not a default.

use p8fs_core::{Edge, StoredEntity};
use p8fs_kv::wire::bounded;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The default `limit` of a select.
pub const SELECT_DEFAULT_LIMIT: u64 = 100;
/// The default `limit` of a search.
pub const SEARCH_DEFAULT_LIMIT: u64 = 10;
/// The largest `limit` of a select or a search.
pub const MAX_LIMIT: u64 = 1000;

/// An entity to store: its name (business key) and its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutEntityRequest {
    /// The name it is stored and looked up under (the model's key field is set to it, or
    /// must already hold it).
    pub name: String,
    /// The model's fields (`tenant_id` is the path's, never a field).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Map<String, Json>,
}

/// Entities of one type to store together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchPutEntitiesRequest {
    /// At most the proxy's batch limit; nothing is stored when one is invalid.
    #[serde(deserialize_with = "bounded::list")]
    pub entities: Vec<PutEntityRequest>,
}

/// What a batch stored, in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredAnswer {
    /// One per input entity.
    pub stored: Vec<StoredEntity>,
}

/// One entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityAnswer {
    /// Its fields, with `id`, `tenant_id`, `created_at`, `updated_at`.
    #[schema(value_type = Object)]
    pub entity: Map<String, Json>,
}

/// Entities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntitiesAnswer {
    /// Each a JSON object of its fields.
    #[schema(value_type = Vec<Object>)]
    pub entities: Vec<Map<String, Json>>,
}

/// Whether a delete found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntityDeletedAnswer {
    /// `false` when the tenant had no such entity.
    pub deleted: bool,
}

/// The query of `GET /v1/entities/{tenant}/storage-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StorageKeyQuery {
    /// `TYPE/ID`, as a stored entity's `storage_key`.
    pub key: String,
}

/// A select in the filter grammar of the replaced system.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectRequest {
    /// `{"field": v}` (equality; `null`: is null) or `{"field__op": v}` with `op` one of
    /// `gt gte lt lte in like ilike contains overlap`; all must hold. Only the model's
    /// fields, `id`, `created_at` and `updated_at`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filters: Map<String, Json>,
    /// `"field"` ascending, `"-field"` descending, in priority order.
    #[serde(default, deserialize_with = "bounded::list")]
    pub order_by: Vec<String>,
    /// Most entities (default 100, at most 1000).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Entities to skip.
    #[serde(default)]
    pub offset: Option<u64>,
}

/// A semantic search by text, through the proxy's embedder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// The text (not blank).
    pub query: String,
    /// Most hits (default 10, at most 1000).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Only hits with at least this score (higher is closer).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// Only these embedded fields (none: all).
    #[serde(default, deserialize_with = "bounded::list")]
    pub fields: Vec<String>,
    /// `true` (default): compare every row of the tenant; `false`: through the engine's
    /// vector index where there is one.
    #[serde(default)]
    pub exact: Option<bool>,
    /// `vector` (default): by meaning; `text`: by words (the engine's full-text search);
    /// `hybrid`: both, fused.
    #[serde(default)]
    pub mode: Option<p8fs_core::QueryMode>,
    /// Hybrid: fuse by reciprocal rank fusion with this k (each hit scores 1 / (k + rank)
    /// per side; 60 is usual) instead of by weights.
    #[serde(default)]
    pub rrf_k: Option<f64>,
    /// Hybrid: the text side's weight (0..1; each side's scores scaled to 0..1, the vector
    /// side gets the rest). Default 0.2.
    #[serde(default)]
    pub text_weight: Option<f64>,
}

/// One entity found by meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// The entity.
    #[schema(value_type = Object)]
    pub entity: Map<String, Json>,
    /// Its best-matching embedded field.
    pub field: String,
    /// That field's distance to the query.
    pub distance: f64,
    /// Its score (higher is closer).
    pub score: f64,
}

/// Search hits, best first, and how they were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SearchAnswer {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// Whether every candidate row was compared.
    pub exact: bool,
    /// Candidates taken from the index; `null` when every row of the tenant was compared.
    pub candidates_examined: Option<u64>,
}

/// An entity's edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EdgesBody {
    /// Edges (merged by `(dst, rel_type)` when added); at most the proxy's batch limit in a
    /// request.
    #[serde(deserialize_with = "bounded::list")]
    pub edges: Vec<Edge>,
}

/// The query of an edge removal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveEdgesQuery {
    /// The destination's name.
    pub dst: String,
    /// Only edges of this relation type (all to `dst` otherwise).
    #[serde(default)]
    pub rel_type: Option<String>,
}

/// A REM query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemRequest {
    /// `LOOKUP ...`, `GET ...`, `SEARCH ...`, `FUZZY ...`, `SELECT ...`, `TRAVERSE ...`
    /// (anything else is a `SEARCH`).
    pub query: String,
    /// `SEARCH` (also a `TRAVERSE`'s `WITH SEARCH` seeds): only hits with at least this
    /// score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `SEARCH`: `vector` (default, by meaning), `text` (by words) or `hybrid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<p8fs_core::QueryMode>,
}
