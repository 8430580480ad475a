//! The arguments of the file and exec commands, and the pure pieces their handlers stand on.
//!
//! The first byte picks what the rest of the input drives:
//!
//! 0. **Well-formed requests** for `guest-file-open/close/flush/read/write/seek`,
//!    `guest-exec`, `guest-exec-status` (and the harmless `guest-sync`), built from the
//!    fuzzer's bytes: members present, absent, mistyped or unexpected, strings escaped in
//!    every way the dialect allows (short escapes, `\uXXXX`, surrogate pairs, raw UTF-8,
//!    single quotes), integers at and past the edges of int64, `whence` as a number or a
//!    name, `capture-output` as a boolean or a mode. The generator knows which error the
//!    QAPI visitor reports first, and checks `schema::check_arguments` says exactly that;
//!    arguments that pass are read through the commands' typed views (`FileSeek`, `Exec`,
//!    ...) and must read back what was sent. The same requests then go through a
//!    [`Session`] with a small request buffer: one well-formed response per request, each
//!    the expected one.
//! 1. **Raw splices**: fuzz bytes dropped unescaped into the same requests' JSON templates
//!    (quotes, backslashes, control characters, 0xFF, invalid UTF-8 included). Whatever the
//!    result, every response is one well-formed line, and anything that parses and passes
//!    the check reads back through the typed views as the parsed values say.
//! 2. **Base64 decoding**: `decoded_len` accepts exactly qemu's alphabet plus newline;
//!    `Decoder::decode` with random output room per call yields `decoded_len` bytes, the
//!    bytes GLib's `g_base64_decode` gives (its loop, transcribed), and for canonical input
//!    the `base64` crate's bytes, which re-encode to the same text.
//! 3. **Base64 encoding**: `Encoder::push` in random piece sizes equals one-shot encoding,
//!    the `base64` crate's, and `JsonWriter::base64_piece`'s; canonical text with newlines
//!    spliced in decodes back to the bytes.
//! 4. **Strings in pieces**: `JsonWriter::str_piece` in random pieces equals
//!    `bytes_as_str` whole, which is a valid 7-bit JSON string (and the same text when the
//!    bytes are UTF-8).
//!
//! Nothing here touches the machine: the session runs with a policy that only enables
//! commands that read nothing ([`HARMLESS`]), so file and exec requests are refused by
//! dispatch; argument checking and the typed views are called directly, never a handler.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use serde_json::Value as JsonValue;
use tinyqga::commands::exec::{Exec, ExecStatus};
use tinyqga::commands::file::{FileOpen, FileRead, FileSeek, FileWrite, Handle, Whence};
use tinyqga::commands::sync::Sync as SyncArgs;
use tinyqga::commands::{self, Policy, State};
use tinyqga::protocol::base64::{Decoder, Encoder, decoded_len};
use tinyqga::protocol::error::DESC_MAX;
use tinyqga::protocol::json::{self, Kind, Node, Value};
use tinyqga::protocol::schema::check_arguments;
use tinyqga::protocol::{Arguments, JsonWriter, Output, request};
use tinyqga::session::Session;

/// The commands the fuzzer may actually run: they only read. Everything else is refused
/// by the policy, so no request built here can open a file or start a program.
const HARMLESS: &[&str] = &[
    "guest-sync-delimited",
    "guest-sync",
    "guest-ping",
    "guest-info",
];

#[allow(clippy::field_reassign_with_default)]
fn harmless_state() -> State {
    let mut state = State::default();
    state.policy = Policy::from_lists(core::iter::empty(), Some(HARMLESS.iter().copied()));
    state
}

/// Collects the responses; nothing is ever sent, so a response can always be withdrawn.
#[derive(Default)]
struct Collect(Vec<u8>, usize);

impl Output for Collect {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn begin_response(&mut self) {
        self.1 = self.0.len();
    }
    fn withdraw(&mut self) -> bool {
        self.0.truncate(self.1);
        true
    }
}

// ---- the schemas, as the generator knows them ------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Str,
    Int,
    StrList,
    /// `GuestFileWhence`: int or `QGASeek`.
    Whence,
    /// `GuestExecCaptureOutput`: bool or `GuestExecCaptureOutputMode`.
    Capture,
}

struct Cmd {
    name: &'static str,
    /// (name, type, required), in schema order.
    members: &'static [(&'static str, Ty, bool)],
}

