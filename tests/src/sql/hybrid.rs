//! Full-text and hybrid search on every SQL provider: the rare word ranks first, other
//! tenants' matching rows never appear in any mode, a hostile query is bad input or a plain
//! search (never an engine error, never another tenant's rows), hybrid fills its limit from
//! either side, and updates and deletes show at once.

use anyhow::{Context, Result, ensure};
use p8fs_core::sql::entity::SearchOptions;
use p8fs_core::{ErrorKind, Fusion, P8fs, QueryMode};
use serde_json::{Value, json};

use super::core_api::{obj, with_core};
use crate::harness::Ctx;

const MODES: [QueryMode; 3] = [QueryMode::Vector, QueryMode::Text, QueryMode::Hybrid];

async fn names(p: &P8fs, tenant: &str, q: &str, mode: QueryMode, limit: usize) -> Result<Vec<String>> {
    let opts = SearchOptions { limit, ..SearchOptions::default() };
    let r = p.search("resources", tenant, q, mode, &opts, Fusion::default()).await?;
    Ok(r.hits.iter().filter_map(|h| h.entity.get("name").and_then(Value::as_str).map(str::to_owned)).collect())
}

async fn store(p: &P8fs, tenant: &str, docs: &[(&str, &str)]) -> Result<()> {
    let items = docs.iter().map(|(n, c)| ((*n).to_owned(), obj(json!({"content": c})))).collect();
    p.store_entities_with_reverse_mappings("resources", tenant, items).await?;
    Ok(())
}

pub(crate) async fn text_search_ranks_words_within_the_tenant(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        store(
            p,
            &a,
            &[
                (
                    "undo-retention",
                    "The ORA-01555 snapshot too old error appears when undo retention is too short for long queries.",
                ),
                ("bread-dough", "Bread dough that fails to rise usually has old yeast or a kitchen that is too cold."),
                ("nightly-backups", "Backups run nightly and every snapshot is checked by restoring it."),
                ("river-walks", "The river bank path floods after heavy rain in spring."),
            ],
        )
        .await?;
        store(
            p,
            &b,
            &[("b-secret-undo", "ORA-01555 snapshot too old yeast bread backups river: tenant B's own notes")],
        )
        .await?;
        let got = names(p, &a, "ORA-01555 snapshot", QueryMode::Text, 10).await?;
        ensure!(got.first().map(String::as_str) == Some("undo-retention"), "the rare word first: {got:?}");
        ensure!(got.contains(&"nightly-backups".to_owned()), "any word matches (OR): {got:?}");
        ensure!(!got.contains(&"bread-dough".to_owned()), "no shared word, no text hit: {got:?}");
        let yeast = names(p, &a, "YEAST", QueryMode::Text, 10).await?;
        ensure!(yeast == ["bread-dough"], "case does not matter: {yeast:?}");
        for mode in MODES {
            for q in ["ORA-01555 snapshot too old", "yeast bread", "tenant B's own notes", "river"] {
                let got = names(p, &a, q, mode, 10).await?;
                ensure!(!got.iter().any(|n| n.starts_with("b-")), "{mode:?} {q:?} showed tenant B's row: {got:?}");
                let theirs = names(p, &b, q, mode, 10).await?;
                ensure!(theirs.iter().all(|n| n.starts_with("b-")), "{mode:?} {q:?} showed A's rows to B: {theirs:?}");
            }
        }
        // REM SEARCH in each mode, tenant-scoped the same way.
        for mode in MODES {
            let opts = p8fs_core::rem::RemOptions { mode, ..Default::default() };
            let r = p.rem_with("SEARCH \"ORA-01555 snapshot too old\" IN resources", &a, &opts).await?;
            ensure!(
                r.results.first().map(|h| h.name.as_deref()) == Some(Some("undo-retention")),
                "REM {mode:?}: {:?}",
                r.results
            );
            ensure!(
                r.results.iter().all(|h| h.name.as_deref().is_some_and(|n| !n.starts_with("b-"))),
                "REM {mode:?} showed B"
            );
        }
        let hybrid = names(p, &a, "ORA-01555 snapshot too old", QueryMode::Hybrid, 2).await?;
        ensure!(hybrid.first().map(String::as_str) == Some("undo-retention"), "hybrid: {hybrid:?}");
        ensure!(p.entities().full_text() == p.entities().executor().dialect().full_text(), "capability reported");
        Ok(())
    })
    .await
}

