//! qga-bench: drives a QEMU guest agent on a unix socket for `make bench`
//! (scripts/bench.sh). One connection, sequential round trips: a request line out, its
//! reply line in, every reply checked. Figures are printed as `key value` lines on stdout
//! (progress on stderr); `report` turns the files of several agents into one table.
//!
//! usage:
//!   qga-bench one SOCKET PID DIR SECONDS WORKLOAD  one workload: idle (RSS after a sync),
//!                                                  rt:COMMAND (round trips), read, write, exec
//!   qga-bench rt SOCKET PID COMMAND [SECONDS]      round trips of one argument-less command
//!   qga-bench pings SOCKET N                       N guest-ping round trips, nothing printed
//!   qga-bench paired COMMAND SLICES MS NAME=SOCKET...  the first agent's rate next to each
//!                                                  other's, in interleaved MS-long slices
//!   qga-bench calls SOCKET COMMAND SECONDS         median ms per call and items returned
//!   qga-bench readall FILE SECONDS                 median ms to read FILE whole (and 0)
//!   qga-bench startup SOCKET RUNS PROGRAM ARGS...  spawn to first guest-sync reply (median)
//!   qga-bench soak SOCKET PID REQUESTS DIR         mixed requests; RSS and fds before/after
//!   qga-bench report TINYQGA QEMU-GA FLOOR EPOLL-FLOOR  the table and the goals
//!   qga-bench scaling FILE                         the scaling table (lines: case agent n ms)

mod client;
mod report;
mod soak;

use client::{Client, R, b64_decode, b64_encode, boolean, expect_return, number, string};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["one", sock, pid, dir, secs, workload] => one(
            Path::new(sock),
            pid.parse().expect("PID"),
            Path::new(dir),
            seconds(Some(secs)),
            workload,
        ),
        ["rt", sock, pid, command, rest @ ..] => {
            let mut c = connect(Path::new(sock));
            rt(
                &mut c,
                pid.parse().expect("PID"),
                command,
                seconds(rest.first()),
            )
        }
        ["pings", sock, n] => pings(Path::new(sock), n.parse().expect("N")),
        ["paired", command, slices, ms, agents @ ..] => paired(
            command,
            slices.parse().expect("SLICES"),
            Duration::from_millis(ms.parse().expect("MS")),
            agents,
        ),
        ["calls", sock, command, secs] => calls(Path::new(sock), command, seconds(Some(secs))),
        ["readall", file, secs] => readall(Path::new(file), seconds(Some(secs))),
        ["startup", sock, runs, program, rest @ ..] => {
            startup(Path::new(sock), runs.parse().expect("RUNS"), program, rest)
        }
        ["soak", sock, pid, n, dir] => soak::soak(
            &mut connect(Path::new(sock)),
            pid.parse().expect("PID"),
            n.parse().expect("REQUESTS"),
            Path::new(dir),
        ),
        ["report", tq, qga, floor, epoll_floor] => report::report(tq, qga, floor, epoll_floor),
        ["scaling", file] => report::scaling(file),
        _ => {
            eprintln!("usage: see the top of bench/src/main.rs");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("qga-bench: {e}");
        std::process::exit(1);
    }
}

fn seconds(arg: Option<&&str>) -> Duration {
    Duration::from_secs_f64(arg.map_or(2.0, |s| s.parse().expect("SECONDS")))
}

fn connect(sock: &Path) -> Client {
    Client::connect(sock).unwrap_or_else(|e| {
        eprintln!("qga-bench: connect {}: {e}", sock.display());
        std::process::exit(1);
    })
}

// ---- /proc ------------------------------------------------------------------------------

/// A `kB` figure of /proc/PID/status (VmRSS, VmHWM).
pub fn status_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux >= 4.0), so the next reading is this workload's peak.
pub fn reset_peak(pid: u32) {
    if let Err(e) = std::fs::write(format!("/proc/{pid}/clear_refs"), "5") {
        eprintln!("qga-bench: cannot reset the peak RSS of {pid}: {e}");
    }
}

/// Open descriptors of `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn put(key: &str, value: f64) {
    println!("{key} {value}");
}

// ---- workloads ----------------------------------------------------------------------------

/// The argument-less read-only commands timed for round trips.
const RT_COMMANDS: &[&str] = &[
    "guest-ping",
    "guest-info",
    "guest-get-osinfo",
    "guest-network-get-interfaces",
    "guest-get-fsinfo",
    "guest-get-disks",
];