const CMDS: &[Cmd] = &[
    Cmd {
        name: "guest-file-open",
        members: &[("path", Ty::Str, true), ("mode", Ty::Str, false)],
    },
    Cmd {
        name: "guest-file-close",
        members: &[("handle", Ty::Int, true)],
    },
    Cmd {
        name: "guest-file-flush",
        members: &[("handle", Ty::Int, true)],
    },
    Cmd {
        name: "guest-file-read",
        members: &[("handle", Ty::Int, true), ("count", Ty::Int, false)],
    },
    Cmd {
        name: "guest-file-write",
        members: &[
            ("handle", Ty::Int, true),
            ("buf-b64", Ty::Str, true),
            ("count", Ty::Int, false),
        ],
    },
    Cmd {
        name: "guest-file-seek",
        members: &[
            ("handle", Ty::Int, true),
            ("offset", Ty::Int, true),
            ("whence", Ty::Whence, true),
        ],
    },
    Cmd {
        name: "guest-exec",
        members: &[
            ("path", Ty::Str, true),
            ("arg", Ty::StrList, false),
            ("env", Ty::StrList, false),
            ("input-data", Ty::Str, false),
            ("capture-output", Ty::Capture, false),
        ],
    },
    Cmd {
        name: "guest-exec-status",
        members: &[("pid", Ty::Int, true)],
    },
    // Runs (it is harmless): its reply is checked too.
    Cmd {
        name: "guest-sync",
        members: &[("id", Ty::Int, true)],
    },
];

const SEEK_NAMES: &[&str] = &["set", "cur", "end"];
const CAPTURE_MODES: &[&str] = &["none", "stdout", "stderr", "separated", "merged"];
/// Member names no command has.
const EXTRAS: &[&str] = &[
    "extra",
    "Path",
    "",
    "buf_b64",
    "handle ",
    "arguments",
    "pid ",
];
/// Words the generator likes to use as strings: enum values, near misses, modes, paths,
/// base64.
const WORDS: &[&str] = &[
    "set",
    "cur",
    "end",
    "SET",
    "none",
    "stdout",
    "stderr",
    "separated",
    "merged",
    "all",
    "r",
    "rb",
    "w",
    "w+",
    "a+b",
    "r+b+",
    "rw",
    "/dev/null",
    "/",
    "",
    "QUJD",
    "QU=D",
    "Zg==Zm9v",
    "@@@@",
    "true",
    "0",
    "-1",
];

/// The table the generator uses must be the agent's: same members, same order, same
/// optionality (checked once per run: cheap, and a schema change shows up at once).
fn check_table() {
    for cmd in CMDS {
        let (_, real) = commands::find(cmd.name).expect("command in the table");
        let ours: Vec<(&str, bool)> = cmd.members.iter().map(|m| (m.0, !m.2)).collect();
        let theirs: Vec<(&str, bool)> = real.args.iter().map(|m| (m.name, m.optional)).collect();
        assert_eq!(ours, theirs, "schema of {}", cmd.name);
    }
}

// ---- generating well-formed requests ----------------------------------------------------------

/// What was sent for one member.
#[derive(Debug, Clone, PartialEq)]
enum Sent {
    Absent,
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
    /// Anything else (checked to fail).
    Other,
}

fn small(u: &mut Unstructured, max: u8) -> u8 {
    u.int_in_range(0..=max).unwrap_or(0)
}

/// A string: words the schema cares about, or characters of every kind.
fn gen_string(u: &mut Unstructured) -> String {
    if small(u, 3) == 0 {
        return WORDS[usize::from(small(u, 255)) % WORDS.len()].to_string();
    }
    let len = small(u, 24);
    let mut s = String::new();
    for _ in 0..len {
        let c = match small(u, 7) {
            0..=2 => char::from(0x20 + small(u, 0x5e)),
            3 => char::from(small(u, 0x1f)),
            4 => ['"', '\\', '/', '\'', '\u{7f}', '\u{80}', '\u{ff}'][usize::from(small(u, 6))],
            5 => {
                let n = u.int_in_range(0x80u32..=0xffff).unwrap_or(0xe9);
                char::from_u32(n).unwrap_or('\u{e9}')
            }
            _ => {
                let n = u.int_in_range(0x10000u32..=0x10ffff).unwrap_or(0x1f600);
                char::from_u32(n).unwrap_or('\u{1f600}')
            }
        };
        // The dialect refuses Unicode noncharacters; keep to what is valid.
        let n = c as u32;
        let c = if (0xfdd0..=0xfdef).contains(&n) || n & 0xfffe == 0xfffe {
            '\u{fffd}'
        } else {
            c
        };
        s.push(c);
    }
    s
}

