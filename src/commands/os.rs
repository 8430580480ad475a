//! `guest-get-osinfo`: the kernel from uname(2), the distribution from os-release.

use super::Call;
use crate::formats::os_release;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::fs::{self, FileStamp};
use crate::sys::{AsFd, BorrowedFd, OwnedFd, inotify, time};
use crate::text::dirname;

/// The os-release keys qemu-ga reports, with their QGA member names, in schema order.
const FIELDS: [(&str, &[u8]); 7] = [
    ("id", b"ID"),
    ("name", b"NAME"),
    ("pretty-name", b"PRETTY_NAME"),
    ("version", b"VERSION"),
    ("version-id", b"VERSION_ID"),
    ("variant", b"VARIANT"),
    ("variant-id", b"VARIANT_ID"),
];

/// What `guest-get-osinfo` read of os-release last time (the kernel's names are kept in
/// [`super::KernelNames`]). Hosts poll this command, and opening, reading and closing the
/// file costs more than the rest of the command together. So the values are used again
/// while an inotify watch on the file and its directories has reported nothing (`Watch`:
/// no system call at all), else while a `statx` of the file shows the same file,
/// unchanged ([`FileStamp`]).
/// (`OsInfo::default()` has no room for the text: it reports no os-release values.)
#[derive(Default)]
pub struct OsInfo {
    /// The file's text, its values unquoted in place: [`crate::capacity::OS_RELEASE_BYTES`]
    /// of static memory.
    text: &'static mut [u8],
    /// The version of the file that `text` holds, while it may be used again.
    stamp: Option<FileStamp>,
    /// Where each of [`FIELDS`]'s values is in `text`.
    values: [Option<(usize, usize)>; FIELDS.len()],
    watch: Watch,
}

/// How far an inotify watch vouches for [`OsInfo`]'s values. It is set before the file is
/// read, so a change after the read is reported; the event loop registers it after the
/// request ([`OsInfo::register_watch`]) and drops it at its first event
/// ([`OsInfo::watch_fired`]), and the next call sets a new one and checks the file.
/// (A mount over the file or its directories sends no event: that change is seen once
/// the watch fires for another reason.)
#[derive(Default)]
enum Watch {
    /// None: the next call sets one.
    #[default]
    Unset,
    /// Set during a request; not registered with the event loop yet.
    Pending(OwnedFd),
    /// Registered, and nothing reported since: the values are current. (Dropping the
    /// descriptor closes the watch.)
    Live(#[allow(dead_code)] OwnedFd),
    /// No watch can vouch here (no inotify in the kernel, out of watches or descriptors,
    /// or os-release on a network file system): every call checks the file with `statx`.
    Unavailable,
}

/// What changes a name in a directory, or the directory itself.
const DIRECTORY_EVENTS: u32 = inotify::CREATE
    | inotify::DELETE
    | inotify::MOVED_FROM
    | inotify::MOVED_TO
    | inotify::DELETE_SELF
    | inotify::MOVE_SELF;
/// What changes a file in place, or replaces it (a rename over it drops its link count,
/// an attribute change).
const FILE_EVENTS: u32 =
    inotify::MODIFY | inotify::ATTRIB | inotify::DELETE_SELF | inotify::MOVE_SELF;

/// An inotify descriptor that becomes readable when any of `paths` may read differently:
/// each path's directory, and each file through its symbolic links. None if a directory
/// cannot be watched, or a file (or, where it does not exist yet, its directory) is on a
/// file system that others change unseen ([`inotify::sees_every_change`]); a file that
/// does not exist yet is seen appearing.
fn watch(paths: &[&[u8]]) -> Option<OwnedFd> {
    let fd = inotify::init().ok()?;
    for path in paths {
        let dir = dirname(path);
        let stats = fs::statfs(path).or_else(|_| fs::statfs(dir)).ok()?;
        if !inotify::sees_every_change(stats.kind) {
            return None;
        }
        inotify::add_watch(fd.as_fd(), dir, DIRECTORY_EVENTS | inotify::ONLYDIR).ok()?;
        let _ = inotify::add_watch(fd.as_fd(), path, FILE_EVENTS);
    }
    Some(fd)
}

impl OsInfo {
    pub fn new(text: &'static mut [u8]) -> OsInfo {
        OsInfo {
            text,
            stamp: None,
            values: [None; FIELDS.len()],
            watch: Watch::Unset,
        }
    }

