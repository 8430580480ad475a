//! Logging, in qemu-ga's format: `<seconds>.<microseconds>: <level>: <message>` per line,
//! to stderr or the `--logfile`; or, with `-l kmsg` (or `/dev/kmsg`), to the kernel log
//! as `<priority>tinyqga: <level>: <message>`, one write per record, for guests without
//! a syslog daemon. One process-wide sink, since the agent is single-threaded and every
//! layer above `sys` may want to log.

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
    /// The syslog priority qemu-ga gives this level (`glib_log_level_to_system`).
    pub fn priority(self) -> u8 {
        match self {
            Level::Error => 3,    // LOG_ERR
            Level::Critical => 2, // LOG_CRIT
            Level::Warning => 4,  // LOG_WARNING
            Level::Message => 5,  // LOG_NOTICE
            Level::Info => 6,     // LOG_INFO
            Level::Debug => 7,    // LOG_DEBUG
        }
    }

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
/// The sink is the kernel log (`/dev/kmsg`): records, not lines with time stamps.
static KMSG: AtomicBool = AtomicBool::new(false);
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

/// The `--logfile` values that mean the kernel log: `kmsg`, or the device's path.
pub fn is_kmsg(logfile: &[u8]) -> bool {
    logfile == b"kmsg" || logfile == KMSG_PATH
}

pub const KMSG_PATH: &[u8] = b"/dev/kmsg";

/// Opens the `--logfile`: the kernel log device for `kmsg`, else the file (created 0600,
/// appended to).
pub fn open_logfile(logfile: &[u8]) -> Result<OwnedFd, crate::sys::Errno> {
    if is_kmsg(logfile) {
        crate::sys::fs::open(KMSG_PATH, uapi::O_WRONLY, 0)
    } else {
        crate::sys::fs::open(
            logfile,
            uapi::O_WRONLY | uapi::O_CREAT | uapi::O_APPEND,
            0o600,
        )
    }
}

/// Sends log lines to `file` from now on (kernel-log records if `kmsg`); the previous log
/// file, if any, is closed.
pub fn set_sink(file: OwnedFd, kmsg: bool) {
    KMSG.store(kmsg, Ordering::Release);
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

/// The most bytes one write to `/dev/kmsg` may carry (the kernel refuses longer records
/// with EINVAL: its LOG_LINE_MAX is 1024 - 32, and the priority prefix counts).
pub const KMSG_RECORD: usize = 976;

/// One kernel-log record: `<priority>tinyqga: <level>: <message>\n`, cut to
/// [`KMSG_RECORD`] bytes (the cut record still ends its line). The kernel adds the time.
pub fn format_kmsg(
    out: &mut FmtBuf<KMSG_RECORD>,
    level: Level,
    args: core::fmt::Arguments<'_>,
) -> usize {
    let _ = write!(out, "<{}>tinyqga: {}: ", level.priority(), level.name());
    let _ = out.write_fmt(args);
    let len = out.as_bytes().len().min(KMSG_RECORD - 1);
    len + 1
}

pub fn log(level: Level, args: core::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let sink = sink();
    if KMSG.load(Ordering::Acquire) {
        let mut record = FmtBuf::<KMSG_RECORD>::new();
        let len = format_kmsg(&mut record, level, args);
        let mut bytes = [0u8; KMSG_RECORD];
        bytes[..len - 1].copy_from_slice(&record.as_bytes()[..len - 1]);
        bytes[len - 1] = b'\n';
        // One write is one record; a record the kernel drops (rate limit) is lost.
        let _ = sink.write(&bytes[..len]);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(level: Level, args: core::fmt::Arguments<'_>) -> String {
        let mut out = FmtBuf::<KMSG_RECORD>::new();
        let len = format_kmsg(&mut out, level, args);
        let mut text = String::from_utf8(out.as_bytes()[..len - 1].to_vec()).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn kmsg_records_carry_qemu_gas_syslog_priorities() {
        assert_eq!(
            record(Level::Critical, format_args!("failed to open {}", "x")),
            "<2>tinyqga: critical: failed to open x\n"
        );
        assert_eq!(
            record(Level::Error, format_args!("e")),
            "<3>tinyqga: error: e\n"
        );
        assert_eq!(
            record(Level::Warning, format_args!("w")),
            "<4>tinyqga: warning: w\n"
        );
        assert_eq!(
            record(Level::Message, format_args!("m")),
            "<5>tinyqga: message: m\n"
        );
        assert_eq!(
            record(Level::Info, format_args!("i")),
            "<6>tinyqga: info: i\n"
        );
        assert_eq!(
            record(Level::Debug, format_args!("d")),
            "<7>tinyqga: debug: d\n"
        );
    }

    #[test]
    fn a_long_kmsg_record_is_cut_to_what_the_kernel_takes() {
        let long = "x".repeat(5000);
        let text = record(Level::Info, format_args!("{long}"));
        assert_eq!(text.len(), KMSG_RECORD);
        assert!(text.starts_with("<6>tinyqga: info: xxx") && text.ends_with("x\n"));
    }

    #[test]
    fn kmsg_spellings() {
        assert!(is_kmsg(b"kmsg") && is_kmsg(b"/dev/kmsg"));
        assert!(!is_kmsg(b"./kmsg") && !is_kmsg(b"/var/log/kmsg"));
    }
}
