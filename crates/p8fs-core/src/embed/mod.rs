//! Embedders: text to vectors. `MiniLmEmbedder` (feature `minilm`, on by default) runs
//! all-MiniLM-L6-v2 locally, the model the Python system used; [`LexicalEmbedder`] works
//! offline with no model (feature hashing: shared words, not meaning); `OpenAiEmbedder`
//! (feature `openai`, on by default) calls an OpenAI-compatible `POST /v1/embeddings`
//! service.

mod error;
mod lexical;
#[cfg(feature = "minilm")]
mod minilm;
mod openai;

use async_trait::async_trait;

pub use error::EmbedError;
pub use lexical::LexicalEmbedder;
#[cfg(feature = "minilm")]
pub use minilm::MiniLmEmbedder;
pub use openai::OpenAiConfig;
#[cfg(feature = "openai")]
pub use openai::OpenAiEmbedder;

use crate::Result;

/// Turns texts into vectors of one dimension.
#[async_trait]
pub trait Embedder: Send + Sync + std::fmt::Debug {
    /// The provider name recorded with each embedding (`embedding_provider`).
    fn name(&self) -> &str;

    /// The dimension of every vector.
    fn dim(&self) -> usize;

    /// One vector per text, in order.
    ///
    /// # Errors
    /// The service's errors (for remote embedders); never for [`LexicalEmbedder`].
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// What an embedder did so far: texts embedded and the time spent in its calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EmbedStats {
    /// Texts embedded.
    pub texts: u64,
    /// Calls made.
    pub calls: u64,
    /// Wall time spent in those calls.
    pub elapsed: std::time::Duration,
}

/// An embedder that counts what the one it wraps does (the `P8fs` wraps its embedder in
/// one, so `p8fs demo` can say how long embedding took).
#[derive(Debug)]
pub(crate) struct Metered {
    inner: std::sync::Arc<dyn Embedder>,
    texts: std::sync::atomic::AtomicU64,
    calls: std::sync::atomic::AtomicU64,
    nanos: std::sync::atomic::AtomicU64,
}

impl Metered {
    pub(crate) fn new(inner: std::sync::Arc<dyn Embedder>) -> Self {
        Self { inner, texts: 0.into(), calls: 0.into(), nanos: 0.into() }
    }

    pub(crate) fn stats(&self) -> EmbedStats {
        use std::sync::atomic::Ordering::Relaxed;
        EmbedStats {
            texts: self.texts.load(Relaxed),
            calls: self.calls.load(Relaxed),
            elapsed: std::time::Duration::from_nanos(self.nanos.load(Relaxed)),
        }
    }
}

#[async_trait]
impl Embedder for Metered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        use std::sync::atomic::Ordering::Relaxed;
        let started = std::time::Instant::now();
        let out = self.inner.embed(texts).await;
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Relaxed);
        self.calls.fetch_add(1, Relaxed);
        self.texts.fetch_add(texts.len() as u64, Relaxed);
        out
    }
}
