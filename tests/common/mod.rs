//! Shared helpers for the integration tests: temp dirs, spawning the agent (killed on drop),
//! a unix-socket client with read timeouts, running the CLI with a deadline, /proc CPU
//! accounting, a small JSON parser, base64 and loud skips (std only).
#![allow(dead_code)]

use std::ffi::OsString;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The commands this build implements, in registration order (`-b help`, `guest-info`).
pub const COMMANDS: &[&str] = &[
    "guest-sync-delimited",
    "guest-sync",
    "guest-ping",
    "guest-get-time",
    "guest-set-time",
    "guest-info",
    "guest-shutdown",
    "guest-file-open",
    "guest-file-close",
    "guest-file-read",
    "guest-file-write",
    "guest-file-seek",
    "guest-file-flush",
    "guest-fsfreeze-status",
    "guest-fsfreeze-freeze",
    "guest-fsfreeze-freeze-list",
    "guest-fsfreeze-thaw",
    "guest-fstrim",
    "guest-suspend-disk",
    "guest-suspend-ram",
    "guest-suspend-hybrid",
    "guest-network-get-interfaces",
    "guest-get-vcpus",
    "guest-set-vcpus",
    "guest-get-disks",
    "guest-get-fsinfo",
    "guest-set-user-password",
    "guest-get-memory-blocks",
    "guest-set-memory-blocks",
    "guest-get-memory-block-info",
    "guest-exec-status",
    "guest-exec",
    "guest-get-host-name",
    "guest-get-users",
    "guest-get-timezone",
    "guest-get-osinfo",
    "guest-ssh-get-authorized-keys",
    "guest-ssh-add-authorized-keys",
    "guest-ssh-remove-authorized-keys",
    "guest-get-diskstats",
    "guest-get-cpustats",
    "guest-network-get-route",
    "guest-get-load",
];

/// Default deadline for one read, one CLI run, or the socket to appear.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The agent binary: `$TINYQGA_BIN` (e.g. the release musl build) or the one cargo built.
pub fn bin() -> PathBuf {
    match std::env::var_os("TINYQGA_BIN") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_tinyqga")),
    }
}

