//! Embedders: text to vectors. [`LexicalEmbedder`] works offline (feature hashing, no
//! model); `OpenAiEmbedder` (feature `openai`, on by default) calls an OpenAI-compatible
//! `POST /v1/embeddings` service.

mod error;
mod lexical;
mod openai;

use async_trait::async_trait;

pub use error::EmbedError;
pub use lexical::LexicalEmbedder;
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
