//! `/proc/net/route` and `/proc/net/ipv6_route` lines: any bytes, line by line, through
//! `formats::proc_route`.
//!
//! Checks: the interface name lies inside the line and is one word; round trip: a parsed
//! route printed back the way the kernel prints it parses to the same route.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::proc_route::{self, Ipv4Route, Ipv6Route};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ipv4_line(r: &Ipv4Route<'_>) -> Vec<u8> {
    let mut line = r.iface.to_vec();
    let addr = |a: [u8; 4]| u32::from_ne_bytes(a);
    line.extend(
        format!(
            "\t{:08X}\t{:08X}\t{:04X}\t{}\t{}\t{}\t{:08X}\t{}\t{}\t{}",
            addr(r.destination),
            addr(r.gateway),
            r.flags,
            r.refcnt,
            r.use_count,
            r.metric,
            addr(r.mask),
            r.mtu,
            r.window,
            r.irtt
        )
        .bytes(),
    );
    line
}

fn ipv6_line(r: &Ipv6Route<'_>) -> Vec<u8> {
    let mut line = format!(
        "{} {:02x} {} {:02x} {} {:08x} {:08x} {:08x} {:08x} ",
        hex(&r.destination),
        r.destination_prefix,
        hex(&r.source),
        r.source_prefix,
        hex(&r.next_hop),
        r.metric,
        r.refcnt,
        r.use_count,
        r.flags
    )
    .into_bytes();
    line.extend_from_slice(r.iface);
    line
}

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Some(route) = proc_route::parse_ipv4(line) {
            assert_inside(line, route.iface);
            assert!(!route.iface.is_empty() && !route.iface.iter().any(u8::is_ascii_whitespace));
            let again = ipv4_line(&route);
            assert_eq!(proc_route::parse_ipv4(&again), Some(route));
        }
        if let Some(route) = proc_route::parse_ipv6(line) {
            assert_inside(line, route.iface);
            assert!(!route.iface.is_empty() && !route.iface.iter().any(u8::is_ascii_whitespace));
            let again = ipv6_line(&route);
            assert_eq!(proc_route::parse_ipv6(&again), Some(route));
        }
    }
});
