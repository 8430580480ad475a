//! `guest-file-open/close/read/write/seek/flush` on the wire: the behaviour of Debian's
//! qemu-ga 7.2, which these tests were run against (`TINYQGA_BIN=/usr/sbin/qemu-ga cargo
//! test --test file`), is the contract. Every agent here has its own state directory
//! (`-t`) and runs in its own working directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use common::{
    Agent, Conn, TempDir, assert_reply, b64_decode, b64_encode, generic_error, json_str, lcg_bytes,
    parse, skip, testing_qemu_ga,
};

const MIB: usize = 1 << 20;
/// The largest `count` of one `guest-file-read`.
const READ_MAX: usize = 48 * MIB;

/// An agent, a client, and the agent's working directory (`work`, holding `state/`).
struct Files {
    c: Conn,
    agent: Agent,
    work: TempDir,
}

impl Files {
    fn new(name: &str) -> Files {
        Files::with(name, |_| {})
    }

    /// Like [`Files::new`], with `configure` applied to the agent's command.
    fn with(name: &str, configure: impl FnOnce(&mut std::process::Command)) -> Files {
        let work = TempDir::new(name);
        std::fs::create_dir(work.join("state")).unwrap();
        let agent = Agent::start_with(name, &work.join("state"), |cmd| {
            cmd.current_dir(work.path());
            configure(cmd);
        });
        let c = agent.connect();
        Files { c, agent, work }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }
}

fn path_json(path: &Path) -> String {
    json_str(path.to_str().expect("UTF-8 path"))
}

/// The raw reply to `guest-file-open` (`mode` omitted when `None`).
fn open_reply(c: &mut Conn, path: &Path, mode: Option<&str>) -> String {
    let mode = mode.map_or(String::new(), |m| format!(",\"mode\":{}", json_str(m)));
    c.call(&format!(
        r#"{{"execute":"guest-file-open","arguments":{{"path":{}{mode}}}}}"#,
        path_json(path)
    ))
}

/// Opens `path`, returning the handle.
#[track_caller]
fn open(c: &mut Conn, path: &Path, mode: Option<&str>) -> i64 {
    let reply = open_reply(c, path, mode);
    match parse(&reply).get("return") {
        Some(handle) => handle.i64(),
        None => panic!("open {} {mode:?}: {reply}", path.display()),
    }
}

fn read_reply(c: &mut Conn, handle: i64, count: Option<i64>) -> String {
    let count = count.map_or(String::new(), |n| format!(",\"count\":{n}"));
    c.call(&format!(
        r#"{{"execute":"guest-file-read","arguments":{{"handle":{handle}{count}}}}}"#
    ))
}

/// Reads from `handle`: (bytes, eof). Checks the reply's members and that `count` is the
/// decoded length.
#[track_caller]
fn read(c: &mut Conn, handle: i64, count: Option<i64>) -> (Vec<u8>, bool) {
    let reply = read_reply(c, handle, count);
    let value = parse(&reply);
    let Some(ret) = value.get("return") else {
        panic!("read {handle}: {}", &reply[..reply.len().min(300)]);
    };
    let mut keys = ret.keys();
    keys.sort();
    assert_eq!(keys, ["buf-b64", "count", "eof"]);
    let bytes = b64_decode(ret.at("buf-b64").str());
    assert_eq!(ret.at("count").i64(), bytes.len() as i64);
    (bytes, ret.at("eof").bool())
}

fn write_reply(c: &mut Conn, handle: i64, b64: &str, count: Option<i64>) -> String {
    let count = count.map_or(String::new(), |n| format!(",\"count\":{n}"));
    c.call(&format!(
        r#"{{"execute":"guest-file-write","arguments":{{"handle":{handle},"buf-b64":{}{count}}}}}"#,
        json_str(b64)
    ))
}

