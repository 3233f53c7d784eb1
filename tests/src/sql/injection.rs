//! SQL injection, judged from the statements actually sent: the `P8fs` API runs on an
//! executor that records every statement before the engine gets it, and a corpus of
//! injection payloads goes through every public API that takes a string (entity names and
//! fields, JSON inside fields, reads by name and storage key, filters with every operator,
//! filter field names and orderings, deletes by id, vector, text and hybrid searches, REM
//! `LOOKUP`, `FUZZY`, `SEARCH` and `SELECT` literals, KV keys, values and prefixes,
//! tenants). Then, for every statement recorded: its quoted identifiers are plain words and
//! no payload is in its text, raw or escaped (`p8fs_sql_dialect::text_check`); each payload
//! that was written reached the server as a bound value; every call either answered or
//! was refused as bad input (never an engine error such as a syntax error); and every value
//! stored reads back equal, with the tables intact.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context, Result, bail, ensure};
use async_trait::async_trait;
use p8fs_core::sql::entity::SearchOptions;
use p8fs_core::{Fusion, P8fs, QueryMode};
use p8fs_kv::TenantId;
use p8fs_sql_dialect::entity::EntityQuery;
use p8fs_sql_dialect::sea_query::Value as SqlParam;
use p8fs_sql_dialect::text_check::outside_text_in;
use p8fs_sql_dialect::{Dialect, NearestAnswer, NearestQuery, Row, RowCheck, ServerInfo, SqlExecutor, Statement};
use serde_json::{Map, Value, json};

use super::core_api::{answered_or_refused, obj, open_core_on};
use crate::harness::Ctx;

/// Injection payloads: quote break-outs for each quoting style, stacked statements,
/// comments, `UNION`s, placeholders, `LIKE` wildcards, backslash escapes, dollar quoting,
/// unicode look-alikes, and the tenant column by name.
const PAYLOADS: &[&str] = &[
    "x' OR '1'='1",
    "x'; DROP TABLE resources; --",
    "x\" OR \"\"=\"",
    "x`; DROP TABLE resources; -- `",
    "x\\'; SELECT 1; -- ",
    "1; SELECT pg_sleep(5); --",
    "' UNION SELECT tenant_id FROM resources --",
    "$1 $2 ? ?? :name @p1",
    "%' OR name LIKE '%",
    "x'||(SELECT version())||'",
    "$$; DROP TABLE resources; $$",
    "x/* comment */ OR 1=1",
    "xʼ OR ʼ1ʼ=ʼ1",
    "tenant_id' = tenant_id OR 'a'='a",
    "\\x27; DELETE FROM p8fs_kv; --",
];

/// The executor under test, recording each statement before passing it on.
#[derive(Debug)]
struct Recorder {
    inner: Arc<dyn SqlExecutor>,
    seen: Mutex<Vec<Statement>>,
    /// In-process vector searches (`SqlExecutor::nearest`, SQLite's index; asked on every
    /// engine, answered there): schema, table, tenant and fields, which must all come from
    /// a model or the caller's tenant, never from a payload.
    nearest: Mutex<Vec<AskedNearest>>,
}

/// What one `nearest` call named: schema, table, tenant, fields.
type AskedNearest = (Option<String>, String, String, Vec<String>);

impl Recorder {
    fn record(&self, stmts: &[Statement]) {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner).extend(stmts.iter().cloned());
    }

    fn take(&self) -> Vec<Statement> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

#[async_trait]
impl SqlExecutor for Recorder {
    fn dialect(&self) -> &'static dyn Dialect {
        self.inner.dialect()
    }
    fn cache_key(&self) -> String {
        self.inner.cache_key()
    }
    async fn server_info(&self) -> p8fs_sql_dialect::Result<ServerInfo> {
        self.inner.server_info().await
    }
    async fn execute(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<u64> {
        self.record(std::slice::from_ref(stmt));
        self.inner.execute(stmt).await
    }
    async fn execute_in_transaction(&self, stmts: &[Statement]) -> p8fs_sql_dialect::Result<Vec<u64>> {
        self.record(stmts);
        self.inner.execute_in_transaction(stmts).await
    }
    async fn query_in_transaction(
        &self,
        stmts: &[Statement],
        check: Option<Arc<RowCheck>>,
    ) -> p8fs_sql_dialect::Result<Vec<Vec<Row>>> {
        self.record(stmts);
        self.inner.query_in_transaction(stmts, check).await
    }
    async fn query_with_setup(&self, setup: &[Statement], stmt: &Statement) -> p8fs_sql_dialect::Result<Vec<Row>> {
        self.record(setup);
        self.record(std::slice::from_ref(stmt));
        self.inner.query_with_setup(setup, stmt).await
    }
    async fn query(&self, stmt: &Statement) -> p8fs_sql_dialect::Result<Vec<Row>> {
        self.record(std::slice::from_ref(stmt));
        self.inner.query(stmt).await
    }
    async fn nearest(&self, query: &NearestQuery<'_>) -> Option<p8fs_sql_dialect::Result<NearestAnswer>> {
        self.nearest.lock().unwrap_or_else(PoisonError::into_inner).push((
            query.schema.map(str::to_owned),
            query.table.to_owned(),
            query.tenant.to_owned(),
            query.fields.to_vec(),
        ));
        self.inner.nearest(query).await
    }
}

