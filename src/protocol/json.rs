//! The JSON dialect qemu-ga accepts, parsed into a tree of [`Node`]s in a bounded arena.
//!
//! Beyond RFC 8259 it takes single-quoted strings and the `\'` escape (people type
//! `{'execute':'guest-ping'}` into socat). Like qemu-ga it rejects duplicate keys, invalid
//! UTF-8, lone surrogates and Unicode noncharacters. Strings are unescaped in place in the
//! request buffer (an escape is never shorter than what it stands for), so a parsed
//! document borrows everything and allocates nothing; the arena bounds how many nodes one
//! request may have.

use core::str;

use crate::text::write_lossy;

/// What a node is. (`Null` is 0: an all-zero [`Node`] is valid, so the agent may hand
/// the arena's pages back to the kernel, which returns them zeroed.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Null = 0,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// A value checked but kept as the JSON text it was sent as (the request `id`; see
    /// [`parse`]).
    Verbatim,
}

/// One value. Containers are followed by their children (an object by key, value, key,
/// value, ...); `next` is the index just past the whole subtree.
#[derive(Debug, Clone, Copy)]
pub struct Node {
    kind: Kind,
    /// String or number: where its (unescaped) text is. Bool: `start` is 1 for true.
    start: u32,
    /// String or number: text length. Containers: number of entries (members or elements).
    len: u32,
    next: u32,
}

impl Node {
    pub const EMPTY: Node = Node {
        kind: Kind::Null,
        start: 0,
        len: 0,
        next: 0,
    };
}

/// Why a value could not be parsed; `Display` gives qemu-ga's message text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    ExpectingValue,
    MissingColon,
    KeyNotString,
    SeparatorInDict,
    SeparatorInList,
    DuplicateKey,
    InvalidKeyword(heapless::Vec<u8, 64>),
    Stray(u8),
    InvalidEscape,
    /// A `\u` escape that is malformed, a lone surrogate or a noncharacter; holds the
    /// escape as written (qemu-ga quotes it).
    InvalidUnicode(heapless::Vec<u8, 12>),
    InvalidUtf8,
    TooDeep,
    /// The request has more nodes than the arena holds.
    TooManyTokens,
}

impl core::fmt::Display for ParseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use ParseError::*;
        match self {
            TooDeep => return f.write_str("JSON nesting depth limit exceeded"),
            TooManyTokens => return f.write_str("JSON token count limit exceeded"),
            _ => f.write_str("JSON parse error, ")?,
        }
        match self {
            ExpectingValue => f.write_str("expecting value"),
            MissingColon => f.write_str("missing : in object pair"),
            KeyNotString => f.write_str("key is not a string in object"),
            SeparatorInDict => f.write_str("expected separator in dict"),
            SeparatorInList => f.write_str("expected separator in list"),
            DuplicateKey => f.write_str("duplicate key"),
            InvalidKeyword(word) => {
                f.write_str("invalid keyword '")?;
                write_lossy(f, word)?;
                f.write_str("'")
            }
            Stray(b) => {
                f.write_str("stray '")?;
                write_lossy(f, &[*b])?;
                f.write_str("'")
            }
            InvalidEscape => f.write_str("invalid escape sequence in string"),
            InvalidUnicode(escape) => {
                write_lossy(f, escape)?;
                f.write_str(" is not a valid Unicode character")
            }
            InvalidUtf8 => f.write_str("invalid UTF-8 sequence in string"),
            TooDeep | TooManyTokens => Ok(()),
        }
    }
}

/// A parsed request: the rewritten request text and its nodes.
#[derive(Clone, Copy)]
pub struct Document<'d> {
    text: &'d [u8],
    nodes: &'d [Node],
}

impl<'d> Document<'d> {
    /// How many arena nodes the document holds.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn root(&self) -> Value<'d> {
        Value {
            text: self.text,
            nodes: self.nodes,
            idx: 0,
        }
    }
}

/// The deepest nesting any build can accept: qemu-ga's own limit. A request's nesting is
/// tracked one bit per level, so this costs 128 bytes.
pub const DEPTH_LIMIT: usize = 1024;

