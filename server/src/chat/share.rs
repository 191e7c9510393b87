//! The shared-folder requests: FILES GET PUT DATA ABORT DELETE RENAME, and the end of
//! a download.
//!
//! The room decides and keeps count; the bytes of a download are the loop's to pump
//! (it pulls the next chunk only while the socket keeps up), and it reports the end
//! back through [`Room::download_ended`]. An upload's bytes arrive as `DATA` requests
//! and go straight into its temporary file.

use super::{error, reply, ConnRef, Listing, Outbox, Room};
use crate::folder::{describe, size_words, sizes_apart, FileError, FileSend};
use natter_protocol::{ErrorCode, FileName, FolderUsage, Reply, ServerFrame};

pub use crate::config::MAX_TRANSFERS_PER_CONNECTION as MAX_TRANSFERS;

fn refuse(out: &mut impl Outbox, to: ConnRef, e: FileError) {
    error(out, to, e.code, &e.text);
}

impl Room {
    fn transfers_full(&self, out: &mut impl Outbox, from: ConnRef) -> bool {
        let busy = self
            .client(from)
            .is_some_and(|c| c.transfers() >= MAX_TRANSFERS);
        if busy {
            let text = format!(
                "at most {MAX_TRANSFERS} transfers at once; wait for one to finish or ABORT it"
            );
            error(out, from, ErrorCode::Busy, &text);
        }
        busy
    }

    /// Whether the server's open-file budget is spent: the transfer is refused, so
    /// no pattern of requests can take the descriptors new clients need.
    fn files_full(&self, out: &mut impl Outbox, from: ConnRef) -> bool {
        let full = self.open_files >= self.settings.max_open_files;
        if full {
            let text = format!(
                "natterd is running as many transfers as it can ({}); try again in a moment",
                self.settings.max_open_files
            );
            error(out, from, ErrorCode::Busy, &text);
        }
        full
    }

    fn refuse_if_read_only(&self, out: &mut impl Outbox, from: ConnRef) -> bool {
        if self.settings.read_only {
            error(
                out,
                from,
                ErrorCode::ReadOnly,
                "this server's shared folder is read-only",
            );
        }
        self.settings.read_only
    }

    fn next_xfer(&mut self) -> u64 {
        let x = self.next_xfer;
        self.next_xfer += 1;
        x
    }

    pub(super) fn files(&mut self, out: &mut impl Outbox, from: ConnRef) {
        let listing = Listing::Files {
            after: None,
            sent: 0,
        };
        self.start_listing(out, from, listing);
    }

    pub(super) fn get(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        file: FileName,
        offset: Option<u64>,
    ) {
        if self.transfers_full(out, from) || self.files_full(out, from) {
            return;
        }
        let offset = offset.unwrap_or(0);
        let (handle, size) = match self.folder.open_download(&file, offset) {
            Ok(x) => x,
            Err(e) => return refuse(out, from, e),
        };
        let xfer = self.next_xfer();
        log::info!(
            "{} downloads {file} ({size} bytes, from {offset})",
            self.user_label(from)
        );
        let mut frame = natter_protocol::MAX_DATA;
        if let Some(c) = self.client_mut(from) {
            c.tx().downloads.push(xfer);
            frame = c.data as usize;
        }
        self.open_files += 1;
        // A size the index does not know means a change the folder's watch missed
        // (a truncate(2) by path is not a write that closes): look again, so the
        // listing and the hash follow the file.
        if self.folder.entry(&file).is_some_and(|e| e.size != size) {
            self.folder
                .changed([std::ffi::OsStr::new(file.as_str())], false);
            self.rehash = true;
        }
        // The hash of this very file, if it is known: same size as when hashed.
        let sha256 = self
            .folder
            .entry(&file)
            .filter(|e| e.size == size)
            .and_then(|e| e.sha256);
        reply(
            out,
            from,
            Reply::Get {
                xfer,
                file: file.clone(),
                size,
                sha256,
            },
        );
        let send = FileSend::new(xfer, file, handle, size, offset).with_frame(frame);
        out.start_download(from, send);
    }

