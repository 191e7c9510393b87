//! TLS for `--tls`, with rustls (ring): the handshake with a deadline and a name for
//! every way it can fail ([`handshake`]), and the two halves of one
//! `rustls::ClientConnection` shared by the reader and the writer thread
//! ([`TlsRead`], [`TlsWrite`]). Whom to trust is `trust`'s business.
//!
//! The socket is never read or written under the connection's lock for long: the
//! reader blocks on the socket without it and takes it only to feed rustls what
//! arrived; the writer takes it to encrypt, then writes the records without it. Only
//! the writer thread writes records, so they leave in the order rustls made them;
//! when the reader's processing makes rustls want to write (an alert, a key update),
//! it asks the writer to flush.

use crate::display::io_words;
use crate::net::trust::{self, Presented, Refusal};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// Ciphertext read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// Why the TLS handshake did not give a connection.
#[derive(Debug)]
pub enum HandshakeError {
    /// The host cannot be a TLS server name.
    BadName(String),
    /// The peer answered in plain text: a natterd without TLS.
    NotTls,
    /// The certificate does not verify; the words say why.
    Untrusted(Refusal),
    /// No handshake within the time allowed (this many seconds).
    TimedOut(Duration),
    /// The peer closed the connection during the handshake.
    Closed,
    Failed(String),
}

/// Performs the handshake on `stream` within `timeout`, checking the certificate
/// against `host`; `presented` is where `config` keeps the certificate it saw.
pub fn handshake(
    stream: &TcpStream,
    config: Arc<ClientConfig>,
    presented: &Presented,
    host: &str,
    timeout: Duration,
) -> Result<ClientConnection, HandshakeError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::BadName(e.to_string()))?;
    let mut conn =
        ClientConnection::new(config, name).map_err(|e| HandshakeError::Failed(e.to_string()))?;
    let deadline = Instant::now() + timeout;
    let mut io = Recorder {
        stream,
        first: Vec::new(),
    };
    let result = loop {
        if !conn.is_handshaking() {
            break Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(HandshakeError::TimedOut(timeout));
        }
        let _ = stream.set_read_timeout(Some(left));
        let _ = stream.set_write_timeout(Some(left));
        if let Err(e) = conn.complete_io(&mut io) {
            break Err(classify(&e, &io.first, presented, timeout));
        }
    };
    let _ = stream.set_read_timeout(None);
    let _ = stream.set_write_timeout(None);
    result.map(|()| conn)
}

fn classify(
    e: &io::Error,
    first: &[u8],
    presented: &Presented,
    timeout: Duration,
) -> HandshakeError {
    // A natterd without TLS greets first, in plain text, whatever we sent.
    if first.starts_with(b"WELCOME ") || first.starts_with(b"ERR ") {
        return HandshakeError::NotTls;
    }
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            return HandshakeError::TimedOut(timeout)
        }
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => return HandshakeError::Closed,
        _ => {}
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => {
            HandshakeError::Untrusted(trust::refusal(c, presented.get().as_ref()))
        }
        Some(rustls::Error::InvalidMessage(_)) if looks_like_text(first) => HandshakeError::NotTls,
        Some(other) => HandshakeError::Failed(other.to_string()),
        None => HandshakeError::Failed(io_words(e)),
    }
}

/// Printable ASCII and line ends: a plain-text protocol, not a TLS record.
fn looks_like_text(b: &[u8]) -> bool {
    !b.is_empty()
        && b.iter()
            .all(|&c| c == b'\n' || c == b'\r' || (0x20..0x7f).contains(&c))
}

/// The socket for the handshake, keeping the first bytes read so a failure can say
/// what the peer spoke.
struct Recorder<'a> {
    stream: &'a TcpStream,
    first: Vec<u8>,
}

impl Read for Recorder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.stream).read(buf)?;
        let room = 64usize.saturating_sub(self.first.len()).min(n);
        self.first.extend_from_slice(&buf[..room]);
        Ok(n)
    }
}

