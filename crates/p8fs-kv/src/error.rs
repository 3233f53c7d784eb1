//! The one error type of the KV layer.

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KvErrorKind {
    /// A tenant id or key was rejected before reaching the store.
    InvalidKey,
    /// A key, value, batch or scan exceeded a limit.
    TooLarge,
    /// An argument other than a key was rejected (a zero scan limit, a bad cursor).
    InvalidArgument,
    /// A compare-and-swap found a different current value.
    ConditionNotMet,
    /// The backend cannot do this (see its [`crate::Capability`]).
    Unsupported,
    /// The credentials do not allow this (the proxy answered 401 or 403).
    PermissionDenied,
    /// The store could not be reached or answered with a transient failure.
    Unavailable,
    /// The store did not answer in time.
    Timeout,
    /// A value could not be (de)serialised as the requested type.
    Serde,
    /// The store reported data it should not hold.
    Corrupt,
    /// Any other failure of the store.
    Backend,
}

impl KvErrorKind {
    /// Whether the caller's input was refused before anything reached the store (a bad key
    /// or tenant, a size or count over a limit, a bad argument): the same call will fail
    /// again, whatever the store's state. These are the errors of the check layer.
    pub fn is_invalid_input(self) -> bool {
        matches!(self, KvErrorKind::InvalidKey | KvErrorKind::TooLarge | KvErrorKind::InvalidArgument)
    }
}

/// An error of the KV layer. Every error that comes from a store names the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KvError {
    /// A tenant id that could escape its namespace, or is otherwise unusable.
    #[error("invalid tenant id {tenant:?}: {reason}")]
    InvalidTenant {
        /// The rejected id (truncated to 64 characters).
        tenant: String,
        /// Why.
        reason: &'static str,
    },
    /// A key that cannot be stored.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key (truncated to 64 characters).
        key: String,
        /// Why.
        reason: String,
    },
    /// An argument other than a key that cannot be used.
    #[error("invalid argument: {message}")]
    InvalidArgument {
        /// What is wrong.
        message: String,
    },
    /// A key, value, batch or scan over a limit.
    #[error("{what} of {size} exceeds the limit of {max}")]
    TooLarge {
        /// What was too large ("value bytes", "batch entries", ...).
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A compare-and-swap did not find the expected value; nothing was written.
    #[error("compare-and-swap on {key:?}: the current value is not the expected one")]
    ConditionNotMet {
        /// The key.
        key: String,
        /// The value found (`None`: absent or expired).
        current: Option<Vec<u8>>,
    },
    /// The backend lacks a capability.
    #[error("{backend}: {what} is not supported by this backend")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// The credentials do not allow the call.
    #[error("{backend}: permission denied: {message}")]
    PermissionDenied {
        /// The backend.
        backend: &'static str,
        /// What the server said.
        message: String,
    },
    /// The store could not be reached, or failed transiently.
    #[error("{backend}: unavailable: {message}")]
    Unavailable {
        /// The backend.
        backend: &'static str,
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The store did not answer in time.
    #[error("{backend}: timed out: {message}")]
    Timeout {
        /// The backend.
        backend: &'static str,
        /// What timed out.
        message: String,
    },
    /// A value is not valid JSON for the requested type.
    #[error("value of {key:?} is not valid JSON for the requested type: {source}")]
    Serde {
        /// The key.
        key: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The store returned data it should not hold.
    #[error("{backend}: corrupt data: {message}")]
    Corrupt {
        /// The backend.
        backend: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Any other failure of the store.
    #[error("{backend}: {message}")]
    Backend {
        /// The backend.
        backend: &'static str,
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// Result with [`KvError`].
pub type Result<T, E = KvError> = std::result::Result<T, E>;

impl KvError {
    /// The error's kind.
    pub fn kind(&self) -> KvErrorKind {
        match self {
            KvError::InvalidTenant { .. } | KvError::InvalidKey { .. } => KvErrorKind::InvalidKey,
            KvError::TooLarge { .. } => KvErrorKind::TooLarge,
            KvError::InvalidArgument { .. } => KvErrorKind::InvalidArgument,
            KvError::ConditionNotMet { .. } => KvErrorKind::ConditionNotMet,
            KvError::Unsupported { .. } => KvErrorKind::Unsupported,
            KvError::PermissionDenied { .. } => KvErrorKind::PermissionDenied,
            KvError::Unavailable { .. } => KvErrorKind::Unavailable,
            KvError::Timeout { .. } => KvErrorKind::Timeout,
            KvError::Serde { .. } => KvErrorKind::Serde,
            KvError::Corrupt { .. } => KvErrorKind::Corrupt,
            KvError::Backend { .. } => KvErrorKind::Backend,
        }
    }

    /// Whether the same call may succeed later. A failed compare-and-swap is not
    /// retryable as is: the caller must read the new value and decide.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), KvErrorKind::Unavailable | KvErrorKind::Timeout)
    }

    /// Whether the caller's input was refused ([`KvErrorKind::is_invalid_input`]).
    pub fn is_invalid_input(&self) -> bool {
        self.kind().is_invalid_input()
    }

    /// An [`KvError::Unavailable`] with a cause.
    pub fn unavailable(
        backend: &'static str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        KvError::Unavailable { backend, message: message.into(), source: Some(Box::new(source)) }
    }

    /// A [`KvError::Backend`] with a cause.
    pub fn backend(
        backend: &'static str,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        KvError::Backend { backend, message: message.into(), source: Some(Box::new(source)) }
    }
}

/// Shortens user input for error messages.
pub(crate) fn clip(s: &str) -> String {
    if s.chars().count() <= 64 { s.to_owned() } else { s.chars().take(64).collect::<String>() + "..." }
}
