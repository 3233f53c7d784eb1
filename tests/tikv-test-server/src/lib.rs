//! # A PD + TiKV stand-in for tests — this is not TiKV
//!
//! No TiKV or PD can run on our machines, so this crate gives tests something to point
//! tikv-client's `RawClient` at: one tonic server on `127.0.0.1` that answers the PD, Keyspace
//! and TiKV gRPC calls the raw client makes, well enough for the client to work as it does
//! against a real cluster (region lookups, per-region sharding of batches and scans, TTLs,
//! compare-and-swap, API v2 keyspaces).
//!
//! It is a stand-in, not an emulator. It keeps everything in one in-memory ordered map behind
//! a mutex; its two stores are the same server (every region has a peer on each, the leaders
//! on one), its regions are fixed (no splits or merges), and it has no Raft, no persistence,
//! no transactions, no coprocessor; it ignores column families, API versions and request
//! deadlines. Region errors beyond "key not in region" / "region not found" come only from
//! faults a test injects ([`TestCluster::inject`]: `NotLeader`, `EpochNotMatch`,
//! `RegionNotFound`, `ServerIsBusy`, an unavailable store, slow answers) and from leaders it
//! moves to the other store ([`TestCluster::move_leaders`]). Its
//! behaviour follows TiKV's documented raw-KV semantics where tests depend on them:
//!
//! - a raw scan returns only keys in `[start, end) ∩ region`, at most `limit`, honouring
//!   `key_only` and `reverse` (reverse: `start` is the exclusive upper bound, `end` the
//!   inclusive lower bound);
//! - TTLs are whole seconds, 0 meaning none; an expired key is invisible to every read and to
//!   compare-and-swap at once;
//! - compare-and-swap is atomic;
//! - every PD response carries a header with the cluster id; in keyspace mode, PD's region
//!   boundaries are memcomparable-encoded and the regions are split at the keyspace's
//!   boundaries (`r` and `x` prefixes of the keyspace id and of the next id), as PD does.
//!
//! Passing tests against it shows that code drives tikv-client correctly; it does not show
//! how a real TiKV cluster behaves under load, failures or region changes.

mod codec;
mod fault;
mod service;
mod store;

/// The generated protocol code (see `build.rs`): tikv-client's message types, included in
/// place, and tonic-build's server traits.
#[allow(
    missing_docs,
    unreachable_pub,
    dead_code,
    clippy::all,
    clippy::pedantic,
    rust_2018_idioms,
    unused_qualifications
)]
mod proto {
    include!(concat!(env!("OUT_DIR"), "/tikv_proto.rs"));

    /// tonic-build's server code of the three services.
    pub mod server {
        include!(concat!(env!("OUT_DIR"), "/pdpb.PD.rs"));
        include!(concat!(env!("OUT_DIR"), "/keyspacepb.Keyspace.rs"));
        include!(concat!(env!("OUT_DIR"), "/tikvpb.Tikv.rs"));
    }
}

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

pub use crate::fault::Fault;
use crate::fault::Faults;
use crate::proto::server::keyspace_server::KeyspaceServer;
use crate::proto::server::p_d_server::PDServer;
use crate::proto::server::tikv_server::TikvServer;
use crate::service::{STORE_IDS, Service};
use crate::store::{Region, Store};

/// Largest gRPC message the server accepts or sends (values may be several MiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;
/// How long [`TestCluster::shutdown`] waits for clients to hang up before closing anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// State shared by the services of one cluster.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cluster_id: u64,
    /// `127.0.0.1:PORT`: PD's client URL.
    pub(crate) address: String,
    /// The address PD advertises for the store: `address`, unless the cluster was started
    /// with [`TestCluster::start_advertising_store`].
    pub(crate) store_address: String,
    /// Sorted, contiguous, covering the key space; boundaries are raw keys.
    pub(crate) regions: Vec<Region>,
    /// Whether PD region boundaries are memcomparable-encoded (API v2 / keyspace mode).
    pub(crate) codec: bool,
    /// The keyspace PD knows: name and id.
    pub(crate) keyspace: Option<(String, u32)>,
    pub(crate) store: Store,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    logical: AtomicI64,
    /// The injected fault, if any (see [`TestCluster::inject`]).
    pub(crate) faults: Faults,
    /// How many calls each fault answered: [`Fault::name`]s and `NotLeader`.
    faults_answered: Mutex<BTreeMap<&'static str, u64>>,
    /// The store holding every region's leader.
    leader_store: AtomicU64,
    /// TiKV calls sent to each store, by the peer in their context.
    store_calls: Mutex<BTreeMap<u64, u64>>,
}

