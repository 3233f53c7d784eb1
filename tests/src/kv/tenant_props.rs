//! Tenant walls as a property (proptest): random sequences of puts, batch puts, deletes,
//! prefix deletes, gets, batch gets and scans by several tenants whose ids are each
//! other's prefixes, padded, dotted, percent-encoded or non-ASCII, over keys with `/`,
//! `..`, `%2F`, spaces and non-ASCII. After every operation the store must answer exactly
//! what a model (one map per tenant) answers: a tenant never sees, changes or deletes
//! another tenant's keys, and an operation the store refuses changes nothing.
//!
//! proptest generates and shrinks the sequences (`crate::props`); a failure reports the
//! smallest sequence found and the seed. `P8FS_TEST_PROPTEST_CASES` sets the number of
//! sequences (default 24).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use p8fs_kv::{Key, Kv, TenantId};
use proptest::prelude::*;

use super::store;
use crate::harness::Ctx;

/// Tenant id suffixes (after this run's scratch name): prefixes of each other, padding,
/// dots, separators and encodings. Some are invalid ids, refused when the id is made.
const TENANTS: &[&str] = &["", "0", "00", ".", " ", "/x", "..", "%2F", "é", "e\u{301}", "A", "a b", "_"];
/// Keys: separators, dot segments, encodings, padding, non-ASCII, one long key.
const KEYS: &[&str] = &["k", "k/", "/k", "k/x", "k/../k", "..", "k%2F", "k ", " k", "é", "kk", "0", "", "k/./x"];

#[derive(Debug, Clone)]
enum Op {
    Put(usize, usize),
    BatchPut(usize, Vec<usize>),
    Delete(usize, usize),
    DeletePrefix(usize, usize),
    Get(usize, usize),
    BatchGet(usize, Vec<usize>),
    Scan(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let t = 0..TENANTS.len();
    let k = 0..KEYS.len() + 1;
    prop_oneof![
        4 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Put(t, k)),
        2 => (t.clone(), prop::collection::vec(k.clone(), 1..5)).prop_map(|(t, ks)| Op::BatchPut(t, ks)),
        2 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Delete(t, k)),
        1 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::DeletePrefix(t, k)),
        3 => (t.clone(), k.clone()).prop_map(|(t, k)| Op::Get(t, k)),
        2 => (t.clone(), prop::collection::vec(k.clone(), 1..5)).prop_map(|(t, ks)| Op::BatchGet(t, ks)),
        3 => (t, k).prop_map(|(t, k)| Op::Scan(t, k)),
    ]
}

/// The key at `i`; the last index is a 300-character key.
fn key(i: usize) -> String {
    KEYS.get(i).map_or_else(|| "y".repeat(300), |k| (*k).to_owned())
}

