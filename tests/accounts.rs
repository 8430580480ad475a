//! `guest-ssh-*-authorized-keys` and `guest-set-user-password` on throwaway users that each
//! test creates (`useradd`) and removes, checking file contents, modes and owners, and
//! that the system's own crypt (`openssl passwd -6`) verifies the stored hash.
//!
//! These tests change /etc/passwd and /etc/shadow of the machine they run on (as root),
//! for users they alone create. Without root, `useradd` or `openssl` they say so loudly
//! and skip.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Agent, TempDir, b64_encode, generic_error, json_str, parse, skip};

static USERS: AtomicUsize = AtomicUsize::new(0);

/// A user made for one test, deleted (with its home) when dropped.
struct ThrowawayUser {
    name: String,
    home: PathBuf,
    uid: u32,
    gid: u32,
    _dir: TempDir,
}

impl ThrowawayUser {
    fn create(test: &str) -> Option<ThrowawayUser> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip(&format!("{test}: needs root to create a user"));
            return None;
        }
        if Command::new("useradd").arg("--help").output().is_err() {
            skip(&format!(
                "{test}: useradd not installed (apt-get install passwd)"
            ));
            return None;
        }
        let dir = TempDir::new(test);
        let n = USERS.fetch_add(1, Ordering::SeqCst);
        let name = format!("tqga{}x{n}", std::process::id() % 100_000);
        let home = dir.path().join("home");
        let status = Command::new("useradd")
            .args(["-m", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name)
            .status()
            .expect("useradd runs");
        assert!(status.success(), "useradd {name}");
        // The temp dir is the test's; the user's home inside it must be reachable.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let meta = std::fs::metadata(&home).unwrap();
        Some(ThrowawayUser {
            name,
            home,
            uid: meta.uid(),
            gid: meta.gid(),
            _dir: dir,
        })
    }

    fn keys_file(&self) -> PathBuf {
        self.home.join(".ssh/authorized_keys")
    }

    fn shadow_line(&self) -> Vec<String> {
        let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
        let line = shadow
            .lines()
            .find(|l| l.split(':').next() == Some(&self.name))
            .expect("the user has a shadow line")
            .to_string();
        line.split(':').map(str::to_string).collect()
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}

fn keys_json(keys: &[&str]) -> String {
    let items: Vec<String> = keys.iter().map(|k| json_str(k)).collect();
    format!("[{}]", items.join(", "))
}

fn add(user: &str, keys: &[&str], reset: Option<bool>) -> String {
    let reset = reset.map_or(String::new(), |r| format!(", \"reset\": {r}"));
    format!(
        r#"{{"execute":"guest-ssh-add-authorized-keys","arguments":{{"username":{},"keys":{}{reset}}}}}"#,
        json_str(user),
        keys_json(keys)
    )
}

fn remove(user: &str, keys: &[&str]) -> String {
    format!(
        r#"{{"execute":"guest-ssh-remove-authorized-keys","arguments":{{"username":{},"keys":{}}}}}"#,
        json_str(user),
        keys_json(keys)
    )
}

fn get(user: &str) -> String {
    format!(
        r#"{{"execute":"guest-ssh-get-authorized-keys","arguments":{{"username":{}}}}}"#,
        json_str(user)
    )
}

const OK: &str = r#"{"return": {}}"#;

#[test]
fn keys_are_added_once_in_order_to_a_file_the_user_owns() {
    let Some(user) = ThrowawayUser::create("ssh-add") else {
        return;
    };
    let agent = Agent::start("ssh-add", &[]);
    let mut c = agent.connect();
    let file = user.keys_file();
    let shown = file.display();
    assert_eq!(
        c.call(&get(&user.name)),
        generic_error(&format!(
            "failed to read '{shown}': Failed to open file \\u201C{shown}\\u201D: No such file or directory"
        ))
    );

    assert_eq!(
        c.call(&add(&user.name, &["ssh-ed25519 AAAA1 one"], None)),
        OK
    );
    let ssh = std::fs::metadata(user.home.join(".ssh")).unwrap();
    assert_eq!(ssh.mode() & 0o7777, 0o700);
    assert_eq!((ssh.uid(), ssh.gid()), (user.uid, user.gid));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "ssh-ed25519 AAAA1 one"
    );

    // Present keys are not added again; new ones go last; no trailing newline.
    let two = [
        "ssh-ed25519 AAAA2 two",
        "ssh-ed25519 AAAA1 one",
        "ssh-ed25519 AAAA2 two",
    ];
    assert_eq!(c.call(&add(&user.name, &two, Some(false))), OK);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "ssh-ed25519 AAAA1 one\nssh-ed25519 AAAA2 two"
    );
    // get lists the keys last line first.
    let reply = parse(&c.call(&get(&user.name)));
    let keys: Vec<&str> = reply
        .at("return.keys")
        .arr()
        .iter()
        .map(|k| k.str())
        .collect();
    assert_eq!(keys, ["ssh-ed25519 AAAA2 two", "ssh-ed25519 AAAA1 one"]);

    // reset replaces everything; reset with nothing leaves an empty file.
    assert_eq!(c.call(&add(&user.name, &["k3"], Some(true))), OK);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "k3");
    assert_eq!(c.call(&add(&user.name, &[], Some(true))), OK);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
    assert_eq!(c.call(&get(&user.name)), r#"{"return": {"keys": []}}"#);
    // Nothing was left behind beside the file.
    let names: Vec<_> = std::fs::read_dir(user.home.join(".ssh"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["authorized_keys"]);
}

#[test]
fn get_trims_and_skips_blank_and_comment_lines() {
    let Some(user) = ThrowawayUser::create("ssh-get") else {
        return;
    };
    std::fs::create_dir(user.home.join(".ssh")).unwrap();
    std::fs::write(user.keys_file(), " k1 a \n\n# comment\n\t\x0ck2\r\n   \n").unwrap();
    let agent = Agent::start("ssh-get", &[]);
    assert_eq!(
        agent.connect().call(&get(&user.name)),
        r#"{"return": {"keys": ["k2", "k1 a"]}}"#
    );
}

#[test]
fn remove_drops_every_copy_and_keeps_the_rest_byte_for_byte() {
    let Some(user) = ThrowawayUser::create("ssh-remove") else {
        return;
    };
    let agent = Agent::start("ssh-remove", &[]);
    let mut c = agent.connect();
    // No file: nothing to remove, no error, no file made.
    assert_eq!(c.call(&remove(&user.name, &["k1"])), OK);
    assert!(!user.keys_file().exists());

    std::fs::create_dir(user.home.join(".ssh")).unwrap();
    let text =
        "algo key1 comments\nalgo key1 comments\n# a commented line\nalgo some-key another\n";
    std::fs::write(user.keys_file(), text).unwrap();
    assert_eq!(c.call(&remove(&user.name, &["algo key2 comments"])), OK);
    assert_eq!(std::fs::read_to_string(user.keys_file()).unwrap(), text);
    assert_eq!(
        c.call(&remove(&user.name, &["algo key1 comments", "x"])),
        OK
    );
    assert_eq!(
        std::fs::read_to_string(user.keys_file()).unwrap(),
        "# a commented line\nalgo some-key another\n"
    );
    let meta = std::fs::metadata(user.keys_file()).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid(), meta.mode() & 0o777),
        (user.uid, user.gid, 0o600)
    );
}

