//! `--retry-path`: a channel that is not there yet is waited for (inotify on the way to
//! its path, no timer), opened when it appears, and waited for again when it goes away.
//! A pty stands in for the serial port: its slave, linked at the `-p` path.

mod common;

use common::{TempDir, command};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

const PING: &[u8] = br#"{"execute":"guest-ping"}"#;
const PONG: &str = r#"{"return": {}}"#;

/// A pty master (non-blocking) and its slave's path.
fn pty() -> (OwnedFd, String) {
    // SAFETY: plain libc calls on a descriptor this function owns; ptsname_r writes at
    // most buf.len() bytes into buf.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_str()
            .unwrap()
            .to_string();
        (OwnedFd::from_raw_fd(master), name)
    }
}

/// Sends a ping through the master until the agent answers (it makes the slave raw and
/// flushes its input when it opens it, so early bytes may be lost).
fn ping_until_answered(master: &OwnedFd, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        // SAFETY: write(2)/read(2) on our own descriptor with our own buffers.
        unsafe {
            libc::write(master.as_raw_fd(), PING.as_ptr().cast(), PING.len());
        }
        let step = Instant::now() + Duration::from_millis(300);
        while Instant::now() < step {
            let mut buf = [0u8; 512];
            // SAFETY: as above.
            let n = unsafe { libc::read(master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                seen.extend_from_slice(&buf[..n as usize]);
                if String::from_utf8_lossy(&seen)
                    .lines()
                    .any(|l| l.trim_end() == PONG)
                {
                    return true;
                }
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    false
}

struct Running(Child);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cpu_after(child: &Child, wait: Duration) -> Duration {
    let before = common::cpu_time(child.id() as i32);
    std::thread::sleep(wait);
    common::cpu_time(child.id() as i32) - before
}

fn link(target: &str, at: &Path) {
    // Made aside and renamed into place, as udev makes its links.
    let aside = at.with_extension("new");
    std::os::unix::fs::symlink(target, &aside).unwrap();
    std::fs::rename(&aside, at).unwrap();
}

#[test]
fn without_retry_path_a_missing_port_ends_the_agent() {
    let dir = TempDir::new("noretry");
    let port = dir.join("port");
    let out = common::run_args(&dir, &["-m", "isa-serial", "-p", port.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    let messages: Vec<&str> = out
        .stderr
        .lines()
        .map(|l| l.split_once(": ").unwrap().1)
        .collect();
    assert_eq!(
        messages,
        [
            format!(
                "critical: error opening channel '{}': No such file or directory",
                port.display()
            ),
            "critical: failed to create guest agent channel".into(),
            "critical: failed to initialize guest agent channel".into(),
        ]
    );
}

#[test]
fn retry_path_waits_for_the_port_without_polling_and_again_after_it_goes() {
    let dir = TempDir::new("retry");
    let sub = dir.join("not-yet");
    let port = sub.join("port");
    let log = dir.join("agent.log");
    let mut cmd = command(&dir);
    cmd.args(["-m", "isa-serial", "--retry-path", "--debug", "-p"])
        .arg(&port)
        .arg("-l")
        .arg(&log);
    let mut agent = Running(cmd.spawn().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    assert!(agent.0.try_wait().unwrap().is_none(), "the agent must wait");

    // Waiting costs nothing: no timer, no polling.
    let used = cpu_after(&agent.0, Duration::from_secs(1));
    assert!(
        used < Duration::from_millis(20),
        "waiting used {used:?} in 1 s"
    );

    // The directory appears, then the port (a link to a pty's slave) in it.
    let (master, slave) = pty();
    std::fs::create_dir(&sub).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    link(&slave, &port);
    assert!(
        ping_until_answered(&master, Duration::from_secs(3)),
        "no answer through the port; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // The port goes away (the pty's other side hangs up): the agent waits again, idle.
    drop(master);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        agent.0.try_wait().unwrap().is_none(),
        "the agent must wait again"
    );
    let used = cpu_after(&agent.0, Duration::from_secs(1));
    assert!(
        used < Duration::from_millis(20),
        "waiting again used {used:?} in 1 s"
    );

    // A new port at the same path is found.
    let (master, slave) = pty();
    link(&slave, &port);
    assert!(
        ping_until_answered(&master, Duration::from_secs(3)),
        "no answer through the second port; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("waiting for channel path..."), "{text}");
    assert!(
        text.contains("agent stopped unexpectedly, restarting..."),
        "{text}"
    );

    // Signals still work while waiting.
    drop(master);
    std::thread::sleep(Duration::from_millis(200));
    common::send_signal(agent.0.id() as i32, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(status) = agent.0.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no exit on SIGTERM while waiting"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
