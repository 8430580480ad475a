//! Owned and borrowed file descriptors, in the shape of std's and rustix's `OwnedFd`,
//! `BorrowedFd` and `AsFd` (which a crate without std or libc cannot use).
//!
//! An [`OwnedFd`] closes its descriptor when dropped. A [`BorrowedFd`] is a `Copy` handle
//! that cannot outlive what it was borrowed from. The calls that merely use a descriptor
//! are methods of `BorrowedFd`, so a call site reads `fd.as_fd().read(buf)`, and every API
//! that takes a descriptor takes a `BorrowedFd<'_>`. The methods for regular files (seek,
//! sync, truncate, locks, stat, ...) are in [`super::fs`].
//!
//! A raw number becomes one of these only through an `unsafe` constructor,
//! [`OwnedFd::from_raw_fd`] or [`BorrowedFd::borrow_raw`], whose caller vouches that the
//! number is open (and, for an owner, owned by nobody else).

use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use super::{Errno, syscall, uapi};

/// An open file descriptor that this value alone owns; `close(2)`d when dropped.
#[repr(transparent)]
#[derive(Debug)]
pub struct OwnedFd {
    fd: i32,
}

impl OwnedFd {
    /// Takes ownership of descriptor `fd`.
    ///
    /// # Safety
    /// `fd` must be an open descriptor that nothing else owns or closes: the returned value
    /// closes it when dropped, and every borrow of it must have ended by then.
    pub const unsafe fn from_raw_fd(fd: i32) -> OwnedFd {
        OwnedFd { fd }
    }

    /// The descriptor's number (ownership stays here).
    pub const fn as_raw_fd(&self) -> i32 {
        self.fd
    }

    /// Gives up ownership without closing: the caller now answers for the descriptor.
    pub fn into_raw_fd(self) -> i32 {
        ManuallyDrop::new(self).fd
    }
}

impl Drop for OwnedFd {
    /// `close(2)`
    fn drop(&mut self) {
        // SAFETY: close takes no pointer; this value owns the descriptor (the contract of
        // `from_raw_fd`) and is going away, so nothing uses the number after this.
        let _ = unsafe { syscall!(__NR_close, self.fd) };
    }
}

/// A descriptor borrowed from its owner for `'fd`: it stays open at least that long.
#[repr(transparent)]
#[derive(Debug, Clone, Copy)]
pub struct BorrowedFd<'fd> {
    fd: i32,
    _owner: PhantomData<&'fd OwnedFd>,
}

impl<'fd> BorrowedFd<'fd> {
    /// Borrows descriptor `fd` for `'fd`.
    ///
    /// # Safety
    /// `fd` must be open, and stay open, for all of `'fd`: whoever owns it must not close
    /// it while this value or a copy of it is alive.
    pub const unsafe fn borrow_raw(fd: i32) -> BorrowedFd<'fd> {
        BorrowedFd {
            fd,
            _owner: PhantomData,
        }
    }
}

impl BorrowedFd<'_> {
    /// The descriptor's number.
    pub const fn as_raw_fd(self) -> i32 {
        self.fd
    }

    /// `read(2)`
    pub fn read(self, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: the kernel writes at most buf.len() bytes at buf, which is valid and
        // exclusively ours (a `&mut`) for the duration of the call.
        unsafe { syscall!(__NR_read, self.fd, buf.as_mut_ptr(), buf.len()) }
    }

    /// `write(2)`
    pub fn write(self, buf: &[u8]) -> Result<usize, Errno> {
        // SAFETY: the kernel reads at most buf.len() bytes at buf, which is valid for the
        // duration of the call.
        unsafe { syscall!(__NR_write, self.fd, buf.as_ptr(), buf.len()) }
    }

    /// `write(2)` until everything is written; for blocking descriptors (files, stderr).
    pub fn write_all(self, mut buf: &[u8]) -> Result<(), Errno> {
        while !buf.is_empty() {
            match self.write(buf) {
                Ok(0) => return Err(Errno::IO),
                Ok(n) => buf = buf.get(n..).unwrap_or_default(),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `fcntl(F_GETFL)`: the file status flags and access mode (`O_NONBLOCK`, `O_APPEND`,
    /// `O_RDWR`, ...).
    pub fn fcntl_getfl(self) -> Result<u32, Errno> {
        // SAFETY: F_GETFL takes no argument.
        unsafe { syscall!(__NR_fcntl, self.fd, uapi::F_GETFL) }.map(|flags| flags as u32)
    }

    /// `fcntl(F_SETFL, flags)`: sets the file status flags the kernel lets change
    /// (`O_NONBLOCK`, `O_APPEND`, `O_ASYNC`, `O_DIRECT`, `O_NOATIME`).
    pub fn fcntl_setfl(self, flags: u32) -> Result<(), Errno> {
        // SAFETY: F_SETFL takes an integer argument, no pointer.
        unsafe { syscall!(__NR_fcntl, self.fd, uapi::F_SETFL, flags) }.map(drop)
    }
}

/// Anything that holds a descriptor and can lend it out.
pub trait AsFd {
    /// Borrows the descriptor for as long as `self` is borrowed.
    fn as_fd(&self) -> BorrowedFd<'_>;
}

impl AsFd for OwnedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        BorrowedFd {
            fd: self.fd,
            _owner: PhantomData,
        }
    }
}

impl AsFd for BorrowedFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        *self
    }
}