/// `s` as a JSON string literal of the agent's dialect, escaped in a fuzz-chosen way.
fn escape(u: &mut Unstructured, s: &str) -> String {
    let quote = if small(u, 7) == 7 { '\'' } else { '"' };
    let mut out = String::new();
    out.push(quote);
    for c in s.chars() {
        // 0: as it is where it may be; 1: short escapes where there are; 2, 3: \uXXXX.
        let style = small(u, 3);
        let short = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '/' if style == 1 => Some("\\/"),
            '\'' if style == 1 || quote == '\'' => Some("\\'"),
            _ => None,
        };
        let must = (c as u32) < 0x20 || c == quote || c == '\\';
        if style >= 2 || (must && short.is_none()) {
            // \uXXXX, in upper or lower case, a surrogate pair above the BMP.
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                if style == 2 {
                    out.push_str(&format!("\\u{unit:04x}"));
                } else {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        } else if let Some(e) = short.filter(|_| must || style == 1) {
            out.push_str(e);
        } else {
            out.push(c);
        }
    }
    out.push(quote);
    out
}

/// An integer as JSON text, and its value when it is a valid int64.
fn gen_number(u: &mut Unstructured) -> (String, Option<i64>) {
    const EDGES: &[(&str, Option<i64>)] = &[
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("-0", Some(0)),
        ("9223372036854775808", None),
        ("-9223372036854775809", None),
        ("18446744073709551615", None),
        ("1.5", None),
        ("1e3", None),
        ("1E+2", None),
        ("0.0", None),
        ("-0.5e-3", None),
    ];
    match small(u, 5) {
        0 => {
            let (text, value) = EDGES[usize::from(small(u, 255)) % EDGES.len()];
            (text.to_string(), value)
        }
        1 => {
            let n: i64 = u.arbitrary().unwrap_or(0);
            (n.to_string(), Some(n))
        }
        2 => {
            let n = 998 + i64::from(small(u, 8));
            (n.to_string(), Some(n))
        }
        _ => {
            let n = i64::from(small(u, 6)) - 3;
            (n.to_string(), Some(n))
        }
    }
}

/// A null, an array or an object (never an array where a list is wanted).
fn gen_other(u: &mut Unstructured, ty: Ty) -> String {
    let all = ["null", "{}", "{\"a\": null}", "[]", "[1, \"a\"]", "[[]]"];
    let kinds = if ty == Ty::StrList {
        &all[..3]
    } else {
        &all[..]
    };
    kinds[usize::from(small(u, 255)) % kinds.len()].to_string()
}

fn type_error(path: &str, expected: &str) -> String {
    format!("Invalid parameter type for '{path}', expected: {expected}")
}

fn not_accepted(path: &str, value: &str) -> String {
    format!("Parameter '{path}' does not accept value '{value}'")
}

/// One member's value: (JSON text, what was sent, the error its check gives).
fn gen_member(u: &mut Unstructured, name: &str, ty: Ty) -> (String, Sent, Option<String>) {
    let pick = small(u, 9);
    match (ty, pick) {
        // The right kind, most of the time.
        (Ty::Str, 0..=5) => {
            let s = gen_string(u);
            (escape(u, &s), Sent::Str(s), None)
        }
        (Ty::Int, 0..=5) | (Ty::Whence, 0..=2) => {
            let (text, value) = gen_number(u);
            // A number takes the alternate's integer branch, whose check it fails.
            let error = value.is_none().then(|| type_error(name, "integer"));
            (text, value.map_or(Sent::Other, Sent::Int), error)
        }
        (Ty::Whence, 3..=6) | (Ty::Capture, 0..=3) => {
            let names = if ty == Ty::Whence {
                SEEK_NAMES
            } else {
                CAPTURE_MODES
            };
            let s = if small(u, 3) == 0 {
                gen_string(u)
            } else {
                names[usize::from(small(u, 255)) % names.len()].to_string()
            };
            let error = (!names.contains(&s.as_str())).then(|| not_accepted(name, &s));
            (escape(u, &s), Sent::Str(s), error)
        }
        (Ty::Capture, 4..=6) => {
            let b = small(u, 1) == 0;
            (b.to_string(), Sent::Bool(b), None)
        }
        (Ty::StrList, 0..=6) => {
            let len = small(u, 5);
            let mut items = Vec::new();
            let mut texts = Vec::new();
            let mut error = None;
            for i in 0..len {
                if small(u, 9) == 0 {
                    texts.push(if small(u, 1) == 0 {
                        gen_number(u).0
                    } else {
                        gen_other(u, Ty::Int)
                    });
                    error.get_or_insert_with(|| type_error(&format!("{name}[{i}]"), "string"));
                } else {
                    let s = gen_string(u);
                    texts.push(escape(u, &s));
                    items.push(s);
                }
            }
            let text = format!("[{}]", texts.join(", "));
            let sent = if error.is_none() {
                Sent::List(items)
            } else {
                Sent::Other
            };
            (text, sent, error)
        }
        // The wrong kind.
        _ => {
            let expected = match ty {
                Ty::Str => "string",
                Ty::Int => "integer",
                Ty::StrList => "array",
                Ty::Whence => "GuestFileWhence",
                Ty::Capture => "GuestExecCaptureOutput",
            };
            let text = match small(u, 3) {
                // Each kind's wrong scalar: a string for numbers and lists, a number for
                // strings, a boolean for the int alternate.
                0 if matches!(ty, Ty::Int | Ty::StrList) => {
                    let s = gen_string(u);
                    escape(u, &s)
                }
                0 if ty == Ty::Whence => "true".to_string(),
                0 => gen_number(u).0,
                1 if ty != Ty::Capture => ["true", "false"][usize::from(small(u, 1))].to_string(),
                _ => gen_other(u, ty),
            };
            (text, Sent::Other, Some(type_error(name, expected)))
        }
    }
}

