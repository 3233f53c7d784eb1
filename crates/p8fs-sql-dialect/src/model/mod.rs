//! Models: what a table holds, described once for every dialect.
//!
//! A [`Model`] names a table, its fields and their types, the business key (unique per
//! tenant), the embedding fields, and whether rows are tenant-isolated. Every table also
//! has the system columns `id` (primary key, UUID text), `tenant_id`, `created_at` and
//! `updated_at`. Identifiers are validated when the model is built, so everything that
//! reaches SQL text from a model is a plain `[a-z_][a-z0-9_]*` name.

mod core;

use std::fmt;

pub use self::core::{DEFAULT_EMBEDDING, core_models, files, moments, resources, sessions, tenants, users};
use crate::{Error, Result};

/// The type of a model field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// Text of any length.
    Text,
    /// 64-bit integer.
    Int,
    /// 64-bit float.
    Float,
    /// Boolean.
    Bool,
    /// A point in time (stored in UTC, microsecond precision).
    Timestamp,
    /// A UUID, as text.
    Uuid,
    /// A JSON object.
    JsonObject,
    /// A JSON array.
    JsonArray,
    /// A list of strings (stored as a JSON array).
    TextArray,
}

impl FieldType {
    /// Whether values are JSON documents in the database.
    pub fn is_json(self) -> bool {
        matches!(self, FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray)
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Int => "int",
            FieldType::Float => "float",
            FieldType::Bool => "bool",
            FieldType::Timestamp => "timestamp",
            FieldType::Uuid => "uuid",
            FieldType::JsonObject => "json object",
            FieldType::JsonArray => "json array",
            FieldType::TextArray => "text array",
        }
    }
}

/// How a field is embedded for semantic search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmbeddingSpec {
    /// The embedding provider's name (e.g. `all-MiniLM-L6-v2`).
    pub provider: String,
    /// Vector dimension.
    pub dim: u32,
}

/// One field of a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// Column name.
    pub name: String,
    /// Type.
    pub ty: FieldType,
    /// Embedded for semantic search.
    pub embedding: Option<EmbeddingSpec>,
}

/// A table's description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    name: String,
    fields: Vec<Field>,
    key_field: Option<String>,
    tenant_isolated: bool,
    partition_by_tenant: Option<u32>,
}

/// Names the system columns every table has.
pub const SYSTEM_COLUMNS: [&str; 4] = ["id", "tenant_id", "created_at", "updated_at"];

/// Longest identifier (PostgreSQL's limit, minus room for suffixes such as `_embeddings`).
const MAX_IDENT: usize = 48;

/// Checks an identifier: `[a-z_][a-z0-9_]*`, at most 48 characters.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] naming what it is.
pub fn check_ident(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= MAX_IDENT
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_input(format!(
            "{what} {s:?} is not a valid identifier: use 1-{MAX_IDENT} characters of [a-z0-9_], not starting with a digit"
        )))
    }
}

/// The field that holds a model's graph edges: a JSON list of
/// `{dst, rel_type, weight, properties, created_at}`.
pub const EDGES_FIELD: &str = "graph_paths";

impl Model {
    /// Starts a model for table `name`.
    pub fn builder(name: impl Into<String>) -> ModelBuilder {
        ModelBuilder {
            model: Model {
                name: name.into(),
                fields: Vec::new(),
                key_field: None,
                tenant_isolated: true,
                partition_by_tenant: None,
            },
        }
    }

    /// The table name, which is also the entity type.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The model's own fields (system columns excluded).
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// A field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The business key, unique per tenant (e.g. `name`, `email`).
    pub fn key_field(&self) -> Option<&str> {
        self.key_field.as_deref()
    }

    /// Whether every operation is scoped by `tenant_id`.
    pub fn tenant_isolated(&self) -> bool {
        self.tenant_isolated
    }

    /// Number of hash partitions by tenant (TiDB `PARTITION BY KEY(tenant_id)`), when set.
    pub fn partition_by_tenant(&self) -> Option<u32> {
        self.partition_by_tenant
    }

