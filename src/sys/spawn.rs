//! Starting a program as GLib's `g_spawn_async_with_pipes` does, whose behaviour hosts know
//! from qemu-ga's `guest-exec`.
//!
//! The argument and environment strings are laid out (NUL-terminated) before the child
//! starts. It starts as posix_spawn's does, in our memory, on a stack the caller lends
//! (from scratch), while we wait ([`process::clone_vfork`]); a fork would copy the
//! agent's page tables only for the exec to throw them away. The child points its
//! standard descriptors where it is told, keeps no other descriptor across the exec,
//! unblocks every signal, searches PATH and execs; if no exec succeeds it writes the errno
//! into a close-on-exec pipe, which the parent reads to fail the call with GLib's message.
//! (The pipe, not our shared memory, carries it, so that it arrives where a vfork is only
//! a fork too: under qemu-user.) The parent is never left with a child it does not know
//! about.

use core::ffi::CStr;

use super::fd::{self, AsFd, BorrowedFd};
use super::process::{self, CStrArray, Environ, WaitFor};
use super::signal::{self, SigSet};
use super::{Errno, PATH_MAX, pipe, syscall, uapi};

/// Where a child's standard descriptor points.
#[derive(Clone, Copy)]
pub enum Stdio<'a> {
    /// The agent's own.
    Inherit,
    /// This descriptor.
    To(BorrowedFd<'a>),
    /// Wherever the child's standard output goes (stderr only: merged output).
    Stdout,
}

/// Most arguments, and most environment entries, a program is started with.
pub const MAX_ARGS: usize = 1024;

/// The stack a child runs on until it execs, lent by the caller (from scratch): it sets up
/// its descriptors, searches PATH (a path buffer a directory) and execs. A few KiB are
/// used; the rest is a margin, since a child that ran past its stack would write into
/// memory it shares with the agent.
pub const CHILD_STACK: usize = 32 * 1024;

/// Why a program could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// More than [`MAX_ARGS`] arguments or environment entries, or their text does not
    /// fit the room given.
    TooManyArguments,
    /// A string holds a NUL byte (C strings cannot carry it).
    EmbeddedNul,
    Fork(Errno),
    Exec(Errno),
}

/// A program's command line and environment, as NUL-terminated strings in caller-provided
/// room.
pub struct Invocation<'b> {
    text: &'b mut [u8],
    used: usize,
    /// Where each argument starts in `text` (the first is the program as given).
    args: heapless::Vec<usize, MAX_ARGS>,
    /// Where each environment entry starts; `None`: the agent's environment.
    env: Option<heapless::Vec<usize, MAX_ARGS>>,
    /// The value of `PATH=` in `env`, as (start, end).
    path_var: Option<(usize, usize)>,
    /// The child starts a session of its own (`setsid`), so it and what it starts can be
    /// signalled as one process group.
    new_session: bool,
}

