//! [`ReverseMap`].

use std::collections::{BTreeMap, BTreeSet};

use p8fs_kv::{Kv, KvError, KvPair, Result, ScanPage, TenantId, TenantKv};
use serde::{Deserialize, Serialize};

#[cfg(feature = "sql")]
use p8fs_kv::{Key, SqlStore};
#[cfg(feature = "sql")]
use p8fs_sql_dialect::{SqlExecutor, Statement};
#[cfg(feature = "sql")]
use std::sync::Arc;

/// One entity's mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The human name ("UserManual", "Sarah Chen").
    pub name: String,
    /// The entity type (the model's name).
    pub entity_type: String,
    /// The entity's primary key, as a string.
    pub entity_key: String,
    /// The table the entity lives in (equals the type's table).
    pub table_name: String,
}

impl Mapping {
    /// The mapping of an entity whose table is its type's (as for every p8fs model):
    /// `table_name` is `entity_type`.
    pub fn new(name: impl Into<String>, entity_type: impl Into<String>, entity_key: impl Into<String>) -> Self {
        let entity_type = entity_type.into();
        Self { name: name.into(), table_name: entity_type.clone(), entity_type, entity_key: entity_key.into() }
    }
}

/// Payload of `{name}/{entity_type}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameEntry {
    /// The type.
    pub entity_type: String,
    /// The name.
    pub entity_name: String,
    /// The key.
    pub entity_key: String,
}

/// Payload of `{entity_type}/{name}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeEntry {
    /// The key.
    pub entity_key: String,
    /// The table.
    pub table_name: String,
    /// The tenant.
    pub tenant_id: String,
    /// The type.
    pub entity_type: String,
    /// The name.
    pub name: String,
}

/// Payload of `reverse/{entity_key}/{entity_type}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseEntry {
    /// The name.
    pub name: String,
    /// The type.
    pub entity_type: String,
    /// The table.
    pub table_name: String,
}

/// What [`ReverseMap::repair`] did (or [`ReverseMap::verify`] would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Complete mappings found.
    pub consistent: usize,
    /// Mappings with missing keys, rewritten whole.
    pub completed: Vec<Mapping>,
    /// Keys that point at entities that no longer exist, or disagree with the entity's
    /// reverse key (left by a failed rename), deleted.
    pub removed_keys: Vec<String>,
}

impl RepairReport {
    /// Whether nothing needed fixing.
    pub fn is_clean(&self) -> bool {
        self.completed.is_empty() && self.removed_keys.is_empty()
    }
}

/// Percent-escapes `%` and `/` (the separator); anything else is kept, so names without
/// them produce exactly the replaced system's keys.
pub fn escape(s: &str) -> String {
    if !s.contains(['/', '%']) {
        return s.to_owned();
    }
    s.replace('%', "%25").replace('/', "%2F")
}

fn unescape(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    s.replace("%2F", "/").replace("%2f", "/").replace("%25", "%")
}

fn name_key(m: &Mapping) -> String {
    format!("{}/{}", escape(&m.name), escape(&m.entity_type))
}

fn type_key(m: &Mapping) -> String {
    format!("{}/{}", escape(&m.entity_type), escape(&m.name))
}

fn reverse_key(m: &Mapping) -> String {
    format!("reverse/{}/{}", escape(&m.entity_key), escape(&m.entity_type))
}

fn json<T: Serialize>(key: &str, v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|source| KvError::Serde { key: key.to_owned(), source })
}

fn parse<T: for<'de> Deserialize<'de>>(p: &KvPair) -> Option<T> {
    serde_json::from_slice(&p.value).ok()
}

/// Tells repair whether an entity still exists. Plain closures `Fn(&str, &str) -> bool`
/// implement it; asynchronous checks (a database lookup) implement it directly.
#[async_trait::async_trait]
pub trait EntityCheck: Send + Sync {
    /// Whether the entity of `entity_type` with `entity_key` exists.
    async fn exists(&self, entity_type: &str, entity_key: &str) -> bool;
}

#[async_trait::async_trait]
impl<F: Fn(&str, &str) -> bool + Send + Sync> EntityCheck for F {
    async fn exists(&self, entity_type: &str, entity_key: &str) -> bool {
        self(entity_type, entity_key)
    }
}

/// Most entries read when walking all of a tenant's mappings (verify, repair).
const WALK_MAX: usize = 1_000_000;

/// Most mappings in one KV batch or one call's statements (three keys each), further
/// bounded by the backend's [`p8fs_kv::Capability::max_batch`].
const MAPPINGS_PER_BATCH: usize = 300;