    /// The fields that are embedded.
    pub fn embedding_fields(&self) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(|f| f.embedding.is_some())
    }

    /// The embedding spec shared by all embedded fields, if any are.
    pub fn embedding(&self) -> Option<&EmbeddingSpec> {
        self.embedding_fields().next().and_then(|f| f.embedding.as_ref())
    }

    /// The embeddings table's name: `{table}_embeddings`.
    pub fn embeddings_table(&self) -> String {
        format!("{}_embeddings", self.name)
    }

    /// A stable fingerprint of the schema, recorded as the applied version.
    pub fn fingerprint(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |s: &str| {
            for b in s.bytes().chain([0xff]) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(&self.name);
        for f in &self.fields {
            feed(&f.name);
            feed(f.ty.name());
            if let Some(e) = &f.embedding {
                feed(&e.provider);
                feed(&e.dim.to_string());
            }
        }
        feed(self.key_field.as_deref().unwrap_or(""));
        feed(if self.tenant_isolated { "tenant" } else { "global" });
        format!("{h:016x}")
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Builds a [`Model`], validating it once at the end.
#[derive(Debug, Clone)]
pub struct ModelBuilder {
    model: Model,
}

impl ModelBuilder {
    /// Adds a field.
    pub fn field(mut self, name: impl Into<String>, ty: FieldType) -> Self {
        self.model.fields.push(Field { name: name.into(), ty, embedding: None });
        self
    }

    /// Adds a text field that is embedded with `provider` vectors of `dim` dimensions.
    pub fn embedded(mut self, name: impl Into<String>, provider: impl Into<String>, dim: u32) -> Self {
        self.model.fields.push(Field {
            name: name.into(),
            ty: FieldType::Text,
            embedding: Some(EmbeddingSpec { provider: provider.into(), dim }),
        });
        self
    }

    /// Sets the business key: an existing text field, unique per tenant.
    pub fn key(mut self, field: impl Into<String>) -> Self {
        self.model.key_field = Some(field.into());
        self
    }

    /// Rows shared by all tenants (no `tenant_id` filter). Isolation is on by default.
    pub fn global(mut self) -> Self {
        self.model.tenant_isolated = false;
        self
    }

    /// Hash-partitions the table by tenant into `n` partitions (TiDB). The primary key
    /// then becomes `(id, tenant_id)`, so that every unique key contains the partition
    /// column, as TiDB requires.
    pub fn partition_by_tenant(mut self, n: u32) -> Self {
        self.model.partition_by_tenant = Some(n);
        self
    }

    /// Validates and returns the model.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for bad identifiers, duplicate or reserved
    /// names, a key that is not a text field, embedding fields with different dimensions,
    /// dimensions outside 1..=16000, or partitioning without tenant isolation.
    pub fn build(self) -> Result<Model> {
        let m = self.model;
        check_ident("model name", &m.name)?;
        let mut seen = std::collections::HashSet::new();
        for f in &m.fields {
            check_ident(&format!("field of {}", m.name), &f.name)?;
            if SYSTEM_COLUMNS.contains(&f.name.as_str()) {
                return Err(Error::invalid_input(format!(
                    "{}.{} is a system column and cannot be declared",
                    m.name, f.name
                )));
            }
            if !seen.insert(f.name.as_str()) {
                return Err(Error::invalid_input(format!("{}.{} is declared twice", m.name, f.name)));
            }
            if let Some(e) = &f.embedding
                && (e.dim == 0 || e.dim > 16_000)
            {
                return Err(Error::invalid_input(format!(
                    "{}.{}: embedding dimension {} is outside 1..=16000",
                    m.name, f.name, e.dim
                )));
            }
        }
        if let Some(k) = &m.key_field {
            match m.field(k) {
                Some(f) if f.ty == FieldType::Text => {}
                Some(f) => {
                    return Err(Error::invalid_input(format!(
                        "{}: key field {k} must be text, not {}",
                        m.name,
                        f.ty.name()
                    )));
                }
                None => return Err(Error::invalid_input(format!("{}: key field {k} is not a field", m.name))),
            }
        }
        {
            let mut specs = m.embedding_fields().filter_map(|f| f.embedding.as_ref());
            if let Some(first) = specs.next()
                && let Some(other) = specs.find(|s| *s != first)
            {
                return Err(Error::invalid_input(format!(
                    "{}: all embedded fields share one embeddings table and must use one provider and dimension ({} {} vs {} {})",
                    m.name, first.provider, first.dim, other.provider, other.dim
                )));
            }
        }
        if m.partition_by_tenant.is_some() && !m.tenant_isolated {
            return Err(Error::invalid_input(format!("{}: partitioning by tenant needs tenant isolation", m.name)));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_validate_their_identifiers_and_keys() {
        assert!(Model::builder("resources").field("name", FieldType::Text).key("name").build().is_ok());
        for bad in ["", "Resources", "1x", "a-b", "a;drop", "x y", &"a".repeat(49)] {
            assert!(Model::builder(bad).build().is_err(), "{bad:?}");
        }
        assert!(Model::builder("t").field("id", FieldType::Text).build().is_err(), "system column");
        assert!(Model::builder("t").field("a", FieldType::Text).field("a", FieldType::Int).build().is_err());
        assert!(Model::builder("t").field("n", FieldType::Int).key("n").build().is_err(), "non-text key");
        assert!(Model::builder("t").key("missing").build().is_err());
        assert!(Model::builder("t").embedded("a", "p", 3).embedded("b", "p", 4).build().is_err(), "two dims");
        assert!(Model::builder("t").embedded("a", "p", 0).build().is_err());
        assert!(Model::builder("t").global().partition_by_tenant(4).build().is_err());
    }

    #[test]
    fn fingerprints_change_with_the_schema() {
        let a = Model::builder("t").field("a", FieldType::Text).build().unwrap();
        let b = Model::builder("t").field("a", FieldType::Text).field("b", FieldType::Int).build().unwrap();
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
    }
}
