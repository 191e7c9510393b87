//! The Link: this node's two connections to Redis, inside the one loop. One
//! subscriber (it hears [`ALL`] and this node's channel), one for commands (publish,
//! claim, refresh, release), both non-blocking mio streams, optionally TLS through
//! rustls fed by the loop. Commands are pipelined; their replies come back in order
//! and are matched against what each was for ([`Expect`]).
//!
//! Nothing here blocks: connecting, the TLS handshake, AUTH and SUBSCRIBE all go as
//! the sockets allow. The link is up once both connections have answered their
//! setup; any error, a reply Redis never gives (a command unanswered for
//! [`LINK_TIMEOUT`]), or a subscriber that hears nothing for that long (not even
//! this node's own beats) drops both, and the poll timeout brings the next try after
//! a back-off that doubles up to [`BACKOFF`]'s bound.

use crate::chat::{Claim, ConnRef};
use crate::cluster::bus::{encode, Msg};
use crate::cluster::resp::{self, Value};
use crate::cluster::{
    name_key, node_channel, ClusterConfig, NodeName, ALL, BACKOFF, BEAT_EVERY, CLAIM_TTL,
    LINK_TIMEOUT, REFRESH_EVERY,
};
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use natter_protocol::UserName;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const CMD: Token = Token(usize::MAX - 4);
pub const SUB: Token = Token(usize::MAX - 5);

/// Output waiting for Redis past this means Redis is not reading: the link is
/// dropped rather than let grow.
const MAX_PENDING_OUT: usize = 64 * 1024 * 1024;
/// Unparsed input one connection may hold: the largest reply natterd takes, and
/// what one turn may read past the start of it.
const MAX_INPUT: usize = resp::MAX_BULK + READ_BUDGET + 128 * 1024;
/// Names released while the link was down that are kept to release later; past it
/// they simply expire with their TTL.
const MAX_RELEASES_KEPT: usize = 100_000;
/// Names per refresh script call: one call's keys, reply and work stay small.
const REFRESH_CHUNK: usize = 500;
/// Bytes read from one Redis connection per turn: a burst of other nodes' chat is
/// served in slices, between the turns that serve this node's own clients.
const READ_BUDGET: usize = 256 * 1024;

/// Claims a name unless another node holds it; refreshes it if this node does;
/// returns 1 for each name kept, 0 for each held by another node. A key that is not
/// a string (put there by hand) is nobody's claim and is replaced: with `call`, its
/// WRONGTYPE would fail the whole batch, and every name in it would lapse.
const REFRESH: &str = "local r = {} \
for i, k in ipairs(KEYS) do \
  local v = redis.pcall('GET', k) \
  if type(v) == 'table' then v = false end \
  if v == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]) r[i] = 1 \
  elseif not v then redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) r[i] = 1 \
  else r[i] = 0 end \
end \
return r";
/// Deletes a claim only if this node holds it.
const RELEASE: &str = "if redis.pcall('GET', KEYS[1]) == ARGV[1] then \
return redis.call('DEL', KEYS[1]) end return 0";

/// What the loop tells the room after the link has read.
#[derive(Debug)]
pub enum LinkEvent {
    Up,
    Down,
    Message(Vec<u8>),
    Claimed {
        conn: ConnRef,
        conn_id: u64,
        claim: Claim,
    },
    /// Names (folded) Redis gave another node.
    Lost(Vec<UserName>),
}

/// What one command's reply is for.
#[derive(Debug)]
enum Expect {
    /// AUTH, SELECT: an error means the link cannot work.
    Setup(&'static str),
    Ignore,
    Claim {
        conn: ConnRef,
        conn_id: u64,
    },
    Refresh(Vec<UserName>),
}

struct Stream {
    sock: TcpStream,
    tls: Option<rustls::ClientConnection>,
    connected: bool,
    /// Commands not yet written; those before `out_at` are.
    out: Vec<u8>,
    out_at: usize,
    input: Vec<u8>,
}

impl Stream {
    /// Writes what is queued, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        if !self.connected {
            return Ok(());
        }
        let result = match &mut self.tls {
            None => loop {
                if self.out_at == self.out.len() {
                    break Ok(());
                }
                match self.sock.write(&self.out[self.out_at..]) {
                    Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.out_at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            },
            // rustls takes plaintext up to its buffer limit (64 KiB) at a time:
            // hand it what it takes, send the records, and go on until the socket
            // is full or nothing is left.
            Some(tls) => loop {
                while self.out_at < self.out.len() && !tls.is_handshaking() {
                    match tls.writer().write(&self.out[self.out_at..]) {
                        Ok(0) => break,
                        Ok(n) => self.out_at += n,
                        Err(e) => return Err(e),
                    }
                }
                let mut blocked = false;
                while tls.wants_write() {
                    match tls.write_tls(&mut self.sock) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            blocked = true;
                            break;
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if blocked || self.out_at == self.out.len() || tls.is_handshaking() {
                    break Ok(());
                }
            },
        };
        // What was written goes, without moving the rest for every write.
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
        } else if self.out_at > 1024 * 1024 && self.out_at * 2 > self.out.len() {
            self.out.drain(..self.out_at);
            self.out_at = 0;
        }
        result
    }

