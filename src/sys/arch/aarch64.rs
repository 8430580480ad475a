//! aarch64: `svc 0`, number in x8, arguments in x0..x5, result in x0.

use core::arch::asm;

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
