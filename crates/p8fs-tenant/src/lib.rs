//! The one rule for tenant ids, shared by every layer of p8fs that takes one: the KV
//! layer's `TenantId`, the entity store, the reverse mappings and the proxy.
//!
//! A tenant id is 1 to 255 bytes of ASCII letters, digits and `-_.:@+=~`, not made only of
//! dots, and not one of the names the proxy's routes use (`scan`, `batch`, `v1`). So it
//! never contains `/` (the separator of physical KV keys `{tenant}/{key}`), whitespace
//! (MySQL-family `PAD SPACE` collations compare `"acme "` equal to `"acme"`), control
//! characters or URL metacharacters, and it is never a dot segment of a URL path.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// Longest tenant id, in bytes (the `tenant_id VARCHAR(255)` of the SQL tables).
pub const MAX_TENANT_BYTES: usize = 255;

/// Tenant ids the HTTP proxy's routes use (`/kv/scan`, `/kv/batch`, `/v1/...`).
pub const RESERVED_TENANTS: [&str; 3] = ["scan", "batch", "v1"];

/// Characters a tenant id may hold besides ASCII letters and digits.
pub const PUNCTUATION: &str = "-_.:@+=~";

/// Checks `id` against the rule; `Err` says what is wrong, for people.
///
/// # Errors
/// A sentence naming the broken part of the rule.
pub fn check(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("a tenant id cannot be empty");
    }
    if id.len() > MAX_TENANT_BYTES {
        return Err("a tenant id is at most 255 bytes");
    }
    if id.contains('/') {
        return Err("a tenant id cannot contain '/', which separates tenant and key");
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || PUNCTUATION.contains(*c))) {
        return Err(if c.is_control() {
            "a tenant id cannot contain control characters"
        } else if c.is_whitespace() {
            "a tenant id cannot contain spaces or other whitespace"
        } else {
            "a tenant id may hold only ASCII letters, digits and -_.:@+=~"
        });
    }
    if id.chars().all(|c| c == '.') {
        return Err("a tenant id cannot be made only of dots");
    }
    if RESERVED_TENANTS.contains(&id) {
        return Err("scan, batch and v1 are reserved by the proxy's routes");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn ids_that_could_escape_or_pad_are_refused() {
        for bad in [
            "",
            "a/b",
            "/",
            "a\nb",
            "a\0",
            "tab\t",
            "..",
            ".",
            "scan",
            "batch",
            "v1",
            "a b",
            "a%2F",
            "é",
            "acme ",
            " acme",
            "acme\u{a0}",
        ] {
            assert!(check(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check(&"x".repeat(256)).is_err());
        for good in ["tenant-1", "t", "user@example.com", "tenant-0b6e:prod", "a.b", "x".repeat(255).as_str()] {
            assert!(check(good).is_ok(), "{good:?} refused");
        }
    }

    #[test]
    fn whitespace_is_named_in_the_reason() {
        assert!(check("acme ").unwrap_err().contains("whitespace"));
    }
}
