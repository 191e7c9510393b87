//! `Net`: many non-blocking client connections on one mio poll, each with a read
//! buffer and an unbounded-but-watched write buffer. It moves bytes only; the
//! scenarios decide what they mean.

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

pub struct Peer {
    pub stream: TcpStream,
    pub rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    wants_write: bool,
    pub connected: bool,
    pub closed: bool,
}

pub struct Net {
    poll: Poll,
    events: Events,
    pub peers: Slab<Peer>,
    scratch: Vec<u8>,
    /// Peers that stopped reading at their budget with bytes still waiting.
    again: Vec<usize>,
    pub errors: u64,
}

/// Bytes read from one peer per poll, so a fast sender cannot grow its buffer without
/// bound while the scenario waits to parse it.
const READ_BUDGET: usize = 1 << 20;

/// What happened to one peer during a poll.
pub enum Happened {
    /// Bytes were appended to the peer's `rbuf`.
    Data(usize),
    /// The peer's connection ended (EOF or error).
    Closed(usize),
}

impl Net {
    pub fn new() -> io::Result<Net> {
        Ok(Net {
            poll: Poll::new()?,
            events: Events::with_capacity(4096),
            peers: Slab::new(),
            scratch: vec![0; 256 * 1024],
            again: Vec::new(),
            errors: 0,
        })
    }

    pub fn connect(&mut self, addr: SocketAddr) -> io::Result<usize> {
        let mut stream = TcpStream::connect(addr)?;
        let entry = self.peers.vacant_entry();
        let key = entry.key();
        self.poll.registry().register(
            &mut stream,
            Token(key),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(Peer {
            stream,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            wants_write: true,
            connected: false,
            closed: false,
        });
        Ok(key)
    }

    /// Queues bytes and writes what the socket takes now.
    pub fn send(&mut self, k: usize, bytes: &[u8]) {
        let Some(p) = self.peers.get_mut(k) else {
            return;
        };
        if p.closed {
            return;
        }
        p.wbuf.extend_from_slice(bytes);
        if p.connected {
            self.flush(k);
        }
    }

    fn flush(&mut self, k: usize) {
        let Some(p) = self.peers.get_mut(k) else {
            return;
        };
        while p.wpos < p.wbuf.len() {
            match p.stream.write(&p.wbuf[p.wpos..]) {
                Ok(0) => break,
                Ok(n) => p.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    p.closed = true;
                    return;
                }
            }
        }
        if p.wpos == p.wbuf.len() {
            p.wbuf.clear();
            p.wpos = 0;
        } else if p.wpos > 1 << 20 {
            p.wbuf.drain(..p.wpos);
            p.wpos = 0;
        }
        let want = p.wpos < p.wbuf.len();
        if want != p.wants_write {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self
                .poll
                .registry()
                .reregister(&mut p.stream, Token(k), interest);
            p.wants_write = want;
        }
    }

    /// Waits up to `timeout` and reports what arrived.
    pub fn poll(&mut self, timeout: Option<Duration>, out: &mut Vec<Happened>) {
        out.clear();
        let timeout = if self.again.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        };
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.errors += 1;
            }
            return;
        }
        let mut ready: Vec<(usize, bool, bool)> = self
            .events
            .iter()
            .map(|e| {
                (
                    e.token().0,
                    e.is_readable() || e.is_read_closed() || e.is_error(),
                    e.is_writable(),
                )
            })
            .collect();
        ready.extend(self.again.drain(..).map(|k| (k, true, false)));
        for (k, readable, writable) in ready {
            let Some(p) = self.peers.get_mut(k) else {
                continue;
            };
            if p.closed {
                continue;
            }
            if writable && !p.connected {
                match p.stream.peer_addr() {
                    Ok(_) => p.connected = true,
                    Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
                    Err(_) => {
                        p.closed = true;
                        self.errors += 1;
                        out.push(Happened::Closed(k));
                        continue;
                    }
                }
            }
            if writable && p.connected {
                self.flush(k);
            }
            if readable {
                self.read(k, out);
            }
        }
    }

    fn read(&mut self, k: usize, out: &mut Vec<Happened>) {
        let Some(p) = self.peers.get_mut(k) else {
            return;
        };
        let mut got = false;
        let mut total = 0;
        loop {
            if total >= READ_BUDGET {
                self.again.push(k);
                break;
            }
            match p.stream.read(&mut self.scratch) {
                Ok(0) => {
                    p.closed = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    p.rbuf.extend_from_slice(&self.scratch[..n]);
                    got = true;
                    p.connected = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    p.closed = true;
                    break;
                }
            }
        }
        if got {
            out.push(Happened::Data(k));
        }
        if p.closed {
            out.push(Happened::Closed(k));
        }
    }

    pub fn close(&mut self, k: usize) {
        if self.peers.contains(k) {
            let mut p = self.peers.remove(k);
            let _ = self.poll.registry().deregister(&mut p.stream);
        }
    }
}
