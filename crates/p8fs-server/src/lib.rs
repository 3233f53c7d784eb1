//! The p8fs HTTP KV proxy.
//!
//! Serves any [`p8fs_kv::KvBackend`] over HTTP:
//!
//! * the **legacy wire contract** existing clients speak (`GET/DELETE /kv/{tenant}/{key}`,
//!   `PUT /kv`, `GET /kv/scan`, `POST /kv/batch`; values are JSON text inside JSON), served
//!   byte-compatibly;
//! * **`/v1`**: batch put/delete, compare-and-swap, paged scans with a continuation,
//!   delete by prefix, binary values (base64), documented in [`openapi`];
//! * `/healthz`, `/readyz`, `/metrics` (Prometheus text).
//!
//! Bearer tokens bound to tenants ([`auth::TokenSet`]) guard every data route; limits on
//! keys, values, batches, bodies and request time answer 4xx with a JSON error body
//! `{"error": {"code", "message"}}`.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod app;
pub mod auth;
mod error;
mod legacy;
mod metered;
mod metrics;
pub mod openapi;
mod v1;

pub use app::{Limits, ServerConfig, router, serve};
pub use error::ApiError;
pub use metered::MeteredBackend;
pub use metrics::Metrics;
