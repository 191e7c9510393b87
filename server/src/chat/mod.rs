//! The Room: everything natterd knows about the chat and its people, and what every
//! request means.
//!
//! Pure of I/O towards clients: a handler takes the room, an [`Outbox`] and one
//! request, changes state and queues output, and returns nothing else. It never sees
//! a socket, a poll or a descriptor, so every rule here is tested against a recording
//! outbox in milliseconds. Its only I/O is the shared folder's files (through
//! [`SharedFolder`]) and the log.
//!
//! - this file: the room's state, and what the loop tells it (a connection came, went,
//!   finished a download; the server is stopping) and asks it (is this one named?).
//! - [`talk`]: AUTH HELLO SAY TELL WHO STATUS ECHO CALC GUESS PING QUIT.
//! - [`share`]: FILES GET PUT DATA ABORT DELETE RENAME, and the end of a download.
//! - [`outbox`]: the seam to the loop. [`sessions`]: ended sessions for STATUS.

mod cluster;
mod history;
mod listings;
mod outbox;
mod sessions;
mod share;
mod talk;

#[cfg(test)]
mod recorder;

pub use cluster::{Claim, Identity};
pub use outbox::{ConnRef, Outbox, Traffic};
pub use share::MAX_TRANSFERS;

use crate::config::Config;
use crate::folder::{OnDuplicate, SharedFolder, Upload};
use crate::limits::GuessBrake;
use crate::services::Game;
use listings::Listing;
use natter_protocol::{
    ErrorCode, LeaveReason, Reply, Request, Secret, ServerFrame, SessionInfo, Time, UserName,
};
use sessions::SessionHistory;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

/// The settings the room runs with: the chat's and the shared folder's part of
/// [`Config`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// The welcome text's first part; the room adds how many users are online.
    pub motd: String,
    /// When set, `AUTH` with this secret must come before `HELLO`.
    pub secret: Option<Secret>,
    /// Shown by `STATUS`; the loop enforces it.
    pub max_clients: usize,
    /// Ended sessions kept for `STATUS`.
    pub session_history: usize,
    /// Room messages kept for newcomers.
    pub history: usize,
    pub read_only: bool,
    pub max_file_size: u64,
    /// `--max-folder-size`: the most bytes the shared folder's files may take.
    pub max_folder_size: Option<u64>,
    /// `--max-files`: the most files the shared folder may hold.
    pub max_files: Option<u64>,
    pub on_duplicate: OnDuplicate,
    /// Files (downloads and uploads) open at once, across all connections.
    pub max_open_files: usize,
    /// This node's place in a cluster; `None` for a lone server.
    pub cluster: Option<Identity>,
}

impl Settings {
    pub fn from_config(c: &Config) -> Settings {
        Settings {
            motd: c.motd.clone(),
            secret: c.secret.clone(),
            max_clients: c.max_clients,
            session_history: c.session_history,
            history: c.history,
            read_only: c.read_only,
            max_file_size: c.max_file_size,
            max_folder_size: c.max_folder_size,
            max_files: c.max_files,
            on_duplicate: c.on_duplicate,
            max_open_files: c.max_open_files,
            cluster: None,
        }
    }
}

/// One connection as the chat sees it, from its WELCOME until the loop has let it go.
struct Client {
    /// The `conn-id` of `WELCOME`: unique for the server's lifetime.
    id: u64,
    addr: SocketAddr,
    connected: Time,
    /// The name this session took; kept after it leaves, for `STATUS`.
    name: Option<UserName>,
    named_at: Time,
    /// Where it sits in the member list, while it is a member (named and not gone).
    slot: Option<usize>,
    /// When and why it ended (or began closing); `None` while live. Boxed: every
    /// live session would otherwise carry the 40 bytes.
    ended: Option<Box<Ended>>,
    /// A guessing game in progress (boxed for the same reason).
    game: Option<Box<Game>>,
    /// `AUTH` succeeded (or no secret is needed).
    authed: bool,
    auth_failures: u8,
    /// Its downloads and uploads; boxed, as most sessions never have one.
    transfers: Option<Box<Transfers>>,
    /// `HELLO ... history=N`: messages to replay once it is named (a claim may be out).
    wants_history: u32,
    /// `HELLO ... stamps`: it gets `SAID` and `TOLD`, with ids and the server's time.
    stamps: bool,
    /// `HELLO ... data=N`: the largest download `DATA` body it takes.
    data: u32,
    /// Away, and what others are told. Boxed on purpose: one thin pointer (8 bytes)
    /// in every session instead of a String's 24, since most sessions are never away.
    #[allow(clippy::box_collection)]
    away: Option<Box<String>>,
    /// A listing being streamed to it.
    /// (Boxed: most connections never have one, and each costs its `Client` slot.)
    listing: Option<Box<Listing>>,
}

