//! File transfers on the client's side: what a `/get` or `/put` prepares before its
//! request goes out ([`Plan`]), a download being written into its `.part` file
//! ([`Download`]), an upload being read in chunks ([`Upload`]), the local naming rule
//! for finished downloads, and the throttled progress lines.
//!
//! No file is ever held in memory: a download writes each `DATA` body as it arrives
//! (the reader thread owns those frames), an upload reads one chunk at a time (the
//! writer thread sends them). This file never touches the socket.

use crate::display::{duration_words, group_digits, human_size, io_words};
use natter_protocol::{encode_data_header, FileName, MAX_DATA};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most one progress line per transfer this often, so a transfer shows it is alive
/// without pushing the conversation off the screen. A transfer shorter than this
/// shows none.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// The suffix of a download in progress.
pub const PART_SUFFIX: &str = ".part";

/// Where progress texts go (interactive mode: as `* ` lines above the prompt, made
/// safe to print there). Batch mode has none.
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

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
}

/// A `/get` ready to go: the `.part` file open, locked and positioned.
#[derive(Debug)]
pub struct DownloadPlan {
    pub file: FileName,
    /// The download folder.
    pub dir: PathBuf,
    pub part: PathBuf,
    handle: File,
    /// Bytes already in the `.part` (a resumed download), sent as the `GET` offset.
    pub offset: u64,
    /// We created the `.part` just now: a refused `GET` removes it again.
    created: bool,
    overwrite: bool,
}

impl DownloadPlan {
    /// Creates the download folder if needed and opens `<dir>/<file>.part` for
    /// appending, resuming from its length. Fails when another download (in this
    /// natter or another) holds the same `.part`.
    pub fn prepare(dir: &Path, file: FileName, overwrite: bool) -> Result<DownloadPlan, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create the download folder {}: {} (choose another with --download-dir)",
                dir.display(),
                io_words(&e)
            )
        })?;
        let part = dir.join(format!("{file}{PART_SUFFIX}"));
        let created = std::fs::symlink_metadata(&part).is_err();
        let mut handle = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&part)
            .map_err(|e| format!("cannot write {}: {}", part.display(), io_words(&e)))?;
        if !try_lock(&handle) {
            return Err(format!(
                "{file} is already being downloaded into {} (by this natter or another)",
                dir.display()
            ));
        }
        let offset = handle
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot use {}: {}", part.display(), io_words(&e)))?;
        Ok(DownloadPlan {
            file,
            dir: dir.to_path_buf(),
            part,
            handle,
            offset,
            created,
            overwrite,
        })
    }

    /// `GET <file> [<offset>]`, resuming after what the `.part` holds.
    pub fn request(&self) -> natter_protocol::Request {
        natter_protocol::Request::Get {
            file: self.file.clone(),
            offset: (self.offset > 0).then_some(self.offset),
        }
    }

    /// The server refused the `GET`: a `.part` we created for it goes again (a resumed
    /// one stays).
    pub fn refused(self) {
        if self.created && self.offset == 0 {
            let _ = std::fs::remove_file(&self.part);
        }
    }

    /// The server accepted: `size` is the whole file's size.
    pub fn start(self, xfer: u64, size: u64, now: Instant) -> Download {
        let label = format!("downloading {}", self.file);
        Download {
            xfer,
            size,
            received: self.offset,
            progress: Progress::new(label, self.offset, now),
            plan: self,
        }
    }
}

/// A download under way: `DATA` bodies go straight into the `.part`.
pub struct Download {
    pub xfer: u64,
    pub size: u64,
    /// Bytes in the `.part`, the resumed ones included.
    pub received: u64,
    progress: Progress,
    plan: DownloadPlan,
}

impl Download {
    pub fn file(&self) -> &FileName {
        &self.plan.file
    }

    pub fn part(&self) -> &Path {
        &self.plan.part
    }

    pub fn resumed_from(&self) -> u64 {
        self.plan.offset
    }

    /// Appends one body. `Ok(Some(text))` is a progress text when one is due.
    pub fn write(&mut self, data: &[u8], now: Instant) -> Result<Option<String>, String> {
        self.plan.handle.write_all(data).map_err(|e| {
            format!(
                "cannot write {}: {}",
                self.plan.part.display(),
                io_words(&e)
            )
        })?;
        self.received += data.len() as u64;
        Ok(self.progress.update(self.received, self.size, now))
    }

