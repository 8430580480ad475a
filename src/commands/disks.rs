//! `guest-get-disks`: every block device and its partitions, from /sys/block.

use super::Call;
use super::disk_address::{Bus, DiskAddress, device_node_at};
use super::scratch::{Records, put_text, text_of};
use crate::capacity::LISTING_BYTES;
use crate::formats::nvme_smart::{self, Smart};
use crate::formats::sysfs::contains;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::fs::join;
use crate::sys::{BorrowedFd, Errno, PATH_MAX, fs, nvme};

/// Block devices listed (more are refused with an error).
pub const MAX_DISKS: usize = 1024;
/// Partitions of all disks together (more are refused with an error).
pub const MAX_PARTITIONS: usize = 4096;
/// Dependencies (`slaves`) reversed per disk; more are given in the order found.
const MAX_DEPENDENCIES: usize = 64;

/// A block device's name: a length byte and up to 32 bytes (the kernel's DISK_NAME_LEN).
const NAME: usize = 33;
/// A disk: its name, where its partitions are in the partition table (first, count), and
/// which directory it was found in ([`Home`]).
const DISK: usize = NAME + 9;
/// A device node (`/dev/...`) as a record.
const NODE: usize = 65;

/// The scratch `guest-get-disks` takes.
pub const SCRATCH: usize =
    LISTING_BYTES + MAX_DISKS * DISK + MAX_PARTITIONS * NAME + MAX_DEPENDENCIES * NODE;

static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= SCRATCH);

/// `guest-get-disks` → `[{name, partition, dependencies?, address?, alias?, smart?}]`.
/// Disks of zero size (or whose size cannot be read) are skipped. As in qemu-ga, which
/// prepends each entry it finds, the list is in reverse discovery order: the last disk's
/// partitions (last first), that disk, and so on. The answer is written in reverse, so the
/// disks and their partitions are listed whole first (each directory read once): more than
/// fit is refused, never cut.
pub fn guest_get_disks(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let listing = call.scratch.take(LISTING_BYTES)?;
    let dependencies = call.scratch.take(MAX_DEPENDENCIES * NODE)?;
    let mut disks = Records::<DISK>::new(call.scratch.take(MAX_DISKS * DISK)?);
    let mut partitions = Records::<NAME>::new(call.scratch.take(MAX_PARTITIONS * NAME)?);
    let dir = fs::Dir::open(b"/sys/block")
        .map_err(|e| qmp_error!("Can't open directory \"/sys/block\": {e}"))?;
    let virtual_block = fs::Dir::open(VIRTUAL_BLOCK).ok();
    let homes = Homes {
        block: dir.as_fd(),
        virtual_block: virtual_block.as_ref().map(fs::Dir::as_fd),
    };
    let mut overflow = false;
    dir.for_each(listing, |name, kind| {
        // /sys/block entries are links (DT_LNK) to the devices. Disks of zero size (unused
        // loop and zram devices) are left out before anything else is read of them.
        if kind != fs::DT_LNK || !is_name(name) {
            return;
        }
        let Some(home) = homes.of_sized(name) else {
            return;
        };
        match disks.push() {
            Some(record) => {
                put_text(&mut record[..NAME], name);
                record[DISK - 1] = home as u8;
            }
            None => overflow = true,
        }
    })
    .map_err(|e| qmp_error!("Can't read directory \"/sys/block\": {e}"))?;
    if overflow {
        return Err(qmp_error!("more than {MAX_DISKS} block devices"));
    }
    for i in 0..disks.len() {
        let Some(disk) = disks.get_mut(i) else {
            break;
        };
        let first = partitions.len();
        let home = homes.fd(Home::of(disk[DISK - 1]));
        list_partitions(home, text_of(&disk[..NAME]), listing, &mut partitions)
            .map_err(|()| qmp_error!("more than {MAX_PARTITIONS} partitions"))?;
        disk[NAME..NAME + 4].copy_from_slice(&(first as u32).to_ne_bytes());
        disk[NAME + 4..NAME + 8]
            .copy_from_slice(&((partitions.len() - first) as u32).to_ne_bytes());
    }
    call.reply.write(|w| {
        w.begin_array();
        for disk in disks.iter().rev() {
            let word =
                |at: usize| u32::from_ne_bytes(disk[at..at + 4].try_into().unwrap_or([0; 4]));
            let (first, count) = (word(NAME) as usize, word(NAME + 4) as usize);
            let own = (first..first + count)
                .filter_map(|i| partitions.get(i))
                .map(|record| text_of(record));
            write_disk_and_partitions(
                w,
                &homes,
                Home::of(disk[DISK - 1]),
                text_of(&disk[..NAME]),
                own,
                listing,
                dependencies,
            );
        }
        w.end_array();
        Ok(())
    })
}

/// Where virtual block devices (loop, zram, device-mapper, md) have their directories.
const VIRTUAL_BLOCK: &[u8] = b"/sys/devices/virtual/block";

