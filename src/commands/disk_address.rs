//! Disk addresses (QGA's `GuestDiskAddress`): where a block device sits on the machine's
//! buses, found from its sysfs path the way qemu-ga's `build_guest_fsinfo_for_device` finds
//! it. `guest-get-fsinfo` lists the address of every disk under a file system
//! ([`each_disk_under`]); `guest-get-disks` gives each disk's own
//! ([`DiskAddress::of_ignoring_errors`]).
//!
//! | the device's sysfs path | the address |
//! |---|---|
//! | `/devices/pci…/<dddd:bb:ss.f>/…` | the PCI function of the first storage controller on the way down (IDE, SCSI, virtio, SATA, NVMe, USB), and bus and unit from the SCSI target or the ATA/SCSI host under it |
//! | `/devices/css…/<cssid.ssid.subchno>/<…devno>/…` | s390x channel I/O (`ccw-address`), then virtio |
//! | `…/virtio<n>/…` anywhere else | virtio without PCI (virtio-mmio on arm and riscv `virt`) |
//! | `/devices/virtual/block/…` (device-mapper, md, loop) | the disks under its `slaves`, followed down |
//!
//! The first half of this file is the walk: it reads sysfs (links, `uevent`, `driver`,
//! directory listings, and `serial` through [`DiskSerials`]). The second half decodes
//! what it reads: pure functions that take bytes and make no system call, unit-tested
//! below.
//!
//! Errors are qemu-ga's: where its walk fails (a link that cannot be resolved for a reason
//! other than not existing, a `slaves` directory or a controller's directory that cannot
//! be listed), the walk returns the error, with qemu-ga's text (`opendir("…"): …`,
//! `readdir("…"): …`, `realpath("…"): …`); `guest-get-fsinfo` fails with it and
//! `guest-get-disks` ignores it, as qemu-ga's do. What qemu-ga does not check, the walk
//! tolerates too, and says so where it does.

use super::disk_serials::DiskSerials;
use super::scratch::Scratch;
use crate::formats::sysfs::{
    self, HostIndex, basename, contains, host_of, is_controller, is_virtual, pci_functions,
    scsi_target, uevent_devname,
};
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::{AsFd, BorrowedFd, Errno, OwnedFd, PATH_MAX, fs, uapi};
use crate::text::Lossy;

/// How deep device-mapper/md stacks are followed.
const MAX_STACK: usize = 8;
/// Room for the directory entries one `getdents64` call returns.
const LISTING_BYTES: usize = 2048;

/// A PCI driver's name (the basename of a device's `driver` link).
pub type Driver = heapless::String<32>;

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
pub struct DiskAddress {
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

// ---------------------------------------------------------------------------------------
// The walk: reads sysfs.
// ---------------------------------------------------------------------------------------

/// The path a sysfs link (`/sys/dev/block/<major>:<minor>`, `/sys/block/<name>`, a
/// `slaves` entry) leads to, as `realpath(3)` gives it; `None` when it leads nowhere (the
/// device is gone, or sysfs shows another container's devices), which qemu-ga's
/// `build_guest_fsinfo_for_device` takes quietly (`ENOENT: This devpath may not exist
/// because of container config`). Any other failure is its `realpath("…")` error.
pub fn real_path<'o>(
    path: &[u8],
    out: &'o mut [u8; PATH_MAX],
) -> Result<Option<Device<'o>>, QmpError> {
    let resolved = match fs::resolve_link(path, out) {
        Ok(resolved) => resolved,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(failed("realpath", path, e)),
    };
    match fs::open(resolved, uapi::O_PATH, 0) {
        Ok(dir) => Ok(Some(Device {
            path: resolved,
            dir,
        })),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(failed("realpath", path, e)),
    }
}

/// A block device's directory in sysfs, found by [`real_path`]: its resolved path (which
/// the address is read from) and the directory itself, held open (`O_PATH`) so that the
/// files in it are opened without the kernel walking the whole path again.
pub struct Device<'p> {
    pub path: &'p [u8],
    dir: OwnedFd,
}

