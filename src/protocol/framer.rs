//! Framing: a byte stream in, one complete top-level JSON value at a time out.
//!
//! The host sends no length prefix and no delimiter; like qemu-ga, a message ends where its
//! outermost brace or bracket closes (a top-level scalar ends with its token). The framer
//! copies the value into a caller-provided buffer, tracking depth, strings and escapes, and
//! reports it whole. It never needs the bytes again once a value is out.
//!
//! Faults are reported as [`FrameError`] and never stop the stream:
//! - a value longer than the buffer, or nested deeper than the limit, is skipped to its end
//!   and reported once (`JSON token size limit exceeded`, `JSON nesting depth limit
//!   exceeded`);
//! - a byte that cannot appear where it is (a control character in a string, a byte >= 0x80
//!   outside one) is reported as qemu-ga's lexer does (`stray '...'`), after which bytes are
//!   skipped up to the next `{`, `[` or control character (a newline ends a broken line);
//! - a 0xFF byte, which never occurs in JSON, silently discards everything pending: it is the
//!   "flush" byte clients send before `guest-sync-delimited`.

/// The longest part of a bad token quoted back in a `stray '...'` message.
pub const STRAY_QUOTE_MAX: usize = 64;

/// A fault in the byte stream. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Bytes that cannot start or continue a JSON token here (qemu-ga: `stray '...'`).
    Stray(heapless::Vec<u8, STRAY_QUOTE_MAX>),
    /// A closing bracket, colon or comma where a value must start.
    ExpectingValue,
    /// The value did not fit the request buffer.
    TooLarge,
    /// The value nested deeper than the limit.
    TooDeep,
}

/// What [`Framer::push`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A complete value of this many bytes is in [`Framer::value`].
    Value(usize),
    /// A fault; the stream goes on after it.
    Error(FrameError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between values.
    Idle,
    /// Inside an object or array, outside strings.
    Nested,
    /// Inside a string (`"` or `'`); `top` when the string is the whole value.
    Str { quote: u8, top: bool },
    /// After a backslash in a string.
    Escape { quote: u8, top: bool },
    /// A top-level number or keyword (`5`, `true`, `garbage`).
    Bare,
    /// Skipping after a lexical error.
    Recover,
}

/// The framing state machine. `buf` is the request buffer: its length is the largest
/// value accepted.
pub struct Framer<'a> {
    buf: &'a mut [u8],
    len: usize,
    depth: usize,
    max_depth: usize,
    state: State,
    /// Where the current string started in `buf` (for quoting it in an error).
    string_start: usize,
    /// A fault noticed inside the current value; reported when the value ends.
    fault: Option<FrameError>,
    /// The previous event was a value the caller has seen: forget it before going on.
    delivered: bool,
    /// The most of `buf` used since the last [`Framer::spent`].
    high_water: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Bytes of a number or keyword (qemu-ga's lexer takes the same set).
fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.')
}

fn stray(bytes: &[u8]) -> FrameError {
    let mut quoted = heapless::Vec::new();
    let keep = bytes.len().min(STRAY_QUOTE_MAX);
    let _ = quoted.extend_from_slice(&bytes[..keep]);
    FrameError::Stray(quoted)
}

