//! REM (Resource-Entity-Moment) queries: `LOOKUP`, `GET`, `SEARCH`, `FUZZY`, `SELECT`,
//! `TRAVERSE`, and edges. The grammar is `p8fs-rem`'s; this module runs a parsed query on
//! the entity store, the reverse map and the embedder, always in one tenant.

mod answer;

pub use answer::{EdgeSummary, RemAnswer, RemHit, Stage, Traversal, TraversedEdge};
use p8fs_entity::{Edge, EdgeChange};

use crate::{Error, P8fs, Result};

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
