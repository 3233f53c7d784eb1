//! Vector search: nearest embeddings of one model (`vector_similarity_search`) and the
//! entities they belong to (`semantic_search`), exact or through the engine's index; the
//! statements are `p8fs_sql_dialect::entity::knn`'s.

use std::collections::HashMap;

use p8fs_sql_dialect::entity::codec::decode_row;
use p8fs_sql_dialect::entity::knn::{self, SearchMode, SearchOptions, knn};
use p8fs_sql_dialect::model::Model;
use p8fs_sql_dialect::{
    Error, ErrorKind, Metric, NearestQuery, Result, SqlValue, VectorIndexParams, vector_index_name,
};
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::EntityStore;

/// One nearest embedding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VectorHit {
    /// The entity's id.
    pub entity_id: String,
    /// The embedded field.
    pub field: String,
    /// The distance under the metric.
    pub distance: f64,
    /// The score (higher is closer).
    pub score: f64,
}

/// One entity found by meaning, with its best-matching field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SemanticHit {
    /// The entity.
    pub entity: Map<String, Json>,
    /// Its best-matching field.
    pub field: String,
    /// The distance of that field.
    pub distance: f64,
    /// Its score.
    pub score: f64,
}

/// Results, best first, and how they were found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResult<T> {
    /// Best first.
    pub hits: Vec<T>,
    /// Whether every candidate row was compared (true nearest neighbours).
    pub exact: bool,
    /// Candidates taken from the index (approximate); `None` when the engine compared
    /// every row of the tenant (exact search in SQL).
    pub candidates_examined: Option<usize>,
}

fn hit(metric: Metric, row: Vec<SqlValue>) -> Result<VectorHit> {
    let mut it = row.into_iter();
    let entity_id = it.next().ok_or_else(|| Error::decode("no entity_id"))?.into_text()?;
    let field = it.next().ok_or_else(|| Error::decode("no field_name"))?.into_text()?;
    let distance = match it.next() {
        Some(SqlValue::Float(f)) => f,
        Some(SqlValue::Int(i)) => i as f64,
        other => return Err(Error::decode(format!("distance is {other:?}"))),
    };
    Ok(VectorHit { entity_id, field, distance, score: metric.score(distance) })
}

