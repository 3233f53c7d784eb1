//! REM (Resource-Entity-Moment) queries: `LOOKUP`, `GET`, `SEARCH`, `FUZZY`, `SELECT`,
//! `TRAVERSE`, and edges. The grammar is `p8fs-rem`'s; this module runs a parsed query on
//! the entity store, the reverse map and the embedder, always in one tenant.

use std::collections::BTreeMap;

use p8fs_entity::{Edge, EdgeChange};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::{Error, P8fs, Result};

/// One entity a REM query found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemHit {
    /// The table (= entity type) it is in.
    pub table: String,
    /// Its id.
    pub id: String,
    /// Its name (business key), when the model has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How well it matched (SEARCH: the vector score; FUZZY: the similarity, 0..1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// TRAVERSE: the hops from a seed (seeds are 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
    /// TRAVERSE: the names from a seed to this node, this node's last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
    /// The entity (SELECT: the selected columns).
    pub entity: Map<String, Json>,
}

/// One level of a traversal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stage {
    /// The depth (0: the seeds).
    pub depth: u32,
    /// Nodes at this depth.
    pub nodes: usize,
    /// Edges of these nodes that matched the edge types (followed, or reported by a plan).
    pub edges: usize,
}

/// One edge a traversal met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraversedEdge {
    /// The table of the node the edge leaves.
    pub src_table: String,
    /// The id of that node.
    pub src_id: String,
    /// The edge.
    #[serde(flatten)]
    pub edge: Edge,
    /// The depth of the node the edge leaves.
    pub depth: u32,
    /// Whether it was followed (`false` in a plan, past the depth or the limit).
    pub followed: bool,
    /// Whether its destination exists in the tenant (`None` when not looked up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<bool>,
}

/// Counts of the edges a traversal met.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct EdgeSummary {
    /// All edges met.
    pub total: usize,
    /// By relation type.
    pub by_rel_type: BTreeMap<String, usize>,
    /// Followed edges whose destination exists in no table of the tenant.
    pub unresolved: usize,
}

/// What a `TRAVERSE` did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Traversal {
    /// `DEPTH 0` or `PLAN`: the seeds' edges are reported, nothing is fetched.
    pub plan_only: bool,
    /// The depth limit used.
    pub max_depth: u32,
    /// One stage per depth reached.
    pub stages: Vec<Stage>,
    /// The edges met, in the order they were met.
    pub edges: Vec<TraversedEdge>,
    /// Counts of `edges`.
    pub summary: EdgeSummary,
    /// Whether the result limit stopped the traversal early.
    pub truncated: bool,
}

/// The answer to a REM query.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemAnswer {
    /// `lookup`, `search`, `fuzzy`, `select` or `traverse`.
    pub kind: String,
    /// The query as parsed.
    pub query: Json,
    /// What it found, best first where ranked.
    pub results: Vec<RemHit>,
    /// `TRAVERSE` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traversal: Option<Traversal>,
}

impl P8fs {
    /// Runs a REM query in `tenant`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed query or one that names what is not allowed
    /// (the message names the part); the backends' errors.
    pub async fn rem(&self, query: &str, tenant: &str) -> Result<RemAnswer> {
        let _ = (query, tenant);
        Err(Error::Internal("REM is not built yet".into()))
    }

    /// The edges of an entity.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an entity the tenant does not have; a type without edges;
    /// the engine's errors.
    pub async fn edges(&self, entity_type: &str, id: &str, tenant: &str) -> Result<Vec<Edge>> {
        let model = self.model(entity_type)?;
        let mut found = self.entities().edges_of(&model, tenant, &[id]).await?;
        match found.pop() {
            Some((_, edges)) => Ok(edges),
            None => Err(Error::NotFound(format!("no {entity_type} with id {id}"))),
        }
    }

    /// Adds edges to an entity, merged by `(dst, rel_type)`.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an entity the tenant does not have; a bad edge; the
    /// engine's errors.
    pub async fn add_edges(&self, entity_type: &str, id: &str, edges: &[Edge], tenant: &str) -> Result<EdgeChange> {
        let model = self.model(entity_type)?;
        self.entities()
            .add_edges(&model, tenant, id, edges)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no {entity_type} with id {id}")))
    }

    /// Removes an entity's edges to `dst` (of `rel_type` only, when given).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an entity the tenant does not have; the engine's errors.
    pub async fn remove_edges(
        &self,
        entity_type: &str,
        id: &str,
        dst: &str,
        rel_type: Option<&str>,
        tenant: &str,
    ) -> Result<EdgeChange> {
        let model = self.model(entity_type)?;
        self.entities()
            .remove_edges(&model, tenant, id, dst, rel_type)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no {entity_type} with id {id}")))
    }

    /// Entities whose name is close to `text` (trigram similarity on PostgreSQL with
    /// `pg_trgm`, n-gram scoring elsewhere), best first, in `entity_type` or every keyed
    /// model.
    ///
    /// # Errors
    /// An empty text, an unknown type; the engines' errors.
    pub async fn fuzzy(
        &self,
        text: &str,
        entity_type: Option<&str>,
        limit: usize,
        tenant: &str,
    ) -> Result<Vec<RemHit>> {
        let _ = (text, entity_type, limit, tenant);
        Err(Error::Internal("FUZZY is not built yet".into()))
    }
}
