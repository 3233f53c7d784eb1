//! W10: the metadata cache.

use anyhow::{Context, Result};

use crate::Env;
use crate::harness::{Row, Scale, compare};

use super::items::items_model;
use super::{Engine, SCHEMA};

/// W10: a table's metadata from the cache against the catalog query it saves.
pub(crate) async fn w10_metadata_cache(env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let model = items_model()?;
    let mut rows = Vec::new();
    for e in Engine::both(env).await? {
        let store = e.fresh(&[&model]).await?;
        let ops = scale.pick(2000, 20);
        let stmt = e.exec.dialect().table_info_query(Some(SCHEMA), "bench_items");
        let c = compare(
            scale,
            ops,
            async |_| {
                std::hint::black_box(store.table_info("bench_items").await?.context("no table")?);
                Ok(())
            },
            async |_| {
                std::hint::black_box(e.exec.query(&stmt).await?);
                Ok(())
            },
        )
        .await?;
        rows.push(Row::from(scale, "W10", e.name, "the uncached catalog query", &c, ops, ">= 1000x", Some(1000.0)));
    }
    Ok(rows)
}
