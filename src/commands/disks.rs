//! `guest-get-disks`: every block device and its partitions, from /sys/block.

use super::Call;
use super::disk_address::{Bus, DiskAddress, device_node_at};
use super::disk_serials::DiskSerials;
use super::scratch::{Records, TextIndex, put_text, text_of};
use crate::capacity::LISTING_BYTES;
use crate::formats::nvme_smart::{self, Smart};
use crate::formats::partitions;
use crate::formats::sysfs::contains;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::fs::join;
use crate::sys::{BorrowedFd, PATH_MAX, fs, nvme};

/// Block devices listed (more are refused with an error).
pub const MAX_DISKS: usize = 1024;
/// Partitions of one disk reversed (the kernel numbers at most 255); more are given in the
/// order found.
const MAX_PARTITIONS: usize = 256;
/// Dependencies (`slaves`) reversed per disk; more are given in the order found.
const MAX_DEPENDENCIES: usize = 64;
/// The most of `/proc/partitions` read (about 400 lines); a longer one is not used, and
/// every disk's `size` is read instead.
const PROC_PARTITIONS_BYTES: usize = 16 << 10;
/// Slots of the index of disks by name: twice [`MAX_DISKS`], 2 bytes each.
const INDEX_BYTES: usize = 2 * MAX_DISKS * 2;

/// A block device's name: a length byte and up to 32 bytes (the kernel's DISK_NAME_LEN).
const NAME: usize = 33;
/// A disk: its name, then what the first pass learned of it ([`VIRTUAL`], [`LISTED`],
/// [`SIZED`]).
const DISK: usize = NAME + 1;
/// A device node (`/dev/...`) as a record.
const NODE: usize = 65;

/// The disk's directory is under [`VIRTUAL_BLOCK`].
const VIRTUAL: u8 = 1;
/// `/proc/partitions` lists the disk.
const LISTED: u8 = 2;
/// The disk's size is not zero: it is reported.
const SIZED: u8 = 4;

/// The scratch `guest-get-disks` takes.
pub const SCRATCH: usize = LISTING_BYTES
    + MAX_DEPENDENCIES * NODE
    + MAX_PARTITIONS * NAME
    + INDEX_BYTES
    + PROC_PARTITIONS_BYTES
    + MAX_DISKS * DISK;

static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= SCRATCH);

/// `guest-get-disks` → `[{name, partition, dependencies?, address?, alias?, smart?}]`.
/// Disks of zero size (or whose size cannot be read) are skipped. As in qemu-ga, which
/// prepends each entry it finds, the list is in reverse discovery order: the last disk's
/// partitions (last first), that disk, and so on. The disks are listed whole first, so
/// that the answer can be written in reverse: more than fit are refused, never cut.
pub fn guest_get_disks(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let listing = call.scratch.take(LISTING_BYTES)?;
    let dependencies = call.scratch.take(MAX_DEPENDENCIES * NODE)?;
    let partitions = call.scratch.take(MAX_PARTITIONS * NAME)?;
    let index = call.scratch.take(INDEX_BYTES)?;
    let proc_partitions = call.scratch.take(PROC_PARTITIONS_BYTES)?;
    let dir = fs::Dir::open(b"/sys/block")
        .map_err(|e| qmp_error!("Can't open directory \"/sys/block\": {e}"))?;
    let virtual_block = fs::Dir::open(VIRTUAL_BLOCK).ok();
    let homes = Homes {
        block: &dir,
        virtual_block: virtual_block.as_ref(),
    };
    let kernel_lists_all = (call.state.kernel.get())
        .is_ok_and(|uts| partitions::lists_every_sized_disk(uts.release()));
    // Only the records filled are taken (and counted as touched).
    let disks = call.scratch.take_filled(|room| {
        let len = room.len().min(MAX_DISKS * DISK);
        let mut disks = Records::<DISK>::new(&mut room[..len]);
        let mut index = TextIndex::new(index);
        list_disks(&homes, &mut disks, &mut index, listing)?;
        mark_sizes(
            &homes,
            &mut disks,
            &index,
            listing,
            proc_partitions,
            kernel_lists_all,
        );
        Ok::<_, QmpError>(disks.bytes())
    })?;
    let disks = Records::<DISK>::filled(disks);
    let serials = &mut call.state.serials;
    call.reply.write(|w| {
        w.begin_array();
        for disk in disks.iter().rev().filter(|disk| disk[NAME] & SIZED != 0) {
            let home = Home::of(disk[NAME]);
            let rooms = Rooms {
                listing: &mut *listing,
                partitions: &mut *partitions,
                dependencies: &mut *dependencies,
            };
            let name = text_of(&disk[..NAME]);
            write_disk_and_partitions(w, &homes, home, name, rooms, serials);
        }
        w.end_array();
        Ok(())
    })
}