/// Writes all of `data`, checking the reply is `{count: len, eof: false}`.
#[track_caller]
fn write(c: &mut Conn, handle: i64, data: &[u8]) {
    let reply = write_reply(c, handle, &b64_encode(data), None);
    assert_reply(
        &reply,
        &format!(r#"{{"return": {{"count": {}, "eof": false}}}}"#, data.len()),
    );
}

/// `guest-file-seek`; `whence` is raw JSON (`0`, `"end"`...).
fn seek_reply(c: &mut Conn, handle: i64, offset: i64, whence: &str) -> String {
    c.call(&format!(
        r#"{{"execute":"guest-file-seek","arguments":{{"handle":{handle},"offset":{offset},"whence":{whence}}}}}"#
    ))
}

/// Seeks and checks the reply is `{position: want, eof: false}`.
#[track_caller]
fn seek(c: &mut Conn, handle: i64, offset: i64, whence: &str, want: i64) {
    assert_reply(
        &seek_reply(c, handle, offset, whence),
        &format!(r#"{{"return": {{"position": {want}, "eof": false}}}}"#),
    );
}

fn simple(c: &mut Conn, command: &str, handle: i64) -> String {
    c.call(&format!(
        r#"{{"execute":"{command}","arguments":{{"handle":{handle}}}}}"#
    ))
}

#[track_caller]
fn close(c: &mut Conn, handle: i64) {
    assert_eq!(simple(c, "guest-file-close", handle), r#"{"return": {}}"#);
}

fn not_found(handle: i64) -> String {
    generic_error(&format!("handle '{handle}' has not been found"))
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

// ---- binary safety and sizes ------------------------------------------------------------------

#[test]
fn all_256_byte_values_round_trip() {
    let mut f = Files::new("file-256");
    let data: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();

    // Written by the agent, checked on disk.
    let path = f.path("written");
    let h = open(&mut f.c, &path, Some("wb"));
    write(&mut f.c, h, &data);
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), data);

    // Written here, read by the agent: one short read returns all 512 bytes and eof.
    let path = f.path("read");
    std::fs::write(&path, &data).unwrap();
    let h = open(&mut f.c, &path, Some("rb"));
    assert_eq!(read(&mut f.c, h, Some(4096)), (data, true));
    close(&mut f.c, h);
}

#[test]
fn an_empty_file_and_an_empty_write() {
    let mut f = Files::new("file-empty");
    let path = f.path("empty");
    let h = open(&mut f.c, &path, Some("w"));
    assert_reply(
        &write_reply(&mut f.c, h, "", None),
        r#"{"return": {"count": 0, "eof": false}}"#,
    );
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"");

    let h = open(&mut f.c, &path, None);
    assert_reply(
        &read_reply(&mut f.c, h, None),
        r#"{"return": {"count": 0, "buf-b64": "", "eof": true}}"#,
    );
    close(&mut f.c, h);
}

#[test]
fn five_mib_written_in_60_kib_chunks_reads_back_in_one_call() {
    // Proxmox's file-write sends at most 60 KiB per guest-file-write.
    let mut f = Files::new("file-5m");
    let data = lcg_bytes(5, 5 * MIB);
    let path = f.path("five");
    let h = open(&mut f.c, &path, Some("wb"));
    for chunk in data.chunks(60 * 1024) {
        write(&mut f.c, h, chunk);
    }
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), data);

    let h = open(&mut f.c, &path, Some("rb"));
    assert_eq!(read(&mut f.c, h, Some(6 * MIB as i64)), (data, true));
    close(&mut f.c, h);
}

#[test]
fn thirty_two_mib_written_in_1_mib_chunks() {
    let mut f = Files::new("file-32m");
    let data = lcg_bytes(32, 32 * MIB);
    let path = f.path("thirty-two");
    let h = open(&mut f.c, &path, Some("w"));
    for chunk in data.chunks(MIB) {
        write(&mut f.c, h, chunk);
    }
    seek(&mut f.c, h, 0, "\"cur\"", 32 * MIB as i64);
    close(&mut f.c, h);
    assert!(std::fs::read(&path).unwrap() == data, "content differs");
}

