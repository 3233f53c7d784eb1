//! The full-text statements of every dialect: what each engine is sent, and that a query's
//! words reach it only as bound values (never in the SQL text).

use p8fs_sql_dialect::entity::{FullText, Layout, text};
use p8fs_sql_dialect::model::resources;
use p8fs_sql_dialect::{Dialect, MariaDb, Postgres, Sqlite, Tidb};

fn search(d: &dyn Dialect, query: &str) -> (String, Vec<String>, FullText) {
    let words = text::check(query).unwrap();
    let (s, kind) = text::search(d, &resources(), &Layout::default(), "tenant-x", &words, 10).unwrap();
    (s.sql, s.values.iter().map(|v| format!("{v:?}")).collect(), kind)
}

#[test]
fn each_engine_gets_its_full_text_search() {
    let q = "Yeast' OR 1=1 -- bread";
    let (pg, pg_vals, kind) = search(&Postgres, q);
    assert_eq!(kind, FullText::Native);
    assert!(pg.contains("to_tsvector('english', coalesce(\"name\", '') || ' ' || coalesce(\"content\", '')) @@ to_tsquery('english', $3)"), "{pg}");
    assert!(pg.contains("ts_rank_cd("), "{pg}");
    assert!(pg_vals.iter().any(|v| v.contains("yeast | 1 | bread")), "{pg_vals:?}");

    let (maria, maria_vals, kind) = search(&MariaDb, q);
    assert_eq!(kind, FullText::Native);
    assert!(maria.contains("MATCH (`name`, `content`) AGAINST (? IN NATURAL LANGUAGE MODE)"), "{maria}");
    assert!(
        maria_vals.iter().any(|v| v.contains("yeast Yeast YEAST")),
        "case variants for a binary collation: {maria_vals:?}"
    );

    let (lite, lite_vals, kind) = search(&Sqlite, q);
    assert_eq!(kind, FullText::Native);
    assert!(
        lite.contains("\"resources\".rowid IN (SELECT rowid FROM \"resources_fts\" WHERE \"resources_fts\" MATCH ?)"),
        "{lite}"
    );
    assert!(lite.contains("-bm25(\"resources_fts\")"), "{lite}");
    assert!(lite_vals.iter().any(|v| v.contains("\\\"yeast\\\" OR \\\"1\\\" OR \\\"bread\\\"")), "{lite_vals:?}");

    // TiDB: full-text search is TiDB Cloud's only, so p8fs ranks LIKE candidates.
    let (tidb, tidb_vals, kind) = search(&Tidb, q);
    assert_eq!((kind, Tidb.full_text()), (FullText::Fallback, FullText::Fallback));
    assert!(tidb.contains("LIKE") && !tidb.contains("MATCH"), "{tidb}");
    assert!(tidb_vals.iter().any(|v| v.contains("%yeast%")), "{tidb_vals:?}");

    for sql in [&pg, &maria, &lite, &tidb] {
        assert!(!sql.contains("yeast") && !sql.contains("1=1") && !sql.contains("bread"), "a word in the SQL: {sql}");
        assert!(sql.contains("tenant_id"), "tenant-scoped: {sql}");
    }
}

#[test]
fn the_indexes_are_idempotent() {
    let m = resources();
    let pg: Vec<String> = text::index(&Postgres, &Layout::default(), &m).into_iter().map(|s| s.sql).collect();
    assert_eq!(
        pg,
        [
            "CREATE INDEX IF NOT EXISTS \"resources_fts\" ON \"resources\" USING gin (to_tsvector('english', coalesce(\"name\", '') || ' ' || coalesce(\"content\", '')))"
        ]
    );
    let maria: Vec<String> = text::index(&MariaDb, &Layout::default(), &m).into_iter().map(|s| s.sql).collect();
    assert_eq!(maria, ["CREATE FULLTEXT INDEX IF NOT EXISTS `resources_fts` ON `resources` (`name`, `content`)"]);
    let lite: Vec<String> = text::index(&Sqlite, &Layout::default(), &m).into_iter().map(|s| s.sql).collect();
    assert_eq!(lite.len(), 5);
    assert!(lite.iter().all(|s| s.contains("IF NOT EXISTS") || s.contains("'rebuild'")), "{lite:?}");
    assert!(text::index(&Tidb, &Layout::default(), &m).is_empty());
}
