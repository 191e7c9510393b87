//! TLS for `--tls`, with rustls (ring): whom to trust ([`Trust`], [`config`]), the
//! handshake with a deadline and a name for every way it can fail ([`handshake`]),
//! and the two halves of one `rustls::ClientConnection` shared by the reader and the
//! writer thread ([`TlsRead`], [`TlsWrite`]).
//!
//! The socket is never read or written under the connection's lock for long: the
//! reader blocks on the socket without it and takes it only to feed rustls what
//! arrived; the writer takes it to encrypt, then writes the records without it. Only
//! the writer thread writes records, so they leave in the order rustls made them;
//! when the reader's processing makes rustls want to write (an alert, a key update),
//! it asks the writer to flush.

use crate::display::io_words;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How long the TLS handshake may take, after the TCP connection is made.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Ciphertext read from the socket at once.
const READ_CHUNK: usize = 16 * 1024;

/// Whom to believe the server is.
pub enum Trust {
    /// The system's trusted authorities (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured).
    System,
    /// The certificates in a PEM file: the server's own (self-signed) or its CA's.
    CaFile(std::path::PathBuf),
    /// Nobody is checked (`--tls-insecure`): for local testing only.
    Insecure,
}

/// Builds the client configuration. `Err` is a message for a setting that cannot
/// work (a CA file that cannot be read, a system without trusted roots).
pub fn config(trust: &Trust) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth(),
        Trust::CaFile(path) => builder
            .with_root_certificates(ca_file(path)?)
            .with_no_client_auth(),
        Trust::System => builder
            .with_root_certificates(system_roots()?)
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn ca_file(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read the --ca-file {shown}: {}", pem_words(&e)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot read the --ca-file {shown}: {}", pem_words(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "the --ca-file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    let mut roots = RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("cannot use a certificate in the --ca-file {shown}: {e}"))?;
    }
    Ok(roots)
}

fn pem_words(e: &rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io_words(io),
        other => format!("{other:?}"),
    }
}

fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none found".to_string(), |e| e.to_string());
        return Err(format!(
            "this machine has no trusted certificate authorities to check the server against ({why}); install them (the ca-certificates package) or give the server's certificate with --ca-file"
        ));
    }
    Ok(roots)
}

/// Accepts any certificate, but still checks that the server holds its key.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why the TLS handshake did not give a connection.
#[derive(Debug)]
pub enum HandshakeError {
    /// The host cannot be a TLS server name.
    BadName(String),
    /// The peer answered in plain text: a natterd without TLS.
    NotTls,
    /// The certificate does not verify; the words say why.
    Untrusted {
        why: String,
        hint: &'static str,
    },
    /// No handshake within [`HANDSHAKE_TIMEOUT`].
    TimedOut,
    /// The peer closed the connection during the handshake.
    Closed,
    Failed(String),
}

/// Performs the handshake on `stream` within [`HANDSHAKE_TIMEOUT`], checking the
/// certificate against `host`.
pub fn handshake(
    stream: &TcpStream,
    config: Arc<ClientConfig>,
    host: &str,
) -> Result<ClientConnection, HandshakeError> {
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| HandshakeError::BadName(e.to_string()))?;
    let mut conn =
        ClientConnection::new(config, name).map_err(|e| HandshakeError::Failed(e.to_string()))?;
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
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
            break Err(HandshakeError::TimedOut);
        }
        let _ = stream.set_read_timeout(Some(left));
        let _ = stream.set_write_timeout(Some(left));
        if let Err(e) = conn.complete_io(&mut io) {
            break Err(classify(&e, &io.first));
        }
    };
    let _ = stream.set_read_timeout(None);
    let _ = stream.set_write_timeout(None);
    result.map(|()| conn)
}

fn classify(e: &io::Error, first: &[u8]) -> HandshakeError {
    // A natterd without TLS greets first, in plain text, whatever we sent.
    if first.starts_with(b"WELCOME ") || first.starts_with(b"ERR ") {
        return HandshakeError::NotTls;
    }
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => return HandshakeError::TimedOut,
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => return HandshakeError::Closed,
        _ => {}
    }
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::InvalidCertificate(c)) => {
            let (why, hint) = certificate_words(c);
            HandshakeError::Untrusted { why, hint }
        }
        Some(rustls::Error::InvalidMessage(_)) if looks_like_text(first) => HandshakeError::NotTls,
        Some(other) => HandshakeError::Failed(other.to_string()),
        None => HandshakeError::Failed(io_words(e)),
    }
}

/// What a certificate error means for a person, and what to do about it.
fn certificate_words(e: &CertificateError) -> (String, &'static str) {
    const CA: &str = "use --ca-file with the server's certificate or its authority's";
    match e {
        CertificateError::UnknownIssuer => (
            "it is not signed by an authority this machine trusts (a self-signed certificate, say)"
                .into(),
            CA,
        ),
        CertificateError::NotValidForName => (
            "it is for another name".into(),
            "connect by a name the certificate holds",
        ),
        CertificateError::NotValidForNameContext { presented, .. } => (
            format!(
                "it is for {}",
                presented
                    .iter()
                    .map(|n| bare_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "connect by a name the certificate holds",
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            "it has expired".into(),
            "the server needs a new certificate, or this machine's clock is wrong",
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            ("it is not valid yet".into(), "check this machine's clock")
        }
        CertificateError::Revoked => (
            "it has been revoked".into(),
            "the server needs a new certificate",
        ),
        CertificateError::BadSignature | CertificateError::BadEncoding => {
            ("it is damaged or forged".into(), CA)
        }
        // What webpki says when no trusted authority signed the certificate in a way
        // it can check, which for a self-signed certificate is the same news.
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => (
            "it is not signed by an authority this machine trusts (or not in a way natter can check)".into(),
            CA,
        ),
        CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => (
            "it is an authority's certificate (CA:TRUE) used as the server's own; make the server a certificate with CA:FALSE, signed by that authority or by itself".into(),
            "give the authority's certificate with --ca-file",
        ),
        other => (format!("{other:?}"), CA),
    }
}

/// `DnsName("localhost")` and `IpAddress(127.0.0.1)`, as rustls lists the names a
/// certificate holds, to `localhost` and `127.0.0.1`.
fn bare_name(n: &str) -> String {
    let inner = n
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or(n);
    inner.trim_matches('"').to_string()
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

    #[test]
    fn text_and_records_are_told_apart() {
        assert!(looks_like_text(b"WELCOME natter/1 3 hi\n"));
        assert!(!looks_like_text(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(!looks_like_text(b""));
        let plain = io::Error::new(io::ErrorKind::InvalidData, "x");
        assert!(matches!(
            classify(&plain, b"WELCOME natter/1 1 hi"),
            HandshakeError::NotTls
        ));
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert!(matches!(classify(&eof, b""), HandshakeError::Closed));
        let slow = io::Error::from(io::ErrorKind::WouldBlock);
        assert!(matches!(classify(&slow, b""), HandshakeError::TimedOut));
        let bad = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        match classify(&bad, &[0x16, 0x03]) {
            HandshakeError::Untrusted { why, hint } => {
                assert!(why.contains("not signed by an authority"), "{why}");
                assert!(hint.starts_with("use --ca-file"), "{hint}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn certificate_names_are_shown_bare() {
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("plain"), "plain");
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("natter-unit-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = config(&Trust::CaFile(empty)).err().unwrap();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = config(&Trust::CaFile(dir.join("missing.pem")))
            .err()
            .unwrap();
        assert!(e.starts_with("cannot read the --ca-file "), "{e}");
        assert!(config(&Trust::Insecure).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
