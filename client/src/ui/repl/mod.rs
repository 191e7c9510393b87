//! Interactive mode: the rustyline editor on the main thread, with completion, usage
//! hints, a persisted history, and the chat mode that the prompt shows.
//!
//! The main thread reads lines and sends requests without waiting for their replies;
//! the reader thread shows replies and events as they come (through [`Screen`]). The
//! main thread waits only while logging in and quitting.
//!
//! Transfers run in the background: `/get` and `/put` return to the prompt at once,
//! and progress is a bar per transfer that the screen keeps just above the prompt
//! and redraws in place (see `terminal`), so the half-typed line is never garbled
//! and the scrollback holds no trail of progress lines. The README says why.
//!
//! - this file: [`run`], the loop that reads a line and does what it says, and the
//!   printer thread that carries the reader's lines to the screen.
//! - `editor`: the rustyline set-up: configuration, completion, hints, the prompt's
//!   colour, the history file.
//! - `keys`: the keys natter handles itself so that nothing typed or pasted is lost:
//!   a bracketed paste (each line goes out as typed), Ctrl-C and Ctrl-D.
//! - `login`: `AUTH` and `HELLO`, asking again for a secret or a name.

mod editor;
mod keys;
mod login;

pub use editor::{default_history_file, HISTORY_SIZE};

use crate::display::{sanitize, Line, Style};
use crate::exit::Exit;
use crate::net::transport::ReadHalf;
use crate::net::wire::FrameReader;
use crate::session::download::DownloadPlan;
use crate::session::reader::{self, Sink};
use crate::session::transfers::Report;
use crate::session::{call, End, Outcome, Session};
use crate::ui::commands::{self, Command, Mode, COMMANDS};
use crate::ui::secret::Given;
use crate::ui::terminal::Screen;
use editor::{ChatEditor, Printer};
use keys::{Ending, Keys};
use natter_protocol::Request;
use rustyline::error::ReadlineError;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

/// How long `/quit` waits for `OK QUIT` before leaving anyway.
const QUIT_WAIT: Duration = Duration::from_secs(3);

/// What interactive mode needs from the command line.
pub struct Options {
    pub name: String,
    pub style: Style,
    /// `None`: no history file (none could be chosen).
    pub history_file: Option<PathBuf>,
    /// Where downloads go; `None`: `./<name>/` for the name the server accepted.
    pub download_dir: Option<PathBuf>,
    /// A download replaces a local file of the same name.
    pub overwrite: bool,
}

/// The editor could not be set up on this terminal; the caller falls back to batch
/// mode, which needs neither raw mode nor an external printer.
pub struct NoEditor(pub String);

/// The editor could not start: the reason, and what batch mode needs to go on
/// (boxed: the frame reader's buffer is large, and this is the rare path).
pub type Fallback = Box<(NoEditor, FrameReader<ReadHalf>, Option<Given>)>;

/// Runs an interactive session on a greeted connection until the user quits or the
/// connection ends; `secret`, if given, goes with `AUTH` before `HELLO`. Returns the
/// exit status, unless the editor cannot run here.
pub fn run(
    session: Arc<Session>,
    frames: FrameReader<ReadHalf>,
    opts: Options,
    secret: Option<Given>,
) -> Result<Exit, Fallback> {
    // Before the editor exists: these are the settings to restore if we must leave
    // from the reader thread.
    let screen = Arc::new(Screen::new());
    let restore = Restore(screen.clone());
    let (mut editor, printer, keys) = match editor::make(opts.style, &screen, &session) {
        Ok(e) => e,
        Err(why) => return Err(Box::new((NoEditor(why), frames, secret))),
    };
    let (tx, outcomes) = mpsc::channel();
    let sink = Box::new(TerminalSink {
        screen: screen.clone(),
        style: opts.style,
        target: session.target.clone(),
    });
    // Progress is drawn as bars by the screen (names from the server are made
    // harmless where the progress is counted).
    let report: Report = screen.clone();
    let started = spawn_printer(screen.clone(), printer)
        .and_then(|()| reader::spawn(frames, session.clone(), sink, tx, opts.style, Some(report)));
    if let Err(e) = started {
        eprintln!("natter: cannot start a thread: {e}");
        return Ok(Exit::ConnectFailed);
    }
    let history_file = opts
        .history_file
        .as_deref()
        .and_then(|p| editor::load_history(&mut editor, p, &screen, opts.style));
    let mut repl = Repl {
        editor,
        keys,
        screen,
        session,
        outcomes,
        style: opts.style,
        mode: Mode::Everyone,
        history_file,
        download_dir: opts.download_dir,
        overwrite: opts.overwrite,
        quit_warned: false,
        cancel_offered: false,
    };
    let exit = repl.run(opts.name, secret);
    drop(repl);
    drop(restore);
    Ok(exit)
}

