//! The event loop: one `epoll_wait` over the channel (or the listening socket and its one
//! client) and the signalfd. With nothing to do the agent sleeps there and uses no CPU.
//! Later sources (child-process pipes, timers) join the same loop.

use super::channel::{self, Channel, Method, Peer};
use super::options::Options;
use super::output::ChannelOutput;
use super::{ARENA, OS_RELEASE, READ_CHUNK, REQUEST, RESPONSE, SCRATCH, process};
use crate::capacity;
use crate::commands::file::{Files, HandleCounter, StateError};
use crate::commands::fsfreeze::{self, Freezer};
use crate::commands::os::OsInfo;
use crate::commands::{self, Environment, Policy, State, exec};
use crate::log_at;
use crate::session::Session;
use crate::sys::{AsFd, BorrowedFd, Errno, OwnedFd, epoll, fs, memory, signal, time};
use crate::text::Lossy;

use super::log;

const TOKEN_SIGNAL: u64 = 0;
const TOKEN_CHANNEL: u64 = 1;
const TOKEN_LISTENER: u64 = 2;
const TOKEN_CLIENT: u64 = 3;
const TOKEN_WATCH: u64 = 4;
const TOKEN_OS_RELEASE: u64 = 5;

/// qemu-ga's `QGA_RETRY_INTERVAL`: how long `--retry-path` waits before reopening when
/// no kernel event can tell it (the port is busy, a socket address is taken, vsock).
const RETRY_MS: u64 = 5000;
/// After something appeared in a watched directory but the channel still does not open
/// (a virtio port's node comes before the host has told its name), a few quick retries.
const FOLLOW_UP_MS: u64 = 200;
const FOLLOW_UPS: u8 = 10;
/// Channel bytes handled before looking at other events again (keeps signals responsive
/// under a flood).
const READ_BUDGET: usize = 64 * READ_CHUNK;

/// The transport as the loop sees it.
enum Link {
    /// No channel yet (`--retry-path`): waiting for the directory watch (inotify) to
    /// report that the path may have appeared, or for the retry time if there is one.
    Closed {
        retry_at: Option<u64>,
        watch: Option<OwnedFd>,
    },
    Device {
        fd: OwnedFd,
        peer: Peer,
    },
    Listening {
        listener: OwnedFd,
        client: Option<OwnedFd>,
    },
}

/// What ended the loop.
enum Exit {
    Signal,
    ChannelError,
}

