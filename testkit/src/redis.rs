//! A real redis-server for the cluster's tests: on a free loopback port, persistence
//! off, killed on drop; restartable on the same port (a Redis restart), optionally
//! with a password or TLS only.

use crate::{temp_dir, WAIT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A loopback port free right now, below the kernel's ephemeral range (32768 and up
/// on Linux): a port from `bind(0)` is handed out again as soon as it is dropped, so
/// another test's natterd on port 0 could take a Redis port while that Redis is down
/// for a restart, and nodes of two tests would then meet in one Redis.
fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(7919);
    for _ in 0..12_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (base.wrapping_add(n) % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port between 20000 and 32000");
}

pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    args: Vec<String>,
    /// TLS only: the port is a TLS port.
    tls: bool,
    pub dir: PathBuf,
}

/// The redis-server to run: $REDIS_SERVER, else the one on PATH.
pub fn redis_server_bin() -> String {
    std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

impl Redis {
    /// Plain TCP, no password.
    pub fn start() -> Redis {
        Redis::start_with(&[], false)
    }

    /// With `requirepass`.
    pub fn with_password(password: &str) -> Redis {
        Redis::start_with(&["--requirepass", password], false)
    }

    /// TLS only, with the certificate and key in `cert`, `key` (PEM); clients are not
    /// asked for certificates.
    pub fn with_tls(cert: &std::path::Path, key: &std::path::Path) -> Redis {
        let (c, k) = (cert.display().to_string(), key.display().to_string());
        Redis::start_with(
            &[
                "--tls-cert-file",
                &c,
                "--tls-key-file",
                &k,
                "--tls-ca-cert-file",
                &c,
                "--tls-auth-clients",
                "no",
            ],
            true,
        )
    }

    fn start_with(extra: &[&str], tls: bool) -> Redis {
        let dir = temp_dir("redis");
        let mut r = Redis {
            child: None,
            port: 0,
            args: extra.iter().map(|s| s.to_string()).collect(),
            tls,
            dir,
        };
        // A port someone else took between our check and redis-server's bind makes
        // that redis-server exit at once: take the next one.
        for _ in 0..50 {
            r.port = free_port();
            if r.spawn() {
                return r;
            }
        }
        panic!("redis-server would not start on any of 50 free loopback ports");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `redis://127.0.0.1:PORT` (or `rediss://localhost:PORT` for TLS, the name
    /// the test certificate carries).
    pub fn url(&self) -> String {
        if self.tls {
            format!("rediss://localhost:{}", self.port)
        } else {
            format!("redis://127.0.0.1:{}", self.port)
        }
    }

    /// Starts (again) on the same port, with nothing kept from before.
    pub fn restart(&mut self) {
        assert!(
            self.spawn(),
            "redis-server could not listen on port {} again",
            self.port
        );
    }

    /// Starts redis-server on `self.port`; false if it exited (the port was taken).
    fn spawn(&mut self) -> bool {
        self.kill();
        let port = self.port.to_string();
        let mut cmd = Command::new(redis_server_bin());
        if self.tls {
            cmd.args(["--port", "0", "--tls-port", &port]);
        } else {
            cmd.args(["--port", &port]);
        }
        // Its own log tells us it listens: a connect alone could reach whatever
        // else holds the port (another test's redis, say) before ours gives up.
        let log = self.dir.join("redis.log");
        let _ = std::fs::remove_file(&log);
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir"])
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}. The cluster tests need a real redis-server: install the redis-server package (.ci/run does), or set REDIS_SERVER to one",
                redis_server_bin()
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            // A redis-server that could not bind exits.
            if let Some(c) = self.child.as_mut() {
                if !matches!(c.try_wait(), Ok(None)) {
                    self.child = None;
                    return false;
                }
            }
            let ready = std::fs::read_to_string(&log)
                .is_ok_and(|l| l.contains("Ready to accept connections"));
            if ready && TcpStream::connect(self.addr()).is_ok() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not listen on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: gone at once, with everything it held.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// One command over plain TCP (not for TLS), its reply's first line.
    pub fn command(&self, args: &[&str]) -> String {
        let mut s = TcpStream::connect(self.addr()).expect("connect to redis");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        s.write_all(req.as_bytes()).expect("write to redis");
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !whole_reply(&got) {
            let n = s.read(&mut buf).expect("read from redis");
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&got).trim_end().to_string()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `got` holds a whole simple reply or bulk string (all `command` reads).
fn whole_reply(got: &[u8]) -> bool {
    let Some(end) = got.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    if got[0] != b'$' {
        return true;
    }
    match std::str::from_utf8(&got[1..end])
        .ok()
        .and_then(|n| n.parse::<i64>().ok())
    {
        Some(n) if n >= 0 => got.len() >= end + 2 + n as usize + 2,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_held_by_another_listener_is_not_taken_for_our_redis() {
        let holder = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
        let mut r = Redis {
            child: None,
            port: holder.local_addr().expect("its address").port(),
            args: Vec::new(),
            tls: false,
            dir: temp_dir("redis"),
        };
        assert!(
            !r.spawn(),
            "a redis-server that could not bind was taken as up"
        );
    }

    #[test]
    fn two_redis_of_one_test_process_get_ports_of_their_own() {
        let (a, b) = (Redis::start(), Redis::start());
        assert_ne!(a.port, b.port);
        assert!(a.port < 32_768 && b.port < 32_768);
        assert_eq!(a.command(&["PING"]), "+PONG");
    }
}
