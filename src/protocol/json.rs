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

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
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
    pub fn root(&self) -> Value<'d> {
        Value {
            text: self.text,
            nodes: self.nodes,
            idx: 0,
        }
    }
}

/// Parses one complete JSON value. `text` is rewritten in place; `arena` receives the nodes
/// and bounds their number; `max_depth` bounds nesting (and the parser's recursion).
pub fn parse<'d>(
    text: &'d mut [u8],
    arena: &'d mut [Node],
    max_depth: usize,
) -> Result<Document<'d>, ParseError> {
    let mut p = Parser {
        text,
        pos: 0,
        nodes: arena,
        used: 0,
        max_depth,
    };
    p.value(0)?;
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

struct Parser<'p> {
    text: &'p mut [u8],
    pos: usize,
    nodes: &'p mut [Node],
    used: usize,
    max_depth: usize,
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

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    fn push(&mut self, node: Node) -> Result<usize, ParseError> {
        let idx = self.used;
        let slot = self.nodes.get_mut(idx).ok_or(ParseError::TooManyTokens)?;
        *slot = node;
        self.used += 1;
        Ok(idx)
    }

    fn set(&mut self, idx: usize, len: usize) {
        let next = self.used as u32;
        if let Some(node) = self.nodes.get_mut(idx) {
            node.len = len as u32;
            node.next = next;
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), ParseError> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(q @ (b'"' | b'\'')) => self.string(q).map(drop),
            Some(b) if is_bare(b) => self.bare(),
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
        let node = match token {
            b"null" => Node {
                kind: Kind::Null,
                ..Node::EMPTY
            },
            b"true" => Node {
                kind: Kind::Bool,
                start: 1,
                ..Node::EMPTY
            },
            b"false" => Node {
                kind: Kind::Bool,
                ..Node::EMPTY
            },
            _ if is_number(token) => Node {
                kind: Kind::Number,
                start: start as u32,
                len: token.len() as u32,
                next: 0,
            },
            _ => {
                let mut word = heapless::Vec::new();
                let _ = word.extend_from_slice(&token[..token.len().min(64)]);
                return Err(ParseError::InvalidKeyword(word));
            }
        };
        let idx = self.push(node)?;
        self.set(idx, node.len as usize);
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<(), ParseError> {
        if depth > self.max_depth {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '{'
        let idx = self.push(Node {
            kind: Kind::Object,
            ..Node::EMPTY
        })?;
        let mut count = 0;
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.set(idx, 0);
            return Ok(());
        }
        loop {
            self.skip_space();
            let key = match self.peek() {
                Some(q @ (b'"' | b'\'')) => self.string(q)?,
                _ => {
                    // qemu-ga parses any value here and then complains about its type.
                    self.value(depth)?;
                    return Err(ParseError::KeyNotString);
                }
            };
            self.skip_space();
            if self.peek() != Some(b':') {
                return Err(ParseError::MissingColon);
            }
            self.pos += 1;
            self.value(depth)?;
            if self.has_earlier_key(idx, key) {
                return Err(ParseError::DuplicateKey);
            }
            count += 1;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    self.set(idx, count);
                    return Ok(());
                }
                None => return Err(ParseError::ExpectingValue),
                Some(_) => return Err(ParseError::SeparatorInDict),
            }
        }
    }

    /// Whether the object at `obj` already has a member named like the key node `key`.
    fn has_earlier_key(&self, obj: usize, key: usize) -> bool {
        let name = |i: usize| {
            let n = &self.nodes[i];
            &self.text[n.start as usize..(n.start + n.len) as usize]
        };
        let mut at = obj + 1;
        while at < key {
            if name(at) == name(key) {
                return true;
            }
            let value = at + 1;
            at = self.nodes[value].next as usize;
        }
        false
    }

    fn array(&mut self, depth: usize) -> Result<(), ParseError> {
        if depth > self.max_depth {
            return Err(ParseError::TooDeep);
        }
        self.pos += 1; // '['
        let idx = self.push(Node {
            kind: Kind::Array,
            ..Node::EMPTY
        })?;
        let mut count = 0;
        self.skip_space();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.set(idx, 0);
            return Ok(());
        }
        loop {
            self.value(depth)?;
            count += 1;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.set(idx, count);
                    return Ok(());
                }
                None => return Err(ParseError::ExpectingValue),
                Some(_) => return Err(ParseError::SeparatorInList),
            }
        }
    }

    /// Parses a string starting at the quote, unescaping it in place. Returns its node.
    fn string(&mut self, quote: u8) -> Result<usize, ParseError> {
        self.pos += 1;
        let start = self.pos;
        let mut out = start;
        loop {
            let b = self.peek().ok_or(ParseError::ExpectingValue)?;
            self.pos += 1;
            if b == quote {
                break;
            }
            if b < 0x20 {
                // The framer reports raw control characters before we see them.
                return Err(ParseError::Stray(b));
            }
            if b != b'\\' {
                self.text[out] = b;
                out += 1;
                continue;
            }
            let e = self.peek().ok_or(ParseError::InvalidEscape)?;
            self.pos += 1;
            let plain = match e {
                b'"' | b'\\' | b'/' | b'\'' => e,
                b'b' => 0x08,
                b'f' => 0x0C,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'u' => {
                    let ch = self.unicode_escape()?;
                    let mut utf8 = [0u8; 4];
                    for &byte in ch.encode_utf8(&mut utf8).as_bytes() {
                        self.text[out] = byte;
                        out += 1;
                    }
                    continue;
                }
                _ => return Err(ParseError::InvalidEscape),
            };
            self.text[out] = plain;
            out += 1;
        }
        let content = &self.text[start..out];
        let valid = str::from_utf8(content).map_err(|_| ParseError::InvalidUtf8)?;
        if valid.chars().any(|c| is_noncharacter(c as u32)) {
            return Err(ParseError::InvalidUtf8);
        }
        let node = Node {
            kind: Kind::String,
            start: start as u32,
            len: (out - start) as u32,
            next: 0,
        };
        let idx = self.push(node)?;
        self.set(idx, out - start);
        Ok(idx)
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
        self.members().find(|(key, _)| *key == name).map(|(_, v)| v)
    }

    fn skip(&self) -> Value<'d> {
        self.at(self.node().next as usize)
    }
}

pub struct Members<'d> {
    value: Value<'d>,
    remaining: usize,
}

impl<'d> Iterator for Members<'d> {
    type Item = (&'d str, Value<'d>);
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let key = self.value;
        let value = key.skip();
        self.value = value.skip();
        Some((key.as_str().unwrap_or_default(), value))
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
