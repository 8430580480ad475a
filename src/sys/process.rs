//! Process-level calls: exit, fork, sessions, ids.

use super::{Errno, syscall, uapi};

/// `exit_group(2)`
pub fn exit(code: i32) -> ! {
    let _ = syscall!(__NR_exit_group, code as isize);
    // exit_group does not return; should it ever, do not run on.
    loop {
        core::hint::spin_loop();
    }
}

/// `getpid(2)`
pub fn getpid() -> i32 {
    syscall!(__NR_getpid).unwrap_or(0) as i32
}

/// `clone(SIGCHLD)`, i.e. fork(2) (aarch64 and riscv64 have no fork system call).
/// Returns 0 in the child and the child's pid in the parent.
pub fn fork() -> Result<i32, Errno> {
    // s390x takes (stack, flags, ...) where the others take (flags, stack, ...); with a
    // null stack the child runs on a copy of ours, as fork does.
    #[cfg(target_arch = "s390x")]
    let pid = syscall!(__NR_clone, 0usize, uapi::SIGCHLD)?;
    #[cfg(not(target_arch = "s390x"))]
    let pid = syscall!(__NR_clone, uapi::SIGCHLD, 0usize, 0usize, 0usize, 0usize)?;
    Ok(pid as i32)
}

/// `setsid(2)`
pub fn setsid() -> Result<(), Errno> {
    syscall!(__NR_setsid).map(drop)
}
