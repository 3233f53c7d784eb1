//! Graph edges: the `graph_paths` field of a model, a JSON list of
//! `{dst, rel_type, weight, properties, created_at}` (the contract of the system p8fs
//! replaces). Edges are merged by `(dst, rel_type)`: adding an edge that exists replaces it
//! in place (keeping its `created_at` unless a new one is given), others are appended.
//! Elements that are not edge objects (written by other software) are kept untouched.
//!
//! Every change is a read, a merge in Rust (the same on every engine) and a write in one
//! transaction that first locks the row (`SELECT ... FOR UPDATE`; SQLite's transactions
//! take the write lock at `BEGIN`) and checks that the edges are still those read; a
//! concurrent change makes it start over, so no edge is lost to a race.

use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use p8fs_sql_dialect::entity::codec::decode_cell;
use p8fs_sql_dialect::entity::dml::{self, EdgeRows};
use p8fs_sql_dialect::model::{FieldType, Model};
use p8fs_sql_dialect::{Error, ErrorKind, Result, Row, RowCheck};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::EntityStore;
use crate::store::{LOOKUP_CHUNK, scoped};

pub use p8fs_sql_dialect::model::EDGES_FIELD;

/// The most edges one entity may hold.
pub const MAX_EDGES: usize = 10_000;

/// The longest destination name, bytes.
pub const MAX_DST_BYTES: usize = 1024;

/// One edge from an entity to another, named by the destination's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Edge {
    /// The destination's name (its business key, e.g. a resource's `name`).
    pub dst: String,
    /// The relation type (`references`, `authored_by`, ...).
    pub rel_type: String,
    /// The edge's weight (default 1.0).
    #[serde(default = "one")]
    pub weight: f64,
    /// Free-form properties.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub properties: Map<String, Json>,
    /// When the edge was first added (RFC 3339); set by the store when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
}

fn one() -> f64 {
    1.0
}

/// What an edge change did, and the entity's edges after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EdgeChange {
    /// Edges that were not there before.
    pub added: usize,
    /// Edges that replaced one with the same `(dst, rel_type)`.
    pub updated: usize,
    /// Edges removed.
    pub removed: usize,
    /// The entity's edges afterwards.
    pub edges: Vec<Edge>,
}

impl Edge {
    /// An edge of weight 1 with no properties.
    pub fn new(dst: impl Into<String>, rel_type: impl Into<String>) -> Self {
        Self { dst: dst.into(), rel_type: rel_type.into(), weight: 1.0, properties: Map::new(), created_at: None }
    }

    /// Reads an edge from a stored element; `None` for an element that is not an edge.
    pub fn from_json(v: &Json) -> Option<Edge> {
        serde_json::from_value(v.clone()).ok()
    }

    /// Checks an edge before it is stored.
    ///
    /// # Errors
    /// A message naming the bad part: an empty or blank-edged destination or relation
    /// type, one too long, a relation type with other characters than letters, digits,
    /// `_`, `-`, `.`, a weight that is not finite.
    pub fn check(&self) -> Result<(), String> {
        if self.dst.is_empty() || self.dst.trim() != self.dst {
            return Err(format!(
                "edge destination {:?} must be non-empty without leading or trailing whitespace",
                self.dst
            ));
        }
        if self.dst.len() > MAX_DST_BYTES {
            return Err(format!("edge destination is {} bytes, more than {MAX_DST_BYTES}", self.dst.len()));
        }
        let rel_ok = !self.rel_type.is_empty()
            && self.rel_type.len() <= 128
            && self.rel_type.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !rel_ok {
            return Err(format!(
                "edge relation type {:?} must be 1-128 letters, digits, '_', '-' or '.'",
                self.rel_type
            ));
        }
        if !self.weight.is_finite() {
            return Err(format!("edge weight {} is not a finite number", self.weight));
        }
        Ok(())
    }

    fn same_as(&self, v: &Json) -> bool {
        v.get("dst").and_then(Json::as_str) == Some(&self.dst)
            && v.get("rel_type").and_then(Json::as_str) == Some(&self.rel_type)
    }
}

