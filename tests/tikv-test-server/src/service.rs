//! The PD, Keyspace and TiKV gRPC services of a test cluster.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::Shared;
use crate::codec;
use crate::fault::{self, Answer, Fault};
use crate::proto::server::keyspace_server::Keyspace;
use crate::proto::server::p_d_server::PD;
use crate::proto::server::tikv_server::Tikv;
use crate::proto::{errorpb, keyspacepb, kvrpcpb, metapb, pdpb};
use crate::store::Region;

/// The cluster's stores: both are this server, at the address PD advertises. Every region
/// has a peer on each; the leaders are on one of them (store 1 until
/// [`crate::TestCluster::move_leaders`]).
pub(crate) const STORE_IDS: [u64; 2] = [1, 2];

/// All three services share the cluster's state.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) shared: Arc<Shared>,
}

impl Service {
    fn header(&self) -> Option<pdpb::ResponseHeader> {
        Some(pdpb::ResponseHeader { cluster_id: self.shared.cluster_id, error: None })
    }

    fn error_header(&self, kind: pdpb::ErrorType, message: String) -> Option<pdpb::ResponseHeader> {
        Some(pdpb::ResponseHeader {
            cluster_id: self.shared.cluster_id,
            error: Some(pdpb::Error { r#type: kind as i32, message }),
        })
    }

    fn member(&self) -> pdpb::Member {
        pdpb::Member {
            name: "p8fs-test-pd".into(),
            member_id: 1,
            client_urls: vec![format!("http://{}", self.shared.address)],
            peer_urls: vec![format!("http://{}", self.shared.address)],
            ..Default::default()
        }
    }

    fn store(&self, id: u64) -> metapb::Store {
        metapb::Store {
            id,
            address: self.shared.store_address.clone(),
            state: metapb::StoreState::Up as i32,
            version: "test-server".into(),
            ..Default::default()
        }
    }

    fn peer(region: &Region, store_id: u64) -> metapb::Peer {
        metapb::Peer { id: region.id * 1000 + store_id, store_id, ..Default::default() }
    }

    /// Admits a TiKV call, or answers it with the injected fault (counting it against the
    /// fault's calls), or with `NotLeader` naming the leader when the call was sent to the
    /// other store. A `Slow` fault delays the call, then admits it.
    async fn admit(&self, ctx: Option<&kvrpcpb::Context>) -> Result<(), Answer> {
        let addressed = fault::addressed_store(ctx);
        if let Some(store) = addressed {
            self.shared.count_store(store);
        }
        if let Some(f) = self.shared.faults.take() {
            self.shared.count_fault(f.name());
            match f {
                Fault::Slow(delay) => tokio::time::sleep(delay).await,
                Fault::StoreUnavailable => {
                    return Err(Answer::Status(Status::unavailable("the store is not available (an injected fault)")));
                }
                other => {
                    let region_id = ctx.map_or(0, |c| c.region_id);
                    if let Some(e) = fault::region_error(other, region_id) {
                        return Err(Answer::Region(Box::new(e)));
                    }
                }
            }
        }
        let leader = self.shared.leader_store();
        if let Some(store) = addressed
            && store != leader
            && let Ok(region) = self.region_of(ctx)
        {
            self.shared.count_fault("NotLeader");
            return Err(Answer::Region(Box::new(fault::not_leader(region, Self::peer(region, leader)))));
        }
        Ok(())
    }

    /// The region as PD reports it: boundaries memcomparable-encoded in keyspace mode.
    fn region_response(&self, region: &Region) -> pdpb::GetRegionResponse {
        let bound = |key: &[u8]| {
            if self.shared.codec && !key.is_empty() { codec::encode(key) } else { key.to_vec() }
        };
        pdpb::GetRegionResponse {
            header: self.header(),
            region: Some(metapb::Region {
                id: region.id,
                start_key: bound(&region.start),
                end_key: bound(&region.end),
                region_epoch: Some(metapb::RegionEpoch { conf_ver: 1, version: 1 }),
                peers: STORE_IDS.iter().map(|&store| Self::peer(region, store)).collect(),
                ..Default::default()
            }),
            leader: Some(Self::peer(region, self.shared.leader_store())),
            ..Default::default()
        }
    }

    /// The region a TiKV request names in its context.
    fn region_of(&self, ctx: Option<&kvrpcpb::Context>) -> Result<&Region, Box<errorpb::Error>> {
        let id = ctx.map_or(0, |c| c.region_id);
        self.shared.regions.iter().find(|r| r.id == id).ok_or_else(|| {
            Box::new(errorpb::Error {
                message: format!("region {id} not found"),
                region_not_found: Some(errorpb::RegionNotFound { region_id: id }),
                ..Default::default()
            })
        })
    }

    /// The region of the request's context, checked to hold every key.
    fn region_holding<'a>(
        &self,
        ctx: Option<&kvrpcpb::Context>,
        keys: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<&Region, Box<errorpb::Error>> {
        let region = self.region_of(ctx)?;
        if let Some(key) = keys.into_iter().find(|k| !region.contains(k)) {
            return Err(Box::new(errorpb::Error {
                message: format!("key {key:?} is not in region {}", region.id),
                key_not_in_region: Some(errorpb::KeyNotInRegion {
                    key: key.to_vec(),
                    region_id: region.id,
                    start_key: region.start.clone(),
                    end_key: region.end.clone(),
                }),
                ..Default::default()
            }));
        }
        Ok(region)
    }
}

fn pairs(kvs: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<kvrpcpb::KvPair> {
    kvs.into_iter().map(|(key, value)| kvrpcpb::KvPair { key, value, error: None }).collect()
}

fn ms_since_epoch() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

type TsoStream = Pin<Box<dyn Stream<Item = Result<pdpb::TsoResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl PD for Service {
    async fn get_members(
        &self,
        _request: Request<pdpb::GetMembersRequest>,
    ) -> Result<Response<pdpb::GetMembersResponse>, Status> {
        self.shared.count("GetMembers");
        Ok(Response::new(pdpb::GetMembersResponse {
            header: self.header(),
            members: vec![self.member()],
            leader: Some(self.member()),
            etcd_leader: Some(self.member()),
            ..Default::default()
        }))
    }

    type TsoStream = TsoStream;

    async fn tso(&self, request: Request<Streaming<pdpb::TsoRequest>>) -> Result<Response<Self::TsoStream>, Status> {
        self.shared.count("Tso");
        let this = self.clone();
        // The item type is tonic's: `Result<_, Status>`, however large `Status` is.
        #[allow(clippy::result_large_err)]
        let stream = request.into_inner().map(move |req| {
            let req = req?;
            // Timestamps only need to grow: wall-clock ms, and a counter as the logical part.
            let logical = this.shared.next_logical(req.count);
            Ok(pdpb::TsoResponse {
                header: this.header(),
                count: req.count,
                timestamp: Some(pdpb::Timestamp { physical: ms_since_epoch(), logical, suffix_bits: 0 }),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_store(
        &self,
        request: Request<pdpb::GetStoreRequest>,
    ) -> Result<Response<pdpb::GetStoreResponse>, Status> {
        self.shared.count("GetStore");
        let id = request.into_inner().store_id;
        Ok(Response::new(if STORE_IDS.contains(&id) {
            pdpb::GetStoreResponse { header: self.header(), store: Some(self.store(id)), stats: None }
        } else {
            pdpb::GetStoreResponse {
                header: self.error_header(pdpb::ErrorType::Unknown, format!("invalid store ID {id}, not found")),
                ..Default::default()
            }
        }))
    }

    async fn get_all_stores(
        &self,
        _request: Request<pdpb::GetAllStoresRequest>,
    ) -> Result<Response<pdpb::GetAllStoresResponse>, Status> {
        self.shared.count("GetAllStores");
        Ok(Response::new(pdpb::GetAllStoresResponse {
            header: self.header(),
            stores: STORE_IDS.iter().map(|&id| self.store(id)).collect(),
        }))
    }

    async fn get_region(
        &self,
        request: Request<pdpb::GetRegionRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        self.shared.count("GetRegion");
        let key = request.into_inner().region_key;
        let raw = if self.shared.codec {
            match codec::decode(&key) {
                Some(raw) => raw,
                None => {
                    return Ok(Response::new(pdpb::GetRegionResponse {
                        header: self
                            .error_header(pdpb::ErrorType::InvalidValue, format!("{key:?} is not an encoded key")),
                        ..Default::default()
                    }));
                }
            }
        } else {
            key
        };
        // The regions cover the key space, so one always holds the key.
        match self.shared.regions.iter().find(|r| r.contains(&raw)) {
            Some(region) => Ok(Response::new(self.region_response(region))),
            None => Err(Status::internal("the test cluster's regions do not cover the key space")),
        }
    }

    async fn get_region_by_id(
        &self,
        request: Request<pdpb::GetRegionByIdRequest>,
    ) -> Result<Response<pdpb::GetRegionResponse>, Status> {
        self.shared.count("GetRegionByID");
        let id = request.into_inner().region_id;
        Ok(Response::new(match self.shared.regions.iter().find(|r| r.id == id) {
            Some(region) => self.region_response(region),
            // As PD: no error, no region.
            None => pdpb::GetRegionResponse { header: self.header(), ..Default::default() },
        }))
    }
}

#[tonic::async_trait]
impl Keyspace for Service {
    async fn load_keyspace(
        &self,
        request: Request<keyspacepb::LoadKeyspaceRequest>,
    ) -> Result<Response<keyspacepb::LoadKeyspaceResponse>, Status> {
        self.shared.count("LoadKeyspace");
        let name = request.into_inner().name;
        Ok(Response::new(match &self.shared.keyspace {
            Some((ks, id)) if *ks == name => keyspacepb::LoadKeyspaceResponse {
                header: self.header(),
                keyspace: Some(keyspacepb::KeyspaceMeta {
                    id: *id,
                    name,
                    state: keyspacepb::KeyspaceState::Enabled as i32,
                    ..Default::default()
                }),
            },
            _ => keyspacepb::LoadKeyspaceResponse {
                header: self.error_header(pdpb::ErrorType::EntryNotFound, format!("keyspace {name:?} not found")),
                keyspace: None,
            },
        }))
    }
}

/// Answers with the injected fault or the leader's store when the call meets one (see
/// [`Service::admit`]), then with the region error when `$check` fails.
macro_rules! region_or_return {
    ($service:expr, $ctx:expr, $check:expr, $response:ty) => {{
        if let Err(answer) = $service.admit($ctx).await {
            return match answer {
                Answer::Region(e) => Ok(Response::new(<$response>::default_with_region_error(*e))),
                Answer::Status(s) => Err(s),
            };
        }
        match $check {
            Ok(region) => region,
            Err(e) => return Ok(Response::new(<$response>::default_with_region_error(*e))),
        }
    }};
}

/// Responses that carry a region error.
trait RegionErrorResponse: Default {
    fn default_with_region_error(e: errorpb::Error) -> Self;
}

macro_rules! region_error_response {
    ($($t:ty),* $(,)?) => {$(
        impl RegionErrorResponse for $t {
            fn default_with_region_error(e: errorpb::Error) -> Self {
                Self { region_error: Some(e), ..Default::default() }
            }
        }
    )*};
}

region_error_response!(
    kvrpcpb::RawGetResponse,
    kvrpcpb::RawBatchGetResponse,
    kvrpcpb::RawPutResponse,
    kvrpcpb::RawBatchPutResponse,
    kvrpcpb::RawDeleteResponse,
    kvrpcpb::RawBatchDeleteResponse,
    kvrpcpb::RawDeleteRangeResponse,
    kvrpcpb::RawScanResponse,
    kvrpcpb::RawBatchScanResponse,
    kvrpcpb::RawGetKeyTtlResponse,
    kvrpcpb::RawCasResponse,
);

/// `None` for an empty end key (the end of the key space).
fn end_bound(end: &[u8]) -> Option<&[u8]> {
    (!end.is_empty()).then_some(end)
}

/// Up to `limit` entries of one range within `region`, as TiKV's raw scan returns them: with
/// `reverse`, `start` is the exclusive upper bound and `end` the inclusive lower bound.
fn scan_in_region(
    shared: &Shared,
    region: &Region,
    start: &[u8],
    end: &[u8],
    limit: u32,
    key_only: bool,
    reverse: bool,
) -> Vec<kvrpcpb::KvPair> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let (lo, hi) = if reverse { (end, end_bound(start)) } else { (start, end_bound(end)) };
    match region.clip(lo, hi) {
        Some((lo, hi)) => pairs(shared.store.scan(&lo, hi.as_deref(), limit, key_only, reverse)),
        None => Vec::new(),
    }
}

#[tonic::async_trait]
impl Tikv for Service {
    async fn raw_get(
        &self,
        request: Request<kvrpcpb::RawGetRequest>,
    ) -> Result<Response<kvrpcpb::RawGetResponse>, Status> {
        self.shared.count("RawGet");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), [req.key.as_slice()]),
            kvrpcpb::RawGetResponse
        );
        Ok(Response::new(match self.shared.store.get(&req.key) {
            Some(value) => kvrpcpb::RawGetResponse { value, ..Default::default() },
            None => kvrpcpb::RawGetResponse { not_found: true, ..Default::default() },
        }))
    }

    async fn raw_batch_get(
        &self,
        request: Request<kvrpcpb::RawBatchGetRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchGetResponse>, Status> {
        self.shared.count("RawBatchGet");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), req.keys.iter().map(Vec::as_slice)),
            kvrpcpb::RawBatchGetResponse
        );
        let found = req.keys.into_iter().filter_map(|k| self.shared.store.get(&k).map(|v| (k, v))).collect::<Vec<_>>();
        Ok(Response::new(kvrpcpb::RawBatchGetResponse { pairs: pairs(found), region_error: None }))
    }

    async fn raw_put(
        &self,
        request: Request<kvrpcpb::RawPutRequest>,
    ) -> Result<Response<kvrpcpb::RawPutResponse>, Status> {
        self.shared.count("RawPut");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), [req.key.as_slice()]),
            kvrpcpb::RawPutResponse
        );
        self.shared.store.put(req.key, req.value, req.ttl);
        Ok(Response::new(kvrpcpb::RawPutResponse::default()))
    }

    async fn raw_batch_put(
        &self,
        request: Request<kvrpcpb::RawBatchPutRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchPutResponse>, Status> {
        self.shared.count("RawBatchPut");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), req.pairs.iter().map(|p| p.key.as_slice())),
            kvrpcpb::RawBatchPutResponse
        );
        // As TiKV: one TTL per pair, or the deprecated single `ttl` for all when `ttls` is empty.
        #[allow(deprecated)]
        let shared_ttl = req.ttl;
        let ttls: Vec<u64> = match req.ttls.len() {
            0 => vec![shared_ttl; req.pairs.len()],
            1 => vec![req.ttls[0]; req.pairs.len()],
            n if n == req.pairs.len() => req.ttls,
            n => {
                return Ok(Response::new(kvrpcpb::RawBatchPutResponse {
                    error: format!("{n} ttls for {} pairs", req.pairs.len()),
                    region_error: None,
                }));
            }
        };
        self.shared.store.put_many(req.pairs.into_iter().zip(ttls).map(|(p, ttl)| (p.key, p.value, ttl)));
        Ok(Response::new(kvrpcpb::RawBatchPutResponse::default()))
    }

    async fn raw_delete(
        &self,
        request: Request<kvrpcpb::RawDeleteRequest>,
    ) -> Result<Response<kvrpcpb::RawDeleteResponse>, Status> {
        self.shared.count("RawDelete");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), [req.key.as_slice()]),
            kvrpcpb::RawDeleteResponse
        );
        self.shared.store.delete([req.key.as_slice()]);
        Ok(Response::new(kvrpcpb::RawDeleteResponse::default()))
    }

    async fn raw_batch_delete(
        &self,
        request: Request<kvrpcpb::RawBatchDeleteRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchDeleteResponse>, Status> {
        self.shared.count("RawBatchDelete");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), req.keys.iter().map(Vec::as_slice)),
            kvrpcpb::RawBatchDeleteResponse
        );
        self.shared.store.delete(req.keys.iter().map(Vec::as_slice));
        Ok(Response::new(kvrpcpb::RawBatchDeleteResponse::default()))
    }

    async fn raw_delete_range(
        &self,
        request: Request<kvrpcpb::RawDeleteRangeRequest>,
    ) -> Result<Response<kvrpcpb::RawDeleteRangeResponse>, Status> {
        self.shared.count("RawDeleteRange");
        let req = request.into_inner();
        let region = region_or_return!(
            self,
            req.context.as_ref(),
            self.region_of(req.context.as_ref()),
            kvrpcpb::RawDeleteRangeResponse
        );
        if let Some((lo, hi)) = region.clip(&req.start_key, end_bound(&req.end_key)) {
            self.shared.store.delete_range(&lo, hi.as_deref());
        }
        Ok(Response::new(kvrpcpb::RawDeleteRangeResponse::default()))
    }

    async fn raw_scan(
        &self,
        request: Request<kvrpcpb::RawScanRequest>,
    ) -> Result<Response<kvrpcpb::RawScanResponse>, Status> {
        self.shared.count("RawScan");
        let req = request.into_inner();
        let region = region_or_return!(
            self,
            req.context.as_ref(),
            self.region_of(req.context.as_ref()),
            kvrpcpb::RawScanResponse
        );
        let kvs =
            scan_in_region(&self.shared, region, &req.start_key, &req.end_key, req.limit, req.key_only, req.reverse);
        Ok(Response::new(kvrpcpb::RawScanResponse { kvs, region_error: None }))
    }

    async fn raw_batch_scan(
        &self,
        request: Request<kvrpcpb::RawBatchScanRequest>,
    ) -> Result<Response<kvrpcpb::RawBatchScanResponse>, Status> {
        self.shared.count("RawBatchScan");
        let req = request.into_inner();
        let region = region_or_return!(
            self,
            req.context.as_ref(),
            self.region_of(req.context.as_ref()),
            kvrpcpb::RawBatchScanResponse
        );
        let kvs = req
            .ranges
            .iter()
            .flat_map(|r| {
                scan_in_region(
                    &self.shared,
                    region,
                    &r.start_key,
                    &r.end_key,
                    req.each_limit,
                    req.key_only,
                    req.reverse,
                )
            })
            .collect();
        Ok(Response::new(kvrpcpb::RawBatchScanResponse { kvs, region_error: None }))
    }

    async fn raw_get_key_ttl(
        &self,
        request: Request<kvrpcpb::RawGetKeyTtlRequest>,
    ) -> Result<Response<kvrpcpb::RawGetKeyTtlResponse>, Status> {
        self.shared.count("RawGetKeyTTL");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), [req.key.as_slice()]),
            kvrpcpb::RawGetKeyTtlResponse
        );
        Ok(Response::new(match self.shared.store.ttl_left(&req.key) {
            Some(ttl) => kvrpcpb::RawGetKeyTtlResponse { ttl, ..Default::default() },
            None => kvrpcpb::RawGetKeyTtlResponse { not_found: true, ..Default::default() },
        }))
    }

    async fn raw_compare_and_swap(
        &self,
        request: Request<kvrpcpb::RawCasRequest>,
    ) -> Result<Response<kvrpcpb::RawCasResponse>, Status> {
        self.shared.count("RawCompareAndSwap");
        let req = request.into_inner();
        region_or_return!(
            self,
            req.context.as_ref(),
            self.region_holding(req.context.as_ref(), [req.key.as_slice()]),
            kvrpcpb::RawCasResponse
        );
        let expected = (!req.previous_not_exist).then_some(req.previous_value.as_slice());
        let (succeed, previous) = self.shared.store.compare_and_swap(&req.key, expected, req.value, req.ttl);
        Ok(Response::new(kvrpcpb::RawCasResponse {
            succeed,
            previous_not_exist: previous.is_none(),
            previous_value: previous.unwrap_or_default(),
            ..Default::default()
        }))
    }
}
