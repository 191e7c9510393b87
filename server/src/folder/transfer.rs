//! A download's send cursor over an open file, and an upload's temporary file. Neither
//! holds more than one chunk in memory, whatever the file's size.

use super::{FileError, Totals};
use natter_protocol::{ErrorCode, FileName};
use sha2::Digest;
use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;

/// A download in progress: the open file and how far it has been sent.
pub struct FileSend {
    pub xfer: u64,
    pub name: FileName,
    /// Shared with the queue, which sends ranges of it by `sendfile`.
    pub file: Rc<File>,
    pub size: u64,
    pub pos: u64,
    pub started_at: u64,
    /// The body of the next frame sent from the file by the kernel, and the most it
    /// may grow to (the client's `HELLO ... data=N`). Frames copied through memory
    /// (TLS) stay at `MAX_DATA`.
    frame: usize,
    max_frame: usize,
}

impl FileSend {
    pub fn new(xfer: u64, name: FileName, file: File, size: u64, from: u64) -> FileSend {
        FileSend {
            xfer,
            name,
            file: Rc::new(file),
            size,
            pos: from,
            started_at: from,
            frame: natter_protocol::MAX_DATA,
            max_frame: natter_protocol::MAX_DATA,
        }
    }

    /// Frames may grow to `max` bytes of body, where the socket keeps up.
    pub fn with_frame(mut self, max: usize) -> FileSend {
        self.max_frame = max.clamp(natter_protocol::MAX_DATA, natter_protocol::MAX_BIG_DATA);
        self
    }

    /// What the socket did with the last frame: it took all of it at once (a fast
    /// reader: the next frame is twice as big, up to the client's bound, so a GiB
    /// costs a thousand system calls instead of thirty thousand), or it filled up with
    /// some left (back to `MAX_DATA`). So frames stay small on a slow link, where a
    /// chat line queued behind one would wait for all of it.
    pub fn paced(&mut self, blocked: bool) {
        self.frame = if blocked {
            natter_protocol::MAX_DATA
        } else {
            (self.frame * 2).min(self.max_frame)
        };
    }

    /// The next `DATA` frame's body as a range of the file (offset, length), for the
    /// kernel to send; the caller writes the header.
    pub fn next_range(&mut self) -> (u64, usize) {
        let n = (self.size - self.pos).min(self.frame as u64) as usize;
        let at = self.pos;
        self.pos += n as u64;
        (at, n)
    }

