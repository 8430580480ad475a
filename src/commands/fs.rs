//! `guest-get-fsinfo`: mounted block-device file systems with their sizes and the disks
//! under them, resolved through sysfs the way qemu-ga does.

use core::fmt::Write as _;

use super::Call;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::{Errno, PATH_MAX, fs, mountinfo, uapi};
use crate::text::FmtBuf;

/// Disks under one file system listed in qemu-ga's (reversed) order; an md or dm device
/// over more lists them all in the order found.
pub const DISKS_PER_FS: usize = 32;
/// How deep device-mapper/md stacks are followed.
const MAX_STACK: usize = 8;

/// `guest-get-fsinfo` → `[{name, mountpoint, type, used-bytes?, total-bytes?,
/// total-bytes-privileged?, disk: [...]}]`: one entry per block device (the first mount of
/// each wins; virtual file systems have no block device and are left out), in reverse
/// mount order as qemu-ga lists them. /proc/self/mountinfo is read whole into the scratch
/// buffer (`TINYQGA_SCRATCH_BYTES`).
pub fn guest_get_fsinfo(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let scratch = &mut *call.state.scratch;
    let capacity = scratch.len();
    let len = match fs::read_file(b"/proc/self/mountinfo", scratch) {
        Ok(text) => text.len(),
        Err(Errno::FBIG) => {
            return Err(qmp_error!(
                "/proc/self/mountinfo is larger than {capacity} bytes"
            ));
        }
        Err(e) => {
            return Err(qmp_error!(
                "failed to open mtab file: '/proc/self/mountinfo': {e}"
            ));
        }
    };
    let text = &mut scratch[..len];
    call.reply.write(|w| {
        write_filesystems(w, text);
        Ok(())
    })
}

fn write_filesystems(w: &mut JsonWriter<'_>, text: &mut [u8]) {
    w.begin_array();
    let mut end = text.len();
    while end > 0 {
        // The line before `end`, from the last one back.
        let start = text[..end - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let (before, rest) = text.split_at_mut(start);
        let line_len = rest[..end - start]
            .strip_suffix(b"\n")
            .map_or(end - start, <[u8]>::len);
        let line = &mut rest[..line_len];
        if let Some(dev) = block_device(line) {
            let first = !before
                .split(|&b| b == b'\n')
                .any(|earlier| block_device(earlier) == Some(dev));
            if let Some(mount) = mountinfo::parse(line).filter(|_| first) {
                write_filesystem(w, &mount, dev);
            }
        }
        end = start;
    }
    w.end_array();
}

/// The block device under a mount: its own device numbers, or for btrfs (which reports
/// major 0) those of its source device. `None` for everything else (tmpfs, proc, nfs, ...).
fn block_device(line: &[u8]) -> Option<(u32, u32)> {
    let (major, minor, fstype, source) = mountinfo::device(line)?;
    if major != 0 {
        return Some((major, minor));
    }
    if fstype != b"btrfs" {
        return None;
    }
    let mut buf = [0u8; PATH_MAX];
    let st = fs::stat(mountinfo::unescaped(source, &mut buf)?).ok()?;
    (st.stx_mode as u32 & uapi::S_IFMT == uapi::S_IFBLK)
        .then_some((st.stx_rdev_major, st.stx_rdev_minor))
}

fn write_filesystem(
    w: &mut JsonWriter<'_>,
    mount: &mountinfo::Mount<'_>,
    (major, minor): (u32, u32),
) {
    let mut devpath = FmtBuf::<64>::new();
    let _ = write!(devpath, "/sys/dev/block/{major}:{minor}");
    let mut real = [0u8; PATH_MAX];
    let syspath = fs::resolve_link(devpath.as_bytes(), &mut real)
        .ok()
        .filter(|p| fs::access(p, 0).is_ok());
    let name = basename(syspath.unwrap_or(devpath.as_bytes()));
    let mut disks: heapless::Vec<Disk, DISKS_PER_FS> = heapless::Vec::new();
    let mut overflow = false;
    if let Some(syspath) = syspath {
        each_disk(syspath, 0, &mut |disk| {
            overflow |= disks.push(disk).is_err()
        });
    }
    w.begin_object();
    w.key("name");
    w.bytes_as_str(name);
    w.key("mountpoint");
    w.bytes_as_str(mount.mountpoint);
    w.key("type");
    w.bytes_as_str(mount.fstype);
    if let Ok(st) = fs::statfs(mount.mountpoint) {
        let used = st.blocks.saturating_sub(st.free);
        w.key("used-bytes");
        w.uint(used.saturating_mul(st.fragment));
        w.key("total-bytes");
        w.uint(
            used.saturating_add(st.available)
                .saturating_mul(st.fragment),
        );
        w.key("total-bytes-privileged");
        w.uint(st.blocks.saturating_mul(st.fragment));
    }
    w.key("disk");
    w.begin_array();
    match (overflow, syspath) {
        // More disks than fit to reverse: all of them, in the order found.
        (true, Some(syspath)) => each_disk(syspath, 0, &mut |disk| disk.write(w)),
        // qemu-ga prepends each disk it finds: the last found comes first.
        _ => disks.iter().rev().for_each(|disk| disk.write(w)),
    }
    w.end_array();
    w.end_object();
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

/// Calls `found` with the disk address of each real device under a block device's
/// (resolved) sysfs path: virtual devices (dm, md, loop) are followed through their
/// `slaves`.
fn each_disk(syspath: &[u8], depth: usize, found: &mut dyn FnMut(Disk)) {
    if !contains(syspath, b"/devices/virtual/block/") {
        if let Some(disk) = Disk::of(syspath) {
            found(disk);
        }
        return;
    }
    if depth >= MAX_STACK {
        return;
    }
    let mut slaves = [0u8; PATH_MAX];
    let Some(dir) = fs::join(&mut slaves, &[syspath, b"/slaves"]) else {
        return;
    };
    let Ok(listing) = fs::Dir::open(dir) else {
        return;
    };
    let mut entries = [0u8; 2048];
    let _ = listing.for_each(&mut entries, |slave, _| {
        let mut link = [0u8; PATH_MAX];
        let mut real = [0u8; PATH_MAX];
        if let Some(link) = fs::join(&mut link, &[dir, b"/", slave])
            && let Ok(path) = fs::resolve_link(link, &mut real)
        {
            each_disk(path, depth + 1, found);
        }
    });
}

/// qemu-ga's `GuestDiskBusType` values used on Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    Ide,
    Scsi,
    Virtio,
    Sata,
    Nvme,
    Usb,
    Unknown,
}

impl Bus {
    fn name(self) -> &'static str {
        match self {
            Bus::Ide => "ide",
            Bus::Scsi => "scsi",
            Bus::Virtio => "virtio",
            Bus::Sata => "sata",
            Bus::Nvme => "nvme",
            Bus::Usb => "usb",
            Bus::Unknown => "unknown",
        }
    }
}

