//! A real natterd for a test: started on port 0 with a shared folder of its own,
//! its address read from its first line, its log collected, killed on drop.

use crate::{temp_dir, WAIT};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The natterd binary of this build, built first if it is missing or stale.
///
/// natterd's own tests get it from cargo (`CARGO_BIN_EXE_natterd`, fresh by
/// construction). A test of another crate has no such path, and reusing whatever
/// binary lies in the target directory would test a stale server, so it asks cargo
/// to build natterd with the running test's profile, once per test process: a
/// fraction of a second when it is fresh. It builds into a target directory of its
/// own (`<target>/testkit`): a test build unifies dependency features with the
/// tests' dev-dependencies, a plain build does not, and sharing one directory would
/// rebuild those dependencies back and forth on every run.
pub fn natterd_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(own) = std::env::var_os("CARGO_BIN_EXE_natterd") {
            return PathBuf::from(own);
        }
        // A test runs from <target>/<profile>/deps/; the binaries live one level up.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test runs from <target>/<profile>/deps");
        let profile = profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("debug");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--quiet",
            "-p",
            "natter-server",
            "--bin",
            "natterd",
        ]);
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let own_target = profile_dir
            .parent()
            .expect("a target directory above the profile's")
            .join("testkit");
        let status = build
            .env("CARGO_TARGET_DIR", &own_target)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build for natterd");
        assert!(status.success(), "cargo build -p natter-server failed");
        let path = own_target.join(profile).join("natterd");
        assert!(path.exists(), "no natterd at {}", path.display());
        path
    })
    .clone()
}

pub struct Natterd {
    pub child: Child,
    pub addr: SocketAddr,
    /// The shared folder; one the harness made is removed on drop.
    pub dir: PathBuf,
    owns_dir: bool,
    log: Arc<Mutex<String>>,
}

impl Natterd {
    /// natterd on a free port with its own empty shared folder, removed on drop.
    /// Pass `--max-rate 0` in tests that send many requests quickly (flood control
    /// would pause them).
    pub fn start(args: &[&str]) -> Natterd {
        Natterd::start_with_env(args, &[])
    }

    /// As [`Natterd::start`], with extra environment variables (`NATTER_SECRET`).
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Natterd {
        let dir = temp_dir("shared");
        let mut srv = Natterd::start_in(&dir, args, env);
        srv.owns_dir = true;
        srv
    }

    /// natterd with `dir` as its shared folder, unless `args` name another or `env`
    /// sets one of the shared-folder variables (the tests of those), and with extra
    /// environment variables. Nothing of the caller's environment that natterd reads
    /// (a secret, a shared folder) leaks in.
    pub fn start_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Natterd {
        Natterd::launch(dir, args, env, None, 0)
    }

    /// natterd on `port` (for `--reuse-port`, where several share one) with `dir` as
    /// its shared folder.
    pub fn start_on(port: u16, dir: &Path, args: &[&str]) -> Natterd {
        Natterd::launch(dir, args, &[], None, port)
    }

    /// As [`Natterd::start_in`], under a descriptor limit (`ulimit -n`), soft and hard.
    pub fn start_with_fd_limit(dir: &Path, args: &[&str], limit: u64) -> Natterd {
        Natterd::launch(dir, args, &[], Some(limit), 0)
    }

    fn launch(
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        fd_limit: Option<u64>,
        port: u16,
    ) -> Natterd {
        let mut cmd = Command::new(natterd_bin());
        if let Some(limit) = fd_limit {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe, which is all a pre_exec hook
            // may call; it only changes the child's own limit.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        cmd.arg(port.to_string()).args(args);
        let folder_given = args.contains(&"--shared-dir")
            || env
                .iter()
                .any(|(k, _)| *k == "SERVER_SHARED_FILES" || *k == "SERVERSHAREDFILES");
        if !folder_given {
            cmd.arg("--shared-dir").arg(dir);
        }
        let mut child = cmd
            .env_remove("NATTER_SECRET")
            .env_remove("NATTER_CLUSTER_PASSWORD")
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
            dir: dir.to_path_buf(),
            owns_dir: false,
            log,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// `host:port` as natter names it in messages.
    pub fn target(&self) -> String {
        format!("127.0.0.1:{}", self.addr.port())
    }

    /// The path of `name` in the server's shared folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Everything natterd has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle`; returns the whole log. Fails with the log
    /// after [`WAIT`].
    pub fn wait_log(&self, needle: &str) -> String {
        let end = Instant::now() + WAIT;
        loop {
            let log = self.log();
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

    pub fn connect(&self) -> crate::Peer {
        crate::Peer::connect(self.addr)
    }

    /// A peer that has read its WELCOME and taken `name`.
    pub fn join(&self, name: &str) -> crate::Peer {
        self.join_with(name, "")
    }

    /// As [`Natterd::join`], with HELLO options (`" data=1048576"`).
    pub fn join_with(&self, name: &str, options: &str) -> crate::Peer {
        let mut p = self.connect();
        p.expect_prefix("WELCOME natter/1 ");
        p.send(&format!("HELLO {name}{options}\n"));
        p.expect(&format!("OK HELLO {name}"));
        p.expect(&format!("JOIN {name}"));
        p
    }

    /// The server's resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        self.proc_status_kib("VmRSS:")
    }

    /// The most the server's resident set has been, in KiB, since it started or since
    /// [`Natterd::reset_peak_rss`].
    pub fn peak_rss_kib(&self) -> u64 {
        self.proc_status_kib("VmHWM:")
    }

    /// Starts the peak (`VmHWM`) afresh from the current resident set.
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5")
            .expect("reset the peak RSS through /proc/PID/clear_refs");
    }

    fn proc_status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid() as i32, sig);
        }
    }

    /// Sends a signal and waits for the process to exit; returns its exit code.
    pub fn signal_and_wait(&mut self, sig: i32) -> Option<i32> {
        self.signal(sig);
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