/// The reverse mappings of a KV store.
#[derive(Debug, Clone)]
pub struct ReverseMap {
    kv: Kv,
    /// Set when the KV store is a table of a SQL database ([`ReverseMap::in_database`]):
    /// mapping keys can then commit in that database's transactions.
    #[cfg(feature = "sql")]
    sql: Option<SqlStore>,
}

impl ReverseMap {
    /// Mappings kept in `kv`.
    pub fn new(kv: Kv) -> Self {
        Self {
            kv,
            #[cfg(feature = "sql")]
            sql: None,
        }
    }

    /// Mappings kept in the KV table of the SQL database `db` (created if missing), so
    /// that [`ReverseMap::put_statements`] can put them in `db`'s transactions (feature
    /// `sql`).
    ///
    /// # Errors
    /// The database's errors creating the KV table.
    #[cfg(feature = "sql")]
    pub async fn in_database(db: Arc<dyn SqlExecutor>) -> Result<Self> {
        let store = SqlStore::open(db).await?;
        Ok(Self { kv: Kv::new(Arc::new(store.clone())), sql: Some(store) })
    }

    /// The KV store the mappings live in.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// Whether mappings can commit in `db`'s transactions: they live in `db`'s KV table
    /// ([`ReverseMap::in_database`] on this very executor).
    #[cfg(feature = "sql")]
    pub fn commits_with(&self, db: &Arc<dyn SqlExecutor>) -> bool {
        self.sql.as_ref().is_some_and(|s| s.runs_on(db))
    }

    /// The statements that write `mappings` (their three keys each) into the KV table, for
    /// a caller that runs them in its own transaction so the mappings commit with its rows
    /// (feature `sql`). The entries pass the KV check layer first
    /// ([`SqlStore::put_statements`]): nothing is returned for a mapping the store could not
    /// hold.
    ///
    /// # Errors
    /// As [`ReverseMap::check`]; [`KvError::Unsupported`] when the mappings do not live in
    /// a SQL database ([`ReverseMap::in_database`]).
    #[cfg(feature = "sql")]
    pub fn put_statements(&self, tenant: &str, mappings: &[Mapping]) -> Result<Vec<Statement>> {
        let store = self
            .sql
            .as_ref()
            .ok_or(KvError::Unsupported { backend: "reverse-map", what: "statements without a SQL KV store" })?;
        let t = self.tenant(tenant)?;
        let per_call = self.per_batch();
        let mut out = Vec::new();
        for chunk in mappings.chunks(per_call) {
            let entries = Self::payloads(tenant, chunk)?
                .into_iter()
                .map(|(k, v)| Ok((Key::new(k)?, v)))
                .collect::<Result<Vec<_>>>()?;
            out.extend(store.put_statements(t.namespace(), &entries, None)?);
        }
        Ok(out)
    }

    /// Mappings per KV batch: whole mappings, within the backend's batch limit.
    fn per_batch(&self) -> usize {
        (self.kv.capability().max_batch / 3).clamp(1, MAPPINGS_PER_BATCH)
    }

    /// The keys and payloads of `mappings`, each checked with [`ReverseMap::validate`]: the
    /// one place a mapping's payloads are built.
    fn payloads(tenant: &str, mappings: &[Mapping]) -> Result<Vec<(String, Vec<u8>)>> {
        let mut entries = Vec::with_capacity(mappings.len() * 3);
        for m in mappings {
            Self::validate(m)?;
            entries.extend(Self::entries(tenant, m)?);
        }
        Ok(entries)
    }

    fn tenant(&self, tenant: &str) -> Result<TenantKv> {
        Ok(self.kv.tenant(&TenantId::new(tenant)?))
    }

    /// The three keys and payloads of a mapping, in the order they are written.
    ///
    /// # Errors
    /// [`KvError::Serde`] (never for these plain structs).
    pub fn entries(tenant: &str, m: &Mapping) -> Result<Vec<(String, Vec<u8>)>> {
        let nk = name_key(m);
        let tk = type_key(m);
        let rk = reverse_key(m);
        let name = NameEntry {
            entity_type: m.entity_type.clone(),
            entity_name: m.name.clone(),
            entity_key: m.entity_key.clone(),
        };
        let ty = TypeEntry {
            entity_key: m.entity_key.clone(),
            table_name: m.table_name.clone(),
            tenant_id: tenant.to_owned(),
            entity_type: m.entity_type.clone(),
            name: m.name.clone(),
        };
        let rev =
            ReverseEntry { name: m.name.clone(), entity_type: m.entity_type.clone(), table_name: m.table_name.clone() };
        // Reverse key last: its presence marks a complete mapping for `verify`.
        Ok(vec![(nk.clone(), json(&nk, &name)?), (tk.clone(), json(&tk, &ty)?), (rk.clone(), json(&rk, &rev)?)])
    }

