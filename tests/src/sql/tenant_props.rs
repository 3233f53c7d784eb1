//! Tenant walls of the SQL side as a property (proptest): random sequences of entity
//! stores, reads by name, filtered selects, deletes, probes with another tenant's ids,
//! vector, text and hybrid searches and REM `LOOKUP`s, by tenants whose ids are each other's
//! prefixes, differ in case only, or are padded, dotted, percent-encoded or non-ASCII, over names with
//! `LIKE` wildcards, quotes, `..`, `/`, case and normalization twins. After every operation
//! the answer must be what a model (one map of name to entity per tenant) says: a tenant
//! never sees, finds, changes or deletes another tenant's entities, through any of these
//! APIs, and a refused operation changes nothing. At the end each tenant's table rows are
//! exactly its model. Each sequence uses fresh tenants, so sequences do not meet.
//!
//! Sequences are generated and shrunk by `crate::props` (`P8FS_TEST_PROPTEST_CASES`, 12 by
//! default here: each operation is a few statements on a real server).

use std::collections::BTreeMap;

use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use async_trait::async_trait;
use p8fs_core::sql::entity::SearchOptions;
use p8fs_core::{Fusion, P8fs, QueryMode};
use p8fs_kv::TenantId;
use p8fs_server::auth::TokenSet;
use p8fs_server::{Metrics, ServerConfig};
use p8fs_sql_dialect::entity::EntityQuery;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::core_api::{answered_or_refused, obj, with_core};
use crate::harness::Ctx;
use crate::proxy::RunningProxy;

const TYPE: &str = "resources";
/// Tenant id suffixes (after this run's scratch name and `-`): prefixes of each other, case
/// twins, dots and the other punctuation ids may hold; padding, separators, encodings and
/// non-ASCII, which are invalid ids (refused: ids are ASCII letters, digits and `-_.:@+=~`).
const TENANTS: &[&str] = &["", "0", "00", "..", "A", "a", "_", "a+", "a:", "a ", "/x", "%2F", "é"];
/// Names: case and normalization twins, `LIKE` wildcards, quotes, dot segments, slashes,
/// padding (refused), one long name.
const NAMES: &[&str] =
    &["doc", "Doc", "doc ", "d%c", "d_c", "x' OR '1'='1", "../doc", "doc/1", "é", "e\u{301}", "do", "docs"];

#[derive(Debug, Clone)]
enum Op {
    /// Store (insert or update) the named entity.
    Store(usize, usize),
    /// Read it by name (the reverse mapping, then the row).
    Get(usize, usize),
    /// Select by `name` equal to it.
    Select(usize, usize),
    /// Delete it by its id.
    Delete(usize, usize),
    /// From the first tenant, read and delete the second tenant's entity of that name by
    /// its id (taken from the second tenant's own answer).
    Probe(usize, usize, usize),
    /// Search by the word of a tenant (maybe another's), in a mode, with a limit.
    Search(usize, usize, usize, usize),
    /// REM `LOOKUP "name"`.
    Lookup(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS.len();
    let n = 0..NAMES.len() + 1;
    prop_oneof![
        8 => (t.clone(), n.clone()).prop_map(|(t, n)| Op::Store(t, n)),
        2 => (t.clone(), n.clone()).prop_map(|(t, n)| Op::Get(t, n)),
        2 => (t.clone(), n.clone()).prop_map(|(t, n)| Op::Select(t, n)),
        2 => (t.clone(), n.clone()).prop_map(|(t, n)| Op::Delete(t, n)),
        2 => (t.clone(), t.clone(), n.clone()).prop_map(|(a, b, n)| Op::Probe(a, b, n)),
        3 => (t.clone(), t.clone(), 0..3usize, 1..6usize).prop_map(|(t, w, m, l)| Op::Search(t, w, m, l)),
        2 => (t, n).prop_map(|(t, n)| Op::Lookup(t, n)),
    ]
}

fn sequences() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60)
}

/// The name at `i`; the last index is a 200-character name.
fn name(i: usize) -> String {
    NAMES.get(i).map_or_else(|| "ä".repeat(200), |n| (*n).to_owned())
}

/// The word only tenant `t`'s entities hold (letters only: every engine's word split keeps it).
fn word(t: usize) -> String {
    let letters: String =
        t.to_string().chars().map(|d| char::from(b'a' + d.to_digit(10).map_or(0, |x| x as u8))).collect();
    format!("tenantword{letters}")
}

