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
pub mod account;
#[cfg(target_os = "linux")]
pub mod cpu;
#[cfg(target_os = "linux")]
pub mod disk_address;
#[cfg(target_os = "linux")]
pub mod disk_serials;
#[cfg(target_os = "linux")]
pub mod disks;
#[cfg(target_os = "linux")]
pub mod diskstats;
#[cfg(target_os = "linux")]
pub mod exec;
#[cfg(target_os = "linux")]
pub mod file;
#[cfg(target_os = "linux")]
pub mod fsfreeze;
#[cfg(target_os = "linux")]
pub mod fsinfo;
#[cfg(target_os = "linux")]
pub mod fstrim;
#[cfg(target_os = "linux")]
pub mod host;
pub mod info;
#[cfg(target_os = "linux")]
pub mod memory;
#[cfg(target_os = "linux")]
pub mod mounts;
#[cfg(target_os = "linux")]
pub mod network;
#[cfg(target_os = "linux")]
pub mod os;
#[cfg(target_os = "linux")]
pub mod password;
#[cfg(target_os = "linux")]
pub mod power;
#[cfg(target_os = "linux")]
pub mod route;
#[cfg(target_os = "linux")]
pub mod run;
pub mod scratch;
#[cfg(target_os = "linux")]
pub mod ssh;
pub mod sync;
#[cfg(target_os = "linux")]
pub mod time;
#[cfg(target_os = "linux")]
pub mod timezone;
#[cfg(target_os = "linux")]
pub mod users;

use crate::protocol::schema::{self, Arguments, Member};
use crate::protocol::{ErrorClass, JsonWriter, Output, QmpError, Request, Value};
use scratch::Scratch;

/// The qemu-ga release whose Linux command set and wire behaviour this agent matches;
/// reported by `guest-info` and `--version`. (10.0 added `guest-get-load`; the Linux
/// command set has not changed since.)
pub const QEMU_VERSION: &str = "10.0.0";

/// A command's handler: takes its typed arguments, writes its return value through
/// [`Reply::write`] or returns an error.
pub type Handler<A> = fn(&mut Call<'_>, A) -> Result<(), QmpError>;

/// Reads a request's checked arguments and runs the handler (made by `command!`).
pub type Run = fn(&mut Call<'_>, Option<Value<'_>>) -> Result<(), QmpError>;

/// One row of the command table.
pub struct Command {
    /// The QGA name, e.g. `guest-ping`.
    pub name: &'static str,
    pub run: Run,
    /// The `arguments` members, in schema order: the same declaration the handler reads.
    pub args: &'static [Member],
    /// False for commands that send nothing when they succeed (shutdown, suspend).
    pub success_response: bool,
    /// Whether the command may run while filesystems are frozen.
    pub allowed_while_frozen: bool,
}

/// The argument schema of a handler, found from its signature.
pub const fn arguments_of<'d, A: Arguments<'d>>(_: Handler<A>) -> &'static [Member] {
    A::MEMBERS
}

/// A table row for `handler`, whose argument type gives both the schema and the typed
/// view: `command!("guest-file-read", file::guest_file_read)`.
macro_rules! command {
    ($name:literal, $handler:path) => {
        Command {
            name: $name,
            run: |call, arguments| $handler(call, Arguments::read(arguments)),
            args: arguments_of($handler),
            success_response: true,
            allowed_while_frozen: false,
        }
    };
}

/// A command that sends nothing when it succeeds (the guest is going away). (Those are
/// Linux commands only: unused in a bare-metal build.)
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const fn without_response(c: Command) -> Command {
    Command {
        success_response: false,
        ..c
    }
}

const fn freeze_safe(c: Command) -> Command {
    Command {
        allowed_while_frozen: true,
        ..c
    }
}

