//! The error body every route answers with.

use serde::{Deserialize, Deserializer, Serialize};

/// `{"error": {"code", "message", ...}}`: every 4xx and 5xx of the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Error))]
pub struct ErrorAnswer {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The error object of the error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Stable machine-readable code: `invalid_key`, `too_large`, `not_found` (a missing
    /// key), `no_route` (a missing route), `condition_not_met`, `unauthorized`,
    /// `forbidden`, `overloaded`, `backend_error`, ...
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// On 5xx: the id of the proxy's log line with the details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// On `409 condition_not_met`: the key's current value (base64), `null` when the key
    /// is missing; absent on every other error.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, content_encoding = "base64"))]
    pub current: Option<Option<String>>,
}

impl ErrorDetail {
    /// An error with a code and a message only.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into(), request_id: None, current: None }
    }
}

/// A field that is present (`null` included) is `Some`; an absent one is `None` through
/// `#[serde(default)]`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_current_value_is_null_and_other_errors_have_none() {
        let mut d = ErrorDetail::new("condition_not_met", "no");
        d.current = Some(None);
        let text = serde_json::to_string(&ErrorAnswer { error: d.clone() }).unwrap();
        assert_eq!(text, r#"{"error":{"code":"condition_not_met","message":"no","current":null}}"#);
        assert_eq!(serde_json::from_str::<ErrorAnswer>(&text).unwrap().error, d);
        let plain = ErrorDetail::new("bad_request", "x");
        let text = serde_json::to_string(&ErrorAnswer { error: plain.clone() }).unwrap();
        assert_eq!(text, r#"{"error":{"code":"bad_request","message":"x"}}"#);
        assert_eq!(serde_json::from_str::<ErrorAnswer>(&text).unwrap().error.current, None);
        let v: ErrorAnswer =
            serde_json::from_str(r#"{"error":{"code":"condition_not_met","message":"","current":"YQ=="}}"#).unwrap();
        assert_eq!(v.error.current, Some(Some("YQ==".to_owned())));
    }
}