impl Shared {
    /// Counts one served RPC.
    pub(crate) fn count(&self, rpc: &'static str) {
        *self.counts.lock().unwrap_or_else(PoisonError::into_inner).entry(rpc).or_insert(0) += 1;
    }

    /// Counts one call answered with a fault.
    pub(crate) fn count_fault(&self, name: &'static str) {
        *self.faults_answered.lock().unwrap_or_else(PoisonError::into_inner).entry(name).or_insert(0) += 1;
    }

    /// Counts one TiKV call sent to `store`.
    pub(crate) fn count_store(&self, store: u64) {
        *self.store_calls.lock().unwrap_or_else(PoisonError::into_inner).entry(store).or_insert(0) += 1;
    }

    /// The store holding every region's leader.
    pub(crate) fn leader_store(&self) -> u64 {
        self.leader_store.load(Ordering::SeqCst)
    }

    /// The logical part of the next TSO answer for `count` timestamps.
    pub(crate) fn next_logical(&self, count: u32) -> i64 {
        self.logical.fetch_add(i64::from(count), Ordering::Relaxed) + i64::from(count)
    }
}

/// A running PD + TiKV stand-in on `127.0.0.1` (see the crate docs: a stand-in for tests, not
/// TiKV). The server stops when this value is shut down or dropped.
#[derive(Debug)]
pub struct TestCluster {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// The raw-mode key prefix of keyspace `id` (API v2): `r` and the id's low 24 bits, big-endian.
fn keyspace_prefix(mode: u8, id: u32) -> Vec<u8> {
    let [_, a, b, c] = id.to_be_bytes();
    vec![mode, a, b, c]
}

impl TestCluster {
    /// Starts PD and TiKV on `127.0.0.1:0` with the regions split at `split_keys` (raw keys;
    /// at least one non-empty key, so there are at least two regions).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] without a split key; the listener's errors.
    pub async fn start(split_keys: Vec<Vec<u8>>) -> io::Result<TestCluster> {
        if split_keys.iter().all(Vec::is_empty) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "give at least one non-empty split key"));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::launch(listener, split_keys, None, None).await
    }

    /// As [`TestCluster::start`], listening on `addr` (a port a test reserved, to bring a
    /// cluster up where a client was already told to look).
    ///
    /// # Errors
    /// As [`TestCluster::start`]; the port's bind error.
    pub async fn start_at(addr: SocketAddr, split_keys: Vec<Vec<u8>>) -> io::Result<TestCluster> {
        if split_keys.iter().all(Vec::is_empty) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "give at least one non-empty split key"));
        }
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Self::launch(listener, split_keys, None, None).await
    }

    /// As [`TestCluster::start`], but PD advertises the store at `store_address` instead of
    /// its own address: PD answers, while every TiKV call goes to `store_address` (the
    /// cluster seen from outside its network, whose stores advertise internal addresses).
    ///
    /// # Errors
    /// As [`TestCluster::start`].
    pub async fn start_advertising_store(split_keys: Vec<Vec<u8>>, store_address: String) -> io::Result<TestCluster> {
        if split_keys.iter().all(Vec::is_empty) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "give at least one non-empty split key"));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::launch(listener, split_keys, None, Some(store_address)).await
    }

    /// Starts an API v2 cluster that knows keyspace `name` with id `id` (below 2^24 - 1). Its
    /// regions are split as PD splits them for a keyspace — at the raw and transactional
    /// prefixes of `id` and of `id + 1` — and at `split_keys`, which are user keys of the
    /// keyspace (the client adds the keyspace prefix; so does this function).
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for an id of 2^24 - 1 or more (keyspace ids have 24 bits,
    /// and the last one has no next id to end its range); the listener's errors.
    pub async fn start_with_keyspace(name: &str, id: u32, split_keys: Vec<Vec<u8>>) -> io::Result<TestCluster> {
        if id >= (1 << 24) - 1 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "keyspace ids are below 2^24 - 1 here"));
        }
        let raw = keyspace_prefix(b'r', id);
        let mut splits = vec![raw.clone(), keyspace_prefix(b'r', id + 1), keyspace_prefix(b'x', id)];
        splits.push(keyspace_prefix(b'x', id + 1));
        splits.extend(split_keys.into_iter().filter(|k| !k.is_empty()).map(|k| [raw.as_slice(), &k].concat()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        Self::launch(listener, splits, Some((name.to_owned(), id)), None).await
    }

    async fn launch(
        listener: tokio::net::TcpListener,
        splits: Vec<Vec<u8>>,
        keyspace: Option<(String, u32)>,
        store_address: Option<String>,
    ) -> io::Result<TestCluster> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cluster_id: 0x7038_6673, // "p8fs"
            address: addr.to_string(),
            store_address: store_address.unwrap_or_else(|| addr.to_string()),
            regions: store::layout(splits, 2),
            codec: keyspace.is_some(),
            keyspace,
            store: Store::default(),
            counts: Mutex::default(),
            logical: AtomicI64::new(0),
            faults: Faults::default(),
            faults_answered: Mutex::default(),
            leader_store: AtomicU64::new(STORE_IDS[0]),
            store_calls: Mutex::default(),
        });
        let service = Arc::new(Service { shared: Arc::clone(&shared) });
        let (stop, stopped) = oneshot::channel::<()>();
        let router = tonic::transport::Server::builder()
            .add_service(
                PDServer::from_arc(Arc::clone(&service))
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                KeyspaceServer::from_arc(Arc::clone(&service))
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            )
            .add_service(
                TikvServer::from_arc(service)
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES),
            );
        // Without TCP_NODELAY, small responses wait for delayed ACKs (tens of ms per call).
        let incoming = TcpListenerStream::new(listener).map(|conn| {
            conn.and_then(|c| {
                c.set_nodelay(true)?;
                Ok(c)
            })
        });
        let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        }));
        Ok(TestCluster { addr, shared, stop: Some(stop), task })
    }

    /// The PD endpoint for `RawClient::new`: `127.0.0.1:PORT`.
    pub fn pd_endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// How many calls of one RPC the cluster has served, by its gRPC method name: TiKV's
    /// (`RawGet`, `RawBatchGet`, `RawPut`, `RawBatchPut`, `RawDelete`, `RawBatchDelete`,
    /// `RawDeleteRange`, `RawScan`, `RawBatchScan`, `RawGetKeyTTL`, `RawCompareAndSwap`) and
    /// PD's (`GetMembers`, `Tso`, `GetRegion`, `GetRegionByID`, `GetStore`, `GetAllStores`,
    /// `LoadKeyspace`). Calls answered with a region error count too.
    pub fn request_count(&self, rpc: &str) -> u64 {
        self.shared.counts.lock().unwrap_or_else(PoisonError::into_inner).get(rpc).copied().unwrap_or(0)
    }

    /// From now on, TiKV answers the next `calls` data calls (every one, with `None`, until
    /// [`TestCluster::clear_faults`]) with `fault`, replacing any fault in force. PD is not
    /// affected.
    pub fn inject(&self, fault: Fault, calls: Option<u64>) {
        self.shared.faults.set(fault, calls);
    }

    /// Ends the injected fault: TiKV answers normally again.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// How many calls were answered with a fault, by [`Fault::name`], or `"NotLeader"` for
    /// the calls sent to a store that no longer holds the leader.
    pub fn faults_answered(&self, name: &str) -> u64 {
        self.shared.faults_answered.lock().unwrap_or_else(PoisonError::into_inner).get(name).copied().unwrap_or(0)
    }

    /// Moves the leader of every region to the other store and returns its id. Calls sent
    /// to the old leader's store are answered `NotLeader` naming the new leader (as TiKV's
    /// followers answer), and PD reports the new leader.
    pub fn move_leaders(&self) -> u64 {
        let next = if self.shared.leader_store() == STORE_IDS[0] { STORE_IDS[1] } else { STORE_IDS[0] };
        self.shared.leader_store.store(next, Ordering::SeqCst);
        next
    }

    /// TiKV calls sent to `store` (by the leader peer the client named in the call).
    pub fn calls_to_store(&self, store: u64) -> u64 {
        self.shared.store_calls.lock().unwrap_or_else(PoisonError::into_inner).get(&store).copied().unwrap_or(0)
    }

    /// The regions as `(start, end)` raw keys (an empty end: the end of the key space), in order.
    pub fn regions(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.shared.regions.iter().map(|r| (r.start.clone(), r.end.clone())).collect()
    }

    /// Every live key the store holds, as TiKV would store it (with the keyspace prefix in
    /// keyspace mode), sorted.
    pub fn stored_keys(&self) -> Vec<Vec<u8>> {
        self.shared.store.scan(b"", None, usize::MAX, true, false).into_iter().map(|(k, _)| k).collect()
    }

    /// Stops the server. Clients still connected get connection errors from then on.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Graceful shutdown waits for clients to close their connections; tests may keep a
        // client alive, so only wait a little.
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.task.abort();
    }
}
