//! The four transports of qemu-ga (`--method`): opening them and telling which kind of
//! end-of-conversation each one has.

use crate::sys::fs::join;
use crate::sys::{AsFd, Errno, OwnedFd, fs, socket, tty, uapi};

use super::options::DEFAULT_VIRTIO_PATH;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    VirtioSerial,
    IsaSerial,
    UnixListen,
    VsockListen,
}

impl Method {
    pub fn parse(name: &[u8]) -> Option<Method> {
        match name {
            b"virtio-serial" => Some(Method::VirtioSerial),
            b"isa-serial" => Some(Method::IsaSerial),
            b"unix-listen" => Some(Method::UnixListen),
            b"vsock-listen" => Some(Method::VsockListen),
            _ => None,
        }
    }
}

/// An open transport.
pub enum Channel {
    /// A character device carrying one conversation (virtio-serial, isa-serial).
    Device { fd: OwnedFd, virtio: bool },
    /// A listening socket; one client at a time is served.
    Listener(OwnedFd),
}

/// Why a channel could not be opened, with qemu-ga's message.
#[derive(Debug)]
pub enum OpenError<'a> {
    Open(&'a [u8], Errno),
    Bind(&'a [u8], Errno),
    BadVsockAddress(&'a [u8]),
}

impl core::fmt::Display for OpenError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let text = |f: &mut core::fmt::Formatter<'_>, b: &[u8]| crate::text::write_lossy(f, b);
        match self {
            OpenError::Open(path, e) => {
                f.write_str("error opening channel '")?;
                text(f, path)?;
                write!(f, "': {e}")
            }
            OpenError::Bind(path, e) => {
                f.write_str("Failed to bind socket to ")?;
                text(f, path)?;
                write!(f, ": {e}")
            }
            OpenError::BadVsockAddress(addr) => {
                f.write_str("error parsing address '")?;
                text(f, addr)?;
                f.write_str("'")
            }
        }
    }
}

pub fn open(method: Method, path: &[u8]) -> Result<Channel, OpenError<'_>> {
    match method {
        Method::VirtioSerial => {
            let flags = uapi::O_RDWR | uapi::O_NONBLOCK;
            let fd = match fs::open(path, flags, 0) {
                Err(Errno::NOENT) if path == DEFAULT_VIRTIO_PATH => {
                    // Without udev nobody creates the /dev/virtio-ports link: find the
                    // port by its name in sysfs instead.
                    let mut dev = [0u8; 64];
                    let found =
                        find_virtio_port(&mut dev).ok_or(OpenError::Open(path, Errno::NOENT))?;
                    fs::open(found, flags, 0).map_err(|e| OpenError::Open(path, e))?
                }
                other => other.map_err(|e| OpenError::Open(path, e))?,
            };
            Ok(Channel::Device { fd, virtio: true })
        }
        Method::IsaSerial => {
            let flags = uapi::O_RDWR | uapi::O_NOCTTY | uapi::O_NONBLOCK;
            let fd = fs::open(path, flags, 0).map_err(|e| OpenError::Open(path, e))?;
            tty::make_raw(fd.as_fd()).map_err(|e| OpenError::Open(path, e))?;
            Ok(Channel::Device { fd, virtio: false })
        }
        Method::UnixListen => socket::listen_unix(path, 1)
            .map(Channel::Listener)
            .map_err(|e| OpenError::Bind(path, e)),
        Method::VsockListen => {
            let (cid, port) = parse_vsock(path).ok_or(OpenError::BadVsockAddress(path))?;
            socket::listen_vsock(cid, port, 1)
                .map(Channel::Listener)
                .map_err(|e| OpenError::Bind(path, e))
        }
    }
}

/// `<cid>:<port>`, both decimal.
pub fn parse_vsock(addr: &[u8]) -> Option<(u32, u32)> {
    let text = core::str::from_utf8(addr).ok()?;
    let (cid, port) = text.split_once(':')?;
    Some((cid.parse().ok()?, port.parse().ok()?))
}

/// Looks through `/sys/class/virtio-ports/*/name` for `org.qemu.guest_agent.0` and
/// returns `/dev/<port>`.
fn find_virtio_port(dev: &mut [u8; 64]) -> Option<&[u8]> {
    const CLASS: &[u8] = b"/sys/class/virtio-ports/";
    let dir = fs::Dir::open(CLASS).ok()?;
    let mut entries = [0u8; 2048];
    let mut found: Option<([u8; 32], usize)> = None;
    let _ = dir.for_each(&mut entries, |port, _| {
        let mut path = [0u8; 128];
        let parts: [&[u8]; 3] = [CLASS, port, b"/name"];
        let Some(path) = join(&mut path, &parts) else {
            return;
        };
        let mut name = [0u8; 128];
        if let Ok(name) = fs::read_file(path, &mut name) {
            let name = name.strip_suffix(b"\n").unwrap_or(name);
            if name == b"org.qemu.guest_agent.0" && port.len() <= 32 && found.is_none() {
                let mut copy = [0u8; 32];
                copy[..port.len()].copy_from_slice(port);
                found = Some((copy, port.len()));
            }
        }
    });
    let (port, len) = found?;
    let parts: [&[u8]; 2] = [b"/dev/", &port[..len]];
    join(dev, &parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vsock_addresses() {
        assert_eq!(parse_vsock(b"3:1234"), Some((3, 1234)));
        assert_eq!(parse_vsock(b"4294967295:1"), Some((u32::MAX, 1)));
        assert_eq!(parse_vsock(b"foo"), None);
        assert_eq!(parse_vsock(b"3:"), None);
    }
}
