//! The NVMe SMART log page: any 512 bytes (the input cut or padded with zeros) through
//! `formats::nvme_smart::parse_smart`.
//!
//! Checks: each field is the little-endian value at its offset in the NVMe base
//! specification (critical warning 0, temperature 1-2, spare 3, threshold 4, used 5, the
//! ten 128-bit counters from 32 on, 16 bytes apart).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinyqga::formats::nvme_smart::{self, SMART_LOG};

fuzz_target!(|data: &[u8]| {
    let mut log = [0u8; SMART_LOG];
    let n = data.len().min(SMART_LOG);
    log[..n].copy_from_slice(&data[..n]);
    let smart = nvme_smart::parse_smart(&log);
    assert_eq!(smart.critical_warning, log[0]);
    assert_eq!(
        smart.temperature,
        u16::from(log[1]) | u16::from(log[2]) << 8
    );
    assert_eq!(
        [
            smart.available_spare,
            smart.available_spare_threshold,
            smart.percentage_used
        ],
        [log[3], log[4], log[5]]
    );
    for (i, (low, high)) in smart.counters.iter().enumerate() {
        let at = 32 + 16 * i;
        let value = u128::from_le_bytes(log[at..at + 16].try_into().unwrap());
        assert_eq!(u128::from(*low) | u128::from(*high) << 64, value);
    }
});
