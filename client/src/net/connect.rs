//! Getting a greeted connection: resolve the host, connect to each address with a
//! timeout, read the server's `WELCOME`. Every failure becomes a [`ConnectError`]
//! whose `Display` is one line naming the host, the port, the cause and a hint, and
//! whose [`ConnectError::exit`] is the documented exit status.
//!
//! A natterd with TLS says nothing until it hears a TLS handshake, so a plaintext
//! client waiting for its welcome would wait for the server's handshake timeout. If
//! no welcome has come after [`NUDGE_AFTER`], natter sends a few empty lines: a
//! natterd without TLS ignores them (an empty line is no request), one with TLS
//! closes at once, and natter can say to add `--tls`.
//!
//! A web server on the port may close on those lines too. So when the answer to the
//! nudge is a close, natter asks once more on a second connection, with an HTTP
//! request: a web server answers `HTTP/...` and is named as what it is (status 3),
//! a natterd with TLS closes again (add `--tls`, status 8).

use crate::display::io_words;
use crate::exit::Exit;
use crate::net::tls::HandshakeError;
use crate::net::transport::{ReadHalf, WriteHalf};
use crate::net::trust::Refusal;
use crate::net::wire::{FrameReader, Incoming, ReadError};
use natter_protocol::{ErrorCode, ServerFrame};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long one address may take to accept the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connected server may take to send its greeting.
pub const GREETING_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a plaintext client waits for the welcome before nudging (see above). A
/// natterd sends it the moment it accepts, so a second is slow, even far away.
pub const NUDGE_AFTER: Duration = Duration::from_secs(1);
/// What the nudge sends: empty lines, at least the five bytes of a TLS record
/// header, which no TLS server can take for one.
const NUDGE: &[u8] = b"\n\n\n\n\n\n\n\n";
/// The question for a server that closed on the nudge, and how long it may take to
/// connect and to answer it.
const WEB_PROBE: &[u8] = b"HEAD / HTTP/1.0\r\n\r\n";
const WEB_PROBE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub enum ConnectError {
    UnknownHost {
        target: String,
        detail: String,
    },
    Refused {
        target: String,
    },
    Unreachable {
        target: String,
        detail: String,
    },
    TimedOut {
        target: String,
    },
    Other {
        target: String,
        detail: String,
    },
    ServerFull {
        target: String,
        text: String,
    },
    /// Something answered, but not with a natter/1 greeting.
    NotNatter {
        target: String,
        detail: String,
    },
    /// Plaintext, and the server closed (or spoke TLS) before its welcome.
    TlsOnly {
        target: String,
    },
    /// `--tls`, and the server answered in plain text.
    NotTls {
        target: String,
    },
    /// `--tls`, and the certificate did not verify for `host`.
    Untrusted {
        host: String,
        refusal: Refusal,
    },
    /// `--tls`, and the handshake failed otherwise; the detail says how.
    Tls {
        target: String,
        detail: String,
    },
}

