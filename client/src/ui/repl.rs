//! Interactive mode: the rustyline editor on the main thread, with completion, usage
//! hints, a persisted history, and the chat mode that the prompt shows.
//!
//! The main thread reads lines and sends requests without waiting for their replies;
//! the reader thread shows replies and events as they come (through [`Screen`]). The
//! main thread waits only while logging in and quitting.
//!
//! Transfers run in the background: `/get` and `/put` return to the prompt at once,
//! and progress comes as `* ` lines (at most one per transfer every 2 s) printed above
//! the prompt exactly like chat, so the half-typed line is never garbled. The README
//! says why this rather than a progress bar.

use crate::display::{error_words, sanitize, Line, Style};
use crate::exit::Exit;
use crate::net::transport::ReadHalf;
use crate::net::wire::FrameReader;
use crate::session::reader::{self, Sink};
use crate::session::transfers::{DownloadPlan, Plan, Report, UploadPlan};
use crate::session::{call, wait_reply, Answer, End, Outcome, Session};
use crate::ui::commands::{self, Command, Mode, COMMANDS};
use crate::ui::secret::{self, Given, Typed};
use crate::ui::terminal::Screen;
use natter_protocol::{ErrorCode, Reply, Request, Secret, UserName};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::config::{ColorMode, CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

type ChatEditor = Editor<ChatHelper, FileHistory>;
type Printer = Box<dyn ExternalPrinter + Send>;

/// History entries kept, in memory and in the file.
pub const HISTORY_SIZE: usize = 1000;
/// How long `/quit` waits for `OK QUIT` before leaving anyway.
const QUIT_WAIT: Duration = Duration::from_secs(3);
/// How long the server may take to show it is still there after a wrong secret.
const ALIVE_WAIT: Duration = Duration::from_secs(10);

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
    let (mut editor, printer) = match make_editor(&opts, &screen, &session) {
        Ok(e) => e,
        Err(why) => return Err(Box::new((NoEditor(why), frames, secret))),
    };
    let (tx, outcomes) = mpsc::channel();
    let sink = Box::new(TerminalSink {
        screen: screen.clone(),
        style: opts.style,
        target: session.target.clone(),
    });
    let report: Report = {
        let (screen, style) = (screen.clone(), opts.style);
        // Progress names files the server named: made harmless here, for both ways.
        Arc::new(move |text: String| screen.push(Line::info(style, &sanitize(&text)).text))
    };
    let started = spawn_printer(screen.clone(), printer)
        .and_then(|()| reader::spawn(frames, session.clone(), sink, tx, opts.style, Some(report)));
    if let Err(e) = started {
        eprintln!("natter: cannot start a thread: {e}");
        return Ok(Exit::ConnectFailed);
    }
    let history_file = opts
        .history_file
        .as_deref()
        .and_then(|p| load_history(&mut editor, p, &screen, opts.style));
    let mut repl = Repl {
        editor,
        screen,
        session,
        outcomes,
        style: opts.style,
        mode: Mode::Everyone,
        history_file,
        download_dir: opts.download_dir,
        overwrite: opts.overwrite,
        quit_warned: false,
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

fn make_editor(
    opts: &Options,
    screen: &Arc<Screen>,
    session: &Arc<Session>,
) -> Result<(ChatEditor, Printer), String> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)
        .and_then(|b| b.history_ignore_dups(true))
        .map_err(|e| e.to_string())?
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        // The highlighter is how `Screen` learns that the prompt was drawn, so
        // rustyline must always call it, NO_COLOR or not (`Enabled` would stop calling
        // it under NO_COLOR). It adds colour only when asked.
        .color_mode(ColorMode::Forced)
        .build();
    let mut editor: ChatEditor = Editor::with_config(config).map_err(|e| e.to_string())?;
    editor.set_helper(Some(ChatHelper {
        screen: screen.clone(),
        session: session.clone(),
        color: opts.style.color,
        paths: FilenameCompleter::new(),
    }));
    let printer = editor
        .create_external_printer()
        .map_err(|e| format!("this terminal cannot show messages above the prompt ({e})"))?;
    Ok((editor, Box::new(printer)))
}