/// Puts the terminal back however `run` ends, a panic included.
struct Restore(Arc<Screen>);

impl Drop for Restore {
    fn drop(&mut self) {
        self.0.restore();
    }
}

/// Queues the reader's lines for the printer thread (see [`Screen`]).
struct TerminalSink {
    screen: Arc<Screen>,
    style: Style,
    target: String,
}

impl Sink for TerminalSink {
    fn show(&mut self, line: Line) {
        self.screen.push(line.text);
    }

    fn ended(&mut self, end: &End) {
        let goodbye = Line::error(self.style, &end.message(&self.target)).text;
        self.screen.session_ended(goodbye, end.exit());
    }
}

/// Hands queued lines to rustyline's printer, one at a time, as [`Screen`] allows.
fn spawn_printer(screen: Arc<Screen>, mut printer: Printer) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("natter-printer".into())
        .spawn(move || loop {
            let line = screen.next_to_print();
            let _ = printer.print(format!("{line}\n"));
        })
        .map(|_| ())
}

/// Plain text (or `//text`), which goes where the mode says, not a command.
fn is_plain(line: &str) -> bool {
    !line.starts_with('/') || line.starts_with("//")
}

/// What to do after one input line.
///
/// A line that fails is never put back at the prompt: keys typed after it would be
/// appended to it unseen (`/msg` Enter `hello` became `/msghello`). It is in the
/// history, as every line is, so Up brings it back, as for a line the server refused.
enum Flow {
    Next,
    Quit(String),
}

struct Repl {
    editor: ChatEditor,
    /// How the last line was ended, when by Ctrl-C or Ctrl-D.
    keys: Arc<Keys>,
    screen: Arc<Screen>,
    session: Arc<Session>,
    outcomes: Receiver<Outcome>,
    style: Style,
    mode: Mode,
    history_file: Option<PathBuf>,
    download_dir: Option<PathBuf>,
    overwrite: bool,
    /// The user was told that leaving stops transfers; the next quit leaves.
    quit_warned: bool,
    /// Ctrl-C on an empty line offered to cancel the running transfers; a second one
    /// right after does.
    cancel_offered: bool,
}

/// How one `readline` ended.
enum Input {
    Line(String),
    /// Ctrl-C: the line is dropped; `true` when it was empty.
    Cleared(bool),
    /// Ctrl-D on an empty line.
    Done,
    /// The session ended while editing or before.
    Ended(String, Exit),
}

impl Repl {
    fn run(&mut self, name: String, secret: Option<Given>) -> Exit {
        let me = match self.login(name, secret) {
            Ok(me) => me,
            Err(exit) => return exit,
        };
        // The names for completion; the replies are not shown.
        self.session.send(Request::Who, true);
        self.session.send(Request::Files, true);
        self.session.spawn_keepalive();
        loop {
            let prompt = self
                .mode
                .prompt(me.as_str(), self.partner_gone(), self.partner_away());
            let line = match self.read(&prompt) {
                Input::Line(l) => {
                    self.cancel_offered = false;
                    l
                }
                Input::Cleared(empty) => {
                    self.interrupted(empty);
                    continue;
                }
                Input::Done if self.may_leave() => return self.quit(String::new()),
                Input::Done => continue,
                Input::Ended(goodbye, exit) => return self.finish(&goodbye, exit),
            };
            self.remember(&line);
            // Each line of a paste comes as a line of its own (see `keys`); a line
            // break can still come in one, with Ctrl-V Ctrl-J, and splits it.
            for part in line.split('\n') {
                match self.handle(part) {
                    Flow::Next => self.quit_warned = false,
                    Flow::Quit(text) if self.may_leave() => return self.quit(text),
                    Flow::Quit(_) => {}
                }
            }
        }
    }

    /// Ctrl-C on an empty line, as curl and croc stop on Ctrl-C: with transfers
    /// running, the first offers to cancel them, a second right after cancels them.
    /// On a line being typed it only clears the line.
    fn interrupted(&mut self, empty: bool) {
        let running = self.session.running();
        if !empty || running.is_empty() {
            self.cancel_offered = false;
            return;
        }
        if self.cancel_offered {
            self.cancel_offered = false;
            if let Err(why) = self.session.cancel(None) {
                self.screen
                    .print([Line::error(self.style, &sanitize(&why))]);
            }
            return;
        }
        self.cancel_offered = true;
        let uploads = running.iter().filter(|r| r.upload).count();
        let kept = match (uploads, running.len() - uploads) {
            (0, _) => "a download keeps its .part, and /get resumes it",
            (_, 0) => "the server keeps nothing of an upload",
            _ => "a download keeps its .part, and /get resumes it; the server keeps nothing of an upload",
        };
        let what: Vec<&str> = running.iter().map(|r| r.what.as_str()).collect();
        self.screen.print([Line::error(
            self.style,
            &format!(
                "Ctrl-C again to cancel {} ({kept}); anything else keeps it going",
                sanitize(&what.join(", "))
            ),
        )]);
    }