/// Every command this agent implements, in qemu-ga's registration order (the order of
/// `--block-rpcs help` and `guest-info`).
pub const COMMANDS: &[Command] = &[
    freeze_safe(command!("guest-sync-delimited", sync::guest_sync_delimited)),
    freeze_safe(command!("guest-sync", sync::guest_sync)),
    freeze_safe(command!("guest-ping", sync::guest_ping)),
    #[cfg(target_os = "linux")]
    command!("guest-get-time", time::guest_get_time),
    #[cfg(target_os = "linux")]
    command!("guest-set-time", time::guest_set_time),
    freeze_safe(command!("guest-info", info::guest_info)),
    #[cfg(target_os = "linux")]
    without_response(command!("guest-shutdown", power::guest_shutdown)),
    #[cfg(target_os = "linux")]
    command!("guest-file-open", file::guest_file_open),
    #[cfg(target_os = "linux")]
    command!("guest-file-close", file::guest_file_close),
    #[cfg(target_os = "linux")]
    command!("guest-file-read", file::guest_file_read),
    #[cfg(target_os = "linux")]
    command!("guest-file-write", file::guest_file_write),
    #[cfg(target_os = "linux")]
    command!("guest-file-seek", file::guest_file_seek),
    #[cfg(target_os = "linux")]
    command!("guest-file-flush", file::guest_file_flush),
    #[cfg(target_os = "linux")]
    freeze_safe(command!(
        "guest-fsfreeze-status",
        fsfreeze::guest_fsfreeze_status
    )),
    #[cfg(target_os = "linux")]
    command!("guest-fsfreeze-freeze", fsfreeze::guest_fsfreeze_freeze),
    #[cfg(target_os = "linux")]
    command!(
        "guest-fsfreeze-freeze-list",
        fsfreeze::guest_fsfreeze_freeze_list
    ),
    #[cfg(target_os = "linux")]
    freeze_safe(command!(
        "guest-fsfreeze-thaw",
        fsfreeze::guest_fsfreeze_thaw
    )),
    #[cfg(target_os = "linux")]
    command!("guest-fstrim", fstrim::guest_fstrim),
    #[cfg(target_os = "linux")]
    without_response(command!("guest-suspend-disk", power::guest_suspend_disk)),
    #[cfg(target_os = "linux")]
    without_response(command!("guest-suspend-ram", power::guest_suspend_ram)),
    #[cfg(target_os = "linux")]
    without_response(command!(
        "guest-suspend-hybrid",
        power::guest_suspend_hybrid
    )),
    #[cfg(target_os = "linux")]
    command!(
        "guest-network-get-interfaces",
        network::guest_network_get_interfaces
    ),
    #[cfg(target_os = "linux")]
    command!("guest-get-vcpus", cpu::guest_get_vcpus),
    #[cfg(target_os = "linux")]
    command!("guest-set-vcpus", cpu::guest_set_vcpus),
    #[cfg(target_os = "linux")]
    command!("guest-get-disks", disks::guest_get_disks),
    #[cfg(target_os = "linux")]
    command!("guest-get-fsinfo", fsinfo::guest_get_fsinfo),
    #[cfg(target_os = "linux")]
    command!("guest-set-user-password", password::guest_set_user_password),
    #[cfg(target_os = "linux")]
    command!("guest-get-memory-blocks", memory::guest_get_memory_blocks),
    #[cfg(target_os = "linux")]
    command!("guest-set-memory-blocks", memory::guest_set_memory_blocks),
    #[cfg(target_os = "linux")]
    command!(
        "guest-get-memory-block-info",
        memory::guest_get_memory_block_info
    ),
    #[cfg(target_os = "linux")]
    command!("guest-exec-status", exec::guest_exec_status),
    #[cfg(target_os = "linux")]
    command!("guest-exec", exec::guest_exec),
    #[cfg(target_os = "linux")]
    command!("guest-get-host-name", host::guest_get_host_name),
    #[cfg(target_os = "linux")]
    command!("guest-get-users", users::guest_get_users),
    #[cfg(target_os = "linux")]
    command!("guest-get-timezone", timezone::guest_get_timezone),
    #[cfg(target_os = "linux")]
    command!("guest-get-osinfo", os::guest_get_osinfo),
    #[cfg(target_os = "linux")]
    command!(
        "guest-ssh-get-authorized-keys",
        ssh::guest_ssh_get_authorized_keys
    ),
    #[cfg(target_os = "linux")]
    command!(
        "guest-ssh-add-authorized-keys",
        ssh::guest_ssh_add_authorized_keys
    ),
    #[cfg(target_os = "linux")]
    command!(
        "guest-ssh-remove-authorized-keys",
        ssh::guest_ssh_remove_authorized_keys
    ),
    #[cfg(target_os = "linux")]
    command!("guest-get-diskstats", diskstats::guest_get_diskstats),
    #[cfg(target_os = "linux")]
    command!("guest-get-cpustats", cpu::guest_get_cpustats),
    #[cfg(target_os = "linux")]
    command!("guest-network-get-route", route::guest_network_get_route),
    #[cfg(target_os = "linux")]
    command!("guest-get-load", host::guest_get_load),
];