/// Parses one complete JSON value. `text` is rewritten in place (strings unescaped);
/// `arena` receives the nodes and bounds their number; `max_depth` (at most
/// [`DEPTH_LIMIT`]) bounds nesting.
///
/// The value of the top-level member named `verbatim` (the request `id`) is only checked,
/// not built: it becomes one [`Kind::Verbatim`] node holding its text as sent, so an id of
/// any length costs no arena. (Objects inside it are built while they are open, for the
/// duplicate-key check, and forgotten when they close.) The parser never recurses.
pub fn parse<'d>(
    text: &'d mut [u8],
    arena: &'d mut [Node],
    max_depth: usize,
    verbatim: Option<&'static str>,
) -> Result<Document<'d>, ParseError> {
    let mut p = Parser {
        text,
        pos: 0,
        nodes: arena,
        used: 0,
        max_depth: max_depth.min(DEPTH_LIMIT),
        containers: Containers::default(),
        open: NONE,
        verbatim_member: verbatim.map(str::as_bytes),
        verbatim_next: false,
        verbatim: None,
        bad_key_at: None,
    };
    p.run()?;
    p.skip_space();
    if p.pos < p.text.len() {
        // The framer hands over exactly one value; anything after it is a grammar error.
        return Err(ParseError::ExpectingValue);
    }
    let Parser {
        text, nodes, used, ..
    } = p;
    Ok(Document {
        text,
        nodes: &nodes[..used],
    })
}

/// No container (the parent link of the root).
const NONE: u32 = u32::MAX;

/// The open containers, innermost last: one bit each, set for an array.
#[derive(Default)]
struct Containers {
    arrays: [u64; DEPTH_LIMIT / 64],
    depth: usize,
}

