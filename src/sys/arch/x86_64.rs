//! x86_64: `syscall`, number in rax, arguments in rdi rsi rdx r10 r8 r9; rcx and r11 clobbered.

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
    // SAFETY: `syscall` is the system-call entry, with the number and arguments in the
    // registers the x86_64 Linux ABI names; the kernel preserves every register but rax
    // (the result), rcx and r11 (declared clobbered), and does not touch our stack. What
    // the call itself does is the caller's contract (see above).
    unsafe {
        asm!("syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
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
    // SAFETY: `clone` (x86_64 order: flags, stack, parent tid, child tid, tls) enters the
    // kernel as `syscall` does (rcx, r11 clobbered). In the parent it returns with every
    // other register intact and jumps past the child's part. The child returns on its new
    // stack with our registers, so r12 and r13 still hold `arg` and `child`; it calls
    // `child(arg)`, which never returns (ud2 should it ever), and never reaches our code.
    // Until it execs or exits we are suspended, so nothing else runs on shared memory.
    unsafe {
        asm!("syscall",
            "test rax, rax",
            "jnz 2f",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") __NR_clone as isize => ret,
            in("rdi") FLAGS, in("rsi") stack_top, in("rdx") 0usize,
            in("r10") 0usize, in("r8") 0usize,
            in("r12") arg, in("r13") child,
            lateout("rcx") _, lateout("r11") _,
            options(nostack));
    }
    ret
}
