//! Tenants, keys and namespaces: typed parts from which physical keys are built.
//!
//! A [`TenantId`] cannot escape its namespace: it never contains `/` (the separator of
//! `{tenant}/{key}`), control characters or URL metacharacters, and it is never a name the
//! proxy's routes use. A [`Key`] is UTF-8 without control characters. Both are checked
//! once, when built; afterwards they are always valid.

use std::fmt;

use crate::error::clip;
use crate::{KvError, Result};

pub use p8fs_tenant::MAX_TENANT_BYTES;

/// A validated tenant id: 1 to 255 bytes of ASCII letters, digits and `-_.:@+=~`, not
/// made only of dots, and not one of `scan`, `batch`, `v1` (the rule of [`p8fs_tenant`],
/// which the entity store applies too).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`KvError::InvalidTenant`] saying what is wrong.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        match p8fs_tenant::check(&id) {
            Ok(()) => Ok(Self(id)),
            Err(reason) => Err(KvError::InvalidTenant { tenant: clip(&id), reason }),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated logical key: non-empty UTF-8 without control characters and without `.` or
/// `..` path segments. Keys may contain `/` (`reverse/doc1/document`); limits on length are
/// the backend's ([`crate::Capability::max_key_bytes`]).
///
/// Dot segments are refused on every backend because keys travel in URL paths (the
/// legacy wire contract puts them there unencoded): an HTTP client or server that
/// resolves `a/../b` as a path would read or write another key than the one named, or
/// another tenant's. Names such as `...`, `.hidden` or `a..b` are ordinary keys.
///
/// Held inline up to 24 bytes (`compact_str`): a key made on every call of the KV API does
/// not allocate when it is short.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(compact_str::CompactString);

impl Key {
    /// Validates `key`.
    ///
    /// # Errors
    /// [`KvError::InvalidKey`] saying what is wrong.
    pub fn new(key: impl AsRef<str>) -> Result<Self> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(KvError::InvalidKey { key: String::new(), reason: "a key cannot be empty".into() });
        }
        check_chars(key)?;
        if key.contains('.') && key.split('/').any(|seg| seg == "." || seg == "..") {
            return Err(KvError::InvalidKey {
                key: clip(key),
                reason: "keys cannot contain `.` or `..` path segments (a URL would resolve them)".into(),
            });
        }
        Ok(Self(compact_str::CompactString::new(key)))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks a key or key prefix for control characters.
pub(crate) fn check_chars(s: &str) -> Result<()> {
    // Control characters (Cc) are U+0000-U+001F and U+007F-U+009F: in UTF-8 a byte below
    // 0x20, 0x7F, or 0xC2 followed by 0x80-0x9F. A key with none of those bytes has none
    // (one pass over bytes, on every call); otherwise decode to find which.
    if !s.bytes().any(|b| b < 0x20 || b == 0x7F || b == 0xC2) {
        return Ok(());
    }
    match s.chars().find(|c| c.is_control()) {
        Some(c) => Err(KvError::InvalidKey {
            key: clip(s),
            reason: format!("keys cannot contain control characters (found U+{:04X})", u32::from(c)),
        }),
        None => Ok(()),
    }
}

/// Where a key lives: one tenant's keys, or the global namespace (keys that belong to no
/// tenant, such as device-auth codes). Global keys never contain `/`, so they can never
/// collide with a tenant's `{tenant}/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// A tenant's keys, stored under `{tenant}/`.
    Tenant(TenantId),
    /// Keys of no tenant, stored as they are.
    Global,
}

impl Namespace {
    /// The bytes every physical key of this namespace starts with.
    pub fn prefix(&self) -> Vec<u8> {
        match self {
            Namespace::Tenant(t) => {
                let mut p = Vec::with_capacity(t.0.len() + 1);
                p.extend_from_slice(t.0.as_bytes());
                p.push(b'/');
                p
            }
            Namespace::Global => Vec::new(),
        }
    }

    /// The length of [`Namespace::prefix`], without building it (checked on every call).
    pub fn prefix_len(&self) -> usize {
        match self {
            Namespace::Tenant(t) => t.0.len() + 1,
            Namespace::Global => 0,
        }
    }

