//! File transfers on the client's side: what a `/get` or `/put` prepares before its
//! request goes out ([`Plan`]), an upload being read in chunks ([`Upload`]), and the
//! throttled progress lines. Downloads, with their `.part` files and the checks of
//! which version they hold, are `download`'s.
//!
//! No file is ever held in memory: a download writes each `DATA` body as it arrives
//! (the reader thread owns those frames), an upload reads one chunk at a time (the
//! writer thread sends them). This file never touches the socket.

use crate::display::{duration_words, group_digits, human_size, io_words};
use crate::session::download::{Download, DownloadPlan};
use natter_protocol::{encode_data_header, FileName, MAX_DATA};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// At most one progress line per transfer this often, so a transfer shows it is alive
/// without pushing the conversation off the screen. A transfer shorter than this
/// shows none.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(2);

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
    /// A download whose every byte arrived, waiting for the `FILES` listing that
    /// says whether the file is still the version it started with.
    Verify(Download),
    /// The user cancelled transfer `xfer` (`/cancel`, Ctrl-C): the reply to the
    /// `ABORT` ends it.
    Cancel {
        xfer: u64,
    },
}

/// A `/put` ready to go: the local file open, its size taken from the open file.
#[derive(Debug)]
pub struct UploadPlan {
    pub local: PathBuf,
    pub name: FileName,
    pub size: u64,
    file: File,
    /// The session's number for this `/put`.
    pub job: u64,
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
            job: 0,
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