impl<'a> Framer<'a> {
    pub fn new(buf: &'a mut [u8], max_depth: usize) -> Framer<'a> {
        Framer {
            buf,
            len: 0,
            depth: 0,
            max_depth,
            state: State::Idle,
            string_start: 0,
            fault: None,
            delivered: false,
            high_water: 0,
        }
    }

    /// The part of the buffer that values used since the last call, past the bytes still
    /// pending (the caller may discard its contents: see `Session::give_back`).
    pub fn spent(&mut self) -> &mut [u8] {
        let keep = if self.delivered { 0 } else { self.len };
        let end = core::mem::replace(&mut self.high_water, keep).max(keep);
        &mut self.buf[keep..end]
    }

    /// Forgets everything pending: a new client, or a host that came back, starts clean.
    pub fn reset(&mut self) {
        self.high_water = self.high_water.max(self.len);
        self.len = 0;
        self.depth = 0;
        self.state = State::Idle;
        self.fault = None;
        self.delivered = false;
    }

    /// True when no partial value is pending.
    pub fn is_idle(&self) -> bool {
        self.state == State::Idle
    }

    /// The complete value reported by the last [`Event::Value`]. The parser may rewrite it
    /// in place (unescaping strings); it is discarded by the next `push`.
    pub fn value(&mut self) -> &mut [u8] {
        let len = self.len;
        &mut self.buf[..len]
    }

    /// Feeds bytes. Returns how many were consumed and the event that stopped consumption,
    /// if any. Call again with the rest of the input after handling the event.
    pub fn push(&mut self, input: &[u8]) -> (usize, Option<Event>) {
        if self.delivered {
            self.delivered = false;
            self.len = 0;
        }
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            // Inside a string, a run of plain bytes is copied at once (a file write is one
            // string of a megabyte or more).
            if let State::Str { quote, .. } = self.state {
                let run = input[i..]
                    .iter()
                    .position(|&c| c == quote || c == b'\\' || c < 0x20 || c == 0xFF)
                    .unwrap_or(input.len() - i);
                if run > 0 {
                    self.store_run(&input[i..i + run]);
                    i += run;
                    continue;
                }
            }
            match self.step(b) {
                Step::More => i += 1,
                Step::Done(event) => return (i + 1, Some(self.finish(event))),
                // The byte that ended a top-level keyword belongs to what follows.
                Step::DoneBefore(event) => return (i, Some(self.finish(event))),
            }
        }
        (input.len(), None)
    }

    fn finish(&mut self, event: Event) -> Event {
        // A value too large for the buffer filled it.
        self.high_water = self.high_water.max(self.len);
        let event = match (event, self.fault.take()) {
            (Event::Value(_), Some(fault)) => Event::Error(fault),
            (event, _) => event,
        };
        if let Event::Value(_) = event {
            self.delivered = true;
        } else {
            self.len = 0;
        }
        self.depth = 0;
        if self.state != State::Recover {
            self.state = State::Idle;
        }
        event
    }

    /// Stores plain string bytes, as [`Framer::store`] would one by one.
    fn store_run(&mut self, bytes: &[u8]) {
        let room = self.buf.len() - self.len;
        let kept = bytes.len().min(room);
        self.buf[self.len..self.len + kept].copy_from_slice(&bytes[..kept]);
        self.len += kept;
        if kept < bytes.len() {
            self.fault.get_or_insert(FrameError::TooLarge);
        }
    }

