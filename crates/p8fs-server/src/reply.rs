//! Answers of many entries (scans, batch gets), written as JSON straight into one buffer
//! within [`Limits::max_response_bytes`], reading the backend a page at a time.
//!
//! The answers have the shapes of [`p8fs_kv::wire`]'s `ScanAnswer`, `EntriesAnswer` and
//! legacy `Entry` lists (the tests read them back as those types). The proxy never builds
//! a `serde_json::Value` of the entries, and never reads more from
//! the backend than what is left of the budget could hold at the largest value size (one
//! entry at least), so one request holds about the budget however large the scan.

use std::collections::{HashMap, HashSet};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use p8fs_kv::{ScanPage, ScopedKv};

use crate::ApiError;
use crate::limits::Limits;

/// How an entry's value is written.
pub(crate) enum Value<'a> {
    /// Any bytes, as base64 (`/v1`).
    Base64(&'a [u8]),
    /// JSON text stored as UTF-8, as a JSON string (the legacy routes).
    Text(&'a str),
}

/// A JSON list of `{"key", "value"}` objects being written.
pub(crate) struct Entries {
    out: Vec<u8>,
    count: usize,
    budget: usize,
}

impl Entries {
    /// Starts an answer with `head` (`[` or `{"entries":[`) within `budget` bytes.
    pub(crate) fn new(head: &str, budget: usize) -> Self {
        let mut out = Vec::with_capacity(head.len() + 64);
        out.extend_from_slice(head.as_bytes());
        Self { out, count: 0, budget }
    }

    /// Bytes written so far.
    pub(crate) fn used(&self) -> usize {
        self.out.len()
    }

    /// Entries written so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Appends one entry, unless it would take the answer past the budget: then nothing is
    /// written and `false` returned. The first entry is always written.
    pub(crate) fn push(&mut self, key: &str, value: Value<'_>) -> Result<bool, ApiError> {
        let mark = self.out.len();
        if self.count > 0 {
            self.out.push(b',');
        }
        self.out.extend_from_slice(b"{\"key\":");
        write_str(&mut self.out, key)?;
        self.out.extend_from_slice(b",\"value\":");
        match value {
            Value::Text(t) => write_str(&mut self.out, t)?,
            Value::Base64(bytes) => {
                self.out.push(b'"');
                let start = self.out.len();
                let len = base64::encoded_len(bytes.len(), true).ok_or_else(|| unreachable_error("base64 length"))?;
                self.out.resize(start + len, 0);
                B64.encode_slice(bytes, &mut self.out[start..]).map_err(|_| unreachable_error("base64"))?;
                self.out.push(b'"');
            }
        }
        self.out.push(b'}');
        if self.count > 0 && self.out.len() > self.budget {
            self.out.truncate(mark);
            return Ok(false);
        }
        self.count += 1;
        Ok(true)
    }

    /// Closes the list with `tail` (`]`, `]}` or `],"next":...}`) and answers 200.
    pub(crate) fn finish(mut self, tail: &str) -> Response {
        self.out.extend_from_slice(tail.as_bytes());
        ([(header::CONTENT_TYPE, "application/json")], self.out).into_response()
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) -> Result<(), ApiError> {
    serde_json::to_writer(out, s).map_err(|_| unreachable_error("a JSON string"))
}

fn unreachable_error(what: &str) -> ApiError {
    ApiError::internal(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the proxy failed",
        &format!("cannot write {what}"),
    )
}

/// `,"next":"<key>"}` or `,"next":null}`.
pub(crate) fn next_tail(next: Option<&str>) -> Result<String, ApiError> {
    let next = serde_json::to_string(&next).map_err(|_| unreachable_error("the continuation"))?;
    Ok(format!("],\"next\":{next}}}"))
}

/// What a scan reads.
pub(crate) enum Range {
    /// Keys starting with a prefix.
    Prefix(String),
    /// Keys in `[start, end)`, given as text.
    Text(String, Option<String>),
    /// Keys in `[start, end)`, given as bytes.
    Bytes(Vec<u8>, Option<Vec<u8>>),
}

impl Range {
    async fn page(&self, kv: &ScopedKv, limit: usize, after: Option<&str>) -> Result<ScanPage, ApiError> {
        Ok(match self {
            Range::Prefix(p) => kv.scan_prefix(p, limit, after).await?,
            Range::Text(s, e) => kv.scan_range(s, e.as_deref(), limit, after).await?,
            Range::Bytes(s, e) => kv.scan_bytes(s, e.as_deref(), limit, after).await?,
        })
    }
}

/// Scans `range` after `after` into `out` until `limit` entries, the end of the range or
/// the budget; `push` writes one entry (and says whether it fitted). Returns the key to
/// continue after, `None` when the range is exhausted.
pub(crate) async fn scan(
    kv: &ScopedKv,
    range: &Range,
    limit: usize,
    mut after: Option<String>,
    limits: &Limits,
    out: &mut Entries,
    push: impl Fn(&mut Entries, &str, &[u8]) -> Result<bool, ApiError>,
) -> Result<Option<String>, ApiError> {
    // Each page holds at least one entry, so this ends within `limit` pages.
    loop {
        let want = (limit - out.count()).min(limits.page_entries(out.used()));
        let page = range.page(kv, want, after.as_deref()).await?;
        for entry in &page.entries {
            if !push(out, &entry.key, &entry.value)? {
                return Ok(after);
            }
            after = Some(entry.key.clone());
        }
        if page.next.is_none() {
            return Ok(None);
        }
        if out.count() >= limit || out.used() >= limits.max_response_bytes {
            return Ok(after);
        }
    }
}

/// Reads `keys` (duplicates dropped) into `out` in their order, missing ones omitted,
/// the backend a chunk at a time; an answer over the budget is 413.
pub(crate) async fn batch_get(
    kv: &ScopedKv,
    keys: &[&str],
    limits: &Limits,
    out: &mut Entries,
    push: impl Fn(&mut Entries, &str, &[u8]) -> Result<bool, ApiError>,
) -> Result<(), ApiError> {
    let mut seen = HashSet::with_capacity(keys.len());
    let keys: Vec<&str> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    let max_batch = kv.backend().capability().max_batch.max(1);
    let mut i = 0;
    while i < keys.len() {
        let n = limits.page_entries(out.used()).min(max_batch).min(keys.len() - i);
        let chunk = &keys[i..i + n];
        let mut found: HashMap<String, Vec<u8>> =
            kv.batch_get(chunk).await?.into_iter().map(|p| (p.key, p.value)).collect();
        // The backend's order is its own: answer in the order asked.
        for (key, value) in chunk.iter().filter_map(|k| found.remove(*k).map(|v| (*k, v))) {
            if !push(out, key, &value)? {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "response_too_large",
                    format!(
                        "the values asked for exceed the answer limit of {} bytes; ask for fewer keys",
                        limits.max_response_bytes
                    ),
                ));
            }
        }
        i += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use p8fs_kv::wire::v1::ScanAnswer;

    use super::*;

    fn text(e: Entries, tail: &str) -> String {
        let mut out = e.out;
        out.extend_from_slice(tail.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn entries_are_json_and_stop_at_the_budget_after_the_first() {
        let mut e = Entries::new("{\"entries\":[", 60);
        assert!(e.push("a\"b\\c/ü\u{1F642}", Value::Base64(&[0xff, 0x00, 0x7f])).unwrap());
        assert!(!e.push("second", Value::Base64(&[0u8; 64])).unwrap());
        assert_eq!(e.count(), 1);
        // Written by hand, read as the wire type the client reads.
        let v: ScanAnswer = serde_json::from_str(&text(e, &next_tail(Some("n\"x")).unwrap())).unwrap();
        assert_eq!(v.entries[0].key, "a\"b\\c/ü\u{1F642}");
        assert_eq!(B64.decode(&v.entries[0].value).unwrap(), [0xff, 0x00, 0x7f]);
        assert_eq!(v.next.as_deref(), Some("n\"x"));
        // One entry larger than the whole budget is still answered.
        let mut e = Entries::new("[", 8);
        assert!(e.push("k", Value::Text("{\"big\": \"value\"}")).unwrap());
        let v: Vec<p8fs_kv::wire::legacy::Entry> = serde_json::from_str(&text(e, "]")).unwrap();
        assert_eq!(v[0].value, "{\"big\": \"value\"}");
        let e = Entries::new("{\"entries\":[", 8);
        let v: ScanAnswer = serde_json::from_str(&text(e, &next_tail(None).unwrap())).unwrap();
        assert_eq!(v, ScanAnswer { entries: vec![], next: None });
        let e = Entries::new("{\"entries\":[", 8);
        let v: p8fs_kv::wire::v1::EntriesAnswer = serde_json::from_str(&text(e, "]}")).unwrap();
        assert!(v.entries.is_empty());
    }
}
