//! Secrets out of p8fs's messages, logs and `Debug` output.
//!
//! Every place that shows a connection string goes through this crate, so there is one
//! definition of what a secret is ([`is_secret_name`]) and one way of hiding it:
//!
//! * [`url`]: a URL with the password of its userinfo and its secret query parameters
//!   (`?password=`, `?token=`, `?api_key=`, ...) replaced by [`HIDDEN`];
//! * [`conninfo`]: a PostgreSQL `key=value` connection string with its secret values
//!   (`password=`, `sslpassword=`, ...) replaced;
//! * [`connection`]: either, for a setting that may hold one or the other.
//!
//! Redaction works on the parsed string, never by searching the text: a string that does
//! not parse is not shown at all ([`NOT_SHOWN`]), since nothing says where its secret is.
//!
//! It is the lowest p8fs crate (it depends on no other), so every layer, the KV backends
//! included, can reach it.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod conninfo;
mod names;
mod url;

pub use conninfo::conninfo;
pub use names::is_secret_name;
pub use url::url;

/// What a hidden secret shows as.
pub const HIDDEN: &str = "***";

/// What a connection string that does not parse shows as.
pub const NOT_SHOWN: &str = "(not shown: it does not parse)";

/// A connection string for messages: a URL (`scheme://...`) through [`url`], anything else
/// through [`conninfo`]; [`NOT_SHOWN`] when it parses as neither.
pub fn connection(s: &str) -> String {
    let parsed = if s.contains("://") { url(s) } else { conninfo(s) };
    parsed.unwrap_or_else(|| NOT_SHOWN.to_owned())
}

/// A secret for `Debug` output: `Some("***")` for a set value, `None` for none, so the
/// output still says whether one is configured.
pub fn option(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| HIDDEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_picks_the_parser_and_hides_what_does_not_parse() {
        assert_eq!(connection("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(connection("host=h password=pw"), "host=h password=***");
        assert_eq!(connection("postgres://u:pw@[bad/db"), NOT_SHOWN);
        assert_eq!(connection("host='unterminated password=pw"), NOT_SHOWN);
    }

    #[test]
    fn option_says_whether_a_secret_is_set() {
        assert_eq!(option(&Some("tok".into())), Some("***"));
        assert_eq!(option(&None), None);
    }
}
