//! `P8FS_EMBEDDER` and the variables around it: which embedder each combination picks,
//! and that bad combinations are refused by name.

use std::collections::HashMap;
use std::path::Path;

use p8fs_core::{EmbedderSettings, Settings};

fn pick(pairs: &[(&str, &str)]) -> Result<EmbedderSettings, String> {
    let m: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    Settings::from_vars(|k| m.get(k).cloned(), Path::new("/d")).map(|s| s.embedder).map_err(|e| e.to_string())
}

#[test]
fn the_default_is_minilm_with_the_lexical_fallback() {
    assert!(matches!(pick(&[]), Ok(EmbedderSettings::MiniLm { fallback: true, cache_dir: None, .. })));
    assert!(matches!(
        pick(&[("P8FS_MODEL_CACHE", "/models")]),
        Ok(EmbedderSettings::MiniLm { cache_dir: Some(d), .. }) if d == Path::new("/models")
    ));
    assert!(matches!(Settings::embedded(Path::new("/d")).embedder, EmbedderSettings::MiniLm { fallback: true, .. }));
}

#[test]
fn each_value_picks_its_embedder() {
    assert!(matches!(pick(&[("P8FS_EMBEDDER", "minilm")]), Ok(EmbedderSettings::MiniLm { fallback: false, .. })));
    assert!(matches!(pick(&[("P8FS_EMBEDDER", "lexical")]), Ok(EmbedderSettings::Lexical { dim: 384 })));
    assert!(matches!(
        pick(&[("P8FS_EMBEDDER", "lexical"), ("P8FS_EMBEDDING_DIM", "768")]),
        Ok(EmbedderSettings::Lexical { dim: 768 })
    ));
    assert!(matches!(
        pick(&[("P8FS_EMBEDDER", "openai"), ("P8FS_EMBEDDING_URL", "http://127.0.0.1:9")]),
        Ok(EmbedderSettings::OpenAi(_))
    ));
    // A service URL without P8FS_EMBEDDER keeps meaning the service, as before.
    assert!(matches!(pick(&[("P8FS_EMBEDDING_URL", "http://127.0.0.1:9")]), Ok(EmbedderSettings::OpenAi(_))));
}

#[test]
fn bad_combinations_are_refused_by_name() {
    let e = pick(&[("P8FS_EMBEDDER", "bert")]).unwrap_err();
    assert!(e.contains("P8FS_EMBEDDER") && e.contains("minilm, lexical, openai"), "{e}");
    let e = pick(&[("P8FS_EMBEDDER", "openai")]).unwrap_err();
    assert!(e.contains("P8FS_EMBEDDING_URL"), "{e}");
    let e = pick(&[("P8FS_EMBEDDER", "minilm"), ("P8FS_EMBEDDING_DIM", "768")]).unwrap_err();
    assert!(e.contains("384") && e.contains("768"), "{e}");
    let e = pick(&[("P8FS_EMBEDDING_DIM", "0")]).unwrap_err();
    assert!(e.contains("P8FS_EMBEDDING_DIM"), "{e}");
    let e = pick(&[("P8FS_EMBEDDER", "MiniLM ")]).unwrap_err();
    assert!(e.contains("P8FS_EMBEDDER"), "values are exact: {e}");
}
