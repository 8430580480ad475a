//! s390x: `svc 0`, number in r1, arguments in r2..r7, result in r2.

use core::arch::asm;

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
