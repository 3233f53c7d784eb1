//! `p8fs_rem::parse` on arbitrary input: it must return, never panic, overflow its stack
//! or run away, and an error must say something.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The API takes text: HTTP and the CLI hand it UTF-8. Invalid bytes are replaced
    // rather than skipped, so the fuzzer's byte mutations still reach the parser.
    let query = String::from_utf8_lossy(data);
    if let Err(e) = p8fs_rem::parse(&query) {
        assert!(!e.message.is_empty());
    }
});
