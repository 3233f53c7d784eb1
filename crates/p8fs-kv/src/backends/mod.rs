//! The backends, one module each, each behind its feature.

#[cfg(all(feature = "tikv", feature = "http"))]
pub(crate) mod auto;
#[cfg(feature = "embedded")]
pub(crate) mod embedded;
#[cfg(feature = "http")]
pub(crate) mod http;
#[cfg(feature = "sql")]
pub(crate) mod sql;
#[cfg(feature = "tikv")]
pub(crate) mod tikv;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
#[allow(dead_code)]
pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The absolute expiry (ms since the epoch) of a write now with `ttl`.
#[allow(dead_code)]
pub(crate) fn expiry_ms(ttl: Option<Duration>) -> Option<u64> {
    ttl.map(|t| now_ms().saturating_add(u64::try_from(t.as_millis()).unwrap_or(u64::MAX)))
}
