//! Synchronisation: the commands a host sends first on every connection to find the start
//! of its own replies in a stream that may hold stale ones.

use super::Call;
use crate::arguments;
use crate::protocol::QmpError;

arguments! {
    /// `guest-sync` and `guest-sync-delimited`.
    pub struct Sync {
        "id" => id: i64,
    }
}

/// `guest-sync {id}`: returns `id`.
pub fn guest_sync(call: &mut Call, args: Sync) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.int(args.id);
        Ok(())
    })
}

/// `guest-sync-delimited {id}`: returns `id`, its response prefixed by the 0xFF sentinel
/// so that a client can discard everything before it.
pub fn guest_sync_delimited(call: &mut Call, args: Sync) -> Result<(), QmpError> {
    call.reply.delimit();
    guest_sync(call, args)
}

/// `guest-ping`: returns `{}`.
pub fn guest_ping(_: &mut Call, _: ()) -> Result<(), QmpError> {
    Ok(())
}
