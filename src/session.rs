//! One conversation with a host, still free of I/O: bytes in, responses out.
//!
//! The agent owns one `Session` and resets it whenever the host changes (a new client on a
//! listening socket, or the host side of a virtio port closing), so nothing a previous host
//! half-sent or never read leaks into the next conversation.

#![forbid(unsafe_code)]

use crate::commands::scratch::Scratch;
use crate::commands::{self, State};
use crate::protocol::framer::{Event, FrameError, Framer};
use crate::protocol::json::{self, Node, ParseError};
use crate::protocol::request::{ID, envelope, id_of};
use crate::protocol::{Output, QmpError};
use crate::qmp_error;

/// A conversation and the memory each of its requests works in: the request buffer (held
/// by the framer), the parse arena and the commands' scratch region.
pub struct Session<'b> {
    framer: Framer<'b>,
    arena: &'b mut [Node],
    scratch: &'b mut [u8],
    max_depth: usize,
    /// The most of the arena (nodes) and of the scratch region (bytes) a request has used
    /// since the last [`Session::give_back`].
    arena_used: usize,
    scratch_used: usize,
}

impl<'b> Session<'b> {
    /// `request` bounds the size of one request, `arena` the nodes of its parse tree,
    /// `scratch` the working memory of the command it runs.
    pub fn new(
        request: &'b mut [u8],
        arena: &'b mut [Node],
        scratch: &'b mut [u8],
        max_depth: usize,
    ) -> Session<'b> {
        Session {
            framer: Framer::new(request, max_depth),
            arena,
            scratch,
            max_depth,
            arena_used: 0,
            scratch_used: 0,
        }
    }

    /// The scratch region, for work the agent does between requests (thawing file systems
    /// before it exits).
    pub fn scratch(&mut self) -> Scratch<'_> {
        Scratch::new(self.scratch)
    }

    /// After a request that used more than `keep` bytes of a buffer, lends the used part
    /// past `keep` to `bytes` or `nodes` (the agent hands those pages back to the kernel,
    /// so the resident size returns to what small requests need) and starts counting
    /// again. Bytes still pending in the request buffer are never lent.
    pub fn give_back(
        &mut self,
        keep: usize,
        bytes: &mut dyn FnMut(&mut [u8]),
        nodes: &mut dyn FnMut(&mut [Node]),
    ) {
        let request = self.framer.spent();
        if request.len() > keep {
            bytes(&mut request[keep..]);
        }
        let used = core::mem::take(&mut self.scratch_used).min(self.scratch.len());
        if used > keep {
            bytes(&mut self.scratch[keep..used]);
        }
        let node_keep = keep / core::mem::size_of::<Node>();
        let used = core::mem::take(&mut self.arena_used).min(self.arena.len());
        if used > node_keep {
            nodes(&mut self.arena[node_keep..used]);
        }
    }

    /// Forgets any partial request.
    pub fn reset(&mut self) {
        self.framer.reset();
    }

    /// Feeds bytes from the host, running every request they complete and writing the
    /// responses to `out`. Stops early if `out` reports the host gone; the unread rest
    /// belongs to that host and is dropped with it.
    pub fn feed(&mut self, mut input: &[u8], state: &mut State, out: &mut dyn Output) {
        while !input.is_empty() && !out.closed() {
            let (used, event) = self.framer.push(input);
            input = input.get(used..).unwrap_or_default();
            match event {
                Some(Event::Value(_)) => self.run(state, out),
                Some(Event::Error(error)) => commands::write_error(out, &frame_error(&error), None),
                None => {}
            }
        }
    }

    fn run(&mut self, state: &mut State, out: &mut dyn Output) {
        let text = self.framer.value();
        // Every node starts at a byte of its own: a failed parse used at most this many.
        let at_most = text.len().min(self.arena.len());
        match json::parse(text, self.arena, self.max_depth, Some(ID)) {
            Err(error) => {
                self.arena_used = self.arena_used.max(at_most);
                commands::write_error(out, &parse_error(&error), None);
            }
            Ok(document) => {
                self.arena_used = self.arena_used.max(document.node_count());
                let root = document.root();
                let id = id_of(root);
                match envelope(root) {
                    Ok(request) => {
                        let used = commands::dispatch(request, id, state, self.scratch, out);
                        self.scratch_used = self.scratch_used.max(used);
                    }
                    Err(error) => commands::write_error(out, &error, id),
                }
            }
        }
    }
}

