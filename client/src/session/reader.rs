//! The reader thread: socket -> frames -> session state, files and lines -> a [`Sink`].
//!
//! It owns the connection's read half and is the only reader. Each final reply is
//! matched with the oldest pending request, shown, and handed to the main thread as an
//! [`Outcome`]; what the request prepared (a [`Plan`]) is taken up here, so a download
//! is registered before its first `DATA` is read. `DATA` bodies go straight into
//! their `.part` files; `DONE` and `FAILED` end transfers and are reported as
//! [`Outcome::Transfer`]. Events are shown as they come and keep the known users and
//! files current. When frames stop it says why, once, as [`Outcome::Ended`] and then
//! to the sink. It never writes to the socket itself: an `ABORT` it needs goes through
//! the session, like every request.

use crate::display::{self, group_digits, human_size, io_words, sanitize, Line, Style, View};
use crate::net::wire::{FrameReader, Incoming, ReadError};
use crate::session::transfers::{Download, Plan, Report};
use crate::session::{End, Outcome, Session};
use natter_protocol::{ErrorCode, FileName, Reply, Request, ServerFrame, Time};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Where the reader's lines go: the terminal above the prompt, or stdout and stderr.
pub trait Sink: Send {
    fn show(&mut self, line: Line);

    /// The session ended (not by our own `QUIT`). Called after the main thread was
    /// told through its channel.
    fn ended(&mut self, _end: &End) {}
}

/// `report`: where progress goes (interactive mode); batch mode passes `None` and
/// shows only how each transfer ended.
pub fn spawn<R: Read + Send + 'static>(
    frames: FrameReader<R>,
    session: Arc<Session>,
    sink: Box<dyn Sink>,
    outcomes: Sender<Outcome>,
    style: Style,
    report: Option<Report>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("natter-reader".into())
        .spawn(move || {
            let mut r = Reader {
                session,
                sink,
                outcomes,
                style,
                items: Vec::new(),
                shutdown: None,
                transfers: BTreeMap::new(),
                report,
            };
            let end = r.run(frames);
            r.left_behind();
            r.session.mark_closed();
            let _ = r.outcomes.send(Outcome::Ended(end.clone()));
            if end != End::Quit {
                r.sink.ended(&end);
            }
        })
}

struct Reader {
    session: Arc<Session>,
    sink: Box<dyn Sink>,
    outcomes: Sender<Outcome>,
    style: Style,
    /// Items (`USER`, `FILE`, `SESSION`) of the reply being assembled.
    items: Vec<ServerFrame>,
    /// The text of a `SHUTDOWN`, which explains the close that follows it.
    shutdown: Option<String>,
    /// Transfers running, by id.
    transfers: BTreeMap<u64, Active>,
    report: Option<Report>,
}

/// A transfer the server accepted and has not ended.
enum Active {
    Download {
        d: Download,
        /// A local write failed and an `ABORT` is on its way: later bodies are dropped.
        aborting: bool,
    },
    Upload {
        name: FileName,
    },
}

impl Reader {
    fn run<R: Read>(&mut self, mut frames: FrameReader<R>) -> End {
        let why = loop {
            match frames.next_frame() {
                Ok(Incoming::Frame(f)) => self.frame(f),
                Ok(Incoming::Garbled(e)) => self.sink.show(Line::error(
                    self.style,
                    &format!(
                        "skipped a line from the server that could not be read: {}",
                        display::sanitize(&e.to_string())
                    ),
                )),
                Err(ReadError::Closed) => break "the server closed the connection".to_string(),
                Err(ReadError::Io(e)) => break io_words(&e),
                Err(ReadError::Fatal(e)) => {
                    break format!(
                        "the server sent something unreadable: {}",
                        display::sanitize(&e.to_string())
                    )
                }
            }
        };
        if self.session.is_quitting() {
            End::Quit
        } else if let Some(text) = self.shutdown.take() {
            End::Shutdown(text)
        } else {
            End::Lost(why)
        }
    }

    fn frame(&mut self, f: ServerFrame) {
        match f {
            ServerFrame::User { .. } | ServerFrame::File { .. } | ServerFrame::Session(_) => {
                return self.items.push(f);
            }
            ServerFrame::Ok(_) | ServerFrame::Err { .. } => return self.final_reply(f),
            // Bodies of transfers we do not know (aborted ones) are dropped.
            ServerFrame::Data { xfer, data } => return self.data(xfer, &data),
            ServerFrame::Done { xfer, stored } if self.transfers.contains_key(&xfer) => {
                return self.done(xfer, stored)
            }
            ServerFrame::Failed { xfer, code, text } if self.transfers.contains_key(&xfer) => {
                return self.failed(xfer, &code, &text)
            }
            ServerFrame::Join { ref name } => self.session.joined(name),
            ServerFrame::Leave { ref name, .. } => self.session.left(name),
            ServerFrame::Shared { ref file, .. } => self.session.add_file(file.to_string()),
            ServerFrame::Deleted { ref file, .. } => self.session.remove_file(file.as_str()),
            ServerFrame::Renamed {
                ref old, ref new, ..
            } => {
                self.session.remove_file(old.as_str());
                self.session.add_file(new.to_string());
            }
            ServerFrame::Shutdown { ref text } => self.shutdown = Some(text.clone()),
            _ => {}
        }
        let me = self.session.me();
        let view = self.view(me.as_ref().map(|m| m.as_str()));
        if let Some(line) = display::event(&f, &view) {
            self.sink.show(line);
        }
    }

