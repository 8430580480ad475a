//! The mounted file systems that qemu-ga's `build_fs_mount_list` keeps, shared by
//! `guest-get-fsinfo`, `guest-fstrim` and the fsfreeze commands: the lines of
//! /proc/self/mountinfo with a block device under them (btrfs, which reports major 0,
//! through its source device), walked from the last mount back.

use super::scratch::Scratch;
use crate::formats::mountinfo;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{Errno, PATH_MAX, fs, uapi};

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

/// Which line is the first mount of each block device, found in one pass: a small
/// open-addressing table (device numbers → offset of the first line) in the room after
/// the text. `guest-get-fsinfo` lists only first mounts, as current qemu-ga does.
pub struct FirstMounts<'r> {
    table: &'r [u8],
}

/// Bytes of a slot: major + 1 (0: empty), minor, line offset.
const SLOT: usize = 12;

impl<'r> FirstMounts<'r> {
    /// The table for the mounts of `text`, in scratch (two slots a mount).
    pub fn new(text: &[u8], scratch: &mut Scratch<'r>) -> Result<FirstMounts<'r>, QmpError> {
        let mounts = text.split(|&b| b == b'\n').count();
        let slots = (mounts * 2).next_power_of_two().max(16);
        let table = scratch
            .take(slots * SLOT)
            .map_err(|_| qmp_error!("/proc/self/mountinfo has too many mounts ({mounts})"))?;
        table.fill(0);
        let mut offset = 0;
        for line in text.split(|&b| b == b'\n') {
            if let Some(dev) = block_device(line) {
                let slot = Self::slot(table, dev);
                if slot_word(table, slot, 0) == 0 {
                    put_word(table, slot, 0, dev.0.wrapping_add(1));
                    put_word(table, slot, 1, dev.1);
                    put_word(table, slot, 2, offset as u32);
                }
            }
            offset += line.len() + 1;
        }
        Ok(FirstMounts { table })
    }

    /// Whether the line at `offset` is the first mount of `dev`.
    pub fn is_first(&self, dev: (u32, u32), offset: usize) -> bool {
        let slot = Self::slot(self.table, dev);
        slot_word(self.table, slot, 0) != 0 && slot_word(self.table, slot, 2) == offset as u32
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
}

fn slot_word(table: &[u8], slot: usize, word: usize) -> u32 {
    let at = slot * SLOT + word * 4;
    table
        .get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_ne_bytes)
}

fn put_word(table: &mut [u8], slot: usize, word: usize, value: u32) {
    let at = slot * SLOT + word * 4;
    if let Some(dst) = table.get_mut(at..at + 4) {
        dst.copy_from_slice(&value.to_ne_bytes());
    }
}

/// Calls `f(earlier_lines, mount, (major, minor))` for each block-device mount of `text`
/// (mountinfo), last line first; `earlier_lines` is the text before the mount's line.
/// Mount points and sources are unescaped in place.
pub fn each_reversed<E>(
    text: &mut [u8],
    mut f: impl FnMut(&[u8], &mountinfo::Mount<'_>, (u32, u32)) -> Result<(), E>,
) -> Result<(), E> {
    let mut end = text.len();
    while end > 0 {
        // The line before `end`, from the last one back.
        let start = text[..end - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let (before, rest) = text.split_at_mut(start);
        let line_len = rest[..end - start]
            .strip_suffix(b"\n")
            .map_or(end - start, <[u8]>::len);
        let line = &mut rest[..line_len];
        if let Some(dev) = block_device(line)
            && let Some(mount) = mountinfo::parse(line)
        {
            f(before, &mount, dev)?;
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
        for (offset, dev, is_first) in offsets {
            assert_eq!(first.is_first(dev, offset), is_first, "{dev:?} at {offset}");
        }
        // Too little room is a clear error, not a wrong answer.
        assert!(FirstMounts::new(text.as_bytes(), &mut Scratch::new(&mut [0u8; 64])).is_err());
    }
}
