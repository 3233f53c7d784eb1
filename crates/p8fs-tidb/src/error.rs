//! MySQL, TiDB and MariaDB errors mapped to portable kinds.

use p8fs_sql_dialect::{Error, ErrorKind};

/// Maps a driver error, naming `backend` (the flavor) in the message.
pub(crate) fn map(e: mysql_async::Error, backend: &'static str) -> Error {
    use mysql_async::Error as E;
    match e {
        // The server's own message says all; no source to repeat it.
        E::Server(s) if no_tiflash(s.code, &s.message) => Error::new(
            ErrorKind::Unsupported,
            format!(
                "this TiDB cluster has no TiFlash store: TiFlash replicas and vector indexes need one, \
                 searches run exactly without them ({})",
                s.message
            ),
        )
        .with_backend(backend)
        .with_code(s.code.to_string()),
        E::Server(s) => Error::new(server_kind(s.code), s.message).with_backend(backend).with_code(s.code.to_string()),
        E::Io(io) => Error::new(ErrorKind::Unavailable, "connection failed").with_backend(backend).with_source(io),
        E::Driver(d) => Error::new(ErrorKind::Unavailable, "connection failed").with_backend(backend).with_source(d),
        E::Url(u) => Error::new(ErrorKind::InvalidInput, "bad MySQL URL").with_backend(backend).with_source(u),
        E::Other(o) => Error::new(ErrorKind::Database, format!("driver error: {o}")).with_backend(backend),
    }
}

/// TiDB refuses a TiFlash replica (which a vector index needs) on a cluster without
/// TiFlash stores with the generic 1105 and this text; `unistore` (the in-process store)
/// has none.
fn no_tiflash(code: u16, message: &str) -> bool {
    code == 1105 && message.contains("total tiflash server count")
}

/// Server error numbers (MySQL's, TiDB's and MariaDB's) to kinds.
fn server_kind(code: u16) -> ErrorKind {
    match code {
        // ER_DUP_ENTRY, ER_DUP_KEY, ER_DUP_UNIQUE
        1062 | 1022 | 1169 => ErrorKind::UniqueViolation,
        // ER_LOCK_DEADLOCK, TiDB write conflict, TiDB "transaction too large"-free retryables
        1213 | 9007 | 8002 | 8022 | 8028 => ErrorKind::Conflict,
        // ER_LOCK_WAIT_TIMEOUT, ER_QUERY_TIMEOUT (MariaDB), max_execution_time exceeded
        1205 | 1969 | 3024 => ErrorKind::Timeout,
        // server shutting down, too many connections, TiKV/PD server busy or unavailable
        1053 | 1040 | 9001 | 9002 | 9003 | 9004 | 9005 => ErrorKind::Unavailable,
        // data too long, incorrect value, out of range, invalid JSON, truncated
        1406 | 1366 | 1264 | 3140 | 1265 | 4038 | 1292 => ErrorKind::InvalidInput,
        // ER_NOT_SUPPORTED_YET, unknown function
        1235 | 1305 => ErrorKind::Unsupported,
        _ => ErrorKind::Database,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_codes_map_to_portable_kinds() {
        assert_eq!(server_kind(1062), ErrorKind::UniqueViolation);
        assert_eq!(server_kind(9007), ErrorKind::Conflict);
        assert!(server_kind(1213).is_retryable());
        assert_eq!(server_kind(1146), ErrorKind::Database);
        // The exact text of TiDB v8.4 over unistore.
        assert!(no_tiflash(1105, "the tiflash replica count: 1 should be less than the total tiflash server count: 0"));
        assert!(!no_tiflash(1105, "some other internal error"));
    }
}
