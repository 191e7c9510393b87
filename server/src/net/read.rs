//! Reading: until `WouldBlock` or the connection's budget for this turn; every whole
//! frame decoded and handed to the room, the partial tail kept; flood control (a
//! connection out of request tokens is simply not read until one returns); and the
//! input of a closing connection read and dropped.

use super::conn::{Conn, Phase};
use super::Server;
use crate::chat::{ConnRef, Outbox};
use natter_protocol::{Decoded, LeaveReason, Request, ServerFrame};
use std::io::{self, Read};
use std::time::Instant;

/// Bytes read from one connection per loop turn before the others get their go.
const READ_BUDGET: usize = 64 * 1024;
/// TLS handshakes stepped per loop turn. A handshake step costs a signature (a
/// millisecond or more for RSA): with this budget a flood of handshakes can slow new
/// TLS clients, never the chat of those already in. Handshakes per address are
/// bounded by `--max-per-ip` already.
pub(super) const HANDSHAKES_PER_TURN: usize = 8;
/// Loop time one connection's requests may take per turn. Past it, the rest of what
/// it sent waits for the next turn and everyone else is served first: a burst of
/// costly requests (uploads published with an fsync each, say) cannot hold others'
/// replies for longer than about this plus one request.
const TURN_SLICE: std::time::Duration = std::time::Duration::from_millis(2);
/// One read's size; also the size of the loop's single scratch buffer.
pub(super) const READ_CHUNK: usize = 64 * 1024;

