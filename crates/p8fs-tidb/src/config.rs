//! Connection settings, parsed once from a URL.

use std::path::PathBuf;
use std::time::Duration;

use p8fs_sql_dialect::conn_url::take_params;
use p8fs_sql_dialect::{Error, Result};

/// Which MySQL-protocol flavor to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MySqlFlavorChoice {
    /// Read `VERSION()` from the server and pick TiDB or MariaDB behaviour.
    #[default]
    Detect,
    /// Speak TiDB whatever the server says.
    Tidb,
    /// Speak MariaDB whatever the server says.
    MariaDb,
}

/// TiDB's transaction mode for p8fs's sessions (`tidb_txn_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TidbTxnMode {
    /// Rows are locked as statements write them (TiDB's default since 3.0.8): a writer
    /// waits for another's lock, and a deadlock (1213) picks a victim.
    Pessimistic,
    /// Nothing is locked until commit, where a concurrent write to the same row fails
    /// the later transaction with 9007 (write conflict); TiDB does not retry it itself
    /// (since 8.0), p8fs runs the whole transaction again.
    Optimistic,
}

impl TidbTxnMode {
    /// The value of `tidb_txn_mode`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TidbTxnMode::Pessimistic => "pessimistic",
            TidbTxnMode::Optimistic => "optimistic",
        }
    }
}

/// Settings of a [`crate::TidbProvider`]. Its `Debug` output hides the password.
#[derive(Clone)]
pub struct MySqlConfig {
    /// `mysql://user:password@host:port/database[?...]`, as `mysql_async` reads it.
    pub url: String,
    /// Flavor to speak.
    pub flavor: MySqlFlavorChoice,
    /// Deadline of one operation (connect included). A server that stops answering
    /// fails the operation with a timeout instead of hanging the caller.
    pub op_timeout: Duration,
    /// Deadline of the first connection, made by [`crate::TidbProvider::connect`]; later
    /// connections are opened within the deadline of the operation that needs them.
    pub connect_timeout: Duration,
    /// Most connections the pool keeps open.
    pub max_connections: usize,
    /// TiDB's transaction mode for every session (`None`: the server's default). Only
    /// TiDB has it: set on another server, connect fails.
    pub tidb_txn_mode: Option<TidbTxnMode>,
    /// The certificate authorities (a PEM file) a TLS connection trusts instead of the Web
    /// PKI roots: the URL's `ssl_ca`, which also turns TLS on (p8fs reads it; `url` no
    /// longer holds it). TLS itself is mysql_async's `require_ssl=true`; the certificate is
    /// verified unless the URL says `verify_ca=false` (any certificate) or
    /// `verify_identity=false` (any host name), explicitly.
    pub ssl_ca: Option<PathBuf>,
}

impl MySqlConfig {
    /// Settings for `url` with the defaults: detected flavor, 30 s per operation, 10 s for
    /// the first connection, 16 connections.
    ///
    /// # Errors
    /// [`p8fs_sql_dialect::ErrorKind::InvalidInput`] when `url` is not a `mysql://` URL.
    pub fn from_url(url: &str) -> Result<Self> {
        if !url.starts_with("mysql://") {
            return Err(Error::invalid_input(format!(
                "a MySQL-protocol URL must start with mysql:// (got {})",
                redact(url)
            ))
            .with_backend("mysql"));
        }
        let (url, taken) = take_params(url, &["ssl_ca"]);
        let mut ssl_ca = None;
        for (_, value) in taken {
            if value.is_empty() {
                return Err(Error::invalid_input("ssl_ca must name a PEM file").with_backend("mysql"));
            }
            ssl_ca = Some(PathBuf::from(value));
        }
        Ok(Self {
            url,
            flavor: MySqlFlavorChoice::Detect,
            op_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_connections: 16,
            tidb_txn_mode: None,
            ssl_ca,
        })
    }
}

impl std::fmt::Debug for MySqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlConfig")
            .field("url", &redact(&self.url))
            .field("flavor", &self.flavor)
            .field("op_timeout", &self.op_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_connections", &self.max_connections)
            .field("tidb_txn_mode", &self.tidb_txn_mode)
            .field("ssl_ca", &self.ssl_ca)
            .finish()
    }
}

/// `url` with its password and secret parameters shown as `***`, for messages and logs
/// ([`p8fs_redact::connection`]).
pub(crate) fn redact(url: &str) -> String {
    p8fs_redact::connection(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(redact("mysql://u:secret@h:1/db"), "mysql://u:***@h:1/db");
        assert_eq!(redact("mysql://h:1/db"), "mysql://h:1/db");
        let e = MySqlConfig::from_url("postgres://u:secret@h/db").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
        let c = MySqlConfig::from_url("mysql://u:secret@h:1/db?password=secret").unwrap();
        assert!(!format!("{c:?}").contains("secret"), "{c:?}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let c = MySqlConfig::from_url("mysql://u@h:4000/db").unwrap();
        assert_eq!(c.op_timeout, Duration::from_secs(30));
        assert_eq!(c.connect_timeout, Duration::from_secs(10));
        assert_eq!(c.max_connections, 16);
        assert_eq!(c.ssl_ca, None);
    }

    #[test]
    fn ssl_ca_is_read_and_taken_out_of_the_url() {
        let c = MySqlConfig::from_url("mysql://u@h:4000/db?require_ssl=true&ssl_ca=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(c.ssl_ca.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(c.url, "mysql://u@h:4000/db?require_ssl=true", "mysql_async refuses parameters it does not know");
        let e = MySqlConfig::from_url("mysql://u@h:4000/db?ssl_ca=").unwrap_err();
        assert_eq!(e.kind(), p8fs_sql_dialect::ErrorKind::InvalidInput, "{e}");
    }
}
