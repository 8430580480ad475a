//! The mounted file systems that qemu-ga's `build_fs_mount_list` keeps, shared by
//! `guest-get-fsinfo`, `guest-fstrim` and the fsfreeze commands: the lines of
//! /proc/self/mountinfo with a block device under them (btrfs, which reports major 0,
//! through its source device), walked from the last mount back.

use super::scratch::{Records, Scratch};
use crate::formats::mountinfo;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{Errno, PATH_MAX, fs, uapi};
use crate::text::{count_byte, find_byte, rfind_byte};

/// Reads /proc/self/mountinfo whole into scratch.
pub fn read<'r>(scratch: &mut Scratch<'r>) -> Result<&'r mut [u8], QmpError> {
    let capacity = scratch.left();
    scratch.take_filled(|room| match fs::read_file(b"/proc/self/mountinfo", room) {
        Ok(text) => Ok(text.len()),
        Err(Errno::FBIG) => Err(qmp_error!(
            "/proc/self/mountinfo is larger than {capacity} bytes"
        )),
        Err(e) => Err(qmp_error!(
            "failed to open mtab file: '/proc/self/mountinfo': {e}"
        )),
    })
}

/// The first mount of each block device (`guest-get-fsinfo` lists only those, as current
/// qemu-ga does), found in one pass over the text: each line's device numbers are looked
/// up in a small open-addressing table of the devices seen so far, and a line whose device
/// is new is recorded (where it is, and the device). The rest of the table is never
/// looked at again.
pub struct FirstMounts<'r> {
    /// Records of line offset, line length, major, minor (u32 each).
    lines: Records<'r, RECORD>,
}

/// Bytes of a slot of the table: major + 1 (0: empty), minor.
const SLOT: usize = 8;
/// Bytes of a first mount's record.
const RECORD: usize = 16;

