//! Bytes from the host -> framer -> JSON parser -> dispatch -> response writer.
//!
//! The input (after its first byte) is fed to one `Session` in chunks whose sizes are
//! derived from the first byte, so requests arrive split at arbitrary points, as over a
//! real channel. Buffers are small so that the size and depth limits are reached often.
//! Whatever arrives, every response must be one well-formed line: `{` or 0xFF `{` at the
//! start, `\n` at the end, 7-bit ASCII in between (no raw newline can leak out of a string).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tinyqga::commands::{Policy, State};
use tinyqga::protocol::{Node, Output};
use tinyqga::session::Session;

/// The commands the fuzzer may actually run: they only read. Everything else is refused
/// by the policy (still exercising dispatch and argument checking), so that a fuzzer-found
/// `guest-shutdown`, `guest-exec` or `guest-file-write` can never act on this machine.
const HARMLESS: &[&str] = &[
    "guest-sync-delimited",
    "guest-sync",
    "guest-ping",
    "guest-info",
];

/// `State::default()` with only the [`HARMLESS`] commands enabled. (State will grow fields;
/// only the policy is ours to set, hence default-then-assign.)
#[allow(clippy::field_reassign_with_default)]
fn harmless_state() -> State {
    let mut state = State::default();
    state.policy = Policy::from_lists(core::iter::empty(), Some(HARMLESS.iter().copied()));
    state
}

/// Collects the responses; nothing is ever sent, so a response can always be withdrawn
/// (back to the mark its `begin_response` set), as `Collect` in the writer's tests.
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

fuzz_target!(|data: &[u8]| {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let mut request = [0u8; 512];
    let mut arena = [Node::EMPTY; 64];
    let mut scratch = vec![0u8; 256 << 10];
    let mut session = Session::new(&mut request, &mut arena, &mut scratch, 16);
    let mut state = harmless_state();
    let mut out = Collect(Vec::new(), 0);

    // seed 0: all at once; otherwise chunk lengths 1..=seed from a small xorshift.
    let mut rng = u32::from(seed) | 0x9e37_0000;
    let mut rest = input;
    while !rest.is_empty() {
        let n = if seed == 0 {
            rest.len()
        } else {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            1 + (rng as usize) % usize::from(seed)
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
    for line in out.split_inclusive(|&b| b == b'\n') {
        let body = line.strip_prefix(b"\xff").unwrap_or(line);
        let text = String::from_utf8_lossy(line);
        assert!(
            body.starts_with(b"{"),
            "line does not start with {{: {text:?}"
        );
        assert!(
            body.ends_with(b"}\n"),
            "line does not end with }}\\n: {text:?}"
        );
        assert!(body.is_ascii(), "non-ASCII response: {text:?}");
    }
});
