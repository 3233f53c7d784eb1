//! Errors of the high-level API.

/// An error of the p8fs API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message says which setting and what is valid.
    #[error("configuration: {0}")]
    Config(String),
    /// A SQL provider failed.
    #[error(transparent)]
    Sql(#[from] p8fs_sql_dialect::Error),
    /// The embedding service failed.
    #[error("embedding: {0}")]
    Embedding(String),
    /// The KV layer failed.
    #[error(transparent)]
    Kv(#[from] p8fs_kv::KvError),
}

impl Error {
    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Config(_) | Error::Embedding(_) => false,
            Error::Sql(e) => e.is_retryable(),
            Error::Kv(e) => e.is_retryable(),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
