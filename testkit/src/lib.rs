//! natter-testkit: the harness shared by every crate's end-to-end tests.
//!
//! - [`Natterd`]: a real natterd process on a free loopback port (port 0), with its own
//!   temporary shared folder and its log collected, stopped when dropped.
//! - [`Peer`]: a raw TCP peer that speaks the protocol line by line, as `nc` would.
//! - [`Redis`]: a real redis-server on a free loopback port, for the cluster.
//! - [`FakeServer`]: a listener whose connections the test answers by hand, as a
//!   natterd that says exactly what the test wants, when it wants.
//! - [`temp_dir`], [`TempPath`]: fresh folders and paths under the system's temp dir.
//!
//! Every wait has a deadline ([`WAIT`]) and waits for a condition, never a fixed time.
//! Dev-only: no shipped crate depends on it.

mod fake;
mod natterd;
mod peer;
mod redis;

pub use fake::FakeServer;
pub use natterd::{natterd_bin, Natterd};
pub use peer::Peer;
pub use redis::{redis_server_bin, Redis};

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long any single wait in a test may take before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "natter-test-{what}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A new empty directory under the system's temp dir (left for the caller to remove).
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = unique(tag);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create a temporary directory");
    d
}

/// A unique path under the system temp dir, not created; removed (file or folder, if
/// anything is there) on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(what: &str) -> TempPath {
        let p = unique(what);
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
