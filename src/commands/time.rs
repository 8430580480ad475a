//! The guest's clock.

use super::Call;
use crate::arguments;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{rtc, time};

/// `guest-get-time` → nanoseconds since the epoch, at qemu-ga's microsecond resolution
/// (`g_get_real_time() * 1000`).
pub fn guest_get_time(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let (secs, nanos) = time::realtime().map_err(|e| qmp_error!("Failed to get time: {e}"))?;
    let ns = secs
        .saturating_mul(1_000_000)
        .saturating_add((nanos / 1000) as i64)
        .saturating_mul(1000);
    call.reply.write(|w| {
        w.int(ns);
        Ok(())
    })
}

arguments! {
    /// `guest-set-time`
    pub struct SetTime {
        "time" => time: Option<i64>,
    }
}

/// `guest-set-time {time?}`: with `time` (ns since the epoch), sets the system clock, then
/// the hardware clock from it; without, sets the system clock from the hardware clock.
/// qemu-ga runs `hwclock -w` / `hwclock -s` for the RTC part; this agent makes the RTC
/// ioctls itself, so the same works in guests without `hwclock`.
pub fn guest_set_time(_: &mut Call, args: SetTime) -> Result<(), QmpError> {
    if let Some(ns) = args.time {
        let secs = ns / 1_000_000_000;
        let micros = (ns % 1_000_000_000) / 1000;
        // qemu-ga's range check: years 1970 to 2069 (its errno is 0 there).
        if !(1970..2070).contains(&rtc::year_of(secs)) {
            return Err(qmp_error!("Invalid time: Success"));
        }
        time::set_realtime(secs, (micros * 1000) as u32)
            .map_err(|e| qmp_error!("Failed to set time to guest: {e}"))?;
        let failed =
            |e| qmp_error!("child process has failed to set hardware clock to system time: {e}");
        let device = rtc::open(true).map_err(|e| failed(RtcError(rtc::RTC, e)))?;
        return rtc::set(&device, &rtc::from_epoch(secs))
            .map_err(|e| failed(RtcError(b"RTC_SET_TIME", e)));
    }
    let failed =
        |e| qmp_error!("child process has failed to set hardware clock to system time: {e}");
    let device = rtc::open(false).map_err(|e| failed(RtcError(rtc::RTC, e)))?;
    let tm = rtc::read(&device).map_err(|e| failed(RtcError(b"RTC_RD_TIME", e)))?;
    time::set_realtime(rtc::to_epoch(&tm), 0)
        .map_err(|e| qmp_error!("Failed to set time to guest: {e}"))
}

/// What went wrong with the hardware clock, for the message.
struct RtcError(&'static [u8], crate::sys::Errno);

impl core::fmt::Display for RtcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", crate::text::Lossy(self.0), self.1)
    }
}
