//! Entity statements: upsert, select, get, delete, schema versions. Pure builders; the
//! store runs them.

use chrono::{DateTime, Utc};
use sea_query::{Alias, Expr, ExprTrait, OnConflict, Query, SelectStatement};
use serde_json::{Map, Value as Json};

use super::Layout;
use super::codec::{bind_field, select_columns};
use super::ddl::VERSIONS_TABLE;
use super::filter::EntityQuery;
use crate::model::{FieldType, Model};
use crate::{Dialect, Error, ErrorKind, Result, Statement};

fn a(s: &str) -> Alias {
    Alias::new(s)
}

/// One row to upsert: its id and the fields given (a subset of the model's).
#[derive(Debug, Clone)]
pub struct UpsertRow<'a> {
    /// The id.
    pub id: String,
    /// The fields, by name.
    pub fields: &'a Map<String, Json>,
}

/// The fields named in `row`, in model order, checked against the model.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] for an unknown field or a system column other than
/// `id`.
pub fn fields_of<'m>(model: &'m Model, row: &Map<String, Json>) -> Result<Vec<&'m crate::model::Field>> {
    for k in row.keys() {
        if k == "id" {
            continue;
        }
        if crate::model::SYSTEM_COLUMNS.contains(&k.as_str()) {
            return Err(Error::invalid_input(format!("{model}: {k} is set by p8fs and cannot be written")));
        }
        if model.field(k).is_none() {
            return Err(Error::invalid_input(format!("{model} has no field {k:?}")));
        }
    }
    Ok(model.fields().iter().filter(|f| row.contains_key(&f.name)).collect())
}

/// Whether two entities name the same fields (`id` aside).
pub fn same_fields(a: &Map<String, Json>, b: &Map<String, Json>) -> bool {
    fn named(m: &Map<String, Json>) -> impl Iterator<Item = &String> {
        m.keys().filter(|k| *k != "id")
    }
    // Equal names in the same order (always so with serde_json's sorted map) need no lookup;
    // a map that keeps insertion order may name the same fields in another order.
    let mut x = named(a);
    let mut y = named(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q => {}
            _ => break,
        }
    }
    named(a).count() == named(b).count() && named(a).all(|k| b.contains_key(k))
}

/// An id given in an entity's data: a non-empty string of at most 64 characters without
/// control characters.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] showing the value.
pub fn given_id(model: &Model, v: &Json) -> Result<String> {
    match v {
        Json::String(s) if !s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control) => Ok(s.clone()),
        other => Err(Error::invalid_input(format!(
            "{model}: id must be a non-empty string of at most 64 characters, got {other}"
        ))),
    }
}

/// An entity's business key: its key field, a non-empty string without leading or
/// trailing whitespace (`"budget "` would be another key on one engine and the same key
/// on another).
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] naming the field.
pub fn key_of<'e>(model: &Model, key_field: &str, entity: &'e Map<String, Json>) -> Result<&'e str> {
    let k = entity.get(key_field).and_then(Json::as_str).ok_or_else(|| {
        Error::invalid_input(format!("{model}: every entity needs its key field {key_field} as a string"))
    })?;
    if k.is_empty() || k.trim() != k {
        return Err(Error::invalid_input(format!(
            "{model}: {key_field} {:?} must be non-empty, without leading or trailing whitespace",
            k.chars().take(64).collect::<String>()
        )));
    }
    Ok(k)
}

/// `(id, key, tenant_id)` of a row returned by an upsert's `RETURNING` or by
/// [`ids_by_keys`] (which returns no tenant).
///
/// # Errors
/// [`crate::ErrorKind::Decode`] for a row of another shape.
pub fn stored_id(row: crate::Row) -> Result<(String, String, Option<String>)> {
    let mut it = row.into_iter();
    let mut next = || it.next().ok_or_else(|| Error::decode("missing column")).and_then(crate::SqlValue::into_text);
    let id = next()?;
    let key = next()?;
    let tenant = next().ok();
    Ok((id, key, tenant))
}

/// [`stored_id`], borrowed from the row.
///
/// # Errors
/// As [`stored_id`].
pub fn stored_id_ref(row: &crate::Row) -> Result<(&str, &str, Option<&str>)> {
    let text = |i: usize| row.get(i).ok_or_else(|| Error::decode("missing column")).and_then(crate::SqlValue::as_text);
    Ok((text(0)?, text(1)?, text(2).ok()))
}

/// The error of an upsert whose row was refused because its id names another entity of
/// the same table and tenant (ids are unique per tenant; nothing about other tenants can
/// show here, since their rows never conflict).
pub fn id_taken(model: &Model, key: &str, id: &str) -> Error {
    Error::new(
        ErrorKind::UniqueViolation,
        format!(
            "{model} {:?}: its id {id} is already used by another {model} entity; nothing was written",
            key.chars().take(64).collect::<String>()
        ),
    )
}

