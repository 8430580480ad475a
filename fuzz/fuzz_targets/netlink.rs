//! rtnetlink messages: any bytes as a received datagram (or a dump kept in scratch) through
//! `formats::netlink`.
//!
//! Checks: the message walk ends (each step moves forward) and every body lies inside the
//! input, after its 16-byte header; every attribute payload lies inside its body; the links
//! and addresses read from each body borrow only from it; counters past the end of the
//! statistics read as 0.
#![no_main]

mod inside;

use inside::assert_inside;
use libfuzzer_sys::fuzz_target;
use tinyqga::formats::netlink;

fuzz_target!(|data: &[u8]| {
    let mut previous_end = data.as_ptr() as usize;
    let mut count = 0;
    for (kind, seq, body) in netlink::messages(data) {
        count += 1;
        assert!(
            count <= data.len() / netlink::HEADER,
            "the walk does not end"
        );
        assert_inside(data, body);
        let at = body.as_ptr() as usize;
        assert!(
            at >= previous_end + netlink::HEADER,
            "a message overlaps the one before"
        );
        previous_end = at + body.len();
        let _ = (kind, seq);
        for skip in [8, 16] {
            for (_, payload) in netlink::attributes(body, skip) {
                assert_inside(body, payload);
                assert_inside(body, netlink::c_string(payload));
            }
        }
        if let Some(link) = netlink::parse_link(body) {
            assert_inside(body, link.name);
            assert!(!link.name.contains(&0));
            for part in link.address.into_iter().chain(link.stats) {
                assert_inside(body, part);
            }
            if let Some(stats) = link.stats {
                for i in 0..32 {
                    let c = netlink::link_counter(stats, i);
                    if i * 8 + 8 > stats.len() {
                        assert_eq!(c, 0);
                    }
                }
            }
        }
        if let Some(address) = netlink::parse_address(body) {
            assert_inside(body, address.address);
            if let Some(label) = address.label {
                assert_inside(body, label);
                assert!(!label.contains(&0));
            }
            let _ = (address.family, address.prefix, address.index);
        }
    }
});
