//! Programs the host runs in the guest: `guest-exec` starts one, `guest-exec-status`
//! reports on it, as qemu-ga does.
//!
//! - `input-data` is decoded into a memfd that becomes the child's standard input: the child
//!   reads it at its own pace and the agent never waits on a pipe.
//! - Captured output is read from pipes by the event loop (see [`Execs::watches`] and
//!   [`Execs::drain`]) into a memfd per stream, outside the agent's memory, up to
//!   qemu-ga's 16 MiB per stream; the rest is read and dropped, and the stream is marked
//!   truncated.
//! - Children are reaped on SIGCHLD ([`Execs::reap`]), so none is left a zombie; a record
//!   stays until the status that reports its exit has been read.

use super::run::SpawnFailure;
use super::{Call, Environment, State};
use crate::capacity::{EXEC_SLOTS, IO_STEP};
use crate::protocol::schema::Scalar;
use crate::protocol::{FromValue, JsonWriter, List, QmpError, Type, Value, base64};
use crate::qmp_error;
use crate::sys::fd::{AsFd, OwnedFd};
use crate::sys::fs::SeekFrom;
use crate::sys::process::{self, ExitStatus, WaitFor};
use crate::sys::spawn::{self, Invocation, SpawnError, Stdio};
use crate::sys::{Errno, fs, pipe, uapi};

use crate::{arguments, qapi_enum};

// guest-exec: a step for the input, given back before the child's stack and the command
// line's text (at most a request) are taken.
static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= IO_STEP);
static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= spawn::CHILD_STACK + (64 << 10));

/// qemu-ga's `GUEST_EXEC_MAX_OUTPUT`: captured bytes kept per stream.
pub const MAX_OUTPUT: u64 = 16 << 20;

/// The processes started by `guest-exec` and not yet reported as exited.
#[derive(Default)]
pub struct Execs {
    children: heapless::Vec<Child, EXEC_SLOTS>,
}

struct Child {
    pid: i32,
    exit: Option<ExitStatus>,
    out: Option<Capture>,
    err: Option<Capture>,
}

/// One captured stream: the pipe from the child (until its end of file) and the memfd
/// that keeps what was read.
struct Capture {
    pipe: Option<OwnedFd>,
    store: OwnedFd,
    len: u64,
    truncated: bool,
    /// The event loop watches the pipe.
    watched: bool,
}

impl Capture {
    fn new(pipe: OwnedFd, store: OwnedFd) -> Capture {
        Capture {
            pipe: Some(pipe),
            store,
            len: 0,
            truncated: false,
            watched: false,
        }
    }

    /// Moves what the pipe holds now into the memfd (`splice`: inside the kernel, through
    /// no buffer of the agent's), keeping up to [`MAX_OUTPUT`] bytes; what comes after
    /// that is read and dropped, and marks the stream truncated. Closes the pipe at its end
    /// of file.
    fn drain(&mut self) {
        while let Some(pipe) = &self.pipe {
            let room = MAX_OUTPUT.saturating_sub(self.len);
            let moved = match room {
                0 => Err(Errno::NOSPC),
                _ => pipe::splice(pipe.as_fd(), self.store.as_fd(), room.min(1 << 20) as usize),
            };
            match moved {
                Ok(0) => self.pipe = None,
                Ok(n) => self.len += n as u64,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                // Past the limit (or the memfd refused more): read and drop.
                Err(_) => {
                    let mut sink = [0u8; 4096];
                    match pipe.as_fd().read(&mut sink) {
                        Ok(0) => self.pipe = None,
                        Ok(_) => self.truncated = true,
                        Err(Errno::INTR) => {}
                        Err(Errno::AGAIN) => return,
                        Err(_) => self.pipe = None,
                    }
                }
            }
        }
    }
}

/// Event-loop tokens of exec pipes: this bit, the pid, and the stream (0 out, 1 err).
pub const TOKEN_BIT: u64 = 1 << 40;

