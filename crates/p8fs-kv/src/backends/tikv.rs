//! [`TikvStore`]: TiKV through tikv-client's raw API, reached through PD (feature `tikv`).
//!
//! Layout: the physical key is [`Namespace::physical`] (`{tenant}/{key}` or the global key), as
//! for every backend; with a keyspace (API v2) tikv-client adds the keyspace prefix itself.
//!
//! Decisions, and the tikv-client 0.4 quirks they work around:
//!
//! - **Atomic mode.** Compare-and-swap needs tikv-client's atomic mode, and TiKV only keeps
//!   CAS atomic if every write to the same keys goes through it too, so the one client is in
//!   atomic mode. In that mode tikv-client refuses `batch_delete` and `delete_range`, so
//!   [`KvBackend::batch_delete`] sends one delete per key (at most [`DELETE_CONCURRENCY`] at a
//!   time). A second, non-atomic client would be one request per region, but its deletes
//!   would bypass the latches that make CAS atomic.
//! - **CAS with a TTL** is not offered (`Capability::cas_ttl` is false, so the check layer
//!   refuses it as [`KvError::Unsupported`]): tikv-client's `compare_and_swap` cannot send
//!   one, and a CAS followed by a put would not be atomic.
//! - **Scans.** tikv-client's `scan` walks regions wrongly: with a bounded range whose end
//!   lies in the last region (empty end key), when that range holds fewer keys than the limit,
//!   it restarts from the first region of the cluster, returning keys before the range and
//!   duplicates, and never returns at all when nothing precedes the range; without an end
//!   bound it stops after the first region. So scans never use it: they use `batch_scan`,
//!   whose requests tikv-client splits at region boundaries correctly, with one range and
//!   `each_limit` = the number of keys still wanted. Each region answers at most that many
//!   keys of the range; sorted, deduplicated, filtered to the range and truncated, they are
//!   exactly the first keys of the range. The cost is up to `limit` keys read per region the
//!   range spans. Pages are repeated from the last key + `\0` only while keys are skipped
//!   (keys of another namespace seen from the global namespace, non-UTF-8 keys), and end as
//!   soon as a page comes back short, so an empty range ends after one request.
//! - **TTL** is whole seconds (TiKV's unit); shorter or fractional TTLs round up. On an API v1
//!   cluster, TiKV needs `storage.enable-ttl = true` for TTLs.
//! - **Timeouts.** tikv-client only passes its timeout to the server as a gRPC deadline (the
//!   client's channels do not enforce it) and retries region and PD errors for seconds, so
//!   every tikv-client call is also bounded here by [`TikvConfig::timeout`].
//! - **Busy stores.** tikv-client retries region errors with its own backoff (a few seconds
//!   at most, then `Unavailable` here), but passes `ServerIsBusy` straight back. TiKV answers
//!   it before running the request, so every call here asks a busy store again after 20 ms,
//!   doubling up to 500 ms, while [`TikvConfig::timeout`] leaves room; then `Unavailable`.
//! - **Message size.** tikv-client accepts 4 MiB responses by default, less than a value may
//!   be; the limit is raised to [`MAX_RESPONSE_BYTES`]. (A real TiKV also caps what it sends,
//!   `server.max-grpc-send-msg-len`, 10 MiB by default.)

use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use tikv_client::{Config, RawClient};

use crate::backend::effective_ttl;
use crate::{Capability, Key, KvBackend, KvError, KvPair, Namespace, Result, prefix_upper_bound};

const NAME: &str = "tikv";
/// Most single-key deletes in flight for one batch delete.
const DELETE_CONCURRENCY: usize = 16;
/// Largest gRPC response tikv-client accepts.
const MAX_RESPONSE_BYTES: usize = 128 * 1024 * 1024;
/// First wait before asking a busy store again; each wait doubles, up to
/// [`BUSY_MAX_BACKOFF`].
const BUSY_FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// Longest wait between two calls to a busy store.
const BUSY_MAX_BACKOFF: Duration = Duration::from_millis(500);
/// Key read by [`KvBackend::ping`]: its absence is fine, the round trip is the point.
const PING_KEY: &[u8] = b"p8fs:ping";

/// How to reach TiKV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TikvConfig {
    /// PD endpoints, `host:port`.
    pub pd_endpoints: Vec<String>,
    /// The API v2 keyspace to use, or `None` for the whole (API v1) key space.
    pub keyspace: Option<String>,
    /// The longest one tikv-client call may take (connecting included), also given to
    /// tikv-client as its per-request gRPC deadline.
    pub timeout: Duration,
}

impl TikvConfig {
    /// A configuration for `pd_endpoints`, without keyspace, with a 10 s timeout.
    pub fn new(pd_endpoints: Vec<String>) -> Self {
        Self { pd_endpoints, keyspace: None, timeout: Duration::from_secs(10) }
    }
}

