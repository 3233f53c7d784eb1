//! W1: one entity per call.

use anyhow::{Context, Result, ensure};
use p8fs_entity::EntityStore;
use p8fs_sql_dialect::entity::dml;
use p8fs_sql_dialect::model::Model;

use crate::Env;
use crate::harness::{Row, Scale, compare};

use super::items::{OwnStatement, item, items_model, own_statements, peer_upsert_one, run_own};
use super::{Engine, TENANT};

/// W1: one entity per call, p8fs `EntityStore::upsert` against the hand-written prepared
/// upsert on the same pool.
pub(crate) async fn w1_single_upsert(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let model = items_model()?;
    let mut rows = Vec::new();
    for e in Engine::relational(env).await? {
        let store = e.fresh(&[&model]).await?;
        let ops = scale.pick(1000, 10);
        // Half the keys repeat (updates), half are new (inserts), on both sides alike.
        let key = |i: usize| if i.is_multiple_of(2) { i / 2 % 50 } else { 1000 + i };
        let c = compare(
            scale,
            ops,
            async |i| {
                store.upsert(&model, TENANT, &item("p8fs", key(i))).await?;
                Ok(())
            },
            async |i| peer_upsert_one(&e, "peer", key(i)).await,
        )
        .await?;
        let a = store.get_by_key(&model, TENANT, "p8fs-3").await?.context("p8fs row")?;
        let b = store.get_by_key(&model, TENANT, "peer-3").await?.context("peer row")?;
        ensure!(a["summary"] == b["summary"], "the two sides wrote different rows");
        let stats = store.cache().stats();
        let mut row =
            Row::from(scale, "W1", e.name, "hand-written prepared upsert, same pool", &c, ops, ">= 0.95x", Some(0.95))
                .note(format!("metadata cache: {} hits, {} misses over the run", stats.hits, stats.misses))
                .note(statements_note(&e, &store, &model).await?);
        // TiDB returns no rows from an upsert: p8fs sends one statement for an update and
        // two for an insert there (the upsert, then a read of the stored id; see the W1
        // tidb row's explanation), so there is no single statement to send by hand.
        if e.name != "tidb" {
            // p8fs's own statement for each call, built before timing, sent by hand: what
            // p8fs adds over its statement, and what the statement's form costs. Every
            // side writes keys of its own, so each inserts and updates alike.
            let calls = (ops / 10).max(1) + scale.rounds * ops;
            let own = |prefix: &str, returning: bool| -> Result<Vec<Vec<OwnStatement>>> {
                (0..calls).map(|i| own_statements(&e, &store, &model, &[item(prefix, key(i))], returning)).collect()
            };
            let (own_a, own_b, plain_a, plain_b) =
                (own("own", true)?, own("own2", true)?, own("plain", false)?, own("plain2", false)?);
            let by_hand = compare(
                scale,
                ops,
                async |i| {
                    store.upsert(&model, TENANT, &item("p8fs2", key(i))).await?;
                    Ok(())
                },
                async |i| run_own(&e, &own_a[i]).await,
            )
            .await?;
            let returning =
                compare(scale, ops, async |i| run_own(&e, &own_b[i]).await, async |i| run_own(&e, &plain_a[i]).await)
                    .await?
                    .ratio();
            let form = compare(
                scale,
                ops,
                async |i| run_own(&e, &plain_b[i]).await,
                async |i| peer_upsert_one(&e, "peer2", key(i)).await,
            )
            .await?
            .ratio();
            row = row.note(format!(
                "decomposed in the same run: p8fs / its own statement sent by hand {:.3}; its statement with RETURNING / \
                 without {returning:.3}; its statement without RETURNING / the hand-written statement {form:.3}",
                by_hand.ratio()
            ));
            rows.push(row);
            rows.push(Row::from(
                scale,
                "W1",
                &format!("{}, own statement", e.name),
                "p8fs's own statement (same text and values, built before timing) sent by hand",
                &by_hand,
                ops,
                ">= 0.95x",
                Some(0.95),
            ));
        } else {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// What p8fs sends for one upsert (the statement text, for the report).
async fn statements_note(e: &Engine, store: &EntityStore, model: &Model) -> Result<String> {
    let entity = item("x", 1);
    let row = dml::UpsertRow { id: "x".into(), fields: &entity };
    let s = dml::upsert(e.exec.dialect(), model, store.layout(), TENANT, std::slice::from_ref(&row), chrono_now())?;
    Ok(format!("p8fs upsert statement: {}", s.sql))
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}
