//! The room on a node of a cluster: what other nodes' messages mean for the chat,
//! and the copy of their users that WHO, STATUS, TELL and name checks read.
//!
//! The room never waits for Redis: what it tells other nodes it hands the outbox
//! (`publish`), and the one thing it must ask first, a name's cluster-wide claim, is
//! answered later through [`Room::claimed`], the connection's next requests held by
//! the loop meanwhile. While the node cannot reach Redis the room keeps serving its
//! own users, says so in WHO and STATUS, and takes names on its own word; the claims
//! are made when the link is back, and a name taken twice meanwhile goes to whoever
//! Redis gave it to, the other's user told and let go.

use super::{error, ConnRef, Outbox, Room};
use crate::cluster::bus::{self, Msg, RemoteUser};
use crate::cluster::{NodeName, NODE_TIMEOUT};
use crate::limits::{held_back, LogGate};
use natter_protocol::{ErrorCode, LeaveReason, ServerFrame, Time, UserName};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The most users natterd keeps of other nodes, one or all of them together: far
/// above what nodes serve (their descriptor limits), so only a broken or hostile
/// publisher meets it, and what forged rosters can take is bounded (about 25 MB).
#[cfg(not(test))]
const MAX_REMOTE_USERS: usize = 100_000;
/// The most other nodes natterd keeps track of; messages of any more are dropped.
#[cfg(not(test))]
const MAX_NODES: usize = 256;
// Small in unit tests, to reach them with a few messages.
#[cfg(test)]
const MAX_REMOTE_USERS: usize = 50;
#[cfg(test)]
const MAX_NODES: usize = 4;

/// Who this node is in its cluster.
#[derive(Debug, Clone)]
pub struct Identity {
    pub node: NodeName,
    /// Where Redis is, as people are told (never with its password).
    pub redis: String,
    /// The shared folder's identity (`cluster::folder_id`): nodes with the same one
    /// serve the same files and hear each other's SHARED, DELETED and RENAMED.
    pub folder: String,
    /// This run of the node: two live processes with one node name tell each other
    /// apart by it.
    pub instance: u64,
}

/// How a claim on a name went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Won,
    /// Another node holds it.
    Taken,
    /// Redis could not be asked (the link went down): the node decides alone.
    Unknown,
}

pub(super) struct Cluster {
    pub(super) me: Identity,
    pub(super) up: bool,
    /// When the link was lost; `None` while up (and before the first link).
    down_since: Option<Time>,
    /// Other nodes, as last heard.
    pub(super) nodes: BTreeMap<NodeName, Node>,
    /// Names asked of Redis and not yet answered: folded name, who asked, as asked.
    claiming: Vec<(UserName, ConnRef, UserName)>,
    twin_logged: Option<Instant>,
    /// Warnings about what comes from the bus, a few a minute each.
    unreadable_logged: LogGate,
    nodes_full_logged: LogGate,
    users_full_logged: LogGate,
    comings_logged: LogGate,
    privates_logged: LogGate,
}

pub(super) struct Node {
    heard: Instant,
    /// When this node last sent it the roster it asked for (`Y`).
    synced: Option<Instant>,
    /// By folded name.
    pub(super) users: BTreeMap<UserName, RemoteUser>,
}

impl Cluster {
    pub(super) fn new(me: Identity) -> Cluster {
        Cluster {
            me,
            up: false,
            down_since: Some(Time::now()),
            nodes: BTreeMap::new(),
            claiming: Vec::new(),
            twin_logged: None,
            unreadable_logged: LogGate::default(),
            nodes_full_logged: LogGate::default(),
            users_full_logged: LogGate::default(),
            comings_logged: LogGate::default(),
            privates_logged: LogGate::default(),
        }
    }

    /// Users of other nodes, all told.
    fn remote_users(&self) -> usize {
        self.nodes.values().map(|n| n.users.len()).sum()
    }

    /// Who holds `folded` on another node.
    pub(super) fn remote_user(&self, folded: &UserName) -> Option<(&NodeName, &RemoteUser)> {
        self.nodes
            .iter()
            .find_map(|(n, node)| node.users.get(folded).map(|u| (n, u)))
    }

    pub(super) fn remote_count(&self) -> u64 {
        self.nodes.values().map(|n| n.users.len() as u64).sum()
    }

    /// What WHO and STATUS say of the cluster after their count.
    pub(super) fn note(&self) -> String {
        if self.up {
            let n = self.nodes.len() + 1;
            format!(
                "cluster of {n} node{}; this is {}",
                if n == 1 { "" } else { "s" },
                self.me.node
            )
        } else {
            let since = self
                .down_since
                .map_or_else(String::new, |t| format!(" since {t}"));
            format!(
                "cluster degraded: node {} cannot reach {}{since}; other nodes' users as last known",
                self.me.node, self.me.redis
            )
        }
    }

    fn publish(&self, out: &mut impl Outbox, to: Option<&NodeName>, msg: &Msg) {
        if self.up {
            out.publish(to, bus::encode(&self.me.node, msg));
        }
    }
}

impl Room {
    // ---- what the loop tells the room about the bus ---------------------------------

    /// The link to Redis is up (again): others learn who is here, and are asked who
    /// is there.
    pub fn bus_up(&mut self, out: &mut impl Outbox) {
        let roster = Msg::Roster(self.roster());
        let Some(cl) = self.cluster.as_mut() else {
            return;
        };
        cl.up = true;
        cl.down_since = None;
        cl.publish(out, None, &roster);
        cl.publish(out, None, &Msg::Sync);
    }