/// The edges of a stored `graph_paths` value (`NULL` is none); elements that are not edges
/// are skipped.
pub fn edges_of(stored: Option<&Json>) -> Vec<Edge> {
    match stored {
        Some(Json::Array(items)) => items.iter().filter_map(Edge::from_json).collect(),
        _ => Vec::new(),
    }
}

/// `incoming` merged into `current` by `(dst, rel_type)`: a match is replaced in place
/// (keeping its `created_at` unless the new edge has one), the others are appended in
/// order; elements of `current` that are not edges are kept. Returns the list and the
/// numbers of added and updated edges. Edges without `created_at` get `now`.
pub fn merge_edges(current: Option<&Json>, incoming: &[Edge]) -> (Vec<Json>, usize, usize) {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut out: Vec<Json> = match current {
        Some(Json::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let (mut added, mut updated) = (0, 0);
    for e in incoming {
        let mut e = e.clone();
        match out.iter().position(|v| e.same_as(v)) {
            Some(i) => {
                if e.created_at.is_none() {
                    e.created_at = out[i].get("created_at").and_then(Json::as_str).map(str::to_owned);
                }
                e.created_at.get_or_insert_with(|| now.clone());
                out[i] = edge_json(&e);
                updated += 1;
            }
            None => {
                e.created_at.get_or_insert_with(|| now.clone());
                out.push(edge_json(&e));
                added += 1;
            }
        }
    }
    (out, added, updated)
}

/// `current` without the edges to `dst` (of `rel_type` when given); and how many went.
pub fn remove_edges(current: Option<&Json>, dst: &str, rel_type: Option<&str>) -> (Vec<Json>, usize) {
    let items: Vec<Json> = match current {
        Some(Json::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let before = items.len();
    let kept: Vec<Json> = items
        .into_iter()
        .filter(|v| {
            let hit = v.get("dst").and_then(Json::as_str) == Some(dst)
                && rel_type.is_none_or(|r| v.get("rel_type").and_then(Json::as_str) == Some(r));
            !hit
        })
        .collect();
    let removed = before - kept.len();
    (kept, removed)
}

fn edge_json(e: &Edge) -> Json {
    serde_json::to_value(e).unwrap_or(Json::Null)
}

/// How many times an edge change starts over after a concurrent change of the same row.
const ATTEMPTS: u32 = 8;

/// Whether a model carries edges (a JSON list field named [`EDGES_FIELD`]); asked without
/// building an error, as every write asks it.
pub fn has_edges(model: &Model) -> bool {
    model.field(EDGES_FIELD).is_some_and(|f| f.ty == FieldType::JsonArray)
}

/// The edges field of a model, or an error naming the model.
pub fn edges_field(model: &Model) -> Result<&'static str> {
    if has_edges(model) {
        Ok(EDGES_FIELD)
    } else {
        Err(Error::invalid_input(format!("{model} has no edges (no JSON list field {EDGES_FIELD})")))
    }
}

fn decode_edge_rows(model: &Model, rows: Vec<Row>) -> Result<Vec<(String, Option<Json>)>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut it = r.into_iter();
        let first = it.next().ok_or_else(|| Error::decode("edge row without its first column"))?.into_text()?;
        let edges = match it.next() {
            Some(cell) => match decode_cell(model, EDGES_FIELD, FieldType::JsonArray, cell)? {
                Json::Null => None,
                v => Some(v),
            },
            None => return Err(Error::decode("edge row without its edges")),
        };
        out.push((first, edges));
    }
    Ok(out)
}

fn changed_concurrently(model: &Model) -> Error {
    Error::new(ErrorKind::Conflict, format!("{model}: the edges changed while they were being updated"))
}

/// Refuses an edge list longer than [`MAX_EDGES`] for the entity `what` names.
fn check_edge_count(model: &Model, what: &str, n: usize) -> Result<()> {
    if n > MAX_EDGES {
        return Err(Error::invalid_input(format!(
            "{model} {what}: {n} edges, more than the {MAX_EDGES} one entity may hold"
        )));
    }
    Ok(())
}

/// Runs `attempt` until it does not fail with a conflict (the edges it read changed before
/// its guarded write, or the engine's own transaction conflict), at most [`ATTEMPTS`]
/// times, pausing a little longer after each.
///
/// (A closure returning a future rather than an async closure: the futures of async
/// closures are not known to be `Send` across every lifetime, which axum's handlers need.)
pub(crate) async fn retry_on_change<T, F, Fut>(mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(e) if e.kind() == ErrorKind::Conflict && n < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(u64::from(n) * 5)).await;
            }
            other => return other,
        }
    }
}

