//! rtnetlink dumps (links and addresses), read straight from the kernel: what glibc's
//! getifaddrs does, without libc. Messages are walked in place in a receive buffer.

use super::fd::{AsFd, OwnedFd};
use super::{Errno, syscall, uapi};
use linux_raw_sys::net;

// rtnetlink ABI values (linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h).
const NETLINK_ROUTE: u32 = 0;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
pub const IFLA_ADDRESS: u16 = 1;
pub const IFLA_IFNAME: u16 = 3;
pub const IFA_ADDRESS: u16 = 1;
pub const IFA_LOCAL: u16 = 2;
pub const IFA_LABEL: u16 = 3;

const HEADER: usize = 16;

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

    /// Reads the whole dump through `recv`, storing its messages (header and body, as
    /// [`messages`] walks them) one after another in `store`; returns the bytes stored.
    /// A dump larger than `store` fails with ENOBUFS.
    pub fn collect(&self, recv: &mut [u8], store: &mut [u8]) -> Result<usize, Errno> {
        let mut len = 0;
        let mut full = false;
        self.each_message(recv, |message| {
            match store.get_mut(len..len + message.len()) {
                Some(dst) if !full => {
                    dst.copy_from_slice(message);
                    len += align(message.len());
                }
                _ => full = true,
            }
        })?;
        if full {
            return Err(Errno::NOBUFS);
        }
        Ok(len.min(store.len()))
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

/// The messages in one datagram: (type, sequence number, body).
pub fn messages(data: &[u8]) -> impl Iterator<Item = (u16, u32, &[u8])> {
    let mut rest = data;
    core::iter::from_fn(move || {
        let len = u32::from_ne_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest.get(4..6)?.try_into().ok()?);
        let seq = u32::from_ne_bytes(rest.get(8..12)?.try_into().ok()?);
        let body = rest.get(HEADER..len)?;
        rest = rest.get(align(len)..).unwrap_or_default();
        Some((kind, seq, body))
    })
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// The attributes (type, payload) that follow a fixed header of `skip` bytes.
pub fn attributes(body: &[u8], skip: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = body.get(align(skip)..).unwrap_or_default();
    core::iter::from_fn(move || {
        let len = u16::from_ne_bytes(rest.get(0..2)?.try_into().ok()?) as usize;
        let kind = u16::from_ne_bytes(rest.get(2..4)?.try_into().ok()?) & 0x3fff;
        let payload = rest.get(4..len)?;
        rest = rest.get(align(len)..).unwrap_or_default();
        Some((kind, payload))
    })
}

/// A string attribute without its NUL.
pub fn c_string(payload: &[u8]) -> &[u8] {
    &payload[..payload
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(payload.len())]
}

/// One link of an RTM_NEWLINK message.
pub struct Link<'m> {
    pub index: i32,
    pub name: &'m [u8],
    /// `IFLA_ADDRESS`: the hardware address, as long as the device's (absent: none).
    pub address: Option<&'m [u8]>,
    /// `IFLA_STATS64`: `struct rtnl_link_stats64`, as u64 counters in its order.
    pub stats: Option<&'m [u8]>,
}

const IFLA_STATS64: u16 = 23;

/// An `RTM_NEWLINK` body: index, name, hardware address and counters.
pub fn parse_link(body: &[u8]) -> Option<Link<'_>> {
    let index = i32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
    let (mut name, mut address, mut stats) = (None, None, None);
    for (kind, payload) in attributes(body, 16) {
        match kind {
            IFLA_IFNAME => name = Some(c_string(payload)),
            IFLA_ADDRESS => address = Some(payload),
            IFLA_STATS64 => stats = Some(payload),
            _ => {}
        }
    }
    Some(Link {
        index,
        name: name?,
        address,
        stats,
    })
}

/// Counter `i` of a `struct rtnl_link_stats64` (0 rx_packets, 1 tx_packets, 2 rx_bytes,
/// 3 tx_bytes, 4 rx_errors, 5 tx_errors, 6 rx_dropped, 7 tx_dropped, ... 15
/// rx_missed_errors).
pub fn link_counter(stats: &[u8], i: usize) -> u64 {
    stats
        .get(i * 8..i * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_ne_bytes)
}

pub struct Address<'m> {
    pub family: u8,
    pub prefix: u8,
    pub index: u32,
    /// IPv4: 4 bytes, IPv6: 16.
    pub address: &'m [u8],
    /// The IPv4 label (`eth0`, or an alias such as `eth0:1`).
    pub label: Option<&'m [u8]>,
}

pub fn parse_address(body: &[u8]) -> Option<Address<'_>> {
    let family = *body.first()?;
    let prefix = *body.get(1)?;
    let index = u32::from_ne_bytes(body.get(4..8)?.try_into().ok()?);
    let (mut address, mut local, mut label) = (None, None, None);
    for (kind, payload) in attributes(body, 8) {
        match kind {
            IFA_ADDRESS => address = Some(payload),
            IFA_LOCAL => local = Some(payload),
            IFA_LABEL => label = Some(c_string(payload)),
            _ => {}
        }
    }
    // As getifaddrs: the local address when there is one (on point-to-point links
    // IFA_ADDRESS is the peer).
    let address = local.or(address)?;
    Some(Address {
        family,
        prefix,
        index,
        address,
        label,
    })
}