/// The TiKV KV store. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct TikvStore {
    /// In atomic mode, for CAS (see the module docs).
    client: RawClient,
    timeout: Duration,
    pd_endpoints: Vec<String>,
    keyspace: Option<String>,
}

impl std::fmt::Debug for TikvStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TikvStore")
            .field("pd_endpoints", &self.pd_endpoints)
            .field("keyspace", &self.keyspace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn client_config(timeout: Duration, keyspace: Option<&str>) -> Config {
    let config = Config::default().with_timeout(timeout).with_grpc_max_decoding_message_size(MAX_RESPONSE_BYTES);
    match keyspace {
        Some(ks) => config.with_keyspace(ks),
        None => config,
    }
}

/// Whether native TiKV answers at `pd_endpoints` within `timeout`: PD *and* a TiKV store PD
/// names (see [`TikvStore::connect_and_ping`]; PD alone is not enough).
pub async fn probe(pd_endpoints: &[String], timeout: Duration) -> bool {
    let config = TikvConfig { pd_endpoints: pd_endpoints.to_vec(), keyspace: None, timeout };
    TikvStore::connect_and_ping(config, timeout).await.is_ok()
}

impl TikvStore {
    /// Connects to PD (and loads the keyspace, if one is configured).
    ///
    /// # Errors
    /// [`KvError::Unavailable`] when PD cannot be reached or answers with an error (PD reports
    /// an unknown keyspace that way, and tikv-client passes it on as an internal error);
    /// [`KvError::Timeout`] past [`TikvConfig::timeout`]; [`KvError::InvalidArgument`]
    /// without endpoints.
    pub async fn connect(config: TikvConfig) -> Result<Self> {
        if config.pd_endpoints.is_empty() {
            return Err(KvError::InvalidArgument { message: "tikv: no PD endpoint given".into() });
        }
        let settings = client_config(config.timeout, config.keyspace.as_deref());
        let connect = RawClient::new_with_config(config.pd_endpoints.clone(), settings);
        let client = bounded(config.timeout, "connecting to PD", connect).await?;
        Ok(Self {
            client: client.with_atomic_for_cas(),
            timeout: config.timeout,
            pd_endpoints: config.pd_endpoints,
            keyspace: config.keyspace,
        })
    }

    /// Connects and reads one key, all within `within`: PD answers (members, the key's
    /// region) *and* the TiKV store PD names as that region's leader answers at the address
    /// PD advertises. From outside a cluster PD can answer while the stores' advertised
    /// addresses are unreachable; a client that only asked PD would then fail on every call.
    ///
    /// # Errors
    /// As [`TikvStore::connect`]; [`KvError::Timeout`] when the whole does not finish within
    /// `within`; the read's errors (a store that does not answer: `Unavailable` or `Timeout`).
    pub async fn connect_and_ping(config: TikvConfig, within: Duration) -> Result<Self> {
        let attempt = async {
            let store = Self::connect(config).await?;
            store.ping().await?;
            Ok(store)
        };
        match tokio::time::timeout(within, attempt).await {
            Ok(r) => r,
            Err(_) => Err(KvError::Timeout {
                backend: NAME,
                message: format!("PD and a TiKV store did not both answer within {within:?}"),
            }),
        }
    }

    /// Runs one tikv-client call within the timeout, mapping its errors. A store that
    /// answers `ServerIsBusy` is asked again after a backoff (module docs), as long as the
    /// timeout leaves room for the wait; then its error is returned as `Unavailable`.
    async fn call<T, F, Fut>(&self, what: &'static str, f: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = tikv_client::Result<T>>,
    {
        let deadline = Instant::now() + self.timeout;
        let mut delay = BUSY_FIRST_BACKOFF;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, f()).await {
                Ok(Ok(value)) => return Ok(value),
                // Room for the wait and as long again for the call after it: a call cut off
                // by the deadline right after a wait would report a timeout, not the busy
                // store that caused it.
                Ok(Err(e)) if server_is_busy(&e) && Instant::now() + delay * 2 < deadline => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(BUSY_MAX_BACKOFF);
                }
                Ok(Err(e)) => return Err(convert(what, e)),
                Err(_) => return Err(timed_out(what, self.timeout)),
            }
        }
    }

    /// The first up to `want` live keys of `[from, to)` (`to = None`: the end of the key
    /// space), sorted, without duplicates (see the module docs on scans).
    async fn scan_page(&self, from: &[u8], to: Option<&[u8]>, want: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let each_limit = u32::try_from(want)
            .map_err(|_| KvError::InvalidArgument { message: format!("a scan page of {want} entries is too large") })?;
        let range = match to {
            Some(to) => tikv_client::BoundRange::from(from.to_vec()..to.to_vec()),
            None => tikv_client::BoundRange::from(from.to_vec()..),
        };
        let found = self.call("scanning", || self.client.batch_scan([range.clone()], each_limit)).await?;
        let mut page: Vec<(Vec<u8>, Vec<u8>)> = found
            .into_iter()
            .map(|pair| (Vec::from(pair.0), pair.1))
            .filter(|(k, _)| k.as_slice() >= from && to.is_none_or(|to| k.as_slice() < to))
            .collect();
        page.sort_by(|a, b| a.0.cmp(&b.0));
        page.dedup_by(|a, b| a.0 == b.0);
        page.truncate(want);
        Ok(page)
    }
}