#[test]
fn a_48_mib_file_in_one_read_call_and_in_1_mib_chunks() {
    let mut f = Files::new("file-48m");
    let data = lcg_bytes(48, READ_MAX);
    let path = f.path("forty-eight");
    std::fs::write(&path, &data).unwrap();
    let h = open(&mut f.c, &path, None);

    // The largest count reads the whole file; exactly the remaining size is not eof yet.
    let (got, eof) = read(&mut f.c, h, Some(READ_MAX as i64));
    assert!(got == data, "content differs ({} bytes read)", got.len());
    assert!(!eof);
    assert_eq!(read(&mut f.c, h, Some(READ_MAX as i64)), (vec![], true));

    // Proxmox's file-read: 1 MiB at a time until eof.
    seek(&mut f.c, h, 0, "\"set\"", 0);
    let mut all = Vec::new();
    for i in 0..48 {
        let (chunk, eof) = read(&mut f.c, h, Some(MIB as i64));
        assert_eq!((chunk.len(), eof), (MIB, false), "chunk {i}");
        all.extend_from_slice(&chunk);
    }
    assert!(all == data, "content differs");
    assert_eq!(read(&mut f.c, h, Some(MIB as i64)), (vec![], true));
    close(&mut f.c, h);
}

// ---- open modes --------------------------------------------------------------------------------

#[test]
fn every_open_mode_has_its_fopen_meaning() {
    let mut f = Files::new("file-modes");
    let bad_fd_read = generic_error("failed to read file: Bad file descriptor");
    let bad_fd_write = generic_error("failed to write to file: Bad file descriptor");
    /// How the modes of one row treat a file holding "hello".
    struct Row {
        modes: &'static [&'static str],
        truncates: bool,
        readable: bool,
        writable: bool,
        /// The content after "read 100, seek 0, write XY".
        after: &'static str,
        /// Whether a missing file is created.
        creates: bool,
    }
    let row = |modes, truncates, readable, writable, after, creates| Row {
        modes,
        truncates,
        readable,
        writable,
        after,
        creates,
    };
    let table = [
        row(&["r", "rb"], false, true, false, "hello", false),
        row(&["w", "wb"], true, false, true, "XY", true),
        row(&["a", "ab"], false, false, true, "helloXY", true),
        row(&["r+", "rb+", "r+b"], false, true, true, "XYllo", false),
        row(&["w+", "wb+", "w+b"], true, true, true, "XY", true),
        row(&["a+", "ab+", "a+b"], false, true, true, "helloXY", true),
    ];
    for Row {
        modes,
        truncates,
        readable,
        writable,
        after,
        creates,
    } in table
    {
        for &mode in modes {
            let path = f.path(&format!("existing-{mode}"));
            std::fs::write(&path, "hello").unwrap();
            let h = open(&mut f.c, &path, Some(mode));
            let expect_len = if truncates { 0 } else { 5 };
            assert_eq!(std::fs::read(&path).unwrap().len(), expect_len, "{mode}");
            let reply = read_reply(&mut f.c, h, Some(100));
            if readable {
                let want = if truncates { "" } else { "hello" };
                assert_reply(
                    &reply,
                    &format!(
                        r#"{{"return": {{"count": {}, "buf-b64": "{}", "eof": true}}}}"#,
                        want.len(),
                        b64_encode(want.as_bytes())
                    ),
                );
            } else {
                assert_eq!(reply, bad_fd_read, "{mode}");
            }
            seek(&mut f.c, h, 0, "\"set\"", 0);
            let reply = write_reply(&mut f.c, h, &b64_encode(b"XY"), None);
            if writable {
                assert_reply(&reply, r#"{"return": {"count": 2, "eof": false}}"#);
            } else {
                assert_eq!(reply, bad_fd_write, "{mode}");
            }
            close(&mut f.c, h);
            assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "{mode}");

            let missing = f.path(&format!("missing-{mode}"));
            let reply = open_reply(&mut f.c, &missing, Some(mode));
            if creates {
                let h = parse(&reply).at("return").i64();
                close(&mut f.c, h);
                assert_eq!(std::fs::read(&missing).unwrap(), b"", "{mode}");
            } else {
                assert_eq!(
                    reply,
                    generic_error(&format!(
                        "failed to open file '{}' (mode: '{mode}'): No such file or directory",
                        missing.display()
                    ))
                );
            }
        }
    }
}

#[test]
fn the_default_mode_is_r() {
    let mut f = Files::new("file-default-mode");
    let path = f.path("data");
    std::fs::write(&path, "abc").unwrap();
    let h = open(&mut f.c, &path, None);
    assert_eq!(read(&mut f.c, h, None), (b"abc".to_vec(), true));
    assert_eq!(
        write_reply(&mut f.c, h, "QUJD", None),
        generic_error("failed to write to file: Bad file descriptor")
    );
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");

    let missing = f.path("missing");
    assert_eq!(
        open_reply(&mut f.c, &missing, None),
        generic_error(&format!(
            "failed to open file '{}' (mode: 'r'): No such file or directory",
            missing.display()
        ))
    );
}

