//! The `isa-serial` channel, on a pseudo-terminal standing in for /dev/ttyS0, and
//! `--retry-path` waiting for a channel that appears later.

mod common;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use common::{TempDir, command};

/// Opens a pty pair: (master, path of the slave).
fn open_pty() -> (std::fs::File, String) {
    // SAFETY: plain libc calls on descriptors we own; ptsname_r writes into our buffer.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (std::fs::File::from(OwnedFd::from_raw_fd(master)), path)
    }
}

/// Reads from the pty master until `want` has been seen or `wait` passes.
fn read_until(master: &mut std::fs::File, want: &[u8], wait: Duration) -> Vec<u8> {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let fd = std::os::fd::AsRawFd::as_raw_fd(master);
    while Instant::now() < deadline && !got.windows(want.len()).any(|w| w == want) {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 100) } <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    got
}

#[test]
fn isa_serial_speaks_raw_over_a_terminal() {
    let dir = TempDir::new("isa");
    let (mut master, slave) = open_pty();
    let mut child = command(&dir)
        .args(["-m", "isa-serial", "-p", &slave])
        .spawn()
        .unwrap();
    // Like a real host: flush and resync until our own sentinel reply arrives (the agent
    // may not have opened the line yet, and it flushes pending input when it does).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    let mut synced = None;
    for id in 1.. {
        assert!(
            Instant::now() < deadline,
            "no sync reply; got {:?}",
            String::from_utf8_lossy(&seen)
        );
        let request = format!(
            "\u{ff}{{\"execute\":\"guest-sync-delimited\",\"arguments\":{{\"id\":{id}}}}}\n"
        );
        // 0xFF must go out as one raw byte, not as UTF-8.
        let request: Vec<u8> = request.chars().map(|c| c as u32 as u8).collect();
        master.write_all(&request).unwrap();
        seen.extend(read_until(&mut master, b"}\n", Duration::from_millis(300)));
        let sentinel = format!("{{\"return\": {id}}}\n");
        if let Some(at) = find(&seen, sentinel.as_bytes()) {
            synced = Some(seen.split_off(at + sentinel.len()));
            break;
        }
    }
    let mut rest = synced.unwrap();
    // Raw mode: no echo, no CR/LF translation; a request split over writes still works.
    master.write_all(b"{\"execute\":").unwrap();
    master.write_all(b"\"guest-ping\"}\n").unwrap();
    rest.extend(read_until(
        &mut master,
        b"{\"return\": {}}\n",
        Duration::from_secs(5),
    ));
    let _ = child.kill();
    let _ = child.wait();
    // Later sync replies may still arrive first; nothing else may.
    let text = String::from_utf8_lossy(&rest).replace('\u{fffd}', "");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("{\"return\": ") || l.contains("{}"))
        .collect();
    assert_eq!(lines, ["{\"return\": {}}"], "{text:?}");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn missing_channel_without_retry_path_exits_1() {
    let dir = TempDir::new("noretry");
    let sock = dir.join("missing-dir/qga.sock");
    let status = command(&dir)
        .args(["-m", "unix-listen", "-p", sock.to_str().unwrap()])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    assert!(stderr.contains("Failed to bind socket to"), "{stderr}");
}

#[test]
fn retry_path_waits_for_the_channel_to_appear() {
    let dir = TempDir::new("retry");
    let sub = dir.join("later");
    let sock = sub.join("qga.sock");
    let mut child = command(&dir)
        .args(["-m", "unix-listen", "-r", "-p", sock.to_str().unwrap()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent must keep waiting"
    );
    std::fs::create_dir(&sub).unwrap();
    // qemu-ga retries every 5 seconds.
    let deadline = Instant::now() + Duration::from_secs(12);
    while !sock.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut stream =
        std::os::unix::net::UnixStream::connect(&sock).expect("agent bound the socket");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream.write_all(b"{\"execute\":\"guest-ping\"}").unwrap();
    let mut reply = [0u8; 15];
    stream.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"{\"return\": {}}\n");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
