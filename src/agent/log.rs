//! Logging, in qemu-ga's format: `<seconds>.<microseconds>: <level>: <message>` per line,
//! to stderr or the `--logfile`. One process-wide sink, since the agent is single-threaded
//! and every layer above `sys` may want to log.

use core::fmt::Write as _;
use core::sync::atomic::{AtomicI32, AtomicU8, Ordering};

use crate::sys::{Fd, time};
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

/// Where log lines go (stderr until a log file is opened).
static SINK: AtomicI32 = AtomicI32::new(2);
/// The most detailed level written.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Warning as u8);

pub fn set_max_level(level: Level) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX_LEVEL.load(Ordering::Relaxed)
}

/// Sends log lines to `fd` from now on (the descriptor stays open for the process).
pub fn set_sink(fd: Fd) {
    let old = SINK.swap(fd.into_raw(), Ordering::Relaxed);
    if old > 2 {
        drop(Fd::from_raw(old));
    }
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
    let sink = Fd::from_raw(SINK.load(Ordering::Relaxed));
    let _ = sink.write_all(bytes);
    let _ = sink.write_all(b"\n");
    core::mem::forget(sink);
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
    let stderr = Fd::from_raw(2);
    let _ = stderr.write_all(line.as_bytes());
    core::mem::forget(stderr);
    if SINK.load(Ordering::Relaxed) != 2 {
        log(Level::Critical, format_args!("internal error: {info}"));
    }
}
