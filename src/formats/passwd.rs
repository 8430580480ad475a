//! `/etc/passwd` and `/etc/shadow` lines (passwd(5), shadow(5)): a user's entry, and the
//! shadow file rewritten with a new password hash.
//!
//! `guest-set-user-password` needs them where qemu-ga would run `chpasswd`, which busybox
//! and initramfs guests often lack: the agent changes the shadow line itself, as `chpasswd`
//! does. Pure functions over the files' bytes; the caller reads and writes the files.

use crate::text::format_u64;

/// The fields of a passwd line that the agent uses, borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswdEntry<'l> {
    pub name: &'l [u8],
    pub uid: u32,
    pub gid: u32,
    pub home: &'l [u8],
    pub shell: &'l [u8],
}

/// Parses one line (without its newline): `name:password:uid:gid:gecos:home:shell`.
///
/// Exactly seven fields, a non-empty name and decimal ids, or None: shadow-utils and
/// busybox read only such lines (glibc would also take colons in the shell field).
pub fn parse_passwd_line(line: &[u8]) -> Option<PasswdEntry<'_>> {
    let mut fields = line.split(|&b| b == b':');
    let name = fields.next().filter(|name| !name.is_empty())?;
    let _password = fields.next()?;
    let uid = parse_id(fields.next()?)?;
    let gid = parse_id(fields.next()?)?;
    let _gecos = fields.next()?;
    let home = fields.next()?;
    let shell = fields.next()?;
    if fields.next().is_some() {
        return None;
    }
    Some(PasswdEntry {
        name,
        uid,
        gid,
        home,
        shell,
    })
}

/// The first well-formed entry named `name` in a whole passwd file. Blank lines, comments
/// and NIS inclusions (`+...`, `-...`) are not users of this file.
pub fn find_user<'f>(passwd_file: &'f [u8], name: &[u8]) -> Option<PasswdEntry<'f>> {
    if name.is_empty() {
        return None;
    }
    passwd_file
        .split(|&b| b == b'\n')
        .filter(|line| !is_skipped(line))
        .filter_map(parse_passwd_line)
        .find(|entry| entry.name == name)
}