/// A multi-row upsert. All rows must name the same fields (the store groups them).
/// `created_at` is set on insert only; JSON object fields merge (RFC 7396); other fields
/// are replaced; fields not named are left as they are.
///
/// # Errors
/// Values of the wrong type, unknown fields, rows naming different fields.
pub fn upsert(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    rows: &[UpsertRow<'_>],
    now: DateTime<Utc>,
) -> Result<Statement> {
    upsert_with(d, model, layout, tenant, rows, now, Form::Plain)
}

/// [`upsert`] that also returns each written or matched row's `id`, key field and
/// `tenant_id` (`RETURNING`), for engines that return rows from an upsert
/// ([`Dialect::upsert_returning`]): the ids as stored, without a second query. On MariaDB a
/// conflict on the primary key with a row of another key leaves that row as it was (the
/// guard) and still returns it: callers check the keys.
///
/// # Errors
/// As [`upsert`]; a model without a key field; [`ErrorKind::Unsupported`] for dialects
/// without `RETURNING` (TiDB).
pub fn upsert_returning(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    rows: &[UpsertRow<'_>],
    now: DateTime<Utc>,
) -> Result<Statement> {
    upsert_with(d, model, layout, tenant, rows, now, Form::Returning)
}

/// [`upsert`] of one row whose update clause changes the row it meets only when that row
/// has this row's id as well as its tenant and key, for the MySQL family on servers whose
/// upserts return no rows (TiDB). Such an upsert's count then names the id as stored
/// without a second query: with `CLIENT_FOUND_ROWS` (p8fs's MySQL-protocol sessions), 2
/// means the row with this id and key was updated (so this id is the stored one); 1 means
/// it was inserted or that the row met was left as it was (an equal write, or a row of
/// another id or key), which only a read of the stored id tells apart.
///
/// (Reporting the refusal in the OK packet's insert id, with `LAST_INSERT_ID(x)` in the
/// update clause, would tell an insert apart too, and works on TiDB and MariaDB; but TiDB's
/// plan cache refuses statements that call it, and TiDB's single-row upserts measured no
/// faster with it: the plan costs what the read saves.)
///
/// # Errors
/// As [`upsert`]; a model without a key field; more than one row;
/// [`ErrorKind::Unsupported`] outside the MySQL family (other engines' upserts have no
/// guard in their update clause and match the key alone).
pub fn upsert_id_guarded(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    row: &UpsertRow<'_>,
    now: DateTime<Utc>,
) -> Result<Statement> {
    upsert_with(d, model, layout, tenant, std::slice::from_ref(row), now, Form::IdGuarded)
}

/// What an upsert's text gives back or guards besides its writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Form {
    /// The count of rows written.
    Plain,
    /// `RETURNING` the id, key and tenant of each row written or matched.
    Returning,
    /// One row, updating only a row of its id, key and tenant ([`upsert_id_guarded`]).
    IdGuarded,
}

impl Form {
    fn of(returning: bool) -> Self {
        if returning { Form::Returning } else { Form::Plain }
    }
}

fn upsert_with(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    rows: &[UpsertRow<'_>],
    now: DateTime<Utc>,
    form: Form,
) -> Result<Statement> {
    let (fields, values) = checked_rows(d, model, tenant, rows, now)?;
    render(d, model, layout, &fields, values, rows.len(), form)
}

/// The fields `rows` name (checked against the model, the key field required) and the
/// values they bind, in the order [`render`] places them.
fn checked_rows<'m>(
    d: &dyn Dialect,
    model: &'m Model,
    tenant: &str,
    rows: &[UpsertRow<'_>],
    now: DateTime<Utc>,
) -> Result<(Vec<&'m crate::model::Field>, Vec<sea_query::Value>)> {
    let first =
        rows.first().ok_or_else(|| Error::invalid_input(format!("{model}: an upsert needs at least one entity")))?;
    let fields = fields_of(model, first.fields)?;
    if let Some(k) = model.key_field()
        && !fields.iter().any(|f| f.name == k)
    {
        return Err(Error::invalid_input(format!("{model}: every entity needs its key field {k}")));
    }
    let values = row_values(d, model, tenant, &fields, rows, now)?;
    Ok((fields, values))
}

/// Values an upsert binds per row naming `fields`: the id, the tenant, the fields, then
/// `created_at` and `updated_at` ([`row_values`]).
fn row_width(fields: &[&crate::model::Field]) -> usize {
    fields.len() + 4
}

/// The upsert of `fields` binding `values` (one row per [`row_width`] values, as
/// [`row_values`] gives them).
fn render(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    fields: &[&crate::model::Field],
    values: Vec<sea_query::Value>,
    rows: usize,
    form: Form,
) -> Result<Statement> {
    if form == Form::IdGuarded {
        if rows != 1 {
            return Err(Error::invalid_input(format!("{model}: an id-guarded upsert writes one row, not {rows}")));
        }
        if model.key_field().is_none() {
            return Err(Error::invalid_input(format!("{model}: an id-guarded upsert needs a key field")));
        }
        if !d.upsert_meets_any_unique_key() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("{}: id-guarded upserts are for the MySQL family", d.kind()),
            ));
        }
    }
    let mut cols = vec![a("id"), a("tenant_id")];
    cols.extend(fields.iter().map(|f| a(&f.name)));
    cols.extend([a("created_at"), a("updated_at")]);
    let mut q = Query::insert();
    q.into_table(layout.table(d, model.name())).columns(cols);
    let per_row = row_width(fields);
    let mut values = values.into_iter().peekable();
    while values.peek().is_some() {
        q.values(values.by_ref().take(per_row).map(Expr::val)).map_err(|e| Error::invalid_input(e.to_string()))?;
    }
    // The row an entity names: its tenant and business key (its id for models without
    // one). Primary keys hold the tenant too, so no conflict can reach another tenant's row.
    let mut target = Vec::new();
    if model.tenant_isolated() {
        target.push("tenant_id");
    }
    target.push(model.key_field().unwrap_or("id"));
    let mut oc = OnConflict::columns(target.iter().map(|c| a(c)));
    // The row an update may change: the one the entity names, and for an id-guarded
    // upsert also the one of its id.
    let mut identity = target.clone();
    if form == Form::IdGuarded {
        identity.push("id");
    }
    let schema = layout.schema(d);
    for f in fields {
        if model.key_field() == Some(f.name.as_str()) {
            continue;
        }
        let new = if f.ty == FieldType::JsonObject {
            // Qualified: inside the update clause PostgreSQL would not know whether a bare
            // name means the table's column or EXCLUDED's.
            d.merge_patch(Expr::col((a(model.name()), a(&f.name))), d.excluded(&f.name), schema)
        } else {
            d.excluded(&f.name)
        };
        oc.value(a(&f.name), d.guard_conflict(new, &f.name, &identity));
    }
    oc.value(a("updated_at"), d.guard_conflict(d.excluded("updated_at"), "updated_at", &identity));
    q.on_conflict(oc);
    if form != Form::Returning {
        return Ok(d.build_query(&q));
    }
    let k = model
        .key_field()
        .ok_or_else(|| Error::invalid_input(format!("{model}: RETURNING the key needs a key field")))?;
    if !d.upsert_returning() {
        return Err(Error::new(ErrorKind::Unsupported, format!("{} returns no rows from an upsert", d.kind())));
    }
    let returned = ["id", k, "tenant_id"];
    Ok(d.build_returning(&mut q, &returned))
}