impl Write for Recorder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.stream).write(buf)
    }

    /// rustls writes its records in one vectored write, and after a failure makes a
    /// single last attempt to send the alert that says why. The default
    /// `write_vectored` writes only the first buffer (a TLS 1.3 client's
    /// change-cipher-spec), which left the alert unsent and the server guessing.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        (&*self.stream).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.stream).flush()
    }
}

/// The connection both halves share, and how the reader asks the writer to flush.
pub struct Shared {
    conn: Mutex<ClientConnection>,
    flush: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, ClientConnection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets what to call when rustls has records of its own to send; until then
    /// they wait for the next request, which sends them first.
    pub fn on_flush(&self, f: Box<dyn Fn() + Send + Sync>) {
        let _ = self.flush.set(f);
    }
}

/// The two halves of an established TLS connection on `stream`.
pub fn split(conn: ClientConnection, stream: TcpStream) -> io::Result<(TlsRead, TlsWrite)> {
    let shared = Arc::new(Shared {
        conn: Mutex::new(conn),
        flush: OnceLock::new(),
    });
    Ok((
        TlsRead {
            shared: shared.clone(),
            sock: stream.try_clone()?,
            inbuf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
        },
        TlsWrite {
            shared,
            sock: stream,
        },
    ))
}

/// Decrypted bytes for the reader thread.
pub struct TlsRead {
    shared: Arc<Shared>,
    sock: TcpStream,
    /// Ciphertext read but not yet taken by rustls: `inbuf[start..end]`.
    inbuf: Vec<u8>,
    start: usize,
    end: usize,
}

impl TlsRead {
    pub fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

impl Read for TlsRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut c = self.shared.lock();
                match c.reader().read(buf) {
                    // Ok(0) is the server's close_notify: the clean end.
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if self.start < self.end {
                    let n = c.read_tls(&mut &self.inbuf[self.start..self.end])?;
                    self.start += n;
                    let processed = c.process_new_packets();
                    let wants_write = c.wants_write();
                    drop(c);
                    if wants_write {
                        if let Some(flush) = self.shared.flush.get() {
                            flush();
                        }
                    }
                    processed.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    continue;
                }
            }
            // Nothing buffered: wait for the network without holding the lock.
            let n = self.sock.read(&mut self.inbuf)?;
            if n == 0 {
                return Ok(0);
            }
            (self.start, self.end) = (0, n);
        }
    }
}

/// The writer thread's side: encrypt under the lock, write without it.
pub struct TlsWrite {
    shared: Arc<Shared>,
    sock: TcpStream,
}

impl TlsWrite {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Encrypts and sends all of `bytes`; with none, sends the records rustls has
    /// queued of its own.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        loop {
            let mut records = Vec::new();
            {
                let mut c = self.shared.lock();
                if !rest.is_empty() {
                    let n = c.writer().write(rest)?;
                    rest = &rest[n..];
                }
                while c.wants_write() {
                    c.write_tls(&mut records)?;
                }
            }
            if records.is_empty() && !rest.is_empty() {
                return Err(io::Error::other("TLS would not take more data"));
            }
            self.sock.write_all(&records)?;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::CertificateError;

    #[test]
    fn text_and_records_are_told_apart() {
        let none = Presented::default();
        let t = Duration::from_secs(10);
        assert!(looks_like_text(b"WELCOME natter/1 3 hi\n"));
        assert!(!looks_like_text(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(!looks_like_text(b""));
        let plain = io::Error::new(io::ErrorKind::InvalidData, "x");
        assert!(matches!(
            classify(&plain, b"WELCOME natter/1 1 hi", &none, t),
            HandshakeError::NotTls
        ));
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert!(matches!(
            classify(&eof, b"", &none, t),
            HandshakeError::Closed
        ));
        let slow = io::Error::from(io::ErrorKind::WouldBlock);
        assert!(matches!(
            classify(&slow, b"", &none, t),
            HandshakeError::TimedOut(d) if d == t
        ));
        let bad = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        match classify(&bad, &[0x16, 0x03], &none, t) {
            HandshakeError::Untrusted(r) => {
                assert!(r.why.contains("not signed by an authority"), "{}", r.why);
                assert!(r.hint.contains("--ca-file"), "{}", r.hint);
            }
            other => panic!("{other:?}"),
        }
    }
}
