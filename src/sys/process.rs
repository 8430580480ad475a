//! Process-level calls: exit, fork, sessions, ids.

use super::{Errno, syscall, uapi};

/// `exit_group(2)`
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes no pointer and ends the process; nothing runs after it.
    let _ = unsafe { syscall!(__NR_exit_group, code as isize) };
    // exit_group does not return; should it ever, do not run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `getpid(2)`
pub fn getpid() -> i32 {
    // SAFETY: getpid takes no argument.
    unsafe { syscall!(__NR_getpid) }.unwrap_or(0) as i32
}

/// `clone(SIGCHLD)`, i.e. fork(2) (aarch64 and riscv64 have no fork system call).
/// Returns 0 in the child and the child's pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // s390x takes (stack, flags, ...) where the others take (flags, stack, ...); with a
    // null stack the child runs on a copy of ours, as fork does.
    // SAFETY: with no CLONE_VM and a null stack the child gets a private copy of our whole
    // address space, its own stack included, exactly as with fork(2): no memory is shared,
    // so neither process can disturb what the other's references point to. No pointer
    // arguments (parent/child tid and tls are unused without their flags).
    #[cfg(target_arch = "s390x")]
    let pid = unsafe { syscall!(__NR_clone, 0usize, uapi::SIGCHLD) }?;
    // SAFETY: as above.
    #[cfg(not(target_arch = "s390x"))]
    let pid = unsafe { syscall!(__NR_clone, uapi::SIGCHLD, 0usize, 0usize, 0usize, 0usize) }?;
    Ok(pid as i32)
}

/// `setsid(2)`
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no argument.
    unsafe { syscall!(__NR_setsid) }.map(drop)
}
