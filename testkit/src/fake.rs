//! `FakeServer`: a listener on a free loopback port that hands each connection to
//! the test as a raw [`Peer`], so the test plays natterd by hand: it decides what
//! the server says, and when. For what no real natterd does on cue (a download that
//! stops half way, a file that changes between two listings, a server that reads
//! nothing for a while).

use crate::{Peer, WAIT};
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

pub struct FakeServer {
    listener: TcpListener,
    pub addr: SocketAddr,
}

impl Default for FakeServer {
    fn default() -> FakeServer {
        FakeServer::bind()
    }
}

impl FakeServer {
    pub fn bind() -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        FakeServer { listener, addr }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// The next connection; fails after [`WAIT`].
    pub fn accept(&self) -> Peer {
        let end = Instant::now() + WAIT;
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking stream");
                    return Peer::from_stream(stream);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < end, "nobody connected within {WAIT:?}");
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    /// The next connection, greeted as natterd greets and named `name` (it must
    /// send `HELLO name`, with or without options after it).
    pub fn accept_named(&self, name: &str) -> Peer {
        let mut p = self.accept();
        p.send("WELCOME natter/1 1 Welcome to a fake natterd - 1 user online\n");
        let hello = p.line().unwrap_or_default();
        let want = format!("HELLO {name}");
        assert!(
            hello == want || hello.starts_with(&format!("{want} ")),
            "wanted {want:?}, got {hello:?}"
        );
        p.send(&format!("OK HELLO {name}\nJOIN {name}\n"));
        p
    }

    /// As [`FakeServer::accept_named`], played as a server older than the client's
    /// HELLO options: it refuses `HELLO name <options>` as a bad request, and then
    /// must get the plain `HELLO name`.
    pub fn accept_named_refusing_options(&self, name: &str) -> Peer {
        let mut p = self.accept();
        p.send("WELCOME natter/1 1 Welcome to an old natterd - 0 users online\n");
        let hello = p.line().unwrap_or_default();
        assert!(hello.starts_with(&format!("HELLO {name} ")), "{hello:?}");
        p.send("ERR bad-request usage: HELLO <name>\n");
        p.expect(&format!("HELLO {name}"));
        p.send(&format!("OK HELLO {name}\nJOIN {name}\n"));
        p
    }
}
