//! What a REM query answers.

use std::collections::BTreeMap;

use p8fs_entity::Edge;
use serde::Serialize;
use serde_json::{Map, Value as Json};

/// One entity a REM query found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub entity: Map<String, Json>,
}

/// One level of a traversal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemAnswer {
    /// `lookup`, `search`, `fuzzy`, `select` or `traverse`.
    pub kind: String,
    /// The query as parsed.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub query: Json,
    /// What it found, best first where ranked.
    pub results: Vec<RemHit>,
    /// `TRAVERSE` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traversal: Option<Traversal>,
}
