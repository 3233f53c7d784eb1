//! `FUZZY`: entities whose name is close to a text, ranked the same way on every engine
//! (see `p8fs_sql_dialect::entity::fuzzy`).

use p8fs_sql_dialect::entity::codec::decode_rows;
use p8fs_sql_dialect::entity::fuzzy::{self, trigram_similarity};
use p8fs_sql_dialect::model::Model;
use p8fs_sql_dialect::{Result, Statement};
use serde_json::{Map, Value as Json};

use crate::EntityStore;
use crate::store::scoped;

/// The least similarity a name needs to be a fuzzy match (unless it contains the text).
pub const MIN_SIMILARITY: f64 = 0.1;

/// One entity whose name is close to the text.
#[derive(Debug, Clone, PartialEq)]
pub struct FuzzyHit {
    /// The entity.
    pub entity: Map<String, Json>,
    /// Its name.
    pub name: String,
    /// Trigram similarity of its name and the text, 0..1 (1 for the same words).
    pub score: f64,
}

impl EntityStore {
    /// Whether the engine's trigram extension is installed (asked once per store).
    async fn trigram_ready(&self) -> Result<bool> {
        if let Some(v) = self.trigram.get() {
            return Ok(*v);
        }
        let ready = match self.db.dialect().trigram_extension() {
            Some(ext) => !self.db.query(&ext.exists).await?.is_empty(),
            None => false,
        };
        let _ = self.trigram.set(ready);
        Ok(ready)
    }

    /// Installs the engine's trigram extension if it can (a refusal is logged: names are
    /// then matched without its index) and indexes the model's names with it.
    pub(crate) async fn ensure_trigram_index(&self, model: &Model) -> Result<()> {
        let d = self.db.dialect();
        let (Some(ext), Some(k)) = (d.trigram_extension(), model.key_field()) else { return Ok(()) };
        if self.db.query(&ext.exists).await?.is_empty()
            && let Err(e) = self.db.execute(&ext.create).await
        {
            tracing::warn!(error = %e, "the trigram extension cannot be installed: FUZZY reads names without its index");
            return Ok(());
        }
        let table = d.qualified(self.layout.schema(d), model.name());
        if let Some(stmt) = d.trigram_index(&table, &format!("{}_{k}_trgm", model.name()), k) {
            self.db.execute(&stmt).await?;
        }
        let _ = self.trigram.set(true);
        Ok(())
    }

    /// The tenant's entities whose name (key field) is close to `text`, best first: those
    /// sharing a trigram with it (at most
    /// [`MAX_FUZZY_CANDIDATES`](p8fs_sql_dialect::entity::fuzzy::MAX_FUZZY_CANDIDATES)
    /// read), scored by trigram similarity, kept when the score is at least
    /// [`MIN_SIMILARITY`] or the name contains the text, ties by name.
    ///
    /// # Errors
    /// An empty text or one without letters or digits, a model without a key field, a
    /// missing table; the engine's errors.
    pub async fn fuzzy(&self, model: &Model, tenant: &str, text: &str, limit: usize) -> Result<Vec<FuzzyHit>> {
        scoped(model, tenant)?;
        self.require_table(model).await?;
        let engine = self.trigram_ready().await?;
        let stmt: Statement = fuzzy::candidates(self.db.dialect(), model, &self.layout, tenant, text, engine)?;
        let key = model.key_field().unwrap_or("id");
        let wanted = text.trim().to_lowercase();
        let mut hits: Vec<FuzzyHit> = decode_rows(model, self.db.query(&stmt).await?)?
            .into_iter()
            .filter_map(|entity| {
                let name = entity.get(key).and_then(Json::as_str)?.to_owned();
                let score = trigram_similarity(&name, text);
                (score >= MIN_SIMILARITY || name.to_lowercase().contains(&wanted)).then_some(FuzzyHit {
                    entity,
                    name,
                    score,
                })
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.name.cmp(&b.name)));
        hits.truncate(limit);
        Ok(hits)
    }
}
