//! The check layer: the one place where what a caller hands the KV layer is checked against
//! the backend's [`Capability`] (as OpenDAL's capability check layer does).
//!
//! Every call through a [`crate::Kv`] handle passes here before it reaches a backend, and so
//! does [`crate::SqlStore::put_statements`], the one other way in (statements run in a
//! caller's transaction). Backends declare a [`Capability`] and trust what they are handed:
//! none of them checks sizes, batch lengths, scan limits or TTL support again.
//!
//! Every refusal is an invalid-input error ([`crate::KvErrorKind::is_invalid_input`]:
//! [`KvError::InvalidKey`], [`KvError::TooLarge`], [`KvError::InvalidArgument`]) or, for
//! something the backend cannot do at all, [`KvError::Unsupported`].

use std::time::Duration;

use crate::{Capability, Key, KvError, Namespace, Result};

impl Capability {
    /// Checks a key against [`Capability::max_key_bytes`] in `ns` (tenant prefix included),
    /// and that it may live in `ns`.
    ///
    /// # Errors
    /// [`KvError::TooLarge`] or [`KvError::InvalidKey`].
    pub fn check_key(&self, ns: &Namespace, key: &Key) -> Result<()> {
        ns.check_key(key)?;
        let size = ns.prefix_len() + key.as_str().len();
        if size > self.max_key_bytes {
            return Err(KvError::TooLarge {
                what: "key bytes (tenant prefix included)",
                size,
                max: self.max_key_bytes,
            });
        }
        Ok(())
    }

    /// Checks a value against [`Capability::max_value_bytes`].
    ///
    /// # Errors
    /// [`KvError::TooLarge`].
    pub fn check_value(&self, value: &[u8]) -> Result<()> {
        if value.len() > self.max_value_bytes {
            return Err(KvError::TooLarge { what: "value bytes", size: value.len(), max: self.max_value_bytes });
        }
        Ok(())
    }

    /// Checks a batch's length against [`Capability::max_batch`].
    ///
    /// # Errors
    /// [`KvError::TooLarge`].
    pub fn check_batch(&self, len: usize) -> Result<()> {
        if len > self.max_batch {
            return Err(KvError::TooLarge { what: "batch entries", size: len, max: self.max_batch });
        }
        Ok(())
    }

