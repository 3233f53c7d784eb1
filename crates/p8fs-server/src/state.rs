//! What every handler and layer shares: the store, the configuration, the metrics and the
//! pools the guard hands out.

use std::sync::Arc;
use std::time::Instant;

use p8fs_kv::{Kv, Namespace, ScopedKv};
use tokio::sync::Semaphore;

use crate::{Metrics, ServerConfig};

/// Shared by all handlers and layers: one `Arc`, so the clone every layer and `State`
/// extractor makes per request is one reference count (the fields' own `Arc`s were a
/// dozen, contended between the cores under load: W8 in docs/benchmark-profiles.md).
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl AppState {
    pub(crate) fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) kv: Kv,
    pub(crate) cfg: Arc<ServerConfig>,
    pub(crate) metrics: Arc<Metrics>,
    /// One permit per data request being served ([`crate::Limits::max_concurrent_requests`]).
    pub(crate) requests: Arc<Semaphore>,
    /// The in-flight memory pool ([`crate::Limits::max_inflight_bytes`]).
    pub(crate) memory: Arc<Semaphore>,
    /// The last readiness probe of the backend and when it ran: `/readyz` needs no token,
    /// so anyone may call it; the backend is asked at most once a second whatever the rate.
    pub(crate) ready: Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>,
    /// The OpenAPI document `/openapi.json` answers, serialized once.
    pub(crate) openapi: axum::body::Bytes,
    /// The entities, search, REM and edges, when the proxy has a SQL provider (the routes
    /// of [`crate::entities`] are served only then).
    pub(crate) p8fs: Option<Arc<p8fs_core::P8fs>>,
}

impl Shared {
    /// The store of `ns`. Only [`crate::guard::Caller::open`] calls this, after the
    /// caller's grant has been checked.
    pub(crate) fn scoped(&self, ns: Namespace) -> ScopedKv {
        match ns {
            Namespace::Tenant(t) => self.kv.tenant(&t),
            Namespace::Global => self.kv.global(),
        }
    }
}
