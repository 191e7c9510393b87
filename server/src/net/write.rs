//! Writing: queues past their cap settled after each handler, every dirty connection
//! flushed once per turn with one vectored write, WRITABLE asked for only while output
//! waits, and the download pump, which reads a file's next chunk only while the
//! connection's queue is below its low-water mark, so the socket's pace pulls the
//! file through and a transfer holds about one chunk of memory.

use super::conn::Phase;
use super::conns::Conns;
use super::pace::FLUSH_SLICE;
use super::Server;
use crate::chat::ConnRef;
use crate::folder::FileSend;
use mio::{Interest, Token};
use natter_protocol::LeaveReason;
use std::time::Instant;

/// A download reads its next chunk only while the connection's queue is below this.
const LOW_WATER: usize = 64 * 1024;
/// A queue this long goes out at once however busy the server is: gathering more
/// would not save a write.
const URGENT_BYTES: usize = 16 * 1024;
/// Bytes one connection's downloads may queue per loop turn before others get a go.
const PUMP_BUDGET: usize = 1024 * 1024;

impl Server {
    /// Asks the room for more of the connection's listing while its queue has room;
    /// once the listing is over, the connection's next requests are read again.
    fn pull_listing(&mut self, t: usize, budget: &mut usize) -> usize {
        let mut queued = 0;
        loop {
            let Some(c) = self.conns.slab.get(t) else {
                return queued;
            };
            // Half the cap when the cap is small: a batch of items (FILE lines with
            // their SHA-256s are 300 bytes) on top must not take the queue past it.
            let low_water = LOW_WATER.min(self.conns.max_queue / 2);
            if !c.pulling || c.out.len() >= low_water || *budget == 0 {
                return queued;
            }
            let before = c.out.len();
            let more = self.room.pull(&mut self.conns, ConnRef(t));
            let Some(c) = self.conns.slab.get_mut(t) else {
                return queued;
            };
            let added = c.out.len().saturating_sub(before);
            *budget = budget.saturating_sub(added.max(1));
            queued += added;
            if !more {
                c.pulling = false;
                // What it sent meanwhile waits in its read buffer or its socket.
                self.pause(t, Instant::now());
                return queued;
            }
        }
    }

    /// Queues that passed their cap get one chance to drain into the socket; whoever
    /// is still over after that is not keeping up and is dropped as too slow. Run
    /// after each handler, never inside one; a departure's LEAVE can take others over
    /// in turn, and they are settled in the same call.
    pub(super) fn settle_caps(&mut self) {
        let cap = self.conns.max_queue;
        while let Some(t) = self.conns.over_cap.pop() {
            let Some(c) = self.conns.slab.get_mut(t) else {
                continue;
            };
            c.over_cap = false;
            if c.phase == Phase::Dead || c.out.memory_len() <= cap {
                continue;
            }
            let written = c.write_pending();
            let over = c.out.memory_len() > cap;
            match written {
                Err(e) => self.write_failed(t, e),
                Ok(()) => {
                    self.report_sent(t);
                    if over {
                        let why = format!("output queue passed {cap} bytes");
                        self.kill(t, LeaveReason::TooSlow, &why);
                    }
                }
            }
        }
    }

    /// A write that failed ends the connection: the peer has gone.
    fn write_failed(&mut self, t: usize, e: std::io::Error) {
        log::debug!("write to {}: {e}", self.room.label(ConnRef(t)));
        self.kill(t, LeaveReason::Lost, "");
    }

    /// Tells the room of the downloads whose last range the kernel has sent, or
    /// whose file got shorter than the range being sent (the frame was finished
    /// with zeros; the room sends `FAILED`).
    fn report_sent(&mut self, t: usize) {
        let Some(c) = self.conns.slab.get_mut(t) else {
            return;
        };
        let mut ended = Vec::new();
        for (xfer, result) in c.out.take_ended() {
            let found = if let Some(i) = c.sending().iter().position(|d| d.xfer == xfer) {
                Some(c.tx().sending.remove(i))
            } else {
                // Mid-file: no more of it is pumped.
                c.downloads()
                    .iter()
                    .position(|d| d.xfer == xfer)
                    .map(|i| c.tx().downloads.remove(i))
            };
            if let Some(d) = found {
                ended.push((d, result));
            }
        }
        for (d, result) in ended {
            self.room
                .download_ended(&mut self.conns, ConnRef(t), d, result);
        }
    }