/// One well-formed request, what it sent, and the error its arguments' check gives.
struct Generated {
    cmd: &'static Cmd,
    text: String,
    sent: Vec<Sent>,
    id: Option<String>,
    expected: Result<(), String>,
}

fn space(u: &mut Unstructured) -> &'static str {
    ["", " ", "\n", "\t ", "\r\n"][usize::from(small(u, 4))]
}

fn gen_request(u: &mut Unstructured) -> Generated {
    let cmd = &CMDS[usize::from(small(u, 255)) % CMDS.len()];
    let mut members = Vec::new();
    let mut sent = Vec::new();
    let mut expected = None;
    for &(name, ty, required) in cmd.members {
        if small(u, 4) == 4 {
            if required {
                expected.get_or_insert_with(|| format!("Parameter '{name}' is missing"));
            }
            sent.push(Sent::Absent);
            continue;
        }
        let (text, value, error) = gen_member(u, name, ty);
        if let Some(error) = error {
            expected.get_or_insert(error);
        }
        members.push((name.to_string(), text));
        sent.push(value);
    }
    // Members unknown to the command, at fuzz-chosen places; the first in the request is
    // reported, after every member of the schema checked out.
    for _ in 0..small(u, 3).saturating_sub(1) {
        let name = EXTRAS[usize::from(small(u, 255)) % EXTRAS.len()];
        if members.iter().any(|(n, _)| n == name) {
            continue;
        }
        let at = usize::from(small(u, 255)) % (members.len() + 1);
        members.insert(at, (name.to_string(), "1".to_string()));
    }
    // And the members shuffled: the check walks the schema, whatever the request's order.
    for i in (1..members.len()).rev() {
        let j = usize::from(small(u, 255)) % (i + 1);
        members.swap(i, j);
    }
    if expected.is_none()
        && let Some((name, _)) = members
            .iter()
            .find(|(n, _)| !cmd.members.iter().any(|m| m.0 == n))
    {
        expected = Some(format!("Parameter '{name}' is unexpected"));
    }
    let no_arguments = members.is_empty() && small(u, 1) == 1;
    let id = match small(u, 3) {
        0 => None,
        1 => Some(gen_number(u).0),
        2 => {
            let s = gen_string(u);
            Some(escape(u, &s))
        }
        _ => Some(format!("[{}, {{\"k\": null}}]", small(u, 255))),
    };

    let mut text = format!("{{{}\"execute\":{}", space(u), escape(u, cmd.name));
    if !no_arguments {
        let body: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("{}:{}{value}", escape(u, name), space(u)))
            .collect();
        text.push_str(&format!(", \"arguments\": {{{}}}", body.join(",")));
    }
    if let Some(id) = &id {
        text.push_str(&format!(",{}\"id\":{id}", space(u)));
    }
    text.push_str(space(u));
    text.push('}');
    Generated {
        cmd,
        text,
        sent,
        id,
        expected: expected.map_or(Ok(()), Err),
    }
}

/// `desc` as the agent keeps it: cut to [`DESC_MAX`] bytes at a character boundary.
fn truncated(desc: &str) -> String {
    let mut out = String::new();
    for c in desc.chars() {
        if out.len() + c.len_utf8() > DESC_MAX {
            break;
        }
        out.push(c);
    }
    out
}

// ---- the typed views ------------------------------------------------------------------------

