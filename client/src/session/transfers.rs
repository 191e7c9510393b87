//! File transfers on the client's side: what a `/get` or `/put` prepares before its
//! request goes out ([`Plan`]), an upload being read in chunks ([`Upload`]), and
//! their progress as facts for whoever shows it ([`Meter`]). Downloads, with their `.part` files and the checks of
//! which version they hold, are `download`'s.
//!
//! No file is ever held in memory: a download writes each `DATA` body as it arrives
//! (the reader thread owns those frames), an upload reads one chunk at a time (the
//! writer thread sends them). This file never touches the socket.

use crate::display::{group_digits, io_words, sanitize, Snapshot};
use crate::session::download::{Download, DownloadPlan};
use natter_protocol::{encode_data_header, FileName, MAX_DATA};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Where progress goes: interactive mode draws it as bars above the prompt
/// (`ui::terminal`); batch mode has none. Told of every chunk, so the receiver alone
/// decides how often to draw, and the last state is always the one it has.
pub trait Meter: Send + Sync {
    /// Transfer `xfer` moved on.
    fn moved(&self, xfer: u64, now: Snapshot);
    /// Transfer `xfer` is over; the line that says how follows.
    fn ended(&self, xfer: u64);
}

pub type Report = Arc<dyn Meter>;

/// What the client prepared for a request before sending it; the reader thread takes
/// it up when the reply comes.
pub enum Plan {
    Download(DownloadPlan),
    Upload(UploadPlan),
    /// We abort transfer `xfer` for this reason (a local read or write failed); the
    /// reply to the `ABORT` ends the transfer with this line.
    Abort {
        xfer: u64,
        why: String,
    },
    /// A download whose every byte arrived, waiting for the `FILES` listing that
    /// says whether the file is still the version it started with.
    Verify(Download),
    /// The user cancelled transfer `xfer` (`/cancel`, Ctrl-C): the reply to the
    /// `ABORT` ends it.
    Cancel {
        xfer: u64,
    },
    /// `/sums`: the listing's SHA-256s, shown as `sha256sum` prints them.
    Sums,
}

/// A `/put` ready to go: the local file open, its size taken from the open file.
#[derive(Debug)]
pub struct UploadPlan {
    pub local: PathBuf,
    pub name: FileName,
    pub size: u64,
    file: File,
    /// The file as it was when it was opened, to tell a file that changes since
    /// from one that was damaged on the way.
    stamp: Stamp,
    /// Its SHA-256, read before it is sent: the server publishes it only if what
    /// arrived has the same.
    pub sha256: Option<natter_protocol::Sha256>,
    /// The session's number for this `/put`.
    pub job: u64,
}

/// A file's size and modification time: when either moves, someone is writing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(file: &File) -> io::Result<Stamp> {
        let meta = file.metadata()?;
        Ok(Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// The SHA-256 of everything in `file`, read from its start with its own cursor
/// (`pread`), so the upload still sends from the start; and how many bytes that was.
pub fn hash_file(file: &File) -> io::Result<(natter_protocol::Sha256, u64)> {
    hash_file_unless(file, &|| false)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::Interrupted, "stopped"))
}

/// As [`hash_file`], asking `stop` between reads: `Ok(None)` when it said to stop.
pub fn hash_file_unless(
    file: &File,
    stop: &dyn Fn() -> bool,
) -> io::Result<Option<(natter_protocol::Sha256, u64)>> {
    use sha2::Digest;
    use std::os::unix::fs::FileExt;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut at = 0u64;
    loop {
        if stop() {
            return Ok(None);
        }
        match file.read_at(&mut buf, at) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                at += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Some((natter_protocol::Sha256(h.finalize().into()), at)))
}