    /// The link to Redis is lost: the room serves its own users and says the cluster
    /// is degraded. Other nodes' users stay as last known until [`NODE_TIMEOUT`]
    /// passes without word from their node.
    pub fn bus_down(&mut self) {
        if let Some(cl) = self.cluster.as_mut() {
            if cl.up {
                cl.up = false;
                cl.down_since = Some(Time::now());
            }
        }
    }

    /// The server is stopping: its users' names are free at once (they may come
    /// back through another node before a claim would lapse), and other nodes hear
    /// its users are gone.
    pub fn bus_stop(&mut self, out: &mut impl Outbox) {
        let Some(cl) = &self.cluster else { return };
        for (key, _) in &self.names.0 {
            out.release(key);
        }
        cl.publish(out, None, &Msg::Stop);
    }

    /// The folded names of this node's users, for the loop to refresh their claims.
    pub fn claimed_names(&self) -> Vec<UserName> {
        self.names.0.iter().map(|(k, _)| k.clone()).collect()
    }

    /// One message from the bus.
    pub fn bus_message(&mut self, out: &mut impl Outbox, payload: &[u8]) {
        self.bus_message_at(out, payload, Instant::now());
    }

    /// One message from the bus, heard at `now`.
    fn bus_message_at(&mut self, out: &mut impl Outbox, payload: &[u8], now: Instant) {
        let Some(cl) = self.cluster.as_mut() else {
            return;
        };
        let (from, msg) = match bus::decode(payload) {
            Ok(m) => m,
            Err(e) => {
                if let Some(held) = cl.unreadable_logged.pass(now) {
                    log::warn!(
                        "cluster: dropped a message natterd cannot read ({e}): {:?}{}",
                        String::from_utf8_lossy(&payload[..payload.len().min(200)]),
                        held_back(held)
                    );
                }
                return;
            }
        };
        if from == cl.me.node {
            if let Msg::Beat { instance } = msg {
                let quiet = cl
                    .twin_logged
                    .is_none_or(|t| now.duration_since(t).as_secs() >= 60);
                if instance != cl.me.instance && quiet {
                    cl.twin_logged = Some(now);
                    log::error!(
                        "cluster: another natterd also calls itself node {}; each node needs its own --node-name, or each drops the other's messages as its own",
                        cl.me.node
                    );
                }
            }
            return;
        }
        let known = cl.nodes.contains_key(&from);
        if !known && cl.nodes.len() >= MAX_NODES {
            if let Some(held) = cl.nodes_full_logged.pass(now) {
                log::warn!(
                    "cluster: more than {MAX_NODES} other nodes publish on this Redis; node {from} is not listened to{}",
                    held_back(held)
                );
            }
            return;
        }
        let node = cl.nodes.entry(from.clone()).or_insert_with(|| Node {
            heard: now,
            synced: None,
            users: BTreeMap::new(),
        });
        node.heard = now;
        if !known {
            if let Some(held) = cl.comings_logged.pass(now) {
                log::info!("cluster: node {from} is here{}", held_back(held));
            }
            if !matches!(msg, Msg::Roster(_) | Msg::Stop) {
                // Joined while this node was not listening: ask it who it has.
                cl.publish(out, Some(&from), &Msg::Sync);
            }
        }
        match msg {
            Msg::User(u) => self.remote_joined(out, &from, u),
            Msg::Event(frame) => self.remote_event(out, &from, frame),
            Msg::Folder { folder, frame } => {
                let ours = self
                    .cluster
                    .as_ref()
                    .is_some_and(|cl| cl.me.folder == folder);
                if ours
                    && matches!(
                        frame,
                        ServerFrame::Shared { .. }
                            | ServerFrame::Deleted { .. }
                            | ServerFrame::Renamed { .. }
                    )
                {
                    out.broadcast(&self.members, None, &frame);
                }
            }
            Msg::Private { to, frame } => {
                if !matches!(frame, ServerFrame::Private { .. }) {
                    return;
                }
                match self.names.get(&to.folded()) {
                    Some(&c) if self.is_named(c) => {
                        if let ServerFrame::Private { name, text } = frame {
                            let private = self.private_for(c, name, text);
                            out.send(c, &private);
                        }
                    }
                    _ => {
                        let cl = self.cluster.as_mut();
                        if let Some(held) = cl.and_then(|cl| cl.privates_logged.pass(now)) {
                            log::info!("cluster: a private message from node {from} for {to}, who is not here (any more){}", held_back(held));
                        }
                    }
                }
            }
            Msg::Beat { .. } => {}
            Msg::Roster(users) => self.remote_roster(out, &from, users),
            Msg::Sync => {
                // Once a second at most: a roster is big, the ask is a few bytes.
                let Some(node) = self.cluster.as_mut().and_then(|cl| cl.nodes.get_mut(&from))
                else {
                    return;
                };
                if node
                    .synced
                    .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
                {
                    return;
                }
                node.synced = Some(now);
                let roster = Msg::Roster(self.roster());
                if let Some(cl) = &self.cluster {
                    cl.publish(out, Some(&from), &roster);
                }
            }
            Msg::Stop => self.node_gone(out, &from, "stopped"),
        }
    }

    /// Once a second: nodes not heard for [`NODE_TIMEOUT`] by `now` are gone.
    pub fn cluster_tick(&mut self, out: &mut impl Outbox, now: Instant) {
        let Some(cl) = &self.cluster else { return };
        let silent: Vec<NodeName> = cl
            .nodes
            .iter()
            .filter(|(_, n)| now.duration_since(n.heard) >= NODE_TIMEOUT)
            .map(|(k, _)| k.clone())
            .collect();
        for node in silent {
            self.node_gone(out, &node, "unreachable");
        }
    }