    pub(super) fn flush_dirty(&mut self) {
        self.settle_caps();
        let now = Instant::now();
        self.pacer.queued(std::mem::take(&mut self.conns.queued));
        self.pacer.tick(now);
        let closing = self.shutting_down.is_some();
        let mut slice = if closing { usize::MAX } else { FLUSH_SLICE };
        let mut held = Vec::new();
        // Flushing can end a connection, whose LEAVE makes others dirty: go until quiet.
        loop {
            // The flush under way goes on first: its connections have waited longest.
            while let Some((t, id)) = self.pacer.next_in_flush(&mut slice) {
                if self
                    .conns
                    .slab
                    .get(t)
                    .is_some_and(|c| c.dirty && c.id == id)
                {
                    self.flush(t);
                }
            }
            self.settle_caps();
            if self.conns.dirty.is_empty() {
                break;
            }
            let dirty = std::mem::take(&mut self.conns.dirty);
            let conns = &self.conns;
            let entry = |t: usize| (t, conns.slab.get(t).map_or(0, |c| c.id));
            let at_once =
                self.pacer
                    .sort(now, closing, dirty, entry, |t| urgent(conns, t), &mut held);
            for t in at_once {
                self.flush(t);
            }
            self.settle_caps();
        }
        if held.is_empty() {
            self.pacer.flushed();
        } else {
            // Still dirty, so nothing marks them twice; they go when the window ends.
            // The window starts now, after this turn's writes: from the turn's start,
            // a flush's last slice would eat into the next window, and every member
            // would be written more often than once a window plus a flush.
            self.conns.dirty = held;
            self.pacer.hold(Instant::now());
        }
    }

    fn flush(&mut self, t: usize) {
        let Some(c) = self.conns.slab.get_mut(t) else {
            return;
        };
        c.dirty = false;
        if c.phase == Phase::Dead {
            return;
        }
        let mut budget = PUMP_BUDGET;
        loop {
            let queued = self.pump(t, &mut budget);
            let Some(c) = self.conns.slab.get_mut(t) else {
                return;
            };
            if let Err(e) = c.write_pending() {
                return self.write_failed(t, e);
            }
            // Only a turn that queued frames says how the socket takes them: one that
            // only drained what an earlier, blocked frame left must not grow the next.
            if queued > 0 {
                let blocked = !c.out.is_empty();
                for d in c.transfers.iter_mut().flat_map(|t| t.downloads.iter_mut()) {
                    d.paced(blocked);
                }
            }
            self.report_sent(t);
            let Some(c) = self.conns.slab.get_mut(t) else {
                return;
            };
            if !c.out.is_empty() || (c.downloads().is_empty() && !c.pulling) {
                break;
            }
            if budget == 0 || queued == 0 {
                // Out of budget with the socket still taking bytes: go on next turn.
                self.pumping.push(t);
                break;
            }
        }
        let Some(c) = self.conns.slab.get_mut(t) else {
            return;
        };
        if c.peer_closed && c.is_open() && !c.transferring() && !c.has_output() {
            // Half-closed, and what it asked for is out: done. (Not once it is only
            // queued: a closing connection gets seconds to drain, a download's or a
            // listing's tail may need longer at the reader's pace.)
            return self.close(t, LeaveReason::Lost, "");
        }
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
                return self.kill(t, LeaveReason::Lost, "");
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

    /// Queues the rest of a listing, then download chunks, while the queue is below
    /// the low-water mark; returns how many bytes it queued. The room hears of each
    /// download that ends.
    fn pump(&mut self, t: usize, budget: &mut usize) -> usize {
        let mut queued = self.pull_listing(t, budget);
        let mut ended: Vec<(FileSend, std::io::Result<()>)> = Vec::new();
        {
            let Some(c) = self.conns.slab.get_mut(t) else {
                return 0;
            };
            while *budget > 0 && c.out.len() < LOW_WATER && !c.downloads().is_empty() {
                // Round robin: one chunk from the front transfer, then it goes to the back.
                let mut d = c.tx().downloads.remove(0);
                let mut err = None;
                let n = if c.tls.is_none() {
                    // Plain TCP: the header here, the body straight from the file.
                    let (at, len) = d.next_range();
                    let header = c.out.push_with(|v| {
                        natter_protocol::encode_data_header(d.xfer, len, v);
                    });
                    if len > 0 {
                        let last = d.is_done();
                        c.out
                            .push_file(std::rc::Rc::clone(&d.file), at, len, d.xfer, last);
                        if last {
                            // Ended when its last byte is out (or its file ends early).
                            c.tx().sending.push(d);
                            *budget = budget.saturating_sub(header + len);
                            queued += header + len;
                            continue;
                        }
                    }
                    header + len
                } else {
                    c.out.push_with(|v| {
                        if let Err(e) = d.next_frame(v) {
                            err = Some(e);
                        }
                    })
                };
                *budget = budget.saturating_sub(n);
                queued += n;
                if let Some(e) = err {
                    ended.push((d, Err(e)));
                } else if d.is_done() {
                    ended.push((d, Ok(())));
                } else {
                    c.tx().downloads.push(d);
                }
            }
        }
        for (d, result) in ended {
            self.room
                .download_ended(&mut self.conns, ConnRef(t), d, result);
        }
        queued
    }
}

/// Output that goes out now even while the server is busy: a queue big enough to
/// fill a write on its own, one already behind (waiting for WRITABLE), transfers
/// and listings (pulled by the socket's pace), a closing connection's last words,
/// a TLS handshake.
fn urgent(conns: &Conns, t: usize) -> bool {
    let Some(c) = conns.slab.get(t) else {
        return true;
    };
    c.out.len() >= URGENT_BYTES
        || c.wants_write
        || !c.downloads().is_empty()
        || !c.sending().is_empty()
        || c.pulling
        || !c.is_open()
        || c.tls.as_ref().is_some_and(|s| s.is_handshaking())
}
