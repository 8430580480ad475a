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

use super::{Errno, syscall};

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
