//! The probe table: the smallest real round trip through an engine's JSON and vector
//! columns. `p8fs doctor` and the conformance suites use it to check that a server can
//! store what p8fs needs, from the server itself rather than from a version table.

use sea_query::{Alias, ColumnDef, Expr, ExprTrait, Query, Table};

use crate::{Dialect, Error, Result, Row, Statement};

/// Dimension of the probe table's vector column.
pub const PROBE_DIM: u32 = 3;

/// A probe table named `p8fs_probe_{suffix}`.
#[derive(Debug, Clone)]
pub struct ProbeTable {
    name: String,
}

/// One row read back from the probe table.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeRow {
    /// The row's id.
    pub id: String,
    /// The JSON document, decoded as JSON.
    pub doc: serde_json::Value,
    /// The vector.
    pub embedding: Vec<f32>,
}

impl ProbeTable {
    /// A probe table with a caller-chosen suffix, so concurrent runs do not collide.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] unless the suffix is 1 to 32 characters of
    /// `[a-z0-9_]`.
    pub fn new(suffix: &str) -> Result<Self> {
        let ok = !suffix.is_empty()
            && suffix.len() <= 32
            && suffix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(Error::invalid_input(format!(
                "probe table suffix {suffix:?} must be 1-32 characters of [a-z0-9_]"
            )));
        }
        Ok(Self { name: format!("p8fs_probe_{suffix}") })
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn table(&self) -> Alias {
        Alias::new(self.name.clone())
    }

    /// `CREATE TABLE IF NOT EXISTS` with an id, a JSON column and a vector column.
    pub fn create(&self, d: &dyn Dialect) -> Statement {
        let stmt = Table::create()
            .table(self.table())
            .if_not_exists()
            .col(ColumnDef::new(Alias::new("id")).string_len(64).not_null().primary_key())
            .col(ColumnDef::new_with_type(Alias::new("doc"), d.json_column()).not_null())
            .col(ColumnDef::new_with_type(Alias::new("embedding"), d.vector_column(PROBE_DIM)).not_null())
            .to_owned();
        d.build_schema(&stmt)
    }

    /// `DROP TABLE IF EXISTS`.
    pub fn drop(&self, d: &dyn Dialect) -> Statement {
        d.build_schema(&Table::drop().table(self.table()).if_exists().to_owned())
    }

    /// Inserts one row; every value is bound.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for a vector of the wrong dimension or with
    /// non-finite components.
    pub fn insert(&self, d: &dyn Dialect, id: &str, doc: &serde_json::Value, embedding: &[f32]) -> Result<Statement> {
        if embedding.len() != PROBE_DIM as usize {
            return Err(Error::invalid_input(format!(
                "probe vectors have {PROBE_DIM} dimensions, got {}",
                embedding.len()
            )));
        }
        let stmt = Query::insert()
            .into_table(self.table())
            .columns([Alias::new("id"), Alias::new("doc"), Alias::new("embedding")])
            .values([Expr::val(id), d.json_value(doc), d.vector_value(embedding)?])
            .map_err(|e| Error::invalid_input(e.to_string()))?
            .to_owned();
        Ok(d.build_query(&stmt))
    }

    /// Selects the row with `id` (id, doc, vector in the dialect's readable form).
    pub fn select(&self, d: &dyn Dialect, id: &str) -> Statement {
        let stmt = Query::select()
            .column(Alias::new("id"))
            .column(Alias::new("doc"))
            .expr(d.vector_select(Expr::col(Alias::new("embedding"))))
            .from(self.table())
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        d.build_query(&stmt)
    }

    /// Decodes a row returned by [`ProbeTable::select`].
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`] when the row does not have the probe's shape.
    pub fn decode(row: Row) -> Result<ProbeRow> {
        let [id, doc, embedding]: [crate::SqlValue; 3] =
            row.try_into().map_err(|r: Row| Error::decode(format!("probe row has {} columns, expected 3", r.len())))?;
        Ok(ProbeRow { id: id.into_text()?, doc: doc.into_json()?, embedding: embedding.into_vector()? })
    }
}