/// Reads checked arguments through the command's typed view and asserts each field holds
/// what the parsed request holds.
fn read_typed(name: &str, args: Option<Value<'_>>) {
    let get = |member: &str| args.and_then(|a| a.get(member));
    let string = |member: &str| get(member).map(|v| v.as_str().expect("checked string"));
    let int = |member: &str| get(member).map(|v| v.as_i64().expect("checked int"));
    let list = |member: &str| {
        get(member).map(|v| {
            v.elements()
                .map(|e| e.as_str().expect("checked string"))
                .collect::<Vec<_>>()
        })
    };
    match name {
        "guest-file-open" => {
            let a = FileOpen::read(args);
            assert_eq!(Some(a.path), string("path"));
            assert_eq!(a.mode, string("mode"));
        }
        "guest-file-close" | "guest-file-flush" => {
            assert_eq!(Some(Handle::read(args).handle), int("handle"));
        }
        "guest-file-read" => {
            let a = FileRead::read(args);
            assert_eq!(Some(a.handle), int("handle"));
            assert_eq!(a.count, int("count"));
        }
        "guest-file-write" => {
            let a = FileWrite::read(args);
            assert_eq!(Some(a.handle), int("handle"));
            assert_eq!(Some(a.buf_b64), string("buf-b64"));
            assert_eq!(a.count, int("count"));
        }
        "guest-file-seek" => {
            let a = FileSeek::read(args);
            assert_eq!(Some(a.handle), int("handle"));
            assert_eq!(Some(a.offset), int("offset"));
            let whence = get("whence").expect("checked whence");
            match a.whence {
                Whence::Value(n) => assert_eq!(whence.as_i64(), Some(n)),
                Whence::Name(seek) => assert_eq!(whence.as_str(), Some(seek.name())),
            }
        }
        "guest-exec" => {
            let a = Exec::read(args);
            assert_eq!(Some(a.path), string("path"));
            assert_eq!(a.arg.map(|l| l.iter().collect::<Vec<_>>()), list("arg"));
            assert_eq!(a.env.map(|l| l.iter().collect::<Vec<_>>()), list("env"));
            if let Some(l) = a.arg {
                assert_eq!(l.len(), l.iter().count());
            }
            assert_eq!(a.input_data, string("input-data"));
            assert_eq!(a.capture_output.is_some(), get("capture-output").is_some());
        }
        "guest-exec-status" => {
            assert_eq!(Some(ExecStatus::read(args).pid), int("pid"));
        }
        "guest-sync" | "guest-sync-delimited" => {
            assert_eq!(Some(SyncArgs::read(args).id), int("id"));
        }
        _ => {}
    }
}

/// The member values the parser gives back are the ones that were sent.
fn assert_sent(cmd: &Cmd, sent: &[Sent], args: Option<Value<'_>>) {
    for (&(name, _, _), sent) in cmd.members.iter().zip(sent) {
        let value = args.and_then(|a| a.get(name));
        match sent {
            Sent::Absent => assert!(value.is_none(), "{name}"),
            Sent::Str(s) => assert_eq!(value.and_then(|v| v.as_str()), Some(s.as_str())),
            Sent::Int(n) => assert_eq!(value.and_then(|v| v.as_i64()), Some(*n)),
            Sent::Bool(b) => assert_eq!(value.and_then(|v| v.as_bool()), Some(*b)),
            Sent::List(items) => {
                let got: Vec<&str> = value
                    .expect("list")
                    .elements()
                    .map(|e| e.as_str().expect("string element"))
                    .collect();
                assert_eq!(got, *items);
            }
            Sent::Other => assert!(value.is_some(), "{name}"),
        }
    }
}