impl Containers {
    fn push(&mut self, array: bool) {
        let level = self.depth;
        if let Some(word) = self.arrays.get_mut(level / 64) {
            let bit = 1u64 << (level % 64);
            if array {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Whether the innermost open container is an array.
    fn in_array(&self) -> bool {
        let Some(level) = self.depth.checked_sub(1) else {
            return false;
        };
        self.arrays
            .get(level / 64)
            .is_some_and(|w| w & (1 << (level % 64)) != 0)
    }
}

/// The verbatim value being checked.
struct Verbatim {
    start: usize,
    /// Nesting around it: it is complete when a value ends at this depth.
    depth: usize,
    /// Objects open inside it (built while open, for their duplicate-key check).
    objects: usize,
    /// Arena use when it began: its objects' nodes are dropped back to here.
    mark: usize,
}

/// What the grammar allows next.
#[derive(Clone, Copy)]
enum Expect {
    Value,
    /// After `[`: an element or `]`.
    FirstElement,
    /// After `{`: a key or `}`.
    FirstMember,
    /// After `,` in an object.
    Member,
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    Separator,
    /// The top-level value is complete.
    End,
}

struct Parser<'p> {
    text: &'p mut [u8],
    pos: usize,
    nodes: &'p mut [Node],
    used: usize,
    max_depth: usize,
    containers: Containers,
    /// The innermost open container that has a node (NONE at top level). While a container
    /// is open its node's `next` links to the one around it, and an object's `start` holds
    /// the node of the key being read.
    open: u32,
    verbatim_member: Option<&'static [u8]>,
    /// The key just read names the verbatim member.
    verbatim_next: bool,
    verbatim: Option<Verbatim>,
    /// A key that is not a string is parsed as a value first (errors inside it come first,
    /// as in qemu-ga) and refused when it ends, at this depth.
    bad_key_at: Option<usize>,
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

/// RFC 8259 number syntax: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
pub fn is_number(t: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    if t.first() == Some(&b'-') {
        i += 1;
    }
    match t.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        _ => return false,
    }
    if t.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return false;
        }
    }
    if matches!(t.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(t.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !digits(&mut i) {
            return false;
        }
    }
    i == t.len()
}

/// Unicode noncharacters, which qemu-ga's parser refuses.
fn is_noncharacter(cp: u32) -> bool {
    (0xFDD0..=0xFDEF).contains(&cp) || (cp & 0xFFFE) == 0xFFFE
}

/// Literal text of a string: valid UTF-8 without noncharacters.
fn check_run(run: &[u8]) -> Result<(), ParseError> {
    // The common case (base64 payloads, names): nothing to decode.
    if run.is_ascii() {
        return Ok(());
    }
    let valid = str::from_utf8(run).map_err(|_| ParseError::InvalidUtf8)?;
    if valid.chars().any(|c| is_noncharacter(c as u32)) {
        return Err(ParseError::InvalidUtf8);
    }
    Ok(())
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Whether values are being built as nodes here (always, except in the verbatim value
    /// outside its objects).
    fn building(&self) -> bool {
        self.verbatim.as_ref().is_none_or(|v| v.objects > 0)
    }

    fn push(&mut self, node: Node) -> Result<usize, ParseError> {
        let idx = self.used;
        let slot = self.nodes.get_mut(idx).ok_or(ParseError::TooManyTokens)?;
        *slot = node;
        self.used += 1;
        Ok(idx)
    }

    /// Adds a node for a scalar (when building): it ends right after itself.
    fn scalar(&mut self, kind: Kind, start: usize, len: usize) -> Result<(), ParseError> {
        if self.building() {
            let next = self.used as u32 + 1;
            self.push(Node {
                kind,
                start: start as u32,
                len: len as u32,
                next,
            })?;
        }
        Ok(())
    }

    fn node_mut(&mut self, idx: u32) -> Option<&mut Node> {
        self.nodes.get_mut(idx as usize)
    }

    fn run(&mut self) -> Result<(), ParseError> {
        let mut expect = Expect::Value;
        loop {
            self.skip_space();
            let b = self.peek();
            expect = match expect {
                Expect::End => return Ok(()),
                Expect::Value => self.value(b)?,
                Expect::FirstElement if b == Some(b']') => self.close()?,
                Expect::FirstElement => self.value(b)?,
                Expect::FirstMember if b == Some(b'}') => self.close()?,
                Expect::FirstMember | Expect::Member => self.key(b)?,
                Expect::Colon if b == Some(b':') => {
                    self.pos += 1;
                    Expect::Value
                }
                Expect::Colon => return Err(ParseError::MissingColon),
                Expect::Separator => {
                    let in_array = self.containers.in_array();
                    match b {
                        Some(b',') => {
                            self.pos += 1;
                            if in_array {
                                Expect::Value
                            } else {
                                Expect::Member
                            }
                        }
                        Some(b']') if in_array => self.close()?,
                        Some(b'}') if !in_array => self.close()?,
                        None => return Err(ParseError::ExpectingValue),
                        Some(_) if in_array => return Err(ParseError::SeparatorInList),
                        Some(_) => return Err(ParseError::SeparatorInDict),
                    }
                }
            };
        }
    }

    /// A value starting with `b`.
    fn value(&mut self, b: Option<u8>) -> Result<Expect, ParseError> {
        if core::mem::take(&mut self.verbatim_next) {
            self.verbatim = Some(Verbatim {
                start: self.pos,
                depth: self.containers.depth,
                objects: 0,
                mark: self.used,
            });
        }
        match b {
            Some(b'{') => self.open(false),
            Some(b'[') => self.open(true),
            Some(q @ (b'"' | b'\'')) => {
                let (start, len) = self.string(q)?;
                self.scalar(Kind::String, start, len)?;
                self.ended()
            }
            Some(b) if is_bare(b) => {
                self.bare()?;
                self.ended()
            }
            Some(b'}' | b']' | b':' | b',') | None => Err(ParseError::ExpectingValue),
            Some(b) => Err(ParseError::Stray(b)),
        }
    }

    fn bare(&mut self) -> Result<(), ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(is_bare) {
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        let (kind, start, len) = match token {
            b"null" => (Kind::Null, 0, 0),
            b"true" => (Kind::Bool, 1, 0),
            b"false" => (Kind::Bool, 0, 0),
            _ if is_number(token) => (Kind::Number, start, token.len()),
            _ => {
                let mut word = heapless::Vec::new();
                let _ = word.extend_from_slice(&token[..token.len().min(64)]);
                return Err(ParseError::InvalidKeyword(word));
            }
        };
        self.scalar(kind, start, len)
    }

    fn open(&mut self, array: bool) -> Result<Expect, ParseError> {
        if self.containers.depth >= self.max_depth {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1;
        if let (false, Some(v)) = (array, &mut self.verbatim) {
            v.objects += 1;
        }
        if self.building() {
            let kind = if array { Kind::Array } else { Kind::Object };
            let parent = self.open;
            let idx = self.push(Node {
                kind,
                start: 0,
                len: 0,
                next: parent,
            })?;
            self.open = idx as u32;
        }
        self.containers.push(array);
        Ok(if array {
            Expect::FirstElement
        } else {
            Expect::FirstMember
        })
    }

    fn close(&mut self) -> Result<Expect, ParseError> {
        self.pos += 1;
        let array = self.containers.in_array();
        if self.building() {
            let next = self.used as u32;
            if let Some(node) = self.nodes.get_mut(self.open as usize) {
                self.open = node.next;
                node.start = 0;
                node.next = next;
            }
        }
        self.containers.pop();
        if let (false, Some(v)) = (array, &mut self.verbatim) {
            v.objects -= 1;
            if v.objects == 0 {
                // Checked: its nodes are not needed any more.
                self.used = v.mark;
            }
        }
        self.ended()
    }

    /// An object's key (or, wrongly, another value in its place).
    fn key(&mut self, b: Option<u8>) -> Result<Expect, ParseError> {
        let Some(q @ (b'"' | b'\'')) = b else {
            // qemu-ga parses any value here and then complains about its type.
            self.bad_key_at = Some(self.containers.depth);
            return self.value(b);
        };
        let (start, len) = self.string(q)?;
        let key = self.used as u32;
        self.scalar(Kind::String, start, len)?;
        let open = self.open;
        if let Some(object) = self.node_mut(open) {
            object.start = key;
        }
        self.verbatim_next = self.verbatim.is_none()
            && self.containers.depth == 1
            && self.verbatim_member == Some(&self.text[start..start + len]);
        Ok(Expect::Colon)
    }

    /// A value inside the innermost container (or the whole document) has ended.
    fn ended(&mut self) -> Result<Expect, ParseError> {
        let depth = self.containers.depth;
        if self.bad_key_at == Some(depth) {
            return Err(ParseError::KeyNotString);
        }
        if let Some(v) = self.verbatim.as_ref().filter(|v| v.depth == depth) {
            let (start, len) = (v.start, self.pos - v.start);
            self.verbatim = None;
            self.scalar(Kind::Verbatim, start, len)?;
        }
        if depth == 0 {
            return Ok(Expect::End);
        }
        if !self.building() {
            // An array inside the verbatim value: nothing to count.
            return Ok(Expect::Separator);
        }
        let open = self.open;
        let Some(&container) = self.nodes.get(open as usize) else {
            return Ok(Expect::Separator);
        };
        if container.kind == Kind::Object && self.has_earlier_key(open as usize, container.start) {
            return Err(ParseError::DuplicateKey);
        }
        if let Some(node) = self.node_mut(open) {
            node.len += 1;
        }
        Ok(Expect::Separator)
    }

    /// Whether the object at `obj` already has a member named like the key node `key`.
    fn has_earlier_key(&self, obj: usize, key: u32) -> bool {
        let key = key as usize;
        let name = |i: usize| {
            let n = &self.nodes[i];
            &self.text[n.start as usize..(n.start + n.len) as usize]
        };
        // Keys inside the verbatim value are still escaped.
        let escaped = self.verbatim.is_some();
        let mut at = obj + 1;
        while at < key {
            let same = if escaped {
                Unescaped::new(name(at)).eq(Unescaped::new(name(key)))
            } else {
                name(at) == name(key)
            };
            if same {
                return true;
            }
            let value = at + 1;
            at = self.nodes[value].next as usize;
        }
        false
    }

    /// Parses a string starting at its quote: `(start, len)` of its text. Outside the
    /// verbatim value the text is unescaped in place; inside it, only checked.
    fn string(&mut self, quote: u8) -> Result<(usize, usize), ParseError> {
        let unescape = self.verbatim.is_none();
        self.pos += 1;
        let start = self.pos;
        let mut out = start;
        loop {
            // A run of literal text, up to the closing quote or an escape.
            let run = self.pos;
            self.pos += self.text[run..]
                .iter()
                .position(|&b| b == quote || b == b'\\' || b < 0x20)
                .unwrap_or(self.text.len() - run);
            check_run(&self.text[run..self.pos])?;
            // Until the first escape the text is already where it belongs.
            if unescape && out != run {
                self.text.copy_within(run..self.pos, out);
            }
            out += self.pos - run;
            let b = self.peek().ok_or(ParseError::ExpectingValue)?;
            self.pos += 1;
            if b == quote {
                break;
            }
            if b != b'\\' {
                // The framer reports raw control characters before we see them.
                return Err(ParseError::Stray(b));
            }
            let mut utf8 = [0u8; 4];
            let plain = match self.escape()? {
                Escaped::Byte(byte) => {
                    utf8[0] = byte;
                    &utf8[..1]
                }
                Escaped::Char(ch) => ch.encode_utf8(&mut utf8).as_bytes(),
            };
            if unescape {
                self.text[out..out + plain.len()].copy_from_slice(plain);
            }
            out += plain.len();
        }
        if unescape {
            Ok((start, out - start))
        } else {
            Ok((start, self.pos - 1 - start))
        }
    }

    /// After a backslash: what the escape stands for.
    fn escape(&mut self) -> Result<Escaped, ParseError> {
        let e = self.peek().ok_or(ParseError::InvalidEscape)?;
        self.pos += 1;
        Ok(Escaped::Byte(match e {
            b'"' | b'\\' | b'/' | b'\'' => e,
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape().map(Escaped::Char),
            _ => return Err(ParseError::InvalidEscape),
        }))
    }

    /// Four hex digits of a `\u` escape; `escape_at` is where its backslash is.
    fn hex4(&mut self, escape_at: usize) -> Result<u32, ParseError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self.peek().and_then(|d| (d as char).to_digit(16));
            let Some(digit) = digit else {
                // qemu-ga quotes the escape up to and including the bad character.
                if self.peek().is_some() {
                    self.pos += 1;
                }
                return Err(self.bad_unicode(escape_at));
            };
            value = value * 16 + digit;
            self.pos += 1;
        }
        Ok(value)
    }

    fn bad_unicode(&self, escape_at: usize) -> ParseError {
        let raw = self.text.get(escape_at..self.pos).unwrap_or_default();
        let mut quoted = heapless::Vec::new();
        let _ = quoted.extend_from_slice(&raw[..raw.len().min(12)]);
        ParseError::InvalidUnicode(quoted)
    }

    /// After `\u`: one code point, joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let escape_at = self.pos - 2;
        let first = self.hex4(escape_at)?;
        let cp = match first {
            0xD800..=0xDBFF => {
                if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.bad_unicode(escape_at));
                }
                self.pos += 2;
                let second = self.hex4(escape_at)?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.bad_unicode(escape_at));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            _ => first,
        };
        match char::from_u32(cp) {
            Some(c) if !is_noncharacter(cp) => Ok(c),
            _ => Err(self.bad_unicode(escape_at)),
        }
    }
}

