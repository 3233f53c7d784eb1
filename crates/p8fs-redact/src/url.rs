//! URLs without their secrets.

use crate::{HIDDEN, is_secret_name};

/// `s` parsed as a URL, with the password of its userinfo, the values of its secret query
/// parameters ([`is_secret_name`]) and its fragment replaced by [`crate::HIDDEN`]; the
/// user name, host, port, path and other parameters kept. `None` when `s` is not a URL
/// (then it must not be shown: nothing says where its secret is).
///
/// ```
/// assert_eq!(
///     p8fs_redact::url("postgres://app:pw@db:5432/p8fs?sslmode=require&password=pw2").as_deref(),
///     Some("postgres://app:***@db:5432/p8fs?sslmode=require&password=***")
/// );
/// assert_eq!(p8fs_redact::url("not a url"), None);
/// ```
pub fn url(s: &str) -> Option<String> {
    let mut u = ::url::Url::parse(s).ok()?;
    if u.password().is_some() {
        u.set_password(Some(HIDDEN)).ok()?;
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_name(&k) { HIDDEN.to_owned() } else { v.into_owned() };
                (k.into_owned(), v)
            })
            .collect();
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    if u.fragment().is_some() {
        u.set_fragment(Some(HIDDEN));
    }
    Some(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_hidden() {
        let cases = [
            ("postgres://u:S3cretPW@127.0.0.1:1/db?password=S3cretPW2", "postgres://u:***@127.0.0.1:1/db?password=***"),
            ("mysql://root:p%40ss%3Aw%2Frd@tidb.local:4000/p8fs", "mysql://root:***@tidb.local:4000/p8fs"),
            ("http://user:pw@proxy:8080", "http://user:***@proxy:8080/"),
            ("https://h/v1?token=t0k&limit=3", "https://h/v1?token=***&limit=3"),
            (
                "https://h/?API_KEY=k&apikey=k&access_token=k&x=1",
                "https://h/?API_KEY=***&apikey=***&access_token=***&x=1",
            ),
            ("https://h/#access_token=k", "https://h/#***"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            ("sqlite:///var/lib/p8fs.sqlite", "sqlite:///var/lib/p8fs.sqlite"),
        ];
        for (input, want) in cases {
            assert_eq!(url(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn an_at_sign_in_the_password_does_not_leak_its_tail() {
        let got = url("postgres://u:p@ss@h/db").unwrap_or_default();
        assert!(!got.contains("ss@") && !got.contains("p%40"), "{got}");
    }

    #[test]
    fn what_does_not_parse_is_not_returned() {
        for bad in ["", "not a url", "postgres://u:pw@[::1/db", "http://h:99999/", "host=h password=pw"] {
            assert_eq!(url(bad), None, "{bad}");
        }
    }
}