/// One stored entity in the model.
#[derive(Debug, Clone)]
struct Held {
    id: String,
    content: String,
}

/// The entity's content and id from an answer.
fn content(e: &Map<String, Value>) -> Option<&str> {
    e.get("content").and_then(Value::as_str)
}

fn id(e: &Map<String, Value>) -> Option<&str> {
    e.get("id").and_then(Value::as_str)
}

type Entity = Map<String, Value>;

/// What a tenant can do, through one surface: the `P8fs` API, or the proxy's HTTP routes.
/// `Ok(None)` is a refusal as bad input (an invalid tenant or name); `Err` is anything
/// else, which fails the property.
#[async_trait]
trait Api: Send + Sync {
    /// Stores `name` in tenant `t`; its id.
    async fn store(&self, t: usize, name: &str, content: &str) -> Result<Option<String>>;
    /// Reads `name` (the reverse mapping, then the row).
    async fn get(&self, t: usize, name: &str) -> Result<Option<Option<Entity>>>;
    /// Selects by `name` equal to it, or every entity (`None`).
    async fn select(&self, t: usize, name: Option<&str>) -> Result<Option<Vec<Entity>>>;
    /// Deletes by id; whether the tenant had it.
    async fn delete(&self, t: usize, id: &str) -> Result<Option<bool>>;
    /// Reads by storage key (`resources/ID`).
    async fn by_storage_key(&self, t: usize, id: &str) -> Result<Option<Vec<Entity>>>;
    async fn search(&self, t: usize, query: &str, mode: QueryMode, limit: usize) -> Result<Option<Vec<Entity>>>;
    /// REM `LOOKUP "name"`: the ids found.
    async fn lookup(&self, t: usize, name: &str) -> Result<Option<Vec<String>>>;
    /// Whether tenant `attacker`'s credentials are refused on tenant `victim`'s routes
    /// (the proxy's token binding; the `P8fs` API has no credentials: always true).
    async fn foreign_refused(&self, attacker: usize, victim: usize, name: &str) -> Result<bool>;
}

/// The `P8fs` API.
struct Direct<'a> {
    p: &'a P8fs,
    tenants: Vec<String>,
}

#[async_trait]
impl Api for Direct<'_> {
    async fn store(&self, t: usize, name: &str, content: &str) -> Result<Option<String>> {
        let data = obj(json!({"content": content}));
        Ok(answered_or_refused(
            "store_entity_with_reverse_mapping",
            self.p.store_entity_with_reverse_mapping(name, TYPE, data, &self.tenants[t]).await,
        )?
        .map(|s| s.id))
    }
    async fn get(&self, t: usize, name: &str) -> Result<Option<Option<Entity>>> {
        answered_or_refused("get_entity_by_name", self.p.get_entity_by_name(name, TYPE, &self.tenants[t]).await)
    }
    async fn select(&self, t: usize, name: Option<&str>) -> Result<Option<Vec<Entity>>> {
        let model = self.p.model(TYPE)?;
        let filters = name.map(|n| obj(json!({"name": n}))).unwrap_or_default();
        let q = EntityQuery::parse(&model, &filters, &[], Some(1000), None)?;
        answered_or_refused("select", self.p.select(TYPE, &self.tenants[t], &q).await)
    }
    async fn delete(&self, t: usize, id: &str) -> Result<Option<bool>> {
        answered_or_refused("delete_entity", self.p.delete_entity(TYPE, id, &self.tenants[t]).await)
    }
    async fn by_storage_key(&self, t: usize, id: &str) -> Result<Option<Vec<Entity>>> {
        answered_or_refused(
            "get_entities_by_storage_key",
            self.p.get_entities_by_storage_key(&format!("{TYPE}/{id}"), &self.tenants[t]).await,
        )
    }
    async fn search(&self, t: usize, query: &str, mode: QueryMode, limit: usize) -> Result<Option<Vec<Entity>>> {
        let opts = SearchOptions { limit, ..SearchOptions::default() };
        let found = answered_or_refused(
            "search",
            self.p.search(TYPE, &self.tenants[t], query, mode, &opts, Fusion::default()).await,
        )?;
        Ok(found.map(|f| f.hits.into_iter().map(|h| h.entity).collect()))
    }
    async fn lookup(&self, t: usize, name: &str) -> Result<Option<Vec<String>>> {
        let query = format!("LOOKUP \"{}\"", name.replace('"', "\"\""));
        Ok(answered_or_refused("rem", self.p.rem(&query, &self.tenants[t]).await)?
            .map(|a| a.results.into_iter().map(|h| h.id).collect()))
    }
    async fn foreign_refused(&self, _attacker: usize, _victim: usize, _name: &str) -> Result<bool> {
        Ok(true)
    }
}

