//! The command line and the configuration file, as qemu-ga reads them.
//!
//! Two passes, like qemu-ga: the first finds `-c/--config`; the config file is loaded
//! (`$QGA_CONF`, else `/etc/qemu/qemu-ga.conf`; a missing default file is fine, a missing
//! `-c` file is not); the second pass applies the command line over it. Scalars from the
//! command line win; `block-rpcs`/`allow-rpcs` lists from both accumulate.

use crate::formats::keyfile;

pub const DEFAULT_CONFIG: &[u8] = b"/etc/qemu/qemu-ga.conf";
pub const DEFAULT_VIRTIO_PATH: &[u8] = b"/dev/virtio-ports/org.qemu.guest_agent.0";
pub const DEFAULT_ISA_PATH: &[u8] = b"/dev/ttyS0";
pub const DEFAULT_STATEDIR: &[u8] = b"/var/run";
pub const DEFAULT_PIDFILE: &[u8] = b"/var/run/qemu-ga.pid";
pub const DEFAULT_FSFREEZE_HOOK: &[u8] = b"/etc/qemu/fsfreeze-hook";

/// How many `-b`/`-a` arguments (plus config entries) are kept per list.
pub const LIST_SOURCES: usize = 16;

/// The effective configuration.
#[derive(Debug, Default)]
pub struct Options<'a> {
    pub daemonize: bool,
    pub method: Option<&'a [u8]>,
    pub path: Option<&'a [u8]>,
    pub logfile: Option<&'a [u8]>,
    pub pidfile: Option<&'a [u8]>,
    /// The pidfile was named (on the command line or in the config), not defaulted.
    pub pidfile_given: bool,
    pub fsfreeze_hook: Option<&'a [u8]>,
    pub statedir: Option<&'a [u8]>,
    pub verbose: bool,
    pub debug: bool,
    pub retry_path: bool,
    /// Each `block-rpcs` value as written (comma- or semicolon-separated names).
    pub block_rpcs: heapless::Vec<&'a [u8], LIST_SOURCES>,
    pub allow_rpcs: heapless::Vec<&'a [u8], LIST_SOURCES>,
    /// `file-allow-paths` (config file only; tinyqga's own): the directories
    /// `guest-file-open` is confined beneath.
    pub file_allow_paths: Option<&'a [u8]>,
    pub dump_conf: bool,
    /// `--init`: do an init's work first even when not PID 1 (agent::init).
    pub init: bool,
    /// `modules=` (tinyqga's own key): the kernel modules an init agent loads.
    pub modules: Option<&'a [u8]>,
}

