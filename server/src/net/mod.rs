//! The Loop: the one thread's one `mio::Poll`, and everything that touches a socket.
//! Only this folder names mio, sockets or descriptors.
//!
//! One loop turn: wait for readiness; read what is ready (each connection a budget,
//! so one flooder cannot starve the rest) and hand every whole frame to the room;
//! settle queues that passed their cap; then flush every connection that got output,
//! once, with one vectored write; then remove what has finished. What a request
//! means is the room's business (`crate::chat`); the loop only moves bytes, keeps
//! time and tells the room when a connection comes, goes or finishes a download.
//!
//! - this file: the server, its turn, its timers (timeouts, quiet-time trimming).
//! - `accept`: the listener, the EMFILE back-off, refusing politely when full.
//! - `read`: budgets, the decode loop, flood control, draining input of the closing.
//! - `write`: settling caps, flushing, the download pump.
//! - `close`: ending connections, reaping, shutting down.
//! - `conns`, `conn`, `out_queue`, `tls`: the connection table (the loop's side of the
//!   outbox), one connection's socket side, its queued output, rustls fed by the loop.
//!
//! mio is edge-triggered: a readiness event comes once per change. So reads go on
//! until `WouldBlock` (or the budget, after which the connection is remembered in
//! `still_readable` and the next poll does not sleep), accepts go on until
//! `WouldBlock`, and WRITABLE is asked for only while output waits.

mod accept;
mod bus;
mod close;
mod conn;
mod conns;
mod out_queue;
mod pace;
mod read;
mod tls;
mod watch;
mod write;

pub use pace::DEFAULT_MAX_WINDOW as DEFAULT_COALESCE_MAX;
pub use tls::fingerprint as tls_fingerprint;
pub use tls::load_config as load_tls_config;

use crate::chat::{ConnRef, Outbox, Room, Settings};
use crate::config::Config;
use crate::folder::{size_words, SharedFolder};
use crate::limits::PerAddress;
use conn::Phase;
use conns::Conns;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use natter_protocol::{LeaveReason, ServerFrame};
use signal_hook_mio::v1_0::Signals;
use std::io;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
const WATCH: Token = Token(usize::MAX - 3);

/// Bytes of shared files hashed per quiet loop turn (one with no event) while some
/// wait: a fraction of a millisecond with SHA instructions, about 1.6 ms without.
const HASH_STEP: usize = 256 * 1024;

/// How often registration and idle timeouts are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Server {
    poll: Poll,
    listener: TcpListener,
    signals: Signals,
    conns: Conns,
    room: Room,
    config: Config,
    next_conn_id: u64,
    still_readable: Vec<usize>,
    /// TLS connections whose handshake waits for next turn's budget.
    deferred_handshakes: Vec<usize>,
    handshakes_this_turn: usize,
    /// Connections whose downloads stopped on their budget, not on a full socket.
    pumping: Vec<usize>,
    /// Connections out of request tokens, not read until their time comes.
    paused: Vec<usize>,
    per_address: PerAddress,
    next_sweep: Instant,
    /// Memory was freed (queues drained, connections gone) since the last trim.
    trim_pending: bool,
    accept_paused_until: Option<Instant>,
    emfile_logged: bool,
    scratch: Vec<u8>,
    /// The shared folder's watch, if the system gave one.
    watch: Option<watch::Watch>,
    /// The watch stopped on its budget with more to read.
    watch_again: bool,
    events: Events,
    /// When queued output goes out: at once when quiet, gathered a little when busy.
    pacer: pace::Pacer<(usize, u64)>,
    shutting_down: Option<Instant>,
    /// The link to the cluster's Redis; `None` for a lone server.
    bus: Option<bus::Link>,
    /// Shared files wait to be hashed: a step each turn, and the poll does not sleep.
    hashing: bool,
}

