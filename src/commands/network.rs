//! `guest-network-get-interfaces`, from rtnetlink (no getifaddrs) in getifaddrs' order.

use core::fmt::Write as _;

use super::Call;
use crate::capacity::NETLINK_BYTES;
use crate::formats::netlink::{self, Address, RTM_NEWADDR, RTM_NEWLINK};
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::Errno;
use crate::sys::netlink::{Dump, Socket};
use crate::text::FmtBuf;

// The receive buffer, then the link records and the address dump.
static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= 4 * NETLINK_BYTES);

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// `guest-network-get-interfaces` → `[{name, hardware-address?, ip-addresses?,
/// statistics?}]`. As in qemu-ga (which walks getifaddrs): every link in index order,
/// then IPv4 alias labels (`eth0:1`) as interfaces of their own; addresses in the kernel's
/// order; statistics for interfaces that have an address.
///
/// Two dumps in all, one of the links (names, hardware addresses and counters come with
/// them) and one of the addresses, each kept whole in the scratch buffer and then walked in
/// memory: no socket or file per interface. If either dump fails, nothing has been written.
pub fn guest_network_get_interfaces(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let failed = |e| qmp_error!("getifaddrs failed: {e}");
    let recv = call.scratch.take(NETLINK_BYTES)?;
    let rest = call.scratch.rest();
    let (link_room, address_room) = rest.split_at_mut(rest.len() / 4);
    let links = collect_links(recv, link_room).map_err(failed)?;
    let addresses = Socket::dump(Dump::Addresses)
        .and_then(|dump| dump.collect(recv, address_room))
        .map_err(failed)?;
    let tables = Tables {
        links: &link_room[..links],
        addresses: &address_room[..addresses],
    };
    call.reply.write(|w| {
        w.begin_array();
        for link in tables.links() {
            let owner = Owner::Link {
                index: link.index,
                name: link.name,
            };
            write_interface(w, &tables, link.name, &link, owner);
        }
        for (position, a) in tables.addresses().enumerate() {
            let Some(label) = tables.alias_label(&a) else {
                continue;
            };
            let seen_before = tables
                .addresses()
                .take(position)
                .any(|earlier| tables.alias_label(&earlier) == Some(label));
            let link = tables.links().find(|l| l.index == a.index);
            if let (false, Some(link)) = (seen_before, link) {
                write_interface(w, &tables, label, &link, Owner::Alias { label });
            }
        }
        w.end_array();
        Ok(())
    })
}

/// What an interface entry needs of a link, kept as a fixed-size record (a link message
/// itself is 1-2 KiB, mostly per-protocol settings the agent does not report).
struct LinkInfo<'r> {
    index: u32,
    name: &'r [u8],
    /// The hardware address as SIOCGIFHWADDR gives it: `IFLA_ADDRESS`, cut or padded to 6.
    mac: [u8; 6],
    /// `/proc/net/dev`'s counters, when the kernel sent `IFLA_STATS64`.
    stats: Option<[u64; 8]>,
}

/// Bytes of one link record: index 4, name length 1, name 16, mac 6, stats flag 1,
/// 8 counters of 8.
const LINK_RECORD: usize = 4 + 1 + 16 + 6 + 1 + 64;

/// Dumps the links into fixed-size records in `room`; returns the bytes used.
fn collect_links(recv: &mut [u8], room: &mut [u8]) -> Result<usize, Errno> {
    let mut used = 0;
    let mut full = false;
    Socket::dump(Dump::Links)?.for_each(recv, |kind, body| {
        let Some(link) = (kind == RTM_NEWLINK)
            .then(|| netlink::parse_link(body))
            .flatten()
        else {
            return;
        };
        let Some(record) = room.get_mut(used..used + LINK_RECORD) else {
            full = true;
            return;
        };
        let name = link.name.get(..16).unwrap_or(link.name);
        record[..4].copy_from_slice(&(link.index as u32).to_ne_bytes());
        record[4] = name.len() as u8;
        record[5..5 + name.len()].copy_from_slice(name);
        let mut mac = [0u8; 6];
        for (slot, b) in mac.iter_mut().zip(link.address.unwrap_or_default()) {
            *slot = *b;
        }
        record[21..27].copy_from_slice(&mac);
        record[27] = u8::from(link.stats.is_some());
        let counters = link.stats.map_or([0; 8], proc_net_dev_counters);
        for (i, c) in counters.iter().enumerate() {
            record[28 + i * 8..36 + i * 8].copy_from_slice(&c.to_ne_bytes());
        }
        used += LINK_RECORD;
    })?;
    if full {
        return Err(Errno::NOBUFS);
    }
    Ok(used)
}