impl Execs {
    /// Pipes the event loop does not watch yet: `watch(fd, token)` for each; a pipe is
    /// closed (and so leaves the loop's epoll set) at its end of file.
    pub fn watches(&mut self, mut watch: impl FnMut(&OwnedFd, u64) -> bool) {
        for child in &mut self.children {
            for (stream, capture) in [(0, &mut child.out), (1, &mut child.err)] {
                if let Some(c) = capture.as_mut().filter(|c| !c.watched)
                    && let Some(pipe) = &c.pipe
                {
                    c.watched = watch(pipe, TOKEN_BIT | (child.pid as u32 as u64) << 1 | stream);
                }
            }
        }
    }

    /// A watched pipe is readable (or closed): read it.
    pub fn drain(&mut self, token: u64) {
        let pid = (token & !TOKEN_BIT) >> 1;
        if let Some(child) = self
            .children
            .iter_mut()
            .find(|c| c.pid as u32 as u64 == pid)
        {
            let capture = if token & 1 == 0 {
                &mut child.out
            } else {
                &mut child.err
            };
            if let Some(c) = capture {
                c.drain();
            }
        }
    }

    /// Collects every child that has ended (on SIGCHLD). Children the table does not know
    /// are collected too, so the agent never leaves a zombie.
    pub fn reap(&mut self) {
        while let Ok(Some((pid, exit))) = process::wait4(WaitFor::Any, true) {
            if let Some(child) = self.children.iter_mut().find(|c| c.pid == pid) {
                child.exit = Some(exit);
            }
        }
    }
}

qapi_enum! {
    /// `GuestExecCaptureOutputMode`
    pub enum CaptureMode {
        None = "none",
        Stdout = "stdout",
        Stderr = "stderr",
        Separated = "separated",
        Merged = "merged",
    }
}

/// `GuestExecCaptureOutput`: a bool (true is `separated`) or a mode.
pub struct CaptureOutput(CaptureMode);

impl<'d> FromValue<'d> for CaptureOutput {
    const TYPE: Type = Type::Alternate {
        name: "GuestExecCaptureOutput",
        scalar: Scalar::Bool,
        values: CaptureMode::VALUES,
    };
    fn from_value(value: Option<Value<'d>>) -> Self {
        CaptureOutput(match value.and_then(|v| v.as_bool()) {
            Some(true) => CaptureMode::Separated,
            Some(false) => CaptureMode::None,
            None => CaptureMode::from_value(value),
        })
    }
}

arguments! {
    /// `guest-exec`
    pub struct Exec<'d> {
        "path" => path: &'d str,
        "arg" => arg: Option<List<'d, &'d str>>,
        "env" => env: Option<List<'d, &'d str>>,
        "input-data" => input_data: Option<&'d str>,
        "capture-output" => capture_output: Option<CaptureOutput>,
    }
}

