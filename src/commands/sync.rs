//! Synchronisation: the commands a host sends first on every connection to find the start
//! of its own replies in a stream that may hold stale ones.

use super::Call;
use crate::protocol::QmpError;

/// `guest-sync {id}`: returns `id`.
pub fn guest_sync(call: &mut Call) -> Result<(), QmpError> {
    let id = call.args.int("id").unwrap_or_default();
    call.reply(|w| w.int(id));
    Ok(())
}

/// `guest-sync-delimited {id}`: returns `id`, its response prefixed by the 0xFF sentinel
/// so that a client can discard everything before it.
pub fn guest_sync_delimited(call: &mut Call) -> Result<(), QmpError> {
    call.delimit();
    guest_sync(call)
}

/// `guest-ping`: returns `{}`.
pub fn guest_ping(_call: &mut Call) -> Result<(), QmpError> {
    Ok(())
}