/// The proxy's entity and REM routes over HTTP, each tenant with its own token (tenants
/// whose ids are invalid use tenant 0's).
struct Http {
    base: String,
    client: reqwest::Client,
    tenants: Vec<String>,
    tokens: Vec<String>,
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Http {
    fn url(&self, t: usize, rest: &str) -> String {
        format!("{}/v1/entities/{}/{rest}", self.base, segment(&self.tenants[t]))
    }

    /// Sends a request as tenant `as_t`: the JSON answer of a 2xx, `None` for a 4xx, an
    /// error for anything else.
    async fn send(
        &self,
        method: reqwest::Method,
        url: String,
        as_t: usize,
        body: Option<Value>,
    ) -> Result<Option<Value>> {
        let mut req = self.client.request(method, &url).bearer_auth(&self.tokens[as_t]);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status();
        let text = r.text().await?;
        if status.is_success() {
            return Ok(Some(serde_json::from_str(&text).with_context(|| format!("{url}: {text}"))?));
        }
        let v: Value =
            serde_json::from_str(&text).with_context(|| format!("{url}: {status} without the JSON error: {text}"))?;
        ensure!(v.pointer("/error/code").is_some(), "{url}: {status} {text}");
        if status.is_client_error() {
            return Ok(None);
        }
        bail!("{url}: {status} {text}")
    }

    fn entities(v: Option<Value>, key: &str) -> Result<Option<Vec<Entity>>> {
        let Some(v) = v else { return Ok(None) };
        let list = v.get(key).and_then(Value::as_array).with_context(|| format!("no {key:?} in {v}"))?;
        Ok(Some(list.iter().filter_map(Value::as_object).cloned().collect()))
    }
}

#[async_trait]
impl Api for Http {
    async fn store(&self, t: usize, name: &str, content: &str) -> Result<Option<String>> {
        let body = json!({"name": name, "data": {"content": content}});
        let v = self.send(reqwest::Method::PUT, self.url(t, TYPE), t, Some(body)).await?;
        Ok(v.and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned)))
    }
    async fn get(&self, t: usize, name: &str) -> Result<Option<Option<Entity>>> {
        let url = self.url(t, &format!("{TYPE}/name/{}", segment(name)));
        // A missing entity answers 404: found nothing, when the tenant is valid.
        let r = self.client.get(&url).bearer_auth(&self.tokens[t]).send().await?;
        let status = r.status();
        let v: Value = serde_json::from_str(&r.text().await?)?;
        if status == reqwest::StatusCode::NOT_FOUND && v.pointer("/error/code") == Some(&json!("not_found")) {
            return Ok(Some(None));
        }
        if status.is_client_error() {
            return Ok(None);
        }
        ensure!(status.is_success(), "{url}: {status} {v}");
        Ok(Some(v.get("entity").and_then(Value::as_object).cloned()))
    }
    async fn select(&self, t: usize, name: Option<&str>) -> Result<Option<Vec<Entity>>> {
        let filters = name.map(|n| json!({"name": n})).unwrap_or_else(|| json!({}));
        let body = json!({"filters": filters, "limit": 1000});
        let v = self.send(reqwest::Method::POST, self.url(t, &format!("{TYPE}/select")), t, Some(body)).await?;
        Self::entities(v, "entities")
    }
    async fn delete(&self, t: usize, id: &str) -> Result<Option<bool>> {
        let v = self.send(reqwest::Method::DELETE, self.url(t, &format!("{TYPE}/id/{}", segment(id))), t, None).await?;
        Ok(v.and_then(|v| v.get("deleted").and_then(Value::as_bool)))
    }
    async fn by_storage_key(&self, t: usize, id: &str) -> Result<Option<Vec<Entity>>> {
        let url = format!("{}?key={}", self.url(t, "storage-key"), segment(&format!("{TYPE}/{id}")));
        let v = self.send(reqwest::Method::GET, url, t, None).await?;
        Self::entities(v, "entities")
    }
    async fn search(&self, t: usize, query: &str, mode: QueryMode, limit: usize) -> Result<Option<Vec<Entity>>> {
        let body = json!({"query": query, "limit": limit, "mode": mode});
        let v = self.send(reqwest::Method::POST, self.url(t, &format!("{TYPE}/search")), t, Some(body)).await?;
        let Some(v) = v else { return Ok(None) };
        let hits = v.get("hits").and_then(Value::as_array).with_context(|| format!("no hits in {v}"))?;
        Ok(Some(hits.iter().filter_map(|h| h.get("entity").and_then(Value::as_object)).cloned().collect()))
    }
    async fn lookup(&self, t: usize, name: &str) -> Result<Option<Vec<String>>> {
        let query = format!("LOOKUP \"{}\"", name.replace('"', "\"\""));
        let url = format!("{}/v1/rem/{}", self.base, segment(&self.tenants[t]));
        let v = self.send(reqwest::Method::POST, url, t, Some(json!({"query": query}))).await?;
        let Some(v) = v else { return Ok(None) };
        let results = v.get("results").and_then(Value::as_array).with_context(|| format!("no results in {v}"))?;
        Ok(Some(results.iter().filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_owned)).collect()))
    }
    async fn foreign_refused(&self, attacker: usize, victim: usize, name: &str) -> Result<bool> {
        let url = self.url(victim, &format!("{TYPE}/name/{}", segment(name)));
        let r = self.client.get(&url).bearer_auth(&self.tokens[attacker]).send().await?;
        Ok(r.status() == reqwest::StatusCode::FORBIDDEN)
    }
}

