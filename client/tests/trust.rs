//! Whom natter trusts with `--tls`, end to end: natterd serving certificates made
//! for each test (rcgen) the way people make them, natter in batch mode, and what
//! both sides say when the certificate is refused.

mod common;

use common::*;
use std::path::PathBuf;

/// A certificate and its key in PEM files, and the certificate's DER bytes.
struct Pem {
    _dir: TempPath,
    cert: PathBuf,
    key: PathBuf,
}

fn write_pem(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Pem {
    let dir = TempPath::new("certs");
    std::fs::create_dir_all(&dir.0).unwrap();
    let (c, k) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    Pem {
        _dir: dir,
        cert: c,
        key: k,
    }
}

/// A self-signed leaf (CA:FALSE) for `localhost` and `127.0.0.1`.
fn self_signed_leaf() -> Pem {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    write_pem(&ck.cert, &ck.key_pair)
}

fn tls_server(pem: &Pem, extra: &[&str]) -> Natterd {
    let mut args = vec![
        "--tls-cert",
        pem.cert.to_str().unwrap(),
        "--tls-key",
        pem.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Natterd::start(&args)
}

/// A trust store for "the system" that has nothing to do with the test's
/// certificates (rustls-native-certs reads `SSL_CERT_FILE`).
fn unrelated_roots() -> (TempPath, PathBuf) {
    let dir = TempPath::new("other-ca");
    std::fs::create_dir_all(&dir.0).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["authority.invalid".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "natter test authority");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let roots = dir.0.join("roots.pem");
    std::fs::write(&roots, ca.pem()).unwrap();
    (dir, roots)
}

#[test]
fn natterd_logs_the_alert_of_a_client_that_refuses_its_certificate() {
    let pem = self_signed_leaf();
    let server = tls_server(&pem, &[]);
    let (_dir, roots) = unrelated_roots();
    let mut cmd = natter(&["--tls", "alice", "localhost", &server.port()]);
    cmd.env("SSL_CERT_FILE", &roots).env_remove("SSL_CERT_DIR");
    let out = run_cmd(cmd, "");
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    let log = server.wait_log("refused natterd's certificate");
    assert!(
        log.contains("client 1 from 127.0.0.1:")
            && log.contains("refused natterd's certificate (TLS alert: unknown authority)"),
        "{log}"
    );
    assert!(!log.contains("left: connection lost"), "{log}");
}
