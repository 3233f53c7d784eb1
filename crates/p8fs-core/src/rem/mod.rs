//! REM (Resource-Entity-Moment) queries: `LOOKUP`, `GET`, `SEARCH`, `FUZZY`, `SELECT`,
//! `TRAVERSE`, and edges. The grammar is `p8fs-rem`'s; this module runs a parsed query on
//! the entity store, the reverse map and the embedder, always in one tenant.

mod answer;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use answer::{EdgeSummary, RemAnswer, RemHit, Stage, Traversal, TraversedEdge};
use p8fs_entity::{Edge, EdgeChange};
pub use p8fs_rem::{LookupKey, ParseError, RemQuery, Seed, SelectQuery, TraverseQuery};
use p8fs_sql_dialect::entity::{EntityQuery, SearchOptions};
use p8fs_sql_dialect::model::Model;
use serde_json::{Map, Value as Json};

use crate::{Error, P8fs, Result};

impl P8fs {
    /// Runs a REM query in `tenant` with the default [`RemOptions`].
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a malformed query or one that names what is not allowed
    /// (the message names the part); the backends' errors.
    pub async fn rem(&self, query: &str, tenant: &str) -> Result<RemAnswer> {
        self.rem_with(query, tenant, &RemOptions::default()).await
    }

    /// Runs a REM query in `tenant`.
    ///
    /// # Errors
    /// As [`P8fs::rem`].
    pub async fn rem_with(&self, query: &str, tenant: &str, opts: &RemOptions) -> Result<RemAnswer> {
        p8fs_tenant::check(tenant).map_err(|reason| Error::InvalidInput(format!("tenant id {tenant:?}: {reason}")))?;
        let parsed = p8fs_rem::parse(query).map_err(|e| Error::InvalidInput(format!("REM query: {e}")))?;
        let echo = serde_json::to_value(&parsed).unwrap_or(Json::Null);
        let limit = |l: Option<u64>| -> Result<usize> {
            let l = l.map_or(opts.limit, |l| usize::try_from(l).unwrap_or(usize::MAX));
            if l == 0 || l > MAX_LIMIT {
                return Err(Error::InvalidInput(format!("REM query: LIMIT must be 1..={MAX_LIMIT}, got {l}")));
            }
            Ok(l)
        };
        let (kind, results, traversal) = match parsed {
            RemQuery::Lookup { keys } => ("lookup", self.rem_lookup(&keys, None, tenant).await?, None),
            RemQuery::Search { text, table, limit: l, .. } => {
                ("search", self.rem_search(&text, table.as_deref(), limit(l)?, opts, tenant).await?, None)
            }
            RemQuery::Fuzzy { text, table, limit: l } => {
                ("fuzzy", self.fuzzy(&text, table.as_deref(), limit(l)?, tenant).await?, None)
            }
            RemQuery::Select(q) => ("select", self.rem_select(&q, tenant).await?, None),
            RemQuery::Traverse(t) => {
                let (nodes, tr) = self.rem_traverse(&t, limit(t.limit)?, opts, tenant).await?;
                ("traverse", nodes, Some(tr))
            }
        };
        Ok(RemAnswer { kind: kind.to_owned(), query: echo, results, traversal })
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
        let mut hits = Vec::new();
        for model in self.rem_models(entity_type, |m| m.key_field().is_some()).await? {
            for h in self.entities().fuzzy(&model, tenant, text, limit).await? {
                hits.push(hit(&model, h.entity, Some(h.score)));
            }
        }
        rank(&mut hits, limit);
        Ok(hits)
    }

