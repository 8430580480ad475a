//! Time zones: any bytes as a TZif file and as a POSIX `TZ` rule, through
//! `formats::tzif`, at an instant taken from the input.
//!
//! The first 8 bytes are the instant, kept within ±2^40 s (±35,000 years: what a clock can
//! say; the arithmetic is for such instants, not for any i64), the rest the zone data.
//! Checks: no panic (overflow included: fuzz builds check it), no hang; an answer's offset
//! is within ±168 hours for a rule (POSIX allows 24, the parser 167), its abbreviation at
//! most 16 ASCII characters; a rule that parses, looked up again at the same instant, gives
//! the same answer. A TZif file's footer is also looked up as a rule on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinyqga::formats::tzif::{self, LocalTime};

fn check(local: &LocalTime) {
    assert!(local.abbreviation.len() <= 16);
    assert!(local.abbreviation.is_ascii());
}

fuzz_target!(|data: &[u8]| {
    let Some((now, zone)) = data.split_first_chunk::<8>() else {
        return;
    };
    let now = i64::from_le_bytes(*now) % (1 << 40);
    for now in [now, 1_780_000_000] {
        if let Some(local) = tzif::lookup_tzif(zone, now) {
            check(&local);
        }
        if let Some(local) = tzif::lookup_posix(zone, now) {
            check(&local);
            assert!(local.offset.unsigned_abs() <= 168 * 3600, "{local:?}");
            assert_eq!(tzif::lookup_posix(zone, now), Some(local));
        }
    }
    // The footer of a version 2+ file: the text after the last newline but one.
    if let Some(rule) = zone.rsplit(|&b| b == b'\n').nth(1) {
        if let Some(local) = tzif::lookup_posix(rule, now) {
            check(&local);
        }
    }
});
