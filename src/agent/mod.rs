//! The agent process: reads its command line and configuration, then hands over to the
//! single-threaded [`event_loop`].

pub mod channel;
pub mod event_loop;
pub mod init;
pub mod log;
pub mod options;
pub mod output;
pub mod process;
pub mod statics;

use core::fmt::Write as _;

use crate::capacity;
use crate::commands::{self, COMMANDS};
use crate::protocol::Node;
use crate::sys::fd::{self, AsFd, BorrowedFd, OwnedFd};
use crate::sys::process::Environ;
use crate::sys::{Errno, fs};
use crate::text::{FmtBuf, Lossy};

use channel::Method;
use options::{Action, Options};
use statics::TakeOnce;

/// The process's arguments and environment, as the kernel laid them out.
pub struct CArgs {
    argv: &'static [*const u8],
    envp: *const *const u8,
}

impl CArgs {
    /// # Safety
    /// `argv` and `envp` must be the NUL-terminated string arrays the kernel passed to the
    /// process (they live as long as the process).
    pub unsafe fn new(argv: &'static [*const u8], envp: *const *const u8) -> CArgs {
        CArgs { argv, envp }
    }

    /// # Safety
    /// `s` points to a NUL-terminated string that is never freed.
    unsafe fn c_str(s: *const u8) -> &'static [u8] {
        let mut len = 0;
        // SAFETY: per the contract, the string is NUL-terminated and lives forever.
        unsafe {
            while *s.add(len) != 0 {
                len += 1;
            }
            core::slice::from_raw_parts(s, len)
        }
    }

    fn arg(&self, i: usize) -> Option<&'static [u8]> {
        // SAFETY: argv holds valid strings (constructor contract).
        self.argv.get(i).map(|&s| unsafe { Self::c_str(s) })
    }

    /// The value of environment variable `name`.
    pub fn env(&self, name: &[u8]) -> Option<&'static [u8]> {
        let mut at = self.envp;
        // SAFETY: envp is a NULL-terminated array of valid strings (constructor contract).
        unsafe {
            while !at.is_null() && !(*at).is_null() {
                let entry = Self::c_str(*at);
                if let Some(value) = entry.strip_prefix(name).and_then(|r| r.strip_prefix(b"=")) {
                    return Some(value);
                }
                at = at.add(1);
            }
        }
        None
    }
}

// ---- static memory ----------------------------------------------------------------------

/// Most arguments the agent looks at.
const MAX_ARGS: usize = 64;
/// Largest config file read.
const CONFIG_BYTES: usize = 16 * 1024;
/// Bytes taken from the channel per read.
const READ_CHUNK: usize = 4096;

static REQUEST: TakeOnce<[u8; capacity::REQUEST_BYTES]> =
    TakeOnce::new([0; capacity::REQUEST_BYTES]);
static RESPONSE: TakeOnce<[u8; capacity::RESPONSE_CHUNK]> =
    TakeOnce::new([0; capacity::RESPONSE_CHUNK]);
const ARENA_NODES: usize = capacity::ARENA_BYTES / core::mem::size_of::<Node>();
static ARENA: TakeOnce<[Node; ARENA_NODES]> = TakeOnce::new([Node::EMPTY; ARENA_NODES]);
static CONFIG: TakeOnce<[u8; CONFIG_BYTES]> = TakeOnce::new([0; CONFIG_BYTES]);
static SCRATCH: TakeOnce<[u8; capacity::SCRATCH_BYTES]> =
    TakeOnce::new([0; capacity::SCRATCH_BYTES]);
static OS_RELEASE: TakeOnce<[u8; capacity::OS_RELEASE_BYTES]> =
    TakeOnce::new([0; capacity::OS_RELEASE_BYTES]);

fn print(out: BorrowedFd<'_>, text: &[u8]) {
    let _ = out.write_all(text);
}

/// Prints formatted text to stdout or stderr.
fn printf(out: BorrowedFd<'_>, args: core::fmt::Arguments<'_>) {
    struct Direct<'fd>(BorrowedFd<'fd>);
    impl core::fmt::Write for Direct<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            print(self.0, s.as_bytes());
            Ok(())
        }
    }
    let _ = Direct(out).write_fmt(args);
}

