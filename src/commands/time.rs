//! The guest's clock.

use super::Call;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::time;

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
