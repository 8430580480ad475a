//! A network interface's flags, through the `SIOCGIFFLAGS`/`SIOCSIFFLAGS` ioctls on an
//! `AF_INET` datagram socket (what `ip link set lo up` and `ifconfig lo up` do).

use linux_raw_sys::{ioctl, net};

use super::fd::OwnedFd;
use super::{Errno, syscall, uapi};

/// `struct ifreq`: the interface name (`IFNAMSIZ` bytes, NUL-terminated), then a union
/// whose `ifr_flags` (a short) this module uses; 40 bytes on every 64-bit target.
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: i16,
    _rest: [u8; 22],
}

/// Sets `IFF_UP` on interface `name` (no change if it is up already).
pub fn set_up(name: &[u8]) -> Result<(), Errno> {
    if name.len() >= 16 {
        return Err(Errno::INVAL);
    }
    // SAFETY: socket takes no pointer.
    let fd = unsafe {
        syscall!(
            __NR_socket,
            net::AF_INET,
            net::SOCK_DGRAM | uapi::O_CLOEXEC,
            0
        )
    }?;
    // SAFETY: socket(2) just returned this new descriptor; nothing else owns it.
    let socket = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let mut req = IfReq {
        name: [0; 16],
        flags: 0,
        _rest: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name);
    let fd = socket.as_raw_fd();
    // SAFETY: SIOCGIFFLAGS reads the name from and writes the flags into one struct
    // ifreq at &mut req, a local of the kernel's size that outlives the call.
    unsafe { syscall!(__NR_ioctl, fd, ioctl::SIOCGIFFLAGS, &mut req as *mut IfReq) }?;
    if req.flags & net::net_device_flags::IFF_UP as i16 != 0 {
        return Ok(());
    }
    req.flags |= net::net_device_flags::IFF_UP as i16;
    // SAFETY: SIOCSIFFLAGS reads one struct ifreq at &req, as above.
    unsafe { syscall!(__NR_ioctl, fd, ioctl::SIOCSIFFLAGS, &req as *const IfReq) }.map(drop)
}
