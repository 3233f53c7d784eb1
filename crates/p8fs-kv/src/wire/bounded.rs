//! Request lists bounded while they are parsed: a body of a million keys stops the parse
//! at the batch limit's first excess entry instead of being built first.
//!
//! Every list of a request body is `#[serde(deserialize_with = "bounded::list")]`; parse
//! with [`from_slice`] to apply a limit (other parses see no limit).

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeOwned, Deserializer, SeqAccess, Visitor};

thread_local! {
    /// The most entries a [`list`] may hold in the parse running on this thread.
    static MAX_ITEMS: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Set when a [`list`] went over [`MAX_ITEMS`].
    static OVER: Cell<bool> = const { Cell::new(false) };
}

/// Why [`from_slice`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BoundedError {
    /// A list held more than this many entries.
    #[error("a list holds more than {0} entries")]
    TooMany(usize),
    /// The body is not JSON, or not of the expected shape.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Parses `bytes` as `T`, with every [`list`] of `T` limited to `max_items` entries.
///
/// # Errors
/// [`BoundedError::TooMany`] as soon as a list passes the limit (the rest of the body is
/// not read); [`BoundedError::Json`] for anything else.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8], max_items: usize) -> Result<T, BoundedError> {
    // The parse is synchronous: the thread-locals cannot be seen by another request.
    MAX_ITEMS.set(max_items);
    OVER.set(false);
    let parsed = serde_json::from_slice::<T>(bytes);
    MAX_ITEMS.set(usize::MAX);
    parsed.map_err(|e| if OVER.replace(false) { BoundedError::TooMany(max_items) } else { BoundedError::Json(e) })
}

/// `#[serde(deserialize_with = "bounded::list")]`: a list that stops the parse as soon as
/// it holds more entries than the limit of the running [`from_slice`].
///
/// # Errors
/// The deserializer's, and one when the list passes the limit.
pub fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
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
    use crate::wire::v1::KeysRequest;

    #[test]
    fn lists_over_the_limit_stop_the_parse_where_they_pass_it() {
        assert_eq!(from_slice::<KeysRequest>(br#"{"keys": ["a", "b", "c"]}"#, 3).unwrap().keys.len(), 3);
        // The fourth entry ends the parse: the garbage after it is never reached.
        let e = from_slice::<KeysRequest>(br#"{"keys": ["a", "b", "c", "d", !!! not json"#, 3).unwrap_err();
        assert!(matches!(e, BoundedError::TooMany(3)), "{e}");
        // The limit is per parse: the next one starts clean, and plain parses see none.
        assert!(matches!(from_slice::<KeysRequest>(br#"{"keys": [1]}"#, 3), Err(BoundedError::Json(_))));
        let many = serde_json::json!({ "keys": vec!["k"; 5000] }).to_string();
        assert_eq!(serde_json::from_str::<KeysRequest>(&many).unwrap().keys.len(), 5000);
    }
}