    /// The models a REM clause reads: `table` (an error when unknown or when `usable`
    /// refuses it), else every tenant model `usable` accepts whose table exists.
    async fn rem_models(&self, table: Option<&str>, usable: impl Fn(&Model) -> bool) -> Result<Vec<Model>> {
        if let Some(t) = table {
            let m = self.model(t)?;
            if !m.tenant_isolated() || !usable(&m) {
                return Err(Error::InvalidInput(format!("REM query: table {t} cannot be used here")));
            }
            return Ok(vec![m]);
        }
        let mut out = Vec::new();
        for m in self.models() {
            if m.tenant_isolated() && usable(&m) && self.entities().table_exists(&m).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The entities called `key.key` (in `key.table`, else `table`, else any table), by
    /// the reverse map; a name without a mapping is looked for by key field in each table
    /// (a unique index read per table).
    async fn rem_lookup_one(&self, key: &LookupKey, table: Option<&str>, tenant: &str) -> Result<Vec<RemHit>> {
        let table = key.table.as_deref().or(table);
        let mut out = Vec::new();
        let mut seen_types = HashSet::new();
        for e in self.mappings().lookup_by_name(tenant, &key.key).await? {
            if table.is_some_and(|t| t != e.entity_type) {
                continue;
            }
            let Ok(model) = self.model(&e.entity_type) else { continue };
            seen_types.insert(e.entity_type.clone());
            if let Some(row) = self.entities().get(&model, tenant, &e.entity_key).await? {
                out.push(hit(&model, row, None));
            }
        }
        if out.is_empty() {
            for model in self.rem_models(table, |m| m.key_field().is_some()).await? {
                if seen_types.contains(model.name()) {
                    continue;
                }
                if let Some(row) = self.entities().get_by_key(&model, tenant, &key.key).await? {
                    out.push(hit(&model, row, None));
                }
            }
        }
        Ok(out)
    }

    async fn rem_lookup(&self, keys: &[LookupKey], table: Option<&str>, tenant: &str) -> Result<Vec<RemHit>> {
        let mut out: Vec<RemHit> = Vec::new();
        let mut seen = HashSet::new();
        for k in keys {
            for h in self.rem_lookup_one(k, table, tenant).await? {
                if seen.insert((h.table.clone(), h.id.clone())) {
                    out.push(h);
                }
            }
        }
        Ok(out)
    }

    async fn rem_search(
        &self,
        text: &str,
        table: Option<&str>,
        limit: usize,
        rem: &RemOptions,
        tenant: &str,
    ) -> Result<Vec<RemHit>> {
        let opts = SearchOptions { limit, threshold: rem.threshold, ..SearchOptions::default() };
        let mut hits = Vec::new();
        for model in self.rem_models(table, |m| m.embedding().is_some()).await? {
            let found =
                self.search(model.name(), tenant, text, rem.mode, &opts, p8fs_entity::Fusion::default()).await?;
            for h in found.hits {
                hits.push(hit(&model, h.entity, Some(h.score)));
            }
        }
        rank(&mut hits, limit);
        Ok(hits)
    }

    async fn rem_select(&self, q: &SelectQuery, tenant: &str) -> Result<Vec<RemHit>> {
        let model = self.model(&q.table).map_err(|e| Error::InvalidInput(format!("REM SELECT: {e}")))?;
        if !model.tenant_isolated() {
            return Err(Error::InvalidInput(format!("REM SELECT: table {} is not a tenant's", q.table)));
        }
        let known = |c: &str| matches!(c, "id" | "created_at" | "updated_at") || model.field(c).is_some();
        for c in q.columns.iter().flatten() {
            if !known(c) {
                return Err(Error::InvalidInput(format!("REM SELECT: column {c:?} is not a column of {}", q.table)));
            }
        }
        for k in q.filters.keys() {
            let field = k.split_once("__").map_or(k.as_str(), |(f, _)| f);
            if field == "tenant_id" {
                return Err(Error::InvalidInput(
                    "REM SELECT: tenant_id is not allowed in WHERE: every query is scoped to the caller's tenant"
                        .into(),
                ));
            }
        }
        for o in &q.order_by {
            if o.trim_start_matches('-') == "tenant_id" {
                return Err(Error::InvalidInput("REM SELECT: tenant_id is not allowed in ORDER BY".into()));
            }
        }
        let limit = q.limit.unwrap_or(DEFAULT_SELECT_LIMIT).min(MAX_LIMIT as u64);
        let query = EntityQuery::parse(&model, &q.filters, &q.order_by, Some(limit), q.offset)
            .map_err(|e| Error::InvalidInput(format!("REM SELECT: {e}")))?;
        let rows = self.entities().select(&model, tenant, &query).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut h = hit(&model, row, None);
                if let Some(cols) = &q.columns {
                    h.entity.retain(|k, _| cols.iter().any(|c| c == k));
                }
                h
            })
            .collect())
    }

    async fn rem_traverse(
        &self,
        t: &TraverseQuery,
        limit: usize,
        opts: &RemOptions,
        tenant: &str,
    ) -> Result<(Vec<RemHit>, Traversal)> {
        let max_depth = t.depth.unwrap_or(opts.depth).min(MAX_DEPTH);
        let plan_only = t.plan || max_depth == 0;
        let table = t.table.as_deref();
        let seeds = match &t.seed {
            Seed::Lookup { keys } => self.rem_lookup(keys, table, tenant).await?,
            Seed::Search { text, limit: l } => {
                let l = l.map_or(opts.limit, |l| usize::try_from(l).unwrap_or(MAX_LIMIT)).clamp(1, MAX_LIMIT);
                self.rem_search(text, table, l, opts, tenant).await?
            }
        };
        let wanted = |e: &Edge| t.edge_types.is_empty() || t.edge_types.iter().any(|r| r == &e.rel_type);
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut nodes: Vec<RemHit> = Vec::new();
        let mut frontier: Vec<usize> = Vec::new();
        let mut truncated = false;
        for mut s in seeds {
            if nodes.len() == limit {
                truncated = true;
                break;
            }
            if seen.insert((s.table.clone(), s.id.clone())) {
                s.depth = Some(0);
                s.path = vec![s.name.clone().unwrap_or_else(|| s.id.clone())];
                frontier.push(nodes.len());
                nodes.push(s);
            }
        }
        let mut tr = Traversal {
            plan_only,
            max_depth,
            stages: Vec::new(),
            edges: Vec::new(),
            summary: EdgeSummary::default(),
            truncated: false,
        };
        let mut depth = 0;
        while !frontier.is_empty() {
            // The frontier's edges: one statement per table.
            let mut by_table: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for &i in &frontier {
                by_table.entry(nodes[i].table.clone()).or_default().push(i);
            }
            // Read in chunks of nodes, so that what is held stays within the edge budget
            // (an entity may hold 10,000 edges).
            let budget = MAX_EDGES_MET.saturating_sub(tr.summary.total);
            let mut out_edges: Vec<(usize, Edge)> = Vec::new();
            'tables: for (table_name, idx) in &by_table {
                let model = self.model(table_name)?;
                if !p8fs_entity::graph::has_edges(&model) {
                    continue;
                }
                for chunk in idx.chunks(EDGE_READ_CHUNK) {
                    let ids: Vec<&str> = chunk.iter().map(|&i| nodes[i].id.as_str()).collect();
                    let found: HashMap<String, Vec<Edge>> =
                        self.entities().edges_of(&model, tenant, &ids).await?.into_iter().collect();
                    for &i in chunk {
                        for e in found.get(&nodes[i].id).into_iter().flatten() {
                            if out_edges.len() == budget {
                                truncated = true;
                                break 'tables;
                            }
                            if wanted(e) {
                                out_edges.push((i, e.clone()));
                            }
                        }
                    }
                }
            }
            let follow = !plan_only && depth < max_depth && !truncated;
            tr.stages.push(Stage { depth, nodes: frontier.len(), edges: out_edges.len() });
            let mut next = Vec::new();
            let mut resolved_names: HashMap<String, Vec<RemHit>> = HashMap::new();
            for (src, edge) in out_edges {
                tr.summary.total += 1;
                *tr.summary.by_rel_type.entry(edge.rel_type.clone()).or_default() += 1;
                let mut te = TraversedEdge {
                    src_table: nodes[src].table.clone(),
                    src_id: nodes[src].id.clone(),
                    edge: edge.clone(),
                    depth,
                    followed: false,
                    resolved: None,
                };
                if follow && !truncated {
                    te.followed = true;
                    if !resolved_names.contains_key(&edge.dst) {
                        let key = LookupKey { table: None, key: edge.dst.clone() };
                        let found = self.rem_lookup_one(&key, table, tenant).await?;
                        resolved_names.insert(edge.dst.clone(), found);
                    }
                    let found = resolved_names.get(&edge.dst).cloned().unwrap_or_default();
                    te.resolved = Some(!found.is_empty());
                    if found.is_empty() {
                        tr.summary.unresolved += 1;
                    }
                    for mut h in found {
                        if !seen.insert((h.table.clone(), h.id.clone())) {
                            continue;
                        }
                        if nodes.len() == limit {
                            truncated = true;
                            break;
                        }
                        h.depth = Some(depth + 1);
                        let mut path = nodes[src].path.clone();
                        path.push(h.name.clone().unwrap_or_else(|| h.id.clone()));
                        h.path = path;
                        next.push(nodes.len());
                        nodes.push(h);
                    }
                }
                tr.edges.push(te);
            }
            if !follow {
                break;
            }
            frontier = next;
            depth += 1;
        }
        tr.truncated = truncated;
        if plan_only {
            // A plan fetches nothing past the seeds: they are reported by name and id only.
            for n in &mut nodes {
                n.entity.clear();
            }
        }
        Ok((nodes, tr))
    }
}