/// Loads the history file; returns the path to append to, or `None` (with a warning
/// shown) when it cannot be used.
fn load_history(
    editor: &mut ChatEditor,
    path: &Path,
    screen: &Screen,
    style: Style,
) -> Option<PathBuf> {
    let warn = |what: String| {
        screen.print([Line::error(
            style,
            &format!("{what}; history will not be saved this session"),
        )])
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn(format!(
                "cannot create {}: {}",
                dir.display(),
                crate::display::io_words(&e)
            ));
            return None;
        }
    }
    match editor.load_history(path) {
        Ok(()) => Some(path.to_path_buf()),
        Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(path.to_path_buf())
        }
        Err(e) => {
            warn(format!(
                "cannot read history {}: {}",
                path.display(),
                readline_words(&e)
            ));
            None
        }
    }
}

/// A rustyline error in words; I/O errors without std's `(os error N)`.
fn readline_words(e: &ReadlineError) -> String {
    match e {
        ReadlineError::Io(io) => crate::display::io_words(io),
        other => other.to_string(),
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

/// What to do after one input line.
enum Flow {
    Next,
    /// Offer this text again at the prompt, for fixing.
    Retry(String),
    Quit(String),
}

struct Repl {
    editor: ChatEditor,
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
}

/// How one `readline` ended.
enum Input {
    Line(String),
    /// Ctrl-C: the line is dropped.
    Cleared,
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
        let mut retry: Option<String> = None;
        loop {
            let prompt = self.mode.prompt(me.as_str());
            let line = match self.read(&prompt, retry.take()) {
                Input::Line(l) => l,
                Input::Cleared => continue,
                Input::Done if self.may_leave() => return self.quit(String::new()),
                Input::Done => continue,
                Input::Ended(goodbye, exit) => return self.finish(&goodbye, exit),
            };
            self.remember(&line);
            // A paste of several lines is several messages, as in other chat clients.
            let parts: Vec<&str> = line.split('\n').collect();
            for part in &parts {
                match self.handle(part) {
                    Flow::Next => self.quit_warned = false,
                    Flow::Retry(text) if parts.len() == 1 => retry = Some(text),
                    Flow::Retry(_) => {}
                    Flow::Quit(text) if self.may_leave() => return self.quit(text),
                    Flow::Quit(_) => {}
                }
            }
        }
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
                "still {}; quit again to leave anyway ({then})",
                sanitize(&running.join(", "))
            ),
        )]);
        false
    }

    /// Sends `AUTH` with a given secret, then `HELLO` until a name is accepted:
    /// asking for the secret at a hidden prompt when the server wants one, and for
    /// another name at a `name> ` prompt when one is taken or invalid.
    fn login(&mut self, mut name: String, secret: Option<Given>) -> Result<UserName, Exit> {
        if let Some(given) = secret {
            match self.quiet_call(Request::Auth {
                secret: given.secret,
            }) {
                Ok(Ok(_)) => {}
                Ok(Err((code, text))) => {
                    let why = error_words(&code, &text, None);
                    self.screen.print([Line::error(
                        self.style,
                        &format!("{why} (the secret from {})", given.source),
                    )]);
                    self.still_there()?;
                    self.ask_secret()?;
                }
                Err(end) => return Err(self.ended(&end)),
            }
        }
        loop {
            match UserName::new(name.trim()) {
                Err(e) => self.screen.print([Line::error(
                    self.style,
                    &format!("{:?} is not a valid name: {e}", sanitize(&name)),
                )]),
                Ok(n) => {
                    let hello = Request::Hello { name: n };
                    match self.quiet_call(hello.clone()) {
                        Ok(Ok(Reply::Hello { name })) => return Ok(name),
                        Ok(Ok(_)) => {}
                        Ok(Err((ErrorCode::AuthRequired, _))) => {
                            self.ask_secret()?;
                            // The same name again, now that the server knows us.
                            continue;
                        }
                        // Another name may do.
                        Ok(Err((code @ (ErrorCode::NameTaken | ErrorCode::BadName), text))) => {
                            self.screen.print([Line::error(
                                self.style,
                                &error_words(&code, &text, Some(&hello)),
                            )])
                        }
                        // Anything else another name will not fix.
                        Ok(Err((code, text))) => {
                            self.screen.print([Line::error(
                                self.style,
                                &error_words(&code, &text, Some(&hello)),
                            )]);
                            self.quit(String::new());
                            return Err(Exit::NameRefused);
                        }
                        Err(end) => return Err(self.ended(&end)),
                    }
                }
            }
            self.screen.print([Line::info(
                self.style,
                "choose another name (Ctrl-D to give up)",
            )]);
            name = loop {
                match self.read("name> ", None) {
                    Input::Line(l) if !l.trim().is_empty() => break l,
                    Input::Line(_) | Input::Cleared => {}
                    Input::Done => return Err(self.quit(String::new())),
                    Input::Ended(goodbye, exit) => return Err(self.finish(&goodbye, exit)),
                }
            };
        }
    }

    /// Asks for the secret at a prompt that shows nothing, until the server takes
    /// it. `Err` is the exit status: given up, or the server closed the connection
    /// (it does after 3 wrong secrets).
    fn ask_secret(&mut self) -> Result<(), Exit> {
        self.screen.print([Line::info(
            self.style,
            &format!(
                "{} wants a secret; type it (it is not shown) or Ctrl-C to give up",
                self.session.target
            ),
        )]);
        loop {
            let secret: Secret = match secret::read_hidden("secret> ") {
                Ok(Typed::Secret(s)) => s,
                Ok(Typed::Invalid(why)) => {
                    self.screen.print([Line::error(self.style, &why)]);
                    continue;
                }
                Ok(Typed::Cancelled) => {
                    self.quit(String::new());
                    return Err(Exit::NameRefused);
                }
                Err(e) => {
                    self.screen.print([Line::error(
                        self.style,
                        &format!(
                            "cannot read the secret from the terminal: {}",
                            crate::display::io_words(&e)
                        ),
                    )]);
                    self.quit(String::new());
                    return Err(Exit::NameRefused);
                }
            };
            match self.quiet_call(Request::Auth { secret }) {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err((code, text))) => {
                    self.screen
                        .print([Line::error(self.style, &error_words(&code, &text, None))]);
                    self.still_there()?;
                    self.screen.print([Line::info(
                        self.style,
                        "try again; the server closes the connection after 3 wrong secrets",
                    )]);
                }
                Err(end) => return Err(self.ended(&end)),
            }
        }
    }

    /// After a wrong secret: whether the server kept the connection. It answers a
    /// `PING` unless it has closed it, and replies come in order, so this never
    /// guesses.
    fn still_there(&mut self) -> Result<(), Exit> {
        let id = self.session.send(
            Request::Ping {
                text: String::new(),
            },
            true,
        );
        match wait_reply(&self.outcomes, id, Some(ALIVE_WAIT)) {
            Ok(_) => Ok(()),
            Err(End::Lost(_)) => {
                let goodbye = Line::error(
                    self.style,
                    &format!(
                        "{} closed the connection after too many wrong secrets",
                        self.session.target
                    ),
                );
                self.session.close();
                Err(self.finish(&goodbye.text, Exit::NameRefused))
            }
            Err(end) => Err(self.ended(&end)),
        }
    }

    /// Sends `req` without the reader showing its reply, and waits for it.
    fn quiet_call(&mut self, req: Request) -> Result<Answer, End> {
        let id = self.session.send(req, true);
        wait_reply(&self.outcomes, id, None)
    }

    /// The session ended while logging in: says why, returns the exit status.
    fn ended(&mut self, end: &End) -> Exit {
        let goodbye = Line::error(self.style, &end.message(&self.session.target));
        self.finish(&goodbye.text, end.exit())
    }

    /// One `readline`, with the screen bookkeeping around it.
    fn read(&mut self, prompt: &str, initial: Option<String>) -> Input {
        while let Ok(o) = self.outcomes.try_recv() {
            if let Outcome::Ended(end) = o {
                let goodbye = Line::error(self.style, &end.message(&self.session.target));
                return Input::Ended(goodbye.text, end.exit());
            }
        }
        if let Err((goodbye, exit)) = self.screen.begin_edit() {
            return Input::Ended(goodbye, exit);
        }
        let r = match &initial {
            Some(text) => self.editor.readline_with_initial(prompt, (text, "")),
            None => self.editor.readline(prompt),
        };
        let (clean, last_drawn) = self.screen.end_edit();
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
                Input::Cleared
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
                return Flow::Retry(line.to_string());
            }
        };
        match command {
            Command::Send(Request::Quit { text }) => return Flow::Quit(text),
            Command::Send(req) => {
                // A failed write ends the session; the reader reports it.
                self.session.send(req, false);
            }
            Command::SetMode(mode) => self.switch(mode),
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
                        self.session
                            .send_with(plan.request(), false, Some(Plan::Download(plan)));
                    }
                    Err(why) => self.screen.print([Line::error(self.style, &why)]),
                }
            }
            Command::Put { local, name } => match UploadPlan::prepare(&local, name) {
                Ok(plan) => {
                    self.session
                        .send_with(plan.request(), false, Some(Plan::Upload(plan)));
                }
                Err(why) => {
                    self.screen.print([Line::error(self.style, &why)]);
                    return Flow::Retry(line.to_string());
                }
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
            (Mode::Private(to), _) if self.session.is_online(to) == Some(false) => format!(
                "talking privately to {to}, who is not online now; /all to talk to everyone"
            ),
            (Mode::Private(to), _) => {
                format!("talking privately to {to}; /all to talk to everyone")
            }
        };
        self.mode = mode;
        self.screen.print([Line::info(self.style, &text)]);
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
                    readline_words(&e)
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

