//! s390x: `svc 0`, number in r1, arguments in r2..r7, result in r2.

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
    // registers the s390x Linux ABI names; the kernel preserves every register but r2
    // (the result), and does not touch our stack. What the call itself does is the
    // caller's contract (see above).
    unsafe {
        asm!("svc 0",
            in("r1") nr,
            inlateout("r2") a[0] as isize => ret,
            in("r3") a[1], in("r4") a[2], in("r5") a[3], in("r6") a[4], in("r7") a[5],
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
    // SAFETY: `clone` (s390x order: stack, flags, parent tid, child tid, tls) enters the
    // kernel as `svc 0` does. In the parent it returns with every other register intact
    // and branches past the child's part. The child returns on its new stack with our
    // registers, so r8 and r9 still hold `arg` and `child`; it makes the 160-byte register
    // save area the ABI gives every callee, with a zero back chain, and calls `child(arg)`,
    // which never returns (an invalid instruction should it ever), and never reaches our
    // code. Until it execs or exits we are suspended, so nothing else runs on shared
    // memory.
    unsafe {
        asm!("svc 0",
            "ltgr %r2, %r2",
            "jne 2f",
            "aghi %r15, -160",
            "xc 0(8,%r15), 0(%r15)",
            "lgr %r2, %r8",
            "basr %r14, %r9",
            ".short 0",
            "2:",
            in("r1") __NR_clone as usize,
            inlateout("r2") stack_top as isize => ret,
            in("r3") FLAGS, in("r4") 0usize, in("r5") 0usize, in("r6") 0usize,
            in("r8") arg, in("r9") child,
            options(nostack));
    }
    ret
}
