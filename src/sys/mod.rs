//! The raw system-call layer: the agent's only way to reach the kernel.
//!
//! No libc is linked. Each wrapper here makes exactly one system call (named in its doc) and
//! turns the kernel's `-errno` convention into `Result<_, Errno>`. Numbers and structures
//! come from `linux-raw-sys`; the instruction that enters the kernel is in `arch/`.
//!
//! What the kernel's and the system's files and messages mean (mountinfo, netlink
//! messages, TZif, utmp, passwd, ...) is parsed in [`crate::formats`], which makes no system
//! call; this layer only fetches the bytes.
//!
//! The unsafety of a system call shows where it is made: each wrapper writes its own
//! `unsafe { syscall!(...) }` under a `// SAFETY:` comment that says why this call is sound
//! (which pointers, valid for how long, for how many bytes). Descriptors are the types of
//! [`fd`].

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64.rs")]
#[cfg_attr(target_arch = "riscv64", path = "arch/riscv64.rs")]
#[cfg_attr(target_arch = "s390x", path = "arch/s390x.rs")]
mod arch;

pub mod epoll;
mod errno;
pub mod fd;
pub mod fs;
pub mod iface;
pub mod inotify;
pub mod memory;
pub mod module;
pub mod mount;
pub mod netlink;
pub mod nvme;
pub mod pipe;
pub mod process;
pub mod rtc;
pub mod signal;
pub mod socket;
pub mod spawn;
pub mod system;
pub mod time;
pub mod tty;

pub use errno::Errno;
pub use fd::{AsFd, BorrowedFd, OwnedFd};
pub use linux_raw_sys::general as uapi;

/// Calls system call `nr` with up to six arguments (unused ones are zero) and turns the
/// result into `Result<usize, Errno>`.
///
/// It expands to a call of the `unsafe fn` [`raw_syscall`] and holds no `unsafe` block of
/// its own: every use is written `unsafe { syscall!(...) }`, under a `// SAFETY:` comment
/// saying why this call's arguments are what the kernel expects (which pointers, valid for
/// how long, for how many bytes).
macro_rules! syscall {
    ($nr:ident $(, $arg:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut args = [0usize; 6];
        let mut _i = 0;
        $( args[_i] = $arg as usize; _i += 1; )*
        $crate::sys::Errno::result($crate::sys::raw_syscall(
            linux_raw_sys::general::$nr as usize,
            args,
        ))
    }};
}
pub(crate) use syscall;

/// Makes system call `nr` with six arguments and returns the kernel's raw result.
///
/// # Safety
/// The arguments must be what the kernel expects for system call `nr`: every pointer valid
/// for the reads and writes the call makes, for as many bytes as the call uses, for the
/// duration of the call; and the call must not break an invariant Rust relies on (close a
/// descriptor someone else owns, unmap or overwrite memory Rust still uses, ...).
#[inline]
pub unsafe fn raw_syscall(nr: usize, args: [usize; 6]) -> isize {
    // SAFETY: the caller vouches for the arguments (see above); the arch stub only moves
    // them into the registers of the kernel's calling convention.
    unsafe { arch::syscall6(nr, args) }
}

/// Longest path the kernel accepts (PATH_MAX, including the terminating NUL).
pub const PATH_MAX: usize = 4096;

/// Runs `f` with `path` as a NUL-terminated string on the stack; the pointer is valid (for
/// reading up to and including the NUL) until `f` returns.
/// A path that is too long or contains a NUL fails with ENAMETOOLONG / EINVAL, as the
/// kernel would answer for such a path.
pub fn with_cpath<T>(
    path: &[u8],
    f: impl FnOnce(*const u8) -> Result<T, Errno>,
) -> Result<T, Errno> {
    if path.contains(&0) {
        return Err(Errno::INVAL);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::NAMETOOLONG);
    }
    // Not zeroed first: the kernel reads up to the NUL, and clearing 4 KiB for every path
    // was a good part of what a system call on a path cost in user space.
    let mut buf = core::mem::MaybeUninit::<[u8; PATH_MAX]>::uninit();
    let cpath = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: path.len() < PATH_MAX, so the path and its NUL fit the buffer, which is a
    // fresh local and so cannot overlap the path.
    unsafe {
        core::ptr::copy_nonoverlapping(path.as_ptr(), cpath, path.len());
        cpath.add(path.len()).write(0);
    }
    f(cpath)
}