impl EntityStore {
    /// How many embedding rows the model has in all tenants (the candidate ceiling).
    async fn embedding_rows(&self, model: &Model) -> Result<usize> {
        let stmt = knn::count_embeddings(self.executor().dialect(), self.layout(), model);
        match self.executor().query(&stmt).await?.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(SqlValue::Int(n)) => Ok(usize::try_from(n).unwrap_or(0)),
            other => Err(Error::decode(format!("COUNT returned {other:?}"))),
        }
    }

    /// The nearest embeddings of the model's embedded fields to `query`, in the tenant.
    ///
    /// # Errors
    /// A query of the wrong dimension, unknown fields, a zero limit; `Unsupported` for a
    /// metric the engine lacks; the engine's errors.
    pub async fn vector_similarity_search(
        &self,
        model: &Model,
        tenant: &str,
        query: &[f32],
        opts: &SearchOptions,
    ) -> Result<SearchResult<VectorHit>> {
        crate::store::scoped(model, tenant)?;
        knn::check(model, query, opts)?;
        let dialect = self.executor().dialect();
        let table = model.embeddings_table();
        let nearest = NearestQuery {
            schema: self.layout().embeddings_schema(dialect),
            table: &table,
            tenant,
            query,
            metric: opts.metric,
            fields: &opts.fields,
            limit: opts.limit,
            exact: opts.mode == SearchMode::Exact,
            candidates: opts.candidates,
        };
        // An executor with its own in-process index (the embedded default) answers itself.
        if let Some(answer) = self.executor().nearest(&nearest).await {
            let answer = answer?;
            let hits = answer
                .hits
                .into_iter()
                .map(|h| VectorHit {
                    entity_id: h.entity_id,
                    field: h.field,
                    distance: h.distance,
                    score: opts.metric.score(h.distance),
                })
                .collect();
            let result = SearchResult { hits, exact: answer.exact, candidates_examined: answer.candidates_examined };
            return Ok(apply_threshold(result, opts.threshold));
        }
        // Without a vector index searches are always exact (and ordered and limited in
        // SQL, so only the best rows are kept).
        let result = if opts.mode == SearchMode::Exact || !dialect.has_vector_index() {
            let exact = SearchOptions { mode: SearchMode::Exact, ..opts.clone() };
            let stmt = knn(dialect, model, self.layout(), tenant, query, &exact, opts.limit)?
                .ok_or_else(|| Error::new(ErrorKind::Unsupported, "no distance function"))?;
            let hits = self
                .executor()
                .query(&stmt)
                .await?
                .into_iter()
                .map(|r| hit(opts.metric, r))
                .collect::<Result<Vec<_>>>()?;
            SearchResult { hits, exact: true, candidates_examined: None }
        } else {
            let mut candidates = opts.candidates.unwrap_or((opts.limit * 4).max(40)).max(opts.limit);
            // Counted only when the first candidates were too few (a selective tenant).
            let mut total: Option<usize> = None;
            loop {
                let stmt = knn(dialect, model, self.layout(), tenant, query, opts, candidates)?
                    .ok_or_else(|| Error::new(ErrorKind::Unsupported, "no distance function"))?;
                let setup = dialect.ann_settings(candidates);
                let rows = self.executor().query_with_setup(&setup, &stmt).await?;
                let hits = rows.into_iter().map(|r| hit(opts.metric, r)).collect::<Result<Vec<_>>>()?;
                if hits.len() >= opts.limit {
                    break SearchResult { hits, exact: false, candidates_examined: Some(candidates) };
                }
                let all = match total {
                    Some(t) => t,
                    None => *total.insert(self.embedding_rows(model).await?),
                };
                if candidates >= all {
                    break SearchResult { hits, exact: false, candidates_examined: Some(candidates.min(all)) };
                }
                candidates *= 4;
            }
        };
        Ok(apply_threshold(result, opts.threshold))
    }

    /// The entities whose embedded fields are nearest to `query`, in the tenant: each
    /// entity at most once, with its best field and score; joined on the entity's `id`, with
    /// the tenant filter on both the embeddings and the entities.
    ///
    /// # Errors
    /// As [`EntityStore::vector_similarity_search`].
    pub async fn semantic_search(
        &self,
        model: &Model,
        tenant: &str,
        query: &[f32],
        opts: &SearchOptions,
    ) -> Result<SearchResult<SemanticHit>> {
        let nfields = if opts.fields.is_empty() { model.embedding_fields().count() } else { opts.fields.len() };
        // Each entity can appear once per field: over-fetch so that `limit` entities remain.
        let wide = SearchOptions { limit: opts.limit * nfields.max(1), ..opts.clone() };
        let found = self.vector_similarity_search(model, tenant, query, &wide).await?;
        let mut best: Vec<VectorHit> = Vec::new();
        for h in found.hits {
            if !best.iter().any(|b| b.entity_id == h.entity_id) {
                best.push(h);
            }
        }
        best.truncate(opts.limit);
        let ids: Vec<&str> = best.iter().map(|h| h.entity_id.as_str()).collect();
        let mut rows: HashMap<String, Map<String, Json>> = HashMap::new();
        if !ids.is_empty() {
            let stmt = knn::hit_entities(self.executor().dialect(), self.layout(), model, tenant, &ids);
            for r in self.executor().query(&stmt).await? {
                let row = decode_row(model, r)?;
                if let Some(Json::String(id)) = row.get("id") {
                    rows.insert(id.clone(), row);
                }
            }
        }
        let hits = best
            .into_iter()
            .filter_map(|h| {
                rows.remove(&h.entity_id).map(|entity| SemanticHit {
                    entity,
                    field: h.field,
                    distance: h.distance,
                    score: h.score,
                })
            })
            .collect();
        Ok(SearchResult { hits, exact: found.exact, candidates_examined: found.candidates_examined })
    }

    /// The distinct embedding providers recorded for these entities' embeddings in the
    /// tenant (sorted); empty for no ids.
    ///
    /// # Errors
    /// The engine's.
    pub async fn embedding_providers(&self, model: &Model, tenant: &str, entity_ids: &[&str]) -> Result<Vec<String>> {
        crate::store::scoped(model, tenant)?;
        if entity_ids.is_empty() {
            return Ok(Vec::new());
        }
        let stmt = knn::providers_of(self.executor().dialect(), self.layout(), model, tenant, entity_ids);
        self.executor()
            .query(&stmt)
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .map(SqlValue::into_text)
            .collect()
    }

    /// Creates the model's vector index for `metric` (with the TiFlash replica on TiDB).
    ///
    /// # Errors
    /// `Unsupported` where the engine has none (SQLite) or not for this metric.
    pub async fn create_vector_index(&self, model: &Model, metric: Metric, params: &VectorIndexParams) -> Result<()> {
        let dialect = self.executor().dialect();
        let stmts = dialect.create_vector_index(
            self.layout().embeddings_schema(dialect),
            &model.embeddings_table(),
            metric,
            params,
        )?;
        for s in &stmts {
            self.executor().execute(s).await?;
        }
        Ok(())
    }

    /// The metrics for which the model's embeddings table has its p8fs vector index (by
    /// the conventional name, [`vector_index_name`]); empty without one or without
    /// the table.
    ///
    /// # Errors
    /// The catalog query's error.
    pub async fn vector_indexes(&self, model: &Model) -> Result<Vec<Metric>> {
        if model.embedding().is_none() {
            return Ok(Vec::new());
        }
        let table = model.embeddings_table();
        let dialect = self.executor().dialect();
        let stmt = dialect.index_names_query(self.layout().embeddings_schema(dialect), &table);
        let names: Vec<String> = self
            .executor()
            .query(&stmt)
            .await?
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(|v| v.into_text().ok()))
            .collect();
        Ok([Metric::Cosine, Metric::L2, Metric::InnerProduct]
            .into_iter()
            .filter(|m| names.iter().any(|n| n.eq_ignore_ascii_case(&vector_index_name(&table, *m))))
            .collect())
    }

    /// Drops the model's vector index for `metric`.
    ///
    /// # Errors
    /// `Unsupported` where the engine has none.
    pub async fn drop_vector_index(&self, model: &Model, metric: Metric) -> Result<()> {
        let dialect = self.executor().dialect();
        let stmt =
            dialect.drop_vector_index(self.layout().embeddings_schema(dialect), &model.embeddings_table(), metric)?;
        self.executor().execute(&stmt).await?;
        Ok(())
    }
}

fn apply_threshold(mut r: SearchResult<VectorHit>, threshold: Option<f64>) -> SearchResult<VectorHit> {
    if let Some(t) = threshold {
        r.hits.retain(|h| h.score >= t);
    }
    r
}
