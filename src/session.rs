//! One conversation with a host, still free of I/O: bytes in, responses out.
//!
//! The agent owns one `Session` and resets it whenever the host changes (a new client on a
//! listening socket, or the host side of a virtio port closing), so nothing a previous host
//! half-sent or never read leaks into the next conversation.

use crate::commands::{self, State};
use crate::protocol::framer::{Event, FrameError, Framer};
use crate::protocol::json::{self, Node, ParseError};
use crate::protocol::request::{envelope, id_of};
use crate::protocol::{Output, QmpError};
use crate::qmp_error;

pub struct Session<'b> {
    framer: Framer<'b>,
    arena: &'b mut [Node],
    max_depth: usize,
}

impl<'b> Session<'b> {
    /// `request` bounds the size of one request, `arena` the nodes of its parse tree.
    pub fn new(request: &'b mut [u8], arena: &'b mut [Node], max_depth: usize) -> Session<'b> {
        Session {
            framer: Framer::new(request, max_depth),
            arena,
            max_depth,
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
        match json::parse(text, self.arena, self.max_depth) {
            Err(error) => commands::write_error(out, &parse_error(&error), None),
            Ok(document) => {
                let root = document.root();
                let id = id_of(root);
                match envelope(root) {
                    Ok(request) => commands::dispatch(request, id, state, out),
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
            let mut text = crate::protocol::writer::FmtBuf::<256>::new();
            let _ = json::write_lossy(&mut text, token);
            let token = core::str::from_utf8(text.as_bytes()).unwrap_or_default();
            qmp_error!("JSON parse error, stray '{token}'")
        }
        FrameError::ExpectingValue => parse_error(&ParseError::ExpectingValue),
        FrameError::TooLarge => qmp_error!("JSON token size limit exceeded"),
        FrameError::TooDeep => parse_error(&ParseError::TooDeep),
    }
}