    /// Makes the cache hold the os-release values, from `path` (`$QGA_OS_RELEASE`) if
    /// set, else from `/etc/os-release`, else from `/usr/lib/os-release`; none if none
    /// can be read, or the file is not one qemu-ga could parse.
    fn refresh(&mut self, path: Option<&[u8]>) {
        let paths = match path {
            Some(ref path) => core::slice::from_ref(path),
            None => &[&b"/etc/os-release"[..], b"/usr/lib/os-release"],
        };
        match self.watch {
            Watch::Live(_) => return,
            Watch::Unset => {
                self.watch = watch(paths).map_or(Watch::Unavailable, Watch::Pending);
            }
            Watch::Pending(_) | Watch::Unavailable => {}
        }
        if !paths.iter().any(|path| self.load(path)) {
            self.stamp = None;
            self.values = [None; FIELDS.len()];
        }
    }

    /// The event loop's part: a watch set during the request is registered with
    /// `register` (false: it could not be, and the file is checked every call).
    pub fn register_watch(&mut self, register: impl FnOnce(BorrowedFd<'_>) -> bool) {
        if let Watch::Pending(_) = self.watch
            && let Watch::Pending(fd) = core::mem::take(&mut self.watch)
        {
            self.watch = match register(fd.as_fd()) {
                true => Watch::Live(fd),
                false => Watch::Unavailable,
            };
        }
    }

    /// The registered watch reported a change (or an overflow): it is dropped, which
    /// closes it and so takes it out of the event loop.
    pub fn watch_fired(&mut self) {
        self.watch = Watch::Unset;
    }

    /// The os-release values [`OsInfo::refresh`] left.
    fn values(&self) -> [Option<&[u8]>; FIELDS.len()] {
        let text = &*self.text;
        self.values
            .map(|at| at.and_then(|(start, end)| text.get(start..end)))
    }

    /// Makes the cache hold `path`'s values, reading it unless its stamp is the one held;
    /// false if it cannot be read.
    fn load(&mut self, path: &[u8]) -> bool {
        let Ok(st) = fs::stat(path) else { return false };
        let stamp = FileStamp::of(&st);
        if self.stamp == Some(stamp) {
            return true;
        }
        self.stamp = None;
        let Ok(len) = fs::read_file(path, self.text).map(<[u8]>::len) else {
            return false;
        };
        let base = self.text.as_ptr() as usize;
        // Where a value (a piece of `text`) lies in it.
        let span = |value: &[u8]| {
            let start = value.as_ptr() as usize - base;
            (start, start + value.len())
        };
        let mut found = [None; FIELDS.len()];
        let keys = FIELDS.map(|(_, key)| key);
        self.values = match os_release::values(&mut self.text[..len], &keys, &mut found) {
            true => found.map(|value| value.map(span)),
            false => [None; FIELDS.len()],
        };
        let now = time::realtime().map_or(i64::MIN, |(seconds, _)| seconds);
        self.stamp = stamp.settled(now).then_some(stamp);
        true
    }
}

/// `guest-get-osinfo` → `{kernel-release, kernel-version, machine, id, name, pretty-name,
/// version, version-id, variant, variant-id}`; members the guest does not have are left
/// out. The os-release file is `$QGA_OS_RELEASE` if set, else `/etc/os-release`, else
/// `/usr/lib/os-release`.
pub fn guest_get_osinfo(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let uts = (call.state.kernel.get()).map_err(|e| qmp_error!("uname failed: {e}"))?;
    let info = &mut call.state.osinfo;
    info.refresh(call.state.env.os_release);
    let values = info.values();
    call.reply.write(|w| {
        w.begin_object();
        w.key("kernel-release");
        w.bytes_as_str(uts.release());
        w.key("kernel-version");
        w.bytes_as_str(uts.version());
        w.key("machine");
        w.bytes_as_str(uts.machine());
        for ((name, _), value) in FIELDS.iter().zip(values) {
            if let Some(value) = value {
                w.key(name);
                w.bytes_as_str(value);
            }
        }
        w.end_object();
        Ok(())
    })
}
