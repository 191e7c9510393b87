//! The one thread's one `mio::Poll` loop: accept, read, flush, close.
//!
//! Every connection lives in `conns` under its token. One loop turn: wait for
//! readiness, read what is ready (each connection a budget, so one flooder cannot
//! starve the rest), let the handler turn frames into queued output, then flush every
//! connection that got output once, with one vectored write. Nothing here decides
//! what a request means; that is `handler.rs`.
//!
//! mio is edge-triggered: a readiness event comes once per change. So reads go on
//! until `WouldBlock` (or the budget, after which the connection is remembered in
//! `still_readable` and the next poll does not sleep), accepts go on until
//! `WouldBlock`, and WRITABLE is asked for only while output waits.

use crate::config::{Config, CLOSE_DEADLINE_MS};
use crate::conn::{Conn, Phase};
use crate::files::SharedFolder;
use crate::limits::PerAddress;
use crate::sessions::SessionHistory;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use natter_protocol::{Decoded, LeaveReason, ServerFrame, Time, UserName};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::collections::HashMap;
use std::io::{self, Read};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);

/// Bytes read from one connection per loop turn before the others get their go.
const READ_BUDGET: usize = 64 * 1024;
/// One read's size; also the size of the loop's single scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// A download reads its next chunk only while the connection's queue is below this,
/// so the socket's pace pulls the file through and a transfer holds about one chunk.
pub(crate) const LOW_WATER: usize = 64 * 1024;
/// Bytes one connection's downloads may queue per loop turn before others get a go.
const PUMP_BUDGET: usize = 1024 * 1024;
/// How often registration and idle timeouts are checked.
const SWEEP_EVERY: Duration = Duration::from_secs(1);
/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

pub struct Server {
    pub(crate) poll: Poll,
    listener: TcpListener,
    signals: Signals,
    pub(crate) conns: Slab<Conn>,
    /// Case-folded name -> token of the connection that holds it.
    pub(crate) names: HashMap<UserName, usize>,
    /// Tokens of the named, open connections: who a broadcast goes to. Walking this
    /// rather than the slab keeps a broadcast's cost to the room's size, whatever
    /// the server's peak connection count was.
    pub(crate) members: Vec<usize>,
    pub(crate) config: Config,
    next_conn_id: u64,
    /// Connections with queued output, flushed once at the end of the turn.
    dirty: Vec<usize>,
    still_readable: Vec<usize>,
    /// Connections whose downloads stopped on their budget, not on a full socket.
    pumping: Vec<usize>,
    /// Connections out of request tokens, not read until their time comes.
    paused: Vec<usize>,
    per_address: PerAddress,
    next_sweep: Instant,
    /// Memory was freed (queues drained, connections gone) since the last trim.
    trim_pending: bool,
    pub(crate) folder: SharedFolder,
    pub(crate) next_xfer: u64,
    draining: Vec<usize>,
    dead: Vec<usize>,
    /// Departures whose `LEAVE` is still to be broadcast; a queue rather than
    /// recursion, since a broadcast can overflow someone else's queue in turn.
    leaves: Vec<(UserName, LeaveReason, String)>,
    accept_paused_until: Option<Instant>,
    emfile_logged: bool,
    scratch: Vec<u8>,
    pub(crate) started: Instant,
    pub(crate) history: SessionHistory,
    /// Sessions ended so far; numbers them so STATUS can list the most recent first.
    ended_count: u64,
    shutting_down: Option<Instant>,
}