/// The link records and the address dump.
struct Tables<'t> {
    links: &'t [u8],
    addresses: &'t [u8],
}

impl<'t> Tables<'t> {
    fn links(&self) -> impl Iterator<Item = LinkInfo<'t>> + 't {
        self.links.chunks_exact(LINK_RECORD).map(|r| {
            let word = |at: usize| u64::from_ne_bytes(r[at..at + 8].try_into().unwrap_or([0; 8]));
            let mut counters = [0u64; 8];
            for (i, c) in counters.iter_mut().enumerate() {
                *c = word(28 + i * 8);
            }
            LinkInfo {
                index: u32::from_ne_bytes(r[..4].try_into().unwrap_or([0; 4])),
                name: &r[5..5 + usize::from(r[4]).min(16)],
                mac: r[21..27].try_into().unwrap_or([0; 6]),
                stats: (r[27] != 0).then_some(counters),
            }
        })
    }

    /// Every IPv4 and IPv6 address, in the kernel's order.
    fn addresses(&self) -> impl Iterator<Item = Address<'t>> + 't {
        netlink::messages(self.addresses)
            .filter(|&(kind, _, _)| kind == RTM_NEWADDR)
            .filter_map(|(_, _, body)| netlink::parse_address(body))
            .filter(|a| {
                a.family == AF_INET && a.address.len() == 4
                    || a.family == AF_INET6 && a.address.len() == 16
            })
    }

    /// An IPv4 address's label when it names an alias, not its link.
    fn alias_label(&self, a: &Address<'t>) -> Option<&'t [u8]> {
        let label = a.label.filter(|_| a.family == AF_INET)?;
        let link = self.links().find(|l| l.index == a.index).map(|l| l.name);
        (Some(label) != link).then_some(label)
    }
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

/// One interface entry. The hardware address is the link's (an alias shows its link's),
/// the first six bytes of `IFLA_ADDRESS` padded with zeros, which is what qemu-ga's
/// SIOCGIFHWADDR gives; the counters are `/proc/net/dev`'s, from the same kernel
/// counters, for links only (an alias has no line there).
fn write_interface(
    w: &mut JsonWriter<'_>,
    tables: &Tables<'_>,
    name: &[u8],
    link: &LinkInfo<'_>,
    owner: Owner<'_>,
) {
    w.begin_object();
    w.key("name");
    w.bytes_as_str(name);
    let mut text = FmtBuf::<17>::new();
    let [a, b, c, d, e, f] = link.mac;
    let _ = write!(text, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}");
    w.key("hardware-address");
    w.bytes_as_str(text.as_bytes());
    let mut any = false;
    for a in tables.addresses().filter(|a| owner.owns(a)) {
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
    }
    if any {
        w.end_array();
        let stats = link.stats.filter(|_| matches!(owner, Owner::Link { .. }));
        if let Some(stats) = stats {
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

/// The eight counters qemu-ga reads from /proc/net/dev, from the `rtnl_link_stats64` the
/// kernel prints there (its "drop" for receiving adds the missed packets).
fn proc_net_dev_counters(stats: &[u8]) -> [u64; 8] {
    let c = |i| netlink::link_counter(stats, i);
    [c(2), c(0), c(4), c(6) + c(15), c(3), c(1), c(5), c(7)]
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
}
