//! The real p8fs proxy on a loopback port, in the test process.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use p8fs_kv::KvBackend;
use p8fs_server::{Metrics, ServerConfig, TlsConfig};

/// A proxy serving on 127.0.0.1; shut down gracefully when dropped.
pub struct RunningProxy {
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<()>>,
    /// The proxy's metrics.
    pub metrics: Arc<Metrics>,
}

impl RunningProxy {
    /// Starts a proxy over `backend`.
    pub async fn start(backend: Arc<dyn KvBackend>, cfg: ServerConfig) -> Result<Self> {
        Self::start_with(backend, cfg, None).await
    }

    /// Starts a proxy over `backend` serving HTTPS with `tls` (its URL is still
    /// [`RunningProxy::base_url`] with `https` instead of `http`).
    pub async fn start_tls(backend: Arc<dyn KvBackend>, cfg: ServerConfig, tls: TlsConfig) -> Result<Self> {
        Self::start_with(backend, cfg, Some(tls)).await
    }

    async fn start_with(backend: Arc<dyn KvBackend>, cfg: ServerConfig, tls: Option<TlsConfig>) -> Result<Self> {
        let metrics = Arc::new(Metrics::default());
        let limits = cfg.limits;
        let router = p8fs_server::router(backend, cfg, Arc::clone(&metrics));
        Self::serve(router, limits, metrics, tls).await
    }

    /// Serves a router the caller built (the entity routes over a `P8fs`, say) on
    /// 127.0.0.1, plain HTTP.
    pub async fn start_router(
        router: axum::Router,
        limits: p8fs_server::Limits,
        metrics: Arc<Metrics>,
    ) -> Result<Self> {
        Self::serve(router, limits, metrics, None).await
    }

    async fn serve(
        router: axum::Router,
        limits: p8fs_server::Limits,
        metrics: Arc<Metrics>,
        tls: Option<TlsConfig>,
    ) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            let stop = async {
                let _ = rx.await;
            };
            let _ = match tls {
                None => p8fs_server::serve(listener, router, limits, stop).await,
                Some(tls) => p8fs_server::serve_tls(listener, router, limits, tls, stop).await,
            };
        });
        Ok(Self { addr, shutdown: Some(tx), served: Some(served), metrics })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the proxy and returns once it is down: the listener is closed and every
    /// connection, idle keep-alive ones included, has ended. Dropping only asks it to
    /// stop, so a test that needs the proxy gone before its next call stops it here.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            let _ = served.await;
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
