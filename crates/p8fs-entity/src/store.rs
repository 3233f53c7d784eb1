//! [`EntityStore`]: the entity operations, once, on any [`SqlExecutor`].
//!
//! Every provider (`p8fs-tidb`, `p8fs-postgres`, `p8fs-sqlite`) implements the small
//! [`SqlExecutor`] contract; the operations below are written once on top of it, and the
//! dialect supplies each engine's differences. Every statement binds its values.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value as Json};

use crate::cache::{CacheScope, MetadataCache, TableInfo, read_table_info};
use p8fs_sql_dialect::entity::codec::{decode_row, decode_rows};
use p8fs_sql_dialect::entity::{EntityQuery, Layout, ddl, dml};
use p8fs_sql_dialect::model::Model;
use p8fs_sql_dialect::{Dialect, Error, ErrorKind, Result, SqlExecutor, SqlValue, Statement};

/// Statements to add to an upsert's transaction, given the entities' ids.
pub type ExtraStatements<'a> = dyn Fn(&[String]) -> Result<Vec<Statement>> + Send + Sync + 'a;

/// One entity's embeddings: `(field, vector)` pairs.
pub type EntityEmbeddings = Vec<(String, Vec<f32>)>;

/// Rows per multi-row statement (TiDB's guidance: hundreds of rows per statement).
pub const BATCH_CHUNK: usize = 200;

/// Bytes of values per multi-row statement, past its first row (which goes alone when it is
/// larger). A statement holds its values twice while it runs (as built and as bound), and an
/// engine may copy them again (SQLite binds text by copy): an import's batches of 1 MB texts
/// (8 MB each), one statement per batch, raised its peak memory by up to 70 MB on SQLite,
/// and 16 such rows would pass MariaDB's default packet bound (16 MB). Rows of ordinary size fill [`BATCH_CHUNK`] first.
pub const BATCH_CHUNK_BYTES: usize = 1 << 20;

/// Splits `rows` into statements of at most [`BATCH_CHUNK`] rows and at most
/// [`BATCH_CHUNK_BYTES`] of values (a larger row goes alone). In order; no row is left out.
fn statement_chunks<'a, 'r>(rows: &'a [dml::UpsertRow<'r>]) -> impl Iterator<Item = &'a [dml::UpsertRow<'r>]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let (mut n, mut bytes) = (0, 0);
        for r in rest.iter().take(BATCH_CHUNK) {
            let b = r.fields.iter().map(|(k, v)| k.len() + value_bytes(v)).sum::<usize>();
            if n > 0 && bytes + b > BATCH_CHUNK_BYTES {
                break;
            }
            (n, bytes) = (n + 1, bytes + b);
        }
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// About what a JSON value takes once bound: its text's bytes, a word for a scalar.
fn value_bytes(v: &Json) -> usize {
    match v {
        Json::String(s) => s.len(),
        Json::Array(a) => a.iter().map(value_bytes).sum::<usize>() + 2,
        Json::Object(o) => o.iter().map(|(k, v)| k.len() + value_bytes(v)).sum::<usize>() + 2,
        Json::Null | Json::Bool(_) | Json::Number(_) => 8,
    }
}

/// Keys per id lookup (`IN` lists of this length are fine on every engine).
pub(crate) const LOOKUP_CHUNK: usize = 1000;

/// The envelope of an upsert, as the system p8fs replaces returned it, plus the ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpsertResult {
    /// Always true for a returned result (failures are errors).
    pub success: bool,
    /// Rows affected as the engine counts them (MySQL counts an update as 2).
    pub affected_rows: u64,
    /// Entities written.
    pub entity_count: usize,
    /// Their ids, in input order.
    pub ids: Vec<String>,
}

/// What a migration did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Migration {
    /// The entity table did not exist before.
    pub created: bool,
    /// Columns added to an existing table.
    pub added_columns: Vec<String>,
    /// The schema version now recorded.
    pub version: i64,
}

/// Entity operations on one database.
#[derive(Debug, Clone)]
pub struct EntityStore {
    pub(crate) db: Arc<dyn SqlExecutor>,
    pub(crate) layout: Layout,
    cache: Arc<MetadataCache>,
    /// This store's (database, schema) in `cache`: a lookup per call, no allocation.
    scope: Arc<CacheScope>,
    /// Whether the engine's trigram extension is installed (asked once).
    pub(crate) trigram: Arc<std::sync::OnceLock<bool>>,
    /// The provider recorded with embeddings this store writes (`None`: the model's
    /// declared provider).
    provider: Option<Arc<str>>,
    /// Upsert texts rendered once per shape.
    upsert_texts: Arc<dml::UpsertTexts>,
}

/// Checks a tenant id by the one rule every layer shares ([`p8fs_tenant::check`]): the
/// id that reaches a statement can neither pad (`"acme "`) nor name a path.
fn check_tenant(tenant: &str) -> Result<()> {
    p8fs_tenant::check(tenant).map_err(|reason| {
        Error::invalid_input(format!("tenant id {:?}: {reason}", tenant.chars().take(64).collect::<String>()))
    })
}

/// Checks a tenant's call: a valid tenant id, and a tenant-isolated model. Global models
/// (shared by every tenant, such as `tenants`) are reached only through the
/// administrative calls (`admin_*`), never through a tenant's.
pub(crate) fn scoped(model: &Model, tenant: &str) -> Result<()> {
    check_tenant(tenant)?;
    if !model.tenant_isolated() {
        return Err(Error::invalid_input(format!(
            "{model} is a global model, shared by every tenant: a tenant's call cannot read or change it \
             (administrative calls only: EntityStore::admin_*, `p8fs entity ... --admin`)"
        )));
    }
    Ok(())
}

/// Checks an administrative call: a global model.
fn global(model: &Model) -> Result<()> {
    if model.tenant_isolated() {
        return Err(Error::invalid_input(format!(
            "{model} is tenant-isolated: name the tenant (administrative calls reach global models only)"
        )));
    }
    Ok(())
}

/// Whether an upsert reads the stored ids of its keys before writing: when embeddings or
/// extra statements written in the same transaction must point at them, or when ids are
/// given (a given id that names another row than the key's must not decide which row the
/// upsert meets: PostgreSQL and SQLite match the key, the MySQL family meets the primary
/// key first).
fn ids_read_first(
    entities: &[Map<String, Json>],
    embeddings: Option<&[EntityEmbeddings]>,
    extra: Option<&ExtraStatements<'_>>,
) -> bool {
    embeddings.is_some_and(|e| e.iter().any(|v| !v.is_empty()))
        || extra.is_some()
        || entities.iter().any(|e| e.contains_key("id"))
}