struct Run<'a> {
    api: &'a dyn Api,
    run: usize,
    /// Whether tenant ids are valid (an invalid one is refused everywhere).
    valid: Vec<bool>,
    /// Per tenant index: name -> entity.
    model: BTreeMap<usize, BTreeMap<String, Held>>,
}

impl Run<'_> {
    /// Fails unless every entity in `found` is one of tenant `t`'s current entities (by id
    /// and content): nothing of another tenant, nothing deleted.
    fn only_own(&self, n: usize, what: &str, t: usize, found: &[&Map<String, Value>]) -> Result<()> {
        let mine = self.model.get(&t);
        for e in found {
            let held = mine.and_then(|m| m.values().find(|h| Some(h.id.as_str()) == id(e)));
            match held {
                Some(h) if Some(h.content.as_str()) == content(e) => {}
                _ => bail!("op {n}: {what} by tenant {:?} answered an entity it does not hold: {e:?}", TENANTS[t]),
            }
        }
        Ok(())
    }

    async fn apply(&mut self, n: usize, op: &Op) -> Result<()> {
        let api = self.api;
        match *op {
            Op::Store(t, i) => {
                let name = name(i);
                let content = format!("{} m{t}r{}n{n}", word(t), self.run);
                match api.store(t, &name, &content).await.with_context(|| format!("op {n}: store {name:?}"))? {
                    Some(id) => {
                        let m = self.model.entry(t).or_default();
                        if let Some(old) = m.get(&name)
                            && old.id != id
                        {
                            bail!("op {n}: storing {name:?} again made a new id {id} (was {})", old.id);
                        }
                        m.insert(name, Held { id, content });
                    }
                    None if self.valid[t] && name.trim() == name => {
                        bail!("op {n}: storing {name:?} for {:?} refused", TENANTS[t])
                    }
                    // Refused (a padded name, an invalid tenant id): checked to change
                    // nothing by the reads that follow and the final check.
                    None => {}
                }
            }
            Op::Get(t, i) => {
                let name = name(i);
                let want = self.model.get(&t).and_then(|m| m.get(&name));
                match api.get(t, &name).await.with_context(|| format!("op {n}: get {name:?}"))? {
                    Some(got) => {
                        let got_content = got.as_ref().and_then(content);
                        if got_content != want.map(|h| h.content.as_str()) {
                            bail!(
                                "op {n}: get {name:?} by {:?} answered {got_content:?}, the tenant holds {:?}",
                                TENANTS[t],
                                want.map(|h| &h.content)
                            );
                        }
                    }
                    None if want.is_some() => bail!("op {n}: get {name:?} refused though stored"),
                    None => {}
                }
            }
            Op::Select(t, i) => {
                let name = name(i);
                let want = self.model.get(&t).and_then(|m| m.get(&name));
                match api.select(t, Some(&name)).await.with_context(|| format!("op {n}: select {name:?}"))? {
                    Some(rows) => {
                        let got: Vec<&str> = rows.iter().filter_map(content).collect();
                        let want: Vec<&str> = want.map(|h| h.content.as_str()).into_iter().collect();
                        if got != want {
                            bail!("op {n}: select name = {name:?} by {:?} answered {got:?}, want {want:?}", TENANTS[t]);
                        }
                    }
                    None if want.is_some() => bail!("op {n}: select {name:?} refused though stored"),
                    None => {}
                }
            }
            Op::Delete(t, i) => {
                let name = name(i);
                let Some(held) = self.model.get(&t).and_then(|m| m.get(&name)).cloned() else { return Ok(()) };
                let deleted = api.delete(t, &held.id).await.with_context(|| format!("op {n}: delete"))?;
                if deleted != Some(true) {
                    bail!("op {n}: deleting {name:?} of {:?} by its id answered {deleted:?}", TENANTS[t]);
                }
                self.model.entry(t).or_default().remove(&name);
            }
            Op::Probe(a, b, i) => {
                let name = name(i);
                // The attacker's credentials on every other tenant's routes, held or not.
                for other in (0..TENANTS.len()).filter(|&o| o != a && self.valid[o] && self.valid[a]) {
                    if !api.foreign_refused(a, other, &name).await? {
                        bail!(
                            "op {n}: {:?}'s credentials were not refused on {:?}'s routes",
                            TENANTS[a],
                            TENANTS[other]
                        );
                    }
                }
                let Some(victim) = self.model.get(&b).and_then(|m| m.get(&name)).cloned() else { return Ok(()) };
                if a == b {
                    return Ok(());
                }
                if let Some(found) = api.by_storage_key(a, &victim.id).await?
                    && !found.is_empty()
                {
                    bail!("op {n}: {:?} read {:?}'s entity by its id: {found:?}", TENANTS[a], TENANTS[b]);
                }
                if api.delete(a, &victim.id).await? == Some(true) {
                    bail!("op {n}: {:?} deleted {:?}'s entity {name:?} by its id", TENANTS[a], TENANTS[b]);
                }
                // Whatever the attacker did, the victim still has it, unchanged.
                let got = api.get(b, &name).await?.flatten();
                if got.as_ref().and_then(content) != Some(victim.content.as_str()) {
                    bail!("op {n}: after {:?}'s probe, {:?}'s {name:?} is {got:?}", TENANTS[a], TENANTS[b]);
                }
            }
            Op::Search(t, w, mode, limit) => {
                let mode = [QueryMode::Vector, QueryMode::Text, QueryMode::Hybrid][mode];
                let Some(hits) =
                    api.search(t, &word(w), mode, limit).await.with_context(|| format!("op {n}: search"))?
                else {
                    return Ok(());
                };
                let hits: Vec<&Entity> = hits.iter().collect();
                self.only_own(n, &format!("{mode:?} search for {:?}", word(w)), t, &hits)?;
                let held = self.model.get(&t).map_or(0, BTreeMap::len);
                // Every entity of the tenant holds its own word: a search for it, or by
                // meaning, finds up to the limit; another tenant's word finds nothing by text.
                let want = match mode {
                    QueryMode::Text if w != t => 0,
                    _ => held.min(limit),
                };
                if hits.len() != want {
                    bail!(
                        "op {n}: {mode:?} search for {:?} by {:?} (limit {limit}) found {} entities, want {want} \
                         (the tenant holds {held})",
                        word(w),
                        TENANTS[t],
                        hits.len()
                    );
                }
            }
            Op::Lookup(t, i) => {
                let name = name(i);
                let want = self.model.get(&t).and_then(|m| m.get(&name)).map(|h| h.id.clone());
                match api.lookup(t, &name).await.with_context(|| format!("op {n}: lookup {name:?}"))? {
                    Some(got) => {
                        let want: Vec<String> = want.into_iter().collect();
                        if got != want {
                            bail!("op {n}: LOOKUP {name:?} by {:?} answered ids {got:?}, want {want:?}", TENANTS[t]);
                        }
                    }
                    None if want.is_some() => bail!("op {n}: LOOKUP {name:?} refused though stored"),
                    None => {}
                }
            }
        }
        Ok(())
    }

    /// Every tenant's rows are its model, nothing more; a tenant that was never written
    /// holds nothing (or is refused).
    async fn check_all(&self) -> Result<()> {
        for (t, suffix) in TENANTS.iter().enumerate() {
            let want: BTreeMap<&str, &str> = self
                .model
                .get(&t)
                .map(|m| m.values().map(|h| (h.id.as_str(), h.content.as_str())).collect())
                .unwrap_or_default();
            let Some(rows) = self.api.select(t, None).await? else {
                ensure!(want.is_empty(), "at the end, tenant {suffix:?} could not be read");
                continue;
            };
            let got: BTreeMap<&str, &str> = rows.iter().filter_map(|r| Some((id(r)?, content(r)?))).collect();
            if got != want {
                bail!("at the end, tenant {suffix:?} holds {got:?}, its model {want:?}");
            }
        }
        Ok(())
    }
}

