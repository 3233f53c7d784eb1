//! The bodies of the p8fs HTTP proxy's API, defined once: the proxy (`p8fs-server`)
//! parses and answers them, [`HttpStore`](crate::HttpStore) sends and reads them, and the
//! proxy's OpenAPI document is generated from them (feature `openapi`, which derives
//! `utoipa::ToSchema` without making a client build compile utoipa).
//!
//! * [`v1`]: the full KV contract; values are base64 (any bytes), TTLs milliseconds.
//! * [`legacy`]: the contract of the system p8fs replaces; values are JSON text.
//! * [`ErrorAnswer`]: every error, of every route.
//! * [`bounded`]: request lists that stop the parse at the batch limit.
//!
//! Request bodies refuse unknown fields (a misspelt `ttl_ms` must not silently mean "no
//! TTL"); answers accept them, so a proxy may add fields without breaking older clients.

pub mod bounded;
mod error;
pub mod legacy;
pub mod v1;

pub use error::{ErrorAnswer, ErrorDetail};

use serde::{Deserialize, Serialize};

/// `/healthz` and `/readyz` when all is well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusAnswer {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    pub status: String,
}
