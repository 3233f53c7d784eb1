//! Errors of the high-level API, with one portable [`ErrorKind`] a caller can match.
//!
//! The kinds of the layers below (the SQL providers', the KV layer's, the embedders') are
//! mapped onto [`ErrorKind`] here and nowhere else: the `From` impls of this file.

use p8fs_kv::KvErrorKind;
use p8fs_sql_dialect::ErrorKind as SqlErrorKind;

use crate::embed::EmbedError;

/// What went wrong, independent of the layer that failed. A caller branches on this (an
/// exit status, an HTTP status, a retry) instead of on the error's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input was rejected: an unknown entity type, a bad name, key, tenant id
    /// or value, data that does not fit the model, a request the embedding service refused.
    InvalidInput,
    /// A setting is invalid, or names a service that refuses it: a bad `P8FS_*` value, an
    /// embedding service's URL, model or key it does not accept.
    Config,
    /// The thing asked for does not exist.
    NotFound,
    /// The write conflicts with stored data: a unique key another row already holds, a
    /// compare-and-swap that found another value. Retrying the same call fails again.
    Conflict,
    /// The credentials do not allow this (the KV proxy answered 401 or 403).
    PermissionDenied,
    /// The configured backend cannot do this (an engine version or KV backend without the
    /// capability).
    Unsupported,
    /// A backend or service could not serve the call now: unreachable, timed out, a
    /// conflicting transaction, an embedding service answering 429 or 5xx. The only
    /// retryable kind.
    Unavailable,
    /// Anything else: an engine error of no other kind, an answer that cannot be read, a
    /// broken invariant.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same call later may succeed: [`ErrorKind::Unavailable`] only.
    pub fn is_retryable(self) -> bool {
        self == ErrorKind::Unavailable
    }
}

impl From<SqlErrorKind> for ErrorKind {
    fn from(k: SqlErrorKind) -> Self {
        match k {
            SqlErrorKind::InvalidInput => ErrorKind::InvalidInput,
            SqlErrorKind::UniqueViolation => ErrorKind::Conflict,
            // A transaction that lost to another one: the same call may succeed later.
            SqlErrorKind::Unavailable | SqlErrorKind::Timeout | SqlErrorKind::Conflict => ErrorKind::Unavailable,
            SqlErrorKind::Unsupported => ErrorKind::Unsupported,
            _ => ErrorKind::Internal,
        }
    }
}

impl From<KvErrorKind> for ErrorKind {
    fn from(k: KvErrorKind) -> Self {
        match k {
            // `Serde`: the value under the key is not of the type asked for.
            KvErrorKind::InvalidKey | KvErrorKind::InvalidArgument | KvErrorKind::TooLarge | KvErrorKind::Serde => {
                ErrorKind::InvalidInput
            }
            KvErrorKind::ConditionNotMet => ErrorKind::Conflict,
            KvErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            KvErrorKind::Unsupported => ErrorKind::Unsupported,
            KvErrorKind::Unavailable | KvErrorKind::Timeout => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }
}

impl From<&EmbedError> for ErrorKind {
    fn from(e: &EmbedError) -> Self {
        match e {
            EmbedError::Status { status, .. } => match status {
                429 | 500..=599 => ErrorKind::Unavailable,
                // The key, the URL or the model is wrong.
                401 | 403 | 404 => ErrorKind::Config,
                400..=499 => ErrorKind::InvalidInput,
                _ => ErrorKind::Internal,
            },
            EmbedError::Transport { .. } => ErrorKind::Unavailable,
            EmbedError::BadAnswer { .. } => ErrorKind::Internal,
        }
    }
}

/// An error of the p8fs API. Match on [`Error::kind`]; the variants keep the layer's own
/// error (and its codes) for messages and for callers that need them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is invalid; the message says which setting and what is valid.
    #[error("configuration: {0}")]
    Config(String),
    /// The caller's input was rejected; the message says which and why.
    #[error("{0}")]
    InvalidInput(String),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A broken invariant (a lower layer answered something it must not).
    #[error("internal error: {0}")]
    Internal(String),
    /// A SQL provider failed.
    #[error(transparent)]
    Sql(#[from] p8fs_sql_dialect::Error),
    /// The embedding service failed.
    #[error("embedding: {0}")]
    Embedding(#[from] EmbedError),
    /// The KV layer failed.
    #[error(transparent)]
    Kv(#[from] p8fs_kv::KvError),
}

impl Error {
    /// The portable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::Internal(_) => ErrorKind::Internal,
            Error::Sql(e) => e.kind().into(),
            Error::Embedding(e) => e.into(),
            Error::Kv(e) => e.kind().into(),
        }
    }

    /// Whether retrying the same call later may succeed (the kind is
    /// [`ErrorKind::Unavailable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use p8fs_kv::KvError;
    use p8fs_sql_dialect::Error as SqlError;

    use super::*;

    fn status(status: u16) -> Error {
        EmbedError::Status { service: "http://127.0.0.1:1/v1/embeddings".into(), status, body: String::new() }.into()
    }

    #[test]
    fn embedding_services_429_and_5xx_are_retryable_and_unavailable() {
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(status(s).kind(), ErrorKind::Unavailable, "{s}");
            assert!(status(s).is_retryable(), "{s}");
        }
    }