/// Words of the policy's bitmap: one bit per row of the table, whatever its length.
const POLICY_WORDS: usize = COMMANDS.len().div_ceil(64);

/// Looks a command up by its QGA name.
pub fn find(name: &str) -> Option<(usize, &'static Command)> {
    // Every name starts "guest-" and many have the same length: the last byte tells most
    // apart before the whole names are compared.
    let last = name.as_bytes().last();
    COMMANDS.iter().enumerate().find(|(_, c)| {
        c.name.len() == name.len() && c.name.as_bytes().last() == last && c.name == name
    })
}

/// Which commands may run now: the operator's `--block-rpcs`/`--allow-rpcs` and, while
/// filesystems are frozen, only the freeze-safe ones.
#[derive(Clone)]
pub struct Policy {
    blocked: [u64; POLICY_WORDS],
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
            blocked: [0; POLICY_WORDS],
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
    /// Files open through `guest-file-open`.
    #[cfg(target_os = "linux")]
    pub files: file::Files,
    /// Processes started by `guest-exec`.
    #[cfg(target_os = "linux")]
    pub execs: exec::Execs,
    /// Where the frozen state is kept, and the fsfreeze hook.
    #[cfg(target_os = "linux")]
    pub freezer: fsfreeze::Freezer,
    /// What `guest-get-osinfo` read last time.
    #[cfg(target_os = "linux")]
    pub osinfo: os::OsInfo,
    /// Disk serials `guest-get-fsinfo` and `guest-get-disks` have read.
    #[cfg(target_os = "linux")]
    pub serials: disk_serials::DiskSerials,
    /// The kernel's names (`guest-get-osinfo`, and `guest-get-disks` by its release).
    #[cfg(target_os = "linux")]
    pub kernel: KernelNames,
}

/// The kernel's names from uname(2), taken the first time they are asked for: they do not
/// change while it runs. (The node name does; `guest-get-host-name` asks uname itself.)
#[cfg(target_os = "linux")]
#[derive(Default)]
pub struct KernelNames(Option<crate::sys::system::Utsname>);

#[cfg(target_os = "linux")]
impl KernelNames {
    pub fn get(&mut self) -> Result<&crate::sys::system::Utsname, crate::sys::Errno> {
        if self.0.is_none() {
            self.0 = Some(crate::sys::system::uname()?);
        }
        self.0.as_ref().ok_or(crate::sys::Errno::INVAL)
    }
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
    /// The whole environment, which `guest-exec` children inherit.
    #[cfg(target_os = "linux")]
    pub environ: crate::sys::process::Environ,
    /// `PATH`: where `guest-exec` looks for programs named without a `/`.
    pub path: Option<&'static [u8]>,
    /// The agent is the guest's init (`agent::init`): `guest-shutdown` hands the work to
    /// it (a signal to itself) instead of running shutdown programs.
    pub init: bool,
}

/// One command invocation: the shared state, the request's working memory, and the reply
/// being written.
pub struct Call<'a> {
    pub state: &'a mut State,
    pub scratch: Scratch<'a>,
    pub reply: Reply<'a>,
}

/// The success response of one command, streamed as it is written. Until its first bytes
/// leave the output buffer it can still turn into an error response: a handler that fails
/// part-way through writing gets its error sent, not a half answer.
pub struct Reply<'a> {
    w: JsonWriter<'a>,
    started: bool,
    delimited: bool,
}

