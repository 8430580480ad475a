//! x86_64: `syscall`, number in rax, arguments in rdi rsi rdx r10 r8 r9; rcx and r11 clobbered.

use core::arch::asm;

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