#[derive(Default)]
struct Transfers {
    /// Transfer ids of the downloads the loop is sending for it.
    downloads: Vec<u64>,
    uploads: Vec<Upload>,
}

struct Ended {
    at: Time,
    /// Order among ended sessions (1 = the first to end).
    seq: u64,
    reason: LeaveReason,
}

impl Client {
    fn is_member(&self) -> bool {
        self.slot.is_some()
    }

    fn transfers(&self) -> usize {
        self.downloads().len() + self.uploads().len()
    }

    fn downloads(&self) -> &[u64] {
        self.transfers.as_ref().map_or(&[], |t| &t.downloads)
    }

    fn uploads(&self) -> &[Upload] {
        self.transfers.as_ref().map_or(&[], |t| &t.uploads)
    }

    fn tx(&mut self) -> &mut Transfers {
        self.transfers.get_or_insert_with(Box::default)
    }

    fn label(&self) -> String {
        match (&self.name, self.is_member()) {
            (Some(n), true) => format!("{n} (client {})", self.id),
            _ => format!("client {}", self.id),
        }
    }

    fn session(&self, traffic: Traffic, node: Option<String>) -> SessionInfo {
        SessionInfo {
            conn_id: self.id,
            name: self.name.clone(),
            addr: self.addr,
            connected: self.connected,
            ended: self.ended.as_ref().map(|e| e.at),
            bytes_in: traffic.bytes_in,
            bytes_out: traffic.bytes_out,
            reason: self.ended.as_ref().map(|e| e.reason.clone()),
            node,
        }
    }
}

/// Connections by a key (a name, an id), in key order: a sorted vector, not a tree.
/// One contiguous block, unlike a tree's small nodes, which were allocated among a
/// join storm's broadcast chunks and pinned heap pages that could not be given back
/// once the storm was over (about 0.4 KiB per idle connection). Ids only grow, so
/// their insert is a push; a name's insert moves the names after it, 20 us at 10,000
/// members.
struct Sorted<K>(Vec<(K, ConnRef)>);

impl<K> Default for Sorted<K> {
    fn default() -> Self {
        Sorted(Vec::new())
    }
}

impl<K: Ord + Clone> Sorted<K> {
    fn get(&self, key: &K) -> Option<&ConnRef> {
        let at = self.0.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        self.0.get(at).map(|(_, c)| c)
    }

    fn insert(&mut self, key: K, conn: ConnRef) {
        match self.0.last() {
            Some((last, _)) if *last >= key => {
                match self.0.binary_search_by(|(k, _)| k.cmp(&key)) {
                    Ok(at) => self.0[at].1 = conn,
                    Err(at) => self.0.insert(at, (key, conn)),
                }
            }
            _ => self.0.push((key, conn)),
        }
    }

    fn remove(&mut self, key: &K) {
        if let Ok(at) = self.0.binary_search_by(|(k, _)| k.cmp(key)) {
            self.0.remove(at);
        }
    }

    /// Those with a key after `after` (all of them for `None`), in key order.
    fn after(&self, after: Option<&K>) -> impl Iterator<Item = &(K, ConnRef)> + '_ {
        let from = after.map_or(0, |a| self.0.partition_point(|(k, _)| k <= a));
        self.0[from..].iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn shrink_to_fit(&mut self) {
        self.0.shrink_to_fit();
    }
}

pub struct Room {
    settings: Settings,
    /// Indexed by `ConnRef`: the loop's references are small and dense.
    clients: Vec<Option<Client>>,
    /// Case-folded name -> who holds it; in name order, which is WHO's order.
    names: Sorted<UserName>,
    /// Live sessions by connection id, which is STATUS's order.
    live: Sorted<u64>,
    /// Ended sessions still closing (not yet let go by the loop), by order of ending.
    closing: BTreeMap<u64, ConnRef>,
    /// The named, live connections: who a broadcast goes to, in one slice.
    members: Vec<ConnRef>,
    /// Members that asked for stamped messages: none, and no `SAID` is ever built.
    stamped_members: usize,
    history: SessionHistory,
    /// What was said in the room lately, for newcomers.
    said: history::History,
    /// Sessions ended so far; numbers them so STATUS can list the most recent first.
    ended_count: u64,
    folder: SharedFolder,
    /// Slows down guessing the secret, per address and overall.
    brake: GuessBrake,
    /// Transfers running, each holding a file open.
    open_files: usize,
    /// One upload may wait for the disk this loop turn (see `Upload::write`).
    disk_wait_free: bool,
    /// A file changed that the folder's watch did not report: hash again.
    rehash: bool,
    next_xfer: u64,
    started: Instant,
    /// The cluster as this node knows it; `None` for a lone server, whose room then
    /// runs no cluster code at all.
    cluster: Option<cluster::Cluster>,
}

