//! Accepting: until `WouldBlock`; a pause instead of a spin when the process is out
//! of descriptors; a polite refusal (`ERR server-full`) when natterd is full or one
//! address holds too many connections; and a new connection's first step into the
//! room, which greets it.

use super::conn::Conn;
use super::Server;
use crate::chat::ConnRef;
use crate::limits::PerAddress;
use mio::{Interest, Token};
use natter_protocol::{ErrorCode, ServerFrame};
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// How long accepting pauses after the process ran out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

impl Server {
    pub(super) fn accept_all(&mut self) {
        if self.accept_paused_until.is_some() || self.shutting_down.is_some() {
            return;
        }
        loop {
            match self.listener.accept() {
                Ok((stream, addr)) => self.on_accept(stream, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // The pending connection stays in the backlog; try again shortly
                    // or when a connection closes, rather than spin or exit.
                    if !self.emfile_logged {
                        log::warn!(
                            "out of file descriptors with {} connections: pausing accepts ({e})",
                            self.conns.slab.len()
                        );
                        self.emfile_logged = true;
                    }
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
                Err(e) => {
                    // ECONNABORTED and friends concern one connection, not the listener.
                    log::warn!("accept failed: {e}");
                }
            }
        }
    }

    pub(super) fn resume_accepting(&mut self) {
        if let Some(t) = self.accept_paused_until {
            if Instant::now() >= t {
                self.accept_paused_until = None;
                self.accept_all();
                if self.accept_paused_until.is_none() && self.emfile_logged {
                    log::info!("accepting connections again");
                    self.emfile_logged = false;
                }
            }
        }
    }

    fn on_accept(&mut self, mut stream: mio::net::TcpStream, addr: SocketAddr) {
        let active = self.conns.slab.len();
        let max = self.config.max_clients;
        if active >= max {
            log::warn!("rejected {addr}: server is full ({active}/{max})");
            let text = format!("natterd is full ({active}/{max} clients); try again later");
            return self.refuse(stream, text);
        }
        let ip = addr.ip();
        let max_per_ip = self.config.max_per_ip;
        let exempt = PerAddress::exempt(ip) && !self.config.limit_loopback;
        if max_per_ip > 0 && !exempt && self.per_address.count(ip) as usize >= max_per_ip {
            log::warn!("rejected {addr}: {ip} already has {max_per_ip} connections");
            let text = format!(
                "too many connections from {ip} (at most {max_per_ip}); close one and try again"
            );
            return self.refuse(stream, text);
        }
        if let Err(e) = stream.set_nodelay(true) {
            log::debug!("TCP_NODELAY on {addr}: {e}");
        }
        if let Err(e) = notice_vanished_peers(&stream) {
            log::debug!("keepalive on {addr}: {e}");
        }
        let id = self.next_conn_id;
        self.next_conn_id += 1;
        let entry = self.conns.slab.vacant_entry();
        let token = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
        {
            log::warn!("cannot watch connection from {addr}: {e}");
            return;
        }
        let mut conn = Conn::new(stream, id, addr, self.config.max_burst);
        if let Some(tls) = &self.config.tls {
            match super::tls::new_connection(tls) {
                Ok(s) => conn.tls = Some(s),
                Err(e) => {
                    log::warn!("cannot start TLS for {addr}: {e}");
                    return;
                }
            }
        }
        entry.insert(conn);
        self.per_address.add(ip);
        log::info!("client {id} connected from {addr}");
        self.room.connect(&mut self.conns, ConnRef(token), id, addr);
    }

    /// Turns a connection away with a word where it can read one. A fresh socket's
    /// send buffer takes one short line; if it does not, the client sees the close,
    /// which also says "not here". A TLS client could not read a plaintext ERR: it
    /// sees the close instead.
    fn refuse(&self, mut stream: mio::net::TcpStream, text: String) {
        if self.config.tls.is_none() {
            let frame = ServerFrame::err(ErrorCode::ServerFull, text);
            let _ = io::Write::write(&mut stream, &frame.to_bytes());
        }
        let _ = stream.shutdown(Shutdown::Write);
    }
}

/// Silence after this long makes the kernel probe the peer (TCP keepalive).
const KEEPALIVE_IDLE_S: i32 = 30;
/// Between probes, and how many may go unanswered.
const KEEPALIVE_INTERVAL_S: i32 = 10;
const KEEPALIVE_PROBES: i32 = 3;
/// Output unacknowledged for this long ends the connection (TCP_USER_TIMEOUT):
/// keepalive probes only run on an idle connection, and without this a peer that
/// vanished with data in flight would be retransmitted to for a quarter of an hour.
const UNACKED_TIMEOUT_MS: u32 = 60_000;

/// A peer whose host vanished (no FIN, no RST) is noticed within about a minute,
/// idle or not, instead of at the idle timeout.
fn notice_vanished_peers(stream: &mio::net::TcpStream) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    let set = |level: i32, name: i32, value: i32| -> io::Result<()> {
        // SAFETY: setsockopt reads an int from the pointer we pass, for its length.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, KEEPALIVE_IDLE_S)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)?;
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, KEEPALIVE_PROBES)?;
    set(
        libc::IPPROTO_TCP,
        libc::TCP_USER_TIMEOUT,
        UNACKED_TIMEOUT_MS as i32,
    )
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM)
    )
}
