//! `/proc/diskstats` lines (the kernel's Documentation/admin-guide/iostats.rst):
//! `major minor name` and then 4 counters (Linux 2.4-style partition lines), 11 (2.6), 15
//! (4.18, discards) or 17 (5.5, flushes).

/// One line: the device and the counters its format has (`None`: not in this format).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskStats<'l> {
    pub major: u64,
    pub minor: u64,
    pub name: &'l [u8],
    pub read_ios: Option<u64>,
    pub read_merges: Option<u64>,
    pub read_sectors: Option<u64>,
    /// Milliseconds spent reading.
    pub read_ticks: Option<u64>,
    pub write_ios: Option<u64>,
    pub write_merges: Option<u64>,
    pub write_sectors: Option<u64>,
    pub write_ticks: Option<u64>,
    /// I/Os in flight now.
    pub ios_in_progress: Option<u64>,
    /// Milliseconds with I/O in flight.
    pub total_ticks: Option<u64>,
    /// Milliseconds of I/O weighted by the I/Os in flight.
    pub weighted_ticks: Option<u64>,
    pub discard_ios: Option<u64>,
    pub discard_merges: Option<u64>,
    pub discard_sectors: Option<u64>,
    pub discard_ticks: Option<u64>,
    pub flush_ios: Option<u64>,
    pub flush_ticks: Option<u64>,
}

/// Parses one line. The counters are read up to the first word that is not a number (at
/// most 17); the format is told from how many there are, as qemu-ga tells it. Fewer than 4
/// counters, or no device numbers and name: `None`. 5 to 10 counters are a line qemu-ga
/// accepts with no counters in it.
pub fn parse_line(line: &[u8]) -> Option<DiskStats<'_>> {
    let mut words = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let number = |w: &[u8]| core::str::from_utf8(w).ok()?.parse::<u64>().ok();
    let major = number(words.next()?)?;
    let minor = number(words.next()?)?;
    let name = words.next()?;
    let mut n = [0u64; 17];
    let mut count = 0;
    for word in words.take(17) {
        match number(word) {
            Some(v) => {
                n[count] = v;
                count += 1;
            }
            None => break,
        }
    }
    // Fields as qemu-ga counts them (major, minor and name included).
    let fields = count + 3;
    if fields < 7 {
        return None;
    }
    let mut s = DiskStats {
        major,
        minor,
        name,
        ..DiskStats::default()
    };
    if fields == 7 {
        // Linux 2.4-style partition line: ios and sectors only.
        s.read_ios = Some(n[0]);
        s.read_sectors = Some(n[1]);
        s.write_ios = Some(n[2]);
        s.write_sectors = Some(n[3]);
    }
    if fields >= 14 {
        s.read_ios = Some(n[0]);
        s.read_merges = Some(n[1]);
        s.read_sectors = Some(n[2]);
        s.read_ticks = Some(n[3]);
        s.write_ios = Some(n[4]);
        s.write_merges = Some(n[5]);
        s.write_sectors = Some(n[6]);
        s.write_ticks = Some(n[7]);
        s.ios_in_progress = Some(n[8]);
        s.total_ticks = Some(n[9]);
        s.weighted_ticks = Some(n[10]);
    }
    if fields >= 18 {
        s.discard_ios = Some(n[11]);
        s.discard_merges = Some(n[12]);
        s.discard_sectors = Some(n[13]);
        s.discard_ticks = Some(n[14]);
    }
    if fields >= 20 {
        s.flush_ios = Some(n[15]);
        s.flush_ticks = Some(n[16]);
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_of_proc_diskstats() {
        let text = std::fs::read_to_string("tests/fixtures/proc/diskstats").unwrap();
        let lines: Vec<DiskStats<'_>> = text
            .lines()
            .map(|l| parse_line(l.as_bytes()).unwrap())
            .collect();
        // 6.x: 17 counters.
        assert_eq!(lines[0].read_ios, Some(5123));
        assert_eq!(lines[0].flush_ticks, Some(77));
        // 4.18+: 15 counters (discard, no flush).
        assert_eq!(lines[1].discard_sectors, Some(30));
        assert_eq!(lines[1].flush_ios, None);
        // 2.6: 11 counters.
        assert!(lines[2].weighted_ticks.is_some() && lines[2].discard_ios.is_none());
        // 2.4 partition lines: 4 counters.
        assert_eq!(
            lines[3],
            DiskStats {
                major: lines[3].major,
                minor: lines[3].minor,
                name: lines[3].name,
                read_ios: Some(10),
                read_sectors: Some(20),
                write_ios: Some(30),
                write_sectors: Some(40),
                ..DiskStats::default()
            }
        );
        // 5 to 10 counters: known to qemu-ga but with no counters.
        let odd = parse_line(b"8 0 sda 1 2 3 4 5").unwrap();
        assert_eq!(
            odd,
            DiskStats {
                major: 8,
                minor: 0,
                name: b"sda",
                ..DiskStats::default()
            }
        );
        assert_eq!(parse_line(b"8 0 sda 1 2 3"), None);
        assert_eq!(parse_line(b""), None);
    }
}
