//! `--tls` end to end: a natterd serving TLS with a certificate made for the test
//! (rcgen), natter clients chatting and moving files through it, and every mismatch
//! with its status and words: TLS to a plaintext server, plaintext to a TLS server, a
//! certificate nobody vouches for, and `--tls-insecure`.

mod common;

use common::*;
use std::path::PathBuf;

/// A self-signed certificate for `localhost` and `127.0.0.1`, in PEM files.
struct Certs {
    _dir: TempPath,
    cert: PathBuf,
    key: PathBuf,
}

fn make_certs() -> Certs {
    let dir = TempPath::new("certs");
    std::fs::create_dir_all(&dir.0).unwrap();
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let (c, k) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key_pair.serialize_pem()).unwrap();
    Certs {
        _dir: dir,
        cert: c,
        key: k,
    }
}

fn tls_server(certs: &Certs) -> Natterd {
    Natterd::start(&[
        "--tls-cert",
        certs.cert.to_str().unwrap(),
        "--tls-key",
        certs.key.to_str().unwrap(),
    ])
}

/// natter with `--tls --ca-file cert.pem`, by the name in the certificate.
fn tls_args<'a>(certs: &'a Certs, name: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "--tls",
        "--ca-file",
        certs.cert.to_str().unwrap(),
        name,
        "localhost",
        port,
    ]
}

fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
}

#[test]
fn chat_goes_through_tls_to_another_tls_client() {
    let certs = make_certs();
    let server = tls_server(&certs);
    let port = server.port();
    let mut bob = Live::start(natter(&tls_args(&certs, "bob", &port)));
    bob.wait_for("* you have joined as bob");

    let out = run_batch(
        &tls_args(&certs, "alice", &port),
        "hello over TLS\n/msg bob psst\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("<you> hello over TLS ✓ 1"));
    assert!(bob
        .wait_for("<alice>")
        .ends_with("] <alice> hello over TLS"));
    assert!(bob
        .wait_for("alice → you")
        .ends_with("] [alice → you] psst"));

    drop(bob.stdin);
    let out = wait_output(bob.child);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn files_go_both_ways_through_tls() {
    let certs = make_certs();
    let server = tls_server(&certs);
    let port = server.port();
    let local = TempPath::new("upload");
    std::fs::create_dir_all(&local.0).unwrap();
    let data = binary((1 << 20) + 3);
    let path = local.0.join("tls.bin");
    std::fs::write(&path, &data).unwrap();
    let downloads = TempPath::new("dl");
    let dir = downloads.0.to_str().unwrap();

    let mut args = vec!["--download-dir", dir];
    args.extend(tls_args(&certs, "alice", &port));
    let script = format!("/put {}\n/get tls.bin\n", path.display());
    let out = run_batch(&args, &script);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    assert!(
        stdout.contains("* Uploaded as tls.bin (1,048,579 bytes)"),
        "{stdout}"
    );
    assert!(stdout.contains("/tls.bin (1,048,579 bytes)"), "{stdout}");
    assert!(std::fs::read(server.file("tls.bin")).unwrap() == data);
    assert!(std::fs::read(downloads.0.join("tls.bin")).unwrap() == data);
}

#[test]
fn tls_to_a_plaintext_server_is_exit_8() {
    let certs = make_certs();
    let server = Natterd::start(&[]);
    let port = server.port();
    let out = run_batch(&tls_args(&certs, "alice", &port), "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("natter: the server at localhost:{port} does not speak TLS (drop --tls?)")
    );
}

#[test]
fn plaintext_to_a_tls_server_is_exit_8() {
    let certs = make_certs();
    let server = tls_server(&certs);
    let out = run_batch(&["alice", "127.0.0.1", &server.port()], "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(8), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!(
            "natter: the server at {} closed the connection before its welcome; if it uses TLS, add --tls",
            server.target()
        )
    );
}

#[test]
fn a_certificate_nobody_vouches_for_is_exit_9() {
    let certs = make_certs();
    let server = tls_server(&certs);
    // The system's trusted authorities, made predictable: one that has nothing to do
    // with the server's certificate (rustls-native-certs reads SSL_CERT_FILE).
    let other = TempPath::new("other-ca");
    std::fs::create_dir_all(&other.0).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["authority.invalid".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "natter test authority");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let roots = other.0.join("roots.pem");
    std::fs::write(&roots, ca.pem()).unwrap();

    let mut cmd = natter(&["--tls", "alice", "localhost", &server.port()]);
    cmd.env("SSL_CERT_FILE", &roots).env_remove("SSL_CERT_DIR");
    let out = run_cmd(cmd, "hello\n");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(
        stderr.starts_with(
            "natter: certificate for localhost not trusted: it is self-signed, and no authority this machine trusts vouches for it"
        ) && stderr.contains(
            "(use --ca-file with the server's certificate or its authority's, or --pin with its fingerprint)"
        ),
        "{stderr}"
    );
}

#[test]
fn tls_insecure_connects_and_says_it_is_for_testing() {
    let certs = make_certs();
    let server = tls_server(&certs);
    let out = run_batch(
        &[
            "--tls",
            "--tls-insecure",
            "alice",
            "127.0.0.1",
            &server.port(),
        ],
        "/echo unchecked\n",
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(text(&out.stdout).contains("* echo: unchecked"));
    assert!(
        stderr.starts_with(
            "natter: warning: --tls-insecure: the server's certificate is not checked"
        ) && stderr.contains("use it only for local testing"),
        "{stderr}"
    );
    // Alone it implies --tls; the port may come with the host.
    let out = run_batch(
        &["--tls-insecure", "alice", &server.target()],
        "/echo implied\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("* echo: implied"));
}