/// The whole program: returns the exit status. As the guest's init it never returns.
pub fn main(cargs: &CArgs) -> i32 {
    let status = run(cargs);
    if init::active() || crate::sys::process::getpid() == 1 {
        init::fatal(status);
    }
    status
}

fn run(cargs: &CArgs) -> i32 {
    let argv0 = cargs.arg(0).unwrap_or(b"qemu-ga");
    let mut args: heapless::Vec<&'static [u8], MAX_ARGS> = heapless::Vec::new();
    let mut i = 1;
    while let Some(arg) = cargs.arg(i) {
        if args.push(arg).is_err() {
            printf(
                fd::stderr(),
                format_args!("{}: too many arguments\n", Lossy(argv0)),
            );
            return 1;
        }
        i += 1;
    }

    // As the guest's init: the console and the API file systems before anything else.
    if init::wanted(&args) {
        init::prepare();
    }
    let environment = commands::Environment {
        os_release: cargs.env(b"QGA_OS_RELEASE"),
        tz: cargs.env(b"TZ"),
        tzdir: cargs.env(b"TZDIR"),
        // SAFETY: the kernel's envp, NULL-terminated, lives as long as the process.
        environ: unsafe { Environ::from_raw(cargs.envp) },
        path: cargs.env(b"PATH"),
        init: init::active(),
    };
    let mut options = Options::default();
    // Pass 1: the config file.
    let (config_path, required) = match options::config_argument(&args) {
        Some(path) => (path, true),
        None => (
            cargs.env(b"QGA_CONF").unwrap_or(options::DEFAULT_CONFIG),
            false,
        ),
    };
    if let Err(message) = load_config(&mut options, config_path, required) {
        early_critical(
            &environment,
            format_args!(
                "error loading configuration from path: {}, {message}",
                Lossy(config_path)
            ),
        );
        return 1;
    }
    // The kernel command line's tinyqga.KEY=VALUE over it, for the init.
    if init::active() {
        init::apply_kernel_command_line(&mut options);
    }
    // Pass 2: the command line over it.
    match options::apply_arguments(&mut options, &args) {
        Action::Run => {}
        Action::Help => {
            let mut text = FmtBuf::<4096>::new();
            let _ = options::usage(&mut text, core::str::from_utf8(argv0).unwrap_or("qemu-ga"));
            print(fd::stdout(), text.as_bytes());
            return 0;
        }
        Action::Version => {
            printf(
                fd::stdout(),
                format_args!("QEMU Guest Agent {}\n", commands::QEMU_VERSION),
            );
            return 0;
        }
        Action::ListCommands => {
            for command in COMMANDS {
                printf(fd::stdout(), format_args!("{}\n", command.name));
            }
            return 0;
        }
        Action::Usage(error) => {
            printf(fd::stderr(), format_args!("{}: {error}\n", Lossy(argv0)));
            printf(
                fd::stdout(),
                format_args!(
                    "Unknown option, try '{} --help' for more information.\n",
                    Lossy(argv0)
                ),
            );
            return 1;
        }
    }

    // qemu-ga 7.2's -v logs everything, debug included; --debug is the newer spelling.
    log::set_max_level(if options.debug || options.verbose {
        log::Level::Debug
    } else {
        log::Level::Warning
    });
    if init::active() {
        init::boot(&mut options);
    }

    // systemd socket activation: an inherited listening socket replaces -m/-p.
    let activated = match socket_activation(cargs) {
        Ok(fd) => fd,
        Err(message) => {
            early_critical(&environment, format_args!("{message}"));
            return 1;
        }
    };
    if let Some((_, method)) = &activated {
        options.method = Some(match method {
            Method::VsockListen => b"vsock-listen",
            _ => b"unix-listen",
        });
        options.path = None;
    } else if options.resolve_path().is_err() {
        early_critical(
            &environment,
            format_args!("must specify a path for this channel"),
        );
        return 1;
    }

    if options.dump_conf {
        let mut text = FmtBuf::<4096>::new();
        let _ = options.dump(&mut text);
        print(fd::stdout(), text.as_bytes());
        return 0;
    }

    event_loop::run(&options, activated, environment)
}

