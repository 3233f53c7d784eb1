//! W3: a JSON containment filter.

use anyhow::{Result, ensure};
use p8fs_sql_dialect::entity::{EntityQuery, dml};
use p8fs_sql_dialect::model::{FieldType as T, Model};
use p8fs_tidb::mysql_async::prelude::Queryable;
use serde_json::{Map, Value, json};

use crate::Env;
use crate::harness::{Row, Scale, compare};

use super::{Engine, Pool, TENANT, obj};

/// `bench_docs`: a keyed entity with a JSON object (W3).
fn docs_model() -> Result<Model> {
    Ok(Model::builder("bench_docs")
        .field("name", T::Text)
        .field("category", T::Text)
        .field("metadata", T::JsonObject)
        .key("name")
        .build()?)
}

/// W3: a JSON containment filter in one tenant, p8fs `select` against the hand-written SQL
/// with the same predicate and columns; EXPLAIN of the same predicate must use an index.
pub(crate) async fn w3_json_filter(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let model = docs_model()?;
    let n = scale.pick(20_000, 300);
    let ops = scale.pick(200, 5);
    let mut rows = Vec::new();
    for e in Engine::relational(env).await? {
        let store = e.fresh(&[&model]).await?;
        // Ten tenants; 100 groups per tenant: a filter keeps ~0.1% of the table.
        let docs: Vec<Map<String, Value>> = (0..n)
            .map(|i| {
                obj(json!({"name": format!("doc-{i}"), "category": format!("c{}", i % 5),
                    "metadata": {"group": format!("g{}", (i / 10) % 100), "rank": i, "tags": ["a", "b"]}}))
            })
            .collect();
        for (t, chunk) in docs.chunks(n.div_ceil(10)).enumerate() {
            let tenant = if t == 0 { TENANT.to_owned() } else { format!("other{t}") };
            for c in chunk.chunks(1000) {
                store.batch_upsert(&model, &tenant, c).await?;
            }
        }
        let analyze = match e.pool {
            Pool::Pg(_) => "ANALYZE p8fs_bench.bench_docs",
            Pool::My(_) => "ANALYZE TABLE p8fs_bench.bench_docs",
        };
        e.raw_rows(analyze).await?;
        let group = |i: usize| format!("g{}", i % 100);
        let c = compare(
            scale,
            ops,
            async |i| {
                let mut f = Map::new();
                f.insert("metadata__contains".into(), json!({"group": group(i)}));
                let q = EntityQuery::parse(&model, &f, &[], Some(100), None)?;
                let found = store.select(&model, TENANT, &q).await?;
                ensure!(!found.is_empty() || scale.smoke, "no rows for {}", group(i));
                Ok(())
            },
            async |i| peer_json_filter(&e, &group(i)).await.map(|_| ()),
        )
        .await?;
        let mut f = Map::new();
        f.insert("metadata__contains".into(), json!({"group": "g7"}));
        let q = EntityQuery::parse(&model, &f, &[], Some(100), None)?;
        let p8 = store.select(&model, TENANT, &q).await?.len();
        let peer = peer_json_filter(&e, "g7").await?;
        let stmt = dml::select(e.exec.dialect(), &model, store.layout(), TENANT, &q)?;
        let explain_sql = match e.pool {
            Pool::Pg(_) => format!(
                "EXPLAIN SELECT * FROM p8fs_bench.bench_docs WHERE tenant_id = '{TENANT}' AND metadata @> '{{\"group\": \"g7\"}}'::jsonb LIMIT 100"
            ),
            Pool::My(_) => format!(
                "EXPLAIN SELECT * FROM p8fs_bench.bench_docs WHERE tenant_id = '{TENANT}' AND JSON_CONTAINS(metadata, '{{\"group\": \"g7\"}}') LIMIT 100"
            ),
        };
        let plan = e.raw_rows(&explain_sql).await?.join(" / ");
        // PostgreSQL runs a prepared statement with a generic plan after five executions
        // when it looks no dearer: p8fs's own statement, planned that way (a LIMIT bound as a
        // parameter made it walk the tenant's primary key; see docs/benchmark-profiles.md).
        let generic = match e.pool {
            Pool::Pg(_) => {
                let sql = format!(
                    "SET plan_cache_mode = force_generic_plan; PREPARE w3_p8fs(text, jsonb) AS {}; \
                     EXPLAIN EXECUTE w3_p8fs('{TENANT}', '{{\"group\": \"g7\"}}'); DEALLOCATE w3_p8fs; RESET plan_cache_mode",
                    stmt.sql
                );
                Some(e.raw_rows(&sql).await?.join(" / "))
            }
            Pool::My(_) => None,
        };
        let uses_index = match e.pool {
            Pool::Pg(_) => plan.contains("Index"),
            // TiDB's clustered primary key (tenant_id, id) is the table itself: a range scan of
            // it bounded to the tenant is its index path.
            Pool::My(_) if e.name == "tidb" => {
                plan.contains("bench_docs_tenant_idx")
                    || plan.contains("bench_docs_key_uq")
                    || plan.contains("TableRangeScan") && plan.contains(&format!("range:[\"{TENANT}\",\"{TENANT}\"]"))
            }
            Pool::My(_) => plan.contains("bench_docs_tenant_idx") || plan.contains("bench_docs_key_uq"),
        };
        let mut row = Row::from(
            scale,
            "W3",
            e.name,
            "hand-written SQL, same predicate",
            &c,
            ops,
            ">= 0.95x; EXPLAIN shows the index",
            Some(0.95),
        )
        .fail_unless(p8 == peer, format!("p8fs found {p8} rows, the peer {peer}"))
        .fail_unless(uses_index, "the plan uses no index")
        .note(format!("p8fs SQL: {}", stmt.sql))
        .note(format!("plan: {plan}"));
        if let Some(g) = generic {
            row = row.note(format!("p8fs statement, generic plan: {g}"));
        }
        rows.push(row);
    }
    Ok(rows)
}

