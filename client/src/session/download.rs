//! A download on the client's side: the `.part` it is written into, the record of
//! which version of the file that `.part` holds, and the checks that decide whether
//! a `.part` may be continued and whether a finished download may be saved.
//!
//! The server does not send checksums yet, so what is verified is what can be
//! verified honestly, and nothing more:
//! - When a download starts, the client records what the server said about the file
//!   just before: its size and modification time (`FILES`, sent right before the
//!   `GET`), and the size `GET` announced. They go into a record beside the `.part`
//!   ([`Record`], `<file>.part.info`), with room for a checksum later.
//! - A `.part` is continued only when its record exists and the server's file still
//!   has the recorded size and modification time; and then the client asks again for
//!   the last [`OVERLAP`] bytes it already has and compares them byte for byte before
//!   it appends anything. Otherwise it starts over, and says why.
//! - A download is saved under its real name only when every byte arrived and the
//!   server lists the file with the same size and modification time after `DONE` as
//!   when the download started. Otherwise nothing is saved, and the words say why.
//!
//! This file never touches the socket; the reader thread drives it.

use crate::display::{group_digits, io_words, Snapshot};
use natter_protocol::{FileName, Time};
use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::record::{record_path, Record};
use super::transfers::Progress;

/// The suffix of a download in progress.
pub const PART_SUFFIX: &str = ".part";
/// How much of a `.part`'s end is fetched again and compared when resuming: 64 KiB
/// (the smallest frame a server sends), which costs a resume almost nothing and
/// catches a `.part` whose last bytes are not the server's.
pub const OVERLAP: u64 = 64 * 1024;

/// What the server said about a file in a `FILES` listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub size: u64,
    pub mtime: Time,
    /// Its SHA-256, if the server knows it.
    pub sha256: Option<natter_protocol::Sha256>,
}

/// A `/get` ready to go: the `.part` open, locked and positioned, and what is known
/// about the version it holds.
#[derive(Debug)]
pub struct DownloadPlan {
    pub file: FileName,
    /// The download folder.
    pub dir: PathBuf,
    pub part: PathBuf,
    handle: File,
    /// Bytes in the `.part` now.
    part_len: u64,
    record: Option<Record>,
    /// The `GET` offset: 0, or the resume point less [`OVERLAP`].
    pub offset: u64,
    /// Why the `.part`'s bytes cannot be continued, when they cannot: it is emptied
    /// once the server accepts the `GET` (a refused one leaves it as it was).
    stale: Option<String>,
    /// We created the `.part` just now: a refused `GET` removes it again.
    created: bool,
    overwrite: bool,
    /// The session's number for this `/get`, kept across a start over.
    pub job: u64,
}

/// How the server's acceptance of a `GET` turned out.
pub enum Start {
    /// Under way; the notice, if any, says how it began (`starting over: ...`).
    Going(Download, Option<String>),
    /// The `.part` is not of the server's version of the file: abort this transfer
    /// and ask again from the start with this plan; the text says why.
    Again(DownloadPlan, String),
    /// The download cannot be verified; abort it. The `.part` is as it was.
    Failed(String),
}

/// Why a download stopped while it was being written.
pub enum Stop {
    /// A local write failed; the words say which.
    Local(String),
    /// The bytes fetched again to check the `.part` differ from it, first at this
    /// offset.
    Mismatch(u64),
}