impl Server {
    pub(super) fn on_readable(&mut self, t: usize) {
        let mut budget = READ_BUDGET;
        let mut scratch = std::mem::take(&mut self.scratch);
        while let Some(conn) = self.conns.slab.get_mut(t) {
            match conn.phase {
                Phase::Dead => break,
                Phase::Draining { .. } => {
                    if discard_input(conn, &mut scratch) {
                        self.still_readable.push(t);
                    }
                    break;
                }
                Phase::Open if conn.paused_until.is_some() || conn.pulling || conn.held => break,
                Phase::Open => {}
            }
            if budget == 0 {
                self.still_readable.push(t);
                break;
            }
            if conn.tls.as_ref().is_some_and(|s| s.is_handshaking()) {
                if self.handshakes_this_turn >= HANDSHAKES_PER_TURN {
                    self.deferred_handshakes.push(t);
                    break;
                }
                self.handshakes_this_turn += 1;
            }
            match conn.read_plain(&mut scratch) {
                Ok(n)
                    if conn.bytes_in == 0
                        && conn.tls.is_none()
                        && super::tls::looks_like_client_hello(&scratch[..n]) =>
                {
                    log::info!(
                        "{} from {}: a TLS client on the plaintext port (it should connect without --tls, or natterd needs --tls-cert and --tls-key)",
                        self.room.label(ConnRef(t)),
                        conn.addr
                    );
                    self.kill(t, LeaveReason::Error, "TLS on a plaintext port");
                    break;
                }
                Ok(0) => {
                    // The peer will send no more. What it did send is answered; go.
                    conn.peer_closed = true;
                    if conn.tls.as_ref().is_some_and(|s| s.is_handshaking()) {
                        log::info!(
                            "{} from {}: closed the connection during the TLS handshake (a client that does not trust natterd's certificate may do that without saying why)",
                            self.room.label(ConnRef(t)),
                            conn.addr
                        );
                    }
                    // A peer that only shut its sending side (`nc -N`, a script's
                    // shutdown(SHUT_WR)) still gets the downloads and the listing it
                    // asked for; the connection ends when they are out (`flush`).
                    if !conn.is_open() || !conn.transferring() {
                        self.close(t, LeaveReason::Lost, "");
                    }
                    break;
                }
                Ok(n) => {
                    conn.bytes_in += n as u64;
                    budget = budget.saturating_sub(n);
                    self.take_input(t, &scratch[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    let handshaking = conn.tls.as_ref().is_some_and(|s| s.is_handshaking());
                    log::info!(
                        "{} from {}: {}",
                        self.room.label(ConnRef(t)),
                        conn.addr,
                        super::tls::failure_words(&e, handshaking)
                    );
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
            .slab
            .get(t)
            .is_some_and(|c| c.tls.as_ref().is_some_and(|s| s.wants_write()))
        {
            self.conns.mark_dirty(t);
        }
    }

    /// Decodes and handles every whole frame in what arrived; keeps the partial tail.
    fn take_input(&mut self, t: usize, fresh: &[u8]) {
        let Some(conn) = self.conns.slab.get_mut(t) else {
            return;
        };
        let mut pending = std::mem::take(&mut conn.read_buf);
        if pending.is_empty() {
            // The common case, whole frames in one read: decode straight from the
            // read's bytes and copy nothing into the connection.
            let used = self.handle_bytes(t, fresh);
            if let Some(conn) = self.conns.slab.get_mut(t) {
                if conn.is_open() && used < fresh.len() {
                    conn.read_buf = fresh[used..].to_vec();
                }
            }
        } else {
            pending.extend_from_slice(fresh);
            let used = self.handle_bytes(t, &pending);
            if let Some(conn) = self.conns.slab.get_mut(t) {
                if conn.is_open() && used < pending.len() {
                    pending.drain(..used);
                    conn.read_buf = pending;
                }
            }
        }
    }

    /// Hands the room every whole frame at the front of `bytes`; returns bytes used.
    fn handle_bytes(&mut self, t: usize, bytes: &[u8]) -> usize {
        let mut used = 0;
        let started = Instant::now();
        // A listing being pulled holds the next requests back: replies keep their order.
        while self
            .conns
            .slab
            .get(t)
            .is_some_and(|c| c.is_open() && !c.pulling && !c.held)
        {
            match natter_protocol::decode_request(&bytes[used..]) {
                Ok(Decoded::Frame(req, n)) => {
                    if let Some(until) = self.room.hold_until(ConnRef(t), &req) {
                        // Not to be heard yet: left unread, the connection not read.
                        self.pause(t, until);
                        break;
                    }
                    // Upload data is free, but only for a live upload of this
                    // connection: anything else is a request like any other.
                    let free = matches!(req, Request::Data { xfer, .. }
                        if self.room.has_upload(ConnRef(t), xfer));
                    if !free && !self.take_token(t) {
                        // Out of tokens: leave this frame unread until one returns.
                        break;
                    }
                    used += n;
                    // Activity is a whole request (or upload data), not a byte: one
                    // byte every few seconds must not keep a connection alive.
                    if let Some(c) = self.conns.slab.get_mut(t) {
                        c.last_active = Instant::now();
                    }
                    self.room.handle(&mut self.conns, ConnRef(t), req);
                }
                Ok(Decoded::Blank(n)) => used += n,
                Ok(Decoded::Incomplete) => break,
                Err(e) => {
                    // Each bad line earns an ERR, so it costs a token like a request.
                    if !e.fatal && !self.take_token(t) {
                        break;
                    }
                    used += e.used;
                    let frame = ServerFrame::err(e.code.clone(), e.text.clone());
                    self.conns.send(ConnRef(t), &frame);
                    if e.fatal {
                        log::info!(
                            "closing {}: {} {}",
                            self.room.label(ConnRef(t)),
                            e.code,
                            e.text
                        );
                        self.close(t, LeaveReason::Error, &e.text);
                    }
                }
            }
            // A reply or a broadcast may have taken someone past their cap.
            self.settle_caps();
            if started.elapsed() >= TURN_SLICE {
                // Its turn is used up: the rest waits, the connection is not read.
                self.pause(t, Instant::now());
                break;
            }
        }
        used.min(bytes.len())
    }

    /// One request token for `t`; false (and the connection paused) if it has none.
    fn take_token(&mut self, t: usize) -> bool {
        let (rate, burst) = (self.config.max_rate, self.config.max_burst);
        if rate <= 0.0 {
            return true;
        }
        let Some(c) = self.conns.slab.get_mut(t) else {
            return false;
        };
        let now = Instant::now();
        match c.bucket.take(rate, burst, now) {
            Ok(()) => true,
            Err(wait) => {
                if c.paused_until.is_none() {
                    log::debug!(
                        "{} is over {rate} requests/s: pausing it for {wait:?}",
                        self.room.label(ConnRef(t))
                    );
                }
                self.pause(t, now + wait);
                false
            }
        }
    }

    /// Stops reading `t` until `until` (or later, if it is paused longer already).
    pub(super) fn pause(&mut self, t: usize, until: Instant) {
        if let Some(c) = self.conns.slab.get_mut(t) {
            c.paused_until = Some(c.paused_until.map_or(until, |p| p.max(until)));
            self.paused.push(t);
        }
    }

    /// Serves paused connections whose token has come back: first what they already
    /// sent, then their socket (whose readiness edge may have passed meanwhile).
    pub(super) fn resume_paused(&mut self) {
        if self.paused.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        let slab = &mut self.conns.slab;
        self.paused.retain(|&t| match slab.get_mut(t) {
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
            if self
                .conns
                .slab
                .get(t)
                .is_some_and(|c| c.paused_until.is_none())
            {
                self.on_readable(t);
            }
        }
    }
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
