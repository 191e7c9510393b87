//! Whom natter trusts with `--tls`, end to end: natterd serving certificates made
//! for each test (rcgen) the way people make them, natter in batch mode, and what
//! both sides say when the certificate is refused.

mod common;

use common::tty::Tty;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

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

/// A key and a certificate made from `params` by `issuer` (itself when `None`).
fn make(
    params: rcgen::CertificateParams,
    issuer: Option<&(rcgen::Certificate, rcgen::KeyPair)>,
) -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = match issuer {
        Some((ic, ik)) => params.signed_by(&key, ic, ik).unwrap(),
        None => params.self_signed(&key).unwrap(),
    };
    (cert, key)
}

/// Parameters with exactly this common name and these subjectAltNames.
fn params(cn: &str, sans: &[&str], ca: bool) -> rcgen::CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = rcgen::CertificateParams::new(sans).unwrap();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    if ca {
        p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    }
    p
}

fn pem_of(pair: &(rcgen::Certificate, rcgen::KeyPair)) -> Pem {
    write_pem(&pair.0, &pair.1)
}

/// natter in batch mode with `--tls` and these options, connecting to `host`;
/// `roots` stands in for the system's authorities.
fn tls_batch(server: &Natterd, opts: &[&str], host: &str, roots: &Path) -> Output {
    let port = server.port();
    let mut args = vec!["--tls"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&["alice", host, &port]);
    let mut cmd = natter(&args);
    cmd.env("SSL_CERT_FILE", roots).env_remove("SSL_CERT_DIR");
    run_cmd(cmd, "/echo through\n")
}

fn connected(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("* echo: through"),
        "{}",
        text(&out.stdout)
    );
}

fn refused(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    stderr
}

#[test]
fn the_certificate_given_with_ca_file_is_trusted_as_it_is() {
    let (_d, roots) = unrelated_roots();
    // What `openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost` makes:
    // CA:TRUE, and no subjectAltName.
    let ca_true = pem_of(&make(params("localhost", &[], true), None));
    let server = tls_server(&ca_true, &[]);
    let ca = ca_true.cert.to_str().unwrap();
    connected(&tls_batch(&server, &["--ca-file", ca], "localhost", &roots));
    // Its names are not questioned either: the user vouched for these bytes.
    connected(&tls_batch(&server, &["--ca-file", ca], "127.0.0.1", &roots));
    // The same with the hint's CA:FALSE, still without a subjectAltName.
    let leaf = pem_of(&make(params("localhost", &[], false), None));
    let server = tls_server(&leaf, &[]);
    let ca = leaf.cert.to_str().unwrap();
    connected(&tls_batch(&server, &["--ca-file", ca], "localhost", &roots));
    // Another certificate in the file does not vouch for it.
    let other = self_signed_leaf();
    let stderr = refused(&tls_batch(
        &server,
        &["--ca-file", other.cert.to_str().unwrap()],
        "localhost",
        &roots,
    ));
    assert!(
        stderr.contains("it is self-signed, and no authority"),
        "{stderr}"
    );
}

#[test]
fn a_chain_from_the_authority_in_ca_file_is_trusted() {
    let (_d, roots) = unrelated_roots();
    let root = make(params("natter test root", &[], true), None);
    let middle = make(params("natter test intermediate", &[], true), Some(&root));
    let leaf = make(params("localhost", &["localhost"], false), Some(&middle));
    let pem = pem_of(&leaf);
    // The server sends its own certificate and the intermediate.
    std::fs::write(&pem.cert, format!("{}{}", leaf.0.pem(), middle.0.pem())).unwrap();
    let root_pem = pem_of(&root);
    let server = tls_server(&pem, &[]);
    let ca = root_pem.cert.to_str().unwrap();
    connected(&tls_batch(&server, &["--ca-file", ca], "localhost", &roots));
    // An authority's word covers only the names it signed.
    let stderr = refused(&tls_batch(&server, &["--ca-file", ca], "127.0.0.1", &roots));
    assert_eq!(
        stderr.trim_end(),
        "natter: certificate for 127.0.0.1 not trusted: it is for localhost (connect by a name the certificate holds)"
    );
}

#[test]
fn a_certificate_without_names_is_said_to_hold_none() {
    let (_d, roots) = unrelated_roots();
    let root = make(params("natter test root", &[], true), None);
    let leaf = make(params("localhost", &[], false), Some(&root));
    let server = tls_server(&pem_of(&leaf), &[]);
    let root_pem = pem_of(&root);
    let ca = root_pem.cert.to_str().unwrap();
    let stderr = refused(&tls_batch(&server, &["--ca-file", ca], "localhost", &roots));
    assert!(
        stderr.starts_with(
            "natter: certificate for localhost not trusted: it holds no host name at all (no subjectAltName;"
        ) && stderr.contains("scripts/dev-cert.sh"),
        "{stderr}"
    );
    assert!(!stderr.contains("it is for "), "{stderr}");
}

