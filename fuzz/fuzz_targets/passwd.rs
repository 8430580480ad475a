//! `/etc/passwd` and `/etc/shadow`: any bytes through `formats::passwd`.
//!
//! The input is `[flags] [user length] [hash length] user hash file`. Checks:
//! - every parsed line's name, home and shell lie inside the line; the name is not empty;
//!   `find_user` finds the first such line of a name that starts no skipped line;
//! - `rewrite_password` (as `guest-set-user-password` writes the shadow file, or passwd
//!   without a date) emits the file unchanged when it reports no user, and otherwise
//!   changes exactly one line: the first line of the user, which then starts with
//!   `user:hash` and, for a shadow line of three or more fields, has the day as its third
//!   field; every other line is byte for byte the same. Pieces come in the order written and
//!   the emitter's error stops it.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::passwd;

fn lines(file: &[u8]) -> Vec<&[u8]> {
    file.split(|&b| b == b'\n').collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, user_len, hash_len], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let user_len = usize::from(user_len % 16).min(rest.len());
    let (user, rest) = rest.split_at(user_len);
    let (hash, file) = rest.split_at(usize::from(hash_len % 64).min(rest.len()));

    for line in lines(file) {
        if let Some(entry) = passwd::parse_passwd_line(line) {
            for part in [entry.name, entry.home, entry.shell] {
                assert_inside(line, part);
            }
            assert!(!entry.name.is_empty());
            if !matches!(line.first(), Some(b'#' | b'+' | b'-')) {
                let found = passwd::find_user(file, entry.name).expect("a well-formed line");
                assert_eq!(found.name, entry.name);
            }
        }
    }
    if let Some(entry) = passwd::find_user(file, user) {
        assert_eq!(entry.name, user);
        assert_inside(file, entry.home);
    }

    let last_change = (flags & 1 != 0).then(|| u64::from(flags >> 1) * 1000);
    let mut out = Vec::new();
    let found = passwd::rewrite_password(file, user, hash, last_change, &mut |piece: &[u8]| {
        out.extend_from_slice(piece);
        Ok::<(), ()>(())
    })
    .unwrap();
    if !found {
        assert_eq!(out, file);
    } else {
        let (before, after) = (lines(file), lines(&out));
        assert_eq!(
            before.len(),
            after.len(),
            "{:?}",
            String::from_utf8_lossy(&out)
        );
        let mut prefix = user.to_vec();
        prefix.push(b':');
        let changed = before
            .iter()
            .position(|l| {
                !matches!(l.first(), None | Some(b'#' | b'+' | b'-')) && l.starts_with(&prefix)
            })
            .expect("the user's line");
        for (i, (old, new)) in before.iter().zip(&after).enumerate() {
            if i != changed {
                assert_eq!(old, new, "line {i}");
            }
        }
        let mut fields = after[changed].split(|&b| b == b':');
        assert_eq!(fields.next(), Some(user));
        assert_eq!(fields.next(), Some(hash));
        let old_fields = before[changed].split(|&b| b == b':').count();
        if let (Some(day), true) = (last_change, old_fields >= 3) {
            assert_eq!(fields.next(), Some(day.to_string().as_bytes()));
        }
        assert_eq!(after[changed].split(|&b| b == b':').count(), old_fields);
    }

    // A failing emitter: the first error ends the rewrite, and is what it returns.
    let mut calls = 0;
    let result = passwd::rewrite_password(file, user, hash, last_change, &mut |_: &[u8]| {
        calls += 1;
        Err(calls)
    });
    assert_eq!((result, calls), (Err(1), 1));
});