impl<'a> Options<'a> {
    pub fn method(&self) -> &'a [u8] {
        self.method.unwrap_or(b"virtio-serial")
    }
    pub fn statedir(&self) -> &'a [u8] {
        self.statedir.unwrap_or(DEFAULT_STATEDIR)
    }
    pub fn pidfile(&self) -> &'a [u8] {
        self.pidfile.unwrap_or(DEFAULT_PIDFILE)
    }

    /// Every name in the block list.
    pub fn blocked(&self) -> impl Iterator<Item = &'a str> + Clone {
        names(&self.block_rpcs)
    }

    /// Every name in the allow list, or `None` when there is no allow list.
    pub fn allowed(&self) -> Option<impl Iterator<Item = &'a str> + Clone> {
        (!self.allow_rpcs.is_empty()).then(|| names(&self.allow_rpcs))
    }

    /// Fills in the channel path for methods that have a default one. Fails as qemu-ga
    /// does ("must specify a path for this channel") when a method needs a path and has none.
    pub fn resolve_path(&mut self) -> Result<(), MissingPath> {
        if self.path.is_none() {
            self.path = match self.method() {
                b"virtio-serial" => Some(DEFAULT_VIRTIO_PATH),
                b"isa-serial" => Some(DEFAULT_ISA_PATH),
                _ => return Err(MissingPath),
            };
        }
        Ok(())
    }

    /// The configuration as a config file (`--dump-conf`), in qemu-ga's key order.
    pub fn dump(&self, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
        let string = |out: &mut dyn core::fmt::Write, key: &str, value: &[u8]| {
            write!(out, "{key}=")?;
            keyfile::write_escaped(out, value)?;
            out.write_str("\n")
        };
        // qemu-ga splits each list on `,` into a list built by prepending, so each
        // source's names come out reversed (an empty source has none); `;` stays inside
        // a name there.
        let list = |out: &mut dyn core::fmt::Write, key: &str, sources: &[&[u8]]| {
            write!(out, "{key}=")?;
            let names = sources
                .iter()
                .filter(|s| !s.is_empty())
                .flat_map(|s| s.rsplit(|&b| b == b','));
            for (i, name) in names.enumerate() {
                if i > 0 {
                    out.write_str(",")?;
                }
                keyfile::write_escaped(out, name)?;
            }
            out.write_str("\n")
        };
        out.write_str("[general]\n")?;
        writeln!(out, "daemon={}", self.daemonize)?;
        string(out, "method", self.method())?;
        if let Some(path) = self.path {
            string(out, "path", path)?;
        }
        if let Some(logfile) = self.logfile {
            string(out, "logfile", logfile)?;
        }
        string(out, "pidfile", self.pidfile())?;
        if let Some(hook) = self.fsfreeze_hook {
            string(out, "fsfreeze-hook", hook)?;
        }
        string(out, "statedir", self.statedir())?;
        writeln!(out, "verbose={}", self.verbose)?;
        writeln!(out, "debug={}", self.debug)?;
        writeln!(out, "retry-path={}", self.retry_path)?;
        list(out, "block-rpcs", &self.block_rpcs)?;
        list(out, "allow-rpcs", &self.allow_rpcs)?;
        if let Some(paths) = self.file_allow_paths {
            string(out, "file-allow-paths", paths)?;
        }
        if let Some(modules) = self.modules {
            string(out, "modules", modules)?;
        }
        Ok(())
    }

    /// Applies a loaded config file's `[general]` entries.
    pub fn load_config(&mut self, text: &'a mut [u8]) -> Result<(), ConfigError<'a>> {
        let mut error = None;
        let mut blacklist: Option<&'a [u8]> = None;
        let mut block: Option<&'a [u8]> = None;
        let mut allow: Option<&'a [u8]> = None;
        keyfile::parse(text, |group, key, value| {
            if group != b"general" {
                return;
            }
            let mut boolean = |flag: &mut bool| match keyfile::parse_bool(value) {
                Some(b) => *flag = b,
                None => {
                    error.get_or_insert(ConfigError::BadValue(key));
                }
            };
            const STRINGS: &[&[u8]] = &[
                b"method",
                b"path",
                b"logfile",
                b"pidfile",
                b"fsfreeze-hook",
                b"statedir",
                b"blacklist",
                b"block-rpcs",
                b"allow-rpcs",
                b"file-allow-paths",
            ];
            if STRINGS.contains(&key) && core::str::from_utf8(value).is_err() {
                error.get_or_insert(ConfigError::NotUtf8(key, value));
                return;
            }
            match key {
                b"daemon" => boolean(&mut self.daemonize),
                b"method" => self.method = Some(value),
                b"path" => self.path = Some(value),
                b"logfile" => self.logfile = Some(value),
                b"pidfile" => {
                    self.pidfile = Some(value);
                    self.pidfile_given = true;
                }
                b"fsfreeze-hook" => self.fsfreeze_hook = Some(value),
                b"statedir" => self.statedir = Some(value),
                b"verbose" => {
                    let mut on = false;
                    boolean(&mut on);
                    self.verbose |= on;
                }
                b"debug" => {
                    let mut on = false;
                    boolean(&mut on);
                    self.debug |= on;
                }
                b"retry-path" => boolean(&mut self.retry_path),
                b"blacklist" => blacklist = Some(value),
                b"block-rpcs" => block = Some(value),
                b"allow-rpcs" => allow = Some(value),
                b"file-allow-paths" => self.file_allow_paths = Some(value),
                b"modules" => self.modules = Some(value),
                _ => {}
            }
        })
        .map_err(ConfigError::Syntax)?;
        if let Some(error) = error {
            return Err(error);
        }
        // qemu-ga before 9.1 read the deprecated `blacklist` key in preference.
        if let Some(list) = blacklist.or(block) {
            self.push_list(List::Block, list)?;
        }
        if let Some(list) = allow {
            self.push_list(List::Allow, list)?;
        }
        Ok(())
    }

    fn push_list(&mut self, list: List, value: &'a [u8]) -> Result<(), ConfigError<'a>> {
        let sources = match list {
            List::Block => &mut self.block_rpcs,
            List::Allow => &mut self.allow_rpcs,
        };
        sources.push(value).map_err(|_| ConfigError::TooManyLists)
    }

    /// A `-b`/`-a` argument.
    fn add_list(&mut self, list: List, value: &'a [u8]) -> Action<'a> {
        match self.push_list(list, value) {
            Ok(()) => Action::Run,
            Err(_) => Action::Usage(UsageError::TooManyLists),
        }
    }
}

/// The channel method has no default path and none was given.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingPath;

#[derive(Clone, Copy)]
enum List {
    Block,
    Allow,
}

/// Splits list values on `,` (qemu-ga's separator) and `;` (GLib's list separator, which
/// qemu-ga's own test config uses).
fn names<'a>(sources: &[&'a [u8]]) -> impl Iterator<Item = &'a str> + Clone {
    sources
        .iter()
        .flat_map(|s| s.split(|&b| b == b',' || b == b';'))
        .filter_map(|name| core::str::from_utf8(name).ok())
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError<'a> {
    Syntax(keyfile::KeyFileError<'a>),
    BadValue(&'a [u8]),
    /// A string key whose value is not UTF-8 (GLib's `g_key_file_get_string` refuses it).
    NotUtf8(&'a [u8], &'a [u8]),
    TooManyLists,
}

impl core::fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Syntax(e) => e.fmt(f),
            ConfigError::BadValue(key) => {
                f.write_str("Key file contains key \u{201c}")?;
                crate::text::write_lossy(f, key)?;
                f.write_str("\u{201d} which has a value that cannot be interpreted.")
            }
            ConfigError::NotUtf8(key, value) => {
                f.write_str("Key file contains key \u{201c}")?;
                crate::text::write_lossy(f, key)?;
                f.write_str("\u{201d} with value \u{201c}")?;
                crate::text::write_lossy(f, value)?;
                f.write_str("\u{201d} which is not UTF-8")
            }
            ConfigError::TooManyLists => write!(f, "more than {LIST_SOURCES} rpc lists"),
        }
    }
}

