//! The shared folder: listing, downloads (a send cursor over an open file) and
//! uploads (a hidden temporary file, published under its real name only when whole).
//!
//! Names come in as `FileName`s, already validated by the protocol crate, so joining
//! one onto the folder cannot leave it. Symlinks are never followed: they are not
//! listed, and files are opened with `O_NOFOLLOW`. A published file is linked into
//! place, which fails rather than replace an existing file. Nothing here reads a whole
//! file into memory or touches a socket.

use natter_protocol::{ErrorCode, FileName, Time};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Temporary upload files start with this (hidden, so never listed or served).
const TEMP_PREFIX: &str = ".natter-upload-";

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
    fn new(code: ErrorCode, text: impl Into<String>) -> FileError {
        FileError {
            code,
            text: text.into(),
        }
    }

    fn io(what: &str, name: &FileName, e: &io::Error) -> FileError {
        let code = match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => ErrorCode::NoSpace,
            _ if e.kind() == io::ErrorKind::NotFound => ErrorCode::NoSuchFile,
            _ => ErrorCode::Internal,
        };
        FileError::new(code, format!("cannot {what} {name}: {}", describe(e)))
    }
}

pub struct SharedFolder {
    root: PathBuf,
    /// Names promised to uploads in progress, so two uploads never get the same one.
    reserved: HashSet<String>,
    next_temp: u64,
}

impl SharedFolder {
    /// Opens (creating if needed) the folder and removes temporaries a crash left.
    pub fn open(root: &Path) -> io::Result<SharedFolder> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let mut stale = 0;
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => stale += 1,
                    Err(e) => {
                        log::warn!("cannot remove stale upload {}: {e}", entry.path().display())
                    }
                }
            }
        }
        if stale > 0 {
            log::info!("removed {stale} unfinished upload(s) left from an earlier run");
        }
        Ok(SharedFolder {
            root,
            reserved: HashSet::new(),
            next_temp: 0,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, name: &FileName) -> PathBuf {
        self.root.join(name.as_str())
    }

    /// The regular files directly inside, sorted by name: (name, size, mtime).
    pub fn list(&self) -> io::Result<Vec<(FileName, u64, Time)>> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let Ok(entry) = entry else { continue };
            // file_type() does not follow symlinks, so a link is never a "file" here.
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|s| FileName::new(s).ok())
            else {
                continue;
            };
            let Ok(meta) = entry.metadata() else { continue };
            files.push((name, meta.len(), mtime(&meta)));
        }
        files.sort();
        Ok(files)
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

    fn is_taken(&self, name: &FileName) -> bool {
        self.reserved.contains(name.as_str()) || self.path(name).symlink_metadata().is_ok()
    }

    /// Picks the name an upload will be stored under and reserves it.
    pub fn reserve(
        &mut self,
        wanted: &FileName,
        on_dup: OnDuplicate,
    ) -> Result<FileName, FileError> {
        let mut name = wanted.clone();
        let mut n = 0u32;
        while self.is_taken(&name) {
            if on_dup == OnDuplicate::Reject {
                return Err(FileError::new(
                    ErrorCode::Exists,
                    format!("{wanted} already exists"),
                ));
            }
            n += 1;
            name = wanted.numbered(n).ok_or_else(|| {
                FileError::new(
                    ErrorCode::Exists,
                    format!("no free name like {wanted} is left"),
                )
            })?;
        }
        self.reserved.insert(name.as_str().to_string());
        Ok(name)
    }

    pub fn release(&mut self, name: &FileName) {
        self.reserved.remove(name.as_str());
    }

    /// Starts an upload into a new hidden temporary file.
    pub fn start_upload(
        &mut self,
        xfer: u64,
        stored_as: FileName,
        size: u64,
    ) -> Result<Upload, FileError> {
        self.next_temp += 1;
        let temp = self.root.join(format!(
            "{TEMP_PREFIX}{}-{xfer}-{}",
            std::process::id(),
            self.next_temp
        ));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o644)
            .open(&temp)
            .map_err(|e| FileError::io("create", &stored_as, &e))?;
        Ok(Upload {
            xfer,
            stored_as,
            size,
            received: 0,
            file,
            temp,
            published: false,
        })
    }

    /// Publishes a whole upload under its reserved name (or the next free one, if
    /// something else took it meanwhile). Returns the final name.
    pub fn finish_upload(
        &mut self,
        up: &mut Upload,
        on_dup: OnDuplicate,
    ) -> Result<FileName, FileError> {
        up.file
            .sync_all()
            .map_err(|e| FileError::io("save", &up.stored_as, &e))?;
        let wanted = up.stored_as.clone();
        self.release(&wanted);
        let mut name = wanted.clone();
        let mut n = 0u32;
        loop {
            match std::fs::hard_link(&up.temp, self.path(&name)) {
                Ok(()) => break,
                Err(e)
                    if e.kind() == io::ErrorKind::AlreadyExists
                        && on_dup == OnDuplicate::Rename =>
                {
                    n += 1;
                    name = wanted.numbered(n).ok_or_else(|| {
                        FileError::new(ErrorCode::Exists, format!("no free name like {wanted}"))
                    })?;
                    while self.reserved.contains(name.as_str()) {
                        n += 1;
                        name = wanted.numbered(n).ok_or_else(|| {
                            FileError::new(ErrorCode::Exists, format!("no free name like {wanted}"))
                        })?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    return Err(FileError::new(
                        ErrorCode::Exists,
                        format!("{wanted} already exists"),
                    ));
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
        Ok(name)
    }

    pub fn delete(&self, name: &FileName) -> Result<u64, FileError> {
        let size = self.regular_file(name)?;
        std::fs::remove_file(self.path(name)).map_err(|e| FileError::io("delete", name, &e))?;
        Ok(size)
    }

    pub fn rename(&self, old: &FileName, new: &FileName) -> Result<u64, FileError> {
        let size = self.regular_file(old)?;
        if self.is_taken(new) {
            return Err(FileError::new(
                ErrorCode::Exists,
                format!("{new} already exists"),
            ));
        }
        // Link then unlink: like rename, but it fails instead of replacing a file
        // that appeared at the new name in between.
        std::fs::hard_link(self.path(old), self.path(new)).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                FileError::new(ErrorCode::Exists, format!("{new} already exists"))
            } else {
                FileError::io("rename", old, &e)
            }
        })?;
        std::fs::remove_file(self.path(old)).map_err(|e| FileError::io("rename", old, &e))?;
        Ok(size)
    }

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

/// A download in progress: the open file and how far it has been sent.
pub struct FileSend {
    pub xfer: u64,
    pub name: FileName,
    pub file: File,
    pub size: u64,
    pub pos: u64,
    pub started_at: u64,
}

impl FileSend {
    pub fn new(xfer: u64, name: FileName, file: File, size: u64, from: u64) -> FileSend {
        FileSend {
            xfer,
            name,
            file,
            size,
            pos: from,
            started_at: from,
        }
    }

    /// Appends the next `DATA` frame (at most `MAX_DATA` bytes of body) to `out`.
    /// Returns false (and leaves `out` as it was) if the file ended early.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let n = (self.size - self.pos).min(natter_protocol::MAX_DATA as u64) as usize;
        let start = out.len();
        natter_protocol::encode_data_header(self.xfer, n, out);
        let body = out.len();
        out.resize(body + n, 0);
        if let Err(e) = self.file.read_exact(&mut out[body..]) {
            out.truncate(start);
            return Err(e);
        }
        self.pos += n as u64;
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        self.pos >= self.size
    }
}

