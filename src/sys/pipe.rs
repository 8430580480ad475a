//! Pipes.

use super::fd::OwnedFd;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::AsFd;

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