impl Room {
    pub fn new(settings: Settings, folder: SharedFolder) -> Room {
        Room {
            cluster: settings.cluster.clone().map(cluster::Cluster::new),
            history: SessionHistory::new(settings.session_history),
            said: history::History::new(settings.history),
            settings,
            clients: Vec::new(),
            names: Sorted::default(),
            live: Sorted::default(),
            closing: BTreeMap::new(),
            members: Vec::new(),
            stamped_members: 0,
            ended_count: 0,
            folder,
            brake: GuessBrake::default(),
            open_files: 0,
            disk_wait_free: true,
            rehash: false,
            next_xfer: 1,
            started: Instant::now(),
        }
    }

    // ---- what the loop tells the room ------------------------------------------------

    /// A new connection: it gets its WELCOME.
    pub fn connect(&mut self, out: &mut impl Outbox, conn: ConnRef, id: u64, addr: SocketAddr) {
        let i = conn.0;
        if self.clients.len() <= i {
            self.clients.resize_with(i + 1, || None);
        }
        self.clients[i] = Some(Client {
            id,
            addr,
            connected: Time::now(),
            name: None,
            named_at: Time(0),
            slot: None,
            ended: None,
            game: None,
            authed: self.settings.secret.is_none(),
            auth_failures: 0,
            transfers: None,
            wants_history: 0,
            stamps: false,
            data: natter_protocol::MAX_DATA as u32,
            away: None,
            listing: None,
        });
        self.live.insert(id, conn);
        let online =
            self.names.len() as u64 + self.cluster.as_ref().map_or(0, |cl| cl.remote_count());
        let text = format!(
            "{} - {online} user{} online",
            self.settings.motd,
            if online == 1 { "" } else { "s" }
        );
        out.send(
            conn,
            &ServerFrame::Welcome {
                version: natter_protocol::VERSION.into(),
                conn_id: id,
                text,
            },
        );
    }

    /// What one request means. Queues the reply and any events for others.
    pub fn handle(&mut self, out: &mut impl Outbox, from: ConnRef, req: Request) {
        let Some(c) = self.client(from) else { return };
        if c.ended.is_some() {
            return;
        }
        let named = c.is_member();
        match req {
            Request::Ping { text } => reply(out, from, Reply::Ping { text }),
            Request::Quit { text } => self.quit(out, from, text),
            Request::Auth { secret } => self.auth(out, from, secret),
            Request::Hello {
                name,
                history,
                stamps,
                data,
            } => self.hello(out, from, name, history, stamps, data),
            Request::Data { xfer, data } => self.data(out, from, xfer, &data),
            _ if !named => error(
                out,
                from,
                ErrorCode::NoName,
                "Choose a user name first: HELLO <name>",
            ),
            Request::Say { text } => self.say(out, from, text),
            Request::Tell { name, text } => self.tell(out, from, name, text),
            Request::Who => self.who(out, from),
            Request::Away { text } => self.away(out, from, text),
            Request::Back => self.back(out, from),
            Request::History { count } => self.replay(out, from, count),
            Request::Status => self.status(out, from),
            Request::Echo { text } => reply(out, from, Reply::Echo { text }),
            Request::Calc { expr } => self.calc(out, from, &expr),
            Request::Guess { guess } => self.guess(out, from, guess),
            Request::Files => self.files(out, from),
            Request::Get { file, offset } => self.get(out, from, file, offset),
            Request::Put { file, size, sha256 } => self.put(out, from, file, size, sha256),
            Request::Abort { xfer } => self.abort(out, from, xfer),
            Request::Delete { file } => self.delete(out, from, file),
            Request::Rename { old, new } => self.rename(out, from, old, new),
        }
    }