    fn pending(&self) -> usize {
        self.out.len() - self.out_at
    }

    /// Reads what has arrived into `input`, up to [`READ_BUDGET`] bytes. Errs on end
    /// of stream; returns whether it stopped on the budget (more may be waiting).
    fn read(&mut self, scratch: &mut [u8]) -> io::Result<bool> {
        let start = self.input.len();
        loop {
            if self.input.len() - start >= READ_BUDGET {
                return Ok(true);
            }
            let n = match &mut self.tls {
                None => match self.sock.read(scratch) {
                    Ok(0) => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "Redis closed the connection",
                        ))
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                },
                Some(tls) => {
                    match tls.read_tls(&mut self.sock) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "Redis closed the connection",
                            ))
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                    tls.process_new_packets().map_err(|e| {
                        io::Error::new(io::ErrorKind::InvalidData, format!("TLS: {e}"))
                    })?;
                    loop {
                        match tls.reader().read(scratch) {
                            Ok(0) => break,
                            Ok(n) => self.input.extend_from_slice(&scratch[..n]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e),
                        }
                    }
                    // A handshake message may need an answer.
                    self.flush()?;
                    if self.input.len() > MAX_INPUT {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "a reply larger than natterd takes",
                        ));
                    }
                    continue;
                }
            };
            self.input.extend_from_slice(&scratch[..n]);
            if self.input.len() > MAX_INPUT {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a reply larger than natterd takes",
                ));
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Down,
    Connecting,
    Up,
}

pub struct Link {
    config: ClusterConfig,
    addrs: Vec<SocketAddr>,
    tls: Option<Arc<rustls::ClientConfig>>,
    instance: u64,
    state: State,
    cmd: Option<Stream>,
    sub: Option<Stream>,
    /// The commands sent on `cmd`, oldest first, with when.
    expect: VecDeque<(Expect, Instant)>,
    /// Setup replies the subscriber still owes (AUTH, SELECT), then subscriptions.
    sub_setup: usize,
    subscribed: usize,
    started: Instant,
    sub_heard: Instant,
    retry_at: Instant,
    backoff: Duration,
    next_beat: Instant,
    next_refresh: Instant,
    /// The last failure, logged once until the link is up again.
    last_error: Option<String>,
    /// Connections that stopped reading on their budget: read again next turn.
    pub again: Vec<Token>,
    /// Tries to connect so far; picks the address of the next.
    attempt: usize,
    /// Names released while the link was down, released once it is back (unless
    /// their users are here again by then); bounded.
    released_while_down: Vec<UserName>,
    /// An error Redis gave a command whose reply nobody waits for, logged once per link.
    ignored_error_logged: bool,
    pub events: Vec<LinkEvent>,
}

impl Link {
    /// Resolves Redis's address and prepares TLS. Errors here stop natterd at startup
    /// (a misspelt host, an unreadable CA file); everything later is retried.
    pub fn new(config: ClusterConfig, instance: u64) -> Result<Link, String> {
        use std::net::ToSocketAddrs;
        let url = &config.url;
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot find the cluster's Redis {}: {e}", url))?
            .collect();
        if addrs.is_empty() {
            return Err(format!(
                "the cluster's Redis host {} has no address",
                url.host
            ));
        }
        let tls = if url.tls {
            Some(super::tls::redis_client_config(config.ca_file.as_deref())?)
        } else {
            None
        };
        let now = Instant::now();
        Ok(Link {
            config,
            addrs,
            tls,
            instance,
            state: State::Down,
            cmd: None,
            sub: None,
            expect: VecDeque::new(),
            sub_setup: 0,
            subscribed: 0,
            started: now,
            sub_heard: now,
            retry_at: now,
            backoff: BACKOFF.0,
            next_beat: now,
            next_refresh: now,
            last_error: None,
            again: Vec::new(),
            attempt: 0,
            released_while_down: Vec::new(),
            ignored_error_logged: false,
            events: Vec::new(),
        })
    }

