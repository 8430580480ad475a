//! os-release (os-release(5)), read as qemu-ga reads it: a GLib key file without a group
//! line, values unquoted by qemu-ga's own rules (not the shell's).

use super::keyfile;

/// Parses os-release text the way qemu-ga does: as a GLib key file in an implicit
/// `[os-release]` group (so a line that is not `KEY=value`, a comment, a group or blank
/// makes the whole file unusable), each value through qemu-ga's unquoting ([`unquote`]).
/// Fills `found[i]` with the value of `keys[i]` (unquoted in place, so it points into
/// `text`); the last occurrence of a key wins. Returns false if the file is unusable.
pub fn values<'t, const N: usize>(
    text: &'t mut [u8],
    keys: &[&[u8]; N],
    found: &mut [Option<&'t [u8]>; N],
) -> bool {
    const GROUP: &[u8] = b"os-release";
    keyfile::entries(text, Some(GROUP), |group, key, value| {
        let slot = keys.iter().position(|k| *k == key);
        if let Some(slot) = slot.filter(|_| group == GROUP) {
            found[slot] = Some(unquote(value));
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

    /// The keys qemu-ga reports, in its schema's order.
    const KEYS: [&[u8]; 7] = [
        b"ID",
        b"NAME",
        b"PRETTY_NAME",
        b"VERSION",
        b"VERSION_ID",
        b"VARIANT",
        b"VARIANT_ID",
    ];

    fn parse(text: &[u8]) -> Option<Vec<Option<String>>> {
        let mut buf = text.to_vec();
        let mut found = [None; 7];
        values(&mut buf, &KEYS, &mut found).then(|| {
            found
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