/// Calls `found` with the address of each real disk under the block device at `syspath`
/// (resolved): the device itself, or for a virtual one (device-mapper, md, loop) the disks
/// under its `slaves`, depth first. Fails where qemu-ga's `build_guest_fsinfo_for_device`
/// fails, with its error.
pub fn each_disk_under(
    device: &Device<'_>,
    scratch: &mut Scratch<'_>,
    serials: &mut DiskSerials,
    found: &mut dyn FnMut(DiskAddress),
) -> Result<(), QmpError> {
    each_disk(device, 0, scratch, serials, found)
}

/// Scratch one level of the walk takes: the `slaves` path, its listing, and a slave's
/// link and resolved path.
pub const LEVEL_SCRATCH: usize = 3 * PATH_MAX + LISTING_BYTES;
/// Scratch the whole walk takes at most.
pub const WALK_SCRATCH: usize = MAX_STACK * LEVEL_SCRATCH;

fn each_disk(
    device: &Device<'_>,
    depth: usize,
    scratch: &mut Scratch<'_>,
    serials: &mut DiskSerials,
    found: &mut dyn FnMut(DiskAddress),
) -> Result<(), QmpError> {
    if !is_virtual(device.path) {
        if let Some(disk) = DiskAddress::of(device, serials)? {
            found(disk);
        }
        return Ok(());
    }
    if depth >= MAX_STACK {
        return Ok(());
    }
    // This level's buffers, given back when its slaves are walked (so a stack of any
    // width takes at most MAX_STACK levels of them).
    scratch.nested(|level| {
        let slaves = level.take(PATH_MAX)?;
        let entries = level.take(LISTING_BYTES)?;
        let link = level.take(PATH_MAX)?;
        let real: &mut [u8; PATH_MAX] = level
            .take(PATH_MAX)?
            .try_into()
            .map_err(|_| qmp_error!("scratch piece of the wrong size"))?;
        let Some(dir) = fs::join(slaves, &[device.path, b"/slaves"]) else {
            return Ok(());
        };
        let listing = match fs::Dir::open_at(device.dir.as_fd(), b"slaves") {
            Ok(listing) => listing,
            // No `slaves`: nothing under it. qemu-ga's build_guest_fsinfo_for_virtual_device
            // passes over ENOENT only (`if (errno != ENOENT) error_setg_errno(...)`).
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(failed("opendir", dir, e)),
        };
        // As qemu-ga: the first slave that fails ends the walk with its error
        // (`error_propagate(errp, err); break;`).
        let mut slave_error = None;
        let listed = listing.for_each(entries, |slave, kind| {
            // qemu-ga follows the links only (`entry->d_type == DT_LNK`).
            if slave_error.is_some() || kind != fs::DT_LNK {
                return;
            }
            let Some(link) = fs::join(link, &[dir, b"/", slave]) else {
                return;
            };
            let walked = match real_path(link, real) {
                Ok(Some(slave)) => each_disk(&slave, depth + 1, level, serials, found),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            slave_error = walked.err();
        });
        if let Some(e) = slave_error {
            return Err(e);
        }
        // qemu-ga fails the command on a read error here: `if (errno) error_setg_errno(errp,
        // errno, "readdir(\"%s\")", dirpath)`.
        listed.map_err(|e| failed("readdir", dir, e))
    })
}

impl DiskAddress {
    /// Nothing known yet: qemu-ga's defaults (no PCI address, bus type unknown).
    pub const fn unknown() -> DiskAddress {
        DiskAddress {
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

    /// The address of the real block device at `syspath` (resolved), as qemu-ga's
    /// `build_guest_fsinfo_for_real_device` finds it; `None` when neither the bus nor a
    /// device node nor a serial can be found (as qemu-ga drops such entries). `Err` when
    /// the controller's directory cannot be listed ([`pci_address`]).
    pub fn of(
        device: &Device<'_>,
        serials: &mut DiskSerials,
    ) -> Result<Option<DiskAddress>, QmpError> {
        let mut disk = DiskAddress::unknown();
        device_node_at(device.dir.as_fd(), b"", &mut disk.dev);
        serials.of(device.dir.as_fd(), &mut disk.serial);
        let found = disk.locate(device.path)?;
        Ok(disk.kept(found))
    }

    /// [`DiskAddress::of`] for `guest-get-disks`, which drops the error as qemu-ga's does
    /// (`failed to get device info, ignoring error`) and keeps what was found before it:
    /// the device node (`dev`, which the caller has already read) and serial, without a
    /// bus. `dir` is the disk's directory (at `syspath`), open.
    pub fn of_ignoring_errors(
        syspath: &[u8],
        dir: BorrowedFd<'_>,
        dev: &str,
        serials: &mut DiskSerials,
    ) -> Option<DiskAddress> {
        let mut disk = DiskAddress::unknown();
        let _ = disk.dev.push_str(dev);
        serials.of(dir, &mut disk.serial);
        let found = disk.locate(syspath).unwrap_or(false);
        disk.kept(found)
    }

    /// Fills in the bus part; true if the bus was recognised. Changes nothing when it
    /// fails.
    fn locate(&mut self, syspath: &[u8]) -> Result<bool, QmpError> {
        Ok(if contains(syspath, b"/devices/pci") {
            pci_address(syspath, self, &Kernel)?
        } else if contains(syspath, b"/devices/css") {
            ccw_address(syspath, self)
        } else if contains(syspath, b"/virtio") {
            virtio_address(syspath, self);
            true
        } else {
            false
        })
    }

    /// Kept if anything is known of it.
    fn kept(self, found: bool) -> Option<DiskAddress> {
        (found || !self.dev.is_empty() || !self.serial.is_empty()).then_some(self)
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

/// `/dev/<DEVNAME>` from the `uevent` file of the device directory `dir`, or of its child
/// device `child` (a partition, a `slaves` entry) when that is not empty (what udev names
/// the node); left empty when there is none. Opened from `dir`, so that the kernel walks a
/// name or two instead of the whole sysfs path.
pub fn device_node_at(dir: BorrowedFd<'_>, child: &[u8], out: &mut heapless::String<64>) {
    let mut path = [0u8; PATH_MAX];
    let mut text = [0u8; UEVENT_BYTES];
    let parts: &[&[u8]] = if child.is_empty() {
        &[b"uevent"]
    } else {
        &[child, b"/uevent"]
    };
    if let Some(path) = fs::join(&mut path, parts)
        && let Ok(text) = fs::read_file_at(dir, path, &mut text)
        && let Some(name) = uevent_devname(text)
    {
        let _ = out.push_str("/dev/");
        let _ = out.push_str(name);
    }
}

/// Room for a device's `uevent` file.
const UEVENT_BYTES: usize = 1024;

/// What the PCI walk reads of sysfs besides the path: the kernel's ([`Kernel`]), or a
/// fake one in tests.
pub trait Sysfs {
    /// The basename of `<dir>/driver`'s target.
    fn driver(&self, dir: &[u8]) -> Option<Driver>;
    /// Shows `index` the names in the controller's directory `dir`; fails if the directory
    /// cannot be opened.
    fn list_hosts(&self, dir: &[u8], index: &mut HostIndex) -> Result<(), QmpError>;
}

/// The running kernel's sysfs.
pub struct Kernel;

impl Sysfs for Kernel {
    fn driver(&self, dir: &[u8]) -> Option<Driver> {
        let mut path = [0u8; PATH_MAX];
        let mut target = [0u8; PATH_MAX];
        let link = fs::join(&mut path, &[dir, b"/driver"])?;
        let target = fs::readlink(link, &mut target).ok()?;
        Driver::try_from(core::str::from_utf8(basename(target)).ok()?).ok()
    }

    fn list_hosts(&self, dir: &[u8], index: &mut HostIndex) -> Result<(), QmpError> {
        let listing = fs::Dir::open(dir).map_err(|e| failed("opendir", dir, e))?;
        let mut entries = [0u8; LISTING_BYTES];
        // Tolerated: qemu-ga's build_hosts ends its list at readdir's NULL, never looks at errno.
        let _ = listing.for_each(&mut entries, |name, _| index.see(name));
        Ok(())
    }
}

/// qemu-ga's `build_guest_fsinfo_for_pci_dev`: the PCI function of the first storage
/// controller on the way down the path, then the bus type, bus and unit its driver
/// implies. False when there is no known controller, or the controller's driver needs a
/// SCSI target or host the path does not have. `Err`, and `disk` unchanged, when the path
/// names a host and the controller's directory cannot be opened to number it (qemu-ga's
/// `build_hosts`: `opendir("…")`).
pub fn pci_address(
    syspath: &[u8],
    disk: &mut DiskAddress,
    sysfs: &dyn Sysfs,
) -> Result<bool, QmpError> {
    let controller = pci_functions(syspath).find_map(|(pci, len)| {
        sysfs
            .driver(&syspath[..len])
            .filter(|d| is_controller(d))
            .map(|d| (pci, d))
    });
    let Some((pci, driver)) = controller else {
        return Ok(false);
    };
    // qemu-ga numbers the hosts whenever the path names one, whatever the driver.
    let host_index = match host_of(syspath) {
        Some(host) => {
            let mut index = HostIndex::new(host);
            sysfs.list_hosts(&syspath[..host.dir_len], &mut index)?;
            index.index()
        }
        None => None,
    };
    disk.pci = pci;
    let Some((bus_type, bus, unit)) = controller_address(&driver, scsi_target(syspath), host_index)
    else {
        return Ok(false);
    };
    disk.bus_type = bus_type;
    disk.bus = bus;
    disk.unit = unit;
    Ok(true)
}

/// qemu-ga's text for a failed system call on a path: `opendir("/sys/…"): Permission denied`.
fn failed(call: &str, path: &[u8], e: Errno) -> QmpError {
    qmp_error!("{call}(\"{}\"): {e}", Lossy(path))
}

// ---------------------------------------------------------------------------------------
// Pure: what the walk reads, decoded. Bytes in, no system call.
// ---------------------------------------------------------------------------------------

/// What a storage controller's driver implies: bus type, bus and unit, from the disk's SCSI
/// target (channel, target, lun) and its host's index among the controller's. `None` when
/// the driver needs one the path lacks, or is not a controller.
pub fn controller_address(
    driver: &str,
    target: Option<[i64; 3]>,
    host_index: Option<i64>,
) -> Option<(Bus, i64, i64)> {
    match driver {
        // A host per IDE bus; target *:0:<unit>:0.
        "ata_piix" => match (host_index, target) {
            (Some(bus), Some([_, unit, _])) => Some((Bus::Ide, bus, unit)),
            _ => None,
        },
        // LSI Logic SCSI: target *:0:<unit>:0.
        "sym53c8xx" => target.map(|[_, unit, _]| (Bus::Scsi, 0, unit)),
        // virtio-scsi: target *:0:0:<unit>; virtio-blk: one disk per device.
        "virtio-pci" => Some(match target {
            Some([_, _, lun]) => (Bus::Scsi, 0, lun),
            None => (Bus::Virtio, 0, 0),
        }),
        // One host per unit.
        "ahci" => match (host_index, target) {
            (Some(unit), Some(_)) => Some((Bus::Sata, 0, unit)),
            _ => None,
        },
        "nvme" => Some((Bus::Nvme, 0, 0)),
        "xhci_hcd" | "ehci-pci" => Some((Bus::Usb, 0, 0)),
        _ => None,
    }
}

/// s390x: the CCW address of a path under `/devices/css`, then the virtio bus.
pub fn ccw_address(syspath: &[u8], disk: &mut DiskAddress) -> bool {
    let Some((ccw, at)) = sysfs::ccw_address(syspath) else {
        return false;
    };
    disk.ccw = Some(ccw);
    if contains(&syspath[at..], b"/virtio") {
        virtio_address(syspath, disk);
    }
    true
}

/// virtio without PCI (virtio-mmio on arm and riscv `virt`, or under CCW): virtio-scsi has
/// a target, virtio-blk is one disk per device.
pub fn virtio_address(syspath: &[u8], disk: &mut DiskAddress) {
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

    fn blank() -> DiskAddress {
        DiskAddress::unknown()
    }

    /// A sysfs with these drivers (directory, driver) and these directories' listings.
    #[derive(Default)]
    struct Fake {
        drivers: &'static [(&'static str, &'static str)],
        listings: &'static [(&'static str, &'static [&'static str])],
    }

    impl Sysfs for Fake {
        fn driver(&self, dir: &[u8]) -> Option<Driver> {
            let dir = core::str::from_utf8(dir).ok()?;
            self.drivers
                .iter()
                .find(|(d, _)| *d == dir)
                .map(|(_, name)| Driver::try_from(*name).unwrap())
        }

        fn list_hosts(&self, dir: &[u8], index: &mut HostIndex) -> Result<(), QmpError> {
            let (_, names) = self
                .listings
                .iter()
                .find(|(d, _)| d.as_bytes() == dir)
                .ok_or_else(|| failed("opendir", dir, Errno::NOENT))?;
            names.iter().for_each(|name| index.see(name.as_bytes()));
            Ok(())
        }
    }

    fn drivers(map: &'static [(&'static str, &'static str)]) -> Fake {
        Fake {
            drivers: map,
            ..Fake::default()
        }
    }

    #[test]
    fn what_each_controller_implies() {
        let t = Some([0, 1, 3]);
        assert_eq!(
            controller_address("ata_piix", t, Some(1)),
            Some((Bus::Ide, 1, 1))
        );
        assert_eq!(controller_address("ata_piix", t, None), None);
        assert_eq!(
            controller_address("sym53c8xx", t, None),
            Some((Bus::Scsi, 0, 1))
        );
        assert_eq!(controller_address("sym53c8xx", None, None), None);
        assert_eq!(
            controller_address("virtio-pci", t, None),
            Some((Bus::Scsi, 0, 3))
        );
        assert_eq!(
            controller_address("virtio-pci", None, None),
            Some((Bus::Virtio, 0, 0))
        );
        assert_eq!(
            controller_address("ahci", t, Some(4)),
            Some((Bus::Sata, 0, 4))
        );
        assert_eq!(controller_address("ahci", None, Some(4)), None);
        assert_eq!(
            controller_address("nvme", None, None),
            Some((Bus::Nvme, 0, 0))
        );
        assert_eq!(
            controller_address("xhci_hcd", None, None),
            Some((Bus::Usb, 0, 0))
        );
        assert_eq!(
            controller_address("ehci-pci", None, None),
            Some((Bus::Usb, 0, 0))
        );
        assert_eq!(controller_address("pcieport", t, Some(0)), None);
        assert!(sysfs::CONTROLLERS.iter().all(|d| is_controller(d)));
        assert!(!is_controller("pcieport"));
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
        assert_eq!(found, Ok(true));
        assert_eq!(
            (disk.pci, disk.bus_type, disk.bus, disk.target, disk.unit),
            ([0, 0, 4, 0], Bus::Virtio, 0, 0, 0)
        );
    }

    #[test]
    fn virtio_scsi_behind_a_bridge() {
        let mut disk = blank();
        let path = b"/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio2/host0/target0:0:1/0:0:1:3/block/sdb/sdb2";
        let sysfs = Fake {
            drivers: &[
                ("/sys/devices/pci0000:00/0000:00:1c.0", "pcieport"),
                (
                    "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0",
                    "virtio-pci",
                ),
            ],
            listings: &[(
                "/sys/devices/pci0000:00/0000:00:1c.0/0000:01:00.0/virtio2",
                &["host0", "driver", "features"],
            )],
        };
        assert_eq!(pci_address(path, &mut disk, &sysfs), Ok(true));
        assert_eq!(
            (disk.pci, disk.bus_type, disk.unit),
            ([0, 1, 0, 0], Bus::Scsi, 3)
        );
    }

    #[test]
    fn sata_and_ide_number_their_hosts() {
        let sysfs = Fake {
            drivers: &[("/sys/devices/pci0000:00/0000:00:1f.2", "ahci")],
            listings: &[(
                "/sys/devices/pci0000:00/0000:00:1f.2",
                &["ata1", "ata2", "ata3", "ata4", "ata5", "ata6", "driver"],
            )],
        };
        let path = b"/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda";
        let mut disk = blank();
        assert_eq!(pci_address(path, &mut disk, &sysfs), Ok(true));
        assert_eq!(
            (disk.pci, disk.bus_type, disk.bus, disk.unit),
            ([0, 0, 0x1f, 2], Bus::Sata, 0, 2)
        );
        let sysfs = Fake {
            drivers: &[("/sys/devices/pci0000:00/0000:00:01.1", "ata_piix")],
            listings: &[(
                "/sys/devices/pci0000:00/0000:00:01.1",
                &["host1", "host0", "driver"],
            )],
        };
        let path = b"/sys/devices/pci0000:00/0000:00:01.1/host1/target1:0:1/1:0:1:0/block/sdb";
        let mut disk = blank();
        assert_eq!(pci_address(path, &mut disk, &sysfs), Ok(true));
        assert_eq!(
            (disk.pci, disk.bus_type, disk.bus, disk.unit),
            ([0, 0, 1, 1], Bus::Ide, 1, 1)
        );
    }

    #[test]
    fn a_controller_that_cannot_be_listed_fails_and_changes_nothing() {
        let sysfs = drivers(&[("/sys/devices/pci0000:00/0000:00:1f.2", "ahci")]);
        let path = b"/sys/devices/pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block/sda";
        let mut disk = blank();
        let error = pci_address(path, &mut disk, &sysfs).unwrap_err();
        assert_eq!(
            error.desc,
            "opendir(\"/sys/devices/pci0000:00/0000:00:1f.2\"): No such file or directory"
        );
        assert_eq!(disk, blank());
    }

    #[test]
    fn nvme_and_unknown_drivers() {
        let mut disk = blank();
        let path = b"/sys/devices/pci0000:00/0000:00:05.0/nvme/nvme0/nvme0n1/nvme0n1p1";
        let sysfs = drivers(&[("/sys/devices/pci0000:00/0000:00:05.0", "nvme")]);
        assert_eq!(pci_address(path, &mut disk, &sysfs), Ok(true));
        assert_eq!((disk.pci, disk.bus_type), ([0, 0, 5, 0], Bus::Nvme));
        let mut disk = blank();
        assert_eq!(pci_address(path, &mut disk, &Fake::default()), Ok(false));
        for path in [&b"/sys/devices/pci0000:00/garbage"[..], b"/sys/devices/pci"] {
            assert_eq!(pci_address(path, &mut blank(), &Fake::default()), Ok(false));
        }
    }

    /// A made-up sysfs under the temp dir: dm-0 over a virtio-mmio disk and a slave that
    /// is gone, md0 without `slaves`, and two devices qemu-ga fails on.
    #[test]
    fn the_walk_fails_where_qemu_ga_fails() {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::symlink;
        let root = std::env::temp_dir().join(format!("tinyqga-sysfs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let block = root.join("devices/virtual/block");
        let vdb = root.join("devices/platform/a003e00.virtio_mmio/virtio1/block/vdb");
        std::fs::create_dir_all(&vdb).unwrap();
        std::fs::copy("tests/fixtures/sys/vda.serial", vdb.join("serial")).unwrap();
        std::fs::write(vdb.join("uevent"), "MAJOR=254\nMINOR=16\nDEVNAME=vdb\n").unwrap();
        for dir in ["dm-0/slaves", "md0", "broken", "looping/slaves"] {
            std::fs::create_dir_all(block.join(dir)).unwrap();
        }
        symlink(&vdb, block.join("dm-0/slaves/vdb")).unwrap();
        symlink(root.join("nowhere"), block.join("dm-0/slaves/gone")).unwrap();
        std::fs::write(block.join("broken/slaves"), "").unwrap();
        symlink("me", block.join("looping/slaves/me")).unwrap();
        let walk = |name: &str| {
            let mut found = Vec::new();
            let path = block.join(name);
            let mut real = [0u8; PATH_MAX];
            let device = real_path(path.as_os_str().as_bytes(), &mut real)?.unwrap();
            let mut room = vec![0u8; WALK_SCRATCH];
            let mut serials = DiskSerials::default();
            each_disk_under(
                &device,
                &mut Scratch::new(&mut room),
                &mut serials,
                &mut |d| found.push(d),
            )
            .map(|()| found)
        };
        let shown = |path: std::path::PathBuf| path.to_str().unwrap().to_string();

        let found = walk("dm-0").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(
            (
                found[0].bus_type,
                found[0].dev.as_str(),
                found[0].serial.as_str()
            ),
            (Bus::Virtio, "/dev/vdb", "qga-scratch")
        );
        assert_eq!(walk("md0"), Ok(vec![]));
        assert_eq!(
            walk("broken").unwrap_err().desc.as_str(),
            format!(
                "opendir(\"{}\"): Not a directory",
                shown(block.join("broken/slaves"))
            )
        );
        assert_eq!(
            walk("looping").unwrap_err().desc.as_str(),
            format!(
                "realpath(\"{}\"): Too many levels of symbolic links",
                shown(block.join("looping/slaves/me"))
            )
        );
        let mut out = [0u8; PATH_MAX];
        let gone = block.join("dm-0/slaves/gone");
        assert!(matches!(
            real_path(gone.as_os_str().as_bytes(), &mut out),
            Ok(None)
        ));
        std::fs::remove_dir_all(&root).unwrap();
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
}