// ---- temp dirs ----------------------------------------------------------------------------

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!(
            "tinyqga-test-{}-{}-{}",
            std::process::id(),
            name,
            n
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Writes `text` to `name` in this dir and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---- the agent process ----------------------------------------------------------------------

/// A running agent; killed (SIGKILL) and reaped on drop.
pub struct Agent {
    pub child: Child,
    pub sock: PathBuf,
    pub dir: TempDir,
}

/// A command for the agent with `QGA_CONF` pointing at a nonexistent file in `dir` and
/// stdout/stderr going to `dir/stdout` and `dir/stderr`.
pub fn command(dir: &TempDir) -> Command {
    let mut cmd = Command::new(bin());
    cmd.env("QGA_CONF", dir.join("no-such-qemu-ga.conf"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
    cmd
}

impl Agent {
    /// `tinyqga -m unix-listen -p DIR/qga.sock EXTRA...` in a fresh temp dir.
    pub fn start(name: &str, extra: &[&str]) -> Agent {
        let dir = TempDir::new(name);
        let sock = dir.join("qga.sock");
        let mut args: Vec<OsString> = vec!["-m".into(), "unix-listen".into(), "-p".into()];
        args.push(sock.clone().into());
        args.extend(extra.iter().map(OsString::from));
        let cmd = {
            let mut c = command(&dir);
            c.args(&args);
            c
        };
        Agent::spawn(dir, cmd, sock)
    }

    /// Spawns a prepared command (see [`command`]) and waits for `sock` to appear.
    pub fn spawn(dir: TempDir, mut cmd: Command, sock: PathBuf) -> Agent {
        let child = cmd.spawn().expect("spawn tinyqga");
        let mut agent = Agent { child, sock, dir };
        agent.wait_for_socket();
        agent
    }

    fn wait_for_socket(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        while !self.sock.exists() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "agent exited before creating its socket: {status}; stderr: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "socket {} did not appear within 5 s",
                self.sock.display()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(&self.sock)
    }

    pub fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    /// Waits up to `timeout` for the agent to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Panics unless the agent is still running.
    pub fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("agent died: {status}; stderr: {}", self.stderr());
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    /// user+system CPU time of the agent so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2).
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// utime+stime of `pid` from /proc/<pid>/stat.
pub fn cpu_time(pid: i32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc/pid/stat");
    // Fields after the parenthesised comm: state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields[11].parse().unwrap();
    let stime: u64 = fields[12].parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    Duration::from_millis((utime + stime) * 1000 / hz)
}

/// True while `pid` exists and is not a zombie.
pub fn process_running(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
            !rest.starts_with('Z') && !rest.starts_with('X')
        }
        Err(_) => false,
    }
}

// ---- one-shot CLI runs --------------------------------------------------------------------

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` (from [`command`]) to completion, killing it after `TIMEOUT`.
pub fn run(dir: &TempDir, mut cmd: Command) -> Output {
    let mut child = cmd.spawn().expect("spawn tinyqga");
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tinyqga {:?} did not exit within 5 s",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: std::fs::read_to_string(dir.join("stdout")).unwrap_or_default(),
        stderr: std::fs::read_to_string(dir.join("stderr")).unwrap_or_default(),
    }
}

/// `tinyqga ARGS...` in `dir` (QGA_CONF pointing nowhere), to completion.
pub fn run_args(dir: &TempDir, args: &[&str]) -> Output {
    let mut cmd = command(dir);
    cmd.args(args);
    run(dir, cmd)
}

// ---- the client -----------------------------------------------------------------------------

pub struct Conn {
    pub stream: UnixStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(path: &Path) -> Conn {
        // The socket file appears at bind(), a moment before listen(): until then a
        // connect is refused. Retry that (only that) for a while.
        let deadline = Instant::now() + TIMEOUT;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(stream) => break stream,
                Err(e) if e.kind() == ErrorKind::ConnectionRefused && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("connect to agent socket {}: {e}", path.display()),
            }
        };
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .expect("write to agent");
    }

    /// Reads one `\n`-terminated line (without the `\n`), panicking after the read timeout.
    pub fn read_line_bytes(&mut self) -> Vec<u8> {
        self.try_read_line()
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// One line, or the read error (timeout: WouldBlock/TimedOut; EOF: UnexpectedEof).
    pub fn try_read_line(&mut self) -> std::io::Result<Vec<u8>> {
        // Bytes of `buf` already searched for `\n`: multi-megabyte replies (guest-file-read,
        // guest-exec-status) arrive in many reads and are scanned once.
        let mut scanned = 0;
        loop {
            if let Some(nl) = self.buf[scanned..].iter().position(|&b| b == b'\n') {
                let rest = self.buf.split_off(scanned + nl + 1);
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.pop();
                return Ok(line);
            }
            scanned = self.buf.len();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        format!("EOF; pending {:?}", String::from_utf8_lossy(&self.buf)),
                    ));
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One line as text (replies are ASCII; anything else fails the test).
    pub fn read_line(&mut self) -> String {
        let line = self.read_line_bytes();
        assert!(line.is_ascii(), "reply is not ASCII: {line:?}");
        String::from_utf8(line).unwrap()
    }

    /// Sends `request` and returns the next reply line.
    pub fn call(&mut self, request: &str) -> String {
        self.send(request);
        self.read_line()
    }

    /// Sends guest-sync with `id` and returns every line before its reply, asserting the
    /// reply arrives. Use it to show that earlier input produced exactly these replies.
    pub fn sync_collect(&mut self, id: i64) -> Vec<String> {
        self.send(format!(
            "{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{id}}}}}"
        ));
        let want = format!("{{\"return\": {id}}}");
        let mut before = Vec::new();
        loop {
            let line = self.read_line();
            if line == want {
                return before;
            }
            before.push(line);
        }
    }

    /// Asserts nothing arrives within `wait`.
    pub fn assert_silent(&mut self, wait: Duration) {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        let got = if self.buf.is_empty() {
            self.stream.read(&mut chunk)
        } else {
            Ok(self.buf.len())
        };
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match got {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Ok(n) => panic!(
                "expected no reply, got {:?}",
                String::from_utf8_lossy(if self.buf.is_empty() {
                    &chunk[..n]
                } else {
                    &self.buf
                })
            ),
            Err(e) => panic!("expected no reply, got error {e}"),
        }
    }
}

/// `{"error": {"class": "GenericError", "desc": DESC}}` for string comparison.
pub fn generic_error(desc: &str) -> String {
    format!("{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"{desc}\"}}}}")
}

pub fn not_found_error(desc: &str) -> String {
    format!("{{\"error\": {{\"class\": \"CommandNotFound\", \"desc\": \"{desc}\"}}}}")
}

/// Deterministic pseudo-random bytes (64-bit LCG, high byte).
pub fn lcg_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

// ---- helpers of the file and exec tests ---------------------------------------------------

/// True when the agent under test is QEMU's qemu-ga rather than tinyqga: `$TINYQGA_BIN`
/// names a file called `qemu-ga*`, or `$TINYQGA_BIN_IS_QEMU_GA=1` (for a renamed copy).
/// (`guest-info` cannot tell: tinyqga reports a QEMU version too.)
pub fn testing_qemu_ga() -> bool {
    std::env::var_os("TINYQGA_BIN_IS_QEMU_GA").is_some_and(|v| v == "1")
        || bin()
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("qemu-ga"))
}

/// Says loudly on stderr that part of a test was skipped, and why. Written to the stderr
/// handle rather than with `eprintln!`, so the test harness does not capture it.
pub fn skip(what: &str) {
    let bar = "#".repeat(76);
    let _ = writeln!(std::io::stderr(), "{bar}\n## SKIPPED: {what}\n{bar}");
}

impl Agent {
    /// `AGENT -m unix-listen -p DIR/qga.sock -t STATEDIR` in a fresh temp dir, after
    /// `configure` has adjusted the command (working directory, environment, umask...).
    pub fn start_with(name: &str, statedir: &Path, configure: impl FnOnce(&mut Command)) -> Agent {
        let dir = TempDir::new(name);
        let sock = dir.join("qga.sock");
        let mut cmd = command(&dir);
        cmd.args(["-m", "unix-listen", "-p"])
            .arg(&sock)
            .arg("-t")
            .arg(statedir);
        configure(&mut cmd);
        Agent::spawn(dir, cmd, sock)
    }
}

/// `text` as a JSON string literal (`"`, `\\` and control characters escaped).
pub fn json_str(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (RFC 4648 section 4).
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (chunk[0] as u32) << 16
            | (*chunk.get(1).unwrap_or(&0) as u32) << 8
            | *chunk.get(2).unwrap_or(&0) as u32;
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63]
        } else {
            b'='
        });
    }
    String::from_utf8(out).unwrap()
}

