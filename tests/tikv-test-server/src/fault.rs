//! Faults a test injects into the TiKV side of a cluster: region errors, an unavailable
//! store, slow answers, and leaders that move to the other store.
//!
//! A fault applies to the TiKV data calls (`Raw*`); PD keeps answering, as it does when one
//! store struggles. Each fault is answered the way TiKV answers it, so a client meets the
//! error values it meets in production and its own retry logic decides what happens next.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tonic::Status;

use crate::proto::{errorpb, kvrpcpb, metapb};
use crate::store::Region;

/// One kind of failure a TiKV store answers with (see [`crate::TestCluster::inject`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `NotLeader` naming no leader: the region is electing one. A client drops its cached
    /// region, backs off and asks PD again.
    NotLeaderUnknown,
    /// `EpochNotMatch` with no current regions (the region split or merged): a client drops
    /// its cached region and asks PD again.
    EpochNotMatch,
    /// `RegionNotFound`: the store no longer holds the region.
    RegionNotFound,
    /// `ServerIsBusy`: the store refuses work before running it (its scheduler or Raft
    /// store is overloaded). tikv-client 0.4 returns it to its caller without a retry.
    ServerIsBusy,
    /// A gRPC `UNAVAILABLE` status, as from a store that is going down or whose connection
    /// broke. A client drops the store from its cache, backs off and tries again.
    StoreUnavailable,
    /// The store answers normally, after this long (a slow disk, a long GC pause).
    Slow(Duration),
}

impl Fault {
    /// The name [`crate::TestCluster::faults_answered`] counts this fault under.
    pub fn name(self) -> &'static str {
        match self {
            Fault::NotLeaderUnknown => "NotLeaderUnknown",
            Fault::EpochNotMatch => "EpochNotMatch",
            Fault::RegionNotFound => "RegionNotFound",
            Fault::ServerIsBusy => "ServerIsBusy",
            Fault::StoreUnavailable => "StoreUnavailable",
            Fault::Slow(_) => "Slow",
        }
    }
}

/// The fault in force, and how many more calls it answers.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    state: Mutex<Option<(Fault, Option<u64>)>>,
}

impl Faults {
    pub(crate) fn set(&self, fault: Fault, calls: Option<u64>) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        *state = (calls != Some(0)).then_some((fault, calls));
    }

    pub(crate) fn clear(&self) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The fault this call meets, counting it against the fault's calls.
    pub(crate) fn take(&self) -> Option<Fault> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (fault, calls) = (*state)?;
        match calls {
            Some(1) => *state = None,
            Some(n) => *state = Some((fault, Some(n - 1))),
            None => {}
        }
        Some(fault)
    }
}

/// How a call that meets a fault is answered.
#[derive(Debug)]
pub(crate) enum Answer {
    /// In the response's `region_error`, as TiKV reports region errors.
    Region(Box<errorpb::Error>),
    /// As a gRPC status.
    Status(Status),
}

/// The region error TiKV answers for `fault` on `region_id`; `None` for the faults that are
/// not region errors.
pub(crate) fn region_error(fault: Fault, region_id: u64) -> Option<errorpb::Error> {
    let e = match fault {
        Fault::NotLeaderUnknown => errorpb::Error {
            message: format!("peer is not leader for region {region_id}, leader may None"),
            not_leader: Some(errorpb::NotLeader { region_id, leader: None }),
            ..Default::default()
        },
        Fault::EpochNotMatch => errorpb::Error {
            message: format!("epoch not match for region {region_id}"),
            epoch_not_match: Some(errorpb::EpochNotMatch::default()),
            ..Default::default()
        },
        Fault::RegionNotFound => errorpb::Error {
            message: format!("region {region_id} not found"),
            region_not_found: Some(errorpb::RegionNotFound { region_id }),
            ..Default::default()
        },
        Fault::ServerIsBusy => errorpb::Error {
            message: "server is busy".into(),
            server_is_busy: Some(errorpb::ServerIsBusy { reason: "scheduler is busy".into(), ..Default::default() }),
            ..Default::default()
        },
        Fault::StoreUnavailable | Fault::Slow(_) => return None,
    };
    Some(e)
}

/// `NotLeader` naming the region's leader on `leader_store`, for a call sent to another store.
pub(crate) fn not_leader(region: &Region, leader: metapb::Peer) -> errorpb::Error {
    errorpb::Error {
        message: format!("peer is not leader for region {}, leader may {leader:?}", region.id),
        not_leader: Some(errorpb::NotLeader { region_id: region.id, leader: Some(leader) }),
        ..Default::default()
    }
}

/// The store a call was sent to: its context's peer (tikv-client names the leader it chose).
pub(crate) fn addressed_store(ctx: Option<&kvrpcpb::Context>) -> Option<u64> {
    ctx.and_then(|c| c.peer.as_ref()).map(|p| p.store_id)
}
