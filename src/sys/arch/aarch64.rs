//! aarch64: `svc 0`, number in x8, arguments in x0..x5, result in x0.

use core::arch::asm;

use linux_raw_sys::general::{__NR_clone, CLONE_VFORK, CLONE_VM, SIGCHLD};

const FLAGS: usize = (CLONE_VM | CLONE_VFORK | SIGCHLD) as usize;

/// Enters the kernel for system call `nr` with arguments `a`.
///
/// # Safety
/// As [`super::raw_syscall`]: the arguments must be what the kernel expects for `nr`.
#[inline]
pub unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: `svc 0` is the system-call entry, with the number and arguments in the
    // registers the aarch64 Linux ABI names; the kernel preserves every register but x0
    // (the result), and does not touch our stack. What the call itself does is the
    // caller's contract (see above).
    unsafe {
        asm!("svc 0",
            in("x8") nr,
            inlateout("x0") a[0] as isize => ret,
            in("x1") a[1], in("x2") a[2], in("x3") a[3], in("x4") a[4], in("x5") a[5],
            options(nostack));
    }
    ret
}

/// `clone(CLONE_VM | CLONE_VFORK | SIGCHLD)`, the child running `child(arg)` on the stack
/// that ends at `stack_top` (see [`super::process::clone_vfork`]): the child's pid or
/// `-errno`.
///
/// # Safety
/// As [`super::process::clone_vfork`], with `stack_top` the 16-byte-aligned end of the
/// child's stack.
pub unsafe fn clone_vfork(
    stack_top: *mut u8,
    child: extern "C" fn(usize) -> !,
    arg: usize,
) -> isize {
    let ret: isize;
    // SAFETY: `clone` (aarch64 order: flags, stack, parent tid, tls, child tid) enters the
    // kernel as `svc 0` does. In the parent it returns with every other register intact
    // and branches past the child's part. The child returns on its new stack with our
    // registers, so x20 and x21 still hold `arg` and `child`; it calls `child(arg)`, which
    // never returns (brk should it ever), and never reaches our code. Until it execs or
    // exits we are suspended, so nothing else runs on shared memory.
    unsafe {
        asm!("svc 0",
            "cbnz x0, 2f",
            "mov x0, x20",
            "blr x21",
            "brk #1",
            "2:",
            in("x8") __NR_clone as usize,
            inlateout("x0") FLAGS as isize => ret,
            in("x1") stack_top, in("x2") 0usize, in("x3") 0usize, in("x4") 0usize,
            in("x20") arg, in("x21") child,
            options(nostack));
    }
    ret
}
