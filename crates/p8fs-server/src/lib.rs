//! The p8fs HTTP KV proxy.
//!
//! Serves any [`p8fs_kv::KvBackend`] over HTTP:
//!
//! * the **legacy wire contract** existing clients speak (`GET/DELETE /kv/{tenant}/{key}`,
//!   `PUT /kv`, `GET /kv/scan`, `POST /kv/batch`; values are JSON text inside JSON), served
//!   byte-compatibly;
//! * **`/v1`**: batch put/delete, compare-and-swap, paged scans with a continuation,
//!   delete by prefix, binary values (base64), keys as one base64url path segment,
//!   with the bodies of [`p8fs_kv::wire`];
//! * with a SQL provider ([`router_with_entities`]): **entities, semantic search, REM and
//!   graph edges** under `/v1/entities/{tenant}/...` and `/v1/rem/{tenant}`, the calls of
//!   [`p8fs_core::P8fs`] with the bodies of [`wire`] (without one these paths answer 404
//!   like any unknown path);
//! * `/healthz`, `/readyz`, `/metrics` (Prometheus text).
//!
//! Bearer tokens bound to tenants ([`auth::TokenSet`]) guard every data route and are
//! checked before any request body is read; without tokens only loopback hosts and
//! origins are answered. [`Limits`] bound keys, values, batches, bodies, request time,
//! answers, concurrent requests and connections; exceeding one answers 4xx (or 503 when the
//! proxy is at its limit of requests) with a JSON error body `{"error": {"code",
//! "message"}}`. [`serve`] runs the router over hyper with the connection limits.
//!
//! The router and the OpenAPI document ([`openapi`], served at `/openapi.json`) are built
//! from one route table, whose handlers carry their operations (utoipa).
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod app;
pub mod auth;
mod body;
mod entities;
mod error;
mod guard;
mod legacy;
mod limits;
mod metered;
mod metrics;
pub mod openapi;
mod ops;
mod reply;
mod routes;
mod serve;
mod state;
mod tls;
mod v1;
pub mod wire;

pub use app::{router, router_with_entities};
pub use error::ApiError;
pub use limits::{Limits, ServerConfig};
pub use metered::MeteredBackend;
pub use metrics::Metrics;
pub use serve::{serve, serve_tls};
pub use tls::TlsConfig;