/// Deletes every entity of every tenant: each sequence starts empty.
async fn clear(api: &dyn Api) -> Result<()> {
    for t in 0..TENANTS.len() {
        for e in api.select(t, None).await?.unwrap_or_default() {
            if let Some(id) = id(&e) {
                api.delete(t, id).await?;
            }
        }
    }
    Ok(())
}

/// Runs the sequences through `api`.
async fn check(what: &str, api: &dyn Api, valid: Vec<bool>) -> Result<()> {
    crate::props::check_sequences(what, crate::props::cases(12), sequences, |run, ops| {
        let valid = valid.clone();
        async move {
            clear(api).await?;
            let mut r = Run { api, run, valid, model: BTreeMap::new() };
            for (n, op) in ops.iter().enumerate() {
                r.apply(n, op).await?;
            }
            r.check_all().await
        }
    })
    .await
}

/// The tenants of a test: `{scratch}-{suffix}`, and which are valid ids.
fn tenants(scratch: &str) -> (Vec<String>, Vec<bool>) {
    let ids: Vec<String> = TENANTS.iter().map(|s| format!("{scratch}-{s}")).collect();
    let valid = ids.iter().map(|t| TenantId::new(t.as_str()).is_ok()).collect();
    (ids, valid)
}

pub(crate) async fn random_operations_by_many_tenants_never_cross_the_walls(ctx: Ctx) -> Result<()> {
    let (ids, valid) = tenants(&ctx.scratch);
    with_core(&ctx, async |p| {
        let api = Direct { p, tenants: ids };
        check("SQL tenant walls broken", &api, valid).await
    })
    .await
}

