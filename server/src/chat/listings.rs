//! Listings (WHO, STATUS, FILES) are streamed, not built: a listing is a cursor into
//! the room's own ordered tables, and the loop pulls the next items only while the
//! connection's queue has room, the way a download is pulled. So a listing costs a
//! cursor, not its size, however big the folder or the crowd, and a client that asks
//! and never reads holds one small batch, not megabytes.
//!
//! Until a listing's final reply is queued the loop hands the room no further
//! request from that connection, which keeps replies in request order. What a
//! listing shows is what the tables hold as it is sent: a file added meanwhile
//! after the cursor is listed, one before it is not, like `ls` on a changing folder;
//! the final reply counts what was sent.

use super::{ConnRef, Outbox, Room};
use crate::cluster::NodeName;
use natter_protocol::{FileName, Reply, ServerFrame, SessionInfo, UserName};
use std::ops::Bound;

/// Items queued per pull: enough that a small listing goes out in one, few enough
/// that one pull queues tens of KiB at most (a FILE line is under 1 KiB).
const PULL_ITEMS: usize = 64;

/// A listing being sent: what it is, where it has got to, how many items so far.
#[derive(Debug)]
pub(super) enum Listing {
    Who {
        after: Option<UserName>,
        sent: u64,
    },
    Status {
        /// The connection id of the last live session sent.
        live_after: Option<u64>,
        /// The order of the last ended session sent (they go most recent first).
        ended_before: Option<u64>,
        live_done: bool,
        /// On a cluster: the last session of another node sent (node, folded name).
        remote_after: Option<(NodeName, UserName)>,
        remote_done: bool,
        ended_sent: usize,
    },
    Files {
        after: Option<FileName>,
        sent: u64,
    },
}

impl Room {
    /// Starts a listing for `from`: its first items go now, the rest as the loop
    /// pulls them.
    pub(super) fn start_listing(&mut self, out: &mut impl Outbox, from: ConnRef, listing: Listing) {
        let Some(c) = self.client_mut(from) else {
            return;
        };
        c.listing = Some(Box::new(listing));
        if self.pull(out, from) {
            out.pull_later(from);
        }
    }

    /// Queues the next items of `conn`'s listing, and its final reply once there are
    /// no more. Returns whether more is left to pull.
    pub fn pull(&mut self, out: &mut impl Outbox, conn: ConnRef) -> bool {
        let Some(mut listing) = self.client_mut(conn).and_then(|c| c.listing.take()) else {
            return false;
        };
        let more = match &mut *listing {
            Listing::Who { after, sent } => self.pull_who(out, conn, after, sent),
            Listing::Files { after, sent } => self.pull_files(out, conn, after, sent),
            Listing::Status {
                live_after,
                ended_before,
                live_done,
                remote_after,
                remote_done,
                ended_sent,
            } => {
                if !*live_done {
                    *live_done = !self.pull_live(out, conn, live_after);
                    true
                } else if !*remote_done {
                    *remote_done = !self.pull_remote(out, conn, remote_after);
                    true
                } else {
                    self.pull_ended(out, conn, ended_before, ended_sent)
                }
            }
        };
        if more {
            if let Some(c) = self.client_mut(conn) {
                c.listing = Some(listing);
            }
        }
        more
    }

