//! Mounting and unmounting: what the agent does when it is the guest's init.

use super::{Errno, syscall, uapi, with_cpath};

/// `mount(source, target, fstype, flags, NULL)`: mounts a file system of type `fstype`
/// (proc, sysfs, devtmpfs, tmpfs, ...) from `source` on the directory `target`; with
/// `MS_REMOUNT` it changes the flags of the mount at `target` instead.
pub fn mount(source: &[u8], target: &[u8], fstype: &[u8], flags: u32) -> Result<(), Errno> {
    with_cpath(source, |source| {
        with_cpath(target, |target| {
            with_cpath(fstype, |fstype| {
                // SAFETY: the three are NUL-terminated strings, valid for the call
                // (with_cpath); the data pointer is null (no file-system options).
                unsafe { syscall!(__NR_mount, source, target, fstype, flags, 0usize) }.map(drop)
            })
        })
    })
}

/// `umount2(target, flags)` (`MNT_DETACH`: detach now, finish when no longer busy).
pub fn umount(target: &[u8], flags: u32) -> Result<(), Errno> {
    with_cpath(target, |target| {
        // SAFETY: target is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_umount2, target, flags) }.map(drop)
    })
}

/// `MNT_DETACH`
pub const DETACH: u32 = uapi::MNT_DETACH;
/// `MS_REMOUNT | MS_RDONLY`: make a mounted file system read-only.
pub const REMOUNT_READ_ONLY: u32 = uapi::MS_REMOUNT | uapi::MS_RDONLY;
/// `MS_NOSUID | MS_NODEV | MS_NOEXEC`, for proc and sysfs.
pub const NOSUID_NODEV_NOEXEC: u32 = uapi::MS_NOSUID | uapi::MS_NODEV | uapi::MS_NOEXEC;
/// `MS_NOSUID`, for devtmpfs, devpts and the tmpfs mounts.
pub const NOSUID: u32 = uapi::MS_NOSUID;