/// Upsert texts rendered once per shape: the table, the fields named (with their types),
/// the row count and `RETURNING`. A statement of a known shape is the cached text and the
/// rows' values bound in order, without building it again (building a 200-row upsert with
/// sea-query took ~2 ms of client CPU per 1,000 rows; binding takes a fraction of that).
///
/// Bounded: past [`UpsertTexts::CAPACITY`] shapes the cache starts over. Shared by clones
/// of a store; safe to use from many tasks.
#[derive(Debug, Default)]
pub struct UpsertTexts {
    texts: std::sync::RwLock<hashbrown::HashMap<UpsertShape, std::sync::Arc<Rendered>>>,
}

/// What an upsert's text depends on. Looked up by its borrowed form ([`ShapeRef`]), so
/// a cached text is found without building this key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UpsertShape {
    dialect: crate::DialectKind,
    schema: Option<String>,
    table: String,
    key_field: Option<String>,
    tenant_isolated: bool,
    fields: Vec<(String, FieldType)>,
    rows: usize,
    form: Form,
}

/// An [`UpsertShape`] borrowed from the model, the layout and the fields named: hashes
/// as the shape it equals.
#[derive(Debug, Clone, Copy)]
struct ShapeRef<'a> {
    dialect: crate::DialectKind,
    schema: Option<&'a str>,
    table: &'a str,
    key_field: Option<&'a str>,
    tenant_isolated: bool,
    fields: &'a [&'a crate::model::Field],
    rows: usize,
    form: Form,
}

/// The one hash of a shape, owned or borrowed (the two must agree for lookups to work).
#[allow(clippy::too_many_arguments)]
fn hash_shape<'f, H: std::hash::Hasher>(
    h: &mut H,
    dialect: crate::DialectKind,
    schema: Option<&str>,
    table: &str,
    key_field: Option<&str>,
    tenant_isolated: bool,
    fields: impl ExactSizeIterator<Item = (&'f str, FieldType)>,
    rows: usize,
    form: Form,
) {
    use std::hash::Hash;
    dialect.hash(h);
    schema.hash(h);
    table.hash(h);
    key_field.hash(h);
    tenant_isolated.hash(h);
    h.write_usize(fields.len());
    for (name, ty) in fields {
        name.hash(h);
        ty.hash(h);
    }
    rows.hash(h);
    form.hash(h);
}