/// An upload in progress. Dropping one that was not published removes its temporary
/// file, so every way a connection can end (ABORT, a drop, an error, shutdown) cleans up.
pub struct Upload {
    pub xfer: u64,
    pub stored_as: FileName,
    pub size: u64,
    pub received: u64,
    file: File,
    temp: PathBuf,
    published: bool,
}

impl Upload {
    pub fn write(&mut self, data: &[u8]) -> Result<(), FileError> {
        if self.received + data.len() as u64 > self.size {
            return Err(FileError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} was declared as {} bytes; more arrived",
                    self.stored_as, self.size
                ),
            ));
        }
        self.file
            .write_all(data)
            .map_err(|e| FileError::io("write", &self.stored_as, &e))?;
        self.received += data.len() as u64;
        Ok(())
    }

    pub fn is_whole(&self) -> bool {
        self.received == self.size
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

fn mtime(meta: &std::fs::Metadata) -> Time {
    let secs = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Time(secs)
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

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("natter-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn f(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    #[test]
    fn uploads_publish_whole_or_not_at_all() {
        let dir = tempdir("up");
        let mut folder = SharedFolder::open(&dir).unwrap();
        std::fs::write(dir.join("song.mp3"), b"old").unwrap();
        let a = folder.reserve(&f("song.mp3"), OnDuplicate::Rename).unwrap();
        let b = folder.reserve(&f("song.mp3"), OnDuplicate::Rename).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("song_1.mp3", "song_2.mp3"));
        assert!(folder.reserve(&f("song.mp3"), OnDuplicate::Reject).is_err());
        let mut up = folder.start_upload(1, a.clone(), 5).unwrap();
        up.write(b"hel").unwrap();
        assert_eq!(
            folder.list().unwrap().len(),
            1,
            "temporaries are never listed"
        );
        up.write(b"lo").unwrap();
        assert_eq!(up.write(b"!").unwrap_err().code, ErrorCode::TooLarge);
        assert!(up.is_whole());
        let stored = folder.finish_upload(&mut up, OnDuplicate::Rename).unwrap();
        assert_eq!(std::fs::read(dir.join(stored.as_str())).unwrap(), b"hello");
        drop(up);
        let dropped = folder.start_upload(2, b.clone(), 10).unwrap();
        drop(dropped);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symlinks_and_odd_files_are_not_shared() {
        let dir = tempdir("links");
        let folder = SharedFolder::open(&dir).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        std::fs::write(dir.join(".hidden"), b"x").unwrap();
        std::fs::write(dir.join("ok.txt"), b"x").unwrap();
        let listed: Vec<String> = folder
            .list()
            .unwrap()
            .into_iter()
            .map(|(n, _, _)| n.to_string())
            .collect();
        assert_eq!(listed, ["ok.txt"]);
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
        std::fs::write(dir.join(".natter-upload-1-2-3"), b"half").unwrap();
        std::fs::write(dir.join("keep.txt"), b"x").unwrap();
        let _ = SharedFolder::open(&dir).unwrap();
        assert!(!dir.join(".natter-upload-1-2-3").exists());
        assert!(dir.join("keep.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
