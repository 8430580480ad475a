//! `guest-network-get-interfaces`, from rtnetlink (no getifaddrs) in getifaddrs' order.

use core::fmt::Write as _;

use super::Call;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::netlink::{self, Address, Dump, RTM_NEWADDR, RTM_NEWLINK};
use crate::sys::{Errno, fs};
use crate::text::FmtBuf;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// Receive buffer of one netlink dump.
const DUMP_BUFFER: usize = 32 * 1024;

/// `guest-network-get-interfaces` → `[{name, hardware-address?, ip-addresses?,
/// statistics?}]`. As in qemu-ga (which walks getifaddrs): every link in index order,
/// then IPv4 alias labels (`eth0:1`) as interfaces of their own; addresses in the kernel's
/// order; statistics from /proc/net/dev for interfaces that have an address.
pub fn guest_network_get_interfaces(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let failed = |e| qmp_error!("getifaddrs failed: {e}");
    call.reply.write(|w| {
        w.begin_array();
        let mut links = [0u8; DUMP_BUFFER];
        let mut written = Ok(());
        each_link(&mut links, |index, name| {
            if written.is_ok() {
                written = write_interface(w, name, Owner::Link { index, name });
            }
        })
        .and(written)
        .map_err(failed)?;
        let mut written = Ok(());
        each_address(|position, a| {
            let Some(label) = alias_label(&a).filter(|_| written.is_ok()) else {
                return;
            };
            written = nth_addresses(position, |earlier| alias_label(earlier) == Some(label))
                .and_then(|seen_before| match seen_before {
                    true => Ok(()),
                    false => write_interface(w, label, Owner::Alias { label }),
                });
        })
        .and(written)
        .map_err(failed)?;
        w.end_array();
        Ok(())
    })
}

/// Which addresses an interface entry shows.
#[derive(Clone, Copy)]
enum Owner<'n> {
    /// A link: its IPv6 addresses and the IPv4 ones labelled with its own name.
    Link { index: u32, name: &'n [u8] },
    /// An IPv4 alias label.
    Alias { label: &'n [u8] },
}

impl Owner<'_> {
    fn owns(&self, a: &Address<'_>) -> bool {
        match *self {
            Owner::Link { index, name } => {
                a.index == index
                    && (a.family == AF_INET6
                        || (a.family == AF_INET && a.label.is_none_or(|l| l == name)))
            }
            Owner::Alias { label } => a.family == AF_INET && a.label == Some(label),
        }
    }
}

/// An IPv4 address's label when it names an alias, not its link.
fn alias_label<'a>(a: &Address<'a>) -> Option<&'a [u8]> {
    let label = a.label.filter(|_| a.family == AF_INET)?;
    let mut name = [0u8; 16];
    let link = netlink::interface_name(a.index, &mut name).ok();
    (Some(label) != link).then_some(label)
}

fn each_link(buf: &mut [u8], mut f: impl FnMut(u32, &[u8])) -> Result<(), Errno> {
    netlink::Socket::dump(Dump::Links)?.for_each(buf, |kind, body| {
        if kind == RTM_NEWLINK
            && let Some(link) = netlink::parse_link(body)
        {
            f(link.index as u32, link.name);
        }
    })
}

