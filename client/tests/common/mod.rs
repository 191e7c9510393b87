//! Test harness for the natter client: the natter binary run in batch mode, fed line
//! by line, or in a pseudo-terminal (`tty`), on top of the shared kit (a real natterd
//! on a free loopback port, raw protocol peers, temporary paths). Every wait has a
//! deadline and waits for a condition, never a fixed time.

#![allow(dead_code, unused_imports)]

pub mod tty;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ChildStdin;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use natter_testkit::{FakeServer, Natterd, Peer, TempPath, WAIT};

pub fn natter_bin() -> &'static str {
    env!("CARGO_BIN_EXE_natter")
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
    // natter may be gone before reading a word (a usage error): that is an outcome
    // for the test to look at, not a failure to write.
    if let Err(e) = stdin.write_all(script.as_bytes()) {
        assert_eq!(
            e.kind(),
            std::io::ErrorKind::BrokenPipe,
            "write script: {e}"
        );
    }
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

/// Waits until `server` knows the SHA-256 of `file` in its folder (it hashes files
/// put there by hand a step at a time), asking with `FILES` as a peer named `watcher`.
pub fn wait_hashed(server: &Natterd, file: &str) {
    let mut p = server.join("watcher");
    let end = Instant::now() + WAIT;
    loop {
        p.send("FILES\n");
        let l = p.expect_reply_prefix(&format!("FILE {file} "));
        p.expect_reply_prefix("OK FILES");
        if l.split(' ').count() == 5 {
            return;
        }
        assert!(Instant::now() < end, "{file} never hashed: {l}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