impl DownloadPlan {
    /// Creates the download folder if needed and opens `<dir>/<file>.part`, locked,
    /// with its record if it has one. Fails when another download (in this natter or
    /// another) holds the same `.part`.
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
        let part_len = handle
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("cannot use {}: {}", part.display(), io_words(&e)))?;
        // Read under the lock: the record is the `.part`'s, and so is the lock.
        let record = Record::read(&record_path(&part));
        let shown = part.display();
        let stale = match (part_len, record) {
            (0, _) => None,
            (_, None) => Some(format!(
                "{shown} has no record of which version of {file} it came from"
            )),
            (n, Some(r)) if n > r.size => Some(format!(
                "{shown} holds more than the {} bytes its version of {file} had",
                group_digits(r.size)
            )),
            _ => None,
        };
        let offset = match stale {
            Some(_) => 0,
            None => part_len.saturating_sub(OVERLAP),
        };
        Ok(DownloadPlan {
            file,
            dir: dir.to_path_buf(),
            part,
            handle,
            part_len,
            record,
            offset,
            stale,
            created,
            overwrite,
            job: 0,
        })
    }

    /// `GET <file> [<offset>]`.
    pub fn request(&self) -> natter_protocol::Request {
        natter_protocol::Request::Get {
            file: self.file.clone(),
            offset: (self.offset > 0).then_some(self.offset),
        }
    }

    /// The server refused the `GET`: a `.part` we created for it goes again (one
    /// that was there stays as it was).
    pub fn refused(self) {
        if self.created && self.part_len == 0 {
            let _ = std::fs::remove_file(&self.part);
        }
    }

    /// The server refused the offset (`bad-offset`): its file is shorter than the
    /// `.part`, which so cannot be of its version. The plan to ask again from the
    /// start, and why.
    pub fn too_long(mut self) -> (DownloadPlan, String) {
        let why = format!(
            "{} holds more than the server's {} has",
            self.part.display(),
            self.file
        );
        self.stale = Some(why.clone());
        self.offset = 0;
        (self, why)
    }

    /// The server accepted: `size` is the whole file's size, `listed` what the
    /// `FILES` sent just before the `GET` said about it.
    pub fn accepted(
        mut self,
        xfer: u64,
        size: u64,
        listed: Option<Listed>,
        sha256: Option<natter_protocol::Sha256>,
        now: Instant,
    ) -> Start {
        let file = self.file.clone();
        let Some(listed) = listed.filter(|l| l.size == size) else {
            return self.failed(format!(
                "{file} changed on the server just as its download started (its listing and the GET disagree); /get {file} again"
            ));
        };
        let now_record = Record {
            size,
            mtime: listed.mtime,
        };
        if self.stale.is_none() && self.part_len > 0 {
            // A resume: only of the version the `.part` came from.
            if self.record != Some(now_record) {
                let why = match self.record {
                    Some(r) => format!(
                        "{} came from another version of {file} ({} bytes, modified {}; the server's now has {} bytes, modified {})",
                        self.part.display(),
                        group_digits(r.size),
                        r.mtime,
                        group_digits(size),
                        listed.mtime
                    ),
                    None => format!("{} has no record of its version", self.part.display()),
                };
                self.stale = Some(why.clone());
                self.offset = 0;
                return Start::Again(self, why);
            }
        }
        let mut notice = None;
        if self.stale.is_some() && self.part_len > 0 {
            if let Err(e) = self.empty() {
                return self.failed(e);
            }
            notice = Some(format!(
                "starting {file} over: {}",
                self.stale.take().unwrap_or_default()
            ));
        }
        if let Err(e) = now_record.write(&record_path(&self.part)) {
            let why = format!(
                "cannot write {}: {}; the download of {file} did not start: {} /get {file} again",
                record_path(&self.part).display(),
                io_words(&e),
                remedy(&e)
            );
            return self.failed(why);
        }
        let label = format!("downloading {file}");
        let check_until = self.part_len;
        let offset = self.offset;
        Start::Going(
            Download {
                xfer,
                size,
                expected: sha256,
                pos: offset,
                check_until,
                record: now_record,
                progress: Progress::new(label, offset.max(check_until), now),
                plan: self,
            },
            notice,
        )
    }

    /// Gives up before a byte was taken: as after a refusal.
    fn failed(self, why: String) -> Start {
        self.refused();
        Start::Failed(why)
    }

    fn empty(&mut self) -> Result<(), String> {
        let shown = self.part.display();
        self.handle
            .set_len(0)
            .and_then(|()| self.handle.seek(SeekFrom::Start(0)).map(|_| ()))
            .map_err(|e| format!("cannot empty {shown}: {}", io_words(&e)))?;
        self.part_len = 0;
        Ok(())
    }
}

/// A download under way: `DATA` bodies are first compared with the `.part`'s last
/// bytes (when resuming), then appended to it.
pub struct Download {
    pub xfer: u64,
    pub size: u64,
    /// The server's SHA-256 of the file (`OK GET`), if it knows it: what arrived must
    /// have it, or nothing is saved.
    expected: Option<natter_protocol::Sha256>,
    /// The file offset of the next byte to arrive.
    pos: u64,
    /// Bytes before this offset are in the `.part` already and are compared.
    check_until: u64,
    record: Record,
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

    pub fn job(&self) -> u64 {
        self.plan.job
    }

    /// Where the server was asked to start, and where the `.part` ended.
    pub fn resumed(&self) -> Option<(u64, u64)> {
        (self.check_until > 0).then_some((self.plan.offset, self.check_until))
    }

