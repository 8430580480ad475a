//! `guest-network-get-interfaces`, from rtnetlink (no getifaddrs) in getifaddrs' order.

use core::fmt::Write as _;

use super::Call;
use super::scratch::{Records, Scratch};
use crate::capacity::NETLINK_BYTES;
use crate::formats::netlink::{self, Address, RTM_NEWADDR, RTM_NEWLINK};
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::Errno;
use crate::sys::netlink::{Dump, Socket};
use crate::text::FmtBuf;

// The receive buffer, then the link records, their index and the address records.
static_assertions::const_assert!(crate::capacity::SCRATCH_BYTES >= 4 * NETLINK_BYTES);

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// `guest-network-get-interfaces` → `[{name, hardware-address?, ip-addresses?,
/// statistics?}]`. As in qemu-ga (which walks getifaddrs): every link in index order,
/// then IPv4 alias labels (`eth0:1`) as interfaces of their own; addresses in the kernel's
/// order; statistics for interfaces that have an address.
///
/// Two dumps in all, one of the links (names, hardware addresses and counters come with
/// them) and one of the addresses, each turned into fixed-size records in scratch as it
/// arrives: no socket or file per interface. Each address is chained to its link (found
/// through a hash table of link indexes), so the answer costs time in proportion to links
/// plus addresses; only alias labels, which are rare, take a pass over the addresses each.
/// If either dump fails, nothing has been written.
pub fn guest_network_get_interfaces(call: &mut Call, _: ()) -> Result<(), QmpError> {
    let failed = |e| qmp_error!("getifaddrs failed: {e}");
    let recv = call.scratch.take(NETLINK_BYTES)?;
    let links = call.scratch.take_filled(|room| collect_links(recv, room));
    let mut links = Records::filled(links.map_err(failed)?);
    let index = LinkIndex::build(&links, &mut call.scratch)?;
    let addresses = call
        .scratch
        .take_filled(|room| collect_addresses(recv, room, &mut links, &index));
    let tables = Tables {
        links,
        addresses: Records::filled(addresses.map_err(failed)?),
    };
    call.reply.write(|w| {
        w.begin_array();
        for (slot, link) in tables.links().enumerate() {
            let owner = Owner::Link {
                index: link.index,
                name: link.name,
            };
            let chain = tables.chain(first_address(&tables.links, slot));
            write_interface(w, link.name, &link, owner, chain);
        }
        for (position, a) in tables.addresses().enumerate() {
            let Some(label) = tables.alias_label(&a, &index) else {
                continue;
            };
            let seen_before = tables
                .addresses()
                .take(position)
                .any(|earlier| tables.alias_label(&earlier, &index) == Some(label));
            let link = index.slot(a.index).and_then(|slot| tables.link(slot));
            if let (false, Some(link)) = (seen_before, link) {
                let owner = Owner::Alias { label };
                write_interface(w, label, &link, owner, tables.addresses());
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

/// A link record: index 4, name length 1, name 16, mac 6, stats flag 1, 8 counters of 8,
/// then the first and last of its addresses (record numbers; [`NONE`] for none).
const LINK_RECORD: usize = 4 + 1 + 16 + 6 + 1 + 64 + 4 + 4;
const FIRST_ADDRESS: usize = 92;
const LAST_ADDRESS: usize = 96;

/// An address record: link index 4, next address of the same link 4, family 1, prefix 1,
/// address 16 (IPv4 in the first 4), label length 1 (`NO_LABEL`: none), label 16.
const ADDRESS_RECORD: usize = 4 + 4 + 1 + 1 + 16 + 1 + 16;
const NO_LABEL: u8 = u8::MAX;

/// No record.
const NONE: u32 = u32::MAX;

fn word(record: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(record[at..at + 4].try_into().unwrap_or([0xFF; 4]))
}

fn set_word(record: &mut [u8], at: usize, value: u32) {
    record[at..at + 4].copy_from_slice(&value.to_ne_bytes());
}

fn first_address<const N: usize>(links: &Records<'_, N>, slot: usize) -> u32 {
    links.get(slot).map_or(NONE, |r| word(r, FIRST_ADDRESS))
}

/// Dumps the links into records at the start of `room`; returns the bytes they take.
fn collect_links(recv: &mut [u8], room: &mut [u8]) -> Result<usize, Errno> {
    let mut links = Records::<LINK_RECORD>::new(room);
    let mut full = false;
    Socket::dump(Dump::Links)?.for_each(recv, |kind, body| {
        let Some(link) = (kind == RTM_NEWLINK)
            .then(|| netlink::parse_link(body))
            .flatten()
        else {
            return;
        };
        let Some(record) = links.push() else {
            full = true;
            return;
        };
        let name = link.name.get(..16).unwrap_or(link.name);
        set_word(record, 0, link.index as u32);
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
        set_word(record, FIRST_ADDRESS, NONE);
        set_word(record, LAST_ADDRESS, NONE);
    })?;
    if full {
        return Err(Errno::NOBUFS);
    }
    Ok(links.bytes())
}

/// Dumps the addresses (IPv4 and IPv6 of known links) into records at the start of `room`,
/// each chained after the last one of its link; returns the bytes they take.
fn collect_addresses(
    recv: &mut [u8],
    room: &mut [u8],
    links: &mut Records<'_, LINK_RECORD>,
    index: &LinkIndex<'_>,
) -> Result<usize, Errno> {
    let mut addresses = Records::<ADDRESS_RECORD>::new(room);
    let mut full = false;
    Socket::dump(Dump::Addresses)?.for_each(recv, |kind, body| {
        let Some(a) = (kind == RTM_NEWADDR)
            .then(|| netlink::parse_address(body))
            .flatten()
        else {
            return;
        };
        let known = a.family == AF_INET && a.address.len() == 4
            || a.family == AF_INET6 && a.address.len() == 16;
        let Some(slot) = index.slot(a.index).filter(|_| known) else {
            return;
        };
        let number = addresses.len() as u32;
        let Some(record) = addresses.push() else {
            full = true;
            return;
        };
        set_word(record, 0, a.index);
        set_word(record, 4, NONE);
        record[8] = a.family;
        record[9] = a.prefix;
        record[10..10 + a.address.len()].copy_from_slice(a.address);
        match a.label {
            Some(label) => {
                let label = label.get(..16).unwrap_or(label);
                record[26] = label.len() as u8;
                record[27..27 + label.len()].copy_from_slice(label);
            }
            None => record[26] = NO_LABEL,
        }
        let Some(link) = links.get_mut(slot) else {
            return;
        };
        let last = word(link, LAST_ADDRESS);
        set_word(link, LAST_ADDRESS, number);
        if last == NONE {
            set_word(link, FIRST_ADDRESS, number);
        } else if let Some(previous) = addresses.get_mut(last as usize) {
            set_word(previous, 4, number);
        }
    })?;
    if full {
        return Err(Errno::NOBUFS);
    }
    Ok(addresses.bytes())
}

/// Link index -> link record, an open-addressing table (twice as many slots as links, a
/// power of two; index 0 never names a link, so it marks a free slot).
struct LinkIndex<'r> {
    slots: Records<'r, 8>,
}

impl<'r> LinkIndex<'r> {
    /// The table for `links`, in scratch.
    fn build<const N: usize>(
        links: &Records<'_, N>,
        scratch: &mut Scratch<'r>,
    ) -> Result<LinkIndex<'r>, QmpError> {
        let size = (links.len() * 2).next_power_of_two().max(8);
        let table = scratch.take(size * 8)?;
        table.fill(0);
        let mut slots = Records::<8>::new(table);
        while slots.push().is_some() {}
        let mut index = LinkIndex { slots };
        for (number, link) in links.iter().enumerate() {
            index.insert(word(link, 0), number as u32);
        }
        Ok(index)
    }

    fn probe(&self, link: u32) -> impl Iterator<Item = usize> + use<> {
        let mask = self.slots.len() - 1;
        let start = (link.wrapping_mul(0x9E37_79B9) >> 7) as usize;
        (0..self.slots.len()).map(move |i| (start + i) & mask)
    }

    fn insert(&mut self, link: u32, number: u32) {
        for at in self.probe(link) {
            let Some(slot) = self.slots.get_mut(at) else {
                return;
            };
            // A second link with the same index (the kernel never sends one) keeps the first.
            if word(slot, 0) == 0 {
                set_word(slot, 0, link);
                set_word(slot, 4, number);
                return;
            }
            if word(slot, 0) == link {
                return;
            }
        }
    }

    /// The record number of the link with this index.
    fn slot(&self, link: u32) -> Option<usize> {
        for at in self.probe(link) {
            let slot = self.slots.get(at)?;
            match word(slot, 0) {
                0 => return None,
                found if found == link => return Some(word(slot, 4) as usize),
                _ => {}
            }
        }
        None
    }
}

/// The link records and the address records.
struct Tables<'t> {
    links: Records<'t, LINK_RECORD>,
    addresses: Records<'t, ADDRESS_RECORD>,
}

fn link_info(r: &[u8; LINK_RECORD]) -> LinkInfo<'_> {
    let mut counters = [0u64; 8];
    for (i, c) in counters.iter_mut().enumerate() {
        let at = 28 + i * 8;
        *c = u64::from_ne_bytes(r[at..at + 8].try_into().unwrap_or([0; 8]));
    }
    LinkInfo {
        index: word(r, 0),
        name: &r[5..5 + usize::from(r[4]).min(16)],
        mac: r[21..27].try_into().unwrap_or([0; 6]),
        stats: (r[27] != 0).then_some(counters),
    }
}

fn address(r: &[u8; ADDRESS_RECORD]) -> Address<'_> {
    let len = if r[8] == AF_INET { 4 } else { 16 };
    Address {
        family: r[8],
        prefix: r[9],
        index: word(r, 0),
        address: &r[10..10 + len],
        label: (r[26] != NO_LABEL).then(|| &r[27..27 + usize::from(r[26]).min(16)]),
    }
}

