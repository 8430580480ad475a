//! `guest-get-diskstats`, from /proc/diskstats.

use super::Call;
use crate::formats::diskstats::{self, DiskStats};
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::fs;

/// `guest-get-diskstats` → `[{name, major, minor, stats: {...}}]`, one per line of
/// /proc/diskstats, with the counters that line's format has.
pub fn guest_get_diskstats(call: &mut Call, _: ()) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.begin_array();
        fs::for_each_line(b"/proc/diskstats", |line| {
            if let Some(stats) = diskstats::parse_line(line) {
                write_stats(w, &stats);
            }
            true
        })
        .map_err(|e| qmp_error!("open(\"/proc/diskstats\"): {e}"))?;
        w.end_array();
        Ok(())
    })
}

/// The schema's `GuestDiskStats` members, in schema order, and where each is in a line.
#[allow(clippy::type_complexity)]
const MEMBERS: [(&str, fn(&DiskStats<'_>) -> Option<u64>); 17] = [
    ("read-sectors", |s| s.read_sectors),
    ("read-ios", |s| s.read_ios),
    ("read-merges", |s| s.read_merges),
    ("write-sectors", |s| s.write_sectors),
    ("write-ios", |s| s.write_ios),
    ("write-merges", |s| s.write_merges),
    ("discard-sectors", |s| s.discard_sectors),
    ("discard-ios", |s| s.discard_ios),
    ("discard-merges", |s| s.discard_merges),
    ("flush-ios", |s| s.flush_ios),
    ("read-ticks", |s| s.read_ticks),
    ("write-ticks", |s| s.write_ticks),
    ("discard-ticks", |s| s.discard_ticks),
    ("flush-ticks", |s| s.flush_ticks),
    ("ios-pgr", |s| s.ios_in_progress),
    ("total-ticks", |s| s.total_ticks),
    ("weight-ticks", |s| s.weighted_ticks),
];

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
    for (member, value) in MEMBERS {
        if let Some(value) = value(stats) {
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
    use crate::protocol::writer::tests::Collect;

    fn json(line: &str) -> String {
        let mut out = Collect::default();
        write_stats(
            &mut JsonWriter::new(&mut out),
            &diskstats::parse_line(line.as_bytes()).unwrap(),
        );
        String::from_utf8(out.0).unwrap()
    }

    #[test]
    fn members_in_schema_order() {
        assert_eq!(
            json("8 1 sda1 10 20 30 40"),
            r#"{"name": "sda1", "major": 8, "minor": 1, "stats": {"read-sectors": 20, "read-ios": 10, "write-sectors": 40, "write-ios": 30}}"#
        );
        let full = json("259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17");
        assert_eq!(
            full,
            r#"{"name": "nvme0n1", "major": 259, "minor": 0, "stats": {"read-sectors": 3, "read-ios": 1, "read-merges": 2, "write-sectors": 7, "write-ios": 5, "write-merges": 6, "discard-sectors": 14, "discard-ios": 12, "discard-merges": 13, "flush-ios": 16, "read-ticks": 4, "write-ticks": 8, "discard-ticks": 15, "flush-ticks": 17, "ios-pgr": 9, "total-ticks": 10, "weight-ticks": 11}}"#
        );
    }
}