#[test]
fn forged_is_said_only_of_a_forgery() {
    // A trusted authority named "localhost", as Debian's ssl-cert package installs.
    let snakeoil = make(params("localhost", &["localhost"], false), None);
    let roots_dir = TempPath::new("roots");
    std::fs::create_dir_all(&roots_dir.0).unwrap();
    let roots = roots_dir.0.join("roots.pem");
    std::fs::write(&roots, snakeoil.0.pem()).unwrap();
    // Someone else's self-signed certificate with the same name is not a forgery.
    let mine = pem_of(&make(params("localhost", &["localhost"], false), None));
    let server = tls_server(&mine, &[]);
    let stderr = refused(&tls_batch(&server, &[], "localhost", &roots));
    assert!(
        stderr.contains(
            "it is self-signed; an authority this machine trusts has the same name, but did not sign it"
        ) && !stderr.contains("forged"),
        "{stderr}"
    );
    // A certificate that claims a trusted authority signed it, and it did not, is.
    let root = make(params("natter test root", &[], true), None);
    let impostor = make(params("natter test root", &[], true), None);
    let leaf = pem_of(&make(
        params("localhost", &["localhost"], false),
        Some(&impostor),
    ));
    let server = tls_server(&leaf, &[]);
    let root_pem = pem_of(&root);
    let ca = root_pem.cert.to_str().unwrap();
    let stderr = refused(&tls_batch(&server, &["--ca-file", ca], "localhost", &roots));
    assert!(stderr.contains("it is damaged or forged"), "{stderr}");
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

#[test]
fn a_handshake_that_never_finishes_is_status_8_within_tls_timeout() {
    // A port that accepts and then says nothing, as a stuck or wrong server would.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let held = std::thread::spawn(move || silent.accept().map(|(s, _)| s));
    let pem = self_signed_leaf();
    let ca = pem.cert.to_str().unwrap();
    let started = std::time::Instant::now();
    let out = run_batch(
        &[
            "--tls",
            "--tls-timeout",
            "0.5",
            "--ca-file",
            ca,
            "alice",
            "127.0.0.1",
            &port,
        ],
        "",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("natter: no TLS connection with 127.0.0.1:{port}: the handshake did not finish within 0.5 s (is that port a natterd with TLS?)")
    );
    // The limit given is the limit kept, not the default 10 s (a margin of 18 times).
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    drop(held.join());
    let out = run_batch(
        &["--tls", "--tls-timeout", "0", "alice", "127.0.0.1", &port],
        "",
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("leaves no time at all"));
}

/// What natterd logged as its certificate's fingerprint: the one a user compares.
fn logged_fingerprint(server: &Natterd) -> String {
    let log = server.wait_log("serving TLS with the certificate sha256:");
    let at = log.find("serving TLS with the certificate ").unwrap();
    log[at..]
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("serving TLS with the certificate ")
        .trim()
        .to_string()
}

#[test]
fn batch_mode_never_asks_and_a_pin_trusts_that_certificate_only() {
    let (_d, roots) = unrelated_roots();
    let pem = self_signed_leaf();
    let server = tls_server(&pem, &[]);
    let fp = logged_fingerprint(&server);
    assert_eq!(fp.len(), "sha256:".len() + 32 * 3 - 1, "{fp}");
    let stderr = refused(&tls_batch(&server, &[], "localhost", &roots));
    assert!(
        stderr.contains("it is self-signed, and no authority this machine trusts vouches for it")
            && stderr.contains(&format!(
                "its SHA-256 fingerprint is {fp}: if natterd logged the same when it started, --pin {fp} trusts it"
            )),
        "{stderr}"
    );
    // The pin, as natterd logs it or as a bare lower-case hex string.
    connected(&tls_batch(&server, &["--pin", &fp], "localhost", &roots));
    let bare = format!("sha256:{}", fp[7..].replace(':', "").to_lowercase());
    connected(&tls_batch(&server, &["--pin", &bare], "127.0.0.1", &roots));
    // Another certificate's pin does not vouch for this one.
    let other = self_signed_leaf();
    let other_server = tls_server(&other, &[]);
    let other_fp = logged_fingerprint(&other_server);
    assert_ne!(other_fp, fp);
    let stderr = refused(&tls_batch(
        &server,
        &["--pin", &other_fp],
        "localhost",
        &roots,
    ));
    // Loudly, as a certificate that is not the one trusted on first use, and
    // without offering the presented one as the pin to give.
    let port = server.port();
    let want = format!(
        "natter: WARNING: the certificate of localhost:{port} is not the one you pinned!\n\
         natter: pinned:    {other_fp}\n\
         natter: presented: {fp}\n\
         natter: someone may be pretending to be the server, or its certificate was replaced.\n\
         natter: nothing was sent. If you know it was replaced, check the new fingerprint against natterd's startup log before you pin it\n"
    );
    assert_eq!(stderr, want);
    let out = tls_batch(&server, &["--pin", "sha256:12:34"], "localhost", &roots);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("it has 4 hex digits, not 64"));
}