enum Escaped {
    Byte(u8),
    Char(char),
}

/// The bytes a checked string's escaped text stands for (`\u00e9` -> `é` in UTF-8): how a
/// verbatim value's strings are compared and echoed.
pub struct Unescaped<'a> {
    raw: &'a [u8],
    pending: [u8; 4],
    pending_at: usize,
    pending_len: usize,
}

impl<'a> Unescaped<'a> {
    /// `raw` is a string's text between its quotes, as checked by [`parse`].
    pub fn new(raw: &'a [u8]) -> Unescaped<'a> {
        Unescaped {
            raw,
            pending: [0; 4],
            pending_at: 0,
            pending_len: 0,
        }
    }

    fn hex4(&mut self) -> u32 {
        let (digits, rest) = self.raw.split_at(self.raw.len().min(4));
        self.raw = rest;
        digits
            .iter()
            .fold(0, |v, d| v * 16 + (*d as char).to_digit(16).unwrap_or(0))
    }
}

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.pending_at < self.pending_len {
            self.pending_at += 1;
            return Some(self.pending[self.pending_at - 1]);
        }
        let (&b, rest) = self.raw.split_first()?;
        self.raw = rest;
        if b != b'\\' {
            return Some(b);
        }
        let (&e, rest) = self.raw.split_first()?;
        self.raw = rest;
        Some(match e {
            b'b' => 0x08,
            b'f' => 0x0C,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let mut cp = self.hex4();
                if (0xD800..=0xDBFF).contains(&cp) && self.raw.starts_with(b"\\u") {
                    self.raw = &self.raw[2..];
                    cp = 0x10000
                        + ((cp - 0xD800) << 10)
                        + (self.hex4().wrapping_sub(0xDC00) & 0x3FF);
                }
                let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                let len = ch.encode_utf8(&mut self.pending).len();
                self.pending_len = len;
                self.pending_at = 1;
                self.pending[0]
            }
            other => other,
        })
    }
}

