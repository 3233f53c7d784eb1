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

use anyhow::{Context, Result, bail};
use p8fs_core::sql::entity::SearchOptions;
use p8fs_core::{Fusion, P8fs, QueryMode};
use p8fs_kv::TenantId;
use p8fs_sql_dialect::entity::EntityQuery;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::core_api::{obj, with_core};
use crate::harness::Ctx;

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

struct Run<'a> {
    p: &'a P8fs,
    scratch: &'a str,
    run: usize,
    /// Per tenant index: name -> entity.
    model: BTreeMap<usize, BTreeMap<String, Held>>,
}

impl Run<'_> {
    fn tenant(&self, t: usize) -> String {
        // The run number ends at `-`, so run 1 tenant "0" is not run 10 tenant "".
        format!("{}r{}-{}", self.scratch, self.run, TENANTS[t])
    }

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
        let p = self.p;
        match *op {
            Op::Store(t, i) => {
                let (tenant, name) = (self.tenant(t), name(i));
                let content = format!("{} m{t}r{}n{n}", word(t), self.run);
                let stored =
                    p.store_entity_with_reverse_mapping(&name, TYPE, obj(json!({"content": content})), &tenant);
                match stored.await {
                    Ok(stored) => {
                        let m = self.model.entry(t).or_default();
                        if let Some(old) = m.get(&name)
                            && old.id != stored.id
                        {
                            bail!("op {n}: storing {name:?} again made a new id {} (was {})", stored.id, old.id);
                        }
                        m.insert(name, Held { id: stored.id, content });
                    }
                    Err(e) if TenantId::new(tenant.as_str()).is_ok() && name.trim() == name => {
                        bail!("op {n}: storing {name:?} for {:?} refused: {e}", TENANTS[t])
                    }
                    // Refused (a padded name, an invalid tenant id): checked to change
                    // nothing by the reads that follow and the final check.
                    Err(_) => {}
                }
            }
            Op::Get(t, i) => {
                let (tenant, name) = (self.tenant(t), name(i));
                let want = self.model.get(&t).and_then(|m| m.get(&name));
                match p.get_entity_by_name(&name, TYPE, &tenant).await {
                    Ok(got) => {
                        let got_content = got.as_ref().and_then(content);
                        if got_content != want.map(|h| h.content.as_str()) {
                            bail!(
                                "op {n}: get {name:?} by {:?} answered {got_content:?}, the tenant holds {:?}",
                                TENANTS[t],
                                want.map(|h| &h.content)
                            );
                        }
                    }
                    Err(e) if want.is_some() => bail!("op {n}: get {name:?} refused though stored: {e}"),
                    Err(_) => {}
                }
            }
            Op::Select(t, i) => {
                let (tenant, name) = (self.tenant(t), name(i));
                let model = p.model(TYPE)?;
                let q = EntityQuery::parse(&model, &obj(json!({"name": name})), &[], None, None)?;
                let want = self.model.get(&t).and_then(|m| m.get(&name));
                match p.select(TYPE, &tenant, &q).await {
                    Ok(rows) => {
                        let got: Vec<&str> = rows.iter().filter_map(content).collect();
                        let want: Vec<&str> = want.map(|h| h.content.as_str()).into_iter().collect();
                        if got != want {
                            bail!("op {n}: select name = {name:?} by {:?} answered {got:?}, want {want:?}", TENANTS[t]);
                        }
                    }
                    Err(e) if want.is_some() => bail!("op {n}: select {name:?} refused though stored: {e}"),
                    Err(_) => {}
                }
            }
            Op::Delete(t, i) => {
                let (tenant, name) = (self.tenant(t), name(i));
                let Some(held) = self.model.get(&t).and_then(|m| m.get(&name)).cloned() else { return Ok(()) };
                let deleted = p.delete_entity(TYPE, &held.id, &tenant).await.context(format!("op {n}: delete"))?;
                if !deleted {
                    bail!("op {n}: deleting {name:?} of {:?} by its id deleted nothing", TENANTS[t]);
                }
                self.model.entry(t).or_default().remove(&name);
            }
            Op::Probe(a, b, i) => {
                let name = name(i);
                let Some(victim) = self.model.get(&b).and_then(|m| m.get(&name)).cloned() else { return Ok(()) };
                if a == b {
                    return Ok(());
                }
                let attacker = self.tenant(a);
                let storage_key = format!("{TYPE}/{}", victim.id);
                if let Ok(found) = p.get_entities_by_storage_key(&storage_key, &attacker).await
                    && !found.is_empty()
                {
                    bail!("op {n}: {:?} read {:?}'s entity by its id: {found:?}", TENANTS[a], TENANTS[b]);
                }
                if let Ok(true) = p.delete_entity(TYPE, &victim.id, &attacker).await {
                    bail!("op {n}: {:?} deleted {:?}'s entity {name:?} by its id", TENANTS[a], TENANTS[b]);
                }
                // Whatever the attacker did, the victim still has it, unchanged.
                let got = p.get_entity_by_name(&name, TYPE, &self.tenant(b)).await?;
                if got.as_ref().and_then(content) != Some(victim.content.as_str()) {
                    bail!("op {n}: after {:?}'s probe, {:?}'s {name:?} is {got:?}", TENANTS[a], TENANTS[b]);
                }
            }
            Op::Search(t, w, mode, limit) => {
                let tenant = self.tenant(t);
                let mode = [QueryMode::Vector, QueryMode::Text, QueryMode::Hybrid][mode];
                let opts = SearchOptions { limit, ..SearchOptions::default() };
                let Ok(found) = p.search(TYPE, &tenant, &word(w), mode, &opts, Fusion::default()).await else {
                    return Ok(());
                };
                let hits: Vec<&Map<String, Value>> = found.hits.iter().map(|h| &h.entity).collect();
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
                let (tenant, name) = (self.tenant(t), name(i));
                let query = format!("LOOKUP \"{}\"", name.replace('"', "\"\""));
                let want = self.model.get(&t).and_then(|m| m.get(&name)).map(|h| h.id.clone());
                match p.rem(&query, &tenant).await {
                    Ok(answer) => {
                        let got: Vec<&str> = answer.results.iter().map(|h| h.id.as_str()).collect();
                        let want: Vec<&str> = want.iter().map(String::as_str).collect();
                        if got != want {
                            bail!("op {n}: {query} by {:?} answered ids {got:?}, want {want:?}", TENANTS[t]);
                        }
                    }
                    Err(e) if want.is_some() => bail!("op {n}: {query} refused though stored: {e}"),
                    Err(_) => {}
                }
            }
        }
        Ok(())
    }

    /// Every tenant's rows are its model, nothing more; a tenant that was never written
    /// holds nothing (or is refused).
    async fn check_all(&self) -> Result<()> {
        let model = self.p.model(TYPE)?;
        let all = EntityQuery::parse(&model, &Map::new(), &[], Some(1000), None)?;
        for (t, suffix) in TENANTS.iter().enumerate() {
            let want: BTreeMap<&str, &str> = self
                .model
                .get(&t)
                .map(|m| m.values().map(|h| (h.id.as_str(), h.content.as_str())).collect())
                .unwrap_or_default();
            let rows = match self.p.select(TYPE, &self.tenant(t), &all).await {
                Ok(rows) => rows,
                Err(_) if want.is_empty() => continue,
                Err(e) => bail!("at the end, tenant {suffix:?} could not be read: {e}"),
            };
            let got: BTreeMap<&str, &str> = rows.iter().filter_map(|r| Some((id(r)?, content(r)?))).collect();
            if got != want {
                bail!("at the end, tenant {suffix:?} holds {got:?}, its model {want:?}");
            }
        }
        Ok(())
    }
}

pub(crate) async fn random_operations_by_many_tenants_never_cross_the_walls(ctx: Ctx) -> Result<()> {
    let scratch = ctx.scratch.clone();
    with_core(&ctx, async |p| {
        let scratch = scratch.as_str();
        crate::props::check_sequences(
            "SQL tenant walls broken",
            crate::props::cases(12),
            sequences,
            |run, ops| async move {
                let mut r = Run { p, scratch, run, model: BTreeMap::new() };
                for (n, op) in ops.iter().enumerate() {
                    r.apply(n, op).await?;
                }
                r.check_all().await
            },
        )
        .await
    })
    .await
}
