//! Test harness: a real natterd process on a free loopback port, and line-oriented
//! raw TCP peers with deadlines (waits are for a condition, never a fixed sleep).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Natterd {
    pub child: Child,
    pub addr: SocketAddr,
    /// The shared folder; one the harness made is removed on drop.
    pub dir: PathBuf,
    owns_dir: bool,
    log: Arc<Mutex<String>>,
}

/// A new empty directory under the system's temp dir.
pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = std::env::temp_dir().join(format!(
        "natter-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Natterd {
    pub fn start(args: &[&str]) -> Natterd {
        let dir = temp_dir("shared");
        let mut srv = Natterd::start_in(&dir, args, &[]);
        srv.owns_dir = true;
        srv
    }

    /// Starts natterd with `dir` as its shared folder (unless `args` name another)
    /// and extra environment variables.
    pub fn start_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Natterd {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_natterd"));
        cmd.arg("0").args(args);
        if !args.contains(&"--shared-dir") && env.is_empty() {
            cmd.arg("--shared-dir").arg(dir);
        }
        let mut child = cmd
            .env_remove("SERVER_SHARED_FILES")
            .env_remove("SERVERSHAREDFILES")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start natterd");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read natterd's first line");
        let addr = line
            .trim()
            .strip_prefix("natterd listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .expect("address");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr: ChildStderr = child.stderr.take().expect("stderr");
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut l = String::new();
            while r.read_line(&mut l).map(|n| n > 0).unwrap_or(false) {
                sink.lock().unwrap().push_str(&l);
                l.clear();
            }
        });
        Natterd {
            child,
            addr,
            dir: dir.to_path_buf(),
            owns_dir: false,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server's log contains `needle`; returns the whole log.
    pub fn wait_log(&self, needle: &str) -> String {
        let end = Instant::now() + WAIT;
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < end,
                "natterd never logged {needle:?}; log:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn connect(&self) -> Peer {
        Peer::connect(self.addr)
    }

    /// A peer that has read its WELCOME and taken `name`.
    pub fn join(&self, name: &str) -> Peer {
        let mut p = self.connect();
        p.expect_prefix("WELCOME natter/1 ");
        p.send(&format!("HELLO {name}\n"));
        p.expect(&format!("OK HELLO {name}"));
        p.expect(&format!("JOIN {name}"));
        p
    }

    /// The server's resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// Sends a signal and waits for the process to exit; returns its exit code.
    pub fn signal_and_wait(&mut self, sig: i32) -> Option<i32> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid() as i32, sig);
        }
        let end = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                Instant::now() < end,
                "natterd did not exit after signal {sig}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_none()
    }
}

impl Drop for Natterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

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

    pub fn send(&mut self, s: &str) {
        self.stream.write_all(s.as_bytes()).expect("send");
    }

    pub fn send_bytes(&mut self, b: &[u8]) {
        self.stream.write_all(b).expect("send");
    }

    /// The next line (without `\n`), or None at EOF; panics after [`WAIT`].
    pub fn line(&mut self) -> Option<String> {
        let end = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
            let left = end.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line within {WAIT:?}; have {:?}",
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
    /// in between (chat interleaved with the data), up to `DONE`.
    pub fn receive(&mut self, xfer: u64) -> (Vec<u8>, Vec<String>) {
        let mut body = Vec::new();
        let mut other = Vec::new();
        loop {
            let l = self.line().expect("connection open during download");
            if let Some(rest) = l.strip_prefix("DATA ") {
                let (x, n) = rest.split_once(' ').expect("DATA header");
                assert_eq!(x.parse::<u64>().unwrap(), xfer);
                let n: usize = n.parse().unwrap();
                assert!(n <= 65536);
                body.extend(self.bytes(n));
            } else if l == format!("DONE {xfer}") {
                return (body, other);
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