/// A view of one node of a [`Document`].
#[derive(Clone, Copy)]
pub struct Value<'d> {
    text: &'d [u8],
    nodes: &'d [Node],
    idx: usize,
}

impl<'d> Value<'d> {
    fn node(&self) -> Node {
        self.nodes.get(self.idx).copied().unwrap_or(Node::EMPTY)
    }

    pub fn kind(&self) -> Kind {
        self.node().kind
    }

    fn span(&self) -> &'d [u8] {
        let n = self.node();
        self.text
            .get(n.start as usize..(n.start + n.len) as usize)
            .unwrap_or_default()
    }

    /// The string's (unescaped, valid UTF-8) text.
    pub fn as_str(&self) -> Option<&'d str> {
        match self.kind() {
            Kind::String => str::from_utf8(self.span()).ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.kind() {
            Kind::Bool => Some(self.node().start == 1),
            _ => None,
        }
    }

    /// A verbatim value's JSON text exactly as the client wrote it.
    pub fn verbatim(&self) -> Option<&'d [u8]> {
        match self.kind() {
            Kind::Verbatim => Some(self.span()),
            _ => None,
        }
    }

    /// A number's text exactly as the client wrote it.
    pub fn number_text(&self) -> Option<&'d str> {
        match self.kind() {
            Kind::Number => str::from_utf8(self.span()).ok(),
            _ => None,
        }
    }

    /// An integer (no fraction, no exponent) that fits in i64. `-0` is 0.
    pub fn as_i64(&self) -> Option<i64> {
        self.number_text()?.parse().ok()
    }

    /// A non-negative integer that fits in u64.
    pub fn as_u64(&self) -> Option<u64> {
        self.number_text()?.parse().ok()
    }

    /// Number of members (object) or elements (array).
    pub fn len(&self) -> usize {
        match self.kind() {
            Kind::Object | Kind::Array => self.node().len as usize,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn at(&self, idx: usize) -> Value<'d> {
        Value { idx, ..*self }
    }

    /// The members of an object, in request order.
    pub fn members(&self) -> Members<'d> {
        let remaining = if self.kind() == Kind::Object {
            self.len()
        } else {
            0
        };
        Members {
            value: self.at(self.idx + 1),
            remaining,
        }
    }

    /// The elements of an array.
    pub fn elements(&self) -> Elements<'d> {
        let remaining = if self.kind() == Kind::Array {
            self.len()
        } else {
            0
        };
        Elements {
            value: self.at(self.idx + 1),
            remaining,
        }
    }

    /// An object's member by name.
    pub fn get(&self, name: &str) -> Option<Value<'d>> {
        self.members()
            .find(|(key, _)| *key == name.as_bytes())
            .map(|(_, v)| v)
    }

    fn skip(&self) -> Value<'d> {
        self.at(self.node().next as usize)
    }
}

pub struct Members<'d> {
    value: Value<'d>,
    remaining: usize,
}

/// A member's name is given as the bytes of its (unescaped, valid UTF-8) text: names are
/// compared far more often than shown, and a comparison needs no UTF-8 check.
impl<'d> Iterator for Members<'d> {
    type Item = (&'d [u8], Value<'d>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let key = self.value;
        let value = key.skip();
        self.value = value.skip();
        Some((key.span(), value))
    }
}

pub struct Elements<'d> {
    value: Value<'d>,
    remaining: usize,
}

impl<'d> Iterator for Elements<'d> {
    type Item = Value<'d>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let element = self.value;
        self.value = element.skip();
        Some(element)
    }
}
