//! `epoll(7)`. The agent waits on epoll rather than poll(2) because a virtio-serial port
//! whose host side is closed reports POLLHUP continuously and poll(2) cannot mask HUP:
//! registered edge-triggered, the port wakes us only when its state changes.

use super::fd::{BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi};

pub use uapi::epoll_event as Event;

pub const IN: u32 = uapi::EPOLLIN;
pub const OUT: u32 = uapi::EPOLLOUT;
pub const HUP: u32 = uapi::EPOLLHUP;
pub const ERR: u32 = uapi::EPOLLERR;
pub const RDHUP: u32 = uapi::EPOLLRDHUP;
pub const EDGE: u32 = uapi::EPOLLET;

pub struct Epoll(OwnedFd);

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`
    pub fn new() -> Result<Epoll, Errno> {
        // SAFETY: epoll_create1 takes no pointer.
        let fd = unsafe { syscall!(__NR_epoll_create1, uapi::EPOLL_CLOEXEC) }?;
        // SAFETY: epoll_create1(2) just returned this new descriptor; nothing else owns it.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// `epoll_ctl(EPOLL_CTL_ADD)`
    pub fn add(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        self.ctl(uapi::EPOLL_CTL_ADD, fd, events, token)
    }

    /// `epoll_ctl(EPOLL_CTL_MOD)`
    pub fn modify(&self, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        self.ctl(uapi::EPOLL_CTL_MOD, fd, events, token)
    }

    /// `epoll_ctl(EPOLL_CTL_DEL)`; a descriptor that is not registered is not an error.
    pub fn remove(&self, fd: BorrowedFd<'_>) {
        let _ = self.ctl(uapi::EPOLL_CTL_DEL, fd, 0, 0);
    }

    fn ctl(&self, op: u32, fd: BorrowedFd<'_>, events: u32, token: u64) -> Result<(), Errno> {
        let mut ev = Event {
            events,
            data: token,
        };
        // SAFETY: the kernel reads one struct epoll_event (uapi's layout, packed where the
        // arch packs it) at &mut ev, a local that outlives the call.
        unsafe {
            syscall!(
                __NR_epoll_ctl,
                self.0.as_raw_fd(),
                op,
                fd.as_raw_fd(),
                &mut ev as *mut Event
            )
        }
        .map(drop)
    }

    /// `epoll_pwait(timeout_ms, NULL)`: `-1` waits forever. EINTR is reported as no events.
    pub fn wait<'e>(&self, events: &'e mut [Event], timeout_ms: i32) -> Result<&'e [Event], Errno> {
        // SAFETY: the kernel writes at most events.len() epoll_events at events, which is
        // ours (a `&mut`) for the call; the signal mask pointer is null (none).
        let ready = unsafe {
            syscall!(
                __NR_epoll_pwait,
                self.0.as_raw_fd(),
                events.as_mut_ptr(),
                events.len(),
                timeout_ms as isize,
                0usize,
                8usize
            )
        };
        match ready {
            Ok(n) => Ok(events.get(..n).unwrap_or_default()),
            Err(Errno::INTR) => Ok(&[]),
            Err(e) => Err(e),
        }
    }
}

/// `ppoll(2)` on one descriptor: waits until `events` (or HUP/ERR) are ready or `timeout_ms`
/// passes. Returns the ready events, 0 on timeout.
pub fn poll_one(fd: BorrowedFd<'_>, events: u16, timeout_ms: u32) -> Result<u16, Errno> {
    #[repr(C)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }
    let mut pfd = PollFd {
        fd: fd.as_raw_fd(),
        events: events as i16,
        revents: 0,
    };
    let ts = uapi::__kernel_timespec {
        tv_sec: (timeout_ms / 1000) as _,
        tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
    };
    // SAFETY: the kernel reads and writes one struct pollfd (PollFd is its repr(C) layout)
    // at &mut pfd and reads one timespec at &ts, locals that outlive the call; the signal
    // mask pointer is null (none).
    let ready = unsafe {
        syscall!(
            __NR_ppoll,
            &mut pfd as *mut PollFd,
            1usize,
            &ts as *const _,
            0usize,
            8usize
        )
    };
    match ready {
        Ok(0) | Err(Errno::INTR) => Ok(0),
        Ok(_) => Ok(pfd.revents as u16),
        Err(e) => Err(e),
    }
}