/// Opens the channel, becomes a daemon if asked, and serves until told to stop.
pub(super) fn run(
    options: &Options<'static>,
    activated: Option<(OwnedFd, Method)>,
    environment: Environment,
) -> i32 {
    let (Some(request), Some(response), Some(arena), Some(scratch), Some(os_release)) = (
        REQUEST.take(),
        RESPONSE.take(),
        ARENA.take(),
        SCRATCH.take(),
        OS_RELEASE.take(),
    ) else {
        return 1;
    };
    let method = match activated.as_ref() {
        Some((_, method)) => *method,
        None => match Method::parse(options.method()) {
            Some(method) => method,
            None => {
                log_at!(
                    Critical,
                    "unsupported channel method/type: {}",
                    Lossy(options.method())
                );
                log_at!(Critical, "failed to initialize guest agent channel");
                return 1;
            }
        },
    };
    let path = options.path.unwrap_or_default();

    let mut link = match activated {
        Some((fd, _)) => Link::Listening {
            listener: fd,
            client: None,
        },
        None => match channel::open(method, path) {
            Ok(channel) => link_of(channel),
            Err(error) => {
                log_at!(Critical, "{error}");
                log_at!(Critical, "failed to create guest agent channel");
                if !options.retry_path {
                    log_at!(Critical, "failed to initialize guest agent channel");
                    return 1;
                }
                log_at!(Warning, "waiting for channel path...");
                // The watch is set up in the loop, after a fork to become a daemon.
                Link::Closed {
                    retry_at: Some(0),
                    watch: None,
                }
            }
        },
    };

    if options.daemonize
        && let Err(e) = process::daemonize()
    {
        log_at!(Critical, "failed to daemonize: {e}");
        return 1;
    }
    // After the fork: a signalfd's epoll registration wakes only the process that made it.
    let signals = signal::SigSet::of(&[
        signal::TERM,
        signal::INT,
        signal::HUP,
        signal::CHLD,
        signal::PIPE,
    ])
    .with(super::init::signals());
    let setup = signal::block(signals).and_then(|()| signal::signalfd(signals));
    let (Ok(signal_fd), Ok(poller)) = (setup, epoll::Epoll::new()) else {
        log_at!(Critical, "failed to set up signal handling");
        return 1;
    };
    if poller
        .add(signal_fd.as_fd(), epoll::IN, TOKEN_SIGNAL)
        .is_err()
    {
        return 1;
    }

    let pidfile = if options.daemonize || options.pidfile_given {
        match process::write_pidfile(options.pidfile()) {
            Ok(fd) => Some(fd),
            Err(error) => {
                log_at!(Critical, "{error}");
                return 1;
            }
        }
    } else {
        None
    };
    if let Some(logfile) = options.logfile {
        match log::open_logfile(logfile) {
            Ok(fd) => log::set_sink(fd, log::is_kmsg(logfile)),
            Err(e) => {
                log_at!(Critical, "unable to open specified log file: {e}");
                return 1;
            }
        }
    }
    log_at!(
        Debug,
        "Guest agent version {} started (tinyqga {})",
        commands::QEMU_VERSION,
        env!("CARGO_PKG_VERSION")
    );

    // qemu-ga's persistent state: the guest-file handle counter.
    let counter = match HandleCounter::load(options.statedir()) {
        Ok(counter) => counter,
        Err(error @ StateError::Write(_)) => {
            // Opening files will report it; everything else works.
            log_at!(Warning, "{error}");
            match HandleCounter::at(options.statedir()) {
                Ok(counter) => counter,
                Err(_) => HandleCounter::in_memory(),
            }
        }
        Err(error) => {
            log_at!(Critical, "{error}");
            log_at!(Critical, "failed to load persistent state");
            return 1;
        }
    };
    let mut state = State {
        policy: Policy::from_lists(options.blocked(), options.allowed()),
        env: environment,
        files: Files::new(counter),
        execs: Default::default(),
        freezer: Freezer::new(options.statedir(), options.fsfreeze_hook),
        osinfo: OsInfo::new(os_release),
        serials: Default::default(),
        kernel: Default::default(),
    };
    if let Some(paths) = options.file_allow_paths {
        state.files.allow_only(paths);
    }
    if state.freezer.left_frozen() {
        // qemu-ga's rule: a marker left by an agent that stopped while frozen means the
        // file systems may still be frozen; start frozen until the host thaws them.
        log_at!(
            Warning,
            "previous instance appears to have exited while frozen; starting in frozen state"
        );
        state.policy.frozen = true;
        log::set_paused(true);
    }
    for name in options
        .blocked()
        .chain(options.allowed().into_iter().flatten())
    {
        if commands::find(name).is_none() {
            log_at!(Debug, "ignoring unknown command in rpc list: {name}");
        }
    }

    let mut session = Session::new(request, arena, scratch, capacity::MAX_DEPTH);
    let mut out = ChannelOutput::new(response, signal_fd.as_fd());
    let mut agent = Agent {
        poller,
        signal_fd: signal_fd.as_fd(),
        session: &mut session,
        out: &mut out,
        state: &mut state,
        more_input: false,
        discarding: false,
        follow_ups: 0,
        chunk: [0; READ_CHUNK],
    };
    agent.attach(&link);

    let exit = loop {
        match agent.serve(&mut link, options) {
            Exit::Signal => break 0,
            Exit::ChannelError if options.retry_path => {
                log_at!(Warning, "agent stopped unexpectedly, restarting...");
                log_at!(Warning, "waiting for channel path...");
                agent.detach(&link);
                link = Link::Closed {
                    retry_at: Some(0),
                    watch: None,
                };
            }
            Exit::ChannelError => break 1,
        }
    };

    if pidfile.is_some() {
        let _ = fs::unlink(options.pidfile());
    }
    exit
}

