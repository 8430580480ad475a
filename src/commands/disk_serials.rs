//! Disk serial numbers, read from sysfs once per disk and kept.
//!
//! A virtio-blk disk's `serial` is not stored in the kernel: reading it sends a request to
//! the device and waits for the host to answer (40 us on the bench machine, against 1 us
//! for a `statx`). Hosts poll `guest-get-fsinfo` and `guest-get-disks`, which report every
//! disk's serial, so each poll would cost the host one such request per disk. A disk's
//! serial is fixed while the disk exists (part of the device's configuration), so it is
//! read the first time and kept, as udev reads it once, when the disk appears, for the
//! `ID_SERIAL` that qemu-ga reports.
//!
//! What is kept is found by the inode number of the disk's sysfs directory. Kernfs never
//! gives a node's number to another node: on 64-bit kernels it is a 64-bit count (Linux
//! 5.5 and later; before, a 32-bit one that must wrap around first). A disk unplugged and
//! another plugged in under the same name is a new directory with a new number, and its
//! serial is read.

use crate::formats::sysfs::serial;
use crate::sys::{BorrowedFd, fs};

/// Disks whose serials are kept; with more, the oldest are read again when next asked.
pub const KEPT_SERIALS: usize = 64;

/// A disk's sysfs directory: its file system's device numbers and its inode number.
type DirId = (u32, u32, u64);

/// Serials already read ([`KEPT_SERIALS`] of them, oldest replaced first).
pub struct DiskSerials {
    kept: [(Option<DirId>, heapless::String<64>); KEPT_SERIALS],
    /// The entry replaced next.
    next: usize,
}

impl Default for DiskSerials {
    fn default() -> DiskSerials {
        DiskSerials {
            kept: [const { (None, heapless::String::new()) }; KEPT_SERIALS],
            next: 0,
        }
    }
}

impl DiskSerials {
    /// Appends the serial of the disk whose directory `dir` is to `out` (nothing if it
    /// has none), from what is kept if this directory's was read before.
    pub fn of(&mut self, dir: BorrowedFd<'_>, out: &mut heapless::String<64>) {
        let Ok(st) = dir.fstat() else {
            read_serial(dir, out);
            return;
        };
        let id = Some((st.stx_dev_major, st.stx_dev_minor, st.stx_ino));
        if let Some((_, kept)) = self.kept.iter().find(|(at, _)| *at == id) {
            let _ = out.push_str(kept);
            return;
        }
        let mut read = heapless::String::new();
        read_serial(dir, &mut read);
        let _ = out.push_str(&read);
        self.kept[self.next] = (id, read);
        self.next = (self.next + 1) % KEPT_SERIALS;
    }
}

/// The serial number of the disk whose directory `dir` is, where the kernel exposes it
/// (virtio-blk: `<disk>/serial`, which is what udev's ID_SERIAL holds for it). For a
/// partition, its disk's.
fn read_serial(dir: BorrowedFd<'_>, out: &mut heapless::String<64>) {
    let mut text = [0u8; 128];
    for file in [&b"serial"[..], b"../serial"] {
        if let Some(serial) = fs::read_file_at(dir, file, &mut text).ok().and_then(serial) {
            let _ = out.push_str(serial);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// Reads `dir`'s serial through `serials`.
    fn serial_of(serials: &mut DiskSerials, dir: &std::path::Path) -> String {
        let dir = fs::Dir::open(dir.as_os_str().as_bytes()).unwrap();
        let mut out = heapless::String::new();
        serials.of(dir.as_fd(), &mut out);
        out.as_str().to_string()
    }

    #[test]
    fn a_serial_is_read_once_per_directory() {
        let root = std::env::temp_dir().join(format!("tinyqga-serials-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (vda, vda1, vdb) = (root.join("vda"), root.join("vda/vda1"), root.join("vdb"));
        for dir in [&vda1, &vdb] {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(vda.join("serial"), "first\n").unwrap();
        let mut serials = DiskSerials::default();
        assert_eq!(serial_of(&mut serials, &vda), "first");
        assert_eq!(
            serial_of(&mut serials, &vda1),
            "first",
            "a partition has its disk's"
        );
        assert_eq!(serial_of(&mut serials, &vdb), "", "no serial");
        std::fs::write(vda.join("serial"), "second\n").unwrap();
        std::fs::write(vdb.join("serial"), "late\n").unwrap();
        assert_eq!(serial_of(&mut serials, &vda), "first", "kept");
        assert_eq!(serial_of(&mut serials, &vdb), "", "kept, though empty");
        assert_eq!(serial_of(&mut DiskSerials::default(), &vda), "second");
        // More directories than are kept: the oldest is read again.
        for n in 0..KEPT_SERIALS {
            let other = root.join(format!("other{n}"));
            std::fs::create_dir(&other).unwrap();
            serial_of(&mut serials, &other);
        }
        assert_eq!(serial_of(&mut serials, &vda), "second");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
