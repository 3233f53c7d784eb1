//! The memcomparable byte encoding PD uses for region boundaries of API v2 (keyspace)
//! clusters: the key in groups of 8 bytes, each group padded with zeros and followed by a
//! marker byte `0xFF - padding`; a key whose length is a multiple of 8 ends with an all-padding
//! group. The encoding keeps byte order, so encoded keys compare as the keys do.

const GROUP: usize = 8;
const MARKER: u8 = 0xFF;

/// Encodes `key`.
pub(crate) fn encode(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((key.len() / GROUP + 1) * (GROUP + 1));
    let mut chunks = key.chunks_exact(GROUP);
    for chunk in chunks.by_ref() {
        out.extend_from_slice(chunk);
        out.push(MARKER);
    }
    let rest = chunks.remainder();
    let pad = GROUP - rest.len();
    out.extend_from_slice(rest);
    out.extend(std::iter::repeat_n(0u8, pad));
    // `pad` is at most 8, so the subtraction cannot wrap.
    out.push(MARKER - pad as u8);
    out
}

/// Decodes an encoded key; `None` when `data` is not a complete, valid encoding.
pub(crate) fn decode(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(data.len());
    let mut groups = data.chunks(GROUP + 1);
    loop {
        let group = groups.next()?;
        let (bytes, marker) = group.split_at_checked(GROUP)?;
        let &[marker] = marker else { return None };
        let pad = usize::from(MARKER - marker);
        if pad > GROUP {
            return None;
        }
        let (kept, padding) = bytes.split_at(GROUP - pad);
        if padding.iter().any(|b| *b != 0) {
            return None;
        }
        out.extend_from_slice(kept);
        if pad > 0 {
            // The last group; anything after it is not part of the key.
            return groups.next().is_none().then_some(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_order() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            b"a".to_vec(),
            b"abcdefg".to_vec(),
            b"abcdefgh".to_vec(),
            b"abcdefgh\0".to_vec(),
            b"abcdefghi".to_vec(),
            vec![0xFF; 17],
            vec![b'r', 0, 0, 7],
        ];
        for k in &keys {
            assert_eq!(decode(&encode(k)).as_deref(), Some(k.as_slice()), "{k:?}");
            assert_eq!(encode(k).len() % 9, 0);
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(a.cmp(b), encode(a).cmp(&encode(b)), "{a:?} vs {b:?}");
            }
        }
        assert_eq!(encode(b""), vec![0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(decode(b""), None);
        assert_eq!(decode(b"abc"), None);
        assert_eq!(decode(&[1, 0, 0, 0, 0, 0, 0, 0, 0xF0]), None, "padding must be 0..=8");
        assert_eq!(decode(&[1, 2, 0, 0, 0, 0, 0, 0, 0xF8]), None, "padding bytes must be zero");
        let mut trailing = encode(b"x");
        trailing.push(0);
        assert_eq!(decode(&trailing), None);
    }
}
