//! Vector encodings shared by the dialects: the `[1,2,3]` text form (TiDB, MariaDB) and
//! little-endian `f32` bytes (SQLite blobs, MariaDB binary parameters).

use crate::{Error, Result};

/// Formats a vector in the `[x,y,z]` text form TiDB's `VEC_FROM_TEXT` and MariaDB's
/// `VEC_FromText` accept. `f32`'s `Display` prints the shortest text that reads back to
/// the same value, so the round trip is exact.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] for NaN or infinite components, which no engine
/// accepts.
pub fn format_vector_text(v: &[f32]) -> Result<String> {
    check_finite(v)?;
    let mut s = String::with_capacity(v.len() * 10 + 2);
    s.push('[');
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        // Writing to a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{x}"));
    }
    s.push(']');
    Ok(s)
}

/// Parses the `[x,y,z]` text form (spaces allowed).
///
/// # Errors
/// [`crate::ErrorKind::Decode`] when the text is not a bracketed list of numbers.
pub fn parse_vector_text(s: &str) -> Result<Vec<f32>> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(|| Error::decode(format!("vector text must look like [1,2,3], got {:.40}", s)))?;
    if inner.trim().is_empty() {
        return Ok(Vec::new());
    }
    inner
        .split(',')
        .map(|p| {
            p.trim()
                .parse::<f32>()
                .map_err(|_| Error::decode(format!("vector component {:?} is not a number", p.trim())))
        })
        .collect()
}

/// Encodes a vector as little-endian `f32` bytes.
///
/// # Errors
/// [`crate::ErrorKind::InvalidInput`] for NaN or infinite components.
pub fn vector_to_le_bytes(v: &[f32]) -> Result<Vec<u8>> {
    check_finite(v)?;
    Ok(v.iter().flat_map(|x| x.to_le_bytes()).collect())
}

/// Decodes little-endian `f32` bytes.
///
/// # Errors
/// [`crate::ErrorKind::Decode`] when the length is not a multiple of four.
pub fn vector_from_le_bytes(b: &[u8]) -> Result<Vec<f32>> {
    if !b.len().is_multiple_of(4) {
        return Err(Error::decode(format!("vector blob of {} bytes is not a whole number of f32s", b.len())));
    }
    Ok(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

pub(crate) fn check_finite(v: &[f32]) -> Result<()> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => {
            Err(Error::invalid_input(format!("vector component {i} is {}: only finite values can be stored", v[i])))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_is_exact() {
        let v = vec![0.1_f32, -3.5e-8, 1.0, f32::MIN_POSITIVE, 123456.79];
        let s = format_vector_text(&v).unwrap();
        assert_eq!(parse_vector_text(&s).unwrap(), v);
        assert_eq!(parse_vector_text(" [ 1 , 2.5 ] ").unwrap(), vec![1.0, 2.5]);
        assert_eq!(parse_vector_text("[]").unwrap(), Vec::<f32>::new());
    }

    #[test]
    fn non_finite_values_are_rejected() {
        let e = format_vector_text(&[1.0, f32::NAN]).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::InvalidInput);
        assert!(vector_to_le_bytes(&[f32::INFINITY]).is_err());
    }

    #[test]
    fn bytes_round_trip() {
        let v = vec![1.5_f32, -2.25, 0.0];
        assert_eq!(vector_from_le_bytes(&vector_to_le_bytes(&v).unwrap()).unwrap(), v);
        assert!(vector_from_le_bytes(&[0, 1, 2]).is_err());
    }

    #[test]
    fn malformed_text_is_a_decode_error() {
        for bad in ["1,2", "[1,x]", "[1,,2]", ""] {
            assert_eq!(parse_vector_text(bad).unwrap_err().kind(), crate::ErrorKind::Decode, "{bad}");
        }
    }
}