#[test]
fn unknown_mode_texts_are_refused_before_touching_the_file() {
    let mut f = Files::new("file-bad-mode");
    let path = f.path("never-created");
    for mode in [
        "x", "", "rw", "wx", "R", "W", "ra", "rbb", "+r", "r ", "rt", "wbx",
    ] {
        assert_eq!(
            open_reply(&mut f.c, &path, Some(mode)),
            generic_error(&format!("invalid file open mode '{mode}'")),
            "mode {mode:?}"
        );
    }
    assert!(!path.exists());
}

#[test]
fn append_modes_append_even_after_seeking_to_0() {
    let mut f = Files::new("file-append");
    for mode in ["a", "ab", "a+"] {
        let path = f.path(mode);
        std::fs::write(&path, "hello").unwrap();
        let h = open(&mut f.c, &path, Some(mode));
        write(&mut f.c, h, b"1");
        seek(&mut f.c, h, 0, "\"set\"", 0);
        write(&mut f.c, h, b"2");
        // The position is where the appended data ended.
        seek(&mut f.c, h, 0, "\"cur\"", 7);
        close(&mut f.c, h);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello12", "{mode}");
    }
}

#[test]
fn new_files_are_0666_whatever_the_umask_and_existing_modes_are_kept() {
    // qemu-ga fchmod()s files it creates to 0666 (world-writable: reference "worth not
    // copying, or copying knowingly"); clients rely on nothing else, so it is the contract.
    let mut f = Files::with("file-perm", |cmd| {
        // SAFETY: umask is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::umask(0o077);
                Ok(())
            });
        }
    });
    for mode in ["w", "wb", "a", "ab", "w+", "a+b"] {
        let path = f.path(&format!("new-{mode}"));
        let h = open(&mut f.c, &path, Some(mode));
        close(&mut f.c, h);
        assert_eq!(mode_of(&path), 0o666, "mode {mode}");
    }
    for (mode, perm) in [("w", 0o640), ("a", 0o600), ("r+", 0o444), ("w+", 0o751)] {
        let path = f.path(&format!("old-{mode}"));
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm)).unwrap();
        let h = open(&mut f.c, &path, Some(mode));
        close(&mut f.c, h);
        assert_eq!(mode_of(&path), perm, "mode {mode}");
    }
}

#[test]
fn relative_paths_resolve_against_the_agent_working_directory() {
    let mut f = Files::new("file-relative");
    let h = open(&mut f.c, Path::new("rel.txt"), Some("w"));
    write(&mut f.c, h, b"relative");
    close(&mut f.c, h);
    assert_eq!(
        std::fs::read_to_string(f.path("rel.txt")).unwrap(),
        "relative"
    );

    std::fs::create_dir(f.path("sub")).unwrap();
    std::fs::write(f.path("sub/inner"), "inner").unwrap();
    let h = open(&mut f.c, Path::new("sub/../sub/inner"), None);
    assert_eq!(read(&mut f.c, h, None), (b"inner".to_vec(), true));
    close(&mut f.c, h);

    assert_eq!(
        open_reply(&mut f.c, Path::new("no-such-file"), None),
        generic_error("failed to open file 'no-such-file' (mode: 'r'): No such file or directory")
    );
    assert_eq!(
        open_reply(&mut f.c, Path::new(""), None),
        generic_error("failed to open file '' (mode: 'r'): No such file or directory")
    );
}

#[test]
fn missing_files_and_directories_give_errno_texts() {
    let mut f = Files::new("file-errors");
    // KubeVirt looks for "No such file or directory" in this text.
    let missing = f.path("no-dir/file");
    for mode in ["r", "w", "a+"] {
        assert_eq!(
            open_reply(&mut f.c, &missing, Some(mode)),
            generic_error(&format!(
                "failed to open file '{}' (mode: '{mode}'): No such file or directory",
                missing.display()
            ))
        );
    }

    // A directory opens for reading; reading it fails.
    let dir = f.path("a-dir");
    std::fs::create_dir(&dir).unwrap();
    let h = open(&mut f.c, &dir, Some("r"));
    assert_eq!(
        read_reply(&mut f.c, h, None),
        generic_error("failed to read file: Is a directory")
    );
    close(&mut f.c, h);
    for mode in ["w", "a", "r+"] {
        assert_eq!(
            open_reply(&mut f.c, &dir, Some(mode)),
            generic_error(&format!(
                "failed to open file '{}' (mode: '{mode}'): Is a directory",
                dir.display()
            ))
        );
    }
}

