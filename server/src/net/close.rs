//! Ending connections: gracefully (drain, then cut at the deadline) or at once, with
//! the room told of each departure as it happens; removing finished ones at the end
//! of the turn; and shutting the whole server down, on a signal or after a failure.

use super::conn::Phase;
use super::Server;
use crate::chat::{ConnRef, Outbox};
use crate::config::CLOSE_DEADLINE_MS;
use natter_protocol::{LeaveReason, ServerFrame};
use std::io;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// Signals that stop natterd gracefully (every client told `SHUTDOWN`).
const STOP_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGQUIT];
/// Every signal natterd takes over from its default action: the stop signals, and
/// those whose default would kill it without a word to anyone, which it ignores.
pub(super) const SIGNALS_HANDLED: [i32; 6] = [SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2];

fn signal_name(sig: i32) -> &'static str {
    match sig {
        SIGHUP => "SIGHUP",
        SIGUSR1 => "SIGUSR1",
        SIGUSR2 => "SIGUSR2",
        _ => "a signal",
    }
}

impl Server {
    /// Ends a connection gracefully: no more requests, queued output still goes out
    /// (within the close deadline), others see it leave now.
    pub(super) fn close(&mut self, t: usize, reason: LeaveReason, text: &str) {
        if self.conns.close(t) {
            self.room.depart(&mut self.conns, ConnRef(t), reason, text);
        }
    }

    /// Ends a connection now, dropping whatever it still had queued.
    pub(super) fn kill(&mut self, t: usize, reason: LeaveReason, text: &str) {
        if self.conns.kill(t) {
            self.room.depart(&mut self.conns, ConnRef(t), reason, text);
        }
    }

    /// Removes connections that are finished: dead ones, and draining ones whose
    /// output is gone and whose peer has closed, or whose deadline has passed.
    pub(super) fn reap(&mut self) {
        let now = Instant::now();
        let mut i = 0;
        while i < self.conns.draining.len() {
            let t = self.conns.draining[i];
            let done = match self.conns.slab.get(t).map(|c| c.phase) {
                Some(Phase::Draining { deadline, .. }) => now >= deadline,
                _ => true,
            };
            if done {
                self.conns.draining.swap_remove(i);
                if let Some(c) = self.conns.slab.get_mut(t) {
                    c.phase = Phase::Dead;
                    self.conns.dead.push(t);
                }
            } else {
                i += 1;
            }
        }
        let freed = !self.conns.dead.is_empty();
        self.trim_pending |= freed;
        for t in std::mem::take(&mut self.conns.dead) {
            if !self
                .conns
                .slab
                .get(t)
                .is_some_and(|c| c.phase == Phase::Dead)
            {
                continue;
            }
            let mut c = self.conns.slab.remove(t);
            let _ = self.poll.registry().deregister(&mut c.stream);
            self.per_address.remove(c.addr.ip());
            self.room.disconnected(ConnRef(t), c.traffic());
            log::debug!("client {} closed", c.id);
        }
        if freed && self.emfile_logged && self.accept_paused_until.is_some() {
            // A descriptor came free: try the backlog now rather than at the timer.
            self.accept_paused_until = Some(Instant::now());
        }
    }

    pub(super) fn on_signal(&mut self) {
        let got: Vec<i32> = self.signals.pending().collect();
        let mut stop = false;
        for sig in got {
            if STOP_SIGNALS.contains(&sig) {
                stop = true;
            } else {
                // Closing the terminal or ssh session that started natterd sends
                // SIGHUP; a stray kill sends USR1. Neither may take the chat down.
                log::info!(
                    "{} received and ignored: natterd keeps running (SIGTERM or SIGINT stops it)",
                    signal_name(sig)
                );
            }
        }
        if !stop || self.shutting_down.is_some() {
            return;
        }
        log::info!(
            "signal received: telling {} clients and shutting down",
            self.conns.slab.len()
        );
        self.begin_shutdown("natterd is shutting down");
    }

    fn begin_shutdown(&mut self, text: &str) {
        self.shutting_down = Some(Instant::now() + Duration::from_millis(CLOSE_DEADLINE_MS));
        let _ = self.poll.registry().deregister(&mut self.listener);
        // Nobody is told that anybody left: everybody is told the server is going.
        // Other nodes hear that this one's users are gone.
        self.room.bus_stop(&mut self.conns);
        self.room.shutdown();
        let frame = ServerFrame::Shutdown { text: text.into() };
        let open: Vec<usize> = self
            .conns
            .slab
            .iter()
            .filter(|(_, c)| c.is_open())
            .map(|(k, _)| k)
            .collect();
        for t in open {
            self.conns.send(ConnRef(t), &frame);
            self.conns.close(t);
        }
    }

    /// After the loop failed: a last word to every client, written directly since the
    /// loop can no longer be trusted, then every socket closed. The word goes only
    /// where it can start a frame: after the rest of a half-written one, or not at all.
    pub fn emergency_shutdown(&mut self, why: &str) {
        let frame = ServerFrame::Shutdown {
            text: format!("natterd stopped: {why}"),
        }
        .to_bytes();
        for (_, c) in self.conns.slab.iter_mut() {
            match c.tls.as_deref_mut() {
                Some(tls) => {
                    if c.out.finish_front(&mut tls.writer()) {
                        let _ = io::Write::write(&mut tls.writer(), &frame);
                    }
                    let _ = super::tls::write_records(tls, &mut c.stream);
                }
                None => {
                    if c.out.finish_front(&mut c.stream) {
                        let _ = io::Write::write(&mut c.stream, &frame);
                    }
                }
            }
            let _ = c.stream.shutdown(Shutdown::Both);
        }
        self.conns.slab.clear();
    }
}