/// Runs `f` within `timeout`, mapping tikv-client's errors.
async fn bounded<T>(
    timeout: Duration,
    what: &'static str,
    f: impl Future<Output = tikv_client::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, f).await {
        Ok(result) => result.map_err(|e| convert(what, e)),
        Err(_) => Err(timed_out(what, timeout)),
    }
}

fn timed_out(what: &'static str, timeout: Duration) -> KvError {
    KvError::Timeout { backend: NAME, message: format!("{what}: no answer within {timeout:?}") }
}

/// Whether TiKV refused the call with `ServerIsBusy` (every failed part of it, for calls
/// tikv-client split by region: a part that failed otherwise is reported at once). TiKV
/// answers it before running the request, so asking again is safe even for
/// compare-and-swap; for a batch split by region, parts that succeeded are written again
/// with the same values (a concurrent write to one of those keys between the two tries
/// is then overwritten, as if this batch had come after it). An undetermined outcome is
/// never asked again.
fn server_is_busy(e: &tikv_client::Error) -> bool {
    use tikv_client::Error as E;
    match e {
        E::RegionError(region) => region.server_is_busy.is_some(),
        E::ExtractedErrors(all) | E::MultipleKeyErrors(all) => !all.is_empty() && all.iter().all(server_is_busy),
        _ => false,
    }
}

/// How a tikv-client error is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Backend,
    InvalidArgument,
    Unavailable,
    Timeout,
}

/// gRPC status codes (fixed by the gRPC spec).
const GRPC_CANCELLED: i32 = 1;
const GRPC_DEADLINE_EXCEEDED: i32 = 4;
const GRPC_RESOURCE_EXHAUSTED: i32 = 8;
const GRPC_ABORTED: i32 = 10;
const GRPC_UNAVAILABLE: i32 = 14;

fn classify(e: &tikv_client::Error) -> Class {
    use tikv_client::Error as E;
    match e {
        // Connection-level and cluster-topology failures: retrying later may work.
        E::Grpc(_)
        | E::Io(_)
        | E::Canceled(_)
        | E::Channel(_)
        | E::RegionError(_)
        | E::LeaderNotFound { .. }
        | E::RegionForKeyNotFound { .. }
        | E::RegionForRangeNotFound { .. }
        | E::RegionNotFoundInResponse { .. }
        | E::EntryNotFoundInRegionCache
        | E::NoCurrentRegions
        // tikv-client reports PD connection failures ("PD cluster failed to respond", "failed
        // to connect to ...") and PD response errors as internal errors.
        | E::InternalError { .. } => Class::Unavailable,
        E::GrpcAPI(status) => match i32::from(status.code()) {
            GRPC_DEADLINE_EXCEEDED => Class::Timeout,
            GRPC_CANCELLED | GRPC_RESOURCE_EXHAUSTED | GRPC_ABORTED | GRPC_UNAVAILABLE => Class::Unavailable,
            _ => Class::Backend,
        },
        E::UndeterminedError(inner) => classify(inner),
        E::ExtractedErrors(all) | E::MultipleKeyErrors(all) => all.iter().map(classify).max().unwrap_or(Class::Backend),
        E::MaxScanLimitExceeded { .. } => Class::InvalidArgument,
        _ => Class::Backend,
    }
}

/// Maps a tikv-client error to [`KvError`], naming the backend and what was being done.
fn convert(what: &'static str, e: tikv_client::Error) -> KvError {
    match classify(&e) {
        Class::Timeout => KvError::Timeout { backend: NAME, message: format!("{what}: {e}") },
        Class::Unavailable => KvError::unavailable(NAME, what, e),
        Class::InvalidArgument => KvError::InvalidArgument { message: format!("{NAME}: {what}: {e}") },
        Class::Backend => KvError::backend(NAME, what, e),
    }
}

fn capability() -> Capability {
    Capability {
        ttl: true,
        ttl_granularity: Duration::from_secs(1),
        cas: true,
        // tikv-client's compare_and_swap sends no TTL (module docs).
        cas_ttl: false,
        // Batches are split by region and size; each part is written on its own.
        atomic_batch: false,
        max_key_bytes: 8 * 1024,
        max_value_bytes: 8 * 1024 * 1024,
        max_scan_limit: 10_240,
        max_batch: 4096,
    }
}