/// A `GuestDiskAddress`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// domain, bus, slot, function; all -1 when not on PCI.
    pub pci: [i64; 4],
    pub bus_type: Bus,
    pub bus: i64,
    pub target: i64,
    pub unit: i64,
    pub serial: heapless::String<64>,
    pub dev: heapless::String<64>,
    /// cssid, ssid, subchno, devno (s390x channel I/O).
    pub ccw: Option<[i64; 4]>,
}

impl Disk {
    /// Nothing known yet: qemu-ga's defaults (no PCI address, bus type unknown).
    pub const fn unknown() -> Disk {
        Disk {
            pci: [-1; 4],
            bus_type: Bus::Unknown,
            bus: 0,
            target: 0,
            unit: 0,
            serial: heapless::String::new(),
            dev: heapless::String::new(),
            ccw: None,
        }
    }

    /// The address of the real block device at `syspath`; `None` when neither the bus nor
    /// a device node can be found (as qemu-ga drops such entries).
    pub fn of(syspath: &[u8]) -> Option<Disk> {
        let mut disk = Disk::unknown();
        device_node(syspath, &mut disk.dev);
        disk_serial(syspath, &mut disk.serial);
        let found = if contains(syspath, b"/devices/pci") {
            pci_address(syspath, &mut disk, &|dir| driver_of(dir))
        } else if contains(syspath, b"/devices/css") {
            ccw_address(syspath, &mut disk)
        } else if contains(syspath, b"/virtio") {
            virtio_address(syspath, &mut disk);
            true
        } else {
            false
        };
        (found || !disk.dev.is_empty() || !disk.serial.is_empty()).then_some(disk)
    }

