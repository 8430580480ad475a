//! File-system calls (all `*at` forms: aarch64 and riscv64 have no plain `open`, `unlink`
//! or `readlink`), and the calls on a regular file's descriptor.

use super::fd::{AsFd, BorrowedFd, OwnedFd};
use linux_raw_sys::ioctl;

use super::{Errno, PATH_MAX, syscall, uapi, with_cpath};

const AT_FDCWD: isize = uapi::AT_FDCWD as isize;

/// An owner or group id that `chown` and `fchown` leave as it is (the kernel's -1).
const ID_UNCHANGED: u32 = u32::MAX;

/// Where [`BorrowedFd::lseek`] measures from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeekFrom {
    /// `SEEK_SET`: from the start of the file.
    Start(u64),
    /// `SEEK_CUR`: from the current offset.
    Current(i64),
    /// `SEEK_END`: from the end of the file.
    End(i64),
}

/// The calls on regular files. (`read`, `write`, `write_all` and the status flags are in
/// [`super::fd`].)
impl BorrowedFd<'_> {
    /// `ftruncate(2)`
    pub fn truncate(self, len: u64) -> Result<(), Errno> {
        // SAFETY: ftruncate takes no pointer.
        unsafe { syscall!(__NR_ftruncate, self.as_raw_fd(), len) }.map(drop)
    }

    /// `fcntl(F_SETLK)` with a whole-file write lock; fails with EAGAIN/EACCES if another
    /// process holds it. The lock lives as long as the descriptor.
    pub fn try_lock(self) -> Result<(), Errno> {
        self.set_write_lock(uapi::F_SETLK)
    }

    /// `fcntl(F_SETLKW)` with a whole-file write lock: waits until no other process holds
    /// a conflicting lock (EINTR if a signal interrupts the wait, EDEADLK if waiting would
    /// deadlock). The lock lives as long as the descriptor.
    pub fn lock(self) -> Result<(), Errno> {
        self.set_write_lock(uapi::F_SETLKW)
    }

    fn set_write_lock(self, cmd: u32) -> Result<(), Errno> {
        let lock = uapi::flock {
            l_type: uapi::F_WRLCK as i16,
            l_whence: uapi::SEEK_SET as i16,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // SAFETY: F_SETLK and F_SETLKW read one struct flock at &lock, a local that
        // outlives the call.
        unsafe {
            syscall!(
                __NR_fcntl,
                self.as_raw_fd(),
                cmd,
                &lock as *const uapi::flock
            )
        }
        .map(drop)
    }

    /// `lseek(2)`: moves the file offset; returns the new offset from the start.
    pub fn lseek(self, pos: SeekFrom) -> Result<u64, Errno> {
        let (offset, whence) = match pos {
            SeekFrom::Start(n) => (n as i64, uapi::SEEK_SET),
            SeekFrom::Current(n) => (n, uapi::SEEK_CUR),
            SeekFrom::End(n) => (n, uapi::SEEK_END),
        };
        // SAFETY: lseek takes no pointer.
        unsafe { syscall!(__NR_lseek, self.as_raw_fd(), offset, whence) }.map(|n| n as u64)
    }

    /// `pread64(2)`: reads at `offset` without moving the file offset.
    pub fn pread(self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: the kernel writes at most buf.len() bytes at buf, which is valid and
        // exclusively ours (a `&mut`) for the duration of the call.
        unsafe {
            syscall!(
                __NR_pread64,
                self.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
                offset
            )
        }
    }

    /// `pwrite64(2)`: writes at `offset` without moving the file offset.
    pub fn pwrite(self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: the kernel reads at most buf.len() bytes at buf, which is valid for the
        // duration of the call.
        unsafe {
            syscall!(
                __NR_pwrite64,
                self.as_raw_fd(),
                buf.as_ptr(),
                buf.len(),
                offset
            )
        }
    }

    /// `fsync(2)`
    pub fn fsync(self) -> Result<(), Errno> {
        // SAFETY: fsync takes no pointer.
        unsafe { syscall!(__NR_fsync, self.as_raw_fd()) }.map(drop)
    }

    /// `fdatasync(2)`
    pub fn fdatasync(self) -> Result<(), Errno> {
        // SAFETY: fdatasync takes no pointer.
        unsafe { syscall!(__NR_fdatasync, self.as_raw_fd()) }.map(drop)
    }

    /// `fchmod(2)`
    pub fn fchmod(self, mode: u32) -> Result<(), Errno> {
        // SAFETY: fchmod takes no pointer.
        unsafe { syscall!(__NR_fchmod, self.as_raw_fd(), mode) }.map(drop)
    }

    /// `fchown(2)`; `None` leaves that id as it is.
    pub fn fchown(self, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
        let (uid, gid) = (uid.unwrap_or(ID_UNCHANGED), gid.unwrap_or(ID_UNCHANGED));
        // SAFETY: fchown takes no pointer.
        unsafe { syscall!(__NR_fchown, self.as_raw_fd(), uid, gid) }.map(drop)
    }

    /// `statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS)`: fstat(2) of the descriptor.
    pub fn fstat(self) -> Result<uapi::statx, Errno> {
        // SAFETY: "" is a NUL-terminated static string.
        unsafe {
            statx(
                self.as_raw_fd() as isize,
                c"".as_ptr().cast(),
                uapi::AT_EMPTY_PATH,
            )
        }
    }
}