impl std::hash::Hash for UpsertShape {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let fields = self.fields.iter().map(|(n, t)| (n.as_str(), *t));
        hash_shape(
            h,
            self.dialect,
            self.schema.as_deref(),
            &self.table,
            self.key_field.as_deref(),
            self.tenant_isolated,
            fields,
            self.rows,
            self.form,
        );
    }
}

impl std::hash::Hash for ShapeRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let fields = self.fields.iter().map(|f| (f.name.as_str(), f.ty));
        hash_shape(
            h,
            self.dialect,
            self.schema,
            self.table,
            self.key_field,
            self.tenant_isolated,
            fields,
            self.rows,
            self.form,
        );
    }
}

impl hashbrown::Equivalent<UpsertShape> for ShapeRef<'_> {
    fn equivalent(&self, k: &UpsertShape) -> bool {
        self.dialect == k.dialect
            && self.schema == k.schema.as_deref()
            && self.table == k.table
            && self.key_field == k.key_field.as_deref()
            && self.tenant_isolated == k.tenant_isolated
            && self.rows == k.rows
            && self.form == k.form
            && self.fields.len() == k.fields.len()
            && self.fields.iter().zip(&k.fields).all(|(f, (n, t))| f.name == *n && f.ty == *t)
    }
}

impl ShapeRef<'_> {
    /// The owned key this shape is cached under.
    fn owned_key(self) -> UpsertShape {
        UpsertShape {
            dialect: self.dialect,
            schema: self.schema.map(str::to_owned),
            table: self.table.to_owned(),
            key_field: self.key_field.map(str::to_owned),
            tenant_isolated: self.tenant_isolated,
            fields: self.fields.iter().map(|f| (f.name.clone(), f.ty)).collect(),
            rows: self.rows,
            form: self.form,
        }
    }
}

#[derive(Debug)]
struct Rendered {
    sql: String,
    /// Values bound after the rows' (constants of the update clause, such as the `'{}'`
    /// a JSON merge starts from on the MySQL family and SQLite).
    tail: Vec<sea_query::Value>,
}

impl UpsertTexts {
    /// Shapes kept before the cache starts over: at most [`UpsertTexts::CAPACITY`] texts
    /// of up to a few tens of KB.
    pub const CAPACITY: usize = 256;

    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Shapes cached now.
    pub fn len(&self) -> usize {
        self.texts.read().map_or(0, |m| m.len())
    }

