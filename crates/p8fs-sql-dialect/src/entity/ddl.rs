//! DDL of a model, for every dialect: idempotent creation, added columns, the schema
//! version table.

use sea_query::{Alias, ColumnDef, ColumnType, Index, StringLen, Table};

use super::Layout;
use crate::model::{Field, FieldType, Model};
use crate::{Dialect, Statement};

/// The table that records the applied schema of each model.
pub const VERSIONS_TABLE: &str = "p8fs_schema_versions";

/// Width of id columns (UUIDs as text, with room for the seed's longer ids).
const ID_LEN: u32 = 64;
/// Width of tenant ids (the platform's are ~45 characters).
const TENANT_LEN: u32 = 255;
/// Width of business-key columns (they carry a unique index).
const KEY_LEN: u32 = 255;

/// The column type of a model field.
pub fn field_type(d: &dyn Dialect, model: &Model, field: &Field) -> ColumnType {
    if model.key_field() == Some(field.name.as_str()) {
        return ColumnType::String(StringLen::N(KEY_LEN));
    }
    match field.ty {
        FieldType::Text => d.text_column(),
        FieldType::Int => ColumnType::BigInteger,
        FieldType::Float => ColumnType::Double,
        FieldType::Bool => ColumnType::Boolean,
        FieldType::Timestamp => d.timestamp_column(),
        FieldType::Uuid => ColumnType::String(StringLen::N(ID_LEN)),
        FieldType::JsonObject | FieldType::JsonArray | FieldType::TextArray => d.json_column(),
    }
}

fn col(name: &str, ty: ColumnType) -> ColumnDef {
    ColumnDef::new_with_type(Alias::new(name), ty)
}

/// Every statement that creates a model's tables, in order; running them again changes
/// nothing. (PostgreSQL's merge-patch function is created by the store, which checks for
/// it first: `CREATE OR REPLACE FUNCTION` is not safe to run concurrently.)
pub fn create_model(d: &dyn Dialect, model: &Model, layout: &Layout) -> Vec<Statement> {
    let mut out = Vec::new();
    if model.embedding().is_some() {
        out.extend(d.vector_prelude());
    }
    for s in [layout.schema(d), layout.embeddings_schema(d)].into_iter().flatten() {
        if let Some(stmt) = d.create_schema(s)
            && !out.contains(&stmt)
        {
            out.push(stmt);
        }
    }
    out.extend(create_versions_table(d, layout));
    out.extend(create_entity_table(d, model, layout));
    if model.embedding().is_some() {
        out.extend(create_embeddings_table(d, model, layout));
    }
    out
}

/// The whole schema of `models` as a script: every statement once, in order, then the
/// helper functions the statements call. Runs unchanged on a fresh database of the
/// dialect, and again without changing anything (what `p8fs schema` prints).
pub fn schema_script(d: &dyn Dialect, models: &[Model], layout: &Layout) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    for m in models {
        for stmt in create_model(d, m, layout) {
            if !out.contains(&stmt) {
                out.push(stmt);
            }
        }
    }
    out.extend(d.helper_functions(layout.schema(d)).into_iter().map(|f| f.create));
    out
}

/// The schema version table.
pub fn create_versions_table(d: &dyn Dialect, layout: &Layout) -> Vec<Statement> {
    let mut t = Table::create();
    t.table(layout.table(d, VERSIONS_TABLE))
        .if_not_exists()
        .col(col("model", ColumnType::String(StringLen::N(128))).not_null().primary_key())
        .col(col("fingerprint", ColumnType::String(StringLen::N(32))).not_null())
        .col(col("version", ColumnType::BigInteger).not_null())
        .col(col("applied_at", d.timestamp_column()).not_null());
    d.table_options(&mut t);
    vec![d.build_schema(&t)]
}

/// The primary key of a model's entity table: `(tenant_id, id)` for tenant-isolated
/// models, so ids are unique per tenant (no tenant can take, or learn of, an id of
/// another; on TiDB it also holds the partition column, as every unique key must), and
/// `id` for global models.
pub fn primary_key(model: &Model) -> &'static [&'static str] {
    if model.tenant_isolated() { &["tenant_id", "id"] } else { &["id"] }
}