/// Every string a bound value holds (JSON included).
fn bound_strings(values: &[SqlParam], out: &mut Vec<String>) {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(k.clone());
                walk(x, out);
            }),
            _ => {}
        }
    }
    for v in values {
        match v {
            SqlParam::String(Some(s)) => out.push(s.to_string()),
            SqlParam::Json(Some(j)) => walk(j, out),
            SqlParam::Bytes(Some(b)) => out.push(String::from_utf8_lossy(b).into_owned()),
            _ => {}
        }
    }
}

/// `{key: value}`.
fn single(key: String, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key, value);
    Value::Object(m)
}

/// The REM form of a string: double-quoted, quotes doubled.
fn rem_quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub(crate) async fn injection_payloads_reach_the_server_only_as_bound_values(ctx: Ctx) -> Result<()> {
    let inner = ctx.env.sql(&ctx.scratch).await?;
    let rec =
        Arc::new(Recorder { inner: Arc::clone(&inner), seen: Mutex::new(Vec::new()), nearest: Mutex::new(Vec::new()) });
    let p = open_core_on(&ctx.env, &ctx.scratch, Arc::clone(&rec) as Arc<dyn SqlExecutor>).await?;
    let result = run(&ctx, &p, &rec).await;
    super::drop_schemas(inner.as_ref(), &ctx.scratch).await?;
    result
}