    /// Redis answered `conn`'s claim on a name (asked by `hello`).
    pub fn claimed(&mut self, out: &mut impl Outbox, conn: ConnRef, conn_id: u64, claim: Claim) {
        let Some(cl) = self.cluster.as_mut() else {
            return;
        };
        let Some(i) = cl.claiming.iter().position(|(_, c, _)| *c == conn) else {
            return;
        };
        let (_, _, name) = cl.claiming.remove(i);
        let still_here = self
            .client(conn)
            .is_some_and(|c| c.id == conn_id && c.ended.is_none());
        if !still_here {
            if claim == Claim::Won {
                out.release(&name.folded());
            }
            return;
        }
        match claim {
            Claim::Won | Claim::Unknown => self.named(out, conn, name),
            Claim::Taken => {
                let text = format!("{name} is taken on another node; choose another name");
                error(out, conn, ErrorCode::NameTaken, &text);
            }
        }
    }

    /// Redis gave these names (folded) to other nodes while this node held them
    /// without a claim (it could not reach Redis): their users here are told and let
    /// go, so every node agrees who the name is.
    pub fn claims_lost(&mut self, out: &mut impl Outbox, names: &[UserName]) {
        for key in names {
            let Some(&conn) = self.names.get(key) else {
                continue;
            };
            let Some(name) = self.member_name(conn) else {
                continue;
            };
            log::warn!(
                "cluster: {name} was taken on another node while this node could not reach Redis; its session here ends"
            );
            let text = format!(
                "another node of the cluster holds the name {name} (taken there while this node could not reach it); connect again with another name"
            );
            error(out, conn, ErrorCode::NameTaken, &text);
            self.depart(out, conn, LeaveReason::Error, "name held on another node");
            out.close(conn);
            // Who stays under the name, as far as this node knows, is still here.
            let winner = self
                .cluster
                .as_ref()
                .and_then(|cl| cl.remote_user(key))
                .map(|(_, u)| u.name.clone());
            if let Some(name) = winner {
                out.broadcast(&self.members, None, &ServerFrame::Join { name });
            }
        }
    }

    /// Whether someone (here, or on a node other than `except`) holds `folded`: a
    /// name held twice for a while (the link was down) is announced once, and its
    /// LEAVE only when nobody holds it any more.
    fn held_elsewhere(&self, folded: &UserName, except: &NodeName) -> bool {
        self.names.get(folded).is_some()
            || self.cluster.as_ref().is_some_and(|cl| {
                cl.nodes
                    .iter()
                    .any(|(n, node)| n != except && node.users.contains_key(folded))
            })
    }

    // ---- what the handlers ask -------------------------------------------------------

    /// `hello`'s cluster part: whether the name is free here and elsewhere. Returns
    /// `true` if the handler is done (refused, or claim asked of Redis).
    pub(super) fn hello_on_cluster(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        conn_id: u64,
        name: &UserName,
    ) -> bool {
        let Some(cl) = self.cluster.as_mut() else {
            return false;
        };
        let key = name.folded();
        if cl.claiming.iter().any(|(k, _, _)| *k == key) {
            let text = format!("{name} is taken; choose another name");
            error(out, from, ErrorCode::NameTaken, &text);
            return true;
        }
        if let Some((node, u)) = cl.remote_user(&key) {
            let text = format!("{} is taken (on node {node}); choose another name", u.name);
            error(out, from, ErrorCode::NameTaken, &text);
            return true;
        }
        if !cl.up {
            return false;
        }
        cl.claiming.push((key.clone(), from, name.clone()));
        out.claim(from, conn_id, &key);
        true
    }

    /// A member just took its name: other nodes hear of it.
    pub(super) fn announce_user(&mut self, out: &mut impl Outbox, conn: ConnRef) {
        let Some(cl) = &self.cluster else { return };
        if let Some(u) = self.client(conn).and_then(remote_view) {
            cl.publish(out, None, &Msg::User(u));
        }
    }

    /// A `FROM` for every member (`stamped` for those who asked), here and on every
    /// other node; returns how many it reaches.
    pub(super) fn announce_said(
        &mut self,
        out: &mut impl Outbox,
        except: Option<ConnRef>,
        plain: ServerFrame,
        id: u64,
        time: Time,
    ) -> u64 {
        let mut n = self.broadcast_said(out, except, &plain, id, time);
        if let Some(cl) = self.cluster.as_ref().filter(|cl| cl.up) {
            n += cl.remote_count();
            cl.publish(out, None, &Msg::Event(plain));
        }
        n
    }

    /// `plain` (a `FROM`) to every member, and as `SAID` with `id` and `time` to
    /// those who asked for stamps; the stamped frame is built only if someone did.
    pub(super) fn broadcast_said(
        &mut self,
        out: &mut impl Outbox,
        except: Option<ConnRef>,
        plain: &ServerFrame,
        id: u64,
        time: Time,
    ) -> u64 {
        let ServerFrame::From { name, text } = plain else {
            return out.broadcast(&self.members, except, plain);
        };
        if self.stamped_members == 0 {
            return out.broadcast(&self.members, except, plain);
        }
        let stamped = ServerFrame::Said {
            id,
            time,
            name: name.clone(),
            text: text.clone(),
        };
        out.broadcast_stamped(&self.members, except, plain, &stamped)
    }