    /// Checks that a mapping names what it must (a name, an entity type and an entity key).
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] naming the empty part.
    pub fn validate(m: &Mapping) -> Result<()> {
        for (what, v) in [("name", &m.name), ("entity type", &m.entity_type), ("entity key", &m.entity_key)] {
            if v.is_empty() {
                return Err(KvError::InvalidArgument { message: format!("a mapping needs a non-empty {what}") });
            }
        }
        Ok(())
    }

    /// Checks that `m` can be stored for `tenant` (a valid tenant, a complete mapping, keys
    /// and payloads within the KV store's limits), as [`ReverseMap::store`] would, without
    /// writing: for a caller that must know before it commits the entity.
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] for an incomplete mapping; the KV check layer's errors
    /// (invalid tenant or key, a key or payload too large).
    pub fn check(&self, tenant: &str, m: &Mapping) -> Result<()> {
        let t = self.tenant(tenant)?;
        let entries = Self::payloads(tenant, std::slice::from_ref(m))?;
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        t.check_batch_put(&refs, None).map(|_| ())
    }

    /// Stores a mapping: its three keys in one batch request. Idempotent.
    ///
    /// # Errors
    /// Invalid tenants or keys; the KV backend's errors (then nothing or part of the batch
    /// is written, which a retry or [`ReverseMap::repair`] completes).
    pub async fn store(&self, tenant: &str, m: &Mapping) -> Result<()> {
        self.store_batch(tenant, std::slice::from_ref(m)).await
    }

    /// Stores many mappings: whole mappings per KV batch request (up to 300, within the
    /// backend's batch limit), so each mapping's three keys go in one request. Idempotent.
    ///
    /// # Errors
    /// As [`ReverseMap::store`]. Every mapping is checked for completeness before anything
    /// is written; each request passes the KV check layer, so a mapping the store cannot
    /// hold fails its request after the earlier ones were written (check each mapping with
    /// [`ReverseMap::check`] first, as `p8fs-core` does before it commits an entity).
    pub async fn store_batch(&self, tenant: &str, mappings: &[Mapping]) -> Result<()> {
        let t = self.tenant(tenant)?;
        let entries = Self::payloads(tenant, mappings)?;
        let refs: Vec<(&str, &[u8])> = entries.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
        for chunk in refs.chunks(self.per_batch() * 3) {
            t.batch_put(chunk, None).await?;
        }
        Ok(())
    }

    /// Every entity called `name`, of any type.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn lookup_by_name(&self, tenant: &str, name: &str) -> Result<Vec<NameEntry>> {
        let t = self.tenant(tenant)?;
        let prefix = format!("{}/", escape(name));
        let all = t.scan_prefix_all(&prefix, WALK_MAX).await?;
        // The prefix also matches type keys of a type spelled like the name, and reverse
        // keys for the name "reverse": only name entries for exactly this name count.
        Ok(all
            .iter()
            .filter(|p| !p.key[prefix.len()..].contains('/'))
            .filter_map(parse::<NameEntry>)
            .filter(|e| e.entity_name == name)
            .collect())
    }

    /// The entity of `entity_type` called `name`.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn lookup(&self, tenant: &str, entity_type: &str, name: &str) -> Result<Option<TypeEntry>> {
        let t = self.tenant(tenant)?;
        let key = format!("{}/{}", escape(entity_type), escape(name));
        Ok(t.get(&key).await?.and_then(|v| serde_json::from_slice::<TypeEntry>(&v).ok()))
    }

    /// The name of the entity with `entity_key` of `entity_type`.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn reverse(&self, tenant: &str, entity_key: &str, entity_type: &str) -> Result<Option<ReverseEntry>> {
        let t = self.tenant(tenant)?;
        let key = format!("reverse/{}/{}", escape(entity_key), escape(entity_type));
        Ok(t.get(&key).await?.and_then(|v| serde_json::from_slice::<ReverseEntry>(&v).ok()))
    }

    /// One page of the entities of `entity_type`, by name; pass `next` back as `after`.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn list_by_type(
        &self,
        tenant: &str,
        entity_type: &str,
        limit: usize,
        after: Option<&str>,
    ) -> Result<(Vec<TypeEntry>, Option<String>)> {
        let t = self.tenant(tenant)?;
        let prefix = format!("{}/", escape(entity_type));
        let ScanPage { entries, next } = t.scan_prefix(&prefix, limit, after).await?;
        let list = entries
            .iter()
            .filter(|p| !p.key[prefix.len()..].contains('/'))
            .filter_map(parse::<TypeEntry>)
            .filter(|e| e.entity_type == entity_type)
            .collect();
        Ok((list, next))
    }

    /// Deletes a mapping's three keys (one batch). Idempotent.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn delete(&self, tenant: &str, m: &Mapping) -> Result<()> {
        let t = self.tenant(tenant)?;
        let keys = [name_key(m), type_key(m), reverse_key(m)];
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        t.batch_delete(&refs).await
    }

    /// Renames an entity: the new keys are written first (one batch, the reverse key now
    /// naming the new name), then the old name's keys are deleted. A crash in between
    /// leaves old keys that disagree with the reverse key; [`ReverseMap::repair`] removes
    /// them.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn rename(&self, tenant: &str, m: &Mapping, new_name: &str) -> Result<Mapping> {
        let renamed = Mapping { name: new_name.to_owned(), ..m.clone() };
        self.store(tenant, &renamed).await?;
        if renamed.name != m.name {
            let t = self.tenant(tenant)?;
            let keys = [name_key(m), type_key(m)];
            let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
            t.batch_delete(&refs).await?;
        }
        Ok(renamed)
    }

    /// What [`ReverseMap::repair`] would do, without doing it. `exists(type, key)` says
    /// whether the entity still exists in its table.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn verify(&self, tenant: &str, exists: &dyn EntityCheck) -> Result<RepairReport> {
        self.walk(tenant, exists, false).await
    }

    /// Makes the tenant's mappings consistent: completes mappings whose reverse key exists
    /// but whose other keys are missing or stale, and deletes keys of entities that no
    /// longer exist or that disagree with their entity's reverse key.
    ///
    /// # Errors
    /// The KV backend's errors.
    pub async fn repair(&self, tenant: &str, exists: &dyn EntityCheck) -> Result<RepairReport> {
        self.walk(tenant, exists, true).await
    }

    async fn walk(&self, tenant: &str, exists: &dyn EntityCheck, fix: bool) -> Result<RepairReport> {
        let t = self.tenant(tenant)?;
        let all: BTreeMap<String, Vec<u8>> =
            t.scan_prefix_all("", WALK_MAX).await?.into_iter().map(|p| (p.key, p.value)).collect();
        let mut report = RepairReport::default();
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        let mut to_write: Vec<Mapping> = Vec::new();
        // The reverse keys are the truth: one per (entity, type).
        for (k, v) in all.range("reverse/".to_owned()..) {
            let Some(rest) = k.strip_prefix("reverse/") else { break };
            let Some((ek, et)) = rest.rsplit_once('/') else { continue };
            let Ok(rev) = serde_json::from_slice::<ReverseEntry>(v) else { continue };
            let m = Mapping {
                name: rev.name,
                entity_type: unescape(et),
                entity_key: unescape(ek),
                table_name: rev.table_name,
            };
            if !exists.exists(&m.entity_type, &m.entity_key).await {
                report.removed_keys.push(k.clone());
                continue;
            }
            let entries = Self::entries(tenant, &m)?;
            let complete = entries.iter().all(|(key, val)| all.get(key).is_some_and(|have| payload_eq(have, val)));
            for (key, _) in &entries {
                wanted.insert(key.clone());
            }
            if complete {
                report.consistent += 1;
            } else {
                report.completed.push(m.clone());
                to_write.push(m);
            }
        }
        // Name and type keys that no reverse key vouches for.
        for (k, v) in &all {
            if k.starts_with("reverse/") || wanted.contains(k) {
                continue;
            }
            let is_mapping =
                serde_json::from_slice::<NameEntry>(v).is_ok() || serde_json::from_slice::<TypeEntry>(v).is_ok();
            if is_mapping && k.matches('/').count() == 1 {
                report.removed_keys.push(k.clone());
            }
        }
        if fix {
            self.store_batch(tenant, &to_write).await?;
            for chunk in report.removed_keys.chunks(500) {
                let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                t.batch_delete(&refs).await?;
            }
        }
        Ok(report)
    }
}

