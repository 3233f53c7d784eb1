//! Which parameter names carry secrets.

/// Names that are secrets exactly (compared without case, `-` read as `_`).
const EXACT: &[&str] = &["pass", "pwd", "key", "sig", "auth", "authorization", "jwt", "session"];

/// Names that are secrets when they contain one of these (without case, `-` read as `_`):
/// `password`, `sslpassword`, `db_password`, `token`, `access_token`, `api_key`, `apikey`,
/// `client_secret`, `credentials`, `signature`, `private_key`...
const PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "credential",
    "signature",
    "private_key",
];

/// Whether a query parameter or connection-string key names a secret. Errs towards
/// hiding: a name that merely looks like a secret's is hidden too.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase().replace('-', "_");
    EXACT.contains(&n.as_str()) || PARTS.iter().any(|p| n.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised_without_case() {
        for n in [
            "password",
            "PASSWORD",
            "pass",
            "pwd",
            "token",
            "access_token",
            "X-Auth-Token",
            "secret",
            "client_secret",
            "api_key",
            "apiKey",
            "api-key",
            "sslpassword",
            "key",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in ["host", "port", "dbname", "user", "sslmode", "connect_timeout", "options", "application_name"] {
            assert!(!is_secret_name(n), "{n}");
        }
    }
}
