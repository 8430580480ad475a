//! One connection to an agent: requests out, reply lines in (a buffer that grows to the
//! largest reply and is scanned once), plus the few JSON and base64 pieces the workloads
//! need. No JSON parser: a reply is checked by its prefix, and single members are found
//! by name (enough for the flat objects of guest-file-read/-write and guest-exec).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

pub type R<T> = Result<T, Box<dyn std::error::Error>>;

pub struct Client {
    stream: UnixStream,
    buf: Vec<u8>,
    /// Bytes of `buf` holding data.
    filled: usize,
    /// Start of the unread data (the previous line ends before it).
    head: usize,
}

impl Client {
    pub fn connect(path: &Path) -> io::Result<Client> {
        Ok(Client::new(UnixStream::connect(path)?))
    }

    pub fn new(stream: UnixStream) -> Client {
        stream
            .set_read_timeout(Some(Duration::from_secs(300)))
            .expect("set_read_timeout");
        Client {
            stream,
            buf: vec![0; 1 << 16],
            filled: 0,
            head: 0,
        }
    }

    pub fn send(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request)
    }

    /// The next reply line, without its `\n`.
    pub fn line(&mut self) -> io::Result<&[u8]> {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.filled, 0);
            self.filled -= self.head;
            self.head = 0;
        }
        let mut scanned = 0;
        loop {
            if let Some(i) = find_newline(&self.buf[scanned..self.filled]) {
                let end = scanned + i;
                self.head = end + 1;
                return Ok(&self.buf[..end]);
            }
            scanned = self.filled;
            if self.filled == self.buf.len() {
                let grown = self.buf.len() * 2;
                self.buf.resize(grown, 0);
            }
            match self.stream.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the agent closed the connection",
                    ));
                }
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends `request` and returns the reply line.
    pub fn call(&mut self, request: &[u8]) -> io::Result<&[u8]> {
        self.send(request)?;
        self.line()
    }

    /// Like [`Client::call`], but the reply must be a success (`{"return"...`).
    pub fn ok(&mut self, request: &[u8]) -> R<&[u8]> {
        let line = self.call(request)?;
        expect_return(line, request)?;
        Ok(line)
    }
}

/// Where the first `\n` is, eight bytes a step (a 48 MiB read's reply is a 64 MiB line,
/// scanned while the round trip is timed: a byte loop would make the client the limit).
fn find_newline(text: &[u8]) -> Option<usize> {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let (words, tail) = text.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ (u64::from(b'\n') * 0x0101_0101_0101_0101);
        let newlines = !(((x & LOW7) + LOW7) | x | LOW7);
        if newlines != 0 {
            return Some(i * 8 + (newlines.trailing_zeros() / 8) as usize);
        }
    }
    let at = words.len() * 8;
    tail.iter().position(|&b| b == b'\n').map(|i| at + i)
}

/// Errors unless `line` is a success reply.
pub fn expect_return(line: &[u8], request: &[u8]) -> R<()> {
    if line.starts_with(b"{\"return\"") {
        Ok(())
    } else {
        Err(format!(
            "{} -> {}",
            String::from_utf8_lossy(request).trim_end(),
            shorten(line)
        )
        .into())
    }
}

/// The first 300 bytes of a line, for messages.
pub fn shorten(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned();
    if line.len() > 300 {
        format!("{text}... ({} bytes)", line.len())
    } else {
        text
    }
}

/// The value of member `key` (first occurrence), from its first byte on.
fn member<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let pattern = format!("\"{key}\"");
    let at = line
        .windows(pattern.len())
        .position(|w| w == pattern.as_bytes())?;
    let mut rest = &line[at + pattern.len()..];
    while let [b' ' | b':', tail @ ..] = rest {
        rest = tail;
    }
    Some(rest)
}

/// The unsigned number in member `key`.
pub fn number(line: &[u8], key: &str) -> Option<u64> {
    let value = member(line, key)?;
    let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&value[..digits]).ok()?.parse().ok()
}

/// The boolean in member `key`.
pub fn boolean(line: &[u8], key: &str) -> Option<bool> {
    let value = member(line, key)?;
    if value.starts_with(b"true") {
        Some(true)
    } else if value.starts_with(b"false") {
        Some(false)
    } else {
        None
    }
}

