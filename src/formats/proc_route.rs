//! The routing tables as the kernel prints them: `/proc/net/route` (IPv4, a header line,
//! then one line per route) and `/proc/net/ipv6_route` (IPv6, no header). Values are the
//! kernel's; how qemu-ga shows them (C ints, dotted quads) is the command's business.

/// One line of /proc/net/route:
/// `Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Route<'l> {
    pub iface: &'l [u8],
    /// Addresses in memory (network) order.
    pub destination: [u8; 4],
    pub gateway: [u8; 4],
    pub mask: [u8; 4],
    pub flags: u32,
    pub refcnt: i32,
    pub use_count: i32,
    pub metric: i32,
    pub mtu: i32,
    pub window: i32,
    pub irtt: i32,
}

/// One line of /proc/net/ipv6_route, all hexadecimal:
/// `dest dest_plen src src_plen next_hop metric refcnt use flags iface`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Route<'l> {
    pub destination: [u8; 16],
    pub destination_prefix: u32,
    pub source: [u8; 16],
    pub source_prefix: u32,
    pub next_hop: [u8; 16],
    pub metric: u32,
    pub refcnt: u32,
    pub use_count: u32,
    pub flags: u32,
    pub iface: &'l [u8],
}

fn words(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
}

fn hex(word: &[u8]) -> Option<u32> {
    u32::from_str_radix(core::str::from_utf8(word).ok()?, 16).ok()
}

fn dec(word: &[u8]) -> Option<i32> {
    core::str::from_utf8(word).ok()?.parse().ok()
}

/// An address as the kernel prints it in /proc/net/route: the in-memory (network order)
/// bytes read as a native integer, so its native bytes are the address. (qemu-ga decodes
/// it as little-endian, which reverses addresses on s390x.)
fn ipv4(word: &[u8]) -> Option<[u8; 4]> {
    Some(hex(word)?.to_ne_bytes())
}

/// 32 hex digits, the address's bytes in order.
fn ipv6(word: &[u8]) -> Option<[u8; 16]> {
    if word.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(core::str::from_utf8(&word[2 * i..2 * i + 2]).ok()?, 16).ok()?;
    }
    Some(bytes)
}

/// A route line of /proc/net/route (the caller skips the header line, which does not
/// parse anyway). Fewer than 11 fields, or one that does not read: `None`.
pub fn parse_ipv4(line: &[u8]) -> Option<Ipv4Route<'_>> {
    let f: heapless::Vec<&[u8], 12> = words(line).take(12).collect();
    let [
        iface,
        destination,
        gateway,
        flags,
        refcnt,
        use_count,
        metric,
        mask,
        mtu,
        window,
        irtt,
    ] = f.get(..11)?.try_into().ok()?;
    Some(Ipv4Route {
        iface,
        destination: ipv4(destination)?,
        gateway: ipv4(gateway)?,
        mask: ipv4(mask)?,
        flags: hex(flags)?,
        refcnt: dec(refcnt)?,
        use_count: dec(use_count)?,
        metric: dec(metric)?,
        mtu: dec(mtu)?,
        window: dec(window)?,
        irtt: dec(irtt)?,
    })
}

/// A line of /proc/net/ipv6_route. Fewer than 10 fields, or one that does not read: `None`.
pub fn parse_ipv6(line: &[u8]) -> Option<Ipv6Route<'_>> {
    let f: heapless::Vec<&[u8], 11> = words(line).take(11).collect();
    let [
        destination,
        destination_prefix,
        source,
        source_prefix,
        next_hop,
        metric,
        refcnt,
        use_count,
        flags,
        iface,
    ] = f.get(..10)?.try_into().ok()?;
    Some(Ipv6Route {
        destination: ipv6(destination)?,
        destination_prefix: hex(destination_prefix)?,
        source: ipv6(source)?,
        source_prefix: hex(source_prefix)?,
        next_hop: ipv6(next_hop)?,
        metric: hex(metric)?,
        refcnt: hex(refcnt)?,
        use_count: hex(use_count)?,
        flags: hex(flags)?,
        iface,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_routes() {
        let text = std::fs::read_to_string("tests/fixtures/proc/net-route").unwrap();
        let routes: Vec<Ipv4Route<'_>> = text
            .lines()
            .skip(1)
            .filter_map(|l| parse_ipv4(l.as_bytes()))
            .collect();
        assert_eq!(routes.len(), 2);
        if cfg!(target_endian = "little") {
            assert_eq!(
                routes[0],
                Ipv4Route {
                    iface: b"eth0",
                    destination: [0, 0, 0, 0],
                    gateway: [10, 0, 2, 2],
                    mask: [0, 0, 0, 0],
                    flags: 3,
                    refcnt: 0,
                    use_count: 0,
                    metric: 100,
                    mtu: 0,
                    window: 0,
                    irtt: 0,
                }
            );
            assert_eq!(
                (routes[1].destination, routes[1].mask),
                ([10, 0, 2, 0], [255, 255, 255, 0])
            );
        }
        assert_eq!(
            parse_ipv4(b"eth0 00000000 0202000A 0003 0 0 100 00000000 0 0"),
            None,
            "ten fields"
        );
        assert_eq!(
            parse_ipv4(b"eth0 zz 0202000A 0003 0 0 100 00000000 0 0 0"),
            None
        );
        assert_eq!(parse_ipv4(text.lines().next().unwrap().as_bytes()), None);
    }

    #[test]
    fn ipv6_routes() {
        let text = std::fs::read_to_string("tests/fixtures/proc/net-ipv6_route").unwrap();
        let routes: Vec<Ipv6Route<'_>> = text
            .lines()
            .filter_map(|l| parse_ipv6(l.as_bytes()))
            .collect();
        assert_eq!(routes.len(), 3);
        let fd00 = std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0).octets();
        assert_eq!(
            routes[0],
            Ipv6Route {
                destination: fd00,
                destination_prefix: 64,
                source: [0; 16],
                source_prefix: 0,
                next_hop: [0; 16],
                metric: 256,
                refcnt: 1,
                use_count: 0,
                flags: 1,
                iface: b"eth0",
            }
        );
        assert_eq!(routes[1].metric, 0xffff_ffff);
        assert_eq!(parse_ipv6(b"0000 40"), None);
    }
}