    /// Takes one body. `Ok` is where the download stands now.
    pub fn write(&mut self, data: &[u8], now: Instant) -> Result<Snapshot, Stop> {
        let mut data = data;
        if self.pos < self.check_until {
            let n = ((self.check_until - self.pos) as usize).min(data.len());
            let mut have = vec![0u8; n];
            self.plan
                .handle
                .read_exact_at(&mut have, self.pos)
                .map_err(|e| {
                    Stop::Local(format!(
                        "cannot read {}: {}",
                        self.plan.part.display(),
                        io_words(&e)
                    ))
                })?;
            if let Some(i) = have.iter().zip(data).position(|(a, b)| a != b) {
                return Err(Stop::Mismatch(self.pos + i as u64));
            }
            self.pos += n as u64;
            data = &data[n..];
        }
        if !data.is_empty() {
            self.plan
                .handle
                .write_all(data)
                .map_err(|e| Stop::Local(self.write_failed(&e)))?;
            self.pos += data.len() as u64;
        }
        Ok(self.progress.at(self.pos, self.size, now))
    }

    /// The words for a write into the `.part` that failed: what, why, what is kept
    /// and what to do.
    fn write_failed(&self, e: &io::Error) -> String {
        let (part, file) = (self.plan.part.display(), &self.plan.file);
        format!(
            "cannot write {part}: {}; the download of {file} stopped and {part} is kept: {} /get {file} to resume",
            io_words(e),
            remedy(e)
        )
    }

    /// The `.part` differs from the server's bytes at `at`: the plan to ask again
    /// from the start, and why.
    pub fn mismatch(self, at: u64) -> (DownloadPlan, String) {
        let mut plan = self.plan;
        let why = format!(
            "{} differs from the server's {} at byte {}, so it is not from this version",
            plan.part.display(),
            plan.file,
            group_digits(at)
        );
        plan.stale = Some(why.clone());
        plan.offset = 0;
        (plan, why)
    }

    /// `DONE` arrived: every byte must be there. `Err` keeps the `.part`.
    pub fn complete(&self) -> Result<(), String> {
        if self.pos == self.size {
            return Ok(());
        }
        Err(format!(
            "{}: got {} bytes but the server announced {}; the partial file is kept as {}",
            self.plan.file,
            group_digits(self.pos),
            group_digits(self.size),
            self.plan.part.display()
        ))
    }

