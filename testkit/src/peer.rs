//! `Peer`: a raw TCP client of natterd that reads whole lines with a deadline on
//! every read, and speaks the protocol by hand as `nc` would.

use crate::WAIT;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

/// A raw TCP peer reading whole lines, with a deadline on every read.
pub struct Peer {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Peer {
    pub fn connect(addr: SocketAddr) -> Peer {
        let stream = TcpStream::connect(addr).expect("connect");
        Peer::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Peer {
        stream.set_nodelay(true).expect("nodelay");
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    /// Bytes read from the socket and not yet taken as a line or a body.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn send(&mut self, s: &str) {
        self.stream.write_all(s.as_bytes()).expect("send");
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("send");
    }

    /// The next line (without `\n`), or None at EOF; panics after [`WAIT`].
    pub fn line(&mut self) -> Option<String> {
        self.line_before(Instant::now() + WAIT)
    }

    /// The next line, or None at EOF; panics at `end`.
    pub fn line_before(&mut self, end: Instant) -> Option<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line in time; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Exactly `n` raw bytes (a DATA body).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let end = Instant::now() + WAIT;
        while self.buf.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "body of {n} bytes did not arrive");
            self.stream.set_read_timeout(Some(left)).expect("timeout");
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("EOF inside a DATA body"),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("read: {e}"),
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Reads a download after its `OK GET`: the body, and any other lines that came
    /// in between (chat interleaved with the data), up to `DONE`. Frames are at most
    /// the protocol's default 64 KiB.
    pub fn receive(&mut self, xfer: u64) -> (Vec<u8>, Vec<String>) {
        let (body, sizes, other) = self.receive_frames(xfer);
        assert!(sizes.iter().all(|&n| n <= 65536), "{sizes:?}");
        (body, other)
    }

    /// As [`Peer::receive`], with each `DATA` frame's size, whatever it is.
    pub fn receive_frames(&mut self, xfer: u64) -> (Vec<u8>, Vec<usize>, Vec<String>) {
        let mut body = Vec::new();
        let mut sizes = Vec::new();
        let mut other = Vec::new();
        loop {
            let l = self.line().expect("connection open during download");
            if let Some(rest) = l.strip_prefix("DATA ") {
                let (x, n) = rest.split_once(' ').expect("DATA header");
                assert_eq!(x.parse::<u64>().unwrap(), xfer);
                let n: usize = n.parse().unwrap();
                sizes.push(n);
                body.extend(self.bytes(n));
            } else if l == format!("DONE {xfer}") {
                return (body, sizes, other);
            } else {
                other.push(l);
            }
        }
    }

    /// GET a file; returns the transfer id and the size the server announced.
    pub fn get(&mut self, file: &str, offset: Option<u64>) -> (u64, u64) {
        match offset {
            Some(o) => self.send(&format!("GET {file} {o}\n")),
            None => self.send(&format!("GET {file}\n")),
        }
        let l = self.expect_prefix("OK GET ");
        let f: Vec<&str> = l.split(' ').collect();
        (f[2].parse().unwrap(), f[4].parse().unwrap())
    }

    /// PUT a whole file in DATA frames of at most 64 KiB; returns the xfer and the
    /// name the server will store it as.
    pub fn put(&mut self, name: &str, data: &[u8]) -> (u64, String) {
        self.send(&format!("PUT {name} {}\n", data.len()));
        let l = self.expect_prefix("OK PUT ");
        let f: Vec<&str> = l.split(' ').collect();
        let xfer: u64 = f[2].parse().unwrap();
        for chunk in data.chunks(65536) {
            self.send(&format!("DATA {xfer} {}\n", chunk.len()));
            self.send_bytes(chunk);
        }
        (xfer, f[3].to_string())
    }

    pub fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got.as_deref(), Some(want));
    }

    /// The next line that is not a chat event (JOIN, LEAVE, FROM, PRIVATE, SHARED),
    /// for peers that share the room with others.
    pub fn reply(&mut self) -> String {
        loop {
            let l = self.line().expect("connection open");
            let event = ["JOIN ", "LEAVE ", "FROM ", "PRIVATE ", "SHARED "]
                .iter()
                .any(|e| l.starts_with(e));
            if !event {
                return l;
            }
        }
    }

    pub fn expect_reply_prefix(&mut self, prefix: &str) -> String {
        let got = self.reply();
        assert!(got.starts_with(prefix), "wanted {prefix:?}..., got {got:?}");
        got
    }

    pub fn expect_prefix(&mut self, prefix: &str) -> String {
        let got = self
            .line()
            .unwrap_or_else(|| panic!("EOF while waiting for {prefix:?}"));
        assert!(got.starts_with(prefix), "wanted {prefix:?}..., got {got:?}");
        got
    }

    /// Reads lines until one equals `want`, skipping others (joins, leaves); returns
    /// the skipped ones.
    pub fn expect_eventually(&mut self, want: &str) -> Vec<String> {
        let mut skipped = Vec::new();
        loop {
            match self.line() {
                Some(l) if l == want => return skipped,
                Some(l) => skipped.push(l),
                None => panic!("EOF while waiting for {want:?}; saw {skipped:?}"),
            }
        }
    }

    /// As [`Peer::expect_eventually`], waiting up to `within` in all (for what a
    /// timer brings, like a cluster node declared gone).
    pub fn expect_eventually_within(
        &mut self,
        want: &str,
        within: std::time::Duration,
    ) -> Vec<String> {
        let end = Instant::now() + within;
        let mut skipped = Vec::new();
        loop {
            match self.line_before(end) {
                Some(l) if l == want => return skipped,
                Some(l) => skipped.push(l),
                None => panic!("EOF while waiting for {want:?}; saw {skipped:?}"),
            }
        }
    }

    /// Asserts the server closes this connection (EOF or reset) within [`WAIT`],
    /// returning any lines that came first.
    pub fn expect_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(l) = self.line() {
            lines.push(l);
        }
        lines
    }
}