/// Parses one request on its own, checks its envelope and arguments, and reads checked
/// arguments through the typed view. Returns the check's error text, if the request got
/// that far; `on_args` sees the arguments.
fn check_directly(
    text: &[u8],
    on_args: impl FnOnce(Option<Value<'_>>, &Result<(), String>),
) -> Option<Result<(), String>> {
    let mut buf = text.to_vec();
    let mut arena = vec![Node::EMPTY; 1024];
    let document = json::parse(&mut buf, &mut arena, 64, None).ok()?;
    let root = document.root();
    let request = request::envelope(root).ok()?;
    let (_, command) = commands::find(request.command)?;
    let result = check_arguments(request.arguments, command.args).map_err(|e| {
        assert!(e.desc.len() <= DESC_MAX);
        e.desc.to_string()
    });
    if result.is_ok() {
        read_typed(request.command, request.arguments);
    }
    on_args(request.arguments, &result);
    Some(result)
}

// ---- the session ------------------------------------------------------------------------------

/// Feeds `input` to a fresh session (request buffer of `request_bytes`, 64 nodes, depth
/// 16) in fuzz-chosen chunks, and returns the response lines, each checked to be one
/// well-formed line holding one JSON object.
fn converse(u: &mut Unstructured, input: &[u8], request_bytes: usize) -> Vec<JsonValue> {
    let mut request = vec![0u8; request_bytes];
    let mut arena = [Node::EMPTY; 64];
    let mut scratch = vec![0u8; 256 << 10];
    let mut session = Session::new(&mut request, &mut arena, &mut scratch, 16);
    let mut state = harmless_state();
    let mut out = Collect::default();
    let mut rest = input;
    while !rest.is_empty() {
        let n = if small(u, 3) == 0 {
            rest.len()
        } else {
            1 + usize::from(small(u, 255))
        };
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        session.feed(chunk, &mut state, &mut out);
        rest = tail;
    }
    let out = out.0;
    assert!(
        out.is_empty() || out.ends_with(b"\n"),
        "output ends mid-line: {out:?}"
    );
    out.split_inclusive(|&b| b == b'\n')
        .map(|line| {
            let text = String::from_utf8_lossy(line);
            let body = line.strip_prefix(b"\xff").unwrap_or(line);
            assert!(
                body.starts_with(b"{"),
                "line does not start with {{: {text:?}"
            );
            assert!(
                body.ends_with(b"}\n"),
                "line does not end with }}\\n: {text:?}"
            );
            assert!(body.is_ascii(), "non-ASCII response: {text:?}");
            let value: JsonValue = serde_json::from_slice(body)
                .unwrap_or_else(|e| panic!("response is not JSON ({e}): {text:?}"));
            assert!(value.is_object(), "{text:?}");
            value
        })
        .collect()
}

/// The session's request buffer: mostly room for the request, sometimes tight.
fn request_buffer(u: &mut Unstructured) -> usize {
    match small(u, 3) {
        0 => 2048,
        1 => 512,
        _ => 64 + 8 * usize::from(small(u, 200)),
    }
}

fn well_formed_requests(u: &mut Unstructured) {
    let mut generated = Vec::new();
    for _ in 0..=small(u, 3) {
        generated.push(gen_request(u));
    }
    let mut input = Vec::new();
    for g in &generated {
        // Checked alone first: the parser gives back what was sent, the check reports the
        // error the generator expects, checked arguments read back through the typed view.
        let result = check_directly(g.text.as_bytes(), |args, result| {
            if result.is_ok() {
                assert_sent(g.cmd, &g.sent, args);
            }
        })
        .unwrap_or_else(|| panic!("a well-formed request did not parse: {}", g.text));
        let want = g.expected.clone().map_err(|e| truncated(&e));
        assert_eq!(result, want, "request: {}", g.text);
        input.extend_from_slice(g.text.as_bytes());
        input.extend_from_slice(space(u).as_bytes());
    }

    let request_bytes = request_buffer(u);
    let replies = converse(u, &input, request_bytes);
    assert_eq!(replies.len(), generated.len(), "one reply per request");
    for (g, reply) in generated.iter().zip(&replies) {
        let error = reply.get("error");
        let desc = error.and_then(|e| e["desc"].as_str()).unwrap_or_default();
        if desc.ends_with("limit exceeded") {
            // Too large for the request buffer (or the node arena): refused whole.
            assert_eq!(error.unwrap()["class"], "GenericError", "{reply}");
            continue;
        }
        let id = g.id.as_ref().map(|text| {
            // The id as this dialect reads it (single quotes become double).
            let mut buf = text.as_bytes().to_vec();
            let mut arena = vec![Node::EMPTY; 64];
            let doc = json::parse(&mut buf, &mut arena, 16, None).expect("id parses");
            to_serde(doc.root())
        });
        assert_eq!(reply.get("id"), id.as_ref(), "id of {}: {reply}", g.text);
        if g.cmd.name == "guest-sync" {
            match (&g.expected, &g.sent[0]) {
                (Ok(()), Sent::Int(n)) => {
                    assert_eq!(reply["return"], JsonValue::from(*n), "{}", g.text)
                }
                (Err(e), _) => {
                    assert_eq!(error.unwrap()["class"], "GenericError", "{reply}");
                    assert_eq!(desc, truncated(e), "{}", g.text);
                }
                _ => unreachable!(),
            }
        } else {
            // Refused before its arguments are looked at: nothing of it ran.
            assert_eq!(error.unwrap()["class"], "CommandNotFound", "{reply}");
            assert_eq!(
                desc,
                format!(
                    "Command {} has been disabled: the command is not allowed",
                    g.cmd.name
                )
            );
        }
    }
}

/// A parsed value as serde_json's.
fn to_serde(v: Value<'_>) -> JsonValue {
    match v.kind() {
        Kind::Null => JsonValue::Null,
        Kind::Bool => JsonValue::Bool(v.as_bool().unwrap()),
        Kind::Number => serde_json::from_str(v.number_text().unwrap()).unwrap(),
        Kind::String => JsonValue::String(v.as_str().unwrap().to_string()),
        Kind::Array => JsonValue::Array(v.elements().map(to_serde).collect()),
        Kind::Object => JsonValue::Object(
            v.members()
                .map(|(k, m)| (String::from_utf8(k.to_vec()).unwrap(), to_serde(m)))
                .collect(),
        ),
        Kind::Verbatim => unreachable!("parsed without a verbatim member"),
    }
}

/// Request templates; fuzz bytes go into the holes between the pieces, unescaped.
const TEMPLATES: &[&[&str]] = &[
    &[
        r#"{"execute":"guest-file-open","arguments":{"path":""#,
        r#"","mode":""#,
        r#""}}"#,
    ],
    &[
        r#"{"execute":"guest-file-read","arguments":{"handle":"#,
        r#","count":"#,
        r#"}}"#,
    ],
    &[
        r#"{"execute":"guest-file-write","arguments":{"handle":"#,
        r#","buf-b64":""#,
        r#"","count":"#,
        r#"}}"#,
    ],
    &[
        r#"{"execute":"guest-file-seek","arguments":{"handle":"#,
        r#","offset":"#,
        r#","whence":"#,
        r#"}}"#,
    ],
    &[
        r#"{"execute":"guest-exec","arguments":{"path":""#,
        r#"","arg":["#,
        r#"],"env":[""#,
        r#""],"input-data":""#,
        r#"","capture-output":"#,
        r#"}}"#,
    ],
    &[
        r#"{"execute":"guest-exec-status","arguments":{"pid":"#,
        r#"},"id":"#,
        r#"}"#,
    ],
    &[r#"{"execute":""#, r#"","arguments":{"#, r#"}}"#],
    &[
        r#"{'execute':'guest-file-close','arguments':{'handle':"#,
        r#"}}"#,
    ],
    &[r#"{"execute":"guest-sync","arguments":{"id":"#, r#"}}"#],
];

fn raw_splices(u: &mut Unstructured) {
    let mut input = Vec::new();
    let mut requests = Vec::new();
    for _ in 0..=small(u, 3) {
        let template = TEMPLATES[usize::from(small(u, 255)) % TEMPLATES.len()];
        let mut text = Vec::new();
        for (i, piece) in template.iter().enumerate() {
            text.extend_from_slice(piece.as_bytes());
            if i + 1 < template.len() {
                let len = usize::from(small(u, 255)).min(u.len());
                text.extend_from_slice(u.bytes(len).unwrap_or_default());
            }
        }
        input.extend_from_slice(&text);
        requests.push(text);
    }
    for text in &requests {
        check_directly(text, |_, _| {});
    }
    let request_bytes = request_buffer(u);
    converse(u, &input, request_bytes);
}

// ---- base64 -----------------------------------------------------------------------------------

/// GLib's `g_base64_decode` (its `g_base64_decode_step` over the whole text, transcribed):
/// characters outside the alphabet and `=` are skipped, `=` ranks 0, each group of four
/// gives the byte of its first pair and the others unless the character after it is `=`.
fn glib_decode(text: &[u8]) -> Vec<u8> {
    let rank = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => 0,
            _ => return None,
        } as u32)
    };
    let (mut out, mut v, mut i, mut last) = (Vec::new(), 0u32, 0, [0u8; 2]);
    for &c in text {
        let Some(r) = rank(c) else { continue };
        last = [c, last[0]];
        v = v << 6 | r;
        i += 1;
        if i == 4 {
            out.push((v >> 16) as u8);
            if last[1] != b'=' {
                out.push((v >> 8) as u8);
            }
            if last[0] != b'=' {
                out.push(v as u8);
            }
            i = 0;
        }
    }
    out
}