async fn run(ctx: &Ctx, p: &P8fs, rec: &Recorder) -> Result<()> {
    p.migrate().await?;
    rec.take();
    let tenant = format!("{}t", ctx.scratch);
    let other = format!("{}o", ctx.scratch);
    // Another tenant's entity, which no payload may reach.
    p.store_entity_with_reverse_mapping("untouchable", "resources", obj(json!({"content": "theirs"})), &other).await?;
    let model = p.model("resources")?;
    let quote = rec.dialect().quote();
    let mut stored = Vec::new();
    let mut sent_as_values = Vec::new();
    for (i, payload) in PAYLOADS.iter().enumerate() {
        let name = format!("n{i} {payload}");
        let mut metadata = obj(json!({"note": payload}));
        metadata.insert((*payload).to_owned(), json!([payload]));
        let data = obj(json!({"content": format!("{payload} words{i}"), "category": payload, "metadata": metadata}));
        if let Some(s) =
            answered_or_refused("store", p.store_entity_with_reverse_mapping(&name, "resources", data, &tenant).await)?
        {
            stored.push((name.clone(), s.id, (*payload).to_owned()));
            sent_as_values.push((*payload).to_owned());
        }
        answered_or_refused("get by name", p.get_entity_by_name(payload, "resources", &tenant).await)?;
        answered_or_refused(
            "by storage key",
            p.get_entities_by_storage_key(&format!("resources/{payload}"), &tenant).await,
        )?;
        answered_or_refused("delete by id", p.delete_entity("resources", payload, &tenant).await)?;
        for filters in [
            json!({"name": payload}),
            json!({"category__in": [payload, "docs"]}),
            json!({"content__like": format!("%{payload}%")}),
            json!({"content__ilike": payload}),
            json!({"metadata__contains": {"note": payload}}),
            json!({"topic_tags__overlap": [payload]}),
            single((*payload).to_owned(), json!("x")),
            single(format!("name__{payload}"), json!("x")),
        ] {
            let filters: Map<String, Value> = obj(filters);
            if let Some(q) = answered_or_refused(
                "filter",
                EntityQuery::parse(&model, &filters, &[], Some(10), None).map_err(Into::into),
            )? {
                answered_or_refused("select", p.select("resources", &tenant, &q).await)?;
            }
        }
        let order = [(*payload).to_owned(), format!("-{payload}")];
        ensure!(
            EntityQuery::parse(&model, &Map::new(), &order, None, None).is_err(),
            "ordering by {payload:?} was accepted"
        );
        for mode in [QueryMode::Vector, QueryMode::Text, QueryMode::Hybrid] {
            let opts = SearchOptions { limit: 5, ..SearchOptions::default() };
            let found = answered_or_refused(
                "search",
                p.search("resources", &tenant, payload, mode, &opts, Fusion::default()).await,
            )?;
            for hit in found.map(|f| f.hits).unwrap_or_default() {
                ensure!(
                    hit.entity.get("content") != Some(&json!("theirs")),
                    "{mode:?} search found the other tenant's"
                );
            }
        }
        let q = rem_quoted(payload);
        for query in [
            format!("LOOKUP {q}"),
            format!("FUZZY {q}"),
            format!("SEARCH {q} IN resources"),
            format!("SELECT * FROM resources WHERE category = '{}'", payload.replace('\'', "''")),
            format!("SELECT * FROM resources WHERE name = {q}"),
        ] {
            answered_or_refused("REM", p.rem(&query, &tenant).await)?;
        }
        // KV: keys, values, prefixes; and payloads as tenants (refused: not a tenant id).
        if TenantId::new(tenant.as_str()).is_ok() {
            let kv = p.kv().tenant(&TenantId::new(tenant.as_str())?);
            let key = format!("k{i}/{payload}");
            if kv.put(&key, payload.as_bytes(), None).await.is_ok() {
                sent_as_values.push((*payload).to_owned());
                ensure!(kv.get(&key).await?.as_deref() == Some(payload.as_bytes()), "KV value {payload:?} changed");
            }
            kv.scan_prefix(&format!("k{i}/{payload}"), 10, None).await?;
        }
        ensure!(TenantId::new(*payload).is_err(), "{payload:?} is a tenant id");
        ensure!(
            p.store_entity_with_reverse_mapping("x", "resources", obj(json!({"content": "x"})), payload).await.is_err(),
            "{payload:?} was accepted as a tenant"
        );
    }

    // What reached the server.
    let statements = rec.take();
    ensure!(statements.len() > PAYLOADS.len() * 10, "only {} statements recorded", statements.len());
    let payloads: Vec<&str> = PAYLOADS.to_vec();
    let mut bound = Vec::new();
    for stmt in &statements {
        if let Some(problem) = outside_text_in(&stmt.sql, quote, &payloads) {
            bail!("a payload reached the SQL text: {problem}");
        }
        bound_strings(&stmt.values, &mut bound);
    }
    for payload in &sent_as_values {
        ensure!(bound.iter().any(|b| b.contains(payload.as_str())), "{payload:?} was written but never bound");
    }
    ensure!(!stored.is_empty(), "no payload was stored: the test tested nothing");
    let nearest = std::mem::take(&mut *rec.nearest.lock().unwrap_or_else(PoisonError::into_inner));
    ensure!(!nearest.is_empty(), "no vector search asked for the nearest embeddings");
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    for (schema, table, asked_for, fields) in &nearest {
        ensure!(asked_for == &tenant, "a vector search ran for tenant {asked_for:?}");
        ensure!(
            schema.as_deref().is_none_or(word) && word(table) && fields.iter().all(|f| word(f)),
            "a vector search named {schema:?}.{table:?} fields {fields:?}"
        );
    }

    // Stored literally, tables intact, the other tenant untouched.
    for (name, id, payload) in &stored {
        let e = p.get_entity_by_name(name, "resources", &tenant).await?.context(format!("{name:?} is gone"))?;
        ensure!(e.get("id") == Some(&json!(id)), "{name:?}: another row answered");
        ensure!(e.get("category") == Some(&json!(payload)), "{name:?}: category {:?}", e.get("category"));
        ensure!(e["metadata"]["note"] == json!(payload), "{name:?}: metadata {:?}", e.get("metadata"));
    }
    let theirs = p.get_entity_by_name("untouchable", "resources", &other).await?.context("the other tenant's row")?;
    ensure!(theirs["content"] == json!("theirs"));
    let all = EntityQuery::parse(&model, &Map::new(), &[], Some(1000), None)?;
    let rows = p.select("resources", &tenant, &all).await?;
    ensure!(rows.len() == stored.len(), "{} rows for {} stored entities", rows.len(), stored.len());
    Ok(())
}
