//! `/proc/partitions` (block/genhd.c, `show_partition`): a header, a blank line, then
//! `major minor #blocks name` for each disk the kernel lists, each followed by its
//! partitions.
//!
//! Which disks are listed changed in Linux 5.17. Since then every disk whose capacity is
//! not zero is listed, except hidden ones (the per-path disks of NVMe multipath). Before,
//! a disk of non-zero capacity could also be left out for being removable and not
//! partitionable (a CD drive) or for asking not to be listed (null_blk, mmc boot areas).

/// The names the lines give, in order. Lines whose first three words are not numbers (the
/// header) or that have no fourth word are skipped.
pub fn names(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let is_number = |w: &[u8]| w.iter().all(u8::is_ascii_digit);
        let numbers = words.by_ref().take(3).filter(|w| is_number(w)).count();
        let name = words.next()?;
        (numbers == 3).then_some(name)
    })
}

/// Whether a kernel of this release (`uname -r`: `6.1.0-18-amd64`) lists every disk of
/// non-zero capacity that is not hidden: 5.17 or later. A release that does not start
/// with `major.minor` is taken as older.
pub fn lists_every_sized_disk(release: &[u8]) -> bool {
    let mut numbers = release.split(|&b| b == b'.').map(|part| {
        let digits = part.iter().take_while(|b| b.is_ascii_digit()).count();
        core::str::from_utf8(&part[..digits])
            .ok()
            .and_then(|n| n.parse::<u32>().ok())
    });
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (5, 17),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_listed_devices() {
        let text = std::fs::read("tests/fixtures/proc/partitions").unwrap();
        let names: Vec<&[u8]> = names(&text).collect();
        assert_eq!(
            names,
            [
                &b"vda"[..],
                b"vda1",
                b"vda14",
                b"vda15",
                b"sr0",
                b"dm-0",
                b"nvme0n1",
                b"nvme0n1p1"
            ]
        );
        assert_eq!(names_of(b"  8  0 100 sda\n  8 1 50 sda1"), ["sda", "sda1"]);
        assert_eq!(names_of(b"major minor  #blocks  name\n\n"), [""; 0]);
        assert_eq!(names_of(b"8 0 sda\n8 x 1 sdb\n8 0 1\n"), [""; 0]);
        assert_eq!(names_of(b"\xff 1 2 3 x\n1 2 3 \xff"), ["\u{fffd}"]);
    }

    fn names_of(text: &[u8]) -> Vec<String> {
        names(text)
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect()
    }

    #[test]
    fn kernels_that_list_every_sized_disk() {
        for release in [
            "5.17.0",
            "6.1.0-18-amd64",
            "6.18.44-fc-v1045",
            "10.0",
            "5.17",
        ] {
            assert!(lists_every_sized_disk(release.as_bytes()), "{release}");
        }
        for release in [
            "5.16.20",
            "5.10.0-28-amd64",
            "4.18.0-513.el8.x86_64",
            "3",
            "",
            "x.y",
        ] {
            assert!(!lists_every_sized_disk(release.as_bytes()), "{release}");
        }
        assert!(lists_every_sized_disk(b"5.17-rc1"));
        assert!(!lists_every_sized_disk(b"5.1700000000000"));
    }
}
