//! The response writer: compact one-line JSON in qemu-ga's style (`": "` and `", "`
//! separators, every string 7-bit ASCII with `\uXXXX` in upper-case hex, surrogate pairs
//! above the BMP, invalid UTF-8 as `\uFFFD`), streamed to an [`Output`] piece by piece so
//! that no response is ever held whole in memory.

use super::base64::Encoder;
use super::json::Unescaped;
use crate::text::format_u64;

/// Where response bytes go. Implementations buffer and send; a peer that went away is
/// remembered by the implementation, which then drops further bytes (a response is never
/// half-retried on a new connection).
///
/// A response is begun with [`Output::begin_response`]. Until its bytes first leave the
/// buffer it can be taken back with [`Output::withdraw`], so a command that fails after it
/// started writing its answer still sends a clean error instead.
pub trait Output {
    /// Appends bytes to the response being written.
    fn put(&mut self, bytes: &[u8]);
    /// The response is complete: send what is buffered.
    fn flush(&mut self) {}
    /// True once the peer is gone; what is still queued for it should be dropped.
    fn closed(&self) -> bool {
        false
    }
    /// Marks where a response starts.
    fn begin_response(&mut self);
    /// Drops everything written since [`Output::begin_response`], if none of it has been
    /// sent yet; false when some of it already left.
    fn withdraw(&mut self) -> bool;
}

/// How many nesting levels the writer tracks. The agent's answers nest a few levels deep
/// (6 in guest-get-fsinfo: response, list, file system, disks, disk, PCI address); an
/// echoed request `id` is written by [`JsonWriter::json_text`], which needs none.
const LEVELS: usize = 64;

/// Writes JSON structure with separators placed automatically.
///
/// Strings can also be written in pieces, as text ([`JsonWriter::begin_str`],
/// [`JsonWriter::str_piece`]) or as base64 of a byte stream ([`JsonWriter::begin_base64`],
/// [`JsonWriter::base64_piece`]), so a value of any size passes through the fixed output
/// buffer.
pub struct JsonWriter<'o> {
    out: &'o mut dyn Output,
    /// Bit per level: has this object or array had an entry yet?
    nonempty: [u64; LEVELS / 64],
    /// Bit per level: is it an array (else an object)?
    arrays: [u64; LEVELS / 64],
    depth: usize,
    /// A key was just written: the next value needs no separator.
    after_key: bool,
    /// The string being written in pieces, if any.
    open_string: Option<OpenString>,
}

/// A string written in pieces.
enum OpenString {
    /// Text: the start of a UTF-8 sequence split between pieces.
    Text {
        carry: [u8; 3],
        len: usize,
    },
    Base64(Encoder),
}

