//! PostgreSQL errors mapped to portable kinds.

use p8fs_sql_dialect::{Error, ErrorKind};
use tokio_postgres::error::SqlState;

/// Maps a driver error.
pub(crate) fn map(e: tokio_postgres::Error) -> Error {
    let (kind, code) = match e.code() {
        Some(state) => (state_kind(state), Some(state.code().to_owned())),
        // No SQLSTATE: the connection could not be made or broke.
        None => (ErrorKind::Unavailable, None),
    };
    let what = match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None if e.is_closed() => "the connection is closed".to_owned(),
        None => "connection failed".to_owned(),
    };
    let mut err = Error::new(kind, what).with_backend("postgres");
    if let Some(c) = code {
        err = err.with_code(c);
    }
    if e.as_db_error().is_none() {
        err = err.with_source(e);
    }
    err
}

/// Maps a pool error (which wraps a driver error or a timeout).
pub(crate) fn map_pool(e: deadpool_postgres::PoolError) -> Error {
    match e {
        deadpool_postgres::PoolError::Backend(e) => map(e),
        other => Error::new(ErrorKind::Unavailable, "no PostgreSQL connection available")
            .with_backend("postgres")
            .with_source(other),
    }
}

fn state_kind(s: &SqlState) -> ErrorKind {
    let code = s.code();
    match code {
        "23505" => ErrorKind::UniqueViolation,
        "40001" | "40P01" => ErrorKind::Conflict,
        "57014" | "55P03" => ErrorKind::Timeout,
        "0A000" => ErrorKind::Unsupported,
        _ if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") => ErrorKind::Unavailable,
        _ if code.starts_with("22") || code.starts_with("23") => ErrorKind::InvalidInput,
        _ => ErrorKind::Database,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_map_to_portable_kinds() {
        assert_eq!(state_kind(&SqlState::UNIQUE_VIOLATION), ErrorKind::UniqueViolation);
        assert_eq!(state_kind(&SqlState::T_R_SERIALIZATION_FAILURE), ErrorKind::Conflict);
        assert_eq!(state_kind(&SqlState::ADMIN_SHUTDOWN), ErrorKind::Unavailable);
        assert_eq!(state_kind(&SqlState::QUERY_CANCELED), ErrorKind::Timeout);
        assert_eq!(state_kind(&SqlState::INVALID_TEXT_REPRESENTATION), ErrorKind::InvalidInput);
        assert_eq!(state_kind(&SqlState::UNDEFINED_TABLE), ErrorKind::Database);
    }
}