    #[test]
    fn embedding_services_4xx_are_input_or_configuration_and_not_retryable() {
        for (s, kind) in [
            (400, ErrorKind::InvalidInput),
            (413, ErrorKind::InvalidInput),
            (422, ErrorKind::InvalidInput),
            (401, ErrorKind::Config),
            (403, ErrorKind::Config),
            (404, ErrorKind::Config),
        ] {
            assert_eq!(status(s).kind(), kind, "{s}");
            assert!(!status(s).is_retryable(), "{s}");
        }
        let unreadable: Error = EmbedError::BadAnswer { message: "answer without data".into() }.into();
        assert_eq!(unreadable.kind(), ErrorKind::Internal);
        assert!(!unreadable.is_retryable());
    }

    #[test]
    fn sql_kinds_map_to_core_kinds() {
        for (sql, kind) in [
            (SqlErrorKind::UniqueViolation, ErrorKind::Conflict),
            (SqlErrorKind::InvalidInput, ErrorKind::InvalidInput),
            (SqlErrorKind::Unavailable, ErrorKind::Unavailable),
            (SqlErrorKind::Timeout, ErrorKind::Unavailable),
            (SqlErrorKind::Conflict, ErrorKind::Unavailable),
            (SqlErrorKind::Unsupported, ErrorKind::Unsupported),
            (SqlErrorKind::Decode, ErrorKind::Internal),
            (SqlErrorKind::Database, ErrorKind::Internal),
        ] {
            let e = Error::from(SqlError::new(sql, "x"));
            assert_eq!(e.kind(), kind, "{sql:?}");
            // Retryable exactly when the provider says so.
            assert_eq!(e.is_retryable(), sql.is_retryable(), "{sql:?}");
        }
    }

    #[test]
    fn kv_kinds_map_to_core_kinds() {
        let cases: Vec<(KvError, ErrorKind)> = vec![
            (KvError::InvalidKey { key: "k".into(), reason: "r".into() }, ErrorKind::InvalidInput),
            (KvError::InvalidTenant { tenant: "../t".into(), reason: "r" }, ErrorKind::InvalidInput),
            (KvError::TooLarge { what: "value bytes", size: 2, max: 1 }, ErrorKind::InvalidInput),
            (KvError::ConditionNotMet { key: "k".into(), current: None }, ErrorKind::Conflict),
            (KvError::PermissionDenied { backend: "http", message: "403".into() }, ErrorKind::PermissionDenied),
            (KvError::Unsupported { backend: "http", what: "ttl" }, ErrorKind::Unsupported),
            (KvError::Unavailable { backend: "tikv", message: "m".into(), source: None }, ErrorKind::Unavailable),
            (KvError::Timeout { backend: "tikv", message: "m".into() }, ErrorKind::Unavailable),
            (KvError::Corrupt { backend: "embedded", message: "m".into() }, ErrorKind::Internal),
            (KvError::Backend { backend: "embedded", message: "m".into(), source: None }, ErrorKind::Internal),
        ];
        for (kv, kind) in cases {
            let retryable = kv.is_retryable();
            let e = Error::from(kv);
            assert_eq!(e.kind(), kind, "{e}");
            assert_eq!(e.is_retryable(), retryable, "{e}");
        }
    }

    #[test]
    fn core_variants_have_their_kinds_and_none_is_retryable() {
        for (e, kind) in [
            (Error::Config("P8FS_X".into()), ErrorKind::Config),
            (Error::InvalidInput("bad".into()), ErrorKind::InvalidInput),
            (Error::NotFound("none".into()), ErrorKind::NotFound),
            (Error::Internal("broken".into()), ErrorKind::Internal),
        ] {
            assert_eq!(e.kind(), kind, "{e}");
            assert!(!e.is_retryable(), "{e}");
        }
    }
}