/// `statx(dirfd, path, flags, STATX_BASIC_STATS)`.
///
/// # Safety
/// `path` must point to a NUL-terminated string that is valid for the call.
unsafe fn statx(dirfd: isize, path: *const u8, flags: u32) -> Result<uapi::statx, Errno> {
    // SAFETY: statx is plain old data; all-zero is a valid value.
    let mut st: uapi::statx = unsafe { core::mem::zeroed() };
    // SAFETY: path is NUL-terminated and valid for the call (this function's contract); the
    // kernel fills one struct statx at &mut st, a local that outlives the call.
    unsafe {
        syscall!(
            __NR_statx,
            dirfd,
            path,
            flags,
            uapi::STATX_BASIC_STATS,
            &mut st as *mut uapi::statx
        )
    }?;
    Ok(st)
}

/// `openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`
pub fn open(path: &[u8], flags: u32, mode: u32) -> Result<OwnedFd, Errno> {
    openat(AT_FDCWD, path, flags, mode)
}

/// `openat(dir, path, flags | O_CLOEXEC, mode)`: `path` from the directory `dir`. The
/// kernel walks only what is below `dir`, which is what makes sysfs walks cheap.
pub fn open_at(dir: BorrowedFd<'_>, path: &[u8], flags: u32, mode: u32) -> Result<OwnedFd, Errno> {
    openat(dir.as_raw_fd() as isize, path, flags, mode)
}

fn openat(dir: isize, path: &[u8], flags: u32, mode: u32) -> Result<OwnedFd, Errno> {
    let fd = with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath); `dir` is
        // AT_FDCWD or a descriptor the caller holds.
        unsafe { syscall!(__NR_openat, dir, p, flags | uapi::O_CLOEXEC, mode) }
    })?;
    // SAFETY: openat(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `openat2(dir, path, {flags | O_CLOEXEC, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS})`:
/// `path` is resolved inside `dir` and may not leave it, by `..` or by a symlink (EXDEV),
/// nor pass through a /proc magic link (ELOOP). Kernels before 5.6 answer ENOSYS.
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &[u8],
    flags: u32,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    let how = uapi::open_how {
        flags: (flags | uapi::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve: (uapi::RESOLVE_BENEATH | uapi::RESOLVE_NO_MAGICLINKS) as u64,
    };
    let fd = with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath); the kernel
        // reads one struct open_how (size given) at &how, a local that outlives the call.
        unsafe {
            syscall!(
                __NR_openat2,
                dir.as_raw_fd(),
                p,
                &how as *const uapi::open_how,
                core::mem::size_of::<uapi::open_how>()
            )
        }
    })?;
    // SAFETY: openat2(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `unlinkat(AT_FDCWD, path, 0)`
pub fn unlink(path: &[u8]) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_unlinkat, AT_FDCWD, p, 0) }.map(drop)
    })
}

