//! Responses on their way to the host: buffered through the fixed response chunk and
//! written without ever spinning.
//!
//! A full pipe (host not reading) is waited out in poll(2) with a timeout (a virtio port
//! can lose the wakeup for POLLOUT), while still watching the signal descriptor so that
//! SIGTERM ends the agent even then. A host that goes away (HUP, EPIPE, ECONNRESET) closes
//! this output: the rest of the response is dropped, and the session with it.
//!
//! A virtio port needs care: it reports HUP whenever its host is not connected, and the
//! host's first bytes can arrive before the driver has processed the "host connected"
//! message. A HUP right after reading is therefore not yet a departure: the writer waits,
//! edge-triggered (HUP cannot be masked, so level-triggered waiting would spin), for the
//! port to wake up, for at most [`HOST_CONNECT_GRACE_MS`].
//!
//! The peer's descriptor belongs to the event loop, which may close it between two reads;
//! so it is not kept here but lent for each batch of input: the session writes to
//! [`ChannelOutput::to`]`(fd)`, an [`Output`] that borrows the descriptor for that long.

use super::channel::Peer;
use crate::protocol::Output;
use crate::sys::{BorrowedFd, Errno, epoll, time};

pub struct ChannelOutput<'b> {
    buf: &'b mut [u8],
    len: usize,
    signal_fd: BorrowedFd<'b>,
    closed: bool,
    /// What the connected peer is, so how it is written.
    peer: Peer,
    /// For a virtio port: an edge-triggered watch on the port and the signal descriptor.
    port_waiter: Option<epoll::Epoll>,
    /// A signal arrived while a write was blocked.
    pub interrupted: bool,
    /// Where the response being written starts in `buf`.
    response_start: usize,
    /// Part of the response being written has been sent: it can no longer be withdrawn.
    response_sent: bool,
}

/// How long one wait for room may take before the write is simply tried again.
const WRITE_WAIT_MS: u32 = 1000;
/// How long a virtio port may report its host as absent, right after the host sent us
/// something, before we believe it.
pub const HOST_CONNECT_GRACE_MS: u64 = 1000;

impl<'b> ChannelOutput<'b> {
    pub fn new(buf: &'b mut [u8], signal_fd: BorrowedFd<'b>) -> ChannelOutput<'b> {
        ChannelOutput {
            buf,
            len: 0,
            signal_fd,
            closed: true,
            peer: Peer::SerialLine,
            port_waiter: None,
            interrupted: false,
            response_start: 0,
            response_sent: false,
        }
    }

    /// Starts writing to a new peer (from then on lent through [`ChannelOutput::to`]).
    pub fn connect(&mut self, fd: BorrowedFd<'_>, peer: Peer) {
        self.len = 0;
        self.closed = false;
        self.peer = peer;
        self.port_waiter = None;
        if peer == Peer::VirtioPort {
            let waiter = epoll::Epoll::new().ok().filter(|w| {
                w.add(fd, epoll::OUT | epoll::IN | epoll::EDGE, 0).is_ok()
                    && w.add(self.signal_fd, epoll::IN, 1).is_ok()
            });
            self.port_waiter = waiter;
        }
    }

    /// The peer is gone; drop whatever was pending for it.
    pub fn disconnect(&mut self) {
        self.len = 0;
        self.closed = true;
        self.port_waiter = None;
    }

    /// True once the peer is gone.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// The output to the connected peer, whose descriptor `fd` is lent for as long as the
    /// session writes.
    pub fn to<'o>(&'o mut self, fd: BorrowedFd<'o>) -> PeerOutput<'o, 'b> {
        PeerOutput { out: self, fd }
    }

    fn send_buffered(&mut self, fd: BorrowedFd<'_>) {
        self.response_start = 0;
        self.response_sent = true;
        let mut sent = 0;
        let mut grace_until = None;
        while sent < self.len && !self.closed {
            match self
                .peer
                .write(fd, self.buf.get(sent..self.len).unwrap_or_default())
            {
                Ok(n) => {
                    sent += n;
                    grace_until = None;
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => self.wait_for_room(fd, &mut grace_until),
                Err(_) => self.closed = true,
            }
        }
        self.len = 0;
    }

    fn wait_for_room(&mut self, fd: BorrowedFd<'_>, grace_until: &mut Option<u64>) {
        let ready = epoll::poll_one(fd, epoll::OUT as u16, WRITE_WAIT_MS).unwrap_or(0) as u32;
        if ready & (epoll::HUP | epoll::ERR) != 0 {
            let until =
                *grace_until.get_or_insert_with(|| time::monotonic_ms() + HOST_CONNECT_GRACE_MS);
            if !self.wait_for_port_wakeup(until) {
                self.closed = true;
            }
        } else if ready == 0 && self.signal_pending() {
            self.interrupted = true;
            self.closed = true;
        }
    }

    /// Waits until the virtio port wakes up (its host connected, or buffers were
    /// reclaimed) or `until` passes. False when there is no point retrying: not a virtio
    /// port, time is up, or a signal came.
    fn wait_for_port_wakeup(&mut self, until: u64) -> bool {
        let Some(waiter) = &self.port_waiter else {
            return false;
        };
        let now = time::monotonic_ms();
        if now >= until {
            return false;
        }
        let mut events = [epoll::Event { events: 0, data: 0 }; 2];
        let timeout = (until - now).min(i32::MAX as u64) as i32;
        match waiter.wait(&mut events, timeout) {
            Ok(ready) if ready.iter().any(|e| e.data == 1) => {
                self.interrupted = true;
                false
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    fn signal_pending(&self) -> bool {
        epoll::poll_one(self.signal_fd, epoll::IN as u16, 0).unwrap_or(0) != 0
    }
}

/// A [`ChannelOutput`] with its peer's descriptor lent to it.
pub struct PeerOutput<'o, 'b> {
    out: &'o mut ChannelOutput<'b>,
    fd: BorrowedFd<'o>,
}

impl Output for PeerOutput<'_, '_> {
    fn put(&mut self, mut bytes: &[u8]) {
        let out = &mut *self.out;
        // Nearly every piece (a name, a number, a bracket) fits what is left of the buffer.
        if let Some(room) = out.buf.get_mut(out.len..out.len + bytes.len())
            && !out.closed
        {
            room.copy_from_slice(bytes);
            out.len += bytes.len();
            return;
        }
        while !bytes.is_empty() && !out.closed {
            let room = out.buf.len() - out.len;
            if room == 0 {
                out.send_buffered(self.fd);
                continue;
            }
            let take = room.min(bytes.len());
            out.buf[out.len..out.len + take].copy_from_slice(&bytes[..take]);
            out.len += take;
            bytes = &bytes[take..];
        }
    }

    fn flush(&mut self) {
        self.out.send_buffered(self.fd);
    }

    fn closed(&self) -> bool {
        self.out.closed
    }

    fn begin_response(&mut self) {
        self.out.response_start = self.out.len;
        self.out.response_sent = false;
    }

    fn withdraw(&mut self) -> bool {
        if self.out.response_sent {
            return false;
        }
        self.out.len = self.out.response_start;
        true
    }
}
