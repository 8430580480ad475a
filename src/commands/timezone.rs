//! `guest-get-timezone`: the local zone's abbreviation and UTC offset at this instant, found
//! the way GLib (and so qemu-ga) finds the local zone: `TZ` (a zone file name under `TZDIR`
//! or /usr/share/zoneinfo, an absolute file, or a POSIX rule), else /etc/localtime, else UTC.

use super::{Call, Environment};
use crate::capacity::ZONE_FILE_BYTES;
use crate::formats::tzif::{self, LocalTime};
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{fs, time};

static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= ZONE_FILE_BYTES);

/// `guest-get-timezone` → `{zone, offset}` (offset in seconds east of UTC).
pub fn guest_get_timezone(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let (now, _) = time::realtime().map_err(|e| qmp_error!("Failed to get time: {e}"))?;
    // The biggest zone files in tzdata are about 4 KiB.
    let buf = call.scratch.take(ZONE_FILE_BYTES)?;
    let local = local_time(&call.state.env, now, buf);
    call.reply.write(|w| {
        w.begin_object();
        w.key("zone");
        w.str(&local.abbreviation);
        w.key("offset");
        w.int(local.offset as i64);
        w.end_object();
        Ok(())
    })
}

/// The local time at `now` in the configured zone, its file read through `buf`; UTC when
/// nothing usable is configured.
pub fn local_time(env: &Environment, now: i64, buf: &mut [u8]) -> LocalTime {
    let tz = env
        .tz
        .map(|tz| tz.strip_prefix(b":").unwrap_or(tz))
        .filter(|tz| !tz.is_empty());
    let Some(tz) = tz else {
        return fs::read_file(b"/etc/localtime", buf)
            .ok()
            .and_then(|data| tzif::lookup_tzif(data, now))
            .unwrap_or_else(LocalTime::utc);
    };
    let mut path = [0u8; 512];
    let file = if tz.starts_with(b"/") {
        Some(tz)
    } else {
        let dir = env.tzdir.unwrap_or(b"/usr/share/zoneinfo");
        // A name may not climb out of the zone directory.
        let safe = !tz.split(|&b| b == b'/').any(|part| part == b"..");
        safe.then(|| fs::join(&mut path, &[dir, b"/", tz]))
            .flatten()
    };
    file.and_then(|file| fs::read_file(file, buf).ok())
        .and_then(|data| tzif::lookup_tzif(data, now))
        .or_else(|| tzif::lookup_posix(tz, now))
        .unwrap_or_else(LocalTime::utc)
}
