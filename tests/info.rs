//! Read-only guest information commands, each compared with what the test machine says
//! when asked independently (libc, /proc, the clock).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Agent, parse};

fn agent(name: &str) -> Agent {
    Agent::start(name, &[])
}

/// The `return` member of a reply, parsed.
fn ret(reply: &str) -> common::Json {
    parse(reply).at("return").clone()
}

#[test]
fn get_time_is_the_wall_clock_in_nanoseconds() {
    let a = agent("time");
    let mut c = a.connect();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let reply = c.call(r#"{"execute":"guest-get-time"}"#);
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let ns: i128 = reply
        .strip_prefix(r#"{"return": "#)
        .and_then(|r| r.strip_suffix('}'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"));
    // qemu-ga's resolution is the microsecond.
    assert_eq!(ns % 1000, 0, "{reply}");
    assert!(
        before - 1000 <= ns && ns <= after,
        "{before} <= {ns} <= {after}"
    );
}

#[test]
fn get_host_name_is_gethostname() {
    let a = agent("hostname");
    let mut c = a.connect();
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes at buf, a local.
    let got = unsafe { libc::gethostname(buf.as_mut_ptr() as *mut libc::c_char, buf.len()) };
    assert_eq!(got, 0);
    let name = std::ffi::CStr::from_bytes_until_nul(&buf)
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        c.call(r#"{"execute":"guest-get-host-name"}"#),
        format!(r#"{{"return": {{"host-name": "{name}"}}}}"#)
    );
}

#[test]
fn get_load_matches_getloadavg() {
    let a = agent("load");
    let mut c = a.connect();
    let value = ret(&c.call(r#"{"execute":"guest-get-load"}"#));
    let mut libc_load = [0f64; 3];
    // SAFETY: getloadavg fills at most 3 doubles.
    assert_eq!(unsafe { libc::getloadavg(libc_load.as_mut_ptr(), 3) }, 3);
    for (i, key) in ["load1m", "load5m", "load15m"].iter().enumerate() {
        let got = value.at(key).f64();
        // The kernel updates the averages every 5 s; allow for one update in between.
        assert!(
            (got - libc_load[i]).abs() < 0.5,
            "{key}: agent {got}, libc {}",
            libc_load[i]
        );
    }
    assert_eq!(value.keys(), ["load1m", "load5m", "load15m"]);
}

#[test]
fn get_osinfo_reports_uname_and_the_os_release_file() {
    let a = agent("osinfo");
    let mut c = a.connect();
    let value = ret(&c.call(r#"{"execute":"guest-get-osinfo"}"#));
    // SAFETY: utsname is plain old data; all-zero is a valid value.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct at &mut uts, a local.
    assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
    let field = |f: &[libc::c_char]| {
        // SAFETY: uname's fields are NUL-terminated within their arrays.
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(value.at("kernel-release").str(), field(&uts.release));
    assert_eq!(value.at("kernel-version").str(), field(&uts.version));
    assert_eq!(value.at("machine").str(), field(&uts.machine));
    // Compare with the machine's os-release, read here the way systemd documents it.
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"));
    if let Ok(text) = text {
        for line in text.lines() {
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            let member = match key {
                "ID" => "id",
                "NAME" => "name",
                "PRETTY_NAME" => "pretty-name",
                "VERSION" => "version",
                "VERSION_ID" => "version-id",
                "VARIANT" => "variant",
                "VARIANT_ID" => "variant-id",
                _ => continue,
            };
            let want = raw.trim_matches('"');
            assert_eq!(value.at(member).str(), want, "{key}");
        }
    }
}

/// An agent whose os-release is `file` (`QGA_OS_RELEASE`), on a unix socket of its own.
fn agent_reading(file: &std::path::Path) -> Agent {
    let run = common::TempDir::new("osrel-run");
    let sock = run.join("qga.sock");
    let mut cmd = common::command(&run);
    cmd.env("QGA_OS_RELEASE", file)
        .args(["-m", "unix-listen", "-p"])
        .arg(&sock);
    Agent::spawn(run, cmd, sock)
}

#[test]
fn get_osinfo_honours_qga_os_release() {
    let dir = common::TempDir::new("osrel");
    let file = dir.write(
        "os-release",
        "ID=tiny\nPRETTY_NAME=\"Tiny \\\"Linux\\\"\"\nVARIANT_ID=x y\n",
    );
    let a = agent_reading(&file);
    let value = ret(&a.connect().call(r#"{"execute":"guest-get-osinfo"}"#));
    assert_eq!(value.at("id").str(), "tiny");
    assert_eq!(value.at("pretty-name").str(), "Tiny \"Linux\"");
    assert_eq!(value.at("variant-id").str(), "x");
    assert!(value.get("name").is_none() && value.get("version").is_none());
    let keys = value.keys();
    assert_eq!(
        keys,
        [
            "kernel-release",
            "kernel-version",
            "machine",
            "id",
            "pretty-name",
            "variant-id"
        ]
    );
}

/// The agent keeps what it read of os-release while the file stays the same: a file
/// replaced by a rename, or rewritten in place with the same size, is read again. The
/// files are older than three seconds when first read, so the agent holds on to them
/// (a younger file is read every time: see `FileStamp::settled`).
#[test]
fn get_osinfo_sees_os_release_replaced_or_rewritten() {
    let dir = common::TempDir::new("osrel-change");
    let replaced = dir.write("replaced", "ID=one\n");
    let replacement = dir.write("replacement", "ID=two\n");
    let rewritten = dir.write("rewritten", "ID=aaa\n");
    let agents = [&replaced, &rewritten].map(|file| agent_reading(file));
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let id = |agent: &Agent| {
        let reply = agent.connect().call(r#"{"execute":"guest-get-osinfo"}"#);
        ret(&reply).at("id").str().to_string()
    };
    assert_eq!([id(&agents[0]), id(&agents[1])], ["one", "aaa"]);
    assert_eq!([id(&agents[0]), id(&agents[1])], ["one", "aaa"]);
    std::fs::rename(&replacement, &replaced).unwrap();
    std::fs::write(&rewritten, "ID=bbb\n").unwrap();
    assert_eq!([id(&agents[0]), id(&agents[1])], ["two", "bbb"]);
    std::fs::remove_file(&replaced).unwrap();
    let reply = agents[0]
        .connect()
        .call(r#"{"execute":"guest-get-osinfo"}"#);
    assert!(ret(&reply).get("id").is_none(), "{reply}");
}

/// Between two calls, the agent learns of any change to os-release from an inotify
/// watch on the file and its directory, at once, however young the file: here a symbolic
/// link to a file elsewhere (as Debian's /etc/os-release), and each way a change comes.
#[test]
fn get_osinfo_sees_every_change_to_a_linked_os_release_at_once() {
    let dir = common::TempDir::new("osrel-linked");
    std::fs::create_dir(dir.join("etc")).unwrap();
    std::fs::create_dir(dir.join("lib")).unwrap();
    let target = dir.write("lib/os-release", "ID=one\n");
    let link = dir.join("etc/os-release");
    std::os::unix::fs::symlink("../lib/os-release", &link).unwrap();
    let agent = agent_reading(&link);
    let mut c = agent.connect();
    let mut id = || {
        let reply = c.call(r#"{"execute":"guest-get-osinfo"}"#);
        ret(&reply).get("id").map(|v| v.str().to_string())
    };
    let id_is = |want: Option<&str>, got: Option<String>| assert_eq!(got.as_deref(), want);
    id_is(Some("one"), id());
    id_is(Some("one"), id());
    // Written in place, the same size.
    std::fs::write(&target, "ID=two\n").unwrap();
    id_is(Some("two"), id());
    // Appended to.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&target)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"ID=three\n"))
        .unwrap();
    id_is(Some("three"), id());
    // The link's target replaced by a rename.
    let next = dir.write("lib/next", "ID=four\n");
    std::fs::rename(&next, &target).unwrap();
    id_is(Some("four"), id());
    // The link itself replaced by a file (as `sed -i` leaves it).
    let next = dir.write("etc/next", "ID=five\n");
    std::fs::rename(&next, &link).unwrap();
    id_is(Some("five"), id());
    // Removed, then linked again.
    std::fs::remove_file(&link).unwrap();
    id_is(None, id());
    std::os::unix::fs::symlink("../lib/os-release", &link).unwrap();
    id_is(Some("four"), id());
    id_is(Some("four"), id());
}

#[test]
fn get_users_matches_libc_utmpx() {
    let a = agent("users");
    let value = ret(&a.connect().call(r#"{"execute":"guest-get-users"}"#));
    // The same question through glibc: unique USER_PROCESS names, earliest login.
    let mut want: Vec<(String, f64)> = Vec::new();
    // SAFETY: the utmpx iteration functions of glibc, used from one thread.
    unsafe {
        libc::setutxent();
        loop {
            let entry = libc::getutxent();
            if entry.is_null() {
                break;
            }
            let e = &*entry;
            if e.ut_type != libc::USER_PROCESS {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(e.ut_user.as_ptr())
                .to_string_lossy()
                .into_owned();
            let time = e.ut_tv.tv_sec as f64 + e.ut_tv.tv_usec as f64 / 1e6;
            match want.iter_mut().find(|(n, _)| *n == name) {
                Some((_, t)) => *t = t.min(time),
                None => want.push((name, time)),
            }
        }
        libc::endutxent();
    }
    let got: Vec<(String, f64)> = value
        .arr()
        .iter()
        .map(|u| (u.at("user").str().to_string(), u.at("login-time").f64()))
        .collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for ((gn, gt), (wn, wt)) in got.iter().zip(&want) {
        assert_eq!(gn, wn);
        assert!((gt - wt).abs() < 1e-6, "{gn}: {gt} vs {wt}");
    }
}

#[test]
fn network_interfaces_match_sys_class_net() {
    let a = agent("ifaces");
    let value = ret(&a
        .connect()
        .call(r#"{"execute":"guest-network-get-interfaces"}"#));
    let entries = value.arr();
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    let mut reported: Vec<String> = entries
        .iter()
        .map(|e| e.at("name").str().to_string())
        .filter(|n| !n.contains(':'))
        .collect();
    reported.sort();
    assert_eq!(reported, links, "every link once");
    for e in entries {
        let name = e.at("name").str();
        if let (Some(mac), Ok(sys)) = (
            e.get("hardware-address"),
            std::fs::read_to_string(format!("/sys/class/net/{name}/address")),
        ) {
            let sys = sys.trim();
            if sys.len() == 17 {
                assert_eq!(mac.str(), sys, "{name}");
            }
        }
        for address in e
            .get("ip-addresses")
            .map(|a| a.arr().to_vec())
            .unwrap_or_default()
        {
            let kind = address.at("ip-address-type").str();
            let text = address.at("ip-address").str();
            let prefix = address.at("prefix").f64() as u32;
            match kind {
                "ipv4" => assert!(
                    text.parse::<std::net::Ipv4Addr>().is_ok() && prefix <= 32,
                    "{text}"
                ),
                "ipv6" => assert!(
                    text.parse::<std::net::Ipv6Addr>().is_ok() && prefix <= 128,
                    "{text}"
                ),
                other => panic!("ip-address-type {other}"),
            }
        }
    }
}

#[test]
fn fsinfo_matches_mountinfo_and_statvfs() {
    let a = agent("fsinfo");
    let value = ret(&a.connect().call(r#"{"execute":"guest-get-fsinfo"}"#));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // Block-device mounts, first of each device, read here independently.
    let mut seen = Vec::new();
    let mut want = Vec::new();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let dash = f.iter().position(|x| *x == "-").unwrap();
        let dev = f[2];
        if dev.starts_with("0:") || seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        want.push((f[4].replace("\\040", " "), f[dash + 1].to_string()));
    }
    want.reverse();
    let got: Vec<(String, String)> = value
        .arr()
        .iter()
        .map(|fs| {
            (
                fs.at("mountpoint").str().to_string(),
                fs.at("type").str().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    for fs in value.arr() {
        let path = std::ffi::CString::new(fs.at("mountpoint").str()).unwrap();
        // SAFETY: statvfs is plain old data; all-zero is a valid value.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: path is NUL-terminated; statvfs fills the struct at &mut st, a local.
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut st) }, 0);
        let total = (st.f_blocks - st.f_bfree + st.f_bavail) as f64 * st.f_frsize as f64;
        let privileged = st.f_blocks as f64 * st.f_frsize as f64;
        assert_eq!(fs.at("total-bytes-privileged").f64(), privileged);
        // Free space moves while tests write files; allow 256 MiB.
        assert!((fs.at("total-bytes").f64() - total).abs() < 256e6, "{fs:?}");
        assert!(fs.at("used-bytes").f64() <= fs.at("total-bytes").f64());
        for disk in fs.at("disk").arr() {
            // libvirt requires these members on every disk.
            for key in [
                "bus-type",
                "bus",
                "target",
                "unit",
                "pci-controller.domain",
                "pci-controller.bus",
                "pci-controller.slot",
                "pci-controller.function",
            ] {
                disk.at(key);
            }
        }
    }
}

#[test]
fn vcpus_match_sysfs() {
    let a = agent("vcpus");
    let value = ret(&a.connect().call(r#"{"execute":"guest-get-vcpus"}"#));
    let mut want: Vec<i64> = std::fs::read_dir("/sys/devices/system/cpu")
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_prefix("cpu")?
                .parse()
                .ok()
        })
        .collect();
    want.sort();
    let mut got: Vec<i64> = value
        .arr()
        .iter()
        .map(|c| c.at("logical-id").f64() as i64)
        .collect();
    got.sort();
    assert_eq!(got, want);
    for cpu in value.arr() {
        let id = cpu.at("logical-id").f64() as i64;
        let online = std::fs::read_to_string(format!("/sys/devices/system/cpu/cpu{id}/online"));
        let want_online = online.as_ref().map_or(true, |s| !s.starts_with('0'));
        assert_eq!(cpu.at("online"), &common::Json::Bool(want_online));
        assert_eq!(cpu.at("can-offline"), &common::Json::Bool(online.is_ok()));
    }
}

#[test]
fn cpustats_match_proc_stat() {
    let a = agent("cpustats");
    let value = ret(&a.connect().call(r#"{"execute":"guest-get-cpustats"}"#));
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpus: Vec<Vec<u64>> = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .map(|v| v.parse().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(value.arr().len(), cpus.len());
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    for (entry, ticks) in value.arr().iter().zip(&cpus) {
        assert_eq!(entry.at("type").str(), "linux");
        let idle_ms = ticks[3] as f64 * 1000.0 / hz;
        // Idle time grows while we look: within five seconds.
        assert!(
            (entry.at("idle").f64() - idle_ms).abs() < 5000.0,
            "{entry:?}"
        );
    }
}

#[test]
fn routes_match_proc_net() {
    let a = agent("routes");
    let value = ret(&a.connect().call(r#"{"execute":"guest-network-get-route"}"#));
    let v4 = std::fs::read_to_string("/proc/net/route")
        .unwrap()
        .lines()
        .skip(1)
        .count();
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").map_or(0, |t| t.lines().count());
    let routes = value.arr();
    assert_eq!(routes.len(), v4 + v6);
    for (i, route) in routes.iter().enumerate() {
        let version = route.at("version").f64() as usize;
        assert_eq!(version, if i < v4 { 4 } else { 6 });
        let destination = route.at("destination").str();
        if version == 4 {
            assert!(
                destination.parse::<std::net::Ipv4Addr>().is_ok(),
                "{route:?}"
            );
            route.at("gateway");
            route.at("mask");
        } else {
            assert!(
                destination.parse::<std::net::Ipv6Addr>().is_ok(),
                "{route:?}"
            );
            route.at("nexthop");
            route.at("desprefixlen").str();
        }
    }
    // The default IPv4 route, if any, as `ip route` shows it.
    let ip = std::process::Command::new("ip")
        .args(["-4", "route", "show", "default"])
        .output();
    if let Ok(out) = ip {
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(gateway) = text.split_whitespace().skip_while(|w| *w != "via").nth(1) {
            assert!(
                routes
                    .iter()
                    .any(|r| r.get("gateway").is_some_and(|g| g.str() == gateway)
                        && r.at("destination").str() == "0.0.0.0"),
                "default via {gateway} in {routes:?}"
            );
        }
    }
}
