//! Starting programs and collecting them: `pipe2`, `memfd_create`, fork + `execve` with a
//! PATH search, `wait4`.
//!
//! [`spawn`] works as GLib's `g_spawn_async_with_pipes`, whose behaviour hosts know from
//! qemu-ga: the argument and environment strings are laid out (NUL-terminated, with their
//! pointer arrays) before the fork; the child points its standard descriptors where it is
//! told, unblocks every signal, searches PATH and execs; if no exec succeeds it writes the
//! errno into a close-on-exec pipe, which the parent reads to fail the call with GLib's
//! message. The parent is never left with a child it does not know about.

use super::fd::{self, AsFd, BorrowedFd, OwnedFd};
use super::{Errno, syscall, uapi};

/// `pipe2(O_CLOEXEC | flags)` → (read end, write end).
pub fn pipe(flags: u32) -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two i32 into `fds`, a local array that outlives the call.
    unsafe { syscall!(__NR_pipe2, fds.as_mut_ptr(), uapi::O_CLOEXEC | flags) }?;
    // SAFETY: pipe2 succeeded, so both numbers are open descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `memfd_create(name, MFD_CLOEXEC)`: an anonymous file in memory, outside the agent's
/// address space (it is the kernel's page cache, not ours).
pub fn memfd(name: &core::ffi::CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: `name` is NUL-terminated (a CStr), valid for the call.
    let fd = unsafe { syscall!(__NR_memfd_create, name.as_ptr(), uapi::MFD_CLOEXEC) }?;
    // SAFETY: memfd_create succeeded: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

/// `wait4(pid, WNOHANG)`: a child that has ended, if any (`pid` -1: any child).
pub fn try_wait(pid: i32) -> Result<Option<(i32, Exit)>, Errno> {
    let mut status = 0i32;
    // SAFETY: wait4 writes one i32 into `status`, a local that outlives the call; no rusage.
    let reaped = unsafe {
        syscall!(
            __NR_wait4,
            pid as isize,
            &mut status as *mut i32,
            uapi::WNOHANG,
            0usize
        )
    }?;
    if reaped == 0 {
        return Ok(None);
    }
    Ok(Some((reaped as i32, decode_status(status))))
}

/// `wait4(pid, 0)`: waits for `pid` to end.
pub fn wait(pid: i32) -> Result<Exit, Errno> {
    let mut status = 0i32;
    loop {
        // SAFETY: wait4 writes one i32 into `status`, a local that outlives the call; no rusage.
        match unsafe {
            syscall!(
                __NR_wait4,
                pid as isize,
                &mut status as *mut i32,
                0usize,
                0usize
            )
        } {
            Ok(_) => return Ok(decode_status(status)),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The `WIFEXITED`/`WTERMSIG` reading of a wait status.
fn decode_status(status: i32) -> Exit {
    match status & 0x7f {
        0 => Exit::Code((status >> 8) & 0xff),
        signal => Exit::Signal(signal),
    }
}

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

/// Why a program could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// More than [`MAX_ARGS`] arguments or environment entries, or their text does not fit.
    TooManyArguments,
    /// A string holds a NUL byte (C strings cannot carry it).
    EmbeddedNul,
    Fork(Errno),
    Exec(Errno),
}

/// The strings of a program's command line and environment, laid out for `execve`.
pub struct Invocation<'b> {
    text: &'b mut [u8],
    used: usize,
    argv: heapless::Vec<*const u8, { MAX_ARGS + 1 }>,
    envp: heapless::Vec<*const u8, { MAX_ARGS + 1 }>,
    /// Start of the program's name in `text`.
    program: usize,
    /// Inherit the agent's environment (`envp` unused).
    inherit_env: bool,
    /// PATH to search: from the given environment, else the agent's.
    path_var: Option<(usize, usize)>,
}

impl<'b> Invocation<'b> {
    /// Starts a command line for `program` in `text` (the room for all strings).
    pub fn new(text: &'b mut [u8], program: &[u8]) -> Result<Invocation<'b>, SpawnError> {
        let mut invocation = Invocation {
            text,
            used: 0,
            argv: heapless::Vec::new(),
            envp: heapless::Vec::new(),
            program: 0,
            inherit_env: true,
            path_var: None,
        };
        invocation.program = invocation.store(program)?;
        invocation.arg(program)?;
        Ok(invocation)
    }

    /// Copies `s` with a terminating NUL; returns where it starts.
    fn store(&mut self, s: &[u8]) -> Result<usize, SpawnError> {
        if s.contains(&0) {
            return Err(SpawnError::EmbeddedNul);
        }
        let start = self.used;
        let end = start + s.len();
        let dst = self
            .text
            .get_mut(start..end + 1)
            .ok_or(SpawnError::TooManyArguments)?;
        dst[..s.len()].copy_from_slice(s);
        dst[s.len()] = 0;
        self.used = end + 1;
        Ok(start)
    }

    /// Appends an argument (the first is the program as given).
    pub fn arg(&mut self, s: &[u8]) -> Result<(), SpawnError> {
        let at = self.store(s)?;
        let ptr = self.text[at..].as_ptr();
        self.argv
            .push(ptr)
            .map_err(|_| SpawnError::TooManyArguments)
    }

    /// Gives the program exactly these environment entries (`NAME=value`), instead of the
    /// agent's environment. Call once per entry; none at all gives an empty environment
    /// with [`Invocation::empty_env`].
    pub fn env(&mut self, entry: &[u8]) -> Result<(), SpawnError> {
        self.inherit_env = false;
        let at = self.store(entry)?;
        if let Some(value) = entry.strip_prefix(b"PATH=") {
            let start = at + 5;
            self.path_var = Some((start, start + value.len()));
        }
        let ptr = self.text[at..].as_ptr();
        self.envp
            .push(ptr)
            .map_err(|_| SpawnError::TooManyArguments)
    }

    /// The program gets an empty environment (unless [`Invocation::env`] adds entries).
    pub fn empty_env(&mut self) {
        self.inherit_env = false;
    }
}

/// Starts `invocation` with the given standard descriptors; `environ` is the agent's own
/// environment (inherited unless the invocation gives one) and `agent_path` its PATH.
/// Returns the child's pid.
pub fn spawn(
    invocation: &mut Invocation<'_>,
    stdio: [Stdio<'_>; 3],
    environ: *const *const u8,
    agent_path: Option<&[u8]>,
) -> Result<i32, SpawnError> {
    invocation
        .argv
        .push(core::ptr::null())
        .map_err(|_| SpawnError::TooManyArguments)?;
    invocation
        .envp
        .push(core::ptr::null())
        .map_err(|_| SpawnError::TooManyArguments)?;
    let envp = if invocation.inherit_env {
        environ
    } else {
        invocation.envp.as_ptr()
    };
    let (report_read, report_write) = pipe(0).map_err(SpawnError::Fork)?;
    let pid = super::process::fork().map_err(SpawnError::Fork)?;
    if pid == 0 {
        drop(report_read);
        let errno = child(invocation, stdio, envp, agent_path);
        let _ = report_write.as_fd().write(&errno.0.to_ne_bytes());
        super::process::exit(127);
    }
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
        let _ = wait(pid);
        return Err(SpawnError::Exec(Errno(u16::from_ne_bytes(report))));
    }
    Ok(pid)
}

/// In the child: set up and exec; returns only with the errno of the failure.
fn child(
    invocation: &Invocation<'_>,
    stdio: [Stdio<'_>; 3],
    envp: *const *const u8,
    agent_path: Option<&[u8]>,
) -> Errno {
    let targets = [fd::stdin(), fd::stdout(), fd::stderr()];
    for (target, how) in targets.into_iter().zip(stdio) {
        let result = match how {
            Stdio::Inherit => Ok(()),
            Stdio::To(fd) => fd::dup3(fd, target, 0),
            Stdio::Stdout => fd::dup3(fd::stdout(), target, 0),
        };
        if let Err(e) = result {
            return e;
        }
    }
    // Like GLib, the child gets descriptors 0-2 only: whatever the agent inherited
    // without close-on-exec must not leak on.
    close_others_on_exec();
    // The agent blocks the signals it reads from its signalfd; its children must not
    // inherit that mask.
    let empty = 0u64;
    // SAFETY: rt_sigprocmask reads 8 bytes of mask from `empty`, a local that outlives the call.
    let _ = unsafe {
        syscall!(
            __NR_rt_sigprocmask,
            uapi::SIG_SETMASK,
            &empty as *const u64,
            0usize,
            8usize
        )
    };
    let program = invocation
        .text
        .get(invocation.program..)
        .unwrap_or_default();
    let name = &program[..program.iter().position(|&b| b == 0).unwrap_or(0)];
    if name.contains(&b'/') {
        return execve(program.as_ptr(), invocation.argv.as_ptr(), envp);
    }
    // GLib's search: the PATH of the given environment, else the agent's, else its
    // default; EACCES from any directory wins over "not found".
    let path = match invocation.path_var {
        Some((start, end)) => invocation.text.get(start..end).unwrap_or_default(),
        None => agent_path.unwrap_or(b"/bin:/usr/bin:."),
    };
    let mut result = Errno::NOENT;
    let mut denied = false;
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let mut full = [0u8; super::PATH_MAX];
        let Some(joined) = super::fs::join(&mut full, &[dir, b"/", name, b"\0"]) else {
            continue;
        };
        match execve(joined.as_ptr(), invocation.argv.as_ptr(), envp) {
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

/// `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`; on kernels before 5.11, `fcntl(F_SETFD)`
/// on every descriptor below the usual limit.
fn close_others_on_exec() {
    const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
    // SAFETY: close_range only marks descriptors close-on-exec; it closes none.
    if unsafe { syscall!(__NR_close_range, 3, u32::MAX, CLOSE_RANGE_CLOEXEC) }.is_err() {
        for fd in 3..4096 {
            // SAFETY: F_SETFD takes no pointer and closes nothing.
            let _ = unsafe { syscall!(__NR_fcntl, fd, uapi::F_SETFD, uapi::FD_CLOEXEC) };
        }
    }
}

/// `execve(2)`: returns only on failure.
fn execve(path: *const u8, argv: *const *const u8, envp: *const *const u8) -> Errno {
    // SAFETY: path and the NULL-terminated argv/envp arrays of NUL-terminated strings live in the Invocation (or the process's own environment), which outlives the call; on success the process image is replaced.
    match unsafe { syscall!(__NR_execve, path, argv, envp) } {
        Err(e) => e,
        Ok(_) => Errno::NOEXEC,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_decode() {
        assert_eq!(decode_status(3 << 8), Exit::Code(3));
        assert_eq!(decode_status(9), Exit::Signal(9));
        assert_eq!(decode_status(0x8b), Exit::Signal(11)); // core dumped
    }
}