    /// Whether no shape is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`upsert`] (or [`upsert_returning`] when `returning`) from the cached text of its
    /// shape, rendering and caching it on first use. The statement is the same, text and
    /// values, as the uncached builders give.
    ///
    /// # Errors
    /// As [`upsert`] and [`upsert_returning`].
    #[allow(clippy::too_many_arguments)]
    pub fn upsert(
        &self,
        d: &dyn Dialect,
        model: &Model,
        layout: &Layout,
        tenant: &str,
        rows: &[UpsertRow<'_>],
        now: DateTime<Utc>,
        returning: bool,
    ) -> Result<Statement> {
        self.statement(d, model, layout, tenant, rows, now, Form::of(returning))
    }

    /// [`upsert_id_guarded`] from the cached text of its shape.
    ///
    /// # Errors
    /// As [`upsert_id_guarded`].
    pub fn upsert_id_guarded(
        &self,
        d: &dyn Dialect,
        model: &Model,
        layout: &Layout,
        tenant: &str,
        row: &UpsertRow<'_>,
        now: DateTime<Utc>,
    ) -> Result<Statement> {
        self.statement(d, model, layout, tenant, std::slice::from_ref(row), now, Form::IdGuarded)
    }

    /// One statement of `form` for `rows`: the cached text of its shape and the rows' values.
    #[allow(clippy::too_many_arguments)]
    fn statement(
        &self,
        d: &dyn Dialect,
        model: &Model,
        layout: &Layout,
        tenant: &str,
        rows: &[UpsertRow<'_>],
        now: DateTime<Utc>,
        form: Form,
    ) -> Result<Statement> {
        let (fields, mut values) = checked_rows(d, model, tenant, rows, now)?;
        let text = self.text(d, model, layout, &fields, &values, rows.len(), form)?;
        values.extend(text.tail.iter().cloned());
        Ok(Statement { sql: text.sql.clone(), values })
    }

    /// One single-row upsert per row, all of one cached text (for engines that step a
    /// prepared statement per row: [`Dialect::multi_row_upsert`] is false). Each statement
    /// is the one [`UpsertTexts::upsert`] gives for that row alone.
    ///
    /// # Errors
    /// As [`upsert`] and [`upsert_returning`]; rows naming different fields.
    #[allow(clippy::too_many_arguments)]
    pub fn upsert_each(
        &self,
        d: &dyn Dialect,
        model: &Model,
        layout: &Layout,
        tenant: &str,
        rows: &[UpsertRow<'_>],
        now: DateTime<Utc>,
        returning: bool,
    ) -> Result<Vec<Statement>> {
        let (fields, values) = checked_rows(d, model, tenant, rows, now)?;
        let per_row = row_width(&fields);
        let text = self.text(d, model, layout, &fields, &values[..per_row], 1, Form::of(returning))?;
        let mut values = values.into_iter();
        Ok((0..rows.len())
            .map(|_| {
                let mut v = Vec::with_capacity(per_row + text.tail.len());
                v.extend(values.by_ref().take(per_row));
                v.extend(text.tail.iter().cloned());
                Statement { sql: text.sql.clone(), values: v }
            })
            .collect())
    }

    /// The cached text of the upsert of `rows` rows naming `fields`, rendered from
    /// `values` (the rows' values, as [`row_values`] gives them) on first use.
    #[allow(clippy::too_many_arguments)]
    fn text(
        &self,
        d: &dyn Dialect,
        model: &Model,
        layout: &Layout,
        fields: &[&crate::model::Field],
        values: &[sea_query::Value],
        rows: usize,
        form: Form,
    ) -> Result<std::sync::Arc<Rendered>> {
        let shape = ShapeRef {
            dialect: d.kind(),
            schema: layout.schema(d),
            table: model.name(),
            key_field: model.key_field(),
            tenant_isolated: model.tenant_isolated(),
            fields,
            rows,
            form,
        };
        if let Some(r) = self.texts.read().ok().and_then(|m| m.get(&shape).cloned()) {
            return Ok(r);
        }
        let per_rows = values.len();
        let stmt = render(d, model, layout, fields, values.to_vec(), rows, form)?;
        debug_assert_eq!(stmt.values.get(..per_rows), Some(values), "the rows' values come first, in row order");
        let tail = stmt.values.get(per_rows..).unwrap_or_default().to_vec();
        let rendered = std::sync::Arc::new(Rendered { sql: stmt.sql, tail });
        if let Ok(mut m) = self.texts.write() {
            if m.len() >= Self::CAPACITY {
                m.clear();
            }
            m.insert(shape.owned_key(), std::sync::Arc::clone(&rendered));
        }
        Ok(rendered)
    }
}

/// The values an upsert binds for `rows`, in the order its text names them: per row the
/// id, the tenant, the fields in model order, then `created_at` and `updated_at`.
fn row_values(
    d: &dyn Dialect,
    model: &Model,
    tenant: &str,
    fields: &[&crate::model::Field],
    rows: &[UpsertRow<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<sea_query::Value>> {
    let Some(first) = rows.first().map(|r| r.fields) else { return Ok(Vec::new()) };
    let stamp = d.timestamp_value(now);
    let tenant_value: sea_query::Value =
        if model.tenant_isolated() { tenant.into() } else { Option::<String>::None.into() };
    // The first row's names (id aside) in its map's order, and where each of `fields` sits
    // among them: a row naming the same fields in the same order (every row, with
    // serde_json's sorted map) is read in one pass over its map, with no lookup per field.
    let names: Vec<&str> = first.keys().map(String::as_str).filter(|k| *k != "id").collect();
    let at: Vec<Option<usize>> = fields.iter().map(|f| names.iter().position(|k| *k == f.name)).collect();
    let mut in_order: Vec<&Json> = Vec::with_capacity(names.len());
    let mut values = Vec::with_capacity(rows.len() * row_width(fields));
    for r in rows {
        in_order.clear();
        for (k, v) in r.fields {
            if k == "id" {
                continue;
            }
            if names.get(in_order.len()) != Some(&k.as_str()) {
                in_order.clear();
                break;
            }
            in_order.push(v);
        }
        let same_order = in_order.len() == names.len() && !names.is_empty();
        if !same_order && !same_fields(first, r.fields) {
            return Err(Error::invalid_input(format!(
                "{model}: rows of one upsert statement must name the same fields"
            )));
        }
        values.push(r.id.as_str().into());
        values.push(tenant_value.clone());
        for (f, at) in fields.iter().zip(&at) {
            let v = match at {
                Some(i) if same_order => in_order[*i],
                _ => &r.fields[&f.name],
            };
            values.push(super::codec::bind_value(d, model, &f.name, f.ty, v)?);
        }
        values.push(stamp.clone());
        values.push(stamp.clone());
    }
    Ok(values)
}

/// The id of an embedding row: UUIDv5 (DNS namespace) of `{tenant}/{field}/{entity_id}`.
/// Injective (tenant ids and field names hold no `/`), so no tenant can choose an entity
/// id whose embedding row id is another tenant's. (The system p8fs replaces hashed
/// `{entity_id}-{field}-{tenant}`, where tenant `x` could produce the ids of tenant
/// `content-x`; rows it wrote keep their ids: upserts match rows by
/// `(tenant_id, entity_id, field_name)`.)
pub fn embedding_row_id(tenant: &str, field: &str, entity_id: &str) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, format!("{tenant}/{field}/{entity_id}").as_bytes()).to_string()
}

/// `tenant_id = ?` when the model is tenant-isolated.
fn scope(model: &Model, tenant: &str) -> sea_query::Cond {
    let c = sea_query::Cond::all();
    if model.tenant_isolated() { c.add(Expr::col(a("tenant_id")).eq(tenant)) } else { c }
}

fn select_all(d: &dyn Dialect, model: &Model, layout: &Layout) -> SelectStatement {
    let mut q = Query::select();
    q.from(layout.table(d, model.name()));
    for (name, _) in select_columns(model) {
        q.column(a(&name));
    }
    q
}

/// Select with filters, ordering and paging, scoped to the tenant. Without an explicit
/// ordering, rows come in `id` order, so paging is stable.
///
/// # Errors
/// Filter values of the wrong type.
pub fn select(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, q: &EntityQuery) -> Result<Statement> {
    let mut s = select_all(d, model, layout);
    s.cond_where(scope(model, tenant).add(q.condition(d, model)?));
    if q.order_by.is_empty() {
        s.order_by(a("id"), sea_query::Order::Asc);
    }
    for (col, dir) in &q.order_by {
        s.order_by(a(col), dir.clone());
    }
    let mut stmt = d.build_query(&s);
    // LIMIT and OFFSET are integer literals (typed numbers p8fs checked, never text): as
    // parameters, PostgreSQL's generic plan of the prepared statement assumes a LIMIT keeps
    // 10% of the rows and walks the tenant's primary key in order, filtering every row,
    // instead of sorting the few rows an index finds (W3: 1.45 against 0.65 ms of server
    // time; docs/benchmark-profiles.md). A statement per page size is cached.
    if q.limit.is_some() || q.offset.is_some() {
        // The MySQL family needs a LIMIT with an OFFSET.
        let limit = q.limit.unwrap_or(u64::MAX >> 1);
        stmt.sql.push_str(&format!(" LIMIT {limit}"));
    }
    if let Some(o) = q.offset {
        stmt.sql.push_str(&format!(" OFFSET {o}"));
    }
    Ok(stmt)
}

/// One entity by id.
pub fn get_by_id(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, id: &str) -> Statement {
    let mut s = select_all(d, model, layout);
    s.cond_where(scope(model, tenant).add(Expr::col(a("id")).eq(id)));
    d.build_query(&s)
}

/// One entity by business key.
///
/// # Errors
/// A model without a key field.
pub fn get_by_key(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, key: &str) -> Result<Statement> {
    let k = model.key_field().ok_or_else(|| Error::invalid_input(format!("{model} has no key field")))?;
    let mut s = select_all(d, model, layout);
    s.cond_where(scope(model, tenant).add(Expr::col(a(k)).eq(key)));
    Ok(d.build_query(&s))
}

/// `(id, key)` of the entities with these business keys.
///
/// # Errors
/// A model without a key field.
pub fn ids_by_keys(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, keys: &[&str]) -> Result<Statement> {
    let k = model.key_field().ok_or_else(|| Error::invalid_input(format!("{model} has no key field")))?;
    let s = Query::select()
        .columns([a("id"), a(k)])
        .from(layout.table(d, model.name()))
        .cond_where(scope(model, tenant).add(d.in_list(Expr::col(a(k)), keys)))
        .to_owned();
    Ok(d.build_query(&s))
}

/// The ids among `ids` that exist in the tenant.
pub fn existing_ids(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, ids: &[&str]) -> Statement {
    let s = Query::select()
        .column(a("id"))
        .from(layout.table(d, model.name()))
        .cond_where(scope(model, tenant).add(d.in_list(Expr::col(a("id")), ids)))
        .to_owned();
    d.build_query(&s)
}

/// Deletes an entity and its embeddings (two statements, for one transaction).
pub fn delete_by_id(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, id: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    if model.embedding().is_some() {
        let q = Query::delete()
            .from_table(layout.embeddings_table(d, model))
            .cond_where(scope(model, tenant).add(Expr::col(a("entity_id")).eq(id)))
            .to_owned();
        out.push(d.build_query(&q));
    }
    let q = Query::delete()
        .from_table(layout.table(d, model.name()))
        .cond_where(scope(model, tenant).add(Expr::col(a("id")).eq(id)))
        .to_owned();
    out.push(d.build_query(&q));
    out
}

/// Reads a model's recorded schema version.
pub fn read_version(d: &dyn Dialect, model: &Model, layout: &Layout) -> Statement {
    let q = Query::select()
        .columns([a("fingerprint"), a("version")])
        .from(layout.table(d, VERSIONS_TABLE))
        .and_where(Expr::col(a("model")).eq(model.name()))
        .to_owned();
    d.build_query(&q)
}

/// Records a model's schema version.
pub fn write_version(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    version: i64,
    now: DateTime<Utc>,
) -> Result<Statement> {
    let mut q = Query::insert();
    q.into_table(layout.table(d, VERSIONS_TABLE))
        .columns([a("model"), a("fingerprint"), a("version"), a("applied_at")])
        .values([
            Expr::val(model.name()),
            Expr::val(model.fingerprint()),
            Expr::val(version),
            Expr::val(d.timestamp_value(now)),
        ])
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    q.on_conflict(
        OnConflict::column(a("model")).update_columns([a("fingerprint"), a("version"), a("applied_at")]).to_owned(),
    );
    Ok(d.build_query(&q))
}

/// Writes (or replaces) embedding rows of one entity: one row per field, keyed
/// `(tenant_id, entity_id, field_name)`; the row id is [`embedding_row_id`]. `provider` is
/// recorded with each row: the embedder that made the vectors (`None`: the model's declared
/// provider).
///
/// # Errors
/// A model without embeddings, an unknown or non-embedded field, a dimension that is not
/// the model's (the message names field, model and both dimensions), non-finite values.
#[allow(clippy::too_many_arguments)] // each is a separate column value or context of the statement
pub fn upsert_embeddings(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    entity_id: &str,
    provider: Option<&str>,
    vectors: &[(&str, &[f32])],
    now: DateTime<Utc>,
) -> Result<Statement> {
    let spec = model.embedding().ok_or_else(|| Error::invalid_input(format!("{model} has no embedded fields")))?;
    let provider = provider.unwrap_or(spec.provider.as_str());
    if vectors.is_empty() {
        return Err(Error::invalid_input(format!("{model}: no embeddings to write")));
    }
    let mut q = Query::insert();
    q.into_table(layout.embeddings_table(d, model)).columns([
        a("id"),
        a("entity_id"),
        a("field_name"),
        a("embedding_provider"),
        a("embedding_vector"),
        a("vector_dimension"),
        a("tenant_id"),
        a("created_at"),
        a("updated_at"),
    ]);
    let stamp = d.timestamp_value(now);
    for (field, v) in vectors {
        match model.field(field) {
            Some(f) if f.embedding.is_some() => {}
            _ => return Err(Error::invalid_input(format!("{model}.{field} is not an embedded field"))),
        }
        if v.len() != spec.dim as usize {
            return Err(Error::invalid_input(format!(
                "{model}.{field}: the embedding has {} dimensions, the model's provider {} has {}",
                v.len(),
                spec.provider,
                spec.dim
            )));
        }
        q.values([
            Expr::val(embedding_row_id(tenant, field, entity_id)),
            Expr::val(entity_id),
            Expr::val(*field),
            Expr::val(provider),
            d.vector_value(v)?,
            Expr::val(i32::try_from(spec.dim).unwrap_or(i32::MAX)),
            Expr::val(tenant),
            Expr::val(stamp.clone()),
            Expr::val(stamp.clone()),
        ])
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    }
    let identity = ["tenant_id", "entity_id", "field_name"];
    let mut oc = OnConflict::columns(identity.map(a));
    for c in ["embedding_provider", "embedding_vector", "vector_dimension", "updated_at"] {
        oc.value(a(c), d.guard_conflict(d.excluded(c), c, &identity));
    }
    q.on_conflict(oc);
    Ok(d.build_query(&q))
}

/// Counts the embedding rows of an entity.
pub fn count_embeddings(d: &dyn Dialect, model: &Model, layout: &Layout, tenant: &str, entity_id: &str) -> Statement {
    let q = Query::select()
        .expr(Expr::col(a("id")).count())
        .from(layout.embeddings_table(d, model))
        .cond_where(scope(model, tenant).add(Expr::col(a("entity_id")).eq(entity_id)))
        .to_owned();
    d.build_query(&q)
}

/// Changes an entity's business key (by id, in the tenant).
///
/// # Errors
/// A model without a key field.
pub fn rename_key(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    id: &str,
    new_key: &str,
    now: DateTime<Utc>,
) -> Result<Statement> {
    let k = model.key_field().ok_or_else(|| Error::invalid_input(format!("{model} has no key field")))?;
    let q = Query::update()
        .table(layout.table(d, model.name()))
        .value(a(k), new_key)
        .value(a("updated_at"), Expr::val(d.timestamp_value(now)))
        .cond_where(scope(model, tenant).add(Expr::col(a("id")).eq(id)))
        .to_owned();
    Ok(d.build_query(&q))
}

/// The rows whose edges a statement of [`edges_of_rows`] reads.
#[derive(Debug, Clone, Copy)]
pub enum EdgeRows<'a> {
    /// Entities by id.
    Ids(&'a [&'a str]),
    /// Entities by business key.
    Keys(&'a [&'a str]),
}

