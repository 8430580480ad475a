//! `inotify(7)`: the kernel tells the agent when a name appears in a directory (a
//! virtio-serial port's device node, udev's link to it, a directory on the way), so that
//! `--retry-path` waits for the channel without polling; and when os-release may have
//! changed, so that `guest-get-osinfo` need not look.

use super::fd::{BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi, with_cpath};

/// A name was created in the watched directory.
pub const CREATE: u32 = uapi::IN_CREATE;
/// A name was moved into the watched directory (an atomic rename, as udev makes links).
pub const MOVED_TO: u32 = uapi::IN_MOVED_TO;
/// A name was deleted from, or moved out of, the watched directory.
pub const DELETE: u32 = uapi::IN_DELETE;
pub const MOVED_FROM: u32 = uapi::IN_MOVED_FROM;
/// The watched file was written, or its attributes changed (its link count too: the
/// rename of another file over it).
pub const MODIFY: u32 = uapi::IN_MODIFY;
pub const ATTRIB: u32 = uapi::IN_ATTRIB;
/// The watched directory itself was deleted or moved away.
pub const DELETE_SELF: u32 = uapi::IN_DELETE_SELF;
pub const MOVE_SELF: u32 = uapi::IN_MOVE_SELF;
/// Watch only if the path is a directory (else ENOTDIR).
pub const ONLYDIR: u32 = uapi::IN_ONLYDIR;

/// Whether inotify reports every change to files on a file system of this `kind`
/// (statfs's magic number): the local ones, changed only through this kernel. A network
/// or shared one (NFS, 9p, virtiofs and other FUSE, SMB, Ceph...) is also changed by other
/// machines, unseen; a kind not listed counts as one of those.
pub fn sees_every_change(kind: u32) -> bool {
    matches!(
        kind,
        uapi::EXT4_SUPER_MAGIC
            | uapi::XFS_SUPER_MAGIC
            | uapi::BTRFS_SUPER_MAGIC
            | uapi::F2FS_SUPER_MAGIC
            | uapi::BCACHEFS_SUPER_MAGIC
            | uapi::TMPFS_MAGIC
            | uapi::RAMFS_MAGIC
            | uapi::OVERLAYFS_SUPER_MAGIC
            | uapi::SQUASHFS_MAGIC
            | uapi::EROFS_SUPER_MAGIC_V1
            | uapi::ISOFS_SUPER_MAGIC
            | uapi::MSDOS_SUPER_MAGIC
    )
}

/// `inotify_init1(IN_NONBLOCK | IN_CLOEXEC)`
pub fn init() -> Result<OwnedFd, Errno> {
    // SAFETY: inotify_init1 takes no pointer.
    let fd = unsafe { syscall!(__NR_inotify_init1, uapi::IN_NONBLOCK | uapi::IN_CLOEXEC) }?;
    // SAFETY: inotify_init1(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `inotify_add_watch(fd, path, mask)`: returns the watch descriptor.
pub fn add_watch(fd: BorrowedFd<'_>, path: &[u8], mask: u32) -> Result<i32, Errno> {
    with_cpath(path, |path| {
        // SAFETY: the kernel reads the NUL-terminated string at `path`, which with_cpath
        // keeps valid until this closure returns.
        unsafe { syscall!(__NR_inotify_add_watch, fd.as_raw_fd(), path, mask) }
    })
    .map(|wd| wd as i32)
}
