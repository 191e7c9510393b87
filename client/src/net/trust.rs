//! Whom `--tls` believes the server is: the [`Policy`] (an authority's word, a
//! certificate given byte for byte, a pinned fingerprint, or nobody checked), the
//! rustls configuration that applies it, and, when a certificate is refused, the
//! words that say truly why ([`refusal`]).
//!
//! Three ways to be trusted, tried in this order:
//! 1. The certificate is exactly one of those in `--ca-file`: the user vouched for
//!    those very bytes, so its names, dates and CA flag are not questioned (the
//!    first `openssl req -x509` one-liner people find makes a CA:TRUE certificate
//!    without a subjectAltName, and curl, Python and OpenSSL accept it given as the
//!    trusted file).
//! 2. Its SHA-256 fingerprint is pinned: `--pin`, or trusted on first use.
//! 3. An authority vouches for it: one in `--ca-file`, else the system's, with the
//!    usual checks of chain, dates and the host name.
//!
//! In every case the server must prove it holds the certificate's key: the
//! handshake's signature is always verified.

use crate::display::io_words;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Whose word to take for the server's certificate.
pub enum Trust {
    /// The system's trusted authorities (`SSL_CERT_FILE` and `SSL_CERT_DIR` honoured).
    System,
    /// The certificates in a PEM file: the server's own (self-signed) or its CA's.
    CaFile(PathBuf),
    /// Nobody is checked (`--tls-insecure`): for local testing only.
    Insecure,
}

/// Everything that decides whether a certificate is trusted.
pub struct Policy {
    pub trust: Trust,
    /// Certificates trusted by their fingerprint whoever signed them: `--pin`, and
    /// the one trusted on first use for this host and port.
    pub pins: Vec<Fingerprint>,
    /// With [`Trust::System`]: a machine without trusted authorities is no error
    /// (pins, or trust on first use, may still vouch).
    pub roots_optional: bool,
}

/// The SHA-256 of a certificate's DER bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    pub fn of(der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Fingerprint(out)
    }

    /// `sha256:` and 64 hex digits, in either case, with or without colons between
    /// bytes: what `--pin` takes, and what `openssl x509 -fingerprint -sha256`
    /// prints after its `=`.
    pub fn parse(s: &str) -> Result<Fingerprint, String> {
        let shape = "sha256: and 64 hex digits, colons allowed (sha256:3F:A0:...)";
        let hex = s
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("sha256:"))
            .map(|_| &s[7..])
            .ok_or_else(|| format!("{s:?} is not a certificate fingerprint: {shape}"))?;
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(format!(
                "{s:?} is not a SHA-256 fingerprint: it has {} hex digits, not 64 ({shape})",
                digits.len()
            ));
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let pair = std::str::from_utf8(pair).unwrap_or("");
            out[i] = u8::from_str_radix(pair, 16)
                .map_err(|_| format!("{s:?} holds {pair:?}, which is not hex ({shape})"))?;
        }
        Ok(Fingerprint(out))
    }
}

/// `sha256:3F:A0:...`, the form `--pin` takes and openssl prints (after its `=`).
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// The certificate the server presented in the last handshake with this
/// configuration, kept for the words (and the question) after a refusal.
#[derive(Default)]
pub struct Presented(Mutex<Option<CertificateDer<'static>>>);

impl Presented {
    pub fn get(&self) -> Option<CertificateDer<'static>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, der: &CertificateDer<'_>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(der.clone().into_owned());
    }
}