const FILE_BYTES: usize = 48 << 20;

/// One workload on a fresh connection. scripts/bench.sh runs each several times,
/// alternating between the agents, and the report keeps each agent's best run: the agents
/// then see the same background load.
fn one(sock: &Path, pid: u32, dir: &Path, secs: Duration, workload: &str) -> R<()> {
    let mut c = connect(sock);
    c.ok(b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}}\n")?;
    match workload {
        "idle" => put("idle.rss_kB", status_kb(pid, "VmRSS") as f64),
        "read" => {
            // Written and synced once, by the first round, and read by every round after
            // it: no writeback (or discard, at its removal) of 48 MiB lands in a round.
            // bench.sh removes it with its directory.
            let data = file_data();
            let path = dir.join("read-48M");
            if std::fs::read(&path).ok().as_ref() != Some(&data) {
                std::fs::write(&path, &data)?;
                std::fs::File::open(&path)?.sync_all()?;
            }
            for (name, chunk) in [
                ("read.64k", 64 << 10),
                ("read.1m", 1 << 20),
                ("read.48m", FILE_BYTES),
            ] {
                file_read(&mut c, pid, &path, chunk, &data, name)?;
            }
        }
        "write" => {
            let data = file_data();
            let path = dir.join("written");
            for (name, chunk, count) in [("write.60k", 60 << 10, 819), ("write.1m", 1 << 20, 48)] {
                file_write(&mut c, pid, &path, &data[..chunk], count, name)?;
            }
            std::fs::remove_file(&path)?;
        }
        "exec" => exec_cycles(&mut c, pid, secs)?,
        _ => match workload.strip_prefix("rt:") {
            Some(command) => rt(&mut c, pid, command, secs)?,
            None => return Err(format!("unknown workload {workload}").into()),
        },
    }
    Ok(())
}

