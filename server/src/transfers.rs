//! The shared-folder requests (FILES, GET, PUT, DATA, ABORT, DELETE, RENAME) and the
//! download pump. Downloads are pulled by the socket: the loop asks for the next
//! chunk only while a connection's queue is below the low-water mark, so a transfer
//! holds about one chunk of memory whatever the file's size.

use crate::event_loop::Server;
use crate::files::{FileError, FileSend};
use natter_protocol::{ErrorCode, FileName, Reply, ServerFrame};

/// Transfers one connection may run at once, either way.
pub const MAX_TRANSFERS: usize = 4;

impl Server {
    fn user_label(&self, t: usize) -> String {
        self.conns
            .get(t)
            .and_then(|c| c.name.as_ref().map(|n| n.to_string()))
            .unwrap_or_else(|| format!("client {t}"))
    }

    fn refuse(&mut self, t: usize, e: FileError) {
        self.error(t, e.code, &e.text);
    }

    fn transfers_full(&mut self, t: usize) -> bool {
        let busy = self
            .conns
            .get(t)
            .is_some_and(|c| c.transfers() >= MAX_TRANSFERS);
        if busy {
            let text = format!(
                "at most {MAX_TRANSFERS} transfers at once; wait for one to finish or ABORT it"
            );
            self.error(t, ErrorCode::Busy, &text);
        }
        busy
    }

    fn refuse_if_read_only(&mut self, t: usize) -> bool {
        if self.config.read_only {
            self.error(
                t,
                ErrorCode::ReadOnly,
                "this server's shared folder is read-only",
            );
        }
        self.config.read_only
    }

    pub(crate) fn files(&mut self, t: usize) {
        match self.folder.list() {
            Ok(files) => {
                let count = files.len() as u64;
                let items: Vec<ServerFrame> = files
                    .into_iter()
                    .map(|(file, size, mtime)| ServerFrame::File { file, size, mtime })
                    .collect();
                self.send_listing(t, &items, &ServerFrame::Ok(Reply::Files { count }));
            }
            Err(e) => {
                log::error!("cannot list the shared folder: {e}");
                self.error(
                    t,
                    ErrorCode::Internal,
                    "the shared folder cannot be read right now",
                );
            }
        }
    }

    pub(crate) fn get(&mut self, t: usize, file: FileName, offset: Option<u64>) {
        if self.transfers_full(t) {
            return;
        }
        let offset = offset.unwrap_or(0);
        let (handle, size) = match self.folder.open_download(&file, offset) {
            Ok(x) => x,
            Err(e) => return self.refuse(t, e),
        };
        let xfer = self.next_xfer;
        self.next_xfer += 1;
        log::info!(
            "{} downloads {file} ({size} bytes, from {offset})",
            self.user_label(t)
        );
        self.reply(
            t,
            Reply::Get {
                xfer,
                file: file.clone(),
                size,
            },
        );
        if let Some(c) = self.conns.get_mut(t) {
            c.downloads.push(FileSend {
                xfer,
                name: file,
                file: handle,
                size,
                pos: offset,
                started_at: offset,
            });
        }
        self.mark_dirty(t);
    }