#[test]
fn read_on_a_write_only_handle_and_write_on_a_read_only_handle() {
    let mut f = Files::new("file-wrong-way");
    let path = f.path("data");
    std::fs::write(&path, "data").unwrap();
    for mode in ["w", "a", "wb", "ab"] {
        let h = open(&mut f.c, &path, Some(mode));
        assert_eq!(
            read_reply(&mut f.c, h, None),
            generic_error("failed to read file: Bad file descriptor"),
            "{mode}"
        );
        close(&mut f.c, h);
    }
    for mode in ["r", "rb"] {
        let h = open(&mut f.c, &path, Some(mode));
        assert_eq!(
            write_reply(&mut f.c, h, "QUJD", None),
            generic_error("failed to write to file: Bad file descriptor"),
            "{mode}"
        );
        close(&mut f.c, h);
    }
}

// ---- read and write arguments -----------------------------------------------------------------

#[test]
fn read_count_defaults_to_4096_and_is_limited_to_48_mib() {
    let mut f = Files::new("file-count");
    let data = lcg_bytes(1, 10000);
    let path = f.path("data");
    std::fs::write(&path, &data).unwrap();
    let h = open(&mut f.c, &path, None);

    assert_eq!(read(&mut f.c, h, None), (data[..4096].to_vec(), false));
    assert_reply(
        &read_reply(&mut f.c, h, Some(0)),
        r#"{"return": {"count": 0, "buf-b64": "", "eof": false}}"#,
    );
    for bad in [50331649, -1, i64::MIN, i64::MAX] {
        assert_eq!(
            read_reply(&mut f.c, h, Some(bad)),
            generic_error(&format!("value '{bad}' is invalid for argument count"))
        );
    }
    // Refused counts do not move the position; the largest count is allowed.
    assert_eq!(
        read(&mut f.c, h, Some(READ_MAX as i64)),
        (data[4096..].to_vec(), true)
    );
    // The handle is looked up before the count is checked.
    assert_eq!(
        read_reply(&mut f.c, 987654321, Some(-1)),
        not_found(987654321)
    );
    close(&mut f.c, h);
}

#[test]
fn eof_is_reported_by_the_read_after_the_last_byte() {
    let mut f = Files::new("file-eof");
    let path = f.path("digits");
    std::fs::write(&path, "0123456789").unwrap();
    let h = open(&mut f.c, &path, None);
    assert_eq!(read(&mut f.c, h, Some(4)), (b"0123".to_vec(), false));
    // Exactly the remaining size: not eof yet.
    assert_eq!(read(&mut f.c, h, Some(6)), (b"456789".to_vec(), false));
    for _ in 0..2 {
        assert_reply(
            &read_reply(&mut f.c, h, Some(1)),
            r#"{"return": {"count": 0, "buf-b64": "", "eof": true}}"#,
        );
    }
    // A seek clears eof; a short read sets it.
    seek(&mut f.c, h, 0, "0", 0);
    assert_eq!(read(&mut f.c, h, Some(100)), (b"0123456789".to_vec(), true));
    close(&mut f.c, h);

    // Reading right after writing: at the end, nothing, eof.
    let rw = f.path("rw");
    let h = open(&mut f.c, &rw, Some("w+"));
    write(&mut f.c, h, b"abc");
    assert_reply(
        &read_reply(&mut f.c, h, None),
        r#"{"return": {"count": 0, "buf-b64": "", "eof": true}}"#,
    );
    seek(&mut f.c, h, 0, "\"set\"", 0);
    assert_eq!(read(&mut f.c, h, None), (b"abc".to_vec(), true));
    close(&mut f.c, h);
}