/// `unlinkat(AT_FDCWD, path, AT_REMOVEDIR)`: removes an empty directory.
pub fn rmdir(path: &[u8]) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_unlinkat, AT_FDCWD, p, uapi::AT_REMOVEDIR) }.map(drop)
    })
}

/// `mkdirat(AT_FDCWD, path, mode)` (the umask applies).
pub fn mkdir(path: &[u8], mode: u32) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_mkdirat, AT_FDCWD, p, mode) }.map(drop)
    })
}

/// `renameat2(AT_FDCWD, from, AT_FDCWD, to, 0)`, i.e. renameat (riscv64 has only
/// renameat2); replaces `to` atomically if it exists.
pub fn rename(from: &[u8], to: &[u8]) -> Result<(), Errno> {
    with_cpath(from, |f| {
        with_cpath(to, |t| {
            // SAFETY: f and t are NUL-terminated paths, both valid for the call (the
            // buffers of the two enclosing with_cpath calls).
            unsafe { syscall!(__NR_renameat2, AT_FDCWD, f, AT_FDCWD, t, 0) }.map(drop)
        })
    })
}

/// `fchownat(AT_FDCWD, path, uid, gid, 0)`, i.e. chown(2) (follows symbolic links); `None`
/// leaves that id as it is.
pub fn chown(path: &[u8], uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
    let (uid, gid) = (uid.unwrap_or(ID_UNCHANGED), gid.unwrap_or(ID_UNCHANGED));
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_fchownat, AT_FDCWD, p, uid, gid, 0) }.map(drop)
    })
}

impl BorrowedFd<'_> {
    /// `ioctl(FIFREEZE)` on a file system's mount point: blocks writes to it until thawed.
    pub fn freeze_fs(self) -> Result<(), Errno> {
        // SAFETY: FIFREEZE takes no argument memory (the int argument is ignored).
        unsafe { syscall!(__NR_ioctl, self.as_raw_fd(), ioctl::FIFREEZE, 0usize) }.map(drop)
    }

    /// `ioctl(FITHAW)`: undoes one FIFREEZE; fails once the file system is thawed.
    pub fn thaw_fs(self) -> Result<(), Errno> {
        // SAFETY: FITHAW takes no argument memory.
        unsafe { syscall!(__NR_ioctl, self.as_raw_fd(), ioctl::FITHAW, 0usize) }.map(drop)
    }

    /// `ioctl(FITRIM, {0, u64::MAX, minlen})`: discards the file system's unused blocks;
    /// returns (bytes trimmed, the minimum extent the kernel used), as it writes them back.
    pub fn trim_fs(self, minlen: u64) -> Result<(u64, u64), Errno> {
        let mut range = uapi::fstrim_range {
            start: 0,
            len: u64::MAX,
            minlen,
        };
        // SAFETY: FITRIM reads and writes one struct fstrim_range at &mut range, a local
        // that outlives the call.
        unsafe {
            syscall!(
                __NR_ioctl,
                self.as_raw_fd(),
                ioctl::FITRIM,
                &mut range as *mut uapi::fstrim_range
            )
        }?;
        Ok((range.len, range.minlen))
    }
}

/// `fchmodat(AT_FDCWD, path, mode, 0)` (follows symbolic links, as chmod(2)).
pub fn chmod(path: &[u8], mode: u32) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_fchmodat, AT_FDCWD, p, mode, 0) }.map(drop)
    })
}

/// `memfd_create(name, MFD_CLOEXEC)`: an anonymous file in memory, read and written like
/// any file. `name` (at most 249 bytes) only shows in /proc/self/fd.
pub fn memfd_create(name: &[u8]) -> Result<OwnedFd, Errno> {
    let fd = with_cpath(name, |p| {
        // SAFETY: p is a NUL-terminated name, valid for the call (with_cpath).
        unsafe { syscall!(__NR_memfd_create, p, uapi::MFD_CLOEXEC) }
    })?;
    // SAFETY: memfd_create(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `sync(2)`: commits every file system's buffered writes to disk.
pub fn sync() {
    // SAFETY: sync takes no argument.
    let _ = unsafe { syscall!(__NR_sync) };
}

/// `faccessat(AT_FDCWD, path, mode, 0)`
pub fn access(path: &[u8], mode: u32) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_faccessat, AT_FDCWD, p, mode, 0) }.map(drop)
    })
}