/// Limits and defaults of REM queries.
#[derive(Debug, Clone, PartialEq)]
pub struct RemOptions {
    /// Results of SEARCH, FUZZY and TRAVERSE without a `LIMIT` (default 10).
    pub limit: usize,
    /// SEARCH: only hits with at least this score.
    pub threshold: Option<f64>,
    /// TRAVERSE without `DEPTH` (default 2; at most [`MAX_DEPTH`]).
    pub depth: u32,
    /// How SEARCH (and TRAVERSE's `WITH SEARCH` seeds) finds entities: by meaning (the
    /// default), by words, or both (see [`crate::QueryMode`]).
    pub mode: crate::QueryMode,
}

impl Default for RemOptions {
    fn default() -> Self {
        Self { limit: 10, threshold: None, depth: 2, mode: crate::QueryMode::Vector }
    }
}

/// The largest `LIMIT` of a REM query.
pub const MAX_LIMIT: usize = 1000;
/// SELECT without `LIMIT` reads this many rows.
pub const DEFAULT_SELECT_LIMIT: u64 = 100;
/// The deepest traversal.
pub const MAX_DEPTH: u32 = 10;
/// The most edges one traversal reads and reports; past it the traversal stops
/// (`truncated`), so what it holds stays bounded.
pub const MAX_EDGES_MET: usize = 20_000;
/// Nodes whose edges are read per statement.
const EDGE_READ_CHUNK: usize = 25;

fn hit(model: &Model, entity: Map<String, Json>, score: Option<f64>) -> RemHit {
    let id = entity.get("id").and_then(Json::as_str).unwrap_or_default().to_owned();
    let name = model.key_field().and_then(|k| entity.get(k)).and_then(Json::as_str).map(str::to_owned);
    RemHit { table: model.name().to_owned(), id, name, score, depth: None, path: Vec::new(), entity }
}

/// Best score first (ties by table, then name), at most `limit`.
fn rank(hits: &mut Vec<RemHit>, limit: usize) {
    hits.sort_by(|a, b| {
        b.score
            .unwrap_or(0.0)
            .total_cmp(&a.score.unwrap_or(0.0))
            .then_with(|| a.table.cmp(&b.table))
            .then_with(|| a.name.cmp(&b.name))
    });
    hits.truncate(limit);
}
