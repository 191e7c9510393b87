//! What the session's unit tests share.

use natter_protocol::FileName;
use std::path::PathBuf;

pub fn f(s: &str) -> FileName {
    FileName::new(s).unwrap()
}

/// A fresh temporary folder for one test, removed when dropped.
pub struct Dir(pub PathBuf);

impl Dir {
    pub fn new(what: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "natter-unit-{}-{what}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