    /// Queues download chunks while the queue is below the low-water mark; returns
    /// how many bytes it queued.
    pub(crate) fn fill_downloads(&mut self, t: usize, budget: &mut usize) -> usize {
        let mut queued = 0;
        let mut finished = Vec::new();
        let mut failed = Vec::new();
        {
            let Some(c) = self.conns.get_mut(t) else {
                return 0;
            };
            while *budget > 0
                && c.out.len() < crate::event_loop::LOW_WATER
                && !c.downloads.is_empty()
            {
                // Round robin: one chunk from the front transfer, then it goes to the back.
                let mut d = c.downloads.remove(0);
                let mut err = None;
                let n = c.out.push_with(|v| {
                    if let Err(e) = d.next_frame(v) {
                        err = Some(e);
                    }
                });
                *budget = budget.saturating_sub(n);
                queued += n;
                if let Some(e) = err {
                    failed.push((d, e));
                } else if d.is_done() {
                    finished.push(d);
                } else {
                    c.downloads.push(d);
                }
            }
        }
        let user = self.user_label(t);
        for d in finished {
            log::info!(
                "{user} finished downloading {} ({} bytes)",
                d.name,
                d.pos - d.started_at
            );
            self.send(
                t,
                &ServerFrame::Done {
                    xfer: d.xfer,
                    stored: None,
                },
            );
        }
        for (d, e) in failed {
            log::warn!(
                "{user}: download of {} failed at {} of {}: {e}",
                d.name,
                d.pos,
                d.size
            );
            let text = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                format!("{} got shorter while it was being sent", d.name)
            } else {
                format!("cannot read {}: {}", d.name, crate::files::describe(&e))
            };
            self.send(
                t,
                &ServerFrame::Failed {
                    xfer: d.xfer,
                    code: ErrorCode::NoSuchFile,
                    text,
                },
            );
        }
        queued
    }

    pub(crate) fn put(&mut self, t: usize, file: FileName, size: u64) {
        if self.refuse_if_read_only(t) || self.transfers_full(t) {
            return;
        }
        if size > self.config.max_file_size {
            let text = format!(
                "{file} is {size} bytes; this server takes files up to {} bytes",
                self.config.max_file_size
            );
            return self.error(t, ErrorCode::TooLarge, &text);
        }
        if let Some(free) = self.folder.free_space() {
            if size > free {
                let text = format!("{file} is {size} bytes but only {free} bytes are free");
                return self.error(t, ErrorCode::NoSpace, &text);
            }
        }
        let stored_as = match self.folder.reserve(&file, self.config.on_duplicate) {
            Ok(n) => n,
            Err(e) => return self.refuse(t, e),
        };
        let xfer = self.next_xfer;
        self.next_xfer += 1;
        let upload = match self.folder.start_upload(xfer, stored_as.clone(), size) {
            Ok(u) => u,
            Err(e) => {
                self.folder.release(&stored_as);
                log::error!("cannot start an upload: {}", e.text);
                return self.refuse(t, e);
            }
        };
        log::info!("{} uploads {stored_as} ({size} bytes)", self.user_label(t));
        self.reply(t, Reply::Put { xfer, stored_as });
        if let Some(c) = self.conns.get_mut(t) {
            c.uploads.push(upload);
        }
        if size == 0 {
            self.finish_upload(t, xfer);
        }
    }

    pub(crate) fn data(&mut self, t: usize, xfer: u64, data: &[u8]) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        let Some(i) = c.uploads.iter().position(|u| u.xfer == xfer) else {
            let frame = ServerFrame::Failed {
                xfer,
                code: ErrorCode::NoSuchTransfer,
                text: format!("no upload {xfer} is in progress on this connection"),
            };
            return self.send(t, &frame);
        };
        match c.uploads[i].write(data) {
            Ok(()) if c.uploads[i].is_whole() => self.finish_upload(t, xfer),
            Ok(()) => {}
            Err(e) => {
                let up = c.uploads.remove(i);
                self.folder.release(&up.stored_as);
                log::warn!(
                    "{}: upload of {} failed: {}",
                    self.user_label(t),
                    up.stored_as,
                    e.text
                );
                drop(up);
                self.send(
                    t,
                    &ServerFrame::Failed {
                        xfer,
                        code: e.code,
                        text: e.text,
                    },
                );
            }
        }
    }

    fn finish_upload(&mut self, t: usize, xfer: u64) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        let Some(i) = c.uploads.iter().position(|u| u.xfer == xfer) else {
            return;
        };
        let mut up = c.uploads.remove(i);
        match self.folder.finish_upload(&mut up, self.config.on_duplicate) {
            Ok(name) => {
                let size = up.size;
                let Some(user) = self.conns.get(t).and_then(|c| c.name.clone()) else {
                    return;
                };
                log::info!("{user} uploaded {name} ({size} bytes)");
                self.send(
                    t,
                    &ServerFrame::Done {
                        xfer,
                        stored: Some((name.clone(), size)),
                    },
                );
                self.broadcast(
                    &ServerFrame::Shared {
                        name: user,
                        file: name,
                        size,
                    },
                    Some(t),
                );
            }
            Err(e) => {
                self.folder.release(&up.stored_as);
                log::warn!(
                    "{}: cannot publish {}: {}",
                    self.user_label(t),
                    up.stored_as,
                    e.text
                );
                self.send(
                    t,
                    &ServerFrame::Failed {
                        xfer,
                        code: e.code,
                        text: e.text,
                    },
                );
            }
        }
    }

    pub(crate) fn abort(&mut self, t: usize, xfer: u64) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if let Some(i) = c.downloads.iter().position(|d| d.xfer == xfer) {
            let d = c.downloads.remove(i);
            log::info!(
                "{} aborted the download of {} at {} of {} bytes",
                self.user_label(t),
                d.name,
                d.pos,
                d.size
            );
        } else if let Some(i) = c.uploads.iter().position(|u| u.xfer == xfer) {
            let up = c.uploads.remove(i);
            self.folder.release(&up.stored_as);
            log::info!(
                "{} aborted the upload of {} at {} of {} bytes",
                self.user_label(t),
                up.stored_as,
                up.received,
                up.size
            );
        } else {
            let text = format!("no transfer {xfer} is running on this connection");
            return self.error(t, ErrorCode::NoSuchTransfer, &text);
        }
        self.reply(t, Reply::Abort { xfer });
    }

    pub(crate) fn delete(&mut self, t: usize, file: FileName) {
        if self.refuse_if_read_only(t) {
            return;
        }
        match self.folder.delete(&file) {
            Ok(size) => {
                log::info!("{} deleted {file} ({size} bytes)", self.user_label(t));
                self.reply(t, Reply::Delete { file });
            }
            Err(e) => self.refuse(t, e),
        }
    }

    pub(crate) fn rename(&mut self, t: usize, old: FileName, new: FileName) {
        if self.refuse_if_read_only(t) {
            return;
        }
        match self.folder.rename(&old, &new) {
            Ok(size) => {
                log::info!(
                    "{} renamed {old} to {new} ({size} bytes)",
                    self.user_label(t)
                );
                self.reply(t, Reply::Rename { old, new });
            }
            Err(e) => self.refuse(t, e),
        }
    }
}