    /// The connection is ending (the peer went, was too slow, timed out, or the room
    /// itself closed it): the session ends, its name is free, everyone hears `LEAVE`.
    /// Once is enough; a second call changes nothing.
    pub fn depart(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        reason: LeaveReason,
        text: &str,
    ) {
        let Some(name) = self.end_session(conn, &reason, text) else {
            return;
        };
        if self.cluster.is_some() {
            self.release_on_cluster(out, &name);
        }
        let leave = ServerFrame::Leave {
            name,
            reason,
            text: text.to_string(),
        };
        self.announce(out, None, leave);
    }

    /// The loop has let the connection go: its session moves into the history.
    pub fn disconnected(&mut self, conn: ConnRef, traffic: Traffic) {
        let Some(mut c) = self.clients.get_mut(conn.0).and_then(Option::take) else {
            return;
        };
        if let Some(e) = &c.ended {
            self.closing.remove(&e.seq);
        }
        self.live.remove(&c.id);
        if c.ended.is_none() {
            // The loop never drops a connection without a departure; if it ever
            // does, the session still ends here rather than stay live for ever.
            self.ended_count += 1;
            c.ended = Some(Box::new(Ended {
                at: Time::now(),
                seq: self.ended_count,
                reason: LeaveReason::Lost,
            }));
        }
        let node = cluster::node_of(self);
        let seq = c.ended.as_ref().map_or(0, |e| e.seq);
        self.history.push(seq, c.session(traffic, node));
    }

    /// The server is stopping: every session ends, and nobody is told that anybody
    /// left (everybody is told the server is going).
    pub fn shutdown(&mut self) {
        for i in 0..self.clients.len() {
            self.end_session(ConnRef(i), &LeaveReason::Quit, "");
        }
    }

