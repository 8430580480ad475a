//! The four transports of qemu-ga (`--method`): opening them and telling which kind of
//! end-of-conversation each one has.

use crate::sys::fs::join;
use crate::sys::{AsFd, BorrowedFd, Errno, OwnedFd, fs, inotify, netlink, socket, tty, uapi};
use crate::text::dirname;

/// Where udev links virtio-serial ports by name.
const VIRTIO_PORTS: &[u8] = b"/dev/virtio-ports/";

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
    /// A character device carrying one conversation: its peer is a
    /// [`Peer::VirtioPort`] (virtio-serial) or a [`Peer::SerialLine`] (isa-serial).
    Device { fd: OwnedFd, peer: Peer },
    /// A listening socket; one client at a time is served.
    Listener(OwnedFd),
}

/// The host's end of a conversation, as the agent reads and writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// A client of a listening socket (unix-listen, vsock-listen).
    Socket,
    /// A virtio-serial port: it reads end-of-file, and reports HUP, while its host is away.
    VirtioPort,
    /// A serial line (isa-serial), or another character device.
    SerialLine,
}

impl Peer {
    /// One read of what the host sent. A socket is read with recv(2), which skips the
    /// layers every file's read(2) passes (position lock, access checks, fsnotify).
    pub fn read(self, fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Peer::Socket => socket::recv(fd, buf),
            Peer::VirtioPort | Peer::SerialLine => fd.read(buf),
        }
    }

    /// One write toward the host; to a socket with send(2), likewise (and a departed
    /// host is EPIPE without a SIGPIPE).
    pub fn write(self, fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
        match self {
            Peer::Socket => socket::send(fd, buf),
            Peer::VirtioPort | Peer::SerialLine => fd.write(buf),
        }
    }
}

/// Why a channel could not be opened, with qemu-ga's message.
#[derive(Debug)]
pub enum OpenError<'a> {
    Open(&'a [u8], Errno),
    Bind(&'a [u8], Errno),
    BadVsockAddress(VsockError<'a>),
    /// QEMU's vsock listener says only "Failed to bind socket", without the address.
    VsockBind(Errno),
}

/// Why a `<cid>:<port>` address was refused, in QEMU's words (`vsock_parse`).
#[derive(Debug, PartialEq, Eq)]
pub enum VsockError<'a> {
    /// Not `<1-32 chars but ':'>:<1-32 chars but ','>`: `"error parsing address '<a>'"`.
    Syntax(&'a [u8]),
    /// More after that: `"trailing characters in address '<a>'"`.
    Trailing(&'a [u8]),
    /// `"Failed to parse cid '<c>'"` / `"Failed to parse port '<p>'"`.
    Cid(&'a [u8]),
    Port(&'a [u8]),
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
            OpenError::BadVsockAddress(error) => {
                let (what, part) = match error {
                    VsockError::Syntax(a) => ("error parsing address '", a),
                    VsockError::Trailing(a) => ("trailing characters in address '", a),
                    VsockError::Cid(c) => ("Failed to parse cid '", c),
                    VsockError::Port(p) => ("Failed to parse port '", p),
                };
                f.write_str(what)?;
                text(f, part)?;
                f.write_str("'")
            }
            OpenError::VsockBind(e) => write!(f, "Failed to bind socket: {e}"),
        }
    }
}

impl OpenError<'_> {
    /// The system's answer, where there was one.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            OpenError::Open(_, e) | OpenError::Bind(_, e) | OpenError::VsockBind(e) => Some(*e),
            OpenError::BadVsockAddress(_) => None,
        }
    }
}

pub fn open(method: Method, path: &[u8]) -> Result<Channel, OpenError<'_>> {
    match method {
        Method::VirtioSerial => {
            let flags = uapi::O_RDWR | uapi::O_NONBLOCK;
            let fd = match fs::open(path, flags, 0) {
                Err(Errno::NOENT) if path.starts_with(VIRTIO_PORTS) => {
                    // Without udev nobody creates the /dev/virtio-ports link: find the
                    // port by its name in sysfs instead.
                    let mut dev = [0u8; 64];
                    let name = &path[VIRTIO_PORTS.len()..];
                    let found = find_virtio_port(name, &mut dev)
                        .ok_or(OpenError::Open(path, Errno::NOENT))?;
                    fs::open(found, flags, 0).map_err(|e| OpenError::Open(path, e))?
                }
                other => other.map_err(|e| OpenError::Open(path, e))?,
            };
            Ok(Channel::Device {
                fd,
                peer: Peer::VirtioPort,
            })
        }
        Method::IsaSerial => {
            let flags = uapi::O_RDWR | uapi::O_NOCTTY | uapi::O_NONBLOCK;
            let fd = fs::open(path, flags, 0).map_err(|e| OpenError::Open(path, e))?;
            tty::make_raw(fd.as_fd()).map_err(|e| OpenError::Open(path, e))?;
            Ok(Channel::Device {
                fd,
                peer: Peer::SerialLine,
            })
        }
        Method::UnixListen => socket::listen_unix(path, 1)
            .map(Channel::Listener)
            .map_err(|e| OpenError::Bind(path, e)),
        Method::VsockListen => {
            let (cid, port) = parse_vsock(path).map_err(OpenError::BadVsockAddress)?;
            socket::listen_vsock(cid, port, 1)
                .map(Channel::Listener)
                .map_err(OpenError::VsockBind)
        }
    }
}