fn link_of(channel: Channel) -> Link {
    match channel {
        Channel::Device { fd, peer } => Link::Device { fd, peer },
        Channel::Listener(listener) => Link::Listening {
            listener,
            client: None,
        },
    }
}

struct Agent<'s, 'b> {
    poller: epoll::Epoll,
    signal_fd: BorrowedFd<'b>,
    session: &'s mut Session<'b>,
    out: &'s mut ChannelOutput<'b>,
    state: &'s mut State,
    /// The last read stopped at the budget, not at EAGAIN: read again without waiting.
    more_input: bool,
    /// A virtio host left while we answered it: drop what it sent until its end-of-file.
    discarding: bool,
    /// Quick retries left after the last directory event (see [`FOLLOW_UP_MS`]).
    follow_ups: u8,
    /// What one read from the channel brings (kept here rather than made afresh, and
    /// cleared, for every wakeup).
    chunk: [u8; READ_CHUNK],
}

impl Agent<'_, '_> {
    /// Registers a freshly opened link with the poller.
    fn attach(&mut self, link: &Link) {
        self.session.reset();
        match link {
            Link::Closed { .. } => self.out.disconnect(),
            // A virtio port whose host is away reports HUP for as long as it is away;
            // edge-triggered, it wakes us only when something changes.
            Link::Device { fd, peer } => {
                let events = if *peer == Peer::VirtioPort {
                    epoll::IN | epoll::EDGE
                } else {
                    epoll::IN
                };
                let _ = self.poller.add(fd.as_fd(), events, TOKEN_CHANNEL);
                self.out.connect(fd.as_fd(), *peer);
                self.discarding = false;
                self.more_input = true;
            }
            Link::Listening { listener, .. } => {
                let _ = self.poller.add(listener.as_fd(), epoll::IN, TOKEN_LISTENER);
                self.out.disconnect();
            }
        }
    }

    fn detach(&mut self, link: &Link) {
        match link {
            Link::Closed { watch, .. } => {
                if let Some(watch) = watch {
                    self.poller.remove(watch.as_fd());
                }
            }
            Link::Device { fd, .. } => self.poller.remove(fd.as_fd()),
            Link::Listening { listener, client } => {
                self.poller.remove(listener.as_fd());
                if let Some(client) = client {
                    self.poller.remove(client.as_fd());
                }
            }
        }
        self.out.disconnect();
    }

    /// Serves until a signal asks us to stop or the channel fails.
    fn serve(&mut self, link: &mut Link, options: &Options<'static>) -> Exit {
        let mut events = [epoll::Event { events: 0, data: 0 }; 8];
        loop {
            let timeout = match link {
                Link::Closed {
                    retry_at: Some(at), ..
                } => at.saturating_sub(time::monotonic_ms()).min(i32::MAX as u64) as i32,
                Link::Closed { retry_at: None, .. } => -1,
                _ if self.more_input => 0,
                _ => -1,
            };
            let ready = match self.poller.wait(&mut events, timeout) {
                Ok(ready) => ready,
                Err(e) => {
                    log_at!(Critical, "epoll_wait failed: {e}");
                    return Exit::ChannelError;
                }
            };
            let mut channel_ready = core::mem::take(&mut self.more_input);
            let mut accept = false;
            let mut appeared = false;
            for event in ready {
                let token = event.data;
                match token {
                    TOKEN_SIGNAL => {
                        if let Some(exit) = self.handle_signals(options) {
                            return exit;
                        }
                    }
                    TOKEN_LISTENER => accept = true,
                    TOKEN_WATCH => appeared = true,
                    TOKEN_OS_RELEASE => self.state.osinfo.watch_fired(),
                    token if token & exec::TOKEN_BIT != 0 => self.state.execs.drain(token),
                    _ => channel_ready = true,
                }
            }
            if let Link::Closed { retry_at, .. } = link {
                let due = retry_at.is_some_and(|at| time::monotonic_ms() >= at);
                if appeared {
                    self.follow_ups = FOLLOW_UPS;
                } else if due && self.follow_ups > 0 {
                    self.follow_ups -= 1;
                }
                if appeared || due {
                    self.detach(link);
                    *link = self.reopen(options);
                }
                continue;
            }
            if accept {
                self.accept_client(link);
            }
            if channel_ready && self.read_channel(link).is_err() {
                return Exit::ChannelError;
            }
            // Output pipes of children that guest-exec just started, and the watch that
            // guest-get-osinfo set.
            let poller = &self.poller;
            self.state
                .execs
                .watches(|pipe, token| poller.add(pipe.as_fd(), epoll::IN, token).is_ok());
            self.state
                .osinfo
                .register_watch(|fd| poller.add(fd, epoll::IN, TOKEN_OS_RELEASE).is_ok());
            if self.out.interrupted {
                self.out.interrupted = false;
                if let Some(exit) = self.handle_signals(options) {
                    return exit;
                }
            }
        }
    }