    /// Checks the entries of a batch put: their number, then every key and value, so a bad
    /// entry fails the whole batch before anything is written.
    ///
    /// # Errors
    /// As [`Capability::check_batch`], [`Capability::check_key`] and
    /// [`Capability::check_value`].
    pub fn check_entries(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)]) -> Result<()> {
        self.check_batch(entries.len())?;
        for (k, v) in entries {
            self.check_key(ns, k)?;
            self.check_value(v)?;
        }
        Ok(())
    }

    /// Checks a scan limit: at least 1, at most [`Capability::max_scan_limit`].
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`].
    pub fn check_scan_limit(&self, limit: usize) -> Result<()> {
        if limit == 0 {
            return Err(KvError::InvalidArgument { message: "a scan limit must be at least 1".into() });
        }
        if limit > self.max_scan_limit {
            return Err(KvError::InvalidArgument {
                message: format!("a scan limit of {limit} exceeds this backend's maximum of {}", self.max_scan_limit),
            });
        }
        Ok(())
    }

    /// Checks that a write may carry `ttl` (`None` and zero mean no TTL).
    ///
    /// # Errors
    /// [`KvError::Unsupported`] naming `backend` when it has no TTL.
    pub fn check_ttl(&self, backend: &'static str, ttl: Option<Duration>) -> Result<()> {
        if ttl.is_some_and(|t| !t.is_zero()) && !self.ttl {
            return Err(KvError::Unsupported { backend, what: "a TTL" });
        }
        Ok(())
    }

    /// Checks that a compare-and-swap (with `ttl`) can run.
    ///
    /// # Errors
    /// [`KvError::Unsupported`] naming `backend` without [`Capability::cas`], or with a TTL
    /// without [`Capability::cas_ttl`].
    pub fn check_cas(&self, backend: &'static str, ttl: Option<Duration>) -> Result<()> {
        if !self.cas {
            return Err(KvError::Unsupported { backend, what: "compare-and-swap" });
        }
        self.check_ttl(backend, ttl)?;
        if ttl.is_some_and(|t| !t.is_zero()) && !self.cas_ttl {
            return Err(KvError::Unsupported { backend, what: "a TTL on compare-and-swap" });
        }
        Ok(())
    }

    /// The tighter of two capabilities: what both support, within both's limits (a caller
    /// with limits of its own, such as the proxy, narrows its backend's with it).
    pub fn narrowed(&self, other: &Capability) -> Capability {
        Capability {
            ttl: self.ttl && other.ttl,
            ttl_granularity: self.ttl_granularity.max(other.ttl_granularity),
            cas: self.cas && other.cas,
            cas_ttl: self.cas_ttl && other.cas_ttl,
            atomic_batch: self.atomic_batch && other.atomic_batch,
            max_key_bytes: self.max_key_bytes.min(other.max_key_bytes),
            max_value_bytes: self.max_value_bytes.min(other.max_value_bytes),
            max_scan_limit: self.max_scan_limit.min(other.max_scan_limit),
            max_batch: self.max_batch.min(other.max_batch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KvErrorKind, TenantId};

    fn cap() -> Capability {
        Capability {
            ttl: true,
            ttl_granularity: Duration::from_secs(1),
            cas: true,
            cas_ttl: false,
            atomic_batch: false,
            max_key_bytes: 16,
            max_value_bytes: 4,
            max_scan_limit: 10,
            max_batch: 2,
        }
    }

    fn tenant(id: &str) -> Namespace {
        Namespace::Tenant(TenantId::new(id).unwrap())
    }

    #[test]
    fn key_limits_count_the_tenant_prefix() {
        // "abcdef/" is 7 bytes: 9 bytes of key fit, 10 do not.
        let ns = tenant("abcdef");
        assert!(cap().check_key(&ns, &Key::new("k".repeat(9)).unwrap()).is_ok());
        let e = cap().check_key(&ns, &Key::new("k".repeat(10)).unwrap()).unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::TooLarge, "{e}");
        assert!(e.to_string().contains("17") && e.to_string().contains("16"), "{e}");
        // The same key fits in the global namespace, but a global key cannot name a tenant.
        assert!(cap().check_key(&Namespace::Global, &Key::new("k".repeat(10)).unwrap()).is_ok());
        let e = cap().check_key(&Namespace::Global, &Key::new("abcdef/x").unwrap()).unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::InvalidKey, "{e}");
    }

    #[test]
    fn a_bad_entry_anywhere_fails_the_batch() {
        let ns = tenant("t");
        let ok = (Key::new("a").unwrap(), b"1234".to_vec());
        assert!(cap().check_entries(&ns, std::slice::from_ref(&ok)).is_ok());
        let big = (Key::new("b").unwrap(), b"12345".to_vec());
        assert_eq!(cap().check_entries(&ns, &[ok.clone(), big]).unwrap_err().kind(), KvErrorKind::TooLarge);
        let long = (Key::new("x".repeat(15)).unwrap(), Vec::new());
        assert_eq!(cap().check_entries(&ns, &[ok.clone(), long]).unwrap_err().kind(), KvErrorKind::TooLarge);
        let three = [ok.clone(), ok.clone(), ok];
        let e = cap().check_entries(&ns, &three).unwrap_err();
        assert_eq!(e.kind(), KvErrorKind::TooLarge);
        assert!(e.to_string().contains("batch entries"), "{e}");
    }

    #[test]
    fn scan_limits_are_between_one_and_the_maximum() {
        assert_eq!(cap().check_scan_limit(0).unwrap_err().kind(), KvErrorKind::InvalidArgument);
        assert!(cap().check_scan_limit(1).is_ok() && cap().check_scan_limit(10).is_ok());
        assert_eq!(cap().check_scan_limit(11).unwrap_err().kind(), KvErrorKind::InvalidArgument);
    }

    #[test]
    fn ttls_and_cas_need_their_capability() {
        let one = Some(Duration::from_secs(1));
        assert!(cap().check_ttl("x", one).is_ok());
        assert!(cap().check_cas("x", None).is_ok() && cap().check_cas("x", Some(Duration::ZERO)).is_ok());
        assert_eq!(cap().check_cas("x", one).unwrap_err().kind(), KvErrorKind::Unsupported);
        let plain = Capability { ttl: false, cas: false, ..cap() };
        assert!(plain.check_ttl("x", None).is_ok() && plain.check_ttl("x", Some(Duration::ZERO)).is_ok());
        let e = plain.check_ttl("x", one).unwrap_err();
        assert!(e.kind() == KvErrorKind::Unsupported && e.to_string().starts_with("x: "), "{e}");
        assert_eq!(plain.check_cas("x", None).unwrap_err().kind(), KvErrorKind::Unsupported);
    }

    #[test]
    fn narrowing_keeps_the_tighter_of_each() {
        let wide = Capability {
            ttl: true,
            ttl_granularity: Duration::from_millis(1),
            cas: true,
            cas_ttl: true,
            atomic_batch: true,
            max_key_bytes: 1000,
            max_value_bytes: 1000,
            max_scan_limit: 1000,
            max_batch: 1,
        };
        let n = wide.narrowed(&cap());
        assert_eq!(n, Capability { max_batch: 1, ..cap() });
        assert_eq!(n, cap().narrowed(&wide), "narrowing is symmetric");
    }
}