    /// `DONE` arrived: checks the byte count, then moves the `.part` to a free name
    /// (or over an existing one with `--overwrite`). `Ok` is the final path and size.
    pub fn finish(self) -> Result<(PathBuf, u64), String> {
        let part = self.plan.part.display().to_string();
        if self.received != self.size {
            return Err(format!(
                "{}: got {} bytes but the server announced {}; the partial file is kept as {part}",
                self.plan.file,
                group_digits(self.received),
                group_digits(self.size)
            ));
        }
        // On disk before it gets its real name, so a crash never leaves a short file
        // under the final name.
        self.plan
            .handle
            .sync_all()
            .map_err(|e| format!("cannot save {part}: {}", io_words(&e)))?;
        let path = place(
            &self.plan.part,
            &self.plan.dir,
            &self.plan.file,
            self.plan.overwrite,
        )
        .map_err(|e| format!("cannot name {part}: {e}; it is kept under that name"))?;
        Ok((path, self.size))
    }
}

/// Moves `part` into `dir` as `file`, or, when that name exists and `overwrite` is
/// off, as the first free `file_1`, `file_2`, ... (the server's rule). A hard link
/// claims a name without ever replacing an existing file; where links are not
/// supported, a rename after a check does.
fn place(part: &Path, dir: &Path, file: &FileName, overwrite: bool) -> Result<PathBuf, String> {
    if overwrite {
        let dest = dir.join(file.as_str());
        std::fs::rename(part, &dest).map_err(|e| io_words(&e))?;
        return Ok(dest);
    }
    for n in 0u32.. {
        let name = if n == 0 {
            file.clone()
        } else {
            file.numbered(n).ok_or("no free name is left")?
        };
        let dest = dir.join(name.as_str());
        match std::fs::hard_link(part, &dest) {
            Ok(()) => {
                let _ = std::fs::remove_file(part);
                return Ok(dest);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) if std::fs::symlink_metadata(&dest).is_err() => {
                std::fs::rename(part, &dest).map_err(|e| io_words(&e))?;
                return Ok(dest);
            }
            Err(_) => continue,
        }
    }
    Err("no free name is left".into())
}

/// An exclusive advisory lock on the open `.part`, so two downloads never append to
/// the same file. `true` when we hold it (or the file system cannot lock, where there
/// is nothing better to do than go on).
fn try_lock(f: &File) -> bool {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor we own; it only changes the lock state.
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EWOULDBLOCK)
}

/// A `/put` ready to go: the local file open, its size taken from the open file.
#[derive(Debug)]
pub struct UploadPlan {
    pub local: PathBuf,
    pub name: FileName,
    pub size: u64,
    file: File,
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
        let size = file
            .metadata()
            .map_err(|e| format!("cannot read {shown}: {}", io_words(&e)))?
            .len();
        Ok(UploadPlan {
            local: local.to_path_buf(),
            name,
            size,
            file,
        })
    }

    /// `PUT <name> <size>`.
    pub fn request(&self) -> natter_protocol::Request {
        natter_protocol::Request::Put {
            file: self.name.clone(),
            size: self.size,
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
            file: self.file,
            size: self.size,
            sent: 0,
            progress,
        }
    }
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
    file: File,
    pub size: u64,
    pub sent: u64,
    progress: Option<(Progress, Report)>,
}

impl Upload {
    pub fn is_done(&self) -> bool {
        self.sent >= self.size
    }

    /// Replaces `out` with the next `DATA` frame (header and up to [`MAX_DATA`]
    /// bytes); `Ok` is the body's length. `Err` says why the file could not be read
    /// to its announced size.
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
                        "{} got shorter while it was being sent ({} of {} bytes read)",
                        self.name,
                        group_digits(self.sent + got as u64),
                        group_digits(self.size)
                    ))
                }
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(format!(
                        "cannot read the file for {}: {}",
                        self.name,
                        io_words(&e)
                    ))
                }
            }
        }
        Ok(want)
    }

    /// The frame from [`Upload::next_frame`] went out: counts it and reports
    /// progress when due.
    pub fn sent_frame(&mut self, body: usize, now: Instant) {
        self.sent += body as u64;
        if let Some((p, report)) = &mut self.progress {
            if let Some(text) = p.update(self.sent, self.size, now) {
                report(text);
            }
        }
    }
}

/// When the next progress line of a transfer is due, and what it says.
pub struct Progress {
    label: String,
    /// Bytes already there when this run started (a resumed download).
    base: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(label: String, base: u64, now: Instant) -> Progress {
        Progress {
            label,
            base,
            started: now,
            last: now,
        }
    }

    /// `done` of `size` bytes are through; a line when [`PROGRESS_EVERY`] has passed
    /// since the last one.
    pub fn update(&mut self, done: u64, size: u64, now: Instant) -> Option<String> {
        if now.duration_since(self.last) < PROGRESS_EVERY || done >= size {
            return None;
        }
        self.last = now;
        Some(progress_text(
            &self.label,
            done,
            size,
            done.saturating_sub(self.base),
            now.duration_since(self.started),
        ))
    }
}