/// `readlinkat(AT_FDCWD, path, buf)`: the link's target, not NUL-terminated.
pub fn readlink<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let n = with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath); the kernel
        // writes at most buf.len() bytes at buf, which is ours (a `&mut`) for the call.
        unsafe { syscall!(__NR_readlinkat, AT_FDCWD, p, buf.as_mut_ptr(), buf.len()) }
    })?;
    buf.get(..n).ok_or(Errno::RANGE)
}

/// `chdir(2)`
pub fn chdir(path: &[u8]) -> Result<(), Errno> {
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
        unsafe { syscall!(__NR_chdir, p) }.map(drop)
    })
}

/// `umask(2)`: returns the previous mask.
pub fn umask(mask: u32) -> u32 {
    // SAFETY: umask takes no pointer.
    unsafe { syscall!(__NR_umask, mask) }.unwrap_or(0) as u32
}

/// Reads a whole small file into `buf` (`openat` + `read`); fails with EFBIG if it does not
/// fit.
///
/// Files under `/proc` are generated a piece at a time (seq_file) and are read until a read
/// returns 0. Anything else (sysfs attributes, which the kernel hands over whole, and
/// regular files) is done at the first short read: one system call less per file, which is
/// a good part of what guest-get-disks and guest-get-fsinfo cost.
pub fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let file = open(path, uapi::O_RDONLY, 0)?;
    read_whole(file.as_fd(), !path.starts_with(b"/proc/"), buf)
}

/// [`read_file`] of `path` under the directory `dir` (never under /proc).
pub fn read_file_at<'b>(
    dir: BorrowedFd<'_>,
    path: &[u8],
    buf: &'b mut [u8],
) -> Result<&'b [u8], Errno> {
    let file = open_at(dir, path, uapi::O_RDONLY, 0)?;
    read_whole(file.as_fd(), true, buf)
}

fn read_whole<'b>(
    fd: BorrowedFd<'_>,
    short_read_ends: bool,
    buf: &'b mut [u8],
) -> Result<&'b [u8], Errno> {
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..) else {
            return Err(Errno::FBIG);
        };
        if rest.is_empty() {
            // Full: it fits only if the file ends exactly here.
            let mut probe = [0u8; 1];
            return match fd.read(&mut probe)? {
                0 => Ok(&buf[..len]),
                _ => Err(Errno::FBIG),
            };
        }
        let room = rest.len();
        match fd.read(rest) {
            Ok(0) => return Ok(&buf[..len]),
            Ok(n) if n < room && short_read_ends => return Ok(&buf[..len + n]),
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// `d_type` of a directory.
pub const DT_DIR: u8 = 4;
/// `d_type` of a symbolic link.
pub const DT_LNK: u8 = 10;

/// Directory entries, read with `getdents64(2)` into a caller-provided buffer.
pub struct Dir {
    fd: OwnedFd,
    /// A listing has moved the descriptor's position: the next starts with a rewind.
    listed: core::cell::Cell<bool>,
}

impl Dir {
    /// `openat(path, O_RDONLY | O_DIRECTORY)`
    pub fn open(path: &[u8]) -> Result<Dir, Errno> {
        Ok(Dir {
            fd: open(path, uapi::O_RDONLY | uapi::O_DIRECTORY, 0)?,
            listed: core::cell::Cell::new(false),
        })
    }

    /// [`Dir::open`] of `path` under the directory `dir`.
    pub fn open_at(dir: BorrowedFd<'_>, path: &[u8]) -> Result<Dir, Errno> {
        Ok(Dir {
            fd: open_at(dir, path, uapi::O_RDONLY | uapi::O_DIRECTORY, 0)?,
            listed: core::cell::Cell::new(false),
        })
    }

    /// The directory's descriptor, to open what is in it (`open_at`, `read_file_at`).
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Calls `f` with each entry's name and type (`DT_DIR`, `DT_LNK`, ...; without "." and
    /// ".."), in the kernel's order, reading through `buf`. Every listing is whole: a
    /// second one rewinds the directory first (the first costs no `lseek`).
    pub fn for_each(&self, buf: &mut [u8], mut f: impl FnMut(&[u8], u8)) -> Result<(), Errno> {
        if self.listed.replace(true) {
            self.fd.as_fd().lseek(SeekFrom::Start(0))?;
        }
        loop {
            // SAFETY: the kernel writes at most buf.len() bytes of records at buf, which is
            // ours (a `&mut`) for the call.
            let n = unsafe {
                syscall!(
                    __NR_getdents64,
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr(),
                    buf.len()
                )
            }?;
            if n == 0 {
                return Ok(());
            }
            let mut at = 0;
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            while at + 19 <= n {
                let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
                let Some(name) = buf.get(at + 19..at + reclen) else {
                    break;
                };
                let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
                if name != b"." && name != b".." {
                    f(name, buf[at + 18]);
                }
                if reclen == 0 {
                    break;
                }
                at += reclen;
            }
        }
    }
}

/// `statx(AT_FDCWD, path, 0, STATX_BASIC_STATS)` (follows symbolic links).
pub fn stat(path: &[u8]) -> Result<uapi::statx, Errno> {
    // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath).
    with_cpath(path, |p| unsafe { statx(AT_FDCWD, p, 0) })
}

/// Which file a path named and which version of it, from its `statx`: device, inode, size,
/// and the times of its last change. A file replaced by a rename is another inode; one
/// written in place has a new ctime, unless the write fell in the same tick of the file
/// system's clock as the change before it ([`FileStamp::settled`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FileStamp {
    dev: (u32, u32),
    ino: u64,
    size: u64,
    mtime: (i64, u32),
    ctime: (i64, u32),
}

