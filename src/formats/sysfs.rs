//! Sysfs, decoded: the attribute texts (`uevent`'s `DEVNAME=`, `serial`) and the device
//! paths (`/sys/devices/pci0000:00/0000:00:1c.0/…/host2/target2:0:0/2:0:0:0/block/sda`)
//! that qemu-ga's disk-address walk reads: PCI functions, SCSI targets, ATA ports and SCSI
//! hosts. `commands::disk_address` walks the tree and decides what they mean.

/// A block device under `/devices/virtual/block/` (device-mapper, md, loop, zram) is made
/// of the devices in its `slaves`.
pub fn is_virtual(syspath: &[u8]) -> bool {
    contains(syspath, b"/devices/virtual/block/")
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The last component of a path.
pub fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// The `DEVNAME=` of a `uevent` file: the device node's name under /dev.
pub fn uevent_devname(uevent: &[u8]) -> Option<&str> {
    let name = uevent
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"DEVNAME="))?;
    core::str::from_utf8(name).ok()
}

/// A `serial` file's text, trimmed; `None` when empty or not UTF-8.
pub fn serial(text: &[u8]) -> Option<&str> {
    core::str::from_utf8(text.trim_ascii())
        .ok()
        .filter(|s| !s.is_empty())
}

/// Reads `N` numbers separated by `seps` (hex or decimal) from the start of `s`; returns
/// them and the length consumed.
fn numbers<const N: usize>(s: &[u8], seps: &[u8], radix: u32) -> Option<([i64; N], usize)> {
    let mut out = [0i64; N];
    let mut at = 0;
    for (i, slot) in out.iter_mut().enumerate() {
        if i > 0 {
            if s.get(at) != seps.get(i - 1) {
                return None;
            }
            at += 1;
        }
        let digits = s[at..]
            .iter()
            .take_while(|b| (**b as char).is_digit(radix))
            .count();
        if digits == 0 {
            return None;
        }
        *slot = i64::from_str_radix(core::str::from_utf8(&s[at..at + digits]).ok()?, radix).ok()?;
        at += digits;
    }
    Some((out, at))
}

/// The PCI functions a sysfs path goes through, outermost first: each one's domain, bus,
/// slot and function, and the length of the path prefix that is its directory.
/// `/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/…` → `[0, 0, 0x1c, 0]` at
/// `/sys/devices/pci0000:00/0000:00:1c.0`, then `[0, 1, 0, 0]`. Nothing when the path is
/// not under a PCI root.
pub fn pci_functions(syspath: &[u8]) -> impl Iterator<Item = ([i64; 4], usize)> + '_ {
    // After "/devices/pci", the root's "dddd:bb".
    let mut at = find(syspath, b"/devices/pci")
        .map(|i| i + 12)
        .and_then(|i| Some(i + numbers::<2>(&syspath[i..], b":", 16)?.1));
    core::iter::from_fn(move || {
        let p = at?;
        let next = syspath
            .get(p + 1..)
            .and_then(|r| numbers::<4>(r, b"::.", 16))
            .filter(|_| syspath.get(p) == Some(&b'/'));
        at = next.map(|(_, len)| p + 1 + len);
        next.map(|(pci, len)| (pci, p + 1 + len))
    })
}

/// The PCI drivers qemu-ga recognises as storage controllers.
pub const CONTROLLERS: [&str; 7] = [
    "ata_piix",
    "sym53c8xx",
    "virtio-pci",
    "ahci",
    "nvme",
    "xhci_hcd",
    "ehci-pci",
];

pub fn is_controller(driver: &str) -> bool {
    CONTROLLERS.contains(&driver)
}

/// `.../target<h>:<c>:<t>/<h>:<c>:<t>:<l>/...` → (channel, target, lun).
pub fn scsi_target(syspath: &[u8]) -> Option<[i64; 3]> {
    let rest = &syspath[find(syspath, b"/target")? + 7..];
    let (_, skip) = numbers::<3>(rest, b"::", 10)?;
    let rest = rest.get(skip..)?.strip_prefix(b"/")?;
    let ([_, c, t, l], _) = numbers::<4>(rest, b":::", 10)?;
    Some([c, t, l])
}

/// The ATA port (`/ata<n>`) or SCSI host (`/host<n>`) a disk hangs off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// `ata<n>` rather than `host<n>`.
    pub ata: bool,
    pub number: i64,
    /// Length of the path prefix that is the directory holding it (the controller's).
    pub dir_len: usize,
}

/// The first `/ata<n>` of the path, else its first `/host<n>` (as qemu-ga looks for them).
pub fn host_of(syspath: &[u8]) -> Option<Host> {
    let (at, ata) = match find(syspath, b"/ata") {
        Some(i) => (i, true),
        None => (find(syspath, b"/host")?, false),
    };
    let name_len = if ata { 4 } else { 5 };
    let (n, _) = numbers::<1>(&syspath[at + name_len..], b"", 10)?;
    Some(Host {
        ata,
        number: n[0],
        dir_len: at,
    })
}

/// Which of its controller's hosts (`ata<n>` or `host<n>` entries of the controller's
/// directory, sorted by number) a disk's host is: fed the directory's names one by one.
pub struct HostIndex {
    host: Host,
    below: i64,
    found: bool,
}

