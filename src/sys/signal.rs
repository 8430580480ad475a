//! Signals arrive as data on a `signalfd(2)`, read by the event loop like any other input.

use super::fd::{BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi};

pub const HUP: u32 = uapi::SIGHUP;
pub const INT: u32 = uapi::SIGINT;
pub const PIPE: u32 = uapi::SIGPIPE;
pub const TERM: u32 = uapi::SIGTERM;
pub const CHLD: u32 = uapi::SIGCHLD;
pub const USR1: u32 = uapi::SIGUSR1;
pub const USR2: u32 = uapi::SIGUSR2;

/// A set of signals, in the kernel's 64-bit layout.
#[derive(Clone, Copy, Default)]
pub struct SigSet(u64);

impl SigSet {
    pub const fn of(signals: &[u32]) -> SigSet {
        let mut bits = 0u64;
        let mut i = 0;
        while i < signals.len() {
            bits |= 1 << (signals[i] - 1);
            i += 1;
        }
        SigSet(bits)
    }

    /// The signals of both sets.
    pub const fn with(self, other: SigSet) -> SigSet {
        SigSet(self.0 | other.0)
    }
}

/// `rt_sigprocmask(SIG_BLOCK)`: the signals stay pending until read from a signalfd.
pub fn block(set: SigSet) -> Result<(), Errno> {
    rt_sigprocmask(uapi::SIG_BLOCK, set)
}

/// `rt_sigprocmask(SIG_SETMASK)`: exactly `set` is blocked from now on (a new child
/// clears the mask it inherited from the agent).
pub fn set_mask(set: SigSet) -> Result<(), Errno> {
    rt_sigprocmask(uapi::SIG_SETMASK, set)
}

/// `rt_sigprocmask(how, set, NULL)`
fn rt_sigprocmask(how: u32, set: SigSet) -> Result<(), Errno> {
    // SAFETY: the kernel reads one 8-byte mask at &set.0 (sigsetsize 8), a local that
    // outlives the call; the old mask pointer is null (not wanted). Changing the mask
    // touches no memory of ours.
    unsafe {
        syscall!(
            __NR_rt_sigprocmask,
            how,
            &set.0 as *const u64,
            0usize,
            8usize
        )
    }
    .map(drop)
}

/// `signalfd4(-1, set, SFD_NONBLOCK | SFD_CLOEXEC)`
pub fn signalfd(set: SigSet) -> Result<OwnedFd, Errno> {
    let flags = uapi::O_NONBLOCK | uapi::O_CLOEXEC;
    // SAFETY: the kernel reads one 8-byte mask at &set.0 (sigsetsize 8), a local that
    // outlives the call.
    let fd = unsafe { syscall!(__NR_signalfd4, -1isize, &set.0 as *const u64, 8usize, flags) }?;
    // SAFETY: signalfd4(2) just returned this new descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Reads one pending signal number from a signalfd, if any.
pub fn read_signal(fd: BorrowedFd<'_>) -> Result<Option<u32>, Errno> {
    // struct signalfd_siginfo is 128 bytes; ssi_signo is its first u32.
    let mut info = [0u8; 128];
    match fd.read(&mut info) {
        Ok(128) => Ok(Some(u32::from_ne_bytes([
            info[0], info[1], info[2], info[3],
        ]))),
        Ok(_) | Err(Errno::AGAIN) => Ok(None),
        Err(e) => Err(e),
    }
}