/// The hand-written JSON filter; returns how many rows it decoded.
/// The hand-written W3 query: the same predicate, order and limit as p8fs's (`ORDER BY id`
/// makes the page deterministic; without it the two would not return the same rows).
async fn peer_json_filter(e: &Engine, group: &str) -> Result<usize> {
    let filter = json!({"group": group});
    match &e.pool {
        Pool::Pg(p) => {
            let c = p.pool().get().await?;
            let stmt = c
                .prepare_cached(
                    "SELECT id, tenant_id, name, category, metadata, created_at, updated_at FROM p8fs_bench.bench_docs \
                     WHERE tenant_id = $1 AND metadata @> $2 ORDER BY id LIMIT 100",
                )
                .await?;
            let rows = c.query(&stmt, &[&TENANT, &filter]).await?;
            for r in &rows {
                let _: (String, String, String, Option<String>, Option<Value>) =
                    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
                let _: (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) = (r.get(5), r.get(6));
            }
            Ok(rows.len())
        }
        Pool::My(p) => {
            let mut c = p.pool().get_conn().await?;
            type DocRow = (String, String, String, Option<String>, Option<String>, String, String);
            let rows: Vec<DocRow> = c
                .exec(
                    "SELECT id, tenant_id, name, category, CAST(metadata AS CHAR), CAST(created_at AS CHAR), CAST(updated_at AS CHAR) \
                     FROM p8fs_bench.bench_docs WHERE tenant_id = ? AND JSON_CONTAINS(metadata, ?) ORDER BY id LIMIT 100",
                    (TENANT, filter.to_string()),
                )
                .await?;
            for r in &rows {
                let _: Option<Value> = r.4.as_deref().map(serde_json::from_str).transpose()?;
            }
            Ok(rows.len())
        }
    }
}
