//! `/proc/self/mountinfo` lines: any bytes, line by line, through `formats::mountinfo`.
//!
//! Checks: `parse` answers exactly when `device` does, with the same device numbers and
//! type; every slice lies inside the line; the mount point and source are the raw fields
//! unescaped (never longer), and the source equals `unescaped` of `device`'s raw source.
#![no_main]

mod inside;

use inside::{assert_in_range, assert_inside, range};
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::mountinfo;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        let device = mountinfo::device(line);
        let mut copy = line.to_vec();
        let buffer = range(&copy);
        let parsed = mountinfo::parse(&mut copy).map(|m| {
            for part in [m.mountpoint, m.fstype, m.source] {
                assert_in_range(&buffer, part);
            }
            (
                m.major,
                m.minor,
                m.fstype.to_vec(),
                m.source.to_vec(),
                m.mountpoint.len(),
            )
        });
        match (device, parsed) {
            (None, None) => {}
            (
                Some((major, minor, fstype, source)),
                Some((pmajor, pminor, pfstype, psource, mp)),
            ) => {
                assert_inside(line, fstype);
                assert_inside(line, source);
                assert_eq!((major, minor, fstype), (pmajor, pminor, &pfstype[..]));
                assert!(psource.len() <= source.len());
                assert!(mp <= line.len());
                let mut out = vec![0u8; source.len()];
                assert_eq!(mountinfo::unescaped(source, &mut out), Some(&psource[..]));
                if !source.contains(&b'\\') {
                    assert_eq!(source, &psource[..]);
                }
            }
            (d, p) => panic!("device() and parse() disagree: {d:?} vs {p:?}"),
        }
    }
    // Unescaping alone: never longer, and identity without a backslash.
    let mut copy = data.to_vec();
    let len = mountinfo::unescape(&mut copy);
    assert!(len <= data.len());
    if !data.contains(&b'\\') {
        assert_eq!(&copy[..len], data);
    }
});
