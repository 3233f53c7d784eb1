//! Bearer tokens bound to tenants.
//!
//! File format: one token per line, `TOKEN TENANT[,TENANT...]` or `TOKEN *` (every tenant
//! and the global namespace); blank lines and `#` comments are ignored; a token may appear
//! on one line only. Tokens are compared by their SHA-256 digests in constant time, against
//! every configured token, so neither the position of a mismatch nor which token matched
//! shows in the timing. The scheme of `Authorization: Bearer TOKEN` is case-insensitive
//! (RFC 9110).
//!
//! On unix the file must not be readable or writable by group or others (`chmod 600`);
//! the one exception, as PostgreSQL makes for its key files, is group read on a file owned
//! by root, which is how Kubernetes mounts a Secret for a pod with an `fsGroup`.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// What a token may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Every tenant and the global namespace.
    All,
    /// These tenants only.
    Tenants(Vec<String>),
}

impl Grant {
    /// Whether this grant reaches `tenant` (`None`: the global namespace).
    pub fn reaches(&self, tenant: Option<&str>) -> bool {
        match (self, tenant) {
            (Grant::All, _) => true,
            (Grant::Tenants(ts), Some(t)) => ts.iter().any(|x| x == t),
            (Grant::Tenants(_), None) => false,
        }
    }
}

/// The configured tokens.
#[derive(Debug, Clone)]
pub struct TokenSet {
    entries: Vec<([u8; 32], Arc<Grant>)>,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No valid token (401).
    Unauthenticated,
    /// A valid token that does not reach this tenant (403).
    Forbidden,
}

impl TokenSet {
    /// Parses a token file's text.
    ///
    /// # Errors
    /// A message naming the bad line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries = Vec::new();
        let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(token), Some(scope), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("line {}: expected `TOKEN TENANT[,TENANT...]` or `TOKEN *`", n + 1));
            };
            if token.len() < 16 {
                return Err(format!("line {}: tokens must be at least 16 characters", n + 1));
            }
            let grant = if scope == "*" {
                Grant::All
            } else {
                let tenants: Vec<String> =
                    scope.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
                for t in &tenants {
                    p8fs_kv::TenantId::new(t.clone()).map_err(|e| format!("line {}: {e}", n + 1))?;
                }
                if tenants.is_empty() {
                    return Err(format!("line {}: no tenants listed", n + 1));
                }
                Grant::Tenants(tenants)
            };
            let d = digest(token);
            if let Some(first) = seen.insert(d, n + 1) {
                // Silently keeping one of two grants would hide a mistake either way.
                return Err(format!(
                    "line {}: this token is already on line {first}; list a token once (`TOKEN a,b` grants several tenants)",
                    n + 1
                ));
            }
            entries.push((d, Arc::new(grant)));
        }
        if entries.is_empty() {
            return Err("the token file holds no tokens".into());
        }
        Ok(Self { entries })
    }

    /// Reads and parses a token file.
    ///
    /// # Errors
    /// A message naming the file and the problem.
    pub fn load(path: &Path) -> Result<Self, String> {
        check_private(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The grant of a presented token, checked against every entry in constant time.
    pub fn grant(&self, presented: &str) -> Option<&Arc<Grant>> {
        let d = digest(presented);
        let mut found = None;
        for (candidate, grant) in &self.entries {
            if ct_eq(candidate, &d) && found.is_none() {
                found = Some(grant);
            }
        }
        found
    }

    /// The grant of the token in `authorization` (the header's value).
    ///
    /// # Errors
    /// [`Denied::Unauthenticated`] without a known bearer token.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Arc<Grant>, Denied> {
        let token = authorization.and_then(bearer).ok_or(Denied::Unauthenticated)?;
        self.grant(token).cloned().ok_or(Denied::Unauthenticated)
    }

    /// Whether `authorization` (the header's value) may reach `tenant` (`None`: the global
    /// namespace).
    ///
    /// # Errors
    /// [`Denied`] saying whether to answer 401 or 403.
    pub fn check(&self, authorization: Option<&str>, tenant: Option<&str>) -> Result<(), Denied> {
        if self.authenticate(authorization)?.reaches(tenant) { Ok(()) } else { Err(Denied::Forbidden) }
    }
}

