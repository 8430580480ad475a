//! `guest-network-get-route`: the IPv4 and IPv6 routing tables from /proc/net.

use core::fmt::Write as _;

use super::Call;
use crate::formats::proc_route;
use crate::protocol::{JsonWriter, QmpError};
use crate::qmp_error;
use crate::sys::{Errno, fs};
use crate::text::FmtBuf;

/// `guest-network-get-route` → `[{iface, destination, metric, ..., version}]`: IPv4 routes
/// from /proc/net/route, then IPv6 routes from /proc/net/ipv6_route. A kernel without IPv6
/// has no ipv6_route: its IPv4 routes are the answer (qemu-ga fails the whole command).
pub fn guest_network_get_route(call: &mut Call, _: ()) -> Result<(), QmpError> {
    call.reply.write(|w| {
        w.begin_array();
        let mut header = true;
        fs::for_each_line(b"/proc/net/route", |line| {
            let is_header = core::mem::take(&mut header);
            if let Some(route) = parse_ipv4(line).filter(|_| !is_header) {
                route.write(w);
            }
            true
        })
        .map_err(|e| qmp_error!("open(\"/proc/net/route\"): {e}"))?;
        // A kernel without IPv6 has no ipv6_route: IPv4 routes alone, then.
        match fs::for_each_line(b"/proc/net/ipv6_route", |line| {
            if let Some(route) = parse_ipv6(line) {
                route.write(w);
            }
            true
        }) {
            Ok(()) | Err(Errno::NOENT) => {}
            Err(e) => return Err(qmp_error!("open(\"/proc/net/ipv6_route\"): {e}")),
        }
        w.end_array();
        Ok(())
    })
}

type Text = FmtBuf<46>;

/// One route, with the members its version has.
pub struct Route<'l> {
    iface: &'l [u8],
    destination: Text,
    metric: i64,
    flags: u64,
    refcnt: i64,
    use_count: i64,
    kind: Kind,
}

enum Kind {
    V4 {
        gateway: Text,
        mask: Text,
        irtt: i64,
        window: i64,
        mtu: i64,
    },
    V6 {
        desprefixlen: i64,
        source: Text,
        srcprefixlen: i64,
        nexthop: Text,
    },
}

/// A line of /proc/net/route, as qemu-ga shows it.
pub fn parse_ipv4(line: &[u8]) -> Option<Route<'_>> {
    let r = proc_route::parse_ipv4(line)?;
    Some(Route {
        iface: r.iface,
        destination: ipv4(r.destination),
        metric: r.metric.into(),
        flags: r.flags.into(),
        refcnt: r.refcnt.into(),
        use_count: r.use_count.into(),
        kind: Kind::V4 {
            gateway: ipv4(r.gateway),
            mask: ipv4(r.mask),
            irtt: r.irtt.into(),
            window: r.window.into(),
            mtu: r.mtu.into(),
        },
    })
}

/// A line of /proc/net/ipv6_route, as qemu-ga shows it: it reads the hex fields into C
/// ints, so 0xffffffff is -1 (and a flags word with the top bit set is negative, then
/// shown as the unsigned 64-bit number it converts to).
pub fn parse_ipv6(line: &[u8]) -> Option<Route<'_>> {
    let r = proc_route::parse_ipv6(line)?;
    let int = |v: u32| i64::from(v as i32);
    Some(Route {
        iface: r.iface,
        destination: ipv6(&r.destination),
        metric: int(r.metric),
        flags: int(r.flags) as u64,
        refcnt: int(r.refcnt),
        use_count: int(r.use_count),
        kind: Kind::V6 {
            desprefixlen: int(r.destination_prefix),
            source: ipv6(&r.source),
            srcprefixlen: int(r.source_prefix),
            nexthop: ipv6(&r.next_hop),
        },
    })
}