/// Decodes padded standard base64, panicking on anything else (what agents send back must
/// be canonical).
pub fn b64_decode(text: &str) -> Vec<u8> {
    let mut value = [255u8; 256];
    for (i, &c) in B64.iter().enumerate() {
        value[c as usize] = i as u8;
    }
    let bytes = text.as_bytes();
    assert!(
        bytes.len().is_multiple_of(4),
        "base64 length {} is not a multiple of 4",
        bytes.len()
    );
    let pad = bytes.iter().rev().take_while(|&&c| c == b'=').count();
    assert!(pad <= 2, "bad base64 padding");
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks_exact(4).enumerate() {
        let (a, b, c, d) = (
            value[quad[0] as usize],
            value[quad[1] as usize],
            value[quad[2] as usize],
            value[quad[3] as usize],
        );
        if (a | b | c | d) < 64 {
            let n = (a as u32) << 18 | (b as u32) << 12 | (c as u32) << 6 | d as u32;
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            continue;
        }
        // Only the last quad may hold padding.
        let last = (i + 1) * 4 == bytes.len();
        let digits = 4 - if last { pad } else { 0 };
        let mut n = 0u32;
        for &ch in &quad[..digits] {
            let v = value[ch as usize];
            assert!(v < 64, "bad base64 character {:?} at {}", ch as char, i * 4);
            n = n << 6 | v as u32;
        }
        n <<= 6 * (4 - digits) as u32;
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..digits - 1]);
    }
    out
}

