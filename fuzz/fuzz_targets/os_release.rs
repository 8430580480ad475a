//! os-release: any bytes through `formats::os_release` (a key file without a group line,
//! values unquoted qemu-ga's way).
//!
//! Checks: every value found lies inside the buffer; a file is usable exactly when it is a
//! key file (`keyfile::entries` with the implicit group accepts it); each value found is
//! the last of its key, unquoted (compared with `unquote` of that raw value); `unquote`
//! alone never lengthens a value, and a value without quotes, spaces or `;` is unchanged.
#![no_main]

mod inside;

use inside::{assert_in_range, range};
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::{keyfile, os_release};

const KEYS: [&[u8]; 7] = [
    b"ID",
    b"NAME",
    b"PRETTY_NAME",
    b"VERSION",
    b"VERSION_ID",
    b"VARIANT",
    b"VARIANT_ID",
];

fuzz_target!(|data: &[u8]| {
    let mut buf = data.to_vec();
    let buffer = range(&buf);
    let mut found = [None; 7];
    let usable = os_release::values(&mut buf, &KEYS, &mut found);
    let found: Vec<Option<Vec<u8>>> = found
        .iter()
        .map(|v| {
            v.map(|v| {
                assert_in_range(&buffer, v);
                v.to_vec()
            })
        })
        .collect();

    // The same file walked as a key file: the last raw value of each key, unquoted.
    let mut raw_buf = data.to_vec();
    let mut last: [Option<Vec<u8>>; 7] = Default::default();
    let is_keyfile = keyfile::entries(&mut raw_buf, Some(b"os-release"), |group, key, value| {
        if let Some(slot) = KEYS
            .iter()
            .position(|k| *k == key)
            .filter(|_| group == b"os-release")
        {
            last[slot] = Some(value.to_vec());
        }
    })
    .is_ok();
    assert_eq!(usable, is_keyfile);
    if usable {
        for (got, raw) in found.iter().zip(last) {
            let want = raw.map(|mut raw| os_release::unquote(&mut raw).to_vec());
            assert_eq!(got, &want);
        }
    }

    let mut value = data.to_vec();
    let unquoted = os_release::unquote(&mut value).to_vec();
    assert!(unquoted.len() <= data.len());
    if !data.iter().any(|b| matches!(b, b'"' | b' ' | b';')) {
        assert_eq!(unquoted, data);
    }
});
