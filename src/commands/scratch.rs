//! The commands' working memory: one bounded region (`TINYQGA_SCRATCH_BYTES`) lent to each
//! request in turn. A command takes pieces of it instead of stack arrays, so every buffer a
//! command uses is counted against one build-time capacity, and a table built once (a
//! netlink dump, the mount table) can be walked as often as the answer needs. Nothing is
//! zeroed: a piece holds whatever the last request left, and is written before it is read.
//!
//! The session counts what each request took, so that after a large one the agent can give
//! those pages back to the kernel (see `Session::give_back`).

use crate::capacity::SCRATCH_BYTES;
use crate::protocol::QmpError;
use crate::qmp_error;

/// The part of the region not yet taken by the running request.
pub struct Scratch<'r> {
    room: &'r mut [u8],
    taken: usize,
}

impl<'r> Scratch<'r> {
    pub fn new(room: &'r mut [u8]) -> Scratch<'r> {
        Scratch { room, taken: 0 }
    }

    /// `len` bytes for as long as the request runs, or an error naming the knob to raise.
    pub fn take(&mut self, len: usize) -> Result<&'r mut [u8], QmpError> {
        if len > self.room.len() {
            return Err(qmp_error!(
                "not enough scratch memory: {len} bytes wanted, {} left of {SCRATCH_BYTES} \
                 (TINYQGA_SCRATCH_BYTES)",
                self.room.len()
            ));
        }
        let (piece, rest) = core::mem::take(&mut self.room).split_at_mut(len);
        self.room = rest;
        self.taken += len;
        Ok(piece)
    }

    /// Everything left (for reading a file of unknown size whole).
    pub fn rest(&mut self) -> &'r mut [u8] {
        let len = self.room.len();
        self.take(len).unwrap_or_default()
    }

    /// Bytes handed out so far: the most this request can have touched.
    pub fn taken(&self) -> usize {
        self.taken
    }
}

/// Records of `N` bytes kept in a piece of scratch: a table filled once, then walked in
/// either direction.
pub struct Records<'r, const N: usize> {
    room: &'r mut [u8],
    len: usize,
}

impl<'r, const N: usize> Records<'r, N> {
    pub fn new(room: &'r mut [u8]) -> Records<'r, N> {
        Records { room, len: 0 }
    }

    /// The next record to fill, or `None` when the room is full.
    pub fn push(&mut self) -> Option<&mut [u8; N]> {
        let at = self.len * N;
        let record = self.room.get_mut(at..at + N)?.try_into().ok()?;
        self.len += 1;
        Some(record)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The record pushed `i`-th.
    pub fn get(&self, i: usize) -> Option<&[u8; N]> {
        let record = self.room[..self.len * N].get(i * N..i * N + N)?;
        record.try_into().ok()
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8; N]> {
        let record = self.room[..self.len * N].get_mut(i * N..i * N + N)?;
        record.try_into().ok()
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records so far, and the room after them (for the next table).
    pub fn split_off(self) -> (Records<'r, N>, &'r mut [u8]) {
        let (used, rest) = self.room.split_at_mut(self.len * N);
        (
            Records {
                room: used,
                len: self.len,
            },
            rest,
        )
    }

    /// The records in the order they were pushed.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8; N]> {
        self.room[..self.len * N]
            .chunks_exact(N)
            .filter_map(|r| r.try_into().ok())
    }
}

/// A record holding a short text: its length in the first byte, then the text.
pub fn put_text<const N: usize>(record: &mut [u8; N], text: &[u8]) {
    let len = text.len().min(N - 1).min(u8::MAX as usize);
    record[0] = len as u8;
    record[1..1 + len].copy_from_slice(&text[..len]);
}

/// The text of a record written by [`put_text`].
pub fn text_of<const N: usize>(record: &[u8; N]) -> &[u8] {
    let len = usize::from(record[0]).min(N - 1);
    &record[1..1 + len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_do_not_overlap_and_the_end_is_an_error() {
        let mut region = vec![0u8; 100];
        let mut scratch = Scratch::new(&mut region);
        let a = scratch.take(40).unwrap();
        let b = scratch.take(60).unwrap();
        a.fill(1);
        b.fill(2);
        assert_eq!(scratch.taken(), 100);
        let error = scratch.take(1).err().unwrap();
        assert_eq!(
            error.desc.as_str(),
            format!(
                "not enough scratch memory: 1 bytes wanted, 0 left of {SCRATCH_BYTES} (TINYQGA_SCRATCH_BYTES)"
            )
        );
        assert!(scratch.rest().is_empty());
        assert_eq!(region[39..41], [1, 2]);
    }

    #[test]
    fn records_fill_then_walk_both_ways() {
        let mut region = vec![0u8; 10];
        let mut records = Records::<3>::new(&mut region);
        for n in 0..4u8 {
            match records.push() {
                Some(r) => *r = [n; 3],
                None => assert_eq!(n, 3, "three records of 3 fit in 10 bytes"),
            }
        }
        assert_eq!(records.len(), 3);
        let firsts: Vec<u8> = records.iter().rev().map(|r| r[0]).collect();
        assert_eq!(firsts, [2, 1, 0]);
        records.get_mut(1).unwrap()[2] = 9;
        assert_eq!(records.get(1), Some(&[1, 1, 9]));
        assert_eq!(records.get(3), None);
    }

    #[test]
    fn text_records_hold_what_fits() {
        let mut record = [0u8; 4];
        put_text(&mut record, b"ab");
        assert_eq!(text_of(&record), b"ab");
        put_text(&mut record, b"abcdef");
        assert_eq!(text_of(&record), b"abc");
    }
}
