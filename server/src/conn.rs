//! `Conn`: everything natterd knows about one connection, kept in the loop's slab
//! under its mio token. It holds state only; the event loop does the I/O and the
//! handler decides what the bytes mean.

use crate::files::{FileSend, Upload};
use crate::limits::TokenBucket;
use crate::out_queue::OutQueue;
use crate::services::Game;
use mio::net::TcpStream;
use natter_protocol::{SessionInfo, Time, UserName};
use std::net::SocketAddr;
use std::time::Instant;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Reading requests and answering them.
    Open,
    /// Done with requests: the last output goes out, then the write side is shut and
    /// whatever the peer still sends is read and dropped until it closes or the
    /// deadline passes (closing with unread input would make the kernel send an RST,
    /// which can destroy the final reply before the peer reads it).
    Draining { deadline: Instant, write_shut: bool },
    /// To be deregistered and removed at the end of this loop turn.
    Dead,
}

pub struct Conn {
    pub stream: TcpStream,
    /// The `conn-id` of `WELCOME`: unique for the server's lifetime, unlike the token.
    pub id: u64,
    pub addr: SocketAddr,
    pub connected: Time,
    /// The unparsed tail of what arrived: at most one partial frame. Empty (and
    /// unallocated) between frames, so an idle connection costs no buffer.
    pub read_buf: Vec<u8>,
    pub out: OutQueue,
    pub name: Option<UserName>,
    pub named_at: Time,
    /// Where this connection sits in the server's member list, while it is named.
    pub member_slot: usize,
    /// The name this session took, kept after it leaves for `STATUS`.
    pub session_name: Option<UserName>,
    /// When it left (or began closing); `None` while live.
    pub ended: Option<Time>,
    /// Order among ended sessions (1 = the first to end).
    pub ended_seq: u64,
    pub game: Option<Game>,
    /// `AUTH` succeeded (or no secret is needed).
    pub authed: bool,
    pub auth_failures: u8,
    pub opened_at: Instant,
    /// Last time anything arrived from the peer.
    pub last_active: Instant,
    /// Last time output went out: a running download counts as activity, a stalled
    /// one does not.
    pub last_progress: Instant,
    pub bucket: TokenBucket,
    /// Out of request tokens: not read until then.
    pub paused_until: Option<Instant>,
    pub downloads: Vec<FileSend>,
    pub uploads: Vec<Upload>,
    pub phase: Phase,
    /// Already on the loop's dirty list this turn.
    pub dirty: bool,
    /// WRITABLE is part of the registered interest.
    pub wants_write: bool,
    /// The peer has shut its side (read returned 0).
    pub peer_closed: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The TLS session, on a TLS listener.
    pub tls: Option<Box<rustls::ServerConnection>>,
}

/// Moves queued plaintext into rustls (whose own buffer is capped) and its records
/// onto the socket, until the socket would block or everything is out.
fn write_through_tls(
    tls: &mut rustls::ServerConnection,
    stream: &mut TcpStream,
    out: &mut OutQueue,
    bytes_out: &mut u64,
) -> std::io::Result<()> {
    loop {
        if crate::tls::write_records(tls, stream)? {
            return Ok(());
        }
        if out.is_empty() {
            return Ok(());
        }
        let n = out.write_to(&mut crate::tls::plaintext(tls))?;
        *bytes_out += n as u64;
        if n == 0 && !tls.wants_write() {
            // rustls's buffer is full mid-handshake: wait for the peer.
            return Ok(());
        }
    }
}

impl Conn {
    pub fn new(stream: TcpStream, id: u64, addr: SocketAddr, burst: f64) -> Conn {
        let now = Instant::now();
        Conn {
            authed: false,
            auth_failures: 0,
            opened_at: now,
            last_active: now,
            last_progress: now,
            bucket: TokenBucket::new(burst, now),
            paused_until: None,
            stream,
            id,
            addr,
            connected: Time::now(),
            read_buf: Vec::new(),
            out: OutQueue::default(),
            name: None,
            named_at: Time(0),
            member_slot: 0,
            session_name: None,
            ended: None,
            ended_seq: 0,
            game: None,
            downloads: Vec::new(),
            uploads: Vec::new(),
            phase: Phase::Open,
            dirty: false,
            wants_write: false,
            peer_closed: false,
            tls: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// A named, open connection: one that receives chat.
    pub fn is_member(&self) -> bool {
        self.is_open() && self.name.is_some()
    }

    /// Writes queued output until the socket would block. Used by the loop's flush,
    /// and when a queue passes its cap mid-turn: a burst that the kernel can take
    /// straight away must not count against a reader that keeps up.
    pub fn write_pending(&mut self) -> std::io::Result<()> {
        if let Some(tls) = self.tls.as_deref_mut() {
            let before = self.bytes_out;
            let r = write_through_tls(tls, &mut self.stream, &mut self.out, &mut self.bytes_out);
            if self.bytes_out > before {
                self.last_progress = Instant::now();
            }
            return r;
        }
        while !self.out.is_empty() {
            match self.out.write_to(&mut self.stream) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.bytes_out += n as u64;
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the peer sent, decrypted if this is a TLS connection.
    pub fn read_plain(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.tls.as_deref_mut() {
            Some(tls) => crate::tls::read(tls, &mut self.stream, buf),
            None => std::io::Read::read(&mut self.stream, buf),
        }
    }

    /// Output is waiting: queued frames, or TLS records rustls has not sent yet.
    pub fn has_output(&self) -> bool {
        !self.out.is_empty() || self.tls.as_ref().is_some_and(|t| t.wants_write())
    }

    /// Ends our side: a TLS close_notify (best effort), then the TCP write shutdown.
    pub fn shut_write(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = crate::tls::write_records(tls, &mut self.stream);
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    pub fn session(&self) -> SessionInfo {
        SessionInfo {
            conn_id: self.id,
            name: self.session_name.clone(),
            addr: self.addr,
            connected: self.connected,
            ended: self.ended,
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        }
    }

    pub fn transfers(&self) -> usize {
        self.downloads.len() + self.uploads.len()
    }

    /// How the console names this connection: `alice (client 7)` or `client 7`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} (client {})", self.id),
            None => format!("client {}", self.id),
        }
    }
}