impl FileStamp {
    pub fn of(st: &uapi::statx) -> FileStamp {
        FileStamp {
            dev: (st.stx_dev_major, st.stx_dev_minor),
            ino: st.stx_ino,
            size: st.stx_size,
            mtime: (st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec),
            ctime: (st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec),
        }
    }

    /// Whether a later change to the file must give it another stamp, `now` being the
    /// time (CLOCK_REALTIME seconds) after its contents were read. File systems keep
    /// times to a tick of a coarse clock, ext4 with small inodes to the second and FAT to
    /// two: a second change of the same size within the tick of the first would leave the
    /// stamp as it was. Once the last change is three seconds old, any other falls in a
    /// later tick. (git's "racy clean" rule for its index; a ctime ahead of the clock, after
    /// the clock was set back, is never settled.)
    pub fn settled(&self, now: i64) -> bool {
        now.saturating_sub(self.ctime.0) >= 3
    }
}

/// The `S_IFMT` bits of a path's mode (S_IFREG, S_IFDIR, S_IFSOCK, ...).
pub fn file_type(path: &[u8]) -> Result<u32, Errno> {
    stat(path).map(|st| st.stx_mode as u32 & uapi::S_IFMT)
}

/// Calls `f` with each line of a file (without its newline), reading through a small
/// buffer; a line longer than [`LINE_MAX`] is passed cut at that length. `f` returns false
/// to stop early.
pub fn for_each_line(path: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> Result<(), Errno> {
    let file = open(path, uapi::O_RDONLY, 0)?;
    let fd = file.as_fd();
    let mut buf = [0u8; 4096];
    let mut len = 0; // bytes of an unfinished line kept at the front of buf
    loop {
        if len == buf.len() {
            // An over-long line: hand over what we have and skip the rest of it.
            if !f(&buf[..LINE_MAX.min(len)]) {
                return Ok(());
            }
            loop {
                let n = read_some(fd, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                if let Some(nl) = buf[..n].iter().position(|&b| b == b'\n') {
                    buf.copy_within(nl + 1..n, 0);
                    len = n - nl - 1;
                    break;
                }
            }
        }
        let n = read_some(fd, &mut buf[len..])?;
        if n == 0 {
            if len > 0 {
                f(&buf[..len]);
            }
            return Ok(());
        }
        len += n;
        let mut start = 0;
        while let Some(nl) = buf[start..len].iter().position(|&b| b == b'\n') {
            if !f(&buf[start..start + nl]) {
                return Ok(());
            }
            start += nl + 1;
        }
        buf.copy_within(start..len, 0);
        len -= start;
    }
}

/// Longest line [`for_each_line`] passes whole.
pub const LINE_MAX: usize = 4096;

fn read_some(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match fd.read(buf) {
            Err(Errno::INTR) => {}
            other => return other,
        }
    }
}

/// What `guest-get-fsinfo` needs of statfs(2).
#[derive(Debug, Clone, Copy)]
pub struct FsStats {
    pub blocks: u64,
    pub free: u64,
    pub available: u64,
    /// The fragment size (the unit of the counts), as statvfs(3) reports it.
    pub fragment: u64,
    /// The file system's magic number (`f_type`: `EXT4_SUPER_MAGIC`, `NFS_SUPER_MAGIC`...).
    pub kind: u32,
}

/// `statfs(2)`
pub fn statfs(path: &[u8]) -> Result<FsStats, Errno> {
    // SAFETY: statfs is plain old data; all-zero is a valid value.
    let mut st: uapi::statfs = unsafe { core::mem::zeroed() };
    with_cpath(path, |p| {
        // SAFETY: p is a NUL-terminated path, valid for the call (with_cpath); the kernel
        // fills one struct statfs at &mut st, a local that outlives the call.
        unsafe { syscall!(__NR_statfs, p, &mut st as *mut uapi::statfs) }
    })?;
    let fragment = if st.f_frsize != 0 {
        st.f_frsize as u64
    } else {
        st.f_bsize as u64
    };
    Ok(FsStats {
        blocks: st.f_blocks as u64,
        free: st.f_bfree as u64,
        available: st.f_bavail as u64,
        fragment,
        // Magic numbers are 32-bit; f_type is a long on most architectures.
        kind: st.f_type as u32,
    })
}

/// Where a sysfs link points, as a normalized absolute path in `out` (a path that is not a
/// link is returned normalized). Enough for sysfs, whose links sit only at the last
/// component of the paths the agent resolves.
pub fn resolve_link<'o>(path: &[u8], out: &'o mut [u8; PATH_MAX]) -> Result<&'o [u8], Errno> {
    let mut target = [0u8; PATH_MAX];
    let mut joined = [0u8; PATH_MAX];
    let full: &[u8] = match readlink(path, &mut target) {
        Ok(t) if t.starts_with(b"/") => t,
        Ok(t) => {
            let parent = &path[..path.iter().rposition(|&b| b == b'/').unwrap_or(0)];
            let len = parent.len() + 1 + t.len();
            let dst = joined.get_mut(..len).ok_or(Errno::NAMETOOLONG)?;
            dst[..parent.len()].copy_from_slice(parent);
            dst[parent.len()] = b'/';
            dst[parent.len() + 1..].copy_from_slice(t);
            &joined[..len]
        }
        Err(Errno::INVAL) => path,
        Err(e) => return Err(e),
    };
    Ok(normalize(full, out))
}

