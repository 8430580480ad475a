//! Files the host reads and writes through the agent: `guest-file-open`, `-close`, `-read`,
//! `-write`, `-seek` and `-flush`, with qemu-ga's handles, modes, permissions, texts and
//! end-of-file rules.
//!
//! qemu-ga wraps each file in a stdio `FILE`. This agent keeps the descriptor and
//! reproduces what the host can see of stdio: `fread` reads until the count or end of file,
//! and `eof` is reported once a read came up short (and sticks until a seek or a write); a
//! read after a write starts where the write ended. Writes are not buffered, so there is
//! nothing to lose and `guest-file-flush` has nothing to do.
//!
//! Handles come from a counter kept in the state directory (`qga.state`, a GLib key file
//! with `[global] fd_counter=N`, first handle 1000), rewritten on every open, so that
//! handles never repeat across restarts of the agent. At most
//! [`FILE_HANDLES`] files are open at once.

use super::Call;
use crate::capacity::{FILE_HANDLES, IO_STEP};
use crate::protocol::base64;
use crate::protocol::{FromValue, QmpError, Type, Value};
use crate::qmp_error;
use crate::sys::fd::{AsFd, OwnedFd};
use crate::sys::fs::SeekFrom;
use crate::sys::{Errno, fs, uapi};
use crate::{arguments, qapi_enum};

/// qemu-ga's largest `guest-file-read` count (`48 * MiB`).
pub const MAX_READ: i64 = 48 << 20;
/// Default `guest-file-read` count.
const DEFAULT_READ: i64 = 4096;
/// Mode of files `guest-file-open` creates, whatever the umask (qemu-ga's
/// `DEFAULT_NEW_FILE_MODE`).
const NEW_FILE_MODE: u32 = 0o666;

/// The open files, and the counter their handles come from.
pub struct Files {
    open: heapless::Vec<OpenFile, FILE_HANDLES>,
    counter: HandleCounter,
    /// `file-allow-paths` (tinyqga's own, off by default): the directories
    /// `guest-file-open` may open files beneath, as written (`,`/`;`-separated).
    allow: Option<&'static [u8]>,
}

struct OpenFile {
    handle: i64,
    fd: OwnedFd,
    /// Whether the last read reached end of file (stdio's sticky EOF flag).
    eof: bool,
}

impl Files {
    pub const fn new(counter: HandleCounter) -> Files {
        Files {
            open: heapless::Vec::new(),
            counter,
            allow: None,
        }
    }

    /// Confines `guest-file-open` beneath the directories listed in `list`.
    pub fn allow_only(&mut self, list: &'static [u8]) {
        self.allow = Some(list);
    }

    fn find(&mut self, handle: i64) -> Result<&mut OpenFile, QmpError> {
        self.open
            .iter_mut()
            .find(|f| f.handle == handle)
            .ok_or_else(|| qmp_error!("handle '{handle}' has not been found"))
    }
}

impl Default for Files {
    fn default() -> Self {
        Files::new(HandleCounter::in_memory())
    }
}

/// qemu-ga's persistent handle counter.
pub struct HandleCounter {
    next: i64,
    /// `<statedir>/qga.state`; empty: not persisted (unit tests).
    path: heapless::Vec<u8, { crate::sys::PATH_MAX }>,
}

/// The counter's first value on a fresh state directory.
const FIRST_HANDLE: i64 = 1000;

impl HandleCounter {
    /// A counter that is not saved anywhere.
    pub const fn in_memory() -> HandleCounter {
        HandleCounter {
            next: FIRST_HANDLE,
            path: heapless::Vec::new(),
        }
    }

    /// Reads `<statedir>/qga.state`; a missing file starts at 1000 and is written at once,
    /// as qemu-ga does. Fails (and the agent does not start) if the file cannot be read.
    pub fn load(statedir: &[u8]) -> Result<HandleCounter, StateError> {
        let mut counter = HandleCounter::at(statedir)?;
        let mut buf = [0u8; 1024];
        match fs::read_file(&counter.path, &mut buf).map(|t| t.len()) {
            Ok(len) => {
                if let Some(n) = parse_state(&mut buf[..len]) {
                    counter.next = n;
                }
            }
            Err(Errno::NOENT) => counter.save().map_err(StateError::Write)?,
            Err(e) => return Err(StateError::Read(e)),
        }
        Ok(counter)
    }