/// `SELECT <id or key>, <`EDGES_FIELD`>` of the tenant's rows, ordered by that column; with
/// `lock`, `FOR UPDATE` (a no-op on SQLite, whose write transactions lock at `BEGIN`).
/// The first column is the id for [`EdgeRows::Ids`], the key for [`EdgeRows::Keys`].
///
/// # Errors
/// A model without `edges_field` as a JSON list; keys for a model without a key field.
pub fn edges_of_rows(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    rows: EdgeRows<'_>,
    lock: bool,
) -> Result<Statement> {
    let edges_field = crate::model::EDGES_FIELD;
    if model.field(edges_field).map(|f| f.ty) != Some(FieldType::JsonArray) {
        return Err(Error::invalid_input(format!("{model} has no edge list (a JSON list field {edges_field})")));
    }
    let (first, cond) = match rows {
        EdgeRows::Ids(ids) => ("id", Expr::col(a("id")).is_in(ids.iter().copied())),
        EdgeRows::Keys(keys) => {
            let k = model.key_field().ok_or_else(|| Error::invalid_input(format!("{model} has no key field")))?;
            (k, Expr::col(a(k)).is_in(keys.iter().copied()))
        }
    };
    let mut s = Query::select();
    s.from(layout.table(d, model.name()))
        .column(a(first))
        .column(a(edges_field))
        .cond_where(scope(model, tenant).add(cond))
        .order_by(a(first), sea_query::Order::Asc);
    if lock {
        s.lock(sea_query::LockType::Update);
    }
    Ok(d.build_query(&s))
}

