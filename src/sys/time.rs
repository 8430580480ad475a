//! Clocks.

use super::{Errno, syscall, uapi};

/// `clock_gettime(CLOCK_REALTIME)` as (seconds, nanoseconds) since the epoch.
pub fn realtime() -> Result<(i64, u32), Errno> {
    clock(uapi::CLOCK_REALTIME)
}

/// `clock_gettime(CLOCK_MONOTONIC)` as (seconds, nanoseconds).
pub fn monotonic() -> Result<(i64, u32), Errno> {
    clock(uapi::CLOCK_MONOTONIC)
}

fn clock(id: u32) -> Result<(i64, u32), Errno> {
    let mut ts = uapi::__kernel_timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes one struct __kernel_timespec at &mut ts, a local that
    // outlives the call.
    unsafe {
        syscall!(
            __NR_clock_gettime,
            id,
            &mut ts as *mut uapi::__kernel_timespec
        )
    }?;
    Ok((ts.tv_sec, ts.tv_nsec as u32))
}

/// Milliseconds on the monotonic clock, for timers.
pub fn monotonic_ms() -> u64 {
    monotonic()
        .map(|(s, ns)| s as u64 * 1000 + ns as u64 / 1_000_000)
        .unwrap_or(0)
}

/// `clock_nanosleep(CLOCK_MONOTONIC, 0)`: sleeps `ms` milliseconds (a signal may end it
/// early; callers that wait for something check again).
pub fn sleep_ms(ms: u64) {
    let ts = uapi::__kernel_timespec {
        tv_sec: (ms / 1000) as _,
        tv_nsec: ((ms % 1000) * 1_000_000) as _,
    };
    // SAFETY: the kernel reads one struct __kernel_timespec at &ts, a local that outlives
    // the call; the remaining-time pointer is null (not wanted).
    let _ = unsafe {
        syscall!(
            __NR_clock_nanosleep,
            uapi::CLOCK_MONOTONIC,
            0,
            &ts as *const uapi::__kernel_timespec,
            0usize
        )
    };
}

/// `clock_settime(CLOCK_REALTIME)`: sets the system clock.
pub fn set_realtime(secs: i64, nanos: u32) -> Result<(), Errno> {
    let ts = uapi::__kernel_timespec {
        tv_sec: secs as _,
        tv_nsec: nanos as _,
    };
    // SAFETY: the kernel reads one struct __kernel_timespec at &ts, a local that outlives
    // the call.
    unsafe {
        syscall!(
            __NR_clock_settime,
            uapi::CLOCK_REALTIME,
            &ts as *const uapi::__kernel_timespec
        )
    }
    .map(drop)
}