/// Removes `.`, `..` and repeated slashes from an absolute path, lexically.
pub fn normalize<'o>(path: &[u8], out: &'o mut [u8; PATH_MAX]) -> &'o [u8] {
    let mut len = 0;
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => len = out[..len].iter().rposition(|&b| b == b'/').unwrap_or(0),
            _ if len + 1 + part.len() <= PATH_MAX => {
                out[len] = b'/';
                out[len + 1..len + 1 + part.len()].copy_from_slice(part);
                len += 1 + part.len();
            }
            _ => {}
        }
    }
    if len == 0 {
        out[0] = b'/';
        len = 1;
    }
    &out[..len]
}

/// Concatenates `parts` into `buf`.
pub fn join<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b [u8]> {
    let mut len = 0;
    for part in parts {
        buf.get_mut(len..len + part.len())?.copy_from_slice(part);
        len += part.len();
    }
    buf.get(..len)
}

impl OwnedFd {
    /// `close(2)`, with its error (which dropping ignores).
    pub fn close(self) -> Result<(), Errno> {
        let fd = self.into_raw_fd();
        // SAFETY: `into_raw_fd` gave up ownership, so this is the only close of `fd`.
        unsafe { syscall!(__NR_close, fd) }.map(drop)
    }
}

/// Replaces the file at `path` atomically. `write` fills a new file beside it (named
/// `path.XXXXXX` with a random suffix, created exclusively and never through a symbolic
/// link, so that nobody who can write to the directory can redirect it); the new file gets
/// `mode` and, if given, `owner` (uid, gid), is fsync'd, then renamed over `path`. Readers
/// see the old file or the new one, never a half-written one; on failure the old file is
/// left as it was.
pub fn replace_file(
    path: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
    write: impl FnOnce(BorrowedFd<'_>) -> Result<(), Errno>,
) -> Result<(), Errno> {
    let mut suffix = [0u8; 6];
    // Never a blocking getrandom: at boot it can hold the agent for a second (see
    // random_unblocked). Without random bytes the clock will do: O_EXCL still holds.
    if super::system::random_unblocked(&mut suffix).is_err() {
        let now = super::time::monotonic().map_or(0, |(s, ns)| s as u64 ^ ns as u64);
        for (b, t) in suffix.iter_mut().zip(now.to_le_bytes()) {
            *b = t;
        }
    }
    const NAME: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for b in &mut suffix {
        *b = NAME[*b as usize % NAME.len()];
    }
    let mut tmp = [0u8; PATH_MAX];
    let tmp = join(&mut tmp, &[path, b".", &suffix]).ok_or(Errno::NAMETOOLONG)?;
    let flags = uapi::O_WRONLY | uapi::O_CREAT | uapi::O_EXCL | uapi::O_NOFOLLOW;
    let fd = open(tmp, flags, mode & 0o600)?;
    let written = (|| {
        write(fd.as_fd())?;
        if let Some((uid, gid)) = owner {
            fd.as_fd().fchown(Some(uid), Some(gid))?;
        }
        fd.as_fd().fchmod(mode)?;
        fd.as_fd().fsync()
    })();
    let result = written
        .and_then(|()| fd.close())
        .and_then(|()| rename(tmp, path));
    if result.is_err() {
        let _ = unlink(tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// A fresh directory under the system's temp dir, removed (with what is left) on drop.
    struct TempDir(std::path::PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir =
                std::env::temp_dir().join(format!("tinyqga-sys-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }
        fn path(&self, name: &str) -> Vec<u8> {
            self.0.join(name).as_os_str().as_bytes().to_vec()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn mode(st: &uapi::statx) -> u32 {
        st.stx_mode as u32
    }

    #[test]
    fn a_directory_listed_twice_is_listed_whole_twice() {
        let dir = TempDir::new("listed-twice");
        for name in ["a", "b", "c"] {
            std::fs::write(dir.0.join(name), "").unwrap();
        }
        let listing = Dir::open(&dir.path("")).unwrap();
        let mut buf = [0u8; 512];
        let mut names = |listing: &Dir| {
            let mut names = Vec::new();
            listing
                .for_each(&mut buf, |name, _| names.push(name.to_vec()))
                .unwrap();
            names.sort();
            names
        };
        let first = names(&listing);
        assert_eq!(first, [b"a", b"b", b"c"]);
        assert_eq!(names(&listing), first);
    }

    #[test]
    fn memfd_seek_pread_pwrite_truncate_fstat() {
        let file = memfd_create(b"tinyqga-test").unwrap();
        let fd = file.as_fd();
        fd.write_all(b"hello world").unwrap();
        assert_eq!(fd.lseek(SeekFrom::Current(0)), Ok(11));
        assert_eq!(fd.lseek(SeekFrom::Start(6)), Ok(6));
        let mut buf = [0u8; 5];
        assert_eq!(fd.read(&mut buf), Ok(5));
        assert_eq!(&buf, b"world");
        assert_eq!(fd.lseek(SeekFrom::End(-5)), Ok(6));
        assert_eq!(fd.pwrite(b"HELLO", 0), Ok(5));
        assert_eq!(fd.pread(&mut buf, 0), Ok(5));
        assert_eq!(&buf, b"HELLO");
        assert_eq!(
            fd.lseek(SeekFrom::Current(0)),
            Ok(6),
            "pread/pwrite keep the offset"
        );
        assert_eq!(fd.lseek(SeekFrom::Current(-7)), Err(Errno::INVAL));
        fd.truncate(3).unwrap();
        let st = fd.fstat().unwrap();
        assert_eq!(st.stx_size, 3);
        assert_eq!(mode(&st) & uapi::S_IFMT, uapi::S_IFREG);
        fd.fchmod(0o640).unwrap();
        assert_eq!(mode(&fd.fstat().unwrap()) & 0o7777, 0o640);
        fd.fsync().unwrap();
        fd.fdatasync().unwrap();
        // SAFETY: plain fcntl(F_GETFD) of a descriptor the test owns.
        let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }

    #[test]
    fn mkdir_rename_unlink_rmdir() {
        let tmp = TempDir::new("dirs");
        let (dir, moved) = (tmp.path("d"), tmp.path("e"));
        mkdir(&dir, 0o700).unwrap();
        assert_eq!(mkdir(&dir, 0o700), Err(Errno::EXIST));
        assert_eq!(file_type(&dir), Ok(uapi::S_IFDIR));
        let file = [&dir[..], b"/f"].concat();
        let fd = open(&file, uapi::O_WRONLY | uapi::O_CREAT, 0o600).unwrap();
        fd.as_fd().write_all(b"x").unwrap();
        drop(fd);
        assert_eq!(rmdir(&dir), Err(Errno::NOTEMPTY));
        rename(&dir, &moved).unwrap();
        assert_eq!(stat(&dir).map(|_| ()), Err(Errno::NOENT));
        let moved_file = [&moved[..], b"/f"].concat();
        assert_eq!(stat(&moved_file).unwrap().stx_size, 1);
        // rename replaces an existing file.
        let other = tmp.path("g");
        drop(open(&other, uapi::O_WRONLY | uapi::O_CREAT, 0o600).unwrap());
        rename(&moved_file, &other).unwrap();
        assert_eq!(stat(&other).unwrap().stx_size, 1);
        unlink(&other).unwrap();
        rmdir(&moved).unwrap();
        assert_eq!(stat(&moved).map(|_| ()), Err(Errno::NOENT));
    }

    #[test]
    fn chown_to_the_owner_we_are() {
        let tmp = TempDir::new("chown");
        let path = tmp.path("f");
        let file = open(&path, uapi::O_WRONLY | uapi::O_CREAT, 0o600).unwrap();
        let st = file.as_fd().fstat().unwrap();
        // Setting the ids a file already has needs no privilege.
        chown(&path, Some(st.stx_uid), None).unwrap();
        chown(&path, None, Some(st.stx_gid)).unwrap();
        file.as_fd()
            .fchown(Some(st.stx_uid), Some(st.stx_gid))
            .unwrap();
        file.as_fd().fchown(None, None).unwrap();
        let after = stat(&path).unwrap();
        assert_eq!((after.stx_uid, after.stx_gid), (st.stx_uid, st.stx_gid));
        assert_eq!(chown(&tmp.path("missing"), None, None), Err(Errno::NOENT));
    }

    #[test]
    fn blocking_lock_is_taken_and_held() {
        let tmp = TempDir::new("lock");
        let path = tmp.path("lock");
        let file = open(&path, uapi::O_RDWR | uapi::O_CREAT, 0o600).unwrap();
        file.as_fd().lock().unwrap();
        // Others see it: an open-file-description lock query (which, unlike F_GETLK, is
        // not answered by our own process's locks) reports the write lock.
        let file2 = open(&path, uapi::O_RDWR, 0).unwrap();
        let mut query = libc::flock {
            l_type: libc::F_WRLCK as i16,
            l_whence: libc::SEEK_SET as i16,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        // SAFETY: F_OFD_GETLK reads and writes one struct flock at &mut query, a local.
        let r = unsafe { libc::fcntl(file2.as_raw_fd(), libc::F_OFD_GETLK, &mut query) };
        assert_eq!(r, 0);
        assert_eq!(query.l_type, libc::F_WRLCK as i16, "the lock is held");
    }

    #[test]
    fn sync_returns() {
        sync();
    }
}
