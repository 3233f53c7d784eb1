//! The accept loop: HTTP/1.1 over hyper with the proxy's connection limits.
//!
//! * At most [`Limits::max_connections`] connections are open; further ones wait in the
//!   listen backlog (they are not refused). Idle or half-sent connections are closed after
//!   the header timeout, so a flood of them delays other clients by rounds of that timeout
//!   instead of locking them out for good; a flood larger than the backlog as well, whose
//!   connections reconnect as they are closed, can still make a client's connect time out
//!   (no per-address cap: see docs/security.md).
//! * [`Limits::header_read_timeout`]: hyper's header timer, which also closes keep-alive
//!   connections idle that long.
//! * [`Limits::max_header_bytes`]: hyper's read buffer, which bounds the request head.
//! * [`Limits::write_timeout`]: a client that takes none of its answer for that long is
//!   disconnected ([`StallGuard`]).
//! * Graceful shutdown: the listener closes, idle connections close, and requests in flight
//!   finish (each is bounded by the request timeout, the header timeout and the write
//!   timeout).
//! * TLS ([`serve_tls`]): the handshake runs in the connection's own task, within the header
//!   timeout, so a client that stalls it holds one connection slot for that long at most.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use crate::Limits;
use crate::tls::TlsConfig;

/// hyper refuses a smaller read buffer.
const MIN_HEADER_BYTES: usize = 8192;

/// Serves `router` on `listener` with the connection limits of `limits` until `shutdown`
/// resolves; connections then close once their requests in flight have finished, and this
/// returns when all have.
///
/// # Errors
/// None at present: failed accepts (such as running out of file descriptors) are logged
/// and retried.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    run(listener, router, limits, None, shutdown).await
}

/// [`serve`] over TLS: every connection must complete a TLS handshake with `tls`'s
/// certificate within the header timeout before it is read as HTTP.
///
/// # Errors
/// As [`serve`].
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: TlsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    run(listener, router, limits, Some(tokio_rustls::TlsAcceptor::from(tls.0)), shutdown).await
}

async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES))
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = Arc::clone(&slots).acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are written whole; Nagle's algorithm would only delay their last segment.
        stream.set_nodelay(true).ok();
        let guarded = StallGuard::new(stream, limits.write_timeout);
        let service = TowerToHyperService::new(router.clone());
        match &tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(guarded), service));
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                let (acceptor, http, watcher) = (acceptor.clone(), http.clone(), graceful.watcher());
                let handshake_timeout = limits.header_read_timeout;
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(guarded)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake not done within the header timeout");
                            return;
                        }
                    };
                    let conn = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    tracing::debug!(connections = graceful.count(), "closing connections once their requests finish");
    graceful.shutdown().await;
    Ok(())
}

/// Errors of `accept` concern one connection or pass (descriptors run out, then come
/// back): wait a little on the second kind instead of spinning.
async fn accept_failed(e: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted) {
        return;
    }
    tracing::warn!(error = %e, "accept failed; retrying in 100 ms");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A TCP stream whose writes fail with `TimedOut` once they have made no progress for
/// `limit`: a client that stops reading cannot hold its connection, and the memory of its
/// answer, for ever.
struct StallGuard {
    inner: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        Self { inner, limit, stalled: None }
    }

    /// After a write returned `r`: progress clears the stall clock; no progress starts it
    /// or, once it has run out, fails the write.
    fn after_write<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client read none of the answer in time")))
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.after_write(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.after_write(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.after_write(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.after_write(cx, r)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Instant;

    use super::*;

    /// A proxy of one route answering `size` bytes, on 127.0.0.1.
    async fn start(limits: Limits, size: usize) -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let router = Router::new().route("/", axum::routing::get(move || async move { vec![b'x'; size] }));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, router, limits, async {
            let _ = rx.await;
        }));
        (addr, tx)
    }

    fn get(addr: &str) -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(addr)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_keep_alive_connection_idle_past_the_header_timeout_is_closed() {
        let limits = Limits { header_read_timeout: Duration::from_millis(500), ..Limits::default() };
        let (addr, _stop) = start(limits, 3).await;
        let closed_after = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
            let idle = Instant::now();
            // The server closes the connection (read returns 0) instead of keeping it.
            assert_eq!(s.read(&mut buf).unwrap(), 0);
            idle.elapsed()
        })
        .await
        .unwrap();
        assert!(closed_after < Duration::from_secs(5), "closed after {closed_after:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stops_reading_is_disconnected_after_the_write_timeout() {
        let limits = Limits { write_timeout: Duration::from_millis(500), ..Limits::default() };
        // Far more than the socket buffers on both sides hold.
        let (addr, _stop) = start(limits, 64 << 20).await;
        let a = addr.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(&a).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
            std::thread::sleep(Duration::from_secs(3));
            // Now read everything the server sent before it gave up: less than the answer.
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut total = 0usize;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => total += n,
                }
            }
            total
        })
        .await
        .unwrap();
        assert!(outcome < 64 << 20, "the whole answer was delivered to a client that did not read");
        // The server still answers others.
        let a = addr.clone();
        let answer = tokio::task::spawn_blocking(move || get(&a)).await.unwrap().unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{}", &answer[..answer.len().min(200)]);
    }
}
