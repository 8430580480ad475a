//! GLib "key file" syntax, the format of `qemu-ga.conf`: `[group]` headers, `key=value`
//! lines, `#` comments, and GLib's value escapes (`\s \n \t \r \\`). Only what qemu-ga
//! reads is supported; locale-suffixed keys (`key[de]=`) are ignored like unknown keys.

/// Why a key file could not be read, with GLib's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFileError<'t> {
    /// `Key file contains line “...” which is not a key-value pair, group, or comment`
    BadLine(&'t [u8]),
    /// `Key file does not start with a group`
    NoGroup,
}

impl core::fmt::Display for KeyFileError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyFileError::BadLine(line) => {
                f.write_str("Key file contains line \u{201c}")?;
                crate::text::write_lossy(f, line)?;
                f.write_str("\u{201d} which is not a key-value pair, group, or comment")
            }
            KeyFileError::NoGroup => f.write_str("Key file does not start with a group"),
        }
    }
}

/// Calls `f(group, key, value)` for every entry, in file order. Values are unescaped in
/// place, so the returned slices point into `text`.
pub fn parse<'t>(
    text: &'t mut [u8],
    mut f: impl FnMut(&'t [u8], &'t [u8], &'t [u8]),
) -> Result<(), KeyFileError<'t>> {
    entries(text, None, |group, key, value| {
        f(group, key, unescape(value))
    })
}

/// The line walk under [`parse`]: calls `f(group, key, raw value)` (not unescaped, as GLib's
/// `g_key_file_get_value` returns it). `implicit_group` is in force before the first
/// `[group]` line; qemu-ga reads os-release, which has none, by prepending one.
pub fn entries<'t>(
    text: &'t mut [u8],
    implicit_group: Option<&'t [u8]>,
    mut f: impl FnMut(&'t [u8], &'t [u8], &'t mut [u8]),
) -> Result<(), KeyFileError<'t>> {
    let mut group = implicit_group;
    for line in text.split_mut(|&b| b == b'\n') {
        let line = trim_start(line);
        let line = match line.last() {
            Some(b'\r') => {
                let n = line.len() - 1;
                &mut line[..n]
            }
            _ => line,
        };
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        if line[0] == b'[' {
            let line: &'t [u8] = line;
            match line.iter().position(|&b| b == b']') {
                Some(close) if line[close + 1..].iter().all(u8::is_ascii_whitespace) => {
                    group = Some(&line[1..close]);
                    continue;
                }
                _ => return Err(KeyFileError::BadLine(line)),
            }
        }
        let Some(eq) = line.iter().position(|&b| b == b'=') else {
            return Err(KeyFileError::BadLine(line));
        };
        let (key, value) = line.split_at_mut(eq);
        let key: &'t [u8] = trim_end(key);
        let value = trim_start(&mut value[1..]);
        let Some(group) = group else {
            return Err(KeyFileError::NoGroup);
        };
        if key.is_empty() || key.contains(&b'[') {
            continue;
        }
        f(group, key, value);
    }
    Ok(())
}

fn trim_start(s: &mut [u8]) -> &mut [u8] {
    let skip = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &mut s[skip..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let keep = s.len()
        - s.iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    &s[..keep]
}

/// GLib's escapes, in place: the result is never longer than the input.
fn unescape(value: &mut [u8]) -> &mut [u8] {
    let mut out = 0;
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        i += 1;
        let plain = if b == b'\\' && i < value.len() {
            i += 1;
            match value[i - 1] {
                b's' => b' ',
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                other => other,
            }
        } else {
            b
        };
        value[out] = plain;
        out += 1;
    }
    &mut value[..out]
}

/// GLib's boolean syntax: `true`/`false`/`1`/`0`, trailing blanks allowed.
pub fn parse_bool(value: &[u8]) -> Option<bool> {
    match trim_end(value) {
        b"true" | b"1" => Some(true),
        b"false" | b"0" => Some(false),
        _ => None,
    }
}

