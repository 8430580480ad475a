//! Base64 as qemu-ga speaks it: standard alphabet with `=` padding on the way out; on the way
//! in, QEMU's `qbase64_decode` rules (only `A-Za-z0-9+/=` and newline are allowed, else
//! `Base64 data contains invalid characters`) followed by GLib's lenient decoder (newlines
//! are skipped, every complete group of four characters gives up to three bytes, a trailing
//! incomplete group is dropped).
//!
//! Both directions stream with a few bytes of carry, so payloads of any size pass through
//! fixed buffers: a 48 MiB `guest-file-read` is encoded as it is read, a `guest-file-write`
//! is decoded chunk by chunk on its way to the file.
//!
//! (The `base64` crate is not used: it cannot reproduce GLib's treatment of `=` inside the
//! data and of incomplete groups, which decide what a host's odd input writes to a file.)

use crate::simd::{self, ALPHABET};

/// Characters the encoder hands over at once (a run of whole groups).
const TEXT_RUN: usize = 1024;

/// Encodes a byte stream piece by piece. Feed it with [`Encoder::push`], then
/// [`Encoder::finish`]; `emit` receives the text in runs of at most 1024 characters.
#[derive(Default)]
pub struct Encoder {
    carry: [u8; 2],
    carried: usize,
}

impl Encoder {
    pub const fn new() -> Encoder {
        Encoder {
            carry: [0; 2],
            carried: 0,
        }
    }

    /// Encodes `bytes`, keeping an incomplete group of up to two bytes for the next call.
    pub fn push(&mut self, mut bytes: &[u8], emit: &mut dyn FnMut(&[u8])) {
        if self.carried > 0 {
            let need = 3 - self.carried;
            if bytes.len() < need {
                for &b in bytes {
                    self.carry[self.carried] = b;
                    self.carried += 1;
                }
                return;
            }
            let mut group = [0u8; 3];
            group[..self.carried].copy_from_slice(&self.carry[..self.carried]);
            group[self.carried..].copy_from_slice(&bytes[..need]);
            emit(&encode_group(group, 3));
            bytes = &bytes[need..];
            self.carried = 0;
        }
        // This is the hot loop of every guest-file-read: the vector unit takes what it can
        // of each run (crate::simd), and the rest goes through the loop below.
        let mut text = [[0u8; 4]; TEXT_RUN / 4];
        while bytes.len() >= 3 {
            let vectored = simd::base64_encode_blocks(bytes, text.as_flattened_mut());
            let (groups, _) = bytes[vectored..].as_chunks::<3>();
            let slots = &mut text[vectored / 3..];
            let count = groups.len().min(slots.len());
            // Whole groups as arrays, so this loop has no bounds to check.
            for (out, &[a, b, c]) in slots.iter_mut().zip(&groups[..count]) {
                let v = (a as u32) << 16 | (b as u32) << 8 | c as u32;
                let char_at = |shift: u32| ALPHABET[(v >> shift) as usize & 0x3F] as u32;
                // One 32-bit store (built so the optimizer for size cannot fold the four
                // lookups back into a loop of byte stores).
                let chars = char_at(18) | char_at(12) << 8 | char_at(6) << 16 | char_at(0) << 24;
                *out = chars.to_le_bytes();
            }
            let groups_done = vectored / 3 + count;
            emit(text[..groups_done].as_flattened());
            bytes = &bytes[groups_done * 3..];
        }
        for &b in bytes {
            self.carry[self.carried] = b;
            self.carried += 1;
        }
    }

    /// Writes the last, padded group.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&[u8])) {
        if self.carried > 0 {
            let mut group = [0u8; 3];
            group[..self.carried].copy_from_slice(&self.carry[..self.carried]);
            emit(&encode_group(group, self.carried));
        }
        self.carried = 0;
    }
}

/// Four characters for `used` (1..=3) bytes of `group`, padded with `=`.
fn encode_group(group: [u8; 3], used: usize) -> [u8; 4] {
    let v = (group[0] as u32) << 16 | (group[1] as u32) << 8 | group[2] as u32;
    let mut out = [b'='; 4];
    for (i, slot) in out.iter_mut().enumerate().take(used + 1) {
        *slot = ALPHABET[(v >> (18 - 6 * i) & 0x3F) as usize];
    }
    out
}