impl ConnectError {
    pub fn exit(&self) -> Exit {
        match self {
            ConnectError::UnknownHost { .. } => Exit::UnknownHost,
            ConnectError::ServerFull { .. } => Exit::ServerFull,
            ConnectError::TlsOnly { .. }
            | ConnectError::NotTls { .. }
            | ConnectError::Tls { .. } => Exit::TlsMismatch,
            ConnectError::Untrusted { .. } => Exit::Untrusted,
            _ => Exit::ConnectFailed,
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::UnknownHost { target, detail } => write!(
                f,
                "cannot connect to {target}: unknown host ({detail}; check the spelling, or use an IP address)"
            ),
            ConnectError::Refused { target } => write!(
                f,
                "cannot connect to {target}: connection refused (is natterd running on that port?)"
            ),
            ConnectError::Unreachable { target, detail } => write!(
                f,
                "cannot connect to {target}: {detail} (check the address and that this machine is on a network that reaches it)"
            ),
            ConnectError::TimedOut { target } => write!(
                f,
                "cannot connect to {target}: no answer within {} s (is the host up, and is a firewall dropping the connection?)",
                CONNECT_TIMEOUT.as_secs()
            ),
            ConnectError::Other { target, detail } => {
                write!(f, "cannot connect to {target}: {detail}")
            }
            ConnectError::ServerFull { target, text } => write!(
                f,
                "cannot join {target}: the server is full ({text})"
            ),
            ConnectError::NotNatter { target, detail } => write!(
                f,
                "cannot talk to {target}: {detail} (is that port a natterd?)"
            ),
            ConnectError::TlsOnly { target } => write!(
                f,
                "the server at {target} closed the connection before its welcome; if it uses TLS, add --tls"
            ),
            ConnectError::NotTls { target } => {
                write!(f, "the server at {target} does not speak TLS (drop --tls?)")
            }
            ConnectError::Untrusted { host, refusal } => {
                write!(f, "certificate for {host} not trusted: {} ({})", refusal.why, refusal.hint)?;
                if let Some(fp) = refusal.unvouched {
                    write!(f, "; its SHA-256 fingerprint is {fp}: if natterd logged the same when it started, --pin {fp} trusts it")?;
                }
                Ok(())
            }
            ConnectError::Tls { target, detail } => {
                write!(f, "no TLS connection with {target}: {detail}")
            }
        }
    }
}

impl std::error::Error for ConnectError {}

/// `host:port`, with brackets around an IPv6 address.
pub fn target(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A failed handshake as the error natter reports.
pub fn tls_error(e: HandshakeError, host: &str, target: &str) -> ConnectError {
    let target = target.to_string();
    let tls = |detail: String| ConnectError::Tls {
        target: target.clone(),
        detail,
    };
    match e {
        HandshakeError::NotTls => ConnectError::NotTls { target },
        HandshakeError::Untrusted(refusal) => ConnectError::Untrusted {
            host: host.to_string(),
            refusal,
        },
        HandshakeError::BadName(why) => tls(format!("{host} cannot be checked against a certificate ({why})")),
        HandshakeError::TimedOut(limit) => tls(format!(
            "the handshake did not finish within {} (is that port a natterd with TLS?)",
            seconds(limit)
        )),
        HandshakeError::Closed => tls(
            "the server closed the connection during the handshake (is that port a natterd with TLS? if not, drop --tls)".into(),
        ),
        HandshakeError::Failed(detail) => tls(format!("the handshake failed: {detail}")),
    }
}

/// `10 s`, `0.5 s`: a limit as the user may have given it.
fn seconds(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Resolves `host` and tries each address in turn, each with [`CONNECT_TIMEOUT`].
pub fn connect(host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let target = target(host, port);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match (bare, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            return Err(ConnectError::UnknownHost {
                target,
                detail: resolver_words(&e),
            })
        }
    };
    if addrs.is_empty() {
        return Err(ConnectError::UnknownHost {
            target,
            detail: "the name has no addresses".into(),
        });
    }
    let mut failures = Vec::new();
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, CONNECT_TIMEOUT) {
            Ok(s) => {
                // Chat lines are small and should leave at once.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => failures.push(e),
        }
    }
    // With several addresses (localhost is often ::1 and 127.0.0.1), report the most
    // telling failure: a refusal says the host is there but nothing listens.
    failures.sort_by_key(rank);
    let e = failures.swap_remove(0);
    let target = if addrs.len() > 1 {
        let tried: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        format!("{target} (tried {})", tried.join(", "))
    } else {
        target
    };
    Err(classify(target, &e))
}

fn rank(e: &io::Error) -> u8 {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => 0,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => 1,
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => 2,
        _ => 3,
    }
}

fn classify(target: String, e: &io::Error) -> ConnectError {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => ConnectError::Refused { target },
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => ConnectError::TimedOut { target },
        io::ErrorKind::HostUnreachable => ConnectError::Unreachable {
            target,
            detail: "host unreachable".into(),
        },
        io::ErrorKind::NetworkUnreachable => ConnectError::Unreachable {
            target,
            detail: "network unreachable".into(),
        },
        _ => ConnectError::Other {
            target,
            detail: io_words(e),
        },
    }
}

