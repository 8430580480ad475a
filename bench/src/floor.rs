//! The floor of `make bench`: an "agent" that answers every request line with
//! `{"return": {}}` and does nothing else. One client at a time, blocking I/O: one read and
//! one write per round trip, which is what the socket itself costs.
//!
//! usage: floor-agent SOCKET

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: floor-agent SOCKET");
        std::process::exit(2);
    };
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap_or_else(|e| {
        eprintln!("floor-agent: bind: {e}");
        std::process::exit(1);
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    for conn in listener.incoming() {
        let Ok(mut conn) = conn else { continue };
        loop {
            let n = match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
            if lines == 0 {
                continue;
            }
            out.clear();
            for _ in 0..lines {
                out.extend_from_slice(b"{\"return\": {}}\n");
            }
            if conn.write_all(&out).is_err() {
                break;
            }
        }
    }
}