/// Completion, usage hints and the prompt's colour; also tells [`Screen`] each time
/// rustyline redraws in raw mode and what the input line holds.
struct ChatHelper {
    screen: Arc<Screen>,
    session: Arc<Session>,
    color: bool,
    /// Local paths after `/put`.
    paths: FilenameCompleter,
}

/// The arguments a command still wants, greyed after the cursor. Never inserted: a
/// placeholder like `<name>` is not text to send.
struct UsageHint(String);

impl Hint for UsageHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Hinter for ChatHelper {
    type Hint = UsageHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<UsageHint> {
        self.screen.edited(line);
        if pos != line.len() {
            return None;
        }
        let rest = line.strip_prefix('/')?;
        let name = rest.strip_suffix(' ')?;
        if name.contains(' ') {
            return None;
        }
        let spec = commands::find(name)?;
        (!spec.args.is_empty()).then(|| UsageHint(spec.args.to_string()))
    }
}

impl Completer for ChatHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if crate::ui::complete::local_path_wanted(COMMANDS, line, pos) {
            return self.paths.complete_path(line, pos);
        }
        let (start, words) =
            crate::ui::complete::complete(COMMANDS, line, pos, &self.session.known());
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.trim_end_matches([' ', ':']).to_string(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Highlighter for ChatHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        // rustyline calls this on every full redraw, in raw mode: the moment the
        // session may be left from this thread (see `Screen`).
        self.screen.drawn();
        Cow::Borrowed(line)
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if self.color {
            Cow::Owned(format!("\x1b[1m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ChatHelper {}

impl Helper for ChatHelper {}

/// `$XDG_STATE_HOME/natter/history`, else `~/.local/state/natter/history`; `None`
/// without either variable. A relative `XDG_STATE_HOME` is ignored, as the XDG
/// specification asks.
pub fn default_history_file(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let state = xdg_state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(state.join("natter").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_file_follows_xdg() {
        assert_eq!(
            default_history_file(Some("/x/state".into()), Some("/home/a".into())),
            Some(PathBuf::from("/x/state/natter/history"))
        );
        assert_eq!(
            default_history_file(Some("relative".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/state/natter/history"))
        );
        assert_eq!(
            default_history_file(None, Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/state/natter/history"))
        );
        assert_eq!(default_history_file(None, None), None);
    }
}
