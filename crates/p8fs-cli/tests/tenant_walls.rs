//! End-to-end, as an attacker would try it with the built `p8fs` binary: keys that a URL
//! would resolve as paths, sent through the proxy (`P8FS_KV_URL=http://...`), and global
//! models (`tenants`) reached from a tenant's commands.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

/// The binary with its KV store behind `kv_url` (the embedded default when `None`).
fn p8fs(dir: &Path, kv_url: Option<&str>, args: &[&str]) -> Output {
    common::p8fs_with_kv(dir, kv_url, args)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

#[test]
fn keys_with_dot_segments_never_cross_tenants_through_the_proxy() {
    let server_dir = tempfile::tempdir().unwrap();
    let proxy = common::Server::start(server_dir.path(), &[]);
    let url = proxy.url();
    let client_dir = tempfile::tempdir().unwrap();
    let c = client_dir.path();
    let kv = Some(url.as_str());
    let put = p8fs(c, kv, &["kv", "put", "keys/secret", r#""bob's""#, "--tenant", "bob"]);
    assert_eq!(code(&put), 0, "{}", String::from_utf8_lossy(&put.stderr));
    for bad in ["../../bob/keys/secret", "../bob/keys/secret", "notes/..", "a/./b", "x/.", ".."] {
        let out = p8fs(c, kv, &["kv", "put", bad, r#""owned""#, "--tenant", "alice"]);
        assert_eq!(code(&out), 2, "put {bad:?}: {}", String::from_utf8_lossy(&out.stderr));
        let out = p8fs(c, kv, &["kv", "get", bad, "--tenant", "alice"]);
        assert_eq!(code(&out), 2, "get {bad:?}: {}", String::from_utf8_lossy(&out.stderr));
        let out = p8fs(c, kv, &["kv", "delete", bad, "--tenant", "alice"]);
        assert_eq!(code(&out), 2, "delete {bad:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let got = p8fs(c, kv, &["--json", "kv", "get", "keys/secret", "--tenant", "bob"]);
    assert_eq!(serde_json::from_slice::<Value>(&got.stdout).unwrap(), Value::from("bob's"));
    let scan = p8fs(c, kv, &["--json", "kv", "scan", "", "--tenant", "alice"]);
    assert_eq!(serde_json::from_slice::<Value>(&scan.stdout).unwrap(), Value::Array(vec![]), "alice stored something");
    // Dots that are not whole segments are kept as they are, through the proxy.
    for key in ["...", ".hidden", "a..b/c", "notes/.x", "50%/done?#"] {
        assert_eq!(code(&p8fs(c, kv, &["kv", "put", key, "1", "--tenant", "alice"])), 0, "put {key:?}");
        let got = p8fs(c, kv, &["--json", "kv", "get", key, "--tenant", "alice"]);
        assert_eq!(code(&got), 0, "get {key:?}: {}", String::from_utf8_lossy(&got.stderr));
    }
    let scan = p8fs(c, kv, &["--json", "kv", "scan", "", "--tenant", "alice"]);
    let keys: Vec<String> = serde_json::from_slice::<Value>(&scan.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["...", ".hidden", "50%/done?#", "a..b/c", "notes/.x"], "stored under other names");
}

#[test]
fn global_models_need_the_admin_flag() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let put = p8fs(
        dir,
        None,
        &[
            "--json",
            "entity",
            "put",
            "--type",
            "tenants",
            "--name",
            "acme",
            "--admin",
            "--data",
            r#"{"public_key":"ACME-KEY","email":"ops@acme.example"}"#,
        ],
    );
    assert_eq!(code(&put), 0, "{}", String::from_utf8_lossy(&put.stderr));
    // A tenant's commands cannot write, read, delete or export the global model.
    let attempts: [&[&str]; 5] = [
        &[
            "entity",
            "put",
            "--type",
            "tenants",
            "--name",
            "acme",
            "--tenant",
            "mallory",
            "--data",
            r#"{"public_key":"MALLORY-KEY"}"#,
        ],
        &["entity", "get", "--type", "tenants", "--name", "acme", "--tenant", "mallory"],
        &["entity", "delete", "--type", "tenants", "--name", "acme", "--tenant", "mallory"],
        &["export", "--type", "tenants", "--tenant", "mallory"],
        &["entity", "put", "--type", "resources", "--name", "moments", "--tenant", "mallory"],
    ];
    for args in attempts {
        let out = p8fs(dir, None, args);
        assert_eq!(code(&out), 2, "{args:?} went through: {}", String::from_utf8_lossy(&out.stdout));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("ops@acme.example"), "{args:?} leaked acme's email");
    }
    let got = p8fs(dir, None, &["--json", "entity", "get", "--type", "tenants", "--name", "acme", "--admin"]);
    let v: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(v["public_key"], "ACME-KEY", "acme's key changed: {v}");
    // --admin serves global models only, and --tenant with --admin is refused.
    let out = p8fs(dir, None, &["entity", "get", "--type", "resources", "--name", "x", "--admin"]);
    assert_eq!(code(&out), 2);
    let out = p8fs(dir, None, &["entity", "get", "--type", "tenants", "--name", "acme", "--admin", "--tenant", "t"]);
    assert_eq!(code(&out), 2);
    let del = p8fs(dir, None, &["--json", "entity", "delete", "--type", "tenants", "--name", "acme", "--admin"]);
    assert_eq!(code(&del), 0, "{}", String::from_utf8_lossy(&del.stderr));
    let out = p8fs(dir, None, &["entity", "get", "--type", "tenants", "--name", "acme", "--admin"]);
    assert_eq!(code(&out), 1, "deleted entity still found");
}

#[test]
fn names_with_edge_whitespace_are_refused_not_merged() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let put = p8fs(
        dir,
        None,
        &[
            "entity",
            "put",
            "--type",
            "resources",
            "--name",
            "budget",
            "--tenant",
            "t",
            "--data",
            r#"{"content":"real"}"#,
        ],
    );
    assert_eq!(code(&put), 0, "{}", String::from_utf8_lossy(&put.stderr));
    for name in ["budget ", " budget", "budget\t"] {
        let out = p8fs(
            dir,
            None,
            &[
                "entity",
                "put",
                "--type",
                "resources",
                "--name",
                name,
                "--tenant",
                "t",
                "--data",
                r#"{"content":"fake"}"#,
            ],
        );
        assert_eq!(code(&out), 2, "{name:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    for tenant in ["t ", " t"] {
        let out = p8fs(
            dir,
            None,
            &[
                "entity",
                "put",
                "--type",
                "resources",
                "--name",
                "budget",
                "--tenant",
                tenant,
                "--data",
                r#"{"content":"fake"}"#,
            ],
        );
        assert_eq!(code(&out), 2, "tenant {tenant:?}: {}", String::from_utf8_lossy(&out.stdout));
    }
    let got = p8fs(dir, None, &["--json", "entity", "get", "--type", "resources", "--name", "budget", "--tenant", "t"]);
    let v: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(v["content"], "real");
}
