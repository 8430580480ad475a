//! Logging, in qemu-ga's format: `<seconds>.<microseconds>: <level>: <message>` per line,
//! to stderr or the `--logfile`. One process-wide sink, since the agent is single-threaded
//! and every layer above `sys` may want to log.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, Ordering};

use crate::sys::fd::{self, AsFd, BorrowedFd, OwnedFd};
use crate::sys::{time, uapi};
use crate::text::FmtBuf;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Error = 0,
    Critical = 1,
    Warning = 2,
    Message = 3,
    Info = 4,
    Debug = 5,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Critical => "critical",
            Level::Warning => "warning",
            Level::Message => "message",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// Where log lines go: descriptor 2 (stderr) until a log file is opened, then the log
/// file's descriptor. Once stored here that number is never closed: a reopened log file
/// (SIGHUP, after logrotate) is moved onto it with `dup3`, which closes the old file and
/// keeps the number open. So the number read from here is always open for a borrow.
static SINK: AtomicI32 = AtomicI32::new(2);
/// The most detailed level written.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);

pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Logging pauses while file systems are frozen, as in qemu-ga: a write to a log file on
/// a frozen file system would block the agent until the thaw that only it can do.
static PAUSED: AtomicBool = AtomicBool::new(false);

pub fn set_paused(paused: bool) {
    PAUSED.store(paused, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed) && !PAUSED.load(Ordering::Relaxed)
}

/// Sends log lines to `file` from now on; the previous log file, if any, is closed.
pub fn set_sink(file: OwnedFd) {
    match SINK.compare_exchange(2, file.as_raw_fd(), Ordering::AcqRel, Ordering::Acquire) {
        // The first log file: its number stays open for the rest of the process.
        Ok(_) => {
            let _ = file.into_raw_fd();
        }
        Err(current) => {
            // SAFETY: a number other than 2 in SINK is a log file's that is never closed
            // (see SINK), so it is open for this borrow.
            let sink = unsafe { BorrowedFd::borrow_raw(current) };
            // The old file is closed by dup3, the new one's own descriptor when `file` drops.
            let _ = fd::dup3(file.as_fd(), sink, uapi::O_CLOEXEC);
        }
    }
}

/// The current sink, borrowed.
fn sink() -> BorrowedFd<'static> {
    // SAFETY: SINK holds 2 (stderr, open for the whole process, see `fd::stderr`) or a
    // log file's number that is never closed (see SINK); either stays open for 'static.
    unsafe { BorrowedFd::borrow_raw(SINK.load(Ordering::Acquire)) }
}

pub fn log(level: Level, args: core::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let mut line = FmtBuf::<1024>::new();
    let (secs, nanos) = time::realtime().unwrap_or((0, 0));
    let _ = write!(line, "{secs}.{:06}: {}: ", nanos / 1000, level.name());
    let _ = line.write_fmt(args);
    let mut bytes = line.as_bytes();
    // A message cut at the buffer's end still ends its line.
    let full = bytes.len() == 1024;
    if full {
        bytes = &bytes[..1023];
    }
    let sink = sink();
    let _ = sink.write_all(bytes);
    let _ = sink.write_all(b"\n");
}

#[macro_export]
macro_rules! log_at {
    ($level:ident, $($arg:tt)*) => {
        $crate::agent::log::log($crate::agent::log::Level::$level, format_args!($($arg)*))
    };
}

/// Reports a panic (a bug: input never panics by design) on stderr and the log.
pub fn panic(info: &core::panic::PanicInfo<'_>) {
    let mut line = FmtBuf::<512>::new();
    let _ = writeln!(line, "tinyqga: internal error: {info}");
    let _ = fd::stderr().write_all(line.as_bytes());
    if SINK.load(Ordering::Relaxed) != 2 {
        log(Level::Critical, format_args!("internal error: {info}"));
    }
}