fn parse_error(error: &ParseError) -> QmpError {
    qmp_error!("{error}")
}

fn frame_error(error: &FrameError) -> QmpError {
    match error {
        FrameError::Stray(token) => {
            let mut text = crate::text::FmtBuf::<256>::new();
            let _ = crate::text::write_lossy(&mut text, token);
            let token = core::str::from_utf8(text.as_bytes()).unwrap_or_default();
            qmp_error!("JSON parse error, stray '{token}'")
        }
        FrameError::ExpectingValue => parse_error(&ParseError::ExpectingValue),
        FrameError::TooLarge => qmp_error!("JSON token size limit exceeded"),
        FrameError::TooDeep => parse_error(&ParseError::TooDeep),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::Policy;
    use crate::protocol::writer::tests::Collect;

    /// Runs `input` through a fresh session and returns the response lines.
    fn converse_with(
        input: &[&[u8]],
        request_bytes: usize,
        depth: usize,
        state: &mut State,
    ) -> Vec<String> {
        let mut request = vec![0u8; request_bytes];
        let mut arena = vec![Node::EMPTY; 512];
        let mut scratch = vec![0u8; 256 << 10];
        let mut session = Session::new(&mut request, &mut arena, &mut scratch, depth);
        let mut out = Collect::default();
        for piece in input {
            session.feed(piece, state, &mut out);
        }
        let text = String::from_utf8(out.0).expect("responses are ASCII");
        text.split_inclusive('\n').map(str::to_string).collect()
    }

    fn converse(input: &[u8]) -> Vec<String> {
        converse_with(&[input], 4096, 16, &mut State::default())
    }

    fn error(desc: &str) -> String {
        format!("{{\"error\": {{\"class\": \"GenericError\", \"desc\": \"{desc}\"}}}}\n")
    }

    fn one_error(input: &str) -> String {
        let replies = converse(input.as_bytes());
        assert_eq!(replies.len(), 1, "{input}: {replies:?}");
        replies[0].clone()
    }

    #[test]
    fn envelope_errors_have_qemus_texts() {
        let cases = [
            ("[1]", "QMP input must be a JSON object"),
            ("\"str\"", "QMP input must be a JSON object"),
            ("5 ", "QMP input must be a JSON object"),
            ("null ", "QMP input must be a JSON object"),
            ("{}", "QMP input lacks member 'execute'"),
            ("{\"arguments\":{}}", "QMP input lacks member 'execute'"),
            (
                "{\"execute\":5}",
                "QMP input member 'execute' must be a string",
            ),
            (
                "{\"execute\":null}",
                "QMP input member 'execute' must be a string",
            ),
            (
                "{\"execute\":\"guest-ping\",\"arguments\":[]}",
                "QMP input member 'arguments' must be an object",
            ),
            (
                "{\"execute\":\"guest-ping\",\"arguments\":null}",
                "QMP input member 'arguments' must be an object",
            ),
            (
                "{\"execute\":\"guest-ping\",\"exec-oob\":\"x\"}",
                "QMP input member 'exec-oob' is unexpected",
            ),
            (
                "{\"execute\":\"guest-ping\",\"control\":1}",
                "QMP input member 'control' is unexpected",
            ),
        ];
        for (input, desc) in cases {
            assert_eq!(one_error(input), error(desc), "{input}");
        }
    }

    #[test]
    fn unknown_and_disabled_commands_are_command_not_found() {
        assert_eq!(
            one_error("{\"execute\":\"guest-nope\"}"),
            "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-nope has not been found\"}}\n"
        );
        let mut state = State {
            policy: Policy::from_lists(["guest-ping"].into_iter(), None::<core::iter::Empty<&str>>),
            ..State::default()
        };
        let replies = converse_with(&[b"{\"execute\":\"guest-ping\"}"], 4096, 16, &mut state);
        assert_eq!(
            replies,
            [
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"Command guest-ping has been disabled: the command is not allowed\"}}\n"
            ]
        );
        state.policy = Policy::default();
        state.policy.frozen = true;
        let replies = converse_with(&[b"{\"execute\":\"guest-ping\"}"], 4096, 16, &mut state);
        assert_eq!(replies, ["{\"return\": {}}\n"], "guest-ping is freeze-safe");
    }

    #[test]
    fn argument_errors_have_qapis_texts() {
        let cases = [
            (
                "{\"execute\":\"guest-ping\",\"arguments\":{\"foo\":1}}",
                "Parameter 'foo' is unexpected",
            ),
            ("{\"execute\":\"guest-sync\"}", "Parameter 'id' is missing"),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{}}",
                "Parameter 'id' is missing",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":\"a\"}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1.5}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1e3}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":9223372036854775808}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":-9223372036854775809}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":true}}",
                "Invalid parameter type for 'id', expected: integer",
            ),
            // Missing is reported before unexpected, as the QAPI visitor walks the schema first.
            (
                "{\"execute\":\"guest-sync\",\"arguments\":{\"x\":1}}",
                "Parameter 'id' is missing",
            ),
        ];
        for (input, desc) in cases {
            assert_eq!(one_error(input), error(desc), "{input}");
        }
    }

    #[test]
    fn integers_at_the_edges_of_int64() {
        for id in ["9223372036854775807", "-9223372036854775808", "-0", "0"] {
            let input = format!("{{\"execute\":\"guest-sync\",\"arguments\":{{\"id\":{id}}}}}");
            let want = id.trim_start_matches("-0").to_string();
            let want = if want.is_empty() {
                "0".to_string()
            } else {
                id.parse::<i64>().unwrap().to_string()
            };
            assert_eq!(
                converse(input.as_bytes()),
                [format!("{{\"return\": {want}}}\n")]
            );
        }
    }

    #[test]
    fn parse_errors_have_qemus_texts() {
        let cases: [(&[u8], &str); 16] = [
            (
                b"{\"execute\":\"guest-ping\",}",
                "JSON parse error, expecting value",
            ),
            (b"[1,]", "JSON parse error, expecting value"),
            (b"}", "JSON parse error, expecting value"),
            (
                b"{\"execute\" \"guest-ping\"}",
                "JSON parse error, missing : in object pair",
            ),
            (
                b"{\"execute\":\"guest-ping\" \"x\"}",
                "JSON parse error, expected separator in dict",
            ),
            (b"[1 2]", "JSON parse error, expected separator in list"),
            (b"{1:2}", "JSON parse error, key is not a string in object"),
            (b"{\"a\":1,\"a\":2}", "JSON parse error, duplicate key"),
            (
                b"{\"execute\":tru}",
                "JSON parse error, invalid keyword 'tru'",
            ),
            (b"{\"execute\":%d}", "JSON parse error, stray '%'"),
            (b"@", "JSON parse error, stray '@'"),
            (
                b"{\"execute\":\"\\x\"}",
                "JSON parse error, invalid escape sequence in string",
            ),
            (
                b"{\"execute\":\"\\ud800\"}",
                "JSON parse error, \\\\ud800 is not a valid Unicode character",
            ),
            (
                b"{\"execute\":\"\\ufffe\"}",
                "JSON parse error, \\\\ufffe is not a valid Unicode character",
            ),
            (
                b"{\"execute\":\"gu\xc3\"}",
                "JSON parse error, invalid UTF-8 sequence in string",
            ),
            (
                b"{\"execute\":\"\xed\xa0\x80\"}",
                "JSON parse error, invalid UTF-8 sequence in string",
            ),
        ];
        for (input, desc) in cases {
            assert_eq!(
                converse(input),
                [error(desc)],
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn strings_escapes_and_the_dialect() {
        // Single quotes and \' are accepted; \u0000 too; output is ASCII with upper-case escapes.
        assert_eq!(
            converse(b"{'execute':'guest-sync','arguments':{'id':7}}"),
            ["{\"return\": 7}\n"]
        );
        assert_eq!(
            one_error("{\"execute\":\"gu\\u00e9\\ud83d\\ude00\\'\\u0000\"}"),
            "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command gu\\u00E9\\uD83D\\uDE00'\\u0000 has not been found\"}}\n"
        );
        assert_eq!(
            one_error("{\"execute\":\"gu\u{e9}\"}"),
            "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command gu\\u00E9 has not been found\"}}\n"
        );
    }

    #[test]
    fn ids_of_every_type_are_echoed() {
        for id in [
            "1",
            "\"abc\"",
            "null",
            "true",
            "1.5e3",
            "{\"a\": [1, 2.5, \"x\"]}",
            "[]",
        ] {
            let ok = format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}");
            assert_eq!(
                converse(ok.as_bytes()),
                [format!("{{\"return\": {{}}, \"id\": {id}}}\n")]
            );
            let bad = format!("{{\"execute\":\"guest-nope\",\"id\":{id}}}");
            assert!(
                converse(bad.as_bytes())[0].starts_with(&format!("{{\"id\": {id}, \"error\": "))
            );
        }
        // Even when the envelope is wrong.
        assert!(converse(b"{\"id\":5}")[0].starts_with("{\"id\": 5, \"error\""));
    }

    #[test]
    fn sync_delimited_is_prefixed_with_ff_and_nothing_else_is() {
        let mut request = vec![0u8; 4096];
        let mut arena = vec![Node::EMPTY; 64];
        let mut session = Session::new(&mut request, &mut arena, &mut [], 16);
        let mut out = Collect::default();
        session.feed(
            b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":42}}{\"execute\":\"guest-ping\"}",
            &mut State::default(),
            &mut out,
        );
        assert_eq!(out.0, b"\xff{\"return\": 42}\n{\"return\": {}}\n");
    }

    #[test]
    fn byte_at_a_time_and_many_in_one_write() {
        let input = b"{\"execute\":\"guest-sync\",\"arguments\":{\"id\":1}} {'execute':'guest-ping'}\n{\"execute\":\"guest-sync\",\"arguments\":{\"id\":2}}";
        let whole = converse(input);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let single = converse_with(&bytes, 4096, 16, &mut State::default());
        assert_eq!(
            whole,
            [
                "{\"return\": 1}\n",
                "{\"return\": {}}\n",
                "{\"return\": 2}\n"
            ]
        );
        assert_eq!(single, whole);
    }

    #[test]
    fn ff_in_the_middle_of_a_request_drops_it_without_a_reply() {
        assert_eq!(
            converse(b"{\"execute\":\"guest-inf\xff{\"execute\":\"guest-ping\"}"),
            ["{\"return\": {}}\n"]
        );
    }

    #[test]
    fn an_overlong_request_then_a_good_one() {
        let mut input = b"{\"execute\":\"guest-sync\",\"arguments\":{\"junk\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(
            b"\",\"id\":1}}{\"execute\":\"guest-sync\",\"arguments\":{\"id\":2}}",
        );
        let replies = converse_with(&[&input], 1024, 16, &mut State::default());
        assert_eq!(
            replies,
            [
                error("JSON token size limit exceeded"),
                "{\"return\": 2}\n".to_string()
            ]
        );
    }

    #[test]
    fn deep_nesting_then_recovery() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let input = format!("{deep}{{\"execute\":\"guest-ping\"}}");
        assert_eq!(
            converse(input.as_bytes()),
            [
                error("JSON nesting depth limit exceeded"),
                "{\"return\": {}}\n".into()
            ]
        );
        // An id nested up to the limit is echoed whole.
        let id = format!("{}{}", "[".repeat(15), "]".repeat(15));
        let input = format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}");
        let want = format!("{{\"return\": {{}}, \"id\": {id}}}\n");
        assert_eq!(converse(input.as_bytes()), [want]);
    }

    #[test]
    fn too_many_nodes_in_arguments_is_an_error_then_recovery() {
        let many = format!(
            "{{\"execute\":\"guest-ping\",\"arguments\":{{\"a\":[{}0]}}}}",
            "0,".repeat(600)
        );
        let replies = converse(format!("{many}{{\"execute\":\"guest-ping\"}}").as_bytes());
        assert_eq!(
            replies,
            [
                error("JSON token count limit exceeded"),
                "{\"return\": {}}\n".into()
            ]
        );
    }

    /// Runs one request with qemu-ga's limits (nesting 1024) and a 512-node arena.
    fn converse_big(request: &str) -> Vec<String> {
        converse_with(&[request.as_bytes()], 4 << 20, 1024, &mut State::default())
    }

    #[test]
    fn an_id_of_any_size_costs_no_arena() {
        // qemu-ga echoes a 100 000-element id; the arena here holds 512 nodes.
        let elements: Vec<String> = (0..100_000).map(|i| i.to_string()).collect();
        let request = format!(
            "{{\"execute\":\"guest-ping\",\"id\":[{}]}}",
            elements.join(",")
        );
        let want = format!("{{\"return\": {{}}, \"id\": [{}]}}\n", elements.join(", "));
        assert_eq!(converse_big(&request), [want]);
        // Objects inside it are checked and forgotten one by one.
        let objects = vec!["{\"a\":{\"b\":[1,2]}}"; 20_000].join(",");
        let request = format!("{{\"execute\":\"guest-ping\",\"id\":[{objects}]}}");
        let reply = &converse_big(&request)[0];
        assert!(reply.starts_with("{\"return\": {}, \"id\": [{\"a\": {\"b\": [1, 2]}}, {\"a\""));
        assert_eq!(reply.matches("{\"a\": {\"b\": [1, 2]}}").count(), 20_000);
    }

    #[test]
    fn nesting_up_to_qemus_limit_of_1024() {
        // The envelope is level 1: an id 1023 deep is the deepest accepted, as in qemu-ga.
        let id = format!("{}{}", "[".repeat(1023), "]".repeat(1023));
        let want = format!("{{\"return\": {{}}, \"id\": {id}}}\n");
        assert_eq!(
            converse_big(&format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}")),
            [want]
        );
        let id = format!("{}{}", "[".repeat(1024), "]".repeat(1024));
        assert_eq!(
            converse_big(&format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}")),
            [error("JSON nesting depth limit exceeded")]
        );
        // Arguments nest as deep as the arena allows, with no recursion (and are then
        // refused by the schema, as in qemu-ga).
        let deep = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert_eq!(
            converse_big(&format!(
                "{{\"execute\":\"guest-ping\",\"arguments\":{{\"a\":{deep}}}}}"
            )),
            [error("Parameter 'a' is unexpected")]
        );
    }

    #[test]
    fn an_id_is_echoed_in_qemus_style() {
        let cases = [
            // Separators and white space are the writer's; member order is the request's.
            ("[1 , {\"b\" :2,\"a\":[]}]", "[1, {\"b\": 2, \"a\": []}]"),
            // Strings are re-escaped as every string the agent writes.
            (
                "\"\\u00e9\\ud83d\\ude00 x\\/\"",
                "\"\\u00E9\\uD83D\\uDE00 x/\"",
            ),
            ("'a\"b\\''", "\"a\\\"b'\""),
            ("{'k\\n':'v'}", "{\"k\\n\": \"v\"}"),
            // The same key in different objects is no duplicate.
            ("[{\"a\":1},{\"a\":1}]", "[{\"a\": 1}, {\"a\": 1}]"),
        ];
        for (id, echoed) in cases {
            let request = format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}");
            assert_eq!(
                converse(request.as_bytes()),
                [format!("{{\"return\": {{}}, \"id\": {echoed}}}\n")],
                "{id}"
            );
        }
    }

    #[test]
    fn a_bad_id_is_a_parse_error() {
        let cases = [
            ("[1,]", "JSON parse error, expecting value"),
            ("{\"a\":1,\"a\":2}", "JSON parse error, duplicate key"),
            // Keys are compared as the text they stand for.
            (
                "{\"a\\u0062\":1,\"ab\":2}",
                "JSON parse error, duplicate key",
            ),
            (
                "[{\"a\":[{\"x\":1,\"x\":1}]}]",
                "JSON parse error, duplicate key",
            ),
            ("{1:2}", "JSON parse error, key is not a string in object"),
            (
                "\"\\ud800\"",
                "JSON parse error, \\\\ud800 is not a valid Unicode character",
            ),
            (
                "\"\\q\"",
                "JSON parse error, invalid escape sequence in string",
            ),
            ("tru", "JSON parse error, invalid keyword 'tru'"),
        ];
        for (id, desc) in cases {
            let request = format!("{{\"execute\":\"guest-ping\",\"id\":{id}}}");
            assert_eq!(converse(request.as_bytes()), [error(desc)], "{id}");
        }
        // The id member itself is a key like any other.
        assert_eq!(
            converse(b"{\"id\":1,\"execute\":\"guest-ping\",\"id\":2}"),
            [error("JSON parse error, duplicate key")]
        );
    }

    #[test]
    fn a_newline_in_a_string_then_the_next_line_works() {
        let replies = converse(b"{\"execute\":\"guest-pi\nng\"}\n{\"execute\":\"guest-ping\"}\n");
        assert_eq!(
            replies,
            [
                error("JSON parse error, stray '\\\"guest-pi\\n'"),
                "{\"return\": {}}\n".into()
            ]
        );
    }

    #[test]
    fn guest_info_lists_the_table() {
        let reply = &converse(b"{\"execute\":\"guest-info\"}")[0];
        assert!(reply.starts_with("{\"return\": {\"version\": \"10.0.0\", \"supported_commands\": [{\"name\": \"guest-sync-delimited\", \"enabled\": true, \"success-response\": true}"));
        for c in crate::commands::COMMANDS {
            assert!(reply.contains(&format!("\"name\": \"{}\"", c.name)));
        }
    }

    /// What [`Session::give_back`] lends, as (buffer, bytes or nodes).
    fn lent(session: &mut Session<'_>) -> Vec<(&'static str, usize)> {
        let lent = std::cell::RefCell::new(Vec::new());
        session.give_back(
            64 << 10,
            &mut |b| lent.borrow_mut().push(("bytes", b.len())),
            &mut |n| lent.borrow_mut().push(("nodes", n.len())),
        );
        lent.into_inner()
    }

    #[test]
    fn after_a_large_request_its_pages_are_lent_back_once() {
        let mut request = vec![0u8; 1 << 20];
        let mut arena = vec![Node::EMPTY; 16 << 10];
        let mut scratch = vec![0u8; 1 << 20];
        let mut session = Session::new(&mut request, &mut arena, &mut scratch, 16);
        let mut out = Collect::default();
        let mut state = State::default();
        session.feed(b"{\"execute\":\"guest-ping\"}", &mut state, &mut out);
        assert_eq!(lent(&mut session), [], "a small request keeps its pages");

        let big = format!(
            "{{\"execute\":\"guest-ping\",\"id\":\"{}\"}}",
            "x".repeat(300_000)
        );
        session.feed(big.as_bytes(), &mut state, &mut out);
        assert_eq!(lent(&mut session), [("bytes", big.len() - (64 << 10))]);
        assert_eq!(lent(&mut session), [], "and only once");

        // The arena, past what small requests use (4096 nodes of 16 bytes): the root,
        // "execute" and its value, "arguments", its object, "a", the array, 5001 elements.
        let many = format!(
            "{{\"execute\":\"guest-ping\",\"arguments\":{{\"a\":[{}0]}}}}",
            "0,".repeat(5000)
        );
        session.feed(many.as_bytes(), &mut state, &mut out);
        assert_eq!(lent(&mut session), [("nodes", 5008 - 4096)]);

        // A request still arriving is never lent, however large.
        session.feed(&big.as_bytes()[..200_000], &mut state, &mut out);
        assert_eq!(lent(&mut session), []);
        session.feed(&big.as_bytes()[200_000..], &mut state, &mut out);
        assert_eq!(lent(&mut session), [("bytes", big.len() - (64 << 10))]);
        assert!(String::from_utf8(out.0).unwrap().ends_with("\"}\n"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn scratch_a_command_took_is_lent_back() {
        let mut request = vec![0u8; 4096];
        let mut arena = vec![Node::EMPTY; 64];
        let mut scratch = vec![0u8; 1 << 20];
        let mut session = Session::new(&mut request, &mut arena, &mut scratch, 16);
        let mut out = Collect::default();
        // guest-get-users takes room for 256 utmp records of 384 bytes.
        session.feed(
            b"{\"execute\":\"guest-get-users\"}",
            &mut State::default(),
            &mut out,
        );
        assert_eq!(lent(&mut session), [("bytes", 256 * 384 - (64 << 10))]);
    }

    #[test]
    fn whitespace_alone_gives_no_reply() {
        assert!(converse(b" \r\n\t\n").is_empty());
    }
}
