//! Bearer tokens bound to tenants.
//!
//! File format: one token per line, `TOKEN TENANT[,TENANT...]` or `TOKEN *` (every tenant
//! and the global namespace); blank lines and `#` comments are ignored. Tokens are
//! compared by their SHA-256 digests in constant time, against every configured token,
//! so neither the position of a mismatch nor which token matched shows in the timing.

use std::path::Path;

use sha2::{Digest, Sha256};

/// What a token may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Every tenant and the global namespace.
    All,
    /// These tenants only.
    Tenants(Vec<String>),
}

/// The configured tokens.
#[derive(Debug, Clone)]
pub struct TokenSet {
    entries: Vec<([u8; 32], Grant)>,
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
            entries.push((digest(token), grant));
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
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The grant of a presented token, checked against every entry in constant time.
    pub fn grant(&self, presented: &str) -> Option<&Grant> {
        let d = digest(presented);
        let mut found = None;
        for (candidate, grant) in &self.entries {
            if ct_eq(candidate, &d) && found.is_none() {
                found = Some(grant);
            }
        }
        found
    }

    /// Whether `authorization` (the header's value) may reach `tenant` (`None`: the global
    /// namespace).
    ///
    /// # Errors
    /// [`Denied`] saying whether to answer 401 or 403.
    pub fn check(&self, authorization: Option<&str>, tenant: Option<&str>) -> Result<(), Denied> {
        let token =
            authorization.and_then(|h| h.strip_prefix("Bearer ")).map(str::trim).ok_or(Denied::Unauthenticated)?;
        match self.grant(token) {
            None => Err(Denied::Unauthenticated),
            Some(Grant::All) => Ok(()),
            Some(Grant::Tenants(ts)) => match tenant {
                Some(t) if ts.iter().any(|x| x == t) => Ok(()),
                _ => Err(Denied::Forbidden),
            },
        }
    }
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
    fn bad_files_name_the_line() {
        assert!(TokenSet::parse("").unwrap_err().contains("no tokens"));
        assert!(TokenSet::parse("short a").unwrap_err().contains("line 1"));
        assert!(TokenSet::parse("# c\nlong-enough-token-xyz a/b").unwrap_err().contains("line 2"));
        assert!(TokenSet::parse("long-enough-token-xyz").unwrap_err().contains("line 1"));
    }
}
