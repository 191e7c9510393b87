//! The shared folder: what it holds (an index in memory, see `index`), downloads (a
//! send cursor over an open file) and uploads (a locked hidden temporary, published
//! under its real name only when whole, see `temps`).
//!
//! Names come in as `FileName`s, already validated by the protocol crate, so joining
//! one onto the folder cannot leave it. Symlinks are never followed: they are not
//! listed, and files are opened with `O_NOFOLLOW`. A published file is linked into
//! place, which fails rather than replace an existing file. Nothing here reads a whole
//! file into memory, scans the directory after startup, or touches a socket. Several
//! natterds may share one folder: reservations and leftovers are judged on disk.

mod index;
mod temps;
mod transfer;

pub use index::{Entry, Totals};
pub use transfer::{FileSend, Upload};

use index::Index;
use natter_protocol::{ErrorCode, FileName, Time};
use std::cell::Cell;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

/// Reservations tried for one upload before it is refused: only a crowd of uploads
/// for one name, all at once, can use them up.
const RESERVE_TRIES: u32 = 32;

/// What to do when an upload's name is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Store it as `name_1.ext`, `name_2.ext`, ...
    Rename,
    /// Refuse with `ERR exists`.
    Reject,
}

/// A refusal, with the code and words the client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub code: ErrorCode,
    pub text: String,
}

impl FileError {
    pub(super) fn new(code: ErrorCode, text: impl Into<String>) -> FileError {
        FileError {
            code,
            text: text.into(),
        }
    }

    pub(super) fn io(what: &str, name: &FileName, e: &io::Error) -> FileError {
        let code = match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorCode::NoSpace,
            _ if e.kind() == io::ErrorKind::NotFound => ErrorCode::NoSuchFile,
            _ => ErrorCode::Internal,
        };
        FileError::new(code, format!("cannot {what} {name}: {}", describe(e)))
    }
}

/// One file being hashed, and how far.
struct HashJob {
    name: FileName,
    file: File,
    size: u64,
    mtime: Time,
    done: u64,
    hasher: sha2::Sha256,
}

pub struct SharedFolder {
    root: PathBuf,
    index: Index,
    /// A file put in the folder by other means, being hashed a step at a time.
    hashing: Option<HashJob>,
    /// Files that could not be read to hash, until they change.
    unhashable: std::collections::BTreeSet<FileName>,
    /// Temporaries nobody held at startup but too new to call leftovers; looked at
    /// again once they are old enough.
    recheck: Vec<PathBuf>,
    /// This natterd's uploads in progress (each counts itself in while it lives).
    uploading: Rc<Cell<Totals>>,
}