impl<'a> Reply<'a> {
    fn new(out: &'a mut dyn Output) -> Reply<'a> {
        Reply {
            w: JsonWriter::new(out),
            started: false,
            delimited: false,
        }
    }

    /// Prefix this command's response with the 0xFF sentinel (`guest-sync-delimited`).
    pub fn delimit(&mut self) {
        self.delimited = true;
    }

    /// Writes the `return` value with `value`; an error from it becomes the response
    /// instead (see [`Reply`]). A handler writes its reply once.
    pub fn write(
        &mut self,
        value: impl FnOnce(&mut JsonWriter<'a>) -> Result<(), QmpError>,
    ) -> Result<(), QmpError> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        self.w.out().begin_response();
        if self.delimited {
            self.w.raw(b"\xff");
        }
        self.w.begin_object();
        self.w.key("return");
        value(&mut self.w)
    }

    /// Ends the response: the `id`, the closing brace, the newline; then sends it.
    fn finish(&mut self, id: Option<&[u8]>) {
        self.w.close_to(1);
        if let Some(id) = id {
            self.w.key("id");
            self.w.json_text(id);
        }
        self.w.end_object();
        self.w.raw(b"\n");
        self.w.out().flush();
    }

    /// Sends `error` in place of the reply, if the reply can still be taken back. If part
    /// of it has already been sent, the reply is ended as it stands (the host has begun
    /// reading it; a second response would break the request-response pairing).
    fn fail(&mut self, error: &QmpError, id: Option<&[u8]>) {
        if !self.started || self.w.out().withdraw() {
            write_error(self.w.out(), error, id);
        } else {
            self.finish(id);
        }
    }
}

/// Writes an error response: `{"id": ..., "error": {"class": ..., "desc": ...}}`.
pub fn write_error(out: &mut dyn Output, error: &QmpError, id: Option<&[u8]>) {
    out.begin_response();
    let mut w = JsonWriter::new(out);
    w.begin_object();
    if let Some(id) = id {
        w.key("id");
        w.json_text(id);
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
/// `scratch` is the working memory lent to the command; returns how much of it was taken.
pub fn dispatch(
    request: Request<'_>,
    id: Option<&[u8]>,
    state: &mut State,
    scratch: &mut [u8],
    out: &mut dyn Output,
) -> usize {
    let Some((index, command)) = find(request.command) else {
        let error = QmpError::new(
            ErrorClass::CommandNotFound,
            format_args!("The command {} has not been found", request.command),
        );
        write_error(out, &error, id);
        return 0;
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
        write_error(out, &error, id);
        return 0;
    }
    if let Err(error) = schema::check_arguments(request.arguments, command.args) {
        write_error(out, &error, id);
        return 0;
    }
    let mut call = Call {
        state,
        scratch: Scratch::new(scratch),
        reply: Reply::new(out),
    };
    match (command.run)(&mut call, request.arguments) {
        Ok(()) if call.reply.started => call.reply.finish(id),
        Ok(()) if command.success_response => {
            let _ = call.reply.write(|w| {
                w.begin_object();
                w.end_object();
                Ok(())
            });
            call.reply.finish(id);
        }
        Ok(()) => {}
        Err(error) => call.reply.fail(&error, id),
    }
    call.scratch.touched()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::writer::tests::Collect;
    use crate::qmp_error;

    #[test]
    fn a_reply_that_fails_before_it_is_sent_becomes_the_error() {
        let mut out = Collect::default();
        let mut reply = Reply::new(&mut out);
        reply.delimit();
        let result = reply.write(|w| {
            w.begin_array();
            w.begin_str();
            w.str_piece(b"half");
            Err(qmp_error!("failed to read file: Input/output error"))
        });
        reply.fail(&result.unwrap_err(), None);
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "{\"error\": {\"class\": \"GenericError\", \"desc\": \"failed to read file: Input/output error\"}}\n"
        );
    }

    #[test]
    fn the_policy_covers_every_row_of_the_table() {
        let all = COMMANDS.iter().map(|c| c.name);
        let policy = Policy::from_lists(all.clone(), None::<core::iter::Empty<&str>>);
        for (i, c) in COMMANDS.iter().enumerate() {
            assert_eq!(policy.refusal(i), Some(Refusal::NotAllowed), "{}", c.name);
        }
    }
}
