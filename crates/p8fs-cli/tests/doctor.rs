//! End-to-end: what `p8fs doctor` shows and what it writes. Passwords and tokens never
//! appear in its output, its errors or its logs, whichever form they are configured in;
//! its KV probe touches no tenant's keys.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `p8fs` with `vars` (every other storage variable unset), logging at debug level
/// so log lines are checked too.
fn p8fs(dir: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p8fs"));
    c.args(["--data-dir", dir.to_str().unwrap()]).args(args).env("RUST_LOG", "debug");
    for v in [
        "P8FS_STORAGE_PROVIDER",
        "P8FS_PG_URL",
        "P8FS_TIDB_URL",
        "P8FS_SQLITE_PATH",
        "P8FS_KV_URL",
        "P8FS_KV_TOKEN",
        "P8FS_KV_PROXY_URL",
        "P8FS_EMBEDDING_URL",
        "P8FS_EMBEDDING_API_KEY",
    ] {
        c.env_remove(v);
    }
    c.envs(vars.iter().copied()).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn assert_no_secret(out: &Output, secrets: &[&str]) {
    let all = text(out);
    for s in secrets {
        assert!(!all.contains(s), "{s} shown:\n{all}");
    }
}

#[test]
fn doctor_shows_no_password_or_token() {
    let d = tempfile::tempdir().unwrap();
    let secrets = ["S3cretPW", "S3cretPW2", "S3cretPW3", "S3cretKV", "T0kenKV"];
    for pg in [
        "postgres://u:S3cretPW@127.0.0.1:1/db?password=S3cretPW2&connect_timeout=2",
        "host=127.0.0.1 port=1 password=S3cretPW3 connect_timeout=2",
    ] {
        let vars = [
            ("P8FS_STORAGE_PROVIDER", "postgresql"),
            ("P8FS_PG_URL", pg),
            ("P8FS_KV_URL", "http://kvuser:S3cretKV@127.0.0.1:1"),
            ("P8FS_KV_TOKEN", "T0kenKV"),
        ];
        for json in [true, false] {
            let args: &[&str] = if json { &["--json", "doctor"] } else { &["doctor"] };
            let out = p8fs(d.path(), args, &vars);
            assert_eq!(out.status.code(), Some(3), "both sides are unreachable: {}", text(&out));
            assert_no_secret(&out, &secrets);
            let all = text(&out);
            assert!(all.contains("127.0.0.1"), "the provider is still described: {all}");
            assert!(all.contains("***"), "the hidden password is marked: {all}");
        }
    }
}

#[test]
fn kv_urls_that_do_not_parse_or_carry_a_token_are_not_echoed() {
    let d = tempfile::tempdir().unwrap();
    for url in ["bogus S3cretKV", "http://kvuser:S3cretKV@[::1", "https://proxy.local/?token=S3cretKV", "S3cretKV"] {
        let out = p8fs(d.path(), &["doctor"], &[("P8FS_KV_URL", url)]);
        assert_eq!(out.status.code(), Some(2), "{url}: {}", text(&out));
        assert_no_secret(&out, &["S3cretKV"]);
        assert!(text(&out).contains("P8FS_KV_URL"), "the variable is named: {}", text(&out));
    }
}

#[test]
fn doctor_leaves_a_tenant_named_p8fs_doctor_alone() {
    let d = tempfile::tempdir().unwrap();
    let kv_file = d.path().join("kv.sqlite");
    let kv_url = format!("sqlite://{}", kv_file.display());
    let vars = [("P8FS_KV_URL", kv_url.as_str())];
    let out = p8fs(d.path(), &["kv", "put", "settings", r#"{"mine": true}"#, "--tenant", "p8fs-doctor"], &vars);
    assert!(out.status.success(), "{}", text(&out));

    // Every write to the KV table is recorded, so a probe the doctor deletes again is seen.
    let db = rusqlite::Connection::open(&kv_file).unwrap();
    db.execute_batch(
        "CREATE TABLE writes (tenant BLOB, k BLOB);
         CREATE TRIGGER on_insert AFTER INSERT ON p8fs_kv BEGIN INSERT INTO writes VALUES (NEW.tenant, NEW.k); END;
         CREATE TRIGGER on_update AFTER UPDATE ON p8fs_kv BEGIN INSERT INTO writes VALUES (NEW.tenant, NEW.k); END;",
    )
    .unwrap();

    let out = p8fs(d.path(), &["--json", "doctor"], &vars);
    assert!(out.status.success(), "{}", text(&out));
    let writes: Vec<(Vec<u8>, Vec<u8>)> = db
        .prepare("SELECT tenant, k FROM writes")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!writes.is_empty(), "the doctor's probe write was not seen");
    for (tenant, key) in &writes {
        let (tenant, key) = (String::from_utf8_lossy(tenant), String::from_utf8_lossy(key));
        assert!(!tenant.contains("p8fs-doctor") && !key.contains("p8fs-doctor/"), "wrote {key:?} in tenant {tenant:?}");
        assert!(key.starts_with("p8fs-doctor-probe:"), "probe key {key:?}");
    }
    let left: i64 = db.query_row("SELECT count(*) FROM p8fs_kv", [], |r| r.get(0)).unwrap();
    assert_eq!(left, 1, "the probe key is deleted; the tenant's key is kept");
    let out = p8fs(d.path(), &["--json", "kv", "get", "settings", "--tenant", "p8fs-doctor"], &vars);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), r#"{"mine":true}"#);
}