/// The token of an `Authorization` value with the `Bearer` scheme, in any case.
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Refuses a token file that group or others may read or write (see the module docs).
#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o777;
    let group_read_by_root = mode & 0o040 != 0 && meta.uid() == 0;
    let open = mode & 0o006 != 0 || mode & 0o020 != 0 || (mode & 0o040 != 0 && !group_read_by_root);
    if open {
        return Err(format!(
            "{} is readable or writable by group or others (mode {mode:04o}); it holds secrets: run `chmod 600 {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), String> {
    Ok(())
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Compares two digests without an early exit.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    // Keep the compiler from turning the loop into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# tokens\nalpha-token-0123456789 tenant-a\nbeta-token-0123456789 tenant-a,tenant-b\n\nroot-token-0123456789 *\n";

    #[test]
    fn tokens_reach_their_tenants_only() {
        let t = TokenSet::parse(FILE).unwrap();
        assert_eq!(t.check(Some("Bearer alpha-token-0123456789"), Some("tenant-a")), Ok(()));
        assert_eq!(t.check(Some("Bearer alpha-token-0123456789"), Some("tenant-b")), Err(Denied::Forbidden));
        assert_eq!(t.check(Some("Bearer alpha-token-0123456789"), None), Err(Denied::Forbidden));
        assert_eq!(t.check(Some("Bearer beta-token-0123456789"), Some("tenant-b")), Ok(()));
        assert_eq!(t.check(Some("Bearer root-token-0123456789"), None), Ok(()));
        assert_eq!(t.check(Some("Bearer wrong-token-0123456789"), Some("tenant-a")), Err(Denied::Unauthenticated));
        assert_eq!(t.check(Some("alpha-token-0123456789"), Some("tenant-a")), Err(Denied::Unauthenticated));
        assert_eq!(t.check(None, Some("tenant-a")), Err(Denied::Unauthenticated));
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let t = TokenSet::parse(FILE).unwrap();
        for h in [
            "bearer alpha-token-0123456789",
            "BEARER alpha-token-0123456789",
            "BeArEr   alpha-token-0123456789 ",
            "Bearer\talpha-token-0123456789",
        ] {
            assert_eq!(t.check(Some(h), Some("tenant-a")), Ok(()), "{h:?}");
        }
        for h in ["Basic alpha-token-0123456789", "Bearer", "Bearer ", "Beareralpha-token-0123456789", ""] {
            assert_eq!(t.check(Some(h), Some("tenant-a")), Err(Denied::Unauthenticated), "{h:?}");
        }
    }

    #[test]
    fn a_token_listed_twice_is_an_error_naming_both_lines() {
        let err = TokenSet::parse("# ops\nsame-token-0123456789 tenant-a\n\nsame-token-0123456789 *\n").unwrap_err();
        assert!(err.contains("line 4") && err.contains("line 2"), "{err}");
        assert!(!err.contains("same-token"), "the message must not print the token: {err}");
    }

    #[cfg(unix)]
    #[test]
    fn token_files_others_can_read_or_write_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "alpha-token-0123456789 tenant-a\n").unwrap();
        // Owned by the test's user (never root in CI; as root the 0640 case is allowed).
        let root = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path).unwrap()) == 0;
        for mode in [0o644, 0o604, 0o602, 0o620, 0o666, 0o640] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            if mode == 0o640 && root {
                assert!(TokenSet::load(&path).is_ok());
                continue;
            }
            let err = TokenSet::load(&path).unwrap_err();
            assert!(err.contains("chmod 600") && err.contains(&format!("{mode:04o}")), "{mode:o}: {err}");
        }
        for mode in [0o600, 0o400] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(TokenSet::load(&path).is_ok(), "{mode:o}");
        }
    }

    #[test]
    fn bad_files_name_the_line() {
        assert!(TokenSet::parse("").unwrap_err().contains("no tokens"));
        assert!(TokenSet::parse("short a").unwrap_err().contains("line 1"));
        assert!(TokenSet::parse("# c\nlong-enough-token-xyz a/b").unwrap_err().contains("line 2"));
        assert!(TokenSet::parse("long-enough-token-xyz").unwrap_err().contains("line 1"));
    }
}