    /// `--retry-path`: watches the way to the channel's path, then tries to open it (in
    /// that order, so a port that appears in between is not missed). Opened, the channel
    /// is attached; else the link waits on the watch: a guest without the channel costs
    /// no wakeup. Only an error a directory event cannot end (a busy port, a taken
    /// address) or a failed watch falls back to qemu-ga's 5 s retry.
    fn reopen(&mut self, options: &Options<'static>) -> Link {
        let method = Method::parse(options.method()).unwrap_or(Method::VirtioSerial);
        let path = options.path.unwrap_or_default();
        let watch = channel::watch_for(method, path)
            .ok()
            .filter(|w| self.poller.add(w.as_fd(), epoll::IN, TOKEN_WATCH).is_ok());
        match channel::open(method, path) {
            Ok(channel) => {
                if let Some(watch) = watch {
                    self.poller.remove(watch.as_fd());
                }
                log_at!(Debug, "channel opened");
                let link = link_of(channel);
                self.attach(&link);
                link
            }
            Err(error) => {
                log_at!(Debug, "channel still unavailable: {error}");
                let now = time::monotonic_ms();
                let retry_at = match error.errno() {
                    _ if watch.is_none() => Some(now + RETRY_MS),
                    Some(Errno::NOENT | Errno::NOTDIR) if self.follow_ups > 0 => {
                        Some(now + FOLLOW_UP_MS)
                    }
                    Some(Errno::NOENT | Errno::NOTDIR) => None,
                    _ => Some(now + RETRY_MS),
                };
                Link::Closed { retry_at, watch }
            }
        }
    }