/// `guest-exec {path, arg?, env?, input-data?, capture-output?}` → `{pid}`.
pub fn guest_exec(call: &mut Call, args: Exec<'_>) -> Result<(), QmpError> {
    let State { execs, env, .. } = &mut *call.state;
    // The input is decoded into its memfd through a step of scratch that is given back
    // before the child's stack and command line are taken from the same room.
    let input = match args.input_data {
        Some(text) => Some(
            call.scratch
                .nested(|scratch| stdin_from_base64(text.as_bytes(), scratch.take(IO_STEP)?))?,
        ),
        None => None,
    };
    // A record leaves the table only when its exit has been read: a full table stays
    // full until the host reads some.
    if execs.children.is_full() {
        return Err(qmp_error!(
            "too many processes: at most {EXEC_SLOTS} guest-exec processes are tracked until their exit status is read (TINYQGA_EXEC_SLOTS)"
        ));
    }
    let mode = args.capture_output.map_or(CaptureMode::None, |c| c.0);
    let (capture_out, capture_err) = match mode {
        CaptureMode::None => (false, false),
        CaptureMode::Stdout | CaptureMode::Merged => (true, false),
        CaptureMode::Stderr => (false, true),
        CaptureMode::Separated => (true, true),
    };
    let failed = |e| qmp_error!("Failed to create pipe for communicating with child process ({e})");
    let out = capture_out.then(open_capture).transpose().map_err(failed)?;
    let err = capture_err.then(open_capture).transpose().map_err(failed)?;
    let null = fs::open(b"/dev/null", uapi::O_RDWR, 0)
        .map_err(|e| qmp_error!("Failed to open file “/dev/null”: {e}"))?;

    // Where the child runs until it execs, and the command line's text, each string with
    // its NUL: what the invocation takes.
    let child_stack = call.scratch.take(spawn::CHILD_STACK)?;
    let strings = core::iter::once(args.path)
        .chain(args.arg.iter().flat_map(|list| list.iter()))
        .chain(args.env.iter().flat_map(|list| list.iter()));
    let room = call
        .scratch
        .take(strings.map(|s| s.len() + 1).sum())
        .map_err(|_| spawn_error(args.path)(SpawnError::TooManyArguments))?;
    let mut invocation =
        Invocation::new(room, args.path.as_bytes()).map_err(spawn_error(args.path))?;
    for arg in args.arg.iter().flat_map(|list| list.iter()) {
        invocation
            .arg(arg.as_bytes())
            .map_err(spawn_error(args.path))?;
    }
    if let Some(entries) = args.env {
        invocation.replace_env();
        for entry in entries.iter() {
            invocation
                .env(entry.as_bytes())
                .map_err(spawn_error(args.path))?;
        }
    }
    let stdin = match &input {
        Some(fd) => Stdio::To(fd.as_fd()),
        None => Stdio::Inherit,
    };
    let stdout = match &out {
        Some((_, write_end)) => Stdio::To(write_end.as_fd()),
        None => Stdio::To(null.as_fd()),
    };
    let stderr = match (&err, mode) {
        (_, CaptureMode::Merged) => Stdio::Stdout,
        (Some((_, write_end)), _) => Stdio::To(write_end.as_fd()),
        (None, _) => Stdio::To(null.as_fd()),
    };
    let Environment { environ, path, .. } = *env;
    let pid = spawn::spawn(
        &invocation,
        [stdin, stdout, stderr],
        environ,
        path,
        child_stack,
    )
    .map_err(spawn_error(args.path))?;
    // The child has its copies; the write ends here would keep the pipes from ever
    // reaching end of file.
    let capture = |c: Option<(Capture, OwnedFd)>| c.map(|(capture, _write_end)| capture);
    let _ = execs.children.push(Child {
        pid,
        exit: None,
        out: capture(out),
        err: capture(err),
    });
    call.reply.write(|w| {
        w.begin_object();
        w.key("pid");
        w.int(pid as i64);
        w.end_object();
        Ok(())
    })
}

/// A pipe (read end non-blocking, for the event loop) and the memfd that keeps what is
/// read from it.
fn open_capture() -> Result<(Capture, OwnedFd), Errno> {
    let (read_end, write_end) = pipe::pipe2(false)?;
    // Only the agent's end is non-blocking (for the event loop); the child's stays
    // blocking, as a program expects of its stdout.
    let flags = read_end.as_fd().fcntl_getfl()?;
    read_end.as_fd().fcntl_setfl(flags | uapi::O_NONBLOCK)?;
    let store = fs::memfd_create(b"guest-exec-output")?;
    Ok((Capture::new(read_end, store), write_end))
}