    fn pull_who(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        after: &mut Option<UserName>,
        sent: &mut u64,
    ) -> bool {
        // This node's members and, on a cluster, every other node's users as known,
        // merged in name order; a batch's worth of each is enough to fill a batch.
        let mut batch: Vec<(UserName, ServerFrame)> = Vec::new();
        for (key, holder) in self.names.after(after.as_ref()).take(PULL_ITEMS + 1) {
            if let Some(c) = self.client(*holder).filter(|c| c.is_member()) {
                if let Some(name) = c.name.clone() {
                    let user = ServerFrame::User {
                        name,
                        addr: c.addr,
                        since: c.named_at,
                        away: c.away.as_deref().map(String::from),
                    };
                    batch.push((key.clone(), user));
                }
            }
        }
        if let Some(cl) = &self.cluster {
            let from = after.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            for node in cl.nodes.values() {
                for (key, u) in node
                    .users
                    .range((from.cloned(), Bound::Unbounded))
                    .take(PULL_ITEMS + 1)
                {
                    let user = ServerFrame::User {
                        name: u.name.clone(),
                        addr: u.addr,
                        since: u.since,
                        away: u.away.clone(),
                    };
                    batch.push((key.clone(), user));
                }
            }
            batch.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let more = batch.len() > PULL_ITEMS;
        batch.truncate(PULL_ITEMS);
        if more {
            // Sent up to the last name of the batch: the next starts after it.
            *after = batch.last().map(|(k, _)| k.clone());
        }
        for (_, user) in &batch {
            out.send(conn, user);
            *sent += 1;
        }
        if more {
            return true;
        }
        let note = self.cluster_note();
        out.send(conn, &ServerFrame::Ok(Reply::Who { count: *sent, note }));
        false
    }

    /// What WHO and STATUS say of the cluster; nothing on a lone server.
    fn cluster_note(&self) -> String {
        self.cluster
            .as_ref()
            .map_or_else(String::new, |cl| cl.note())
    }

    /// On a cluster, the live sessions of other nodes (their users, as known), by
    /// node and name. Returns whether more are left.
    fn pull_remote(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        after: &mut Option<(NodeName, UserName)>,
    ) -> bool {
        let Some(cl) = &self.cluster else {
            return false;
        };
        let mut n = 0;
        for (node_name, node) in &cl.nodes {
            let from = match after.as_ref() {
                Some((an, _)) if an > node_name => continue,
                Some((an, key)) if an == node_name => Bound::Excluded(key.clone()),
                _ => Bound::Unbounded,
            };
            for (key, u) in node.users.range((from, Bound::Unbounded)) {
                if n == PULL_ITEMS {
                    return true;
                }
                let session = SessionInfo {
                    conn_id: u.conn_id,
                    name: Some(u.name.clone()),
                    addr: u.addr,
                    connected: u.connected,
                    ended: None,
                    // Counted by the node that carries them, not known here.
                    bytes_in: 0,
                    bytes_out: 0,
                    reason: None,
                    node: Some(node_name.to_string()),
                };
                out.send(conn, &ServerFrame::Session(session));
                n += 1;
                *after = Some((node_name.clone(), key.clone()));
            }
        }
        false
    }

    fn pull_files(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        after: &mut Option<FileName>,
        sent: &mut u64,
    ) -> bool {
        let mut last = None;
        for (n, (name, entry)) in self.folder.files_after(after.as_ref()).enumerate() {
            if n == PULL_ITEMS {
                *after = last;
                return true;
            }
            let file = ServerFrame::File {
                file: name.clone(),
                size: entry.size,
                mtime: entry.mtime,
                sha256: entry.sha256,
            };
            out.send(conn, &file);
            *sent += 1;
            last = Some(name.clone());
        }
        let usage = self.folder_is_limited().then(|| self.folder_usage());
        let files = Reply::Files {
            count: *sent,
            usage,
        };
        out.send(conn, &ServerFrame::Ok(files));
        false
    }

    /// Live sessions by connection id. Returns whether more are left.
    fn pull_live(&mut self, out: &mut impl Outbox, conn: ConnRef, after: &mut Option<u64>) -> bool {
        for (n, &(id, live)) in self.live.after(after.as_ref()).enumerate() {
            if n == PULL_ITEMS {
                return true;
            }
            if let Some(c) = self.client(live) {
                let node = super::cluster::node_of(self);
                out.send(
                    conn,
                    &ServerFrame::Session(c.session(out.traffic(live), node)),
                );
            }
            *after = Some(id);
        }
        false
    }

    /// Ended sessions, most recent first, as many as the history keeps; then the
    /// final reply. Returns whether more are left.
    fn pull_ended(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        before: &mut Option<u64>,
        sent: &mut usize,
    ) -> bool {
        let cap = self.history.cap();
        let limit = before.unwrap_or(u64::MAX);
        // Those still closing (ended, not yet let go by the loop) and those kept.
        let mut closing = self.closing.range(..limit).rev().peekable();
        let mut kept = self.history.before(limit).peekable();
        let mut n = 0;
        while *sent < cap {
            if n == PULL_ITEMS {
                return true;
            }
            let take_closing = match (closing.peek(), kept.peek()) {
                (Some((&a, _)), Some((b, _))) => a > *b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (seq, session): (u64, SessionInfo) = if take_closing {
                let Some((&seq, &c)) = closing.next() else {
                    break;
                };
                match self.client(c) {
                    Some(client) => (
                        seq,
                        client.session(out.traffic(c), super::cluster::node_of(self)),
                    ),
                    None => continue,
                }
            } else {
                let Some((seq, s)) = kept.next() else {
                    break;
                };
                (*seq, s.clone())
            };
            out.send(conn, &ServerFrame::Session(session));
            *sent += 1;
            n += 1;
            *before = Some(seq);
        }
        let status = Reply::Status {
            active: self.live.len() as u64,
            max_clients: self.settings.max_clients as u64,
            uptime_s: self.started.elapsed().as_secs(),
            usage: Some(self.folder_usage()),
            note: self.cluster_note(),
        };
        out.send(conn, &ServerFrame::Ok(status));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::recorder::{wire, Event, Fixture};
    use super::PULL_ITEMS;
    use natter_protocol::{LeaveReason, Request};

    #[test]
    fn a_long_listing_goes_out_a_batch_per_pull_and_ends_with_its_count() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        for i in 0..200 {
            fx.file(&format!("f{i:03}"), b"x");
        }
        // Started by hand, pulled by hand: as the loop does when the queue has room.
        fx.room.handle(&mut fx.out, a, Request::Files);
        let first = fx.out.take();
        assert_eq!(first.len(), PULL_ITEMS + 1, "one batch, then a pull later");
        assert_eq!(first.last(), Some(&Event::PullLater(a)));
        // Meanwhile a file appears after the cursor: it is listed.
        fx.file("zzz", b"late");
        let mut lines = Vec::new();
        let mut pulls = 0;
        while fx.room.pull(&mut fx.out, a) {
            pulls += 1;
        }
        for e in fx.out.take() {
            if let Event::Frame(_, f) = e {
                lines.push(wire(&f));
            }
        }
        assert_eq!(pulls, 2, "201 items: three batches in all");
        assert_eq!(lines.last().map(String::as_str), Some("OK FILES 201"));
        assert!(lines[lines.len() - 2].starts_with("FILE zzz 4 "));
        assert!(lines[0].starts_with(&format!("FILE f{:03} ", PULL_ITEMS)));
        assert!(!fx.room.pull(&mut fx.out, a), "nothing after the end");
    }

    #[test]
    fn who_streams_members_in_name_order_across_batches() {
        let mut fx = Fixture::new();
        for n in 0..150 {
            fx.join(n, &format!("u{:03}", 149 - n));
        }
        let a = super::super::ConnRef(0);
        fx.send(a, "WHO");
        let lines = fx.lines(a);
        assert_eq!(lines.len(), 151);
        for (i, l) in lines[..150].iter().enumerate() {
            assert!(l.starts_with(&format!("USER u{i:03} ")), "{i}: {l}");
        }
        assert_eq!(lines[150], "OK WHO 150");
    }

    #[test]
    fn status_streams_live_then_ended_up_to_the_history_kept() {
        let mut fx = Fixture::with(|s| s.session_history = 70);
        for n in 0..100 {
            fx.join(n, &format!("u{n}"));
        }
        for n in 1..100 {
            let c = super::super::ConnRef(n);
            fx.room.depart(&mut fx.out, c, LeaveReason::Quit, "");
            if n % 2 == 0 {
                fx.room.disconnected(c, Default::default());
            }
        }
        let a = super::super::ConnRef(0);
        fx.out.take();
        fx.send(a, "STATUS");
        let lines = fx.lines(a);
        assert_eq!(lines.len(), 1 + 70 + 1, "one live, 70 ended kept");
        assert!(lines[0].starts_with("SESSION 100 u0 "));
        // Most recent first, whether closing still or already let go.
        for (i, l) in lines[1..71].iter().enumerate() {
            let id = 199 - i;
            assert!(
                l.starts_with(&format!("SESSION {id} u{} ", id - 100)),
                "{l}"
            );
        }
        assert!(lines[71].starts_with("OK STATUS 1 "));
    }

    #[test]
    fn a_departure_ends_its_listing() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        for i in 0..100 {
            fx.file(&format!("f{i}"), b"x");
        }
        fx.room.handle(&mut fx.out, a, Request::Files);
        fx.room.depart(&mut fx.out, a, LeaveReason::Lost, "");
        fx.out.take();
        assert!(!fx.room.pull(&mut fx.out, a));
        assert!(fx.out.take().is_empty());
    }
}
