//! What the proxy bounds, and how it is configured.

use std::time::Duration;

use axum::http::StatusCode;

use crate::ApiError;
use crate::auth::TokenSet;

/// Limits the proxy enforces before anything reaches the backend, and on what it holds in
/// memory. Exceeding a request limit answers a 4xx with the JSON error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest logical key, in bytes.
    pub max_key_bytes: usize,
    /// Largest value, in bytes (decoded).
    pub max_value_bytes: usize,
    /// Most keys or entries in one batch request (refused while the body is parsed).
    pub max_batch: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most entries one scan returns.
    pub max_scan_limit: usize,
    /// Longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// Most bytes of JSON one scan or batch-get answer carries. A scan that reaches it ends
    /// early (with `next` on `/v1`); a batch get that would pass it answers 413. An answer
    /// always holds at least one entry. The backend is read in pages of
    /// `max(1, budget left / max_value_bytes)` entries, so a request holds about this much
    /// at a time.
    pub max_response_bytes: usize,
    /// Most data requests served at once; more answer `503 overloaded` at once. A request
    /// counts until its answer has been sent. (Memory is bounded by
    /// [`Limits::max_inflight_bytes`].)
    pub max_concurrent_requests: usize,
    /// Most bytes that the data requests in flight may hold together. Each request
    /// reserves, before the proxy reads anything of it, what it may hold at worst: three
    /// times its body (the body, its parsed form, the decoded values) and, when its answer
    /// carries values (gets, scans, batch gets), 2.5 times the larger of the answer budget
    /// and the value limit. A request that finds too little free waits for it (up to 5 s,
    /// then `503 overloaded`). So the requests of all tenants together stay within this,
    /// whatever they ask for.
    pub max_inflight_bytes: usize,
    /// Most open connections; further connections wait in the listen backlog until one
    /// closes.
    pub max_connections: usize,
    /// Longest the proxy waits for a complete request head (request line and headers). The
    /// clock starts when it begins waiting: at accept, and on a keep-alive connection when
    /// the previous answer has been sent, so it is also how long a keep-alive connection
    /// may stay idle.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers), bytes; at least 8 KiB.
    pub max_header_bytes: usize,
    /// A connection whose client takes none of its answer for this long is closed (a
    /// client that stops reading would otherwise hold its request's memory for ever).
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_key_bytes: 4096,
            max_value_bytes: 8 * 1024 * 1024,
            max_batch: 1000,
            max_body_bytes: 16 * 1024 * 1024,
            max_scan_limit: 10_000,
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            max_concurrent_requests: 128,
            max_inflight_bytes: 1 << 30,
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// The unit of [`Limits::max_inflight_bytes`] reservations.
pub(crate) const MEMORY_UNIT: usize = 64 * 1024;

impl Limits {
    /// Units of the in-flight memory pool.
    pub(crate) fn memory_units(&self) -> usize {
        (self.max_inflight_bytes / MEMORY_UNIT).clamp(1, tokio::sync::Semaphore::MAX_PERMITS)
    }

    /// What a request may hold at worst, in units of the pool (at most the whole pool):
    /// see [`Limits::max_inflight_bytes`]. `body` is its declared length (`None`: not
    /// declared), `carries_values` whether its answer may.
    pub(crate) fn request_units(&self, body: Option<usize>, has_body: bool, carries_values: bool) -> u32 {
        let body = match body {
            Some(n) => n.min(self.max_body_bytes),
            None if has_body => self.max_body_bytes,
            None => 0,
        };
        let answer = if carries_values { self.max_response_bytes.max(self.max_value_bytes) } else { 0 };
        let bytes = body.saturating_mul(3).saturating_add(answer.saturating_mul(5) / 2).saturating_add(MEMORY_UNIT);
        let units = bytes.div_ceil(MEMORY_UNIT).min(self.memory_units());
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// How many entries to read from the backend next, when `used` bytes of the answer
    /// are written: as many as fit in what is left of the budget at the largest value
    /// size, at least one.
    pub(crate) fn page_entries(&self, used: usize) -> usize {
        (self.max_response_bytes.saturating_sub(used) / self.max_value_bytes.max(1)).max(1)
    }

    /// These limits as a capability the KV check layer enforces on every call the proxy
    /// makes ([`p8fs_kv::Kv::with_limits`]): it narrows the backend's sizes and supports
    /// everything else the backend does.
    pub(crate) fn capability(&self) -> p8fs_kv::Capability {
        p8fs_kv::Capability {
            ttl: true,
            ttl_granularity: Duration::ZERO,
            cas: true,
            cas_ttl: true,
            atomic_batch: true,
            max_key_bytes: self.max_key_bytes,
            max_value_bytes: self.max_value_bytes,
            max_scan_limit: self.max_scan_limit,
            max_batch: self.max_batch,
        }
    }
}

/// How the proxy serves.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// Limits.
    pub limits: Limits,
    /// Tokens; `None` serves without authentication (the binary allows that on loopback
    /// addresses only). Without tokens the proxy answers only requests whose `Host` names
    /// a loopback address and whose `Origin`, when present, is loopback too, so a web page
    /// cannot reach it through the browser (cross-site requests, DNS rebinding).
    pub tokens: Option<TokenSet>,
    /// Without tokens, accept any `Host` (a proxy deliberately served unauthenticated on
    /// an open address); the `Origin` check stays.
    pub allow_any_host: bool,
}

pub(crate) fn too_large(what: &str, size: usize, max: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", format!("{what} of {size} exceeds the limit of {max}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_fit_the_budget_left_and_hold_at_least_one_entry() {
        let l = Limits { max_response_bytes: 100, max_value_bytes: 10, ..Limits::default() };
        assert_eq!(l.page_entries(0), 10);
        assert_eq!(l.page_entries(55), 4);
        assert_eq!(l.page_entries(95), 1);
        assert_eq!(l.page_entries(1_000), 1);
        let zero = Limits { max_value_bytes: 0, ..l };
        assert_eq!(zero.page_entries(0), 100);
    }
}
