//! `Settings` as `Debug` (what a log line or a panic message would print) shows no
//! password, token or key, whichever variable holds it.

use std::collections::HashMap;
use std::path::Path;

use p8fs_core::Settings;

const SECRETS: [&str; 7] = ["S3cretPW", "S3cretQ", "S3cretCI", "T0kenKV", "S3cretKV", "S3cretPX", "S3cretAPI"];

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_vars(|k| m.get(k).cloned(), Path::new("/d")).unwrap()
}

fn assert_hidden(s: &Settings) {
    let shown = format!("{s:?} {s:#?} {} {}", s.sql.describe(), s.kv.describe());
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn debug_of_the_settings_shows_no_secret() {
    let common = [
        ("P8FS_KV_TOKEN", "T0kenKV"),
        ("P8FS_KV_PROXY_URL", "https://px:S3cretPX@proxy.local"),
        ("P8FS_EMBEDDING_URL", "https://e:S3cretAPI@emb.local/?api_key=S3cretAPI"),
        ("P8FS_EMBEDDING_API_KEY", "S3cretAPI"),
    ];
    for (sql, kv) in [
        ("postgres://u:S3cretPW@127.0.0.1:1/db?password=S3cretQ", "http://kvuser:S3cretKV@127.0.0.1:1"),
        ("host=127.0.0.1 port=1 password=S3cretCI", "postgres://u:S3cretKV@h/db"),
        ("host=127.0.0.1 password='S3cretCI", "auto:"),
    ] {
        let mut vars = vec![("P8FS_STORAGE_PROVIDER", "postgresql"), ("P8FS_PG_URL", sql), ("P8FS_KV_URL", kv)];
        vars.extend(common);
        assert_hidden(&settings(&vars));
    }
    assert_hidden(&settings(&[
        ("P8FS_STORAGE_PROVIDER", "tidb"),
        ("P8FS_TIDB_HOST", "h"),
        ("P8FS_TIDB_PASSWORD", "S3cretPW"),
    ]));
}
