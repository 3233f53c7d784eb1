//! `/v1`: the full KV contract. Values are base64 of any bytes; TTLs are milliseconds
//! (absent or 0: none). Routes exist per tenant (`/v1/kv/{tenant}/...`) and for the global
//! namespace (`/v1/global/...`).

use serde::{Deserialize, Serialize};

use super::bounded;

/// What `/v1/capability` says in [`CapabilityAnswer::key_route`]: the proxy serves keys as
/// one base64url path segment (`.../k/{key}`). A client that needs those routes (every
/// `HttpStore`) refuses a proxy without it.
pub const KEY_ROUTE: &str = "k/{base64url}";

/// `PUT .../k/{key}` and `PUT .../keys/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PutRequest {
    /// The value, base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub value: String,
    /// Time to live in milliseconds; absent or 0: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// One key and its value: the answer of a single read, and an entry of lists (of answers
/// and of a batch put's request, so it accepts unknown fields as answers do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Entry {
    /// The logical key (without the tenant).
    pub key: String,
    /// The value, base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub value: String,
}

/// `POST .../batch/get` and `POST .../batch/delete` (and the legacy `POST /kv/batch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeysRequest {
    /// The keys; at most the proxy's batch limit.
    #[serde(deserialize_with = "bounded::list")]
    pub keys: Vec<String>,
}

/// The answer of `POST .../batch/get`: the keys found, in the order asked, each once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntriesAnswer {
    /// The entries found.
    pub entries: Vec<Entry>,
}

/// `POST .../batch/put`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchPutRequest {
    /// The entries; at most the proxy's batch limit.
    #[serde(deserialize_with = "bounded::list")]
    pub entries: Vec<Entry>,
    /// Time to live of every entry in milliseconds; absent or 0: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// The answer of `POST .../batch/put`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WrittenAnswer {
    /// Entries written.
    pub written: u64,
}

/// The answer of `POST .../batch/delete` (keys asked) and `POST .../delete-prefix` (keys
/// deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeletedAnswer {
    /// How many keys.
    pub deleted: u64,
}

/// `POST .../cas`: write `value` if the key's value is `expected` (`null`: the key is
/// missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CasRequest {
    /// The key.
    pub key: String,
    /// The value expected now, base64; `null`: the key must be missing.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub expected: Option<String>,
    /// The new value, base64.
    #[cfg_attr(feature = "openapi", schema(content_encoding = "base64"))]
    pub value: String,
    /// Time to live in milliseconds; absent or 0: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_ms: Option<u64>,
}

/// The answer of a successful `POST .../cas` (a failed one is `409 condition_not_met` with
/// the current value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SwappedAnswer {
    /// Always `true`.
    pub swapped: bool,
}

/// The query of `GET .../scan`: one of `prefix`, `start`/`end` or `start_b64`/`end_b64`
/// (none: every key).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ScanQuery {
    /// Keys starting with this prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Range start (inclusive), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Range end (exclusive), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Range start (inclusive), as base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_b64: Option<String>,
    /// Range end (exclusive), as base64 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_b64: Option<String>,
    /// Most entries in the page (default 100, at most the proxy's scan limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Continuation: the previous page's `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// The answer of `GET .../scan`: one page, at most `limit` entries and about the proxy's
/// answer limit in bytes (at least one entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanAnswer {
    /// The entries, sorted by key.
    pub entries: Vec<Entry>,
    /// The key to continue after (`after`), `null` when the range is exhausted.
    pub next: Option<String>,
}

/// `POST .../delete-prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrefixRequest {
    /// The prefix; not empty.
    pub prefix: String,
}

/// The answer of `GET /v1/capability`: what the backend supports, with the proxy's limits
/// applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CapabilityAnswer {
    /// The backend's name.
    pub backend: String,
    /// Whether TTLs are kept.
    pub ttl: bool,
    /// The granularity of TTLs, milliseconds.
    pub ttl_granularity_ms: u64,
    /// Whether compare-and-swap is supported.
    pub cas: bool,
    /// Whether compare-and-swap takes a TTL; absent on proxies older than the field (a
    /// client then lets the proxy's check layer decide).
    #[serde(default)]
    pub cas_ttl: Option<bool>,
    /// Whether batches are atomic.
    pub atomic_batch: bool,
    /// Longest key, bytes.
    pub max_key_bytes: u64,
    /// Largest value, bytes.
    pub max_value_bytes: u64,
    /// Most entries one scan returns.
    pub max_scan_limit: u64,
    /// Most keys or entries in one batch.
    pub max_batch: u64,
    /// Most bytes of JSON one scan or batch-get answer carries.
    pub max_response_bytes: u64,
    /// `k/{base64url}`: keys travel as one base64url path segment; absent on proxies older
    /// than those routes.
    #[serde(default)]
    pub key_route: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_refuse_unknown_fields_and_answers_accept_them() {
        // A misspelt TTL must not silently mean "no TTL".
        assert!(serde_json::from_str::<PutRequest>(r#"{"value": "YQ==", "ttl": 5}"#).is_err());
        assert!(serde_json::from_str::<CasRequest>(r#"{"key": "k", "value": "", "expect": null}"#).is_err());
        let a: WrittenAnswer = serde_json::from_str(r#"{"written": 2, "took_ms": 1}"#).unwrap();
        assert_eq!(a.written, 2);
        // An older proxy's capability has no key_route.
        let c: CapabilityAnswer = serde_json::from_str(
            r#"{"backend": "x", "ttl": true, "ttl_granularity_ms": 1, "cas": true, "atomic_batch": false,
                "max_key_bytes": 1, "max_value_bytes": 1, "max_scan_limit": 1, "max_batch": 1, "max_response_bytes": 1}"#,
        )
        .unwrap();
        assert_eq!(c.key_route, None);
    }

    #[test]
    fn absent_options_are_left_out_but_a_cas_on_a_missing_key_says_null() {
        let put = PutRequest { value: "YQ==".into(), ttl_ms: None };
        assert_eq!(serde_json::to_string(&put).unwrap(), r#"{"value":"YQ=="}"#);
        let cas = CasRequest { key: "k".into(), expected: None, value: "YQ==".into(), ttl_ms: None };
        assert_eq!(serde_json::to_string(&cas).unwrap(), r#"{"key":"k","expected":null,"value":"YQ=="}"#);
        let back: CasRequest = serde_json::from_str(r#"{"key":"k","value":"YQ=="}"#).unwrap();
        assert_eq!(back.expected, None);
    }
}
