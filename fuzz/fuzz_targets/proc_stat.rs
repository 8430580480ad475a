//! `/proc/stat` lines: any bytes, line by line, through `formats::proc_stat`.
//!
//! Checks: a `cpuN` line has 4 to 10 values and zeros after them; round trip: printed back
//! as `cpuN v1 .. vk` it parses the same; a line that is not UTF-8 or does not start with
//! `cpu` and a digit-or-more is never a CPU line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinyqga::formats::proc_stat::{self, CpuLine};

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        match proc_stat::parse_cpu_line(line) {
            CpuLine::Cpu(cpu, values, count) => {
                assert!((4..=10).contains(&count));
                assert!(values[count..].iter().all(|&v| v == 0));
                assert!(cpu >= 0);
                let text = std::str::from_utf8(line).expect("a CPU line is text");
                assert!(text.trim_start().starts_with("cpu"));
                let mut again = format!("cpu{cpu}");
                for v in &values[..count] {
                    again += &format!(" {v}");
                }
                assert_eq!(
                    proc_stat::parse_cpu_line(again.as_bytes()),
                    CpuLine::Cpu(cpu, values, count)
                );
            }
            CpuLine::Broken => {
                assert!(std::str::from_utf8(line).is_ok());
            }
            CpuLine::Other => {}
        }
    }
});