impl Route<'_> {
    fn write(&self, w: &mut JsonWriter<'_>) {
        let text = |w: &mut JsonWriter<'_>, key: &str, t: &Text| {
            w.key(key);
            w.bytes_as_str(t.as_bytes());
        };
        let int = |w: &mut JsonWriter<'_>, key: &str, v: i64| {
            w.key(key);
            w.int(v);
        };
        // Schema order: iface, destination, metric, gateway, mask, irtt, flags, refcnt, use,
        // window, mtu, desprefixlen, source, srcprefixlen, nexthop, version.
        w.begin_object();
        w.key("iface");
        w.bytes_as_str(self.iface);
        text(w, "destination", &self.destination);
        int(w, "metric", self.metric);
        if let Kind::V4 {
            gateway,
            mask,
            irtt,
            ..
        } = &self.kind
        {
            text(w, "gateway", gateway);
            text(w, "mask", mask);
            int(w, "irtt", *irtt);
        }
        w.key("flags");
        w.uint(self.flags);
        int(w, "refcnt", self.refcnt);
        int(w, "use", self.use_count);
        match &self.kind {
            Kind::V4 { window, mtu, .. } => {
                int(w, "window", *window);
                int(w, "mtu", *mtu);
                int(w, "version", 4);
            }
            Kind::V6 {
                desprefixlen,
                source,
                srcprefixlen,
                nexthop,
            } => {
                // The prefix lengths are strings in the schema.
                let mut n = FmtBuf::<8>::new();
                let _ = write!(n, "{desprefixlen}");
                text(w, "desprefixlen", &to_text(n.as_bytes()));
                text(w, "source", source);
                n.clear();
                let _ = write!(n, "{srcprefixlen}");
                text(w, "srcprefixlen", &to_text(n.as_bytes()));
                text(w, "nexthop", nexthop);
                int(w, "version", 6);
            }
        }
        w.end_object();
    }
}

fn to_text(bytes: &[u8]) -> Text {
    let mut t = Text::new();
    let _ = t.write_str(core::str::from_utf8(bytes).unwrap_or(""));
    t
}

fn ipv4([a, b, c, d]: [u8; 4]) -> Text {
    let mut t = Text::new();
    let _ = write!(t, "{a}.{b}.{c}.{d}");
    t
}

fn ipv6(address: &[u8; 16]) -> Text {
    let mut t = Text::new();
    let _ = super::network::write_ipv6(&mut t, address);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::writer::tests::Collect;

    fn json(route: Route<'_>) -> String {
        let mut out = Collect::default();
        route.write(&mut JsonWriter::new(&mut out));
        String::from_utf8(out.0).unwrap()
    }

    #[test]
    fn ipv4_routes() {
        let text = std::fs::read_to_string("tests/fixtures/proc/net-route").unwrap();
        let routes: Vec<String> = text
            .lines()
            .skip(1)
            .filter_map(|l| parse_ipv4(l.as_bytes()))
            .map(json)
            .collect();
        assert_eq!(routes.len(), 2);
        if cfg!(target_endian = "little") {
            assert_eq!(
                routes[0],
                r#"{"iface": "eth0", "destination": "0.0.0.0", "metric": 100, "gateway": "10.0.2.2", "mask": "0.0.0.0", "irtt": 0, "flags": 3, "refcnt": 0, "use": 0, "window": 0, "mtu": 0, "version": 4}"#
            );
            assert!(
                routes[1].contains(r#""destination": "10.0.2.0""#)
                    && routes[1].contains(r#""mask": "255.255.255.0""#)
            );
        }
        assert!(
            parse_ipv4(b"eth0 00000000 0202000A 0003 0 0 100 00000000 0 0").is_none(),
            "ten fields"
        );
        assert!(parse_ipv4(b"eth0 zz 0202000A 0003 0 0 100 00000000 0 0 0").is_none());
    }

    #[test]
    fn ipv6_routes() {
        let text = std::fs::read_to_string("tests/fixtures/proc/net-ipv6_route").unwrap();
        let routes: Vec<String> = text
            .lines()
            .filter_map(|l| parse_ipv6(l.as_bytes()))
            .map(json)
            .collect();
        assert_eq!(
            routes[0],
            r#"{"iface": "eth0", "destination": "fd00::", "metric": 256, "flags": 1, "refcnt": 1, "use": 0, "desprefixlen": "64", "source": "::", "srcprefixlen": "0", "nexthop": "::", "version": 6}"#
        );
        assert!(
            routes[1].contains(r#""metric": -1"#),
            "0xffffffff is -1 as in qemu-ga: {}",
            routes[1]
        );
        assert_eq!(routes.len(), 3);
    }
}
