//! Where a store's tables live.

use sea_query::{Alias, IntoTableRef, TableRef};

use crate::Dialect;
use crate::Result;
use crate::model::{Model, check_ident};

/// Default schema (PostgreSQL) or database (MySQL family) of embeddings tables, as in the
/// system p8fs replaces.
pub const EMBEDDINGS_SCHEMA: &str = "embeddings";

/// Schemas of entity and embeddings tables. SQLite has no schemas: everything lives in the
/// one database file, and embeddings tables are named `{table}_embeddings` there too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    schema: Option<String>,
    embeddings_schema: Option<String>,
}

impl Default for Layout {
    /// Entity tables in the connection's default schema, embeddings in `embeddings`.
    fn default() -> Self {
        Self { schema: None, embeddings_schema: Some(EMBEDDINGS_SCHEMA.to_owned()) }
    }
}

impl Layout {
    /// A layout with explicit schemas (`None`: the connection's default).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for names that are not identifiers.
    pub fn new(schema: Option<&str>, embeddings_schema: Option<&str>) -> Result<Self> {
        if let Some(s) = schema {
            check_ident("schema", s)?;
        }
        if let Some(s) = embeddings_schema {
            check_ident("embeddings schema", s)?;
        }
        Ok(Self { schema: schema.map(str::to_owned), embeddings_schema: embeddings_schema.map(str::to_owned) })
    }

    /// The entity schema, where the engine has schemas.
    pub fn schema(&self, d: &dyn Dialect) -> Option<&str> {
        if d.schemas() { self.schema.as_deref() } else { None }
    }

    /// The embeddings schema, where the engine has schemas.
    pub fn embeddings_schema(&self, d: &dyn Dialect) -> Option<&str> {
        if d.schemas() { self.embeddings_schema.as_deref() } else { None }
    }

    /// The (qualified) reference to a table in the entity schema.
    pub fn table(&self, d: &dyn Dialect, name: &str) -> TableRef {
        qualified(self.schema(d), name)
    }

    /// The (qualified) reference to a model's embeddings table.
    pub fn embeddings_table(&self, d: &dyn Dialect, model: &Model) -> TableRef {
        qualified(self.embeddings_schema(d), &model.embeddings_table())
    }
}

fn qualified(schema: Option<&str>, name: &str) -> TableRef {
    match schema {
        Some(s) => (Alias::new(s), Alias::new(name)).into_table_ref(),
        None => Alias::new(name).into_table_ref(),
    }
}