    /// A fresh counter saved in `<statedir>/qga.state` (not read: see [`HandleCounter::load`]).
    pub fn at(statedir: &[u8]) -> Result<HandleCounter, StateError> {
        let mut path = [0u8; crate::sys::PATH_MAX];
        let path = fs::join(&mut path, &[statedir, b"/qga.state"])
            .and_then(|p| heapless::Vec::from_slice(p).ok())
            .ok_or(StateError::Path)?;
        Ok(HandleCounter {
            next: FIRST_HANDLE,
            path,
        })
    }

    /// Takes the next handle and saves the counter (`ga_get_fd_handle`).
    fn take(&mut self) -> Result<i64, QmpError> {
        let handle = self.next;
        self.next = self.next.saturating_add(1);
        self.save()
            .map_err(|_| qmp_error!("failed to commit persistent state to disk"))?;
        Ok(handle)
    }

    fn save(&self) -> Result<(), Errno> {
        if self.path.is_empty() {
            return Ok(());
        }
        let mut text = crate::text::FmtBuf::<48>::new();
        let _ = core::fmt::Write::write_fmt(
            &mut text,
            format_args!("[global]\nfd_counter={}\n", self.next),
        );
        fs::replace_file(&self.path, 0o600, None, |fd| fd.write_all(text.as_bytes()))
    }
}

/// Why the state file could not be used at start.
#[derive(Debug)]
pub enum StateError {
    Path,
    Read(Errno),
    Write(Errno),
}

impl core::fmt::Display for StateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StateError::Path => f.write_str("state directory path is too long"),
            StateError::Read(e) => write!(f, "failed to read persistent state: {e}"),
            StateError::Write(e) => write!(f, "failed to write persistent state: {e}"),
        }
    }
}

/// `fd_counter` of the `[global]` group of a state file (read in place).
fn parse_state(text: &mut [u8]) -> Option<i64> {
    let mut value = None;
    let _ = crate::formats::keyfile::parse(text, |group, key, v| {
        if group == b"global" && key == b"fd_counter" {
            value = core::str::from_utf8(v)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        }
    });
    value
}

arguments! {
    /// `guest-file-open`
    pub struct FileOpen<'d> {
        "path" => path: &'d str,
        "mode" => mode: Option<&'d str>,
    }
}

/// `guest-file-open {path, mode?}` → the new handle.
pub fn guest_file_open(call: &mut Call, args: FileOpen<'_>) -> Result<(), QmpError> {
    let mode = args.mode.unwrap_or("r");
    let flags = open_flags(mode).ok_or_else(|| qmp_error!("invalid file open mode '{mode}'"))?;
    let files = &mut call.state.files;
    if files.open.is_full() {
        return Err(qmp_error!(
            "too many open files: at most {FILE_HANDLES} guest-file handles (TINYQGA_FILE_HANDLES)"
        ));
    }
    let fd = match files.allow {
        None => open_or_create(args.path, mode, flags, &|path, flags| {
            fs::open(path, flags, 0)
        })?,
        Some(list) => open_allowed(list, args.path, mode, flags)?,
    };
    let handle = files.counter.take()?;
    // Room was checked above.
    let _ = files.open.push(OpenFile {
        handle,
        fd,
        eof: false,
    });
    call.reply.write(|w| {
        w.int(handle);
        Ok(())
    })
}

/// `path` with `.`, empty parts and `..` taken out (`..` at the root stays at the root),
/// written into `out`; `None` unless absolute (or too long).
pub fn normalize<'o>(path: &[u8], out: &'o mut [u8]) -> Option<&'o [u8]> {
    if !path.starts_with(b"/") {
        return None;
    }
    let mut len = 0;
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                len = out[..len].iter().rposition(|&b| b == b'/').unwrap_or(0);
            }
            _ => {
                let end = len + 1 + part.len();
                out.get_mut(len..end)?;
                out[len] = b'/';
                out[len + 1..end].copy_from_slice(part);
                len = end;
            }
        }
    }
    if len == 0 {
        *out.first_mut()? = b'/';
        len = 1;
    }
    Some(&out[..len])
}

