//! The `tinyqga` executable: process entry without libc.
//!
//! The kernel starts us at `_start` with the stack holding argc, argv and envp. A few
//! instructions per architecture hand that stack pointer to [`entry`], which calls the agent
//! and exits. Everything else lives in the library (`tinyqga::agent`).
//!
//! Without libc nobody provides `memcpy` and friends, which the compiler emits calls to;
//! they are defined at the bottom (memcpy, memmove, memset, memcmp, bcmp, strlen). `no_builtins` keeps the compiler from turning those very
//! loops back into calls to themselves.

#![no_std]
#![no_main]
#![no_builtins]
#![deny(clippy::undocumented_unsafe_blocks)]

use core::arch::global_asm;

#[cfg(target_arch = "x86_64")]
global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

#[cfg(target_arch = "aarch64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "bl {entry}",
    "brk #0",
    entry = sym entry,
);

#[cfg(target_arch = "riscv64")]
global_asm!(
    ".globl _start",
    "_start:",
    "mv a0, sp",
    "andi sp, sp, -16",
    "call {entry}",
    "unimp",
    entry = sym entry,
);

// s390x: the callee expects a 160-byte register save area below the stack pointer and a
// zero back chain.
#[cfg(target_arch = "s390x")]
global_asm!(
    ".globl _start",
    "_start:",
    "lgr %r2, %r15",
    "aghi %r15, -160",
    "lghi %r0, 0",
    "stg %r0, 0(%r15)",
    "brasl %r14, {entry}",
    ".word 0",
    entry = sym entry,
);

/// Reads argc/argv/envp from the initial stack and runs the agent.
///
/// # Safety
/// `sp` must be the stack pointer the kernel gave `_start`.
unsafe extern "C" fn entry(sp: *const usize) -> ! {
    // SAFETY: the kernel's initial stack is: argc, argv[0..argc], NULL, envp..., NULL.
    let (argv, envp) = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        (core::slice::from_raw_parts(argv, argc), argv.add(argc + 1))
    };
    // SAFETY: these are the kernel's argv and envp, alive for the whole process.
    let args = unsafe { tinyqga::agent::CArgs::new(argv, envp) };
    tinyqga::sys::process::exit(tinyqga::agent::main(&args))
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    tinyqga::agent::log::panic(info);
    tinyqga::sys::process::exit(101)
}

/// Referenced by the precompiled `core` (built to unwind) in builds without LTO; never
/// called, since we abort on panic.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// --- the C memory primitives the compiler calls -------------------------------------------

// These must not use anything that the compiler itself lowers to memcpy/memset (array
// repeat expressions, `ptr::write_unaligned`, slice copies): plain loads and stores only
// (a packed struct's copy is one align-1 load or store).

const WORD: usize = core::mem::size_of::<usize>();

/// # Safety
/// As C's `memcpy`: `n` bytes readable at `src`, writable at `dst`, not overlapping.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // x86_64: `rep movsb`, which current CPUs run at full copy speed (ERMS) whatever the
    // alignment; the copies that matter (a request into the request buffer, answers into
    // the output buffer) are rarely aligned alike, where the loop below goes byte by byte.
    #[cfg(target_arch = "x86_64")]
    if n >= 64 {
        // SAFETY: the caller guarantees n readable bytes at src and n writable at dst, not
        // overlapping; rep movsb copies exactly those (the direction flag is clear, as the
        // ABI requires at every call).
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                inout("rsi") src => _,
                options(nostack, preserves_flags)
            );
        }
        return dst;
    }
    // Where unaligned loads and stores are plain instructions, a short copy (most are:
    // names, numbers and separators into the output buffer) is a few of them, overlapping
    // at the end, instead of a byte loop.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "s390x"))]
    if n >= 4 {
        // SAFETY: the caller guarantees n readable bytes at src and n writable at dst, not
        // overlapping; every access below lies within the first n bytes of each (the last
        // one ends exactly at n), and Unaligned makes each an align-1 load or store.
        unsafe {
            if n >= 8 {
                let mut i = 0;
                while i + 8 <= n {
                    copy_unaligned::<u64>(dst.add(i), src.add(i));
                    i += 8;
                }
                if i < n {
                    copy_unaligned::<u64>(dst.add(n - 8), src.add(n - 8));
                }
            } else {
                copy_unaligned::<u32>(dst, src);
                copy_unaligned::<u32>(dst.add(n - 4), src.add(n - 4));
            }
        }
        return dst;
    }
    let mut i = 0;
    // SAFETY: the caller guarantees both ranges; word accesses are made only when both
    // pointers are word-aligned, and stay within the ranges.
    unsafe {
        if (dst as usize | src as usize).is_multiple_of(WORD) {
            while i + WORD <= n {
                *(dst.add(i) as *mut usize) = *(src.add(i) as *const usize);
                i += WORD;
            }
        }
        while i < n {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
    }
    dst
}

/// A `T` at any address: reading or writing one is a single align-1 access (a plain load
/// or store), never a call to `memcpy`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "s390x"))]
#[repr(C, packed)]
#[derive(Clone, Copy)]
struct Unaligned<T: Copy>(T);

/// Copies one `T` between addresses of any alignment.
///
/// # Safety
/// `size_of::<T>()` bytes readable at `src` and writable at `dst`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "s390x"))]
#[inline(always)]
unsafe fn copy_unaligned<T: Copy>(dst: *mut u8, src: *const u8) {
    // SAFETY: the caller guarantees both ranges; `Unaligned` has alignment 1.
    unsafe { *(dst as *mut Unaligned<T>) = *(src as *const Unaligned<T>) }
}

/// # Safety
/// As C's `memmove`: the ranges may overlap.
#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller guarantees both ranges. Copying forwards is safe when dst is below
    // src (or they do not overlap); otherwise copy backwards.
    unsafe {
        if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize) + n {
            let mut i = 0;
            while i < n {
                *dst.add(i) = *src.add(i);
                i += 1;
            }
        } else {
            let mut i = n;
            while i > 0 {
                i -= 1;
                *dst.add(i) = *src.add(i);
            }
        }
    }
    dst
}

/// # Safety
/// As C's `memset`.
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = c as u8;
    let word = (usize::MAX / 255) * byte as usize;
    let mut i = 0;
    // SAFETY: the caller guarantees n writable bytes at dst; word stores only when aligned.
    unsafe {
        if (dst as usize).is_multiple_of(WORD) {
            while i + WORD <= n {
                *(dst.add(i) as *mut usize) = word;
                i += WORD;
            }
        }
        while i < n {
            *dst.add(i) = byte;
            i += 1;
        }
    }
    dst
}

/// # Safety
/// As C's `memcmp`.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller guarantees n readable bytes at both.
    unsafe {
        let mut i = 0;
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return x as i32 - y as i32;
            }
            i += 1;
        }
    }
    0
}

/// # Safety
/// As C's `bcmp`.
#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: as memcmp.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// As C's `strlen`: `s` is NUL-terminated.
#[unsafe(no_mangle)]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller guarantees a terminating NUL.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
    }
    n
}

/// aarch64's outlined atomics (in compiler_builtins) ask `getauxval(AT_HWCAP)` whether the
/// CPU has LSE atomics, from a constructor that nothing runs without libc. Answering "no
/// capabilities" keeps them on the portable load/store-exclusive path.
#[cfg(target_arch = "aarch64")]
#[unsafe(no_mangle)]
extern "C" fn getauxval(_kind: u64) -> u64 {
    0
}