/// Runs `ops` against fresh tenants (`{scratch}r{run}{suffix}`) and the model; the first
/// disagreement is the error.
async fn run_ops(kv: &Kv, scratch: &str, run: usize, ops: &[Op]) -> Result<()> {
    // The model: per tenant index, key -> value.
    let mut model: BTreeMap<usize, BTreeMap<String, Vec<u8>>> = BTreeMap::new();
    // The run number ends at `-`, so run 1 tenant "0" is not run 10 tenant "".
    let tenant = |t: usize| TenantId::new(format!("{scratch}r{run}-{}", TENANTS[t]));
    let valid = |k: &str| Key::new(k).is_ok();
    for (n, op) in ops.iter().enumerate() {
        let t = match op {
            Op::Put(t, _)
            | Op::BatchPut(t, _)
            | Op::Delete(t, _)
            | Op::DeletePrefix(t, _)
            | Op::Get(t, _)
            | Op::BatchGet(t, _)
            | Op::Scan(t, _) => *t,
        };
        let Ok(id) = tenant(t) else {
            // An invalid tenant id never reaches the store.
            continue;
        };
        let s = kv.tenant(&id);
        let m = model.entry(t).or_default();
        let value = format!("{t}:{n}").into_bytes();
        match op {
            Op::Put(_, k) => {
                let k = key(*k);
                match s.put(&k, &value, None).await {
                    Ok(()) if valid(&k) => {
                        m.insert(k, value);
                    }
                    Ok(()) => bail!("op {n}: put of the invalid key {k:?} was accepted"),
                    Err(e) if !valid(&k) => drop(e),
                    Err(e) => bail!("op {n}: put {k:?} refused: {e}"),
                }
            }
            Op::BatchPut(_, ks) => {
                let keys: Vec<String> = ks.iter().map(|k| key(*k)).collect();
                let entries: Vec<(&str, &[u8])> = keys.iter().map(|k| (k.as_str(), value.as_slice())).collect();
                let all_valid = keys.iter().all(|k| valid(k));
                match s.batch_put(&entries, None).await {
                    Ok(()) if all_valid => {
                        for k in keys {
                            m.insert(k, value.clone());
                        }
                    }
                    Ok(()) => bail!("op {n}: a batch with an invalid key was accepted: {keys:?}"),
                    Err(e) if !all_valid => drop(e),
                    Err(e) => bail!("op {n}: batch put {keys:?} refused: {e}"),
                }
            }
            Op::Delete(_, k) => {
                let k = key(*k);
                match s.delete(&k).await {
                    Ok(()) if valid(&k) => {
                        m.remove(&k);
                    }
                    Ok(()) => bail!("op {n}: delete of the invalid key {k:?} was accepted"),
                    Err(e) if !valid(&k) => drop(e),
                    Err(e) => bail!("op {n}: delete {k:?} refused: {e}"),
                }
            }
            Op::DeletePrefix(_, k) => {
                let p = key(*k);
                match s.delete_prefix(&p).await {
                    Ok(deleted) => {
                        let gone: Vec<String> = m.keys().filter(|x| x.starts_with(&p)).cloned().collect();
                        if deleted != gone.len() {
                            bail!("op {n}: delete_prefix({p:?}) deleted {deleted}, the tenant had {}", gone.len());
                        }
                        for g in gone {
                            m.remove(&g);
                        }
                    }
                    // The empty prefix is refused; so may be prefixes no key could start.
                    Err(e) if p.is_empty() || !valid(&p) => drop(e),
                    Err(e) => bail!("op {n}: delete_prefix({p:?}) refused: {e}"),
                }
            }
            Op::Get(_, k) => {
                let k = key(*k);
                match s.get(&k).await {
                    Ok(got) => {
                        if got.as_ref() != m.get(&k) {
                            bail!(
                                "op {n}: get {k:?} answered {:?}, the tenant holds {:?}",
                                show(&got),
                                show(&m.get(&k).cloned())
                            );
                        }
                    }
                    Err(e) if !valid(&k) => drop(e),
                    Err(e) => bail!("op {n}: get {k:?} refused: {e}"),
                }
            }
            Op::BatchGet(_, ks) => {
                let keys: Vec<String> = ks.iter().map(|k| key(*k)).collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                match s.batch_get(&refs).await {
                    Ok(got) => {
                        let got: BTreeMap<String, Vec<u8>> = got.into_iter().map(|p| (p.key, p.value)).collect();
                        let want: BTreeMap<String, Vec<u8>> =
                            keys.iter().filter_map(|k| m.get(k).map(|v| (k.clone(), v.clone()))).collect();
                        if got != want {
                            bail!(
                                "op {n}: batch get {keys:?} answered {:?}, the tenant holds {:?}",
                                got.keys(),
                                want.keys()
                            );
                        }
                    }
                    Err(e) if !keys.iter().all(|k| valid(k)) => drop(e),
                    Err(e) => bail!("op {n}: batch get {keys:?} refused: {e}"),
                }
            }
            Op::Scan(_, k) => {
                let p = key(*k);
                match s.scan_prefix(&p, 1000, None).await {
                    Ok(page) => {
                        let got: Vec<(&str, &[u8])> =
                            page.entries.iter().map(|e| (e.key.as_str(), e.value.as_slice())).collect();
                        let want: Vec<(&str, &[u8])> = m
                            .iter()
                            .filter(|(x, _)| x.starts_with(&p))
                            .map(|(x, v)| (x.as_str(), v.as_slice()))
                            .collect();
                        if got != want {
                            let g: Vec<&str> = got.iter().map(|(k, _)| *k).collect();
                            let w: Vec<&str> = want.iter().map(|(k, _)| *k).collect();
                            bail!("op {n}: scan {p:?} answered {g:?}, the tenant holds {w:?}");
                        }
                    }
                    Err(e) if !valid(&p) && !p.is_empty() => drop(e),
                    Err(e) => bail!("op {n}: scan {p:?} refused: {e}"),
                }
            }
        }
    }
    // Finally every tenant's whole namespace is its model, nothing more.
    for (t, m) in &model {
        let s = kv.tenant(&tenant(*t)?);
        let page = s.scan_prefix("", 1000, None).await?;
        let got: Vec<&str> = page.entries.iter().map(|e| e.key.as_str()).collect();
        let want: Vec<&str> = m.keys().map(String::as_str).collect();
        if got != want {
            bail!("at the end, tenant {:?} holds {got:?}, its model {want:?}", TENANTS[*t]);
        }
        for g in got {
            s.delete(g).await.ok();
        }
    }
    Ok(())
}

fn show(v: &Option<Vec<u8>>) -> Option<String> {
    v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

fn sequences() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..30)
}

pub(crate) async fn random_operations_by_many_tenants_never_cross_the_walls(ctx: Ctx) -> Result<()> {
    let kv = store(&ctx).await?;
    let (kv, scratch) = (&kv, ctx.scratch.as_str());
    crate::props::check_sequences("tenant walls broken", crate::props::cases(24), sequences, |run, ops| async move {
        run_ops(kv, scratch, run, &ops).await
    })
    .await
}