/// What the command line asks for besides running.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    Run,
    Help,
    Version,
    /// `-b help` / `-a help`: list the commands.
    ListCommands,
    /// A usage error: the message getopt prints (`invalid option -- 'z'`).
    Usage(UsageError<'a>),
}

#[derive(Debug, PartialEq, Eq)]
pub enum UsageError<'a> {
    InvalidShort(u8),
    /// What followed `--`, `=value` included (glibc quotes the whole word).
    UnrecognizedLong(&'a [u8]),
    /// What followed `--`, `=value` included.
    Ambiguous(&'a [u8]),
    MissingShortArg(u8),
    /// The option's full name (glibc names the option, not the abbreviation typed).
    MissingLongArg(&'static str),
    NoArgAllowed(&'static str),
    TooManyLists,
}

impl core::fmt::Display for UsageError<'_> {
    /// glibc's getopt_long messages, word for word (as qemu-ga prints them).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = |f: &mut core::fmt::Formatter<'_>, b: &[u8]| crate::text::write_lossy(f, b);
        match self {
            UsageError::InvalidShort(c) => write!(f, "invalid option -- '{}'", *c as char),
            UsageError::UnrecognizedLong(o) => {
                f.write_str("unrecognized option '--")?;
                text(f, o)?;
                f.write_str("'")
            }
            UsageError::Ambiguous(o) => {
                f.write_str("option '--")?;
                text(f, o)?;
                f.write_str("' is ambiguous; possibilities:")?;
                for option in ambiguous_with(long_name(o)) {
                    write!(f, " '--{}'", option.0)?;
                }
                Ok(())
            }
            UsageError::MissingShortArg(c) => {
                write!(f, "option requires an argument -- '{}'", *c as char)
            }
            UsageError::MissingLongArg(o) => write!(f, "option '--{o}' requires an argument"),
            UsageError::NoArgAllowed(o) => write!(f, "option '--{o}' doesn't allow an argument"),
            UsageError::TooManyLists => write!(f, "more than {LIST_SOURCES} -b/-a lists"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    Required,
    /// Only attached: `-F/path`, `--fsfreeze-hook=/path`.
    Optional,
}

/// (long name, short letter, argument), in the order of qemu-ga's `lopt` table: glibc
/// lists an ambiguous abbreviation's possibilities in this order. An empty long name is a
/// short-only option.
const OPTIONS: &[(&str, u8, Arg)] = &[
    ("help", b'h', Arg::None),
    ("version", b'V', Arg::None),
    ("config", b'c', Arg::Required),
    ("dump-conf", b'D', Arg::None),
    ("logfile", b'l', Arg::Required),
    ("pidfile", b'f', Arg::Required),
    ("fsfreeze-hook", b'F', Arg::Optional),
    ("verbose", b'v', Arg::None),
    ("debug", 0, Arg::None),
    ("method", b'm', Arg::Required),
    ("path", b'p', Arg::Required),
    ("daemonize", b'd', Arg::None),
    ("block-rpcs", b'b', Arg::Required),
    // Removed from qemu-ga in 9.1 (it stood here in 7.2's table); kept so that older
    // configurations keep working.
    ("blacklist", b'b', Arg::Required),
    ("allow-rpcs", b'a', Arg::Required),
    ("statedir", b't', Arg::Required),
    ("retry-path", b'r', Arg::None),
    // `-s` (Windows service commands) is in qemu-ga's short options on every system but
    // has no long name outside Windows: accepted and ignored.
    ("", b's', Arg::Required),
    // Not qemu-ga's (and so not in --help, which stays qemu-ga's): be the guest's init.
    ("init", 0, Arg::None),
];

type Entry = (&'static str, u8, Arg);

/// `--name[=value]` -> `name`.
fn long_name(word: &[u8]) -> &[u8] {
    match word.iter().position(|&b| b == b'=') {
        Some(eq) => &word[..eq],
        None => word,
    }
}

fn long_options() -> impl Iterator<Item = &'static Entry> + Clone {
    OPTIONS.iter().filter(|o| !o.0.is_empty())
}

/// glibc's rule for an abbreviation: the first option it begins, and every later one it
/// begins that differs from that first one in argument kind or value (so `--b` is
/// `--block-rpcs`, not ambiguous with `--blacklist`, which means the same).
fn ambiguous_with(name: &[u8]) -> impl Iterator<Item = &'static Entry> {
    let matching = move || long_options().filter(move |o| o.0.as_bytes().starts_with(name));
    let first = matching().next();
    let differs = move |o: &Entry| first.is_some_and(|f| f.1 != o.1 || f.2 != o.2);
    let ambiguous = matching().any(differs);
    matching()
        .filter(move |o| ambiguous && (first.is_some_and(|f| core::ptr::eq(f, *o)) || differs(o)))
}

/// One option occurrence: its short letter (or 0 for long-only, named by `long`) and value.
struct Found<'a> {
    short: u8,
    long: &'a str,
    value: Option<&'a [u8]>,
}

/// getopt_long over `args` (without argv[0]): calls `f` per option in order; stops at the
/// first error or when `f` returns an action other than `Run`. Non-options are ignored.
fn getopt<'a>(args: &[&'a [u8]], mut f: impl FnMut(Found<'a>) -> Action<'a>) -> Action<'a> {
    let mut i = 0;
    while i < args.len() {
        let arg = args[i];
        i += 1;
        if arg == b"--" {
            break;
        }
        if let Some(long) = arg.strip_prefix(b"--") {
            let (name, attached) = match long.iter().position(|&b| b == b'=') {
                Some(eq) => (&long[..eq], Some(&long[eq + 1..])),
                None => (long, None),
            };
            let exact = long_options().find(|o| o.0.as_bytes() == name);
            let option = match exact {
                Some(o) => o,
                None => {
                    let mut matches = ambiguous_with(name);
                    match (matches.next(), matches.next()) {
                        (Some(_), Some(_)) => return Action::Usage(UsageError::Ambiguous(long)),
                        _ => match long_options().find(|o| o.0.as_bytes().starts_with(name)) {
                            Some(o) => o,
                            None => return Action::Usage(UsageError::UnrecognizedLong(long)),
                        },
                    }
                }
            };
            let value = match (option.2, attached) {
                (Arg::None, Some(_)) => return Action::Usage(UsageError::NoArgAllowed(option.0)),
                (Arg::None, None) | (Arg::Optional, _) => attached,
                (Arg::Required, Some(v)) => Some(v),
                (Arg::Required, None) => match args.get(i) {
                    Some(v) => {
                        i += 1;
                        Some(*v)
                    }
                    None => return Action::Usage(UsageError::MissingLongArg(option.0)),
                },
            };
            match f(Found {
                short: option.1,
                long: option.0,
                value,
            }) {
                Action::Run => continue,
                other => return other,
            }
        }
        let Some(cluster) = arg.strip_prefix(b"-").filter(|c| !c.is_empty()) else {
            continue;
        };
        let mut j = 0;
        while j < cluster.len() {
            let c = cluster[j];
            j += 1;
            let Some(option) = OPTIONS.iter().find(|o| o.1 == c && c != 0) else {
                return Action::Usage(UsageError::InvalidShort(c));
            };
            let rest = &cluster[j..];
            let value = match option.2 {
                Arg::None => None,
                Arg::Optional => {
                    j = cluster.len();
                    (!rest.is_empty()).then_some(rest)
                }
                Arg::Required => {
                    j = cluster.len();
                    if !rest.is_empty() {
                        Some(rest)
                    } else if let Some(v) = args.get(i) {
                        i += 1;
                        Some(*v)
                    } else {
                        return Action::Usage(UsageError::MissingShortArg(c));
                    }
                }
            };
            match f(Found {
                short: c,
                long: option.0,
                value,
            }) {
                Action::Run => {}
                other => return other,
            }
        }
    }
    Action::Run
}