    /// Someone changed these names in the shared folder (the loop's watch saw it);
    /// `overflow`: changes were lost, read the folder again.
    pub fn folder_changed<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a std::ffi::OsStr>,
        overflow: bool,
    ) {
        self.folder.changed(names, overflow);
    }

    /// Once a second or so: the room's slow chores (leftover uploads old enough to
    /// judge).
    pub fn tick(&mut self) {
        self.folder.tick(std::time::SystemTime::now());
        self.brake.forget(Instant::now());
    }

    /// Keeps the history in `path` too, reading back what it holds.
    pub fn open_history(&mut self, path: &std::path::Path) -> std::io::Result<()> {
        self.said = history::History::with_file(self.settings.history, path)?;
        Ok(())
    }

    /// When the loop has time: hashes up to `budget` bytes of shared files whose
    /// SHA-256 is not known yet. Returns whether more is left.
    pub fn hash_files(&mut self, budget: usize) -> bool {
        self.folder.hash_step(budget)
    }

    /// Whether a file changed that the loop did not hear of from the folder's watch
    /// (so its hashing, which the watch starts, must start); asks once.
    pub fn take_rehash(&mut self) -> bool {
        std::mem::take(&mut self.rehash)
    }

    /// At the start of each loop turn.
    pub fn new_turn(&mut self) {
        self.disk_wait_free = true;
    }

    /// Once a turn: what was said this turn goes to the history file, in one write.
    pub fn persist_history(&mut self) {
        self.said.persist();
    }

    /// Gives back the memory sized for the last crowd, once nobody is connected.
    pub fn shrink_when_empty(&mut self) {
        if self.clients.iter().all(Option::is_none) {
            self.clients = Vec::new();
            self.members.shrink_to_fit();
            self.live.shrink_to_fit();
            self.names.shrink_to_fit();
        }
    }

    // ---- what the loop asks ----------------------------------------------------------

    /// Whether the connection has taken a name (and not left).
    pub fn is_named(&self, conn: ConnRef) -> bool {
        self.client(conn).is_some_and(Client::is_member)
    }

    /// When the room will hear `req` from `conn`, if not now: a secret from an address
    /// that has been guessing waits its turn. The loop leaves it unread until then.
    pub fn hold_until(&self, conn: ConnRef, req: &Request) -> Option<Instant> {
        if !matches!(req, Request::Auth { .. }) || self.settings.secret.is_none() {
            return None;
        }
        let c = self.client(conn)?;
        self.brake.wait(c.addr.ip(), Instant::now())
    }

    /// Whether `xfer` is an upload this connection is sending.
    pub fn has_upload(&self, conn: ConnRef, xfer: u64) -> bool {
        self.client(conn)
            .is_some_and(|c| c.uploads().iter().any(|u| u.xfer == xfer))
    }

    /// How the console names a connection: `alice (client 7)` or `client 7`.
    pub fn label(&self, conn: ConnRef) -> String {
        self.client(conn)
            .map_or_else(|| format!("connection {}", conn.0), Client::label)
    }

    // ---- inside the room -------------------------------------------------------------

    fn client(&self, conn: ConnRef) -> Option<&Client> {
        self.clients.get(conn.0).and_then(Option::as_ref)
    }

    fn client_mut(&mut self, conn: ConnRef) -> Option<&mut Client> {
        self.clients.get_mut(conn.0).and_then(Option::as_mut)
    }

    /// The name a member speaks under.
    fn member_name(&self, conn: ConnRef) -> Option<UserName> {
        self.client(conn)
            .filter(|c| c.is_member())
            .and_then(|c| c.name.clone())
    }

    /// For log lines about what a user did: their name, or the connection.
    fn user_label(&self, conn: ConnRef) -> String {
        self.member_name(conn)
            .map_or_else(|| self.label(conn), |n| n.to_string())
    }

    /// `n` transfers ended, each closing its file.
    fn file_closed(&mut self, n: usize) {
        debug_assert!(self.open_files >= n, "more files closed than opened");
        self.open_files = self.open_files.saturating_sub(n);
    }

    fn add_member(&mut self, conn: ConnRef) {
        let slot = self.members.len();
        if let Some(c) = self.client_mut(conn) {
            c.slot = Some(slot);
            self.members.push(conn);
        }
    }

    fn remove_member(&mut self, slot: usize) {
        if slot >= self.members.len() {
            return;
        }
        self.members.swap_remove(slot);
        if let Some(&moved) = self.members.get(slot) {
            if let Some(c) = self.client_mut(moved) {
                c.slot = Some(slot);
            }
        }
    }

    /// Ends a session: logs it, abandons its uploads, frees its name. Returns the name
    /// if it was a member, for the caller to announce.
    fn end_session(&mut self, conn: ConnRef, reason: &LeaveReason, text: &str) -> Option<UserName> {
        let label = self.client(conn).filter(|c| c.ended.is_none())?.label();
        self.ended_count += 1;
        let seq = self.ended_count;
        let c = self.client_mut(conn)?;
        c.ended = Some(Box::new(Ended {
            at: Time::now(),
            seq,
            reason: reason.clone(),
        }));
        let files = c.transfers();
        c.listing = None;
        let uploads = c.transfers.take().map(|t| t.uploads).unwrap_or_default();
        let slot = c.slot.take();
        let was_stamped = c.stamps && slot.is_some();
        let name = c.name.clone();
        let id = c.id;
        self.live.remove(&id);
        self.closing.insert(seq, conn);
        if was_stamped {
            self.stamped_members = self.stamped_members.saturating_sub(1);
        }
        self.file_closed(files);
        for up in uploads {
            // Dropping the upload removes its temporary file and frees its name.
            log::info!(
                "{label}: upload of {} abandoned at {} of {} bytes",
                up.stored_as,
                up.received,
                up.size
            );
        }
        let detail = if text.is_empty() {
            String::new()
        } else {
            // Quoted: a QUIT text may hold escape sequences meant for a terminal.
            format!(" ({text:?})")
        };
        log::info!("{label} left: {}{detail}", reason.describe());
        let slot = slot?;
        let name = name?;
        self.names.remove(&name.folded());
        self.remove_member(slot);
        Some(name)
    }
}

fn reply(out: &mut impl Outbox, to: ConnRef, reply: Reply) {
    out.send(to, &ServerFrame::Ok(reply));
}

fn error(out: &mut impl Outbox, to: ConnRef, code: ErrorCode, text: &str) {
    out.send(to, &ServerFrame::err(code, text));
}

#[cfg(test)]
mod tests {
    use super::recorder::Fixture;
    use super::{ConnRef, Traffic};

    #[test]
    fn sorted_keeps_key_order_whatever_the_order_of_inserts() {
        let mut b = super::Sorted::<u64>::default();
        for id in [3, 5, 9, 4, 1] {
            b.insert(id, ConnRef(id as usize * 10));
        }
        b.insert(5, ConnRef(55));
        let all: Vec<u64> = b.after(None).map(|&(i, _)| i).collect();
        assert_eq!(all, [1, 3, 4, 5, 9]);
        assert_eq!(b.after(Some(&5)).collect::<Vec<_>>(), [&(9, ConnRef(90))]);
        assert_eq!(b.after(Some(&2)).next(), Some(&(3, ConnRef(30))));
        assert_eq!(b.after(Some(&0)).next(), Some(&(1, ConnRef(10))));
        assert_eq!(b.get(&5), Some(&ConnRef(55)));
        assert_eq!(b.get(&6), None);
        b.remove(&4);
        b.remove(&7);
        assert_eq!(b.len(), 4);
        assert_eq!(b.after(Some(&3)).next(), Some(&(5, ConnRef(55))));
        assert_eq!(b.after(Some(&9)).next(), None);
    }
    use natter_protocol::LeaveReason;