/// The 48 MiB read back and written (pseudo-random: no run-length shortcuts).
fn file_data() -> Vec<u8> {
    (0..FILE_BYTES as u64)
        .map(|i| (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8)
        .collect()
}

/// Round trips of `command` for `secs` (at least 20) after 20 warm-up calls: rate,
/// p50/p99 latency and the agent's peak RSS meanwhile.
fn rt(c: &mut Client, pid: u32, command: &str, secs: Duration) -> R<()> {
    let request = format!("{{\"execute\":\"{command}\"}}\n");
    for _ in 0..20 {
        c.ok(request.as_bytes())?;
    }
    reset_peak(pid);
    let mut lat = Vec::with_capacity(1 << 20);
    let start = Instant::now();
    while start.elapsed() < secs || lat.len() < 20 {
        let t = Instant::now();
        let line = c.call(request.as_bytes())?;
        lat.push(t.elapsed());
        expect_return(line, request.as_bytes())?;
    }
    let total = start.elapsed();
    lat.sort();
    let key = format!("rt.{command}");
    put(
        &format!("{key}.rps"),
        lat.len() as f64 / total.as_secs_f64(),
    );
    put(&format!("{key}.p50_us"), micros(lat[lat.len() / 2]));
    put(&format!("{key}.p99_us"), micros(lat[lat.len() * 99 / 100]));
    put(&format!("{key}.peak_kB"), status_kb(pid, "VmHWM") as f64);
    eprintln!("  {command}: {} round trips", lat.len());
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn open(c: &mut Client, path: &Path, mode: &str) -> R<u64> {
    let request = format!(
        "{{\"execute\":\"guest-file-open\",\"arguments\":{{\"path\":\"{}\",\"mode\":\"{mode}\"}}}}\n",
        path.display()
    );
    let line = c.ok(request.as_bytes())?;
    number(line, "return")
        .ok_or_else(|| format!("guest-file-open: {}", client::shorten(line)).into())
}

fn close(c: &mut Client, handle: u64) -> R<()> {
    let request =
        format!("{{\"execute\":\"guest-file-close\",\"arguments\":{{\"handle\":{handle}}}}}\n");
    c.ok(request.as_bytes())?;
    Ok(())
}

/// Reads the whole file through guest-file-read in `chunk`-byte calls, decoding each
/// reply and comparing it with `data`. The clock runs over the read round trips only.
fn file_read(c: &mut Client, pid: u32, path: &Path, chunk: usize, data: &[u8], key: &str) -> R<()> {
    let handle = open(c, path, "r")?;
    reset_peak(pid);
    let request = format!(
        "{{\"execute\":\"guest-file-read\",\"arguments\":{{\"handle\":{handle},\"count\":{chunk}}}}}\n"
    );
    let (mut got, mut timed, mut decoded) = (0usize, Duration::ZERO, Vec::new());
    loop {
        let t = Instant::now();
        let line = c.call(request.as_bytes())?;
        timed += t.elapsed();
        expect_return(line, b"guest-file-read")?;
        let count = number(line, "count").ok_or("guest-file-read: no count")? as usize;
        b64_decode(
            string(line, "buf-b64").ok_or("guest-file-read: no buf-b64")?,
            &mut decoded,
        )?;
        if decoded.len() != count || data.get(got..got + count) != Some(&decoded[..]) {
            return Err(format!("guest-file-read at {got}: {count} bytes announced, {} decoded, content differs or too long", decoded.len()).into());
        }
        got += count;
        if count == 0 || boolean(line, "eof") == Some(true) {
            break;
        }
    }
    let peak = status_kb(pid, "VmHWM");
    close(c, handle)?;
    if got != data.len() {
        return Err(format!("guest-file-read: {got} bytes read, want {}", data.len()).into());
    }
    put(
        &format!("{key}.MBps"),
        got as f64 / timed.as_secs_f64() / 1e6,
    );
    put(&format!("{key}.peak_kB"), peak as f64);
    Ok(())
}

/// Writes `count` chunks of `chunk` through guest-file-write; the clock runs over the
/// write round trips only (the request is encoded once, beforehand).
fn file_write(
    c: &mut Client,
    pid: u32,
    path: &Path,
    chunk: &[u8],
    count: usize,
    key: &str,
) -> R<()> {
    let handle = open(c, path, "w")?;
    reset_peak(pid);
    let request = format!(
        "{{\"execute\":\"guest-file-write\",\"arguments\":{{\"handle\":{handle},\"buf-b64\":\"{}\"}}}}\n",
        b64_encode(chunk)
    );
    let start = Instant::now();
    for _ in 0..count {
        let line = c.call(request.as_bytes())?;
        expect_return(line, b"guest-file-write")?;
        if number(line, "count") != Some(chunk.len() as u64) {
            return Err(format!("guest-file-write: {}", client::shorten(line)).into());
        }
    }
    let timed = start.elapsed();
    let peak = status_kb(pid, "VmHWM");
    close(c, handle)?;
    let size = std::fs::metadata(path)?.len();
    if size != (chunk.len() * count) as u64 {
        return Err(format!(
            "guest-file-write: file has {size} bytes, want {}",
            chunk.len() * count
        )
        .into());
    }
    put(
        &format!("{key}.MBps"),
        size as f64 / timed.as_secs_f64() / 1e6,
    );
    put(&format!("{key}.peak_kB"), peak as f64);
    Ok(())
}

/// `guest-exec /bin/true`, then guest-exec-status until it has exited (no sleep between
/// polls), for `secs`: cycles per second.
/// Returns the number of requests it took.
pub fn exec_true(c: &mut Client) -> R<usize> {
    let line = c.ok(b"{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/true\"}}\n")?;
    let child = number(line, "pid").ok_or("guest-exec: no pid")?;
    let status =
        format!("{{\"execute\":\"guest-exec-status\",\"arguments\":{{\"pid\":{child}}}}}\n");
    let mut requests = 1;
    loop {
        let line = c.ok(status.as_bytes())?;
        requests += 1;
        if boolean(line, "exited") == Some(true) {
            if number(line, "exitcode") != Some(0) {
                return Err(format!("/bin/true: {}", client::shorten(line)).into());
            }
            return Ok(requests);
        }
    }
}

fn exec_cycles(c: &mut Client, pid: u32, secs: Duration) -> R<()> {
    for _ in 0..5 {
        exec_true(c)?;
    }
    reset_peak(pid);
    let start = Instant::now();
    let mut cycles = 0;
    while start.elapsed() < secs {
        exec_true(c)?;
        cycles += 1;
    }
    put("exec.cps", cycles as f64 / start.elapsed().as_secs_f64());
    put("exec.peak_kB", status_kb(pid, "VmHWM") as f64);
    Ok(())
}

fn pings(sock: &Path, n: usize) -> R<()> {
    let mut c = connect(sock);
    for _ in 0..n {
        c.ok(b"{\"execute\":\"guest-ping\"}\n")?;
    }
    Ok(())
}

/// Round trips of `command` to several agents at once, in `slices` rounds of one `slice`
/// each, the agents' order reversed every round. Rounds a second apart can meet different
/// machines (another guest's load, the host's frequency): two agents' best rounds then
/// compare those, not the agents. Slices next to each other meet the same machine, so the
/// first agent's rate over another's in each round, and the median of those, compares the
/// agents. Prints `paired.COMMAND.NAME ratio` for each agent after the first, and each
/// agent's median rate as `paired.COMMAND.NAME.rps`.
fn paired(command: &str, slices: usize, slice: Duration, agents: &[&str]) -> R<()> {
    let request = format!("{{\"execute\":\"{command}\"}}\n");
    let mut clients = Vec::new();
    for agent in agents {
        let (name, sock) = agent
            .split_once('=')
            .ok_or("paired: NAME=SOCKET expected")?;
        let mut c = connect(Path::new(sock));
        for _ in 0..100 {
            c.ok(request.as_bytes())?;
        }
        clients.push((name, c));
    }
    let mut rates = vec![Vec::with_capacity(slices); clients.len()];
    for round in 0..slices {
        let mut order: Vec<usize> = (0..clients.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let c = &mut clients[i].1;
            let (start, mut n) = (Instant::now(), 0u32);
            while start.elapsed() < slice {
                c.ok(request.as_bytes())?;
                n += 1;
            }
            rates[i].push(f64::from(n) / start.elapsed().as_secs_f64());
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (i, (name, _)) in clients.iter().enumerate() {
        put(
            &format!("paired.{command}.{name}.rps"),
            median(rates[i].clone()),
        );
        if i > 0 {
            let ratios = rates[0].iter().zip(&rates[i]).map(|(a, b)| a / b).collect();
            put(&format!("paired.{command}.{name}"), median(ratios));
        }
    }
    Ok(())
}

/// Calls `command` for `secs` (at least 5 times, after one warm-up call): prints the
/// median milliseconds per call and the length of the returned array.
fn calls(sock: &Path, command: &str, secs: Duration) -> R<()> {
    let mut c = connect(sock);
    let request = format!("{{\"execute\":\"{command}\"}}\n");
    let items = client::array_len(c.ok(request.as_bytes())?);
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < secs || times.len() < 5 {
        let t = Instant::now();
        c.ok(request.as_bytes())?;
        times.push(t.elapsed());
    }
    times.sort();
    println!("{} {items}", times[times.len() / 2].as_secs_f64() * 1e3);
    Ok(())
}

/// The median time to read `file` whole (the kernel's side of a command that reads it),
/// printed as `calls` prints (with 0 items).
fn readall(file: &Path, secs: Duration) -> R<()> {
    let mut buf = Vec::new();
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < secs || times.len() < 5 {
        let t = Instant::now();
        buf.clear();
        std::fs::File::open(file)?.read_to_end(&mut buf)?;
        times.push(t.elapsed());
    }
    times.sort();
    println!("{} 0", times[times.len() / 2].as_secs_f64() * 1e3);
    Ok(())
}

/// Spawns `program args` (which must listen on `sock`) `runs` times; each time, the time
/// from spawn to the reply of the first guest-sync (connecting as soon as the socket
/// accepts). Prints the median and the fastest run in ms.
fn startup(sock: &Path, runs: usize, program: &str, args: &[&str]) -> R<()> {
    let mut times = Vec::new();
    for run in 0..runs {
        let _ = std::fs::remove_file(sock);
        let start = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let result = first_sync(sock, start, run as u64);
        let _ = child.kill();
        let _ = child.wait();
        times.push(result?);
    }
    times.sort();
    put("startup.ms", times[times.len() / 2].as_secs_f64() * 1e3);
    put("startup.min_ms", times[0].as_secs_f64() * 1e3);
    Ok(())
}

fn first_sync(sock: &Path, start: Instant, id: u64) -> R<Duration> {
    let mut c = loop {
        match Client::connect(sock) {
            Ok(c) => break c,
            Err(e) if start.elapsed() > Duration::from_secs(10) => {
                return Err(format!("nothing listens on {}: {e}", sock.display()).into());
            }
            Err(_) => std::thread::sleep(Duration::from_micros(50)),
        }
    };
    let line = c.call(
        format!("{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{id}}}}}\n").as_bytes(),
    )?;
    let elapsed = start.elapsed();
    if line != format!("{{\"return\": {id}}}").as_bytes() {
        return Err(format!("guest-sync: {}", client::shorten(line)).into());
    }
    Ok(elapsed)
}