/// First pass: the config file named by `-c`, if any (errors are left to the second pass).
pub fn config_argument<'a>(args: &[&'a [u8]]) -> Option<&'a [u8]> {
    let mut config = None;
    getopt(args, |found| {
        if found.short == b'c' {
            config = found.value;
        }
        Action::Run
    });
    config
}

/// Second pass: applies the command line over `options`.
pub fn apply_arguments<'a>(options: &mut Options<'a>, args: &[&'a [u8]]) -> Action<'a> {
    getopt(args, |found| {
        let value = found.value.unwrap_or_default();
        match (found.short, found.long) {
            (b'h', _) => return Action::Help,
            (b'V', _) => return Action::Version,
            (b'v', _) => options.verbose = true,
            (0, "debug") => options.debug = true,
            (0, "init") => options.init = true,
            (b'd', _) => options.daemonize = true,
            (b'm', _) => options.method = Some(value),
            (b'p', _) => options.path = Some(value),
            (b'l', _) => options.logfile = Some(value),
            (b'f', _) => {
                options.pidfile = Some(value);
                options.pidfile_given = true;
            }
            (b'F', _) => options.fsfreeze_hook = Some(found.value.unwrap_or(DEFAULT_FSFREEZE_HOOK)),
            (b't', _) => options.statedir = Some(value),
            (b'b' | b'a', _) if value == b"help" || value == b"?" => return Action::ListCommands,
            (b'b', _) => return options.add_list(List::Block, value),
            (b'a', _) => return options.add_list(List::Allow, value),
            (b'D', _) => options.dump_conf = true,
            (b'r', _) => options.retry_path = true,
            _ => {} // -c (first pass), -s (Windows only)
        }
        Action::Run
    })
}

/// `--help` text: qemu-ga's (as QEMU 8.2 to 11.1 print it, `--debug` unlisted as there)
/// line for line, but for the version line (QEMU's `<version> (<package>)` form, naming
/// tinyqga), the copyright line, the `-c` default (QEMU prints
/// `/etc/qemu/qemu-ga.conf/qemu-ga.conf`, a bug) and the last two lines (where to report
/// bugs). One literal per line: a `\` line continuation would eat the next line's indent.
pub fn usage(out: &mut dyn core::fmt::Write, argv0: &str) -> core::fmt::Result {
    write!(
        out,
        concat!(
            "Usage: {argv0} [-m <method> -p <path>] [<options>]\n",
            "QEMU Guest Agent {version} (tinyqga {own})\n",
            "Copyright (c) the tinyqga developers; options and protocol of QEMU's qemu-ga\n",
            "\n",
            "  -c, --config=PATH configuration file path (default is\n",
            "                    /etc/qemu/qemu-ga.conf\n",
            "                    unless overridden by the QGA_CONF environment variable)\n",
            "  -m, --method      transport method: one of unix-listen, virtio-serial,\n",
            "                    isa-serial, or vsock-listen (virtio-serial is the default)\n",
            "  -p, --path        device/socket path (the default for virtio-serial is:\n",
            "                    /dev/virtio-ports/org.qemu.guest_agent.0,\n",
            "                    the default for isa-serial is:\n",
            "                    /dev/ttyS0).\n",
            "                    Socket addresses for vsock-listen are written as\n",
            "                    <cid>:<port>.\n",
            "  -l, --logfile     set logfile path, logs to stderr by default\n",
            "  -f, --pidfile     specify pidfile (default is /var/run/qemu-ga.pid)\n",
            "  -F, --fsfreeze-hook\n",
            "                    enable fsfreeze hook. Accepts an optional argument that\n",
            "                    specifies script to run on freeze/thaw. Script will be\n",
            "                    called with 'freeze'/'thaw' arguments accordingly.\n",
            "                    (default is /etc/qemu/fsfreeze-hook)\n",
            "                    If using -F with an argument, do not follow -F with a\n",
            "                    space.\n",
            "                    (for example: -F/var/run/fsfreezehook.sh)\n",
            "  -t, --statedir    specify dir to store state information (absolute paths\n",
            "                    only, default is /var/run)\n",
            "  -v, --verbose     log extra debugging information\n",
            "  -V, --version     print version information and exit\n",
            "  -d, --daemonize   become a daemon\n",
            "  -b, --block-rpcs  comma-separated list of RPCs to disable (no spaces,\n",
            "                    use \"--block-rpcs=help\" to list available RPCs)\n",
            "  -a, --allow-rpcs  comma-separated list of RPCs to enable (no spaces,\n",
            "                    use \"--allow-rpcs=help\" to list available RPCs)\n",
            "  -D, --dump-conf   dump a qemu-ga config file based on current config\n",
            "                    options / command-line parameters to stdout\n",
            "  -r, --retry-path  attempt re-opening path if it's unavailable or closed\n",
            "                    due to an error which may be recoverable in the future\n",
            "                    (virtio-serial driver re-install, serial device hot\n",
            "                    plug/unplug, etc.)\n",
            "  -h, --help        display this help and exit\n",
            "\n",
            "Report bugs in tinyqga to its developers, not to the QEMU project.\n",
            "More information on the QEMU project at <https://qemu.org>.\n",
        ),
        argv0 = argv0,
        version = crate::commands::QEMU_VERSION,
        own = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a>(args: &[&'a str]) -> (Options<'a>, Action<'a>) {
        let args: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        let args: &'a [&'a [u8]] = Box::leak(args.into_boxed_slice());
        let mut options = Options::default();
        let action = apply_arguments(&mut options, args);
        (options, action)
    }

    #[test]
    fn short_long_attached_and_clustered_forms() {
        let (o, a) = run(&[
            "-m",
            "unix-listen",
            "-p/tmp/s",
            "--logfile=/l",
            "--statedir",
            "/st",
            "-vd",
            "-F",
        ]);
        assert_eq!(a, Action::Run);
        assert_eq!(o.method, Some(&b"unix-listen"[..]));
        assert_eq!(o.path, Some(&b"/tmp/s"[..]));
        assert_eq!(o.logfile, Some(&b"/l"[..]));
        assert_eq!(o.statedir, Some(&b"/st"[..]));
        assert!(o.verbose && o.daemonize);
        assert_eq!(o.fsfreeze_hook, Some(DEFAULT_FSFREEZE_HOOK));
        let (o, _) = run(&["-F/x/hook", "--fsfreeze-hook=/y"]);
        assert_eq!(o.fsfreeze_hook, Some(&b"/y"[..]));
    }

    #[test]
    fn abbreviations_as_getopt_long() {
        let (o, a) = run(&["--verb", "--retry"]);
        assert_eq!(a, Action::Run);
        assert!(o.verbose && o.retry_path);
        assert_eq!(run(&["--d"]).1, Action::Usage(UsageError::Ambiguous(b"d")));
    }

    #[test]
    fn errors_in_getopt_words() {
        let (_, a) = run(&["-z"]);
        assert_eq!(a, Action::Usage(UsageError::InvalidShort(b'z')));
        let (_, a) = run(&["--bogus"]);
        assert_eq!(a.clone_text(), "unrecognized option '--bogus'");
        let (_, a) = run(&["-m"]);
        assert_eq!(a.clone_text(), "option requires an argument -- 'm'");
        let (_, a) = run(&["--verbose=1"]);
        assert_eq!(
            a.clone_text(),
            "option '--verbose' doesn't allow an argument"
        );
    }

    #[test]
    fn help_and_version_stop_at_their_place() {
        assert_eq!(run(&["-h", "-z"]).1, Action::Help);
        assert_eq!(run(&["-V"]).1, Action::Version);
        assert_eq!(run(&["-b", "help"]).1, Action::ListCommands);
        assert_eq!(run(&["--allow-rpcs=?"]).1, Action::ListCommands);
    }

    #[test]
    fn lists_accumulate_and_split_on_comma_and_semicolon() {
        let text: &'static mut [u8] = Box::leak(
            b"[general]\nblock-rpcs=guest-ping;guest-get-time\n"
                .to_vec()
                .into_boxed_slice(),
        );
        let mut o = Options::default();
        o.load_config(text).unwrap();
        let args: &'static [&'static [u8]] =
            Box::leak(vec![&b"-b"[..], b"guest-info,guest-sync"].into_boxed_slice());
        assert_eq!(apply_arguments(&mut o, args), Action::Run);
        let names: Vec<&str> = o.blocked().collect();
        assert_eq!(
            names,
            ["guest-ping", "guest-get-time", "guest-info", "guest-sync"]
        );
        let mut dump = String::new();
        o.dump(&mut dump).unwrap();
        assert!(
            dump.contains("\nblock-rpcs=guest-ping;guest-get-time,guest-sync,guest-info\n"),
            "{dump}"
        );
    }

    #[test]
    fn config_values_and_errors() {
        let text: &'static mut [u8] = Box::leak(
            b"[general]\ndaemon=1\nmethod=unix-listen\npath=/p\nverbose = true\nretry-path=false\nunknown=x\n[other]\nmethod=no\n"
                .to_vec()
                .into_boxed_slice(),
        );
        let mut o = Options::default();
        o.load_config(text).unwrap();
        assert!(o.daemonize && o.verbose && !o.retry_path);
        assert_eq!(o.method(), b"unix-listen");
        let bad: &'static mut [u8] =
            Box::leak(b"[general]\nverbose=maybe\n".to_vec().into_boxed_slice());
        let err = Options::default().load_config(bad).unwrap_err();
        assert_eq!(
            format!("{err}"),
            "Key file contains key \u{201c}verbose\u{201d} which has a value that cannot be interpreted."
        );
    }

    #[test]
    fn dump_has_qemu_gas_keys_in_order() {
        let mut o = Options::default();
        o.resolve_path().unwrap();
        let mut dump = String::new();
        o.dump(&mut dump).unwrap();
        assert_eq!(
            dump,
            "[general]\ndaemon=false\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\n\
pidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\ndebug=false\nretry-path=false\nblock-rpcs=\nallow-rpcs=\n"
        );
        let mut o = Options {
            method: Some(b"unix-listen"),
            ..Options::default()
        };
        assert!(o.resolve_path().is_err());
    }

    impl Action<'_> {
        fn clone_text(&self) -> String {
            match self {
                Action::Usage(e) => e.to_string(),
                _ => String::new(),
            }
        }
    }
}
