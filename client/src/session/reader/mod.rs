//! The reader thread: socket -> frames -> session state, files and lines -> a [`Sink`].
//!
//! It owns the connection's read half and is the only reader. Each final reply is
//! matched with the oldest pending request, shown, and handed to the main thread as an
//! [`Outcome`]; what the request prepared (a `Plan`) is taken up in `jobs`, so a
//! download is registered before its first `DATA` is read. Events are shown as they
//! come and keep the known users and files current (and what the last `FILES` said
//! about each file, which downloads are checked against). When frames stop it says
//! why, once, as [`Outcome::Ended`] and then to the sink. It never writes to the
//! socket itself: a request it needs (`ABORT`, a `GET` that starts over, the `FILES`
//! that verifies a download) goes through the session, like every request.
//!
//! - this file: the loop, frames, replies and names.
//! - `jobs`: transfers: replies to `GET` and `PUT`, `DATA`, `DONE`, `FAILED`, and what
//!   a connection that ends leaves behind.

mod jobs;

use crate::display::{self, io_words, sanitize, Line, Style, View};
use crate::net::wire::{FrameReader, Incoming, ReadError};
use crate::session::download::{Download, Listed};
use crate::session::transfers::Report;
use crate::session::{End, Outcome, Session};
use natter_protocol::{FileName, Reply, ServerFrame, Time};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::thread::JoinHandle;

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
                verifying: BTreeMap::new(),
                listing: HashMap::new(),
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
    /// Downloads whose bytes all arrived, waiting for their verifying `FILES`, by
    /// job: the file and its `.part`, for a connection that ends first.
    verifying: BTreeMap<u64, (FileName, std::path::PathBuf)>,
    /// What the last `FILES` listing said about each file.
    listing: HashMap<String, Listed>,
    report: Option<Report>,
}

/// A transfer the server accepted and has not ended.
enum Active {
    Download { d: Box<Download> },
    Upload { name: FileName, job: u64 },
}

impl Reader {
    fn run<R: Read>(&mut self, mut frames: FrameReader<R>) -> End {
        let why = loop {
            match frames.next_frame() {
                Ok(Incoming::Frame(f)) => self.frame(f),
                Ok(Incoming::Garbled { error, reply: true }) => {
                    // It answers the oldest request, but how cannot be known (a
                    // transfer the server started has an id natter never read), and
                    // skipping it would match every later reply with the wrong
                    // request, or wait for one forever.
                    if let Some(pending) = self.session.take_pending() {
                        self.unanswered(pending.plan);
                    }
                    break format!(
                        "the server sent a reply that could not be read: {}",
                        display::sanitize(&error.to_string())
                    );
                }
                Ok(Incoming::Garbled {
                    error,
                    reply: false,
                }) => self.sink.show(Line::error(
                    self.style,
                    &format!(
                        "skipped a line from the server that could not be read: {}",
                        display::sanitize(&error.to_string())
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
            // The end of a transfer we no longer know (we aborted it) is not news:
            // its id means nothing to the user.
            ServerFrame::Done { xfer, .. } | ServerFrame::Failed { xfer, .. }
                if !self.transfers.contains_key(&xfer) =>
            {
                return
            }
            ServerFrame::Done { xfer, stored } => return self.done(xfer, stored),
            ServerFrame::Failed { xfer, code, text } => return self.failed(xfer, &code, &text),
            ServerFrame::Join { ref name } => self.session.joined(name),
            ServerFrame::Leave { ref name, .. } => self.session.left(name),
            ServerFrame::Away { ref name, .. } => self.session.set_away(name, true),
            ServerFrame::Back { ref name } => self.session.set_away(name, false),
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

    fn update_names(&mut self, reply: &Reply, items: &[ServerFrame]) {
        match reply {
            Reply::Hello { name } => self.session.set_me(name.clone()),
            Reply::Who { .. } => {
                self.session.set_users(items.iter().filter_map(|i| match i {
                    ServerFrame::User { name, .. } => Some(name.clone()),
                    _ => None,
                }));
                for i in items {
                    if let ServerFrame::User { name, away, .. } = i {
                        self.session.set_away(name, away.is_some());
                    }
                }
            }
            Reply::Tell { name, away } => self.session.set_away(name, away.is_some()),
            Reply::Files { .. } => {
                self.listing.clear();
                for i in items {
                    if let ServerFrame::File {
                        file,
                        size,
                        mtime,
                        sha256,
                    } = i
                    {
                        let listed = Listed {
                            size: *size,
                            mtime: *mtime,
                            sha256: *sha256,
                        };
                        self.listing.insert(file.to_string(), listed);
                    }
                }
                self.session.set_files(items.iter().filter_map(|i| match i {
                    ServerFrame::File { file, .. } => Some(file.to_string()),
                    _ => None,
                }))
            }
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