/// Calls `f(position, address)` for every IPv4 and IPv6 address.
fn each_address(mut f: impl FnMut(usize, Address<'_>)) -> Result<(), Errno> {
    let mut buf = [0u8; DUMP_BUFFER];
    let mut position = 0;
    netlink::Socket::dump(Dump::Addresses)?.for_each(&mut buf, |kind, body| {
        let Some(a) = (kind == RTM_NEWADDR)
            .then(|| netlink::parse_address(body))
            .flatten()
        else {
            return;
        };
        if a.family == AF_INET && a.address.len() == 4
            || a.family == AF_INET6 && a.address.len() == 16
        {
            f(position, a);
            position += 1;
        }
    })
}

/// Whether any of the first `count` addresses satisfies `test`.
fn nth_addresses(count: usize, mut test: impl FnMut(&Address<'_>) -> bool) -> Result<bool, Errno> {
    let mut found = false;
    each_address(|position, a| found |= position < count && test(&a))?;
    Ok(found)
}

fn write_interface(w: &mut JsonWriter<'_>, name: &[u8], owner: Owner<'_>) -> Result<(), Errno> {
    w.begin_object();
    w.key("name");
    w.bytes_as_str(name);
    if let Ok(Some(mac)) = netlink::hardware_address(name) {
        let mut text = FmtBuf::<17>::new();
        let [a, b, c, d, e, f] = mac;
        let _ = write!(text, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}");
        w.key("hardware-address");
        w.bytes_as_str(text.as_bytes());
    }
    let mut any = false;
    each_address(|_, a| {
        if !owner.owns(&a) {
            return;
        }
        if !any {
            w.key("ip-addresses");
            w.begin_array();
            any = true;
        }
        let mut text = FmtBuf::<46>::new();
        let kind = match a.address.try_into() {
            Ok(v4) => {
                let [p, q, r, s]: [u8; 4] = v4;
                let _ = write!(text, "{p}.{q}.{r}.{s}");
                "ipv4"
            }
            Err(_) => {
                let v6: [u8; 16] = a.address.try_into().unwrap_or([0; 16]);
                let _ = write_ipv6(&mut text, &v6);
                "ipv6"
            }
        };
        w.begin_object();
        w.key("ip-address");
        w.bytes_as_str(text.as_bytes());
        w.key("ip-address-type");
        w.str(kind);
        w.key("prefix");
        w.int(a.prefix as i64);
        w.end_object();
    })?;
    if any {
        w.end_array();
        if let Some(stats) = interface_statistics(name) {
            w.key("statistics");
            w.begin_object();
            for (key, value) in STAT_NAMES.iter().zip(stats) {
                w.key(key);
                w.uint(value);
            }
            w.end_object();
        }
    }
    w.end_object();
    Ok(())
}

const STAT_NAMES: [&str; 8] = [
    "rx-bytes",
    "rx-packets",
    "rx-errs",
    "rx-dropped",
    "tx-bytes",
    "tx-packets",
    "tx-errs",
    "tx-dropped",
];

/// The interface's counters from /proc/net/dev (qemu-ga's source for them). Without them
/// the interface is reported without `statistics`, as qemu-ga does.
fn interface_statistics(name: &[u8]) -> Option<[u64; 8]> {
    let mut found = None;
    let _ = fs::for_each_line(b"/proc/net/dev", |line| {
        found = parse_net_dev_line(line, name);
        found.is_none()
    });
    found
}

/// `  eth0: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed multicast tx_bytes
/// tx_packets tx_errs tx_drop ...` → the eight counters qemu-ga reports, if the line is
/// `name`'s.
pub fn parse_net_dev_line(line: &[u8], name: &[u8]) -> Option<[u64; 8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (head, rest) = line.split_at(colon);
    if head.trim_ascii() != name {
        return None;
    }
    let text = core::str::from_utf8(rest.get(1..)?).ok()?;
    let mut fields = text.split_ascii_whitespace().map(|f| f.parse::<u64>().ok());
    let mut all = [0u64; 16];
    for slot in all.iter_mut() {
        *slot = fields.next()??;
    }
    Some([
        all[0], all[1], all[2], all[3], all[8], all[9], all[10], all[11],
    ])
}

/// An IPv6 address as glibc's inet_ntop writes it: lower-case hex, the longest run of two
/// or more zero groups as `::` (the first of equal runs), and IPv4-mapped and -compatible
/// addresses with a dotted tail.
pub fn write_ipv6(out: &mut dyn core::fmt::Write, a: &[u8; 16]) -> core::fmt::Result {
    let mut words = [0u16; 8];
    for (i, w) in words.iter_mut().enumerate() {
        *w = u16::from_be_bytes([a[2 * i], a[2 * i + 1]]);
    }
    let (mut best, mut best_len, mut run, mut run_len) = (None, 0, 0, 0);
    for (i, &w) in words.iter().enumerate() {
        if w == 0 {
            if run_len == 0 {
                run = i;
            }
            run_len += 1;
            if run_len > best_len {
                best = Some(run);
                best_len = run_len;
            }
        } else {
            run_len = 0;
        }
    }
    if best_len < 2 {
        best = None;
    }
    let mut i = 0;
    while i < 8 {
        if best == Some(i) {
            out.write_str("::")?;
            i += best_len;
            continue;
        }
        // ::a.b.c.d and ::ffff:a.b.c.d keep the IPv4 tail in dotted form.
        if i == 6 && best == Some(0) && (best_len == 6 || (best_len == 5 && words[5] == 0xffff)) {
            return write!(out, "{}.{}.{}.{}", a[12], a[13], a[14], a[15]);
        }
        write!(out, "{:x}", words[i])?;
        i += 1;
        if i < 8 && best != Some(i) {
            out.write_str(":")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> String {
        let addr: std::net::Ipv6Addr = text.parse().unwrap();
        let mut out = String::new();
        write_ipv6(&mut out, &addr.octets()).unwrap();
        out
    }

    #[test]
    fn ipv6_as_glibc_writes_it() {
        for (input, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("fe80::5054:ff:fe12:3456", "fe80::5054:ff:fe12:3456"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
            ("::ffff:10.0.2.15", "::ffff:10.0.2.15"),
            ("::10.0.2.15", "::10.0.2.15"),
            ("1::", "1::"),
            ("ABCD:EF01::", "abcd:ef01::"),
        ] {
            assert_eq!(v6(input), want, "{input}");
        }
    }

    #[test]
    fn net_dev_lines() {
        let text = std::fs::read_to_string("tests/fixtures/proc/net-dev").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines
                .iter()
                .find_map(|l| parse_net_dev_line(l.as_bytes(), b"eth0")),
            Some([123456789, 1234, 1, 2, 987654321, 4321, 3, 4])
        );
        assert_eq!(
            lines
                .iter()
                .find_map(|l| parse_net_dev_line(l.as_bytes(), b"lo")),
            Some([100, 2, 0, 0, 100, 2, 0, 0])
        );
        assert_eq!(
            lines
                .iter()
                .find_map(|l| parse_net_dev_line(l.as_bytes(), b"eth")),
            None
        );
        assert_eq!(parse_net_dev_line(b"eth0: 1 2 3", b"eth0"), None);
        assert_eq!(parse_net_dev_line(b"Inter-|   Receive", b"eth0"), None);
    }

    #[test]
    fn netlink_messages_from_a_captured_dump() {
        let data = std::fs::read("tests/fixtures/netlink/getaddr-lo-eth0").unwrap();
        type Row = (u8, u8, u32, Vec<u8>, Option<Vec<u8>>);
        let addresses: Vec<Row> = netlink::messages(&data)
            .filter(|(kind, _, _)| *kind == RTM_NEWADDR)
            .filter_map(|(_, _, body)| netlink::parse_address(body))
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
            let _ = netlink::messages(&data[..cut])
                .filter_map(|(_, _, b)| netlink::parse_address(b))
                .count();
        }
    }
}