    fn final_reply(&mut self, f: ServerFrame) {
        let items = std::mem::take(&mut self.items);
        let Some(pending) = self.session.take_pending() else {
            let line = match &f {
                // A server closing us (a registration timeout, say) explains itself
                // with an ERR nobody asked for: show it in words.
                ServerFrame::Err { code, text } => display::error_words(code, text, None),
                other => {
                    let bytes = other.to_bytes();
                    format!(
                        "the server sent a reply nobody asked for: {}",
                        sanitize(String::from_utf8_lossy(&bytes).trim_end())
                    )
                }
            };
            return self.sink.show(Line::error(self.style, &line));
        };
        let result = match &f {
            ServerFrame::Ok(reply) => Ok(reply.clone()),
            ServerFrame::Err { code, text } => Err((code.clone(), text.clone())),
            _ => return,
        };
        if let Ok(reply) = &result {
            self.update_names(reply, &items);
        }
        // What the plan says replaces the usual words; `None` keeps them.
        let planned = pending.plan.and_then(|p| self.take_up(p, &result));
        if !pending.quiet || planned.is_some() {
            let lines = planned.unwrap_or_else(|| {
                let me = self.session.me();
                let view = self.view(me.as_ref().map(|m| m.as_str()));
                let rtt = pending.sent_at.elapsed();
                display::reply(&pending.req, &items, &f, rtt, &view)
            });
            for line in lines {
                self.sink.show(line);
            }
        }
        let _ = self.outcomes.send(Outcome::Reply {
            id: pending.id,
            req: pending.req,
            result,
        });
    }

    /// Sets going what a request prepared, now that its reply is here. `Some` is the
    /// lines to show instead of the reply's usual words.
    fn take_up(
        &mut self,
        plan: Plan,
        result: &Result<Reply, (ErrorCode, String)>,
    ) -> Option<Vec<Line>> {
        let s = self.style;
        match (plan, result) {
            (Plan::Download(p), Ok(Reply::Get { xfer, size, .. })) => {
                let (xfer, size) = (*xfer, *size);
                let d = p.start(xfer, size, Instant::now());
                let file = sanitize(d.file().as_str()).into_owned();
                let what = format!("downloading {file}");
                self.session.transfer_started(xfer, what.clone());
                let text = match d.resumed_from() {
                    0 => format!("{what} ({})", human_size(size)),
                    from => format!(
                        "resuming {file} at {} of {}",
                        human_size(from),
                        human_size(size)
                    ),
                };
                self.transfers
                    .insert(xfer, Active::Download { d, aborting: false });
                // Batch mode shows only how a transfer ended.
                Some(match self.report {
                    Some(_) => vec![Line::info(s, &text)],
                    None => Vec::new(),
                })
            }
            (Plan::Download(p), Err((ErrorCode::BadOffset, _))) if p.offset > 0 => {
                let text = format!(
                    "{} ({} bytes) is longer than {} on the server: it is left from another version of the file; delete it and /get again",
                    p.part.display(),
                    group_digits(p.offset),
                    sanitize(p.file.as_str())
                );
                p.refused();
                Some(vec![Line::error(s, &text)])
            }
            (Plan::Download(p), _) => {
                p.refused();
                None
            }
            (Plan::Upload(p), Ok(Reply::Put { xfer, stored_as })) => {
                let xfer = *xfer;
                let (local, size) = (p.local.display().to_string(), p.size);
                let mut text = format!("uploading {local} ({})", human_size(size));
                if stored_as != &p.name {
                    text.push_str(&format!(
                        " as {} ({} is taken)",
                        sanitize(stored_as.as_str()),
                        sanitize(p.name.as_str())
                    ));
                }
                self.session
                    .transfer_started(xfer, format!("uploading {local}"));
                let up = p.start(xfer, stored_as.clone(), self.report.clone(), Instant::now());
                self.transfers.insert(
                    xfer,
                    Active::Upload {
                        name: stored_as.clone(),
                    },
                );
                self.session.start_upload(up);
                Some(match self.report {
                    Some(_) => vec![Line::info(s, &text)],
                    None => Vec::new(),
                })
            }
            (Plan::Upload(_), _) => None,
            (Plan::Abort { xfer, why }, _) => {
                // Already ended by a FAILED that crossed our ABORT: nothing to add.
                self.transfers.remove(&xfer)?;
                self.end_transfer(xfer, false);
                Some(vec![Line::error(s, &sanitize(&why))])
            }
        }
    }

