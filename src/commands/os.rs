//! `guest-get-osinfo`: the kernel from uname(2), the distribution from os-release.

use super::Call;
use crate::formats::os_release;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::fs::{self, FileStamp};
use crate::sys::time;

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
/// [`super::KernelNames`]). os-release is used again while a `statx` of it shows the same
/// file, unchanged ([`FileStamp`]). Hosts poll this command, and opening, reading and
/// closing the file costs more than the rest of the command together (a path walk, and a
/// file to set up and tear down: 4.5 us on the bench machine) where a `statx` is the path
/// walk alone (2 us).
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
}

impl OsInfo {
    pub fn new(text: &'static mut [u8]) -> OsInfo {
        OsInfo {
            text,
            stamp: None,
            values: [None; FIELDS.len()],
        }
    }

    /// Makes the cache hold the os-release values, from `path` (`$QGA_OS_RELEASE`) if
    /// set, else from `/etc/os-release`, else from `/usr/lib/os-release`; none if none
    /// can be read, or the file is not one qemu-ga could parse.
    fn refresh(&mut self, path: Option<&[u8]>) {
        let candidates = match path {
            Some(path) => [Some(path), None],
            None => [Some(&b"/etc/os-release"[..]), Some(b"/usr/lib/os-release")],
        };
        if !candidates.into_iter().flatten().any(|path| self.load(path)) {
            self.stamp = None;
            self.values = [None; FIELDS.len()];
        }
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
