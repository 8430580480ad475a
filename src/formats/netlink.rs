//! rtnetlink messages (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h,
//! linux/if_addr.h): a datagram's messages, their attributes, and the links and addresses
//! of the link and address dumps that `guest-network-get-interfaces` reads. Walked in
//! place over the received bytes; a short or garbled message ends the walk (nothing here
//! trusts a length the kernel sent). The socket that fetches them is `sys::netlink`.

/// Message types (nlmsg_type) of the control messages and the dumps' answers.
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_NEWADDR: u16 = 20;
// Attribute types of RTM_NEWLINK and RTM_NEWADDR bodies.
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_STATS64: u16 = 23;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;

/// Bytes of `struct nlmsghdr`: length, type, flags, sequence number, port id.
pub const HEADER: usize = 16;

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

/// Messages and attributes start at 4-byte boundaries (NLMSG_ALIGN, RTA_ALIGN).
pub fn align(n: usize) -> usize {
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

/// One address of an RTM_NEWADDR message.
pub struct Address<'m> {
    pub family: u8,
    pub prefix: u8,
    pub index: u32,
    /// IPv4: 4 bytes, IPv6: 16.
    pub address: &'m [u8],
    /// The IPv4 label (`eth0`, or an alias such as `eth0:1`).
    pub label: Option<&'m [u8]>,
}

/// An `RTM_NEWADDR` body: family, prefix length, link index, address and label.
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

#[cfg(test)]
mod tests {
    use super::*;

    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;

    #[test]
    fn netlink_messages_from_a_captured_dump() {
        let data = std::fs::read("tests/fixtures/netlink/getaddr-lo-eth0").unwrap();
        type Row = (u8, u8, u32, Vec<u8>, Option<Vec<u8>>);
        let addresses: Vec<Row> = messages(&data)
            .filter(|(kind, _, _)| *kind == RTM_NEWADDR)
            .filter_map(|(_, _, body)| parse_address(body))
            .map(|a| {
                (
                    a.family,
                    a.prefix,
                    a.index,
                    a.address.to_vec(),
                    a.label.map(|l| l.to_vec()),
                )
            })
            .collect();
        assert_eq!(
            addresses,
            [
                (AF_INET, 8, 1, vec![127, 0, 0, 1], Some(b"lo".to_vec())),
                (AF_INET, 24, 2, vec![10, 0, 2, 15], Some(b"eth0".to_vec())),
                (AF_INET, 24, 2, vec![10, 0, 3, 15], Some(b"eth0:1".to_vec())),
                (
                    AF_INET6,
                    128,
                    1,
                    std::net::Ipv6Addr::LOCALHOST.octets().to_vec(),
                    None
                ),
            ]
        );
        // Truncated or garbled data ends the walk instead of failing.
        for cut in 0..data.len() {
            let _ = messages(&data[..cut])
                .filter_map(|(_, _, b)| parse_address(b))
                .count();
        }
    }
}
