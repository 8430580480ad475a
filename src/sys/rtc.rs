//! The hardware clock, `/dev/rtc0`, through the RTC ioctls (rtc(4)), so that
//! `guest-set-time` needs no `hwclock` binary. The RTC keeps UTC, as `hwclock` assumes
//! without an /etc/adjtime saying otherwise.
//!
//! The conversions to and from calendar time are pure (see [`crate::formats::calendar`]), so they
//! are unit-tested on the host.

use super::fd::{AsFd, OwnedFd};
use super::{Errno, fs, syscall, uapi};
use crate::formats::calendar::{civil_from_days, days_from_civil};
use linux_raw_sys::ioctl;

/// The RTC device hwclock uses first.
pub const RTC: &[u8] = b"/dev/rtc0";

/// `struct rtc_time` (the first nine fields of `struct tm`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtcTime {
    pub sec: i32,
    pub min: i32,
    pub hour: i32,
    pub mday: i32,
    /// 0-11
    pub mon: i32,
    /// years since 1900
    pub year: i32,
    pub wday: i32,
    pub yday: i32,
    pub isdst: i32,
}

/// `open("/dev/rtc0")`
pub fn open(write: bool) -> Result<OwnedFd, Errno> {
    let access = if write {
        uapi::O_WRONLY
    } else {
        uapi::O_RDONLY
    };
    fs::open(RTC, access, 0)
}

/// `ioctl(RTC_RD_TIME)`
pub fn read(rtc: &OwnedFd) -> Result<RtcTime, Errno> {
    let mut tm = RtcTime::default();
    // SAFETY: RTC_RD_TIME writes one struct rtc_time (nine ints, RtcTime's repr(C) layout)
    // at &mut tm, a local that outlives the call.
    unsafe {
        syscall!(
            __NR_ioctl,
            rtc.as_fd().as_raw_fd(),
            ioctl::RTC_RD_TIME,
            &mut tm as *mut RtcTime
        )
    }?;
    Ok(tm)
}

/// `ioctl(RTC_SET_TIME)`
pub fn set(rtc: &OwnedFd, tm: &RtcTime) -> Result<(), Errno> {
    // SAFETY: RTC_SET_TIME reads one struct rtc_time at tm, borrowed for the call.
    unsafe {
        syscall!(
            __NR_ioctl,
            rtc.as_fd().as_raw_fd(),
            ioctl::RTC_SET_TIME,
            tm as *const RtcTime
        )
    }
    .map(drop)
}

/// The UTC calendar time of `secs` since the epoch.
pub fn from_epoch(secs: i64) -> RtcTime {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let yday = days - days_from_civil(year, 1, 1);
    RtcTime {
        sec: (rest % 60) as i32,
        min: (rest / 60 % 60) as i32,
        hour: (rest / 3600) as i32,
        mday: day as i32,
        mon: (month - 1) as i32,
        year: (year - 1900) as i32,
        // 1970-01-01 was a Thursday (4).
        wday: (days + 4).rem_euclid(7) as i32,
        yday: yday as i32,
        isdst: 0,
    }
}

/// Seconds since the epoch of a UTC calendar time (wday, yday and isdst are ignored).
pub fn to_epoch(tm: &RtcTime) -> i64 {
    let days = days_from_civil(
        i64::from(tm.year) + 1900,
        i64::from(tm.mon) + 1,
        i64::from(tm.mday),
    );
    days * 86_400 + i64::from(tm.hour) * 3600 + i64::from(tm.min) * 60 + i64::from(tm.sec)
}

/// The year (e.g. 2026) of `secs` since the epoch, in UTC.
pub fn year_of(secs: i64) -> i64 {
    civil_from_days(secs.div_euclid(86_400)).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        let tm = from_epoch(0);
        assert_eq!(
            (tm.year, tm.mon, tm.mday, tm.wday, tm.yday),
            (70, 0, 1, 4, 0)
        );
        // 2000-02-29 12:34:56 UTC, a Tuesday, day 59 of a leap year.
        let tm = from_epoch(951_827_696);
        assert_eq!(
            (
                tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec, tm.wday, tm.yday
            ),
            (100, 1, 29, 12, 34, 56, 2, 59)
        );
        // 2038-01-19 03:14:08, one past i32.
        let tm = from_epoch(2_147_483_648);
        assert_eq!(
            (tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec),
            (138, 0, 19, 3, 14, 8)
        );
        assert_eq!(year_of(-1), 1969);
        assert_eq!(year_of(3_155_760_000), 2070);
    }

    #[test]
    fn round_trips_agree_with_libc() {
        let mut secs = -2_208_988_800i64; // 1900-01-01
        while secs < 4_102_444_800 {
            // 2100-01-01
            let tm = from_epoch(secs);
            assert_eq!(to_epoch(&tm), secs);
            // SAFETY: struct tm is plain old data; all-zero is a valid value.
            let mut c: libc::tm = unsafe { core::mem::zeroed() };
            let t = secs as libc::time_t;
            // SAFETY: gmtime_r writes one struct tm at &mut c; t outlives the call.
            unsafe { libc::gmtime_r(&t, &mut c) };
            assert_eq!(
                (
                    tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec, tm.wday, tm.yday
                ),
                (
                    c.tm_year, c.tm_mon, c.tm_mday, c.tm_hour, c.tm_min, c.tm_sec, c.tm_wday,
                    c.tm_yday
                ),
                "{secs}"
            );
            secs += 86_400 * 13 + 3_601 * 7 + 59;
        }
    }
}