/// Writes a value escaped the way `g_key_file_set_string` stores it: spaces and tabs are
/// escaped (`\s`, `\t`) only while they lead the value (a newline or carriage return
/// leaves the lead going, anything else ends it), newlines, carriage returns and
/// backslashes everywhere. The bytes between escapes are written as runs, so a UTF-8
/// character stays whole (byte by byte, each byte of it would be invalid alone and come
/// out as U+FFFD); invalid UTF-8 is shown lossily.
pub fn write_escaped(out: &mut dyn core::fmt::Write, value: &[u8]) -> core::fmt::Result {
    let mut plain = 0;
    let mut leading = true;
    for (i, &b) in value.iter().enumerate() {
        let escape = match b {
            b' ' if leading => "\\s",
            b'\t' if leading => "\\t",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\\' => {
                leading = false;
                "\\\\"
            }
            _ => {
                leading = false;
                continue;
            }
        };
        crate::text::write_lossy(out, &value[plain..i])?;
        out.write_str(escape)?;
        plain = i + 1;
    }
    crate::text::write_lossy(out, &value[plain..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Result<Vec<(String, String, String)>, String> {
        let mut buf = text.as_bytes().to_vec();
        let mut out = Vec::new();
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        parse(&mut buf, |g, k, v| out.push((s(g), s(k), s(v)))).map_err(|e| e.to_string())?;
        Ok(out)
    }

    #[test]
    fn groups_keys_comments_and_blanks() {
        let got =
            entries("# comment\n\n[general]\nmethod = unix-listen\r\nverbose=true\n[other]\nx=1")
                .unwrap();
        let want = [
            ("general", "method", "unix-listen"),
            ("general", "verbose", "true"),
            ("other", "x", "1"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn escapes_are_glibs() {
        let got = entries("[g]\np=\\sa\\\\b\\tc").unwrap();
        assert_eq!(got[0].2, " a\\b\tc");
    }

    #[test]
    fn errors_are_glibs() {
        assert_eq!(
            entries("[general\n").unwrap_err(),
            "Key file contains line \u{201c}[general\u{201d} which is not a key-value pair, group, or comment"
        );
        assert_eq!(
            entries("foo=bar\n").unwrap_err(),
            "Key file does not start with a group"
        );
        assert!(entries("[g]\njunk\n").is_err());
    }

    #[test]
    fn escaped_values_read_back() {
        // Found by the keyfile fuzz target: a value with a non-ASCII character was written
        // (by --dump-conf) with U+FFFD for each of its bytes.
        for value in [
            " /var/log/qemu ga.log",
            "/srv/gu\u{e9}st\tlog\\\n",
            "\u{1f600}",
            "",
        ] {
            let mut text = String::from("[g]\nk=");
            write_escaped(&mut text, value.as_bytes()).unwrap();
            assert_eq!(
                entries(&text).unwrap(),
                [("g".into(), "k".into(), value.into())]
            );
        }
        let mut text = String::new();
        write_escaped(&mut text, b"a\xffb").unwrap();
        assert_eq!(text, "a\u{fffd}b");
        // GLib escapes blanks only while they lead (qemu-ga 7.2's -D, measured).
        for (value, written) in [
            ("\t \tx\ty  z\n\r", "\\t\\s\\tx\ty  z\\n\\r"),
            ("\n x", "\\n\\sx"),
            ("\\ x", "\\\\ x"),
            ("x\n y", "x\\n y"),
            ("caf\u{e9} \u{e9}", "caf\u{e9} \u{e9}"),
        ] {
            let mut text = String::new();
            write_escaped(&mut text, value.as_bytes()).unwrap();
            assert_eq!(text, written, "{value:?}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"true "), Some(true));
        assert_eq!(parse_bool(b"0"), Some(false));
        assert_eq!(parse_bool(b"yes"), None);
        assert_eq!(parse_bool(b"TRUE"), None);
    }
}
