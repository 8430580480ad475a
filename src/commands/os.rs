//! `guest-get-osinfo`: the kernel from uname(2), the distribution from os-release.

use super::Call;
use crate::capacity::OS_RELEASE_BYTES;
use crate::protocol::QmpError;
use crate::qmp_error;
use crate::sys::{fs, keyfile, system};

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
        let mut lines = [None; FIELDS.len()];
        if parse_os_release(&mut buf[..len], &mut lines) {
            values = lines;
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

/// Parses os-release text the way qemu-ga does: as a GLib key file in an implicit
/// `[os-release]` group (so a line that is not `KEY=value`, a comment, a group or blank
/// makes the whole file unusable), each value through qemu-ga's unquoting ([`unquote`]).
/// Fills `values` in [`FIELDS`] order; the last occurrence of a key wins. Returns false if
/// the file is unusable.
pub fn parse_os_release<'t>(text: &'t mut [u8], values: &mut [Option<&'t [u8]>; 7]) -> bool {
    const GROUP: &[u8] = b"os-release";
    keyfile::entries(text, Some(GROUP), |group, key, value| {
        let slot = FIELDS.iter().position(|(_, k)| *k == key);
        if let Some(slot) = slot.filter(|_| group == GROUP) {
            values[slot] = Some(unquote(value));
        }
    })
    .is_ok()
}

/// qemu-ga's `ga_osrelease_replace_special`: a value in double quotes loses them and the
/// shell escapes `\$ \' \" \\ \`` inside; any other value (single-quoted ones included,
/// through a slip in qemu-ga's condition that clients now see) is cut at its first space,
/// then at its first `;`.
pub fn unquote(value: &mut [u8]) -> &[u8] {
    if value.first() != Some(&b'"') {
        let mut end = value.iter().position(|&b| b == b' ').unwrap_or(value.len());
        end = value[..end].iter().position(|&b| b == b';').unwrap_or(end);
        return &value[..end];
    }
    let mut out = 0;
    let mut i = 1;
    while i < value.len() {
        let b = value[i];
        if b == b'"' {
            break;
        }
        if b == b'\\' && matches!(value.get(i + 1), Some(b'$' | b'\'' | b'"' | b'\\' | b'`')) {
            i += 1;
        }
        value[out] = value[i];
        out += 1;
        i += 1;
    }
    &value[..out]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Option<Vec<Option<String>>> {
        let mut buf = text.to_vec();
        let mut values = [None; 7];
        parse_os_release(&mut buf, &mut values).then(|| {
            values
                .iter()
                .map(|v| v.map(|v| String::from_utf8_lossy(v).into_owned()))
                .collect()
        })
    }

    #[test]
    fn debian_12() {
        let got = parse(&std::fs::read("tests/fixtures/os-release/debian-12").unwrap()).unwrap();
        let want = [
            Some("debian"),
            Some("Debian GNU/Linux"),
            Some("Debian GNU/Linux 12 (bookworm)"),
            Some("12 (bookworm)"),
            Some("12"),
            None,
            None,
        ];
        assert_eq!(got, want.map(|v| v.map(String::from)));
    }

    #[test]
    fn quoting_rules_as_qemu_ga() {
        let got = parse(&std::fs::read("tests/fixtures/os-release/quoting").unwrap()).unwrap();
        let want = [
            Some("plain"),                      // ID=plain rest;x  -> cut at the space
            Some("a \"quoted\" $name \\n `x`"), // escapes inside double quotes
            Some("'single"),                    // single quotes are not understood
            Some("cut"),                        // VERSION=cut;after
            Some("unterminated value"),         // no closing quote: the rest
            Some("last"),                       // the last occurrence wins
            None,
        ];
        assert_eq!(got, want.map(|v| v.map(String::from)));
    }

    #[test]
    fn a_broken_line_spoils_the_file_as_in_glib() {
        assert_eq!(parse(b"ID=x\nthis is not a key\n"), None);
        assert_eq!(parse(b"# only a comment\n\n"), Some(vec![None; 7]));
    }
}
