//! Running a helper program to its end, as qemu-ga's `ga_run_command` does for shutdown,
//! suspend and the fsfreeze hook: in a session of its own, stdin from /dev/null, stdout and
//! stderr into one pipe whose text (the first [`OUTPUT_MAX`] bytes) is kept for the error
//! message. Unlike qemu-ga, the wait has a deadline: a helper that hangs is killed (with
//! its whole process group) instead of hanging the agent.

use super::Environment;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::process::{self, ExitStatus, WaitFor};
use crate::sys::spawn::{self, Invocation, SpawnError, Stdio};
use crate::sys::{AsFd, Errno, epoll, fs, time, uapi};
use crate::text::Lossy;

/// Output kept for messages.
pub const OUTPUT_MAX: usize = 1024;
/// Scratch a helper takes: its command line (its few arguments, and their offsets), and
/// the stack its child runs on until it execs.
pub const ROOM: usize = 4096 + spawn::CHILD_STACK;

/// What a helper printed and how it ended.
pub struct Finished {
    pub status: ExitStatus,
    pub output: heapless::Vec<u8, OUTPUT_MAX>,
}

/// Why a helper did not finish.
pub enum RunError {
    /// It could not be started (errno of the fork or exec).
    Start(SpawnError),
    /// It ran past the deadline and was killed.
    TimedOut,
}

/// Runs `argv` (searched in PATH) and waits for it at most `timeout_ms`.
pub fn run(
    argv: &[&[u8]],
    scratch: &mut [u8],
    env: &Environment,
    timeout_ms: u64,
) -> Result<Finished, RunError> {
    let start = RunError::Start;
    let program = argv.first().copied().unwrap_or_default();
    let split = scratch.len().saturating_sub(spawn::CHILD_STACK);
    let (text, child_stack) = scratch.split_at_mut(split);
    let mut invocation = Invocation::new(text, program).map_err(start)?;
    for arg in argv.iter().skip(1) {
        invocation.arg(arg).map_err(start)?;
    }
    invocation.new_session();
    let (read_end, write_end) =
        crate::sys::pipe::pipe2(true).map_err(|e| start(SpawnError::Fork(e)))?;
    let null = fs::open(b"/dev/null", uapi::O_RDWR, 0).map_err(|e| start(SpawnError::Fork(e)))?;
    let stdio = [
        Stdio::To(null.as_fd()),
        Stdio::To(write_end.as_fd()),
        Stdio::Stdout,
    ];
    let pid =
        spawn::spawn(&invocation, stdio, env.environ, env.path, child_stack).map_err(start)?;
    drop(write_end);

    let deadline = time::monotonic_ms() + timeout_ms;
    let mut output = heapless::Vec::new();
    let mut buf = [0u8; 512];
    // Read until end of file (every holder of the pipe has exited) or the deadline.
    loop {
        let left = deadline.saturating_sub(time::monotonic_ms());
        if left == 0 {
            break;
        }
        let ready = epoll::poll_one(read_end.as_fd(), epoll::IN as u16, left.min(1000) as u32);
        if !matches!(ready, Ok(n) if n != 0) {
            continue;
        }
        match read_end.as_fd().read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let room = OUTPUT_MAX - output.len();
                let _ = output.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(Errno::AGAIN | Errno::INTR) => {}
            Err(_) => break,
        }
    }
    loop {
        match process::wait4(WaitFor::Pid(pid), true) {
            Ok(Some((_, status))) => return Ok(Finished { status, output }),
            Ok(None) if time::monotonic_ms() < deadline => time::sleep_ms(10),
            Ok(None) => {
                // Past the deadline: end the helper and everything it started.
                let _ = process::kill(-pid, uapi::SIGKILL);
                let _ = process::wait4(WaitFor::Pid(pid), false);
                return Err(RunError::TimedOut);
            }
            Err(Errno::INTR) => {}
            Err(_) => return Err(RunError::TimedOut),
        }
    }
}

/// GLib's message for a program `g_spawn_*` could not start, which qemu-ga passes on
/// (guest-exec's error since qemu 9.1, and suspend's "failed to create child process").
pub struct SpawnFailure<'a> {
    pub program: &'a [u8],
    pub error: SpawnError,
}

impl core::fmt::Display for SpawnFailure<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let program = Lossy(self.program);
        match self.error {
            SpawnError::Exec(errno) => {
                write!(f, "Failed to execute child process “{program}” ({errno})")
            }
            SpawnError::Fork(errno) => write!(f, "Failed to fork ({errno})"),
            SpawnError::EmbeddedNul => write!(
                f,
                "Failed to execute child process “{program}” (Invalid argument)"
            ),
            SpawnError::TooManyArguments => write!(
                f,
                "Failed to execute child process “{program}” (Argument list too long)"
            ),
        }
    }
}

/// qemu-ga's texts for a helper run for `action` (e.g. "shutdown") that did not succeed;
/// `Ok` when it exited 0.
pub fn check(
    result: Result<Finished, RunError>,
    action: &str,
    program: &[u8],
) -> Result<(), QmpError> {
    let program = Lossy(program);
    let finished = match result {
        Ok(finished) => finished,
        Err(RunError::Start(SpawnError::Exec(e))) => {
            return Err(qmp_error!(
                "child process has failed to {action}: failed to exec '{program}': {e}"
            ));
        }
        Err(RunError::Start(SpawnError::Fork(e))) => {
            return Err(qmp_error!("failed to create child process: {e}"));
        }
        Err(RunError::Start(_)) => return Err(qmp_error!("failed to create child process")),
        Err(RunError::TimedOut) => {
            return Err(qmp_error!(
                "child process has failed to {action}: timed out, killed"
            ));
        }
    };
    let output = Lossy(&finished.output);
    match finished.status {
        ExitStatus::Exited(0) => Ok(()),
        ExitStatus::Exited(code) if finished.output.is_empty() => Err(qmp_error!(
            "child process has failed to {action}: exit status {code}"
        )),
        ExitStatus::Exited(_) => Err(qmp_error!("child process has failed to {action}: {output}")),
        _ if finished.output.is_empty() => {
            Err(qmp_error!("child process has terminated abnormally"))
        }
        _ => Err(qmp_error!(
            "child process has terminated abnormally: {output}"
        )),
    }
}
