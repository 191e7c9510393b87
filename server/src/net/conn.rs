//! `Conn`: the socket side of one connection, kept in the loop's slab under its mio
//! token: the stream and its TLS session, what arrived and is not yet a whole frame,
//! what waits to go out (queued frames and running downloads), where it is in its
//! life, and the clocks and counters the loop's timeouts and flood control use. What
//! the connection means to the chat lives in the room, not here.

use super::out_queue::OutQueue;
use crate::chat::Traffic;
use crate::folder::FileSend;
use crate::limits::TokenBucket;
use mio::net::TcpStream;
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

#[derive(Default)]
pub struct Sends {
    /// Downloads being pumped into `out`, round robin, at the socket's pace.
    pub downloads: Vec<FileSend>,
    /// Downloads wholly queued as file ranges, ended once the last is out.
    pub sending: Vec<FileSend>,
}

pub struct Conn {
    pub stream: TcpStream,
    /// The `conn-id` of `WELCOME`, for log lines.
    pub id: u64,
    pub addr: SocketAddr,
    /// The unparsed tail of what arrived: at most one partial frame. Empty (and
    /// unallocated) between frames, so an idle connection costs no buffer.
    pub read_buf: Vec<u8>,
    pub out: OutQueue,
    /// Its downloads; boxed, as most connections never have one.
    pub transfers: Option<Box<Sends>>,
    /// The room has more to send it (a listing), pulled at the socket's pace like a
    /// download; until the room says it is done, no further request is read.
    pub pulling: bool,
    /// Its name's claim is out to Redis (cluster only): its next requests wait for
    /// the answer, so replies keep their order.
    pub held: bool,
    /// It asked for stamped messages (`HELLO ... stamps`).
    pub stamps: bool,
    pub phase: Phase,
    /// Already on the loop's dirty list this turn.
    pub dirty: bool,
    /// Already on the loop's over-cap list.
    pub over_cap: bool,
    /// WRITABLE is part of the registered interest.
    pub wants_write: bool,
    /// The peer has shut its side (read returned 0).
    pub peer_closed: bool,
    pub opened_at: Instant,
    /// Last time a whole request (or upload data) arrived from the peer.
    pub last_active: Instant,
    /// Last time output went out: a running download counts as activity, a stalled
    /// one does not.
    pub last_progress: Instant,
    pub bucket: TokenBucket,
    /// Out of request tokens: not read until then.
    pub paused_until: Option<Instant>,
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
        if super::tls::write_records(tls, stream)? {
            return Ok(());
        }
        if out.is_empty() {
            return Ok(());
        }
        let n = out.write_to(&mut super::tls::plaintext(tls))?;
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
            stream,
            id,
            addr,
            read_buf: Vec::new(),
            out: OutQueue::default(),
            transfers: None,
            pulling: false,
            held: false,
            stamps: false,
            phase: Phase::Open,
            dirty: false,
            over_cap: false,
            wants_write: false,
            peer_closed: false,
            opened_at: now,
            last_active: now,
            last_progress: now,
            bucket: TokenBucket::new(burst, now),
            paused_until: None,
            bytes_in: 0,
            bytes_out: 0,
            tls: None,
        }
    }

    pub fn downloads(&self) -> &[FileSend] {
        self.transfers.as_ref().map_or(&[], |t| &t.downloads)
    }

    pub fn sending(&self) -> &[FileSend] {
        self.transfers.as_ref().map_or(&[], |t| &t.sending)
    }

    pub fn tx(&mut self) -> &mut Sends {
        self.transfers.get_or_insert_with(Box::default)
    }

    pub fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    /// A download or a listing is still being sent.
    pub fn transferring(&self) -> bool {
        !self.downloads().is_empty() || !self.sending().is_empty() || self.pulling
    }

    /// Writes queued output until the socket would block. Used by the loop's flush,
    /// and when a queue passed its cap: a burst that the kernel can take straight
    /// away must not count against a reader that keeps up.
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
            match self.out.write_to_socket(&mut self.stream) {
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
            Some(tls) => super::tls::read(tls, &mut self.stream, buf),
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
            let _ = super::tls::write_records(tls, &mut self.stream);
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    pub fn traffic(&self) -> Traffic {
        Traffic {
            bytes_in: self.bytes_in,
            bytes_out: self.bytes_out,
        }
    }
}
