//! Reverse mappings: find an entity by its human name, and a name by its entity.
//!
//! One mapping is three keys under the tenant, laid out byte for byte as the system p8fs
//! replaces laid them out, so a deployment's existing mappings read as they are:
//!
//! | key | payload |
//! |---|---|
//! | `{name}/{entity_type}` | `{"entity_type", "entity_name", "entity_key"}` |
//! | `{entity_type}/{name}` | `{"entity_key", "table_name", "tenant_id", "entity_type", "name"}` |
//! | `reverse/{entity_key}/{entity_type}` | `{"name", "entity_type", "table_name"}` |
//!
//! The three keys of one mapping are written as **one** batch (one request, one commit on
//! every backend whose batches are atomic), in a fixed order on the others; writes are
//! idempotent, so a retry repairs a partial write. [`ReverseMap::verify`] finds what a
//! failed call can leave behind and [`ReverseMap::repair`] fixes it.
//!
//! Names, types and keys containing `/` or `%` are percent-escaped in keys (the replaced
//! system did not escape, which broke such names); any other name yields the same bytes.
#![warn(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod map;

pub use map::{EntityCheck, Mapping, NameEntry, RepairReport, ReverseEntry, ReverseMap, TypeEntry, escape};