    fn data(&mut self, xfer: u64, data: &[u8]) {
        let Some(Active::Download { d, aborting }) = self.transfers.get_mut(&xfer) else {
            return;
        };
        if *aborting {
            return;
        }
        match d.write(data, Instant::now()) {
            Ok(None) => {}
            Ok(Some(progress)) => {
                if let Some(report) = &self.report {
                    report(progress);
                }
            }
            Err(why) => {
                *aborting = true;
                let why = format!(
                    "{why}; the download of {} stopped and {} is kept: free some space and /get {} to resume",
                    d.file(),
                    d.part().display(),
                    d.file()
                );
                self.session.send_with(
                    Request::Abort { xfer },
                    true,
                    Some(Plan::Abort { xfer, why }),
                );
            }
        }
    }

    fn done(&mut self, xfer: u64, stored: Option<(FileName, u64)>) {
        let s = self.style;
        let (line, ok) = match self.transfers.remove(&xfer) {
            Some(Active::Download { d, .. }) => match d.finish() {
                Ok((path, size)) => (
                    Line::info(
                        s,
                        &format!("Saved {} ({} bytes)", path.display(), group_digits(size)),
                    ),
                    true,
                ),
                Err(why) => (Line::error(s, &sanitize(&why)), false),
            },
            Some(Active::Upload { name }) => {
                let (name, size) = match stored {
                    Some((n, size)) => (n, Some(size)),
                    None => (name, None),
                };
                self.session.add_file(name.to_string());
                let size = size.map_or(String::new(), |n| format!(" ({} bytes)", group_digits(n)));
                (
                    Line::info(s, &format!("Uploaded as {}{size}", sanitize(name.as_str()))),
                    true,
                )
            }
            None => return,
        };
        self.sink.show(line);
        self.end_transfer(xfer, ok);
    }

    fn failed(&mut self, xfer: u64, code: &ErrorCode, text: &str) {
        let words = display::error_words(code, text, None);
        let line = match self.transfers.remove(&xfer) {
            Some(Active::Download { d, .. }) => format!(
                "the download of {} failed: {words}; {} is kept: /get {} resumes it",
                sanitize(d.file().as_str()),
                d.part().display(),
                sanitize(d.file().as_str())
            ),
            Some(Active::Upload { name }) => {
                self.session.cancel_upload(xfer);
                format!("the upload of {} failed: {words}", sanitize(name.as_str()))
            }
            None => return,
        };
        self.sink.show(Line::error(self.style, &line));
        self.end_transfer(xfer, false);
    }

    fn end_transfer(&mut self, xfer: u64, ok: bool) {
        self.session.transfer_ended(xfer);
        let _ = self.outcomes.send(Outcome::Transfer { xfer, ok });
    }

    /// The connection ended with transfers running: say what is kept.
    fn left_behind(&mut self) {
        for (_, active) in std::mem::take(&mut self.transfers) {
            let text = match active {
                Active::Download { d, .. } => format!(
                    "the download of {} stopped; {} is kept: /get {} resumes it",
                    sanitize(d.file().as_str()),
                    d.part().display(),
                    sanitize(d.file().as_str())
                ),
                Active::Upload { name } => format!(
                    "the upload of {} stopped; the server keeps nothing of it",
                    sanitize(name.as_str())
                ),
            };
            self.sink.show(Line::error(self.style, &text));
        }
    }

    fn update_names(&self, reply: &Reply, items: &[ServerFrame]) {
        match reply {
            Reply::Hello { name } => self.session.set_me(name.clone()),
            Reply::Who { .. } => self.session.set_users(items.iter().filter_map(|i| match i {
                ServerFrame::User { name, .. } => Some(name.clone()),
                _ => None,
            })),
            Reply::Files { .. } => self.session.set_files(items.iter().filter_map(|i| match i {
                ServerFrame::File { file, .. } => Some(file.to_string()),
                _ => None,
            })),
            Reply::Delete { file } => self.session.remove_file(file.as_str()),
            Reply::Rename { old, new } => {
                self.session.remove_file(old.as_str());
                self.session.add_file(new.to_string());
            }
            _ => {}
        }
    }

    fn view<'a>(&self, me: Option<&'a str>) -> View<'a> {
        let now = Time::now();
        View {
            me,
            hm: display::local_hm(now),
            now,
            utc_offset: display::utc_offset(now),
            style: self.style,
        }
    }
}
