//! The nearest-neighbour statements of vector search, exact or through the engine's
//! index; `p8fs-entity` runs them.

use sea_query::{Alias, Expr, ExprTrait, Order, Query};

use super::Layout;
use crate::model::Model;
use crate::{Dialect, Error, Metric, Result, Statement};

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Every row of the tenant is compared: the true nearest neighbours.
    Exact,
    /// Through the engine's vector index where there is one (the index serves the inner
    /// nearest-neighbour query; the tenant and field filters apply outside it). Candidates
    /// are over-fetched and the search retried with more until `limit` matches are found or
    /// every row was a candidate, so a filter never silently returns fewer than it could.
    Approximate,
}

/// Options of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOptions {
    /// The distance.
    pub metric: Metric,
    /// Most results.
    pub limit: usize,
    /// Only results with at least this score (see [`Metric::score`]).
    pub threshold: Option<f64>,
    /// Only these embedded fields (empty: all).
    pub fields: Vec<String>,
    /// Exact or approximate.
    pub mode: SearchMode,
    /// Approximate mode: how many nearest embeddings the index is asked for before the
    /// tenant filter and the limit apply (pgvector `hnsw.ef_search`; MariaDB
    /// `mhnsw_ef_search`, at least 200). `None`: max(4 x limit, 40); the embedded engine
    /// (one HNSW index per tenant) also grows it with the tenant's rows, to
    /// `32 x log2(rows / 6,250)` (128 at 100,000 rows, 235 at 1,000,000), which keeps its
    /// recall@10 near 0.98. More candidates trade speed for recall; at most
    /// [`MAX_CANDIDATES`].
    pub candidates: Option<usize>,
}

/// The most candidates an approximate search may ask the index for.
pub const MAX_CANDIDATES: usize = 10_000;

impl Default for SearchOptions {
    fn default() -> Self {
        Self {
            metric: Metric::Cosine,
            limit: 10,
            threshold: None,
            fields: Vec::new(),
            mode: SearchMode::Exact,
            candidates: None,
        }
    }
}

fn a(s: &str) -> Alias {
    Alias::new(s)
}

/// The quoted, schema-qualified name of a model's embeddings table.
pub fn qualified(d: &dyn Dialect, layout: &Layout, model: &Model) -> String {
    d.qualified(layout.embeddings_schema(d), &model.embeddings_table())
}

/// Checks a search before it runs: the query's dimensions, the limit, the candidates and
/// the fields.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] naming what is wrong.
pub fn check(model: &Model, query: &[f32], opts: &SearchOptions) -> Result<()> {
    let spec = model.embedding().ok_or_else(|| Error::invalid_input(format!("{model} has no embedded fields")))?;
    if query.len() != spec.dim as usize {
        return Err(Error::invalid_input(format!(
            "{model}: the query vector has {} dimensions, the model's embeddings have {}",
            query.len(),
            spec.dim
        )));
    }
    if opts.limit == 0 {
        return Err(Error::invalid_input("a search limit must be at least 1"));
    }
    if query.iter().any(|x| !x.is_finite()) {
        return Err(Error::invalid_input("the query vector has a NaN or infinite value"));
    }
    // A zero vector has no direction: its cosine distance is undefined (an error on
    // MariaDB, NaN on PostgreSQL). The lexical embedder gives one for a text without words.
    if opts.metric == Metric::Cosine && query.iter().all(|x| *x == 0.0) {
        return Err(Error::invalid_input(
            "the query has nothing to search by (its vector is zero): give it some words",
        ));
    }
    if let Some(c) = opts.candidates
        && !(1..=MAX_CANDIDATES).contains(&c)
    {
        return Err(Error::invalid_input(format!("candidates must be 1-{MAX_CANDIDATES}, got {c}")));
    }
    for f in &opts.fields {
        if model.field(f).is_none_or(|x| x.embedding.is_none()) {
            return Err(Error::invalid_input(format!("{model}.{f} is not an embedded field")));
        }
    }
    Ok(())
}

