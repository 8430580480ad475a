//! The soak of `make bench`: many mixed requests on one connection (every read-only
//! command, error replies, bad JSON, 0xFF flush bytes, a 1 MiB file write and read back,
//! guest-exec), each reply checked; the agent's RSS and open descriptors are sampled after
//! a warm-up cycle and at the end, both right after a guest-ping.

use crate::client::{Client, R, b64_decode, b64_encode, boolean, number, shorten, string};
use crate::{exec_true, fd_count, put, status_kb};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Read-only requests; their reply kind (`return` or an error class) may depend on the
/// machine (no memory blocks, no root key file), so it is learnt in the warm-up cycle and
/// must stay the same afterwards.
const READ_ONLY: &[&str] = &[
    r#"{"execute":"guest-ping"}"#,
    r#"{"execute":"guest-get-time"}"#,
    r#"{"execute":"guest-info"}"#,
    r#"{"execute":"guest-fsfreeze-status"}"#,
    r#"{"execute":"guest-network-get-interfaces"}"#,
    r#"{"execute":"guest-get-vcpus"}"#,
    r#"{"execute":"guest-get-disks"}"#,
    r#"{"execute":"guest-get-fsinfo"}"#,
    r#"{"execute":"guest-get-memory-blocks"}"#,
    r#"{"execute":"guest-get-memory-block-info"}"#,
    r#"{"execute":"guest-get-host-name"}"#,
    r#"{"execute":"guest-get-users"}"#,
    r#"{"execute":"guest-get-timezone"}"#,
    r#"{"execute":"guest-get-osinfo"}"#,
    r#"{"execute":"guest-ssh-get-authorized-keys","arguments":{"username":"root"}}"#,
    r#"{"execute":"guest-get-diskstats"}"#,
    r#"{"execute":"guest-get-cpustats"}"#,
    r#"{"execute":"guest-network-get-route"}"#,
    r#"{"execute":"guest-get-load"}"#,
];

/// Requests that must fail, with the reply's exact start.
const ERRORS: &[(&[u8], &str)] = &[
    (
        br#"{"execute":"guest-nope"}"#,
        r#"{"error": {"class": "CommandNotFound", "desc": "The command guest-nope has not been found"}}"#,
    ),
    (
        br#"{"execute":"guest-sync","arguments":{"id":"x"}}"#,
        r#"{"error": {"class": "GenericError", "desc": "Invalid parameter type for 'id', expected: integer"}}"#,
    ),
    (
        br#"{"execute":"guest-sync"}"#,
        r#"{"error": {"class": "GenericError", "desc": "Parameter 'id' is missing"}}"#,
    ),
    (
        br#"{"execute":"guest-ping","arguments":{"foo":1}}"#,
        r#"{"error": {"class": "GenericError", "desc": "Parameter 'foo' is unexpected"}}"#,
    ),
    (
        br#"{"execute":"guest-file-read","arguments":{"handle":987654321}}"#,
        r#"{"error": {"class": "GenericError""#,
    ),
    (
        br#"{"execute":tru}"#,
        r#"{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword 'tru'"}}"#,
    ),
    (
        b"@\n",
        r#"{"error": {"class": "GenericError", "desc": "JSON parse error, stray '@'"}}"#,
    ),
];

/// The first bytes of a reply that tell its kind: `{"return"` or the error class.
fn kind(line: &[u8]) -> Vec<u8> {
    let end = if line.starts_with(b"{\"return\"") {
        9
    } else {
        line.len().min(40)
    };
    line[..end].to_vec()
}

/// One request through `$s.c`, counted in `$s.sent` (a macro: the reply borrows only the
/// client, so the other fields stay usable).
macro_rules! call {
    ($s:expr, $request:expr) => {{
        $s.sent += 1;
        $s.c.call($request)?
    }};
}

struct Soak<'a> {
    c: &'a mut Client,
    sent: usize,
    kinds: HashMap<&'static str, Vec<u8>>,
    data: Vec<u8>,
    write: String,
    file: &'a Path,
    decoded: Vec<u8>,
}