impl<'b> Invocation<'b> {
    /// Starts a command line for `program` in `text` (the room for all strings).
    pub fn new(text: &'b mut [u8], program: &[u8]) -> Result<Invocation<'b>, SpawnError> {
        let mut invocation = Invocation {
            text,
            used: 0,
            args: heapless::Vec::new(),
            env: None,
            path_var: None,
            new_session: false,
        };
        invocation.arg(program)?;
        Ok(invocation)
    }

    /// Copies `s` with a terminating NUL; returns where it starts.
    fn store(&mut self, s: &[u8]) -> Result<usize, SpawnError> {
        if s.contains(&0) {
            return Err(SpawnError::EmbeddedNul);
        }
        let start = self.used;
        let dst = self
            .text
            .get_mut(start..start + s.len() + 1)
            .ok_or(SpawnError::TooManyArguments)?;
        dst[..s.len()].copy_from_slice(s);
        dst[s.len()] = 0;
        self.used += s.len() + 1;
        Ok(start)
    }

    /// Appends an argument.
    pub fn arg(&mut self, s: &[u8]) -> Result<(), SpawnError> {
        let at = self.store(s)?;
        self.args.push(at).map_err(|_| SpawnError::TooManyArguments)
    }

    /// The child gets a session (and process group) of its own.
    pub fn new_session(&mut self) {
        self.new_session = true;
    }

    /// The program gets exactly the entries added with [`Invocation::env`] (possibly
    /// none), not the agent's environment.
    pub fn replace_env(&mut self) {
        self.env.get_or_insert_with(heapless::Vec::new);
    }

    /// Adds a `NAME=value` entry to the replaced environment.
    pub fn env(&mut self, entry: &[u8]) -> Result<(), SpawnError> {
        let at = self.store(entry)?;
        if let Some(value) = entry.strip_prefix(b"PATH=") {
            self.path_var = Some((at + 5, at + 5 + value.len()));
        }
        let env = self.env.get_or_insert_with(heapless::Vec::new);
        env.push(at).map_err(|_| SpawnError::TooManyArguments)
    }

    fn c_str(&self, at: usize) -> &CStr {
        self.text
            .get(at..)
            .and_then(|t| CStr::from_bytes_until_nul(t).ok())
            .unwrap_or(c"")
    }
}

/// Starts `invocation` with the given standard descriptors. `environ` is the agent's
/// environment (inherited unless the invocation replaces it), `agent_path` its PATH;
/// `child_stack` ([`CHILD_STACK`] bytes) is where the child runs until it execs.
/// Returns the child's pid.
pub fn spawn(
    invocation: &Invocation<'_>,
    stdio: [Stdio<'_>; 3],
    environ: Environ,
    agent_path: Option<&[u8]>,
    child_stack: &mut [u8],
) -> Result<i32, SpawnError> {
    if child_stack.len() < CHILD_STACK {
        return Err(SpawnError::Fork(Errno::NOMEM));
    }
    let mut argv_room = [core::ptr::null(); MAX_ARGS + 1];
    let mut envp_room = [core::ptr::null(); MAX_ARGS + 1];
    let too_many = |_| SpawnError::TooManyArguments;
    let args = invocation.args.iter().map(|&at| invocation.c_str(at));
    let argv = CStrArray::new(args, &mut argv_room).map_err(too_many)?;
    let envp = match &invocation.env {
        Some(env) => CStrArray::new(env.iter().map(|&at| invocation.c_str(at)), &mut envp_room),
        None => CStrArray::new(environ.iter(), &mut envp_room),
    }
    .map_err(too_many)?;
    // GLib's order: the PATH of the given environment, the agent's, a default.
    let path = invocation
        .path_var
        .and_then(|(start, end)| invocation.text.get(start..end))
        .or(agent_path)
        .unwrap_or(b"/bin:/usr/bin:.");
    let program = invocation.c_str(invocation.args.first().copied().unwrap_or(0));

    let (report_read, report_write) = pipe::pipe2(false).map_err(SpawnError::Fork)?;
    let plan = ChildPlan {
        program,
        argv: &argv,
        envp: &envp,
        path,
        stdio,
        new_session: invocation.new_session,
        report: report_write.as_fd(),
    };
    // SAFETY: `run_child` never returns; it writes only its stack (CHILD_STACK bytes,
    // checked above, are several times what it takes) and the report pipe (a system call,
    // no memory of ours), and reads `plan`, which lives in this frame and is not touched
    // until the call returns, after the exec or the exit.
    let pid =
        unsafe { process::clone_vfork(child_stack, run_child, &plan as *const ChildPlan as usize) }
            .map_err(SpawnError::Fork)?;
    drop(report_write);
    let mut report = [0u8; 2];
    let mut got = 0;
    while got < report.len() {
        match report_read.as_fd().read(&mut report[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
    }
    if got == report.len() {
        // The exec failed: collect the child now, so it is never seen again.
        let _ = process::wait4(WaitFor::Pid(pid), false);
        return Err(SpawnError::Exec(Errno(u16::from_ne_bytes(report))));
    }
    Ok(pid)
}

/// What the child of [`spawn`] is told, through the one argument it starts with.
struct ChildPlan<'a> {
    program: &'a CStr,
    argv: &'a CStrArray<'a>,
    envp: &'a CStrArray<'a>,
    path: &'a [u8],
    stdio: [Stdio<'a>; 3],
    new_session: bool,
    /// The close-on-exec pipe that takes the errno of a failed exec.
    report: BorrowedFd<'a>,
}

/// The child of [`spawn`]: sets up, execs, or reports why it could not and exits.
extern "C" fn run_child(plan: usize) -> ! {
    // SAFETY: `plan` is the address of the ChildPlan that `spawn` lends us; it stays put,
    // unchanged, until we exec or exit (`spawn` is suspended until then).
    let plan = unsafe { &*(plan as *const ChildPlan<'_>) };
    let errno = child(plan);
    let _ = plan.report.write(&errno.0.to_ne_bytes());
    process::exit(127);
}

/// In the child: set up and exec; returns only with the errno of the failure.
fn child(plan: &ChildPlan<'_>) -> Errno {
    let ChildPlan {
        program,
        argv,
        envp,
        path,
        ..
    } = *plan;
    if plan.new_session {
        let _ = process::setsid();
    }
    let targets = [fd::stdin(), fd::stdout(), fd::stderr()];
    for (target, how) in targets.into_iter().zip(plan.stdio) {
        let result = match how {
            Stdio::Inherit => Ok(()),
            Stdio::To(fd) => fd::dup3(fd, target, 0),
            Stdio::Stdout => fd::dup3(fd::stdout(), target, 0),
        };
        if let Err(e) = result {
            return e;
        }
    }
    // Like GLib, the child keeps descriptors 0-2 only: whatever the agent inherited
    // without close-on-exec must not leak on.
    close_others_on_exec();
    // The agent blocks the signals it reads from its signalfd; its children must not
    // inherit that mask.
    let _ = signal::set_mask(SigSet::of(&[]));
    let name = program.to_bytes();
    if name.contains(&b'/') {
        return process::execve(program, argv, envp);
    }
    // GLib's search: EACCES from any directory wins over "not found".
    let mut result = Errno::NOENT;
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut full = [0u8; PATH_MAX];
        let candidate = super::fs::join(&mut full, &[dir, b"/", name, b"\0"])
            .and_then(|joined| CStr::from_bytes_with_nul(joined).ok());
        let Some(candidate) = candidate else {
            continue;
        };
        match process::execve(candidate, argv, envp) {
            Errno::ACCES => denied = true,
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG => {}
            other => {
                result = other;
                break;
            }
        }
    }
    if denied && result == Errno::NOENT {
        Errno::ACCES
    } else {
        result
    }
}

/// `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`; on kernels before 5.11, `fcntl(F_SETFD)` on
/// every descriptor below the usual limit.
fn close_others_on_exec() {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only marks descriptors close-on-exec;
    // it closes none and takes no pointer.
    if unsafe { syscall!(__NR_close_range, 3, u32::MAX, CLOSE_RANGE_CLOEXEC) }.is_err() {
        for fd in 3..4096 {
            // SAFETY: F_SETFD takes no pointer and closes nothing.
            let _ = unsafe { syscall!(__NR_fcntl, fd, uapi::F_SETFD, uapi::FD_CLOEXEC) };
        }
    }
}
