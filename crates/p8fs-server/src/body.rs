//! JSON request bodies: `Content-Type: application/json` required (415 otherwise, which
//! also keeps browsers' simple cross-site requests out), the body limit, and lists bounded
//! while they are parsed (the wire types' lists are [`p8fs_kv::wire::bounded::list`]);
//! and query strings ([`query_string`]).
//!
//! Handlers only see a body after the guard has authenticated the request (see
//! [`crate::guard`]), so nothing here runs for a client without a token.

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use p8fs_kv::wire::bounded::{self, BoundedError};
use serde::de::DeserializeOwned;

use crate::ApiError;
use crate::limits::too_large;
use crate::state::AppState;

/// A query string's parameters, or 400 with the JSON error body saying what is wrong.
/// Handlers take the request's `Uri` (which never rejects) and call this where they
/// used to extract, so authentication still answers first.
///
/// Stricter than `serde_urlencoded`, which keeps a malformed escape (`%ZZ`) as literal
/// text and replaces bytes that are not UTF-8 (`%E2%82`) with U+FFFD: either would make
/// a scan run with a prefix the client never sent. Both are refused here, as they are in
/// paths.
pub(crate) fn query_string<T: DeserializeOwned>(uri: &Uri) -> Result<T, ApiError> {
    check_escapes(uri.query().unwrap_or(""))?;
    Query::<T>::try_from_uri(uri).map(|Query(q)| q).map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))
}

/// Every `%` starts two hex digits, and each name and value decodes to UTF-8.
fn check_escapes(query: &str) -> Result<(), ApiError> {
    for part in query.split(['&', '=']) {
        let raw = part.as_bytes();
        let mut decoded = Vec::with_capacity(raw.len());
        let mut i = 0;
        while i < raw.len() {
            if raw[i] == b'%' {
                let hex = raw.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::bad_request("bad query string: '%' must be followed by two hex digits"))?;
                decoded.push(byte);
                i += 3;
            } else {
                decoded.push(raw[i]);
                i += 1;
            }
        }
        if std::str::from_utf8(&decoded).is_err() {
            return Err(ApiError::bad_request("bad query string: a percent-encoded value is not UTF-8"));
        }
    }
    Ok(())
}

/// A JSON request body whose every failure (wrong media type, too large, not JSON, wrong
/// shape, too many entries) answers with the JSON error body.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the request body exceeds the size limit")
            } else {
                ApiError::bad_request(format!("cannot read the request body: {e}"))
            }
        })?;
        parse(&bytes, state.cfg.limits.max_batch).map(JsonBody)
    }
}

/// 415 unless the body is declared `application/json` (parameters such as `charset`
/// allowed).
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        format!("send JSON bodies with Content-Type: application/json (got {:?})", ct),
    ))
}

/// Parses `bytes` as `T`, with every list of `T` limited to `max_items` entries while it
/// is parsed (see [`p8fs_kv::wire::bounded`]).
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8], max_items: usize) -> Result<T, ApiError> {
    bounded::from_slice(bytes, max_items).map_err(|e| match e {
        BoundedError::TooMany(max) => too_large("batch entries", max + 1, max),
        BoundedError::Json(e) => {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string()),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e}")),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use p8fs_kv::wire::v1::KeysRequest as Keys;

    #[test]
    fn lists_over_the_limit_stop_the_parse_where_they_pass_it() {
        assert_eq!(parse::<Keys>(br#"{"keys": ["a", "b", "c"]}"#, 3).unwrap().keys.len(), 3);
        // The fourth entry ends the parse: the garbage after it is never reached (a parse
        // that built the list first would answer 400 invalid_json here).
        let e = parse::<Keys>(br#"{"keys": ["a", "b", "c", "d", !!! not json"#, 3).unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::PAYLOAD_TOO_LARGE, "too_large"), "{}", e.message);
        // The limit is per parse: the next one starts clean.
        let e = parse::<Keys>(br#"{"keys": [1]}"#, 3).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let e = parse::<Keys>(b"{", 3).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn only_json_media_types_are_accepted() {
        let mut h = HeaderMap::new();
        assert_eq!(require_json(&h).unwrap_err().status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        for ok in ["application/json", "Application/JSON; charset=utf-8", " application/json "] {
            h.insert(header::CONTENT_TYPE, ok.parse().unwrap());
            assert!(require_json(&h).is_ok(), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "application/jsonx"] {
            h.insert(header::CONTENT_TYPE, bad.parse().unwrap());
            assert_eq!(require_json(&h).unwrap_err().code, "unsupported_media_type", "{bad}");
        }
    }
}