    #[test]
    fn a_departure_frees_the_name_and_its_leave_comes_before_the_next_join() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        let c = fx.connect(3);
        fx.room.depart(
            &mut fx.out,
            a,
            LeaveReason::TooSlow,
            "output queue passed 10 bytes",
        );
        fx.send(c, "HELLO Alice");
        assert_eq!(
            fx.lines(b),
            [
                "LEAVE alice too-slow output queue passed 10 bytes",
                "JOIN Alice"
            ]
        );
        assert!(fx.room.is_named(c) && !fx.room.is_named(a));
        assert_eq!(fx.room.label(a), "client 101");
    }

    #[test]
    fn a_connection_departs_once() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.room.depart(&mut fx.out, a, LeaveReason::Lost, "");
        fx.room
            .depart(&mut fx.out, a, LeaveReason::Timeout, "again");
        assert_eq!(fx.lines(b), ["LEAVE alice lost"]);
        // Nothing it still sends is served.
        fx.send(a, "SAY hello?");
        assert!(fx.out.take().is_empty());
    }

    #[test]
    fn members_stay_whole_when_the_middle_one_leaves() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        let c = fx.join(3, "carol");
        fx.room.depart(&mut fx.out, a, LeaveReason::Quit, "");
        fx.out.take();
        // carol moved into alice's slot; both she and bob still hear, alice does not.
        fx.send(b, "SAY one");
        assert_eq!(fx.lines(c), ["FROM bob one"]);
        fx.send(c, "SAY two");
        assert_eq!(fx.out.frames(a), []);
        assert_eq!(fx.lines(b), ["FROM carol two"]);
        fx.room.depart(&mut fx.out, c, LeaveReason::Quit, "");
        assert_eq!(fx.lines(b), ["LEAVE carol quit"]);
        fx.send(b, "WHO");
        assert_eq!(fx.lines(b).last().map(String::as_str), Some("OK WHO 1"));
    }

    #[test]
    fn a_let_go_connection_is_kept_in_the_history_with_its_traffic() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.room.depart(&mut fx.out, b, LeaveReason::Lost, "");
        fx.room.disconnected(
            b,
            Traffic {
                bytes_in: 12,
                bytes_out: 34,
            },
        );
        // A connection the loop lets go without a departure still ends its session.
        let c = fx.connect(3);
        fx.room.disconnected(c, Traffic::default());
        fx.out.take();
        fx.send(a, "STATUS");
        let lines = fx.lines(a);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(
            lines[1].starts_with("SESSION 103 - 10.0.0.3:40003 "),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("SESSION 102 bob "), "{}", lines[2]);
        assert!(lines[2].ends_with(" 12 34 lost"), "{}", lines[2]);
        assert!(lines[3].starts_with("OK STATUS 1 "));
        // Let go twice is let go once.
        fx.room.disconnected(b, Traffic::default());
    }

    #[test]
    fn shutdown_ends_every_session_without_a_leave() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.send(a, "PUT half.bin 10");
        fx.out.take();
        fx.room.shutdown();
        assert!(fx.out.take().is_empty(), "no LEAVE for a shutdown");
        assert!(!fx.room.is_named(a) && !fx.room.is_named(b));
        assert_eq!(std::fs::read_dir(&fx.dir).unwrap().count(), 0);
    }

    #[test]
    fn the_tables_are_given_back_once_everyone_has_gone() {
        let mut fx = Fixture::new();
        let refs: Vec<ConnRef> = (0..50).map(|n| fx.join(n, &format!("u{n}"))).collect();
        for &c in &refs {
            fx.room.depart(&mut fx.out, c, LeaveReason::Quit, "");
            fx.room.disconnected(c, Traffic::default());
        }
        fx.room.shrink_when_empty();
        assert_eq!(fx.room.clients.capacity(), 0);
        assert_eq!(fx.room.members.capacity(), 0);
        let a = fx.join(7, "alice");
        assert_eq!(fx.ask(a, "PING back"), "OK PING back");
    }
}