impl<'o> JsonWriter<'o> {
    pub fn new(out: &'o mut dyn Output) -> JsonWriter<'o> {
        JsonWriter {
            out,
            nonempty: [0; LEVELS / 64],
            arrays: [0; LEVELS / 64],
            depth: 0,
            after_key: false,
            open_string: None,
        }
    }

    /// The output underneath, for framing (begin, withdraw, flush).
    pub fn out(&mut self) -> &mut dyn Output {
        &mut *self.out
    }

    /// How deep in objects and arrays the writer is.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Ends whatever is open (a string in pieces, a member without its value, objects and
    /// arrays) until `depth` levels remain: the way out of a value that cannot be finished.
    pub fn close_to(&mut self, depth: usize) {
        match self.open_string {
            Some(OpenString::Base64(_)) => self.end_base64(),
            Some(OpenString::Text { .. }) => self.end_str(),
            None => {}
        }
        if self.after_key {
            self.null();
        }
        while self.depth > depth {
            let level = self.depth;
            let is_array = self
                .arrays
                .get(level / 64)
                .is_some_and(|w| w & (1 << (level % 64)) != 0);
            self.close(if is_array { b"]" } else { b"}" });
        }
    }

    /// Raw bytes, bypassing structure (framing bytes such as the final newline).
    pub fn raw(&mut self, bytes: &[u8]) {
        self.out.put(bytes);
    }

    fn flag(&mut self, level: usize) -> Option<&mut u64> {
        self.nonempty.get_mut(level / 64)
    }

    /// Writes ", " before a value or key when its container already has entries.
    fn separate(&mut self) {
        if self.needs_separator() {
            self.out.put(b", ");
        }
    }

    /// The `"` that opens a string or a name, joined to the ", " before it when its
    /// container already has entries (one piece, not two).
    fn open_quote(&mut self) {
        let open: &[u8] = if self.needs_separator() {
            b", \""
        } else {
            b"\""
        };
        self.out.put(open);
    }

    /// Whether ", " goes before the next value or key (its container already has
    /// entries); notes that it has one now.
    fn needs_separator(&mut self) -> bool {
        if self.after_key {
            self.after_key = false;
            return false;
        }
        if self.depth == 0 {
            return false;
        }
        let level = self.depth;
        let bit = 1u64 << (level % 64);
        match self.flag(level) {
            Some(word) => {
                let had = *word & bit != 0;
                *word |= bit;
                had
            }
            None => false,
        }
    }

    fn open(&mut self, bracket: &[u8]) {
        self.separate();
        self.out.put(bracket);
        self.depth += 1;
        let level = self.depth;
        let bit = 1u64 << (level % 64);
        if let Some(word) = self.flag(level) {
            *word &= !bit;
        }
        if let Some(word) = self.arrays.get_mut(level / 64) {
            if bracket == b"[" {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
    }

    fn close(&mut self, bracket: &[u8]) {
        self.out.put(bracket);
        self.depth = self.depth.saturating_sub(1);
    }

    pub fn begin_object(&mut self) {
        self.open(b"{");
    }
    pub fn end_object(&mut self) {
        self.close(b"}");
    }
    pub fn begin_array(&mut self) {
        self.open(b"[");
    }
    pub fn end_array(&mut self) {
        self.close(b"]");
    }

    /// An object member's name; the member's value is written next.
    pub fn key(&mut self, name: &str) {
        // The separator and the quotes go with the name's neighbours: three pieces a name.
        self.open_quote();
        escape_into(&mut *self.out, name.as_bytes());
        self.out.put(b"\": ");
        self.after_key = true;
    }

    pub fn str(&mut self, text: &str) {
        self.bytes_as_str(text.as_bytes());
    }

    /// Starts a string whose text follows in [`JsonWriter::str_piece`]s; a UTF-8 sequence
    /// may be split between pieces.
    pub fn begin_str(&mut self) {
        self.open_quote();
        self.open_string = Some(OpenString::Text {
            carry: [0; 3],
            len: 0,
        });
    }

    /// More text of the string begun with [`JsonWriter::begin_str`].
    pub fn str_piece(&mut self, mut text: &[u8]) {
        let Some(OpenString::Text { carry, len }) = &mut self.open_string else {
            return;
        };
        // First finish a sequence the previous piece left unfinished.
        while *len > 0 {
            let Some(&next) = text.first() else {
                return;
            };
            let mut joined = [0u8; 4];
            joined[..*len].copy_from_slice(&carry[..*len]);
            joined[*len] = next;
            match utf8_prefix_state(&joined[..*len + 1]) {
                Prefix::Incomplete => {
                    carry[*len] = next;
                    *len += 1;
                    text = &text[1..];
                }
                Prefix::Complete => {
                    escape_into(&mut *self.out, &joined[..*len + 1]);
                    text = &text[1..];
                    *len = 0;
                }
                // The carried bytes never became a character; `next` starts afresh.
                Prefix::Invalid => {
                    escape_into(&mut *self.out, &carry[..*len]);
                    *len = 0;
                }
            }
        }
        // Keep an unfinished sequence at the end for the next piece.
        let keep = incomplete_tail(text);
        let (body, tail) = text.split_at(text.len() - keep);
        escape_into(&mut *self.out, body);
        carry[..keep].copy_from_slice(tail);
        *len = keep;
    }

    /// Ends the string begun with [`JsonWriter::begin_str`].
    pub fn end_str(&mut self) {
        if let Some(OpenString::Text { carry, len }) = self.open_string.take() {
            escape_into(&mut *self.out, &carry[..len]);
            self.out.put(b"\"");
        }
    }

    /// Starts a string holding the base64 of bytes that follow in
    /// [`JsonWriter::base64_piece`]s.
    pub fn begin_base64(&mut self) {
        self.open_quote();
        self.open_string = Some(OpenString::Base64(Encoder::new()));
    }

    /// More bytes for the base64 string begun with [`JsonWriter::begin_base64`].
    pub fn base64_piece(&mut self, bytes: &[u8]) {
        if let Some(OpenString::Base64(encoder)) = &mut self.open_string {
            let out = &mut *self.out;
            encoder.push(bytes, &mut |text| out.put(text));
        }
    }

    /// Pads and ends the base64 string.
    pub fn end_base64(&mut self) {
        if let Some(OpenString::Base64(mut encoder)) = self.open_string.take() {
            let out = &mut *self.out;
            encoder.finish(&mut |text| out.put(text));
            self.out.put(b"\"");
        }
    }

    /// A whole byte string as base64.
    pub fn base64(&mut self, bytes: &[u8]) {
        self.begin_base64();
        self.base64_piece(bytes);
        self.end_base64();
    }

    /// A string from bytes that may not be UTF-8 (file names, kernel strings): invalid
    /// sequences become U+FFFD, as qemu-ga writes them.
    pub fn bytes_as_str(&mut self, text: &[u8]) {
        self.open_quote();
        escape_into(&mut *self.out, text);
        self.out.put(b"\"");
    }

    pub fn int(&mut self, n: i64) {
        self.separate();
        let mut buf = [0u8; 20];
        let text = format_u64(n.unsigned_abs(), &mut buf);
        if n < 0 {
            self.out.put(b"-");
        }
        self.out.put(text);
    }

    pub fn uint(&mut self, n: u64) {
        self.separate();
        let mut buf = [0u8; 20];
        let text = format_u64(n, &mut buf);
        self.out.put(text);
    }

    /// A number given as decimal text (e.g. read from the kernel: "0.52"). Text that is
    /// not a JSON number is written as 0, so the response stays valid JSON.
    ///
    /// (Numbers are never formatted from floating point: `core`'s float printing would
    /// add a third to the binary, and every fractional value the agent reports comes from
    /// the kernel as decimal text already.)
    pub fn decimal(&mut self, text: &str) {
        self.separate();
        let valid = super::json::is_number(text.as_bytes());
        self.out.put(if valid { text.as_bytes() } else { b"0" });
    }

    pub fn bool(&mut self, b: bool) {
        self.separate();
        self.out.put(if b { b"true" } else { b"false" });
    }

    pub fn null(&mut self) {
        self.separate();
        self.out.put(b"null");
    }

    /// Writes a checked JSON text (a [`Kind::Verbatim`] value: the request `id`, echoed
    /// into its response) in qemu-ga's style: `, ` and `: ` where the text has `,` and
    /// `:`, strings re-escaped, numbers and keywords as sent. The parser has checked the
    /// text, so its own punctuation places the separators and nothing is kept per level:
    /// an id of any size or depth passes in constant memory, and the writer's nesting
    /// (`LEVELS`) need only be as deep as the agent's own answers.
    ///
    /// [`Kind::Verbatim`]: super::json::Kind::Verbatim
    pub fn json_text(&mut self, text: &[u8]) {
        self.separate();
        let mut rest = text;
        while let Some(&b) = rest.first() {
            let used = match b {
                b'{' | b'}' | b'[' | b']' => {
                    self.out.put(&rest[..1]);
                    1
                }
                b',' => {
                    self.out.put(b", ");
                    1
                }
                b':' => {
                    self.out.put(b": ");
                    1
                }
                b'"' | b'\'' => {
                    let len = string_token_len(rest, b);
                    let raw = rest.get(1..len - 1).unwrap_or_default();
                    self.out.put(b"\"");
                    self.open_string = Some(OpenString::Text {
                        carry: [0; 3],
                        len: 0,
                    });
                    let mut piece = [0u8; 64];
                    let mut filled = 0;
                    for byte in Unescaped::new(raw) {
                        piece[filled] = byte;
                        filled += 1;
                        if filled == piece.len() {
                            self.str_piece(&piece);
                            filled = 0;
                        }
                    }
                    self.str_piece(&piece[..filled]);
                    self.end_str();
                    len
                }
                _ if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') => {
                    let len = rest
                        .iter()
                        .position(|&c| {
                            !(c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                        })
                        .unwrap_or(rest.len());
                    self.out.put(&rest[..len]);
                    len
                }
                // White space: the separators above carry their own.
                _ => 1,
            };
            rest = rest.get(used..).unwrap_or_default();
        }
    }
}

/// The length of the string token at the start of `text` (quotes included), which is
/// quoted with `quote`.
fn string_token_len(text: &[u8], quote: u8) -> usize {
    let mut i = 1;
    while let Some(&b) = text.get(i) {
        i += 1;
        if b == quote {
            return i;
        }
        if b == b'\\' {
            i += 1;
        }
    }
    text.len().max(2)
}

/// The bytes that go out as they are inside a string: printable ASCII but `"` and `\\`
/// (a table, because every string of every answer is scanned with it).
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0x20;
    while b < 0x7F {
        plain[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    plain
};

/// Escapes `text` (quotes not included). Runs of plain characters go out in one piece.
fn escape_into(out: &mut dyn Output, text: &[u8]) {
    let mut rest = text;
    while !rest.is_empty() {
        let plain = rest
            .iter()
            .position(|&b| !PLAIN[b as usize])
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(plain);
        out.put(run);
        rest = tail;
        let Some(&b) = rest.first() else { break };
        let short: Option<&[u8]> = match b {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0C => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            _ => None,
        };
        if let Some(escape) = short {
            out.put(escape);
            rest = &rest[1..];
            continue;
        }
        let (cp, used) = decode_utf8(rest);
        rest = rest.get(used..).unwrap_or_default();
        if cp >= 0x10000 {
            let v = cp - 0x10000;
            put_u_escape(out, 0xD800 + (v >> 10));
            put_u_escape(out, 0xDC00 + (v & 0x3FF));
        } else {
            put_u_escape(out, cp);
        }
    }
}

fn put_u_escape(out: &mut dyn Output, unit: u32) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut e = *b"\\u0000";
    for (i, slot) in e[2..].iter_mut().enumerate() {
        *slot = HEX[((unit >> (12 - 4 * i)) & 0xF) as usize];
    }
    out.put(&e);
}

/// How far a byte sequence is from being one UTF-8 character.
#[derive(PartialEq, Eq)]
enum Prefix {
    Complete,
    Incomplete,
    Invalid,
}

fn utf8_prefix_state(bytes: &[u8]) -> Prefix {
    let need = match bytes.first() {
        Some(0x00..=0x7F) => 1,
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return Prefix::Invalid,
    };
    if bytes.len() >= need {
        return match core::str::from_utf8(&bytes[..need]) {
            Ok(_) => Prefix::Complete,
            Err(_) => Prefix::Invalid,
        };
    }
    // Incomplete, unless what is there can already never become valid.
    match core::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => Prefix::Incomplete,
        _ => Prefix::Invalid,
    }
}

/// Length of an unfinished UTF-8 sequence at the end of `text` (0..=3) that the next piece
/// may complete.
fn incomplete_tail(text: &[u8]) -> usize {
    for keep in (1..=3.min(text.len())).rev() {
        let tail = &text[text.len() - keep..];
        if utf8_prefix_state(tail) == Prefix::Incomplete {
            return keep;
        }
    }
    0
}

/// Decodes one UTF-8 sequence at the start of `bytes`: (code point, bytes used); an invalid
/// sequence is U+FFFD for one byte.
fn decode_utf8(bytes: &[u8]) -> (u32, usize) {
    let len = match bytes.first() {
        Some(0x00..=0x7F) => 1,
        Some(0xC2..=0xDF) => 2,
        Some(0xE0..=0xEF) => 3,
        Some(0xF0..=0xF4) => 4,
        _ => return (0xFFFD, 1),
    };
    match bytes.get(..len).and_then(|s| core::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().map_or(0xFFFD, |c| c as u32), len),
        None => (0xFFFD, 1),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Collects output for tests; nothing is ever sent, so a response can always be
    /// withdrawn.
    #[derive(Default)]
    pub struct Collect(pub Vec<u8>, usize);
    impl Output for Collect {
        fn put(&mut self, bytes: &[u8]) {
            self.0.extend_from_slice(bytes);
        }
        fn begin_response(&mut self) {
            self.1 = self.0.len();
        }
        fn withdraw(&mut self) -> bool {
            self.0.truncate(self.1);
            true
        }
    }

    fn write(f: impl FnOnce(&mut JsonWriter)) -> String {
        let mut out = Collect::default();
        f(&mut JsonWriter::new(&mut out));
        String::from_utf8(out.0).unwrap()
    }

    #[test]
    fn separators_are_qemu_style() {
        let text = write(|w| {
            w.begin_object();
            w.key("return");
            w.begin_object();
            w.key("a");
            w.int(-5);
            w.key("b");
            w.begin_array();
            w.bool(true);
            w.null();
            w.uint(u64::MAX);
            w.end_array();
            w.key("c");
            w.begin_object();
            w.end_object();
            w.end_object();
            w.end_object();
        });
        assert_eq!(
            text,
            r#"{"return": {"a": -5, "b": [true, null, 18446744073709551615], "c": {}}}"#
        );
    }

    #[test]
    fn strings_are_ascii_with_upper_case_escapes() {
        assert_eq!(
            write(|w| w.str("gu\u{e9}\"\\\n\u{1}/")),
            r#""gu\u00E9\"\\\n\u0001/""#
        );
        assert_eq!(write(|w| w.str("\u{1F600}")), r#""\uD83D\uDE00""#);
        assert_eq!(write(|w| w.str("\u{7f}")), r#""\u007F""#);
        assert_eq!(
            write(|w| w.bytes_as_str(b"a\xffb\xc3")),
            r#""a\uFFFDb\uFFFD""#
        );
    }

    #[test]
    fn strings_in_pieces_equal_strings_whole() {
        let text: &[u8] = "a\u{e9}\u{20ac}\u{1F600}\"\n".as_bytes();
        let mut samples = vec![text.to_vec(), b"x\xe2\x82y\xff\xf0\x9f\x98".to_vec()];
        samples.push([text, b"\xc3", text, b"\xed\xa0\x80z"].concat());
        for sample in samples {
            let whole = write(|w| w.bytes_as_str(&sample));
            for piece in 1..sample.len() + 1 {
                let pieces = write(|w| {
                    w.begin_str();
                    for chunk in sample.chunks(piece) {
                        w.str_piece(chunk);
                    }
                    w.end_str();
                });
                assert_eq!(pieces, whole, "{sample:?} in pieces of {piece}");
            }
        }
    }

    #[test]
    fn base64_strings_in_pieces() {
        let data: Vec<u8> = (0..=255u8).collect();
        for piece in [1, 2, 5, 100, 256] {
            let text = write(|w| {
                w.begin_array();
                w.begin_base64();
                for chunk in data.chunks(piece) {
                    w.base64_piece(chunk);
                }
                w.end_base64();
                w.base64(b"");
                w.base64(b"ab");
                w.end_array();
            });
            assert!(text.starts_with("[\"AAECAwQF"), "{text}");
            assert!(text.ends_with("+/w==\", \"\", \"YWI=\"]"), "{text}");
        }
    }

    #[test]
    fn close_to_ends_what_is_open() {
        let text = write(|w| {
            w.begin_object();
            w.key("return");
            w.begin_object();
            w.key("list");
            w.begin_array();
            w.begin_object();
            w.key("data");
            w.begin_str();
            w.str_piece(b"cut \xe2\x82");
            w.close_to(1);
            w.end_object();
        });
        assert_eq!(
            text,
            r#"{"return": {"list": [{"data": "cut \uFFFD\uFFFD"}]}}"#
        );
        let text = write(|w| {
            w.begin_object();
            w.key("return");
            w.close_to(1);
            w.end_object();
        });
        assert_eq!(text, r#"{"return": null}"#);
    }

    #[test]
    fn decimals_are_checked_json_numbers() {
        assert_eq!(write(|w| w.decimal("0.52")), "0.52");
        assert_eq!(
            write(|w| w.decimal("1700000000.123456")),
            "1700000000.123456"
        );
        assert_eq!(write(|w| w.decimal("nan")), "0");
        assert_eq!(write(|w| w.decimal(".5")), "0");
    }
}