impl SharedFolder {
    /// Opens (creating if needed) the folder, removes the temporaries no live natterd
    /// holds, and reads what it holds.
    pub fn open(root: &Path) -> io::Result<SharedFolder> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let mut folder = SharedFolder {
            index: Index::default(),
            hashing: None,
            unhashable: Default::default(),
            recheck: temps::list(&root)?,
            root,
            uploading: Rc::default(),
        };
        folder.sweep_temporaries(SystemTime::now());
        folder.index = Index::scan(&folder.root)?;
        Ok(folder)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &FileName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// The shared files after `after` (from the first if `None`), in name order.
    pub fn files_after<'a>(
        &'a self,
        after: Option<&FileName>,
    ) -> impl Iterator<Item = (&'a FileName, Entry)> + 'a {
        self.index.files_after(after)
    }

    /// The shared files and the bytes they take, as the index sees them: natterd's own
    /// uploads once published, and whatever others (a person, another natterd on the
    /// folder) put there, once the watch has told of it.
    pub fn contents(&self) -> Totals {
        self.index.totals()
    }

    /// This natterd's uploads in progress and their declared sizes. Another
    /// natterd's uploads on the same folder are not known until they are published.
    pub fn uploading(&self) -> Totals {
        self.uploading.get()
    }

    /// Someone changed these names in the folder (the loop's directory watch saw it);
    /// `overflow` says changes were lost and everything must be read again.
    pub fn changed<'a>(&mut self, names: impl IntoIterator<Item = &'a OsStr>, overflow: bool) {
        if overflow {
            log::warn!("the shared folder changed faster than it was watched; reading it again");
            match Index::scan(&self.root) {
                Ok(index) => self.index = index,
                Err(e) => log::error!("cannot read the shared folder: {}", describe(&e)),
            }
            return;
        }
        for name in names {
            if let Some(name) = index::shareable(name) {
                // Changed: worth another try, and a hash under way is of the old one.
                self.unhashable.remove(&name);
                if self.hashing.as_ref().is_some_and(|j| j.name == name) {
                    self.hashing = None;
                }
                self.index.refresh(&self.root, name);
            }
        }
    }

    /// The entry of a shared file.
    pub fn entry(&self, name: &FileName) -> Option<Entry> {
        self.index.get(name).filter(|e| e.regular)
    }

    /// Hashes up to `budget` bytes of the files whose SHA-256 is not known yet (put
    /// there by hand, or by another natterd on the folder). Returns whether more is
    /// left to hash. A 10 GB file is many calls, each as short as its budget.
    pub fn hash_step(&mut self, budget: usize) -> bool {
        use sha2::Digest;
        use std::io::Read;
        let mut left = budget;
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            if self.hashing.is_none() {
                let after = None;
                let Some((name, entry)) = self.index.next_unhashed(after, &self.unhashable) else {
                    return false;
                };
                match OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                    .open(self.path(&name))
                {
                    Ok(file) => {
                        self.hashing = Some(HashJob {
                            name,
                            file,
                            size: entry.size,
                            mtime: entry.mtime,
                            done: 0,
                            hasher: sha2::Sha256::new(),
                        });
                    }
                    Err(e) => {
                        log::debug!("cannot hash {name}: {}", describe(&e));
                        self.unhashable.insert(name);
                        continue;
                    }
                }
            }
            let Some(job) = self.hashing.as_mut() else {
                return false;
            };
            let want = buf.len().min(left);
            match job.file.read(&mut buf[..want]) {
                Ok(0) => {
                    let job = self.hashing.take();
                    if let Some(job) = job {
                        if job.done == job.size {
                            let sum = natter_protocol::Sha256(job.hasher.finalize().into());
                            self.index.set_hash(&job.name, job.size, job.mtime, sum);
                        }
                        // Else it changed while hashed; the watch will have said so.
                        if self
                            .index
                            .get(&job.name)
                            .is_some_and(|e| e.sha256.is_none())
                        {
                            self.unhashable.insert(job.name);
                        }
                    }
                }
                Ok(n) => {
                    job.hasher.update(&buf[..n]);
                    job.done += n as u64;
                    left = left.saturating_sub(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("cannot hash {}: {}", job.name, describe(&e));
                    if let Some(job) = self.hashing.take() {
                        self.unhashable.insert(job.name);
                    }
                }
            }
        }
        true
    }

    /// Removes the leftovers found at startup once they are old enough to judge.
    pub fn tick(&mut self, now: SystemTime) {
        if !self.recheck.is_empty() {
            self.sweep_temporaries(now);
        }
    }

    fn sweep_temporaries(&mut self, now: SystemTime) {
        let mut removed = 0;
        self.recheck
            .retain(|path| match temps::sweep_one(path, now) {
                temps::Found::Removed => {
                    removed += 1;
                    false
                }
                temps::Found::InUse => false,
                temps::Found::TooNew => true,
                temps::Found::Failed(e) => {
                    log::warn!("cannot remove stale upload {}: {e}", path.display());
                    false
                }
            });
        if removed > 0 {
            log::info!("removed {removed} unfinished upload(s) left from an earlier run");
        }
    }

    /// Opens a shared file to send from `offset`.
    pub fn open_download(&self, name: &FileName, offset: u64) -> Result<(File, u64), FileError> {
        let not_found = || {
            FileError::new(
                ErrorCode::NoSuchFile,
                format!("no file named {name} is shared"),
            )
        };
        let mut file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.path(name))
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ELOOP) | Some(libc::ENOTDIR) => not_found(),
                _ => FileError::io("open", name, &e),
            })?;
        let meta = file
            .metadata()
            .map_err(|e| FileError::io("read", name, &e))?;
        // O_NONBLOCK keeps a FIFO planted in the folder from blocking the open; the
        // type check then refuses anything that is not a plain file.
        if !meta.is_file() {
            return Err(not_found());
        }
        let size = meta.len();
        if offset > size {
            return Err(FileError::new(
                ErrorCode::BadOffset,
                format!("{name} is {size} bytes; cannot start at {offset}"),
            ));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| FileError::io("read", name, &e))?;
        Ok((file, size))
    }

    /// Whether an upload may not be given `name`: something holds it, or another
    /// upload (of any natterd on this folder) has reserved it.
    fn is_taken(&self, name: &FileName) -> bool {
        self.index.contains(name) || temps::reserved(&self.root, name.as_str())
    }

    /// Picks the name an upload will be stored under (`wanted`, or when that is taken
    /// and `on_dup` allows, the next free `wanted_N`), reserves it, and opens the
    /// upload's temporary file. O(log n) in the numbered copies already there.
    pub fn start_upload(
        &mut self,
        xfer: u64,
        wanted: &FileName,
        size: u64,
        on_dup: OnDuplicate,
    ) -> Result<Upload, FileError> {
        let no_free = || {
            FileError::new(
                ErrorCode::Exists,
                format!("no free name like {wanted} is left"),
            )
        };
        let mut candidate = wanted.clone();
        let mut next = 1;
        for _ in 0..RESERVE_TRIES {
            if !self.index.contains(&candidate) {
                match temps::create(&self.root, candidate.as_str()) {
                    Ok(Some((file, temp))) => {
                        let hold = transfer::Hold::new(&self.uploading, size);
                        return Ok(Upload::new(xfer, candidate, size, file, temp, hold));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(FileError::io("create", &candidate, &e)),
                }
            }
            if on_dup == OnDuplicate::Reject {
                return Err(FileError::new(
                    ErrorCode::Exists,
                    format!("{wanted} already exists"),
                ));
            }
            let n = self.index.free_number(wanted, next).ok_or_else(no_free)?;
            candidate = wanted.numbered(n).ok_or_else(no_free)?;
            next = n.saturating_add(1);
        }
        Err(no_free())
    }

    /// Publishes a whole upload under its reserved name (or the next free one, if
    /// something else took it meanwhile). Returns the final name.
    pub fn finish_upload(
        &mut self,
        up: &mut Upload,
        on_dup: OnDuplicate,
    ) -> Result<FileName, FileError> {
        let got = up.digest();
        if let Some(want) = up.expected {
            if want != got {
                // Not published: dropping the upload removes its temporary.
                return Err(FileError::new(
                    ErrorCode::Checksum,
                    format!(
                        "{} arrived with SHA-256 {got}, not the {want} it was sent with; not kept",
                        up.stored_as
                    ),
                ));
            }
        }
        up.file
            .sync_all()
            .map_err(|e| FileError::io("save", &up.stored_as, &e))?;
        let wanted = up.stored_as.clone();
        let mut name = wanted.clone();
        let mut next = 1;
        let mut tries = 0;
        loop {
            match std::fs::hard_link(&up.temp, self.path(&name)) {
                Ok(()) => break,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // Someone (a person, another natterd) put a file there meanwhile.
                    self.index.refresh(&self.root, name.clone());
                    tries += 1;
                    if on_dup == OnDuplicate::Reject || tries >= RESERVE_TRIES {
                        return Err(FileError::new(
                            ErrorCode::Exists,
                            format!("{wanted} already exists"),
                        ));
                    }
                    loop {
                        let n = self.index.free_number(&wanted, next).ok_or_else(|| {
                            FileError::new(ErrorCode::Exists, format!("no free name like {wanted}"))
                        })?;
                        next = n.saturating_add(1);
                        name = wanted.numbered(n).ok_or_else(|| {
                            FileError::new(ErrorCode::Exists, format!("no free name like {wanted}"))
                        })?;
                        if !self.is_taken(&name) {
                            break;
                        }
                    }
                }
                Err(e) => return Err(FileError::io("save", &wanted, &e)),
            }
        }
        up.published = true;
        let _ = std::fs::remove_file(&up.temp);
        // Make the new name durable too, not just the bytes.
        if let Ok(dir) = File::open(&self.root) {
            let _ = dir.sync_all();
        }
        // Its time as the disk has it, so the watch's look at it keeps the hash.
        let mtime = std::fs::symlink_metadata(self.path(&name))
            .map(|m| index::mtime(&m))
            .unwrap_or_else(|_| Time::now());
        self.index.insert(
            name.clone(),
            Entry {
                size: up.size,
                mtime,
                regular: true,
                sha256: Some(got),
            },
        );
        Ok(name)
    }

    pub fn delete(&mut self, name: &FileName) -> Result<u64, FileError> {
        let size = self.regular_file(name)?;
        let result = std::fs::remove_file(self.path(name));
        self.index.refresh(&self.root, name.clone());
        result.map_err(|e| FileError::io("delete", name, &e))?;
        Ok(size)
    }

    pub fn rename(&mut self, old: &FileName, new: &FileName) -> Result<u64, FileError> {
        let size = self.regular_file(old)?;
        if self.is_taken(new) {
            return Err(FileError::new(
                ErrorCode::Exists,
                format!("{new} already exists"),
            ));
        }
        // Link then unlink: like rename, but it fails instead of replacing a file
        // that appeared at the new name in between.
        let linked = std::fs::hard_link(self.path(old), self.path(new));
        self.index.refresh(&self.root, new.clone());
        linked.map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                FileError::new(ErrorCode::Exists, format!("{new} already exists"))
            } else {
                FileError::io("rename", old, &e)
            }
        })?;
        let unlinked = std::fs::remove_file(self.path(old));
        self.index.refresh(&self.root, old.clone());
        unlinked.map_err(|e| FileError::io("rename", old, &e))?;
        Ok(size)
    }

    /// The size of the regular file `name`, asked of the disk (a delete or a rename
    /// must act on what is there, not on what the index last saw).
    fn regular_file(&self, name: &FileName) -> Result<u64, FileError> {
        match self.path(name).symlink_metadata() {
            Ok(m) if m.is_file() => Ok(m.len()),
            _ => Err(FileError::new(
                ErrorCode::NoSuchFile,
                format!("no file named {name} is shared"),
            )),
        }
    }

    /// Bytes free for uploads, if the file system says.
    pub fn free_space(&self) -> Option<u64> {
        let path = std::ffi::CString::new(self.root.as_os_str().as_encoded_bytes()).ok()?;
        // SAFETY: statvfs fills the struct we pass; the path is a valid C string.
        unsafe {
            let mut s: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(path.as_ptr(), &mut s) != 0 {
                return None;
            }
            Some((s.f_bavail as u64).saturating_mul(s.f_frsize as u64))
        }
    }
}