/// Sets an entity's edges (by id, in the tenant) and its `updated_at`.
///
/// # Errors
/// A list the field refuses.
pub fn set_edges(
    d: &dyn Dialect,
    model: &Model,
    layout: &Layout,
    tenant: &str,
    id: &str,
    edges: &Json,
    now: DateTime<Utc>,
) -> Result<Statement> {
    let edges_field = crate::model::EDGES_FIELD;
    let q = Query::update()
        .table(layout.table(d, model.name()))
        .value(a(edges_field), bind_field(d, model, edges_field, FieldType::JsonArray, edges)?)
        .value(a("updated_at"), Expr::val(d.timestamp_value(now)))
        .cond_where(scope(model, tenant).add(Expr::col(a("id")).eq(id)))
        .to_owned();
    Ok(d.build_query(&q))
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::{Form, ShapeRef};
    use crate::Dialect;
    use crate::model::resources;

    #[test]
    fn same_fields_ignores_the_id_and_nothing_else() {
        let m = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let a = m(serde_json::json!({"name": "a", "rank": 1}));
        assert!(super::same_fields(&a, &m(serde_json::json!({"rank": 2, "name": "b"}))));
        assert!(super::same_fields(&a, &m(serde_json::json!({"id": "x", "name": "b", "rank": 2}))));
        assert!(!super::same_fields(&a, &m(serde_json::json!({"name": "b", "summary": "s"}))));
        assert!(!super::same_fields(&a, &m(serde_json::json!({"name": "b"}))));
        assert!(!super::same_fields(&a, &m(serde_json::json!({"name": "b", "rank": 2, "summary": "s"}))));
        assert!(!super::same_fields(&m(serde_json::json!({"id": "x"})), &a));
        assert!(super::same_fields(&m(serde_json::json!({"id": "x"})), &m(serde_json::json!({}))));
    }

    /// A cached text is found by its borrowed shape only if the two hash alike (a
    /// difference would not show as a wrong statement, only as every call rendering again).
    #[test]
    fn a_borrowed_shape_hashes_and_compares_as_its_owned_key() {
        let m = resources();
        let fields: Vec<&crate::model::Field> = m.fields().iter().take(3).collect();
        let state = hashbrown::DefaultHashBuilder::default();
        for (schema, rows, form) in
            [(None, 1, Form::Plain), (Some("s"), 7, Form::Returning), (None, 1, Form::IdGuarded)]
        {
            let r = ShapeRef {
                dialect: crate::Postgres.kind(),
                schema,
                table: m.name(),
                key_field: m.key_field(),
                tenant_isolated: true,
                fields: &fields,
                rows,
                form,
            };
            let owned = r.owned_key();
            assert_eq!(state.hash_one(r), state.hash_one(&owned));
            assert!(hashbrown::Equivalent::equivalent(&r, &owned));
            let fewer = ShapeRef { fields: &fields[..2], ..r };
            assert!(!hashbrown::Equivalent::equivalent(&fewer, &owned));
            let other = ShapeRef { rows: rows + 1, ..r };
            assert!(!hashbrown::Equivalent::equivalent(&other, &owned));
        }
    }
}
