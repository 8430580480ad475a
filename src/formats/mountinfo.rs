//! `/proc/self/mountinfo` lines (proc(5)):
//! `36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue`

use crate::text::find_byte;

/// The fields the file-system commands use. Strings are unescaped (`\040` is a space).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mount<'l> {
    pub major: u32,
    pub minor: u32,
    pub mountpoint: &'l [u8],
    pub fstype: &'l [u8],
    pub source: &'l [u8],
}

/// Where the fields of a line are: (device, mount point, type, source) as byte ranges.
type Spans = [(usize, usize); 4];

/// Finds the fields. The optional fields between the mount options and the `-` separator
/// may number zero or more (qemu-ga assumes exactly one, and misreads the others).
///
/// One pass that stops at the source (every `guest-get-fsinfo` runs this on each line of
/// the table, twice), with no table of all the fields.
fn spans(line: &[u8]) -> Option<Spans> {
    // Escaped spaces are `\040`, so splitting on spaces is exact.
    let mut at = 0;
    let mut field = || {
        let rest = line.get(at..).unwrap_or_default();
        let start = at + rest.iter().position(|&b| b != b' ')?;
        let rest = &line[start..];
        at = start + rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        Some((start, at))
    };
    let _id = field()?;
    let _parent = field()?;
    let device = field()?;
    let _root = field()?;
    let mountpoint = field()?;
    let _options = field()?;
    while field().map(|(s, e)| &line[s..e])? != b"-" {}
    Some([device, mountpoint, field()?, field()?])
}

/// The device numbers of a `major:minor` field.
fn device_numbers(field: &[u8]) -> Option<(u32, u32)> {
    let colon = find_byte(field, b':')?;
    Some((decimal(&field[..colon])?, decimal(&field[colon + 1..])?))
}

/// A decimal number of at most 32 bits (digits only, as the kernel writes them).
fn decimal(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        let d = d.wrapping_sub(b'0');
        (d < 10).then_some(())?;
        n.checked_mul(10)?.checked_add(u32::from(d))
    })
}

/// The device numbers, the type and the (still escaped) source of a line.
pub fn device(line: &[u8]) -> Option<(u32, u32, &[u8], &[u8])> {
    let [dev, _, ty, src] = spans(line)?;
    let (major, minor) = device_numbers(&line[dev.0..dev.1])?;
    Some((major, minor, &line[ty.0..ty.1], &line[src.0..src.1]))
}

/// Parses one line, unescaping the mount point and the source in place.
pub fn parse(line: &mut [u8]) -> Option<Mount<'_>> {
    let [dev, mp, ty, src] = spans(line)?;
    let (major, minor) = device_numbers(&line[dev.0..dev.1])?;
    // The fields do not overlap and unescaping only shrinks them.
    let mp_len = unescape(&mut line[mp.0..mp.1]);
    let src_len = unescape(&mut line[src.0..src.1]);
    let line: &[u8] = line;
    Some(Mount {
        major,
        minor,
        mountpoint: &line[mp.0..mp.0 + mp_len],
        fstype: &line[ty.0..ty.1],
        source: &line[src.0..src.0 + src_len],
    })
}

/// Unescapes `field` into `out` (for a field that must stay escaped in place).
pub fn unescaped<'o>(field: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    let dst = out.get_mut(..field.len())?;
    dst.copy_from_slice(field);
    let len = unescape(dst);
    Some(&out[..len])
}

/// `\NNN` octal escapes (the kernel's for space, tab, newline and backslash); returns the
/// new length.
pub fn unescape(s: &mut [u8]) -> usize {
    let Some(first) = find_byte(s, b'\\') else {
        return s.len();
    };
    let (mut r, mut w) = (first, first);
    while r < s.len() {
        let octal = s
            .get(r + 1..r + 4)
            .filter(|d| s[r] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let Some(d) = octal {
            s[w] = (d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0');
            r += 4;
        } else {
            s[w] = s[r];
            r += 1;
        }
        w += 1;
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(text: &str) -> Vec<(u32, u32, String, String, String)> {
        text.lines()
            .filter_map(|l| {
                let mut l = l.as_bytes().to_vec();
                let m = parse(&mut l)?;
                let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                Some((m.major, m.minor, s(m.mountpoint), s(m.fstype), s(m.source)))
            })
            .collect()
    }

    #[test]
    fn systemd_and_initramfs_lines() {
        let got = mounts(&std::fs::read_to_string("tests/fixtures/proc/mountinfo").unwrap());
        let s = String::from;
        assert_eq!(got[0], (0, 22, s("/sys"), s("sysfs"), s("sysfs")));
        assert!(got.contains(&(254, 1, s("/"), s("ext4"), s("/dev/vda1"))));
        // No optional fields (a busybox initramfs) and several of them.
        assert!(got.contains(&(253, 16, s("/mnt/scratch"), s("ext4"), s("/dev/vdb"))));
        assert!(got.contains(&(8, 1, s("/mnt/two fields"), s("xfs"), s("/dev/sda1"))));
        // Escapes in the mount point and the source.
        assert!(got.contains(&(
            8,
            2,
            s("/mnt/with space\tand\\slash"),
            s("vfat"),
            s("/dev/my disk")
        )));
        assert_eq!(got.len(), 7);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        for line in [
            "",
            "36 35 98:0 / /",
            "36 35 x:y / / rw - ext4 /dev/a rw",
            "1 2 3:4 / /m rw shared:1 ext4 /dev/a rw",
            // Device numbers are decimal digits that fit 32 bits.
            "1 2 +3:4 / /m rw - ext4 /dev/a rw",
            "1 2 3: / /m rw - ext4 /dev/a rw",
            "1 2 4294967296:0 / /m rw - ext4 /dev/a rw",
            // No type or no source after the separator; a separator among the first six.
            "1 2 3:4 / /m rw -",
            "1 2 3:4 / /m rw - ext4",
            "1 2 3:4 / - rw ext4 /dev/a rw",
        ] {
            assert_eq!(parse(&mut line.as_bytes().to_vec()), None, "{line}");
        }
    }

    #[test]
    fn any_number_of_optional_fields_and_spaces() {
        let tags = "shared:1 ".repeat(40);
        let line = format!("1 2  4294967295:7 / /m  rw {tags}-  ext4 /dev/a rw");
        let mut bytes = line.into_bytes();
        let m = parse(&mut bytes).unwrap();
        assert_eq!((m.major, m.minor), (u32::MAX, 7));
        assert_eq!(
            (m.mountpoint, m.fstype, m.source),
            (&b"/m"[..], &b"ext4"[..], &b"/dev/a"[..])
        );
    }
}
