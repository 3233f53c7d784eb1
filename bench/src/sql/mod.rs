//! SQL workloads: W1-W6 on PostgreSQL and MariaDB, W1-W3 also on TiDB when
//! `P8FS_TIDB_URL` is set, W10 (metadata cache), W12 (SQLite).
//!
//! Every peer is the hand-written driver call (tokio-postgres through the provider's own
//! pool, mysql_async through the provider's own pool, rusqlite) doing the same work as
//! p8fs, on the same tables.

use std::sync::Arc;

use anyhow::Result;
use p8fs_entity::EntityStore;
use p8fs_postgres::{PgConfig, PgProvider};
use p8fs_sql_dialect::entity::Layout;
use p8fs_sql_dialect::model::Model;
use p8fs_sql_dialect::{SqlExecutor, Statement};
use p8fs_tidb::mysql_async::prelude::Queryable;
use p8fs_tidb::{MySqlConfig, TidbProvider};
use serde_json::{Map, Value};

use crate::Env;

mod items;
mod vector_data;
mod w10_metadata_cache;
mod w12_sqlite;
mod w14_scale;
mod w1_single_upsert;
mod w2_batch_upsert;
mod w3_json_filter;
mod w4_w6_peers;
mod w4_w6_vectors;

pub(crate) use w1_single_upsert::w1_single_upsert;
pub(crate) use w2_batch_upsert::w2_batch_upsert;
pub(crate) use w3_json_filter::w3_json_filter;
pub(crate) use w4_w6_vectors::vector_workload;
pub(crate) use w10_metadata_cache::w10_metadata_cache;
pub(crate) use w12_sqlite::w12_sqlite;
pub(crate) use w14_scale::w14_scale;

/// Schemas the SQL workloads create and drop.
const SCHEMA: &str = "p8fs_bench";
const EMB_SCHEMA: &str = "p8fs_bench_e";
const TENANT: &str = "bench";

/// Per-operation deadline of the benchmark's connections: building a vector index over
/// 20,000 768-dimension rows takes longer than the providers' default 30 s (MariaDB).
const INDEX_BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(900);

/// One engine: the p8fs executor and the same pool for the hand-written peer.
#[derive(Clone)]
enum Pool {
    Pg(Arc<PgProvider>),
    My(Arc<TidbProvider>),
}

#[derive(Clone)]
struct Engine {
    name: &'static str,
    exec: Arc<dyn SqlExecutor>,
    pool: Pool,
}

impl Engine {
    async fn postgres(env: &Env) -> Result<Self> {
        let mut cfg = PgConfig::from_url(env.pg()?)?;
        cfg.op_timeout = INDEX_BUILD_TIMEOUT;
        let p = Arc::new(PgProvider::connect(cfg).await?);
        Ok(Self { name: "postgres", exec: p.clone(), pool: Pool::Pg(p) })
    }

    async fn mariadb(env: &Env) -> Result<Self> {
        let mut cfg = MySqlConfig::from_url(env.mariadb()?)?;
        cfg.op_timeout = INDEX_BUILD_TIMEOUT;
        let p = Arc::new(TidbProvider::connect(cfg).await?);
        Ok(Self { name: "mariadb", exec: p.clone(), pool: Pool::My(p) })
    }

    async fn tidb(url: &str) -> Result<Self> {
        let mut cfg = MySqlConfig::from_url(url)?;
        cfg.op_timeout = INDEX_BUILD_TIMEOUT;
        let p = Arc::new(TidbProvider::connect(cfg).await?);
        Ok(Self { name: "tidb", exec: p.clone(), pool: Pool::My(p) })
    }

    async fn both(env: &Env) -> Result<Vec<Self>> {
        Ok(vec![Self::postgres(env).await?, Self::mariadb(env).await?])
    }

    /// PostgreSQL and MariaDB, and TiDB when it is configured: the workloads without
    /// vectors (TiDB's vector indexes need TiFlash, which the local server lacks).
    async fn relational(env: &Env) -> Result<Vec<Self>> {
        let mut out = Self::both(env).await?;
        if let Some(url) = env.tidb_url.as_deref() {
            out.push(Self::tidb(url).await?);
        }
        Ok(out)
    }

    fn layout() -> Layout {
        Layout::new(Some(SCHEMA), Some(EMB_SCHEMA)).unwrap_or_default()
    }

    /// Drops the benchmark schemas and creates `models` afresh.
    async fn fresh(&self, models: &[&Model]) -> Result<EntityStore> {
        for s in [SCHEMA, EMB_SCHEMA] {
            let sql = match self.pool {
                Pool::Pg(_) => format!("DROP SCHEMA IF EXISTS {s} CASCADE"),
                Pool::My(_) => format!("DROP DATABASE IF EXISTS {s}"),
            };
            self.exec.execute(&Statement::raw(sql)).await?;
        }
        let store = EntityStore::new(Arc::clone(&self.exec), Self::layout());
        for m in models {
            store.migrate(m).await?;
        }
        Ok(store)
    }

    /// Runs a plain statement through the driver (for EXPLAIN and setup).
    async fn raw_rows(&self, sql: &str) -> Result<Vec<String>> {
        Ok(match &self.pool {
            Pool::Pg(p) => {
                let c = p.pool().get().await?;
                c.simple_query(sql)
                    .await?
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(r) => {
                            Some((0..r.len()).filter_map(|i| r.get(i)).collect::<Vec<_>>().join(" | "))
                        }
                        _ => None,
                    })
                    .collect()
            }
            Pool::My(p) => {
                let mut c = p.pool().get_conn().await?;
                let rows: Vec<p8fs_tidb::mysql_async::Row> = c.query(sql).await?;
                rows.into_iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.as_ref(i) {
                                Some(p8fs_tidb::mysql_async::Value::Bytes(b)) => {
                                    String::from_utf8_lossy(b).into_owned()
                                }
                                Some(p8fs_tidb::mysql_async::Value::NULL) | None => "NULL".into(),
                                Some(v) => format!("{v:?}"),
                            })
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect()
            }
        })
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}
