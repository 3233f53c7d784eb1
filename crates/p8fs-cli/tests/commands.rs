//! End-to-end: the built `p8fs` binary on the embedded default, command by command, with
//! its exit statuses (0 ok, 1 not found, 2 bad input).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn p8fs(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p8fs"))
        .args(["--data-dir", dir.to_str().unwrap()])
        .args(args)
        .env_remove("P8FS_STORAGE_PROVIDER")
        .env_remove("P8FS_KV_URL")
        .env_remove("P8FS_SQLITE_PATH")
        .env_remove("P8FS_EMBEDDING_URL")
        .output()
        .unwrap()
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
    assert_eq!(status(dir, &["search", "x", "--type", "resources", "--tenant", "t1", "--metric", "hamming"]), 2);
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
    assert_eq!(status(dir, &["schema", "--dialect", "oracle"]), 2);
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