impl HostIndex {
    pub fn new(host: Host) -> HostIndex {
        HostIndex {
            host,
            below: 0,
            found: false,
        }
    }

    pub fn see(&mut self, name: &[u8]) {
        let prefix: &[u8] = if self.host.ata { b"ata" } else { b"host" };
        // As sscanf("host%d"): the number may be followed by anything.
        if let Some((n, _)) = name
            .strip_prefix(prefix)
            .and_then(|r| numbers::<1>(r, b"", 10))
        {
            self.found |= n[0] == self.host.number;
            self.below += (n[0] < self.host.number) as i64;
        }
    }

    /// The host's position among those seen; `None` if it was not among them.
    pub fn index(&self) -> Option<i64> {
        self.found.then_some(self.below)
    }
}

/// s390x: `/devices/css0/0.0.0001/0.0.0000/virtio0/...` → (cssid, ssid, subchannel,
/// devno), and where `/devices/css` starts in the path.
pub fn ccw_address(syspath: &[u8]) -> Option<([i64; 4], usize)> {
    let at = find(syspath, b"/devices/css")?;
    let rest = &syspath[at + 12..];
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = rest.get(digits..)?.strip_prefix(b"/")?;
    let ([cssid, ssid, subchno], used) = numbers::<3>(rest, b"..", 16)?;
    let rest = rest.get(used..)?.strip_prefix(b"/")?;
    let ([_, _, devno], used) = numbers::<3>(rest, b"..", 16)?;
    (rest.get(used) == Some(&b'/')).then_some(([cssid, ssid, subchno, devno], at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("tests/fixtures/sys/{name}")).unwrap()
    }

    #[test]
    fn device_names_and_serials() {
        assert_eq!(uevent_devname(&fixture("vda.uevent")), Some("vda"));
        assert_eq!(uevent_devname(&fixture("loop0.uevent")), Some("loop0"));
        assert_eq!(
            uevent_devname(&fixture("nvme0n1p2.uevent")),
            Some("nvme0n1p2")
        );
        assert_eq!(uevent_devname(&fixture("dm-0.uevent")), Some("dm-0"));
        assert_eq!(uevent_devname(b"MAJOR=8\nMINOR=0\n"), None);
        assert_eq!(uevent_devname(b"DEVNAME=\xff\n"), None);
        assert_eq!(serial(&fixture("vda.serial")), Some("qga-scratch"));
        assert_eq!(serial(b"  QM00001 \n"), Some("QM00001"));
        assert_eq!(serial(b"\n"), None);
        assert_eq!(serial(b""), None);
    }

    #[test]
    fn paths() {
        assert!(is_virtual(b"/sys/devices/virtual/block/dm-0"));
        assert!(!is_virtual(
            b"/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"
        ));
        assert_eq!(basename(b"/sys/devices/virtual/block/dm-0"), b"dm-0");
        assert_eq!(basename(b"vda"), b"vda");
    }

    #[test]
    fn pci_functions_down_a_path() {
        let path = b"/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio2/host0";
        let found: Vec<([i64; 4], &[u8])> = pci_functions(path)
            .map(|(pci, len)| (pci, &path[..len]))
            .collect();
        assert_eq!(
            found,
            [
                (
                    [0, 0, 0x1c, 0],
                    &b"/sys/devices/pci0000:00/0000:00:1c.0"[..]
                ),
                (
                    [0, 1, 0, 0],
                    &b"/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0"[..]
                ),
            ]
        );
        assert_eq!(pci_functions(b"/sys/devices/pci0000:00/garbage").count(), 0);
        assert_eq!(pci_functions(b"/sys/devices/pci").count(), 0);
        assert_eq!(pci_functions(b"/sys/devices/platform/virtio0").count(), 0);
    }

    #[test]
    fn scsi_targets_and_hosts() {
        let path = b"/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda";
        assert_eq!(scsi_target(path), Some([0, 0, 0]));
        let host = host_of(path).unwrap();
        assert_eq!((host.ata, host.number), (true, 3));
        assert_eq!(
            &path[..host.dir_len],
            b"/sys/devices/pci0000:00/0000:00:1f.2"
        );
        let path = b"/sys/devices/pci0000:00/0000:00:01.1/host1/target1:0:1/1:0:1:0/block/sdb";
        assert_eq!(scsi_target(path), Some([0, 1, 0]));
        let host = host_of(path).unwrap();
        assert_eq!((host.ata, host.number), (false, 1));
        assert_eq!(
            scsi_target(b"/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"),
            None
        );
        assert_eq!(
            host_of(b"/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda"),
            None
        );
    }

    #[test]
    fn host_index_counts_the_lower_hosts() {
        let host = host_of(b"/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2").unwrap();
        let mut index = HostIndex::new(host);
        for name in ["ata1", "ata6", "power", "ata3", "ata2", "host2", "atax"] {
            index.see(name.as_bytes());
        }
        assert_eq!(index.index(), Some(2));
        let mut missing = HostIndex::new(host);
        missing.see(b"ata1");
        assert_eq!(missing.index(), None);
    }
}