/// With `file-allow-paths`: `path` must lie beneath one of the listed directories once
/// `.` and `..` are taken out, and is then opened beneath that directory's descriptor
/// with `openat2(RESOLVE_BENEATH)`, so that no symlink (nor `..`) inside it leads out; a
/// refusal is a clear GenericError.
fn open_allowed(list: &[u8], path: &str, mode: &str, flags: u32) -> Result<OwnedFd, QmpError> {
    let refused = || {
        qmp_error!(
            "failed to open file '{path}' (mode: '{mode}'): not beneath a directory of file-allow-paths"
        )
    };
    let mut normal = [0u8; crate::sys::PATH_MAX];
    let normal = normalize(path.as_bytes(), &mut normal).ok_or_else(refused)?;
    let mut dir_buf = [0u8; crate::sys::PATH_MAX];
    for entry in list.split(|&b| b == b',' || b == b';') {
        let Some(dir) = normalize(entry.trim_ascii(), &mut dir_buf) else {
            continue;
        };
        let rest = if dir == b"/" {
            &normal[1..]
        } else {
            match normal.strip_prefix(dir) {
                Some(rest) if rest.starts_with(b"/") => &rest[1..],
                _ => continue,
            }
        };
        if rest.is_empty() {
            continue;
        }
        let dir_fd = fs::open(dir, uapi::O_PATH | uapi::O_DIRECTORY, 0)
            .map_err(|e| qmp_error!("failed to open file '{path}' (mode: '{mode}'): {e}"))?;
        let escaped = core::cell::Cell::new(false);
        let opened = open_or_create(path, mode, flags, &|_, flags| {
            fs::open_beneath(dir_fd.as_fd(), rest, flags, 0).inspect_err(|e| {
                escaped.set(matches!(*e, Errno::XDEV | Errno::LOOP));
            })
        });
        // A symlink (or magic link) inside the directory that leads out of it.
        return if escaped.get() {
            Err(refused())
        } else {
            opened
        };
    }
    Err(refused())
}

/// The open(2) flags of a stdio mode, for the modes qemu-ga accepts.
fn open_flags(mode: &str) -> Option<u32> {
    let access = match mode {
        "r" | "rb" => uapi::O_RDONLY,
        "w" | "wb" => uapi::O_WRONLY | uapi::O_CREAT | uapi::O_TRUNC,
        "a" | "ab" => uapi::O_WRONLY | uapi::O_CREAT | uapi::O_APPEND,
        "r+" | "rb+" | "r+b" => uapi::O_RDWR,
        "w+" | "wb+" | "w+b" => uapi::O_RDWR | uapi::O_CREAT | uapi::O_TRUNC,
        "a+" | "ab+" | "a+b" => uapi::O_RDWR | uapi::O_CREAT | uapi::O_APPEND,
        _ => return None,
    };
    // Non-blocking, so that a named pipe cannot hang the agent.
    Some(access | uapi::O_NOCTTY | uapi::O_NONBLOCK)
}

/// How a path is opened with given flags (plainly, or beneath an allowed directory).
type Opener<'a> = dyn Fn(&[u8], u32) -> Result<OwnedFd, Errno> + 'a;

/// qemu-ga's `safe_open_or_create`: a file the mode may create is first created
/// exclusively, so that it alone gets mode 0666 whatever the umask; an existing file is
/// opened as it is.
fn open_or_create(
    path: &str,
    mode: &str,
    flags: u32,
    open: &Opener<'_>,
) -> Result<OwnedFd, QmpError> {
    let creating = flags & uapi::O_CREAT != 0;
    let exclusive = if creating { uapi::O_EXCL } else { 0 };
    let opened = match open(path.as_bytes(), flags | exclusive) {
        Err(Errno::EXIST) if creating => {
            open(path.as_bytes(), flags & !uapi::O_CREAT).map(|fd| (fd, false))
        }
        other => other.map(|fd| (fd, creating)),
    };
    let (fd, created) =
        opened.map_err(|e| qmp_error!("failed to open file '{path}' (mode: '{mode}'): {e}"))?;
    if created && let Err(e) = fd.as_fd().fchmod(NEW_FILE_MODE) {
        drop(fd);
        let _ = fs::unlink(path.as_bytes());
        return Err(qmp_error!(
            "failed to set permission 0{NEW_FILE_MODE:03o} on new file '{path}' (mode: '{mode}'): {e}"
        ));
    }
    Ok(fd)
}

