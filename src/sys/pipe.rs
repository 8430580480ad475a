//! Pipes.

use super::fd::{BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi};

/// `pipe2(O_CLOEXEC)`, or `pipe2(O_CLOEXEC | O_NONBLOCK)` when `nonblock`: a new pipe as
/// (read end, write end). (aarch64 and riscv64 have no plain `pipe`.)
pub fn pipe2(nonblock: bool) -> Result<(OwnedFd, OwnedFd), Errno> {
    let flags = uapi::O_CLOEXEC | if nonblock { uapi::O_NONBLOCK } else { 0 };
    let mut fds = [-1i32; 2];
    // SAFETY: the kernel writes two ints at fds, a local array of two that outlives the
    // call.
    unsafe { syscall!(__NR_pipe2, fds.as_mut_ptr(), flags) }?;
    // SAFETY: pipe2(2) succeeded, so both are new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `splice(2)` from the pipe `from` to `to` at its file offset, at most `len` bytes, not
/// waiting on the pipe (`SPLICE_F_NONBLOCK`): the bytes move inside the kernel, through no
/// buffer of ours. Returns how many moved (0 at the pipe's end of file).
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize, Errno> {
    let null = core::ptr::null_mut::<i64>();
    // SAFETY: both descriptors are open (borrowed for the call); the offsets are null (use
    // and advance the files' own offsets), so the kernel writes no memory of ours.
    unsafe {
        syscall!(
            __NR_splice,
            from.as_raw_fd(),
            null,
            to.as_raw_fd(),
            null,
            len,
            uapi::SPLICE_F_NONBLOCK
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::AsFd;

    #[test]
    fn splice_moves_a_pipes_bytes_into_a_file() {
        let (r, w) = pipe2(true).unwrap();
        let store = crate::sys::fs::memfd_create(b"splice-test").unwrap();
        w.as_fd().write_all(b"hello").unwrap();
        assert_eq!(splice(r.as_fd(), store.as_fd(), 1 << 20), Ok(5));
        assert_eq!(splice(r.as_fd(), store.as_fd(), 1 << 20), Err(Errno::AGAIN));
        drop(w);
        assert_eq!(
            splice(r.as_fd(), store.as_fd(), 1 << 20),
            Ok(0),
            "end of file"
        );
        let mut back = [0u8; 8];
        assert_eq!(store.as_fd().pread(&mut back, 0), Ok(5));
        assert_eq!(&back[..5], b"hello");
    }

    #[test]
    fn both_ends_are_close_on_exec_and_nonblocking_on_request() {
        for nonblock in [false, true] {
            let (r, w) = pipe2(nonblock).unwrap();
            for fd in [r.as_fd(), w.as_fd()] {
                // SAFETY: plain fcntl(F_GETFD) of a descriptor the test owns.
                let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
                assert_eq!(fd_flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
                let nb = fd.fcntl_getfl().unwrap() & uapi::O_NONBLOCK != 0;
                assert_eq!(nb, nonblock);
            }
        }
        let (r, _w) = pipe2(true).unwrap();
        assert_eq!(r.as_fd().read(&mut [0u8; 1]), Err(Errno::AGAIN));
    }
}
