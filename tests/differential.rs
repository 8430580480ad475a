//! tinyqga and Debian's qemu-ga side by side on this machine: the same requests to both,
//! the answers compared member by member. Values that move (the clock) are compared within a
//! tolerance; the deliberate differences listed in the README are left out.
//!
//! `make test` installs qemu-guest-agent; without it these tests say so loudly (on stderr,
//! past the harness's capture) and pass.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{Agent, Conn, Json, TempDir, b64_decode, b64_encode, json_str, parse, unordered};

const QEMU_GA: &str = "/usr/sbin/qemu-ga";

/// Debian's qemu-ga on a unix socket, with an empty config and its own state directory.
fn reference(name: &str) -> Option<Agent> {
    if !have_reference(name) {
        return None;
    }
    Some(spawn_reference(name, Command::new(QEMU_GA)))
}

/// Whether qemu-ga is installed; says loudly (past the test harness's capture) that the
/// test `name` is skipped when it is not.
fn have_reference(name: &str) -> bool {
    let there = Path::new(QEMU_GA).exists();
    if !there {
        common::skip(&format!(
            "{name}: {QEMU_GA} is not installed (make setup, or apt-get install qemu-guest-agent)"
        ));
    }
    there
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
fn both(ours: &mut Conn, theirs: &mut Conn, request: &str) -> (String, String) {
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
fn ids_at_qemus_limits_are_echoed_identically() {
    let Some(reference) = reference("diff-ids") else {
        return;
    };
    let agent = Agent::start("diff-ids", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let deep = format!("{}{}", "[".repeat(1023), "]".repeat(1023));
    let long: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
    let long = format!("[{}]", long.join(","));
    let ids = [
        deep.as_str(),
        long.as_str(),
        r#""\u00e9\ud83d\ude00 x\/\n""#,
        r#"'a"b\''"#,
        r#"[{"a":1},{"a":[{}]},"", -5, true, null]"#,
        r#"{"a":1,"a":2}"#,
        r#"{"a\u0062":1,"ab":2}"#,
        r#"[1,]"#,
    ];
    for id in ids {
        let request = format!(r#"{{"execute":"guest-ping","id":{id}}}"#);
        let (a, b) = both(&mut ours, &mut theirs, &request);
        assert_eq!(a, b, "id: {}", &id[..id.len().min(80)]);
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
    if !have_reference("timezone_is_identical_for_every_kind_of_tz") {
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
            common::skip("cannot create a network namespace (needs root and iproute2)");
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
    if !have_reference("network_interfaces_are_identical_in_a_known_namespace") {
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

/// Taken by the tests that list block devices, and by the one that adds some for a while.
static BLOCK_DEVICES: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn cpustats_and_diskstats_agree() {
    let Some(reference) = reference("diff-stats") else {
        return;
    };
    let _turn = BLOCK_DEVICES.lock().unwrap_or_else(|e| e.into_inner());
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
    let _turn = BLOCK_DEVICES.lock().unwrap_or_else(|e| e.into_inner());
    let agent = Agent::start("diff-disks", &[]);
    let (mut ours, mut theirs) = (agent.connect(), reference.connect());
    let compare = |ours: &mut Conn, theirs: &mut Conn| {
        let (a, b) = both(ours, theirs, r#"{"execute":"guest-get-disks"}"#);
        assert_eq!(
            without_serials(sorted(parse(&a))),
            without_serials(sorted(parse(&b))),
            "\nours:   {a}\ntheirs: {b}"
        );
        a
    };
    compare(&mut ours, &mut theirs);
    // A virtual disk with a size and partitions (the machine's own may have none): a loop
    // device over a 4 MiB file, given two 1 MiB partitions. Unused loop devices stay, of
    // size zero.
    let dir = TempDir::new("diff-disks-loop");
    let image = dir.join("disk.img");
    std::fs::write(&image, vec![0u8; 4 << 20]).expect("write the disk image");
    let Some(disk) = LoopDevice::attach(&image, &[(2048, 2048), (4096, 2048)]) else {
        return;
    };
    let answer = compare(&mut ours, &mut theirs);
    let name = &disk.0;
    for node in [
        format!("/dev/{name}"),
        format!("/dev/{name}p1"),
        format!("/dev/{name}p2"),
    ] {
        assert!(
            answer.contains(&format!("\"{node}\"")),
            "{node} missing: {answer}"
        );
    }
}

/// qemu-ga takes a disk's serial from udev's database, empty without udevd.
fn without_serials(v: Json) -> Json {
    match v {
        Json::Obj(m) => Json::Obj(
            m.into_iter()
                .filter(|(k, _)| k != "serial")
                .map(|(k, v)| (k, without_serials(v)))
                .collect(),
        ),
        Json::Arr(a) => Json::Arr(a.into_iter().map(without_serials).collect()),
        other => other,
    }
}

/// A loop device (its name, `loop3`) over a file; detached when dropped.
struct LoopDevice(String);

impl LoopDevice {
    /// `losetup --find --show --partscan FILE`, then `addpart` for each (start, sectors):
    /// partitions without a partition table, so that no partition format need be built
    /// into the kernel. `None`, said loudly, where that cannot be done (not root, no loop
    /// driver).
    fn attach(file: &Path, partitions: &[(u64, u64)]) -> Option<LoopDevice> {
        let out = match Command::new("losetup")
            .args(["--find", "--show", "--partscan"])
            .arg(file)
            .output()
        {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
                common::skip(&format!(
                    "diff-disks: losetup failed, no loop device: {why}"
                ));
                return None;
            }
            Err(e) => {
                common::skip(&format!("diff-disks: losetup cannot run: {e}"));
                return None;
            }
        };
        let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let disk = LoopDevice(path.trim_start_matches("/dev/").to_string());
        for (n, (start, sectors)) in partitions.iter().enumerate() {
            let status = Command::new("addpart")
                .args([
                    &path,
                    &(n + 1).to_string(),
                    &start.to_string(),
                    &sectors.to_string(),
                ])
                .status()
                .expect("run addpart");
            assert!(status.success(), "addpart {path} {}: {status}", n + 1);
        }
        Some(disk)
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup")
            .args(["--detach", &format!("/dev/{}", self.0)])
            .status();
    }
}

// ---- guest-file-* and guest-exec ---------------------------------------------------------------

/// Both agents, fresh, each with its own state directory (tinyqga's in `state`, qemu-ga's
/// in its own temp dir), and a `work` directory for the files both are asked about: paths
/// are the same for both, so are the texts that quote them.
struct Pair {
    ours: Conn,
    theirs: Conn,
    our_state: PathBuf,
    their_state: PathBuf,
    work: TempDir,
    // Dropped last: the connections go first.
    _agents: (Agent, Agent, TempDir),
}

impl Pair {
    fn new(name: &str) -> Option<Pair> {
        let reference = reference(name)?;
        let state = TempDir::new(&format!("{name}-state"));
        let ours = Agent::start_with(name, state.path(), |_| {});
        let work = TempDir::new(&format!("{name}-work"));
        Some(Pair {
            ours: ours.connect(),
            theirs: reference.connect(),
            our_state: state.path().to_path_buf(),
            their_state: reference.dir.path().to_path_buf(),
            work,
            _agents: (ours, reference, state),
        })
    }

    /// Sends `request` to both; (tinyqga's reply, qemu-ga's reply).
    fn both(&mut self, request: &str) -> (String, String) {
        both(&mut self.ours, &mut self.theirs, request)
    }

    /// Sends `request` to both and asserts the replies are the same bytes.
    #[track_caller]
    fn same(&mut self, request: &str) -> String {
        let (a, b) = self.both(request);
        assert_eq!(a, b, "request: {request}");
        a
    }

    /// Sends `request` to both and asserts the replies are the same JSON: member order aside
    /// (tinyqga writes `buf-b64` first, since it streams it; qemu-ga's order follows its
    /// QAPI visitor).
    #[track_caller]
    fn same_value(&mut self, request: &str) -> Json {
        let (a, b) = self.both(request);
        let (x, y) = (unordered(parse(&a)), unordered(parse(&b)));
        assert_eq!(x, y, "request: {request}\n ours:   {a}\n theirs: {b}");
        x
    }

    fn path(&self, name: &str) -> String {
        self.work
            .join(name)
            .to_str()
            .expect("UTF-8 path")
            .to_string()
    }

    /// The two `qga.state` files.
    fn state_files(&self) -> (String, String) {
        let read = |dir: &Path| std::fs::read_to_string(dir.join("qga.state")).unwrap_or_default();
        (read(&self.our_state), read(&self.their_state))
    }
}

fn open_request(path: &str, mode: Option<&str>) -> String {
    let mode = mode.map_or(String::new(), |m| format!(r#","mode":{}"#, json_str(m)));
    format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":{}{mode}}}}}"#,
        json_str(path)
    )
}

fn handle_request(command: &str, handle: i64, more: &str) -> String {
    format!(r#"{{"execute":"{command}","arguments":{{"handle":{handle}{more}}}}}"#)
}

fn read_request(handle: i64, count: Option<i64>) -> String {
    let count = count.map_or(String::new(), |n| format!(r#","count":{n}"#));
    handle_request("guest-file-read", handle, &count)
}

fn write_request(handle: i64, b64: &str, count: Option<i64>) -> String {
    let count = count.map_or(String::new(), |n| format!(r#","count":{n}"#));
    let more = format!(r#","buf-b64":{}{count}"#, json_str(b64));
    handle_request("guest-file-write", handle, &more)
}

fn seek_request(handle: i64, offset: i64, whence: &str) -> String {
    let more = format!(r#","offset":{offset},"whence":{whence}"#);
    handle_request("guest-file-seek", handle, &more)
}

/// The handle in an open reply.
#[track_caller]
fn handle_of(reply: &str) -> i64 {
    match parse(reply).get("return") {
        Some(handle) => handle.i64(),
        None => panic!("open failed: {reply}"),
    }
}

#[test]
fn file_errors_are_identical() {
    let Some(mut p) = Pair::new("diff-file-errors") else {
        return;
    };
    let data = p.path("data");
    std::fs::write(&data, "0123456789").unwrap();
    let dir = p.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let missing = p.path("no-dir/file");

    let mut requests = Vec::new();
    // Bad handles, for every command that takes one.
    for h in [987654321, 1000, 0, -1, i64::MIN] {
        requests.push(read_request(h, None));
        requests.push(read_request(h, Some(-1)));
        requests.push(write_request(h, "QUJD", None));
        requests.push(seek_request(h, 0, r#""set""#));
        requests.push(handle_request("guest-file-flush", h, ""));
        requests.push(handle_request("guest-file-close", h, ""));
    }
    // Bad modes (refused before the file is looked at), missing paths, directories.
    for mode in ["x", "rw", "", "R", "r+b+", "wa", "br", " r"] {
        requests.push(open_request(&data, Some(mode)));
        requests.push(open_request(&missing, Some(mode)));
    }
    for mode in [None, Some("r"), Some("w"), Some("a+"), Some("r+")] {
        requests.push(open_request(&missing, mode));
    }
    for mode in ["w", "a", "r+", "w+"] {
        requests.push(open_request(&dir, Some(mode)));
    }
    requests.push(open_request("", None));
    // Arguments refused by the schema.
    for args in [
        r#"{}"#,
        r#"{"mode":"r"}"#,
        r#"{"path":1}"#,
        r#"{"path":null}"#,
        r#"{"path":"/","mode":true}"#,
        r#"{"path":"/","flags":1}"#,
    ] {
        requests.push(format!(
            r#"{{"execute":"guest-file-open","arguments":{args}}}"#
        ));
    }
    for (command, args) in [
        ("guest-file-read", r#"{}"#),
        ("guest-file-read", r#"{"handle":"1000"}"#),
        ("guest-file-read", r#"{"handle":1.5}"#),
        ("guest-file-read", r#"{"handle":1000,"count":"1"}"#),
        ("guest-file-write", r#"{"handle":1000}"#),
        ("guest-file-write", r#"{"handle":1000,"buf-b64":5}"#),
        ("guest-file-seek", r#"{"handle":1000}"#),
        ("guest-file-seek", r#"{"handle":1000,"offset":0}"#),
        (
            "guest-file-seek",
            r#"{"handle":1000,"offset":"0","whence":0}"#,
        ),
        ("guest-file-close", r#"{"handle":true}"#),
        ("guest-file-flush", r#"{"handle":[]}"#),
    ] {
        requests.push(format!(r#"{{"execute":"{command}","arguments":{args}}}"#));
    }
    for request in &requests {
        p.same(request);
    }

    // On an open file: a directory read, bad whence, bad counts, bad base64.
    let dir_handle = handle_of(&p.same(&open_request(&dir, Some("r"))));
    p.same(&read_request(dir_handle, None));
    p.same(&handle_request("guest-file-close", dir_handle, ""));
    let h = handle_of(&p.same(&open_request(&data, Some("r+"))));
    let mut requests = Vec::new();
    for whence in [
        "3",
        "-1",
        "4096",
        r#""bogus""#,
        r#""SET""#,
        r#""""#,
        "true",
        "null",
        "1.5",
        "[0]",
    ] {
        requests.push(seek_request(h, 0, whence));
    }
    // A position before the start of the file.
    for (offset, whence) in [(-1, r#""set""#), (-100, r#""cur""#), (-11, r#""end""#)] {
        requests.push(seek_request(h, offset, whence));
    }
    for count in [-1, 50331649, i64::MIN, i64::MAX] {
        requests.push(read_request(h, Some(count)));
    }
    for count in [7, 1000, -1, i64::MIN] {
        requests.push(write_request(h, "QUJDREVG", Some(count)));
    }
    for bad in [
        "@@@@",
        "QU JD",
        "QUJD!",
        "QUJD\t",
        "QUJD\r\n",
        "QU-_",
        "é",
        "QUJD=\u{1}",
        "QUJD\0",
        "\0QUJD",
    ] {
        requests.push(write_request(h, bad, None));
        requests.push(write_request(h, bad, Some(0)));
    }
    for request in &requests {
        p.same(request);
    }
    // None of it moved the position or wrote anything.
    p.same_value(&seek_request(h, 0, r#""cur""#));
    p.same(&handle_request("guest-file-close", h, ""));
    assert_eq!(std::fs::read(&data).unwrap(), b"0123456789");
    let (ours, theirs) = p.state_files();
    assert_eq!(ours, theirs, "qga.state");
}

#[test]
fn file_round_trips_are_identical() {
    let Some(mut p) = Pair::new("diff-file-round-trips") else {
        return;
    };
    // Both write the state file at start (once a reply came, it is there); both count
    // from the same first handle.
    p.same(r#"{"execute":"guest-ping"}"#);
    let (ours, theirs) = p.state_files();
    assert_eq!(ours, theirs, "qga.state at start");

    // The same data through each agent into its own file, then read back in the same
    // steps: every reply (handles included: both count from 1000) must agree.
    let data: Vec<u8> = (0..=255u8).chain(common::lcg_bytes(3, 5000)).collect();
    let files = [p.path("ours"), p.path("theirs")];
    let opened = (
        p.ours.call(&open_request(&files[0], Some("w+"))),
        p.theirs.call(&open_request(&files[1], Some("w+"))),
    );
    assert_eq!(opened.0, opened.1);
    let h = handle_of(&opened.0);
    for chunk in data.chunks(1000) {
        p.same(&write_request(h, &b64_encode(chunk), None));
    }
    // count takes a prefix of the decoded bytes.
    p.same(&write_request(h, &b64_encode(b"ABCDEF"), Some(2)));
    p.same(&write_request(h, "", None));
    // GLib's lenient decoding of odd but valid characters: newlines skipped, an
    // incomplete last group dropped, padding inside the text.
    for odd in ["QUJD\nREVG\n", "QUJDRA", "Zg==Zm9v", "QQ", "\n"] {
        p.same(&write_request(h, odd, None));
    }
    for (offset, whence) in [
        (0, r#""cur""#),
        (0, "0"),
        (3, r#""set""#),
        (5, "1"),
        (-10, r#""end""#),
        (0, "2"),
        (10, r#""end""#),
    ] {
        p.same_value(&seek_request(h, offset, whence));
    }
    p.same(&write_request(h, &b64_encode(b"past the end"), None));
    p.same_value(&seek_request(h, 0, r#""set""#));
    // Reads in steps, through the end and past it: the same bytes, counts and eof flags.
    for count in [
        Some(1),
        Some(0),
        Some(100),
        None,
        Some(1000),
        Some(2000),
        Some(5000),
        Some(1),
        None,
    ] {
        p.same_value(&read_request(h, count));
    }
    p.same_value(&seek_request(h, -7, "2"));
    p.same_value(&read_request(h, Some(7)));
    p.same_value(&read_request(h, Some(1)));
    p.same(&handle_request("guest-file-flush", h, ""));
    p.same(&handle_request("guest-file-close", h, ""));
    p.same(&handle_request("guest-file-close", h, ""));
    let written = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    assert!(written.0 == written.1, "the two files differ");

    // Reading and writing in turns on a file both open read-write: stdio's rules (a write
    // after a read goes where the read stopped; a read after a write starts where it ended).
    for file in &files {
        std::fs::write(file, "0123456789").unwrap();
    }
    let opened = (
        p.ours.call(&open_request(&files[0], Some("r+"))),
        p.theirs.call(&open_request(&files[1], Some("r+"))),
    );
    assert_eq!(opened.0, opened.1);
    let h = handle_of(&opened.0);
    p.same_value(&read_request(h, Some(4)));
    p.same(&write_request(h, &b64_encode(b"AB"), None));
    p.same_value(&seek_request(h, 0, r#""cur""#));
    p.same_value(&read_request(h, Some(2)));
    p.same_value(&read_request(h, None));
    p.same_value(&read_request(h, None));
    p.same(&write_request(h, &b64_encode(b"end"), None));
    p.same_value(&seek_request(h, 0, r#""cur""#));
    p.same(&handle_request("guest-file-close", h, ""));
    let written = (
        std::fs::read(&files[0]).unwrap(),
        std::fs::read(&files[1]).unwrap(),
    );
    assert_eq!(written.0, written.1);

    // Every mode on an existing file: the handle, the first read or write, the position.
    for mode in ["r", "rb", "w", "a", "ab", "r+", "w+", "a+", "a+b"] {
        for file in &files {
            std::fs::write(file, "hello").unwrap();
        }
        let opened = (
            p.ours.call(&open_request(&files[0], Some(mode))),
            p.theirs.call(&open_request(&files[1], Some(mode))),
        );
        assert_eq!(opened.0, opened.1, "mode {mode}");
        let h = handle_of(&opened.0);
        p.same_value(&read_request(h, None));
        p.same(&write_request(h, &b64_encode(b"XY"), None));
        p.same_value(&seek_request(h, 0, r#""cur""#));
        p.same_value(&seek_request(h, 0, r#""set""#));
        p.same_value(&read_request(h, None));
        p.same(&handle_request("guest-file-close", h, ""));
        let written = (
            std::fs::read(&files[0]).unwrap(),
            std::fs::read(&files[1]).unwrap(),
        );
        assert_eq!(written.0, written.1, "mode {mode}");
    }

    // The counter file after all those opens: the same text.
    let (ours, theirs) = p.state_files();
    assert_eq!(ours, theirs, "qga.state after the opens");
    assert!(ours.contains("fd_counter=1011"), "{ours}");
}

/// Starts `args` (the inside of guest-exec's arguments) on both agents; the two pids.
#[track_caller]
fn exec_both(p: &mut Pair, args: &str) -> (i64, i64) {
    let request = format!(r#"{{"execute":"guest-exec","arguments":{{{args}}}}}"#);
    let (a, b) = p.both(&request);
    let pid = |reply: &str| -> i64 {
        let value = parse(reply);
        match value.get("return") {
            // The pid is the only member; its value is the child's, so it differs.
            Some(ret) if ret.keys() == ["pid"] => ret.at("pid").i64(),
            _ => panic!("guest-exec {args}: {reply}"),
        }
    };
    (pid(&a), pid(&b))
}

/// Polls `guest-exec-status` until the child is reported as exited (every reply before must
/// be exactly `{"exited": false}`), for at most 10 s.
#[track_caller]
fn exited_status(c: &mut Conn, pid: i64) -> Json {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let request = format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#);
    loop {
        let reply = c.call(&request);
        if reply != r#"{"return": {"exited": false}}"# {
            return unordered(parse(&reply));
        }
        assert!(
            std::time::Instant::now() < deadline,
            "child {pid} not reported as exited within 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The two agents' final statuses of `args`, which must be the same (the decoded output
/// is shown when they are not).
#[track_caller]
fn same_exit(p: &mut Pair, args: &str) -> Json {
    let (a, b) = exec_both(p, args);
    let (x, y) = (
        exited_status(&mut p.ours, a),
        exited_status(&mut p.theirs, b),
    );
    let shown = |s: &Json| {
        let data = |m: &str| s.at("return").get(m).map(|d| b64_decode(d.str()));
        format!(
            "{s:?} out={:?} err={:?}",
            data("out-data").map(|d| String::from_utf8_lossy(&d).into_owned()),
            data("err-data").map(|d| String::from_utf8_lossy(&d).into_owned())
        )
    };
    assert_eq!(
        x,
        y,
        "guest-exec {args}\n ours:   {}\n theirs: {}",
        shown(&x),
        shown(&y)
    );
    x
}

fn argv(path: &str, args: &[&str]) -> String {
    let list: Vec<String> = args.iter().map(|a| json_str(a)).collect();
    format!(r#""path":{},"arg":[{}]"#, json_str(path), list.join(","))
}

/// qemu-ga before 9.1 wraps GLib's text of a failed spawn as `Guest agent command failed,
/// error was '<text>'` (9.1 dropped the wrapper: "qga: Shorten several error messages");
/// tinyqga gives the bare text, as 9.1 and later do. Unwrapped, the texts must agree.
fn unwrapped(reply: &str) -> String {
    let value = parse(reply);
    let desc = value.at("error.desc").str();
    let inner = desc
        .strip_prefix("Guest agent command failed, error was '")
        .and_then(|d| d.strip_suffix('\''))
        .unwrap_or(desc);
    format!("{} / {inner}", value.at("error.class").str())
}

#[test]
fn exec_statuses_are_identical() {
    let Some(mut p) = Pair::new("diff-exec") else {
        return;
    };
    // qemu-ga 7.2 takes a boolean capture-output only (the modes came in 8.0), so only
    // booleans are compared here.
    let cases = [
        argv("true", &[]),
        argv("false", &[]),
        format!(r#"{},"capture-output":false"#, argv("/bin/false", &[])),
        format!(
            r#"{},"capture-output":true"#,
            argv("sh", &["-c", "echo out; echo err >&2; exit 3"])
        ),
        // Not captured: nothing is reported, whatever the program prints.
        argv("sh", &["-c", "echo out; echo err >&2; exit 3"]),
        format!(
            r#"{},"capture-output":true"#,
            argv("sh", &["-c", "exit 255"])
        ),
        format!(
            r#"{},"capture-output":true"#,
            argv("sh", &["-c", "printf '\\000\\377\\n'; printf x >&2"])
        ),
        format!(
            r#"{},"capture-output":true"#,
            argv("sh", &["-c", "kill -SEGV $$"])
        ),
        // input-data on stdin, the output as it came.
        format!(
            r#"{},"input-data":"{}","capture-output":true"#,
            argv("cat", &[]),
            b64_encode(&(0..=255u8).cycle().take(3000).collect::<Vec<_>>())
        ),
        format!(
            r#"{},"input-data":"","capture-output":true"#,
            argv("cat", &[])
        ),
        // GLib decodes input-data as leniently as file writes.
        format!(
            r#"{},"input-data":"QUJD\nREVG\nRw","capture-output":true"#,
            argv("cat", &[])
        ),
        // The environment given replaces the agent's.
        format!(
            r#"{},"env":["A=1","B=two words","EMPTY="],"capture-output":true"#,
            argv("env", &[])
        ),
        format!(
            r#"{},"env":[],"capture-output":true"#,
            argv("/usr/bin/env", &[])
        ),
        // argv passed verbatim, argv[0] the path as given.
        format!(
            r#"{},"capture-output":true"#,
            argv(
                "sh",
                &[
                    "-c",
                    r#"for a; do printf '[%s]' "$a"; done; cat /proc/self/cmdline"#,
                    "zero",
                    "a b",
                    "",
                    "é 😀",
                    "new\nline"
                ]
            )
        ),
    ];
    for args in &cases {
        same_exit(&mut p, args);
    }

    // Killed from outside by SIGTERM.
    let (a, b) = exec_both(&mut p, &argv("sleep", &["5"]));
    common::send_signal(a as i32, 15);
    common::send_signal(b as i32, 15);
    let (x, y) = (
        exited_status(&mut p.ours, a),
        exited_status(&mut p.theirs, b),
    );
    assert_eq!(x, y);
    assert_eq!(x.at("return").get("signal"), Some(&Json::Num("15".into())));

    // The record is gone once the exit was reported.
    let status =
        |pid: i64| format!(r#"{{"execute":"guest-exec-status","arguments":{{"pid":{pid}}}}}"#);
    let (x, y) = (p.ours.call(&status(a)), p.theirs.call(&status(b)));
    assert_eq!(x, y);
    for pid in [987654321, 0, -1] {
        p.same(&status(pid));
    }
}

#[test]
fn exec_errors_are_identical() {
    let Some(mut p) = Pair::new("diff-exec-errors") else {
        return;
    };
    // Refused before anything is started: the same bytes.
    for args in [
        r#"{}"#.to_string(),
        r#"{"arg":["x"]}"#.to_string(),
        r#"{"path":5}"#.to_string(),
        r#"{"path":"true","arg":"x"}"#.to_string(),
        r#"{"path":"true","arg":[1]}"#.to_string(),
        r#"{"path":"true","arg":["a",null]}"#.to_string(),
        r#"{"path":"true","env":{}}"#.to_string(),
        r#"{"path":"true","input-data":7}"#.to_string(),
        r#"{"path":"true","timeout":1}"#.to_string(),
        format!(r#"{{{},"input-data":"@@@@"}}"#, argv("cat", &[])),
        format!(r#"{{{},"input-data":"QUJD é"}}"#, argv("cat", &[])),
    ] {
        p.same(&format!(r#"{{"execute":"guest-exec","arguments":{args}}}"#));
    }
    for args in [
        r#"{}"#,
        r#"{"pid":"1"}"#,
        r#"{"pid":1.5}"#,
        r#"{"pid":1,"x":1}"#,
    ] {
        p.same(&format!(
            r#"{{"execute":"guest-exec-status","arguments":{args}}}"#
        ));
    }
    // Programs that cannot be started: GLib's texts, once 7.2's wrapper is taken off.
    for args in [
        argv("/nonexistent", &[]),
        argv("qga-no-such-program", &[]),
        argv("/", &[]),
        format!(r#"{},"capture-output":true"#, argv("/nonexistent", &[])),
        format!(
            r#"{},"env":["PATH=/nonexistent"]"#,
            argv("qga-no-such-program", &[])
        ),
    ] {
        let (a, b) = p.both(&format!(
            r#"{{"execute":"guest-exec","arguments":{{{args}}}}}"#
        ));
        assert_eq!(
            unwrapped(&a),
            unwrapped(&b),
            "guest-exec {args}\n ours:   {a}\n theirs: {b}"
        );
    }
    // capture-output is the GuestExecCaptureOutput alternate in tinyqga (a boolean or a
    // mode, as in qemu-ga 8.0 and later); qemu-ga 7.2 has the boolean only. So a mode is
    // refused by 7.2 and a wrong type is named differently: each side is checked on its
    // own, not compared.
    let request = |capture: &str| {
        format!(
            r#"{{"execute":"guest-exec","arguments":{{{},"capture-output":{capture}}}}}"#,
            argv("true", &[])
        )
    };
    let before_8 = version(&mut p.theirs).0 < 8;
    let (a, b) = p.both(&request(r#""merged""#));
    let pid = parse(&a).at("return.pid").i64();
    exited_status(&mut p.ours, pid);
    if before_8 {
        assert_eq!(
            b,
            generic("Invalid parameter type for 'capture-output', expected: boolean")
        );
    } else {
        let pid = parse(&b).at("return.pid").i64();
        exited_status(&mut p.theirs, pid);
    }
    let (a, b) = p.both(&request("null"));
    assert_eq!(
        a,
        generic("Invalid parameter type for 'capture-output', expected: GuestExecCaptureOutput")
    );
    if before_8 {
        assert_eq!(
            b,
            generic("Invalid parameter type for 'capture-output', expected: boolean")
        );
    } else {
        assert_eq!(a, b);
    }
}

/// The agent's version from `guest-info`, as (major, minor).
fn version(c: &mut Conn) -> (u32, u32) {
    let info = parse(&c.call(r#"{"execute":"guest-info"}"#));
    let mut parts = info.at("return.version").str().split('.');
    let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (next(), next())
}

fn generic(desc: &str) -> String {
    common::generic_error(desc)
}

// ---- the command line ---------------------------------------------------------------------

/// Runs `program` as `qemu-ga` (argv[0]) with `args`, `QGA_CONF` set to `conf`, in `dir`.
fn run_as_qemu_ga(dir: &TempDir, program: &Path, conf: &Path, args: &[&str]) -> common::Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.arg0("qemu-ga")
        .env("QGA_CONF", conf)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap());
    common::run(dir, cmd)
}

/// Both programs' output for the same arguments: (tinyqga's, qemu-ga's).
fn cli_both(dir: &TempDir, conf: &Path, args: &[&str]) -> (common::Output, common::Output) {
    (
        run_as_qemu_ga(dir, &common::bin(), conf, args),
        run_as_qemu_ga(dir, Path::new(QEMU_GA), conf, args),
    )
}

/// What moves between runs: log time stamps (`1700000000.123456: `), GLib's
/// `(process:PID)` and its local time of day (`hh:mm:ss.mmm: `).
fn without_stamps(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = match line.split_once(": ") {
                Some((stamp, rest))
                    if stamp.len() > 7
                        && stamp.bytes().all(|b| b.is_ascii_digit() || b == b'.') =>
                {
                    format!("STAMP: {rest}")
                }
                _ => line.to_string(),
            };
            match line.strip_prefix("** (process:") {
                Some(rest) => {
                    let (_, rest) = rest.split_once("): CRITICAL **: ").expect(&line);
                    let (_, message) = rest.split_once(": ").expect(&line);
                    format!("** (process:PID): CRITICAL **: TIME: {message}")
                }
                None => line,
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// qemu-ga 7.2's help, option by option: each block starts at a `  -x` line.
fn help_blocks(help: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    for line in help.lines() {
        if line.starts_with("  -") {
            let key = line.split_whitespace().next().unwrap().to_string();
            blocks.push((key, String::new()));
        } else if line.is_empty() || !line.starts_with("    ") {
            continue;
        }
        if let Some((_, text)) = blocks.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    blocks
}

#[test]
fn help_matches_qemu_ga_line_for_line() {
    if !have_reference("diff-help") {
        return;
    }
    let dir = TempDir::new("diff-help");
    let conf = dir.join("none.conf");
    let (ours, theirs) = cli_both(&dir, &conf, &["--help"]);
    assert_eq!(ours.code(), Some(0), "{ours:?}");
    assert_eq!(theirs.code(), Some(0), "{theirs:?}");
    assert!(ours.stderr.is_empty() && theirs.stderr.is_empty());
    let (a, b): (Vec<&str>, Vec<&str>) = (
        ours.stdout.lines().collect(),
        theirs.stdout.lines().collect(),
    );
    // The usage line, the blank line under the header and the one above the foot.
    assert_eq!(a[0], b[0]);
    assert_eq!(a[0], "Usage: qemu-ga [-m <method> -p <path>] [<options>]");
    assert!(a[1].starts_with("QEMU Guest Agent ") && b[1].starts_with("QEMU Guest Agent "));
    assert_eq!((a[3], b[3]), ("", ""));
    assert_eq!((a[a.len() - 3], b[b.len() - 3]), ("", ""));
    assert_eq!(a[a.len() - 1], b[b.len() - 1], "the last line");
    // Every option block qemu-ga 7.2 prints, byte for byte and in the same order, but for
    // -b, whose hint QEMU 8.2 changed to "--block-rpcs=help"; tinyqga adds only the
    // options 7.2 lacks (-c since 8.0, -a since 8.1).
    let (ours, theirs) = (help_blocks(&ours.stdout), help_blocks(&theirs.stdout));
    let extra: Vec<&str> = ours
        .iter()
        .filter(|(k, _)| !theirs.iter().any(|(t, _)| t == k))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(extra, ["-c,", "-a,"]);
    let shared: Vec<&(String, String)> = ours
        .iter()
        .filter(|(k, _)| !extra.contains(&k.as_str()))
        .collect();
    assert_eq!(shared.len(), theirs.len());
    for ((key, text), (their_key, their_text)) in shared.into_iter().zip(&theirs) {
        assert_eq!(key, their_key, "option order");
        if key == "-b," {
            assert_eq!(
                text.replace("\"--block-rpcs=help\"", "\"help\""),
                *their_text
            );
        } else {
            assert_eq!(text, their_text, "the {key} block");
        }
    }
}

#[test]
fn bad_options_fail_as_in_qemu_ga() {
    if !have_reference("diff-badopts") {
        return;
    }
    let dir = TempDir::new("diff-badopts");
    let conf = dir.join("none.conf");
    let cases: &[&[&str]] = &[
        &["-z"],
        &["-vz"],
        &["-Dz"],
        &["--bogus"],
        &["--bogus=1"],
        &["---x"],
        &["--service", "x"],
        &["-m"],
        &["-p"],
        &["-l"],
        &["-f"],
        &["-t"],
        &["-b"],
        &["-Dm"],
        &["--method"],
        &["--meth"],
        &["--pid"],
        &["--b"],
        &["--bl"],
        &["--s"],
        &["--p"],
        &["--p=x"],
        &["--verbose=1"],
        &["--verb=1"],
        &["--help=x"],
        &["--retry-path=1"],
        &["--dump-conf=yes"],
        &["-z", "-h"],
        &["-m", "bogus", "-p", "/x"],
        &["-m", "b\u{e9}", "-p", "/x"],
        &["-m", "unix-listen"],
        &["-m", "unix-listen", "-D"],
        &["-m", "vsock-listen"],
        &["-m", "vsock-listen", "-p", "foo"],
        &["-m", "vsock-listen", "-p", "1:x"],
        &["-m", "vsock-listen", "-p", "x:1"],
        &["-m", "vsock-listen", "-p", ":1"],
        &["-m", "vsock-listen", "-p", "1:2,3"],
        &["-m", "vsock-listen", "-p", "0x10:2"],
        &["-m", "vsock-listen", "-p", "1:4294967296"],
        &["-m", "vsock-listen", "-p", "1:2 "],
        &[
            "-m",
            "vsock-listen",
            "-p",
            "123456789012345678901234567890123:1",
        ],
        &["-m", "unix-listen", "-p", "/nonexistent-dir/qga.sock"],
        &["-m", "isa-serial", "-p", "/nonexistent-dir/ttyS9"],
        &["-p", "/nonexistent-dir/vport9p9"],
    ];
    for args in cases {
        let (ours, theirs) = cli_both(&dir, &conf, args);
        assert_eq!(
            ours.code(),
            theirs.code(),
            "{args:?}: {ours:?} vs {theirs:?}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(
            without_stamps(&ours.stderr),
            without_stamps(&theirs.stderr),
            "{args:?}"
        );
    }
}

#[test]
fn config_errors_match_qemu_ga() {
    if !have_reference("diff-conferr") {
        return;
    }
    let dir = TempDir::new("diff-conferr");
    let cases: &[&[u8]] = &[
        b"[general]\nverbose=maybe\n",
        b"[general]\ndaemon=\n",
        b"[general\n",
        b"method=unix-listen\n",
        b"[general]\njunk\n",
        b"[general]\npath=a\xffb\n",
        b"[general]\nlogfile=caf\xc3\xa9\xff\n",
    ];
    for text in cases {
        let conf = dir.join("bad.conf");
        std::fs::write(&conf, text).unwrap();
        let (ours, theirs) = cli_both(&dir, &conf, &["-D"]);
        let shown = String::from_utf8_lossy(text);
        assert_eq!(ours.code(), Some(1), "{shown}: {ours:?}");
        assert_eq!(ours.code(), theirs.code(), "{shown}: {theirs:?}");
        assert_eq!(ours.stdout, theirs.stdout, "{shown}");
        assert_eq!(
            without_stamps(&ours.stderr),
            without_stamps(&theirs.stderr),
            "{shown}"
        );
    }
    // A directory, and a missing file named on the command line would be -c, which 7.2
    // lacks: QGA_CONF naming a directory fails alike.
    let (ours, theirs) = cli_both(&dir, dir.path(), &["-D"]);
    assert_eq!(
        (ours.code(), ours.stdout.as_str()),
        (theirs.code(), theirs.stdout.as_str())
    );
    assert_eq!(without_stamps(&ours.stderr), without_stamps(&theirs.stderr));
}

/// tinyqga's -D without the keys qemu-ga 7.2 does not have (`debug`, newer than 7.2, and
/// `allow-rpcs`, 8.1).
fn as_7_2(dump: &str) -> String {
    dump.lines()
        .filter(|l| !l.starts_with("debug=") && !l.starts_with("allow-rpcs="))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn dump_conf_matches_qemu_ga_with_lists_escapes_and_non_ascii() {
    if !have_reference("diff-dump") {
        return;
    }
    let dir = TempDir::new("diff-dump");
    let conf = dir.join("qemu-ga.conf");
    let configs: &[&[u8]] = &[
        b"",
        b"# a comment\n[general]\ndaemon=false\nmethod=unix-listen\npath=/tmp/caf\xc3\xa9 dir/qga.sock\n\
          logfile=/var/log/journ\xc3\xa9e \xe2\x82\xac.log\npidfile=/run/p\xc3\xafd\n\
          fsfreeze-hook=/etc/h\xc3\xb6\xc3\xb6k\nstatedir=/var/\xc3\xa9tat\nverbose=true\n\
          retry-path=true\nblock-rpcs=guest-ping,guest-get-time,guest-exec\n[other]\npath=x\n",
        b"[general]\npath=\\t\\s\\tx\\ty \\s z\\n\\r\nstatedir=  lead\nlogfile=a\\\\b#c\n",
        b"[general]\npath=\\n\\sx\npidfile=\\\\\\sx\nblock-rpcs=a,,b;c\nmethod = isa-serial \n",
        b"[general]\ndaemon=true\nverbose=false\nretry-path=0\nblock-rpcs=\n",
        b"[general]\nfsfreeze-hook=\n",
    ];
    let arg_sets: &[&[&str]] = &[
        &["-D"],
        &["-D", "-b", "guest-info,guest-sync", "-b", "", "-b", "x"],
        &[
            "-D",
            "-m",
            "unix-listen",
            "-p",
            "/r\u{e9}p/s",
            "-v",
            "-r",
            "-F",
            "-f",
            "/p\u{f6}d",
        ],
        &[
            "-D",
            "-F/h\u{f6}\u{f6}k",
            "--statedir",
            "/\u{1f600}",
            "-d",
            "-l",
            "\t/x",
        ],
        &["-D", "--fsfreeze-hook=", "--logfile= lead"],
        &["x", "-D", "-", "y"],
    ];
    for text in configs {
        std::fs::write(&conf, text).unwrap();
        for args in arg_sets {
            let (ours, theirs) = cli_both(&dir, &conf, args);
            let shown = String::from_utf8_lossy(text);
            assert_eq!(theirs.code(), Some(0), "{shown} {args:?}: {theirs:?}");
            assert_eq!(ours.code(), Some(0), "{shown} {args:?}: {ours:?}");
            assert_eq!(as_7_2(&ours.stdout), theirs.stdout, "{shown} {args:?}");
            assert_eq!(ours.stderr, theirs.stderr, "{shown} {args:?}");
        }
    }
}
