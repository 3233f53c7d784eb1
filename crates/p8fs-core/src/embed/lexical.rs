//! [`LexicalEmbedder`]: an offline embedder by feature hashing.
//!
//! It is *lexical*, not semantic: texts that share words (and word pieces) come out close;
//! synonyms do not. Good enough for demos and tests that must run with no network and no
//! model download; use a real model ([`super::OpenAiEmbedder`]) for meaning.

use async_trait::async_trait;

use super::Embedder;
use crate::Result;

/// Feature hashing of words (weight 1), word bigrams (0.5) and character trigrams of each
/// word (0.25), signed, into `dim` buckets, L2-normalised. Deterministic.
#[derive(Debug, Clone)]
pub struct LexicalEmbedder {
    dim: usize,
    name: String,
}

/// Common English words that carry no topic.
const STOP: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "how", "in", "into", "is", "it", "its", "of", "on",
    "or", "that", "the", "this", "to", "with", "your", "you", "we", "our", "can", "will", "about", "using", "use",
];

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A crude stem: plural and common suffixes off, so "networks" meets "network".
fn stem(w: &str) -> &str {
    for suf in ["ing", "ies", "es", "s", "ed"] {
        if let Some(s) = w.strip_suffix(suf)
            && s.chars().count() >= 4
        {
            return s;
        }
    }
    w
}

impl LexicalEmbedder {
    /// An embedder of `dim` dimensions (at least 8).
    pub fn new(dim: usize) -> Self {
        let dim = dim.max(8);
        Self { dim, name: format!("p8fs-lexical-{dim}") }
    }

    /// Embeds one text.
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty() && !STOP.contains(w))
            .map(stem)
            .collect();
        let mut v = vec![0f32; self.dim];
        let mut add = |feature: &str, weight: f32| {
            let h = fnv(feature.as_bytes());
            let i = (h % self.dim as u64) as usize;
            v[i] += if h >> 63 == 0 { weight } else { -weight };
        };
        for w in &words {
            add(&format!("w:{w}"), 1.0);
            let chars: Vec<char> = format!("<{w}>").chars().collect();
            for t in chars.windows(3) {
                add(&format!("c:{}", t.iter().collect::<String>()), 0.25);
            }
        }
        for pair in words.windows(2) {
            add(&format!("b:{} {}", pair[0], pair[1]), 0.5);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            for x in &mut v {
                *x /= norm;
            }
        }
        v
    }
}

#[async_trait]
impl Embedder for LexicalEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_words_are_closer_than_unrelated_ones() {
        let e = LexicalEmbedder::new(384);
        let a = e.embed_one("Neural networks learn representations");
        let b = e.embed_one("Training deep neural networks");
        let c = e.embed_one("Baking sourdough bread at home");
        assert!(cos(&a, &b) > cos(&a, &c) + 0.1, "{} vs {}", cos(&a, &b), cos(&a, &c));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5, "normalised");
        assert_eq!(e.embed_one("same text"), e.embed_one("same text"), "deterministic");
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
    }
}