    /// [`Namespace::physical`] of a key (or scan bound) given as bytes.
    pub fn physical_bytes(&self, key: &[u8]) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.prefix_len() + key.len());
        if let Namespace::Tenant(t) = self {
            p.extend_from_slice(t.0.as_bytes());
            p.push(b'/');
        }
        p.extend_from_slice(key);
        p
    }

    /// The physical key of `key` in this namespace: `{tenant}/{key}` or `{key}`.
    pub fn physical(&self, key: &str) -> Vec<u8> {
        // One allocation of the exact size (called on every read and write).
        match self {
            Namespace::Tenant(t) => {
                let mut p = Vec::with_capacity(t.0.len() + 1 + key.len());
                p.extend_from_slice(t.0.as_bytes());
                p.push(b'/');
                p.extend_from_slice(key.as_bytes());
                p
            }
            Namespace::Global => key.as_bytes().to_vec(),
        }
    }

    /// Calls `f` with the physical key of `key`, built on the stack when it is short (reads
    /// build one per key and drop it at once).
    pub fn with_physical<R>(&self, key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
        const INLINE: usize = 128;
        let Namespace::Tenant(t) = self else { return f(key.as_bytes()) };
        let (t, n) = (t.0.as_bytes(), t.0.len() + 1 + key.len());
        if n > INLINE {
            return f(&self.physical(key));
        }
        let mut buf = [0u8; INLINE];
        buf[..t.len()].copy_from_slice(t);
        buf[t.len()] = b'/';
        buf[t.len() + 1..n].copy_from_slice(key.as_bytes());
        f(&buf[..n])
    }

    /// Checks that `key` may live in this namespace.
    ///
    /// # Errors
    /// [`KvError::InvalidKey`] for a global key containing `/`.
    pub fn check_key(&self, key: &Key) -> Result<()> {
        if matches!(self, Namespace::Global) && key.0.contains('/') {
            return Err(KvError::InvalidKey {
                key: clip(&key.0),
                reason: "global keys cannot contain '/' (it would name a tenant)".into(),
            });
        }
        Ok(())
    }

    /// The logical key of a physical key of this namespace, or `None` when the physical key
    /// belongs elsewhere (another tenant, or a tenant key seen from the global namespace).
    pub fn logical<'a>(&self, physical: &'a [u8]) -> Option<&'a str> {
        // Called once per scanned key: strips the prefix without building it.
        match self {
            Namespace::Tenant(t) => {
                let rest = physical.strip_prefix(t.0.as_bytes())?.strip_prefix(b"/")?;
                std::str::from_utf8(rest).ok()
            }
            Namespace::Global => std::str::from_utf8(physical).ok().filter(|s| !s.contains('/')),
        }
    }

    /// The tenant, for tenant namespaces.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Namespace::Tenant(t) => Some(t),
            Namespace::Global => None,
        }
    }

    /// A short name for messages.
    pub fn describe(&self) -> String {
        match self {
            Namespace::Tenant(t) => format!("tenant {t}"),
            Namespace::Global => "the global namespace".into(),
        }
    }
}

/// The smallest byte string greater than every string starting with `prefix`, or `None`
/// when there is none (empty or all-`0xFF` prefix): the exclusive end of a prefix scan.
pub fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn physical_keys_on_the_stack_equal_the_built_ones() {
        let t = Namespace::Tenant(TenantId::new("tenant-a").unwrap());
        for len in [1, 10, 118, 119, 120, 121, 500] {
            let key = "k".repeat(len);
            for ns in [&t, &Namespace::Global] {
                assert_eq!(ns.with_physical(&key, <[u8]>::to_vec), ns.physical(&key), "{len}");
                assert_eq!(ns.physical_bytes(key.as_bytes()), ns.physical(&key), "{len}");
            }
        }
    }

    #[test]
    fn control_characters_are_refused_wherever_they_are_and_nothing_else() {
        // Every scalar value, alone and between ordinary characters: the byte pre-check
        // agrees with `char::is_control`.
        let mut buf = String::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            buf.clear();
            buf.push_str("a/");
            buf.push(c);
            buf.push('b');
            assert_eq!(check_chars(&buf).is_err(), c.is_control(), "U+{:04X}", u32::from(c));
        }
        // Characters whose UTF-8 starts with 0xC2 but are not controls pass.
        assert!(check_chars("\u{A0}\u{A9}\u{BF}").is_ok());
        assert!(check_chars("x\u{85}").is_err());
        assert!(Key::new("a.b/c..d/.e").is_ok());
        assert!(Key::new("a/./b").is_err() && Key::new("a/..").is_err() && Key::new("..").is_err());
    }

    #[test]
    fn tenant_ids_that_could_escape_are_rejected() {
        for bad in ["", "a/b", "/", "a\nb", "a\0", "tab\t", "..", ".", "scan", "batch", "v1", "a b", "a%2F", "é"] {
            assert!(TenantId::new(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TenantId::new("x".repeat(256)).is_err());
        for good in ["tenant-1", "t", "user@example.com", "tenant-0b6e:prod", "a.b", "x".repeat(255).as_str()] {
            assert!(TenantId::new(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn keys_reject_control_characters_only() {
        assert!(Key::new("").is_err());
        assert!(Key::new("a\u{7f}").is_err());
        assert!(Key::new("line\nbreak").is_err());
        assert!(Key::new("reverse/doc 1/document ünïcode?#%").is_ok());
    }

    #[test]
    fn keys_reject_dot_segments_but_not_dots() {
        for bad in [".", "..", "a/..", "../b", "a/../b", "x/.", "./x", "../../bob/keys/secret", "a/./b"] {
            let e = Key::new(bad).unwrap_err();
            assert!(matches!(e, KvError::InvalidKey { .. }), "{bad:?}: {e}");
        }
        for good in ["...", ".hidden", "a..b", "a/.../b", "notes/.x", "x./y", "a//b"] {
            assert!(Key::new(good).is_ok(), "{good:?} rejected");
        }
    }

    #[test]
    fn physical_keys_follow_the_replaced_layout() {
        let ns = Namespace::Tenant(TenantId::new("t1").unwrap());
        assert_eq!(ns.physical("UserManual/document"), b"t1/UserManual/document");
        assert_eq!(ns.logical(b"t1/x/y"), Some("x/y"));
        assert_eq!(ns.logical(b"t10/x"), None, "a tenant whose id extends another's is another tenant");
        assert_eq!(Namespace::Global.physical("device_auth:abc"), b"device_auth:abc");
        assert_eq!(Namespace::Global.logical(b"t1/x"), None, "tenant keys are not global keys");
        assert!(Namespace::Global.check_key(&Key::new("a/b").unwrap()).is_err());
    }

    #[test]
    fn prefix_bounds() {
        assert_eq!(prefix_upper_bound(b"t1/"), Some(b"t10".to_vec()));
        assert_eq!(prefix_upper_bound(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_upper_bound(b"\xff"), None);
        assert_eq!(prefix_upper_bound(b""), None);
    }
}