/// The nearest-neighbour statement (`None` for a dialect without a distance function). Exact: all of the
/// tenant's rows, ordered by a wrapped distance (`+ 0`) so no approximate index serves it.
/// Approximate: an inner `ORDER BY distance LIMIT candidates` the index can serve, filters
/// outside.
pub fn knn(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    query: &[f32],
    opts: &SearchOptions,
    candidates: usize,
) -> Result<Option<Statement>> {
    let col = Expr::col(a("embedding_vector"));
    let Some(dist) = d.distance(opts.metric, col, query)? else { return Ok(None) };
    let table = layout.embeddings_table(d, model);
    let fields_cond = |q: &mut sea_query::SelectStatement| {
        if !opts.fields.is_empty() {
            q.and_where(Expr::col(a("field_name")).is_in(opts.fields.iter().map(String::as_str)));
        }
    };
    let stmt = match opts.mode {
        SearchMode::Exact => {
            // The distance is computed once per row (ordering by the output column), and
            // `+ 0` makes it an expression no vector index serves.
            let mut q = Query::select();
            q.columns([a("entity_id"), a("field_name")])
                .expr_as(dist.add(Expr::cust("0")), a("distance"))
                .from(table)
                .and_where(Expr::col(a("tenant_id")).eq(tenant));
            fields_cond(&mut q);
            q.order_by(a("distance"), Order::Asc).order_by(a("entity_id"), Order::Asc).limit(candidates as u64);
            d.build_query(&q)
        }
        SearchMode::Approximate => {
            let mut inner = Query::select();
            inner
                .columns([a("entity_id"), a("field_name"), a("tenant_id")])
                .expr_as(dist.clone(), a("distance"))
                .from(table)
                .order_by_expr(dist, Order::Asc)
                .limit(candidates as u64);
            let mut q = Query::select();
            q.columns([a("entity_id"), a("field_name"), a("distance")])
                .from_subquery(inner, a("knn"))
                .and_where(Expr::col(a("tenant_id")).eq(tenant));
            fields_cond(&mut q);
            q.order_by(a("distance"), Order::Asc).limit(opts.limit as u64);
            d.build_query(&q)
        }
    };
    Ok(Some(stmt))
}

/// Counts a model's embedding rows in all tenants (the ceiling of a search's candidates).
pub fn count_embeddings(d: &dyn Dialect, layout: &Layout, model: &Model) -> Statement {
    d.build_query(&Query::select().expr(Expr::col(a("id")).count()).from(layout.embeddings_table(d, model)).to_owned())
}

/// The entities of a search's hits: every column of the rows with these `ids`, in the
/// tenant.
pub fn hit_entities(d: &dyn Dialect, layout: &Layout, model: &Model, tenant: &str, ids: &[&str]) -> Statement {
    let mut q = Query::select();
    q.from(layout.table(d, model.name()));
    for (name, _) in super::codec::select_columns(model) {
        q.column(a(&name));
    }
    q.and_where(d.in_list(Expr::col(a("id")), ids));
    if model.tenant_isolated() {
        q.and_where(Expr::col(a("tenant_id")).eq(tenant));
    }
    d.build_query(&q)
}

/// The distinct embedding providers recorded for these entities' embeddings in the tenant
/// (`SELECT DISTINCT embedding_provider ... WHERE tenant_id = ? AND entity_id IN (...)`):
/// what a search checks its hits against, so vectors of one model are never silently
/// compared with another's.
pub fn providers_of(d: &dyn Dialect, layout: &Layout, model: &Model, tenant: &str, ids: &[&str]) -> Statement {
    let mut q = Query::select();
    q.distinct()
        .column(a("embedding_provider"))
        .from(layout.embeddings_table(d, model))
        .and_where(Expr::col(a("tenant_id")).eq(tenant))
        .and_where(d.in_list(Expr::col(a("entity_id")), ids))
        .order_by(a("embedding_provider"), Order::Asc);
    d.build_query(&q)
}