/// Emits `shadow` (or `/etc/passwd`) through `out` with `user`'s line changed as `chpasswd`
/// changes it: the second field becomes `new_hash` and, with `last_change` (the shadow
/// file), the third (day of the last change) becomes that day. Every other byte is emitted as it was: the other lines, the other
/// fields of this one (extra fields too), a missing final newline.
///
/// Only the first line of the user is changed; it is the one login reads. A line in the
/// old two-field form (`name:hash`, which glibc accepts) gets the new hash and no date,
/// as busybox's `chpasswd` does, since a date alone would make it a malformed line.
///
/// Returns whether the user's line was found; if not, the file was emitted unchanged. A
/// `user` or `new_hash` containing `:` or a newline could not be a field of a line, so it
/// finds nothing either: the caller checks them first to tell the user why.
pub fn rewrite_password<E>(
    shadow: &[u8],
    user: &[u8],
    new_hash: &[u8],
    last_change: Option<u64>,
    out: &mut impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<bool, E> {
    let found = if is_field(user) && !user.is_empty() && is_field(new_hash) {
        find_shadow_line(shadow, user)
    } else {
        None
    };
    let Some((line_start, line_end)) = found else {
        out(shadow)?;
        return Ok(false);
    };
    // The line starts with `user:`.
    let hash_start = line_start + user.len() + 1;
    let line_rest = shadow.get(hash_start..line_end).unwrap_or_default();
    let before = shadow.get(..hash_start).unwrap_or_default();
    match line_rest.iter().position(|&b| b == b':') {
        None => {
            out(before)?;
            out(new_hash)?;
            out(shadow.get(line_end..).unwrap_or_default())?;
        }
        // /etc/passwd: only the password field changes.
        Some(hash_len) if last_change.is_none() => {
            out(before)?;
            out(new_hash)?;
            out(shadow.get(hash_start + hash_len..).unwrap_or_default())?;
        }
        Some(hash_len) => {
            let date_start = hash_len + 1;
            let date_len = line_rest
                .get(date_start..)
                .unwrap_or_default()
                .iter()
                .position(|&b| b == b':')
                .unwrap_or(line_rest.len().saturating_sub(date_start));
            let after = hash_start + date_start + date_len;
            out(before)?;
            out(new_hash)?;
            out(b":")?;
            out(format_u64(last_change.unwrap_or_default(), &mut [0; 20]))?;
            out(shadow.get(after..).unwrap_or_default())?;
        }
    }
    Ok(true)
}

/// Where the first line of `user` is in `shadow`: (start, end before the newline).
fn find_shadow_line(shadow: &[u8], user: &[u8]) -> Option<(usize, usize)> {
    let mut start = 0;
    for line in shadow.split(|&b| b == b'\n') {
        let end = start + line.len();
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        // A line without a colon has no name field, however it starts.
        if !is_skipped(line) && name == user && line.len() > name.len() {
            return Some((start, end));
        }
        start = end + 1;
    }
    None
}

/// Lines that name no local user: blank, comments, NIS inclusions.
fn is_skipped(line: &[u8]) -> bool {
    matches!(line.first(), None | Some(b'#' | b'+' | b'-'))
}

/// Whether `value` can be one field of a line.
fn is_field(value: &[u8]) -> bool {
    !value.iter().any(|&b| b == b':' || b == b'\n')
}

/// A user or group id: decimal digits only, within 32 bits.
fn parse_id(field: &[u8]) -> Option<u32> {
    if field.is_empty() {
        return None;
    }
    field.iter().try_fold(0u32, |id, &b| {
        let digit = b.checked_sub(b'0').filter(|&d| d < 10)?;
        id.checked_mul(10)?.checked_add(u32::from(digit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Debian 12 installation's /etc/passwd (with a `bobby` before `bob`), and busybox
    /// leftovers: a comment, a blank line, NIS lines.
    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin
# local accounts

bobby:x:1001:1001:Bobby,,,:/home/bobby:/bin/bash
bob:x:1000:1000:Bob,,,:/home/bob:/bin/bash
+nis:x:2000:2000::/home/nis:/bin/sh
-evil:x:0:0::/:/bin/sh
halt:x:7:0:halt:/sbin:/sbin/halt";

    /// The matching /etc/shadow.
    const SHADOW: &[u8] = b"root:$y$j9T$Gw0S8Ifx6Yb1Wm3w3Q5N/0$Qm2xJm1Jv2tS5tT0t0fM0n7x8bZr3Q1p7r3Q0n6Yx2C:19725:0:99999:7:::
daemon:*:19725:0:99999:7:::
bin:*:19725:0:99999:7:::
sys:*:19725:0:99999:7:::
sync:*:19725:0:99999:7:::
nobody:*:19725:0:99999:7:::
systemd-network:!*:19725::::::
bobby:!:19726:0:99999:7:::
bob:$6$oldsalt$oldhash:19726:0:99999:7:::
";

    fn rewrite(shadow: &[u8], user: &[u8], hash: &[u8], days: u64) -> (bool, Vec<u8>) {
        let mut out = Vec::new();
        let found = rewrite_password(shadow, user, hash, Some(days), &mut |bytes: &[u8]| {
            out.extend_from_slice(bytes);
            Ok::<(), core::convert::Infallible>(())
        });
        match found {
            Ok(found) => (found, out),
        }
    }

    /// `shadow` with `old` replaced by `new` (once), to say what changed.
    fn replaced(shadow: &[u8], old: &str, new: &str) -> Vec<u8> {
        let text = std::str::from_utf8(shadow).unwrap();
        assert_eq!(text.matches(old).count(), 1, "{old}");
        text.replacen(old, new, 1).into_bytes()
    }

    #[test]
    fn passwd_line_fields() {
        assert_eq!(
            parse_passwd_line(b"bob:x:1000:1000:Bob,,,:/home/bob:/bin/bash"),
            Some(PasswdEntry {
                name: b"bob",
                uid: 1000,
                gid: 1000,
                home: b"/home/bob",
                shell: b"/bin/bash"
            })
        );
        // Empty home and shell are allowed (the shell then is /bin/sh).
        assert_eq!(
            parse_passwd_line(b"u:x:4294967295:0:::"),
            Some(PasswdEntry {
                name: b"u",
                uid: u32::MAX,
                gid: 0,
                home: b"",
                shell: b""
            })
        );
    }

    #[test]
    fn malformed_passwd_lines() {
        for line in [
            &b""[..],
            b"bob:x:1000:1000:Bob:/home/bob",
            b"bob:x:1000:1000:Bob:/home/bob:/bin/sh:extra",
            b":x:1000:1000:Bob:/home/bob:/bin/sh",
            b"bob:x::1000:Bob:/home/bob:/bin/sh",
            b"bob:x:1000:-1:Bob:/home/bob:/bin/sh",
            b"bob:x:+1000:1000:Bob:/home/bob:/bin/sh",
            b"bob:x:4294967296:1000:Bob:/home/bob:/bin/sh",
            b"bob:x:10 00:1000:Bob:/home/bob:/bin/sh",
        ] {
            assert_eq!(parse_passwd_line(line), None, "{}", line.escape_ascii());
        }
    }

    #[test]
    fn find_user_matches_whole_names() {
        let bob = find_user(PASSWD, b"bob").unwrap();
        assert_eq!(
            (bob.name, bob.uid, bob.home),
            (&b"bob"[..], 1000, &b"/home/bob"[..])
        );
        assert_eq!(find_user(PASSWD, b"bobby").unwrap().uid, 1001);
        assert_eq!(find_user(PASSWD, b"bo"), None);
        assert_eq!(find_user(PASSWD, b"root").unwrap().shell, b"/bin/bash");
        // The last line has no newline.
        assert_eq!(find_user(PASSWD, b"halt").unwrap().shell, b"/sbin/halt");
    }

    #[test]
    fn find_user_skips_comments_nis_and_nothing() {
        assert_eq!(find_user(PASSWD, b"nis"), None);
        assert_eq!(find_user(PASSWD, b"+nis"), None);
        assert_eq!(find_user(PASSWD, b"-evil"), None);
        assert_eq!(find_user(PASSWD, b"# local accounts"), None);
        assert_eq!(find_user(PASSWD, b""), None);
        assert_eq!(find_user(b"", b"root"), None);
        // A malformed first line of the name does not hide a good one after it.
        let file = b"ann:x:1:1:ann:/home/ann\nann:x:2:2::/home/ann:/bin/sh\n";
        assert_eq!(find_user(file, b"ann").unwrap().uid, 2);
    }

    #[test]
    fn rewrite_changes_hash_and_date_only() {
        let (found, out) = rewrite(SHADOW, b"bob", b"$6$new$hash", 20000);
        assert!(found);
        assert_eq!(
            out,
            replaced(
                SHADOW,
                "bob:$6$oldsalt$oldhash:19726:",
                "bob:$6$new$hash:20000:"
            )
        );
    }

    #[test]
    fn rewrite_prefix_names_are_other_users() {
        let (found, out) = rewrite(SHADOW, b"bobby", b"$6$x$y", 1);
        assert!(found);
        assert_eq!(out, replaced(SHADOW, "bobby:!:19726:", "bobby:$6$x$y:1:"));
        let (found, out) = rewrite(SHADOW, b"bo", b"$6$x$y", 1);
        assert!(!found);
        assert_eq!(out, SHADOW);
    }

    #[test]
    fn rewrite_first_line() {
        let (found, out) = rewrite(SHADOW, b"root", b"$6$r$h", 19999);
        assert!(found);
        assert_eq!(
            out,
            replaced(
                SHADOW,
                "root:$y$j9T$Gw0S8Ifx6Yb1Wm3w3Q5N/0$Qm2xJm1Jv2tS5tT0t0fM0n7x8bZr3Q1p7r3Q0n6Yx2C:19725:",
                "root:$6$r$h:19999:"
            )
        );
    }

    #[test]
    fn rewrite_last_line_without_newline() {
        let shadow = b"root:*:1:0:99999:7:::\nbob:old:2:0:99999:7:::";
        let (found, out) = rewrite(shadow, b"bob", b"new", 3);
        assert!(found);
        assert_eq!(out, b"root:*:1:0:99999:7:::\nbob:new:3:0:99999:7:::");
    }

    #[test]
    fn rewrite_short_and_long_lines() {
        let cases: [(&[u8], &[u8]); 7] = [
            // The old two-field form keeps its form.
            (b"bob:old\n", b"bob:NEW\n"),
            (b"bob:\n", b"bob:NEW\n"),
            (b"bob:old", b"bob:NEW"),
            // Three fields, the date empty or the last one.
            (b"bob:old:\n", b"bob:NEW:42\n"),
            (b"bob:old:17", b"bob:NEW:42"),
            // An empty date in a full line (busybox's adduser leaves none).
            (b"bob:!::0:99999:7:::\n", b"bob:NEW:42:0:99999:7:::\n"),
            // Fields beyond the ninth are kept.
            (
                b"bob:old:1:2:3:4:5:6:7:extra:more\n",
                b"bob:NEW:42:2:3:4:5:6:7:extra:more\n",
            ),
        ];
        for (shadow, expected) in cases {
            let (found, out) = rewrite(shadow, b"bob", b"NEW", 42);
            assert!(found, "{}", shadow.escape_ascii());
            assert_eq!(out, expected, "{}", shadow.escape_ascii());
        }
    }

    #[test]
    fn rewrite_changes_only_the_first_line_of_a_user() {
        let shadow = b"bob:one:1:::::: \nbob:two:2::::::\n";
        let (found, out) = rewrite(shadow, b"bob", b"NEW", 9);
        assert!(found);
        assert_eq!(out, b"bob:NEW:9:::::: \nbob:two:2::::::\n");
    }

    #[test]
    fn rewrite_without_the_user_emits_the_file_unchanged() {
        let (found, out) = rewrite(SHADOW, b"alice", b"NEW", 1);
        assert!(!found);
        assert_eq!(out, SHADOW);
        for shadow in [
            &b""[..],
            b"\n",
            b"bob",
            b"bob\n",
            b"#bob:x:1::::::\n",
            b"+bob:x:1::::::",
        ] {
            let (found, out) = rewrite(shadow, b"bob", b"NEW", 1);
            assert!(!found, "{}", shadow.escape_ascii());
            assert_eq!(out, shadow);
        }
    }

    #[test]
    fn rewrite_refuses_values_that_would_break_the_line() {
        for (user, hash) in [
            (&b"bob"[..], &b"new:hash"[..]),
            (b"bob", b"new\nroot::0:::::"),
            (b"bob:$6$oldsalt$oldhash", b"x"),
            (b"bob\nroot", b"x"),
            (b"", b"x"),
        ] {
            let (found, out) = rewrite(SHADOW, user, hash, 1);
            assert!(!found, "{} {}", user.escape_ascii(), hash.escape_ascii());
            assert_eq!(out, SHADOW);
        }
        // An empty hash is a field (a password-less account): the caller's decision.
        let (found, out) = rewrite(b"bob:x:1:::::\n", b"bob", b"", 2);
        assert!(found);
        assert_eq!(out, b"bob::2:::::\n");
    }

    #[test]
    fn rewrite_stops_at_the_first_write_error() {
        let mut calls = 0;
        let result = rewrite_password(SHADOW, b"bob", b"NEW", Some(1), &mut |_: &[u8]| {
            calls += 1;
            Err("disk full")
        });
        assert_eq!(result, Err("disk full"));
        assert_eq!(calls, 1);
    }

    #[test]
    fn days_in_decimal() {
        let (_, out) = rewrite(b"bob:x:1:\n", b"bob", b"y", 0);
        assert_eq!(out, b"bob:y:0:\n");
    }

    #[test]
    fn a_passwd_line_changes_its_password_field_only() {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh";
        let mut out = Vec::new();
        let found = rewrite_password(passwd, b"bob", b"$6$s$h", None, &mut |b: &[u8]| {
            out.extend_from_slice(b);
            Ok::<(), ()>(())
        });
        assert_eq!(found, Ok(true));
        assert_eq!(
            out,
            b"root:x:0:0:root:/root:/bin/sh\nbob:$6$s$h:1000:1000::/home/bob:/bin/sh"
        );
    }
}
