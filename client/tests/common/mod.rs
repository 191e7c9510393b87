//! Test harness for the natter client: a real natterd process on a free loopback port,
//! raw TCP peers that speak the protocol line by line, and the natter binary run in
//! batch mode or in a pseudo-terminal. Every wait has a deadline and waits for a
//! condition, never a fixed time.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ChildStdin;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn natter_bin() -> &'static str {
    env!("CARGO_BIN_EXE_natter")
}

/// natterd from the same target directory as natter; built once if this test run has
/// not built it (`cargo test -p natter-client` builds only the client).
pub fn natterd_bin() -> PathBuf {
    static BUILD: Once = Once::new();
    let path = Path::new(natter_bin()).with_file_name("natterd");
    BUILD.call_once(|| {
        if path.exists() {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "natter-server", "--bin", "natterd"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for natterd");
        assert!(status.success(), "cargo build -p natter-server failed");
    });
    assert!(path.exists(), "no natterd at {}", path.display());
    path
}

pub struct Natterd {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
    /// The server's own shared folder, fresh for each server and removed on drop, so
    /// no test leaves a `SharedFiles` folder behind or sees another test's files.
    pub shared: TempPath,
}

impl Natterd {
    /// natterd on a free port with its own empty shared folder. Pass `--max-rate 0`
    /// in tests that send many requests quickly (flood control would pause them).
    pub fn start(args: &[&str]) -> Natterd {
        let shared = TempPath::new("shared");
        std::fs::create_dir_all(&shared.0).expect("create the shared folder");
        Natterd::start_in(shared, args, &[])
    }

    /// As [`Natterd::start`], with extra environment variables (`NATTER_SECRET`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Natterd {
        let shared = TempPath::new("shared");
        std::fs::create_dir_all(&shared.0).expect("create the shared folder");
        Natterd::start_in(shared, args, env)
    }

    fn start_in(shared: TempPath, args: &[&str], env: &[(&str, &str)]) -> Natterd {
        let mut cmd = Command::new(natterd_bin());
        cmd.arg("0")
            .arg("--shared-dir")
            .arg(&shared.0)
            .args(args)
            .env_remove("NATTER_SECRET")
            .env_remove("SERVER_SHARED_FILES")
            .env_remove("SERVERSHAREDFILES");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
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
        let sink = log.clone();
        let stderr = child.stderr.take().expect("stderr");
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
            log,
            shared,
        }
    }

    /// The path of `name` in the server's shared folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.shared.0.join(name)
    }

    /// Waits until the log holds `needle`; fails with the log after [`WAIT`].
    pub fn wait_log(&self, needle: &str) {
        let end = Instant::now() + WAIT;
        while !self.log().contains(needle) {
            assert!(
                Instant::now() < end,
                "natterd never logged {needle:?}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// `host:port` as natter names it in messages.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A peer that has read its WELCOME and taken `name`.
    pub fn join(&self, name: &str) -> Peer {
        let mut p = Peer::connect(self.addr);
        p.expect_prefix("WELCOME natter/1 ");
        p.send(&format!("HELLO {name}\n"));
        p.expect(&format!("OK HELLO {name}"));
        p.expect(&format!("JOIN {name}"));
        p
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }
}

impl Drop for Natterd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        stream.set_nodelay(true).expect("nodelay");
        Peer {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, s: &str) {
        self.stream.write_all(s.as_bytes()).expect("send");
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

    pub fn expect(&mut self, want: &str) {
        let got = self.line();
        assert_eq!(got.as_deref(), Some(want));
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
}

/// A unique path under the system temp dir, removed (if it exists) on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(what: &str) -> TempPath {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("natter-test-{}-{n}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A working directory for natter runs outside the repository, so a default
/// download folder (`./<USERNAME>/`) never lands in the source tree. Tests that
/// download still pass `--download-dir` to a folder of their own.
pub fn scratch_cwd() -> PathBuf {
    let dir = std::env::temp_dir().join("natter-test-cwd");
    std::fs::create_dir_all(&dir).expect("create the scratch working directory");
    dir
}

/// The natter command for a batch run, with a throwaway history file so tests never
/// touch the user's, and no secret from the environment.
pub fn natter(args: &[&str]) -> Command {
    let mut c = Command::new(natter_bin());
    c.args(args)
        .current_dir(scratch_cwd())
        .env_remove("NO_COLOR")
        .env_remove("NATTER_SECRET")
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join("natter-test-state"),
        );
    c
}

/// Runs natter in batch mode with `script` on stdin and waits (with a deadline) for
/// it to finish.
pub fn run_batch(args: &[&str], script: &str) -> Output {
    run_cmd(natter(args), script)
}

/// As [`run_batch`], for a command built with [`natter`] and changed (environment).
pub fn run_cmd(mut cmd: Command, script: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start natter");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(script.as_bytes()).expect("write script");
    drop(stdin);
    wait_output(child)
}

/// Collects a child's output, failing the test if it runs past [`WAIT`].
pub fn wait_output(mut child: Child) -> Output {
    let end = Instant::now() + WAIT;
    let out = spawn_collect(child.stdout.take());
    let err = spawn_collect(child.stderr.take());
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!(
                "natter did not finish within {WAIT:?}; stdout so far {:?}, stderr {:?}",
                out.lock().unwrap(),
                err.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The pipes close when the process exits; give the collectors a bounded moment.
    let drained = Instant::now() + WAIT;
    while Arc::strong_count(&out) > 1 || Arc::strong_count(&err) > 1 {
        assert!(Instant::now() < drained, "output pipes never closed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stdout = out.lock().unwrap().clone();
    let stderr = err.lock().unwrap().clone();
    Output {
        status,
        stdout,
        stderr,
    }
}

fn spawn_collect<R: Read + Send + 'static>(r: Option<R>) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    if let Some(mut r) = r {
        let sink = buf.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = r.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
            drop(sink);
        });
    } else {
        return buf;
    }
    buf
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// natter in batch mode, fed one line at a time, read one line at a time.
pub struct Live {
    pub child: Child,
    pub stdin: ChildStdin,
    lines: Receiver<String>,
}

impl Live {
    /// Starts `cmd` (built with [`natter`]) with its stdin and stdout piped.
    pub fn start(mut cmd: Command) -> Live {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start natter");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Live {
            child,
            stdin,
            lines,
        }
    }

    pub fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to natter");
    }

    /// The next line; fails after [`WAIT`].
    pub fn next_line(&mut self) -> String {
        self.lines
            .recv_timeout(WAIT)
            .expect("a line from natter in time")
    }

    /// Reads lines until one contains `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self.next_line();
            if line.contains(needle) {
                return line;
            }
        }
    }

    /// The next line that starts with `* `, skipping joins; fails after [`WAIT`].
    pub fn next_info(&mut self) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(WAIT)
                .expect("a line from natter in time");
            if line.starts_with("* ") && !line.contains("joined") && !line.contains("Welcome") {
                return line;
            }
        }
    }
}