impl<T: AsFd + ?Sized> AsFd for &T {
    fn as_fd(&self) -> BorrowedFd<'_> {
        (**self).as_fd()
    }
}

// The standard descriptors 0, 1 and 2 belong to the process as a whole: they are open
// from exec on (the convention every parent follows), no `OwnedFd` ever owns them, and the
// agent never closes them; it only redirects them with `dup3`, which swaps the open file
// behind a number without the number ever being closed. Borrowing them for 'static is
// therefore sound; the three functions below are the only places that do it.

/// Standard input (descriptor 0), borrowed for the whole process.
pub fn stdin() -> BorrowedFd<'static> {
    // SAFETY: descriptor 0 stays open for the whole process (see above).
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Standard output (descriptor 1), borrowed for the whole process.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: descriptor 1 stays open for the whole process (see above).
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Standard error (descriptor 2), borrowed for the whole process.
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: descriptor 2 stays open for the whole process (see above).
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// `dup3(old, new, flags)`: makes `new` refer to `old`'s open file (what `new` referred to
/// is closed). `flags` is 0 or `O_CLOEXEC`. The switch is atomic, so `new` never stops
/// being an open descriptor: its owner and borrowers stay valid and now reach the other
/// file (used to point stdio elsewhere, and to give the log file's number a new file).
pub fn dup3(old: BorrowedFd<'_>, new: BorrowedFd<'_>, flags: u32) -> Result<(), Errno> {
    // SAFETY: dup3 takes no pointer. It closes `new`'s file but never leaves the number
    // closed, so no owner or borrow of `new` is invalidated (see above).
    unsafe { syscall!(__NR_dup3, old.fd, new.fd, flags) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::pipe::pipe2;

    #[test]
    fn a_pipe_carries_bytes_from_write_to_read() {
        let (r, w) = pipe2(false).unwrap();
        w.as_fd().write_all(b"hello").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(r.as_fd().read(&mut buf), Ok(5));
        assert_eq!(&buf[..5], b"hello");
        drop(w);
        assert_eq!(
            r.as_fd().read(&mut buf),
            Ok(0),
            "end of file once the writer is closed"
        );
    }

    #[test]
    fn status_flags_read_and_set() {
        let (r, _w) = pipe2(false).unwrap();
        let flags = r.as_fd().fcntl_getfl().unwrap();
        assert_eq!(flags & uapi::O_NONBLOCK, 0);
        r.as_fd().fcntl_setfl(flags | uapi::O_NONBLOCK).unwrap();
        assert_ne!(r.as_fd().fcntl_getfl().unwrap() & uapi::O_NONBLOCK, 0);
        assert_eq!(r.as_fd().read(&mut [0u8; 4]), Err(Errno::AGAIN));
    }

    #[test]
    fn dup3_points_a_descriptor_at_another_file() {
        let (r1, w1) = pipe2(false).unwrap();
        let (r2, w2) = pipe2(false).unwrap();
        // w2 now writes into the first pipe; the second pipe's write end is gone.
        dup3(w1.as_fd(), w2.as_fd(), uapi::O_CLOEXEC).unwrap();
        drop(w1);
        w2.as_fd().write_all(b"x").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(r1.as_fd().read(&mut buf), Ok(1));
        drop(w2);
        assert_eq!(r1.as_fd().read(&mut buf), Ok(0));
        assert_eq!(r2.as_fd().read(&mut buf), Ok(0));
    }

    #[test]
    fn into_raw_fd_keeps_the_descriptor_open() {
        let (r, w) = pipe2(false).unwrap();
        let raw = w.into_raw_fd();
        // SAFETY: `raw` was just given up by its OwnedFd and is open; this takes it back.
        let w = unsafe { OwnedFd::from_raw_fd(raw) };
        assert_eq!(w.as_fd().write(b"ok"), Ok(2));
        assert_eq!(r.as_fd().read(&mut [0u8; 4]), Ok(2));
    }

    #[test]
    fn as_fd_through_references() {
        fn raw(fd: impl AsFd) -> i32 {
            fd.as_fd().as_raw_fd()
        }
        let (r, _w) = pipe2(false).unwrap();
        let n = r.as_raw_fd();
        assert_eq!(raw(&r), n);
        assert_eq!(raw(r.as_fd()), n);
    }
}
