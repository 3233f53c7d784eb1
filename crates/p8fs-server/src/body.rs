//! JSON request bodies: `Content-Type: application/json` required (415 otherwise, which
//! also keeps browsers' simple cross-site requests out), the body limit, and lists bounded
//! while they are parsed.
//!
//! Handlers only see a body after the guard has authenticated the request (see
//! [`crate::guard`]), so nothing here runs for a client without a token.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};

use crate::ApiError;
use crate::app::AppState;
use crate::limits::too_large;

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

thread_local! {
    /// The most entries a [`bounded`] list may hold in the parse running on this thread.
    static MAX_ITEMS: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Set when a [`bounded`] list went over [`MAX_ITEMS`].
    static OVER: Cell<bool> = const { Cell::new(false) };
}

/// Parses `bytes` as `T`, with every [`bounded`] list of `T` limited to `max_items`.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8], max_items: usize) -> Result<T, ApiError> {
    // The parse is synchronous: the thread-locals cannot be seen by another request.
    MAX_ITEMS.set(max_items);
    OVER.set(false);
    let parsed = serde_json::from_slice::<T>(bytes);
    MAX_ITEMS.set(usize::MAX);
    parsed.map_err(|e| {
        use serde_json::error::Category;
        if OVER.replace(false) {
            return too_large("batch entries", max_items + 1, max_items);
        }
        match e.classify() {
            Category::Data => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", e.to_string()),
            _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not valid JSON: {e}")),
        }
    })
}

/// `#[serde(deserialize_with = "bounded")]`: a list that stops the parse as soon as it
/// holds more entries than the batch limit, instead of building it first.
pub(crate) fn bounded<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    struct Bounded<T>(PhantomData<T>);

    impl<'de, T: de::Deserialize<'de>> Visitor<'de> for Bounded<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let max = MAX_ITEMS.get();
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(max).min(1024));
            while let Some(item) = seq.next_element()? {
                if out.len() == max {
                    OVER.set(true);
                    return Err(de::Error::custom(format!("more than {max} entries")));
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    d.deserialize_seq(Bounded(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Keys {
        #[serde(deserialize_with = "bounded")]
        keys: Vec<String>,
    }

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
