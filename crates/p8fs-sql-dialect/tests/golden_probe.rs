//! Golden SQL for the probe table: the exact text each dialect sends. The conformance
//! suites run the same statements on each engine (TiDB: a tidb-server over its in-process
//! store, see `docs/testing.md`); these pin the text.

use p8fs_sql_dialect::probe::ProbeTable;
use p8fs_sql_dialect::sea_query::Value;
use p8fs_sql_dialect::{MariaDb, Postgres, Sqlite, Tidb};

fn probe() -> ProbeTable {
    ProbeTable::new("golden").unwrap()
}

#[test]
fn tidb_probe_sql() {
    let p = probe();
    assert_eq!(
        p.create(&Tidb).sql,
        "CREATE TABLE IF NOT EXISTS `p8fs_probe_golden` ( `id` varchar(64) NOT NULL PRIMARY KEY, `doc` json NOT NULL, `embedding` VECTOR(3) NOT NULL )"
    );
    let ins = p.insert(&Tidb, "a'b", &serde_json::json!({"k": "'; DROP TABLE x"}), &[1.0, -0.5, 0.25]).unwrap();
    assert_eq!(ins.sql, "INSERT INTO `p8fs_probe_golden` (`id`, `doc`, `embedding`) VALUES (?, ?, VEC_FROM_TEXT(?))");
    assert_eq!(
        ins.values,
        vec![Value::from("a'b"), Value::from(r#"{"k":"'; DROP TABLE x"}"#), Value::from("[1,-0.5,0.25]")]
    );
    assert_eq!(
        p.select(&Tidb, "a").sql,
        "SELECT `id`, `doc`, VEC_AS_TEXT(`embedding`) FROM `p8fs_probe_golden` WHERE `id` = ?"
    );
    assert_eq!(p.drop(&Tidb).sql, "DROP TABLE IF EXISTS `p8fs_probe_golden`");
}

#[test]
fn mariadb_probe_sql() {
    let p = probe();
    let ins = p.insert(&MariaDb, "a", &serde_json::json!([1]), &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(ins.sql, "INSERT INTO `p8fs_probe_golden` (`id`, `doc`, `embedding`) VALUES (?, ?, CAST(? AS BINARY))");
    assert!(matches!(ins.values[2], Value::Bytes(Some(ref b)) if b.len() == 12));
    assert_eq!(p.select(&MariaDb, "a").sql, "SELECT `id`, `doc`, `embedding` FROM `p8fs_probe_golden` WHERE `id` = ?");
}

#[test]
fn postgres_probe_sql() {
    let p = probe();
    assert_eq!(
        p.create(&Postgres).sql,
        r#"CREATE TABLE IF NOT EXISTS "p8fs_probe_golden" ( "id" varchar(64) NOT NULL PRIMARY KEY, "doc" jsonb NOT NULL, "embedding" vector(3) NOT NULL )"#
    );
    let ins = p.insert(&Postgres, "a", &serde_json::json!(null), &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(ins.sql, r#"INSERT INTO "p8fs_probe_golden" ("id", "doc", "embedding") VALUES ($1, $2, $3)"#);
    assert!(matches!(ins.values[2], Value::Vector(Some(_))));
}

#[test]
fn sqlite_probe_sql() {
    let p = probe();
    let ins = p.insert(&Sqlite, "a", &serde_json::json!({}), &[1.0, 2.0, 3.0]).unwrap();
    assert_eq!(ins.sql, r#"INSERT INTO "p8fs_probe_golden" ("id", "doc", "embedding") VALUES (?, ?, ?)"#);
    assert!(matches!(ins.values[2], Value::Bytes(Some(ref b)) if b.len() == 12));
}

#[test]
fn probe_rejects_bad_suffixes_and_vectors() {
    for bad in ["", "A", "a-b", "x;drop", &"a".repeat(33)] {
        assert!(ProbeTable::new(bad).is_err(), "{bad:?}");
    }
    assert!(probe().insert(&Tidb, "a", &serde_json::json!(1), &[1.0]).is_err());
    assert!(probe().insert(&Postgres, "a", &serde_json::json!(1), &[1.0, f32::NAN, 0.0]).is_err());
}
