//! Hardening, off by default: `file-allow-paths` confines guest-file-open beneath listed
//! directories (no `..`, no symlink leading out), and dist/qemu-ga.conf.hardened blocks
//! what RHEL blocks.

mod common;

use common::{Agent, TempDir, command, not_found_error};

fn generic(desc: &str) -> String {
    format!(r#"{{"error": {{"class": "GenericError", "desc": "{desc}"}}}}"#)
}

fn open(path: &str, mode: &str) -> String {
    format!(r#"{{"execute":"guest-file-open","arguments":{{"path":"{path}","mode":"{mode}"}}}}"#)
}

#[test]
fn file_allow_paths_confines_guest_file_open() {
    let dir = TempDir::new("allowpaths");
    let root = dir.path().to_str().unwrap().to_string();
    for sub in ["allowed", "also", "outside", "allowedX"] {
        std::fs::create_dir(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("outside/secret"), "s").unwrap();
    std::os::unix::fs::symlink(dir.join("outside"), dir.join("allowed/link")).unwrap();
    std::os::unix::fs::symlink("../outside/secret", dir.join("allowed/rel")).unwrap();
    std::os::unix::fs::symlink("inner", dir.join("allowed/ok-link")).unwrap();
    std::fs::write(dir.join("allowed/inner"), "in").unwrap();
    let sock = dir.join("qga.sock");
    let cfg = dir.write(
        "qga.conf",
        &format!(
            "[general]\nmethod=unix-listen\npath={}\nstatedir={root}\nfile-allow-paths={root}/allowed/; {root}/also\n",
            sock.display()
        ),
    );
    // -D shows the key (after qemu-ga's keys).
    let out = common::run_args(&dir, &["-c", cfg.to_str().unwrap(), "-D"]);
    assert!(
        out.stdout.ends_with(&format!(
            "allow-rpcs=\nfile-allow-paths={root}/allowed/; {root}/also\n"
        )),
        "{out:?}"
    );

    let mut cmd = command(&dir);
    cmd.arg("-c").arg(&cfg);
    let agent = Agent::spawn(TempDir::new("allowpaths-agent"), cmd, sock);
    let mut c = agent.connect();
    let ok = |reply: String| {
        assert!(reply.starts_with(r#"{"return": "#), "{reply}");
    };
    ok(c.call(&open(&format!("{root}/allowed/new"), "w")));
    ok(c.call(&open(&format!("{root}/allowed/inner"), "r")));
    ok(c.call(&open(&format!("{root}/allowed/ok-link"), "r")));
    ok(c.call(&open(&format!("{root}/also/../also/x"), "a+")));
    ok(c.call(&open(&format!("{root}/outside/../allowed/inner"), "r")));
    assert!(dir.join("allowed/new").exists() && dir.join("also/x").exists());

    for (path, mode) in [
        (format!("{root}/outside/secret"), "r"),
        (format!("{root}/allowed/../outside/secret"), "r"),
        (format!("{root}/allowed/link/secret"), "w"),
        (format!("{root}/allowed/link/created"), "w"),
        (format!("{root}/allowed/rel"), "a"),
        (format!("{root}/allowedX/f"), "w"),
        (format!("{root}/allowed"), "r"),
        (format!("{root}/allowed/"), "r"),
        ("relative/allowed/x".to_string(), "w"),
        ("/proc/self/root/etc/passwd".to_string(), "r"),
    ] {
        assert_eq!(
            c.call(&open(&path, mode)),
            generic(&format!(
                "failed to open file '{path}' (mode: '{mode}'): not beneath a directory of file-allow-paths"
            )),
            "{path}"
        );
    }
    // Nothing outside was created or truncated.
    assert_eq!(
        std::fs::read_to_string(dir.join("outside/secret")).unwrap(),
        "s"
    );
    assert!(!dir.join("outside/created").exists());
    assert!(!dir.join("allowedX/f").exists());
    // An ordinary error inside stays the system's.
    let missing = format!("{root}/allowed/missing");
    assert_eq!(
        c.call(&open(&missing, "r")),
        generic(&format!(
            "failed to open file '{missing}' (mode: 'r'): No such file or directory"
        ))
    );
}

#[test]
fn the_hardened_example_config_blocks_what_rhel_blocks() {
    let conf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/qemu-ga.conf.hardened");
    let dir = TempDir::new("hardened");
    let sock = dir.join("qga.sock");
    let mut cmd = command(&dir);
    cmd.arg("-c")
        .arg(&conf)
        .args(["-m", "unix-listen", "-t"])
        .arg(dir.path())
        .arg("-p")
        .arg(&sock);
    let agent = Agent::spawn(TempDir::new("hardened-agent"), cmd, sock);
    let mut c = agent.connect();
    for name in [
        "guest-file-open",
        "guest-file-close",
        "guest-file-read",
        "guest-file-write",
        "guest-file-seek",
        "guest-file-flush",
        "guest-exec",
        "guest-exec-status",
    ] {
        assert_eq!(
            c.call(&format!(r#"{{"execute":"{name}"}}"#)),
            not_found_error(&format!(
                "Command {name} has been disabled: the command is not allowed"
            )),
        );
    }
    assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
    let info = c.call(r#"{"execute":"guest-get-host-name"}"#);
    assert!(info.starts_with(r#"{"return": "#), "{info}");
}