impl EntityStore {
    /// The edges of the tenant's entities `ids` (one statement per 1,000 ids), as
    /// `(id, edges)` in id order within each statement; entities that do not exist are
    /// absent.
    ///
    /// # Errors
    /// A model without edges, a missing table; the engine's errors.
    pub async fn edges_of(&self, model: &Model, tenant: &str, ids: &[&str]) -> Result<Vec<(String, Vec<Edge>)>> {
        scoped(model, tenant)?;
        edges_field(model)?;
        self.require_table(model).await?;
        let stored = self.stored_edges(model, tenant, ids, false).await?;
        Ok(stored.into_iter().map(|(id, list)| (id, edges_of(list.as_ref()))).collect())
    }

    /// The stored edge lists of the tenant's rows named by `values` (keys when `by_key`,
    /// else ids), unread: `(id or key, list)` (`None` for `NULL`), one statement per
    /// [`LOOKUP_CHUNK`] values.
    async fn stored_edges(
        &self,
        model: &Model,
        tenant: &str,
        values: &[&str],
        by_key: bool,
    ) -> Result<Vec<(String, Option<Json>)>> {
        let mut out = Vec::with_capacity(values.len());
        for chunk in values.chunks(LOOKUP_CHUNK) {
            let rows = if by_key { EdgeRows::Keys(chunk) } else { EdgeRows::Ids(chunk) };
            let stmt = dml::edges_of_rows(self.db.dialect(), model, &self.layout, tenant, rows, false)?;
            out.extend(decode_edge_rows(model, self.db.query(&stmt).await?)?);
        }
        Ok(out)
    }

    /// Adds edges to an entity, merged by `(dst, rel_type)` (see [`merge_edges`]); `None`
    /// when the tenant has no such entity.
    ///
    /// # Errors
    /// A bad edge (naming it), more than [`MAX_EDGES`] edges afterwards, a model without
    /// edges; the engine's errors.
    pub async fn add_edges(&self, model: &Model, tenant: &str, id: &str, edges: &[Edge]) -> Result<Option<EdgeChange>> {
        for e in edges {
            e.check().map_err(|m| Error::invalid_input(format!("{model}: {m}")))?;
        }
        self.change_edges(model, tenant, id, |current| {
            let (list, added, updated) = merge_edges(current, edges);
            (list, added, updated, 0)
        })
        .await
    }

    /// Removes an entity's edges to `dst` (of `rel_type` only, when given); `None` when the
    /// tenant has no such entity.
    ///
    /// # Errors
    /// A model without edges; the engine's errors.
    pub async fn remove_edges(
        &self,
        model: &Model,
        tenant: &str,
        id: &str,
        dst: &str,
        rel_type: Option<&str>,
    ) -> Result<Option<EdgeChange>> {
        self.change_edges(model, tenant, id, |current| {
            let (list, removed) = remove_edges(current, dst, rel_type);
            (list, 0, 0, removed)
        })
        .await
    }

    /// Reads the entity's edges, computes the new list and writes it in a transaction that
    /// locks the row and checks that the edges are still those read (else starts over).
    async fn change_edges(
        &self,
        model: &Model,
        tenant: &str,
        id: &str,
        change: impl Fn(Option<&Json>) -> (Vec<Json>, usize, usize, usize),
    ) -> Result<Option<EdgeChange>> {
        scoped(model, tenant)?;
        edges_field(model)?;
        self.require_table(model).await?;
        let d = self.db.dialect();
        let ids = [id];
        let lock = &dml::edges_of_rows(d, model, &self.layout, tenant, EdgeRows::Ids(&ids), true)?;
        let change = &change;
        retry_on_change(|| async move {
            let Some((_, current)) = self.stored_edges(model, tenant, &ids, false).await?.pop() else {
                return Ok(None);
            };
            let (list, added, updated, removed) = change(current.as_ref());
            check_edge_count(model, id, list.len())?;
            let new = Json::Array(list);
            let write = dml::set_edges(d, model, &self.layout, tenant, id, &new, Utc::now())?;
            let m = model.clone();
            let check: Arc<RowCheck> = Arc::new(move |i: usize, rows: &[Row]| -> Result<()> {
                if i != 0 {
                    return Ok(());
                }
                match decode_edge_rows(&m, rows.to_vec())?.pop() {
                    Some((_, now)) if now == current => Ok(()),
                    _ => Err(changed_concurrently(&m)),
                }
            });
            match self.db.query_in_transaction(&[lock.clone(), write.clone()], Some(check)).await {
                Ok(_) => {}
                // An executor that runs no checked transactions: the write alone.
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    self.db.execute(&write).await?;
                }
                Err(e) => return Err(e),
            }
            Ok(Some(EdgeChange { added, updated, removed, edges: edges_of(Some(&new)) }))
        })
        .await
    }
}

