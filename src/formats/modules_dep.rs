//! `modules.dep` (depmod's output, under `/lib/modules/$(uname -r)/`): one line per module,
//!
//! ```text
//! kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_ring.ko kernel/drivers/virtio/virtio.ko
//! ```
//!
//! the module's path relative to that directory, a colon, and the paths of every module it
//! needs (all of them, not only the direct ones). Blank lines and `#` comments are
//! skipped, as kmod skips them. A module's name is its file name up to `.ko`, and `-` and
//! `_` are the same character in names (`virtio-pci` is `virtio_pci`).

/// A module file is compressed (the kernel decompresses it when asked with
/// `MODULE_INIT_COMPRESSED_FILE`, where it was built to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Xz,
    Gzip,
    Zstd,
}

/// One line: a module and the modules it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'t> {
    /// The module's path, relative to the modules directory.
    pub path: &'t [u8],
    deps: &'t [u8],
}

impl<'t> Entry<'t> {
    /// The paths of the modules this one needs, as listed.
    pub fn deps(&self) -> impl Iterator<Item = &'t [u8]> + use<'t> {
        self.deps
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty())
    }

    /// The module's name.
    pub fn name(&self) -> &'t [u8] {
        module_name(self.path)
    }
}

/// One line of `modules.dep`; `None` for a blank line, a comment, or a line without a
/// colon or without a path before it.
pub fn parse_line(line: &[u8]) -> Option<Entry<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.first() == Some(&b'#') {
        return None;
    }
    let colon = line.iter().position(|&b| b == b':')?;
    let path = line[..colon].trim_ascii();
    if path.is_empty() {
        return None;
    }
    Some(Entry {
        path,
        deps: &line[colon + 1..],
    })
}

/// Every entry of a whole `modules.dep` text, in order.
pub fn entries(text: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    text.split(|&b| b == b'\n').filter_map(parse_line)
}

/// The entry of module `name` (compared as [`same_name`] does).
pub fn find<'t>(text: &'t [u8], name: &[u8]) -> Option<Entry<'t>> {
    entries(text).find(|e| same_name(e.name(), name))
}

/// A module's name from its path: the file name up to its first `.ko`
/// (`kernel/fs/ext4/ext4.ko.xz` is `ext4`); a name without `.ko` is itself.
pub fn module_name(path: &[u8]) -> &[u8] {
    let file = match path.iter().rposition(|&b| b == b'/') {
        Some(slash) => &path[slash + 1..],
        None => path,
    };
    match file.windows(3).position(|w| w == b".ko") {
        Some(dot) => &file[..dot],
        None => file,
    }
}

/// Module names compare with `-` and `_` as the same character.
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| if c == b'-' { b'_' } else { c };
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| norm(x) == norm(y))
}

/// How the module file at `path` is compressed, from its suffix.
pub fn compression(path: &[u8]) -> Compression {
    if path.ends_with(b".ko.xz") {
        Compression::Xz
    } else if path.ends_with(b".ko.gz") {
        Compression::Gzip
    } else if path.ends_with(b".ko.zst") {
        Compression::Zstd
    } else {
        Compression::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &[u8] = b"# generated\n\
kernel/drivers/virtio/virtio_ring.ko:\n\
kernel/drivers/virtio/virtio.ko:\n\
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_ring.ko  kernel/drivers/virtio/virtio.ko\n\
\n\
kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz\r\n\
kernel/drivers/char/virtio-console.ko:kernel/drivers/virtio/virtio.ko\n";

    #[test]
    fn entries_and_their_dependencies() {
        let names: Vec<&[u8]> = entries(DEP).map(|e| e.name()).collect();
        assert_eq!(
            names,
            [
                &b"virtio_ring"[..],
                b"virtio",
                b"virtio_pci",
                b"net_failover",
                b"virtio-console"
            ]
        );
        let pci = find(DEP, b"virtio-pci").unwrap();
        assert_eq!(pci.path, b"kernel/drivers/virtio/virtio_pci.ko");
        let deps: Vec<&[u8]> = pci.deps().collect();
        assert_eq!(
            deps,
            [
                &b"kernel/drivers/virtio/virtio_pci_modern_dev.ko"[..],
                b"kernel/drivers/virtio/virtio_ring.ko",
                b"kernel/drivers/virtio/virtio.ko"
            ]
        );
        assert_eq!(find(DEP, b"virtio_ring").unwrap().deps().count(), 0);
        let console = find(DEP, b"virtio_console").unwrap();
        assert_eq!(
            console.deps().collect::<Vec<_>>(),
            [&b"kernel/drivers/virtio/virtio.ko"[..]]
        );
        let failover = find(DEP, b"net_failover").unwrap();
        assert_eq!(
            failover.deps().collect::<Vec<_>>(),
            [&b"kernel/net/core/failover.ko.xz"[..]]
        );
        assert_eq!(find(DEP, b"ext4"), None);
    }

    #[test]
    fn lines_that_are_not_entries() {
        assert_eq!(parse_line(b""), None);
        assert_eq!(parse_line(b"# a: b"), None);
        assert_eq!(parse_line(b"no colon here"), None);
        assert_eq!(parse_line(b" : dep.ko"), None);
        assert_eq!(parse_line(b" a.ko :").unwrap().path, b"a.ko");
    }

    #[test]
    fn names_from_paths() {
        assert_eq!(module_name(b"kernel/fs/ext4/ext4.ko.xz"), b"ext4");
        assert_eq!(module_name(b"virtio_blk.ko"), b"virtio_blk");
        assert_eq!(module_name(b"a.b/c"), b"c");
        assert_eq!(module_name(b""), b"");
        assert!(same_name(b"virtio-pci", b"virtio_pci"));
        assert!(!same_name(b"virtio_pci", b"virtio_pc"));
    }

    #[test]
    fn compression_by_suffix() {
        assert_eq!(compression(b"a.ko"), Compression::None);
        assert_eq!(compression(b"a.ko.xz"), Compression::Xz);
        assert_eq!(compression(b"a.ko.gz"), Compression::Gzip);
        assert_eq!(compression(b"a.ko.zst"), Compression::Zstd);
        assert_eq!(compression(b"a.xz"), Compression::None);
    }
}