arguments! {
    /// `guest-file-close` and `guest-file-flush`
    pub struct Handle {
        "handle" => handle: i64,
    }
}

/// `guest-file-close {handle}`
pub fn guest_file_close(call: &mut Call, args: Handle) -> Result<(), QmpError> {
    let files = &mut call.state.files;
    files.find(args.handle)?;
    let position = files.open.iter().position(|f| f.handle == args.handle);
    if let Some(file) = position.map(|i| files.open.swap_remove(i)) {
        file.fd
            .close()
            .map_err(|e| qmp_error!("failed to close handle: {e}"))?;
    }
    Ok(())
}

/// `guest-file-flush {handle}`: writes go straight to the file, so there is nothing left
/// to flush; the handle must exist all the same.
pub fn guest_file_flush(call: &mut Call, args: Handle) -> Result<(), QmpError> {
    call.state.files.find(args.handle).map(drop)
}

arguments! {
    /// `guest-file-read`
    pub struct FileRead {
        "handle" => handle: i64,
        "count" => count: Option<i64>,
    }
}

/// `guest-file-read {handle, count?}` → `{buf-b64, count, eof}`.
///
/// Streams: the file is read, encoded and written out one step at a time, so a 48 MiB
/// read holds no more than one step. `buf-b64` comes first because its length is known
/// only at the end. An error in the first step is the command's error (as qemu-ga's
/// `ferror`); one after part of the answer went out ends the data there, and `count`
/// says how much it holds.
pub fn guest_file_read(call: &mut Call, args: FileRead) -> Result<(), QmpError> {
    let file = call.state.files.find(args.handle)?;
    let count = args.count.unwrap_or(DEFAULT_READ);
    if !(0..=MAX_READ).contains(&count) {
        return Err(qmp_error!("value '{count}' is invalid for argument count"));
    }
    let step = call.scratch.take(IO_STEP)?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("buf-b64");
        w.begin_base64();
        let mut total = 0usize;
        let wanted = count as usize;
        // stdio keeps end of file sticky: once seen, reads return nothing until a seek.
        while total < wanted && !file.eof {
            let room = step.len().min(wanted - total);
            match file.fd.as_fd().read(&mut step[..room]) {
                Ok(0) => file.eof = true,
                Ok(n) => {
                    w.base64_piece(&step[..n]);
                    total += n;
                }
                Err(Errno::INTR) => {}
                Err(e) if total == 0 => return Err(qmp_error!("failed to read file: {e}")),
                // Part of the data may have been sent already: report what was read.
                Err(_) => break,
            }
        }
        w.end_base64();
        w.key("count");
        w.uint(total as u64);
        w.key("eof");
        w.bool(file.eof);
        w.end_object();
        Ok(())
    })
}

arguments! {
    /// `guest-file-write`
    pub struct FileWrite<'d> {
        "handle" => handle: i64,
        "buf-b64" => buf_b64: &'d str,
        "count" => count: Option<i64>,
    }
}

/// `guest-file-write {handle, buf-b64, count?}` → `{count, eof}`.
///
/// The data is checked whole first (bad base64 or a `count` beyond it writes nothing),
/// then decoded step by step on its way into the file, so it never needs a second buffer
/// as large as the request.
pub fn guest_file_write(call: &mut Call, args: FileWrite<'_>) -> Result<(), QmpError> {
    let file = call.state.files.find(args.handle)?;
    let text = args.buf_b64.as_bytes();
    let decoded = base64::decoded_len(text).map_err(|e| qmp_error!("{e}"))?;
    let count = match args.count {
        None => decoded,
        Some(n) if (0..=decoded as i64).contains(&n) => n as usize,
        Some(n) => return Err(qmp_error!("value '{n}' is invalid for argument count")),
    };
    // A write ends stdio's end-of-file state (qemu-ga seeks before writing after a read).
    file.eof = false;
    let mut written = 0;
    let step = call.scratch.take(IO_STEP)?;
    // A full pipe (the file is opened non-blocking) is an error, as for qemu-ga's fwrite.
    base64::decode_each(text, step, |bytes| {
        let data = bytes
            .get(..bytes.len().min(count - written))
            .unwrap_or_default();
        if !data.is_empty() {
            file.fd.as_fd().write_all(data)?;
            written += data.len();
        }
        Ok::<(), Errno>(())
    })
    .map_err(|e| qmp_error!("failed to write to file: {e}"))?;
    call.reply.write(|w| {
        w.begin_object();
        w.key("count");
        w.uint(written as u64);
        w.key("eof");
        w.bool(false);
        w.end_object();
        Ok(())
    })
}