/// The directories a disk's own is opened from.
///
/// Sysfs files are opened from directory descriptors (these, then the disk's directory):
/// what the kernel walks is then a name or two rather than the whole path, and path walks
/// were most of the command's time. `/sys/block/<name>` is a link to the device's
/// directory; for a virtual device that is `/sys/devices/virtual/block/<name>` (block
/// device names are unique), which spares the kernel the link and the walk it leads to.
struct Homes<'d> {
    block: BorrowedFd<'d>,
    virtual_block: Option<BorrowedFd<'d>>,
}

/// Which of [`Homes`] a disk's directory is opened from.
#[derive(Clone, Copy, PartialEq)]
enum Home {
    Block = 0,
    Virtual = 1,
}

impl Home {
    fn of(byte: u8) -> Home {
        if byte == Home::Virtual as u8 {
            Home::Virtual
        } else {
            Home::Block
        }
    }
}

impl Homes<'_> {
    fn fd(&self, home: Home) -> BorrowedFd<'_> {
        match (home, self.virtual_block) {
            (Home::Virtual, Some(fd)) => fd,
            _ => self.block,
        }
    }

    /// Where the disk `name` is, if its `size` can be read and is not zero (qemu-ga skips
    /// the rest).
    fn of_sized(&self, name: &[u8]) -> Option<Home> {
        let mut size = [0u8; 32];
        let mut path = [0u8; PATH_MAX];
        let path = join(&mut path, &[name, b"/size"])?;
        let in_virtual = match self
            .virtual_block
            .map(|v| fs::read_file_at(v, path, &mut size))
        {
            Some(Ok(text)) => Some(text.len()),
            Some(Err(Errno::NOENT)) | None => None,
            Some(Err(_)) => return None,
        };
        let (home, len) = match in_virtual {
            Some(len) => (Home::Virtual, len),
            None => (
                Home::Block,
                fs::read_file_at(self.block, path, &mut size).ok()?.len(),
            ),
        };
        (&size[..len] != b"0\n").then_some(home)
    }
}

/// A name as qemu-ga keeps it: UTF-8 that fits a record.
fn is_name(name: &[u8]) -> bool {
    name.len() < NAME && core::str::from_utf8(name).is_ok()
}

fn write_disk_and_partitions<'p>(
    w: &mut JsonWriter<'_>,
    homes: &Homes<'_>,
    home: Home,
    name: &[u8],
    partitions: impl DoubleEndedIterator<Item = &'p [u8]>,
    listing: &mut [u8],
    dependencies: &mut [u8],
) {
    // A disk whose directory cannot be opened has no readable `uevent` either.
    let Ok(disk) = fs::Dir::open_at(homes.fd(home), name) else {
        return;
    };
    let mut dev = heapless::String::<64>::new();
    device_node_at(disk.as_fd(), b"", &mut dev);
    if dev.is_empty() {
        return;
    }
    // Partitions first (the reverse of finding them after their disk).
    for partition in partitions.rev() {
        let mut node = heapless::String::<64>::new();
        device_node_at(disk.as_fd(), partition, &mut node);
        if node.is_empty() {
            continue;
        }
        w.begin_object();
        w.key("name");
        w.str(&node);
        w.key("partition");
        w.bool(true);
        w.key("dependencies");
        w.begin_array();
        w.str(&dev);
        w.end_array();
        w.end_object();
    }
    write_disk(w, name, home, disk.as_fd(), &dev, listing, dependencies);
}

/// Adds a disk's partitions, in sysfs order, to `partitions`; `Err` when they do not fit.
fn list_partitions(
    home: BorrowedFd<'_>,
    name: &[u8],
    listing: &mut [u8],
    partitions: &mut Records<'_, NAME>,
) -> Result<(), ()> {
    let mut overflow = false;
    // No partitions if the disk's directory cannot be opened: qemu-ga's get_disk_partitions
    // does not check its opendir.
    if let Ok(dir) = fs::Dir::open_at(home, name) {
        // Tolerated: qemu-ga's loop ends at readdir's NULL and never looks at errno.
        let _ = dir.for_each(listing, |entry, kind| {
            if kind == fs::DT_DIR && is_partition_of(name, entry) && is_name(entry) {
                match partitions.push() {
                    Some(record) => put_text(record, entry),
                    None => overflow = true,
                }
            }
        });
    }
    if overflow { Err(()) } else { Ok(()) }
}

/// `<disk>N` or `<disk>pN` (vda1, nvme0n1p1, mmcblk0p2), as qemu-ga tells partitions.
pub fn is_partition_of(disk: &[u8], entry: &[u8]) -> bool {
    let Some(rest) = entry.strip_prefix(disk) else {
        return false;
    };
    match rest {
        [b'p', d, ..] if d.is_ascii_digit() => true,
        [d, ..] => d.is_ascii_digit(),
        [] => false,
    }
}

