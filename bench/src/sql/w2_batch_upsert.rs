//! W2: 1,000 rows per call, against a multi-row statement, PostgreSQL COPY and one
//! prepared statement per row.

use anyhow::Result;
use p8fs_postgres::PgProvider;
use p8fs_tidb::mysql_async::prelude::Queryable;
use serde_json::{Map, Value};

use crate::Env;
use crate::harness::{Row, Scale, compare};

use super::items::{
    OwnStatement, PeerRow, id_for, item, items_model, own_statements, peer_inputs, peer_upsert_one, run_own,
};
use super::{Engine, Pool, TENANT};

/// W2: 1,000 rows per call. Peers: one hand-written multi-row statement; PostgreSQL binary
/// COPY (into a staging table, then one upsert from it); one prepared statement per row.
pub(crate) async fn w2_batch_upsert(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let model = items_model()?;
    let n = scale.pick(1000, 20);
    let ops = scale.pick(30, 1);
    let mut rows = Vec::new();
    for e in Engine::relational(env).await? {
        let store = e.fresh(&[&model]).await?;
        // The inputs of both sides are built before timing (three rotating batches): what
        // is measured is the write, not the making of JSON maps or tuples.
        let batches: Vec<Vec<Map<String, Value>>> =
            (0..3).map(|k| (0..n).map(|j| item(&format!("p8fs{k}"), j)).collect()).collect();
        let peer_batches: Vec<Vec<PeerRow>> = (0..3).map(|k| peer_inputs(&format!("peer{k}"), n)).collect();
        // Multi-row.
        let c = compare(
            scale,
            ops,
            async |i| {
                store.batch_upsert(&model, TENANT, &batches[i % 3]).await?;
                Ok(())
            },
            async |i| peer_multi_row(&e, &peer_batches[i % 3]).await,
        )
        .await?;
        rows.push(Row::from(
            scale,
            "W2",
            &format!("{} multi-row x{n}", e.name),
            "hand-written multi-row statement",
            &c,
            ops,
            ">= 0.95x",
            Some(0.95),
        ));
        // p8fs's own statements (the same texts and values, built before timing) sent by
        // hand through the driver: what p8fs adds over its statements, and what the
        // statements' form costs over the hand-written one (RETURNING the stored ids, the
        // timestamps p8fs binds, MariaDB's tenant guard).
        if !matches!(e.name, "tidb") {
            let own: Vec<Vec<OwnStatement>> =
                batches.iter().map(|b| own_statements(&e, &store, &model, b, true)).collect::<Result<_>>()?;
            let own_plain: Vec<Vec<OwnStatement>> =
                batches.iter().map(|b| own_statements(&e, &store, &model, b, false)).collect::<Result<_>>()?;
            let c = compare(
                scale,
                ops,
                async |i| {
                    store.batch_upsert(&model, TENANT, &batches[i % 3]).await?;
                    Ok(())
                },
                async |i| run_own(&e, &own[i % 3]).await,
            )
            .await?;
            let by_hand = c.ratio();
            let returning = compare(
                scale,
                ops,
                async |i| run_own(&e, &own[i % 3]).await,
                async |i| run_own(&e, &own_plain[i % 3]).await,
            )
            .await?
            .ratio();
            let form = compare(
                scale,
                ops,
                async |i| run_own(&e, &own_plain[i % 3]).await,
                async |i| peer_multi_row(&e, &peer_batches[i % 3]).await,
            )
            .await?
            .ratio();
            let multi = rows.pop().expect("the multi-row row");
            rows.push(multi.note(format!(
                "decomposed in the same run: p8fs / its own statements sent by hand {by_hand:.3}; \
                 its statements with RETURNING / without {returning:.3}; its statements without RETURNING / \
                 the hand-written statements {form:.3}"
            )));
            rows.push(Row::from(
                scale,
                "W2",
                &format!("{} multi-row x{n}, own statements", e.name),
                "p8fs's own statements (same texts and values, built before timing) sent by hand",
                &c,
                ops,
                ">= 0.95x",
                Some(0.95),
            ));
        }
        // Per row.
        let c = compare(
            scale,
            ops,
            async |i| {
                store.batch_upsert(&model, TENANT, &batches[i % 3]).await?;
                Ok(())
            },
            async |i| {
                for j in 0..n {
                    peer_upsert_one(&e, &format!("row{}", i % 3), j).await?;
                }
                Ok(())
            },
        )
        .await?;
        rows.push(Row::from(
            scale,
            "W2",
            &format!("{} per-row x{n}", e.name),
            "one prepared statement per row",
            &c,
            ops,
            ">= 10x",
            Some(10.0),
        ));
        if let Pool::Pg(p) = &e.pool {
            let c = compare(
                scale,
                ops,
                async |i| {
                    store.batch_upsert(&model, TENANT, &batches[i % 3]).await?;
                    Ok(())
                },
                async |i| peer_copy(p, &format!("copy{}", i % 3), n).await,
            )
            .await?;
            rows.push(Row::from(
                scale,
                "W2",
                &format!("postgres COPY x{n}"),
                "binary COPY into a staging table + one upsert",
                &c,
                ops,
                ">= 0.5x",
                Some(0.5),
            ));
        }
    }
    Ok(rows)
}