/// The raw bytes of string member `key` (base64 holds no escapes besides a possible `\/`).
pub fn string<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let value = member(line, key)?.strip_prefix(b"\"")?;
    let end = value.iter().position(|&b| b == b'"')?;
    Some(&value[..end])
}

/// How many elements the array after `"return": ` has (0 when it is not an array).
pub fn array_len(line: &[u8]) -> usize {
    let Some(value) = member(line, "return") else {
        return 0;
    };
    if value.first() != Some(&b'[') {
        return 0;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut items = 0;
    for &b in value {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                if depth == 1 && items == 0 {
                    items = 1;
                }
                depth += 1;
            }
            b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            b',' if depth == 1 => items += 1,
            b' ' | b'\n' => {}
            _ if depth == 1 && items == 0 => items = 1,
            _ => {}
        }
    }
    items
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    let mut chunks = bytes.chunks_exact(3);
    for c in &mut chunks {
        let n = (c[0] as u32) << 16 | (c[1] as u32) << 8 | c[2] as u32;
        out.extend_from_slice(&[
            B64[(n >> 18) as usize & 63],
            B64[(n >> 12) as usize & 63],
            B64[(n >> 6) as usize & 63],
            B64[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = (a as u32) << 16;
            out.extend_from_slice(&[B64[(n >> 18) as usize], B64[(n >> 12) as usize & 63]]);
            out.extend_from_slice(b"==");
        }
        [a, b] => {
            let n = (a as u32) << 16 | (b as u32) << 8;
            out.extend_from_slice(&[
                B64[(n >> 18) as usize],
                B64[(n >> 12) as usize & 63],
                B64[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
    String::from_utf8(out).expect("base64 is ASCII")
}

/// Decodes standard base64 into `out` (cleared first); `\` (of a `\/` escape) is skipped.
pub fn b64_decode(text: &[u8], out: &mut Vec<u8>) -> R<()> {
    let mut value = [255u8; 256];
    for (i, &c) in B64.iter().enumerate() {
        value[c as usize] = i as u8;
    }
    // The leading groups of four plain characters, three bytes each, in a tight loop (the
    // client must not be what limits guest-file-read); what follows (the padded last
    // group, escapes such as `\/`) one character at a time.
    let (groups, _) = text.as_chunks::<4>();
    let plain = groups
        .iter()
        .take_while(|group| group.iter().all(|&c| value[c as usize] < 64))
        .count();
    out.clear();
    out.resize(plain * 3, 0);
    for (bytes, group) in out.as_chunks_mut::<3>().0.iter_mut().zip(groups) {
        let [a, b, c, d] = group.map(|c| value[c as usize] as u32);
        let v = a << 18 | b << 12 | c << 6 | d;
        *bytes = [(v >> 16) as u8, (v >> 8) as u8, v as u8];
    }
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in &text[plain * 4..] {
        match value[c as usize] {
            255 if c == b'=' || c == b'\\' => {}
            255 => return Err(format!("bad base64 byte {c:#04x}").into()),
            v => {
                acc = acc << 6 | v as u32;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_are_found_anywhere() {
        for len in 0..40 {
            let mut text = vec![b'a'; len];
            assert_eq!(find_newline(&text), None);
            for at in 0..len {
                text[at] = b'\n';
                assert_eq!(find_newline(&text), Some(at));
                text[at] = 0x8A;
            }
        }
    }

    #[test]
    fn base64_round_trip() {
        for len in 0..40 {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let mut back = Vec::new();
            b64_decode(b64_encode(&data).as_bytes(), &mut back).unwrap();
            assert_eq!(back, data);
            // As a JSON writer that escapes '/' sends it.
            let escaped = b64_encode(&data).replace('/', "\\/");
            b64_decode(escaped.as_bytes(), &mut back).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn members() {
        let line = br#"{"return": {"count": 12, "buf-b64": "YWJj", "eof": false}}"#;
        assert_eq!(number(line, "count"), Some(12));
        assert_eq!(string(line, "buf-b64"), Some(&b"YWJj"[..]));
        assert_eq!(boolean(line, "eof"), Some(false));
        assert_eq!(array_len(br#"{"return": []}"#), 0);
        assert_eq!(array_len(br#"{"return": [{"a": [1, 2]}, {"b": "],"}]}"#), 2);
        assert_eq!(array_len(br#"{"return": [1]}"#), 1);
    }
}