fn write_disk(
    w: &mut JsonWriter<'_>,
    name: &[u8],
    home: Home,
    disk: BorrowedFd<'_>,
    dev: &str,
    listing: &mut [u8],
    dependencies: &mut [u8],
) {
    let mut real = [0u8; PATH_MAX];
    let mut link = [0u8; PATH_MAX];
    let syspath = match home {
        Home::Virtual => join(&mut real, &[VIRTUAL_BLOCK, b"/", name]),
        Home::Block => join(&mut link, &[b"/sys/block/", name])
            .and_then(|link| fs::resolve_link(link, &mut real).ok()),
    };
    let is_virtual = syspath.is_none_or(|p| contains(p, b"/devices/virtual/"));
    w.begin_object();
    w.key("name");
    w.str(dev);
    w.key("partition");
    w.bool(false);
    // What the disk is built on (device-mapper and md members), last found first; present,
    // possibly empty, whenever the kernel has a `slaves` directory for the disk (qemu-ga's
    // get_disk_deps leaves `dependencies` out, with no error, when g_dir_open fails).
    if let Ok(slaves) = fs::Dir::open_at(disk, b"slaves") {
        let mut each_dependency = |f: &mut dyn FnMut(&str)| {
            // Tolerated: qemu-ga reads `slaves` with g_dir_read_name, which reports no errors.
            let _ = slaves.for_each(listing, |slave, _| {
                let mut node = heapless::String::<64>::new();
                device_node_at(slaves.as_fd(), slave, &mut node);
                if !node.is_empty() {
                    f(&node);
                }
            });
        };
        let mut deps = Records::<NODE>::new(&mut *dependencies);
        let mut overflow = false;
        each_dependency(&mut |dep| match deps.push() {
            Some(record) if dep.len() < NODE => put_text(record, dep.as_bytes()),
            _ => overflow = true,
        });
        w.key("dependencies");
        w.begin_array();
        if overflow {
            // More than fit to reverse: all of them, in the order found.
            each_dependency(&mut |dep| w.str(dep));
        } else {
            deps.iter()
                .rev()
                .for_each(|dep| w.bytes_as_str(text_of(dep)));
        }
        w.end_array();
    }
    // An error finding the address is dropped, as qemu-ga's qmp_guest_get_disks drops it
    // ("failed to get device info, ignoring error").
    let address = syspath
        .filter(|_| !is_virtual)
        .and_then(|syspath| DiskAddress::of_ignoring_errors(syspath, disk, dev));
    if let Some(address) = &address {
        w.key("address");
        address.write(w);
    }
    // device-mapper's name for the device (udev's DM_NAME). Only device-mapper disks have
    // a `dm` directory, and the kernel names every one of them `dm-<minor>`.
    let mut alias = [0u8; 128];
    if let Some(alias) = name
        .starts_with(b"dm-")
        .then(|| fs::read_file_at(disk, b"dm/name", &mut alias).ok())
        .flatten()
        .map(|a| a.trim_ascii())
        .filter(|a| !a.is_empty())
    {
        w.key("alias");
        w.bytes_as_str(alias);
    }
    // NVMe health, when the controller answers the SMART log request.
    let nvme = address.is_some_and(|a| a.bus_type == Bus::Nvme);
    if let Some(log) = nvme
        .then(|| nvme::read_smart_log(dev.as_bytes()).ok())
        .flatten()
    {
        write_smart(w, &nvme_smart::parse_smart(&log));
    }
    w.end_object();
}

const SMART_COUNTERS: [&str; 10] = [
    "data-units-read",
    "data-units-written",
    "host-read-commands",
    "host-write-commands",
    "controller-busy-time",
    "power-cycles",
    "power-on-hours",
    "unsafe-shutdowns",
    "media-errors",
    "number-of-error-log-entries",
];

/// `smart: {type: "nvme", critical-warning, temperature, ..., <counter>-lo, <counter>-hi}`
pub fn write_smart(w: &mut JsonWriter<'_>, smart: &Smart) {
    w.key("smart");
    w.begin_object();
    w.key("type");
    w.str("nvme");
    for (key, value) in [
        ("critical-warning", smart.critical_warning as i64),
        ("temperature", smart.temperature as i64),
        ("available-spare", smart.available_spare as i64),
        (
            "available-spare-threshold",
            smart.available_spare_threshold as i64,
        ),
        ("percentage-used", smart.percentage_used as i64),
    ] {
        w.key(key);
        w.int(value);
    }
    let mut key = crate::text::FmtBuf::<48>::new();
    for (name, (lo, hi)) in SMART_COUNTERS.iter().zip(smart.counters) {
        for (half, value) in [("lo", lo), ("hi", hi)] {
            key.clear();
            let _ = core::fmt::Write::write_fmt(&mut key, format_args!("{name}-{half}"));
            w.key(core::str::from_utf8(key.as_bytes()).unwrap_or(""));
            w.uint(value);
        }
    }
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names() {
        assert!(is_partition_of(b"vda", b"vda1"));
        assert!(is_partition_of(b"nvme0n1", b"nvme0n1p2"));
        assert!(is_partition_of(b"mmcblk0", b"mmcblk0p1"));
        assert!(!is_partition_of(b"vda", b"vda"));
        assert!(!is_partition_of(b"vda", b"queue"));
        assert!(!is_partition_of(b"sda", b"sdab"));
        assert!(!is_partition_of(b"nvme0n1", b"nvme0n1pp"));
    }
}