    /// A private message from `sender` as `to` wants it: `TOLD` (with an id from the
    /// history's count and the server's time) or `PRIVATE`.
    pub(super) fn private_for(
        &mut self,
        to: ConnRef,
        sender: UserName,
        text: String,
    ) -> ServerFrame {
        if self.client(to).is_some_and(|c| c.stamps) {
            ServerFrame::Told {
                id: self.said.take_id(),
                time: Time::now(),
                name: sender,
                text,
            }
        } else {
            ServerFrame::Private { name: sender, text }
        }
    }

    /// A frame for every member, here and on every other node; returns how many it
    /// reaches (on other nodes: their users as known, while the link is up).
    pub(super) fn announce(
        &mut self,
        out: &mut impl Outbox,
        except: Option<ConnRef>,
        frame: ServerFrame,
    ) -> u64 {
        let mut n = out.broadcast(&self.members, except, &frame);
        if let Some(cl) = self.cluster.as_ref().filter(|cl| cl.up) {
            n += cl.remote_count();
            let msg = match frame {
                ServerFrame::Shared { .. }
                | ServerFrame::Deleted { .. }
                | ServerFrame::Renamed { .. } => Msg::Folder {
                    folder: cl.me.folder.clone(),
                    frame,
                },
                frame => Msg::Event(frame),
            };
            cl.publish(out, None, &msg);
        }
        n
    }

    /// `tell`'s cluster part, for a name nobody here has: the private goes to its node.
    pub(super) fn tell_on_cluster(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        sender: UserName,
        to: &UserName,
        text: String,
    ) -> Result<Option<(UserName, Option<String>)>, ()> {
        let Some(cl) = self.cluster.as_ref() else {
            return Ok(None);
        };
        let Some((node, user)) = cl.remote_user(&to.folded()) else {
            return Ok(None);
        };
        if !cl.up {
            let text = format!(
                "{} is on node {node}, which this node cannot reach: the cluster is degraded ({} is unreachable)",
                user.name, cl.me.redis
            );
            error(out, from, ErrorCode::ClusterDown, &text);
            return Err(());
        }
        let msg = Msg::Private {
            to: user.name.clone(),
            frame: ServerFrame::Private { name: sender, text },
        };
        let spelled = (user.name.clone(), user.away.clone());
        out.publish(Some(node), bus::encode(&cl.me.node, &msg));
        Ok(Some(spelled))
    }

    /// A session ended here: if it had a name, its claim goes back.
    pub(super) fn release_on_cluster(&mut self, out: &mut impl Outbox, name: &UserName) {
        // A claim still being asked stays listed: its answer finds the session gone
        // and gives the name back. While the link is down the loop keeps the
        // release for when it is back.
        if self.cluster.is_some() {
            out.release(&name.folded());
        }
    }

    // ---- inside ----------------------------------------------------------------------

    fn roster(&self) -> Vec<RemoteUser> {
        self.members
            .iter()
            .filter_map(|&m| self.client(m).and_then(remote_view))
            .collect()
    }

    fn remote_joined(&mut self, out: &mut impl Outbox, from: &NodeName, u: RemoteUser) {
        let name = u.name.clone();
        let known = self.held_elsewhere(&name.folded(), from);
        let Some(cl) = self.cluster.as_mut() else {
            return;
        };
        let full = cl.remote_users() >= MAX_REMOTE_USERS;
        let Some(node) = cl.nodes.get_mut(from) else {
            return;
        };
        if full && !node.users.contains_key(&name.folded()) {
            if let Some(held) = cl.users_full_logged.pass(Instant::now()) {
                log::warn!(
                    "cluster: other nodes have more than {MAX_REMOTE_USERS} users; {name} of node {from} is not listed here{}",
                    held_back(held)
                );
            }
            return;
        }
        if node.users.insert(name.folded(), u).is_none() && !known {
            out.broadcast(&self.members, None, &ServerFrame::Join { name });
        }
    }

    fn remote_event(&mut self, out: &mut impl Outbox, from: &NodeName, frame: ServerFrame) {
        match &frame {
            ServerFrame::From { name, text } => {
                // Every node keeps the whole room's history, and numbers it its way.
                let time = Time::now();
                let id = self.said.push(time, name.clone(), text);
                self.broadcast_said(out, None, &frame, id, time);
                return;
            }
            ServerFrame::Leave { name, .. } => {
                let Some(node) = self.cluster.as_mut().and_then(|cl| cl.nodes.get_mut(from)) else {
                    return;
                };
                if node.users.remove(&name.folded()).is_none() {
                    // Someone this node never heard join: nobody here knows them.
                    return;
                }
                if self.held_elsewhere(&name.folded(), from) {
                    return;
                }
            }
            ServerFrame::Away { name, .. } | ServerFrame::Back { name } => {
                let away = match &frame {
                    ServerFrame::Away { .. } => Some(text_of(&frame)),
                    _ => None,
                };
                let Some(u) = self
                    .cluster
                    .as_mut()
                    .and_then(|cl| cl.nodes.get_mut(from))
                    .and_then(|n| n.users.get_mut(&name.folded()))
                else {
                    return;
                };
                u.away = away;
            }
            other => {
                log::debug!("cluster: node {from} sent an event natterd does not relay: {other:?}");
                return;
            }
        }
        out.broadcast(&self.members, None, &frame);
    }