/// natter --tls on a terminal with its own data folder (for the trusted
/// certificates) and history, and "the system's" authorities unrelated.
fn tls_tty(server: &Natterd, data: &Path, roots: &Path) -> Tty {
    let history = data.join("history");
    let port = server.port();
    Tty::start_env(
        &[
            "--tls",
            "--history-file",
            history.to_str().unwrap(),
            "alice",
            "localhost",
            &port,
        ],
        &[
            ("XDG_DATA_HOME", data.to_str().unwrap()),
            ("SSL_CERT_FILE", roots.to_str().unwrap()),
            ("SSL_CERT_DIR", "/nonexistent"),
        ],
    )
}

#[test]
fn on_a_terminal_a_certificate_nobody_vouches_for_is_asked_about_once() {
    let (_d, roots) = unrelated_roots();
    let pem = self_signed_leaf();
    let server = tls_server(&pem, &[]);
    let fp = logged_fingerprint(&server);
    let data = TempPath::new("data");
    let server_key = format!("localhost:{}", server.port());
    let known = data.0.join("natter").join("known_hosts");

    // No: nothing is kept, status 9.
    let mut tty = tls_tty(&server, &data.0, &roots);
    tty.wait_for_text(&format!("its SHA-256 fingerprint is {fp}"));
    tty.wait_for_text(&format!(
        "! the certificate of {server_key} is not trusted: it is self-signed"
    ));
    tty.wait_for_prompt(&format!(
        "trust this certificate for {server_key} from now on? (yes/no)"
    ));
    tty.type_text("no\r");
    assert_eq!(tty.wait_exit(), 9);
    tty.wait_for_text("natter: not trusted; nothing was kept");
    assert!(!known.exists());

    // Yes: kept, and the session goes on.
    let mut tty = tls_tty(&server, &data.0, &roots);
    tty.wait_for_prompt(&format!(
        "trust this certificate for {server_key} from now on? (yes/no)"
    ));
    tty.type_text("yes\r");
    tty.wait_for_text(&format!("* trusted; kept for {server_key} in "));
    tty.wait_for_prompt("alice>");
    tty.type_text("/quit\r");
    assert_eq!(tty.wait_exit(), 0);
    let kept = std::fs::read_to_string(&known).unwrap();
    assert!(kept.contains(&format!("{server_key} {fp}\n")), "{kept}");

    // The next time nothing is asked.
    let mut tty = tls_tty(&server, &data.0, &roots);
    tty.wait_for_prompt("alice>");
    assert!(!tty
        .rows()
        .iter()
        .any(|r| r.contains("trust this certificate")));
    tty.type_text("/quit\r");
    assert_eq!(tty.wait_exit(), 0);
}

#[test]
fn on_a_terminal_a_changed_certificate_is_refused_loudly() {
    let (_d, roots) = unrelated_roots();
    let pem = self_signed_leaf();
    let server = tls_server(&pem, &[]);
    let fp = logged_fingerprint(&server);
    let data = TempPath::new("data");
    let server_key = format!("localhost:{}", server.port());
    // Trusted earlier: another certificate for the same host and port.
    let earlier = "sha256:".to_string() + &["AB"; 32].join(":");
    std::fs::create_dir_all(data.0.join("natter")).unwrap();
    let known = data.0.join("natter").join("known_hosts");
    std::fs::write(&known, format!("{server_key} {earlier}\n")).unwrap();

    let mut tty = tls_tty(&server, &data.0, &roots);
    assert_eq!(tty.wait_exit(), 9);
    tty.wait_for_text(&format!(
        "natter: WARNING: the certificate of {server_key} is not the one you trusted!"
    ));
    tty.wait_for_text(&format!("natter: trusted:   {earlier}"));
    tty.wait_for_text(&format!("natter: presented: {fp}"));
    assert!(!tty
        .rows()
        .iter()
        .any(|r| r.contains("trust this certificate")));
    assert_eq!(
        std::fs::read_to_string(&known).unwrap(),
        format!("{server_key} {earlier}\n"),
        "the trusted certificate stays as it was"
    );
}