    /// When the loop must next call [`Link::tick`].
    pub fn deadline(&self) -> Instant {
        match self.state {
            State::Down => self.retry_at,
            State::Connecting => self.started + LINK_TIMEOUT,
            State::Up => {
                let mut t = self.next_beat.min(self.next_refresh);
                t = t.min(self.sub_heard + LINK_TIMEOUT);
                if let Some((_, at)) = self.expect.front() {
                    t = t.min(*at + LINK_TIMEOUT);
                }
                t
            }
        }
    }

    /// Timers: reconnecting, beats, refreshing claims (`names`: this node's users'
    /// folded names, asked only when a refresh is due), dead-link checks.
    pub fn tick(&mut self, registry: &Registry, names: impl FnOnce() -> Vec<UserName>) {
        let now = Instant::now();
        match self.state {
            State::Down if now >= self.retry_at => self.connect(registry),
            State::Down => {}
            State::Connecting if now >= self.started + LINK_TIMEOUT => self.fail(
                registry,
                "no answer from Redis (connecting, TLS or AUTH)".into(),
            ),
            State::Connecting => {}
            State::Up => {
                if self
                    .expect
                    .front()
                    .is_some_and(|(_, at)| now >= *at + LINK_TIMEOUT)
                {
                    let why = format!("Redis has not answered for {} s", LINK_TIMEOUT.as_secs());
                    return self.fail(registry, why);
                }
                if now >= self.sub_heard + LINK_TIMEOUT {
                    let why = format!(
                        "the subscriber connection heard nothing (not even this node's beats) for {} s",
                        LINK_TIMEOUT.as_secs()
                    );
                    return self.fail(registry, why);
                }
                if now >= self.next_beat {
                    self.next_beat = now + BEAT_EVERY;
                    let beat = encode(
                        &self.config.node,
                        &Msg::Beat {
                            instance: self.instance,
                        },
                    );
                    self.publish(None, &beat);
                }
                if now >= self.next_refresh {
                    self.next_refresh = now + REFRESH_EVERY;
                    let names = names();
                    for gone in std::mem::take(&mut self.released_while_down) {
                        if !names.contains(&gone) {
                            self.release(&gone);
                        }
                    }
                    self.refresh(names);
                }
                self.flush(registry);
            }
        }
    }

    /// Queues a PUBLISH (to every node, or one); dropped while the link is down.
    pub fn publish(&mut self, to: Option<&NodeName>, payload: &[u8]) {
        if payload.len() > resp::MAX_BULK {
            // No node would take it: every receiver would drop its link.
            log::error!(
                "cluster: a message of {} bytes not sent (nodes take at most {})",
                payload.len(),
                resp::MAX_BULK
            );
            return;
        }
        let channel = to.map_or_else(|| ALL.to_string(), node_channel);
        self.command(&[b"PUBLISH", channel.as_bytes(), payload], Expect::Ignore);
    }

    /// Asks for `folded`; answered by a [`LinkEvent::Claimed`] (at once, as
    /// `Unknown`, if the link is down).
    pub fn claim(&mut self, conn: ConnRef, conn_id: u64, folded: &UserName) {
        if self.state != State::Up {
            self.events.push(LinkEvent::Claimed {
                conn,
                conn_id,
                claim: Claim::Unknown,
            });
            return;
        }
        // The refresh script, for one name: a claim this node already holds (its
        // previous run's, say, before a restart) is this node's to give again.
        let key = name_key(folded.as_str());
        let ttl = CLAIM_TTL.as_millis().to_string();
        let node = self.config.node.to_string();
        self.command(
            &[
                b"EVAL",
                REFRESH.as_bytes(),
                b"1",
                key.as_bytes(),
                node.as_bytes(),
                ttl.as_bytes(),
            ],
            Expect::Claim { conn, conn_id },
        );
    }

