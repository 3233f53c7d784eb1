//! The contract every KV store implements.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

#[cfg(doc)]
use crate::KvError;
use crate::{Key, Namespace, Result};

/// One key and its value, as scans and batch gets return them. `key` is the logical key
/// (without the tenant prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvPair {
    /// The logical key.
    pub key: String,
    /// The value.
    pub value: Vec<u8>,
}

/// What a backend supports and the limits of what it stores. Backends declare it; the
/// check layer (`crate::check`, which every call through [`crate::Kv`] passes) enforces it,
/// once, before a backend is called, so backends trust what they are handed. The
/// conformance suite gates tests on these values, never on the backend's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// Puts can carry a time to live.
    pub ttl: bool,
    /// Smallest TTL step: TTLs are rounded up to a multiple of it.
    pub ttl_granularity: Duration,
    /// [`KvBackend::compare_and_swap`] is supported.
    pub cas: bool,
    /// [`KvBackend::compare_and_swap`] accepts a TTL.
    pub cas_ttl: bool,
    /// A batch put or delete is all-or-nothing, and one request/commit.
    pub atomic_batch: bool,
    /// Longest physical key (tenant prefix included), in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes.
    pub max_value_bytes: usize,
    /// Most entries one scan call returns; larger limits are served page by page.
    pub max_scan_limit: usize,
    /// Most entries in one batch call.
    pub max_batch: usize,
}

/// A key-value store. All operations act within one [`Namespace`]; no method reads or
/// writes outside it. Implementations: `EmbeddedStore`, `SqlStore`, and the TiKV and
/// HTTP clients.
///
/// A backend trusts its caller: keys are validated [`Key`]s, and sizes, batch lengths, scan
/// limits, TTLs and compare-and-swap have been checked against its [`Capability`] by the
/// check layer that every [`crate::Kv`] handle runs (see `docs/adr/0010`). A backend does
/// not check them again. The `# Errors` below name what a call through that layer
/// returns. A TTL of zero means no expiry.
#[async_trait]
pub trait KvBackend: Send + Sync + fmt::Debug {
    /// Short name, used in every error and log line (`embedded`, `tikv`, `http`, `sql`).
    fn name(&self) -> &'static str;

    /// What this backend supports.
    fn capability(&self) -> Capability;

    /// Reads a key.
    ///
    /// # Behavior
    /// - get_returns_none_for_a_missing_key: a key never written reads as `None`, not as an
    ///   error.
    /// - get_returns_the_last_written_value: after a put, the put's value is read back.
    /// - get_hides_an_expired_key: once its TTL has passed, a key reads as `None`.
    ///
    /// # Errors
    /// [`KvError::Unavailable`]/[`KvError::Timeout`] when the store cannot answer.
    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>>;

    /// Writes a key, replacing any value; with `ttl`, the key expires that long after
    /// the write.
    ///
    /// # Behavior
    /// - put_overwrites_the_previous_value.
    /// - put_without_ttl_clears_an_earlier_ttl: the new value does not expire.
    /// - put_stores_values_byte_for_byte: any bytes, including empty values.
    ///
    /// # Errors
    /// [`KvError::Unsupported`] for a TTL on a backend without TTL;
    /// [`KvError::TooLarge`] past the backend's limits.
    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()>;

    /// Deletes a key.
    ///
    /// # Behavior
    /// - delete_removes_the_key.
    /// - delete_of_a_missing_key_succeeds: deleting is idempotent.
    ///
    /// # Errors
    /// When the store cannot answer.
    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()>;

    /// Returns up to `limit` live entries with `start <= key < end` (logical keys as
    /// bytes; `end = None` means the end of the namespace), sorted by key.
    ///
    /// # Behavior
    /// - scan_is_sorted_and_bounded: keys come back in byte order, within the range.
    /// - scan_respects_the_limit.
    /// - scan_stays_in_its_namespace: no key of another tenant (nor, from the global
    ///   namespace, any tenant key) is ever returned, whatever the range.
    /// - scan_hides_expired_keys.
    ///
    /// # Errors
    /// [`KvError::InvalidArgument`] for a limit of 0 or above
    /// [`Capability::max_scan_limit`].
    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>>;

    /// Reads several keys at once.
    ///
    /// # Behavior
    /// - batch_get_omits_missing_keys: only keys that exist (and have not expired) are
    ///   returned, each once, in no guaranteed order.
    ///
    /// # Errors
    /// [`KvError::TooLarge`] past [`Capability::max_batch`].
    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>>;

    /// Writes several keys, each with the same optional TTL.
    ///
    /// # Behavior
    /// - batch_put_writes_every_entry.
    /// - batch_put_rejects_a_bad_entry_and_writes_nothing: an entry over a limit or with an
    ///   invalid key fails the whole batch before anything is written (the check layer
    ///   refuses it before the backend is called); with
    ///   [`Capability::atomic_batch`], a batch that fails in the store writes nothing either
    ///   (one transaction: embedded, SQL).
    ///
    /// # Errors
    /// As [`KvBackend::put`], and [`KvError::TooLarge`] past [`Capability::max_batch`].
    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()>;

    /// Deletes several keys; missing keys are ignored.
    ///
    /// # Behavior
    /// - batch_delete_removes_every_key.
    ///
    /// # Errors
    /// [`KvError::TooLarge`] past [`Capability::max_batch`].
    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()>;

    /// Writes `new` only if the key's current value is `expected` (`None`: absent or
    /// expired), atomically.
    ///
    /// # Behavior
    /// - cas_succeeds_when_the_value_matches.
    /// - cas_creates_when_absent_is_expected.
    /// - cas_fails_with_the_current_value: a mismatch writes nothing and reports the value
    ///   found as [`KvError::ConditionNotMet`].
    ///
    /// # Errors
    /// [`KvError::ConditionNotMet`]; [`KvError::Unsupported`] without
    /// [`Capability::cas`].
    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()>;

    /// Checks that the store answers (for readiness probes).
    ///
    /// # Errors
    /// [`KvError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<()>;
}

/// The TTL a backend stores (for backend implementations): `None` for no TTL or zero,
/// else `ttl` rounded up to a multiple of `granularity`.
pub fn effective_ttl(ttl: Option<Duration>, granularity: Duration) -> Option<Duration> {
    let ttl = ttl.filter(|d| !d.is_zero())?;
    if granularity.is_zero() {
        return Some(ttl);
    }
    let g = granularity.as_nanos();
    let steps = ttl.as_nanos().div_ceil(g);
    Some(Duration::from_nanos(u64::try_from(steps * g).unwrap_or(u64::MAX)))
}
