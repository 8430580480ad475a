//! riscv64: `ecall`, number in a7, arguments in a0..a5, result in a0.

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
    // SAFETY: `ecall` is the system-call entry, with the number and arguments in the
    // registers the riscv64 Linux ABI names; the kernel preserves every register but a0
    // (the result), and does not touch our stack. What the call itself does is the
    // caller's contract (see above).
    unsafe {
        asm!("ecall",
            in("a7") nr,
            inlateout("a0") a[0] as isize => ret,
            in("a1") a[1], in("a2") a[2], in("a3") a[3], in("a4") a[4], in("a5") a[5],
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
    // SAFETY: `clone` (riscv64 order: flags, stack, parent tid, tls, child tid) enters the
    // kernel as `ecall` does. In the parent it returns with every other register intact
    // and branches past the child's part. The child returns on its new stack with our
    // registers, so s2 and s3 still hold `arg` and `child`; it calls `child(arg)`, which
    // never returns (unimp should it ever), and never reaches our code. Until it execs or
    // exits we are suspended, so nothing else runs on shared memory.
    unsafe {
        asm!("ecall",
            "bnez a0, 2f",
            "mv a0, s2",
            "jalr s3",
            "unimp",
            "2:",
            in("a7") __NR_clone as usize,
            inlateout("a0") FLAGS as isize => ret,
            in("a1") stack_top, in("a2") 0usize, in("a3") 0usize, in("a4") 0usize,
            in("s2") arg, in("s3") child,
            options(nostack));
    }
    ret
}
