//! W13: embedding throughput of all-MiniLM-L6-v2 through p8fs's embedder (the `Embedder`
//! trait: a blocking-pool hop per call, the metered wrapper) against the direct call of
//! the model (`p8fs_minilm::MiniLm::embed` on this thread), in batches of 32, for short
//! sentences and for texts of 256 word pieces. One operation is one batch; sentences per
//! second are in the notes.

use std::sync::Arc;

use anyhow::{Context, Result};
use p8fs_core::embed::{Embedder, MiniLmEmbedder};

use crate::Env;
use crate::harness::{Row, Scale, compare};

const BATCH: usize = 32;

fn short_texts(n: usize, salt: usize) -> Vec<String> {
    const WORDS: [&str; 16] = [
        "backup",
        "restore",
        "latency",
        "tenant",
        "search",
        "vector",
        "index",
        "snapshot",
        "rotate",
        "certificate",
        "queue",
        "consumer",
        "budget",
        "forecast",
        "garden",
        "recipe",
    ];
    (0..n)
        .map(|i| {
            let k = i + salt * 131;
            format!(
                "how do I {} the {} when the {} {} is slow",
                WORDS[k % 16],
                WORDS[(k / 16) % 16],
                WORDS[(k / 7) % 16],
                WORDS[(k / 3) % 16]
            )
        })
        .collect()
}

fn long_texts(n: usize, salt: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut t = String::new();
            for (j, s) in short_texts(40, salt * 1000 + i).iter().enumerate() {
                t.push_str(s);
                t.push_str(if j % 3 == 0 { ". " } else { ", and " });
            }
            t
        })
        .collect()
}

/// W13 rows: short and 256-token batches.
pub(crate) async fn w13_embedding(_env: &Env, scale: Scale) -> Result<Vec<Row>> {
    let dir = tokio::task::spawn_blocking(|| {
        p8fs_minilm::install(&p8fs_minilm::InstallOptions::default()).context("installing all-MiniLM-L6-v2")
    })
    .await??;
    let ours = MiniLmEmbedder::load(&dir)?;
    let direct = Arc::new(p8fs_minilm::MiniLm::load(&dir)?);
    let mut rows = Vec::new();
    for (variant, long) in [("short sentences (~12 word pieces), batch 32", false), ("256 word pieces, batch 32", true)]
    {
        let make = |i: usize| if long { long_texts(BATCH, i) } else { short_texts(BATCH, i) };
        let tokens = direct.token_count(&make(0)[0])?;
        let ops = scale.pick(if long { 2 } else { 8 }, 1);
        let c = compare(
            scale,
            ops,
            async |i| {
                let v = ours.embed(&make(i)).await?;
                anyhow::ensure!(v.len() == BATCH);
                Ok(())
            },
            async |i| {
                let texts = make(i);
                let v = direct.embed(&texts)?;
                anyhow::ensure!(v.len() == BATCH);
                Ok(())
            },
        )
        .await?;
        let per_s = |ops_per_s: f64| ops_per_s * BATCH as f64;
        rows.push(Row::from(scale, "W13", variant, "MiniLm::embed, direct", &c, ops, ">= 0.95x", Some(0.95)).note(
            format!(
                "{:.1} sentences/s through p8fs, {:.1} direct ({} word pieces each, {} threads)",
                per_s(c.a.ops_per_s()),
                per_s(c.b.ops_per_s()),
                tokens,
                std::thread::available_parallelism().map_or(1, usize::from)
            ),
        ));
    }
    Ok(rows)
}
