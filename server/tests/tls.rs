//! TLS on natterd's loop: chat and a file round trip through TLS, and the three
//! mismatches (plaintext to TLS, TLS to plaintext, a handshake that stops half way)
//! each ending quickly with a log line, never a hang.

use natter_testkit::{temp_dir, Natterd};
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Certs {
    cert: PathBuf,
    key: PathBuf,
    der: CertificateDer<'static>,
}

fn make_certs() -> Certs {
    let dir = temp_dir("tls");
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    Certs {
        cert,
        key,
        der: ck.cert.der().clone(),
    }
}

fn tls_server(certs: &Certs, extra: &[&str]) -> Natterd {
    let mut args = vec![
        "--tls-cert",
        certs.cert.to_str().unwrap(),
        "--tls-key",
        certs.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Natterd::start(&args)
}

fn client_config(der: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

struct TlsPeer {
    r: BufReader<TlsStream>,
}

impl TlsPeer {
    fn connect(srv: &Natterd, der: &CertificateDer<'static>) -> TlsPeer {
        let tcp = TcpStream::connect(srv.addr).unwrap();
        tcp.set_read_timeout(Some(natter_testkit::WAIT)).unwrap();
        tcp.set_nodelay(true).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(client_config(der), name).unwrap();
        TlsPeer {
            r: BufReader::new(rustls::StreamOwned::new(conn, tcp)),
        }
    }

    fn send(&mut self, s: &[u8]) {
        let w = self.r.get_mut();
        w.write_all(s).unwrap();
        w.flush().unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).unwrap();
        assert!(l.ends_with('\n'), "connection ended: {l:?}");
        l.pop();
        l
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want);
    }

    fn join(srv: &Natterd, der: &CertificateDer<'static>, name: &str) -> TlsPeer {
        TlsPeer::join_with(srv, der, name, "")
    }

    fn join_with(srv: &Natterd, der: &CertificateDer<'static>, name: &str, opts: &str) -> TlsPeer {
        let mut p = TlsPeer::connect(srv, der);
        assert!(p.line().starts_with("WELCOME natter/1 "));
        p.send(format!("HELLO {name}{opts}\n").as_bytes());
        p.expect(&format!("OK HELLO {name}"));
        p.expect(&format!("JOIN {name}"));
        p
    }
}

#[test]
fn chat_and_a_file_round_trip_through_tls() {
    let certs = make_certs();
    let srv = tls_server(&certs, &["--max-queue", "128K"]);
    srv.wait_log("serving TLS");
    let mut a = TlsPeer::join(&srv, &certs.der, "alice");
    // Big frames asked for: over TLS the body is copied through memory, and frames
    // stay at 64 KiB.
    let mut b = TlsPeer::join_with(&srv, &certs.der, "bob", " data=1048576");
    a.expect("JOIN bob");
    a.send(b"SAY secret plans\n");
    a.expect("OK SAY 1");
    b.expect("FROM alice secret plans");

    // Larger than the output cap, so backpressure through rustls is exercised.
    let data: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    a.send(format!("PUT tls.bin {}\n", data.len()).as_bytes());
    a.expect("OK PUT 1 tls.bin");
    for chunk in data.chunks(65536) {
        a.send(format!("DATA 1 {}\n", chunk.len()).as_bytes());
        a.send(chunk);
    }
    a.expect(&format!("DONE 1 tls.bin {}", data.len()));
    b.expect(&format!("SHARED alice tls.bin {}", data.len()));
    b.send(b"GET tls.bin\n");
    // With the SHA-256 the server computed as the upload arrived.
    let got_ok = b.line();
    assert!(
        got_ok.starts_with(&format!("OK GET 2 tls.bin {} ", data.len()))
            && got_ok.split(' ').nth(5).map(str::len) == Some(64),
        "{got_ok}"
    );
    let mut got = Vec::new();
    loop {
        let l = b.line();
        if l == "DONE 2" {
            break;
        }
        let n: usize = l.strip_prefix("DATA 2 ").expect("DATA").parse().unwrap();
        assert!(n <= 65536, "{l}");
        let mut body = vec![0; n];
        b.r.read_exact(&mut body).unwrap();
        got.extend(body);
    }
    assert!(got == data);
    assert_eq!(std::fs::read(srv.dir.join("tls.bin")).unwrap(), data);
}

/// Reads until the server closes; returns how long that took.
fn time_to_close(mut s: TcpStream) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(natter_testkit::WAIT)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("server did not close the connection: {e}"),
        }
    }
}

#[test]
fn a_plaintext_client_on_the_tls_port_is_closed_with_a_log_line() {
    let certs = make_certs();
    let srv = tls_server(&certs, &[]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"HELLO alice\n").unwrap();
    // Closed for the TLS error at once, not by the 10 s handshake timeout.
    let took = time_to_close(s);
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    srv.wait_log("a plaintext client on the TLS port (natter needs --tls to connect here)");
}

#[test]
fn a_tls_client_on_the_plaintext_port_fails_quickly_with_a_log_line() {
    let certs = make_certs();
    let srv = Natterd::start(&[]);
    let tcp = TcpStream::connect(srv.addr).unwrap();
    tcp.set_read_timeout(Some(natter_testkit::WAIT)).unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(client_config(&certs.der), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut buf = [0u8; 100];
    let err = tls
        .read(&mut buf)
        .expect_err("no TLS handshake can succeed here");
    assert_ne!(
        err.kind(),
        std::io::ErrorKind::WouldBlock,
        "it must not hang: {err}"
    );
    srv.wait_log("a TLS client on the plaintext port");
}

#[test]
fn a_handshake_that_stops_half_way_is_dropped() {
    let certs = make_certs();
    // The handshake limit is the shorter of 10 s and the registration timeout.
    let srv = tls_server(&certs, &["--register-timeout", "1"]);
    let mut s = TcpStream::connect(srv.addr).unwrap();
    // The first bytes of a ClientHello record, and then nothing.
    s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    // Dropped by the timeout: not before it, and not long after (timeouts are swept
    // once a second).
    let took = time_to_close(s);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
    srv.wait_log("TLS handshake not finished within 1 s");
    let idle = TcpStream::connect(srv.addr).unwrap();
    let took = time_to_close(idle);
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "closed after {took:?}"
    );
}
