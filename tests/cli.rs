//! Command line, config file, signals, pidfile, daemon and log file.

mod common;

use common::{Agent, TempDir, command, not_found_error, run, run_args, send_signal};
use std::time::{Duration, Instant};

#[test]
fn version_help_and_bad_option() {
    let dir = TempDir::new("version");
    let out = run_args(&dir, &["-V"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, "QEMU Guest Agent 10.0.0\n");

    let out = run_args(&dir, &["-h"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(out.stdout.starts_with("Usage:"), "{out:?}");
    assert!(out.stdout.contains("--block-rpcs"), "{out:?}");

    let out = run_args(&dir, &["--help", "-z"]);
    assert_eq!(out.code(), Some(0), "{out:?}");

    let out = run_args(&dir, &["-z"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("invalid option -- 'z'"), "{out:?}");
    assert!(out.stdout.contains("Unknown option"), "{out:?}");

    let out = run_args(&dir, &["--bogus"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("unrecognized option '--bogus'"),
        "{out:?}"
    );
}

#[test]
fn rpc_list_help() {
    let dir = TempDir::new("listhelp");
    for args in [["-b", "help"], ["-a", "help"], ["--block-rpcs", "?"]] {
        let out = run_args(&dir, &args);
        assert_eq!(out.code(), Some(0), "{args:?}: {out:?}");
        let names: String = common::COMMANDS.iter().map(|n| format!("{n}\n")).collect();
        assert_eq!(out.stdout, names, "{args:?}");
    }
}

#[test]
fn dump_conf_merges_config_and_command_line() {
    let dir = TempDir::new("dump");
    let cfg = dir.write("cfg", "[general]\nblock-rpcs=c\n");
    let out = run_args(
        &dir,
        &[
            "-m",
            "unix-listen",
            "-p",
            "/x",
            "-b",
            "a,b",
            "-c",
            cfg.to_str().unwrap(),
            "-D",
        ],
    );
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "[general]\ndaemon=false\nmethod=unix-listen\npath=/x\npidfile=/var/run/qemu-ga.pid\n\
         statedir=/var/run\nverbose=false\ndebug=false\nretry-path=false\nblock-rpcs=c,b,a\n\
         allow-rpcs=\n"
    );
}

#[test]
fn dump_conf_without_path_fails() {
    let dir = TempDir::new("dumpnopath");
    let out = run_args(&dir, &["-m", "unix-listen", "-D"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("must specify a path for this channel"),
        "{out:?}"
    );
}

#[test]
fn config_from_qga_conf_env() {
    let dir = TempDir::new("qgaconf");
    let cfg = dir.write(
        "env.conf",
        "[general]\nmethod=unix-listen\npath=/y\nverbose=true\n",
    );
    let mut cmd = command(&dir);
    cmd.env("QGA_CONF", &cfg).arg("-D");
    let out = run(&dir, cmd);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout.contains("\nmethod=unix-listen\npath=/y\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("\nverbose=true\n"), "{out:?}");
}

#[test]
fn config_errors() {
    let dir = TempDir::new("cfgerr");
    let missing = dir.join("missing.conf");
    let out = run_args(&dir, &["-c", missing.to_str().unwrap(), "-D"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("error loading configuration from path"),
        "{out:?}"
    );

    let bad = dir.write("bad.conf", "[general]\nverbose=maybe\n");
    let out = run_args(
        &dir,
        &[
            "-c",
            bad.to_str().unwrap(),
            "-m",
            "unix-listen",
            "-p",
            "/x",
            "-D",
        ],
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("error loading configuration from path"),
        "{out:?}"
    );

    // The same file through QGA_CONF.
    let mut cmd = command(&dir);
    cmd.env("QGA_CONF", &bad)
        .args(["-m", "unix-listen", "-p", "/x", "-D"]);
    let out = run(&dir, cmd);
    assert_eq!(out.code(), Some(1), "{out:?}");
}

#[test]
fn config_file_runs_the_agent_with_its_block_list() {
    let dir = TempDir::new("cfgrun");
    let sock = dir.join("cfg.sock");
    let cfg = dir.write(
        "agent.conf",
        &format!(
            "[general]\nmethod=unix-listen\npath={}\nblock-rpcs=guest-ping;guest-sync\n",
            sock.display()
        ),
    );
    let mut cmd = command(&dir);
    cmd.arg("-c").arg(&cfg);
    let agent = Agent::spawn(dir, cmd, sock);
    let mut c = agent.connect();
    for name in ["guest-ping", "guest-sync"] {
        assert_eq!(
            c.call(&format!(r#"{{"execute":"{name}","arguments":{{}}}}"#)),
            not_found_error(&format!(
                "Command {name} has been disabled: the command is not allowed"
            ))
        );
    }
    c.send(r#"{"execute":"guest-sync-delimited","arguments":{"id":1}}"#);
    assert_eq!(c.read_line_bytes(), b"\xff{\"return\": 1}".to_vec());
}

fn enabled_flags(reply: &str) -> Vec<(String, bool)> {
    let doc = common::parse(reply);
    doc.at("return.supported_commands")
        .arr()
        .iter()
        .map(|c| {
            let enabled = c.at("enabled") == &common::Json::Bool(true);
            (c.at("name").str().to_string(), enabled)
        })
        .collect()
}

#[test]
fn block_list_disables_a_command() {
    let agent = Agent::start("block", &["-b", "guest-ping"]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(r#"{"execute":"guest-ping"}"#),
        not_found_error("Command guest-ping has been disabled: the command is not allowed")
    );
    let flags = enabled_flags(&c.call(r#"{"execute":"guest-info"}"#));
    let expect: Vec<_> = common::COMMANDS
        .iter()
        .map(|&n| (n.to_string(), n != "guest-ping"))
        .collect();
    assert_eq!(flags, expect);
}

#[test]
fn allow_list_disables_everything_else() {
    let agent = Agent::start("allow", &["-a", "guest-ping,guest-info"]);
    let mut c = agent.connect();
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    assert_eq!(
        c.call(r#"{"execute":"guest-sync","arguments":{"id":1}}"#),
        not_found_error("Command guest-sync has been disabled: the command is not allowed")
    );
    let flags = enabled_flags(&c.call(r#"{"execute":"guest-info"}"#));
    let expect: Vec<_> = common::COMMANDS
        .iter()
        .map(|&n| (n.to_string(), n == "guest-ping" || n == "guest-info"))
        .collect();
    assert_eq!(flags, expect);
}

#[test]
fn channel_setup_errors() {
    let dir = TempDir::new("chanerr");
    let out = run_args(&dir, &["-m", "vsock-listen", "-p", "foo"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.contains("error parsing address 'foo'"),
        "{out:?}"
    );

    let out = run_args(&dir, &["-m", "bogus", "-p", "/x"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("unsupported channel method/type: bogus"),
        "{out:?}"
    );

    let nodir = dir.join("nodir/r.sock");
    let out = run_args(&dir, &["-m", "unix-listen", "-p", nodir.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("Failed to bind socket to"), "{out:?}");
}

#[test]
fn sigterm_and_sigint_exit_zero() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut agent = Agent::start("signal", &[]);
        let mut c = agent.connect();
        assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
        agent.signal(sig);
        let status = agent
            .wait_exit(Duration::from_secs(3))
            .expect("agent exits on signal");
        assert_eq!(status.code(), Some(0), "signal {sig}: {status}");
    }
}

#[test]
fn pidfile_without_daemon() {
    let dir = TempDir::new("pidfile");
    let pidfile = dir.join("qga.pid");
    let mut agent = Agent::start("pidfile", &["-f", pidfile.to_str().unwrap()]);
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pidfile written"),
        format!("{}\n", agent.pid())
    );

    // A second agent on the same pidfile fails to lock it.
    let other = TempDir::new("pidfile2");
    let sock2 = other.join("two.sock");
    let out = run_args(
        &other,
        &[
            "-m",
            "unix-listen",
            "-p",
            sock2.to_str().unwrap(),
            "-f",
            pidfile.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(out.stderr.contains("Cannot lock pid file"), "{out:?}");
    assert_eq!(
        std::fs::read_to_string(&pidfile).unwrap(),
        format!("{}\n", agent.pid()),
        "the loser must not touch the pidfile"
    );

    agent.signal(libc::SIGTERM);
    let status = agent
        .wait_exit(Duration::from_secs(3))
        .expect("agent exits");
    assert_eq!(status.code(), Some(0));
    assert!(!pidfile.exists(), "pidfile removed on SIGTERM");
}

/// Kills the daemon (by the pid it wrote) if the test ends early.
struct DaemonGuard(Option<i32>);
impl Drop for DaemonGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0
            && common::process_running(pid)
        {
            // SAFETY: plain kill(2) of the daemon this test started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

#[test]
fn daemonize_with_pidfile() {
    let dir = TempDir::new("daemon");
    let sock = dir.join("d.sock");
    let pidfile = dir.join("d.pid");
    let mut cmd = command(&dir);
    cmd.args(["-d", "-m", "unix-listen"])
        .arg("-p")
        .arg(&sock)
        .arg("-f")
        .arg(&pidfile);
    let started = Instant::now();
    let mut guard = DaemonGuard(None);
    let out = run(&dir, cmd);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let deadline = Instant::now() + Duration::from_secs(5);
    let pid = loop {
        if let Ok(text) = std::fs::read_to_string(&pidfile)
            && let Some(pid) = text.strip_suffix('\n').and_then(|p| p.parse::<i32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "daemon wrote no pidfile");
        std::thread::sleep(Duration::from_millis(10));
    };
    guard.0 = Some(pid);
    assert!(common::process_running(pid), "daemon {pid} is running");

    let mut c = common::Conn::connect(&sock);
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    drop(c);

    // The signalfd must be made after the fork: its epoll registration wakes only the
    // process that registered it (this once left a daemon deaf to SIGTERM).
    send_signal(pid, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    while pidfile.exists() || common::process_running(pid) {
        assert!(
            Instant::now() < deadline,
            "daemon did not stop and remove its pidfile within 3 s of SIGTERM \
             (running: {}, pidfile exists: {})",
            common::process_running(pid),
            pidfile.exists()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    guard.0 = None;
}

fn assert_log_format(log: &str) {
    for line in log.lines() {
        let (stamp, rest) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("line {line:?}"));
        let (secs, usecs) = stamp
            .split_once('.')
            .unwrap_or_else(|| panic!("line {line:?}"));
        assert!(
            !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()),
            "line {line:?}"
        );
        assert!(
            usecs.len() == 6 && usecs.bytes().all(|b| b.is_ascii_digit()),
            "line {line:?}"
        );
        let level = rest.split_once(": ").map(|(l, _)| l).unwrap_or("");
        assert!(
            ["error", "critical", "warning", "message", "info", "debug"].contains(&level),
            "line {line:?}"
        );
    }
}

/// One guest-ping, then SIGTERM: the agent must exit 0 within 3 s.
fn ping_then_stop(agent: &mut Agent) {
    let mut c = agent.connect();
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    drop(c);
    agent.signal(libc::SIGTERM);
    assert_eq!(
        agent.wait_exit(Duration::from_secs(3)).map(|s| s.code()),
        Some(Some(0))
    );
}

#[test]
fn logfile_with_debug() {
    let dir = TempDir::new("log");
    let log = dir.join("agent.log");
    let mut agent = Agent::start("log", &["--debug", "-l", log.to_str().unwrap()]);
    ping_then_stop(&mut agent);
    let text = std::fs::read_to_string(&log).expect("log file written");
    assert!(
        text.contains("Guest agent version 10.0.0 started"),
        "log:\n{text}"
    );
    assert!(
        text.contains("received signal num 15, quitting"),
        "log:\n{text}"
    );
    assert_log_format(&text);
}

#[test]
fn logfile_with_verbose_is_well_formed() {
    let dir = TempDir::new("logv");
    let log = dir.join("agent.log");
    let mut agent = Agent::start("logv", &["-v", "-l", log.to_str().unwrap()]);
    ping_then_stop(&mut agent);
    let text = std::fs::read_to_string(&log).expect("log file created");
    assert_log_format(&text);
}

#[test]
fn help_keeps_qemu_gas_layout() {
    let dir = TempDir::new("helptext");
    let out = run_args(&dir, &["--help"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[3], "");
    assert_eq!(
        lines[4..7],
        [
            "  -c, --config=PATH configuration file path (default is",
            "                    /etc/qemu/qemu-ga.conf",
            "                    unless overridden by the QGA_CONF environment variable)",
        ]
    );
    // Every line under the header is an option (two spaces, a dash) or its continuation
    // (twenty spaces), up to the blank line above the foot.
    let body = &lines[4..lines.len() - 3];
    for line in body {
        assert!(
            line.starts_with("  -") || line.starts_with(&" ".repeat(20)),
            "{line:?}"
        );
    }
    assert!(
        body.contains(&"                    use \"--allow-rpcs=help\" to list available RPCs)")
    );
    assert_eq!(lines[lines.len() - 3], "");
    assert!(out.stdout.ends_with("<https://qemu.org>.\n"));
}

#[test]
fn getopt_messages_name_the_whole_option() {
    let dir = TempDir::new("getoptmsg");
    for (args, message) in [
        (
            &["--d"][..],
            "option '--d' is ambiguous; possibilities: '--dump-conf' '--debug' '--daemonize'",
        ),
        (
            &["--p=1"],
            "option '--p=1' is ambiguous; possibilities: '--pidfile' '--path'",
        ),
        (&["--meth"], "option '--method' requires an argument"),
        (
            &["--verb=1"],
            "option '--verbose' doesn't allow an argument",
        ),
        (&["--bogus=1"], "unrecognized option '--bogus=1'"),
        (&["--service", "x"], "unrecognized option '--service'"),
        (&["--b"], "option '--block-rpcs' requires an argument"),
    ] {
        let out = run_args(&dir, args);
        assert_eq!(out.code(), Some(1), "{args:?}: {out:?}");
        assert!(
            out.stderr.ends_with(&format!(": {message}\n")),
            "{args:?}: {out:?}"
        );
    }
    // -s (Windows service commands) is accepted and ignored, as on Linux qemu-ga.
    let out = run_args(&dir, &["-s", "install", "-D"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
}

#[test]
fn dump_conf_writes_non_ascii_and_escapes_as_glib() {
    let dir = TempDir::new("dumputf8");
    let cfg = dir.write(
        "utf8.conf",
        "[general]\nmethod=unix-listen\npath=/tmp/caf\u{e9} \u{1f600}/qga.sock\nlogfile=\\s\\tlead\ttab\n",
    );
    let out = run_args(&dir, &["-c", cfg.to_str().unwrap(), "-D", "-b", "b,a"]);
    assert_eq!(out.code(), Some(0), "{out:?}");
    assert!(
        out.stdout
            .contains("\npath=/tmp/caf\u{e9} \u{1f600}/qga.sock\nlogfile=\\s\\tlead\ttab\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("\nblock-rpcs=a,b\n"), "{out:?}");

    let bad = dir.join("bad.conf");
    std::fs::write(&bad, b"[general]\npath=caf\xc3\xa9\xff\n").unwrap();
    let out = run_args(&dir, &["-c", bad.to_str().unwrap(), "-D"]);
    assert_eq!(out.code(), Some(1), "{out:?}");
    assert!(
        out.stderr.starts_with("\n** (process:")
            && out.stderr.ends_with(
                ", Key file contains key ?path? with value ?caf??? which is not UTF-8\n"
            ),
        "{out:?}"
    );
}

/// The records the kernel log gained from `kmsg` (opened before) on, as `(priority,
/// text)`: `/dev/kmsg` gives one record per read, `<prio>,<seq>,<usec>,<flags>;<text>`.
fn kmsg_records(kmsg: &mut std::fs::File) -> Vec<(u32, String)> {
    use std::io::Read;
    let mut records = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        match kmsg.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (head, body) = text.split_once(';').unwrap_or(("", ""));
                let prio = head.split(',').next().unwrap_or("").parse().unwrap_or(0);
                let body = body.lines().next().unwrap_or("").to_string();
                records.push((prio, body));
            }
            // EPIPE: records were overwritten meanwhile; keep reading.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
            Err(_) => break,
        }
    }
    records
}

#[test]
fn logs_to_the_kernel_log() {
    use std::io::{Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let writable = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .is_ok();
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg");
    let (true, Ok(mut kmsg)) = (writable, reader) else {
        common::skip("logs_to_the_kernel_log: /dev/kmsg is not readable and writable here");
        return;
    };
    for spelling in ["kmsg", "/dev/kmsg"] {
        kmsg.seek(SeekFrom::End(0)).unwrap();
        let mut agent = Agent::start("kmsg", &["-v", "-l", spelling]);
        ping_then_stop(&mut agent);
        assert!(agent.stderr().is_empty(), "{}", agent.stderr());
        let ours: Vec<(u32, String)> = kmsg_records(&mut kmsg)
            .into_iter()
            .filter(|(_, text)| text.starts_with("tinyqga: "))
            .collect();
        // Facility LOG_USER (1 << 3) is what the kernel gives user-space records.
        let started = "tinyqga: debug: Guest agent version 10.0.0 started";
        assert!(
            ours.iter()
                .any(|(prio, text)| *prio == 8 + 7 && text.starts_with(started)),
            "{spelling}: {ours:?}"
        );
        assert!(
            ours.contains(&(
                8 + 7,
                "tinyqga: debug: received signal num 15, quitting".into()
            )),
            "{spelling}: {ours:?}"
        );
    }
}