impl UploadPlan {
    /// Checks that `local` is a readable regular file and that its name (or `name`)
    /// is a valid shared-file name.
    pub fn prepare(local: &Path, name: Option<FileName>) -> Result<UploadPlan, String> {
        let local = &expand_home(local, std::env::var_os("HOME"));
        let shown = local.display();
        let meta = std::fs::metadata(local).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => format!("no such file: {shown}"),
            _ => format!("cannot read {shown}: {}", io_words(&e)),
        })?;
        if meta.is_dir() {
            return Err(format!("{shown} is a folder; /put sends one regular file"));
        }
        if !meta.is_file() {
            return Err(format!(
                "{shown} is not a regular file; /put sends regular files only"
            ));
        }
        let name = match name {
            Some(n) => n,
            None => upload_name(local)?,
        };
        let file =
            File::open(local).map_err(|e| format!("cannot read {shown}: {}", io_words(&e)))?;
        let stamp =
            Stamp::of(&file).map_err(|e| format!("cannot read {shown}: {}", io_words(&e)))?;
        // Read later, off the prompt's thread where there is one (`hashed`).
        let sha256 = None;
        Ok(UploadPlan {
            local: local.to_path_buf(),
            name,
            size: stamp.len,
            file,
            stamp,
            sha256,
            job: 0,
        })
    }

    /// Reads the file's SHA-256, for the `PUT` to carry: a pass over the whole file
    /// (under a second a GiB with SHA instructions), so an interactive natter does it
    /// on a thread of its own.
    pub fn hashed(self) -> Result<UploadPlan, String> {
        let read = hash_file(&self.file)
            .map_err(|e| format!("cannot read {}: {}", self.local.display(), io_words(&e)))?;
        self.with_sum(read)
    }

    /// As [`UploadPlan::hashed`], or as it is if the file cannot be read for it (its
    /// upload then says why); `None` when `stop` says to stop (the upload was
    /// cancelled meanwhile).
    pub fn hashed_unless(self, stop: &dyn Fn() -> bool) -> Option<Result<UploadPlan, String>> {
        match hash_file_unless(&self.file, stop) {
            Ok(None) => None,
            Ok(Some(read)) => Some(self.with_sum(read)),
            Err(_) => Some(Ok(self)),
        }
    }

    /// The SHA-256 of the `bytes` read, if they are the file as it was opened. The
    /// server would refuse any other as damaged on the way, which blames the network
    /// for what happened here.
    fn with_sum(
        mut self,
        (sum, bytes): (natter_protocol::Sha256, u64),
    ) -> Result<UploadPlan, String> {
        let shown = self.local.display();
        if Stamp::of(&self.file).ok() != Some(self.stamp) {
            return Err(changed(&self.local, "read"));
        }
        if bytes != self.size {
            let more = if bytes > self.size { "more" } else { "less" };
            return Err(format!(
                "{shown} is not a regular file of fixed size (its size reads {} bytes, but it holds {more}); copy it to a file first",
                group_digits(self.size)
            ));
        }
        self.sha256 = Some(sum);
        Ok(self)
    }

    /// `PUT <name> <size> <sha256>`.
    pub fn request(&self) -> natter_protocol::Request {
        natter_protocol::Request::Put {
            file: self.name.clone(),
            size: self.size,
            sha256: self.sha256,
        }
    }

    /// The server accepted as `stored_as`: the job the writer thread streams.
    pub fn start(
        self,
        xfer: u64,
        stored_as: FileName,
        report: Option<Report>,
        now: Instant,
    ) -> Upload {
        let progress = report.map(|r| (Progress::new(format!("uploading {stored_as}"), 0, now), r));
        Upload {
            xfer,
            name: stored_as,
            local: self.local,
            file: self.file,
            stamp: self.stamp,
            want: self.sha256,
            read: sha2::Digest::new(),
            size: self.size,
            sent: 0,
            progress,
        }
    }
}

fn changed(local: &Path, while_: &str) -> String {
    format!(
        "{} changed while it was being {while_} (nothing was kept); /put it again once it is done changing",
        local.display()
    )
}