impl Server {
    pub fn new(listener: std::net::TcpListener, config: Config) -> io::Result<Server> {
        let cannot = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot use shared folder {}: {e}",
                    config.shared_dir.display()
                ),
            )
        };
        // Watched before it is read: a file added in between is then heard of twice,
        // never missed.
        std::fs::create_dir_all(&config.shared_dir).map_err(cannot)?;
        let watch = match watch::Watch::new(&config.shared_dir) {
            Ok(w) => Some(w),
            Err(e) => {
                log::warn!(
                    "cannot watch the shared folder ({e}): files others add or remove there show in listings only after a restart"
                );
                None
            }
        };
        let folder = SharedFolder::open(&config.shared_dir).map_err(cannot)?;
        log::info!(
            "shared folder: {}{}",
            folder.root().display(),
            if config.read_only { " (read-only)" } else { "" }
        );
        log_folder_limits(&config, &folder);
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut signals = Signals::new(close::SIGNALS_HANDLED)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        if let Some(w) = &watch {
            let fd = std::os::fd::AsRawFd::as_raw_fd(w);
            poll.registry()
                .register(&mut mio::unix::SourceFd(&fd), WATCH, Interest::READABLE)?;
        }
        let pacer = pace::Pacer::new(config.coalesce_max, Instant::now());
        let mut settings = Settings::from_config(&config);
        let bus = match &config.cluster {
            None => None,
            Some(c) => {
                let instance = crate::services::random_seed();
                let link = bus::Link::new(c.clone(), instance)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                let folder_id = crate::cluster::folder_id(folder.root());
                log::info!(
                    "cluster: node {} joins through {} (shared folder {folder_id})",
                    c.node,
                    c.url
                );
                settings.cluster = Some(crate::chat::Identity {
                    node: c.node.clone(),
                    redis: c.url.to_string(),
                    folder: folder_id,
                    instance,
                });
                Some(link)
            }
        };
        let mut room = Room::new(settings, folder);
        if let Some(path) = &config.history_file {
            room.open_history(path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot read the history file {}: {}",
                        path.display(),
                        crate::folder::describe(&e)
                    ),
                )
            })?;
        }
        Ok(Server {
            hashing: true,
            bus,
            poll,
            listener,
            signals,
            conns: Conns::new(config.max_queue),
            room,
            config,
            next_conn_id: 1,
            still_readable: Vec::new(),
            deferred_handshakes: Vec::new(),
            handshakes_this_turn: 0,
            pumping: Vec::new(),
            paused: Vec::new(),
            per_address: PerAddress::default(),
            next_sweep: Instant::now() + SWEEP_EVERY,
            trim_pending: false,
            accept_paused_until: None,
            emfile_logged: false,
            scratch: vec![0; read::READ_CHUNK],
            watch,
            watch_again: false,
            events: Events::with_capacity(1024),
            pacer,
            shutting_down: None,
        })
    }

    /// Runs until a signal asks it to stop and every client has been told.
    pub fn run(&mut self) -> io::Result<()> {
        while !self.turn()? {}
        Ok(())
    }

    /// One loop turn: wait for readiness (no longer than the next timer), serve what
    /// is ready, flush, remove what finished. Returns true once a shutdown is over.
    pub fn turn(&mut self) -> io::Result<bool> {
        let timeout = self.poll_timeout();
        // Waking only to send held-back output is not a quiet moment.
        let pacing = self.pacer.next().is_some();
        // Taken out for the turn, so handling an event may borrow the server.
        let mut events = std::mem::replace(&mut self.events, Events::with_capacity(0));
        let polled = self.poll.poll(&mut events, timeout);
        let result = match polled {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(e),
            Ok(()) => {
                let quiet = events.is_empty() && timeout != Some(Duration::ZERO) && !pacing;
                self.serve(&events, quiet);
                Ok(self.shutdown_done())
            }
        };
        self.events = events;
        result
    }

    /// `quiet`: the poll really waited and nothing came. (A zero-timeout poll for
    /// still-readable or pumping connections, or a wake to send held-back output,
    /// says nothing about quiet.)
    fn serve(&mut self, events: &Events, quiet: bool) {
        self.room.new_turn();
        if quiet {
            self.trim_heap();
        }
        // What changed in the folder is known before any request of this turn is
        // answered, so a listing never misses a file added before it was asked for.
        if events.iter().any(|e| e.token() == WATCH) {
            self.watch_again = true;
        }
        if std::mem::take(&mut self.watch_again) {
            self.on_folder_changed();
        }
        // Those deferred last turn go first.
        self.handshakes_this_turn = 0;
        for t in std::mem::take(&mut self.deferred_handshakes) {
            self.on_readable(t);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => self.accept_all(),
                SIGNALS => self.on_signal(),
                WATCH => {}
                bus::CMD | bus::SUB => {
                    if let Some(link) = self.bus.as_mut() {
                        link.ready(self.poll.registry(), event.token(), &mut self.scratch);
                    }
                }
                Token(t) => {
                    // Tokens are slab keys and keys are reused: check it is still there.
                    if !self.conns.slab.contains(t) {
                        continue;
                    }
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        self.on_readable(t);
                    }
                    if event.is_writable() {
                        self.conns.mark_dirty(t);
                    }
                }
            }
        }
        for t in std::mem::take(&mut self.still_readable) {
            self.on_readable(t);
        }
        for t in std::mem::take(&mut self.pumping) {
            self.conns.mark_dirty(t);
        }
        self.resume_paused();
        self.sweep_timeouts();
        self.resume_accepting();
        if self.bus.is_some() {
            self.bus_turn();
        }
        self.flush_dirty();
        self.reap();
        self.room.persist_history();
        self.hashing |= self.room.take_rehash();
        // Only on a turn nothing else asked for: a busy loop serves its clients first.
        if self.hashing && events.is_empty() && !self.pacer.flushing() {
            self.hashing = self.room.hash_files(HASH_STEP);
        }
    }

    /// Tells the room what changed in the shared folder.
    fn on_folder_changed(&mut self) {
        let Some(watch) = self.watch.as_mut() else {
            return;
        };
        let mut changes = watch.read();
        changes.names.sort();
        changes.names.dedup();
        self.room
            .folder_changed(changes.names.iter().map(|n| &**n), changes.overflow);
        // A file that came or changed is to be hashed.
        self.hashing = true;
        self.watch_again = changes.more;
    }

    /// Connections open right now, named or not.
    pub fn clients(&self) -> usize {
        self.conns.slab.len()
    }

    fn shutdown_done(&self) -> bool {
        self.shutting_down
            .is_some_and(|deadline| self.conns.slab.is_empty() || Instant::now() >= deadline)
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.still_readable.is_empty()
            || !self.pumping.is_empty()
            || self.pacer.flushing()
            || !self.deferred_handshakes.is_empty()
            || self.watch_again
            || self.bus.as_ref().is_some_and(|b| !b.again.is_empty())
            || !self.conns.bus_ops.is_empty()
            || self.hashing
        {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut soonest: Option<Instant> = self.accept_paused_until;
        let mut consider = |t: Instant| soonest = Some(soonest.map_or(t, |s| s.min(t)));
        if let Some(t) = self.shutting_down {
            consider(t);
        }
        if let Some(t) = self.pacer.next() {
            consider(t);
        }
        if let Some(link) = &self.bus {
            consider(link.deadline());
        }
        // With no connections left there is nothing to sweep, but memory freed by the
        // last ones to go is still to be given back once the loop is quiet.
        if !self.conns.slab.is_empty() || self.trim_pending {
            consider(self.next_sweep);
        }
        for &k in &self.paused {
            if let Some(t) = self.conns.slab.get(k).and_then(|c| c.paused_until) {
                consider(t);
            }
        }
        for &k in &self.conns.draining {
            if let Some(Phase::Draining { deadline, .. }) = self.conns.slab.get(k).map(|c| c.phase)
            {
                consider(deadline);
            }
        }
        soonest.map(|t| t.saturating_duration_since(now))
    }

    /// Releases idle queues' memory and gives freed heap pages back to the kernel,
    /// when the loop is quiet (a poll that timed out) and something was freed.
    /// Broadcasts and bursts leave many small freed blocks that glibc would otherwise
    /// keep; at 10,000 connections a trim takes about a millisecond, so it never runs
    /// while traffic is flowing.
    fn trim_heap(&mut self) {
        if !std::mem::take(&mut self.trim_pending) {
            return;
        }
        for (_, c) in self.conns.slab.iter_mut() {
            c.out.release();
        }
        // Everyone has gone: the tables sized for the last crowd go too.
        if self.conns.slab.is_empty() {
            self.conns.slab.shrink_to_fit();
            self.room.shrink_when_empty();
        }
        // SAFETY: malloc_trim only releases free memory; it has no other effect.
        #[cfg(target_env = "gnu")]
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Closes connections that never named themselves in time, and named ones that
    /// have been silent too long with no transfer running.
    fn sweep_timeouts(&mut self) {
        let now = Instant::now();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + SWEEP_EVERY;
        self.room.tick();
        if self.bus.is_some() {
            self.room.cluster_tick(&mut self.conns, now);
        }
        let (reg, idle) = (self.config.register_timeout, self.config.idle_timeout);
        let handshake = tls::HANDSHAKE_TIMEOUT.min(reg);
        let mut expired = Vec::new();
        let mut stalled = Vec::new();
        for (k, c) in self.conns.slab.iter() {
            if !c.is_open() {
                continue;
            }
            if c.tls.as_ref().is_some_and(|s| s.is_handshaking())
                && now.duration_since(c.opened_at) >= handshake
            {
                stalled.push((k, c.addr));
                continue;
            }
            let named = self.room.is_named(ConnRef(k));
            if !named && now.duration_since(c.opened_at) >= reg {
                expired.push((k, format!("no HELLO within {} s", reg.as_secs())));
            } else if named && now.duration_since(c.last_active.max(c.last_progress)) >= idle {
                expired.push((k, format!("idle for {} s", idle.as_secs())));
            }
        }
        for (t, addr) in stalled {
            log::info!(
                "{} from {addr}: TLS handshake not finished within {} s",
                self.room.label(ConnRef(t)),
                handshake.as_secs()
            );
            self.kill(t, LeaveReason::Timeout, "TLS handshake timed out");
        }
        for (t, why) in expired {
            let frame = ServerFrame::err(natter_protocol::ErrorCode::Timeout, why.clone());
            self.conns.send(ConnRef(t), &frame);
            self.close(t, LeaveReason::Timeout, &why);
        }
        self.settle_caps();
    }
}

impl Server {
    /// The cluster's part of a turn: the link's timers, what the room asked of the
    /// bus, and what the bus brought for the room, until neither has more; then the
    /// link's writes. Runs after the turn's requests, before the flush, so whatever
    /// it queues for clients goes out in this turn's writes.
    fn bus_turn(&mut self) {
        let Some(link) = self.bus.as_mut() else {
            return;
        };
        for token in std::mem::take(&mut link.again) {
            link.ready(self.poll.registry(), token, &mut self.scratch);
        }
        let room = &self.room;
        link.tick(self.poll.registry(), || room.claimed_names());
        loop {
            for op in std::mem::take(&mut self.conns.bus_ops) {
                match op {
                    conns::BusOp::Publish(to, payload) => link.publish(to.as_ref(), &payload),
                    conns::BusOp::Claim(conn, id, name) => link.claim(conn, id, &name),
                    conns::BusOp::Release(name) => link.release(&name),
                }
            }
            let events = std::mem::take(&mut link.events);
            if events.is_empty() {
                break;
            }
            for e in events {
                match e {
                    bus::LinkEvent::Up => self.room.bus_up(&mut self.conns),
                    bus::LinkEvent::Down => self.room.bus_down(),
                    bus::LinkEvent::Message(payload) => {
                        self.room.bus_message(&mut self.conns, &payload)
                    }
                    bus::LinkEvent::Claimed {
                        conn,
                        conn_id,
                        claim,
                    } => {
                        self.room.claimed(&mut self.conns, conn, conn_id, claim);
                        if let Some(c) = self.conns.slab.get_mut(conn.0) {
                            if c.id == conn_id && c.held {
                                c.held = false;
                                // What it sent meanwhile waits in its buffer or socket.
                                self.paused.push(conn.0);
                                c.paused_until = Some(Instant::now());
                            }
                        }
                    }
                    bus::LinkEvent::Lost(names) => self.room.claims_lost(&mut self.conns, &names),
                }
            }
        }
        link.flush(self.poll.registry());
        self.settle_caps();
    }
}

/// What the shared folder holds against its limits, at startup; a folder already
/// past one is worth a warning (every upload will be refused until files go).
fn log_folder_limits(config: &Config, folder: &SharedFolder) {
    if config.max_files.is_none() && config.max_folder_size.is_none() {
        return;
    }
    let held = folder.contents();
    let limits: Vec<String> = [
        config.max_folder_size.map(size_words),
        config.max_files.map(|n| format!("{n} files")),
    ]
    .into_iter()
    .flatten()
    .collect();
    log::info!(
        "shared folder limited to {}; it holds {} file(s), {}",
        limits.join(" and "),
        held.files,
        size_words(held.bytes)
    );
    let full = config.max_files.is_some_and(|m| held.files >= m)
        || config.max_folder_size.is_some_and(|m| held.bytes >= m);
    if full {
        log::warn!("the shared folder is already at its limit: uploads are refused until files are removed");
    }
}