async fn peer_multi_row(e: &Engine, input: &[PeerRow]) -> Result<()> {
    let n = input.len();
    match &e.pool {
        Pool::Pg(p) => {
            // Chunks of 200 rows, as p8fs sends them, in one transaction.
            let mut c = p.pool().get().await?;
            let tx = c.transaction().await?;
            for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
                let mut s = String::from(
                    "INSERT INTO p8fs_bench.bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) VALUES ",
                );
                let mut ids: Vec<String> = Vec::with_capacity(chunk.len());
                for (k, &j) in chunk.iter().enumerate() {
                    if k > 0 {
                        s.push_str(", ");
                    }
                    let b = k * 6;
                    s.push_str(&format!(
                        "(${}, ${}, ${}, ${}, ${}, ${}, now(), now())",
                        b + 1,
                        b + 2,
                        b + 3,
                        b + 4,
                        b + 5,
                        b + 6
                    ));
                    ids.push(id_for("bench_items", &input[j].0));
                }
                s.push_str(
                    " ON CONFLICT (tenant_id, name) DO UPDATE SET category = EXCLUDED.category, ordinal = EXCLUDED.ordinal, \
                     summary = EXCLUDED.summary, updated_at = EXCLUDED.updated_at",
                );
                let mut ps: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = Vec::with_capacity(chunk.len() * 6);
                for (id, &j) in ids.iter().zip(chunk) {
                    let (name, category, ordinal, summary) = &input[j];
                    ps.extend([
                        id as &(dyn tokio_postgres::types::ToSql + Sync),
                        &TENANT,
                        name,
                        category,
                        ordinal,
                        summary,
                    ]);
                }
                let st = tx.prepare_cached(&s).await?;
                tx.execute(&st, &ps).await?;
            }
            tx.commit().await?;
        }
        Pool::My(p) => {
            let mut c = p.pool().get_conn().await?;
            let mut tx = c.start_transaction(Default::default()).await?;
            for chunk in (0..n).collect::<Vec<_>>().chunks(200) {
                let mut s = String::from(
                    "INSERT INTO p8fs_bench.bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) VALUES ",
                );
                let mut ps: Vec<p8fs_tidb::mysql_async::Value> = Vec::with_capacity(chunk.len() * 6);
                for (k, &j) in chunk.iter().enumerate() {
                    if k > 0 {
                        s.push_str(", ");
                    }
                    s.push_str("(?, ?, ?, ?, ?, ?, NOW(6), NOW(6))");
                    let (name, category, ordinal, summary) = &input[j];
                    ps.push(id_for("bench_items", name).into());
                    ps.push(TENANT.into());
                    ps.push(name.as_str().into());
                    ps.push(category.as_str().into());
                    ps.push((*ordinal).into());
                    ps.push(summary.as_str().into());
                }
                s.push_str(
                    " ON DUPLICATE KEY UPDATE category = VALUES(category), ordinal = VALUES(ordinal), summary = VALUES(summary), updated_at = VALUES(updated_at)",
                );
                tx.exec_drop(s, ps).await?;
            }
            tx.commit().await?;
        }
    }
    Ok(())
}

async fn peer_copy(p: &PgProvider, prefix: &str, n: usize) -> Result<()> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;
    let mut c = p.pool().get().await?;
    let tx = c.transaction().await?;
    tx.batch_execute(
        "CREATE TEMP TABLE bench_stage (id varchar(64), tenant_id varchar(255), name varchar(255), category text, ordinal bigint, summary text) ON COMMIT DROP",
    )
    .await?;
    let sink =
        tx.copy_in("COPY bench_stage (id, tenant_id, name, category, ordinal, summary) FROM STDIN BINARY").await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[Type::VARCHAR, Type::VARCHAR, Type::VARCHAR, Type::TEXT, Type::INT8, Type::TEXT],
    );
    futures::pin_mut!(writer);
    for j in 0..n {
        let name = format!("{prefix}-{j}");
        let id = id_for("bench_items", &name);
        let category = format!("c{}", j % 7);
        let summary = format!("item number {j} of the benchmark");
        writer.as_mut().write(&[&id, &TENANT, &name, &category, &(j as i64), &summary]).await?;
    }
    writer.finish().await?;
    tx.execute(
        "INSERT INTO p8fs_bench.bench_items (id, tenant_id, name, category, ordinal, summary, created_at, updated_at) \
         SELECT id, tenant_id, name, category, ordinal, summary, now(), now() FROM bench_stage \
         ON CONFLICT (tenant_id, name) DO UPDATE SET category = EXCLUDED.category, ordinal = EXCLUDED.ordinal, \
         summary = EXCLUDED.summary, updated_at = EXCLUDED.updated_at",
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