pub(crate) async fn text_search_takes_hostile_queries_as_words(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        store(p, &a, &[("alpha-doc", "alpha release notes and the near term plan"), ("beta-doc", "beta plan")]).await?;
        store(p, &b, &[("b-doc", "alpha secret of tenant b")]).await?;
        let payloads = [
            "' OR '1'='1",
            "alpha\" OR \"1\"=\"1",
            "alpha'); DROP TABLE resources; --",
            "NEAR(alpha beta) AND NOT plan*",
            "alpha & !beta | plan:*",
            "alpha <-> plan",
            "\\\\ %% __ alpha%",
            "+alpha -beta ~plan \"near term\" @distance",
            "MATCH(content) AGAINST('alpha')",
            "alpha\u{0}plan",
            "ＡＬＰＨＡ ａｌｐｈａ",
            "alpha 🚀 plan",
            "",
            "   ",
            "*** ::: ||| !!!",
        ];
        for q in payloads {
            for mode in [QueryMode::Text, QueryMode::Hybrid] {
                let opts = SearchOptions { limit: 10, ..SearchOptions::default() };
                match p.search("resources", &a, q, mode, &opts, Fusion::default()).await {
                    Ok(r) => {
                        let got: Vec<&str> =
                            r.hits.iter().filter_map(|h| h.entity.get("name").and_then(Value::as_str)).collect();
                        ensure!(!got.contains(&"b-doc"), "{mode:?} {q:?} showed B's row");
                    }
                    Err(e) => ensure!(e.kind() == ErrorKind::InvalidInput, "{mode:?} {q:?}: {e} is not bad input"),
                }
            }
        }
        let long = "alpha ".repeat(400);
        let e = p
            .search("resources", &a, &long, QueryMode::Text, &SearchOptions::default(), Fusion::default())
            .await
            .err()
            .context("a 2,400-character query was accepted")?;
        ensure!(e.kind() == ErrorKind::InvalidInput, "{e}");
        for f in [Fusion::Rrf { k: 0.0 }, Fusion::Weighted { text: -1.0, vector: 1.0 }] {
            let e = p
                .search("resources", &a, "alpha", QueryMode::Hybrid, &SearchOptions::default(), f)
                .await
                .err()
                .context("bad fusion accepted")?;
            ensure!(e.kind() == ErrorKind::InvalidInput, "{e}");
        }
        // Nothing was lost or changed.
        ensure!(names(p, &a, "alpha", QueryMode::Text, 10).await? == ["alpha-doc"], "A's table intact");
        ensure!(names(p, &b, "alpha", QueryMode::Text, 10).await? == ["b-doc"], "B's table intact");
        Ok(())
    })
    .await
}

pub(crate) async fn hybrid_fills_its_limit_from_either_side(ctx: Ctx) -> Result<()> {
    let (a, b) = (format!("{}a", ctx.scratch), format!("{}b", ctx.scratch));
    with_core(&ctx, async |p| {
        let mine: Vec<(String, String)> = (0..24)
            .map(|i| {
                (
                    format!("a-{i:02}"),
                    if i < 3 { format!("zebra crossing number {i}") } else { format!("plain note {i}") },
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = mine.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
        store(p, &a, &refs).await?;
        // Another tenant dominates the word and the vectors.
        let theirs: Vec<(String, String)> =
            (0..150).map(|i| (format!("b-{i:03}"), format!("zebra zebra crossing {i}"))).collect();
        for chunk in theirs.chunks(50) {
            let refs: Vec<(&str, &str)> = chunk.iter().map(|(n, c)| (n.as_str(), c.as_str())).collect();
            store(p, &b, &refs).await?;
        }
        for (fusion, what) in [(Fusion::default(), "rrf"), (Fusion::Weighted { text: 0.5, vector: 0.5 }, "weighted")] {
            let opts = SearchOptions { limit: 10, ..SearchOptions::default() };
            let r = p.search("resources", &a, "zebra crossing", QueryMode::Hybrid, &opts, fusion).await?;
            let got: Vec<&str> = r.hits.iter().filter_map(|h| h.entity.get("name").and_then(Value::as_str)).collect();
            ensure!(got.len() == 10, "{what}: {} results, want 10 (the vector side has 24): {got:?}", got.len());
            ensure!(got.iter().all(|n| n.starts_with("a-")), "{what}: B's rows: {got:?}");
            ensure!(got[..3].iter().all(|n| ["a-00", "a-01", "a-02"].contains(n)), "{what}: matches first: {got:?}");
        }
        // Words that match nothing: the vector side alone fills the limit.
        let got = names(p, &a, "quokka marsupial", QueryMode::Hybrid, 10).await?;
        ensure!(got.len() == 10 && got.iter().all(|n| n.starts_with("a-")), "{got:?}");
        ensure!(names(p, &a, "quokka marsupial", QueryMode::Text, 10).await?.is_empty(), "text finds none");
        Ok(())
    })
    .await
}

pub(crate) async fn text_search_follows_updates_and_deletes(ctx: Ctx) -> Result<()> {
    let a = format!("{}a", ctx.scratch);
    with_core(&ctx, async |p| {
        store(p, &a, &[("moving-doc", "the walrus sleeps on the ice")]).await?;
        ensure!(names(p, &a, "walrus", QueryMode::Text, 5).await? == ["moving-doc"], "found by its word");
        store(p, &a, &[("moving-doc", "the narwhal swims under the ice")]).await?;
        ensure!(names(p, &a, "walrus", QueryMode::Text, 5).await?.is_empty(), "the old word is gone after an update");
        ensure!(names(p, &a, "narwhal", QueryMode::Text, 5).await? == ["moving-doc"], "the new word is found");
        let id = p
            .get_entity_by_name("moving-doc", "resources", &a)
            .await?
            .and_then(|e| e.get("id").and_then(Value::as_str).map(str::to_owned))
            .context("stored")?;
        ensure!(p.delete_entity("resources", &id, &a).await?, "deleted");
        ensure!(names(p, &a, "narwhal", QueryMode::Text, 5).await?.is_empty(), "gone after delete");
        Ok(())
    })
    .await
}
