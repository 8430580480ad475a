//! The commands, one function each, named after the QGA command (`guest-get-time` is
//! [`time::guest_get_time`]), and the one table that describes them all.
//!
//! [`COMMANDS`] is read by dispatch (which handler, which arguments), by `guest-info` (what
//! is supported and enabled), by `--block-rpcs`/`--allow-rpcs` and by the frozen-state
//! policy. A command this build does not implement is simply not in the table: it answers
//! `CommandNotFound` and is absent from `guest-info`, exactly as in an agent built
//! without it.

#![forbid(unsafe_code)]

#[cfg(target_os = "linux")]
pub mod cpu;
#[cfg(target_os = "linux")]
pub mod disk;
#[cfg(target_os = "linux")]
pub mod disks;
#[cfg(target_os = "linux")]
pub mod fs;
#[cfg(target_os = "linux")]
pub mod host;
pub mod info;
#[cfg(target_os = "linux")]
pub mod memory;
#[cfg(target_os = "linux")]
pub mod network;
#[cfg(target_os = "linux")]
pub mod os;
#[cfg(target_os = "linux")]
pub mod route;
pub mod sync;
#[cfg(target_os = "linux")]
pub mod time;
#[cfg(target_os = "linux")]
pub mod timezone;
#[cfg(target_os = "linux")]
pub mod users;

use crate::protocol::schema::{self, Args, Member, Type, required};
use crate::protocol::{ErrorClass, JsonWriter, Output, QmpError, Request, Value};

/// The qemu-ga release whose Linux command set and wire behaviour this agent matches;
/// reported by `guest-info` and `--version`. (10.0 added `guest-get-load`; the Linux
/// command set has not changed since.)
pub const QEMU_VERSION: &str = "10.0.0";

/// A command's handler: checks what it needs, then writes its return value with
/// [`Call::reply`] or returns an error.
pub type Handler = fn(&mut Call<'_, '_>) -> Result<(), QmpError>;

/// One row of the command table.
pub struct Command {
    /// The QGA name, e.g. `guest-ping`.
    pub name: &'static str,
    pub handler: Handler,
    /// The `arguments` members, in schema order.
    pub args: &'static [Member],
    /// False for commands that send nothing when they succeed (shutdown, suspend).
    pub success_response: bool,
    /// Whether the command may run while filesystems are frozen.
    pub allowed_while_frozen: bool,
}

const fn command(name: &'static str, handler: Handler, args: &'static [Member]) -> Command {
    Command {
        name,
        handler,
        args,
        success_response: true,
        allowed_while_frozen: false,
    }
}

const fn freeze_safe(c: Command) -> Command {
    Command {
        allowed_while_frozen: true,
        ..c
    }
}

const ID: &[Member] = &[required("id", Type::Int)];

/// Every command this agent implements, in qemu-ga's registration order (the order of
/// `--block-rpcs help` and `guest-info`).
pub static COMMANDS: &[Command] = &[
    freeze_safe(command(
        "guest-sync-delimited",
        sync::guest_sync_delimited,
        ID,
    )),
    freeze_safe(command("guest-sync", sync::guest_sync, ID)),
    freeze_safe(command("guest-ping", sync::guest_ping, &[])),
    #[cfg(target_os = "linux")]
    command("guest-get-time", time::guest_get_time, &[]),
    freeze_safe(command("guest-info", info::guest_info, &[])),
    #[cfg(target_os = "linux")]
    command(
        "guest-network-get-interfaces",
        network::guest_network_get_interfaces,
        &[],
    ),
    #[cfg(target_os = "linux")]
    command("guest-get-vcpus", cpu::guest_get_vcpus, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-disks", disks::guest_get_disks, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-fsinfo", fs::guest_get_fsinfo, &[]),
    #[cfg(target_os = "linux")]
    command(
        "guest-get-memory-blocks",
        memory::guest_get_memory_blocks,
        &[],
    ),
    #[cfg(target_os = "linux")]
    command(
        "guest-get-memory-block-info",
        memory::guest_get_memory_block_info,
        &[],
    ),
    #[cfg(target_os = "linux")]
    command("guest-get-host-name", host::guest_get_host_name, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-users", users::guest_get_users, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-timezone", timezone::guest_get_timezone, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-osinfo", os::guest_get_osinfo, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-diskstats", disk::guest_get_diskstats, &[]),
    #[cfg(target_os = "linux")]
    command("guest-get-cpustats", cpu::guest_get_cpustats, &[]),
    #[cfg(target_os = "linux")]
    command(
        "guest-network-get-route",
        route::guest_network_get_route,
        &[],
    ),
    #[cfg(target_os = "linux")]
    command("guest-get-load", host::guest_get_load, &[]),
];

/// The most commands a table may have (the policy keeps one bit per command).
pub const MAX_COMMANDS: usize = 128;
static_assertions::const_assert!(MAX_COMMANDS >= 64);

/// Looks a command up by its QGA name.
pub fn find(name: &str) -> Option<(usize, &'static Command)> {
    COMMANDS.iter().enumerate().find(|(_, c)| c.name == name)
}

/// Which commands may run now: the operator's `--block-rpcs`/`--allow-rpcs` and, while
/// filesystems are frozen, only the freeze-safe ones.
#[derive(Clone)]
pub struct Policy {
    blocked: [u64; MAX_COMMANDS / 64],
    pub frozen: bool,
}

/// Why a command is refused (the suffix of qemu-ga's "has been disabled" message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotAllowed,
    Frozen,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::allow_all()
    }
}

