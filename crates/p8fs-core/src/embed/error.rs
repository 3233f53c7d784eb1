//! [`EmbedError`]: what an embedding service did wrong. Its kind in the API
//! ([`crate::ErrorKind`]) is decided in one place, `From<&EmbedError> for ErrorKind`.

/// A failure of a remote embedder. Messages name the service without its secrets.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The service answered with a status other than 2xx: 429 and 5xx are transient
    /// (retried, then [`crate::ErrorKind::Unavailable`]); 401, 403 and 404 say the key,
    /// the URL or the model is wrong; other 4xx that it refused the request.
    #[error("{service}: {status}: {body}")]
    Status {
        /// The service's URL, without its secrets.
        service: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body (at most 200 characters).
        body: String,
    },
    /// The service could not be reached, or did not answer in time.
    #[error("{service}: {message}")]
    Transport {
        /// The service's URL, without its secrets.
        service: String,
        /// What failed (the HTTP client's message, without the URL).
        message: String,
    },
    /// The answer could not be used: not JSON, no data, a vector of the wrong dimension,
    /// fewer or more vectors than texts.
    #[error("{message}")]
    BadAnswer {
        /// What is wrong with it.
        message: String,
    },
}

impl EmbedError {
    /// A [`EmbedError::BadAnswer`].
    pub fn bad_answer(message: impl Into<String>) -> Self {
        EmbedError::BadAnswer { message: message.into() }
    }

    /// Whether the same request may succeed later: a 429 or 5xx answer, or no answer.
    pub fn is_retryable(&self) -> bool {
        crate::ErrorKind::from(self).is_retryable()
    }
}