    /// Everyone `from` has: who is new joins, who is missing left.
    fn remote_roster(&mut self, out: &mut impl Outbox, from: &NodeName, users: Vec<RemoteUser>) {
        let Some(cl) = self.cluster.as_mut() else {
            return;
        };
        let others = cl.remote_users() - cl.nodes.get(from).map_or(0, |n| n.users.len());
        let room = MAX_REMOTE_USERS.saturating_sub(others);
        if users.len() > room {
            if let Some(held) = cl.users_full_logged.pass(Instant::now()) {
                log::warn!(
                    "cluster: other nodes have more than {MAX_REMOTE_USERS} users; {} of node {from}'s are not listed here{}",
                    users.len() - room,
                    held_back(held)
                );
            }
        }
        let Some(node) = cl.nodes.get_mut(from) else {
            return;
        };
        let mut fresh: BTreeMap<UserName, RemoteUser> = users
            .into_iter()
            .take(room)
            .map(|u| (u.name.folded(), u))
            .collect();
        std::mem::swap(&mut node.users, &mut fresh);
        let (now, before) = (&node.users, fresh);
        let joined: Vec<UserName> = now
            .iter()
            .filter(|(k, _)| !before.contains_key(*k))
            .map(|(_, u)| u.name.clone())
            .collect();
        let left: Vec<UserName> = before
            .iter()
            .filter(|(k, _)| !now.contains_key(*k))
            .map(|(_, u)| u.name.clone())
            .collect();
        let joined: Vec<UserName> = joined
            .into_iter()
            .filter(|n| !self.held_elsewhere(&n.folded(), from))
            .collect();
        let left: Vec<UserName> = left
            .into_iter()
            .filter(|n| !self.held_elsewhere(&n.folded(), from))
            .collect();
        for name in left {
            let leave = ServerFrame::Leave {
                name,
                reason: LeaveReason::Lost,
                text: String::new(),
            };
            out.broadcast(&self.members, None, &leave);
        }
        for name in joined {
            out.broadcast(&self.members, None, &ServerFrame::Join { name });
        }
    }

    /// A node stopped or fell silent: its users left, as far as this node can tell.
    fn node_gone(&mut self, out: &mut impl Outbox, node: &NodeName, how: &str) {
        let Some(gone) = self.cluster.as_mut().and_then(|cl| cl.nodes.remove(node)) else {
            return;
        };
        let logged = self
            .cluster
            .as_mut()
            .and_then(|cl| cl.comings_logged.pass(Instant::now()));
        if let Some(held) = logged {
            log::info!(
                "cluster: node {node} {how}; its {} user{} left{}",
                gone.users.len(),
                if gone.users.len() == 1 { "" } else { "s" },
                held_back(held)
            );
        }
        let text = format!("node {node} {how}");
        for (key, u) in gone.users {
            if self.held_elsewhere(&key, node) {
                continue;
            }
            let leave = ServerFrame::Leave {
                name: u.name,
                reason: LeaveReason::Lost,
                text: text.clone(),
            };
            out.broadcast(&self.members, None, &leave);
        }
    }
}

/// A member as other nodes know it.
fn remote_view(c: &super::Client) -> Option<RemoteUser> {
    Some(RemoteUser {
        conn_id: c.id,
        name: c.name.clone().filter(|_| c.is_member())?,
        addr: c.addr,
        connected: c.connected,
        since: c.named_at,
        away: c.away.as_deref().map(String::from),
    })
}

fn text_of(f: &ServerFrame) -> String {
    match f {
        ServerFrame::Away { text, .. } => text.clone(),
        _ => String::new(),
    }
}