/// A critical message from before qemu-ga installs its own log handler (config file,
/// socket activation, channel path): GLib's default handler prints those, as
/// `\n** (process:<pid>): CRITICAL **: <local hh:mm:ss.mmm>: <message>` on stderr.
/// qemu-ga never calls `setlocale`, so GLib converts the message to the C locale's ASCII:
/// every other character (and every byte that is not UTF-8) becomes `?`, here too.
fn early_critical(env: &commands::Environment, args: core::fmt::Arguments<'_>) {
    let (secs, nanos) = crate::sys::time::realtime().unwrap_or((0, 0));
    let mut zone = [0u8; capacity::ZONE_FILE_BYTES];
    let local = commands::timezone::local_time(env, secs, &mut zone);
    let of_day = (secs + local.offset as i64).rem_euclid(86_400);
    let mut line = FmtBuf::<1024>::new();
    let _ = write!(
        line,
        "\n** (process:{}): CRITICAL **: {:02}:{:02}:{:02}.{:03}: ",
        crate::sys::process::getpid(),
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        nanos / 1_000_000
    );
    let mut message = FmtBuf::<1024>::new();
    let _ = message.write_fmt(args);
    for chunk in message.as_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            let _ = line.write_char(if c.is_ascii() { c } else { '?' });
        }
        for _ in chunk.invalid() {
            let _ = line.write_char('?');
        }
    }
    let _ = line.write_str("\n");
    print(fd::stderr(), line.as_bytes());
}

/// Reads the config file into static memory and applies it.
fn load_config(
    options: &mut Options<'static>,
    path: &[u8],
    required: bool,
) -> Result<(), FmtBuf<256>> {
    let mut message = FmtBuf::<256>::new();
    let Some(buf) = CONFIG.take() else {
        return Ok(());
    };
    let text = match fs::read_file(path, buf) {
        Ok(text) => text.len(),
        Err(Errno::NOENT) if !required => return Ok(()),
        Err(Errno::ISDIR) => {
            let _ = message.write_str("Not a regular file");
            return Err(message);
        }
        Err(e) => {
            let _ = write!(message, "{e}");
            return Err(message);
        }
    };
    let text = &mut buf[..text];
    options.load_config(text).map_err(|e| {
        let _ = write!(message, "{e}");
        message
    })
}

/// `LISTEN_PID`/`LISTEN_FDS` from systemd: descriptor 3 is our listening socket.
fn socket_activation(cargs: &CArgs) -> Result<Option<(OwnedFd, Method)>, &'static str> {
    let number =
        |name: &[u8]| -> Option<u64> { core::str::from_utf8(cargs.env(name)?).ok()?.parse().ok() };
    if number(b"LISTEN_PID") != Some(crate::sys::process::getpid() as u64) {
        return Ok(None);
    }
    match number(b"LISTEN_FDS") {
        None | Some(0) => Ok(None),
        Some(1) => {
            // SAFETY: LISTEN_PID is our pid and LISTEN_FDS is 1, so systemd passed us
            // descriptor 3 (SD_LISTEN_FDS_START), open and meant for us alone; nothing
            // else in the process takes or closes it.
            let fd = unsafe { OwnedFd::from_raw_fd(3) };
            match crate::sys::socket::domain(fd.as_fd()) {
                Ok(crate::sys::socket::AF_UNIX) => Ok(Some((fd, Method::UnixListen))),
                Ok(crate::sys::socket::AF_VSOCK) => Ok(Some((fd, Method::VsockListen))),
                _ => {
                    // Left open, as qemu-ga leaves it; the agent exits anyway.
                    let _ = fd.into_raw_fd();
                    Err("unsupported listen fd type")
                }
            }
        }
        Some(_) => Err("qemu-ga only supports listening on one socket"),
    }
}
