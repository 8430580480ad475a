//! Sysfs paths and attribute texts: any bytes through `formats::sysfs`.
//!
//! Checks: every slice returned lies inside the input; each PCI function's directory is a
//! prefix of the path that grows from one function to the next; a host's directory ends right before its `/ata` or `/host`; the host
//! index never counts more hosts than it was shown; a CCW address starts where the path
//! has `/devices/css`.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::sysfs;

fuzz_target!(|data: &[u8]| {
    if let Some(name) = sysfs::uevent_devname(data) {
        assert_inside(data, name.as_bytes());
    }
    if let Some(serial) = sysfs::serial(data) {
        assert_inside(data, serial.as_bytes());
        assert!(!serial.is_empty() && serial.trim_ascii() == serial);
    }
    assert_inside(data, sysfs::basename(data));
    let mut last = 0;
    for (_, len) in sysfs::pci_functions(data).take(64) {
        assert!(len > last && len <= data.len(), "{len} after {last}");
        last = len;
    }
    let _ = sysfs::scsi_target(data);
    if let Some(host) = sysfs::host_of(data) {
        let tail = &data[host.dir_len..];
        assert!(tail.starts_with(b"/ata") || tail.starts_with(b"/host"));
        let mut index = sysfs::HostIndex::new(host);
        let mut shown = 0;
        for name in data.split(|&b| b == b'/').take(64) {
            index.see(name);
            shown += 1;
        }
        assert!(index.index().is_none_or(|i| (0..shown).contains(&i)));
    }
    if let Some((_, at)) = sysfs::ccw_address(data) {
        assert!(data[at..].starts_with(b"/devices/css"));
    }
});
