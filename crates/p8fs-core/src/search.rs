//! Search by text in one of three modes: by meaning (vectors), by words (full-text), or
//! both fused ([`P8fs::search`]).

use p8fs_entity::{Fusion, SearchResult, SemanticHit, fuse};
use p8fs_sql_dialect::entity::SearchOptions;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::{Error, P8fs, Result};

/// How a search finds entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum QueryMode {
    /// By meaning: the query's embedding against the stored embeddings.
    #[default]
    Vector,
    /// By words: the engine's full-text search (or BM25 over word candidates where the
    /// engine has none).
    Text,
    /// Both, fused (by default weighted 0.2 text, 0.8 vector; see `Fusion`).
    Hybrid,
}

impl std::str::FromStr for QueryMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "vector" => Ok(QueryMode::Vector),
            "text" => Ok(QueryMode::Text),
            "hybrid" => Ok(QueryMode::Hybrid),
            other => Err(Error::InvalidInput(format!("search mode must be vector, text or hybrid, got {other:?}"))),
        }
    }
}

impl QueryMode {
    /// Its name (`vector`, `text`, `hybrid`).
    pub fn as_str(self) -> &'static str {
        match self {
            QueryMode::Vector => "vector",
            QueryMode::Text => "text",
            QueryMode::Hybrid => "hybrid",
        }
    }
}

/// Results fetched from each side of a hybrid search for `limit` fused results: enough
/// that an entity ranked well on one side only still competes.
fn per_side(limit: usize) -> usize {
    limit.saturating_mul(3).clamp(30, p8fs_sql_dialect::entity::MAX_CANDIDATES).max(limit)
}

impl P8fs {
    /// Searches `entity_type` in the tenant by `text`, best first, at most `opts.limit`:
    /// by meaning ([`QueryMode::Vector`], as [`P8fs::semantic_search`]), by words
    /// ([`QueryMode::Text`]), or both fused by `fusion` ([`QueryMode::Hybrid`]). A hybrid
    /// search asks each side for at least three times the limit, and each side returns as
    /// many as it has (the vector side over-fetches through a filtered index as
    /// `semantic_search` does), so it returns `limit` results whenever the tenant has that
    /// many entities with embeddings or matching words. `opts.threshold` applies to the
    /// vector side's scores (hybrid scores are fusion scores, not similarities).
    ///
    /// # Errors
    /// An unknown type, a query without words (text and hybrid), bad fusion parameters,
    /// embeddings made by another embedder (vector and hybrid); the backends' errors.
    pub async fn search(
        &self,
        entity_type: &str,
        tenant: &str,
        text: &str,
        mode: QueryMode,
        opts: &SearchOptions,
        fusion: Fusion,
    ) -> Result<SearchResult<SemanticHit>> {
        match mode {
            QueryMode::Vector => self.semantic_search(entity_type, tenant, text, opts).await,
            QueryMode::Text => {
                let model = self.model(entity_type)?;
                Ok(self.entities().text_search(&model, tenant, text, opts.limit).await?)
            }
            QueryMode::Hybrid => {
                fusion.check()?;
                let model = self.model(entity_type)?;
                let n = per_side(opts.limit);
                let wide = SearchOptions { limit: n, ..opts.clone() };
                let vector = self.semantic_search(entity_type, tenant, text, &wide).await?;
                // A query of stop words or punctuation has no words to match: the vector
                // side alone answers it.
                let words = if p8fs_sql_dialect::entity::text::words(text).is_empty() {
                    Vec::new()
                } else {
                    self.entities().text_search(&model, tenant, text, n).await?.hits
                };
                let hits = fuse(words, vector.hits, fusion, opts.limit);
                debug_assert!(hits.iter().all(|h| h.entity.get("id").is_some_and(Json::is_string)));
                Ok(SearchResult { hits, exact: vector.exact, candidates_examined: vector.candidates_examined })
            }
        }
    }
}
