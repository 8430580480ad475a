//! Becoming a daemon, and the pidfile.

use crate::sys::fd::{self, AsFd, OwnedFd};
use crate::sys::{Errno, fs, process, uapi};

/// Why the pidfile could not be written, with QEMU's messages.
#[derive(Debug)]
pub enum PidfileError<'a> {
    Create(&'a [u8], Errno),
    Lock(Errno),
    Write,
}

impl core::fmt::Display for PidfileError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PidfileError::Create(path, e) => {
                f.write_str("Could not create '")?;
                crate::text::write_lossy(f, path)?;
                write!(f, "': {e}")
            }
            PidfileError::Lock(e) => write!(f, "Cannot lock pid file: {e}"),
            PidfileError::Write => f.write_str("Failed to write pid file"),
        }
    }
}

/// Creates (mode 0600), locks and fills the pidfile. The returned descriptor holds the lock
/// for as long as it is open, so a second agent with the same pidfile fails.
pub fn write_pidfile(path: &[u8]) -> Result<OwnedFd, PidfileError<'_>> {
    let file = fs::open(path, uapi::O_WRONLY | uapi::O_CREAT, 0o600)
        .map_err(|e| PidfileError::Create(path, e))?;
    let fd = file.as_fd();
    fd.try_lock().map_err(PidfileError::Lock)?;
    let mut digits = [0u8; 20];
    let pid = crate::text::format_u64(process::getpid() as u64, &mut digits);
    let written = fd
        .truncate(0)
        .and_then(|()| fd.write_all(pid))
        .and_then(|()| fd.write_all(b"\n"));
    if written.is_err() {
        let _ = fs::unlink(path);
        return Err(PidfileError::Write);
    }
    Ok(file)
}

/// Forks into the background as qemu-ga does: the parent exits 0 at once; the child starts
/// a new session, drops its umask to 077, moves to `/` and points stdio at /dev/null.
pub fn daemonize() -> Result<(), Errno> {
    if process::fork()? != 0 {
        process::exit(0);
    }
    process::setsid()?;
    fs::umask(0o077);
    fs::chdir(b"/")?;
    let null = fs::open(b"/dev/null", uapi::O_RDWR, 0)?;
    for std in [fd::stdin(), fd::stdout(), fd::stderr()] {
        fd::dup3(null.as_fd(), std, 0)?;
    }
    Ok(())
}
