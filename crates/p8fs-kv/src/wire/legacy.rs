//! The routes of the system p8fs replaces (`/kv...`), byte-compatible. Physical keys are
//! `{tenant}/{key}` (a key without `/` is global); values are JSON text inside JSON.

use serde::{Deserialize, Serialize};

/// `PUT /kv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LegacyPutRequest))]
pub struct PutRequest {
    /// The physical key, `{tenant}/{key}`.
    pub key: String,
    /// The value: JSON text.
    pub value: String,
    /// Time to live in whole seconds; absent or 0: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub ttl: Option<i64>,
}

/// The answer of `GET /kv/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LegacyValueAnswer))]
pub struct ValueAnswer {
    /// The value: JSON text.
    pub value: String,
}

/// An entry of the answers of `GET /kv/scan` and `POST /kv/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LegacyEntry))]
pub struct Entry {
    /// The physical key, `{tenant}/{key}`.
    pub key: String,
    /// The value: JSON text.
    pub value: String,
}

/// The answer of `DELETE /kv/{key}` (also when the key was missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LegacyDeletedAnswer))]
pub struct DeletedAnswer {
    /// Always `true`.
    pub deleted: bool,
}

/// The answer of `PUT /kv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = LegacyOkAnswer))]
pub struct OkAnswer {
    /// Always `true`.
    pub ok: bool,
}

/// The query of `GET /kv/scan`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ScanQuery {
    /// `{tenant}/{prefix}` (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(required = true))]
    pub prefix: Option<String>,
    /// Most entries (default 100, at most the proxy's scan limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}
