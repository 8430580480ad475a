//! Responses on their way to the host: buffered through the fixed response chunk and
//! written without ever spinning.
//!
//! A full pipe (host not reading) is waited out in poll(2) with a timeout (a virtio port
//! can lose the wakeup for POLLOUT), while still watching the signal descriptor so that
//! SIGTERM ends the agent even then. A host that goes away (HUP, EPIPE, ECONNRESET) closes
//! this output: the rest of the response is dropped, and the session with it.

use crate::protocol::Output;
use crate::sys::{Errno, epoll};

pub struct ChannelOutput<'b> {
    buf: &'b mut [u8],
    len: usize,
    fd: i32,
    signal_fd: i32,
    closed: bool,
    /// A signal arrived while a write was blocked.
    pub interrupted: bool,
}

/// How long one wait for room may take before the write is simply tried again.
const WRITE_WAIT_MS: u32 = 1000;

impl<'b> ChannelOutput<'b> {
    pub fn new(buf: &'b mut [u8], signal_fd: i32) -> ChannelOutput<'b> {
        ChannelOutput {
            buf,
            len: 0,
            fd: -1,
            signal_fd,
            closed: true,
            interrupted: false,
        }
    }

    /// Starts writing to a new peer.
    pub fn connect(&mut self, fd: i32) {
        self.fd = fd;
        self.len = 0;
        self.closed = false;
    }

    /// The peer is gone; drop whatever was pending for it.
    pub fn disconnect(&mut self) {
        self.fd = -1;
        self.len = 0;
        self.closed = true;
    }

    fn send_buffered(&mut self) {
        let mut sent = 0;
        while sent < self.len && !self.closed {
            let fd = crate::sys::Fd::from_raw(self.fd);
            let result = fd.write(self.buf.get(sent..self.len).unwrap_or_default());
            core::mem::forget(fd);
            match result {
                Ok(n) => sent += n,
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => self.wait_for_room(),
                Err(_) => self.closed = true,
            }
        }
        self.len = 0;
    }

    fn wait_for_room(&mut self) {
        let ready = epoll::poll_one(self.fd, epoll::OUT as u16, WRITE_WAIT_MS).unwrap_or(0) as u32;
        if ready & (epoll::HUP | epoll::ERR) != 0 {
            self.closed = true;
        } else if ready == 0
            && epoll::poll_one(self.signal_fd, epoll::IN as u16, 0).unwrap_or(0) != 0
        {
            self.interrupted = true;
            self.closed = true;
        }
    }
}

impl Output for ChannelOutput<'_> {
    fn put(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.closed {
            let room = self.buf.len() - self.len;
            if room == 0 {
                self.send_buffered();
                continue;
            }
            let take = room.min(bytes.len());
            self.buf[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
        }
    }

    fn flush(&mut self) {
        self.send_buffered();
    }

    fn closed(&self) -> bool {
        self.closed
    }
}