    /// Gives the claim on `folded` back, if this node holds it; while the link is
    /// down, once it is back.
    pub fn release(&mut self, folded: &UserName) {
        if self.state != State::Up {
            if self.released_while_down.len() < MAX_RELEASES_KEPT {
                self.released_while_down.push(folded.clone());
            }
            return;
        }
        let key = name_key(folded.as_str());
        let node = self.config.node.to_string();
        self.command(
            &[
                b"EVAL",
                RELEASE.as_bytes(),
                b"1",
                key.as_bytes(),
                node.as_bytes(),
            ],
            Expect::Ignore,
        );
    }

    fn refresh(&mut self, names: Vec<UserName>) {
        let ttl = CLAIM_TTL.as_millis().to_string();
        let node = self.config.node.to_string();
        for chunk in names.chunks(REFRESH_CHUNK) {
            let n = chunk.len().to_string();
            let keys: Vec<String> = chunk.iter().map(|k| name_key(k.as_str())).collect();
            let mut args: Vec<&[u8]> = vec![b"EVAL", REFRESH.as_bytes(), n.as_bytes()];
            args.extend(keys.iter().map(|k| k.as_bytes()));
            args.push(node.as_bytes());
            args.push(ttl.as_bytes());
            self.command(&args, Expect::Refresh(chunk.to_vec()));
        }
    }

    fn command(&mut self, args: &[&[u8]], expect: Expect) {
        if self.state != State::Up {
            return;
        }
        let Some(cmd) = self.cmd.as_mut() else {
            return;
        };
        resp::command(&mut cmd.out, args);
        self.expect.push_back((expect, Instant::now()));
    }

    /// Writes what the turn queued; called once per turn, after the handlers.
    pub fn flush(&mut self, registry: &Registry) {
        let too_much = self
            .cmd
            .as_ref()
            .is_some_and(|c| c.pending() > MAX_PENDING_OUT);
        if too_much {
            return self.fail(registry, "Redis is not reading what natterd sends".into());
        }
        let mut failed = None;
        for s in [self.cmd.as_mut(), self.sub.as_mut()].into_iter().flatten() {
            if let Err(e) = s.flush() {
                failed = Some(format!("writing to Redis: {e}"));
                break;
            }
        }
        if let Some(why) = failed {
            self.fail(registry, why);
        }
    }

    /// A readiness event on one of the link's tokens.
    pub fn ready(&mut self, registry: &Registry, token: Token, scratch: &mut [u8]) {
        let result = self.on_ready(token, scratch);
        if let Err(why) = result {
            self.fail(registry, why);
        } else {
            self.flush(registry);
        }
    }

