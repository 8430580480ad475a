//! `guest-get-fsinfo`: mounted block-device file systems with their sizes and the disks
//! under them (their addresses resolved by [`super::disk_address`]).

use core::fmt::Write as _;

use super::Call;
use super::disk_address::{self, DiskAddress};
use super::disk_serials::DiskSerials;
use super::mounts;
use super::scratch::Scratch;
use crate::formats::{mountinfo, sysfs};
use crate::protocol::{JsonWriter, QmpError};
use crate::sys::{PATH_MAX, fs};
use crate::text::FmtBuf;

// Besides the mount table (the rest of the region): the disk walk's levels.
static_assertions::const_assert!(
    crate::capacity::SCRATCH_BYTES >= disk_address::WALK_SCRATCH + (64 << 10)
);

/// Disks under one file system listed in qemu-ga's (reversed) order; an md or dm device
/// over more lists them all in the order found.
pub const DISKS_PER_FS: usize = 32;

/// `guest-get-fsinfo` → `[{name, mountpoint, type, used-bytes?, total-bytes?,
/// total-bytes-privileged?, disk: [...]}]`: one entry per block device (the first mount of
/// each wins; virtual file systems have no block device and are left out), in reverse
/// mount order as qemu-ga lists them. /proc/self/mountinfo is read whole into the scratch
/// buffer (`TINYQGA_SCRATCH_BYTES`).
pub fn guest_get_fsinfo(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let text = mounts::read(&mut call.scratch)?;
    let first = mounts::FirstMounts::new(text, &mut call.scratch)?;
    let (scratch, serials) = (&mut call.scratch, &mut call.state.serials);
    call.reply
        .write(|w| write_filesystems(w, text, &first, scratch, serials))
}

/// The list. An error resolving a file system's disks fails the whole command, as in
/// qemu-ga's qmp_guest_get_fsinfo (the reply becomes the error unless part of it was
/// already sent).
fn write_filesystems(
    w: &mut JsonWriter<'_>,
    text: &mut [u8],
    first: &mounts::FirstMounts<'_>,
    scratch: &mut Scratch<'_>,
    serials: &mut DiskSerials,
) -> Result<(), QmpError> {
    w.begin_array();
    first.each_reversed(text, |mount, dev| {
        write_filesystem(w, mount, dev, scratch, serials)
    })?;
    w.end_array();
    Ok(())
}

fn write_filesystem(
    w: &mut JsonWriter<'_>,
    mount: &mountinfo::Mount<'_>,
    (major, minor): (u32, u32),
    scratch: &mut Scratch<'_>,
    serials: &mut DiskSerials,
) -> Result<(), QmpError> {
    let mut devpath = FmtBuf::<64>::new();
    let _ = write!(devpath, "/sys/dev/block/{major}:{minor}");
    let mut real = [0u8; PATH_MAX];
    // None in a container's view of sysfs: named after the device numbers, with no disks.
    let device = disk_address::real_path(devpath.as_bytes(), &mut real)?;
    let name = sysfs::basename(device.as_ref().map_or(devpath.as_bytes(), |d| d.path));
    let mut disks: heapless::Vec<DiskAddress, DISKS_PER_FS> = heapless::Vec::new();
    let mut overflow = false;
    if let Some(device) = &device {
        disk_address::each_disk_under(device, scratch, serials, &mut |disk| {
            overflow |= disks.push(disk).is_err()
        })?;
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
    match (overflow, &device) {
        // More disks than fit to reverse: all of them, in the order found.
        (true, Some(device)) => {
            disk_address::each_disk_under(device, scratch, serials, &mut |disk| disk.write(w))?;
        }
        // qemu-ga prepends each disk it finds: the last found comes first.
        _ => disks.iter().rev().for_each(|disk| disk.write(w)),
    }
    w.end_array();
    w.end_object();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_order_and_first_mount_wins() {
        use crate::protocol::writer::tests::Collect;
        let mut text = std::fs::read("tests/fixtures/proc/mountinfo").unwrap();
        let mut out = Collect::default();
        let mut room = vec![0u8; 4096 + disk_address::WALK_SCRATCH];
        let mut scratch = Scratch::new(&mut room);
        let first = mounts::FirstMounts::new(&text, &mut scratch).unwrap();
        write_filesystems(
            &mut JsonWriter::new(&mut out),
            &mut text,
            &first,
            &mut scratch,
            &mut DiskSerials::default(),
        )
        .unwrap();
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
