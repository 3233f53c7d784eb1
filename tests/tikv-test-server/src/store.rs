//! The cluster's data (one ordered map, as one TiKV store would hold it) and its region layout.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// One region: the keys in `[start, end)`, raw (never memcomparable-encoded); an empty `end`
/// is the end of the key space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Region {
    /// Region id (unique, never 0).
    pub(crate) id: u64,
    /// First key.
    pub(crate) start: Vec<u8>,
    /// Exclusive end; empty for the last region.
    pub(crate) end: Vec<u8>,
}

impl Region {
    /// Whether `key` lies in this region.
    pub(crate) fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && (self.end.is_empty() || key < self.end.as_slice())
    }

    /// `[lo, hi)` (`hi = None`: no end) clipped to this region, or `None` when they do not meet.
    pub(crate) fn clip(&self, lo: &[u8], hi: Option<&[u8]>) -> Option<(Vec<u8>, Option<Vec<u8>>)> {
        let lo = lo.max(self.start.as_slice()).to_vec();
        let hi = match (hi, self.end.is_empty()) {
            (None, true) => None,
            (None, false) => Some(self.end.clone()),
            (Some(h), true) => Some(h.to_vec()),
            (Some(h), false) => Some(h.min(self.end.as_slice()).to_vec()),
        };
        match &hi {
            Some(h) if *h <= lo => None,
            _ => Some((lo, hi)),
        }
    }
}

/// The regions whose boundaries are `splits` (sorted and deduplicated here; empty keys are
/// ignored): `["", s1), [s1, s2), ..., [sn, "")`, with ids from `first_id` up.
pub(crate) fn layout(mut splits: Vec<Vec<u8>>, first_id: u64) -> Vec<Region> {
    splits.retain(|s| !s.is_empty());
    splits.sort();
    splits.dedup();
    let mut regions = Vec::with_capacity(splits.len() + 1);
    let mut start = Vec::new();
    for (id, end) in (first_id..).zip(splits.into_iter().chain(std::iter::once(Vec::new()))) {
        regions.push(Region { id, start: std::mem::replace(&mut start, end.clone()), end });
    }
    regions
}

/// One stored value.
#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    /// When the key stops being visible; `None`: never.
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// A TTL in seconds as TiKV takes it (0: none) as an absolute expiry.
fn expiry(now: Instant, ttl_secs: u64) -> Option<Instant> {
    (ttl_secs > 0).then(|| now.checked_add(Duration::from_secs(ttl_secs))).flatten()
}

/// The data: physical key to value and expiry. Expired keys are invisible to every read at
/// once and dropped when a write touches them.
#[derive(Debug, Default)]
pub(crate) struct Store {
    data: Mutex<BTreeMap<Vec<u8>, Entry>>,
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Entry>> {
        // A panic while holding the lock cannot leave the map half-written (every write is one
        // map call), so a poisoned lock is still usable.
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let now = Instant::now();
        self.lock().get(key).filter(|e| e.live(now)).map(|e| e.value.clone())
    }

    /// Writes `key` with a TTL in seconds (0: none), replacing any earlier value and TTL.
    pub(crate) fn put(&self, key: Vec<u8>, value: Vec<u8>, ttl_secs: u64) {
        let expires = expiry(Instant::now(), ttl_secs);
        self.lock().insert(key, Entry { value, expires });
    }

    /// Writes several keys, in order, under one lock.
    pub(crate) fn put_many(&self, entries: impl IntoIterator<Item = (Vec<u8>, Vec<u8>, u64)>) {
        let now = Instant::now();
        let mut data = self.lock();
        for (key, value, ttl) in entries {
            data.insert(key, Entry { value, expires: expiry(now, ttl) });
        }
    }