/// The client configuration for `policy`, and where it keeps the certificate the
/// server presented. `Err` is a message for a setting that cannot work (a CA file
/// that cannot be read, a system without trusted roots).
pub fn config(policy: &Policy) -> Result<(Arc<ClientConfig>, Arc<Presented>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let presented = Arc::new(Presented::default());
    let (exact, roots) = match &policy.trust {
        Trust::Insecure => {
            let config = builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
                .with_no_client_auth();
            return Ok((Arc::new(config), presented));
        }
        Trust::CaFile(path) => {
            let certs = ca_file(path)?;
            let mut roots = RootCertStore::empty();
            // A certificate that cannot be an authority (a leaf, or one webpki cannot
            // read as an anchor) still counts byte for byte.
            let (added, _) = roots.add_parsable_certificates(certs.iter().cloned());
            (certs, (added > 0).then_some(roots))
        }
        Trust::System => match system_roots() {
            Ok(roots) => (Vec::new(), Some(roots)),
            Err(_) if policy.roots_optional || !policy.pins.is_empty() => (Vec::new(), None),
            Err(e) => return Err(e),
        },
    };
    let authorities = match roots {
        Some(r) => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(r), provider.clone())
                .build()
                .map_err(|e| format!("TLS setup: {e}"))?,
        ),
        None => None,
    };
    let verifier = Verifier {
        provider,
        exact,
        pins: policy.pins.clone(),
        authorities,
        presented: presented.clone(),
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok((Arc::new(config), presented))
}

fn ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
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
    Ok(certs)
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
            "this machine has no trusted certificate authorities to check the server against ({why}); install them (the ca-certificates package), or give the server's certificate with --ca-file or its fingerprint with --pin"
        ));
    }
    Ok(roots)
}

/// The three ways of being trusted (see the top of this file), in order.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    /// The certificates of `--ca-file`, each trusted as it is.
    exact: Vec<CertificateDer<'static>>,
    pins: Vec<Fingerprint>,
    /// `--ca-file`'s or the system's authorities; `None` when there are none.
    authorities: Option<Arc<WebPkiServerVerifier>>,
    presented: Arc<Presented>,
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Presented")
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.presented.set(end_entity);
        if self.exact.iter().any(|c| c.as_ref() == end_entity.as_ref())
            || self.pins.contains(&Fingerprint::of(end_entity))
        {
            return Ok(ServerCertVerified::assertion());
        }
        match &self.authorities {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        }
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
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

/// Why a certificate was refused, for a person, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub why: String,
    pub hint: String,
    /// Set when the only trouble is that nobody vouches for the certificate (it is
    /// self-signed, or its authority is unknown): its fingerprint, which a person
    /// may check and trust (`--pin`, or the question asked on a terminal).
    pub unvouched: Option<Fingerprint>,
}

const TRUST_IT: &str =
    "use --ca-file with the server's certificate or its authority's, or --pin with its fingerprint";

