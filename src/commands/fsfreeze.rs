//! Freezing file systems for a consistent snapshot: `guest-fsfreeze-status`, `-freeze`,
//! `-freeze-list` and `-thaw`, as qemu-ga does them, with two things qemu-ga lacks: the
//! `-F` hook runs with a deadline (a hung hook is killed, not waited for forever), and the
//! agent thaws what it froze when told to stop.
//!
//! While frozen, only the freeze-safe commands run (the policy refuses the others with
//! qemu-ga's "has been disabled: the agent is in frozen state"), the agent's log pauses,
//! and nothing is written anywhere but the state directory's marker
//! (`<statedir>/qga.state.isfrozen`), which tells a restarted agent that it left the
//! file systems frozen.

use super::run;
use super::scratch::Scratch;
use super::{Call, Environment, State, mounts};
use crate::arguments;
use crate::protocol::{List, QmpError};
use crate::qmp_error;
use crate::sys::{AsFd, Errno, PATH_MAX, fs, uapi};
use crate::text::Lossy;

/// How long the freeze hook may run before it is killed.
pub const HOOK_TIMEOUT_MS: u64 = 30_000;

/// What freezing needs to know beyond the request.
pub struct Freezer {
    /// `<statedir>/qga.state.isfrozen`.
    marker: heapless::Vec<u8, PATH_MAX>,
    /// The `-F` hook, if configured.
    hook: Option<&'static [u8]>,
}

impl Freezer {
    pub fn new(statedir: &[u8], hook: Option<&'static [u8]>) -> Freezer {
        let mut buf = [0u8; PATH_MAX];
        let marker = fs::join(&mut buf, &[statedir, b"/qga.state.isfrozen"])
            .and_then(|p| heapless::Vec::from_slice(p).ok())
            .unwrap_or_default();
        Freezer { marker, hook }
    }

    /// Whether a previous agent left the file systems frozen.
    pub fn left_frozen(&self) -> bool {
        !self.marker.is_empty() && fs::stat(&self.marker).is_ok()
    }
}

impl Default for Freezer {
    fn default() -> Self {
        Freezer::new(b"", None)
    }
}

/// `guest-fsfreeze-status` → `"thawed"` or `"frozen"` (the agent's own state).
pub fn guest_fsfreeze_status(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let frozen = call.state.policy.frozen;
    call.reply.write(|w| {
        w.str(if frozen { "frozen" } else { "thawed" });
        Ok(())
    })
}

/// `guest-fsfreeze-freeze` → how many file systems were frozen.
pub fn guest_fsfreeze_freeze(call: &mut Call, _: ()) -> Result<(), QmpError> {
    freeze(call, None)
}

arguments! {
    /// `guest-fsfreeze-freeze-list`
    pub struct FreezeList<'d> {
        "mountpoints" => mountpoints: Option<List<'d, &'d str>>,
    }
}

/// `guest-fsfreeze-freeze-list {mountpoints?}` → how many were frozen; only the listed
/// mount points (exact strings) when given.
pub fn guest_fsfreeze_freeze_list(call: &mut Call, args: FreezeList<'_>) -> Result<(), QmpError> {
    freeze(call, args.mountpoints)
}

/// qemu-ga's freeze: the hook first (its failure freezes nothing), then the frozen state,
/// then FIFREEZE on each block-device mount, last mounted first. EOPNOTSUPP and EBUSY (a
/// second mount of a frozen device) are not counted; any other failure thaws everything
/// again and is the error. Freezing nothing leaves the frozen state at once.
fn freeze(call: &mut Call, only: Option<List<'_, &str>>) -> Result<(), QmpError> {
    let state = &mut *call.state;
    run_hook(state, call.scratch.take(run::ROOM)?, b"freeze")?;
    let text = mounts::read(&mut call.scratch)?;
    enter_frozen(&mut state.policy, &state.freezer);
    let mut frozen = 0i64;
    let mut failure = None;
    let _ = mounts::each_reversed(text, |mount, _| {
        let wanted = only.is_none_or(|list| list.iter().any(|m| m.as_bytes() == mount.mountpoint));
        if !wanted || failure.is_some() {
            return Ok::<(), ()>(());
        }
        let shown = Lossy(mount.mountpoint);
        match fs::open(mount.mountpoint, uapi::O_RDONLY, 0) {
            Err(e) => failure = Some(qmp_error!("failed to open {shown}: {e}")),
            Ok(fd) => match fd.as_fd().freeze_fs() {
                Ok(()) => frozen += 1,
                Err(Errno::OPNOTSUPP | Errno::BUSY) => {}
                Err(e) => failure = Some(qmp_error!("failed to freeze {shown}: {e}")),
            },
        }
        Ok(())
    });
    if let Some(error) = failure {
        let _ = thaw(state, &mut call.scratch);
        return Err(error);
    }
    if frozen == 0 {
        leave_frozen(state);
    }
    call.reply.write(|w| {
        w.int(frozen);
        Ok(())
    })
}

/// `guest-fsfreeze-thaw` → how many file systems were thawed. Nothing frozen: 0.
pub fn guest_fsfreeze_thaw(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let thawed = thaw(call.state, &mut call.scratch)?;
    call.reply.write(|w| {
        w.int(thawed);
        Ok(())
    })
}

/// FITHAW on every block-device mount until it fails (a device frozen twice needs two),
/// counting the mounts thawed at least once; then the frozen state ends and the hook runs
/// with `thaw` (its failure is the error). Also what the agent does before it exits.
pub fn thaw(state: &mut State, scratch: &mut Scratch) -> Result<i64, QmpError> {
    let hook_room = scratch.take(run::ROOM)?;
    let text = mounts::read(scratch)?;
    let mut thawed = 0i64;
    let _ = mounts::each_reversed(text, |mount, _| {
        if let Ok(fd) = fs::open(mount.mountpoint, uapi::O_RDONLY, 0) {
            let mut any = false;
            // Bounded: a file system cannot have been frozen more often than this.
            for _ in 0..1024 {
                if fd.as_fd().thaw_fs().is_err() {
                    break;
                }
                any = true;
            }
            thawed += i64::from(any);
        }
        Ok::<(), ()>(())
    });
    leave_frozen(state);
    run_hook(state, hook_room, b"thaw")?;
    Ok(thawed)
}

/// Enters the frozen state: the marker is written while nothing is frozen yet.
fn enter_frozen(policy: &mut super::Policy, freezer: &Freezer) {
    policy.frozen = true;
    let marker = &freezer.marker;
    if !marker.is_empty() {
        let _ = fs::open(marker, uapi::O_WRONLY | uapi::O_CREAT, 0o600);
    }
}

fn leave_frozen(state: &mut State) {
    state.policy.frozen = false;
    let marker = &state.freezer.marker;
    if !marker.is_empty() {
        let _ = fs::unlink(marker);
    }
}

/// Runs `<hook> freeze|thaw`, if a hook is configured, within [`HOOK_TIMEOUT_MS`].
fn run_hook(state: &State, room: &mut [u8], action: &[u8]) -> Result<(), QmpError> {
    let Some(hook) = state.freezer.hook else {
        return Ok(());
    };
    let env: &Environment = &state.env;
    let result = run::run(&[hook, action], room, env, HOOK_TIMEOUT_MS);
    run::check(result, "execute fsfreeze hook", hook)
}