    fn handle_signals(&mut self, options: &Options<'static>) -> Option<Exit> {
        while let Ok(Some(signo)) = signal::read_signal(self.signal_fd) {
            match signo {
                signal::TERM | signal::INT | signal::USR1 | signal::USR2 => {
                    // Never leave the guest's file systems frozen behind us.
                    if self.state.policy.frozen {
                        let _ = fsfreeze::thaw(self.state, &mut self.session.scratch());
                        log::set_paused(false);
                    }
                    // As the guest's init: reboot, halt or power off (never returns).
                    if let Some(how) = super::init::power_signal(signo) {
                        super::init::end(how);
                    }
                    log_at!(Debug, "received signal num {signo}, quitting");
                    return Some(Exit::Signal);
                }
                signal::CHLD => self.state.execs.reap(),
                signal::HUP => {
                    // Reopen the log file (after logrotate moved it).
                    if let Some(logfile) = options.logfile
                        && let Ok(fd) = log::open_logfile(logfile)
                    {
                        log::set_sink(fd, log::is_kmsg(logfile));
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn accept_client(&mut self, link: &mut Link) {
        let Link::Listening { listener, client } = link else {
            return;
        };
        if client.is_some() {
            return;
        }
        match crate::sys::socket::accept(listener.as_fd()) {
            Ok(fd) => {
                // One client at a time: the next waits in the backlog until this one leaves.
                self.poller.remove(listener.as_fd());
                let _ = self
                    .poller
                    .add(fd.as_fd(), epoll::IN | epoll::RDHUP, TOKEN_CLIENT);
                self.session.reset();
                self.out.connect(fd.as_fd(), Peer::Socket);
                *client = Some(fd);
                self.more_input = true;
            }
            Err(Errno::AGAIN | Errno::INTR | Errno::CONNABORTED) => {}
            Err(e) => log_at!(Warning, "failed to accept a client: {e}"),
        }
    }

    /// After a request that touched more of the request buffer, the arena or the scratch
    /// region than small requests do (`TINYQGA_KEEP_BYTES`), gives those pages back to the
    /// kernel, so the resident size returns to idle.
    fn give_back_memory(&mut self) {
        self.session.give_back(
            capacity::KEEP_BYTES,
            &mut |bytes| {
                // SAFETY: the request buffer and the scratch region are statics in .bss
                // (private anonymous memory), and any byte is a valid u8.
                let _ = unsafe { memory::discard(bytes) };
            },
            &mut |nodes| {
                // SAFETY: the arena is a static in .bss, and an all-zero Node is valid
                // (`Kind::Null` is 0).
                let _ = unsafe { memory::discard(nodes) };
            },
        );
    }

    /// Reads what the host sent and serves it. `Err` means the channel itself failed.
    fn read_channel(&mut self, link: &mut Link) -> Result<(), ()> {
        let mut budget = READ_BUDGET;
        loop {
            let (fd, peer) = match &*link {
                Link::Device { fd, peer } => (fd.as_fd(), *peer),
                Link::Listening {
                    client: Some(fd), ..
                } => (fd.as_fd(), Peer::Socket),
                _ => return Ok(()),
            };
            let (is_client, virtio) = (peer == Peer::Socket, peer == Peer::VirtioPort);
            match peer.read(fd, &mut self.chunk) {
                Ok(0) if !is_client && !virtio => {
                    // A serial line reads end-of-file only once hung up (a pty whose
                    // other side closed): it reports that for ever after, so it is an
                    // error here, ended or retried (--retry-path) like any other.
                    log_at!(Warning, "error reading channel: hung up");
                    return Err(());
                }
                Ok(0) => {
                    log_at!(Debug, "received EOF");
                    self.discarding = false;
                    return self.host_gone(link, is_client);
                }
                Ok(n) if self.discarding => {
                    log_at!(Debug, "dropping {n} bytes the departed host sent");
                }
                Ok(n) => {
                    log_at!(Debug, "read data, count: {n}");
                    if self.out.closed() {
                        self.out.connect(fd, peer);
                    }
                    self.session
                        .feed(&self.chunk[..n], self.state, &mut self.out.to(fd));
                    self.give_back_memory();
                    // The log follows the frozen state the requests left.
                    log::set_paused(self.state.policy.frozen);
                    if self.out.closed() {
                        // The host left while we answered: what it sent is void. What a
                        // departed virtio host left unread in the port is void too, up
                        // to the end-of-file that marks its departure.
                        self.session.reset();
                        if is_client {
                            return self.host_gone(link, true);
                        }
                        self.discarding = virtio;
                    }
                    budget = budget.saturating_sub(n);
                    if budget == 0 {
                        self.more_input = true;
                        return Ok(());
                    }
                    // A level-triggered link that read short is drained for now: the
                    // next `epoll_wait` reports whatever comes later, so a read that
                    // would only say EAGAIN is saved (a host that sends one request and
                    // waits for its answer costs wait, read, write). An edge-triggered
                    // virtio port must be read until EAGAIN: it may hand out one buffer
                    // of several per read, and no new edge comes for what is left.
                    if !virtio && n < READ_CHUNK {
                        return Ok(());
                    }
                }
                Err(Errno::AGAIN) => return Ok(()),
                Err(Errno::INTR) => {}
                Err(e) if is_client => {
                    log_at!(Debug, "client connection ended: {e}");
                    return self.host_gone(link, true);
                }
                Err(e) => {
                    log_at!(Warning, "error reading channel: {e}");
                    return Err(());
                }
            }
        }
    }

    /// The host side went away: a client socket is closed and the next one accepted; a
    /// device stays open (the host may come back) and we wait for its next wakeup.
    fn host_gone(&mut self, link: &mut Link, is_client: bool) -> Result<(), ()> {
        self.session.reset();
        self.out.disconnect();
        if is_client && let Link::Listening { listener, client } = link {
            if let Some(fd) = client.take() {
                self.poller.remove(fd.as_fd());
            }
            let _ = self.poller.add(listener.as_fd(), epoll::IN, TOKEN_LISTENER);
        }
        Ok(())
    }
}
