//! The reader thread: socket -> frames -> session state and lines -> a [`Sink`].
//!
//! It owns the socket's read half and is the only reader. Each final reply is matched
//! with the oldest pending request, shown, and handed to the main thread as an
//! [`Outcome`]; events are shown as they come and keep the known users and files
//! current. When frames stop it says why, once, as [`Outcome::Ended`] and then to the
//! sink. It never writes to the socket.

use crate::connect::io_words;
use crate::display::{self, Line, Style, View};
use crate::session::{End, Outcome, Session};
use crate::wire::{FrameReader, Incoming, ReadError};
use natter_protocol::{ServerFrame, Time};
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

pub fn spawn<R: Read + Send + 'static>(
    frames: FrameReader<R>,
    session: Arc<Session>,
    sink: Box<dyn Sink>,
    outcomes: Sender<Outcome>,
    style: Style,
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
            };
            let end = r.run(frames);
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
        match &f {
            ServerFrame::User { .. } | ServerFrame::File { .. } | ServerFrame::Session(_) => {
                self.items.push(f);
                return;
            }
            ServerFrame::Ok(_) | ServerFrame::Err { .. } => return self.final_reply(f),
            ServerFrame::Join { name } => self.session.joined(name),
            ServerFrame::Leave { name, .. } => self.session.left(name),
            ServerFrame::Shared { file, .. } => self.session.add_file(file.to_string()),
            ServerFrame::Shutdown { text } => self.shutdown = Some(text.clone()),
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
            let bytes = f.to_bytes();
            let shown = String::from_utf8_lossy(&bytes);
            self.sink.show(Line::error(
                self.style,
                &format!(
                    "the server sent a reply nobody asked for: {}",
                    display::sanitize(shown.trim_end())
                ),
            ));
            return;
        };
        let result = match &f {
            ServerFrame::Ok(reply) => Ok(reply.clone()),
            ServerFrame::Err { code, text } => Err((code.clone(), text.clone())),
            _ => return,
        };
        if let Ok(reply) = &result {
            self.update_names(reply, &items);
        }
        if !pending.quiet {
            let me = self.session.me();
            let view = self.view(me.as_ref().map(|m| m.as_str()));
            let rtt = pending.sent_at.elapsed();
            if let Some(line) = display::reply(&pending.req, &items, &f, rtt, &view) {
                self.sink.show(line);
            }
        }
        let _ = self.outcomes.send(Outcome::Reply {
            id: pending.id,
            req: pending.req,
            result,
        });
    }

    fn update_names(&self, reply: &natter_protocol::Reply, items: &[ServerFrame]) {
        use natter_protocol::Reply;
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
            _ => {}
        }
    }

    fn view<'a>(&self, me: Option<&'a str>) -> View<'a> {
        View {
            me,
            hm: display::local_hm(Time::now()),
            style: self.style,
        }
    }
}
