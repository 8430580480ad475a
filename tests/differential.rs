//! tinyqga and Debian's qemu-ga side by side on this machine: the same requests to both,
//! the answers compared member by member. Values that move (the clock) are compared within a
//! tolerance; the deliberate differences listed in the README are left out.
//!
//! `make test` installs qemu-guest-agent; without it these tests say so loudly and pass.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Agent, Json, TempDir, parse};

const QEMU_GA: &str = "/usr/sbin/qemu-ga";

/// Debian's qemu-ga on a unix socket, with an empty config and its own state directory.
fn reference(name: &str) -> Option<Agent> {
    if !Path::new(QEMU_GA).exists() {
        eprintln!(
            "#### SKIPPED: {QEMU_GA} is not installed (apt-get install qemu-guest-agent) ####"
        );
        return None;
    }
    Some(spawn_reference(name, Command::new(QEMU_GA)))
}

/// Starts `cmd` (qemu-ga, perhaps behind a wrapper) on a unix socket with an empty config
/// and its own state directory.
fn spawn_reference(name: &str, mut cmd: Command) -> Agent {
    let dir = TempDir::new(name);
    let sock = dir.join("ref.sock");
    cmd.env("QGA_CONF", dir.write("qemu-ga.conf", ""))
        .args(["-m", "unix-listen", "-p"])
        .arg(&sock)
        .arg("-t")
        .arg(dir.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
    Agent::spawn(dir, cmd, sock)
}

/// Sends `request` to both agents and returns (tinyqga's reply, qemu-ga's reply).
fn both(ours: &mut common::Conn, theirs: &mut common::Conn, request: &str) -> (String, String) {
    (ours.call(request), theirs.call(request))
}

#[test]
fn error_replies_are_identical() {
    let Some(reference) = reference("diff-errors") else {
        return;
    };
    let agent = Agent::start("diff-errors", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let requests = [
        r#"[1]"#,
        r#"{}"#,
        r#"{"execute":5}"#,
        r#"{"execute":"guest-ping","arguments":[]}"#,
        r#"{"execute":"guest-ping","exec-oob":"x"}"#,
        r#"{"execute":"guest-ping","foo":1}"#,
        r#"{"execute":"guest-nope"}"#,
        r#"{"execute":"guest-nope","id":"abc"}"#,
        r#"{"execute":"gu\u00e9\ud83d\ude00"}"#,
        r#"{"execute":"guest-ping","arguments":{"foo":1}}"#,
        r#"{"execute":"guest-sync"}"#,
        r#"{"execute":"guest-sync","arguments":{"id":"a"}}"#,
        r#"{"execute":"guest-sync","arguments":{"id":1.5}}"#,
        r#"{"execute":"guest-sync","arguments":{"id":9223372036854775808}}"#,
        r#"{"execute":"guest-sync","arguments":{"id":1,"id":2}}"#,
        r#"{"execute":"guest-ping",}"#,
        r#"{"execute" "guest-ping"}"#,
        r#"{"execute":"guest-ping" "x"}"#,
        r#"{1:2}"#,
        r#"{"execute":tru}"#,
        r#"{"execute":"\x"}"#,
        r#"{"execute":"\ud800"}"#,
        r#"{'execute':'guest-sync','arguments':{'id':7},'id':[1,{"a":null}]}"#,
        r#"{"execute":"guest-ping","id":{"a":[1,"x",true]}}"#,
    ];
    for request in requests {
        let (a, b) = both(&mut ours, &mut theirs, request);
        assert_eq!(a, b, "request: {request}");
    }
}

#[test]
fn host_name_and_osinfo_are_identical() {
    let Some(reference) = reference("diff-os") else {
        return;
    };
    let agent = Agent::start("diff-os", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    for request in [
        r#"{"execute":"guest-get-host-name"}"#,
        r#"{"execute":"guest-get-osinfo"}"#,
    ] {
        let (a, b) = both(&mut ours, &mut theirs, request);
        // Member order is not part of the protocol (qemu-ga's follows a hash table).
        assert_eq!(sorted(parse(&a)), sorted(parse(&b)), "request: {request}");
    }
}

#[test]
fn get_time_agrees_within_a_second() {
    let Some(reference) = reference("diff-time") else {
        return;
    };
    let agent = Agent::start("diff-time", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let (a, b) = both(&mut ours, &mut theirs, r#"{"execute":"guest-get-time"}"#);
    let ns = |reply: &str| parse(reply).at("return").f64();
    let apart = (ns(&a) - ns(&b)).abs();
    assert!(
        apart < Duration::from_secs(1).as_nanos() as f64,
        "{a} vs {b}"
    );
}

#[test]
fn guest_info_agrees_on_the_commands_both_have() {
    let Some(reference) = reference("diff-info") else {
        return;
    };
    let agent = Agent::start("diff-info", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let (a, b) = both(&mut ours, &mut theirs, r#"{"execute":"guest-info"}"#);
    let theirs: Vec<Json> = parse(&b).at("return.supported_commands").arr().to_vec();
    for ours in parse(&a).at("return.supported_commands").arr() {
        let name = ours.at("name").str();
        match theirs.iter().find(|c| c.at("name").str() == name) {
            // Newer than qemu-ga 7.2.
            None => assert!(
                ["guest-get-load", "guest-network-get-route"].contains(&name),
                "{name}"
            ),
            Some(reference) => {
                assert_eq!(sorted(ours.clone()), sorted(reference.clone()), "{name}")
            }
        }
    }
}

/// Objects with their members sorted by name, recursively.
fn sorted(value: Json) -> Json {
    match value {
        Json::Obj(mut members) => {
            members.sort_by(|x, y| x.0.cmp(&y.0));
            Json::Obj(members.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Json::Arr(items) => Json::Arr(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[test]
fn timezone_is_identical_for_every_kind_of_tz() {
    if !Path::new(QEMU_GA).exists() {
        eprintln!("#### SKIPPED: {QEMU_GA} is not installed ####");
        return;
    }
    let zones = [
        None,
        Some("Europe/Paris"),
        Some(":America/New_York"),
        Some("Australia/Sydney"),
        Some("Asia/Kolkata"),
        Some("/usr/share/zoneinfo/America/St_Johns"),
        Some("EST5EDT,M3.2.0,M11.1.0"),
        Some("<+0530>-5:30"),
        Some("UTC0"),
        Some("No/Such_Zone"),
        Some(""),
    ];
    for tz in zones {
        fn with_tz<'c>(cmd: &'c mut Command, tz: Option<&str>) -> &'c mut Command {
            match tz {
                Some(tz) => cmd.env("TZ", tz),
                None => cmd.env_remove("TZ"),
            }
        }
        let mut cmd = Command::new(QEMU_GA);
        with_tz(&mut cmd, tz);
        let theirs = spawn_reference("tz-ref", cmd);
        let dir = TempDir::new("tz-ours");
        let sock = dir.join("qga.sock");
        let mut cmd = common::command(&dir);
        with_tz(&mut cmd, tz)
            .args(["-m", "unix-listen", "-p"])
            .arg(&sock);
        let ours = Agent::spawn(dir, cmd, sock);
        let request = r#"{"execute":"guest-get-timezone"}"#;
        let (a, b) = (ours.connect().call(request), theirs.connect().call(request));
        assert_eq!(sorted(parse(&a)), sorted(parse(&b)), "TZ={tz:?}");
    }
}

#[test]
fn users_are_identical() {
    let Some(reference) = reference("diff-users") else {
        return;
    };
    let agent = Agent::start("diff-users", &[]);
    let (a, b) = both(
        &mut agent.connect(),
        &mut reference.connect(),
        r#"{"execute":"guest-get-users"}"#,
    );
    assert_eq!(sorted(parse(&a)), sorted(parse(&b)));
}

/// A private network namespace with known interfaces (a veth pair, one end with IPv4,
/// alias and IPv6 addresses, the other with none), removed on drop.
struct NetNs(String);

impl NetNs {
    fn new(name: &str) -> Option<NetNs> {
        let ns = format!("tinyqga-{}-{name}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ok(&["netns", "add", &ns]) {
            eprintln!(
                "#### SKIPPED: cannot create a network namespace (needs root and iproute2) ####"
            );
            return None;
        }
        let netns = NetNs(ns);
        for cmd in [
            "link set lo up",
            "link add dummy0 type veth peer name dummy1",
            "addr add 10.1.0.1/24 dev dummy0",
            "addr add 10.1.1.1/16 dev dummy0 label dummy0:1",
            "addr add 10.1.2.1/32 dev dummy0 label dummy0:1",
            "-6 addr add 2001:db8::1/64 dev dummy0 nodad",
            "-6 addr add ::ffff:0:0/96 dev dummy0 nodad",
            "link set dummy0 up",
            "link set dummy1 up",
        ] {
            let mut args = vec!["-n", &netns.0];
            args.extend(cmd.split(' '));
            assert!(ok(&args), "ip {args:?}");
        }
        Some(netns)
    }

    /// `ip netns exec NS program...`
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).arg(program);
        cmd
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn network_interfaces_are_identical_in_a_known_namespace() {
    if !Path::new(QEMU_GA).exists() {
        eprintln!("#### SKIPPED: {QEMU_GA} is not installed ####");
        return;
    }
    let Some(ns) = NetNs::new("ifaces") else {
        return;
    };
    let theirs = spawn_reference("ns-ref", ns.command(Path::new(QEMU_GA)));
    let dir = TempDir::new("ns-ours");
    let sock = dir.join("qga.sock");
    let mut cmd = ns.command(&common::bin());
    cmd.env("QGA_CONF", dir.join("none"))
        .args(["-m", "unix-listen", "-p"])
        .arg(&sock);
    let ours = Agent::spawn(dir, cmd, sock);
    let request = r#"{"execute":"guest-network-get-interfaces"}"#;
    let (a, b) = (ours.connect().call(request), theirs.connect().call(request));
    // Same interfaces in the same order, same addresses in the same order; counters move
    // (IPv6 neighbour discovery runs in the namespace), so only their presence is compared.
    let ours = without_counters(sorted(parse(&a)));
    let theirs = without_counters(sorted(parse(&b)));
    assert_eq!(ours, theirs, "\nours:   {a}\ntheirs: {b}");
    let names: Vec<&str> = ours
        .at("return")
        .arr()
        .iter()
        .map(|i| i.at("name").str())
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_eq!(
        names.last(),
        Some(&"dummy0:1"),
        "aliases come after the links"
    );
}

/// `statistics` objects with every value replaced by 0.
fn without_counters(value: Json) -> Json {
    match value {
        Json::Obj(members) => Json::Obj(
            members
                .into_iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("statistics", Json::Obj(stats)) => {
                        let zeroed = stats
                            .into_iter()
                            .map(|(s, _)| (s, Json::Num("0".into())))
                            .collect();
                        (k, Json::Obj(zeroed))
                    }
                    (_, v) => (k, without_counters(v)),
                })
                .collect(),
        ),
        Json::Arr(items) => Json::Arr(items.into_iter().map(without_counters).collect()),
        other => other,
    }
}

#[test]
fn fsinfo_agrees_with_qemu_ga() {
    let Some(reference) = reference("diff-fs") else {
        return;
    };
    let agent = Agent::start("diff-fs", &[]);
    let (a, b) = both(
        &mut agent.connect(),
        &mut reference.connect(),
        r#"{"execute":"guest-get-fsinfo"}"#,
    );
    let theirs = parse(&b);
    for ours in parse(&a).at("return").arr() {
        let mountpoint = ours.at("mountpoint").str();
        let reference = theirs
            .at("return")
            .arr()
            .iter()
            .find(|fs| fs.at("mountpoint").str() == mountpoint)
            .unwrap_or_else(|| panic!("qemu-ga does not list {mountpoint}: {b}"));
        for key in ["name", "type"] {
            assert_eq!(ours.at(key), reference.at(key), "{mountpoint} {key}");
        }
        assert!((ours.at("total-bytes").f64() - reference.at("total-bytes").f64()).abs() < 256e6);
        // qemu-ga takes `serial` from udev's database, which has nothing without udevd;
        // tinyqga reads it from sysfs. Everything else of each disk must agree.
        let strip = |disks: &Json| -> Vec<Json> {
            disks
                .arr()
                .iter()
                .map(|d| match sorted(d.clone()) {
                    Json::Obj(m) => {
                        Json::Obj(m.into_iter().filter(|(k, _)| k != "serial").collect())
                    }
                    other => other,
                })
                .collect()
        };
        assert_eq!(
            strip(ours.at("disk")),
            strip(reference.at("disk")),
            "{mountpoint}"
        );
    }
}

#[test]
fn vcpus_and_memory_blocks_are_identical() {
    let Some(reference) = reference("diff-hw") else {
        return;
    };
    let agent = Agent::start("diff-hw", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    for request in [
        r#"{"execute":"guest-get-vcpus"}"#,
        r#"{"execute":"guest-get-memory-blocks"}"#,
        r#"{"execute":"guest-get-memory-block-info"}"#,
    ] {
        let (a, b) = both(&mut ours, &mut theirs, request);
        assert_eq!(sorted(parse(&a)), sorted(parse(&b)), "request: {request}");
    }
}

/// Same shape (the same entries with the same members, in the same order); counters within
/// `slack` of each other, since they move between the two readings.
fn same_shape(ours: &Json, theirs: &Json, slack: f64, at: &str) {
    match (ours, theirs) {
        (Json::Obj(a), Json::Obj(b)) => {
            let (mut a, mut b) = (a.clone(), b.clone());
            a.sort_by(|x, y| x.0.cmp(&y.0));
            b.sort_by(|x, y| x.0.cmp(&y.0));
            let keys = |m: &[(String, Json)]| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
            assert_eq!(keys(&a), keys(&b), "{at}");
            for ((k, x), (_, y)) in a.iter().zip(&b) {
                same_shape(x, y, slack, &format!("{at}.{k}"));
            }
        }
        (Json::Arr(a), Json::Arr(b)) => {
            assert_eq!(a.len(), b.len(), "{at}");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                same_shape(x, y, slack, &format!("{at}[{i}]"));
            }
        }
        (Json::Num(x), Json::Num(y)) => {
            let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
            assert!((x - y).abs() <= slack, "{at}: {x} vs {y}");
        }
        (x, y) => assert_eq!(x, y, "{at}"),
    }
}

#[test]
fn cpustats_and_diskstats_agree() {
    let Some(reference) = reference("diff-stats") else {
        return;
    };
    let agent = Agent::start("diff-stats", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let (a, b) = both(
        &mut ours,
        &mut theirs,
        r#"{"execute":"guest-get-cpustats"}"#,
    );
    // Milliseconds of CPU time: allow two seconds of drift per counter.
    same_shape(&parse(&a), &parse(&b), 2000.0, "cpustats");
    let (a, b) = both(
        &mut ours,
        &mut theirs,
        r#"{"execute":"guest-get-diskstats"}"#,
    );
    same_shape(&parse(&a), &parse(&b), 5000.0, "diskstats");
}

#[test]
fn disks_are_identical() {
    let Some(reference) = reference("diff-disks") else {
        return;
    };
    let agent = Agent::start("diff-disks", &[]);
    let (a, b) = both(
        &mut agent.connect(),
        &mut reference.connect(),
        r#"{"execute":"guest-get-disks"}"#,
    );
    // qemu-ga takes a disk's serial from udev's database, empty without udevd.
    let strip_serial = |v: Json| -> Json {
        fn walk(v: Json) -> Json {
            match v {
                Json::Obj(m) => Json::Obj(
                    m.into_iter()
                        .filter(|(k, _)| k != "serial")
                        .map(|(k, v)| (k, walk(v)))
                        .collect(),
                ),
                Json::Arr(a) => Json::Arr(a.into_iter().map(walk).collect()),
                other => other,
            }
        }
        walk(v)
    };
    assert_eq!(
        strip_serial(sorted(parse(&a))),
        strip_serial(sorted(parse(&b))),
        "\nours:   {a}\ntheirs: {b}"
    );
}
