//! The key-value layer of p8fs.
//!
//! [`KvBackend`] is the contract every store implements: get, put with an optional TTL,
//! delete, range scan with a limit, batch get/put/delete, and compare-and-swap, all
//! within one [`Namespace`] (a tenant, or the explicitly named global namespace).
//! [`Kv`] is the handle applications use: [`Kv::tenant`] gives a [`TenantKv`] that can
//! only ever touch its own tenant's keys, with paging, prefix helpers and typed JSON.
//!
//! Backends, each behind a feature so an embedder compiles only what it uses:
//!
//! | backend | feature | store |
//! |---|---|---|
//! | [`EmbeddedStore`] | `embedded` (default) | a redb file in the process, crash-safe |
//! | `SqlStore` | `sql` | a table in the SQL database the deployment already has |
//! | `HttpStore` | `http` | the p8fs HTTP proxy (`p8fs serve`), over its `/v1` routes |
//! | `TikvStore` | `tikv` | TiKV through its PD endpoints, with tikv-client's raw API (gRPC) |
//! | `AutoStore` | `tikv` + `http` | native TiKV when PD and a TiKV store it names answer, else the proxy; re-decided after `Unavailable` |
//!
//! [`KvConfig`] parses a backend's URL once; [`KvConfig::open`] opens it (all but `sql`,
//! whose store runs on a SQL provider the caller connects).
//!
//! Validation happens once, in the check layer every [`Kv`] call passes (`check`):
//! backends declare a [`Capability`] and trust what they are handed.
//!
//! With the `wire` feature, [`wire`] holds the bodies of the proxy's HTTP API, shared by the
//! proxy and `HttpStore`.
//!
//! Keys are laid out as the system p8fs replaces lays them out: tenant keys are stored
//! under `{tenant}/{key}`, global keys (device-auth codes) under `{key}`.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod backend;
mod backends;
mod check;
mod config;
mod error;
mod key;
mod kv;
mod open;
#[cfg(feature = "wire")]
pub mod wire;

pub use backend::{Capability, KvBackend, KvPair, effective_ttl};
#[cfg(all(feature = "tikv", feature = "http"))]
pub use backends::auto::{AutoConfig, AutoSide, AutoStore};
#[cfg(feature = "embedded")]
pub use backends::embedded::EmbeddedStore;
#[cfg(feature = "http")]
pub use backends::http::{HttpConfig, HttpStore};
#[cfg(feature = "sql")]
pub use backends::sql::SqlStore;
#[cfg(feature = "tikv")]
pub use backends::tikv::{TikvConfig, TikvStore, probe as probe_tikv};
pub use config::KvConfig;
pub use error::{KvError, KvErrorKind, Result};
pub use key::{Key, MAX_TENANT_BYTES, Namespace, TenantId, prefix_upper_bound};
pub use kv::{GlobalKv, Kv, ScanPage, ScopedKv, TenantKv};
pub use open::KvOptions;
