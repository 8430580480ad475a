//! The floors of `make bench`: "agents" that answer every request line with
//! `{"return": {}}` and do nothing else, one client at a time. What they cost is what the
//! socket itself costs.
//!
//! - `floor-agent SOCKET`: blocking I/O, one read and one write per round trip.
//! - `floor-agent SOCKET epoll`: waits in `epoll_wait` before each read, as an agent that
//!   must also watch signals and children does (tinyqga: epoll_wait, read, write). On a
//!   virtual machine the wakeup through epoll can cost more than the one through a blocked
//!   read (it may land the agent on the other CPU), which this floor shows apart from the
//!   work an agent does.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};

fn main() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let (path, epoll) = match args.as_slice() {
        [path] => (path, false),
        [path, mode] if mode == "epoll" => (path, true),
        _ => {
            eprintln!("usage: floor-agent SOCKET [epoll]");
            std::process::exit(2);
        }
    };
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).unwrap_or_else(|e| {
        eprintln!("floor-agent: bind: {e}");
        std::process::exit(1);
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut out = Vec::new();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let waiter = if epoll { Waiter::new(&conn) } else { None };
        serve(conn, waiter.as_ref(), &mut buf, &mut out);
    }
}

fn serve(mut conn: UnixStream, waiter: Option<&Waiter>, buf: &mut [u8], out: &mut Vec<u8>) {
    loop {
        if let Some(waiter) = waiter {
            waiter.wait();
        }
        let n = match conn.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(_) => break,
        };
        let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
        if lines == 0 {
            continue;
        }
        out.clear();
        for _ in 0..lines {
            out.extend_from_slice(b"{\"return\": {}}\n");
        }
        if conn.write_all(out).is_err() {
            break;
        }
    }
}

/// An epoll instance watching one connection for input (level-triggered).
struct Waiter(i32);

impl Waiter {
    fn new(conn: &UnixStream) -> Option<Waiter> {
        conn.set_nonblocking(true).ok()?;
        // SAFETY: plain system calls on descriptors we own; `event` lives across the call.
        unsafe {
            let fd = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            let mut event = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: 0,
            };
            (fd >= 0 && libc::epoll_ctl(fd, libc::EPOLL_CTL_ADD, conn.as_raw_fd(), &mut event) == 0)
                .then_some(Waiter(fd))
        }
    }

    fn wait(&self) {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: room for one event, which the kernel may write; the descriptor is ours.
        unsafe { libc::epoll_wait(self.0, &mut event, 1, -1) };
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed once.
        unsafe { libc::close(self.0) };
    }
}