/// Decodes with [`Decoder::decode`], the output room of each call taken in turn from
/// `rooms` (each at least 3, the decoder's minimum).
fn decode_in_steps(text: &[u8], rooms: &[usize]) -> Vec<u8> {
    let mut decoder = Decoder::new();
    let mut out = [0u8; 96];
    let mut data = Vec::new();
    let mut rest = text;
    let mut i = 0;
    while !rest.is_empty() {
        let room = rooms[i % rooms.len()];
        i += 1;
        let (used, n) = decoder.decode(rest, &mut out[..room]);
        assert!(
            used > 0 && used <= rest.len(),
            "no progress with room {room}"
        );
        assert!(n <= room);
        data.extend_from_slice(&out[..n]);
        rest = &rest[used..];
    }
    data
}

fn rooms(u: &mut Unstructured) -> Vec<usize> {
    (0..=small(u, 7))
        .map(|_| 3 + usize::from(small(u, 92)))
        .collect()
}

fn base64_decoding(u: &mut Unstructured) {
    let rooms = rooms(u);
    let text = u.bytes(u.len()).unwrap_or_default();
    let alphabet = |c: &u8| c.is_ascii_alphanumeric() || b"+/=\n".contains(c);
    let len = decoded_len(text);
    assert_eq!(
        len.is_ok(),
        text.iter().all(alphabet),
        "decoded_len accepts exactly qemu's characters: {text:?}"
    );
    // The decoder itself skips what it does not rank (only checked input reaches it in the
    // agent, but it must not misbehave on any).
    let data = decode_in_steps(text, &rooms);
    assert_eq!(data, glib_decode(text), "as GLib decodes {text:?}");
    let Ok(len) = len else { return };
    assert_eq!(data.len(), len, "decoded_len of {text:?}");
    // Canonical text (padded, no newline, no stray bits): the base64 crate's bytes, which
    // encode back to the same text.
    let plain: Vec<u8> = text.iter().copied().filter(|&c| c != b'\n').collect();
    if let Ok(strict) = STANDARD.decode(&plain) {
        assert_eq!(data, strict, "canonical {text:?}");
        assert_eq!(encode_in_pieces(&data, &[data.len().max(1)]), plain);
    }
}

