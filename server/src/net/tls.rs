//! TLS on the same loop: loading the certificate and key, and moving bytes between
//! a socket and a `rustls::ServerConnection`, which is a pure state machine the loop
//! feeds (as in rustls's own mio example). Nothing here blocks.

use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Plaintext rustls may hold for one connection, so output backpressure still ends
/// in the connection's own capped queue rather than inside rustls.
pub const TLS_BUFFER: usize = 64 * 1024;
/// A handshake that has not finished by then is abandoned.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the server's TLS configuration from PEM files.
pub fn load_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read certificate {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot parse certificate {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read private key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| format!("certificate and key do not work together: {e}"))
}

/// `sha256:3F:A0:...`: the SHA-256 of the first certificate in `cert`, as natter shows
/// it when it asks whether to trust a certificate nobody vouches for (and as `openssl
/// x509 -fingerprint -sha256` prints it), so a user can compare the two.
pub fn fingerprint(cert: &Path) -> Option<String> {
    let der = CertificateDer::pem_file_iter(cert).ok()?.next()?.ok()?;
    let digest = ring::digest::digest(&ring::digest::SHA256, der.as_ref());
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    Some(format!("sha256:{}", hex.join(":")))
}

pub fn new_connection(config: &Arc<rustls::ServerConfig>) -> io::Result<Box<ServerConnection>> {
    let mut c = ServerConnection::new(config.clone()).map_err(io::Error::other)?;
    c.set_buffer_limit(Some(TLS_BUFFER));
    Ok(Box::new(c))
}

/// Reads decrypted bytes; `Ok(0)` is the end of the stream, `WouldBlock` means come
/// back on the next readiness event. A TLS protocol error is `InvalidData`.
pub fn read(
    tls: &mut ServerConnection,
    stream: &mut TcpStream,
    buf: &mut [u8],
) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // The peer closed TCP without close_notify: for us, just the end.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(e) => return Err(e),
        }
        match tls.read_tls(stream) {
            Ok(0) => return Ok(0),
            Ok(_) => {
                if let Err(e) = tls.process_new_packets() {
                    // Let the alert that says why go out before the caller closes.
                    let _ = tls.write_tls(stream);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sends queued TLS records until the socket would block. Returns whether records
/// are still waiting.
pub fn write_records(tls: &mut ServerConnection, stream: &mut TcpStream) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(stream) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// A failed TLS read in words for the log. A fatal alert from the client is named:
/// a certificate alert means the client does not trust ours, which is the news an
/// operator setting up TLS needs. `handshaking`: the handshake was not over (only
/// then can the peer be a plaintext client).
pub fn failure_words(e: &io::Error, handshaking: bool) -> String {
    let alert = match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => alert,
        // What a client that sends plain text first gets: nc, or natter without --tls.
        Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType))
            if handshaking =>
        {
            return "a plaintext client on the TLS port (natter needs --tls to connect here)".into()
        }
        _ => return format!("TLS failed: {e}"),
    };
    use rustls::AlertDescription as A;
    let name = match alert {
        A::UnknownCA => "unknown authority",
        A::BadCertificate => "bad certificate",
        A::CertificateUnknown => "certificate unknown",
        A::CertificateExpired => "certificate expired",
        A::CertificateRevoked => "certificate revoked",
        A::UnsupportedCertificate => "unsupported certificate",
        // What rustls sends when the certificate's signature does not verify.
        A::DecryptError => "decrypt error, a signature that did not verify",
        other => return format!("TLS failed: the client sent the alert {other:?}"),
    };
    format!(
        "the client refused natterd's certificate (TLS alert: {name}); natter trusts a \
         self-signed one given with --ca-file or --pin, or accepted at its prompt"
    )
}

/// Whether the first bytes on a plaintext connection are a TLS ClientHello: a
/// handshake record (0x16) of TLS 1.x (0x03).
pub fn looks_like_client_hello(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x16 && bytes[1] == 0x03
}

/// rustls's plaintext writer, for `OutQueue::write_to`.
pub fn plaintext(tls: &mut ServerConnection) -> impl Write + '_ {
    tls.writer()
}

/// The TLS client side for `rediss://`: the system's roots, or only the
/// certificates of `ca_file` (a private CA, or Redis's own self-signed certificate).
pub fn redis_client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let shown = path.display();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<_, _>>())
                .map_err(|e| format!("cannot read the --cluster-ca file {shown}: {e}"))?;
            if certs.is_empty() {
                return Err(format!(
                    "the --cluster-ca file {shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
                ));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| format!("the --cluster-ca file {shown}: {e}"))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("this machine has no trusted certificate authorities to check Redis's certificate against; install them (the ca-certificates package) or give Redis's CA with --cluster-ca".into());
            }
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}