/// `value` with every object's members sorted by name, recursively: qemu-ga's member order
/// follows a hash table and is not part of the protocol.
pub fn unordered(value: Json) -> Json {
    match value {
        Json::Obj(mut members) => {
            members.sort_by(|x, y| x.0.cmp(&y.0));
            Json::Obj(
                members
                    .into_iter()
                    .map(|(k, v)| (k, unordered(v)))
                    .collect(),
            )
        }
        Json::Arr(items) => Json::Arr(items.into_iter().map(unordered).collect()),
        other => other,
    }
}

/// Asserts that the reply line `reply` is the JSON document `want`, member order aside.
#[track_caller]
pub fn assert_reply(reply: &str, want: &str) {
    assert_eq!(
        unordered(parse(reply)),
        unordered(parse(want)),
        "\n reply: {reply}\n  want: {want}"
    );
}

// ---- mini JSON ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number as written.
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    /// Members in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// `a.b.c` path lookup; panics with the document when missing.
    pub fn at(&self, path: &str) -> &Json {
        let mut cur = self;
        for key in path.split('.') {
            cur = cur
                .get(key)
                .unwrap_or_else(|| panic!("no {path:?} in {self:?}"));
        }
        cur
    }
    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("not a string: {other:?}"),
        }
    }
    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(a) => a,
            other => panic!("not an array: {other:?}"),
        }
    }
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(m) => m.iter().map(|(k, _)| k.as_str()).collect(),
            other => panic!("not an object: {other:?}"),
        }
    }
    pub fn i64(&self) -> i64 {
        match self {
            Json::Num(n) => n.parse().unwrap_or_else(|_| panic!("not an integer: {n}")),
            other => panic!("not a number: {other:?}"),
        }
    }
    pub fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("not a boolean: {other:?}"),
        }
    }
    pub fn f64(&self) -> f64 {
        match self {
            Json::Num(n) => n.parse().unwrap(),
            other => panic!("not a number: {other:?}"),
        }
    }
}

/// Parses one JSON document (strict RFC 8259), panicking with the text on error.
pub fn parse(text: &str) -> Json {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    p.value()
        .and_then(|v| {
            p.ws();
            if p.i == p.s.len() {
                Ok(v)
            } else {
                Err("trailing data".into())
            }
        })
        .unwrap_or_else(|e: String| panic!("bad JSON ({e}) at {}: {text:?}", p.i))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?}", b as char))
        }
    }
    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err("bad literal".into())
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.peek().ok_or("eof")? {
            b'{' => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.peek() == Some(b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    members.push((k, v));
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(members));
                        }
                        _ => return Err("expected , or }".into()),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b']') {
                    self.i += 1;
                    return Ok(Json::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(items));
                        }
                        _ => return Err("expected , or ]".into()),
                    }
                }
            }
            b'"' => Ok(Json::Str(self.string()?)),
            b't' => self.lit("true", Json::Bool(true)),
            b'f' => self.lit("false", Json::Bool(false)),
            b'n' => self.lit("null", Json::Null),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let n = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                n.parse::<f64>().map_err(|_| format!("bad number {n}"))?;
                Ok(Json::Num(n.to_string()))
            }
            c => Err(format!("unexpected {:?}", c as char)),
        }
    }
    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("short \\u")?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).map_err(|_| "bad \\u")?, 16)
            .map_err(|_| "bad \\u".into())
    }
    fn string(&mut self) -> Result<String, String> {
        if self.peek() != Some(b'"') {
            return Err("expected string".into());
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            let b = self.peek().ok_or("unterminated string")?;
            self.i += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => {
                    let e = self.peek().ok_or("eof in escape")?;
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut c = self.hex4()?;
                            if (0xD800..0xDC00).contains(&c) && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        }
                        _ => return Err("bad escape".into()),
                    }
                }
                b if b < 0x20 => return Err("control character in string".into()),
                _ => {
                    // Copy the whole run up to the next quote, escape or control character
                    // (at once: replies carry megabytes of base64).
                    let start = self.i - 1;
                    while self.i < self.s.len() && !matches!(self.s[self.i], b'"' | b'\\' | 0..0x20)
                    {
                        self.i += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "utf8")?);
                }
            }
        }
    }
}
