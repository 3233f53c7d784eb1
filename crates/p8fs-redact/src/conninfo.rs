//! PostgreSQL `key=value` connection strings (libpq's conninfo) without their secrets.

use crate::{HIDDEN, is_secret_name};

/// `s` parsed as a libpq connection string (`host=db port=5432 password='a b'`: pairs
/// separated by spaces, spaces allowed around `=`, values bare or single-quoted, `\`
/// escaping the next character), rebuilt as `key=value` pairs with the values of secret
/// keys ([`is_secret_name`]) replaced by [`crate::HIDDEN`] and the others as written.
/// `None` when `s` does not parse (a key without `=`, an unterminated quote).
///
/// ```
/// assert_eq!(
///     p8fs_redact::conninfo("host=127.0.0.1 port = 1 password='S3cret PW'").as_deref(),
///     Some("host=127.0.0.1 port=1 password=***")
/// );
/// assert_eq!(p8fs_redact::conninfo("host=h password='unterminated"), None);
/// ```
pub fn conninfo(s: &str) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let key_end = rest.find(|c: char| c == '=' || c.is_whitespace())?;
        let key = &rest[..key_end];
        if key.is_empty() {
            return None;
        }
        rest = rest[key_end..].trim_start().strip_prefix('=')?.trim_start();
        let (value, after) = value(rest)?;
        out.push(format!("{key}={}", if is_secret_name(key) { HIDDEN } else { value }));
        rest = after.trim_start();
    }
    Some(out.join(" "))
}

/// The value at the start of `s` as written (quotes included) and what follows it.
fn value(s: &str) -> Option<(&str, &str)> {
    let quoted = s.starts_with('\'');
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(usize::from(quoted)) {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if quoted && c == '\'' {
            return Some((&s[..=i], &s[i + 1..]));
        } else if !quoted && c.is_whitespace() {
            return Some((&s[..i], &s[i..]));
        }
    }
    // The end of the string ends a bare value; a quoted one must be closed.
    if quoted || escaped { None } else { Some((s, "")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_hidden_in_every_form() {
        let cases = [
            ("host=127.0.0.1 port=1 password=S3cretPW3", "host=127.0.0.1 port=1 password=***"),
            ("password = S3cret host=h", "password=*** host=h"),
            ("host=h password='with space and \\' quote'", "host=h password=***"),
            ("host=h sslpassword=x dbname='my db'", "host=h sslpassword=*** dbname='my db'"),
            ("  host=h  ", "host=h"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(conninfo(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn what_does_not_parse_is_not_returned() {
        for bad in ["host", "host=h password", "=x", "password='S3cret", "password=S3cret\\"] {
            assert_eq!(conninfo(bad), None, "{bad}");
        }
    }
}