    pub fn write(&self, w: &mut JsonWriter<'_>) {
        w.begin_object();
        w.key("pci-controller");
        w.begin_object();
        for (key, value) in ["domain", "bus", "slot", "function"].iter().zip(self.pci) {
            w.key(key);
            w.int(value);
        }
        w.end_object();
        w.key("bus-type");
        w.str(self.bus_type.name());
        w.key("bus");
        w.int(self.bus);
        w.key("target");
        w.int(self.target);
        w.key("unit");
        w.int(self.unit);
        if !self.serial.is_empty() {
            w.key("serial");
            w.str(&self.serial);
        }
        if !self.dev.is_empty() {
            w.key("dev");
            w.str(&self.dev);
        }
        if let Some(ccw) = self.ccw {
            w.key("ccw-address");
            w.begin_object();
            for (key, value) in ["cssid", "ssid", "subchno", "devno"].iter().zip(ccw) {
                w.key(key);
                w.int(value);
            }
            w.end_object();
        }
        w.end_object();
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `/dev/<DEVNAME>` from the device's uevent file (what udev names the node).
pub fn device_node(syspath: &[u8], out: &mut heapless::String<64>) {
    let mut path = [0u8; PATH_MAX];
    let mut text = [0u8; 1024];
    let Some(path) = fs::join(&mut path, &[syspath, b"/uevent"]) else {
        return;
    };
    let Ok(text) = fs::read_file(path, &mut text) else {
        return;
    };
    let name = text
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"DEVNAME="));
    if let Some(name) = name.and_then(|n| core::str::from_utf8(n).ok()) {
        let _ = out.push_str("/dev/");
        let _ = out.push_str(name);
    }
}

/// The disk's serial number where the kernel exposes it (virtio-blk: `<disk>/serial`,
/// which is what udev's ID_SERIAL holds for it). For a partition, its disk's.
fn disk_serial(syspath: &[u8], out: &mut heapless::String<64>) {
    let mut path = [0u8; PATH_MAX];
    let mut text = [0u8; 128];
    for dir in [syspath, parent(syspath)] {
        let Some(file) = fs::join(&mut path, &[dir, b"/serial"]) else {
            continue;
        };
        let serial = fs::read_file(file, &mut text)
            .ok()
            .and_then(|s| core::str::from_utf8(s.trim_ascii()).ok());
        if let Some(serial) = serial.filter(|s| !s.is_empty()) {
            let _ = out.push_str(serial);
            return;
        }
    }
}

fn parent(path: &[u8]) -> &[u8] {
    &path[..path.iter().rposition(|&b| b == b'/').unwrap_or(0)]
}