impl<'t> Tables<'t> {
    fn links(&self) -> impl Iterator<Item = LinkInfo<'_>> {
        self.links.iter().map(link_info)
    }

    fn link(&self, slot: usize) -> Option<LinkInfo<'_>> {
        self.links.get(slot).map(link_info)
    }

    /// Every IPv4 and IPv6 address of a known link, in the kernel's order.
    fn addresses(&self) -> impl Iterator<Item = Address<'_>> {
        self.addresses.iter().map(address)
    }

    /// The addresses chained from record `first` (one link's, in the kernel's order).
    fn chain(&self, first: u32) -> impl Iterator<Item = Address<'_>> {
        let mut next = first;
        core::iter::from_fn(move || {
            let record = self.addresses.get(next as usize)?;
            next = word(record, 4);
            Some(address(record))
        })
        .take(self.addresses.len())
    }

    /// An IPv4 address's label when it names an alias, not its link.
    fn alias_label<'a>(&self, a: &Address<'a>, index: &LinkIndex<'_>) -> Option<&'a [u8]> {
        let label = a.label.filter(|_| a.family == AF_INET)?;
        let link = index
            .slot(a.index)
            .and_then(|slot| self.link(slot))
            .map(|l| l.name);
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
fn write_interface<'a>(
    w: &mut JsonWriter<'_>,
    name: &[u8],
    link: &LinkInfo<'_>,
    owner: Owner<'_>,
    addresses: impl Iterator<Item = Address<'a>>,
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
    for a in addresses.filter(|a| owner.owns(a)) {
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