/// Checks that `embeddings` has one list per entity.
fn one_list_per_entity(model: &Model, entities: &[Map<String, Json>], embeddings: &[EntityEmbeddings]) -> Result<()> {
    if embeddings.len() != entities.len() {
        return Err(Error::invalid_input(format!(
            "{model}: {} entities but {} embedding lists",
            entities.len(),
            embeddings.len()
        )));
    }
    Ok(())
}

/// The tenant argument of statements on global models (they ignore it; their rows have a
/// `NULL` tenant).
const NO_TENANT: &str = "";

/// The statements that migrate a table in place: its collation when `inexact`, its
/// primary key to `rekey`.
fn in_place_migration(
    d: &dyn Dialect,
    qualified: &str,
    inexact: bool,
    rekey: Option<&[&str]>,
) -> Result<Vec<Statement>> {
    let mut out = Vec::new();
    if inexact {
        out.extend(d.convert_collation(qualified)?);
    }
    if let Some(cols) = rekey {
        out.extend(d.replace_primary_key(qualified, cols)?);
    }
    Ok(out)
}

/// The id p8fs gives a keyed entity created without one: UUIDv5 (DNS namespace) of
/// `{tenant}:{table}:{key}`.
fn derived_id(tenant: &str, table: &str, key: &str) -> String {
    let mut name = String::with_capacity(tenant.len() + table.len() + key.len() + 2);
    for part in [tenant, ":", table, ":", key] {
        name.push_str(part);
    }
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_DNS, name.as_bytes()).to_string()
}

fn text(v: Option<SqlValue>) -> Result<String> {
    v.ok_or_else(|| Error::decode("missing column"))?.into_text()
}

impl EntityStore {
    /// A store on `db` with a fresh metadata cache.
    pub fn new(db: Arc<dyn SqlExecutor>, layout: Layout) -> Self {
        Self::with_cache(db, layout, Arc::new(MetadataCache::default()))
    }

    /// The same store, recording `provider` (the embedder that made the vectors) with every
    /// embedding it writes, instead of the model's declared provider: a search can then
    /// refuse to compare vectors of different models.
    #[must_use]
    pub fn with_embedding_provider(mut self, provider: &str) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// The provider recorded with embeddings written through this store (`None`: each
    /// model's declared one).
    pub fn embedding_provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// A store sharing `cache` with other stores.
    pub fn with_cache(db: Arc<dyn SqlExecutor>, layout: Layout, cache: Arc<MetadataCache>) -> Self {
        let schema = layout.schema(db.dialect()).map(str::to_owned);
        let scope = cache.scope(&db.cache_key(), schema.as_deref());
        Self { db, layout, cache, scope, trigram: Arc::default(), provider: None, upsert_texts: Arc::default() }
    }