impl Policy {
    pub const fn allow_all() -> Policy {
        Policy {
            blocked: [0; MAX_COMMANDS / 64],
            frozen: false,
        }
    }

    /// Applies the operator's lists: with an allow list, only listed commands are enabled;
    /// a blocked command is disabled even if allowed. Unknown names are ignored, as
    /// qemu-ga ignores them (the caller may warn).
    pub fn from_lists<'n>(
        blocked: impl Iterator<Item = &'n str>,
        allowed: Option<impl Iterator<Item = &'n str> + Clone>,
    ) -> Policy {
        let mut policy = Policy::allow_all();
        if let Some(allowed) = allowed {
            for (i, c) in COMMANDS.iter().enumerate() {
                if !allowed.clone().any(|name| name == c.name) {
                    policy.block(i);
                }
            }
        }
        for name in blocked {
            if let Some((i, _)) = find(name) {
                policy.block(i);
            }
        }
        policy
    }

    fn block(&mut self, index: usize) {
        if let Some(word) = self.blocked.get_mut(index / 64) {
            *word |= 1 << (index % 64);
        }
    }

    /// Why the command at `index` may not run now, if it may not.
    pub fn refusal(&self, index: usize) -> Option<Refusal> {
        let blocked = self
            .blocked
            .get(index / 64)
            .is_some_and(|w| w & (1 << (index % 64)) != 0);
        let freeze_safe = COMMANDS.get(index).is_some_and(|c| c.allowed_while_frozen);
        if self.frozen && !freeze_safe {
            Some(Refusal::Frozen)
        } else if blocked {
            Some(Refusal::NotAllowed)
        } else {
            None
        }
    }
}

/// What commands share across requests. Grows with the commands that keep state (open
/// files, running processes).
#[derive(Default)]
pub struct State {
    pub policy: Policy,
    pub env: Environment,
    /// Room for kernel files a command reads whole (`TINYQGA_SCRATCH_BYTES`).
    pub scratch: &'static mut [u8],
}

/// The environment variables commands consult (read once at start; the agent's
/// environment does not change).
#[derive(Default, Clone, Copy)]
pub struct Environment {
    /// `QGA_OS_RELEASE`: the os-release file to report instead of the system's.
    pub os_release: Option<&'static [u8]>,
    /// `TZ`: the local time zone, as GLib reads it.
    pub tz: Option<&'static [u8]>,
    /// `TZDIR`: where zone files are (default /usr/share/zoneinfo).
    pub tzdir: Option<&'static [u8]>,
}

/// One command invocation: its checked arguments, the shared state, and the response.
pub struct Call<'a, 'd> {
    pub args: Args<'d>,
    pub state: &'a mut State,
    out: &'a mut dyn Output,
    id: Option<Value<'d>>,
    replied: bool,
    delimited: bool,
}

impl Call<'_, '_> {
    /// Prefix this command's response with the 0xFF sentinel (`guest-sync-delimited`).
    pub fn delimit(&mut self) {
        self.delimited = true;
    }

    /// Writes the success response; `value` writes the `return` value. A handler replies at
    /// most once, and only once it knows it will not fail.
    pub fn reply(&mut self, value: impl FnOnce(&mut JsonWriter<'_>)) {
        if self.replied {
            return;
        }
        self.replied = true;
        if self.delimited {
            self.out.put(b"\xff");
        }
        let mut w = JsonWriter::new(&mut *self.out);
        w.begin_object();
        w.key("return");
        value(&mut w);
        if let Some(id) = self.id {
            w.key("id");
            w.value(id);
        }
        w.end_object();
        w.raw(b"\n");
        self.out.flush();
    }
}

/// Writes an error response: `{"id": ..., "error": {"class": ..., "desc": ...}}`.
pub fn write_error(out: &mut dyn Output, error: &QmpError, id: Option<Value<'_>>) {
    let mut w = JsonWriter::new(out);
    w.begin_object();
    if let Some(id) = id {
        w.key("id");
        w.value(id);
    }
    w.key("error");
    w.begin_object();
    w.key("class");
    w.str(error.class.name());
    w.key("desc");
    w.str(&error.desc);
    w.end_object();
    w.end_object();
    w.raw(b"\n");
    out.flush();
}

/// Runs one request that passed the envelope checks and writes its response (if any).
pub fn dispatch(
    request: Request<'_>,
    id: Option<Value<'_>>,
    state: &mut State,
    out: &mut dyn Output,
) {
    let Some((index, command)) = find(request.command) else {
        let error = QmpError::new(
            ErrorClass::CommandNotFound,
            format_args!("The command {} has not been found", request.command),
        );
        return write_error(out, &error, id);
    };
    if let Some(refusal) = state.policy.refusal(index) {
        let reason = match refusal {
            Refusal::NotAllowed => "the command is not allowed",
            Refusal::Frozen => "the agent is in frozen state",
        };
        let error = QmpError::new(
            ErrorClass::CommandNotFound,
            format_args!("Command {} has been disabled: {reason}", command.name),
        );
        return write_error(out, &error, id);
    }
    if let Err(error) = schema::check_arguments(request.arguments, command.args) {
        return write_error(out, &error, id);
    }
    let mut call = Call {
        args: Args(request.arguments),
        state,
        out,
        id,
        replied: false,
        delimited: false,
    };
    match (command.handler)(&mut call) {
        Ok(()) if !call.replied && command.success_response => call.reply(|w| {
            w.begin_object();
            w.end_object();
        }),
        Ok(()) => {}
        // A handler that already replied cannot take it back; by contract it does not fail
        // after replying.
        Err(error) if !call.replied => write_error(call.out, &error, id),
        Err(_) => {}
    }
}