/// `<cid>:<port>` as QEMU's `vsock_parse` reads it: `sscanf("%32[^:]:%32[^,]%n")`, then
/// each part as `qemu_strtoui` (decimal, leading blanks and `+` allowed, nothing after).
pub fn parse_vsock(addr: &[u8]) -> Result<(u32, u32), VsockError<'_>> {
    let syntax = VsockError::Syntax(addr);
    let cid_len = addr.iter().take(32).take_while(|&&b| b != b':').count();
    if cid_len == 0 || addr.get(cid_len) != Some(&b':') {
        return Err(syntax);
    }
    let rest = &addr[cid_len + 1..];
    let port_len = rest.iter().take(32).take_while(|&&b| b != b',').count();
    if port_len == 0 {
        return Err(syntax);
    }
    if port_len < rest.len() {
        return Err(VsockError::Trailing(addr));
    }
    let (cid, port) = (&addr[..cid_len], rest);
    let cid = strtoui(cid).ok_or(VsockError::Cid(cid))?;
    let port = strtoui(port).ok_or(VsockError::Port(port))?;
    Ok((cid, port))
}

/// QEMU's `qemu_strtoui(s, NULL, 10)`: leading white space and one `+`, decimal digits to
/// the end, at most `u32::MAX`. (QEMU would also take `-n` for small n as wrapping; not
/// here: a negative cid or port is no address.)
fn strtoui(text: &[u8]) -> Option<u32> {
    let text = text.trim_ascii_start();
    let digits = text.strip_prefix(b"+").unwrap_or(text);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(10)?.checked_add((d - b'0') as u32)
    })
}

/// A descriptor that becomes readable when the channel at `path` may have appeared. For a
/// virtio port, the kernel's device events (a uevent netlink socket). Otherwise an inotify
/// descriptor watching the nearest existing directory on the way to `path` (its parent
/// once that exists), and `/dev` too for a `/dev/virtio-ports/<name>` path, where the
/// port's own node `/dev/vportNpM` appears (from devtmpfs, without udev). A listening
/// vsock socket has no path to watch: `Err`.
pub fn watch_for(method: Method, path: &[u8]) -> Result<OwnedFd, Errno> {
    if method == Method::VsockListen {
        return Err(Errno::NOENT);
    }
    // A virtio port is a device: the kernel's device events announce it whatever is
    // mounted where (an early init may mount devtmpfs over the /dev a watch was set on).
    if method == Method::VirtioSerial
        && let Ok(events) = netlink::uevents()
    {
        return Ok(events);
    }
    let fd = inotify::init()?;
    let mask = inotify::CREATE
        | inotify::MOVED_TO
        | inotify::DELETE_SELF
        | inotify::MOVE_SELF
        | inotify::ONLYDIR;
    let mut dir = path;
    loop {
        dir = dirname(dir);
        match inotify::add_watch(fd.as_fd(), dir, mask) {
            Ok(_) => break,
            Err(e) if dir == b"/" || dir == b"." => return Err(e),
            Err(_) => {}
        }
    }
    if method == Method::VirtioSerial && path.starts_with(VIRTIO_PORTS) {
        inotify::add_watch(fd.as_fd(), b"/dev", mask)?;
    }
    Ok(fd)
}

/// Looks through `/sys/class/virtio-ports/*/name` for the port named `wanted` (the host's
/// `name=` property, e.g. `org.qemu.guest_agent.0`) and returns `/dev/<port>`.
fn find_virtio_port<'d>(wanted: &[u8], dev: &'d mut [u8; 64]) -> Option<&'d [u8]> {
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
            if name == wanted && port.len() <= 32 && found.is_none() {
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
        assert_eq!(parse_vsock(b"3:1234"), Ok((3, 1234)));
        assert_eq!(parse_vsock(b"4294967295:1"), Ok((u32::MAX, 1)));
        assert_eq!(parse_vsock(b" +010: 2"), Ok((10, 2)));
        assert_eq!(parse_vsock(b"foo"), Err(VsockError::Syntax(b"foo")));
        assert_eq!(parse_vsock(b"3:"), Err(VsockError::Syntax(b"3:")));
        assert_eq!(parse_vsock(b":3"), Err(VsockError::Syntax(b":3")));
        assert_eq!(parse_vsock(b"1:2,3"), Err(VsockError::Trailing(b"1:2,3")));
        assert_eq!(parse_vsock(b"0x10:2"), Err(VsockError::Cid(b"0x10")));
        assert_eq!(parse_vsock(b"1:2:3"), Err(VsockError::Port(b"2:3")));
        assert_eq!(
            parse_vsock(b"1:4294967296"),
            Err(VsockError::Port(b"4294967296"))
        );
        let long = [b'1'; 33];
        assert_eq!(parse_vsock(&long), Err(VsockError::Syntax(&long)));
    }
}