/// `downloading cat.png: 42% 20.1 MiB of 47.9 MiB, 11.2 MiB/s, 3 s left`. The rate is
/// the average of this run (`moved` bytes in `elapsed`).
pub fn progress_text(label: &str, done: u64, size: u64, moved: u64, elapsed: Duration) -> String {
    let percent = if size == 0 {
        100
    } else {
        (done as u128 * 100 / size as u128) as u64
    };
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { moved as f64 / secs } else { 0.0 };
    let left = if rate >= 1.0 {
        let s = (size.saturating_sub(done)) as f64 / rate;
        format!(
            "{} left",
            duration_words(Duration::from_secs_f64(s.ceil().min(1e9)))
        )
    } else {
        "stalled".to_string()
    };
    format!(
        "{label}: {percent}% {} of {}, {}/s, {left}",
        human_size(done),
        human_size(size),
        human_size(rate as u64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    struct Dir(PathBuf);

    impl Dir {
        fn new(what: &str) -> Dir {
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

    #[test]
    fn progress_lines() {
        let mib = 1 << 20;
        let text = progress_text(
            "downloading cat.png",
            20 * mib,
            48 * mib,
            20 * mib,
            Duration::from_secs(2),
        );
        assert_eq!(
            text,
            "downloading cat.png: 41% 20.0 MiB of 48.0 MiB, 10.0 MiB/s, 3 s left"
        );
        let stalled = progress_text("x", 0, 10, 0, Duration::from_secs(2));
        assert!(stalled.ends_with("0 B/s, stalled"), "{stalled}");
    }

    #[test]
    fn progress_is_throttled() {
        let t0 = Instant::now();
        let mut p = Progress::new("downloading x".into(), 0, t0);
        assert_eq!(p.update(10, 100, t0 + Duration::from_millis(500)), None);
        assert!(p.update(20, 100, t0 + PROGRESS_EVERY).is_some());
        assert_eq!(
            p.update(30, 100, t0 + PROGRESS_EVERY + Duration::from_secs(1)),
            None
        );
        assert!(p.update(40, 100, t0 + PROGRESS_EVERY * 2).is_some());
        assert_eq!(
            p.update(100, 100, t0 + PROGRESS_EVERY * 5),
            None,
            "a finished transfer says so in its own line"
        );
    }

    #[test]
    fn a_download_resumes_and_lands_on_a_free_name() {
        let dir = Dir::new("dl");
        let plan = DownloadPlan::prepare(&dir.0, f("a.txt"), false).unwrap();
        assert_eq!(plan.offset, 0);
        let now = Instant::now();
        let mut d = plan.start(1, 6, now);
        d.write(b"abc", now).unwrap();
        drop(d); // interrupted: the .part stays
        let plan = DownloadPlan::prepare(&dir.0, f("a.txt"), false).unwrap();
        assert_eq!(plan.offset, 3);
        assert!(
            DownloadPlan::prepare(&dir.0, f("a.txt"), false).is_err(),
            "a .part in use is not shared"
        );
        std::fs::write(dir.0.join("a.txt"), b"older").unwrap();
        let mut d = plan.start(2, 6, now);
        d.write(b"def", now).unwrap();
        let (path, size) = d.finish().unwrap();
        assert_eq!((path, size), (dir.0.join("a_1.txt"), 6));
        assert_eq!(std::fs::read(dir.0.join("a_1.txt")).unwrap(), b"abcdef");
        assert_eq!(std::fs::read(dir.0.join("a.txt")).unwrap(), b"older");
        assert!(!dir.0.join("a.txt.part").exists());
    }

    #[test]
    fn overwrite_replaces_and_a_short_download_keeps_its_part() {
        let dir = Dir::new("ow");
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(dir.0.join("b.bin"), b"old").unwrap();
        let now = Instant::now();
        let mut d = DownloadPlan::prepare(&dir.0, f("b.bin"), true)
            .unwrap()
            .start(1, 2, now);
        d.write(b"hi", now).unwrap();
        assert_eq!(d.finish().unwrap().0, dir.0.join("b.bin"));
        assert_eq!(std::fs::read(dir.0.join("b.bin")).unwrap(), b"hi");

        let mut d = DownloadPlan::prepare(&dir.0, f("c.bin"), false)
            .unwrap()
            .start(2, 5, now);
        d.write(b"hi", now).unwrap();
        let e = d.finish().unwrap_err();
        assert!(e.contains("got 2 bytes but the server announced 5"), "{e}");
        assert!(dir.0.join("c.bin.part").exists());
    }

    #[test]
    fn a_refused_get_leaves_no_new_part() {
        let dir = Dir::new("refused");
        let plan = DownloadPlan::prepare(&dir.0, f("nope"), false).unwrap();
        let part = plan.part.clone();
        assert!(part.exists());
        plan.refused();
        assert!(!part.exists());
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