/// Why base64 input was refused (qemu-ga's texts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    InvalidCharacters,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::InvalidCharacters => {
                f.write_str("Base64 data contains invalid characters")
            }
        }
    }
}

/// Every byte's value as a base64 character: 0-63 for the alphabet, [`PAD`] for `=`,
/// [`NEWLINE`], or [`INVALID`]. (Anything but the alphabet has bit 6 or 7 set.)
const RANKS: [u8; 256] = {
    let mut ranks = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        ranks[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    ranks[b'=' as usize] = PAD;
    ranks[b'\n' as usize] = NEWLINE;
    ranks
};
const PAD: u8 = 64;
const NEWLINE: u8 = 65;
const INVALID: u8 = 0xFF;

/// The value of a base64 character; `=` counts as zero, as GLib ranks it.
fn rank(c: u8) -> Option<u32> {
    match RANKS[c as usize] {
        PAD => Some(0),
        r if r < 64 => Some(r as u32),
        _ => None,
    }
}

/// The three bytes of four characters of the alphabet (no `=`, no newline): the fast path
/// that nearly all of any payload takes.
fn plain_group(&[a, b, c, d]: &[u8; 4]) -> Option<[u8; 3]> {
    let (a, b, c, d) = (
        RANKS[a as usize],
        RANKS[b as usize],
        RANKS[c as usize],
        RANKS[d as usize],
    );
    if (a | b | c | d) >= 64 {
        return None;
    }
    let v = (a as u32) << 18 | (b as u32) << 12 | (c as u32) << 6 | d as u32;
    Some([(v >> 16) as u8, (v >> 8) as u8, v as u8])
}

/// How many whole groups of the alphabet `text` starts with.
fn plain_groups(text: &[u8]) -> usize {
    let (groups, _) = text.as_chunks::<4>();
    groups
        .iter()
        .position(|g| plain_group(g).is_none())
        .unwrap_or(groups.len())
}

/// Checks `text` as qemu-ga does before decoding, and returns how many bytes it decodes to.
pub fn decoded_len(text: &[u8]) -> Result<usize, DecodeError> {
    let mut decoder = Decoder::new();
    let mut total = 0;
    let mut rest = text;
    loop {
        if decoder.count == 0 {
            let groups = plain_groups(rest);
            total += groups * 3;
            rest = &rest[groups * 4..];
        }
        let Some((&c, tail)) = rest.split_first() else {
            return Ok(total);
        };
        rest = tail;
        match RANKS[c as usize] {
            NEWLINE => {}
            INVALID => return Err(DecodeError::InvalidCharacters),
            _ => total += decoder.step(c).map_or(0, |(_, n)| n),
        }
    }
}

/// GLib's decoding state, carried from one chunk to the next.
#[derive(Default)]
pub struct Decoder {
    value: u32,
    count: usize,
    /// The last two significant characters, newest first (decide how much padding there is).
    last: [u8; 2],
}

impl Decoder {
    pub const fn new() -> Decoder {
        Decoder {
            value: 0,
            count: 0,
            last: [0; 2],
        }
    }

    /// Takes one character; a completed group yields its bytes and how many of them count.
    fn step(&mut self, c: u8) -> Option<([u8; 3], usize)> {
        let r = rank(c)?;
        self.last = [c, self.last[0]];
        self.value = self.value << 6 | r;
        self.count += 1;
        if self.count < 4 {
            return None;
        }
        self.count = 0;
        // GLib's rule, exactly: the middle byte counts unless the second-to-last character
        // was `=`, the last byte unless the last one was (so `AB=C` gives bytes 1 and 3).
        let v = self.value;
        let mut bytes = [(v >> 16) as u8, 0, 0];
        let mut n = 1;
        if self.last[1] != b'=' {
            bytes[n] = (v >> 8) as u8;
            n += 1;
        }
        if self.last[0] != b'=' {
            bytes[n] = v as u8;
            n += 1;
        }
        Some((bytes, n))
    }

    /// Decodes as much of `text` as leaves room for one more group in `out` (input already
    /// checked with [`decoded_len`]); returns (characters used, bytes written). Call again
    /// with the rest until all input is used.
    pub fn decode(&mut self, text: &[u8], out: &mut [u8]) -> (usize, usize) {
        let mut used = 0;
        let mut len = 0;
        while used < text.len() {
            if out.len() - len < 3 {
                break;
            }
            if self.count == 0 {
                // Whole groups of the alphabet, straight into whole triples of `out`.
                let (groups, _) = text[used..].as_chunks::<4>();
                let (triples, _) = out[len..].as_chunks_mut::<3>();
                let mut done = 0;
                for (triple, group) in triples.iter_mut().zip(groups) {
                    let Some(bytes) = plain_group(group) else {
                        break;
                    };
                    *triple = bytes;
                    done += 1;
                }
                used += done * 4;
                len += done * 3;
                if done > 0 {
                    continue;
                }
            }
            let c = text[used];
            used += 1;
            if let Some((bytes, n)) = self.step(c) {
                out[len..len + n].copy_from_slice(&bytes[..n]);
                len += n;
            }
        }
        (used, len)
    }
}

/// Decodes `text` (checked with [`decoded_len`] first) through `step`, handing the bytes to
/// `f` a step at a time: a payload of any size passes through a fixed buffer. `step`
/// must hold at least one group (3 bytes).
pub fn decode_each<E>(
    text: &[u8],
    step: &mut [u8],
    mut f: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut decoder = Decoder::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (used, n) = decoder.decode(rest, step);
        if used == 0 {
            break;
        }
        rest = rest.get(used..).unwrap_or_default();
        f(step.get(..n).unwrap_or_default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(data: &[u8], piece: usize) -> String {
        let mut text = Vec::new();
        let mut encoder = Encoder::new();
        for chunk in data.chunks(piece.max(1)) {
            encoder.push(chunk, &mut |t| text.extend_from_slice(t));
        }
        encoder.finish(&mut |t| text.extend_from_slice(t));
        String::from_utf8(text).unwrap()
    }

    fn decode(text: &str, out_room: usize) -> Result<Vec<u8>, DecodeError> {
        let len = decoded_len(text.as_bytes())?;
        let mut data = Vec::new();
        let mut out = vec![0u8; out_room];
        let _ = decode_each(text.as_bytes(), &mut out, |bytes| {
            data.extend_from_slice(bytes);
            Ok::<(), ()>(())
        });
        assert_eq!(data.len(), len, "decoded_len agrees with the decoder");
        Ok(data)
    }

    #[test]
    fn rfc4648_vectors_in_any_piece_size() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, text) in vectors {
            for piece in 1..8 {
                assert_eq!(encode(plain.as_bytes(), piece), text);
            }
            assert_eq!(decode(text, 3).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn every_byte_value_round_trips() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        for piece in [1, 2, 3, 7, 64, 1000, 5000] {
            let text = encode(&data, piece);
            assert_eq!(text, encode(&data, 3000));
            for room in [3, 4, 100, 4096] {
                assert_eq!(decode(&text, room).unwrap(), data);
            }
        }
    }

    #[test]
    fn qemu_checks_characters_then_glib_is_lenient() {
        assert_eq!(decode("Zm9v\nYmFy\n", 16).unwrap(), b"foobar");
        for bad in ["Zm9v!", "Zm 9v", "Zm9v\r\n", "Zm9v\0", "\u{e9}"] {
            assert_eq!(
                decode(bad, 16),
                Err(DecodeError::InvalidCharacters),
                "{bad:?}"
            );
        }
        // An incomplete last group is dropped, as g_base64_decode drops it.
        assert_eq!(decode("Zm9vYg", 16).unwrap(), b"foo");
        assert_eq!(decode("Zg", 16).unwrap(), b"");
        // Padding inside the data ends a group early; decoding goes on after it.
        assert_eq!(decode("Zg==Zm9v", 16).unwrap(), b"ffoo");
        assert_eq!(
            DecodeError::InvalidCharacters.to_string(),
            "Base64 data contains invalid characters"
        );
    }
}