    fn store(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => {
                self.fault.get_or_insert(FrameError::TooLarge);
            }
        }
    }

    fn lexical_error(&mut self, error: FrameError) -> Step {
        self.fault = None;
        self.state = State::Recover;
        Step::Done(Event::Error(error))
    }

    fn step(&mut self, b: u8) -> Step {
        if b == 0xFF {
            self.reset();
            return Step::More;
        }
        match self.state {
            State::Idle => self.start(b),
            State::Recover => {
                if b == b'{' || b == b'[' {
                    self.state = State::Idle;
                    self.start(b)
                } else {
                    if b < 0x20 {
                        self.state = State::Idle;
                    }
                    Step::More
                }
            }
            State::Nested => match b {
                b'"' | b'\'' => {
                    self.string_start = self.len;
                    self.store(b);
                    self.state = State::Str {
                        quote: b,
                        top: false,
                    };
                    Step::More
                }
                b'{' | b'[' => {
                    self.store(b);
                    self.depth += 1;
                    if self.depth > self.max_depth {
                        self.fault.get_or_insert(FrameError::TooDeep);
                    }
                    Step::More
                }
                b'}' | b']' => {
                    self.store(b);
                    self.depth -= 1;
                    if self.depth == 0 {
                        Step::Done(Event::Value(self.len))
                    } else {
                        Step::More
                    }
                }
                _ if b >= 0x80 || (b < 0x20 && !is_space(b)) => self.lexical_error(stray(&[b])),
                _ => {
                    self.store(b);
                    Step::More
                }
            },
            State::Str { quote, top } => {
                if b < 0x20 {
                    return self.control_in_string(b);
                }
                self.store(b);
                if b == quote {
                    if top {
                        return Step::Done(Event::Value(self.len));
                    }
                    self.state = State::Nested;
                } else if b == b'\\' {
                    self.state = State::Escape { quote, top };
                }
                Step::More
            }
            State::Escape { quote, top } => {
                if b < 0x20 {
                    return self.control_in_string(b);
                }
                self.store(b);
                self.state = State::Str { quote, top };
                Step::More
            }
            State::Bare => {
                if is_bare(b) {
                    self.store(b);
                    Step::More
                } else {
                    Step::DoneBefore(Event::Value(self.len))
                }
            }
        }
    }

    /// A raw control character in a string: qemu-ga quotes the string so far.
    fn control_in_string(&mut self, b: u8) -> Step {
        let start = self.string_start.min(self.len);
        let mut quoted: heapless::Vec<u8, STRAY_QUOTE_MAX> = heapless::Vec::new();
        let so_far = &self.buf[start..self.len];
        let keep = so_far.len().min(STRAY_QUOTE_MAX - 1);
        let _ = quoted.extend_from_slice(&so_far[..keep]);
        let _ = quoted.push(b);
        self.lexical_error(FrameError::Stray(quoted))
    }

    /// The first byte of a value.
    fn start(&mut self, b: u8) -> Step {
        self.len = 0;
        self.fault = None;
        match b {
            _ if is_space(b) => Step::More,
            b'{' | b'[' => {
                self.store(b);
                self.depth = 1;
                self.state = State::Nested;
                Step::More
            }
            b'"' | b'\'' => {
                self.string_start = 0;
                self.store(b);
                self.state = State::Str {
                    quote: b,
                    top: true,
                };
                Step::More
            }
            _ if is_bare(b) => {
                self.store(b);
                self.state = State::Bare;
                Step::More
            }
            b'}' | b']' | b':' | b',' => Step::Done(Event::Error(FrameError::ExpectingValue)),
            _ => self.lexical_error(stray(&[b])),
        }
    }
}