/// The resolver's reason without std's prefix: "Name or service not known".
fn resolver_words(e: &io::Error) -> String {
    let s = e.to_string();
    s.strip_prefix("failed to lookup address information: ")
        .unwrap_or(&s)
        .to_string()
}

/// Reads the greeting. `Ok` is the welcome text; a full server, silence, or a peer
/// that speaks something else is an error.
pub fn greet(
    reader: &mut FrameReader<ReadHalf>,
    writer: &mut WriteHalf,
    target: &str,
) -> Result<String, ConnectError> {
    let not_natter = |detail: String| ConnectError::NotNatter {
        target: target.to_string(),
        detail,
    };
    let deadline = Instant::now() + GREETING_TIMEOUT;
    let plain = matches!(reader.get_ref(), ReadHalf::Plain(_));
    if plain {
        nudge_if_silent(reader.get_ref(), writer, target, deadline)?;
    }
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(left.max(Duration::from_millis(1))));
    let first = reader.next_frame();
    let _ = reader.get_ref().set_read_timeout(None);
    match first {
        Ok(Incoming::Frame(ServerFrame::Welcome { text, .. })) => Ok(text),
        Ok(Incoming::Frame(ServerFrame::Err {
            code: ErrorCode::ServerFull,
            text,
        })) => Err(ConnectError::ServerFull {
            target: target.to_string(),
            text: crate::display::sanitize(&text).into_owned(),
        }),
        Ok(Incoming::Frame(ServerFrame::Err { code, text })) => Err(not_natter(format!(
            "it refused the connection: {}",
            crate::display::error_words(&code, &text, None)
        ))),
        Ok(Incoming::Frame(other)) => Err(not_natter(format!(
            "it began with {:?} instead of WELCOME",
            other_verb(&other)
        ))),
        Ok(Incoming::Garbled { .. }) | Err(ReadError::Fatal(_)) => {
            Err(not_natter("it does not speak natter/1".into()))
        }
        Err(ReadError::Closed) if plain => Err(ConnectError::TlsOnly {
            target: target.to_string(),
        }),
        Err(ReadError::Closed) => Err(not_natter(
            "it closed the connection without a greeting".into(),
        )),
        Err(ReadError::Io(e))
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Err(not_natter(format!(
                "no greeting within {} s",
                GREETING_TIMEOUT.as_secs()
            )))
        }
        Err(ReadError::Io(e)) => Err(ConnectError::Other {
            target: target.to_string(),
            detail: io_words(&e),
        }),
    }
}