    /// The executor.
    pub fn executor(&self) -> &Arc<dyn SqlExecutor> {
        &self.db
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The metadata cache.
    pub fn cache(&self) -> &MetadataCache {
        &self.cache
    }

    fn schema(&self) -> Option<&str> {
        self.layout.schema(self.db.dialect())
    }

    /// The table's columns and primary key (`None`: no table), from the cache.
    ///
    /// # Errors
    /// The catalog query's error.
    pub async fn table_info(&self, table: &str) -> Result<Option<Arc<TableInfo>>> {
        self.cache.table_info_in(&self.scope, self.db.as_ref(), self.schema(), table).await
    }

    /// Whether the model's table exists (served from the cache after the first look).
    ///
    /// # Errors
    /// The catalog query's error.
    pub async fn table_exists(&self, model: &Model) -> Result<bool> {
        Ok(self.table_info(model.name()).await?.is_some())
    }

    /// Forgets the cached metadata of a table.
    pub fn invalidate_table_cache(&self, table: &str) {
        self.cache.invalidate_table(&self.db.cache_key(), self.schema(), table);
    }

    pub(crate) async fn require_table(&self, model: &Model) -> Result<()> {
        if self.table_exists(model).await? {
            Ok(())
        } else {
            Err(Error::invalid_input(format!("table {model} does not exist: run the migration (p8fs migrate) first")))
        }
    }

    /// Runs a DDL statement, retrying the races of concurrent idempotent DDL (PostgreSQL
    /// reports two concurrent `CREATE ... IF NOT EXISTS` as a unique violation).
    async fn ddl(&self, stmt: &Statement) -> Result<()> {
        let mut attempt = 0u64;
        loop {
            match self.db.execute(stmt).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt < 4 && matches!(e.kind(), ErrorKind::UniqueViolation | ErrorKind::Conflict) => {
                    attempt += 1;
                    tokio_sleep(Duration::from_millis(25 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates the model's tables if missing (idempotent), adds columns for fields the
    /// table lacks, and records the schema version.
    ///
    /// # Errors
    /// The engine's errors.
    pub async fn migrate(&self, model: &Model) -> Result<Migration> {
        let dialect = self.db.dialect();
        self.invalidate_table_cache(model.name());
        let existed = self.table_exists(model).await?;
        // An existing table first gets the columns it lacks, so that the (idempotent) index
        // statements below can name them.
        let mut added = Vec::new();
        if let Some(info) = self.table_info(model.name()).await? {
            for f in model.fields() {
                if !info.columns.iter().any(|c| c == &f.name) {
                    self.ddl(&ddl::add_column(dialect, model, &self.layout, f)).await?;
                    added.push(f.name.clone());
                }
            }
        }
        if existed {
            self.migrate_keys_and_collations(model).await?;
        }
        for stmt in ddl::create_model(dialect, model, &self.layout) {
            self.ddl(&stmt).await?;
        }
        self.ensure_helper_functions().await?;
        self.ensure_trigram_index(model).await?;
        self.ensure_full_text_index(model).await?;
        self.invalidate_table_cache(model.name());
        if self.table_info(model.name()).await?.is_none() {
            return Err(Error::new(ErrorKind::Database, format!("table {model} missing after CREATE")));
        }
        let rows = self.db.query(&dml::read_version(dialect, model, &self.layout)).await?;
        let current = match rows.into_iter().next() {
            Some(r) => {
                let mut it = r.into_iter();
                let fp = text(it.next())?;
                let v = match it.next() {
                    Some(SqlValue::Int(v)) => v,
                    _ => 0,
                };
                Some((fp, v))
            }
            None => None,
        };
        let version = match &current {
            Some((fp, v)) if *fp == model.fingerprint() => *v,
            Some((_, v)) => v + 1,
            None => 1,
        };
        if current.as_ref().map(|c| c.1) != Some(version) {
            let stmt = dml::write_version(dialect, model, &self.layout, version, Utc::now())?;
            self.db.execute(&stmt).await?;
        }
        Ok(Migration { created: !existed, added_columns: added, version })
    }

    /// Brings a table made by an earlier p8fs (or by the system p8fs replaces) to today's
    /// keys and collations: ids unique per tenant (primary key `(tenant_id, id)` for
    /// tenant-isolated models), and binary `NO PAD` text columns on the MySQL family (the
    /// entity table and its embeddings table). In place where the engine can (MariaDB's
    /// `CONVERT TO` and primary-key swap, PostgreSQL's), else by rebuilding the table with
    /// the same rows (SQLite; TiDB, which refuses to change the collation of indexed
    /// columns or to swap a primary key). Does nothing when both already hold.
    async fn migrate_keys_and_collations(&self, model: &Model) -> Result<()> {
        let dialect = self.db.dialect();
        let entity_schema = self.schema().map(str::to_owned);
        let mut tables = vec![(entity_schema, model.name().to_owned(), true)];
        if model.embedding().is_some() {
            let schema = self.layout.embeddings_schema(dialect).map(str::to_owned);
            tables.push((schema, model.embeddings_table(), false));
        }
        for (schema, table, is_entity) in tables {
            let schema = schema.as_deref();
            // From the catalog, not the cache: the embeddings table is not cached.
            let Some(info) = read_table_info(self.db.as_ref(), schema, &table).await? else { continue };
            let inexact = match dialect.inexact_columns_query(schema, &table) {
                Some(q) => !self.db.query(&q).await?.is_empty(),
                None => false,
            };
            let want: &[&str] = if is_entity { ddl::primary_key(model) } else { &["id"] };
            let mut have: Vec<&str> = info.primary_key.iter().map(String::as_str).collect();
            have.sort_unstable();
            let mut wanted = want.to_vec();
            wanted.sort_unstable();
            let rekey = have != wanted;
            if !inexact && !rekey {
                continue;
            }
            let qualified = dialect.qualified(schema, &table);
            tracing::info!(table = %qualified, inexact, from = ?info.primary_key, to = ?want, "migrating a table");
            // Collations first: the new primary key is then built on exact columns.
            let in_place = in_place_migration(dialect, &qualified, inexact, rekey.then_some(want));
            match in_place {
                Ok(stmts) => {
                    for stmt in stmts {
                        self.db.execute(&stmt).await?;
                    }
                }
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    let create = if is_entity {
                        ddl::create_entity_table(dialect, model, &self.layout)
                    } else {
                        ddl::create_embeddings_table(dialect, model, &self.layout)
                    };
                    let keep: Vec<&str> = if is_entity {
                        ["id", "tenant_id", "created_at", "updated_at"]
                            .into_iter()
                            .chain(model.fields().iter().map(|f| f.name.as_str()))
                            .collect()
                    } else {
                        ddl::EMBEDDING_COLUMNS.to_vec()
                    };
                    self.rebuild_table(schema, &table, &info.columns, &keep, create).await?;
                }
                Err(e) => return Err(e),
            }
            self.invalidate_table_cache(&table);
        }
        self.invalidate_table_cache(model.name());
        Ok(())
    }

    /// Rebuilds a table with today's definition (`create`) and the same rows. Where DDL is
    /// transactional (SQLite) in one transaction: the old table is renamed, the new one
    /// created, the rows copied, the old one dropped. On the MySQL family (TiDB), whose DDL
    /// commits statement by statement: the new table is built beside the live one
    /// (`{table}__p8fs_new`), the rows copied in one statement, then both names swapped in
    /// one `RENAME TABLE` and the old table dropped, so the live name never shows an empty
    /// or half-built table. Writes made during the copy are not carried over: run `migrate`
    /// with writers stopped. A migration that stopped part-way leaves `{table}__p8fs_new` or
    /// `{table}__p8fs_old` behind, and the next one refuses to start until it is looked at.
    ///
    /// # Errors
    /// A table with columns the new definition lacks (they would be lost: nothing is done);
    /// a leftover of an earlier rebuild; the engine's errors.
    async fn rebuild_table(
        &self,
        schema: Option<&str>,
        table: &str,
        columns: &[String],
        keep: &[&str],
        create: Vec<Statement>,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        if let Some(extra) = columns.iter().find(|c| !keep.contains(&c.as_str())) {
            return Err(Error::invalid_input(format!(
                "table {table} has a column {extra:?} that the model lacks; it cannot be migrated without losing \
                 that column: add the field to the model or drop the column first"
            )));
        }
        let (old, new) = (format!("{table}__p8fs_old"), format!("{table}__p8fs_new"));
        for leftover in [&old, &new] {
            if read_table_info(self.db.as_ref(), schema, leftover).await?.is_some() {
                return Err(Error::new(
                    ErrorKind::Database,
                    format!(
                        "an earlier migration of {table} stopped part-way and left {leftover}: check which table holds \
                         the rows, drop the other, and migrate again"
                    ),
                ));
            }
        }
        let q = |t: &str| dialect.qualified(schema, t);
        let cols = columns.iter().map(|c| dialect.quote_ident(c)).collect::<Vec<_>>().join(", ");
        let copy = |to: &str, from: &str| {
            Statement::raw(format!("INSERT INTO {} ({cols}) SELECT {cols} FROM {}", q(to), q(from)))
        };
        if let Some(swap) = dialect.swap_tables(schema, table, &old, &new) {
            // The new table under its own name: the MySQL family's index names are the
            // table's own, so only the table's name changes.
            let (live_q, new_q) = (q(table), q(&new));
            let mut stmts: Vec<Statement> =
                create.into_iter().map(|s| Statement::raw(s.sql.replacen(&live_q, &new_q, 1))).collect();
            stmts.push(copy(&new, table));
            stmts.push(swap);
            stmts.push(Statement::raw(format!("DROP TABLE {}", q(&old))));
            tracing::warn!(table = %live_q, "rebuilding the table; vector indexes and TiFlash replicas of it must be made again");
            for stmt in &stmts {
                self.db.execute(stmt).await.map_err(|e| {
                    Error::new(e.kind(), format!("rebuilding {table} (see {new} and {old}): {e}")).with_source(e)
                })?;
            }
            return Ok(());
        }
        let mut stmts = Vec::new();
        if !dialect.inline_indexes() {
            // Index names belong to the schema, not the table: free them for the new table.
            let iq = dialect.index_names_query(schema, table);
            for r in self.db.query(&iq).await? {
                let name = text(r.into_iter().next())?;
                if !dialect.owned_by_table(&name) {
                    stmts.push(Statement::raw(format!("DROP INDEX IF EXISTS {}", q(&name))));
                }
            }
        }
        stmts.push(dialect.rename_table(schema, table, &old));
        stmts.extend(create);
        stmts.push(copy(table, &old));
        stmts.push(Statement::raw(format!("DROP TABLE {}", q(&old))));
        self.db
            .execute_in_transaction(&stmts)
            .await
            .map_err(|e| Error::new(e.kind(), format!("rebuilding {table} (nothing changed): {e}")).with_source(e))?;
        Ok(())
    }

    /// Creates the dialect's helper functions that do not exist yet.
    async fn ensure_helper_functions(&self) -> Result<()> {
        for f in self.db.dialect().helper_functions(self.schema()) {
            for attempt in 0..5u64 {
                if !self.db.query(&f.exists).await?.is_empty() {
                    break;
                }
                match self.db.execute(&f.create).await {
                    Ok(_) => break,
                    // Two creators at once (PostgreSQL: "tuple concurrently updated"); look again.
                    Err(_) if attempt < 4 => tokio_sleep(Duration::from_millis(25 * (attempt + 1))).await,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Upserts one entity; see [`EntityStore::batch_upsert`].
    ///
    /// # Errors
    /// As [`EntityStore::batch_upsert`].
    pub async fn upsert(&self, model: &Model, tenant: &str, entity: &Map<String, Json>) -> Result<UpsertResult> {
        self.batch_upsert(model, tenant, std::slice::from_ref(entity)).await
    }

    /// Upserts entities in multi-row statements of [`BATCH_CHUNK`] rows and at most
    /// [`BATCH_CHUNK_BYTES`] of values (or one prepared
    /// single-row statement per row for a dialect whose `Dialect::multi_row_upsert` is
    /// false), all in one transaction. An entity is matched by its business key (per tenant) when the model
    /// has one, else by `id`. On a match, `created_at` is kept, JSON object fields are
    /// merged (RFC 7396: keys of the new object replace or add, `null` removes), other
    /// fields named are replaced, fields not named are left alone. Ids not given are
    /// derived: UUIDv5 of `{tenant}:{model}:{key}` for keyed models, random otherwise.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for an empty batch, unknown fields, values of the wrong
    /// type, a missing or blank-edged key field, a missing table, a global model;
    /// [`ErrorKind::UniqueViolation`] for a given id that another entity of the tenant has
    /// (then nothing is written); the engine's errors.
    pub async fn batch_upsert(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
    ) -> Result<UpsertResult> {
        scoped(model, tenant)?;
        self.upsert_inner(model, tenant, entities, None, None).await
    }

    /// [`EntityStore::batch_upsert`] that also writes each entity's embeddings
    /// (`embeddings[i]` for `entities[i]`, as `(field, vector)`), in the same transaction:
    /// the rows and their embeddings commit together or not at all.
    ///
    /// # Errors
    /// As [`EntityStore::batch_upsert`]; lists of different lengths; dimension mismatches
    /// (naming field, model and both dimensions).
    pub async fn batch_upsert_with_embeddings(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        embeddings: &[EntityEmbeddings],
    ) -> Result<UpsertResult> {
        one_list_per_entity(model, entities, embeddings)?;
        scoped(model, tenant)?;
        self.upsert_inner(model, tenant, entities, Some(embeddings), None).await
    }

    /// [`EntityStore::batch_upsert_with_embeddings`] plus more statements in the same
    /// transaction: `extra` receives the entities' ids (input order) and returns statements
    /// to run after the rows and embeddings (mapping keys in a KV table of this database).
    ///
    /// # Errors
    /// As [`EntityStore::batch_upsert_with_embeddings`]; `extra`'s errors (then nothing is
    /// written).
    pub async fn batch_upsert_with_extra(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        embeddings: &[EntityEmbeddings],
        extra: &ExtraStatements<'_>,
    ) -> Result<UpsertResult> {
        one_list_per_entity(model, entities, embeddings)?;
        scoped(model, tenant)?;
        self.upsert_inner(model, tenant, entities, Some(embeddings), Some(extra)).await
    }

    /// Upserts; entities that carry edges (a keyed model's `graph_paths` list) have them
    /// merged into the stored ones by `(dst, rel_type)` first (see
    /// [`crate::graph::merge_edges`]), and the write checks, under a row lock, that the
    /// stored edges did not change meanwhile (else it starts over).
    async fn upsert_inner(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        embeddings: Option<&[EntityEmbeddings]>,
        extra: Option<&ExtraStatements<'_>>,
    ) -> Result<UpsertResult> {
        let Some(keys) = crate::graph::keys_with_edges(model, entities)? else {
            return self.upsert_rows(model, tenant, entities, embeddings, extra, None).await;
        };
        self.require_table(model).await?;
        let keys = &keys;
        crate::graph::retry_on_change(|| async move {
            let (merged, guard) = self.merge_stored_edges(model, tenant, entities, keys).await?;
            self.upsert_rows(model, tenant, &merged, embeddings, extra, Some(guard)).await
        })
        .await
    }

    async fn upsert_rows(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        embeddings: Option<&[EntityEmbeddings]>,
        extra: Option<&ExtraStatements<'_>>,
        guard: Option<(Statement, Arc<p8fs_sql_dialect::RowCheck>)>,
    ) -> Result<UpsertResult> {
        let guard = guard.as_ref();
        match self.upsert_rows_once(model, tenant, entities, embeddings, extra, guard, false).await {
            // The MySQL family's upsert meets the primary key before the business key: an
            // id derived from a key that another key's row holds (given to that row
            // explicitly) meets that row, which the update clause leaves as it was, and the
            // key is refused. If the key has a row of its own under another id, reading the
            // stored ids first writes that row, as PostgreSQL and SQLite do; a key without
            // a row is refused again. The refused attempt wrote nothing.
            Err(e)
                if e.kind() == ErrorKind::UniqueViolation
                    && model.key_field().is_some()
                    && self.db.dialect().upsert_meets_any_unique_key()
                    && !ids_read_first(entities, embeddings, extra) =>
            {
                self.upsert_rows_once(model, tenant, entities, embeddings, extra, guard, true).await
            }
            r => r,
        }
    }

    /// [`EntityStore::upsert_rows`], reading the stored ids first when `read_first`.
    #[allow(clippy::too_many_arguments)]
    async fn upsert_rows_once(
        &self,
        model: &Model,
        tenant: &str,
        entities: &[Map<String, Json>],
        embeddings: Option<&[EntityEmbeddings]>,
        extra: Option<&ExtraStatements<'_>>,
        guard: Option<&(Statement, Arc<p8fs_sql_dialect::RowCheck>)>,
        read_first: bool,
    ) -> Result<UpsertResult> {
        if entities.is_empty() {
            return Err(Error::invalid_input(format!(
                "{model}: an empty batch writes nothing; pass at least one entity"
            )));
        }
        self.require_table(model).await?;
        // Ids, and one entity per business key (the last one wins).
        let mut rows: Vec<(String, &Map<String, Json>)> = Vec::with_capacity(entities.len());
        let mut by_key: HashMap<&str, usize> =
            HashMap::with_capacity(if entities.len() > 1 { entities.len() } else { 0 });
        let mut order: Vec<usize> = Vec::with_capacity(entities.len());
        for e in entities {
            let key = match model.key_field() {
                Some(k) => Some(dml::key_of(model, k, e)?),
                None => None,
            };
            let id = match e.get("id") {
                Some(v) => dml::given_id(model, v)?,
                None => match key {
                    Some(k) => derived_id(tenant, model.name(), k),
                    None => uuid::Uuid::new_v4().to_string(),
                },
            };
            // One entity cannot repeat a key: no map to build.
            let repeatable = key.filter(|_| entities.len() > 1);
            match repeatable.and_then(|k| by_key.get(k).copied()) {
                Some(i) => {
                    rows[i] = (id, e);
                    order.push(i);
                }
                None => {
                    if let Some(k) = repeatable {
                        by_key.insert(k, rows.len());
                    }
                    order.push(rows.len());
                    rows.push((id, e));
                }
            }
        }
        let dialect = self.db.dialect();
        let must_match = read_first || ids_read_first(entities, embeddings, extra);
        // A row that exists keeps its id: learn it first when embeddings or extra statements
        // written in the same transaction must point at it, or when ids are given (then the
        // row's stored id replaces the given one, so every engine updates the key's row).
        // Otherwise the upsert keeps the stored id by itself, and the ids are read with it.
        if let Some(k) = model.key_field().filter(|_| must_match) {
            let mut existing: HashMap<String, String> = HashMap::new();
            self.read_back_ids(model, tenant, &rows, &mut existing).await?;
            for (id, e) in &mut rows {
                if let Some(found) = e.get(k).and_then(Json::as_str).and_then(|key| existing.get(key)) {
                    id.clone_from(found);
                }
            }
        }
        // Group rows naming the same fields (one statement names one column list); no
        // allocation per row to find its group.
        let mut groups: Vec<(&Map<String, Json>, Vec<dml::UpsertRow<'_>>)> = Vec::new();
        for (id, e) in &rows {
            let row = dml::UpsertRow { id: id.clone(), fields: e };
            match groups.iter_mut().find(|(first, _)| dml::same_fields(first, e)) {
                Some((_, g)) => g.push(row),
                None => groups.push((e, vec![row])),
            }
        }
        let now = Utc::now();
        // Engines that return rows from an upsert (PostgreSQL, SQLite, MariaDB) hand back the
        // ids as stored from the upsert itself; the others read them back with a select in
        // the same transaction.
        let returning = model.key_field().is_some() && dialect.upsert_returning();
        let upsert_statements = |returning: bool| -> Result<Vec<Statement>> {
            let mut out = Vec::new();
            for (_, g) in &groups {
                if dialect.multi_row_upsert() {
                    for chunk in statement_chunks(g) {
                        out.push(self.upsert_texts.upsert(
                            dialect,
                            model,
                            &self.layout,
                            tenant,
                            chunk,
                            now,
                            returning,
                        )?);
                    }
                } else {
                    out.extend(self.upsert_texts.upsert_each(
                        dialect,
                        model,
                        &self.layout,
                        tenant,
                        g,
                        now,
                        returning,
                    )?);
                }
            }
            Ok(out)
        };
        let later_statements = || -> Result<Vec<Statement>> {
            let mut out = Vec::new();
            if let Some(all) = embeddings {
                for (i, vectors) in all.iter().enumerate() {
                    if vectors.is_empty() {
                        continue;
                    }
                    let id = &rows[order[i]].0;
                    let refs: Vec<(&str, &[f32])> = vectors.iter().map(|(f, v)| (f.as_str(), v.as_slice())).collect();
                    out.push(dml::upsert_embeddings(
                        dialect,
                        model,
                        &self.layout,
                        tenant,
                        id,
                        self.embedding_provider(),
                        &refs,
                        now,
                    )?);
                }
            }
            if let Some(f) = extra {
                let ids: Vec<String> = order.iter().map(|&i| rows[i].0.clone()).collect();
                out.extend(f(&ids)?);
            }
            Ok(out)
        };
        let id_rows =
            |results: Vec<Vec<p8fs_sql_dialect::Row>>, n: usize, stored: &mut HashMap<String, String>| -> Result<()> {
                for r in results.into_iter().take(n).flatten() {
                    let (id, key, owner) = dml::stored_id(r)?;
                    // Never another tenant's row (primary keys hold the tenant); checked anyway.
                    if model.tenant_isolated() && owner.is_some_and(|t| t != tenant) {
                        continue;
                    }
                    stored.insert(key, id);
                }
                Ok(())
            };
        // The ids as stored, by key (by id for models without one).
        let mut stored: HashMap<String, String> = HashMap::new();
        if model.key_field().is_none() {
            // Matched by (tenant, id): a row keeps the id it was given.
            let mut stmts = upsert_statements(false)?;
            stmts.extend(later_statements()?);
            match stmts.as_slice() {
                // One statement commits on its own: no BEGIN and COMMIT round trips.
                [one] => self.db.execute(one).await?,
                _ => self.db.execute_in_transaction(&stmts).await?.iter().sum(),
            };
            self.read_back_ids(model, tenant, &rows, &mut stored).await?;
        } else if rows.len() == 1 && !must_match && guard.is_none() {
            // One row and nothing that points at it: one statement in autocommit. A row the
            // upsert refused (its given id names another entity) wrote nothing.
            if returning {
                let stmts = upsert_statements(true)?;
                let mut results = Vec::with_capacity(stmts.len());
                for s in &stmts {
                    results.push(self.db.query(s).await?);
                }
                id_rows(results, stmts.len(), &mut stored)?;
            } else if dialect.upsert_meets_any_unique_key() {
                self.upsert_one_id_guarded(model, tenant, &rows[0], now, &mut stored).await?;
            } else {
                for s in &upsert_statements(false)? {
                    self.db.execute(s).await?;
                }
                self.read_back_ids(model, tenant, &rows, &mut stored).await?;
            }
        } else {
            // Upserts, their ids, then what points at the ids, in one transaction; the ids
            // are checked inside it, so a refused row leaves nothing behind.
            // A guard (the stored edges, locked and checked) goes first.
            let guarded = usize::from(guard.is_some());
            let mut stmts: Vec<Statement> = guard.iter().map(|(g, _)| g.clone()).collect();
            stmts.extend(upsert_statements(returning)?);
            if !returning {
                stmts.extend(self.id_lookups(model, tenant, &rows)?);
            }
            let with_ids = stmts.len() - guarded;
            stmts.extend(later_statements()?);
            let (ids, checked) = id_check(model, tenant, &rows, must_match, with_ids);
            let check: Arc<p8fs_sql_dialect::RowCheck> = match guard {
                None => ids,
                Some((_, g)) => {
                    let g = Arc::clone(g);
                    Arc::new(
                        move |i: usize, got: &[p8fs_sql_dialect::Row]| {
                            if i == 0 { g(0, got) } else { ids(i - 1, got) }
                        },
                    )
                }
            };
            match self.db.query_in_transaction(&stmts, Some(check)).await {
                // The check read every id as stored (and refused the transaction unless all
                // were there): its map is the answer, without reading the rows again.
                Ok(_) => {
                    stored = std::mem::take(
                        &mut *checked.lock().map_err(|_| Error::new(ErrorKind::Database, "id check poisoned"))?,
                    );
                }
                // An executor that returns no rows from transactions (a wrapper that does
                // not pass the call on): the same writes without RETURNING, ids read after
                // the commit. Such an executor cannot roll back a refused row's embeddings.
                Err(e) if e.kind() == ErrorKind::Unsupported => {
                    let mut plain = upsert_statements(false)?;
                    plain.extend(later_statements()?);
                    self.db.execute_in_transaction(&plain).await?;
                    self.read_back_ids(model, tenant, &rows, &mut stored).await?;
                }
                Err(e) => return Err(e),
            }
        }
        let mut ids_by_row = Vec::with_capacity(rows.len());
        for (id, e) in &rows {
            let lookup = match model.key_field() {
                Some(k) => e.get(k).and_then(Json::as_str).unwrap_or_default(),
                None => id.as_str(),
            };
            let found = stored.get(lookup).ok_or_else(|| dml::id_taken(model, lookup, id))?;
            ids_by_row.push(found.clone());
        }
        let affected_rows = stored.len() as u64;
        // One entity per row unless a key repeated (then each entity gets its row's id).
        let ids = if order.len() == ids_by_row.len() && order.iter().enumerate().all(|(n, &i)| n == i) {
            ids_by_row
        } else {
            order.into_iter().map(|i| ids_by_row[i].clone()).collect()
        };
        Ok(UpsertResult { success: true, affected_rows, entity_count: entities.len(), ids })
    }

    /// One keyed entity on the MySQL family without `RETURNING` (TiDB), in autocommit, in
    /// one round trip when it updates its row: the id-guarded upsert
    /// ([`dml::upsert_id_guarded`]) changes the row it meets only if that row has this id
    /// and key, so a count of 2 (updated) says this id is the one stored. Otherwise (a new
    /// row, or the row met left as it was) the stored id is read; a key stored under
    /// another id (given when its row was created), or without a row while its id names
    /// another key's, is refused here with nothing written, and the caller writes it again
    /// reading the stored ids first.
    async fn upsert_one_id_guarded(
        &self,
        model: &Model,
        tenant: &str,
        row: &(String, &Map<String, Json>),
        now: chrono::DateTime<Utc>,
        stored: &mut HashMap<String, String>,
    ) -> Result<()> {
        let dialect = self.db.dialect();
        let k = model
            .key_field()
            .ok_or_else(|| Error::invalid_input(format!("{model}: an id-guarded upsert needs a key field")))?;
        let key = dml::key_of(model, k, row.1)?;
        let one = dml::UpsertRow { id: row.0.clone(), fields: row.1 };
        let s = self.upsert_texts.upsert_id_guarded(dialect, model, &self.layout, tenant, &one, now)?;
        if self.db.execute(&s).await? == 2 {
            stored.insert(key.to_owned(), row.0.clone());
            return Ok(());
        }
        self.read_back_ids(model, tenant, std::slice::from_ref(row), stored).await?;
        if stored.get(key).is_some_and(|found| *found != row.0) {
            return Err(dml::id_taken(model, key, &row.0));
        }
        Ok(())
    }

    /// Reads the stored ids of `rows`, by key (by id for models without one): before a
    /// write whose later statements need them, or after one that returned none.
    async fn read_back_ids(
        &self,
        model: &Model,
        tenant: &str,
        rows: &[(String, &Map<String, Json>)],
        stored: &mut HashMap<String, String>,
    ) -> Result<()> {
        for stmt in self.id_lookups(model, tenant, rows)? {
            for r in self.db.query(&stmt).await? {
                if model.key_field().is_some() {
                    let (id, key, _) = dml::stored_id(r)?;
                    stored.insert(key, id);
                } else {
                    let id = text(r.into_iter().next())?;
                    stored.insert(id.clone(), id);
                }
            }
        }
        Ok(())
    }

    /// The selects that find the stored ids of `rows`, in chunks: `(id, key)` by key, or the
    /// ids that exist for models without a key.
    fn id_lookups(&self, model: &Model, tenant: &str, rows: &[(String, &Map<String, Json>)]) -> Result<Vec<Statement>> {
        let dialect = self.db.dialect();
        match model.key_field() {
            Some(k) => {
                let keys: Vec<&str> = rows.iter().filter_map(|(_, e)| e.get(k).and_then(Json::as_str)).collect();
                keys.chunks(LOOKUP_CHUNK)
                    .map(|chunk| dml::ids_by_keys(dialect, model, &self.layout, tenant, chunk))
                    .collect()
            }
            None => {
                let ids: Vec<&str> = rows.iter().map(|(id, _)| id.as_str()).collect();
                Ok(ids
                    .chunks(LOOKUP_CHUNK)
                    .map(|chunk| dml::existing_ids(dialect, model, &self.layout, tenant, chunk))
                    .collect())
            }
        }
    }

    async fn one(&self, model: &Model, stmt: Statement) -> Result<Option<Map<String, Json>>> {
        let mut rows = self.db.query(&stmt).await?;
        if rows.len() > 1 {
            return Err(Error::new(ErrorKind::Database, format!("{model}: {} rows for one id or key", rows.len())));
        }
        rows.pop().map(|r| decode_row(model, r)).transpose()
    }

    /// One entity by id, in the tenant.
    ///
    /// # Errors
    /// A missing table; the engine's errors.
    pub async fn get(&self, model: &Model, tenant: &str, id: &str) -> Result<Option<Map<String, Json>>> {
        scoped(model, tenant)?;
        self.get_in(model, tenant, id).await
    }

    async fn get_in(&self, model: &Model, tenant: &str, id: &str) -> Result<Option<Map<String, Json>>> {
        self.require_table(model).await?;
        self.one(model, dml::get_by_id(self.db.dialect(), model, &self.layout, tenant, id)).await
    }

    /// One entity by business key, in the tenant.
    ///
    /// # Errors
    /// A model without a key field, a missing table; the engine's errors.
    pub async fn get_by_key(&self, model: &Model, tenant: &str, key: &str) -> Result<Option<Map<String, Json>>> {
        scoped(model, tenant)?;
        self.get_by_key_in(model, tenant, key).await
    }

    async fn get_by_key_in(&self, model: &Model, tenant: &str, key: &str) -> Result<Option<Map<String, Json>>> {
        self.require_table(model).await?;
        let stmt = dml::get_by_key(self.db.dialect(), model, &self.layout, tenant, key)?;
        self.one(model, stmt).await
    }

    /// The tenant's entities matching `query`.
    ///
    /// # Errors
    /// Filter values of the wrong type, a missing table; the engine's errors.
    pub async fn select(&self, model: &Model, tenant: &str, query: &EntityQuery) -> Result<Vec<Map<String, Json>>> {
        scoped(model, tenant)?;
        self.select_in(model, tenant, query).await
    }

    async fn select_in(&self, model: &Model, tenant: &str, query: &EntityQuery) -> Result<Vec<Map<String, Json>>> {
        self.require_table(model).await?;
        let stmt = dml::select(self.db.dialect(), model, &self.layout, tenant, query)?;
        decode_rows(model, self.db.query(&stmt).await?)
    }

    /// Deletes an entity of the tenant and its embeddings, in one transaction; `false`
    /// when there was no such entity.
    ///
    /// # Errors
    /// A missing table; the engine's errors.
    pub async fn delete(&self, model: &Model, tenant: &str, id: &str) -> Result<bool> {
        scoped(model, tenant)?;
        self.delete_in(model, tenant, id).await
    }

    async fn delete_in(&self, model: &Model, tenant: &str, id: &str) -> Result<bool> {
        self.require_table(model).await?;
        let stmts = dml::delete_by_id(self.db.dialect(), model, &self.layout, tenant, id);
        let counts = self.db.execute_in_transaction(&stmts).await?;
        Ok(counts.last().copied().unwrap_or(0) > 0)
    }
}

impl EntityStore {
    /// Writes or replaces an entity's embedding rows (see [`dml::upsert_embeddings`]).
    ///
    /// # Errors
    /// Dimension mismatches and unknown fields (naming field, model, dimensions); the
    /// engine's errors.
    pub async fn upsert_embeddings(
        &self,
        model: &Model,
        tenant: &str,
        entity_id: &str,
        vectors: &[(&str, &[f32])],
    ) -> Result<u64> {
        scoped(model, tenant)?;
        let stmt = dml::upsert_embeddings(
            self.db.dialect(),
            model,
            &self.layout,
            tenant,
            entity_id,
            self.embedding_provider(),
            vectors,
            Utc::now(),
        )?;
        self.db.execute(&stmt).await
    }

    /// Changes an entity's business key; `false` when there is no such entity.
    ///
    /// # Errors
    /// A unique violation when the new key is taken; a model without a key field.
    pub async fn rename_key(&self, model: &Model, tenant: &str, id: &str, new_key: &str) -> Result<bool> {
        scoped(model, tenant)?;
        self.rename_key_in(model, tenant, id, new_key).await
    }

    async fn rename_key_in(&self, model: &Model, tenant: &str, id: &str, new_key: &str) -> Result<bool> {
        if let Some(k) = model.key_field() {
            let probe: Map<String, Json> = [(k.to_owned(), Json::from(new_key))].into_iter().collect();
            dml::key_of(model, k, &probe)?;
        }
        let stmt = dml::rename_key(self.db.dialect(), model, &self.layout, tenant, id, new_key, Utc::now())?;
        Ok(self.db.execute(&stmt).await? > 0)
    }

    /// How many embedding rows an entity has.
    ///
    /// # Errors
    /// The engine's errors.
    pub async fn count_embeddings(&self, model: &Model, tenant: &str, entity_id: &str) -> Result<u64> {
        scoped(model, tenant)?;
        let stmt = dml::count_embeddings(self.db.dialect(), model, &self.layout, tenant, entity_id);
        match self.db.query(&stmt).await?.into_iter().next().and_then(|r| r.into_iter().next()) {
            Some(SqlValue::Int(n)) => Ok(u64::try_from(n).unwrap_or(0)),
            other => Err(Error::decode(format!("COUNT returned {other:?}"))),
        }
    }
}

/// Administrative calls: the global models (shared by every tenant, such as `tenants`),
/// which no tenant's call reaches. Only an operator's tools should hold a store they are
/// called on; every other call refuses global models.
impl EntityStore {
    /// Upserts entities of a global model (as [`EntityStore::batch_upsert`]; their rows
    /// have no tenant).
    ///
    /// # Errors
    /// A tenant-isolated model; as [`EntityStore::batch_upsert`].
    pub async fn admin_batch_upsert(&self, model: &Model, entities: &[Map<String, Json>]) -> Result<UpsertResult> {
        global(model)?;
        self.upsert_inner(model, NO_TENANT, entities, None, None).await
    }

    /// One entity of a global model by id.
    ///
    /// # Errors
    /// A tenant-isolated model, a missing table; the engine's errors.
    pub async fn admin_get(&self, model: &Model, id: &str) -> Result<Option<Map<String, Json>>> {
        global(model)?;
        self.get_in(model, NO_TENANT, id).await
    }

    /// One entity of a global model by business key.
    ///
    /// # Errors
    /// A tenant-isolated model, a model without a key field, a missing table; the
    /// engine's errors.
    pub async fn admin_get_by_key(&self, model: &Model, key: &str) -> Result<Option<Map<String, Json>>> {
        global(model)?;
        self.get_by_key_in(model, NO_TENANT, key).await
    }

    /// The entities of a global model matching `query`.
    ///
    /// # Errors
    /// A tenant-isolated model; as [`EntityStore::select`].
    pub async fn admin_select(&self, model: &Model, query: &EntityQuery) -> Result<Vec<Map<String, Json>>> {
        global(model)?;
        self.select_in(model, NO_TENANT, query).await
    }

    /// Deletes an entity of a global model; `false` when there was none.
    ///
    /// # Errors
    /// A tenant-isolated model, a missing table; the engine's errors.
    pub async fn admin_delete(&self, model: &Model, id: &str) -> Result<bool> {
        global(model)?;
        self.delete_in(model, NO_TENANT, id).await
    }

    /// Changes the business key of an entity of a global model.
    ///
    /// # Errors
    /// A tenant-isolated model; as [`EntityStore::rename_key`].
    pub async fn admin_rename_key(&self, model: &Model, id: &str, new_key: &str) -> Result<bool> {
        global(model)?;
        self.rename_key_in(model, NO_TENANT, id, new_key).await
    }
}

/// The check of an upsert's ids inside its transaction: statements `0..with_ids` return
/// `(id, key[, tenant_id])` rows (the upserts' RETURNING rows, or the read-back selects
/// after upserts that return none); once the last of them has run, every key must be
/// there (a key missing is a row the upsert refused: its given id names another entity),
/// and with `must_match` under the id the statements after them were built with. Rows of
/// another tenant do not count. The map it fills (key to stored id) is the upsert's answer
/// once the transaction commits.
fn id_check(
    model: &Model,
    tenant: &str,
    rows: &[(String, &Map<String, Json>)],
    must_match: bool,
    with_ids: usize,
) -> (Arc<p8fs_sql_dialect::RowCheck>, Arc<std::sync::Mutex<HashMap<String, String>>>) {
    let key_field = model.key_field().unwrap_or("id").to_owned();
    let expected: Vec<(String, String)> = rows
        .iter()
        .map(|(id, e)| (e.get(&key_field).and_then(Json::as_str).unwrap_or_default().to_owned(), id.clone()))
        .collect();
    let model = model.clone();
    let tenant = tenant.to_owned();
    let seen: Arc<std::sync::Mutex<HashMap<String, String>>> =
        Arc::new(std::sync::Mutex::new(HashMap::with_capacity(rows.len())));
    let out = Arc::clone(&seen);
    let check = Arc::new(move |i: usize, got: &[p8fs_sql_dialect::Row]| -> Result<()> {
        if i >= with_ids {
            return Ok(());
        }
        let mut seen = seen.lock().map_err(|_| Error::new(ErrorKind::Database, "id check poisoned"))?;
        if i == 0 {
            // A retried transaction starts over.
            seen.clear();
        }
        for r in got {
            let (id, key, owner) = dml::stored_id_ref(r)?;
            // Never another tenant's row (primary keys hold the tenant; MariaDB's upsert
            // returns the row a primary-key conflict met, which its guard left alone):
            // such a key is not this tenant's, and is refused below as taken.
            if model.tenant_isolated() && owner.is_some_and(|t| t != tenant) {
                continue;
            }
            seen.insert(key.to_owned(), id.to_owned());
        }
        if i + 1 < with_ids {
            return Ok(());
        }
        for (key, id) in &expected {
            match seen.get(key) {
                None => return Err(dml::id_taken(&model, key, id)),
                Some(stored) if must_match && stored != id => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "{model} {key:?} was written by another call at the same time; nothing was written; retry"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    });
    (check, out)
}

/// A Rust type stored as entities of one model: `serde` maps its fields to the model's
/// (the system columns `id`, `tenant_id`, `created_at`, `updated_at` may appear as
/// optional fields and are filled on reads).
pub trait Entity: Serialize + serde::de::DeserializeOwned {
    /// The model of this type.
    fn model() -> Model;
}

fn to_map<T: Serialize>(value: &T) -> Result<Map<String, Json>> {
    match serde_json::to_value(value) {
        Ok(Json::Object(mut m)) => {
            // Absent optional system columns serialize as null: they are not data to write.
            for c in ["tenant_id", "created_at", "updated_at"] {
                m.remove(c);
            }
            if m.get("id").is_some_and(Json::is_null) {
                m.remove("id");
            }
            Ok(m)
        }
        Ok(other) => Err(Error::invalid_input(format!("an entity must serialize to a JSON object, not {other}"))),
        Err(e) => Err(Error::invalid_input(format!("cannot serialize the entity: {e}"))),
    }
}

fn from_map<T: serde::de::DeserializeOwned>(model: &Model, m: Map<String, Json>) -> Result<T> {
    serde_json::from_value(Json::Object(m))
        .map_err(|e| Error::decode(format!("{model}: row does not fit the Rust type: {e}")))
}

impl EntityStore {
    /// Upserts typed entities (see [`EntityStore::batch_upsert`]).
    ///
    /// # Errors
    /// As [`EntityStore::batch_upsert`]; a type that does not serialize to an object.
    pub async fn put<T: Entity>(&self, tenant: &str, entities: &[T]) -> Result<UpsertResult> {
        let maps = entities.iter().map(to_map).collect::<Result<Vec<_>>>()?;
        self.batch_upsert(&T::model(), tenant, &maps).await
    }

    /// Reads a typed entity by id.
    ///
    /// # Errors
    /// As [`EntityStore::get`]; a row that does not deserialize into `T`.
    pub async fn fetch<T: Entity>(&self, tenant: &str, id: &str) -> Result<Option<T>> {
        let m = T::model();
        self.get(&m, tenant, id).await?.map(|row| from_map(&m, row)).transpose()
    }

    /// Reads a typed entity by business key.
    ///
    /// # Errors
    /// As [`EntityStore::get_by_key`]; a row that does not deserialize into `T`.
    pub async fn fetch_by_key<T: Entity>(&self, tenant: &str, key: &str) -> Result<Option<T>> {
        let m = T::model();
        self.get_by_key(&m, tenant, key).await?.map(|row| from_map(&m, row)).transpose()
    }
}

async fn tokio_sleep(d: Duration) {
    tokio::time::sleep(d).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(text_bytes: usize) -> Map<String, Json> {
        let mut m = Map::new();
        m.insert("name".into(), Json::String("n".into()));
        m.insert("content".into(), Json::String("x".repeat(text_bytes)));
        m
    }

    fn sizes(entities: &[Map<String, Json>]) -> Vec<usize> {
        let rows: Vec<dml::UpsertRow<'_>> =
            entities.iter().map(|e| dml::UpsertRow { id: String::new(), fields: e }).collect();
        let chunks: Vec<&[dml::UpsertRow<'_>]> = statement_chunks(&rows).collect();
        // Every row once, in order.
        let ptrs: Vec<*const Map<String, Json>> =
            chunks.iter().flat_map(|c| c.iter().map(|r| r.fields as *const _)).collect();
        let want: Vec<*const Map<String, Json>> = entities.iter().map(|e| e as *const _).collect();
        assert_eq!(ptrs, want);
        chunks.iter().map(|c| c.len()).collect()
    }

    #[test]
    fn statements_are_bounded_by_rows_and_by_bytes() {
        assert!(sizes(&[]).is_empty());
        // Small rows: BATCH_CHUNK per statement.
        let small: Vec<_> = (0..450).map(|_| entity(100)).collect();
        assert_eq!(sizes(&small), [200, 200, 50]);
        // Rows larger than the bound go alone; none is dropped.
        let large: Vec<_> = (0..3).map(|_| entity(BATCH_CHUNK_BYTES + 1)).collect();
        assert_eq!(sizes(&large), [1, 1, 1]);
        // Rows of a third of the bound: three fit (names and keys count too: two then).
        let third: Vec<_> = (0..7).map(|_| entity(BATCH_CHUNK_BYTES / 3)).collect();
        assert_eq!(sizes(&third), [2, 2, 2, 1]);
        // A row of the bound after small ones starts its own statement, and a row after it
        // the next one.
        let mut mixed: Vec<_> = (0..5).map(|_| entity(10)).collect();
        mixed.push(entity(BATCH_CHUNK_BYTES));
        mixed.push(entity(10));
        assert_eq!(sizes(&mixed), [5, 1, 1]);
    }

    #[test]
    fn nested_values_count_their_text() {
        let v = serde_json::json!({"a": ["xx", {"bbb": "yyyy"}], "n": 1, "t": true, "z": null});
        // "a" 1 + ["xx" 2 + {"bbb" 3 + "yyyy" 4 + 2} + 2] + "n" 1 + 8 + "t" 1 + 8 + "z" 1 + 8 + 2
        assert_eq!(value_bytes(&v), 1 + (2 + (3 + 4 + 2) + 2) + 1 + 8 + 1 + 8 + 1 + 8 + 2);
    }
}