/// The entries of /sys/block, in the order listed, each indexed by name.
fn list_disks(
    homes: &Homes<'_>,
    disks: &mut Records<'_, DISK>,
    index: &mut TextIndex<'_>,
    listing: &mut [u8],
) -> Result<(), QmpError> {
    let mut overflow = false;
    homes
        .block
        .for_each(listing, |name, kind| {
            // /sys/block entries are links (DT_LNK) to the devices.
            if kind != fs::DT_LNK || !is_name(name) || overflow {
                return;
            }
            match disks.push() {
                Some(record) => {
                    put_text(&mut record[..NAME], name);
                    record[NAME] = 0;
                    overflow = !index.insert(disks, disks.len() - 1);
                }
                None => overflow = true,
            }
        })
        .map_err(|e| qmp_error!("Can't read directory \"/sys/block\": {e}"))?;
    if overflow {
        return Err(qmp_error!("more than {MAX_DISKS} block devices"));
    }
    Ok(())
}

/// Marks the disks whose `size` is not zero [`SIZED`], as qemu-ga tells them (it skips the
/// others, and those whose size cannot be read).
///
/// qemu-ga reads each disk's `size`: a file opened, read and closed, three system calls a
/// disk, most of them for unused loop and zram devices. `/proc/partitions` lists the
/// disks with a size in one read, and the directory of virtual disks tells which those
/// are: a disk `/proc/partitions` lists has a size; a virtual disk it does not list has
/// none, on kernels that list every disk with a size but hidden ones (hidden disks are
/// never virtual): `kernel_lists_all` says the running kernel is one (5.17 or later). The
/// `size` of any other disk is read, as qemu-ga reads it.
fn mark_sizes(
    homes: &Homes<'_>,
    disks: &mut Records<'_, DISK>,
    index: &TextIndex<'_>,
    listing: &mut [u8],
    proc_partitions: &mut [u8],
    kernel_lists_all: bool,
) {
    let mut mark = |name: &[u8], flag: u8| {
        if let Some(disk) = index.find(disks, name).and_then(|i| disks.get_mut(i)) {
            disk[NAME] |= flag;
        }
    };
    if let Some(dir) = homes.virtual_block {
        // Tolerated: a disk missed here is looked for under /sys/block, as before.
        let _ = dir.for_each(listing, |name, kind| {
            if kind == fs::DT_DIR {
                mark(name, VIRTUAL);
            }
        });
    }
    let listed = fs::read_file(b"/proc/partitions", proc_partitions);
    if let Ok(text) = &listed {
        for name in partitions::names(text) {
            // A `/` in a disk's name is a `!` in sysfs (cciss/c0d0).
            let mut sysfs_name = [0u8; NAME];
            let Some(name) = sysfs_name.get_mut(..name.len()).map(|room| {
                for (to, &from) in room.iter_mut().zip(name) {
                    *to = if from == b'/' { b'!' } else { from };
                }
                &*room
            }) else {
                continue;
            };
            mark(name, LISTED);
        }
    }
    let complete = listed.is_ok() && kernel_lists_all;
    for i in 0..disks.len() {
        let Some(disk) = disks.get_mut(i) else {
            break;
        };
        let flags = disk[NAME];
        let sized = if flags & LISTED != 0 {
            true
        } else if flags & VIRTUAL != 0 && complete {
            false
        } else {
            homes.has_size(Home::of(flags), text_of(&disk[..NAME]))
        };
        if sized {
            disk[NAME] |= SIZED;
        }
    }
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
    block: &'d fs::Dir,
    virtual_block: Option<&'d fs::Dir>,
}

/// Which of [`Homes`] a disk's directory is opened from.
#[derive(Clone, Copy, PartialEq)]
enum Home {
    Block,
    Virtual,
}

impl Home {
    /// Where a disk with these flags has its directory.
    fn of(flags: u8) -> Home {
        match flags & VIRTUAL != 0 {
            true => Home::Virtual,
            false => Home::Block,
        }
    }
}