/// The basename of `<dir>/driver`'s target.
fn driver_of(dir: &[u8]) -> Option<heapless::String<32>> {
    let mut path = [0u8; PATH_MAX];
    let mut target = [0u8; PATH_MAX];
    let link = fs::join(&mut path, &[dir, b"/driver"])?;
    let target = fs::readlink(link, &mut target).ok()?;
    let mut name = heapless::String::new();
    name.push_str(core::str::from_utf8(basename(target)).ok()?)
        .ok()?;
    Some(name)
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

/// `.../target<h>:<c>:<t>/<h>:<c>:<t>:<l>/...` → (channel, target, lun).
fn scsi_target(syspath: &[u8]) -> Option<[i64; 3]> {
    let rest = &syspath[find(syspath, b"/target")? + 7..];
    let (_, skip) = numbers::<3>(rest, b"::", 10)?;
    let rest = rest.get(skip..)?.strip_prefix(b"/")?;
    let ([_, c, t, l], _) = numbers::<4>(rest, b":::", 10)?;
    Some([c, t, l])
}

/// The PCI walk of qemu-ga's `build_guest_fsinfo_for_pci_dev`: follow PCI addresses in the
/// path until a device whose driver is a known storage controller.
pub fn pci_address(
    syspath: &[u8],
    disk: &mut Disk,
    driver_of: &dyn Fn(&[u8]) -> Option<heapless::String<32>>,
) -> bool {
    let Some(at) = find(syspath, b"/devices/pci") else {
        return false;
    };
    // "/devices/pci0000:00/0000:00:04.0/..."
    let rest = &syspath[at + 12..];
    let Some((_, root)) = numbers::<2>(rest, b":", 16) else {
        return false;
    };
    let mut p = at + 12 + root;
    let Some((mut pci, len)) = syspath
        .get(p + 1..)
        .and_then(|r| numbers::<4>(r, b"::.", 16))
        .filter(|_| syspath.get(p) == Some(&b'/'))
    else {
        return false;
    };
    p += 1 + len;
    let driver = loop {
        const CONTROLLERS: [&str; 7] = [
            "ata_piix",
            "sym53c8xx",
            "virtio-pci",
            "ahci",
            "nvme",
            "xhci_hcd",
            "ehci-pci",
        ];
        if let Some(driver) = driver_of(&syspath[..p]).filter(|d| CONTROLLERS.contains(&d.as_str()))
        {
            break driver;
        }
        match syspath
            .get(p + 1..)
            .and_then(|r| numbers::<4>(r, b"::.", 16))
            .filter(|_| syspath.get(p) == Some(&b'/'))
        {
            Some((next, len)) => {
                pci = next;
                p += 1 + len;
            }
            None => return false,
        }
    };
    let target = scsi_target(syspath);
    let (host_at, ata) = match find(syspath, b"/ata") {
        Some(i) => (Some(i), true),
        None => (find(syspath, b"/host"), false),
    };
    let host = host_at
        .and_then(|i| numbers::<1>(&syspath[i + if ata { 4 } else { 5 }..], b"", 10))
        .map(|(n, _)| n[0]);
    disk.pci = pci;
    // Which of the controller's hosts (sorted by number) this disk hangs off.
    let host_index = |i: usize| -> Option<i64> {
        let host = host?;
        let dir = &syspath[..i];
        let listing = fs::Dir::open(dir).ok()?;
        let prefix: &[u8] = if ata { b"ata" } else { b"host" };
        let mut below = 0;
        let mut found = false;
        let mut entries = [0u8; 2048];
        let _ = listing.for_each(&mut entries, |name, _| {
            // As sscanf("host%d"): the number may be followed by anything.
            if let Some((n, _)) = name
                .strip_prefix(prefix)
                .and_then(|r| numbers::<1>(r, b"", 10))
            {
                found |= n[0] == host;
                below += (n[0] < host) as i64;
            }
        });
        found.then_some(below)
    };
    match driver.as_str() {
        "ata_piix" => match (host_at.and_then(host_index), target) {
            (Some(index), Some([_, unit, _])) => {
                disk.bus_type = Bus::Ide;
                disk.bus = index;
                disk.unit = unit;
                true
            }
            _ => false,
        },
        "sym53c8xx" => match target {
            Some([_, unit, _]) => {
                disk.bus_type = Bus::Scsi;
                disk.unit = unit;
                true
            }
            None => false,
        },
        "virtio-pci" => {
            match target {
                Some([_, _, lun]) => {
                    disk.bus_type = Bus::Scsi;
                    disk.unit = lun;
                }
                None => disk.bus_type = Bus::Virtio,
            }
            true
        }
        "ahci" => match (host_at.and_then(host_index), target) {
            (Some(index), Some(_)) => {
                disk.bus_type = Bus::Sata;
                disk.unit = index;
                true
            }
            _ => false,
        },
        "nvme" => {
            disk.bus_type = Bus::Nvme;
            true
        }
        _ => {
            disk.bus_type = Bus::Usb;
            true
        }
    }
}

/// s390x: `/devices/css0/0.0.0001/0.0.0000/virtio0/...` → ccw-address, then the virtio bus.
pub fn ccw_address(syspath: &[u8], disk: &mut Disk) -> bool {
    let Some(at) = find(syspath, b"/devices/css") else {
        return false;
    };
    let rest = &syspath[at + 12..];
    let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let Some(rest) = rest.get(digits..).and_then(|r| r.strip_prefix(b"/")) else {
        return false;
    };
    let Some(([cssid, ssid, subchno], used)) = numbers::<3>(rest, b"..", 16) else {
        return false;
    };
    let Some(rest) = rest.get(used..).and_then(|r| r.strip_prefix(b"/")) else {
        return false;
    };
    let Some(([_, _, devno], used)) = numbers::<3>(rest, b"..", 16) else {
        return false;
    };
    if rest.get(used) != Some(&b'/') {
        return false;
    }
    disk.ccw = Some([cssid, ssid, subchno, devno]);
    if contains(&syspath[at..], b"/virtio") {
        virtio_address(syspath, disk);
    }
    true
}

/// virtio without PCI (virtio-mmio on arm and riscv `virt`, or under CCW): virtio-scsi has
/// a target, virtio-blk is one disk per device.
pub fn virtio_address(syspath: &[u8], disk: &mut Disk) {
    match scsi_target(syspath) {
        Some([bus, target, unit]) => {
            disk.bus_type = Bus::Scsi;
            disk.bus = bus;
            disk.target = target;
            disk.unit = unit;
        }
        None => disk.bus_type = Bus::Virtio,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> Disk {
        Disk::unknown()
    }

    fn drivers(
        map: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&[u8]) -> Option<heapless::String<32>> {
        move |dir: &[u8]| {
            let dir = core::str::from_utf8(dir).ok()?;
            map.iter()
                .find(|(d, _)| *d == dir)
                .map(|(_, name)| heapless::String::try_from(*name).unwrap())
        }
    }

    #[test]
    fn virtio_blk_on_pci() {
        let mut disk = blank();
        let path = b"/sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1";
        let found = pci_address(
            path,
            &mut disk,
            &drivers(&[("/sys/devices/pci0000:00/0000:00:04.0", "virtio-pci")]),
        );
        assert!(found);
        assert_eq!(
            (disk.pci, disk.bus_type, disk.bus, disk.target, disk.unit),
            ([0, 0, 4, 0], Bus::Virtio, 0, 0, 0)
        );
    }

    #[test]
    fn virtio_scsi_behind_a_bridge() {
        let mut disk = blank();
        let path = b"/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio2/host0/target0:0:1/0:0:1:3/block/sdb/sdb2";
        let map = &[
            ("/sys/devices/pci0000:00/0000:00:1c.0", "pcieport"),
            (
                "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
                "virtio-pci",
            ),
        ];
        assert!(pci_address(path, &mut disk, &drivers(map)));
        assert_eq!(
            (disk.pci, disk.bus_type, disk.unit),
            ([0, 1, 0, 0], Bus::Scsi, 3)
        );
    }

    #[test]
    fn nvme_and_unknown_drivers() {
        let mut disk = blank();
        let path = b"/sys/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1/nvme0n1p1";
        assert!(pci_address(
            path,
            &mut disk,
            &drivers(&[("/sys/devices/pci0000:00/0000:00:05.0", "nvme")])
        ));
        assert_eq!((disk.pci, disk.bus_type), ([0, 0, 5, 0], Bus::Nvme));
        let mut disk = blank();
        assert!(!pci_address(path, &mut disk, &drivers(&[])));
        assert!(!pci_address(
            b"/sys/devices/pci0000:00/garbage",
            &mut blank(),
            &drivers(&[])
        ));
        assert!(!pci_address(
            b"/sys/devices/pci",
            &mut blank(),
            &drivers(&[])
        ));
    }

    #[test]
    fn s390x_ccw_and_virtio_mmio() {
        let mut disk = blank();
        assert!(ccw_address(
            b"/sys/devices/css0/0.0.0002/0.0.0001/virtio1/block/vda/vda1",
            &mut disk
        ));
        assert_eq!((disk.ccw, disk.bus_type), (Some([0, 0, 2, 1]), Bus::Virtio));
        let mut disk = blank();
        virtio_address(
            b"/sys/devices/platform/a003e00.virtio_mmio/virtio1/block/vda",
            &mut disk,
        );
        assert_eq!(disk.bus_type, Bus::Virtio);
        let mut disk = blank();
        virtio_address(b"/sys/devices/platform/a003c00.virtio_mmio/virtio0/host0/target0:0:2/0:0:2:5/block/sda", &mut disk);
        assert_eq!(
            (disk.bus_type, disk.bus, disk.target, disk.unit),
            (Bus::Scsi, 0, 2, 5)
        );
        assert!(!ccw_address(b"/sys/devices/css0/zz", &mut blank()));
    }

    #[test]
    fn reverse_order_and_first_mount_wins() {
        use crate::protocol::writer::tests::Collect;
        let mut text = std::fs::read("tests/fixtures/proc/mountinfo").unwrap();
        let mut out = Collect::default();
        write_filesystems(&mut JsonWriter::new(&mut out), &mut text);
        let out = String::from_utf8(out.0).unwrap();
        let order: Vec<&str> = out
            .match_indices("\"mountpoint\": \"")
            .map(|(i, m)| {
                let rest = &out[i + m.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        // /home is a second mount of 254:1 (dropped); sysfs and devtmpfs have no block device.
        assert_eq!(
            order,
            [
                "/mnt/with space\\tand\\\\slash",
                "/mnt/two fields",
                "/mnt/scratch",
                "/"
            ]
        );
    }
}
