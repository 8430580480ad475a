//! `/proc/diskstats` lines: any bytes, line by line, through `formats::diskstats`.
//!
//! Checks: the name lies inside the line and is one word; the counters present are one of
//! the kernel's layouts (4, 11, 15 or 17 counters, or none for the 5-10 counter lines
//! qemu-ga accepts); round trip: a line printed back from those counters parses the same.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::diskstats::{self, DiskStats};

fn counters(s: &DiskStats<'_>) -> [Option<u64>; 17] {
    [
        s.read_ios,
        s.read_merges,
        s.read_sectors,
        s.read_ticks,
        s.write_ios,
        s.write_merges,
        s.write_sectors,
        s.write_ticks,
        s.ios_in_progress,
        s.total_ticks,
        s.weighted_ticks,
        s.discard_ios,
        s.discard_merges,
        s.discard_sectors,
        s.discard_ticks,
        s.flush_ios,
        s.flush_ticks,
    ]
}

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let Some(stats) = diskstats::parse_line(line) else {
            continue;
        };
        assert_inside(line, stats.name);
        assert!(!stats.name.is_empty() && !stats.name.iter().any(u8::is_ascii_whitespace));
        let present = counters(&stats).iter().filter(|c| c.is_some()).count();
        // The counters printed back in the kernel's order for the layout found.
        let printed: Vec<u64> = match present {
            0 => continue,
            4 => [
                stats.read_ios,
                stats.read_sectors,
                stats.write_ios,
                stats.write_sectors,
            ]
            .iter()
            .map(|c| c.expect("a 4-counter line"))
            .collect(),
            11 | 15 | 17 => counters(&stats)[..present]
                .iter()
                .map(|c| c.expect("counters in the kernel's order"))
                .collect(),
            n => panic!("{n} counters is no layout of /proc/diskstats"),
        };
        let mut again = format!("{:>4} {:>7} ", stats.major, stats.minor).into_bytes();
        again.extend_from_slice(stats.name);
        for c in printed {
            again.extend(format!(" {c}").bytes());
        }
        assert_eq!(diskstats::parse_line(&again), Some(stats));
    }
});