/// The same property through the proxy's entity and REM routes (HTTP on loopback, a
/// token per tenant), over this backend's `P8fs`.
pub(crate) async fn random_operations_over_http_never_cross_the_walls(ctx: Ctx) -> Result<()> {
    let (ids, valid) = tenants(&ctx.scratch);
    let (p, sql) = super::core_api::open_core(&ctx.env, &ctx.scratch).await?;
    let result = async {
        p.migrate().await?;
        let mut tokens = Vec::new();
        let mut lines = String::new();
        for (t, id) in ids.iter().enumerate() {
            let token = format!("tenant-walls-token-{t:04}-{}", uuid::Uuid::new_v4().simple());
            if valid[t] {
                lines.push_str(&format!("{token} {id}\n"));
                tokens.push(token);
            } else {
                // An invalid tenant cannot be granted: such calls go with tenant 0's token.
                tokens.push(tokens.first().cloned().unwrap_or_default());
            }
        }
        let cfg = ServerConfig {
            tokens: Some(TokenSet::parse(&lines).map_err(anyhow::Error::msg)?),
            ..ServerConfig::default()
        };
        let limits = cfg.limits;
        let metrics = Arc::new(Metrics::default());
        let router = p8fs_server::router_with_entities(Arc::new(p), cfg, Arc::clone(&metrics));
        let proxy = RunningProxy::start_router(router, limits, metrics).await?;
        let api = Http { base: proxy.base_url(), client: reqwest::Client::new(), tenants: ids, tokens };
        let r = check("tenant walls broken over HTTP", &api, valid).await;
        proxy.stop().await;
        r
    }
    .await;
    super::drop_schemas(sql.as_ref(), &ctx.scratch).await?;
    result
}
