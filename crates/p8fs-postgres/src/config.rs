//! Connection settings, parsed once from a URL.

use std::str::FromStr;
use std::time::Duration;

use p8fs_sql_dialect::{Error, Result};

/// The default deadline of one operation.
const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(30);
/// The default deadline of opening a connection (unless the URL gives `connect_timeout`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`crate::PgProvider`].
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// The parsed connection settings.
    pub pg: tokio_postgres::Config,
    /// Deadline of one operation (connect included).
    pub op_timeout: Duration,
    /// Most connections the pool keeps open.
    pub max_connections: usize,
    /// Most prepared statements each connection keeps (on the client and on the server);
    /// a connection that holds this many drops them all before preparing another.
    pub max_cached_statements: usize,
    /// Whether the URL set `connect_timeout` itself (then a caller's default should not
    /// replace it).
    pub connect_timeout_from_url: bool,
}

impl PgConfig {
    /// Settings for a `postgres://` or `postgresql://` URL (or a key=value string) with the
    /// defaults: 30 s per operation, 16 connections, 10 s connect timeout, 256 prepared
    /// statements per connection.
    ///
    /// # Errors
    /// [`p8fs_sql_dialect::ErrorKind::InvalidInput`] when the URL cannot be parsed.
    pub fn from_url(url: &str) -> Result<Self> {
        let mut pg = tokio_postgres::Config::from_str(url).map_err(|e| {
            Error::invalid_input("bad PostgreSQL URL (expected postgres://user:password@host:port/db)")
                .with_backend("postgres")
                .with_source(e)
        })?;
        let connect_timeout_from_url = pg.get_connect_timeout().is_some();
        if !connect_timeout_from_url {
            pg.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        // Every session in UTC, so timestamps mean the same on every engine. (The statement
        // timeout is added at connect time, from `op_timeout`.) Options the URL gives (a
        // search_path, say) are kept, before ours.
        let url_options = pg.get_options().map(str::to_owned).unwrap_or_default();
        pg.options(format!("{url_options} -c TimeZone=UTC").trim_start());
        if pg.get_application_name().is_none() {
            pg.application_name("p8fs");
        }
        Ok(Self {
            pg,
            op_timeout: DEFAULT_OP_TIMEOUT,
            max_connections: 16,
            max_cached_statements: 256,
            connect_timeout_from_url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_hides_passwords_in_errors() {
        let c = PgConfig::from_url("postgres://u:pw@127.0.0.1:5433/db").unwrap();
        assert_eq!(c.pg.get_dbname(), Some("db"));
        assert_eq!(c.pg.get_connect_timeout(), Some(&Duration::from_secs(10)), "the documented default");
        assert_eq!(c.op_timeout, Duration::from_secs(30), "the documented default");
        assert!(!c.connect_timeout_from_url);
        let own = PgConfig::from_url("postgres://u@h/db?connect_timeout=3").unwrap();
        assert_eq!(own.pg.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert!(own.connect_timeout_from_url);
        assert_eq!(c.pg.get_options(), Some("-c TimeZone=UTC"));
        let c = PgConfig::from_url("postgres://u@h/db?options=-c%20search_path%3Dapp").unwrap();
        assert_eq!(c.pg.get_options(), Some("-c search_path=app -c TimeZone=UTC"), "the URL's options are kept");
        let e = PgConfig::from_url("postgres://u:secret@h:notaport/db").unwrap_err();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