/// A size as a person reads it: `512 B`, `10 GiB` for a whole number of units (a
/// limit, usually), else one decimal, `9.8 GiB`.
pub fn size_words(n: u64) -> String {
    in_units(n, true)
}

/// Two sizes in words, each with its bytes too when the words alone would not tell
/// them apart (`2 MiB (2097152 bytes)` and `2.0 MiB (2097153 bytes)`).
pub fn sizes_apart(a: u64, b: u64) -> (String, String) {
    if a != b && in_units(a, false) == in_units(b, false) {
        (
            format!("{} ({a} bytes)", size_words(a)),
            format!("{} ({b} bytes)", size_words(b)),
        )
    } else {
        (size_words(a), size_words(b))
    }
}

/// `n` in the largest unit it reaches, to one decimal; a whole number of units
/// without it when `bare_whole`.
fn in_units(n: u64, bare_whole: bool) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut unit = 0;
    while unit + 1 < UNITS.len() && n >= 1024u64 << (10 * (unit + 1)) {
        unit += 1;
    }
    let scale = 1024u64 << (10 * unit);
    if bare_whole && n.is_multiple_of(scale) {
        format!("{} {}", n / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", n as f64 / scale as f64, UNITS[unit])
    }
}

/// An I/O error in words, without the `(os error N)` tail.
pub fn describe(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_errors_get_the_code_a_client_can_act_on() {
        let name = FileName::new("a.bin").unwrap();
        let code = |e: io::Error| FileError::io("write", &name, &e).code;
        assert_eq!(
            code(io::Error::from_raw_os_error(libc::ENOSPC)),
            ErrorCode::NoSpace
        );
        assert_eq!(
            code(io::Error::from_raw_os_error(libc::EDQUOT)),
            ErrorCode::NoSpace
        );
        assert_eq!(
            code(io::Error::from_raw_os_error(libc::ENOENT)),
            ErrorCode::NoSuchFile
        );
        assert_eq!(
            code(io::Error::from_raw_os_error(libc::EIO)),
            ErrorCode::Internal
        );
        let e = FileError::io("write", &name, &io::Error::from_raw_os_error(libc::ENOSPC));
        assert!(e.text.starts_with("cannot write a.bin: "), "{}", e.text);
    }

    #[test]
    fn sizes_in_words() {
        assert_eq!(size_words(0), "0 B");
        assert_eq!(size_words(1023), "1023 B");
        assert_eq!(size_words(1024), "1 KiB");
        assert_eq!(size_words(1536), "1.5 KiB");
        assert_eq!(size_words(200 << 20), "200 MiB");
        assert_eq!(size_words(10 << 30), "10 GiB");
        assert_eq!(size_words((10 << 30) - 1), "10.0 GiB");
        assert_eq!(size_words(3_328_599_654), "3.1 GiB");
        assert_eq!(size_words(u64::MAX), "16.0 EiB");
        assert_eq!(
            sizes_apart(200 << 20, 1288490189),
            ("200 MiB".into(), "1.2 GiB".into())
        );
        assert_eq!(
            sizes_apart(2 << 20, (2 << 20) + 1),
            (
                "2 MiB (2097152 bytes)".into(),
                "2.0 MiB (2097153 bytes)".into()
            )
        );
        assert_eq!(sizes_apart(40, 41), ("40 B".into(), "41 B".into()));
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("natter-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn f(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    fn listed(folder: &SharedFolder) -> Vec<String> {
        folder
            .files_after(None)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    /// The SHA-256 of `bytes`, as `sha256sum` prints it.
    fn sha(bytes: &[u8]) -> String {
        use sha2::Digest;
        natter_protocol::Sha256(sha2::Sha256::digest(bytes).into()).to_string()
    }

    #[test]
    fn one_upload_a_turn_waits_for_the_disk_and_none_gets_far_ahead() {
        let dir = tempdir("disk-wait");
        let mut folder = SharedFolder::open(&dir).unwrap();
        let mut up = folder
            .start_upload(1, &f("w.bin"), 8 << 20, OnDuplicate::Rename)
            .unwrap();
        let chunk = vec![7u8; 64 << 10];
        // Another upload waited this turn: 1 MiB behind is not waited for...
        let mut may_wait = false;
        for _ in 0..16 {
            up.write(&chunk, &mut may_wait).unwrap();
        }
        assert_eq!(up.synced, 0);
        // ...until a turn with the wait free, which this upload then takes.
        let mut may_wait = true;
        up.write(&chunk, &mut may_wait).unwrap();
        up.write(&chunk, &mut may_wait).unwrap();
        assert!(!may_wait, "the turn's wait was not taken");
        assert_eq!(up.synced, 1 << 20);
        // Never free again: it waits anyway once 4 MiB behind.
        let mut may_wait = false;
        for _ in 0..16 * 4 {
            up.write(&chunk, &mut may_wait).unwrap();
        }
        assert!(up.synced >= 4 << 20, "{}", up.synced);
    }

    #[test]
    fn an_upload_is_hashed_as_it_arrives_and_a_wrong_hash_is_never_published() {
        let dir = tempdir("hash-up");
        let mut folder = SharedFolder::open(&dir).unwrap();
        let mut up = folder
            .start_upload(1, &f("a.txt"), 5, OnDuplicate::Rename)
            .unwrap();
        up.write(b"hel", &mut true).unwrap();
        up.write(b"lo", &mut true).unwrap();
        let name = folder.finish_upload(&mut up, OnDuplicate::Rename).unwrap();
        let e = folder.entry(&name).unwrap();
        assert_eq!(e.sha256.map(|h| h.to_string()), Some(sha(b"hello")));
        // The watch's look at the new file keeps what is known of it.
        folder.changed([std::ffi::OsStr::new("a.txt")], false);
        assert_eq!(folder.entry(&name).unwrap().sha256, e.sha256);

        let mut bad = folder
            .start_upload(2, &f("b.txt"), 5, OnDuplicate::Rename)
            .unwrap();
        bad.expected = Some(natter_protocol::Sha256::parse(&sha(b"HELLO")).unwrap());
        bad.write(b"hello", &mut true).unwrap();
        let err = folder
            .finish_upload(&mut bad, OnDuplicate::Rename)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Checksum);
        assert!(err.text.contains(&sha(b"hello")), "{}", err.text);
        drop(bad);
        assert_eq!(listed(&folder), ["a.txt"]);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        let mut good = folder
            .start_upload(3, &f("c.txt"), 2, OnDuplicate::Rename)
            .unwrap();
        good.expected = Some(natter_protocol::Sha256::parse(&sha(b"ok")).unwrap());
        good.write(b"ok", &mut true).unwrap();
        assert!(folder.finish_upload(&mut good, OnDuplicate::Rename).is_ok());
    }

    #[test]
    fn files_put_in_by_hand_are_hashed_in_steps_and_forgotten_when_changed() {
        let dir = tempdir("hash-hand");
        std::fs::create_dir_all(&dir).unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 7) as u8).collect();
        std::fs::write(dir.join("big.bin"), &big).unwrap();
        std::fs::write(dir.join("small.txt"), b"tiny").unwrap();
        let mut folder = SharedFolder::open(&dir).unwrap();
        assert_eq!(folder.entry(&f("big.bin")).unwrap().sha256, None);
        // 300 KB in steps of 64 KiB: several steps, each bounded.
        let mut steps = 0;
        while folder.hash_step(64 * 1024) {
            steps += 1;
            assert!(steps < 100, "hashing never ends");
        }
        assert!(steps >= 4, "{steps} steps");
        let got = |folder: &SharedFolder, n: &str| {
            folder.entry(&f(n)).unwrap().sha256.map(|h| h.to_string())
        };
        assert_eq!(got(&folder, "big.bin"), Some(sha(&big)));
        assert_eq!(got(&folder, "small.txt"), Some(sha(b"tiny")));
        // Changed: the old hash is forgotten, and the new one found.
        std::fs::write(dir.join("small.txt"), b"bigger now").unwrap();
        folder.changed([std::ffi::OsStr::new("small.txt")], false);
        let mtime_moved = folder.entry(&f("small.txt")).unwrap().size != 4;
        assert!(mtime_moved);
        assert_eq!(got(&folder, "small.txt"), None);
        while folder.hash_step(64 * 1024) {}
        assert_eq!(got(&folder, "small.txt"), Some(sha(b"bigger now")));
    }

    #[test]
    fn uploads_publish_whole_or_not_at_all() {
        let dir = tempdir("up");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("song.mp3"), b"old").unwrap();
        let mut folder = SharedFolder::open(&dir).unwrap();
        let song = f("song.mp3");
        let mut up = folder
            .start_upload(1, &song, 5, OnDuplicate::Rename)
            .unwrap();
        let other = folder
            .start_upload(2, &song, 10, OnDuplicate::Rename)
            .unwrap();
        assert_eq!(
            (up.stored_as.as_str(), other.stored_as.as_str()),
            ("song_1.mp3", "song_2.mp3")
        );
        assert!(folder
            .start_upload(3, &song, 1, OnDuplicate::Reject)
            .is_err());
        up.write(b"hel", &mut true).unwrap();
        assert_eq!(
            listed(&folder),
            ["song.mp3"],
            "temporaries are never listed"
        );
        up.write(b"lo", &mut true).unwrap();
        assert_eq!(
            up.write(b"!", &mut true).unwrap_err().code,
            ErrorCode::TooLarge
        );
        assert!(up.is_whole());
        let stored = folder.finish_upload(&mut up, OnDuplicate::Rename).unwrap();
        assert_eq!(std::fs::read(dir.join(stored.as_str())).unwrap(), b"hello");
        assert_eq!(listed(&folder), ["song.mp3", "song_1.mp3"]);
        drop(up);
        drop(other);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // The dropped upload's name is free again.
        let again = folder
            .start_upload(4, &song, 1, OnDuplicate::Rename)
            .unwrap();
        assert_eq!(again.stored_as.as_str(), "song_2.mp3");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn uploads_count_while_they_live_and_their_files_once_published() {
        let dir = tempdir("counts");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("by-hand.txt"), b"abc").unwrap();
        let mut folder = SharedFolder::open(&dir).unwrap();
        let t = |files, bytes| Totals { files, bytes };
        assert_eq!(folder.contents(), t(1, 3));
        assert_eq!(folder.uploading(), t(0, 0));
        let mut up = folder
            .start_upload(1, &f("a.bin"), 5, OnDuplicate::Rename)
            .unwrap();
        let other = folder
            .start_upload(2, &f("b.bin"), 10, OnDuplicate::Rename)
            .unwrap();
        assert_eq!(folder.uploading(), t(2, 15));
        assert_eq!(folder.contents(), t(1, 3), "not published yet");
        drop(other);
        assert_eq!(
            folder.uploading(),
            t(1, 5),
            "a dropped upload gives its share back"
        );
        up.write(b"hello", &mut true).unwrap();
        folder.finish_upload(&mut up, OnDuplicate::Rename).unwrap();
        assert_eq!(folder.contents(), t(2, 8));
        drop(up);
        assert_eq!(folder.uploading(), t(0, 0));
        folder.delete(&f("a.bin")).unwrap();
        assert_eq!(folder.contents(), t(1, 3), "a delete frees at once");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_second_folder_on_the_same_directory_sees_the_first_ones_reservations() {
        let dir = tempdir("two");
        let mut a = SharedFolder::open(&dir).unwrap();
        let mut up = a
            .start_upload(1, &f("two.bin"), 4, OnDuplicate::Rename)
            .unwrap();
        up.write(b"ab", &mut true).unwrap();
        // Another natterd starting on the folder leaves the live upload alone...
        let mut b = SharedFolder::open(&dir).unwrap();
        b.tick(SystemTime::now() + std::time::Duration::from_secs(3600));
        // ...and numbers around it.
        let theirs = b
            .start_upload(1, &f("two.bin"), 1, OnDuplicate::Rename)
            .unwrap();
        assert_eq!(theirs.stored_as.as_str(), "two_1.bin");
        up.write(b"cd", &mut true).unwrap();
        let stored = a.finish_upload(&mut up, OnDuplicate::Rename).unwrap();
        assert_eq!(stored.as_str(), "two.bin");
        assert_eq!(std::fs::read(dir.join("two.bin")).unwrap(), b"abcd");
        // b's index hears of it through its watch; here, told directly.
        b.changed([std::ffi::OsStr::new("two.bin")], false);
        assert_eq!(listed(&b), ["two.bin"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symlinks_and_odd_files_are_not_shared() {
        let dir = tempdir("links");
        SharedFolder::open(&dir).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join(".hidden"), b"x").unwrap();
        std::fs::write(dir.join("ok.txt"), b"x").unwrap();
        let mut folder = SharedFolder::open(&dir).unwrap();
        assert_eq!(listed(&folder), ["ok.txt"]);
        assert_eq!(
            folder.open_download(&f("passwd"), 0).unwrap_err().code,
            ErrorCode::NoSuchFile
        );
        assert_eq!(
            folder.open_download(&f("sub"), 0).unwrap_err().code,
            ErrorCode::NoSuchFile
        );
        assert_eq!(
            folder.delete(&f("passwd")).unwrap_err().code,
            ErrorCode::NoSuchFile
        );
        assert_eq!(
            folder.open_download(&f("ok.txt"), 2).unwrap_err().code,
            ErrorCode::BadOffset
        );
        assert!(std::path::Path::new("/etc/passwd").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_temporaries_are_removed_at_open() {
        let dir = tempdir("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let old = dir.join(".natter-upload-1-2-3");
        std::fs::write(&old, b"half").unwrap();
        let an_hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(an_hour_ago)
            .unwrap();
        let young = dir.join(".natter-upload-4-5-6");
        std::fs::write(&young, b"new").unwrap();
        std::fs::write(dir.join("keep.txt"), b"x").unwrap();
        let mut folder = SharedFolder::open(&dir).unwrap();
        assert!(!old.exists());
        assert!(young.exists(), "too new to call a leftover yet");
        folder.tick(SystemTime::now() + std::time::Duration::from_secs(60));
        assert!(!young.exists(), "looked at again once old enough");
        assert!(dir.join("keep.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
