//! rtnetlink dumps (links and addresses), read straight from the kernel: what glibc's
//! getifaddrs does, without libc. The messages are walked in place in a receive buffer by
//! the parsers of [`crate::formats::netlink`].

use super::fd::{AsFd, OwnedFd};
use super::{Errno, syscall, uapi};
use crate::formats::netlink::{HEADER, NLMSG_DONE, NLMSG_ERROR, align, messages};
use linux_raw_sys::net;

// The request's rtnetlink ABI values (linux/netlink.h, linux/rtnetlink.h).
const NETLINK_ROUTE: u32 = 0;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const RTM_GETLINK: u16 = 18;
const RTM_GETADDR: u16 = 22;

/// What to dump.
#[derive(Clone, Copy)]
pub enum Dump {
    Links,
    Addresses,
}

/// A `NETLINK_ROUTE` socket with one dump in progress.
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// `socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)` and a dump request.
    pub fn dump(what: Dump) -> Result<Socket, Errno> {
        // SAFETY: socket takes no pointer.
        let fd = unsafe {
            syscall!(
                __NR_socket,
                net::AF_NETLINK,
                net::SOCK_RAW | uapi::O_CLOEXEC,
                NETLINK_ROUTE
            )
        }?;
        // SAFETY: socket(2) just returned this new descriptor; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let (kind, body_len) = match what {
            Dump::Links => (RTM_GETLINK, 16),    // struct ifinfomsg
            Dump::Addresses => (RTM_GETADDR, 8), // struct ifaddrmsg
        };
        let mut request = [0u8; HEADER + 16];
        let len = HEADER + body_len;
        request[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
        request[4..6].copy_from_slice(&kind.to_ne_bytes());
        request[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        let seq: u32 = 1;
        request[8..12].copy_from_slice(&seq.to_ne_bytes());
        // family AF_UNSPEC (0): every family.
        fd.as_fd().write_all(&request[..len])?;
        Ok(Socket { fd, seq })
    }

    /// Calls `f` with each message (type, body) of the dump until it is done.
    pub fn for_each(&self, buf: &mut [u8], mut f: impl FnMut(u16, &[u8])) -> Result<(), Errno> {
        self.each_message(buf, |message| {
            if let Some((kind, _, body)) = messages(message).next() {
                f(kind, body);
            }
        })
    }

    /// Calls `f` with each whole message (header included) of this dump, reading
    /// datagrams through `buf`, until the dump is done.
    fn each_message(&self, buf: &mut [u8], mut f: impl FnMut(&[u8])) -> Result<(), Errno> {
        loop {
            let n = match self.fd.as_fd().read(buf) {
                Ok(n) => n,
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(Errno::IO);
            }
            let mut rest = buf.get(..n).unwrap_or_default();
            while let Some((kind, seq, body)) = messages(rest).next() {
                let len = HEADER + body.len();
                let message = rest.get(..len).unwrap_or_default();
                rest = rest.get(align(len)..).unwrap_or_default();
                if seq != self.seq {
                    continue;
                }
                match kind {
                    NLMSG_DONE => return Ok(()),
                    NLMSG_ERROR => {
                        let code = body
                            .get(..4)
                            .and_then(|b| b.try_into().ok())
                            .map_or(0, i32::from_ne_bytes);
                        return Err(Errno(code.unsigned_abs().min(4095) as u16));
                    }
                    _ => f(message),
                }
            }
        }
    }
}
/// The kernel's device events (`NETLINK_KOBJECT_UEVENT`, multicast group 1), as a
/// non-blocking socket that becomes readable when a device comes or goes: how the agent
/// waits for its virtio port to appear whatever is (or is not yet) mounted on /dev or /sys.
pub fn uevents() -> Result<OwnedFd, Errno> {
    const NETLINK_KOBJECT_UEVENT: u32 = 15;
    // SAFETY: socket takes no pointer.
    let fd = unsafe {
        syscall!(
            __NR_socket,
            net::AF_NETLINK,
            net::SOCK_DGRAM | uapi::O_CLOEXEC | uapi::O_NONBLOCK,
            NETLINK_KOBJECT_UEVENT
        )
    }?;
    // SAFETY: socket(2) just returned this new descriptor; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    // struct sockaddr_nl: family, padding, pid 0 (the kernel picks), groups 1.
    let mut address = [0u8; 12];
    address[..2].copy_from_slice(&(net::AF_NETLINK as u16).to_ne_bytes());
    address[8..].copy_from_slice(&1u32.to_ne_bytes());
    // SAFETY: bind reads 12 bytes at `address`, a local array of that size.
    unsafe {
        syscall!(
            __NR_bind,
            fd.as_fd().as_raw_fd(),
            address.as_ptr(),
            address.len()
        )
    }?;
    Ok(fd)
}