/// Plaintext: waits up to [`NUDGE_AFTER`] for the first bytes, then nudges (see
/// the top of this file) and waits for the rest of the greeting time. A close, or a
/// TLS record, before any welcome means a server that wants TLS.
fn nudge_if_silent(
    read: &ReadHalf,
    writer: &mut WriteHalf,
    target: &str,
    deadline: Instant,
) -> Result<(), ConnectError> {
    let tls_only = || ConnectError::TlsOnly {
        target: target.to_string(),
    };
    let silent = |seen: &Option<io::Result<usize>>| matches!(seen, Some(Err(e)) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
    let mut first = [0u8; 128];
    let _ = read.set_read_timeout(Some(NUDGE_AFTER));
    let mut seen = read.peek(&mut first);
    if silent(&seen) {
        if writer.send(NUDGE).is_err() {
            return Err(tls_only());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = read.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        seen = read.peek(&mut first);
    }
    let _ = read.set_read_timeout(None);
    let closed = || match web_server_answer(read) {
        Some(status) => web_server(target, &status),
        None => tls_only(),
    };
    match seen {
        // A TLS alert or handshake record: the server speaks TLS.
        Some(Ok(n)) if n >= 2 && matches!(first[..2], [0x15 | 0x16, 0x03]) => Err(tls_only()),
        Some(Ok(n)) if first[..n].starts_with(b"HTTP/") => {
            Err(web_server(target, &status_line(&first[..n])))
        }
        Some(Ok(0)) => Err(closed()),
        Some(Err(e)) if matches!(e.kind(), io::ErrorKind::ConnectionReset) => Err(closed()),
        // Silent even when nudged: not a natterd of either kind.
        ref s if silent(s) => Err(ConnectError::NotNatter {
            target: target.to_string(),
            detail: format!("no greeting within {} s", GREETING_TIMEOUT.as_secs()),
        }),
        // The welcome, or whatever it is, is read as frames next.
        _ => Ok(()),
    }
}

fn web_server(target: &str, status: &str) -> ConnectError {
    ConnectError::NotNatter {
        target: target.to_string(),
        detail: format!("a web server answers there, not natterd (it said \"{status}\")"),
    }
}

/// The status line of a server that answers [`WEB_PROBE`] on a new connection to the
/// same address, if it answers one; `None` for anything else.
fn web_server_answer(read: &ReadHalf) -> Option<String> {
    let ReadHalf::Plain(s) = read else {
        return None;
    };
    let mut probe = TcpStream::connect_timeout(&s.peer_addr().ok()?, WEB_PROBE_WAIT).ok()?;
    probe.set_read_timeout(Some(WEB_PROBE_WAIT)).ok()?;
    probe.set_write_timeout(Some(WEB_PROBE_WAIT)).ok()?;
    probe.write_all(WEB_PROBE).ok()?;
    let mut answer = [0u8; 128];
    let mut got = 0;
    while got < answer.len() && !answer[..got].contains(&b'\n') {
        match probe.read(&mut answer[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    answer[..got]
        .starts_with(b"HTTP/")
        .then(|| status_line(&answer[..got]))
}

/// The first line of what a server sent, made safe to show.
fn status_line(bytes: &[u8]) -> String {
    let line = bytes
        .split(|&b| b == b'\r' || b == b'\n')
        .next()
        .unwrap_or(&[]);
    crate::display::sanitize(&String::from_utf8_lossy(line)).into_owned()
}

fn other_verb(f: &ServerFrame) -> String {
    let bytes = f.to_bytes();
    let line = String::from_utf8_lossy(&bytes);
    line.split([' ', '\n']).next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target("127.0.0.1", 7878), "127.0.0.1:7878");
        assert_eq!(target("::1", 7878), "[::1]:7878");
        assert_eq!(target("[::1]", 7878), "[::1]:7878");
        assert_eq!(target("example.org", 1), "example.org:1");
    }

    #[test]
    fn messages_name_the_target_and_a_hint() {
        let e = classify(
            "127.0.0.1:7878".into(),
            &io::Error::from(io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(
            e.to_string(),
            "cannot connect to 127.0.0.1:7878: connection refused (is natterd running on that port?)"
        );
        assert_eq!(e.exit(), Exit::ConnectFailed);
        let e = classify("h:1".into(), &io::Error::from(io::ErrorKind::TimedOut));
        assert!(e.to_string().contains("no answer within 10 s"), "{e}");
        let e = classify(
            "h:1".into(),
            &io::Error::from(io::ErrorKind::NetworkUnreachable),
        );
        assert!(e.to_string().contains("network unreachable"), "{e}");
        let full = ConnectError::ServerFull {
            target: "h:1".into(),
            text: "natterd is full".into(),
        };
        assert_eq!(full.exit(), Exit::ServerFull);
    }

    #[test]
    fn refusal_outranks_other_failures() {
        let mut v = [
            io::Error::from(io::ErrorKind::NetworkUnreachable),
            io::Error::from(io::ErrorKind::ConnectionRefused),
        ];
        v.sort_by_key(rank);
        assert_eq!(v[0].kind(), io::ErrorKind::ConnectionRefused);
    }
}
