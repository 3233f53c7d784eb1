//! p8fs on the embedded default (SQLite + the embedded KV store), no server needed:
//!
//! ```sh
//! cargo run -p p8fs-core --example quickstart            # data in ./p8fs-data
//! P8FS_DATA_DIR=/tmp/p8 cargo run -p p8fs-core --example quickstart
//! P8FS_STORAGE_PROVIDER=postgresql P8FS_PG_URL=postgres://... cargo run -p p8fs-core --example quickstart
//! ```
//!
//! Stores a few resources with embeddings (the offline lexical embedder) and reverse
//! mappings, finds one by name and by storage key, round-trips a KV value, and searches by
//! meaning.

use std::path::PathBuf;

use p8fs_core::{P8fs, Settings};
use p8fs_sql_dialect::entity::SearchOptions;
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir =
        std::env::var_os("P8FS_DATA_DIR").map_or_else(|| PathBuf::from(p8fs_core::DEFAULT_DATA_DIR), PathBuf::from);
    // The embedded default, unless P8FS_STORAGE_PROVIDER / P8FS_KV_URL / ... say otherwise.
    let settings = Settings::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()), &dir)?;
    let p8fs = P8fs::open(&settings).await?;
    p8fs.migrate().await?;
    let tenant = "tenant-demo";
    let docs = [
        ("ml-article", "Machine learning and artificial intelligence: how neural networks learn from data."),
        ("dl-tutorial", "Deep learning tutorial: training deep neural networks with backpropagation on GPUs."),
        ("python-guide", "Python data analysis guide: programming with pandas and numpy for data sets."),
    ];
    for (name, content) in docs {
        let stored = p8fs
            .store_entity_with_reverse_mapping(
                name,
                "resources",
                json!({"content": content, "category": "guide"}).as_object().cloned().unwrap_or_default(),
                tenant,
            )
            .await?;
        println!("stored {name:<13} as {}", stored.storage_key);
    }
    let manual = p8fs.get_entity_by_name("python-guide", "resources", tenant).await?;
    println!("by name:        python-guide -> id {}", manual.as_ref().map_or("?".into(), |m| m["id"].to_string()));
    if let Some(m) = &manual {
        let key = format!("resources/{}", m["id"].as_str().unwrap_or_default());
        println!("by storage key: {key} -> {} entity", p8fs.get_entities_by_storage_key(&key, tenant).await?.len());
    }
    let kv = p8fs.kv().tenant(&p8fs_kv::TenantId::new(tenant)?);
    kv.put_json("settings/theme", &json!({"dark": true}), None).await?;
    println!("kv round trip:  {}", kv.get_json::<serde_json::Value>("settings/theme").await?.unwrap_or_default());
    for query in ["artificial intelligence and neural networks", "programming languages for data analysis"] {
        let r =
            p8fs.semantic_search("resources", tenant, query, &SearchOptions { limit: 3, ..Default::default() }).await?;
        println!("search {query:?}:");
        for h in r.hits {
            println!("  {:<13} score {:.3} ({})", h.entity["name"].as_str().unwrap_or("?"), h.score, h.field);
        }
    }
    Ok(())
}
