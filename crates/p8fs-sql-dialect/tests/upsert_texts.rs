//! Upserts from cached texts: for every dialect, shape and row count, the statement built
//! from the cache (text and values) is the one the uncached builders give, on the call
//! that renders it and on later calls with other values; bad rows fail the same way.

use chrono::{TimeZone, Utc};
use p8fs_sql_dialect::entity::Layout;
use p8fs_sql_dialect::entity::dml::{self, UpsertRow, UpsertTexts};
use p8fs_sql_dialect::model::{Model, resources};
use p8fs_sql_dialect::{Dialect, ErrorKind, MariaDb, Postgres, Sqlite, Tidb};
use serde_json::{Map, Value as Json, json};

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap()
}

fn dialects() -> [&'static dyn Dialect; 4] {
    [&Postgres, &MariaDb, &Sqlite, &Tidb]
}

/// Entities naming the same fields (the metadata object makes the update clause merge
/// JSON, with a bound `'{}'` after the rows on the MySQL family and SQLite), with nulls
/// and odd text in different places per call.
fn entities(call: u32, n: usize) -> Vec<Map<String, Json>> {
    (0..n)
        .map(|i| {
            obj(json!({
                "name": format!("item {call}-{i} ' \" ? $1 --"),
                "content": if i % 3 == 0 { Json::Null } else { json!(format!("text {call} {i}")) },
                "ordinal": i as i64 * i64::from(call),
                "metadata": {"call": call, "i": i},
                "graph_paths": if i % 2 == 0 { json!([]) } else { Json::Null },
                "resource_timestamp": "2026-01-02T03:04:05.123456Z",
            }))
        })
        .collect()
}

fn rows(es: &[Map<String, Json>]) -> Vec<UpsertRow<'_>> {
    es.iter().enumerate().map(|(i, e)| UpsertRow { id: format!("id-{i}"), fields: e }).collect()
}

#[test]
fn cached_statements_equal_the_built_ones() {
    let model = resources();
    for layout in [Layout::default(), Layout::new(Some("p8fs_a"), None).unwrap()] {
        for d in dialects() {
            let texts = UpsertTexts::new();
            for call in 1..=3u32 {
                for n in [1, 2, 7, 200] {
                    let es = entities(call, n);
                    let rs = rows(&es);
                    let t = Utc.timestamp_opt(1_790_000_000 + i64::from(call), 0).unwrap();
                    for returning in [false, true] {
                        let want = if returning {
                            dml::upsert_returning(d, &model, &layout, "tenant-a", &rs, t)
                        } else {
                            dml::upsert(d, &model, &layout, "tenant-a", &rs, t)
                        };
                        let got = texts.upsert(d, &model, &layout, "tenant-a", &rs, t, returning);
                        match (want, got) {
                            (Ok(w), Ok(g)) => {
                                assert_eq!(w, g, "{:?} call {call}, {n} rows, returning {returning}", d.kind())
                            }
                            (Err(w), Err(g)) => assert_eq!((w.kind(), w.to_string()), (g.kind(), g.to_string())),
                            (w, g) => panic!("{:?}: built {w:?}, cached {g:?}", d.kind()),
                        }
                    }
                }
            }
            // One row, id-guarded (the MySQL family): the same as the built one.
            let es = entities(9, 1);
            let rs = rows(&es);
            let t = Utc.timestamp_opt(1_790_000_009, 0).unwrap();
            let want = dml::upsert_id_guarded(d, &model, &layout, "tenant-a", &rs[0], t);
            let got = texts.upsert_id_guarded(d, &model, &layout, "tenant-a", &rs[0], t);
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(w, g, "{:?}: id-guarded", d.kind()),
                (Err(w), Err(g)) => assert_eq!((w.kind(), w.to_string()), (g.kind(), g.to_string())),
                (w, g) => panic!("{:?}: built {w:?}, cached {g:?}", d.kind()),
            }
            // 4 row counts x 2 (RETURNING or not) and one id-guarded, fewer where the engine
            // has no RETURNING or no guard.
            assert!(texts.len() <= 9 && !texts.is_empty(), "{:?}: {} shapes", d.kind(), texts.len());
        }
    }
}

#[test]
fn another_tenant_model_or_field_set_gets_its_own_text_or_values() {
    let d: &dyn Dialect = &Postgres;
    let texts = UpsertTexts::new();
    let t = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let a = obj(json!({"name": "n", "content": "c"}));
    let b = obj(json!({"name": "n", "summary": "s"}));
    let layout = Layout::default();
    let m = resources();
    let sa = texts.upsert(d, &m, &layout, "tenant-a", &rows(std::slice::from_ref(&a)), t, true).unwrap();
    let sb = texts.upsert(d, &m, &layout, "tenant-b", &rows(std::slice::from_ref(&a)), t, true).unwrap();
    assert_eq!(sa.sql, sb.sql);
    assert_ne!(sa.values, sb.values, "the tenant is a bound value");
    assert!(sb.values.contains(&"tenant-b".into()));
    let sc = texts.upsert(d, &m, &layout, "tenant-a", &rows(std::slice::from_ref(&b)), t, true).unwrap();
    assert_ne!(sa.sql, sc.sql, "another field set, another text");
    assert!(sc.sql.contains("\"summary\"") && !sc.sql.contains("\"content\""));
    let other = Model::builder("notes").field("name", p8fs_sql_dialect::model::FieldType::Text).key("name").build();
    let other = other.unwrap();
    let n = obj(json!({"name": "n"}));
    let sd = texts.upsert(d, &other, &layout, "tenant-a", &rows(std::slice::from_ref(&n)), t, true).unwrap();
    assert!(sd.sql.contains("\"notes\""), "{}", sd.sql);
}

