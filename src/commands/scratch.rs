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
    /// The most that was taken at once, nested scratches included.
    touched: usize,
}

impl<'r> Scratch<'r> {
    pub fn new(room: &'r mut [u8]) -> Scratch<'r> {
        Scratch {
            room,
            taken: 0,
            touched: 0,
        }
    }

    /// Runs `f` with what is left as a scratch of its own, whose pieces are given back when
    /// `f` returns: a walk down a tree takes the room of one level once per level, not
    /// once per node.
    pub fn nested<T>(&mut self, f: impl FnOnce(&mut Scratch<'_>) -> T) -> T {
        let mut inner = Scratch::new(&mut *self.room);
        let result = f(&mut inner);
        self.touched = self.touched.max(self.taken + inner.touched);
        result
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
        self.touched = self.touched.max(self.taken);
        Ok(piece)
    }

    /// Lends everything left to `fill` (reading a file of unknown size whole), then takes
    /// only the part it filled: `fill` returns that part's length. The rest stays free,
    /// and uncounted.
    pub fn take_filled<E>(
        &mut self,
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<&'r mut [u8], E> {
        let len = fill(self.room)?.min(self.room.len());
        let (piece, rest) = core::mem::take(&mut self.room).split_at_mut(len);
        self.room = rest;
        self.taken += len;
        self.touched = self.touched.max(self.taken);
        Ok(piece)
    }

    /// Bytes not taken yet.
    pub fn left(&self) -> usize {
        self.room.len()
    }

    /// The most this request can have touched: what it took, and what nested scratches
    /// took at most on top of that.
    pub fn touched(&self) -> usize {
        self.touched
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

    /// The records a piece filled whole holds (see [`Scratch::take_filled`]).
    pub fn filled(room: &'r mut [u8]) -> Records<'r, N> {
        let len = room.len() / N;
        Records { room, len }
    }

    /// Bytes the records take.
    pub fn bytes(&self) -> usize {
        self.len * N
    }

    /// The records in the order they were pushed.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8; N]> {
        self.room[..self.len * N]
            .chunks_exact(N)
            .filter_map(|r| r.try_into().ok())
    }
}

/// Finds the records of a [`Records`] table by their text ([`put_text`]) in constant
/// expected time, so that matching one list of names against another stays linear: open
/// addressing over 2-byte slots in a piece of scratch, each 0 (empty) or a record's number
/// plus one. With twice as many slots as records, probes stay short.
pub struct TextIndex<'r> {
    slots: &'r mut [u8],
}

impl<'r> TextIndex<'r> {
    /// An empty index in `room` (2 bytes a slot; at most 65,535 records).
    pub fn new(room: &'r mut [u8]) -> TextIndex<'r> {
        room.fill(0);
        TextIndex { slots: room }
    }

    /// Indexes record `i` of `records` by its text; false when the index is full.
    pub fn insert<const N: usize>(&mut self, records: &Records<'_, N>, i: usize) -> bool {
        let (Some(record), Ok(value)) = (records.get(i), u16::try_from(i + 1)) else {
            return false;
        };
        let Some((slot, _)) = self.probe(text_of(record)).find(|&(_, v)| v == 0) else {
            return false;
        };
        self.slots[slot * 2..slot * 2 + 2].copy_from_slice(&value.to_ne_bytes());
        true
    }

    /// The number of the record whose text is `text`, if indexed.
    pub fn find<const N: usize>(&self, records: &Records<'_, N>, text: &[u8]) -> Option<usize> {
        self.probe(text)
            .map(|(_, value)| usize::from(value).checked_sub(1))
            .take_while(Option::is_some)
            .flatten()
            .find(|&i| records.get(i).is_some_and(|r| text_of(r) == text))
    }

    /// Every slot with its value, from where `text` hashes to (FNV-1a) onwards.
    fn probe(&self, text: &[u8]) -> impl Iterator<Item = (usize, u16)> + '_ {
        let count = self.slots.len() / 2;
        let hash = text.iter().fold(0x811c_9dc5u32, |h, &b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let start = (hash as usize).checked_rem(count).unwrap_or(0);
        (0..count).map(move |k| {
            let slot = (start + k) % count;
            (
                slot,
                u16::from_ne_bytes([self.slots[slot * 2], self.slots[slot * 2 + 1]]),
            )
        })
    }
}

/// A record holding a short text: its length in the first byte, then the text.
/// `field` is a record or a part of one; the text is cut to what fits.
pub fn put_text(field: &mut [u8], text: &[u8]) {
    let Some((len_byte, room)) = field.split_first_mut() else {
        return;
    };
    let len = text.len().min(room.len()).min(u8::MAX as usize);
    *len_byte = len as u8;
    room[..len].copy_from_slice(&text[..len]);
}

/// The text of a record (or part of one) written by [`put_text`].
pub fn text_of(field: &[u8]) -> &[u8] {
    let Some((&len, text)) = field.split_first() else {
        return &[];
    };
    &text[..usize::from(len).min(text.len())]
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
        assert_eq!(scratch.touched(), 100);
        let error = scratch.take(1).err().unwrap();
        assert_eq!(
            error.desc.as_str(),
            format!(
                "not enough scratch memory: 1 bytes wanted, 0 left of {SCRATCH_BYTES} (TINYQGA_SCRATCH_BYTES)"
            )
        );
        assert_eq!(scratch.left(), 0);
        assert_eq!(region[39..41], [1, 2]);
    }

    #[test]
    fn a_filled_piece_counts_only_what_was_filled() {
        let mut region = vec![0u8; 100];
        let mut scratch = Scratch::new(&mut region);
        let text = scratch
            .take_filled(|room| {
                room[..5].copy_from_slice(b"hello");
                Ok::<usize, ()>(5)
            })
            .unwrap();
        assert_eq!(text, b"hello");
        assert_eq!((scratch.touched(), scratch.left()), (5, 95));
        assert_eq!(scratch.take_filled(|_| Err::<usize, _>("no")), Err("no"));
        assert_eq!(scratch.left(), 95, "a failed fill takes nothing");
    }

    #[test]
    fn nested_scratch_gives_its_pieces_back_and_counts_its_peak() {
        let mut region = vec![0u8; 100];
        let mut scratch = Scratch::new(&mut region);
        scratch.take(10).unwrap();
        for depth in [30, 50, 20] {
            scratch.nested(|level| {
                level.take(depth).unwrap().fill(7);
                assert_eq!(level.left(), 90 - depth);
            });
        }
        // Each level had the whole rest; the deepest reached 10 + 50.
        assert_eq!((scratch.left(), scratch.touched()), (90, 60));
        scratch.nested(|outer| {
            outer.take(40).unwrap();
            outer.nested(|inner| inner.take(45).unwrap().len());
            assert!(outer.nested(|inner| inner.take(51).is_err()));
        });
        assert_eq!(scratch.touched(), 95);
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

    #[test]
    fn text_index_finds_records_by_text() {
        let (mut region, mut slots) = (vec![0u8; 4 * 40], vec![0xffu8; 2 * 8]);
        let mut records = Records::<4>::new(&mut region);
        let mut index = TextIndex::new(&mut slots);
        for (i, name) in ["sda", "vda", "sr0", "a", "b", "c", "d", "e"]
            .iter()
            .enumerate()
        {
            put_text(records.push().unwrap(), name.as_bytes());
            assert!(index.insert(&records, i), "{name}");
        }
        put_text(records.push().unwrap(), b"f");
        assert!(!index.insert(&records, 8), "8 slots hold 8 records");
        assert_eq!(index.find(&records, b"vda"), Some(1));
        assert_eq!(index.find(&records, b"e"), Some(7));
        assert_eq!(index.find(&records, b"f"), None);
        assert_eq!(index.find(&records, b"vd"), None);
        assert_eq!(TextIndex::new(&mut []).find(&records, b"sda"), None);
    }
}