impl Homes<'_> {
    fn fd(&self, home: Home) -> BorrowedFd<'_> {
        match (home, self.virtual_block) {
            (Home::Virtual, Some(dir)) => dir.as_fd(),
            _ => self.block.as_fd(),
        }
    }

    /// Whether the disk's `size` can be read and is not zero.
    fn has_size(&self, home: Home, name: &[u8]) -> bool {
        let mut size = [0u8; 32];
        let mut path = [0u8; PATH_MAX];
        join(&mut path, &[name, b"/size"])
            .and_then(|path| fs::read_file_at(self.fd(home), path, &mut size).ok())
            .is_some_and(|text| text != b"0\n")
    }
}

/// A name as qemu-ga keeps it: UTF-8 that fits a record.
fn is_name(name: &[u8]) -> bool {
    name.len() < NAME && core::str::from_utf8(name).is_ok()
}

/// The pieces of scratch a disk's entry is written with.
struct Rooms<'r> {
    listing: &'r mut [u8],
    /// Its partitions' names ([`MAX_PARTITIONS`]).
    partitions: &'r mut [u8],
    /// Its dependencies' device nodes ([`MAX_DEPENDENCIES`]).
    dependencies: &'r mut [u8],
}

/// The disk's partitions, then the disk: its directory is opened once for all of them.
fn write_disk_and_partitions(
    w: &mut JsonWriter<'_>,
    homes: &Homes<'_>,
    home: Home,
    name: &[u8],
    mut rooms: Rooms<'_>,
    serials: &mut DiskSerials,
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
    let each_partition = |f: &mut dyn FnMut(&[u8])| {
        // Tolerated: qemu-ga's loop ends at readdir's NULL and never looks at errno.
        let _ = disk.for_each(&mut *rooms.listing, |entry, kind| {
            if kind == fs::DT_DIR && is_partition_of(name, entry) && is_name(entry) {
                f(entry);
            }
        });
    };
    // Partitions first, last found first (qemu-ga prepends each after its disk).
    in_reverse::<NAME>(&mut *rooms.partitions, each_partition, |partition| {
        let mut node = heapless::String::<64>::new();
        device_node_at(disk.as_fd(), partition, &mut node);
        if node.is_empty() {
            return;
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
    });
    write_disk(w, name, home, disk.as_fd(), &dev, &mut rooms, serials);
}

/// Calls `f` on the texts `each` gives, last first, as qemu-ga lists what it prepended
/// one by one. They are kept in `room` as records of `N` bytes; if more come than fit
/// (or a longer one), `each` is asked again and `f` gets them all in the order given.
fn in_reverse<const N: usize>(
    room: &mut [u8],
    mut each: impl FnMut(&mut dyn FnMut(&[u8])),
    mut f: impl FnMut(&[u8]),
) {
    let mut records = Records::<N>::new(room);
    let mut overflow = false;
    each(&mut |text| match records.push() {
        Some(record) if text.len() < N => put_text(record, text),
        _ => overflow = true,
    });
    if overflow {
        each(&mut f);
    } else {
        records.iter().rev().for_each(|record| f(text_of(record)));
    }
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
    rooms: &mut Rooms<'_>,
    serials: &mut DiskSerials,
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
        let each_dependency = |f: &mut dyn FnMut(&[u8])| {
            // Tolerated: qemu-ga reads `slaves` with g_dir_read_name, which reports no errors.
            let _ = slaves.for_each(&mut *rooms.listing, |slave, _| {
                let mut node = heapless::String::<64>::new();
                device_node_at(slaves.as_fd(), slave, &mut node);
                if !node.is_empty() {
                    f(node.as_bytes());
                }
            });
        };
        w.key("dependencies");
        w.begin_array();
        in_reverse::<NODE>(&mut *rooms.dependencies, each_dependency, |dep| {
            w.bytes_as_str(dep)
        });
        w.end_array();
    }
    // An error finding the address is dropped, as qemu-ga's qmp_guest_get_disks drops it
    // ("failed to get device info, ignoring error").
    let address = syspath
        .filter(|_| !is_virtual)
        .and_then(|syspath| DiskAddress::of_ignoring_errors(syspath, disk, dev, serials));
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
    fn reversed_when_they_fit_else_in_the_order_given() {
        let texts: [&[u8]; 3] = [b"vda1", b"vda2", b"vda3"];
        let each = |f: &mut dyn FnMut(&[u8])| texts.iter().for_each(|t| f(t));
        let order = |room: &mut [u8]| {
            let mut seen = Vec::new();
            in_reverse::<NAME>(room, each, |t| seen.push(t.to_vec()));
            seen
        };
        assert_eq!(order(&mut [0u8; 3 * NAME]), [b"vda3", b"vda2", b"vda1"]);
        assert_eq!(order(&mut [0u8; 2 * NAME]), [b"vda1", b"vda2", b"vda3"]);
    }

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