    /// The loop sent a download's last byte, or could not read its next chunk.
    pub fn download_ended(
        &mut self,
        out: &mut impl Outbox,
        conn: ConnRef,
        d: FileSend,
        result: std::io::Result<()>,
    ) {
        let Some(c) = self.client_mut(conn) else {
            return;
        };
        let Some(i) = c.downloads().iter().position(|&x| x == d.xfer) else {
            // Already forgotten (aborted, or the session ended): nothing to report.
            return;
        };
        c.tx().downloads.remove(i);
        self.file_closed(1);
        let user = self.user_label(conn);
        match result {
            Ok(()) => {
                log::info!(
                    "{user} finished downloading {} ({} bytes)",
                    d.name,
                    d.pos - d.started_at
                );
                let done = ServerFrame::Done {
                    xfer: d.xfer,
                    stored: None,
                };
                out.send(conn, &done);
            }
            Err(e) => {
                log::warn!(
                    "{user}: download of {} failed at {} of {}: {e}",
                    d.name,
                    d.pos,
                    d.size
                );
                let text = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    format!("{} got shorter while it was being sent", d.name)
                } else {
                    format!("cannot read {}: {}", d.name, describe(&e))
                };
                let failed = ServerFrame::Failed {
                    xfer: d.xfer,
                    code: ErrorCode::NoSuchFile,
                    text,
                };
                out.send(conn, &failed);
            }
        }
    }

    pub(super) fn put(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        file: FileName,
        size: u64,
        sha256: Option<natter_protocol::Sha256>,
    ) {
        if self.refuse_if_read_only(out, from)
            || self.transfers_full(out, from)
            || self.files_full(out, from)
        {
            return;
        }
        if size > self.settings.max_file_size {
            let text = format!(
                "{file} is {size} bytes; this server takes files up to {} bytes",
                self.settings.max_file_size
            );
            return error(out, from, ErrorCode::TooLarge, &text);
        }
        if let Some(text) = self.past_folder_limits(&file, size) {
            return error(out, from, ErrorCode::NoSpace, &text);
        }
        if let Some(free) = self.folder.free_space() {
            if size > free {
                let text = format!("{file} is {size} bytes but only {free} bytes are free");
                return error(out, from, ErrorCode::NoSpace, &text);
            }
        }
        let xfer = self.next_xfer();
        let upload = match self
            .folder
            .start_upload(xfer, &file, size, self.settings.on_duplicate)
        {
            Ok(mut u) => {
                u.expected = sha256;
                u
            }
            Err(e) => {
                if e.code == ErrorCode::Internal || e.code == ErrorCode::NoSpace {
                    log::error!("cannot start an upload: {}", e.text);
                }
                return refuse(out, from, e);
            }
        };
        let stored_as = upload.stored_as.clone();
        log::info!(
            "{} uploads {stored_as} ({size} bytes)",
            self.user_label(from)
        );
        reply(out, from, Reply::Put { xfer, stored_as });
        if let Some(c) = self.client_mut(from) {
            c.tx().uploads.push(upload);
            self.open_files += 1;
        }
        if size == 0 {
            self.finish_upload(out, from, xfer);
        }
    }

    /// What the shared folder holds and may hold, as `OK STATUS` and `OK FILES` tell.
    pub(super) fn folder_usage(&self) -> FolderUsage {
        let held = self.folder.contents();
        FolderUsage {
            files: held.files,
            bytes: held.bytes,
            max_files: self.settings.max_files,
            max_bytes: self.settings.max_folder_size,
        }
    }

    /// Whether the folder has a limit, and so `OK FILES` carries its usage (a client
    /// from before December 2026 cannot read that; without a limit the listing's items
    /// say as much).
    pub(super) fn folder_is_limited(&self) -> bool {
        self.settings.max_files.is_some() || self.settings.max_folder_size.is_some()
    }

    /// Why an upload of `size` bytes would take the shared folder past `--max-files`
    /// or `--max-folder-size`, and what is left; `None` if it fits. What the folder
    /// holds (whoever put it there) counts, and so do this natterd's uploads in
    /// progress, by their declared sizes, so two at once cannot both squeeze in.
    fn past_folder_limits(&self, file: &FileName, size: u64) -> Option<String> {
        let held = self.folder.contents();
        let coming = self.folder.uploading();
        if let Some(max) = self.settings.max_files {
            let files = held.files.saturating_add(coming.files);
            if files >= max {
                let uploads = match coming.files {
                    0 => String::new(),
                    1 => ", 1 of them an upload in progress".to_string(),
                    n => format!(", {n} of them uploads in progress"),
                };
                return Some(format!(
                    "the shared folder is limited to {max} files and has {files}{uploads}; none left for {file}"
                ));
            }
        }
        if let Some(max) = self.settings.max_folder_size {
            let used = held.bytes.saturating_add(coming.bytes);
            let left = max.saturating_sub(used);
            if size > left {
                let uploads = match coming.bytes {
                    0 => String::new(),
                    n => format!(", {} of it by uploads in progress", size_words(n)),
                };
                let (left_w, size_w) = sizes_apart(left, size);
                return Some(format!(
                    "the shared folder is limited to {} and {} is used{uploads}; {left_w} left, {file} is {size_w}",
                    size_words(max),
                    size_words(used)
                ));
            }
        }
        None
    }

    pub(super) fn data(&mut self, out: &mut impl Outbox, from: ConnRef, xfer: u64, data: &[u8]) {
        let mut may_wait = self.disk_wait_free;
        let Some(c) = self.client_mut(from) else {
            return;
        };
        let Some(i) = c.uploads().iter().position(|u| u.xfer == xfer) else {
            let failed = ServerFrame::Failed {
                xfer,
                code: ErrorCode::NoSuchTransfer,
                text: format!("no upload {xfer} is in progress on this connection"),
            };
            return out.send(from, &failed);
        };
        let written = c.tx().uploads[i].write(data, &mut may_wait);
        let whole = c.tx().uploads[i].is_whole();
        match written {
            Ok(()) if whole => self.finish_upload(out, from, xfer),
            Ok(()) => {}
            Err(e) => {
                // Dropping it removes its temporary file and frees its name.
                let up = c.tx().uploads.remove(i);
                self.file_closed(1);
                log::warn!(
                    "{}: upload of {} failed: {}",
                    self.user_label(from),
                    up.stored_as,
                    e.text
                );
                drop(up);
                let failed = ServerFrame::Failed {
                    xfer,
                    code: e.code,
                    text: e.text,
                };
                out.send(from, &failed);
            }
        }
        self.disk_wait_free &= may_wait;
    }

    fn finish_upload(&mut self, out: &mut impl Outbox, from: ConnRef, xfer: u64) {
        let Some(c) = self.client_mut(from) else {
            return;
        };
        let Some(i) = c.uploads().iter().position(|u| u.xfer == xfer) else {
            return;
        };
        let mut up = c.tx().uploads.remove(i);
        self.file_closed(1);
        match self
            .folder
            .finish_upload(&mut up, self.settings.on_duplicate)
        {
            Ok(name) => {
                let size = up.size;
                let Some(user) = self.member_name(from) else {
                    return;
                };
                log::info!("{user} uploaded {name} ({size} bytes)");
                let done = ServerFrame::Done {
                    xfer,
                    stored: Some((name.clone(), size)),
                };
                out.send(from, &done);
                let shared = ServerFrame::Shared {
                    name: user,
                    file: name,
                    size,
                };
                self.announce(out, Some(from), shared);
            }
            Err(e) => {
                log::warn!(
                    "{}: cannot publish {}: {}",
                    self.user_label(from),
                    up.stored_as,
                    e.text
                );
                let failed = ServerFrame::Failed {
                    xfer,
                    code: e.code,
                    text: e.text,
                };
                out.send(from, &failed);
            }
        }
    }

    pub(super) fn abort(&mut self, out: &mut impl Outbox, from: ConnRef, xfer: u64) {
        let user = self.user_label(from);
        let Some(c) = self.client_mut(from) else {
            return;
        };
        if let Some(i) = c.downloads().iter().position(|&x| x == xfer) {
            c.tx().downloads.remove(i);
            self.file_closed(1);
            if let Some(d) = out.stop_download(from, xfer) {
                log::info!(
                    "{user} aborted the download of {} at {} of {} bytes",
                    d.name,
                    d.pos,
                    d.size
                );
            }
        } else if let Some(i) = c.uploads().iter().position(|u| u.xfer == xfer) {
            let up = c.tx().uploads.remove(i);
            self.file_closed(1);
            log::info!(
                "{user} aborted the upload of {} at {} of {} bytes",
                up.stored_as,
                up.received,
                up.size
            );
        } else {
            let text = format!("no transfer {xfer} is running on this connection");
            return error(out, from, ErrorCode::NoSuchTransfer, &text);
        }
        reply(out, from, Reply::Abort { xfer });
    }

    pub(super) fn delete(&mut self, out: &mut impl Outbox, from: ConnRef, file: FileName) {
        if self.refuse_if_read_only(out, from) {
            return;
        }
        match self.folder.delete(&file) {
            Ok(size) => {
                log::info!("{} deleted {file} ({size} bytes)", self.user_label(from));
                reply(out, from, Reply::Delete { file: file.clone() });
                if let Some(name) = self.member_name(from) {
                    let deleted = ServerFrame::Deleted { name, file };
                    self.announce(out, Some(from), deleted);
                }
            }
            Err(e) => refuse(out, from, e),
        }
    }

    pub(super) fn rename(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        old: FileName,
        new: FileName,
    ) {
        if self.refuse_if_read_only(out, from) {
            return;
        }
        match self.folder.rename(&old, &new) {
            Ok(size) => {
                log::info!(
                    "{} renamed {old} to {new} ({size} bytes)",
                    self.user_label(from)
                );
                reply(
                    out,
                    from,
                    Reply::Rename {
                        old: old.clone(),
                        new: new.clone(),
                    },
                );
                if let Some(name) = self.member_name(from) {
                    let renamed = ServerFrame::Renamed { name, old, new };
                    self.announce(out, Some(from), renamed);
                }
            }
            Err(e) => refuse(out, from, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::recorder::{Event, Fixture};
    use super::MAX_TRANSFERS;
    use crate::folder::OnDuplicate;
    use natter_protocol::{Request, ServerFrame};

    #[test]
    fn get_and_files_carry_the_hash_once_it_is_known() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("song.mp3", b"0123456789");
        fx.send(a, "GET song.mp3");
        let lines = fx.lines(a);
        assert!(
            lines[0].starts_with("OK GET ") && lines[0].ends_with(" song.mp3 10"),
            "{lines:?}"
        );
        while fx.room.hash_files(1024) {}
        // sha256sum of "0123456789".
        let want = "84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882";
        fx.send(a, "GET song.mp3");
        let lines = fx.lines(a);
        assert!(
            lines[0].ends_with(&format!(" song.mp3 10 {want}")),
            "{lines:?}"
        );
        fx.send(a, "FILES");
        let lines = fx.lines(a);
        assert!(
            lines[0].starts_with("FILE song.mp3 10 ") && lines[0].ends_with(want),
            "{lines:?}"
        );
    }

    #[test]
    fn files_lists_the_regular_files_by_name() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("b.txt", b"bb");
        fx.file("a b.txt", b"a");
        fx.file(".hidden", b"x");
        std::fs::create_dir(fx.path("sub")).unwrap();
        fx.changed("sub");
        fx.send(a, "FILES");
        let lines = fx.lines(a);
        let shown: Vec<String> = lines
            .iter()
            .map(|l| {
                l.rsplit_once(' ')
                    .map_or(l.clone(), |(head, _)| head.to_string())
            })
            .collect();
        assert_eq!(shown, ["FILE a%20b.txt 1", "FILE b.txt 2", "OK FILES"]);
        assert_eq!(lines[2], "OK FILES 2");
    }

    #[test]
    fn get_replies_then_hands_the_file_to_the_loop_and_done_follows_its_end() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("song.mp3", b"0123456789");
        fx.send(a, "GET song.mp3 4");
        assert_eq!(
            fx.out.take(),
            [
                Event::Frame(
                    a,
                    ServerFrame::Ok(natter_protocol::Reply::Get {
                        xfer: 1,
                        file: natter_protocol::FileName::new("song.mp3").unwrap(),
                        size: 10,
                        // Put there by hand and not hashed yet.
                        sha256: None
                    })
                ),
                Event::DownloadStarted(a, 1),
            ]
        );
        let (_, d) = fx.out.downloads.pop().unwrap();
        assert_eq!((d.pos, d.size), (4, 10));
        fx.room.download_ended(&mut fx.out, a, d, Ok(()));
        assert_eq!(fx.lines(a), ["DONE 1"]);
        assert_eq!(
            fx.ask(a, "GET nope.txt"),
            "ERR no-such-file no file named nope.txt is shared"
        );
        assert_eq!(
            fx.ask(a, "GET song.mp3 11"),
            "ERR bad-offset song.mp3 is 10 bytes; cannot start at 11"
        );
    }

    #[test]
    fn a_download_that_cannot_go_on_fails_with_the_reason() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("f.bin", b"abc");
        fx.send(a, "GET f.bin");
        fx.out.take();
        let (_, d) = fx.out.downloads.pop().unwrap();
        let eof = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        fx.room.download_ended(&mut fx.out, a, d, Err(eof));
        assert_eq!(
            fx.lines(a),
            ["FAILED 1 no-such-file f.bin got shorter while it was being sent"]
        );
    }

    #[test]
    fn at_most_four_transfers_run_at_once() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("f.bin", b"abc");
        for _ in 0..MAX_TRANSFERS {
            fx.send(a, "GET f.bin");
        }
        let busy = "ERR busy at most 4 transfers at once; wait for one to finish or ABORT it";
        assert_eq!(fx.lines(a).len(), MAX_TRANSFERS);
        assert_eq!(fx.ask(a, "GET f.bin"), busy);
        assert_eq!(fx.ask(a, "PUT g.bin 3"), busy);
        let (_, d) = fx.out.downloads.remove(0);
        fx.room.download_ended(&mut fx.out, a, d, Ok(()));
        fx.out.take();
        assert!(fx.ask(a, "PUT g.bin 3").starts_with("OK PUT 5 g.bin"));
    }

    #[test]
    fn the_loop_learns_whose_upload_a_data_frame_is() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        assert_eq!(fx.ask(a, "PUT notes.txt 5"), "OK PUT 1 notes.txt");
        assert!(fx.room.has_upload(a, 1));
        assert!(!fx.room.has_upload(a, 2), "no such transfer");
        assert!(!fx.room.has_upload(b, 1), "someone else's");
        assert_eq!(fx.ask(a, "ABORT 1"), "OK ABORT 1");
        assert!(!fx.room.has_upload(a, 1), "aborted");
    }

    #[test]
    fn a_put_of_exactly_the_largest_size_is_taken_one_byte_more_is_not() {
        let mut fx = Fixture::with(|s| s.max_file_size = 10);
        let a = fx.join(1, "alice");
        assert_eq!(fx.ask(a, "PUT ten.bin 10"), "OK PUT 1 ten.bin");
        assert_eq!(
            fx.ask(a, "PUT eleven.bin 11"),
            "ERR too-large eleven.bin is 11 bytes; this server takes files up to 10 bytes"
        );
    }

    #[test]
    fn a_put_that_fills_the_folder_exactly_is_taken_one_byte_more_is_not() {
        let mut fx = Fixture::with(|s| s.max_folder_size = Some(100));
        let a = fx.join(1, "alice");
        // Put there by hand: it counts as much as an upload.
        fx.file("by-hand.bin", &[0; 60]);
        assert_eq!(
            fx.ask(a, "PUT big.bin 41"),
            "ERR no-space the shared folder is limited to 100 B and 60 B is used; 40 B left, big.bin is 41 B"
        );
        assert_eq!(fx.ask(a, "PUT fits.bin 40"), "OK PUT 1 fits.bin");
        // Full now, counting the upload in progress: not even a byte more.
        assert_eq!(
            fx.ask(a, "PUT one.bin 1"),
            "ERR no-space the shared folder is limited to 100 B and 100 B is used, 40 B of it by uploads in progress; 0 B left, one.bin is 1 B"
        );
        // An empty file takes no bytes.
        fx.send(a, "PUT empty 0");
        assert_eq!(fx.lines(a), ["OK PUT 2 empty", "DONE 2 empty 0"]);
        assert!(!fx.path("big.bin").exists() && !fx.path("one.bin").exists());
        assert!(fx.out.take().is_empty());
    }

    #[test]
    fn uploads_in_progress_count_until_they_end_however_they_end() {
        let mut fx = Fixture::with(|s| s.max_folder_size = Some(100));
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        assert_eq!(fx.ask(a, "PUT a.bin 60"), "OK PUT 1 a.bin");
        // Two at once cannot both squeeze under the limit.
        let refused = "ERR no-space the shared folder is limited to 100 B and 60 B is used, 60 B of it by uploads in progress; 40 B left, b.bin is 60 B";
        assert_eq!(fx.ask(b, "PUT b.bin 60"), refused);
        // An abort gives its share back...
        assert_eq!(fx.ask(a, "ABORT 1"), "OK ABORT 1");
        assert_eq!(fx.ask(b, "PUT b.bin 60"), "OK PUT 2 b.bin");
        // ...so does a departure...
        fx.room
            .depart(&mut fx.out, b, natter_protocol::LeaveReason::Lost, "");
        fx.out.take();
        assert_eq!(fx.ask(a, "PUT a.bin 60"), "OK PUT 3 a.bin");
        // ...and a failed upload.
        fx.request(
            a,
            Request::Data {
                xfer: 3,
                data: vec![0; 61],
            },
        );
        assert_eq!(
            fx.lines(a),
            ["FAILED 3 too-large a.bin was declared as 60 bytes; more arrived"]
        );
        // A published upload counts as the file it became, once, not twice.
        assert_eq!(fx.ask(a, "PUT c.bin 60"), "OK PUT 4 c.bin");
        fx.request(
            a,
            Request::Data {
                xfer: 4,
                data: vec![7; 60],
            },
        );
        assert_eq!(fx.lines(a), ["DONE 4 c.bin 60"]);
        fx.changed("c.bin");
        assert_eq!(
            fx.ask(a, "PUT d.bin 41"),
            "ERR no-space the shared folder is limited to 100 B and 60 B is used; 40 B left, d.bin is 41 B"
        );
        assert_eq!(fx.ask(a, "PUT d.bin 40"), "OK PUT 5 d.bin");
    }

    #[test]
    fn a_delete_frees_the_folder_at_once() {
        let mut fx = Fixture::with(|s| {
            s.max_folder_size = Some(1 << 20);
            s.max_files = Some(2);
        });
        let a = fx.join(1, "alice");
        fx.file("a.bin", &[0; 1000]);
        fx.file("b.bin", &[0; 1000]);
        assert!(fx.ask(a, "PUT c.bin 1").starts_with("ERR no-space "));
        assert_eq!(fx.ask(a, "DELETE a.bin"), "OK DELETE a.bin");
        assert_eq!(fx.ask(a, "PUT c.bin 1"), "OK PUT 1 c.bin");
        // A rename moves a file, it does not add one.
        assert_eq!(fx.ask(a, "ABORT 1"), "OK ABORT 1");
        assert_eq!(fx.ask(a, "RENAME b.bin z.bin"), "OK RENAME b.bin z.bin");
        assert_eq!(fx.ask(a, "PUT c.bin 1"), "OK PUT 2 c.bin");
    }

    #[test]
    fn the_last_file_the_folder_may_hold_is_taken_the_next_is_not() {
        let mut fx = Fixture::with(|s| s.max_files = Some(3));
        let a = fx.join(1, "alice");
        fx.file("by-hand.txt", b"x");
        // Folders and hidden files are not shared files, and do not count.
        std::fs::create_dir(fx.path("sub")).unwrap();
        fx.changed("sub");
        fx.file(".hidden", b"x");
        fx.send(a, "PUT two.txt 1");
        fx.request(
            a,
            Request::Data {
                xfer: 1,
                data: b"2".to_vec(),
            },
        );
        assert_eq!(fx.lines(a), ["OK PUT 1 two.txt", "DONE 1 two.txt 1"]);
        assert_eq!(fx.ask(a, "PUT three.txt 1"), "OK PUT 2 three.txt");
        assert_eq!(
            fx.ask(a, "PUT four.txt 1"),
            "ERR no-space the shared folder is limited to 3 files and has 3, 1 of them an upload in progress; none left for four.txt"
        );
        assert_eq!(fx.ask(a, "ABORT 2"), "OK ABORT 2");
        assert_eq!(fx.ask(a, "PUT four.txt 1"), "OK PUT 3 four.txt");
        fx.file("by-hand-too.txt", b"x");
        assert_eq!(
            fx.ask(a, "PUT five.txt 0"),
            "ERR no-space the shared folder is limited to 3 files and has 4, 1 of them an upload in progress; none left for five.txt"
        );
    }

    #[test]
    fn near_the_edge_the_bytes_are_spelled_out() {
        let mut fx = Fixture::with(|s| s.max_folder_size = Some(10 << 10));
        let a = fx.join(1, "alice");
        assert_eq!(fx.ask(a, "PUT a.iso 10239"), "OK PUT 1 a.iso");
        assert_eq!(
            fx.ask(a, "PUT b.iso 2"),
            "ERR no-space the shared folder is limited to 10 KiB and 10.0 KiB is used, 10.0 KiB of it by uploads in progress; 1 B left, b.iso is 2 B"
        );
        let mut fx = Fixture::with(|s| s.max_folder_size = Some(3 << 20));
        let a = fx.join(1, "alice");
        assert_eq!(fx.ask(a, "PUT a.bin 1048576"), "OK PUT 1 a.bin");
        assert_eq!(
            fx.ask(a, "PUT b.bin 2097153"),
            "ERR no-space the shared folder is limited to 3 MiB and 1 MiB is used, 1 MiB of it by uploads in progress; 2 MiB (2097152 bytes) left, b.bin is 2.0 MiB (2097153 bytes)"
        );
    }

    #[test]
    fn files_and_status_tell_what_the_folder_holds_and_may_hold() {
        let mut fx = Fixture::with(|s| {
            s.max_folder_size = Some(1 << 30);
            s.max_files = Some(500);
        });
        let a = fx.join(1, "alice");
        fx.file("a.txt", b"hello");
        fx.file("b.txt", b"hi");
        // An upload in progress is not in the folder yet.
        assert_eq!(fx.ask(a, "PUT c.txt 10"), "OK PUT 1 c.txt");
        fx.send(a, "FILES");
        let lines = fx.lines(a);
        assert_eq!(lines[2], "OK FILES 2 2 7 500 1073741824");
        fx.send(a, "STATUS");
        let lines = fx.lines(a);
        let last = lines.last().unwrap();
        let fields: Vec<&str> = last.split(' ').collect();
        assert_eq!(fields[..3], ["OK", "STATUS", "1"], "{last}");
        assert_eq!(fields[5..], ["2", "7", "500", "1073741824"], "{last}");

        // No limit: STATUS says what the folder holds; FILES is as it always was, so
        // a client from before the limits can still read it.
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("a.txt", b"hello");
        fx.send(a, "FILES");
        assert_eq!(fx.lines(a).last().unwrap(), "OK FILES 1");
        fx.send(a, "STATUS");
        let lines = fx.lines(a);
        assert!(lines.last().unwrap().ends_with(" 1 5 - -"), "{lines:?}");
    }

    #[test]
    fn put_reserves_its_name_and_numbers_around_files_and_other_uploads() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("song.mp3", b"old");
        assert_eq!(fx.ask(a, "PUT song.mp3 3"), "OK PUT 1 song_1.mp3");
        assert_eq!(fx.ask(a, "PUT song.mp3 3"), "OK PUT 2 song_2.mp3");
        assert_eq!(fx.ask(a, "PUT a.tar.gz 3"), "OK PUT 3 a.tar.gz");
        // An aborted upload frees its name for the next one.
        assert_eq!(fx.ask(a, "ABORT 1"), "OK ABORT 1");
        assert_eq!(fx.ask(a, "PUT song.mp3 3"), "OK PUT 4 song_1.mp3");

        let mut strict = Fixture::with(|s| s.on_duplicate = OnDuplicate::Reject);
        let b = strict.join(1, "bob");
        strict.file("song.mp3", b"old");
        assert_eq!(
            strict.ask(b, "PUT song.mp3 3"),
            "ERR exists song.mp3 already exists"
        );
    }

    #[test]
    fn an_upload_is_published_whole_then_announced_to_the_others() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        assert_eq!(fx.ask(a, "PUT notes.txt 5"), "OK PUT 1 notes.txt");
        fx.request(
            a,
            Request::Data {
                xfer: 1,
                data: b"hel".to_vec(),
            },
        );
        assert!(
            fx.out.take().is_empty(),
            "DATA gets no reply while all is well"
        );
        assert!(!fx.path("notes.txt").exists(), "not there until whole");
        fx.request(
            a,
            Request::Data {
                xfer: 1,
                data: b"lo".to_vec(),
            },
        );
        assert_eq!(
            fx.out.frames(b),
            [ServerFrame::Shared {
                name: natter_protocol::UserName::new("alice").unwrap(),
                file: natter_protocol::FileName::new("notes.txt").unwrap(),
                size: 5,
            }]
        );
        assert_eq!(fx.lines(a), ["DONE 1 notes.txt 5"]);
        assert_eq!(std::fs::read(fx.path("notes.txt")).unwrap(), b"hello");
        // An empty file is whole at once.
        fx.send(a, "PUT empty 0");
        assert_eq!(fx.lines(a), ["OK PUT 2 empty", "DONE 2 empty 0"]);
    }

    #[test]
    fn bad_upload_data_fails_the_upload_and_leaves_nothing() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.request(
            a,
            Request::Data {
                xfer: 9,
                data: b"x".to_vec(),
            },
        );
        assert_eq!(
            fx.lines(a),
            ["FAILED 9 no-such-transfer no upload 9 is in progress on this connection"]
        );
        fx.send(a, "PUT f.txt 2");
        fx.out.take();
        fx.request(
            a,
            Request::Data {
                xfer: 1,
                data: b"abc".to_vec(),
            },
        );
        assert_eq!(
            fx.lines(a),
            ["FAILED 1 too-large f.txt was declared as 2 bytes; more arrived"]
        );
        let left: Vec<_> = std::fs::read_dir(&fx.dir).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        assert_eq!(fx.ask(a, "PUT f.txt 2"), "OK PUT 2 f.txt");
    }

    #[test]
    fn put_refuses_what_the_server_will_not_take() {
        let mut fx = Fixture::with(|s| s.max_file_size = 10);
        let a = fx.join(1, "alice");
        assert_eq!(
            fx.ask(a, "PUT big.iso 11"),
            "ERR too-large big.iso is 11 bytes; this server takes files up to 10 bytes"
        );
    }

    #[test]
    fn a_read_only_folder_refuses_every_change() {
        let mut fx = Fixture::with(|s| s.read_only = true);
        let a = fx.join(1, "alice");
        fx.file("a.txt", b"x");
        let ro = "ERR read-only this server's shared folder is read-only";
        assert_eq!(fx.ask(a, "PUT b.txt 1"), ro);
        assert_eq!(fx.ask(a, "DELETE a.txt"), ro);
        assert_eq!(fx.ask(a, "RENAME a.txt c.txt"), ro);
        assert!(fx.path("a.txt").exists());
        assert!(fx.ask(a, "GET a.txt").starts_with("OK GET "));
    }

    #[test]
    fn abort_stops_either_kind_and_cleans_up() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("f.bin", b"abc");
        fx.send(a, "GET f.bin");
        fx.send(a, "PUT up.bin 10");
        fx.out.take();
        fx.request(
            a,
            Request::Data {
                xfer: 2,
                data: b"12345".to_vec(),
            },
        );
        fx.send(a, "ABORT 1");
        assert_eq!(
            fx.out.take(),
            [
                Event::DownloadStopped(a, 1),
                Event::Frame(
                    a,
                    ServerFrame::Ok(natter_protocol::Reply::Abort { xfer: 1 })
                ),
            ]
        );
        assert!(fx.out.downloads.is_empty());
        assert_eq!(fx.ask(a, "ABORT 2"), "OK ABORT 2");
        let left: Vec<_> = std::fs::read_dir(&fx.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["f.bin"], "the partial upload is gone");
        assert_eq!(
            fx.ask(a, "ABORT 2"),
            "ERR no-such-transfer no transfer 2 is running on this connection"
        );
    }

    #[test]
    fn delete_and_rename_change_the_folder_or_say_why_not() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.file("a.txt", b"x");
        fx.file("b.txt", b"y");
        assert_eq!(
            fx.ask(a, "RENAME a.txt b.txt"),
            "ERR exists b.txt already exists"
        );
        fx.send(a, "RENAME a.txt c.txt");
        assert_eq!(fx.out.frames(a).len(), 1);
        assert_eq!(
            super::super::recorder::wire(&fx.out.frames(a)[0]),
            "OK RENAME a.txt c.txt"
        );
        assert_eq!(
            fx.lines(b),
            ["RENAMED alice a.txt c.txt"],
            "the others are told"
        );
        assert_eq!(std::fs::read(fx.path("c.txt")).unwrap(), b"x");
        fx.send(a, "DELETE c.txt");
        let told: Vec<String> = fx
            .out
            .frames(b)
            .iter()
            .map(super::super::recorder::wire)
            .collect();
        assert_eq!(told, ["DELETED alice c.txt"]);
        assert_eq!(fx.lines(a), ["OK DELETE c.txt"]);
        assert!(!fx.path("c.txt").exists());
        assert_eq!(
            fx.ask(a, "DELETE c.txt"),
            "ERR no-such-file no file named c.txt is shared"
        );
    }

    #[test]
    fn leaving_abandons_uploads_and_forgets_downloads() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        fx.file("f.bin", b"abc");
        fx.send(a, "GET f.bin");
        fx.send(a, "PUT up.bin 10");
        fx.request(
            a,
            Request::Data {
                xfer: 2,
                data: b"12345".to_vec(),
            },
        );
        fx.out.take();
        fx.room
            .depart(&mut fx.out, a, natter_protocol::LeaveReason::Lost, "");
        let left: Vec<_> = std::fs::read_dir(&fx.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["f.bin"]);
        // A download the loop finishes after the departure is not reported.
        let (_, d) = fx.out.downloads.pop().unwrap();
        fx.room.download_ended(&mut fx.out, a, d, Ok(()));
        assert!(fx.out.take().is_empty());
        let b = fx.join(2, "bob");
        assert_eq!(
            fx.ask(b, "PUT up.bin 1"),
            "OK PUT 3 up.bin",
            "its name is free again"
        );
    }

    #[test]
    fn the_servers_open_file_budget_is_shared_and_given_back() {
        let mut fx = Fixture::with(|s| s.max_open_files = 3);
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.file("f.bin", b"abc");
        fx.send(a, "GET f.bin");
        fx.send(a, "GET f.bin");
        fx.send(b, "PUT up.bin 10");
        fx.out.take();
        let busy =
            "ERR busy natterd is running as many transfers as it can (3); try again in a moment";
        assert_eq!(fx.ask(b, "GET f.bin"), busy);
        assert_eq!(fx.ask(b, "PUT other.bin 1"), busy);
        // A finished download, an abort and a departure each give one back.
        let (_, d) = fx.out.downloads.remove(0);
        fx.room.download_ended(&mut fx.out, a, d, Ok(()));
        fx.out.take();
        assert!(fx.ask(b, "GET f.bin").starts_with("OK GET "));
        assert_eq!(fx.ask(b, "GET f.bin"), busy);
        assert_eq!(fx.ask(b, "ABORT 3"), "OK ABORT 3");
        assert!(fx.ask(b, "PUT small 1").starts_with("OK PUT "));
        fx.room
            .depart(&mut fx.out, a, natter_protocol::LeaveReason::Lost, "");
        fx.out.take();
        assert!(fx.ask(b, "GET f.bin").starts_with("OK GET "));
    }
}