    /// Appends the next `DATA` frame (at most `MAX_DATA` bytes of body) to `out`.
    /// On a read error (the file got shorter, say) `out` is left as it was.
    pub fn next_frame(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        let n = (self.size - self.pos).min(natter_protocol::MAX_DATA as u64) as usize;
        let start = out.len();
        natter_protocol::encode_data_header(self.xfer, n, out);
        let body = out.len();
        out.resize(body + n, 0);
        if let Err(e) = (&*self.file).read_exact(&mut out[body..]) {
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

/// One upload's place in what this natterd's uploads in progress will add to the
/// folder (one file, its declared size): taken when the upload starts, given back
/// when it is dropped, however it ends.
pub(super) struct Hold {
    uploading: Rc<Cell<Totals>>,
    bytes: u64,
}

impl Hold {
    pub(super) fn new(uploading: &Rc<Cell<Totals>>, bytes: u64) -> Hold {
        let mut t = uploading.get();
        t.files += 1;
        t.bytes = t.bytes.saturating_add(bytes);
        uploading.set(t);
        Hold {
            uploading: Rc::clone(uploading),
            bytes,
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut t = self.uploading.get();
        t.files = t.files.saturating_sub(1);
        t.bytes = t.bytes.saturating_sub(self.bytes);
        self.uploading.set(t);
    }
}

/// An upload in progress, in its locked temporary file. Dropping one that was not
/// published removes the temporary, so every way a connection can end (ABORT, a drop,
/// an error, shutdown) cleans up, and frees the name it reserved.
pub struct Upload {
    pub xfer: u64,
    pub stored_as: FileName,
    pub size: u64,
    pub received: u64,
    pub(super) file: File,
    pub(super) temp: PathBuf,
    pub(super) published: bool,
    /// Where the data not yet handed to the disk's writeback begins.
    unsynced_from: u64,
    /// Everything before this is on the disk.
    pub(super) synced: u64,
    /// The SHA-256 of what arrived so far: known when it is whole, with no second pass.
    hasher: sha2::Sha256,
    /// What the sender says it is (`PUT ... <sha256>`).
    pub expected: Option<natter_protocol::Sha256>,
    /// Counts it against the folder's limits while it lives.
    _hold: Hold,
}

/// Every this many bytes an upload's data is handed to the kernel's writeback (queued,
/// not waited for), so the disk writes while the upload arrives.
const WRITEBACK_EVERY: u64 = 1 << 20;
/// About this much of an upload may wait to reach the disk. Past it, natterd waits
/// for the disk (fdatasync) before it takes more, which slows a sender that outruns
/// the disk to the disk's pace, one short wait at a time, and leaves the final fsync
/// (which, like these, runs on the loop thread) only this much to do; the whole
/// upload's fsync at the end took over a second on a virtual disk. A wait holds the
/// loop for everyone, for the time the disk takes to store this much (about 3 ms
/// per MiB on a virtual disk), so only one upload waits in a loop turn; the others
/// go on and wait in a later turn, each turn reading at most 64 KiB more of them.
const WRITEBACK_BACKLOG: u64 = 1 << 20;
/// However many uploads take turns, none gets further ahead of the disk than this.
const WRITEBACK_BACKLOG_MAX: u64 = 4 << 20;

impl Upload {
    pub(super) fn new(
        xfer: u64,
        stored_as: FileName,
        size: u64,
        file: File,
        temp: PathBuf,
        hold: Hold,
    ) -> Upload {
        Upload {
            xfer,
            stored_as,
            size,
            received: 0,
            file,
            temp,
            published: false,
            unsynced_from: 0,
            synced: 0,
            hasher: sha2::Sha256::new(),
            expected: None,
            _hold: hold,
        }
    }

    /// The SHA-256 of what arrived (all of it, once whole).
    pub fn digest(&self) -> natter_protocol::Sha256 {
        natter_protocol::Sha256(self.hasher.clone().finalize().into())
    }

    /// Writes the next bytes. `may_wait`: no upload has waited for the disk this loop
    /// turn; cleared if this one does.
    pub fn write(&mut self, data: &[u8], may_wait: &mut bool) -> Result<(), FileError> {
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
        self.hasher.update(data);
        self.received += data.len() as u64;
        if self.received - self.unsynced_from >= WRITEBACK_EVERY {
            self.sync_range(
                self.unsynced_from,
                self.received,
                libc::SYNC_FILE_RANGE_WRITE,
            );
            self.unsynced_from = self.received;
        }
        let behind = self.unsynced_from - self.synced;
        if behind >= WRITEBACK_BACKLOG_MAX || (behind >= WRITEBACK_BACKLOG && *may_wait) {
            *may_wait = false;
            // fdatasync, not a ranged wait: a disk with a write cache (most, and every
            // virtual one) reports data written long before it is stored, and only a
            // flush stores it; one flush per backlog keeps each flush, and the last,
            // short.
            if let Err(e) = self.file.sync_data() {
                log::debug!("fdatasync on an upload: {e}");
            }
            self.synced = self.unsynced_from;
        }
        Ok(())
    }

    /// `sync_file_range` over `[from, to)` of the file with `flags`: with
    /// `SYNC_FILE_RANGE_WRITE` alone it only queues the writes.
    fn sync_range(&self, from: u64, to: u64, flags: libc::c_uint) {
        // SAFETY: sync_file_range on a descriptor we own; it reads no memory of ours.
        let rc = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                from as libc::off64_t,
                (to - from) as libc::off64_t,
                flags,
            )
        };
        if rc != 0 {
            log::debug!(
                "sync_file_range on an upload: {}",
                std::io::Error::last_os_error()
            );
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{MAX_BIG_DATA, MAX_DATA};

    fn send(size: u64, max: usize) -> FileSend {
        let file = tempfile_in_target();
        FileSend::new(1, FileName::new("f").unwrap(), file, size, 0).with_frame(max)
    }

    fn tempfile_in_target() -> File {
        let path = std::env::temp_dir().join(format!("natter-frame-{}", std::process::id()));
        let f = File::create(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }

    #[test]
    fn frames_grow_while_the_socket_keeps_up_and_fall_back_when_it_fills() {
        let mut d = send(100 << 20, MAX_BIG_DATA);
        let mut sizes = Vec::new();
        for blocked in [false, false, false, false, false, false, true, false] {
            sizes.push(d.next_range().1);
            d.paced(blocked);
        }
        sizes.push(d.next_range().1);
        let k = 1024;
        assert_eq!(
            sizes,
            [
                64 * k,
                128 * k,
                256 * k,
                512 * k,
                1024 * k,
                1024 * k,
                1024 * k,
                64 * k,
                128 * k
            ]
        );
        // Never past what the client asked for, nor past the file's end.
        let mut d = send(300_000, 100_000);
        let mut sizes = Vec::new();
        while d.pos < d.size {
            sizes.push(d.next_range().1);
            d.paced(false);
        }
        assert_eq!(
            sizes,
            [MAX_DATA, 100_000, 100_000, 300_000 - MAX_DATA - 200_000]
        );
        // A client that asked for nothing stays at 64 KiB.
        let mut d = FileSend::new(
            1,
            FileName::new("f").unwrap(),
            tempfile_in_target(),
            1 << 20,
            0,
        );
        d.paced(false);
        assert_eq!(d.next_range().1, MAX_DATA);
    }
}