/// Payloads are equal as JSON (key order and whitespace of other writers do not matter).
fn payload_eq(a: &[u8], b: &[u8]) -> bool {
    match (serde_json::from_slice::<serde_json::Value>(a), serde_json::from_slice::<serde_json::Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_replaced_systems_bytes() {
        let m = Mapping {
            name: "UserManual".into(),
            entity_type: "document".into(),
            entity_key: "doc456".into(),
            table_name: "document".into(),
        };
        let e = ReverseMap::entries("tenant-1", &m).unwrap();
        assert_eq!(e[0].0, "UserManual/document");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&e[0].1).unwrap(),
            serde_json::json!({"entity_type": "document", "entity_name": "UserManual", "entity_key": "doc456"})
        );
        assert_eq!(e[1].0, "document/UserManual");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&e[1].1).unwrap(),
            serde_json::json!({"entity_key": "doc456", "table_name": "document", "tenant_id": "tenant-1", "entity_type": "document", "name": "UserManual"})
        );
        assert_eq!(e[2].0, "reverse/doc456/document");
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&e[2].1).unwrap(),
            serde_json::json!({"name": "UserManual", "entity_type": "document", "table_name": "document"})
        );
    }

    fn map() -> (tempfile::TempDir, ReverseMap) {
        let dir = tempfile::tempdir().unwrap();
        let store = p8fs_kv::EmbeddedStore::open(dir.path().join("kv.redb")).unwrap();
        (dir, ReverseMap::new(Kv::new(std::sync::Arc::new(store))))
    }

    #[tokio::test]
    async fn store_batch_writes_every_mapping_whole_across_requests() {
        let (_dir, map) = map();
        // More mappings than one request holds: 300 per request.
        let ms: Vec<Mapping> = (0..700).map(|i| Mapping::new(format!("n{i}"), "document", format!("k{i}"))).collect();
        map.store_batch("t1", &ms).await.unwrap();
        for m in [&ms[0], &ms[299], &ms[300], &ms[699]] {
            assert_eq!(map.lookup("t1", "document", &m.name).await.unwrap().unwrap().entity_key, m.entity_key);
            assert_eq!(map.reverse("t1", &m.entity_key, "document").await.unwrap().unwrap().name, m.name);
        }
        let report = map.verify("t1", &|_: &str, _: &str| true).await.unwrap();
        assert!(report.is_clean() && report.consistent == 700, "{report:?}");
        // Another tenant, whose id extends this one's, sees none of them.
        assert!(map.lookup("t10", "document", "n1").await.unwrap().is_none());
        assert!(map.lookup_by_name("t1x", "n1").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_bad_mapping_or_tenant_writes_nothing() {
        let (_dir, map) = map();
        let good = Mapping::new("Good", "document", "g1");
        let incomplete = Mapping::new("", "document", "e1");
        let e = map.store_batch("t1", &[good.clone(), incomplete.clone()]).await.unwrap_err();
        assert_eq!(e.kind(), p8fs_kv::KvErrorKind::InvalidArgument, "{e}");
        assert!(map.lookup("t1", "document", "Good").await.unwrap().is_none(), "a refused batch wrote");
        assert_eq!(map.check("t1", &incomplete).unwrap_err().kind(), p8fs_kv::KvErrorKind::InvalidArgument);
        for tenant in ["", "a/b", "../t1", "scan"] {
            assert!(map.store_batch(tenant, std::slice::from_ref(&good)).await.is_err(), "{tenant:?}");
            assert!(map.check(tenant, &good).is_err(), "{tenant:?}");
        }
        // A key the store cannot hold is refused by the KV check layer, before any write.
        let long = Mapping::new("x".repeat(9000), "document", "l1");
        assert_eq!(map.check("t1", &long).unwrap_err().kind(), p8fs_kv::KvErrorKind::TooLarge);
        assert!(map.check("t1", &good).is_ok());
        assert!(
            map.kv().tenant(&TenantId::new("t1").unwrap()).scan_prefix("", 10, None).await.unwrap().entries.is_empty()
        );
    }

    #[test]
    fn new_mappings_live_in_their_types_table() {
        let m = Mapping::new("Sarah Chen", "user", "u1");
        assert_eq!((m.table_name.as_str(), m.entity_type.as_str()), ("user", "user"));
    }

    #[test]
    fn only_separators_are_escaped() {
        assert_eq!(escape("Sarah Chen"), "Sarah Chen");
        assert_eq!(escape("a/b%c"), "a%2Fb%25c");
        assert_eq!(unescape(&escape("a/b%c%2F")), "a/b%c%2F");
    }
}
