//! Connection URL parameters p8fs reads itself before handing a URL to a driver (the
//! drivers refuse parameters they do not know): the TLS settings both providers share.

/// Removes the query parameters named in `names` from `url` and returns the URL without
/// them and their values (percent-decoded), in order. Other parameters are kept exactly as
/// written; a URL without a query is returned unchanged. The query starts at the first
/// `?`, as in every URL parser: a `?` in a password must be written `%3F`.
pub fn take_params(url: &str, names: &[&str]) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = url.split_once('?') else { return (url.to_owned(), Vec::new()) };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        // Percent-decoding only, as libpq and the drivers read URLs: a `+` is a plus sign
        // (a certificate path `ca+1.pem` stays that), not a form-encoded space.
        let (key, value) = segment.split_once('=').unwrap_or((segment, ""));
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let (key, value) = (decode(key), decode(value));
        if names.contains(&key.as_str()) {
            taken.push((key, value));
        } else {
            kept.push(segment);
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    (url, taken)
}

/// A boolean URL parameter: `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
///
/// # Errors
/// A message naming the parameter for any other value.
pub fn parse_bool(name: &str, value: &str) -> std::result::Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{name} must be true or false, got {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_only_the_named_parameters_and_keeps_the_rest_as_written() {
        let (url, taken) = take_params(
            "postgres://u@h/db?sslmode=require&sslrootcert=%2Ftmp%2Fca%20x.pem&options=-c%20a%3Db",
            &["sslrootcert"],
        );
        assert_eq!(url, "postgres://u@h/db?sslmode=require&options=-c%20a%3Db");
        assert_eq!(taken, vec![("sslrootcert".to_owned(), "/tmp/ca x.pem".to_owned())]);
        let (url, taken) = take_params("mysql://u@h/db?ssl_ca=/a/b.pem", &["ssl_ca"]);
        assert_eq!((url.as_str(), taken.len()), ("mysql://u@h/db", 1));
        assert_eq!(take_params("mysql://u@h/db", &["ssl_ca"]), ("mysql://u@h/db".to_owned(), Vec::new()));
        let (_, taken) = take_params("postgres://u@h/db?sslrootcert=/c/ca+1%2B2.pem&x", &["sslrootcert", "x"]);
        assert_eq!(taken, vec![("sslrootcert".into(), "/c/ca+1+2.pem".into()), ("x".into(), String::new())]);
        assert!(parse_bool("x", "maybe").unwrap_err().contains('x'));
        assert_eq!((parse_bool("x", "FALSE"), parse_bool("x", "1")), (Ok(false), Ok(true)));
    }
}
