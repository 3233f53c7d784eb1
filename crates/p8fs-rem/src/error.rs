//! The one error of the parser.

/// A malformed or refused query.
///
/// `message` names the part that is wrong, e.g. `OR is not supported in WHERE: only AND
/// of conditions`, `unknown operator != in WHERE`, `expected a number after LIMIT, got
/// "ten"`, `JOIN is not allowed`. Display is the message alone. Every error of
/// [`crate::parse`] is the caller's (an HTTP 400, a CLI exit code 2): none is retryable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, in one sentence naming the offending part.
    pub message: String,
}

impl ParseError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ParseError { message: message.into() }
    }
}

/// The parser's result type.
pub(crate) type Result<T> = std::result::Result<T, ParseError>;

/// `s` for a message: quoted, and cut to 60 characters so that a 16 KiB query does not
/// come back whole inside its error.
pub(crate) fn shown(s: &str) -> String {
    const MAX: usize = 60;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{:?}...", &s[..cut]),
        None => format!("{s:?}"),
    }
}

/// Bails out with a formatted [`ParseError`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::ParseError::new(format!($($arg)*)))
    };
}
pub(crate) use bail;