    /// Deletes keys (missing keys are ignored).
    pub(crate) fn delete<'a>(&self, keys: impl IntoIterator<Item = &'a [u8]>) {
        let mut data = self.lock();
        for key in keys {
            data.remove(key);
        }
    }

    /// Deletes every key in `[start, end)` (`end = None`: no end).
    pub(crate) fn delete_range(&self, start: &[u8], end: Option<&[u8]>) {
        let mut data = self.lock();
        let doomed: Vec<Vec<u8>> = data.range::<[u8], _>(bounds(start, end)).map(|(k, _)| k.clone()).collect();
        for key in doomed {
            data.remove(&key);
        }
    }

    /// Up to `limit` live entries of `[start, end)` (`end = None`: no end), ascending, or
    /// descending with `reverse`; values are left empty with `key_only`.
    pub(crate) fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
        key_only: bool,
        reverse: bool,
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        let now = Instant::now();
        let data = self.lock();
        let range = data.range::<[u8], _>(bounds(start, end)).filter(|(_, e)| e.live(now));
        let pick = |(k, e): (&Vec<u8>, &Entry)| (k.clone(), if key_only { Vec::new() } else { e.value.clone() });
        if reverse { range.rev().take(limit).map(pick).collect() } else { range.take(limit).map(pick).collect() }
    }

    /// The TTL left on a live key, in whole seconds rounded up (`Some(0)`: no TTL); `None`
    /// when the key is missing or expired.
    pub(crate) fn ttl_left(&self, key: &[u8]) -> Option<u64> {
        let now = Instant::now();
        let data = self.lock();
        let entry = data.get(key).filter(|e| e.live(now))?;
        Some(entry.expires.map_or(0, |e| {
            let left = e.saturating_duration_since(now);
            left.as_secs() + u64::from(left.subsec_nanos() > 0)
        }))
    }

    /// Atomically writes `value` (with a TTL in seconds, 0: none) if the live value of `key`
    /// is `expected` (`None`: absent or expired). Returns whether it wrote, and the value found.
    pub(crate) fn compare_and_swap(
        &self,
        key: &[u8],
        expected: Option<&[u8]>,
        value: Vec<u8>,
        ttl_secs: u64,
    ) -> (bool, Option<Vec<u8>>) {
        let now = Instant::now();
        let mut data = self.lock();
        let current = data.get(key).filter(|e| e.live(now)).map(|e| e.value.clone());
        let swapped = current.as_deref() == expected;
        if swapped {
            data.insert(key.to_vec(), Entry { value, expires: expiry(now, ttl_secs) });
        }
        (swapped, current)
    }
}

fn bounds<'a>(start: &'a [u8], end: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    match end {
        // An empty range: BTreeMap::range panics when start > end.
        Some(e) if e <= start => (Bound::Included(start), Bound::Excluded(start)),
        Some(e) => (Bound::Included(start), Bound::Excluded(e)),
        None => (Bound::Included(start), Bound::Unbounded),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_covers_the_key_space() {
        let r = layout(vec![b"m".to_vec(), b"c".to_vec(), b"m".to_vec(), Vec::new()], 2);
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].id, r[0].start.as_slice(), r[0].end.as_slice()), (2, &b""[..], &b"c"[..]));
        assert_eq!((r[1].start.as_slice(), r[1].end.as_slice()), (&b"c"[..], &b"m"[..]));
        assert_eq!((r[2].id, r[2].start.as_slice(), r[2].end.as_slice()), (4, &b"m"[..], &b""[..]));
        assert!(r[2].contains(b"zzz") && r[0].contains(b"") && !r[0].contains(b"c"));
    }

    #[test]
    fn clip_intersects() {
        let r = Region { id: 1, start: b"c".to_vec(), end: b"m".to_vec() };
        assert_eq!(r.clip(b"a", None), Some((b"c".to_vec(), Some(b"m".to_vec()))));
        assert_eq!(r.clip(b"d", Some(b"e")), Some((b"d".to_vec(), Some(b"e".to_vec()))));
        assert_eq!(r.clip(b"n", None), None);
        assert_eq!(r.clip(b"a", Some(b"c")), None);
        let last = Region { id: 2, start: b"m".to_vec(), end: Vec::new() };
        assert_eq!(last.clip(b"a", None), Some((b"m".to_vec(), None)));
    }

    #[test]
    fn scans_and_ttls() {
        let s = Store::default();
        s.put_many([
            (b"a".to_vec(), b"1".to_vec(), 0),
            (b"b".to_vec(), b"2".to_vec(), 100),
            (b"c".to_vec(), b"3".to_vec(), 0),
        ]);
        assert_eq!(s.scan(b"a", Some(b"c"), 10, false, false).len(), 2);
        assert_eq!(s.scan(b"a", None, 10, true, true)[0], (b"c".to_vec(), Vec::new()));
        assert!(s.scan(b"c", Some(b"a"), 10, false, false).is_empty());
        assert_eq!(s.ttl_left(b"a"), Some(0));
        assert_eq!(s.ttl_left(b"b"), Some(100));
        assert_eq!(s.compare_and_swap(b"a", Some(b"x"), b"y".to_vec(), 0), (false, Some(b"1".to_vec())));
        assert_eq!(s.compare_and_swap(b"z", None, b"y".to_vec(), 0), (true, None));
        s.delete_range(b"a", Some(b"c"));
        assert_eq!(s.scan(b"", None, 10, true, false).len(), 2);
    }
}