/// The entity table with its indexes.
pub fn create_entity_table(d: &dyn Dialect, model: &Model, layout: &Layout) -> Vec<Statement> {
    let name = model.name();
    let mut t = Table::create();
    t.table(layout.table(d, name)).if_not_exists();
    t.col(col("id", ColumnType::String(StringLen::N(ID_LEN))).not_null());
    let mut tenant = col("tenant_id", ColumnType::String(StringLen::N(TENANT_LEN)));
    if model.tenant_isolated() {
        tenant.not_null();
    }
    t.col(tenant);
    for f in model.fields() {
        let mut c = col(&f.name, field_type(d, model, f));
        if model.key_field() == Some(f.name.as_str()) {
            c.not_null();
        }
        t.col(c);
    }
    t.col(col("created_at", d.timestamp_column()).not_null());
    t.col(col("updated_at", d.timestamp_column()).not_null());
    let mut pk = Index::create();
    for c in primary_key(model) {
        pk.col(Alias::new(*c));
    }
    t.primary_key(&mut pk);
    d.table_options(&mut t);
    if let Some(n) = model.partition_by_tenant() {
        d.partition_by_key(&mut t, "tenant_id", n);
    }
    let mut indexes = Vec::new();
    if model.tenant_isolated() {
        indexes.push(
            Index::create()
                .name(format!("{name}_tenant_idx"))
                .table(Alias::new(name))
                .col(Alias::new("tenant_id"))
                .to_owned(),
        );
    }
    if let Some(k) = model.key_field() {
        let mut i = Index::create();
        i.name(format!("{name}_key_uq")).table(Alias::new(name)).unique();
        if model.tenant_isolated() {
            i.col(Alias::new("tenant_id"));
        }
        i.col(Alias::new(k));
        indexes.push(i);
    }
    let json: Vec<&str> = model.fields().iter().filter(|f| f.ty.is_json()).map(|f| f.name.as_str()).collect();
    indexes.extend(d.json_indexes(name, &json));
    // Index names live in the table's schema; name them against the qualified table.
    let indexes: Vec<_> = indexes.into_iter().map(|mut i| i.table(layout.table(d, name)).to_owned()).collect();
    d.create_table_with_indexes(&t, &indexes)
}

/// The columns of an embeddings table, in order.
pub const EMBEDDING_COLUMNS: [&str; 9] = [
    "id",
    "entity_id",
    "field_name",
    "embedding_provider",
    "embedding_vector",
    "vector_dimension",
    "tenant_id",
    "created_at",
    "updated_at",
];

/// The embeddings table of a model (layout of the system p8fs replaces).
pub fn create_embeddings_table(d: &dyn Dialect, model: &Model, layout: &Layout) -> Vec<Statement> {
    let dim = model.embedding().map_or(0, |e| e.dim);
    let name = model.embeddings_table();
    let mut t = Table::create();
    t.table(layout.embeddings_table(d, model))
        .if_not_exists()
        // A UUID (36 characters): MariaDB's vector indexes need a primary key of at most
        // 256 bytes, which VARCHAR(64) in utf8mb4 exceeds.
        .col(col("id", ColumnType::String(StringLen::N(36))).not_null().primary_key())
        .col(col("entity_id", ColumnType::String(StringLen::N(ID_LEN))).not_null())
        .col(col("field_name", ColumnType::String(StringLen::N(128))).not_null())
        .col(col("embedding_provider", ColumnType::String(StringLen::N(128))).not_null())
        .col(col("embedding_vector", d.vector_column(dim)).not_null())
        .col(col("vector_dimension", ColumnType::Integer).not_null())
        .col(col("tenant_id", ColumnType::String(StringLen::N(TENANT_LEN))))
        .col(col("created_at", d.timestamp_column()).not_null())
        .col(col("updated_at", d.timestamp_column()).not_null());
    d.table_options(&mut t);
    let table = layout.embeddings_table(d, model);
    let indexes = vec![
        Index::create()
            .name(format!("{name}_uq"))
            .table(table.clone())
            .unique()
            .col(Alias::new("tenant_id"))
            .col(Alias::new("entity_id"))
            .col(Alias::new("field_name"))
            .to_owned(),
        Index::create().name(format!("{name}_entity_idx")).table(table).col(Alias::new("entity_id")).to_owned(),
    ];
    d.create_table_with_indexes(&t, &indexes)
}

/// `ALTER TABLE ... ADD COLUMN` for a field added to a model.
pub fn add_column(d: &dyn Dialect, model: &Model, layout: &Layout, field: &Field) -> Statement {
    let stmt = Table::alter()
        .table(layout.table(d, model.name()))
        .add_column(col(&field.name, field_type(d, model, field)))
        .to_owned();
    d.build_schema(&stmt)
}
