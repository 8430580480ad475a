//! `/proc/loadavg`: any bytes through `formats::loadavg`.
//!
//! Checks: the three averages are the first three words of the text, each inside it, not
//! empty and without blanks; an answer exists exactly when the text is UTF-8 with three
//! words.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::loadavg;

fuzz_target!(|data: &[u8]| {
    let words: Option<Vec<&str>> = std::str::from_utf8(data)
        .ok()
        .map(|t| t.split_ascii_whitespace().take(3).collect());
    match loadavg::averages(data) {
        Some(averages) => {
            for a in averages {
                assert_inside(data, a.as_bytes());
                assert!(!a.is_empty() && !a.bytes().any(|b| b.is_ascii_whitespace()));
            }
            assert_eq!(words.as_deref(), Some(&averages[..]));
        }
        None => assert!(words.is_none_or(|w| w.len() < 3)),
    }
});
