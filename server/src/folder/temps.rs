//! Upload temporaries: hidden files that hold an upload until it is whole, and that
//! are also its name's reservation, visible to every natterd sharing the folder.
//!
//! An upload for `song.mp3` lives in `.natter-upload-<hash of song.mp3>`, created
//! exclusively (so a second upload for the same name, from this natterd or another,
//! sees it taken and picks the next number) and locked with `flock` by the process
//! writing it. The lock dies with its owner, so at startup natterd removes only the
//! temporaries nobody holds: a crash's leftovers, never another live natterd's upload.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temporary upload files start with this (hidden, so never listed or served).
pub const TEMP_PREFIX: &str = ".natter-upload-";
/// A temporary nobody holds is removed only once it is this old. Its owner creates it
/// and locks it a moment later; a natterd starting up in that moment must not take
/// the unlocked new file for a leftover.
pub const STALE_AGE: Duration = Duration::from_secs(10);

/// The reservation file for uploads named `name`. Two names may share a hash; the
/// second is then simply treated as taken and numbered on.
pub fn path_for(root: &Path, name: &str) -> PathBuf {
    // FNV-1a: stable across runs and builds, which the reservation needs (every
    // natterd on the folder must agree on the file for a name).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    root.join(format!("{TEMP_PREFIX}{h:016x}"))
}

/// Creates and locks the reservation for `name`; `Ok(None)` if someone holds it.
pub fn create(root: &Path, name: &str) -> io::Result<Option<(File, PathBuf)>> {
    let path = path_for(root, name);
    let file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    };
    if !lock(&file) {
        // Nobody else can have locked a file we just created; if flock itself is not
        // supported here, the upload still works, without the protection.
        log::debug!("cannot lock {}", path.display());
    }
    Ok(Some((file, path)))
}

/// Whether someone holds the reservation for `name`.
pub fn reserved(root: &Path, name: &str) -> bool {
    path_for(root, name).symlink_metadata().is_ok()
}

/// An exclusive lock without waiting: true if this open file now holds it.
fn lock(file: &File) -> bool {
    // SAFETY: flock on a descriptor we own; it only changes the lock state.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// What to do with one temporary found in the folder.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Held by a live natterd.
    InUse,
    /// Nobody holds it, and it is old enough to be a leftover: removed.
    Removed,
    /// Nobody holds it, but it is too new to judge: look again later.
    TooNew,
    /// It could not be examined or removed.
    Failed(String),
}

/// Judges (and if stale, removes) the temporary at `path`.
pub fn sweep_one(path: &Path, now: SystemTime) -> Found {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Found::Removed,
        Err(e) => return Found::Failed(e.to_string()),
    };
    if !lock(&file) {
        return Found::InUse;
    }
    let age = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .unwrap_or_default();
    if age < STALE_AGE {
        return Found::TooNew;
    }
    // Removed while we hold its lock, so no one can be starting on it.
    match std::fs::remove_file(path) {
        Ok(()) => Found::Removed,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Found::Removed,
        Err(e) => Found::Failed(e.to_string()),
    }
}

/// Every temporary in `root`, by path.
pub fn list(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            found.push(entry.path());
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("natter-temps-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_reservation_is_exclusive_and_held_by_its_lock() {
        let d = dir("lock");
        let (file, path) = create(&d, "song.mp3").unwrap().unwrap();
        assert!(reserved(&d, "song.mp3") && !reserved(&d, "other.mp3"));
        assert!(create(&d, "song.mp3").unwrap().is_none(), "exclusive");
        let later = SystemTime::now() + Duration::from_secs(3600);
        assert_eq!(sweep_one(&path, later), Found::InUse, "its owner holds it");
        drop(file);
        assert_eq!(sweep_one(&path, SystemTime::now()), Found::TooNew);
        assert_eq!(sweep_one(&path, later), Found::Removed);
        assert!(!path.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_same_name_always_has_the_same_file() {
        let d = Path::new("/shared");
        assert_eq!(path_for(d, "a.txt"), path_for(d, "a.txt"));
        assert_ne!(path_for(d, "a.txt"), path_for(d, "b.txt"));
        assert!(path_for(d, "a.txt")
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(TEMP_PREFIX));
    }
}
