//! `Conns`: every connection's socket side in one slab keyed by its mio token, the
//! loop's per-turn work lists, and the loop's side of the [`Outbox`] seam.
//!
//! Queuing here never writes to a socket and never drops a connection: a frame is
//! encoded into the queue and the connection marked dirty (flushed once at the end of
//! the turn); a queue that passes its cap is marked over the cap and the loop settles
//! it after the handler has returned. A broadcast is encoded once into a shared block
//! and every member's queue holds a range of the same bytes.

use super::conn::{Conn, Phase};
use super::out_queue::{Arena, Block};
use crate::chat::{ConnRef, Outbox, Traffic};
use crate::cluster::NodeName;
use crate::config::CLOSE_DEADLINE_MS;
use crate::folder::FileSend;
use natter_protocol::{ServerFrame, UserName};
use slab::Slab;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub struct Conns {
    pub slab: Slab<Conn>,
    /// Connections with queued output, flushed once at the end of the turn.
    pub dirty: Vec<usize>,
    /// Connections whose queue passed the cap since the last settling.
    pub over_cap: Vec<usize>,
    /// Connections taking their last bytes before they are cut.
    pub draining: Vec<usize>,
    /// Connections to remove at the end of the turn.
    pub dead: Vec<usize>,
    /// The per-connection output cap.
    pub max_queue: usize,
    /// Messages queued since the pacer last asked.
    pub queued: u64,
    /// What the room asked of the cluster's bus this turn (a lone server: never).
    pub bus_ops: Vec<BusOp>,
    /// Where broadcast frames are written once for every member: plain ones, and
    /// stamped ones (apart, so each member's consecutive frames stay adjacent).
    arenas: [Arena; 2],
}

/// The room's requests of the bus, handed to the link after the handlers.
pub enum BusOp {
    Publish(Option<NodeName>, Vec<u8>),
    Claim(ConnRef, u64, UserName),
    Release(UserName),
}

impl Conns {
    pub fn new(max_queue: usize) -> Conns {
        Conns {
            slab: Slab::new(),
            arenas: Default::default(),
            dirty: Vec::new(),
            over_cap: Vec::new(),
            draining: Vec::new(),
            dead: Vec::new(),
            max_queue,
            queued: 0,
            bus_ops: Vec::new(),
        }
    }

    pub fn mark_dirty(&mut self, t: usize) {
        if let Some(c) = self.slab.get_mut(t) {
            mark(c, t, &mut self.dirty);
        }
    }

    /// Starts a graceful end: no more requests; queued output still goes out within
    /// the close deadline. Returns whether it was open (so its departure is news).
    pub fn close(&mut self, t: usize) -> bool {
        let Some(c) = self.slab.get_mut(t) else {
            return false;
        };
        if !c.is_open() {
            return false;
        }
        c.phase = Phase::Draining {
            deadline: Instant::now() + Duration::from_millis(CLOSE_DEADLINE_MS),
            write_shut: false,
        };
        c.read_buf = Vec::new();
        c.transfers = None;
        c.pulling = false;
        self.draining.push(t);
        mark(c, t, &mut self.dirty);
        true
    }

    /// Ends a connection now, dropping whatever it still had queued. Returns whether
    /// it was open (so its departure is news).
    pub fn kill(&mut self, t: usize) -> bool {
        let Some(c) = self.slab.get_mut(t) else {
            return false;
        };
        if c.phase == Phase::Dead {
            return false;
        }
        let was_open = c.is_open();
        c.phase = Phase::Dead;
        c.out.clear();
        c.transfers = None;
        c.pulling = false;
        c.read_buf = Vec::new();
        self.dead.push(t);
        was_open
    }

    /// The open connection `t`, if it still is one.
    fn open(&mut self, t: usize) -> Option<&mut Conn> {
        self.slab.get_mut(t).filter(|c| c.phase != Phase::Dead)
    }
}

fn mark(c: &mut Conn, t: usize, dirty: &mut Vec<usize>) {
    if !c.dirty {
        c.dirty = true;
        dirty.push(t);
    }
}