enum Step {
    More,
    Done(Event),
    DoneBefore(Event),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` and collects events, with the text of each value.
    fn frame(input: &[u8], cap: usize, depth: usize) -> Vec<Result<String, FrameError>> {
        let mut buf = vec![0u8; cap];
        let mut framer = Framer::new(&mut buf, depth);
        let mut out = Vec::new();
        let mut rest = input;
        loop {
            let (used, event) = framer.push(rest);
            rest = &rest[used..];
            match event {
                Some(Event::Value(n)) => out
                    .push(Ok(
                        String::from_utf8_lossy(&framer.value()[..n]).into_owned()
                    )),
                Some(Event::Error(e)) => out.push(Err(e)),
                None => break,
            }
        }
        out
    }

    fn values(input: &[u8]) -> Vec<Result<String, FrameError>> {
        frame(input, 4096, 64)
    }

    fn ok(s: &str) -> Result<String, FrameError> {
        Ok(s.to_string())
    }

    #[test]
    fn several_values_in_one_write_without_separators() {
        assert_eq!(
            values(b"{\"a\":1}{\"b\":[2]}\n [3] "),
            [ok("{\"a\":1}"), ok("{\"b\":[2]}"), ok("[3]")]
        );
    }

    #[test]
    fn byte_at_a_time_gives_the_same_values() {
        let input =
            b"{'execute':'guest-ping'} {\"execute\":\"guest-sync\",\"arguments\":{\"id\":5}}";
        let mut buf = vec![0u8; 256];
        let mut framer = Framer::new(&mut buf, 8);
        let mut got = Vec::new();
        for &b in input.iter() {
            let (used, event) = framer.push(&[b]);
            assert_eq!(used, 1);
            if let Some(Event::Value(n)) = event {
                got.push(String::from_utf8_lossy(&framer.value()[..n]).into_owned());
            }
        }
        assert_eq!(
            got,
            [
                "{'execute':'guest-ping'}",
                "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":5}}"
            ]
        );
    }

    #[test]
    fn braces_inside_strings_and_escapes_do_not_count() {
        assert_eq!(values(br#"{"a":"}\"{'"}"#), [ok(r#"{"a":"}\"{'"}"#)]);
        assert_eq!(values(br#"{'a':'"}\'{'}"#), [ok(r#"{'a':'"}\'{'}"#)]);
    }

    #[test]
    fn ff_discards_a_partial_value_silently() {
        assert_eq!(
            values(b"{\"execute\":\"guest-in\xff{\"execute\":\"guest-ping\"}"),
            [ok("{\"execute\":\"guest-ping\"}")]
        );
        assert_eq!(values(b"\xff\xff  \xff"), []);
        // 0xFF inside a string and inside an escape is still the reset byte.
        assert_eq!(values(b"{\"a\":\"x\\\xff[1]"), [ok("[1]")]);
    }

    #[test]
    fn top_level_scalars_end_with_their_token() {
        assert_eq!(
            values(b"5 true{\"a\":1}"),
            [ok("5"), ok("true"), ok("{\"a\":1}")]
        );
        assert_eq!(values(b"\"str\"'x'"), [ok("\"str\""), ok("'x'")]);
        // A number not yet followed by a delimiter is still pending.
        assert_eq!(values(b"123"), []);
    }

    #[test]
    fn closers_and_separators_at_top_level_expect_a_value() {
        assert_eq!(
            values(b"}]{\"a\":1}"),
            [
                Err(FrameError::ExpectingValue),
                Err(FrameError::ExpectingValue),
                ok("{\"a\":1}")
            ]
        );
    }

    #[test]
    fn stray_bytes_are_reported_and_skipped_to_the_next_value() {
        let got = values(b"@garbage here {\"a\":1}");
        assert_eq!(got, [Err(stray(b"@")), ok("{\"a\":1}")]);
        let got = values(b"\x00{\"a\":1}");
        assert_eq!(got, [Err(stray(b"\x00")), ok("{\"a\":1}")]);
        let got = values(b"{\"a\":\xc3}\n{\"b\":2}");
        assert_eq!(got, [Err(stray(b"\xc3")), ok("{\"b\":2}")]);
    }

    #[test]
    fn a_newline_in_a_string_is_an_error_and_the_next_line_works() {
        let got = values(b"{\"execute\":\"guest-pi\nng\"}\n{\"execute\":\"guest-ping\"}");
        assert_eq!(
            got,
            [
                Err(stray(b"\"guest-pi\n")),
                ok("{\"execute\":\"guest-ping\"}")
            ]
        );
    }

    #[test]
    fn an_overlong_value_is_skipped_whole_then_the_next_one_works() {
        let mut input = b"{\"execute\":\"guest-file-write\",\"arguments\":{\"buf-b64\":\"".to_vec();
        input.extend(std::iter::repeat_n(b'A', 10_000));
        input.extend_from_slice(b"}\"}}{\"execute\":\"guest-ping\"}");
        let got = frame(&input, 1024, 64);
        assert_eq!(
            got,
            [
                Err(FrameError::TooLarge),
                ok("{\"execute\":\"guest-ping\"}")
            ]
        );
    }

    #[test]
    fn an_overlong_top_level_keyword_is_one_error() {
        let mut input = vec![b'x'; 5000];
        input.extend_from_slice(b" {\"a\":1}");
        assert_eq!(
            frame(&input, 1024, 64),
            [Err(FrameError::TooLarge), ok("{\"a\":1}")]
        );
    }

    #[test]
    fn deep_nesting_is_one_error_then_recovery() {
        let mut input = vec![b'['; 100];
        input.extend(vec![b']'; 100]);
        input.extend_from_slice(b"[[1]]");
        assert_eq!(
            frame(&input, 4096, 10),
            [Err(FrameError::TooDeep), ok("[[1]]")]
        );
        // Exactly at the limit is fine.
        let input = b"[[[1]]]";
        assert_eq!(frame(input, 4096, 3), [ok("[[[1]]]")]);
    }

    #[test]
    fn reset_forgets_a_half_request() {
        let mut buf = vec![0u8; 256];
        let mut framer = Framer::new(&mut buf, 8);
        assert_eq!(framer.push(b"{\"execute\":\"guest-inf").1, None);
        assert!(!framer.is_idle());
        framer.reset();
        let (_, event) = framer.push(b"{\"execute\":\"guest-ping\"}");
        assert_eq!(event, Some(Event::Value(24)));
    }
}