#[test]
fn write_count_takes_a_prefix_of_the_decoded_bytes() {
    let mut f = Files::new("file-write-count");
    let path = f.path("out");
    let h = open(&mut f.c, &path, Some("w"));
    let abcdef = b64_encode(b"ABCDEF");
    assert_reply(
        &write_reply(&mut f.c, h, &abcdef, Some(2)),
        r#"{"return": {"count": 2, "eof": false}}"#,
    );
    assert_reply(
        &write_reply(&mut f.c, h, &abcdef, Some(0)),
        r#"{"return": {"count": 0, "eof": false}}"#,
    );
    assert_reply(
        &write_reply(&mut f.c, h, &abcdef, Some(6)),
        r#"{"return": {"count": 6, "eof": false}}"#,
    );
    for bad in [7, 1000, -1, i64::MIN] {
        assert_eq!(
            write_reply(&mut f.c, h, &abcdef, Some(bad)),
            generic_error(&format!("value '{bad}' is invalid for argument count"))
        );
    }
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"ABABCDEF");
}

#[test]
fn invalid_base64_is_refused_and_nothing_is_written() {
    // (qemu-ga checks only the alphabet: unpadded or oddly padded text such as "QUJ" or
    // "QU=D" is accepted by 7.2 and decoded loosely; these tests do not pin that.)
    let mut f = Files::new("file-b64");
    let path = f.path("out");
    let h = open(&mut f.c, &path, Some("w"));
    for bad in ["@@@@", "QU JD", "QUJD!", "QUJD\t", "QU-_", "é"] {
        assert_eq!(
            write_reply(&mut f.c, h, bad, None),
            generic_error("Base64 data contains invalid characters"),
            "{bad:?}"
        );
    }
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}

// ---- seek --------------------------------------------------------------------------------------

#[test]
fn seek_takes_whence_as_a_number_or_a_name() {
    let mut f = Files::new("file-seek");
    let path = f.path("digits");
    std::fs::write(&path, "0123456789").unwrap();
    let h = open(&mut f.c, &path, None);
    seek(&mut f.c, h, 3, "0", 3);
    assert_eq!(read(&mut f.c, h, Some(2)), (b"34".to_vec(), false));
    seek(&mut f.c, h, 1, "1", 6);
    seek(&mut f.c, h, 1, "\"cur\"", 7);
    assert_eq!(read(&mut f.c, h, Some(1)), (b"7".to_vec(), false));
    seek(&mut f.c, h, -2, "2", 8);
    seek(&mut f.c, h, -1, "\"end\"", 9);
    assert_eq!(read(&mut f.c, h, Some(1)), (b"9".to_vec(), false));
    seek(&mut f.c, h, 2, "\"set\"", 2);
    // offset 0 from the current position is ftell().
    seek(&mut f.c, h, 0, "\"cur\"", 2);

    for (whence, desc) in [
        ("3", "invalid whence code 3"),
        ("-1", "invalid whence code -1"),
        (
            "\"bogus\"",
            "Parameter 'whence' does not accept value 'bogus'",
        ),
        ("\"SET\"", "Parameter 'whence' does not accept value 'SET'"),
        (
            "true",
            "Invalid parameter type for 'whence', expected: GuestFileWhence",
        ),
        // A number takes the integer branch of the alternate, whose check it fails.
        (
            "1.5",
            "Invalid parameter type for 'whence', expected: integer",
        ),
        (
            "9223372036854775808",
            "Invalid parameter type for 'whence', expected: integer",
        ),
        (
            "null",
            "Invalid parameter type for 'whence', expected: GuestFileWhence",
        ),
    ] {
        assert_eq!(
            seek_reply(&mut f.c, h, 0, whence),
            generic_error(desc),
            "{whence}"
        );
    }
    // A negative resulting position is refused and the position stays.
    for (offset, whence) in [(-1, "\"set\""), (-3, "\"cur\""), (-11, "\"end\"")] {
        assert_eq!(
            seek_reply(&mut f.c, h, offset, whence),
            generic_error("failed to seek file: Invalid argument")
        );
    }
    seek(&mut f.c, h, 0, "\"cur\"", 2);
    close(&mut f.c, h);
}

