//! `/proc/stat` (proc(5)): the per-CPU time lines, `cpuN user nice system idle [iowait irq
//! softirq steal guest guest_nice]`, in clock ticks (USER_HZ).

/// What one line of /proc/stat is.
#[derive(Debug, PartialEq, Eq)]
pub enum CpuLine {
    /// A `cpuN` line: N (as atoi reads it), the values read (in ticks), how many (4 to
    /// 10: older kernels print fewer).
    Cpu(i64, [u64; 10], usize),
    /// Not a `cpuN` line: the all-CPU `cpu` line, `intr`, `ctxt`, ... (or not text).
    Other,
    /// A `cpuN` line with fewer than four numbers.
    Broken,
}

/// One /proc/stat line: `cpuN user nice system idle [iowait irq softirq steal guest
/// guest_nice]`; the all-CPU `cpu` line and other lines are `Other`.
pub fn parse_cpu_line(line: &[u8]) -> CpuLine {
    let Ok(text) = core::str::from_utf8(line) else {
        return CpuLine::Other;
    };
    let mut words = text.split_ascii_whitespace();
    let Some(name) = words.next() else {
        return CpuLine::Other;
    };
    let Some(number) = name.strip_prefix("cpu").filter(|n| !n.is_empty()) else {
        return CpuLine::Other;
    };
    let mut values = [0u64; 10];
    let mut count = 0;
    for word in words.take(10) {
        match word.parse::<u64>() {
            Ok(v) => {
                values[count] = v;
                count += 1;
            }
            Err(_) => break,
        }
    }
    if count < 4 {
        return CpuLine::Broken;
    }
    // atoi: leading digits, else 0.
    let digits = number.bytes().take_while(u8::is_ascii_digit).count();
    CpuLine::Cpu(number[..digits].parse().unwrap_or(0), values, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_lines() {
        let text = std::fs::read_to_string("tests/fixtures/proc/stat").unwrap();
        let lines: Vec<CpuLine> = text.lines().map(|l| parse_cpu_line(l.as_bytes())).collect();
        assert_eq!(lines[0], CpuLine::Other, "the all-CPU line");
        assert_eq!(
            lines[1],
            CpuLine::Cpu(0, [23193, 0, 6457, 129234, 301, 0, 33, 25, 0, 0], 10)
        );
        assert_eq!(
            lines[3],
            CpuLine::Cpu(2, [1, 2, 3, 4, 0, 0, 0, 0, 0, 0], 4),
            "an old kernel's four fields"
        );
        assert!(
            lines[4..].iter().all(|l| *l == CpuLine::Other),
            "intr, ctxt, softirq ..."
        );
        assert_eq!(parse_cpu_line(b"cpu3 1 2"), CpuLine::Broken);
    }
}
