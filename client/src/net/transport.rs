//! The connection's two directions once it is open: a [`ReadHalf`] for the reader
//! thread, a [`WriteHalf`] for the writer thread, and a [`Closer`] that anyone may use
//! to end the connection (which wakes the reader, so the session always ends
//! cleanly). Plaintext is the socket itself, cloned, and nothing here buffers; TLS is
//! one rustls connection shared by both halves (see `tls`).

use crate::net::tls::{TlsRead, TlsWrite};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// What the reader thread reads decrypted (or plain) bytes from.
pub enum ReadHalf {
    Plain(TcpStream),
    Tls(TlsRead),
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(s) => s.read(buf),
            ReadHalf::Tls(t) => t.read(buf),
        }
    }
}

impl ReadHalf {
    /// A limit for the greeting; `None` afterwards.
    pub fn set_read_timeout(&self, limit: Option<Duration>) -> io::Result<()> {
        match self {
            ReadHalf::Plain(s) => s.set_read_timeout(limit),
            ReadHalf::Tls(t) => t.socket().set_read_timeout(limit),
        }
    }

    /// Plaintext only: the bytes waiting, without taking them (`None` for TLS).
    pub fn peek(&self, buf: &mut [u8]) -> Option<io::Result<usize>> {
        match self {
            ReadHalf::Plain(s) => Some(s.peek(buf)),
            ReadHalf::Tls(_) => None,
        }
    }
}

/// What the writer thread writes whole frames to.
pub enum WriteHalf {
    Plain(TcpStream),
    Tls(TlsWrite),
}

impl WriteHalf {
    /// Writes all of `bytes` (blocking as the socket allows). For TLS, empty `bytes`
    /// sends what rustls queued of its own.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Plain(s) => s.write_all(bytes),
            WriteHalf::Tls(t) => t.send(bytes),
        }
    }
}

/// Ends the connection from any thread: the reader's next read returns, and the
/// session reports its end.
pub struct Closer(TcpStream);

impl Closer {
    pub fn close(&self) {
        let _ = self.0.shutdown(Shutdown::Both);
    }
}

/// The three handles on one open connection.
pub struct Transport {
    pub read: ReadHalf,
    pub write: WriteHalf,
    pub closer: Closer,
}

/// A plaintext connection: three handles on the same socket.
pub fn plain(stream: TcpStream) -> io::Result<Transport> {
    Ok(Transport {
        read: ReadHalf::Plain(stream.try_clone()?),
        closer: Closer(stream.try_clone()?),
        write: WriteHalf::Plain(stream),
    })
}

/// A TLS connection whose handshake is done.
pub fn tls(conn: rustls::ClientConnection, stream: TcpStream) -> io::Result<Transport> {
    let closer = Closer(stream.try_clone()?);
    let (read, write) = crate::net::tls::split(conn, stream)?;
    Ok(Transport {
        read: ReadHalf::Tls(read),
        write: WriteHalf::Tls(write),
        closer,
    })
}
