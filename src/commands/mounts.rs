//! The mounted file systems that qemu-ga's `build_fs_mount_list` keeps, shared by
//! `guest-get-fsinfo`, `guest-fstrim` and the fsfreeze commands: the lines of
//! /proc/self/mountinfo with a block device under them (btrfs, which reports major 0,
//! through its source device), walked from the last mount back.

use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{Errno, PATH_MAX, fs, mountinfo, uapi};

/// Reads /proc/self/mountinfo whole into `scratch`.
pub fn read(scratch: &mut [u8]) -> Result<&mut [u8], QmpError> {
    let capacity = scratch.len();
    let len = match fs::read_file(b"/proc/self/mountinfo", scratch) {
        Ok(text) => text.len(),
        Err(Errno::FBIG) => {
            return Err(qmp_error!(
                "/proc/self/mountinfo is larger than {capacity} bytes"
            ));
        }
        Err(e) => {
            return Err(qmp_error!(
                "failed to open mtab file: '/proc/self/mountinfo': {e}"
            ));
        }
    };
    Ok(&mut scratch[..len])
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