    fn on_ready(&mut self, token: Token, scratch: &mut [u8]) -> Result<(), String> {
        let is_cmd = token == CMD;
        let Some(s) = (if is_cmd {
            self.cmd.as_mut()
        } else {
            self.sub.as_mut()
        }) else {
            return Ok(());
        };
        if !s.connected {
            if let Ok(Some(e)) | Err(e) = s.sock.take_error() {
                return Err(format!("cannot connect to {}: {e}", self.config.url));
            }
            match s.sock.peer_addr() {
                Ok(_) => s.connected = true,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(format!("cannot connect to {}: {e}", self.config.url)),
            }
        }
        if s.read(scratch)
            .map_err(|e| format!("reading from Redis: {e}"))?
        {
            self.again.push(token);
        }
        s.flush().map_err(|e| format!("writing to Redis: {e}"))?;
        let mut input = std::mem::take(&mut s.input);
        let mut used = 0;
        let mut result = Ok(());
        while used < input.len() {
            match resp::decode(&input[used..]) {
                Ok(Some((v, n))) => {
                    used += n;
                    let r = if is_cmd {
                        self.on_reply(v)
                    } else {
                        self.on_push(v)
                    };
                    if let Err(e) = r {
                        result = Err(e);
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    result = Err(format!("Redis sent what natterd cannot read ({e})"));
                    break;
                }
            }
        }
        input.drain(..used);
        if let Some(s) = if is_cmd {
            self.cmd.as_mut()
        } else {
            self.sub.as_mut()
        } {
            s.input = input;
        }
        result?;
        self.check_up();
        Ok(())
    }

    /// One reply on the command connection.
    fn on_reply(&mut self, v: Value) -> Result<(), String> {
        let Some((expect, _)) = self.expect.pop_front() else {
            return Err("Redis answered a command natterd did not send".into());
        };
        match (expect, v) {
            (Expect::Setup(what), Value::Error(e)) => Err(refused(what, &e)),
            (Expect::Ignore, Value::Error(e)) => {
                if !self.ignored_error_logged {
                    self.ignored_error_logged = true;
                    log::warn!("cluster: Redis refused a command: {e} (logged once per link; natterd's Redis user needs PUBLISH, SUBSCRIBE, EVAL, SET, GET, PEXPIRE and DEL)");
                }
                Ok(())
            }
            (Expect::Setup(_), _) | (Expect::Ignore, _) => Ok(()),
            (Expect::Claim { conn, conn_id }, v) => {
                let claim = match v {
                    Value::Array(Some(r)) if r == [Value::Int(1)] => Claim::Won,
                    Value::Array(Some(r)) if r == [Value::Int(0)] => Claim::Taken,
                    other => {
                        log::warn!("cluster: a name claim got {other:?} from Redis; the node decides alone");
                        Claim::Unknown
                    }
                };
                self.events.push(LinkEvent::Claimed {
                    conn,
                    conn_id,
                    claim,
                });
                Ok(())
            }
            (Expect::Refresh(names), Value::Array(Some(kept))) => {
                let lost: Vec<UserName> = names
                    .into_iter()
                    .zip(kept)
                    .filter(|(_, k)| *k == Value::Int(0))
                    .map(|(n, _)| n)
                    .collect();
                if !lost.is_empty() {
                    self.events.push(LinkEvent::Lost(lost));
                }
                Ok(())
            }
            (Expect::Refresh(_), Value::Error(e)) => {
                // Scripting refused (an ACL without EVAL, say): claims are not kept
                // alive, and names will expire. Loud, but not a reason to drop chat.
                log::error!("cluster: Redis refused to refresh name claims: {e} (natterd's Redis user needs EVAL, SET, GET, PEXPIRE, DEL and PUBLISH)");
                Ok(())
            }
            (Expect::Refresh(_), other) => {
                log::warn!("cluster: a claims refresh got {other:?} from Redis");
                Ok(())
            }
        }
    }

    /// One reply or message on the subscriber connection.
    fn on_push(&mut self, v: Value) -> Result<(), String> {
        self.sub_heard = Instant::now();
        if self.sub_setup > 0 {
            self.sub_setup -= 1;
            if let Value::Error(e) = v {
                return Err(refused("AUTH", &e));
            }
            return Ok(());
        }
        let Value::Array(Some(items)) = v else {
            if let Value::Error(e) = v {
                return Err(refused("SUBSCRIBE", &e));
            }
            return Ok(());
        };
        match items.first().and_then(Value::as_bytes) {
            Some(b"subscribe") => self.subscribed += 1,
            Some(b"message") => {
                if let Some(Value::Bulk(Some(payload))) = items.into_iter().nth(2) {
                    self.events.push(LinkEvent::Message(payload));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check_up(&mut self) {
        let setup_done = !self
            .expect
            .iter()
            .any(|(e, _)| matches!(e, Expect::Setup(_)));
        if self.state == State::Connecting
            && setup_done
            && self.sub_setup == 0
            && self.subscribed >= 2
        {
            self.state = State::Up;
            self.backoff = BACKOFF.0;
            self.ignored_error_logged = false;
            let now = Instant::now();
            self.next_beat = now;
            // Claims first thing: Redis may have restarted and lost them all.
            self.next_refresh = now;
            if self.last_error.take().is_some() {
                log::info!(
                    "cluster: node {} linked to {} again",
                    self.config.node,
                    self.config.url
                );
            } else {
                log::info!(
                    "cluster: node {} linked to {}",
                    self.config.node,
                    self.config.url
                );
            }
            self.events.push(LinkEvent::Up);
        }
    }

    fn connect(&mut self, registry: &Registry) {
        self.started = Instant::now();
        self.state = State::Connecting;
        // Each try the next address the name gave (IPv6 and IPv4 of localhost, say).
        self.attempt = self.attempt.wrapping_add(1);
        let addr = self.addrs[self.attempt % self.addrs.len()];
        let open = |token: Token| -> io::Result<Stream> {
            let mut sock = TcpStream::connect(addr)?;
            registry.register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)?;
            Ok(Stream {
                sock,
                tls: None,
                connected: false,
                out: Vec::new(),
                out_at: 0,
                input: Vec::new(),
            })
        };
        let (mut cmd, mut sub) = match (open(CMD), open(SUB)) {
            (Ok(c), Ok(s)) => (c, s),
            (Err(e), _) | (_, Err(e)) => {
                return self.fail(
                    registry,
                    format!("cannot connect to {}: {e}", self.config.url),
                )
            }
        };
        if let Some(tls) = &self.tls {
            let name = match rustls::pki_types::ServerName::try_from(self.config.url.host.clone()) {
                Ok(n) => n,
                Err(e) => {
                    return self.fail(
                        registry,
                        format!("{} is not a TLS server name: {e}", self.config.url.host),
                    )
                }
            };
            for s in [&mut cmd, &mut sub] {
                match rustls::ClientConnection::new(tls.clone(), name.clone()) {
                    Ok(c) => s.tls = Some(c),
                    Err(e) => return self.fail(registry, format!("TLS: {e}")),
                }
            }
        }
        self.expect.clear();
        self.subscribed = 0;
        self.sub_setup = 0;
        let url = &self.config.url;
        let mut setup: Vec<(Vec<Vec<u8>>, &'static str)> = Vec::new();
        if let Some(pw) = &url.password {
            let mut auth = vec![b"AUTH".to_vec()];
            if let Some(u) = &url.user {
                auth.push(u.as_bytes().to_vec());
            }
            auth.push(pw.as_bytes().to_vec());
            setup.push((auth, "AUTH"));
        }
        if url.db != 0 {
            setup.push((
                vec![b"SELECT".to_vec(), url.db.to_string().into_bytes()],
                "SELECT",
            ));
        }
        for (args, what) in &setup {
            resp::command(&mut cmd.out, args);
            self.expect.push_back((Expect::Setup(what), Instant::now()));
            resp::command(&mut sub.out, args);
            self.sub_setup += 1;
        }
        // The command connection answers something before the link counts as up,
        // with or without AUTH and SELECT: it is connected and Redis hears it.
        resp::command(&mut cmd.out, &[b"PING".as_slice()]);
        self.expect
            .push_back((Expect::Setup("PING"), Instant::now()));
        let mine = node_channel(&self.config.node);
        resp::command(
            &mut sub.out,
            &[b"SUBSCRIBE", ALL.as_bytes(), mine.as_bytes()],
        );
        self.cmd = Some(cmd);
        self.sub = Some(sub);
        self.sub_heard = Instant::now();
    }

    /// Drops both connections; the next try comes after the back-off.
    fn fail(&mut self, registry: &Registry, why: String) {
        let was_up = self.state == State::Up;
        for s in [self.cmd.take(), self.sub.take()].into_iter().flatten() {
            let mut sock = s.sock;
            let _ = registry.deregister(&mut sock);
        }
        for (e, _) in self.expect.drain(..) {
            if let Expect::Claim { conn, conn_id } = e {
                self.events.push(LinkEvent::Claimed {
                    conn,
                    conn_id,
                    claim: Claim::Unknown,
                });
            }
        }
        self.state = State::Down;
        self.retry_at = Instant::now() + self.backoff;
        if self.last_error.as_deref() != Some(why.as_str()) {
            log::warn!(
                "cluster: {why}; node {} serves its own users only until the link to {} is back (next try in {} ms)",
                self.config.node,
                self.config.url,
                self.backoff.as_millis()
            );
            self.last_error = Some(why);
        }
        self.backoff = (self.backoff * 2).min(BACKOFF.1);
        if was_up {
            self.events.push(LinkEvent::Down);
        }
    }
}

/// Redis said no to setup: in words that name the fix. Of an AUTH error only its
/// code: some errors (an unknown command) repeat the arguments, the password among them.
fn refused(what: &str, e: &str) -> String {
    let code = e.split(' ').next().unwrap_or("");
    if what == "AUTH" || code == "WRONGPASS" || code == "NOAUTH" {
        format!("Redis refused {what}: {code} (check the user and password: --cluster URL, --cluster-password-file or NATTER_CLUSTER_PASSWORD)")
    } else {
        format!("Redis refused {what}: {e}")
    }
}
