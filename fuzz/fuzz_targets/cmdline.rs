//! `/proc/cmdline`: any bytes through `formats::cmdline`.
//!
//! Checks: every name and value lies inside the input; in a text without quotes no name or
//! value holds whitespace; a value always has a name; no parameter is a
//! bare `--` (it ends the list); the walk ends, and yields no more parameters than the
//! text has bytes, plus one (a lone `"` is one empty parameter).
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::cmdline;

fuzz_target!(|data: &[u8]| {
    let mut count = 0;
    for param in cmdline::params(data) {
        count += 1;
        assert!(count <= data.len() + 1, "more parameters than bytes");
        assert_inside(data, param.name);
        if let Some(value) = param.value {
            assert_inside(data, value);
            assert!(!param.name.is_empty(), "a value with no name");
        } else {
            assert_ne!(param.name, b"--", "`--` ends the parameters");
        }
        if !data.contains(&b'"') {
            // Without quotes, a parameter is one word: no whitespace in it.
            let word = |s: &[u8]| !s.iter().any(|&b| b.is_ascii_whitespace() || b == 0x0b);
            assert!(word(param.name) && param.value.is_none_or(word));
        }
        assert!(cmdline::same_name(param.name, param.name));
    }
});