impl Server {
    pub fn new(listener: std::net::TcpListener, config: Config) -> io::Result<Server> {
        let folder = SharedFolder::open(&config.shared_dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot use shared folder {}: {e}",
                    config.shared_dir.display()
                ),
            )
        })?;
        log::info!(
            "shared folder: {}{}",
            folder.root().display(),
            if config.read_only { " (read-only)" } else { "" }
        );
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let mut signals =
            Signals::new([signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(Server {
            poll,
            listener,
            signals,
            conns: Slab::new(),
            names: HashMap::new(),
            members: Vec::new(),
            history: SessionHistory::new(config.session_history),
            ended_count: 0,
            config,
            next_conn_id: 1,
            dirty: Vec::new(),
            still_readable: Vec::new(),
            pumping: Vec::new(),
            paused: Vec::new(),
            per_address: PerAddress::default(),
            next_sweep: Instant::now() + SWEEP_EVERY,
            trim_pending: false,
            folder,
            next_xfer: 1,
            draining: Vec::new(),
            dead: Vec::new(),
            leaves: Vec::new(),
            accept_paused_until: None,
            emfile_logged: false,
            scratch: vec![0; READ_CHUNK],
            started: Instant::now(),
            shutting_down: None,
        })
    }

    /// Runs until a signal asks it to stop and every client has been told.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            // Quiet: the poll really waited and nothing came. (A zero-timeout poll for
            // still-readable or pumping connections says nothing about quiet.)
            if events.is_empty() && timeout != Some(Duration::ZERO) {
                self.trim_heap();
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(),
                    SIGNALS => self.on_signal(),
                    Token(t) => {
                        // Tokens are slab keys and keys are reused: check it is still there.
                        if !self.conns.contains(t) {
                            continue;
                        }
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            self.on_readable(t);
                        }
                        if event.is_writable() {
                            self.mark_dirty(t);
                        }
                    }
                }
            }
            for t in std::mem::take(&mut self.still_readable) {
                self.on_readable(t);
            }
            for t in std::mem::take(&mut self.pumping) {
                self.mark_dirty(t);
            }
            self.resume_paused();
            self.sweep_timeouts();
            self.resume_accepting();
            self.flush_dirty();
            self.reap();
            if let Some(deadline) = self.shutting_down {
                if self.conns.is_empty() || Instant::now() >= deadline {
                    return Ok(());
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.still_readable.is_empty() || !self.pumping.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        let mut soonest: Option<Instant> = self.accept_paused_until;
        let mut consider = |t: Instant| soonest = Some(soonest.map_or(t, |s| s.min(t)));
        if let Some(t) = self.shutting_down {
            consider(t);
        }
        // With no connections left there is nothing to sweep, but memory freed by the
        // last ones to go is still to be given back once the loop is quiet.
        if !self.conns.is_empty() || self.trim_pending {
            consider(self.next_sweep);
        }
        for &k in &self.paused {
            if let Some(t) = self.conns.get(k).and_then(|c| c.paused_until) {
                consider(t);
            }
        }
        for &k in &self.draining {
            if let Some(Conn {
                phase: Phase::Draining { deadline, .. },
                ..
            }) = self.conns.get(k)
            {
                consider(*deadline);
            }
        }
        soonest.map(|t| t.saturating_duration_since(now))
    }

    // ---- accepting -------------------------------------------------------------------

    fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() || self.shutting_down.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, addr)) => self.on_accept(stream, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // The pending connection stays in the backlog; try again shortly
                    // or when a connection closes, rather than spin or exit.
                    if !self.emfile_logged {
                        log::warn!(
                            "out of file descriptors with {} connections: pausing accepts ({e})",
                            self.conns.len()
                        );
                        self.emfile_logged = true;
                    }
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
                Err(e) => {
                    // ECONNABORTED and friends concern one connection, not the listener.
                    log::warn!("accept failed: {e}");
                }
            }
        }
    }

    fn resume_accepting(&mut self) {
        if let Some(t) = self.accept_paused_until {
            if Instant::now() >= t {
                self.accept_paused_until = None;
                self.accept_all();
                if self.accept_paused_until.is_none() && self.emfile_logged {
                    log::info!("accepting connections again");
                    self.emfile_logged = false;
                }
            }
        }
    }

    fn on_accept(&mut self, mut stream: mio::net::TcpStream, addr: std::net::SocketAddr) {
        let active = self.conns.len();
        if active >= self.config.max_clients {
            log::warn!(
                "rejected {addr}: server is full ({active}/{})",
                self.config.max_clients
            );
            let frame = ServerFrame::err(
                natter_protocol::ErrorCode::ServerFull,
                format!(
                    "natterd is full ({active}/{} clients); try again later",
                    self.config.max_clients
                ),
            );
            // A fresh socket's send buffer takes one short line; if it does not, the
            // client sees the connection close, which also says "not here".
            // A TLS client could not read a plaintext ERR: it sees the close instead.
            if self.config.tls.is_none() {
                let _ = io::Write::write(&mut stream, &frame.to_bytes());
            }
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        let ip = addr.ip();
        let max_per_ip = self.config.max_per_ip;
        let exempt = PerAddress::exempt(ip) && !self.config.limit_loopback;
        if max_per_ip > 0 && !exempt && self.per_address.count(ip) as usize >= max_per_ip {
            log::warn!("rejected {addr}: {ip} already has {max_per_ip} connections");
            let frame = ServerFrame::err(
                natter_protocol::ErrorCode::ServerFull,
                format!("too many connections from {ip} (at most {max_per_ip}); close one and try again"),
            );
            // A TLS client could not read a plaintext ERR: it sees the close instead.
            if self.config.tls.is_none() {
                let _ = io::Write::write(&mut stream, &frame.to_bytes());
            }
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("TCP_NODELAY on {addr}: {e}");
        }
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let entry = self.conns.vacant_entry();
        let token = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
        {
            log::warn!("cannot watch connection from {addr}: {e}");
            return;
        }
        let mut conn = Conn::new(stream, id, addr, self.config.max_burst);
        if let Some(tls) = &self.config.tls {
            match crate::tls::new_connection(tls) {
                Ok(s) => conn.tls = Some(s),
                Err(e) => {
                    log::warn!("cannot start TLS for {addr}: {e}");
                    return;
                }
            }
        }
        conn.authed = self.config.secret.is_none();
        entry.insert(conn);
        self.per_address.add(ip);
        log::info!("client {id} connected from {addr}");
        let online = self.names.len();
        let text = format!(
            "{} - {online} user{} online",
            self.config.motd,
            if online == 1 { "" } else { "s" }
        );
        self.send(
            token,
            &ServerFrame::Welcome {
                version: natter_protocol::VERSION.into(),
                conn_id: id,
                text,
            },
        );
    }

    // ---- reading ---------------------------------------------------------------------

    fn on_readable(&mut self, t: usize) {
        let mut budget = READ_BUDGET;
        let mut scratch = std::mem::take(&mut self.scratch);
        while let Some(conn) = self.conns.get_mut(t) {
            match conn.phase {
                Phase::Dead => break,
                Phase::Draining { .. } => {
                    if discard_input(conn, &mut scratch) {
                        self.still_readable.push(t);
                    }
                    break;
                }
                Phase::Open if conn.paused_until.is_some() => break,
                Phase::Open => {}
            }
            if budget == 0 {
                self.still_readable.push(t);
                break;
            }
            match conn.read_plain(&mut scratch) {
                Ok(n)
                    if conn.bytes_in == 0
                        && conn.tls.is_none()
                        && crate::tls::looks_like_client_hello(&scratch[..n]) =>
                {
                    log::info!(
                        "{} from {}: a TLS client on the plaintext port (it should connect without --tls, or natterd needs --tls-cert and --tls-key)",
                        conn.label(),
                        conn.addr
                    );
                    self.kill(t, LeaveReason::Error, "TLS on a plaintext port");
                    break;
                }
                Ok(0) => {
                    // The peer will send no more. What it did send is answered; go.
                    conn.peer_closed = true;
                    self.close(t, LeaveReason::Lost, "");
                    break;
                }
                Ok(n) => {
                    conn.bytes_in += n as u64;
                    conn.last_active = Instant::now();
                    budget = budget.saturating_sub(n);
                    self.take_input(t, &scratch[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    log::info!("{} from {}: TLS failed: {e}", conn.label(), conn.addr);
                    self.kill(t, LeaveReason::Error, "TLS error");
                    break;
                }
                Err(e) => {
                    log::debug!("read from client {}: {e}", conn.id);
                    self.kill(t, LeaveReason::Lost, "");
                    break;
                }
            }
        }
        self.scratch = scratch;
        // Reading TLS can make rustls want to answer (handshake, alerts, key updates).
        if self
            .conns
            .get(t)
            .is_some_and(|c| c.tls.as_ref().is_some_and(|s| s.wants_write()))
        {
            self.mark_dirty(t);
        }
    }

    /// Decodes and handles every whole frame in what arrived; keeps the partial tail.
    fn take_input(&mut self, t: usize, fresh: &[u8]) {
        let Some(conn) = self.conns.get_mut(t) else {
            return;
        };
        let mut pending = std::mem::take(&mut conn.read_buf);
        if pending.is_empty() {
            // The common case, whole frames in one read: decode straight from the
            // read's bytes and copy nothing into the connection.
            let used = self.handle_bytes(t, fresh);
            if let Some(conn) = self.conns.get_mut(t) {
                if conn.is_open() && used < fresh.len() {
                    conn.read_buf = fresh[used..].to_vec();
                }
            }
        } else {
            pending.extend_from_slice(fresh);
            let used = self.handle_bytes(t, &pending);
            if let Some(conn) = self.conns.get_mut(t) {
                if conn.is_open() && used < pending.len() {
                    pending.drain(..used);
                    conn.read_buf = pending;
                }
            }
        }
    }

    /// Runs the handler over whole frames at the front of `bytes`; returns bytes used.
    fn handle_bytes(&mut self, t: usize, bytes: &[u8]) -> usize {
        let mut used = 0;
        while self.conns.get(t).is_some_and(|c| c.is_open()) {
            match natter_protocol::decode_request(&bytes[used..]) {
                Ok(Decoded::Frame(req, n)) => {
                    if !matches!(req, natter_protocol::Request::Data { .. }) && !self.take_token(t)
                    {
                        // Out of tokens: leave this frame unread until one returns.
                        break;
                    }
                    used += n;
                    self.broadcast_leaves();
                    self.handle(t, req);
                }
                Ok(Decoded::Blank(n)) => used += n,
                Ok(Decoded::Incomplete) => break,
                Err(e) => {
                    // Each bad line earns an ERR, so it costs a token like a request.
                    if !e.fatal && !self.take_token(t) {
                        break;
                    }
                    used += e.used;
                    self.send(t, &ServerFrame::err(e.code.clone(), e.text.clone()));
                    if e.fatal {
                        log::info!("closing {}: {} {}", self.label(t), e.code, e.text);
                        self.close(t, LeaveReason::Error, &e.text);
                    }
                }
            }
        }
        used.min(bytes.len())
    }

    // ---- flood control and timeouts ----------------------------------------------------

    /// One request token for `t`; false (and the connection paused) if it has none.
    fn take_token(&mut self, t: usize) -> bool {
        let (rate, burst) = (self.config.max_rate, self.config.max_burst);
        if rate <= 0.0 {
            return true;
        }
        let Some(c) = self.conns.get_mut(t) else {
            return false;
        };
        let now = Instant::now();
        match c.bucket.take(rate, burst, now) {
            Ok(()) => true,
            Err(wait) => {
                if c.paused_until.is_none() {
                    log::debug!(
                        "{} is over {rate} requests/s: pausing it for {wait:?}",
                        c.label()
                    );
                }
                c.paused_until = Some(now + wait);
                self.paused.push(t);
                false
            }
        }
    }

    /// Serves paused connections whose token has come back: first what they already
    /// sent, then their socket (whose readiness edge may have passed meanwhile).
    fn resume_paused(&mut self) {
        if self.paused.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        self.paused.retain(|&t| match self.conns.get_mut(t) {
            Some(c) if c.paused_until.is_some_and(|p| p <= now) => {
                c.paused_until = None;
                due.push(t);
                false
            }
            Some(c) => c.paused_until.is_some(),
            None => false,
        });
        for t in due {
            self.take_input(t, &[]);
            if self.conns.get(t).is_some_and(|c| c.paused_until.is_none()) {
                self.on_readable(t);
            }
        }
    }

    /// Releases idle queues' memory and gives freed heap pages back to the kernel,
    /// when the loop is quiet (a poll that timed out) and something was freed. Broadcasts and bursts leave many small
    /// freed blocks that glibc would otherwise keep; at 10,000 connections a trim
    /// takes about a millisecond, so it never runs while traffic is flowing.
    fn trim_heap(&mut self) {
        if !std::mem::take(&mut self.trim_pending) {
            return;
        }
        for (_, c) in self.conns.iter_mut() {
            c.out.release();
        }
        // Everyone has gone: the tables sized for the last crowd go too.
        if self.conns.is_empty() {
            self.conns.shrink_to_fit();
            self.names.shrink_to_fit();
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
        let (reg, idle) = (self.config.register_timeout, self.config.idle_timeout);
        let handshake = crate::tls::HANDSHAKE_TIMEOUT.min(reg);
        let mut expired = Vec::new();
        let mut stalled = Vec::new();
        for (k, c) in self.conns.iter() {
            if !c.is_open() {
                continue;
            }
            if c.tls.as_ref().is_some_and(|s| s.is_handshaking())
                && now.duration_since(c.opened_at) >= handshake
            {
                stalled.push(k);
                continue;
            }
            if c.name.is_none() && now.duration_since(c.opened_at) >= reg {
                expired.push((k, format!("no HELLO within {} s", reg.as_secs())));
            } else if c.name.is_some()
                && now.duration_since(c.last_active.max(c.last_progress)) >= idle
            {
                expired.push((k, format!("idle for {} s", idle.as_secs())));
            }
        }
        for t in stalled {
            log::info!(
                "{} from {}: TLS handshake not finished within {} s",
                self.label(t),
                self.conns[t].addr,
                handshake.as_secs()
            );
            self.kill(t, LeaveReason::Timeout, "TLS handshake timed out");
        }
        for (t, why) in expired {
            self.send(
                t,
                &ServerFrame::err(natter_protocol::ErrorCode::Timeout, why.clone()),
            );
            self.close(t, LeaveReason::Timeout, &why);
        }
    }

    // ---- output ----------------------------------------------------------------------

    pub(crate) fn mark_dirty(&mut self, t: usize) {
        if let Some(c) = self.conns.get_mut(t) {
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(t);
            }
        }
    }

    /// Queues one frame for one connection.
    pub(crate) fn send(&mut self, t: usize, frame: &ServerFrame) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if c.phase == Phase::Dead {
            return;
        }
        c.out.push_with(|v| frame.encode(v));
        self.check_cap(t);
        self.mark_dirty(t);
    }

    /// Queues a request's items and its final reply as one unit. A long listing
    /// (STATUS on a big server, FILES on a big folder) may take the queue past the
    /// cap: the client asked for it, and is too slow only if it was over already.
    pub(crate) fn send_listing(&mut self, t: usize, items: &[ServerFrame], last: &ServerFrame) {
        let cap = self.config.max_queue;
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if c.phase == Phase::Dead {
            return;
        }
        let before = c.out.len();
        for f in items {
            c.out.push_with(|v| f.encode(v));
        }
        c.out.push_with(|v| last.encode(v));
        self.mark_dirty(t);
        if before > cap {
            self.check_cap(t);
        }
    }

    /// Encodes `frame` once and queues the same bytes for every member but `except`.
    /// Returns how many got it.
    pub(crate) fn broadcast(&mut self, frame: &ServerFrame, except: Option<usize>) -> u64 {
        let bytes: Rc<[u8]> = Rc::from(frame.to_bytes());
        let mut delivered = 0;
        let mut over = Vec::new();
        for &k in &self.members {
            let Some(c) = self.conns.get_mut(k) else {
                continue;
            };
            if Some(k) == except || !c.is_member() {
                continue;
            }
            c.out.push_shared(bytes.clone());
            delivered += 1;
            if c.out.len() > self.config.max_queue {
                over.push(k);
            }
            if !c.dirty {
                c.dirty = true;
                self.dirty.push(k);
            }
        }
        for k in over {
            self.check_cap(k);
        }
        delivered
    }

    /// A queue over the cap first gets a chance to drain into the socket; whoever is
    /// still over after that is not keeping up and is dropped as too slow.
    fn check_cap(&mut self, t: usize) {
        let cap = self.config.max_queue;
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if c.out.len() <= cap {
            return;
        }
        if let Err(e) = c.write_pending() {
            log::debug!("write to client {}: {e}", c.id);
            return self.kill(t, LeaveReason::Lost, "");
        }
        if c.out.len() > cap {
            self.kill(
                t,
                LeaveReason::TooSlow,
                &format!("output queue passed {cap} bytes"),
            );
        }
    }

    fn flush_dirty(&mut self) {
        // Flushing can kill a connection, whose LEAVE makes others dirty: go until quiet.
        self.broadcast_leaves();
        while !self.dirty.is_empty() {
            for t in std::mem::take(&mut self.dirty) {
                self.flush(t);
            }
            self.broadcast_leaves();
        }
    }

    fn flush(&mut self, t: usize) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        c.dirty = false;
        if c.phase == Phase::Dead {
            return;
        }
        let mut budget = PUMP_BUDGET;
        loop {
            let queued = self.fill_downloads(t, &mut budget);
            let Some(c) = self.conns.get_mut(t) else {
                return;
            };
            if let Err(e) = c.write_pending() {
                log::debug!("write to client {}: {e}", c.id);
                return self.kill(t, LeaveReason::Lost, "");
            }
            if !c.out.is_empty() || c.downloads.is_empty() {
                break;
            }
            if budget == 0 || queued == 0 {
                // Out of budget with the socket still taking bytes: go on next turn.
                self.pumping.push(t);
                break;
            }
        }
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        self.trim_pending = true;
        let want_write = c.has_output();
        if want_write != c.wants_write {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if let Err(e) = self
                .poll
                .registry()
                .reregister(&mut c.stream, Token(t), interest)
            {
                log::warn!("cannot watch client {}: {e}", c.id);
                self.kill(t, LeaveReason::Lost, "");
                return;
            }
            c.wants_write = want_write;
        }
        if let Phase::Draining {
            deadline,
            write_shut: false,
        } = c.phase
        {
            if !c.has_output() {
                c.shut_write();
                // Once the peer has closed too, there is nothing left to wait for.
                let deadline = if c.peer_closed {
                    Instant::now()
                } else {
                    deadline
                };
                c.phase = Phase::Draining {
                    deadline,
                    write_shut: true,
                };
            }
        }
    }

    // ---- closing ---------------------------------------------------------------------

    /// Ends a connection gracefully: no more requests, queued output still goes out
    /// (within the close deadline), others see it leave now.
    pub(crate) fn close(&mut self, t: usize, reason: LeaveReason, text: &str) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if !c.is_open() {
            return;
        }
        c.phase = Phase::Draining {
            deadline: Instant::now() + Duration::from_millis(CLOSE_DEADLINE_MS),
            write_shut: false,
        };
        c.read_buf = Vec::new();
        self.draining.push(t);
        self.mark_dirty(t);
        self.depart(t, reason, text);
    }

    /// Ends a connection now, dropping whatever it still had queued.
    pub(crate) fn kill(&mut self, t: usize, reason: LeaveReason, text: &str) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if c.phase == Phase::Dead {
            return;
        }
        let was_open = c.is_open();
        c.phase = Phase::Dead;
        c.out.clear();
        c.read_buf = Vec::new();
        self.dead.push(t);
        if was_open {
            self.depart(t, reason, text);
        }
    }

    /// Logs the departure and frees the name; the `LEAVE` goes out with the next flush.
    fn depart(&mut self, t: usize, reason: LeaveReason, text: &str) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        c.ended = Some(Time::now());
        self.ended_count += 1;
        c.ended_seq = self.ended_count;
        let uploads = std::mem::take(&mut c.uploads);
        c.downloads.clear();
        for up in uploads {
            log::info!(
                "{}: upload of {} abandoned at {} of {} bytes",
                c.label(),
                up.stored_as,
                up.received,
                up.size
            );
            // Dropping the upload removes its temporary file.
            self.folder.release(&up.stored_as);
        }
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        let label = c.label();
        let detail = if text.is_empty() {
            String::new()
        } else {
            // Quoted: a QUIT text may hold escape sequences meant for a terminal.
            format!(" ({text:?})")
        };
        log::info!("{label} left: {}{detail}", reason.describe());
        if let Some(name) = c.name.take() {
            let slot = c.member_slot;
            self.names.remove(&name.folded());
            self.remove_member(t, slot);
            self.leaves.push((name, reason, text.to_string()));
        }
    }

    pub(crate) fn add_member(&mut self, t: usize) {
        if let Some(c) = self.conns.get_mut(t) {
            c.member_slot = self.members.len();
            self.members.push(t);
        }
    }

    fn remove_member(&mut self, t: usize, slot: usize) {
        if self.members.get(slot) != Some(&t) {
            return;
        }
        self.members.swap_remove(slot);
        if let Some(&moved) = self.members.get(slot) {
            if let Some(c) = self.conns.get_mut(moved) {
                c.member_slot = slot;
            }
        }
    }

    /// Announces departures in the order they happened. Called after every request
    /// too: a freed name's LEAVE must reach everyone before a new JOIN of that name.
    pub(crate) fn broadcast_leaves(&mut self) {
        while !self.leaves.is_empty() {
            for (name, reason, text) in std::mem::take(&mut self.leaves) {
                self.broadcast(&ServerFrame::Leave { name, reason, text }, None);
            }
        }
    }

    /// Removes connections that are finished: dead ones, and draining ones whose
    /// output is gone and whose peer has closed, or whose deadline has passed.
    fn reap(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.draining.len() {
            let t = self.draining[i];
            let done = match self.conns.get(t).map(|c| c.phase) {
                Some(Phase::Draining { deadline, .. }) => now >= deadline,
                _ => true,
            };
            if done {
                self.draining.swap_remove(i);
                if let Some(c) = self.conns.get_mut(t) {
                    c.phase = Phase::Dead;
                    self.dead.push(t);
                }
            } else {
                i += 1;
            }
        }
        let freed = !self.dead.is_empty();
        self.trim_pending |= freed;
        for t in std::mem::take(&mut self.dead) {
            if let Some(c) = self.conns.get(t) {
                if c.phase == Phase::Dead {
                    let mut c = self.conns.remove(t);
                    let _ = self.poll.registry().deregister(&mut c.stream);
                    self.per_address.remove(c.addr.ip());
                    self.history.push(c.ended_seq, c.session());
                    log::debug!("client {} closed", c.id);
                }
            }
        }
        if freed && self.emfile_logged && self.accept_paused_until.is_some() {
            // A descriptor came free: try the backlog now rather than at the timer.
            self.accept_paused_until = Some(Instant::now());
        }
    }

    // ---- shutting down ---------------------------------------------------------------

    fn on_signal(&mut self) {
        let got: Vec<i32> = self.signals.pending().collect();
        if got.is_empty() || self.shutting_down.is_some() {
            return;
        }
        log::info!(
            "signal received: telling {} clients and shutting down",
            self.conns.len()
        );
        self.begin_shutdown("natterd is shutting down");
    }

    fn begin_shutdown(&mut self, text: &str) {
        self.shutting_down = Some(Instant::now() + Duration::from_millis(CLOSE_DEADLINE_MS));
        let _ = self.poll.registry().deregister(&mut self.listener);
        let frame = ServerFrame::Shutdown { text: text.into() };
        let keys: Vec<usize> = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_open())
            .map(|(k, _)| k)
            .collect();
        for t in keys {
            self.send(t, &frame);
            if let Some(c) = self.conns.get_mut(t) {
                // Nobody is told that anybody left: everybody is told the server is going.
                c.name = None;
            }
            self.close(t, LeaveReason::Quit, "");
        }
        self.names.clear();
        self.members.clear();
    }

    /// After the loop failed: a last word to every client, written directly since the
    /// loop can no longer be trusted, then every socket closed.
    pub fn emergency_shutdown(&mut self, why: &str) {
        let frame = ServerFrame::Shutdown {
            text: format!("natterd stopped: {why}"),
        }
        .to_bytes();
        for (_, c) in self.conns.iter_mut() {
            match c.tls.as_deref_mut() {
                Some(tls) => {
                    let _ = io::Write::write(&mut tls.writer(), &frame);
                    let _ = crate::tls::write_records(tls, &mut c.stream);
                }
                None => {
                    let _ = io::Write::write(&mut c.stream, &frame);
                }
            }
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        self.conns.clear();
    }

    pub(crate) fn label(&self, t: usize) -> String {
        self.conns
            .get(t)
            .map_or_else(|| format!("token {t}"), |c| c.label())
    }
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}

/// Reads and drops what a closing connection still sends; notes when it has finished.
/// Returns true when it stopped on its budget with more possibly waiting.
fn discard_input(conn: &mut Conn, scratch: &mut [u8]) -> bool {
    let mut budget = READ_BUDGET;
    loop {
        if budget == 0 {
            return true;
        }
        match conn.stream.read(scratch) {
            Ok(0) => {
                conn.peer_closed = true;
                if let Phase::Draining {
                    write_shut: true, ..
                } = conn.phase
                {
                    // Both sides are done: no reason to wait for the deadline.
                    conn.phase = Phase::Draining {
                        deadline: Instant::now(),
                        write_shut: true,
                    };
                }
                return false;
            }
            Ok(n) => budget = budget.saturating_sub(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => {
                // Reset by the peer: reap() removes it at the end of the turn.
                conn.phase = Phase::Draining {
                    deadline: Instant::now(),
                    write_shut: true,
                };
                conn.out.clear();
                return false;
            }
        }
    }
}
