//! GLib key files (qemu-ga.conf, the agent's state file): any bytes through
//! `formats::keyfile`.
//!
//! Checks: `parse` and `entries` agree (same entries, same error); every group, key and
//! value lies inside the buffer; keys are non-empty, have no `[` and no blank at either end;
//! an unescaped value is never longer than its raw form; errors display without panicking.
//! Round trip: each value that is UTF-8, written back with `write_escaped` (as
//! `--dump-conf` writes it) into a one-entry file, reads back as the same value.
#![no_main]

mod inside;

use inside::{assert_in_range, range};
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::keyfile::{self, KeyFileError};

fn error_text(e: &KeyFileError<'_>) -> String {
    e.to_string()
}

fuzz_target!(|data: &[u8]| {
    let mut raw_buf = data.to_vec();
    let raw_range = range(&raw_buf);
    let mut raw: Vec<(Vec<u8>, Vec<u8>, usize)> = Vec::new();
    let raw_result = keyfile::entries(&mut raw_buf, None, |group, key, value| {
        for part in [group, key, &*value] {
            assert_in_range(&raw_range, part);
        }
        raw.push((group.to_vec(), key.to_vec(), value.len()));
    })
    .map_err(|e| error_text(&e));

    let mut buf = data.to_vec();
    let buffer = range(&buf);
    let mut parsed: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = Vec::new();
    let result = keyfile::parse(&mut buf, |group, key, value| {
        for part in [group, key, value] {
            assert_in_range(&buffer, part);
        }
        assert!(!key.is_empty() && !key.contains(&b'['));
        assert!(!matches!(key.first(), Some(b' ' | b'\t')));
        assert!(!matches!(key.last(), Some(b' ' | b'\t')));
        let _ = keyfile::parse_bool(value);
        parsed.push((group.to_vec(), key.to_vec(), value.to_vec()));
    })
    .map_err(|e| error_text(&e));

    assert_eq!(result, raw_result);
    assert_eq!(parsed.len(), raw.len());
    for ((group, key, value), (raw_group, raw_key, raw_len)) in parsed.iter().zip(&raw) {
        assert_eq!((group, key), (raw_group, raw_key));
        assert!(value.len() <= *raw_len);
    }

    for (_, _, value) in &parsed {
        if std::str::from_utf8(value).is_err() {
            continue;
        }
        let mut text = String::from("[g]\nk=");
        keyfile::write_escaped(&mut text, value).unwrap();
        text.push('\n');
        let mut file = text.clone().into_bytes();
        let mut back = Vec::new();
        keyfile::parse(&mut file, |_, _, v| back.push(v.to_vec())).unwrap();
        assert_eq!(back, [value.clone()], "written as {text:?}");
    }
});
