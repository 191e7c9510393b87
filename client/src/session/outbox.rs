//! The sending side of a session, shared by everyone who sends (the main thread, the
//! reader thread for an `ABORT`, the writer thread for an upload's `ABORT`, the
//! keepalive): the requests still waiting for their final reply, in wire order, and
//! the channel to the writer thread, kept in step under one lock.
//!
//! It knows nothing of what replies mean or how bytes reach the socket: the reader
//! takes pending entries off the front as replies come, and the writer drains the
//! channel. It imports neither of them, so both can depend on it.

use crate::net::transport::Closer;
use crate::session::transfers::{Plan, Upload};
use natter_protocol::Request;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A request on the wire whose final reply has not come yet.
pub struct Pending {
    /// Numbers requests in sending order, so a waiter finds its own reply.
    pub id: u64,
    pub req: Request,
    /// Sent by the client itself (the `WHO` after logging in): the reply updates
    /// state but shows no line.
    pub quiet: bool,
    pub sent_at: Instant,
    /// What the reply sets going (a download's `.part`, an upload's file).
    pub plan: Option<Plan>,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pending({} {:?})", self.id, self.req)
    }
}

/// What the writer thread is asked to do.
pub enum Msg {
    /// An encoded request; an empty one only flushes (TLS records rustls queued).
    Frame(Vec<u8>),
    /// Stream this upload's bytes.
    Upload(Box<Upload>),
    /// Stop sending upload `xfer` (the server failed it).
    Cancel(u64),
}

pub struct Outbox {
    pending: Mutex<VecDeque<Pending>>,
    tx: Sender<Msg>,
    closer: Closer,
    next_id: AtomicU64,
    last_sent: Mutex<Instant>,
}

/// A poisoned lock only means another thread panicked while holding it; the queue is
/// still usable, and the client should keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Outbox {
    /// `tx` reaches the writer thread; `closer` ends the connection if it is gone.
    pub fn new(tx: Sender<Msg>, closer: Closer) -> Outbox {
        Outbox {
            pending: Mutex::new(VecDeque::new()),
            tx,
            closer,
            next_id: AtomicU64::new(1),
            last_sent: Mutex::new(Instant::now()),
        }
    }

    /// Queues `req` as pending and hands it to the writer thread; returns its id for
    /// `session::wait_reply`. Both happen under the pending lock, so entries stay in
    /// wire order and a reply never arrives before its entry.
    pub fn send(&self, req: Request, quiet: bool, plan: Option<Plan>) -> u64 {
        let bytes = req.to_bytes();
        let mut pending = lock(&self.pending);
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        pending.push_back(Pending {
            id,
            req,
            quiet,
            sent_at: Instant::now(),
            plan,
        });
        self.to_writer(Msg::Frame(bytes));
        drop(pending);
        *lock(&self.last_sent) = Instant::now();
        id
    }

    /// Hands the writer something other than a request. If the writer is gone the
    /// connection is closed, so the reader ends the session and waiters hear of it.
    pub fn to_writer(&self, m: Msg) {
        if self.tx.send(m).is_err() {
            self.closer.close();
        }
    }

    pub fn close(&self) {
        self.closer.close();
    }

    /// The oldest request still waiting, which the next final reply answers.
    pub fn take_pending(&self) -> Option<Pending> {
        lock(&self.pending).pop_front()
    }

    /// How long since the last request was sent.
    pub fn idle(&self) -> Duration {
        lock(&self.last_sent).elapsed()
    }
}
