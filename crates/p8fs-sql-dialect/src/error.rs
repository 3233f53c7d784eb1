//! The one error type of every SQL provider, with portable kinds a caller can match.

use std::fmt;

/// What went wrong, independent of the engine. Providers map SQLSTATE codes (PostgreSQL),
/// MySQL/TiDB/MariaDB error numbers and SQLite result codes onto these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server could not be reached, or the connection broke.
    Unavailable,
    /// An operation did not finish within its deadline.
    Timeout,
    /// A unique or primary key constraint was violated.
    UniqueViolation,
    /// A transaction conflicted with another one (TiDB write conflict, deadlock,
    /// serialization failure); retrying the transaction may succeed.
    Conflict,
    /// The input was rejected before or by the server (bad value, bad identifier, bad
    /// configuration).
    InvalidInput,
    /// The engine or its version lacks something this operation needs.
    Unsupported,
    /// A value read back could not be decoded into the expected type.
    Decode,
    /// The server reported an error of no other kind.
    Database,
}

impl ErrorKind {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Timeout | ErrorKind::Conflict)
    }
}

/// An error from SQL generation or from a provider.
#[derive(Debug, thiserror::Error)]
pub struct Error {
    kind: ErrorKind,
    backend: Option<&'static str>,
    code: Option<String>,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A new error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, backend: None, code: None, message: message.into(), source: None }
    }

    /// Shorthand for [`ErrorKind::InvalidInput`].
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// Shorthand for [`ErrorKind::Decode`].
    pub fn decode(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Decode, message)
    }

    /// Names the backend the error came from (`"postgres"`, `"mariadb"`, ...); shown first in
    /// the message so a failing test run says which database failed.
    #[must_use]
    pub fn with_backend(mut self, backend: &'static str) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Attaches the engine's own error code (SQLSTATE, MySQL error number).
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Attaches the underlying error.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    /// The portable kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The backend that reported the error, when known.
    pub fn backend(&self) -> Option<&'static str> {
        self.backend
    }

    /// The engine's own code (SQLSTATE or error number), when there is one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = self.backend {
            write!(f, "{b}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(c) = &self.code {
            write!(f, " (code {c})")?;
        }
        // The source is not repeated here: it is reachable through `source()`, and
        // error reporters (anyhow's `{:#}`) print the chain.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_code_and_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Unavailable, "cannot connect to 127.0.0.1:1")
            .with_backend("mariadb")
            .with_code("2002")
            .with_source(io);
        assert_eq!(e.to_string(), "mariadb: cannot connect to 127.0.0.1:1 (code 2002)");
        assert_eq!(std::error::Error::source(&e).map(ToString::to_string), Some("refused".to_owned()));
        assert!(e.is_retryable());
        assert!(!Error::invalid_input("x").is_retryable());
    }
}