/// Encodes with [`Encoder::push`], piece sizes taken in turn from `pieces` (0 allowed).
fn encode_in_pieces(data: &[u8], pieces: &[usize]) -> Vec<u8> {
    let mut text = Vec::new();
    let mut emit = |run: &[u8]| {
        assert!(
            !run.is_empty() && run.len() <= 1024 && run.len().is_multiple_of(4),
            "{run:?}"
        );
        text.extend_from_slice(run);
    };
    let mut encoder = Encoder::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let n = pieces[i % pieces.len()].min(rest.len());
        i += 1;
        encoder.push(&rest[..n], &mut emit);
        rest = &rest[n..];
        // An empty piece is allowed; progress comes from the next non-empty one.
        if n == 0 {
            let (one, tail) = rest.split_at(1);
            encoder.push(one, &mut emit);
            rest = tail;
        }
    }
    encoder.finish(&mut emit);
    text
}

fn pieces(u: &mut Unstructured, max: u8) -> Vec<usize> {
    (0..=small(u, 7))
        .map(|_| usize::from(small(u, max)))
        .collect()
}

fn base64_encoding(u: &mut Unstructured) {
    let pieces = pieces(u, 200);
    let newlines: Vec<usize> = (0..small(u, 4))
        .map(|_| usize::from(small(u, 255)))
        .collect();
    let data = u.bytes(u.len()).unwrap_or_default();
    let whole = STANDARD.encode(data).into_bytes();
    assert_eq!(encode_in_pieces(data, &pieces), whole);
    assert_eq!(encode_in_pieces(data, &[data.len().max(1)]), whole);

    // The writer's base64 strings, in the same pieces.
    let mut out = Collect::default();
    let mut w = JsonWriter::new(&mut out);
    w.begin_base64();
    let mut rest = data;
    for &n in pieces.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(n.max(1).min(rest.len()));
        w.base64_piece(piece);
        rest = tail;
    }
    w.end_base64();
    w.base64(data);
    let mut want = Vec::new();
    for _ in 0..2 {
        want.push(b'"');
        want.extend_from_slice(&whole);
        want.push(b'"');
    }
    assert_eq!(out.0, want);

    // Canonical text with newlines spliced in decodes back (qemu allows them, GLib skips).
    let mut text = whole.clone();
    for at in newlines {
        text.insert(at % (text.len() + 1), b'\n');
    }
    assert_eq!(decoded_len(&text), Ok(data.len()));
    assert_eq!(decode_in_steps(&text, &[3, 4, 7, 64]), data);
}

// ---- strings in pieces ------------------------------------------------------------------------

fn strings_in_pieces(u: &mut Unstructured) {
    let pieces = pieces(u, 9);
    let data = u.bytes(u.len()).unwrap_or_default();
    let whole = {
        let mut out = Collect::default();
        JsonWriter::new(&mut out).bytes_as_str(data);
        out.0
    };
    let in_pieces = {
        let mut out = Collect::default();
        let mut w = JsonWriter::new(&mut out);
        w.begin_str();
        let mut rest = data;
        for &n in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(n.min(rest.len()));
            w.str_piece(piece);
            rest = tail;
            if n == 0 {
                // An empty piece changes nothing; then one byte, for progress.
                let (one, tail) = rest.split_at(1);
                w.str_piece(one);
                rest = tail;
            }
        }
        w.end_str();
        out.0
    };
    assert_eq!(
        in_pieces,
        whole,
        "{data:?} in pieces of {pieces:?}: {:?} vs {:?}",
        String::from_utf8_lossy(&in_pieces),
        String::from_utf8_lossy(&whole)
    );
    assert!(whole.is_ascii(), "{whole:?}");
    let text: String = serde_json::from_slice(&whole)
        .unwrap_or_else(|e| panic!("not a JSON string ({e}): {whole:?}"));
    if let Ok(utf8) = std::str::from_utf8(data) {
        assert_eq!(text, utf8);
    } else {
        assert!(text.contains('\u{fffd}'), "{data:?} -> {text:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    check_table();
    let mut u = Unstructured::new(data);
    match small(&mut u, 4) {
        0 => well_formed_requests(&mut u),
        1 => raw_splices(&mut u),
        2 => base64_decoding(&mut u),
        3 => base64_encoding(&mut u),
        _ => strings_in_pieces(&mut u),
    }
});