/// The keys of the entities that carry edges to merge (a list in the edges field of a keyed
/// model), each edge checked; `None` when there are none.
///
/// # Errors
/// An element of a carried list that is not a valid edge (naming it).
pub(crate) fn keys_with_edges(model: &Model, entities: &[Map<String, Json>]) -> Result<Option<Vec<String>>> {
    let (true, Some(k)) = (has_edges(model), model.key_field()) else { return Ok(None) };
    let field = EDGES_FIELD;
    let mut keys = Vec::new();
    for e in entities {
        let Some(Json::Array(items)) = e.get(field) else { continue };
        for item in items {
            let edge = Edge::from_json(item).ok_or_else(|| {
                Error::invalid_input(format!(
                    "{model}: {field} holds {item}, not an edge {{dst, rel_type, weight, properties, created_at}}"
                ))
            })?;
            edge.check().map_err(|m| Error::invalid_input(format!("{model}: {m}")))?;
        }
        if let Some(key) = e.get(k).and_then(Json::as_str) {
            keys.push(key.to_owned());
        }
    }
    Ok((!keys.is_empty()).then_some(keys))
}

impl EntityStore {
    /// The entities with their edge lists merged into the stored ones, and the guard that
    /// locks those rows in the write's transaction and checks their edges are still those
    /// read.
    pub(crate) async fn merge_stored_edges(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        keys: &[String],
    ) -> Result<(Vec<Map<String, Json>>, (p8fs_sql_dialect::Statement, Arc<RowCheck>))> {
        let field = edges_field(model)?;
        let k = model.key_field().unwrap_or("id");
        let d = self.db.dialect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let stored: std::collections::HashMap<String, Option<Json>> =
            self.stored_edges(model, tenant, &refs, true).await?.into_iter().collect();
        let mut merged = Vec::with_capacity(entities.len());
        // Entities of the same key in one batch merge in turn (the last one wins as a row).
        let mut running: std::collections::HashMap<String, Option<Json>> = stored.clone();
        for e in entities {
            let mut e = e.clone();
            if let (Some(Json::Array(items)), Some(key)) =
                (e.get(field).cloned(), e.get(k).and_then(Json::as_str).map(str::to_owned))
            {
                let incoming: Vec<Edge> = items.iter().filter_map(Edge::from_json).collect();
                let current = running.get(&key).cloned().flatten();
                let (list, _, _) = merge_edges(current.as_ref(), &incoming);
                check_edge_count(model, &key, list.len())?;
                let list = Json::Array(list);
                running.insert(key, Some(list.clone()));
                e.insert(field.to_owned(), list);
            }
            merged.push(e);
        }
        // The guard reads the rows in one statement (a batch is at most a few thousand
        // keys; the engines take lists that long).
        let lock = dml::edges_of_rows(d, model, &self.layout, tenant, EdgeRows::Keys(&refs), true)?;
        let m = model.clone();
        let check: Arc<RowCheck> = Arc::new(move |_: usize, rows: &[Row]| -> Result<()> {
            let now: std::collections::HashMap<String, Option<Json>> =
                decode_edge_rows(&m, rows.to_vec())?.into_iter().collect();
            if now == stored { Ok(()) } else { Err(changed_concurrently(&m)) }
        });
        Ok((merged, (lock, check)))
    }
}