/// The TTL as TiKV takes it: whole seconds, 0 for none.
fn ttl_secs(ttl: Option<Duration>) -> u64 {
    effective_ttl(ttl, capability().ttl_granularity).map_or(0, |d| d.as_secs())
}

#[async_trait]
impl KvBackend for TikvStore {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capability(&self) -> Capability {
        capability()
    }

    async fn get(&self, ns: &Namespace, key: &Key) -> Result<Option<Vec<u8>>> {
        self.call("reading", || self.client.get(ns.physical(key.as_str()))).await
    }

    async fn put(&self, ns: &Namespace, key: &Key, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        self.call("writing", || self.client.put_with_ttl(ns.physical(key.as_str()), value.to_vec(), ttl_secs(ttl)))
            .await
    }

    async fn delete(&self, ns: &Namespace, key: &Key) -> Result<()> {
        self.call("deleting", || self.client.delete(ns.physical(key.as_str()))).await
    }

    async fn scan(&self, ns: &Namespace, start: &[u8], end: Option<&[u8]>, limit: usize) -> Result<Vec<KvPair>> {
        let prefix = ns.prefix();
        let mut from = [prefix.as_slice(), start].concat();
        let to = match end {
            Some(e) => Some([prefix.as_slice(), e].concat()),
            None => prefix_upper_bound(&prefix),
        };
        let mut out = Vec::new();
        if to.as_ref().is_some_and(|to| *to <= from) {
            return Ok(out);
        }
        loop {
            let want = limit - out.len();
            let page = self.scan_page(&from, to.as_deref(), want).await?;
            let short = page.len() < want;
            let Some(last) = page.last() else { break };
            // The next page starts right after this one's last key.
            let mut next = last.0.clone();
            next.push(0);
            for (k, value) in page {
                // Skips keys of other namespaces (tenant keys, seen from the global one).
                if let Some(logical) = ns.logical(&k) {
                    out.push(KvPair { key: logical.to_owned(), value });
                }
            }
            if short || out.len() >= limit {
                break;
            }
            from = next;
        }
        Ok(out)
    }

    async fn batch_get(&self, ns: &Namespace, keys: &[Key]) -> Result<Vec<KvPair>> {
        let wanted: BTreeSet<Vec<u8>> = keys.iter().map(|k| ns.physical(k.as_str())).collect();
        let found = self.call("reading", || self.client.batch_get(wanted.iter().cloned())).await?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(found.len());
        for pair in found {
            let physical = Vec::from(pair.0);
            if !wanted.contains(&physical) || !seen.insert(physical.clone()) {
                continue;
            }
            if let Some(logical) = ns.logical(&physical) {
                out.push(KvPair { key: logical.to_owned(), value: pair.1 });
            }
        }
        Ok(out)
    }

    async fn batch_put(&self, ns: &Namespace, entries: &[(Key, Vec<u8>)], ttl: Option<Duration>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> =
            entries.iter().map(|(k, v)| (ns.physical(k.as_str()), v.clone())).collect();
        // tikv-client asserts one TTL per pair; `repeat` is cut to the pairs' length.
        let ttls = std::iter::repeat(ttl_secs(ttl));
        self.call("writing a batch", || self.client.batch_put_with_ttl(pairs.clone(), ttls.clone())).await
    }

    async fn batch_delete(&self, ns: &Namespace, keys: &[Key]) -> Result<()> {
        let physical: BTreeSet<Vec<u8>> = keys.iter().map(|k| ns.physical(k.as_str())).collect();
        // One delete per key: the atomic-mode client refuses batch deletes (module docs).
        futures::stream::iter(physical)
            .map(|k| async move { self.call("deleting a batch", || self.client.delete(k.clone())).await })
            .buffer_unordered(DELETE_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn compare_and_swap(
        &self,
        ns: &Namespace,
        key: &Key,
        expected: Option<&[u8]>,
        new: &[u8],
        ttl: Option<Duration>,
    ) -> Result<()> {
        // No TTL reaches here: `cas_ttl` is false, so the check layer refuses one.
        debug_assert_eq!(ttl_secs(ttl), 0, "a TTL on compare-and-swap passed the check layer");
        let physical = ns.physical(key.as_str());
        let (current, swapped) = self
            .call("compare-and-swap", || {
                self.client.compare_and_swap(physical.clone(), expected.map(<[u8]>::to_vec), new.to_vec())
            })
            .await?;
        if swapped { Ok(()) } else { Err(KvError::ConditionNotMet { key: key.as_str().to_owned(), current }) }
    }

    async fn ping(&self) -> Result<()> {
        self.call("ping", || self.client.get(PING_KEY.to_vec())).await.map(|_| ())
    }
}