/// Sends `to` the session's node name in STATUS.
pub(super) fn node_of(room: &Room) -> Option<String> {
    room.cluster.as_ref().map(|cl| cl.me.node.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::recorder::{wire, Event, Fixture};
    use super::{Claim, Identity};
    use crate::cluster::{NodeName, NODE_TIMEOUT};
    use natter_protocol::LeaveReason;
    use std::time::{Duration, Instant};

    const USER: &str = "7 bob 10.0.1.2:5000 2026-12-01T10:00:00Z 2026-12-01T10:00:01Z";

    /// A room that is node n1 of a cluster whose link is up.
    fn node() -> Fixture {
        let mut fx = Fixture::with(|s| {
            s.cluster = Some(Identity {
                node: NodeName::new("n1").unwrap(),
                redis: "redis://127.0.0.1:6379".into(),
                folder: "m.1.2".into(),
                instance: 42,
            })
        });
        fx.room.bus_up(&mut fx.out);
        fx.out.take();
        fx
    }

    /// A member on node n1: asked, claimed, named.
    fn member(fx: &mut Fixture, n: usize, name: &str) -> super::ConnRef {
        let c = fx.connect(n);
        fx.send(c, &format!("HELLO {name}"));
        fx.room.claimed(&mut fx.out, c, 100 + n as u64, Claim::Won);
        assert!(fx.room.is_named(c));
        fx.out.take();
        c
    }

    fn hear(fx: &mut Fixture, msg: &str) {
        fx.room.bus_message(&mut fx.out, msg.as_bytes());
    }

    fn published(fx: &Fixture) -> Vec<(Option<String>, String)> {
        fx.out
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Published(to, m) => Some((to.clone(), m.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_name_is_claimed_before_it_is_given_and_the_node_tells_the_others() {
        let mut fx = node();
        let a = fx.connect(1);
        fx.send(a, "HELLO Alice");
        assert_eq!(fx.out.take(), [Event::Claim(a, 101, "alice".into())]);
        assert!(!fx.room.is_named(a), "not a member until Redis says so");
        fx.room.claimed(&mut fx.out, a, 101, Claim::Won);
        assert_eq!(
            fx.out.frames(a).iter().map(wire).collect::<Vec<_>>(),
            ["OK HELLO Alice", "JOIN Alice"]
        );
        let told = published(&fx);
        assert_eq!(told.len(), 1);
        assert!(
            told[0].1.starts_with("n1 U 101 Alice 10.0.0.1:40001 "),
            "{told:?}"
        );

        // Taken on another node: refused, nothing published.
        let b = fx.connect(2);
        fx.send(b, "HELLO carol");
        fx.out.take();
        fx.room.claimed(&mut fx.out, b, 102, Claim::Taken);
        assert_eq!(
            fx.lines(b),
            ["ERR name-taken carol is taken on another node; choose another name"]
        );
        assert!(!fx.room.is_named(b));
        // A second local asker of a name being claimed is refused at once.
        let c = fx.connect(3);
        let d = fx.connect(4);
        fx.send(c, "HELLO dave");
        fx.out.take();
        assert_eq!(
            fx.ask(d, "HELLO DAVE"),
            "ERR name-taken DAVE is taken; choose another name"
        );
        // A claim answered after its asker left gives the name back.
        fx.room.depart(&mut fx.out, c, LeaveReason::Lost, "");
        fx.room.claimed(&mut fx.out, c, 103, Claim::Won);
        assert!(fx.out.take().contains(&Event::Release("dave".into())));
    }

    #[test]
    fn a_name_held_on_another_node_is_refused_without_asking() {
        let mut fx = node();
        hear(&mut fx, &format!("n2 U {USER}"));
        let a = fx.connect(1);
        assert_eq!(
            fx.ask(a, "HELLO BOB"),
            "ERR name-taken bob is taken (on node n2); choose another name"
        );
    }

    #[test]
    fn what_other_nodes_say_reaches_members_here_and_a_node_ignores_itself() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        let lurker = fx.connect(2);
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(&mut fx, "n2 E FROM bob hi  there");
        hear(&mut fx, "n1 E FROM alice an echo of my own");
        hear(&mut fx, "n2 P alice PRIVATE bob psst");
        hear(&mut fx, "n2 P zed PRIVATE bob nobody here");
        hear(&mut fx, "n2 E LEAVE bob quit bye");
        hear(&mut fx, "n2 E LEAVE bob quit twice");
        hear(&mut fx, "garbage that is no message");
        assert_eq!(
            fx.lines(a),
            [
                "JOIN bob",
                "FROM bob hi  there",
                "PRIVATE bob psst",
                "LEAVE bob quit bye"
            ]
        );
        assert!(fx.out.frames(lurker).is_empty());
        // What other nodes' users said is in this node's history too.
        fx.send(a, "HISTORY");
        let kept = fx.lines(a);
        assert!(kept[0].ends_with(" bob hi  there"), "{kept:?}");
        assert_eq!(kept.last().map(String::as_str), Some("OK HISTORY 1"));
    }

    #[test]
    fn say_and_leave_go_to_the_bus_and_count_other_nodes_users() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        let b = member(&mut fx, 2, "carol");
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(
            &mut fx,
            &format!("n3 U {}", USER.replace("7 bob", "8 dave")),
        );
        fx.out.take();
        fx.send(a, "SAY hello");
        assert_eq!(
            fx.out.frames(a).iter().map(wire).collect::<Vec<_>>(),
            ["OK SAY 3"]
        );
        assert_eq!(
            published(&fx),
            [(None, "n1 E FROM alice hello".to_string())]
        );
        fx.out.take();
        fx.send(b, "QUIT later");
        let events = fx.out.take();
        assert!(events.contains(&Event::Published(
            None,
            "n1 E LEAVE carol quit later".into()
        )));
        assert!(events.contains(&Event::Release("carol".into())));
        // TELL to a user on another node goes to that node's channel only.
        fx.send(a, "TELL BOB psst");
        assert_eq!(fx.lines(a), ["OK TELL bob"]);
        fx.send(a, "TELL bob again");
        assert_eq!(
            published(&fx),
            [(
                Some("n2".to_string()),
                "n1 P bob PRIVATE alice again".to_string()
            )]
        );
    }

    #[test]
    fn degraded_the_node_serves_its_own_says_so_and_refuses_a_tell_across() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        hear(&mut fx, &format!("n2 U {USER}"));
        fx.room.bus_down();
        fx.out.take();
        // A newcomer is named on this node's word alone.
        let c = fx.connect(2);
        fx.send(c, "HELLO carol");
        assert!(fx.room.is_named(c));
        fx.send(a, "SAY local only");
        assert!(published(&fx).is_empty(), "nothing to a bus that is down");
        assert_eq!(
            fx.out.frames(a).iter().map(wire).next_back().as_deref(),
            Some("OK SAY 1")
        );
        fx.out.take();
        let refused = fx.ask(a, "TELL bob hi");
        assert!(
            refused.starts_with("ERR cluster-down bob is on node n2, which this node cannot reach"),
            "{refused}"
        );
        fx.send(a, "WHO");
        let who = fx.lines(a);
        assert!(
            who.last().unwrap().starts_with(
                "OK WHO 3 cluster degraded: node n1 cannot reach redis://127.0.0.1:6379 since "
            ),
            "{who:?}"
        );
        // Back up: the others hear who is here, and are asked who is there.
        fx.room.bus_up(&mut fx.out);
        let told = published(&fx);
        assert_eq!(told.len(), 2);
        assert!(
            told[0].1.starts_with("n1 R\n")
                && told[0].1.contains(" alice ")
                && told[0].1.contains(" carol ")
        );
        assert_eq!(told[1].1, "n1 Y");
    }

    #[test]
    fn a_roster_replaces_what_was_known_of_its_node() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        let dave = USER.replace("7 bob", "8 dave");
        hear(&mut fx, &format!("n2 R\n{USER}\n{dave}"));
        assert_eq!(fx.lines(a), ["JOIN bob", "JOIN dave"]);
        hear(&mut fx, &format!("n2 R\n{dave}"));
        assert_eq!(fx.lines(a), ["LEAVE bob lost"]);
        // Asked for its roster, a node answers the asker alone.
        hear(&mut fx, "n3 Y");
        let told = published(&fx);
        // A node never heard before is asked for its own roster too.
        assert_eq!(told.len(), 2, "{told:?}");
        assert_eq!(told[0], (Some("n3".to_string()), "n1 Y".to_string()));
        assert_eq!(told[1].0.as_deref(), Some("n3"));
        assert!(told[1].1.starts_with("n1 R\n101 alice "), "{told:?}");
    }

    /// `count` users of node `node` as roster lines, named `<prefix><i>`.
    fn users(prefix: &str, count: usize) -> String {
        (0..count)
            .map(|i| USER.replace("7 bob", &format!("{i} {prefix}{i}")))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn what_other_nodes_can_make_this_node_hold_is_bounded_in_all() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        // Rosters of three nodes, 30 users each: 50 kept in all, whoever sends.
        for n in ["n2", "n3", "n4"] {
            hear(&mut fx, &format!("{n} R\n{}", users(n, 30)));
        }
        let cl = fx.room.cluster.as_ref().unwrap();
        assert_eq!(cl.remote_users(), super::MAX_REMOTE_USERS);
        let joins = fx
            .lines(a)
            .iter()
            .filter(|l| l.starts_with("JOIN "))
            .count();
        assert_eq!(joins, super::MAX_REMOTE_USERS);
        // One by one, no more either.
        hear(
            &mut fx,
            &format!("n2 U {}", USER.replace("7 bob", "99 late")),
        );
        assert!(fx.lines(a).is_empty());
        // A node's new roster may take the room its old one had, not more.
        hear(&mut fx, &format!("n2 R\n{}", users("m", 40)));
        let cl = fx.room.cluster.as_ref().unwrap();
        assert_eq!(cl.remote_users(), super::MAX_REMOTE_USERS);
        // Nodes past the bound are not listened to.
        for n in 5..10 {
            hear(&mut fx, &format!("x{n} B 1"));
        }
        let cl = fx.room.cluster.as_ref().unwrap();
        assert_eq!(cl.nodes.len(), super::MAX_NODES);
    }

    #[test]
    fn a_forged_stop_or_ask_costs_next_to_nothing() {
        let mut fx = node();
        member(&mut fx, 1, "alice");
        let t0 = Instant::now();
        // Stops from nodes never heard: nothing is left of them, nothing is sent
        // (their log lines go through a gate).
        for n in 0..100 {
            fx.room
                .bus_message_at(&mut fx.out, format!("q{n} Q").as_bytes(), t0);
        }
        assert!(fx.room.cluster.as_ref().unwrap().nodes.is_empty());
        assert!(published(&fx).is_empty());
        // A roster is sent to one node once a second, however often it asks.
        for _ in 0..100 {
            fx.room.bus_message_at(&mut fx.out, b"n2 Y", t0);
        }
        let rosters = |fx: &Fixture| {
            published(fx)
                .iter()
                .filter(|(_, m)| m.starts_with("n1 R"))
                .count()
        };
        assert_eq!(rosters(&fx), 1);
        let later = t0 + Duration::from_secs(1);
        fx.room.bus_message_at(&mut fx.out, b"n2 Y", later);
        assert_eq!(rosters(&fx), 2);
    }

    #[test]
    fn who_and_status_list_every_node_in_order() {
        let mut fx = node();
        let a = member(&mut fx, 1, "carol");
        member(&mut fx, 2, "alice");
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(
            &mut fx,
            &format!("n3 U {}", USER.replace("7 bob", "9 Dora")),
        );
        fx.out.take();
        fx.send(a, "WHO");
        let who = fx.lines(a);
        let names: Vec<&str> = who
            .iter()
            .filter(|l| l.starts_with("USER "))
            .filter_map(|l| l.split(' ').nth(1))
            .collect();
        assert_eq!(names, ["alice", "bob", "carol", "Dora"]);
        assert_eq!(
            who.last().map(String::as_str),
            Some("OK WHO 4 cluster of 3 nodes; this is n1")
        );
        fx.send(a, "STATUS");
        let status = fx.lines(a);
        let rows: Vec<String> = status
            .iter()
            .filter(|l| l.starts_with("SESSION "))
            .map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                format!("{} {} {}", f[1], f[2], f[f.len() - 1])
            })
            .collect();
        assert_eq!(
            rows,
            ["101 carol n1", "102 alice n1", "7 bob n2", "9 Dora n3"]
        );
        assert!(status.last().unwrap().starts_with("OK STATUS 2 "));
    }

    #[test]
    fn a_silent_or_stopped_node_takes_its_users_with_it() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(
            &mut fx,
            &format!("n3 U {}", USER.replace("7 bob", "8 dave")),
        );
        fx.out.take();
        let now = Instant::now();
        fx.room
            .cluster_tick(&mut fx.out, now + NODE_TIMEOUT - Duration::from_millis(500));
        assert!(fx.out.take().is_empty(), "not yet");
        fx.room
            .bus_message_at(&mut fx.out, b"n3 B 1", now + Duration::from_secs(1));
        fx.room
            .cluster_tick(&mut fx.out, now + NODE_TIMEOUT + Duration::from_millis(100));
        assert_eq!(fx.lines(a), ["LEAVE bob lost node n2 unreachable"]);
        hear(&mut fx, "n3 Q");
        assert_eq!(fx.lines(a), ["LEAVE dave lost node n3 stopped"]);
        // Gone means forgotten: the name is free here.
        let c = fx.connect(2);
        fx.send(c, "HELLO bob");
        assert_eq!(fx.out.take(), [Event::Claim(c, 102, "bob".into())]);
    }

    #[test]
    fn a_stopping_node_tells_the_others_and_a_lone_one_says_nothing() {
        let mut fx = node();
        member(&mut fx, 1, "alice");
        fx.room.bus_stop(&mut fx.out);
        assert_eq!(
            fx.out.take(),
            [
                Event::Release("alice".into()),
                Event::Published(None, "n1 Q".into())
            ]
        );
        let mut lone = Fixture::new();
        lone.room.bus_stop(&mut lone.out);
        lone.room.bus_message(&mut lone.out, b"n2 E FROM bob hi");
        assert!(lone.out.take().is_empty());
    }

    #[test]
    fn a_name_held_twice_for_a_while_is_announced_once() {
        let mut fx = node();
        let a = member(&mut fx, 1, "bob");
        let c = member(&mut fx, 2, "carol");
        // n2 had a bob too while the link was down: nobody here hears him join...
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(
            &mut fx,
            &format!("n3 R\n{}", USER.replace("7 bob", "8 Carol")),
        );
        assert!(fx.lines(a).is_empty());
        // ...nor leave, since bob is still here.
        hear(&mut fx, "n2 E LEAVE bob error name held on another node");
        hear(&mut fx, "n3 R");
        assert!(fx.out.frames(a).is_empty(), "{:?}", fx.out.take());
        // Redis gave carol to n3: ours is let go, and n3's is still there.
        hear(
            &mut fx,
            &format!("n3 U {}", USER.replace("7 bob", "8 Carol")),
        );
        fx.out.take();
        fx.room.claims_lost(
            &mut fx.out,
            &[natter_protocol::UserName::new("carol").unwrap()],
        );
        assert_eq!(
            fx.lines(a),
            ["LEAVE carol error name held on another node", "JOIN Carol"]
        );
        assert!(!fx.room.is_named(c));
        // A release while the link is down is still asked: the loop keeps it.
        fx.room.bus_down();
        fx.send(a, "QUIT");
        assert!(fx.out.take().contains(&Event::Release("bob".into())));
    }

    #[test]
    fn away_crosses_nodes_and_answers_a_private_message_across() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        hear(&mut fx, &format!("n2 U {USER}"));
        hear(&mut fx, "n2 E AWAY bob at  lunch");
        assert_eq!(fx.lines(a), ["JOIN bob", "AWAY bob at  lunch"]);
        assert_eq!(fx.ask(a, "TELL bob hi"), "OK TELL bob at  lunch");
        fx.send(a, "WHO");
        assert!(fx
            .lines(a)
            .iter()
            .any(|l| l.starts_with("USER bob ") && l.ends_with(" at  lunch")));
        hear(&mut fx, "n2 E BACK bob");
        assert_eq!(fx.lines(a), ["BACK bob"]);
        assert_eq!(fx.ask(a, "TELL bob hi"), "OK TELL bob");
        // A roster carries who is away.
        hear(
            &mut fx,
            &format!("n3 R\n{} gone home", USER.replace("7 bob", "8 dave")),
        );
        fx.out.take();
        assert_eq!(fx.ask(a, "TELL dave hi"), "OK TELL dave gone home");
        // And this node's own away goes out on the bus.
        fx.send(a, "AWAY brb");
        assert!(published(&fx).contains(&(None, "n1 E AWAY alice brb".to_string())));
    }

    #[test]
    fn folder_news_crosses_only_between_nodes_of_one_folder() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        hear(&mut fx, "n2 F m.1.2 SHARED bob a.txt 3");
        hear(&mut fx, "n2 F other.9.9 SHARED bob b.txt 3");
        hear(&mut fx, "n2 F m.1.2 FROM bob not folder news");
        assert_eq!(fx.lines(a), ["SHARED bob a.txt 3"]);
        fx.file("c.txt", b"x");
        fx.send(a, "DELETE c.txt");
        assert_eq!(
            published(&fx),
            [(None, "n1 F m.1.2 DELETED alice c.txt".to_string())]
        );
    }

    #[test]
    fn a_name_redis_gave_elsewhere_ends_its_session_here() {
        let mut fx = node();
        let a = member(&mut fx, 1, "alice");
        let b = member(&mut fx, 2, "bob");
        assert_eq!(fx.room.claimed_names().len(), 2);
        fx.room.claims_lost(
            &mut fx.out,
            &[natter_protocol::UserName::new("alice").unwrap()],
        );
        let events = fx.out.take();
        assert!(events.contains(&Event::Closed(a)));
        assert!(events.iter().any(|e| matches!(e, Event::Frame(c, f) if *c == a
            && wire(f).starts_with("ERR name-taken another node of the cluster holds the name alice"))));
        assert!(events.contains(&Event::Frame(
            b,
            natter_protocol::ServerFrame::Leave {
                name: natter_protocol::UserName::new("alice").unwrap(),
                reason: LeaveReason::Error,
                text: "name held on another node".into(),
            }
        )));
        assert!(events.contains(&Event::Published(
            None,
            "n1 E LEAVE alice error name held on another node".into()
        )));
    }
}