#[test]
fn key_and_user_errors_have_qemu_gas_texts() {
    let agent = Agent::start("ssh-errors", &[]);
    let mut c = agent.connect();
    for bad in ["# comment", "ssh-rsa AAAA\nssh-rsa BBBB"] {
        let want = generic_error(&format!(
            "invalid OpenSSH public key: '{}'",
            bad.replace('\n', "\\n")
        ));
        assert_eq!(c.call(&add("root", &["ok", bad], None)), want);
        assert_eq!(c.call(&remove("root", &[bad])), want);
    }
    for cmd in [
        get("tqga-no-such-user"),
        add("tqga-no-such-user", &["k"], None),
    ] {
        assert_eq!(
            c.call(&cmd),
            generic_error("failed to lookup user 'tqga-no-such-user': Success")
        );
    }
}

fn set_password(user: &str, password: &[u8], crypted: bool) -> String {
    format!(
        r#"{{"execute":"guest-set-user-password","arguments":{{"username":{},"password":"{}","crypted":{crypted}}}}}"#,
        json_str(user),
        b64_encode(password)
    )
}

#[test]
fn a_raw_password_is_stored_as_sha512_crypt_that_openssl_verifies() {
    let Some(user) = ThrowawayUser::create("password") else {
        return;
    };
    if Command::new("openssl").arg("version").output().is_err() {
        skip("password: openssl not installed (apt-get install openssl)");
        return;
    }
    let before = std::fs::metadata("/etc/shadow").unwrap();
    let agent = Agent::start("password", &[]);
    let mut c = agent.connect();
    let password = "s3cret p\u{e4}ss:word";
    assert_eq!(
        c.call(&set_password(&user.name, password.as_bytes(), false)),
        OK
    );
    let fields = user.shadow_line();
    let hash = &fields[1];
    if common::testing_qemu_ga() {
        // qemu-ga runs chpasswd, whose hash is the system's (yescrypt on Debian 12).
        skip("password: the $6$ checks are tinyqga's own (qemu-ga uses chpasswd)");
        return;
    }
    let parts: Vec<&str> = hash.split('$').collect();
    assert_eq!(parts[1], "6", "{hash}");
    assert_eq!(parts[2].len(), 16, "a 16-character salt: {hash}");
    let openssl = Command::new("openssl")
        .args(["passwd", "-6", "-salt", parts[2], password])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&openssl.stdout).trim(), hash);
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    assert_eq!(fields[2], today.to_string(), "the day of the last change");
    // The shadow file keeps its owner and mode.
    let after = std::fs::metadata("/etc/shadow").unwrap();
    assert_eq!(
        (after.uid(), after.gid(), after.mode()),
        (before.uid(), before.gid(), before.mode())
    );

    // crypted: stored as given.
    let given = "$6$abcdefgh$0123456789abcdefABCDEF./";
    assert_eq!(
        c.call(&set_password(&user.name, given.as_bytes(), true)),
        OK
    );
    assert_eq!(user.shadow_line()[1], given);
}

#[test]
fn password_errors_have_qemu_gas_texts() {
    let agent = Agent::start("password-errors", &[]);
    let mut c = agent.connect();
    assert_eq!(
        c.call(&set_password("root", b"two\nlines", false)),
        generic_error("forbidden characters in raw password")
    );
    assert_eq!(
        c.call(&set_password("ro:ot", b"pw", false)),
        generic_error("forbidden characters in username")
    );
    assert_eq!(
        c.call(
            r#"{"execute":"guest-set-user-password","arguments":{"username":"root","password":"@@@","crypted":false}}"#
        ),
        generic_error("Base64 data contains invalid characters")
    );
    let reply = c.call(&set_password("tqga-no-such-user", b"pw", false));
    assert!(
        reply.contains("child process has failed to set user password"),
        "{reply}"
    );
}