impl Soak<'_> {
    fn sync(&mut self, id: usize) -> R<()> {
        let request = format!("{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{id}}}}}\n");
        let line = call!(self, request.as_bytes());
        if line != format!("{{\"return\": {id}}}").as_bytes() {
            return Err(format!("guest-sync {id}: {}", shorten(line)).into());
        }
        Ok(())
    }

    fn ping(&mut self) -> R<()> {
        let line = call!(self, b"{\"execute\":\"guest-ping\"}\n");
        if line != b"{\"return\": {}}" {
            return Err(format!("guest-ping: {}", shorten(line)).into());
        }
        Ok(())
    }

    fn cycle(&mut self, round: usize, big: bool) -> R<()> {
        for &request in READ_ONLY {
            let line = call!(self, format!("{request}\n").as_bytes());
            let got = kind(line);
            let want = self.kinds.entry(request).or_insert_with(|| got.clone());
            if *want != got {
                return Err(
                    format!("{request}: {} (earlier {})", shorten(line), shorten(want)).into(),
                );
            }
        }
        self.sync(round)?;
        let request =
            format!("{{\"execute\":\"guest-sync-delimited\",\"arguments\":{{\"id\":{round}}}}}\n");
        let line = call!(self, request.as_bytes());
        let want = [
            b"\xff".as_slice(),
            format!("{{\"return\": {round}}}").as_bytes(),
        ]
        .concat();
        if line != want {
            return Err(format!("guest-sync-delimited: {}", shorten(line)).into());
        }
        for &(request, want) in ERRORS {
            let mut request = request.to_vec();
            if !request.ends_with(b"\n") {
                request.push(b'\n');
            }
            let line = call!(self, &request);
            if !line.starts_with(want.as_bytes()) {
                return Err(format!(
                    "{}: {}",
                    String::from_utf8_lossy(&request).trim_end(),
                    shorten(line)
                )
                .into());
            }
            self.sync(round)?;
        }
        // 0xFF alone, and inside a half-sent request: silently discarded (tinyqga; qemu-ga
        // answers the first with an error), so the next reply is the sync's.
        self.c.send(b"\xff")?;
        self.c.send(b"{\"execute\":\"guest-in\xff")?;
        self.sent += 2;
        self.sync(round)?;
        if big {
            self.big_file()?;
        }
        self.sent += exec_true(self.c)?;
        self.ping()
    }

    /// 1 MiB written through guest-file-write, read back in one guest-file-read.
    fn big_file(&mut self) -> R<()> {
        let request = format!(
            "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\",\"mode\":\"w+\"}}}}\n",
            self.file.display()
        );
        let line = call!(self, request.as_bytes());
        let handle =
            number(line, "return").ok_or_else(|| format!("guest-file-open: {}", shorten(line)))?;
        let write = format!(
            "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":{handle},\"buf-b64\":\"{}\"}}}}\n",
            self.write
        );
        let line = call!(self, write.as_bytes());
        if number(line, "count") != Some(self.data.len() as u64) {
            return Err(format!("guest-file-write: {}", shorten(line)).into());
        }
        let seek = format!(
            "{{\"execute\":\"guest-file-seek\",\"arguments\":{{\"handle\":{handle},\"offset\":0,\"whence\":\"set\"}}}}\n"
        );
        let line = call!(self, seek.as_bytes());
        if number(line, "position") != Some(0) {
            return Err(format!("guest-file-seek: {}", shorten(line)).into());
        }
        let read = format!(
            "{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{handle},\"count\":{}}}}}\n",
            self.data.len()
        );
        self.sent += 1;
        let line = self.c.call(read.as_bytes())?;
        b64_decode(
            string(line, "buf-b64").ok_or("guest-file-read: no buf-b64")?,
            &mut self.decoded,
        )?;
        if self.decoded != self.data || boolean(line, "eof").is_none() {
            return Err(
                format!("guest-file-read: {} bytes back, differ", self.decoded.len()).into(),
            );
        }
        let close =
            format!("{{\"execute\":\"guest-file-close\",\"arguments\":{{\"handle\":{handle}}}}}\n");
        let line = call!(self, close.as_bytes());
        if line != b"{\"return\": {}}" {
            return Err(format!("guest-file-close: {}", shorten(line)).into());
        }
        Ok(())
    }
}

/// Cycles between two 1 MiB file round trips: with one in every cycle the soak would spend
/// most of its time in base64.
const BIG_EVERY: usize = 25;

/// `requests` mixed requests (whole cycles; the 1 MiB file round trip every `BIG_EVERY`th cycle).
pub fn soak(c: &mut Client, pid: u32, requests: usize, dir: &Path) -> R<()> {
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file = dir.join("soak-file");
    let mut s = Soak {
        c,
        sent: 0,
        kinds: HashMap::new(),
        write: b64_encode(&data),
        data,
        file: &file,
        decoded: Vec::new(),
    };
    s.cycle(0, true)?;
    let (rss0, fds0) = (status_kb(pid, "VmRSS"), fd_count(pid));
    let warm = s.sent;
    let start = Instant::now();
    let mut round = 1;
    while s.sent - warm < requests {
        s.cycle(round, round % BIG_EVERY == 0)?;
        round += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    let (rss1, fds1) = (status_kb(pid, "VmRSS"), fd_count(pid));
    let _ = std::fs::remove_file(&file);
    put("soak.requests", (s.sent - warm) as f64);
    put("soak.seconds", seconds);
    put("soak.rss_before_kB", rss0 as f64);
    put("soak.rss_after_kB", rss1 as f64);
    put("soak.fds_before", fds0 as f64);
    put("soak.fds_after", fds1 as f64);
    Ok(())
}
