//! Text helpers every layer may use: pure functions over bytes and `core::fmt`, no I/O and
//! no operating system (the bottom layer, beside `sys`).

#![forbid(unsafe_code)]

/// Writes bytes as text, each invalid UTF-8 byte as U+FFFD (as qemu-ga quotes bad tokens).
pub fn write_lossy(f: &mut dyn core::fmt::Write, mut bytes: &[u8]) -> core::fmt::Result {
    while !bytes.is_empty() {
        match core::str::from_utf8(bytes) {
            Ok(s) => return f.write_str(s),
            Err(e) => {
                let (good, rest) = bytes.split_at(e.valid_up_to());
                f.write_str(core::str::from_utf8(good).unwrap_or_default())?;
                f.write_char('\u{FFFD}')?;
                let skip = e.error_len().unwrap_or(rest.len()).max(1);
                bytes = rest.get(skip..).unwrap_or_default();
            }
        }
    }
    Ok(())
}

/// Bytes shown as text in messages (`format!("{}", Lossy(path))`), lossily as
/// [`write_lossy`] writes them.
pub struct Lossy<'b>(pub &'b [u8]);

impl core::fmt::Display for Lossy<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write_lossy(f, self.0)
    }
}

/// Decimal digits of `n` at the end of `buf`.
pub fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

/// A fixed-capacity `fmt::Write` target; output beyond the capacity is cut off.
pub struct FmtBuf<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> FmtBuf<N> {
    pub const fn new() -> Self {
        FmtBuf {
            buf: [0; N],
            len: 0,
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<const N: usize> core::fmt::Display for FmtBuf<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write_lossy(f, self.as_bytes())
    }
}

impl<const N: usize> Default for FmtBuf<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Write for FmtBuf<N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N - self.len;
        let take = s.len().min(room);
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if take < s.len() {
            Err(core::fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// Where the first `byte` in `haystack` is. Eight bytes a step: long kernel tables
/// (mountinfo lines, thousands of them) are split on spaces and newlines this way.
pub fn find_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let (words, tail) = haystack.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let found = matching_bytes(u64::from_le_bytes(*word), byte);
        if found != 0 {
            return Some(i * 8 + (found.trailing_zeros() / 8) as usize);
        }
    }
    let at = words.len() * 8;
    tail.iter().position(|&b| b == byte).map(|i| at + i)
}

/// Where the last `byte` in `haystack` is.
pub fn rfind_byte(haystack: &[u8], byte: u8) -> Option<usize> {
    let (head, words) = haystack.as_rchunks::<8>();
    for (i, word) in words.iter().enumerate().rev() {
        let found = matching_bytes(u64::from_le_bytes(*word), byte);
        if found != 0 {
            return Some(head.len() + i * 8 + 7 - (found.leading_zeros() / 8) as usize);
        }
    }
    head.iter().rposition(|&b| b == byte)
}

/// How many times `byte` is in `haystack`.
pub fn count_byte(haystack: &[u8], byte: u8) -> usize {
    let (words, tail) = haystack.as_chunks::<8>();
    let whole: usize = words
        .iter()
        .map(|word| matching_bytes(u64::from_le_bytes(*word), byte).count_ones() as usize)
        .sum();
    whole + tail.iter().filter(|&&b| b == byte).count()
}

/// The directory a path's last component is in, for a path without a trailing slash:
/// `/etc/os-release` -> `/etc`, `/dev` -> `/`, `name` -> `.` (as dirname(3) gives them).
pub fn dirname(path: &[u8]) -> &[u8] {
    match path.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/",
        Some(slash) => &path[..slash],
        None => b".",
    }
}

/// 0x80 in each byte of `word` that equals `byte`, 0 in the others (exactly: no carry
/// crosses from one byte into the next).
fn matching_bytes(word: u64, byte: u8) -> u64 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let x = word ^ (u64::from(byte) * 0x0101_0101_0101_0101);
    !(((x & LOW7) + LOW7) | x | LOW7)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::fmt::Write as _;

    fn lossy(bytes: &[u8]) -> String {
        let mut out = String::new();
        write_lossy(&mut out, bytes).unwrap();
        out
    }

    #[test]
    fn byte_search_agrees_with_a_plain_scan() {
        // Every length up to five words, the byte at every place, and the neighbours that
        // a carry between the bytes of a word would confuse (0x00, 0x7F, 0x80, 0xFF).
        for needle in [b' ', b'\n', 0x00, 0x7F, 0x80, 0xFF] {
            for len in 0..41usize {
                for filler in [
                    b'a',
                    needle.wrapping_add(1),
                    needle.wrapping_sub(1),
                    0x80,
                    0xFF,
                ] {
                    if filler == needle {
                        continue;
                    }
                    let mut text = vec![filler; len];
                    let plain = |t: &[u8]| {
                        (
                            t.iter().position(|&b| b == needle),
                            t.iter().rposition(|&b| b == needle),
                            t.iter().filter(|&&b| b == needle).count(),
                        )
                    };
                    let fast = |t: &[u8]| {
                        (
                            find_byte(t, needle),
                            rfind_byte(t, needle),
                            count_byte(t, needle),
                        )
                    };
                    assert_eq!(fast(&text), plain(&text));
                    for at in 0..len {
                        text[at] = needle;
                        assert_eq!(fast(&text), plain(&text), "{needle} at {at} of {len}");
                        for other in at + 1..len {
                            text[other] = needle;
                            assert_eq!(fast(&text), plain(&text), "{at} and {other} of {len}");
                            text[other] = filler;
                        }
                        text[at] = filler;
                    }
                }
            }
        }
    }

    #[test]
    fn invalid_utf8_bytes_become_replacement_characters() {
        assert_eq!(lossy(b"plain"), "plain");
        assert_eq!(lossy("gu\u{e9}".as_bytes()), "gu\u{e9}");
        assert_eq!(lossy(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(lossy(b"\xc3"), "\u{FFFD}");
        assert_eq!(lossy(b"\xe2\x82x"), "\u{FFFD}x");
        assert_eq!(lossy(b""), "");
    }

    #[test]
    fn decimal_digits() {
        let mut buf = [0u8; 20];
        assert_eq!(format_u64(0, &mut buf), b"0");
        assert_eq!(format_u64(4711, &mut buf), b"4711");
        assert_eq!(format_u64(u64::MAX, &mut buf), b"18446744073709551615");
    }

    #[test]
    fn fmt_buf_cuts_at_its_capacity() {
        let mut text = FmtBuf::<8>::new();
        assert!(write!(text, "{}", 1234).is_ok());
        assert_eq!(text.as_bytes(), b"1234");
        assert!(write!(text, "56789").is_err());
        assert_eq!(text.as_bytes(), b"12345678");
        text.clear();
        assert_eq!(text.as_bytes(), b"");
        // A character cut at the end is shown as U+FFFD.
        let mut cut = FmtBuf::<4>::new();
        assert!(cut.write_str("abc\u{e9}").is_err());
        assert_eq!(cut.to_string(), "abc\u{FFFD}");
    }

    #[test]
    fn dirname_as_dirname_3() {
        for (path, dir) in [
            (&b"/etc/os-release"[..], &b"/etc"[..]),
            (b"/dev", b"/"),
            (b"a/b/c", b"a/b"),
            (b"name", b"."),
        ] {
            assert_eq!(dirname(path), dir);
        }
    }
}