impl<'r> FirstMounts<'r> {
    /// The first mounts of `text` (mountinfo), with their table in scratch (two slots and
    /// a record a mount at most).
    pub fn new(text: &[u8], scratch: &mut Scratch<'r>) -> Result<FirstMounts<'r>, QmpError> {
        let mounts = count_byte(text, b'\n') + 1;
        let slots = (mounts * 2).next_power_of_two().max(16);
        let too_many = |_| qmp_error!("/proc/self/mountinfo has too many mounts ({mounts})");
        let table = scratch.take(slots * SLOT).map_err(too_many)?;
        let mut lines = Records::new(scratch.take(mounts * RECORD).map_err(too_many)?);
        table.fill(0);
        let mut offset = 0;
        while offset <= text.len() {
            let rest = &text[offset..];
            let line = &rest[..find_byte(rest, b'\n').unwrap_or(rest.len())];
            if let Some(dev) = block_device(line) {
                let slot = slot(table, dev);
                if slot_word(table, slot, 0) == 0 {
                    put_word(table, slot, 0, dev.0.wrapping_add(1));
                    put_word(table, slot, 1, dev.1);
                    if let Some(record) = lines.push() {
                        let words = [offset as u32, line.len() as u32, dev.0, dev.1];
                        for (i, value) in words.into_iter().enumerate() {
                            set_word(record, i, value);
                        }
                    }
                }
            }
            offset += line.len() + 1;
        }
        Ok(FirstMounts { lines })
    }

    /// Calls `f(mount, (major, minor))` for each first mount, last one first, with its mount
    /// point and source unescaped in place in `text` (the text [`FirstMounts::new`] read).
    pub fn each_reversed<E>(
        &self,
        text: &mut [u8],
        mut f: impl FnMut(&mountinfo::Mount<'_>, (u32, u32)) -> Result<(), E>,
    ) -> Result<(), E> {
        for record in self.lines.iter().rev() {
            let (start, len) = (word(record, 0) as usize, word(record, 1) as usize);
            if let Some(line) = text.get_mut(start..start + len)
                && let Some(mount) = mountinfo::parse(line)
            {
                f(&mount, (word(record, 2), word(record, 3)))?;
            }
        }
        Ok(())
    }
}

/// The slot holding `dev`, or the empty one where it goes (linear probing).
fn slot(table: &[u8], (major, minor): (u32, u32)) -> usize {
    let slots = table.len() / SLOT;
    let mut at =
        (major.wrapping_mul(0x9E37_79B9) ^ minor.wrapping_mul(0x85EB_CA6B)) as usize % slots;
    for _ in 0..slots {
        let key = slot_word(table, at, 0);
        if key == 0 || (key == major.wrapping_add(1) && slot_word(table, at, 1) == minor) {
            return at;
        }
        at = (at + 1) % slots;
    }
    at
}

fn slot_word(table: &[u8], slot: usize, i: usize) -> u32 {
    word(table, slot * SLOT / 4 + i)
}

fn put_word(table: &mut [u8], slot: usize, i: usize, value: u32) {
    set_word(table, slot * SLOT / 4 + i, value);
}

/// The `i`-th 32-bit word of a table or record (0 past its end).
fn word(bytes: &[u8], i: usize) -> u32 {
    bytes
        .get(i * 4..i * 4 + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

fn set_word(bytes: &mut [u8], i: usize, value: u32) {
    if let Some(dst) = bytes.get_mut(i * 4..i * 4 + 4) {
        dst.copy_from_slice(&value.to_ne_bytes());
    }
}

/// Calls `f(mount, (major, minor))` for each block-device mount of `text` (mountinfo),
/// last line first.
/// Mount points and sources are unescaped in place.
pub fn each_reversed<E>(
    text: &mut [u8],
    mut f: impl FnMut(&mountinfo::Mount<'_>, (u32, u32)) -> Result<(), E>,
) -> Result<(), E> {
    let mut end = text.len();
    while end > 0 {
        // The line before `end`, from the last one back.
        let start = rfind_byte(&text[..end - 1], b'\n').map_or(0, |i| i + 1);
        let rest = &mut text[start..];
        let line_len = rest[..end - start]
            .strip_suffix(b"\n")
            .map_or(end - start, <[u8]>::len);
        let line = &mut rest[..line_len];
        if let Some(dev) = block_device(line)
            && let Some(mount) = mountinfo::parse(line)
        {
            f(&mount, dev)?;
        }
        end = start;
    }
    Ok(())
}

/// The block device under a mount: its own device numbers, or for btrfs (which reports
/// major 0) those of its source device. `None` for everything else (tmpfs, proc, nfs, ...).
pub fn block_device(line: &[u8]) -> Option<(u32, u32)> {
    let (major, minor, fstype, source) = mountinfo::device(line)?;
    if major != 0 {
        return Some((major, minor));
    }
    if fstype != b"btrfs" {
        return None;
    }
    let mut buf = [0u8; PATH_MAX];
    let st = fs::stat(mountinfo::unescaped(source, &mut buf)?).ok()?;
    (st.stx_mode as u32 & uapi::S_IFMT == uapi::S_IFBLK)
        .then_some((st.stx_rdev_major, st.stx_rdev_minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_mounts_in_one_pass() {
        // 3000 mounts of 1000 devices (each mounted three times), with virtual ones between.
        let mut text = String::new();
        let mut offsets = Vec::new();
        for i in 0..3000u32 {
            let dev = (8 + i % 1000 % 7, i % 1000);
            offsets.push((text.len(), dev, i < 1000));
            text += &format!(
                "{i} 1 {}:{} / /mnt/m{i} rw shared:1 - ext4 /dev/x{i} rw\n",
                dev.0, dev.1
            );
            text += &format!("{} 1 0:{i} / /proc{i} rw - proc proc rw\n", i + 10_000);
        }
        let mut room = vec![0u8; 256 * 1024];
        let first = FirstMounts::new(text.as_bytes(), &mut Scratch::new(&mut room)).unwrap();
        let mut bytes = text.clone().into_bytes();
        let mut listed = Vec::new();
        first
            .each_reversed(&mut bytes, |mount, dev| {
                listed.push((String::from_utf8_lossy(mount.mountpoint).into_owned(), dev));
                Ok::<(), ()>(())
            })
            .unwrap();
        listed.reverse();
        let want: Vec<_> = offsets
            .iter()
            .zip(0..)
            .filter(|((_, _, is_first), _)| *is_first)
            .map(|((_, dev, _), i)| (format!("/mnt/m{i}"), *dev))
            .collect();
        assert_eq!(listed, want);
        // Too little room is a clear error, not a wrong answer.
        assert!(FirstMounts::new(text.as_bytes(), &mut Scratch::new(&mut [0u8; 64])).is_err());
    }
}