    /// Leaving stops running transfers: the first time, say so and stay.
    fn may_leave(&mut self) -> bool {
        let running = self.session.transfers();
        if running.is_empty() || self.quit_warned {
            return true;
        }
        self.quit_warned = true;
        let then = if running.iter().any(|r| r.starts_with("uploading")) {
            "an upload starts over"
        } else {
            "/get resumes a download"
        };
        self.screen.print([Line::error(
            self.style,
            &format!(
                "still {}; quit again to leave anyway ({then}), or /cancel to stop it and stay",
                sanitize(&running.join(", "))
            ),
        )]);
        false
    }

    /// One `readline`, with the screen bookkeeping around it.
    fn read(&mut self, prompt: &str) -> Input {
        while let Ok(o) = self.outcomes.try_recv() {
            if let Outcome::Ended(end) = o {
                let goodbye = Line::error(self.style, &end.message(&self.session.target));
                return Input::Ended(goodbye.text, end.exit());
            }
        }
        if let Err((goodbye, exit)) = self.screen.begin_edit() {
            return Input::Ended(goodbye, exit);
        }
        let r = self.editor.readline(prompt);
        let (clean, last_drawn) = self.screen.end_edit();
        // Ctrl-C and Ctrl-D accept the line so that rustyline keeps what was typed
        // after them (see `keys`); here they become what they mean.
        let r = match (r, self.keys.take_ending()) {
            (Ok(_), Some(Ending::Interrupted)) => Err(ReadlineError::Interrupted),
            (Ok(_), Some(Ending::EndOfFile)) => Err(ReadlineError::Eof),
            (r, _) => r,
        };
        match r {
            Ok(line) => {
                if clean {
                    self.screen.erase_echo(prompt, &line);
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => {
                if clean {
                    self.screen.erase_echo(prompt, &last_drawn);
                }
                Input::Cleared(last_drawn.is_empty())
            }
            Err(ReadlineError::Eof) => {
                // The prompt stays on screen otherwise; after a warning that running
                // transfers keep us here, it would be a stray line.
                if clean {
                    self.screen.erase_echo(prompt, &last_drawn);
                }
                Input::Done
            }
            Err(e) => {
                self.screen.print([Line::error(
                    self.style,
                    &format!("cannot read from the terminal: {e}"),
                )]);
                Input::Done
            }
        }
    }

    fn handle(&mut self, line: &str) -> Flow {
        let command = match commands::parse_line(line, &self.mode) {
            Ok(Some(c)) => c,
            Ok(None) => return Flow::Next,
            Err(e) => {
                self.screen.print([Line::error(self.style, &e.to_string())]);
                return Flow::Next;
            }
        };
        match command {
            Command::Send(Request::Quit { text }) => return Flow::Quit(text),
            // Plain text to a private partner who has left would be refused by the
            // server and lost; it is kept in the history instead.
            Command::Send(Request::Tell { .. }) | Command::Split { .. }
                if self.partner_gone() && is_plain(line) =>
            {
                let to = self.mode.target();
                self.screen.print([Line::error(
                    self.style,
                    &format!(
                        "{to} has left, so that was not sent (Up brings it back; /all for everyone)"
                    ),
                )]);
            }
            Command::Send(req) => {
                // A failed write ends the session; the reader reports it.
                self.session.send(req, false);
            }
            Command::Split { parts, bytes } => {
                let note = commands::split_note(bytes, parts.len());
                self.screen.print([Line::info(self.style, &note)]);
                for req in parts {
                    self.session.send(req, false);
                }
            }
            Command::SetMode(mode) => self.switch(mode),
            Command::Sums => {
                self.session.sums();
            }
            Command::Help(None) => self
                .screen
                .print(commands::help_lines(COMMANDS).into_iter().map(Line::plain)),
            Command::Help(Some(spec)) => self.screen.print([Line::plain(format!(
                "usage: {}  {}",
                spec.usage(),
                spec.help
            ))]),
            Command::Get(file) => {
                let dir = self.download_dir();
                match DownloadPlan::prepare(&dir, file, self.overwrite) {
                    Ok(plan) => {
                        self.session.get(plan);
                    }
                    Err(why) => self.screen.print([Line::error(self.style, &why)]),
                }
            }
            Command::Cancel(which) => {
                if let Err(why) = self.session.cancel(which.as_deref()) {
                    self.screen
                        .print([Line::error(self.style, &sanitize(&why))]);
                }
            }
            Command::Put {
                local,
                name,
                unsplit,
                bad_name,
            } => match super::upload_plan(local, name, unsplit, bad_name) {
                Ok(mut plan) => {
                    // Its SHA-256 is read on a thread of its own, so the prompt does not
                    // wait for a big file; the PUT goes once it is known. A file that
                    // cannot be read for it goes without, and its upload says why.
                    // Running from now on, so it can be cancelled while it is read.
                    let job = self.session.begin_put(&mut plan);
                    let session = self.session.clone();
                    let screen = self.screen.clone();
                    let style = self.style;
                    let spawned =
                        std::thread::Builder::new()
                            .name("put-hash".into())
                            .spawn(move || {
                                let local = plan.local.display().to_string();
                                match plan.hashed_unless(&|| session.is_stopped(job)) {
                                    Some(Ok(plan)) => {
                                        session.put(plan);
                                    }
                                    Some(Err(why)) => {
                                        session.transfer_ended(job);
                                        screen.push(Line::error(style, &sanitize(&why)).text);
                                    }
                                    None => {
                                        session.transfer_ended(job);
                                        let text = format!(
                                            "cancelled the upload of {}; nothing of it was sent",
                                            sanitize(&local)
                                        );
                                        screen.push(Line::info(style, &text).text);
                                    }
                                }
                            });
                    if let Err(e) = spawned {
                        self.session.transfer_ended(job);
                        let why = format!("cannot start the upload: {e}");
                        self.screen.print([Line::error(self.style, &why)]);
                    }
                }
                Err(why) => self.screen.print([Line::error(self.style, &why)]),
            },
        }
        Flow::Next
    }

    /// `--download-dir`, else `./<name>/` for the name the server accepted.
    fn download_dir(&self) -> PathBuf {
        self.download_dir.clone().unwrap_or_else(|| {
            PathBuf::from(
                self.session
                    .me()
                    .map_or_else(String::new, |m| m.to_string()),
            )
        })
    }

    fn switch(&mut self, mode: Mode) {
        let text = match (&mode, &self.mode) {
            (Mode::Everyone, Mode::Everyone) => "already talking to everyone".to_string(),
            (Mode::Everyone, _) => "talking to everyone".to_string(),
            (Mode::Private(to), _) => {
                let me = self.session.me();
                let online = self.session.is_online(to);
                if let Some(why) = commands::private_refusal(to, me.as_ref(), online) {
                    let still = format!("{why}; plain text still goes to {}", self.mode.target());
                    self.screen.print([Line::error(self.style, &still)]);
                    return;
                }
                format!("talking privately to {to}; /all to talk to everyone")
            }
        };
        self.mode = mode;
        self.screen.print([Line::info(self.style, &text)]);
    }

    /// In private mode: the person talked to is away.
    fn partner_away(&self) -> bool {
        match &self.mode {
            Mode::Private(to) => self.session.is_away(to),
            Mode::Everyone => false,
        }
    }

    /// In private mode: the person talked to is known to have left.
    fn partner_gone(&self) -> bool {
        match &self.mode {
            Mode::Private(to) => self.session.is_online(to) == Some(false),
            Mode::Everyone => false,
        }
    }

    /// Adds the line to the history and appends it to the file at once, so a session
    /// that ends abruptly (the server gone) still keeps it.
    fn remember(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        if self.editor.add_history_entry(line).is_err() {
            return;
        }
        let Some(path) = self.history_file.clone() else {
            return;
        };
        if let Err(e) = self.editor.append_history(&path) {
            self.screen.print([Line::error(
                self.style,
                &format!(
                    "cannot write history to {}: {}; history will not be saved this session",
                    path.display(),
                    editor::readline_words(&e)
                ),
            )]);
            self.history_file = None;
        }
    }

    fn quit(&mut self, text: String) -> Exit {
        let _ = call(
            &self.session,
            &self.outcomes,
            Request::Quit { text },
            Some(QUIT_WAIT),
        );
        self.screen.print([]);
        Exit::Ok
    }

    fn finish(&mut self, goodbye: &str, exit: Exit) -> Exit {
        self.screen.finish(&Line::plain(goodbye));
        exit
    }
}
