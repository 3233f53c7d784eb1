//! Connection settings, parsed once from a URL.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use p8fs_sql_dialect::conn_url::{parse_bool, take_params};

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
    /// How the server's certificate is checked when the connection uses TLS.
    pub tls: PgTls,
}

/// How a TLS connection checks the server's certificate. Whether TLS is used is the URL's
/// `sslmode`: `disable`; `prefer` (the default: TLS when the server offers it);
/// `require`, `verify-ca` or `verify-full` (TLS or no connection). Whenever TLS is used,
/// in every mode, the certificate is verified: it must chain to a trusted root and name
/// the host connected to (stricter than libpq, whose `prefer` and `require` verify
/// nothing). A server offering TLS with a certificate that cannot be verified is refused,
/// never used unverified or in plain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    /// The certificate authorities (a PEM file) trusted instead of the Web PKI roots:
    /// the URL's `sslrootcert`.
    pub root_cert: Option<PathBuf>,
    /// `false` accepts any certificate: only the URL's explicit `sslverify=false` sets it
    /// (for a test server; never across an untrusted network).
    pub verify: bool,
}

impl Default for PgTls {
    fn default() -> Self {
        Self { root_cert: None, verify: true }
    }
}

impl PgConfig {
    /// Settings for a `postgres://` or `postgresql://` URL (or a key=value string) with the
    /// defaults: 30 s per operation, 16 connections, 10 s connect timeout, 256 prepared
    /// statements per connection.
    ///
    /// # Errors
    /// [`p8fs_sql_dialect::ErrorKind::InvalidInput`] when the URL cannot be parsed.
    pub fn from_url(url: &str) -> Result<Self> {
        let (url, tls) = tls_from_url(url)?;
        let mut pg = tokio_postgres::Config::from_str(&url).map_err(|e| {
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
            tls,
        })
    }
}

/// Takes p8fs's TLS parameters out of a URL (`sslrootcert`, `sslverify`) and turns libpq's
/// `sslmode=verify-ca|verify-full` into `require`, which tokio-postgres knows (certificates
/// are always verified here). Key=value connection strings are left to tokio-postgres.
fn tls_from_url(url: &str) -> Result<(String, PgTls)> {
    let bad = |message: String| Error::invalid_input(message).with_backend("postgres");
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Ok((url.to_owned(), PgTls::default()));
    }
    let (url, taken) = take_params(url, &["sslrootcert", "sslverify", "sslmode"]);
    let mut tls = PgTls::default();
    let mut mode = None;
    for (key, value) in taken {
        match key.as_str() {
            "sslrootcert" if value.is_empty() => return Err(bad("sslrootcert must name a PEM file".into())),
            "sslrootcert" => tls.root_cert = Some(PathBuf::from(value)),
            "sslverify" => tls.verify = parse_bool("sslverify", &value).map_err(bad)?,
            _ => {
                mode = Some(match value.as_str() {
                    "verify-ca" | "verify-full" => "require".to_owned(),
                    "disable" | "prefer" | "require" => value,
                    other => {
                        return Err(bad(format!(
                            "sslmode must be disable, prefer, require, verify-ca or verify-full, got {other:?}"
                        )));
                    }
                })
            }
        }
    }
    let url = match mode {
        None => url,
        Some(mode) => format!("{url}{}sslmode={mode}", if url.contains('?') { '&' } else { '?' }),
    };
    Ok((url, tls))
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

    #[test]
    fn tls_parameters_are_read_and_verification_is_on_unless_turned_off() {
        let c = PgConfig::from_url("postgres://u@h/db").unwrap();
        assert_eq!(c.tls, PgTls { root_cert: None, verify: true });
        assert_eq!(c.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Prefer);
        let c = PgConfig::from_url("postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem").unwrap();
        assert_eq!(c.tls.root_cert.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert!(c.tls.verify);
        assert_eq!(c.pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require);
        let c = PgConfig::from_url("postgresql://u@h/db?sslverify=false&sslmode=require&connect_timeout=2").unwrap();
        assert!(!c.tls.verify);
        assert_eq!(c.pg.get_connect_timeout(), Some(&Duration::from_secs(2)));
        for bad in ["sslmode=allow", "sslverify=perhaps", "sslrootcert="] {
            let e = PgConfig::from_url(&format!("postgres://u@h/db?{bad}")).unwrap_err();
            assert_eq!(e.kind(), p8fs_sql_dialect::ErrorKind::InvalidInput, "{bad}: {e}");
        }
    }
}