#[test]
fn bad_rows_fail_on_cached_shapes_too() {
    let d: &dyn Dialect = &MariaDb;
    let texts = UpsertTexts::new();
    let t = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let m = resources();
    let layout = Layout::default();
    let good = entities(1, 2);
    texts.upsert(d, &m, &layout, "t", &rows(&good), t, false).unwrap();
    // Same shape, a value of the wrong type in the second row.
    let mut bad = entities(2, 2);
    bad[1].insert("ordinal".into(), json!("seven"));
    let e = texts.upsert(d, &m, &layout, "t", &rows(&bad), t, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("ordinal"), "{e}");
    // Same count, the second row naming other fields.
    let mut mixed = entities(3, 2);
    mixed[1].remove("content");
    let e = texts.upsert(d, &m, &layout, "t", &rows(&mixed), t, false).unwrap_err();
    assert!(e.to_string().contains("same fields"), "{e}");
    // An unknown field, and a system column.
    let mut unknown = entities(4, 2);
    unknown[0].insert("nope".into(), json!(1));
    assert!(texts.upsert(d, &m, &layout, "t", &rows(&unknown), t, false).is_err());
    let mut system = entities(5, 2);
    system[0].insert("tenant_id".into(), json!("other"));
    system[1].insert("tenant_id".into(), json!("other"));
    let e = texts.upsert(d, &m, &layout, "t", &rows(&system), t, false).unwrap_err();
    assert!(e.to_string().contains("set by p8fs"), "{e}");
}

#[test]
fn the_cache_is_bounded() {
    let d: &dyn Dialect = &Sqlite;
    let texts = UpsertTexts::new();
    let t = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let m = resources();
    for n in 1..=UpsertTexts::CAPACITY + 10 {
        let es: Vec<Map<String, Json>> = (0..n).map(|i| obj(json!({"name": format!("k{i}")}))).collect();
        texts.upsert(d, &m, &Layout::default(), "t", &rows(&es), t, false).unwrap();
        assert!(texts.len() <= UpsertTexts::CAPACITY);
    }
}

/// The per-row form (SQLite steps one prepared statement per row): statement `i` is the
/// single-row upsert the builders give for row `i` alone, for every dialect, before and
/// after its text is cached; bad rows fail as in the multi-row form and build nothing.
#[test]
fn per_row_statements_equal_the_built_single_row_ones() {
    let model = resources();
    let layout = Layout::default();
    for d in dialects() {
        let texts = UpsertTexts::new();
        for call in 1..=3u32 {
            let es = entities(call, 5);
            let rs = rows(&es);
            let t = Utc.timestamp_opt(1_790_000_000 + i64::from(call), 0).unwrap();
            for returning in [false, true] {
                let got = texts.upsert_each(d, &model, &layout, "tenant-a", &rs, t, returning);
                let Ok(got) = got else {
                    // An engine without RETURNING refuses it the same way per row.
                    let built = dml::upsert_returning(d, &model, &layout, "tenant-a", &rs[..1], t);
                    assert!(returning && built.is_err(), "{:?}: {got:?}", d.kind());
                    continue;
                };
                assert_eq!(got.len(), rs.len());
                for (i, g) in got.iter().enumerate() {
                    let one = &rs[i..=i];
                    let want = if returning {
                        dml::upsert_returning(d, &model, &layout, "tenant-a", one, t).unwrap()
                    } else {
                        dml::upsert(d, &model, &layout, "tenant-a", one, t).unwrap()
                    };
                    assert_eq!(&want, g, "{:?} call {call}, row {i}, returning {returning}", d.kind());
                }
            }
        }
        assert!(texts.len() <= 2, "{:?}: one text per RETURNING choice, got {}", d.kind(), texts.len());
    }
    let d: &dyn Dialect = &Sqlite;
    let texts = UpsertTexts::new();
    let t = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let mut bad = entities(4, 3);
    bad[2].insert("ordinal".into(), json!("seven"));
    let e = texts.upsert_each(d, &model, &layout, "t", &rows(&bad), t, true).unwrap_err();
    assert!(e.kind() == ErrorKind::InvalidInput && e.to_string().contains("ordinal"), "{e}");
    let mut mixed = entities(5, 3);
    mixed[1].remove("content");
    let e = texts.upsert_each(d, &model, &layout, "t", &rows(&mixed), t, true).unwrap_err();
    assert!(e.to_string().contains("same fields"), "{e}");
    let e = texts.upsert_each(d, &model, &layout, "t", &[], t, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}
