//! `guest-get-osinfo`: the kernel from uname(2), the distribution from os-release.

use super::Call;
use crate::capacity::OS_RELEASE_BYTES;
use crate::formats::os_release;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{fs, system};

static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= OS_RELEASE_BYTES);

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

/// `guest-get-osinfo` → `{kernel-release, kernel-version, machine, id, name, pretty-name,
/// version, version-id, variant, variant-id}`; members the guest does not have are left
/// out. The os-release file is `$QGA_OS_RELEASE` if set, else `/etc/os-release`, else
/// `/usr/lib/os-release`.
pub fn guest_get_osinfo(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let uts = system::uname().map_err(|e| qmp_error!("uname failed: {e}"))?;
    // Real os-release files are well under 1 KiB.
    let buf = call.scratch.take(OS_RELEASE_BYTES)?;
    let mut values: [Option<&[u8]>; 7] = [None; 7];
    let text = match call.state.env.os_release {
        Some(path) => fs::read_file(path, buf).ok(),
        None => read_default_os_release(buf),
    };
    if let Some(len) = text.map(|t| t.len()) {
        let mut found = [None; FIELDS.len()];
        if os_release::values(&mut buf[..len], &FIELDS.map(|(_, key)| key), &mut found) {
            values = found;
        }
    }
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

fn read_default_os_release(buf: &mut [u8]) -> Option<&[u8]> {
    let len = match fs::read_file(b"/etc/os-release", buf) {
        Ok(text) => text.len(),
        Err(_) => fs::read_file(b"/usr/lib/os-release", buf).ok()?.len(),
    };
    buf.get(..len)
}