#[test]
fn seeking_past_the_end_then_writing_leaves_a_hole() {
    let mut f = Files::new("file-hole");
    let path = f.path("holey");
    let h = open(&mut f.c, &path, Some("w"));
    write(&mut f.c, h, b"ab");
    seek(&mut f.c, h, 0, "\"cur\"", 2);
    seek(&mut f.c, h, 10, "\"set\"", 10);
    write(&mut f.c, h, b"cd");
    seek(&mut f.c, h, 0, "\"cur\"", 12);
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"ab\0\0\0\0\0\0\0\0cd");

    // Reading from beyond the end: nothing, eof.
    let h = open(&mut f.c, &path, Some("r"));
    seek(&mut f.c, h, 100, "\"end\"", 112);
    assert_reply(
        &read_reply(&mut f.c, h, None),
        r#"{"return": {"count": 0, "buf-b64": "", "eof": true}}"#,
    );
    close(&mut f.c, h);
}

// ---- flush, close, handles ---------------------------------------------------------------------

#[test]
fn flush_pushes_writes_to_the_file_and_close_ends_the_handle() {
    let mut f = Files::new("file-flush");
    let path = f.path("out");
    let h = open(&mut f.c, &path, Some("w"));
    write(&mut f.c, h, b"abc");
    assert_eq!(simple(&mut f.c, "guest-file-flush", h), r#"{"return": {}}"#);
    assert_eq!(std::fs::read(&path).unwrap(), b"abc");
    write(&mut f.c, h, b"def");
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
    assert_eq!(simple(&mut f.c, "guest-file-close", h), not_found(h));
}

#[test]
fn unknown_and_closed_handles_are_not_found_by_every_command() {
    let mut f = Files::new("file-bad-handle");
    let path = f.path("data");
    std::fs::write(&path, "x").unwrap();
    let closed = open(&mut f.c, &path, None);
    close(&mut f.c, closed);
    for h in [987654321, closed, closed + 1, 0, -1, i64::MIN] {
        assert_eq!(read_reply(&mut f.c, h, None), not_found(h));
        assert_eq!(write_reply(&mut f.c, h, "QUJD", None), not_found(h));
        assert_eq!(seek_reply(&mut f.c, h, 0, "\"set\""), not_found(h));
        assert_eq!(simple(&mut f.c, "guest-file-flush", h), not_found(h));
        assert_eq!(simple(&mut f.c, "guest-file-close", h), not_found(h));
    }
}

#[test]
fn handles_count_from_1000_and_keep_counting_across_restarts() {
    let state = TempDir::new("file-state");
    let keyfile = state.join("qga.state");
    let work = TempDir::new("file-state-work");
    let path = work.write("data", "x");
    {
        let agent = Agent::start_with("file-state-1", state.path(), |_| {});
        let mut c = agent.connect();
        assert_eq!(c.call(r#"{"execute":"guest-ping"}"#), r#"{"return": {}}"#);
        let first = open(&mut c, &path, None);
        assert_eq!(first, 1000);
        close(&mut c, first);
        // Never re-used, even once closed; a failed open takes no number.
        let missing = work.join("missing");
        assert!(open_reply(&mut c, &missing, None).contains("No such file"));
        assert_eq!(open(&mut c, &path, None), 1001);
        assert_eq!(open(&mut c, &path, Some("a")), 1002);
        // The next number, rewritten on every open.
        assert_eq!(
            std::fs::read_to_string(&keyfile).unwrap(),
            "[global]\nfd_counter=1003\n"
        );
    }
    {
        let agent = Agent::start_with("file-state-2", state.path(), |_| {});
        let mut c = agent.connect();
        assert_eq!(open(&mut c, &path, None), 1003);
        // Handles of the previous process are gone.
        assert_eq!(read_reply(&mut c, 1001, None), not_found(1001));
        assert_eq!(
            std::fs::read_to_string(&keyfile).unwrap(),
            "[global]\nfd_counter=1004\n"
        );
    }
    // A counter written by someone else is taken as it is.
    std::fs::write(&keyfile, "[global]\nfd_counter=123456789\n").unwrap();
    let agent = Agent::start_with("file-state-3", state.path(), |_| {});
    let mut c = agent.connect();
    assert_eq!(open(&mut c, &path, None), 123456789);
    assert_eq!(
        std::fs::read_to_string(&keyfile).unwrap(),
        "[global]\nfd_counter=123456790\n"
    );
}

#[test]
fn handles_outlive_the_client_connection() {
    let mut f = Files::new("file-reconnect");
    let path = f.path("data");
    let h = open(&mut f.c, &path, Some("w+"));
    write(&mut f.c, h, b"kept");
    // All replies were read: closing now is a clean disconnect.
    f.c = f.agent.connect();
    seek(&mut f.c, h, 0, "\"set\"", 0);
    assert_eq!(read(&mut f.c, h, None), (b"kept".to_vec(), true));
    close(&mut f.c, h);
}

#[test]
fn sixty_handles_open_at_once() {
    let mut f = Files::new("file-many");
    let paths: Vec<PathBuf> = (0..60).map(|i| f.path(&format!("f{i}"))).collect();
    let handles: Vec<i64> = paths
        .iter()
        .map(|path| open(&mut f.c, path, Some("w+")))
        .collect();
    let mut sorted = handles.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 60, "{handles:?}");
    for round in 0..3 {
        for (i, &h) in handles.iter().enumerate() {
            write(&mut f.c, h, format!("{i}.{round};").as_bytes());
        }
    }
    for (i, &h) in handles.iter().enumerate() {
        seek(&mut f.c, h, 0, "\"set\"", 0);
        let want = format!("{i}.0;{i}.1;{i}.2;");
        assert_eq!(read(&mut f.c, h, None), (want.into_bytes(), true));
    }
    for h in handles {
        close(&mut f.c, h);
    }
}

#[test]
fn a_full_handle_table_gives_a_clear_error() {
    // tinyqga keeps open files in a table sized when it is built (`TINYQGA_FILE_HANDLES`,
    // default 64); qemu-ga has no such limit (1100 files open at once are fine).
    if testing_qemu_ga() {
        skip("a_full_handle_table_gives_a_clear_error: qemu-ga has no handle table limit");
        return;
    }
    let capacity: usize = option_env!("TINYQGA_FILE_HANDLES")
        .map(|v| v.parse().expect("TINYQGA_FILE_HANDLES as a plain number"))
        .unwrap_or(64);
    let mut f = Files::new("file-capacity");
    let path = f.path("data");
    std::fs::write(&path, "x").unwrap();
    let handles: Vec<i64> = (0..capacity).map(|_| open(&mut f.c, &path, None)).collect();
    let reply = open_reply(&mut f.c, &path, None);
    let error = parse(&reply);
    let error = error
        .get("error")
        .unwrap_or_else(|| panic!("open number {}: {reply}", capacity + 1));
    assert_eq!(error.at("class").str(), "GenericError", "{reply}");
    assert!(error.at("desc").str().contains("handle"), "{reply}");
    // The existing handles still work; closing one makes room.
    assert_eq!(read(&mut f.c, handles[0], None), (b"x".to_vec(), true));
    close(&mut f.c, handles[1]);
    let h = open(&mut f.c, &path, None);
    assert_eq!(read(&mut f.c, h, None), (b"x".to_vec(), true));
}

#[test]
fn a_write_larger_than_the_request_buffer_is_refused_and_the_connection_goes_on() {
    // tinyqga's largest request is set when it is built (`TINYQGA_REQUEST_BYTES`, default
    // 2 MiB); qemu-ga's is 64 MiB.
    if testing_qemu_ga() {
        skip("a_write_larger_than_the_request_buffer...: qemu-ga's limit is 64 MiB");
        return;
    }
    let limit: usize = option_env!("TINYQGA_REQUEST_BYTES")
        .map(|v| v.parse().expect("TINYQGA_REQUEST_BYTES as a plain number"))
        .unwrap_or(2 << 20);
    let mut f = Files::new("file-oversize");
    let path = f.path("data");
    let h = open(&mut f.c, &path, Some("w"));
    let data = vec![7u8; limit]; // its base64 is a third larger than the limit
    assert_eq!(
        write_reply(&mut f.c, h, &b64_encode(&data), None),
        generic_error("JSON token size limit exceeded")
    );
    // Nothing was written, and the next request on the same connection works.
    write(&mut f.c, h, b"after");
    close(&mut f.c, h);
    assert_eq!(std::fs::read(&path).unwrap(), b"after");
}