    /// The server's listing after `DONE`: saved under a free name (or over an
    /// existing one with `--overwrite`) only if the file is still the version the
    /// download started with. `Ok` is the final path and size. `None`: no listing
    /// came, and the `.part` and its record stay for a later `/get`.
    pub fn verify(self, listed: Option<Option<Listed>>) -> Result<Saved, String> {
        let file = &self.plan.file;
        let part = self.plan.part.display().to_string();
        let Some(listed) = listed else {
            return Err(format!(
                "{file} could not be verified (the server did not list its files); {part} is kept: /get {file} checks it again"
            ));
        };
        let same =
            listed.is_some_and(|l| l.size == self.record.size && l.mtime == self.record.mtime);
        if !same {
            let now = match listed {
                Some(l) => format!(
                    "it now has {} bytes, modified {}",
                    group_digits(l.size),
                    l.mtime
                ),
                None => "it is no longer listed".to_string(),
            };
            let _ = std::fs::remove_file(&self.plan.part);
            let _ = std::fs::remove_file(record_path(&self.plan.part));
            return Err(format!(
                "{file} changed on the server during the download (it had {} bytes, modified {}; {now}): what arrived may mix two versions, so nothing was saved; /get {file} starts over",
                group_digits(self.record.size),
                self.record.mtime
            ));
        }
        // Every byte, the kept ones of a resumed download too, against the server's
        // SHA-256: read back from the `.part`, one pass.
        if let Some(want) = self.expected {
            let (got, _) = crate::session::transfers::hash_file(&self.plan.handle)
                .map_err(|e| format!("cannot read {part}: {}", io_words(&e)))?;
            if got != want {
                let _ = std::fs::remove_file(&self.plan.part);
                let _ = std::fs::remove_file(record_path(&self.plan.part));
                return Err(format!(
                    "{file} arrived damaged: its SHA-256 is {got}, the server's is {want}; nothing was saved; /get {file} starts over"
                ));
            }
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
        let _ = std::fs::remove_file(record_path(&self.plan.part));
        Ok(Saved {
            path,
            size: self.size,
            sha256: self.expected,
        })
    }
}

/// A download saved under its real name.
#[derive(Debug)]
pub struct Saved {
    pub path: PathBuf,
    pub size: u64,
    /// The SHA-256 it was checked against; `None`: the server did not know it yet.
    pub sha256: Option<natter_protocol::Sha256>,
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

/// What to do before trying again after a failed local write: a full disk (or
/// quota) is the usual cause, and needs room made; anything else needs its cause
/// fixed.
fn remedy(e: &io::Error) -> &'static str {
    let full = matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT));
    if full {
        "free some space and"
    } else {
        "fix that and"
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::session::testing::{f, Dir};

    const T: Time = Time(1_700_000_000);

    fn listed(size: u64) -> Option<Listed> {
        Some(Listed {
            size,
            mtime: T,
            sha256: None,
        })
    }

    fn going(s: Start) -> (Download, Option<String>) {
        match s {
            Start::Going(d, n) => (d, n),
            Start::Again(_, why) | Start::Failed(why) => panic!("not going: {why}"),
        }
    }

    #[test]
    fn a_download_resumes_after_checking_its_overlap_and_lands_on_a_free_name() {
        let dir = Dir::new("dl");
        let data: Vec<u8> = (0..(OVERLAP + 1000) as u32)
            .map(|i| (i % 251) as u8)
            .collect();
        let size = data.len() as u64 + 500;
        let mut all = data.clone();
        all.extend(vec![9u8; 500]);
        let now = Instant::now();
        let plan = DownloadPlan::prepare(&dir.0, f("a.bin"), false).unwrap();
        assert_eq!(plan.offset, 0);
        let (mut d, notice) = going(plan.accepted(1, size, listed(size), None, now));
        assert_eq!(notice, None);
        assert!(d.write(&data, now).is_ok());
        drop(d); // interrupted: the .part and its record stay
        let plan = DownloadPlan::prepare(&dir.0, f("a.bin"), false).unwrap();
        assert_eq!(
            plan.offset, 1000,
            "the last OVERLAP bytes are asked for again"
        );
        assert!(
            DownloadPlan::prepare(&dir.0, f("a.bin"), false).is_err(),
            "a .part in use is not shared"
        );
        std::fs::write(dir.0.join("a.bin"), b"older").unwrap();
        let (mut d, _) = going(plan.accepted(2, size, listed(size), None, now));
        assert_eq!(d.resumed(), Some((1000, data.len() as u64)));
        d.write(&all[1000..], now).ok().unwrap();
        d.complete().unwrap();
        let saved = d.verify(Some(listed(size))).unwrap();
        let (path, n) = (saved.path, saved.size);
        assert_eq!((path, n), (dir.0.join("a_1.bin"), size));
        assert!(std::fs::read(dir.0.join("a_1.bin")).unwrap() == all);
        assert_eq!(std::fs::read(dir.0.join("a.bin")).unwrap(), b"older");
        assert!(!dir.0.join("a.bin.part").exists());
        assert!(!dir.0.join("a.bin.part.info").exists());
    }

    #[test]
    fn a_part_that_is_not_of_this_version_starts_over() {
        let dir = Dir::new("stale");
        std::fs::create_dir_all(&dir.0).unwrap();
        let now = Instant::now();
        // No record: emptied once the server accepts.
        std::fs::write(dir.0.join("b.bin.part"), vec![0u8; 10]).unwrap();
        let plan = DownloadPlan::prepare(&dir.0, f("b.bin"), false).unwrap();
        assert_eq!(plan.offset, 0);
        let (mut d, notice) = going(plan.accepted(1, 10, listed(10), None, now));
        assert!(notice.unwrap().contains("has no record of which version"));
        assert_eq!(
            std::fs::metadata(dir.0.join("b.bin.part")).unwrap().len(),
            0
        );
        d.write(&[1u8; 4], now).ok().unwrap();
        drop(d);
        // Another mtime on the server: ask again from the start.
        let plan = DownloadPlan::prepare(&dir.0, f("b.bin"), false).unwrap();
        let other = Some(Listed {
            size: 10,
            mtime: Time(T.0 + 1),
            sha256: None,
        });
        match plan.accepted(2, 10, other, None, now) {
            Start::Again(p, why) => {
                assert!(why.contains("came from another version"), "{why}");
                assert_eq!(p.offset, 0);
            }
            _ => panic!("a .part of another version was continued"),
        }
        // The same version, but different bytes where they overlap.
        let plan = DownloadPlan::prepare(&dir.0, f("b.bin"), false).unwrap();
        let (mut d, _) = going(plan.accepted(3, 10, listed(10), None, now));
        match d.write(&[1, 1, 7, 1], now) {
            Err(Stop::Mismatch(at)) => assert_eq!(at, 2),
            _ => panic!("a differing overlap was taken"),
        }
    }

    #[test]
    fn a_download_is_saved_only_with_the_servers_sha256_and_says_so() {
        use sha2::Digest;
        let sum = |b: &[u8]| natter_protocol::Sha256(sha2::Sha256::digest(b).into());
        let dir = Dir::new("sha");
        let now = Instant::now();
        let plan = DownloadPlan::prepare(&dir.0, f("g.bin"), false).unwrap();
        let (mut d, _) = going(plan.accepted(1, 5, listed(5), Some(sum(b"hello")), now));
        d.write(b"hello", now).ok().unwrap();
        let saved = d.verify(Some(listed(5))).unwrap();
        assert_eq!(saved.sha256, Some(sum(b"hello")));
        assert_eq!(std::fs::read(&saved.path).unwrap(), b"hello");
        // Damaged on the way: nothing under the real name, no .part to resume.
        let plan = DownloadPlan::prepare(&dir.0, f("h.bin"), false).unwrap();
        let part = plan.part.clone();
        let (mut d, _) = going(plan.accepted(2, 5, listed(5), Some(sum(b"hello")), now));
        d.write(b"hellO", now).ok().unwrap();
        let e = d.verify(Some(listed(5))).unwrap_err();
        assert!(e.contains("h.bin arrived damaged: its SHA-256 is "), "{e}");
        assert!(!dir.0.join("h.bin").exists() && !part.exists());
    }

    #[test]
    fn a_download_is_saved_only_when_its_version_is_unchanged() {
        let dir = Dir::new("verify");
        let now = Instant::now();
        let plan = DownloadPlan::prepare(&dir.0, f("c.bin"), false).unwrap();
        let (mut d, _) = going(plan.accepted(1, 2, listed(2), None, now));
        d.write(b"hi", now).ok().unwrap();
        let changed = Some(Some(Listed {
            size: 2,
            mtime: Time(T.0 + 60),
            sha256: None,
        }));
        let e = d.verify(changed).unwrap_err();
        assert!(
            e.contains("changed on the server during the download"),
            "{e}"
        );
        assert!(!dir.0.join("c.bin").exists() && !dir.0.join("c.bin.part").exists());

        let plan = DownloadPlan::prepare(&dir.0, f("d.bin"), false).unwrap();
        let (mut d, _) = going(plan.accepted(2, 5, listed(5), None, now));
        d.write(b"hi", now).ok().unwrap();
        let e = d.complete().unwrap_err();
        assert!(e.contains("got 2 bytes but the server announced 5"), "{e}");
        assert!(dir.0.join("d.bin.part").exists());
        let e = d.verify(None).unwrap_err();
        assert!(e.contains("could not be verified"), "{e}");
        assert!(dir.0.join("d.bin.part").exists());
    }

    #[test]
    fn overwrite_replaces() {
        let dir = Dir::new("ow");
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::write(dir.0.join("e.bin"), b"old").unwrap();
        let now = Instant::now();
        let plan = DownloadPlan::prepare(&dir.0, f("e.bin"), true).unwrap();
        let (mut d, _) = going(plan.accepted(1, 2, listed(2), None, now));
        d.write(b"hi", now).ok().unwrap();
        assert_eq!(d.verify(Some(listed(2))).unwrap().path, dir.0.join("e.bin"));
        assert_eq!(std::fs::read(dir.0.join("e.bin")).unwrap(), b"hi");
    }

    #[test]
    fn a_full_disk_says_to_free_some_space() {
        let dir = Dir::new("full");
        let now = Instant::now();
        let plan = DownloadPlan::prepare(&dir.0, f("x.bin"), false).unwrap();
        let part = plan.part.display().to_string();
        let (d, _) = going(plan.accepted(1, 5, listed(5), None, now));
        let enospc = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(
            d.write_failed(&enospc),
            format!(
                "cannot write {part}: no space left on device; the download of x.bin stopped and {part} is kept: free some space and /get x.bin to resume"
            )
        );
        for full in [
            io::Error::from(io::ErrorKind::StorageFull),
            io::Error::from(io::ErrorKind::QuotaExceeded),
            io::Error::from_raw_os_error(libc::EDQUOT),
        ] {
            assert_eq!(remedy(&full), "free some space and", "{full}");
        }
        let efbig = io::Error::from_raw_os_error(libc::EFBIG);
        assert_eq!(remedy(&efbig), "fix that and");
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
}
