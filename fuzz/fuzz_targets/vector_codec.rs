//! The vector codecs on arbitrary input: the `[x,y,z]` text form and little-endian `f32`
//! bytes decode without panicking, and whatever decodes to finite values encodes back to
//! the same vector (text) or the same bytes (binary).
#![no_main]

use libfuzzer_sys::fuzz_target;
use p8fs_sql_dialect::{format_vector_text, parse_vector_text, vector_from_le_bytes, vector_to_le_bytes};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = parse_vector_text(&text) {
        match format_vector_text(&v) {
            Ok(again) => assert_eq!(parse_vector_text(&again).ok(), Some(v), "text round trip"),
            Err(_) => assert!(v.iter().any(|x| !x.is_finite()), "a finite vector refused"),
        }
    }
    if let Ok(v) = vector_from_le_bytes(data) {
        match vector_to_le_bytes(&v) {
            Ok(bytes) => assert_eq!(bytes, data, "binary round trip"),
            Err(_) => assert!(v.iter().any(|x| !x.is_finite()), "a finite vector refused"),
        }
    } else {
        assert!(data.len() % 4 != 0);
    }
});
