//! `/proc/partitions` and kernel releases: any bytes through `formats::partitions`.
//!
//! Checks: every name is a word of the input, inside it, not empty and without blanks, and
//! there are no more names than lines; a release that the kernel test accepts starts with
//! two numbers.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::partitions;

fuzz_target!(|data: &[u8]| {
    let lines = data.split(|&b| b == b'\n').count();
    let mut names = 0;
    for name in partitions::names(data) {
        assert_inside(data, name);
        assert!(!name.is_empty() && !name.iter().any(u8::is_ascii_whitespace));
        names += 1;
    }
    assert!(names <= lines);
    if partitions::lists_every_sized_disk(data) {
        assert!(data.first().is_some_and(u8::is_ascii_digit));
        assert!(data.contains(&b'.'));
    }
});
