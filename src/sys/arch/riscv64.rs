//! riscv64: `ecall`, number in a7, arguments in a0..a5, result in a0.

use core::arch::asm;

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
