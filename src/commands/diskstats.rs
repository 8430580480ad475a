//! `guest-get-diskstats`, from /proc/diskstats.

use super::Call;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::fs;

/// `guest-get-diskstats` → `[{name, major, minor, stats: {...}}]`, one per line of
/// /proc/diskstats, with the counters that line's format has.
pub fn guest_get_diskstats(call: &mut Call, _: ()) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.begin_array();
        fs::for_each_line(b"/proc/diskstats", |line| {
            if let Some(stats) = parse_diskstats_line(line) {
                write_stats(w, &stats);
            }
            true
        })
        .map_err(|e| qmp_error!("open(\"/proc/diskstats\"): {e}"))?;
        w.end_array();
        Ok(())
    })
}

/// The schema's `GuestDiskStats` members, in schema order.
const MEMBERS: [&str; 17] = [
    "read-sectors",
    "read-ios",
    "read-merges",
    "write-sectors",
    "write-ios",
    "write-merges",
    "discard-sectors",
    "discard-ios",
    "discard-merges",
    "flush-ios",
    "read-ticks",
    "write-ticks",
    "discard-ticks",
    "flush-ticks",
    "ios-pgr",
    "total-ticks",
    "weight-ticks",
];

pub struct DiskStats<'l> {
    pub name: &'l [u8],
    pub major: u64,
    pub minor: u64,
    /// Values by [`MEMBERS`] position; `None` when the line's format lacks them.
    pub values: [Option<u64>; 17],
}

/// `major minor name` and 4 (old partition lines), 11, 15 or 17 counters.
pub fn parse_diskstats_line(line: &[u8]) -> Option<DiskStats<'_>> {
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
    let mut v = [None; 17];
    let mut set = |member: &str, value: u64| {
        if let Some(i) = MEMBERS.iter().position(|m| *m == member) {
            v[i] = Some(value);
        }
    };
    if fields == 7 {
        // Linux 2.4-style partition line: ios and sectors only.
        set("read-ios", n[0]);
        set("read-sectors", n[1]);
        set("write-ios", n[2]);
        set("write-sectors", n[3]);
    }
    if fields >= 14 {
        for (member, value) in [
            ("read-ios", n[0]),
            ("read-merges", n[1]),
            ("read-sectors", n[2]),
            ("read-ticks", n[3]),
            ("write-ios", n[4]),
            ("write-merges", n[5]),
            ("write-sectors", n[6]),
            ("write-ticks", n[7]),
            ("ios-pgr", n[8]),
            ("total-ticks", n[9]),
            ("weight-ticks", n[10]),
        ] {
            set(member, value);
        }
    }
    if fields >= 18 {
        for (member, value) in [
            ("discard-ios", n[11]),
            ("discard-merges", n[12]),
            ("discard-sectors", n[13]),
            ("discard-ticks", n[14]),
        ] {
            set(member, value);
        }
    }
    if fields >= 20 {
        set("flush-ios", n[15]);
        set("flush-ticks", n[16]);
    }
    Some(DiskStats {
        name,
        major,
        minor,
        values: v,
    })
}

fn write_stats(w: &mut JsonWriter<'_>, stats: &DiskStats<'_>) {
    w.begin_object();
    w.key("name");
    w.bytes_as_str(stats.name);
    w.key("major");
    w.uint(stats.major);
    w.key("minor");
    w.uint(stats.minor);
    w.key("stats");
    w.begin_object();
    for (member, value) in MEMBERS.iter().zip(stats.values) {
        if let Some(value) = value {
            w.key(member);
            w.uint(value);
        }
    }
    w.end_object();
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(line: &str) -> Vec<(&'static str, u64)> {
        let stats = parse_diskstats_line(line.as_bytes()).unwrap();
        MEMBERS
            .iter()
            .zip(stats.values)
            .filter_map(|(m, v)| Some((*m, v?)))
            .collect()
    }

    #[test]
    fn every_format_of_proc_diskstats() {
        let text = std::fs::read_to_string("tests/fixtures/proc/diskstats").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // 6.x: 20 fields.
        let full = members(lines[0]);
        assert_eq!(full.len(), 17);
        assert!(full.contains(&("read-ios", 5123)) && full.contains(&("flush-ticks", 77)));
        // 4.18+: 18 fields (discard, no flush).
        let discard = members(lines[1]);
        assert!(
            discard.contains(&("discard-sectors", 30))
                && !discard.iter().any(|(m, _)| *m == "flush-ios")
        );
        // 2.6: 14 fields.
        assert_eq!(members(lines[2]).len(), 11);
        // 2.4 partition lines: 7 fields.
        assert_eq!(
            members(lines[3]),
            [
                ("read-sectors", 20),
                ("read-ios", 10),
                ("write-sectors", 40),
                ("write-ios", 30)
            ]
        );
        // 8 to 13 fields: known to qemu-ga but with no counters.
        assert_eq!(members("8 0 sda 1 2 3 4 5").len(), 0);
        assert!(parse_diskstats_line(b"8 0 sda 1 2 3").is_none());
        assert!(parse_diskstats_line(b"").is_none());
    }
}