/// `input-data`, decoded into a memfd positioned at its start.
fn stdin_from_base64(text: &[u8], step: &mut [u8]) -> Result<OwnedFd, QmpError> {
    base64::decoded_len(text).map_err(|e| qmp_error!("{e}"))?;
    let failed = |e| qmp_error!("Failed to create pipe for communicating with child process ({e})");
    let store = fs::memfd_create(b"guest-exec-input").map_err(failed)?;
    base64::decode_each(text, step, |bytes| store.as_fd().write_all(bytes)).map_err(failed)?;
    store.as_fd().lseek(SeekFrom::Start(0)).map_err(failed)?;
    Ok(store)
}

/// GLib's texts for a program that could not be started (qemu 9.1 and later pass them on
/// as they are).
fn spawn_error(path: &str) -> impl Fn(SpawnError) -> QmpError + '_ {
    move |error| {
        let program = path.as_bytes();
        qmp_error!("{}", SpawnFailure { program, error })
    }
}

arguments! {
    /// `guest-exec-status`
    pub struct ExecStatus {
        "pid" => pid: i64,
    }
}

/// `guest-exec-status {pid}` → `{exited, exitcode?, signal?, out-data?, err-data?,
/// out-truncated?, err-truncated?}`. Once it reports the exit, the record is gone.
pub fn guest_exec_status(call: &mut Call, args: ExecStatus) -> Result<(), QmpError> {
    let execs = &mut call.state.execs;
    let Some(index) = execs
        .children
        .iter()
        .position(|c| i64::from(c.pid) == args.pid)
    else {
        return Err(qmp_error!("Invalid parameter 'pid'"));
    };
    // Fresh news, without waiting for the event loop: what the pipes hold, and whether
    // the child has ended.
    let child = &mut execs.children[index];
    for capture in [&mut child.out, &mut child.err].into_iter().flatten() {
        capture.drain();
    }
    if child.exit.is_none()
        && let Ok(Some((_, exit))) = process::wait4(WaitFor::Pid(child.pid), true)
    {
        child.exit = Some(exit);
    }
    let pipes_open = [&child.out, &child.err]
        .into_iter()
        .flatten()
        .any(|c| c.pipe.is_some());
    let exit = child.exit.filter(|_| !pipes_open);
    let step = call.scratch.take(IO_STEP)?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("exited");
        w.bool(exit.is_some());
        if let Some(exit) = exit {
            match exit {
                ExitStatus::Exited(code) => {
                    w.key("exitcode");
                    w.int(code as i64);
                }
                ExitStatus::Signaled { signal, .. } => {
                    w.key("signal");
                    w.int(signal as i64);
                }
                // wait4 without WUNTRACED/WCONTINUED reports neither.
                ExitStatus::Stopped(_) | ExitStatus::Continued => {}
            }
            write_data(w, "out-data", &child.out, step)?;
            write_data(w, "err-data", &child.err, step)?;
            for (key, capture) in [("out-truncated", &child.out), ("err-truncated", &child.err)] {
                if let Some(c) = capture.as_ref().filter(|c| c.len > 0) {
                    w.key(key);
                    w.bool(c.truncated);
                }
            }
        }
        w.end_object();
        Ok(())
    })?;
    if exit.is_some() {
        execs.children.swap_remove(index);
    }
    Ok(())
}

/// A captured stream as base64, streamed from its memfd; absent when empty.
fn write_data(
    w: &mut JsonWriter<'_>,
    key: &str,
    capture: &Option<Capture>,
    step: &mut [u8],
) -> Result<(), QmpError> {
    let Some(c) = capture.as_ref().filter(|c| c.len > 0) else {
        return Ok(());
    };
    w.key(key);
    w.begin_base64();
    let mut at = 0u64;
    while at < c.len {
        let want = step.len().min((c.len - at) as usize);
        match c.store.as_fd().pread(&mut step[..want], at) {
            Ok(0) => break,
            Ok(n) => {
                w.base64_piece(&step[..n]);
                at += n as u64;
            }
            Err(Errno::INTR) => {}
            Err(e) if at == 0 => return Err(qmp_error!("failed to read captured output: {e}")),
            Err(_) => break,
        }
    }
    w.end_base64();
    Ok(())
}