fn mark_over(c: &mut Conn, t: usize, over: &mut Vec<usize>) {
    if !c.over_cap {
        c.over_cap = true;
        over.push(t);
    }
}

impl Outbox for Conns {
    fn send(&mut self, to: ConnRef, frame: &ServerFrame) {
        let cap = self.max_queue;
        let Some(c) = self.slab.get_mut(to.0).filter(|c| c.phase != Phase::Dead) else {
            return;
        };
        c.out.push_with(|v| frame.encode(v));
        self.queued += 1;
        if c.out.memory_len() > cap {
            mark_over(c, to.0, &mut self.over_cap);
        }
        mark(c, to.0, &mut self.dirty);
    }

    fn pull_later(&mut self, conn: ConnRef) {
        if let Some(c) = self.open(conn.0) {
            c.pulling = true;
            self.mark_dirty(conn.0);
        }
    }

    fn broadcast(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        frame: &ServerFrame,
    ) -> u64 {
        // One frame for all: encoded once, whoever asked for stamps.
        self.broadcast_stamped(members, except, frame, frame)
    }

    fn broadcast_stamped(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        plain: &ServerFrame,
        stamped: &ServerFrame,
    ) -> u64 {
        let mut placed: [Option<(Rc<Block>, u32, u32)>; 2] = [None, None];
        let arenas = &mut self.arenas;
        let cap = self.max_queue;
        let mut delivered = 0;
        for &m in members {
            if Some(m) == except {
                continue;
            }
            let Some(c) = self.slab.get_mut(m.0) else {
                continue;
            };
            if !c.is_open() {
                continue;
            }
            // The same frame for both (a plain broadcast): one encoding for all.
            let which = usize::from(c.stamps && !std::ptr::eq(plain, stamped));
            let (block, start, end) = placed[which].get_or_insert_with(|| {
                arenas[which].put(&if which == 1 { stamped } else { plain }.to_bytes())
            });
            c.out.push_range(block, *start, *end);
            delivered += 1;
            if c.out.memory_len() > cap {
                mark_over(c, m.0, &mut self.over_cap);
            }
            mark(c, m.0, &mut self.dirty);
        }
        self.queued += delivered;
        delivered
    }

    fn stamps(&mut self, conn: ConnRef) {
        if let Some(c) = self.open(conn.0) {
            c.stamps = true;
        }
    }

    fn close(&mut self, conn: ConnRef) {
        Conns::close(self, conn.0);
    }

    fn start_download(&mut self, conn: ConnRef, send: FileSend) {
        if let Some(c) = self.open(conn.0) {
            c.tx().downloads.push(send);
            self.mark_dirty(conn.0);
        }
    }

    fn stop_download(&mut self, conn: ConnRef, xfer: u64) -> Option<FileSend> {
        let c = self.open(conn.0)?;
        if let Some(i) = c.downloads().iter().position(|d| d.xfer == xfer) {
            return Some(c.tx().downloads.remove(i));
        }
        // Wholly queued already: what is queued still goes out, and the client drops
        // the bodies of a transfer it aborted.
        let i = c.sending().iter().position(|d| d.xfer == xfer)?;
        Some(c.tx().sending.remove(i))
    }

    fn traffic(&self, conn: ConnRef) -> Traffic {
        self.slab
            .get(conn.0)
            .map_or_else(Traffic::default, Conn::traffic)
    }

    fn publish(&mut self, to: Option<&NodeName>, payload: Vec<u8>) {
        self.bus_ops.push(BusOp::Publish(to.cloned(), payload));
    }

    fn claim(&mut self, conn: ConnRef, conn_id: u64, folded: &UserName) {
        if let Some(c) = self.open(conn.0) {
            c.held = true;
        }
        self.bus_ops
            .push(BusOp::Claim(conn, conn_id, folded.clone()));
    }

    fn release(&mut self, folded: &UserName) {
        self.bus_ops.push(BusOp::Release(folded.clone()));
    }
}