qapi_enum! {
    /// `QGASeek`
    pub enum Seek { Set = "set", Cur = "cur", End = "end" }
}

/// `GuestFileWhence`: a `QGASeek` name or the C value (0, 1, 2; anything else is refused
/// by the command, not the schema).
pub enum Whence {
    Name(Seek),
    Value(i64),
}

impl<'d> FromValue<'d> for Whence {
    const TYPE: Type = Type::Alternate {
        name: "GuestFileWhence",
        scalar: crate::protocol::schema::Scalar::Int,
        values: Seek::VALUES,
    };
    fn from_value(value: Option<Value<'d>>) -> Self {
        match value.and_then(|v| v.as_i64()) {
            Some(n) => Whence::Value(n),
            None => Whence::Name(Seek::from_value(value)),
        }
    }
}

arguments! {
    /// `guest-file-seek`
    pub struct FileSeek {
        "handle" => handle: i64,
        "offset" => offset: i64,
        "whence" => whence: Whence,
    }
}

/// `guest-file-seek {handle, offset, whence}` → `{position, eof}`.
pub fn guest_file_seek(call: &mut Call, args: FileSeek) -> Result<(), QmpError> {
    let file = call.state.files.find(args.handle)?;
    let offset = args.offset;
    let to = match args.whence {
        // A negative offset from the start goes to the kernel as it is (EINVAL).
        Whence::Name(Seek::Set) | Whence::Value(0) => SeekFrom::Start(offset as u64),
        Whence::Name(Seek::Cur) | Whence::Value(1) => SeekFrom::Current(offset),
        Whence::Name(Seek::End) | Whence::Value(2) => SeekFrom::End(offset),
        Whence::Value(n) => return Err(qmp_error!("invalid whence code {n}")),
    };
    let position = file
        .fd
        .as_fd()
        .lseek(to)
        .map_err(|e| qmp_error!("failed to seek file: {e}"))?;
    // A seek clears stdio's end-of-file state.
    file.eof = false;
    call.reply.write(|w| {
        w.begin_object();
        w.key("position");
        w.uint(position);
        w.key("eof");
        w.bool(false);
        w.end_object();
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_normalize_lexically() {
        let norm = |p: &str| {
            let mut out = [0u8; 64];
            normalize(p.as_bytes(), &mut out).map(|n| String::from_utf8(n.to_vec()).unwrap())
        };
        assert_eq!(norm("/a/./b//c/").as_deref(), Some("/a/b/c"));
        assert_eq!(norm("/a/b/../../../etc").as_deref(), Some("/etc"));
        assert_eq!(norm("/..").as_deref(), Some("/"));
        assert_eq!(norm("/").as_deref(), Some("/"));
        assert_eq!(norm("a/b"), None);
        assert_eq!(norm(&format!("/{}", "x".repeat(80))), None);
    }

    use super::*;

    #[test]
    fn modes_are_qemu_gas() {
        for mode in [
            "r", "rb", "w", "wb", "a", "ab", "r+", "rb+", "r+b", "w+", "wb+", "w+b", "a+", "ab+",
            "a+b",
        ] {
            assert!(open_flags(mode).is_some(), "{mode}");
        }
        for mode in ["", "x", "rw", "r+b+", "wa", "R", "br"] {
            assert!(open_flags(mode).is_none(), "{mode}");
        }
        assert_eq!(
            open_flags("a+").unwrap() & (uapi::O_APPEND | uapi::O_CREAT | uapi::O_RDWR),
            uapi::O_APPEND | uapi::O_CREAT | uapi::O_RDWR
        );
    }

    #[test]
    fn the_state_file_is_a_key_file() {
        let parse = |text: &[u8]| parse_state(&mut text.to_vec());
        assert_eq!(parse(b"[global]\nfd_counter=1234\n"), Some(1234));
        assert_eq!(
            parse(b"# c\n[other]\nfd_counter=5\n[global]\nfd_counter=77"),
            Some(77)
        );
        assert_eq!(parse(b"[global]\n"), None);
    }
}