/// `~` and `~/...` in `/put` mean the home folder, as in a shell (and in the file
/// names Tab offers).
pub fn expand_home(path: &Path, home: Option<std::ffi::OsString>) -> PathBuf {
    let Some(home) = home.filter(|h| !h.is_empty()) else {
        return path.to_path_buf();
    };
    match path.strip_prefix("~") {
        Ok(rest) => PathBuf::from(home).join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// The shared-file name for a local path: its last component, if that is a valid
/// name; otherwise the rule, and how to give another name.
pub fn upload_name(local: &Path) -> Result<FileName, String> {
    let shown = local.display();
    let Some(base) = local.file_name() else {
        return Err(format!(
            "{shown} does not end in a file name; give one: /put <path> <name>"
        ));
    };
    let Some(base) = base.to_str() else {
        return Err(format!(
            "the name of {shown} is not valid UTF-8, which shared names must be; give one: /put <path> <name>"
        ));
    };
    FileName::new(base).map_err(|e| {
        format!(
            "{base:?} cannot be a shared name: {e} (a shared name is 1 to 255 bytes of UTF-8 \
             without '/', '\\' or control characters, not starting with '.'); give one: /put <path> <name>"
        )
    })
}

/// An upload under way, owned by the writer thread.
pub struct Upload {
    pub xfer: u64,
    pub name: FileName,
    local: PathBuf,
    file: File,
    stamp: Stamp,
    /// The SHA-256 the `PUT` announced, and that of what was read since: the last
    /// chunk goes only if they agree, so the server is never sent a file that
    /// changed here.
    want: Option<natter_protocol::Sha256>,
    read: sha2::Sha256,
    pub size: u64,
    pub sent: u64,
    progress: Option<(Progress, Report)>,
}

impl Upload {
    pub fn is_done(&self) -> bool {
        self.sent >= self.size
    }

    /// Replaces `out` with the next `DATA` frame (header and up to [`MAX_DATA`]
    /// bytes); `Ok` is the body's length. `Err` is the line that says why the file
    /// could not be sent as announced.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> Result<usize, String> {
        let want = (self.size - self.sent).min(MAX_DATA as u64) as usize;
        out.clear();
        encode_data_header(self.xfer, want, out);
        let start = out.len();
        out.resize(start + want, 0);
        let mut got = 0;
        while got < want {
            match self.file.read(&mut out[start + got..]) {
                Ok(0) => {
                    return Err(format!(
                        "upload of {} stopped: {} got shorter while it was being sent ({} of {} bytes read)",
                        self.name,
                        self.name,
                        group_digits(self.sent + got as u64),
                        group_digits(self.size)
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(format!(
                        "upload of {} stopped: cannot read the file for {}: {}",
                        self.name,
                        self.name,
                        io_words(&e)
                    ))
                }
            }
        }
        sha2::Digest::update(&mut self.read, &out[start..]);
        if self.sent + want as u64 == self.size && !self.unchanged() {
            return Err(changed(&self.local, "sent"));
        }
        Ok(want)
    }

    /// Whether the file is still as it was opened and hashed: its size and time,
    /// and every byte read (once all are).
    fn unchanged(&self) -> bool {
        let same_bytes = self.want.is_none_or(|want| {
            natter_protocol::Sha256(sha2::Digest::finalize(self.read.clone()).into()) == want
        });
        same_bytes && Stamp::of(&self.file).ok() == Some(self.stamp)
    }

    /// The frame from [`Upload::next_frame`] went out: counts it and reports
    /// progress when due.
    pub fn sent_frame(&mut self, body: usize, now: Instant) {
        self.sent += body as u64;
        if let Some((p, report)) = &self.progress {
            report.moved(self.xfer, p.at(self.sent, self.size, now));
        }
    }
}

/// A transfer's progress: its label, and what this run started from.
pub struct Progress {
    label: Arc<str>,
    /// Bytes already there when this run started (a resumed download).
    base: u64,
    started: Instant,
}

impl Progress {
    /// `label` may hold names the server sent: it is made safe to print here.
    pub fn new(label: String, base: u64, now: Instant) -> Progress {
        Progress {
            label: sanitize(&label).into_owned().into(),
            base,
            started: now,
        }
    }

    /// Where the transfer stands with `done` of `size` bytes through.
    pub fn at(&self, done: u64, size: u64, now: Instant) -> Snapshot {
        Snapshot {
            label: self.label.clone(),
            done,
            size,
            moved: done.saturating_sub(self.base),
            elapsed: now.duration_since(self.started),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::session::testing::{f, Dir};

    #[test]
    fn progress_counts_this_run() {
        let t0 = Instant::now();
        let p = Progress::new("downloading a\x1bb".into(), 100, t0);
        let s = p.at(300, 1000, t0 + Duration::from_secs(2));
        assert_eq!(&*s.label, "downloading a^[b", "made safe to print");
        assert_eq!((s.done, s.size, s.moved), (300, 1000, 200));
        assert_eq!(s.elapsed, Duration::from_secs(2));
    }

    #[test]
    fn uploads_check_the_local_file_and_its_name() {
        let dir = Dir::new("up");
        std::fs::create_dir_all(&dir.0).unwrap();
        let e = UploadPlan::prepare(&dir.0.join("missing"), None).unwrap_err();
        assert!(e.starts_with("no such file: "), "{e}");
        let e = UploadPlan::prepare(&dir.0, None).unwrap_err();
        assert!(e.contains("is a folder"), "{e}");
        let hidden = dir.0.join(".hidden");
        std::fs::write(&hidden, b"x").unwrap();
        let e = UploadPlan::prepare(&hidden, None).unwrap_err();
        assert!(
            e.contains("cannot start with '.'") && e.contains("/put <path> <name>"),
            "{e}"
        );
        let ok = UploadPlan::prepare(&hidden, Some(f("visible"))).unwrap();
        assert_eq!((ok.name.as_str(), ok.size), ("visible", 1));
    }

    #[test]
    fn a_tilde_is_the_home_folder() {
        let home = Some(std::ffi::OsString::from("/home/a"));
        let e = |p: &str| expand_home(Path::new(p), home.clone());
        assert_eq!(e("~/x.mp3"), PathBuf::from("/home/a/x.mp3"));
        assert_eq!(e("~"), PathBuf::from("/home/a"));
        assert_eq!(e("./~x"), PathBuf::from("./~x"));
        assert_eq!(e("~bob/x"), PathBuf::from("~bob/x"));
        assert_eq!(expand_home(Path::new("~/x"), None), PathBuf::from("~/x"));
    }

    #[test]
    fn uploads_go_in_chunks_of_at_most_max_data() {
        let dir = Dir::new("chunks");
        std::fs::create_dir_all(&dir.0).unwrap();
        let path = dir.0.join("big");
        let body: Vec<u8> = (0..MAX_DATA + 3).map(|i| i as u8).collect();
        std::fs::write(&path, &body).unwrap();
        let plan = UploadPlan::prepare(&path, None).unwrap();
        let mut up = plan.start(7, f("big"), None, Instant::now());
        let mut out = Vec::new();
        let mut got = Vec::new();
        while !up.is_done() {
            let body = up.next_frame(&mut out).unwrap();
            let nl = out.iter().position(|&b| b == b'\n').unwrap();
            let header = std::str::from_utf8(&out[..nl]).unwrap().to_string();
            let n = out.len() - nl - 1;
            assert_eq!(n, body);
            assert_eq!(header, format!("DATA 7 {n}"));
            got.extend_from_slice(&out[nl + 1..]);
            up.sent_frame(n, Instant::now());
        }
        assert_eq!(got, body);
    }
}