/// The words for a refused certificate. `presented` is what the server sent, when
/// known: it tells a self-signed certificate from a forged one.
pub fn refusal(e: &CertificateError, presented: Option<&CertificateDer<'_>>) -> Refusal {
    let fingerprint = presented.map(|c| Fingerprint::of(c));
    let self_signed = presented.is_some_and(is_self_signed);
    let plain = |why: &str, hint: &str| Refusal {
        why: why.to_string(),
        hint: hint.to_string(),
        unvouched: None,
    };
    let unvouched = |why: &str| Refusal {
        why: why.to_string(),
        hint: TRUST_IT.to_string(),
        unvouched: fingerprint,
    };
    let names = "connect by a name the certificate holds";
    match e {
        CertificateError::UnknownIssuer if self_signed => {
            unvouched("it is self-signed, and no authority this machine trusts vouches for it")
        }
        CertificateError::UnknownIssuer => {
            unvouched("it is not signed by an authority this machine trusts")
        }
        // webpki found a trusted authority with the name the certificate gives as its
        // issuer, and that authority's key did not sign it. A self-signed certificate
        // whose name is also a trusted one's (Debian's ssl-cert "snakeoil" for
        // localhost, say) looks exactly like that, and is no forgery.
        CertificateError::BadSignature if self_signed => unvouched(
            "it is self-signed; an authority this machine trusts has the same name, but did not sign it",
        ),
        CertificateError::BadSignature => plain(
            "its signature does not verify against the authority it names: it is damaged or forged",
            "the server needs a certificate that really comes from that authority",
        ),
        CertificateError::BadEncoding => plain(
            "it cannot be read (damaged, or not an X.509 certificate)",
            "the server needs a new certificate",
        ),
        CertificateError::NotValidForName => plain("it is for another name", names),
        CertificateError::NotValidForNameContext { presented, .. } if presented.is_empty() => plain(
            "it holds no host name at all (no subjectAltName; natter, like browsers, ignores the common name, CN)",
            "make it with a subjectAltName for the host, as scripts/dev-cert.sh does, or give that very certificate with --ca-file",
        ),
        CertificateError::NotValidForNameContext { presented, .. } => Refusal {
            why: format!(
                "it is for {}",
                presented
                    .iter()
                    .map(|n| bare_name(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: names.to_string(),
            unvouched: None,
        },
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => plain(
            "it has expired",
            "the server needs a new certificate, or this machine's clock is wrong",
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            plain("it is not valid yet", "check this machine's clock")
        }
        CertificateError::Revoked => plain(
            "it has been revoked",
            "the server needs a new certificate",
        ),
        // What webpki says when no trusted authority signed the certificate in a way
        // it can check, which for a self-signed certificate is the same news.
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => unvouched(
            "it is not signed by an authority this machine trusts (or not in a way natter can check)",
        ),
        CertificateError::Other(o) if o.to_string().contains("CaUsedAsEndEntity") => Refusal {
            why: "it is an authority's certificate (CA:TRUE) used as the server's own, and no authority this machine trusts signed it".into(),
            hint: "give that very certificate with --ca-file, or its fingerprint with --pin, to trust it as it is".into(),
            unvouched: fingerprint,
        },
        other => plain(&format!("{other:?}"), TRUST_IT),
    }
}

/// Whether `cert` is signed by its own key: verified with itself as the only
/// authority, it fails for nothing but its names, dates or CA flag.
fn is_self_signed(cert: &CertificateDer<'_>) -> bool {
    let mut roots = RootCertStore::empty();
    if roots.add(cert.clone().into_owned()).is_err() {
        return false;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(v) = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build()
    else {
        return false;
    };
    let Ok(name) = ServerName::try_from("self-signed.invalid") else {
        return false;
    };
    match v.verify_server_cert(cert, &[], &name, &[], UnixTime::now()) {
        Ok(_) => true,
        Err(rustls::Error::InvalidCertificate(e)) => matches!(
            e,
            CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. }
                | CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. }
        ),
        Err(_) => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_names_are_shown_bare() {
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("plain"), "plain");
    }

    #[test]
    fn fingerprints_read_as_openssl_prints_them() {
        let f = Fingerprint::of(b"not really a certificate");
        let shown = f.to_string();
        assert!(
            shown.starts_with("sha256:") && shown.len() == 7 + 32 * 3 - 1,
            "{shown}"
        );
        assert_eq!(Fingerprint::parse(&shown), Ok(f));
        let bare: String = shown[7..].chars().filter(|&c| c != ':').collect();
        assert_eq!(
            Fingerprint::parse(&format!("SHA256:{}", bare.to_lowercase())),
            Ok(f)
        );
        let e = Fingerprint::parse("md5:00").unwrap_err();
        assert!(e.contains("not a certificate fingerprint"), "{e}");
        let e = Fingerprint::parse("sha256:AB:CD").unwrap_err();
        assert!(e.contains("it has 4 hex digits, not 64"), "{e}");
        let e = Fingerprint::parse(&format!("sha256:{}zz", &bare[..62])).unwrap_err();
        assert!(e.contains("\"zz\", which is not hex"), "{e}");
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("natter-unit-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let policy = |t| Policy {
            trust: t,
            pins: Vec::new(),
            roots_optional: false,
        };
        let e = config(&policy(Trust::CaFile(empty))).err().unwrap();
        assert!(e.contains("holds no PEM certificate"), "{e}");
        let e = config(&policy(Trust::CaFile(dir.join("missing.pem"))))
            .err()
            .unwrap();
        assert!(e.starts_with("cannot read the --ca-file "), "{e}");
        assert!(config(&policy(Trust::Insecure)).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
