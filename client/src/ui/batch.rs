//! Batch mode, for scripts and load tests: commands from stdin, one per line, with the
//! interactive syntax; one line per event on stdout, problems on stderr; no prompt, no
//! colour.
//!
//! Each request's reply is waited for before the next line is read, so the output is
//! in order; a `/get` or `/put` is waited for until the transfer ends (`DONE` or
//! `FAILED`), and shows no progress, only how it ended. At the end of input it stays
//! `--linger` seconds more to receive, then sends `QUIT` and waits for `OK QUIT`. The
//! exit status says whether every command and transfer succeeded (see [`Exit`]).

use crate::display::{error_words, sanitize, Line, Style};
use crate::exit::Exit;
use crate::net::wire::FrameReader;
use crate::session::download::DownloadPlan;
use crate::session::reader::{self, Sink};
use crate::session::{call, wait_reply, wait_transfer, Answer, End, Outcome, Session};
use crate::ui::commands::{self, Command, Mode, COMMANDS};
use crate::ui::plain_hello;
use crate::ui::secret::Given;
use natter_protocol::{ErrorCode, Request, UserName, MAX_BIG_DATA};
use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the final `QUIT` may take to be answered.
const QUIT_WAIT: Duration = Duration::from_secs(5);

pub struct Options {
    pub name: String,
    /// How long to keep receiving after the last command.
    pub linger: Duration,
    /// Where downloads go.
    pub download_dir: PathBuf,
    /// A download replaces a local file of the same name.
    pub overwrite: bool,
    /// Sent with `AUTH` before `HELLO`.
    pub secret: Option<Given>,
}

/// Plain lines: events and replies to stdout, problems to stderr. A closed stdout
/// (`natter ... | head -1`) is not an error worth dying for.
struct StdSink;

impl Sink for StdSink {
    fn show(&mut self, line: Line) {
        show(&line);
    }
}

fn show(line: &Line) {
    if line.is_error {
        let _ = writeln!(std::io::stderr().lock(), "{}", line.text);
    } else {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", line.text);
        let _ = out.flush();
    }
}

const PLAIN: Style = Style { color: false };

/// Runs a batch session on a greeted connection, reading commands from `input`.
pub fn run<R: Read + Send + 'static>(
    session: Arc<Session>,
    frames: FrameReader<R>,
    opts: Options,
    input: impl BufRead,
) -> Exit {
    let (tx, outcomes) = mpsc::channel();
    if let Err(e) = reader::spawn(frames, session.clone(), Box::new(StdSink), tx, PLAIN, None) {
        eprintln!("natter: cannot start the reader thread: {e}");
        return Exit::ConnectFailed;
    }
    let mut batch = Batch {
        session,
        outcomes,
        failed: false,
    };
    batch
        .run(opts, input)
        .unwrap_or_else(|end| batch.ended(&end))
}

struct Batch {
    session: Arc<Session>,
    outcomes: Receiver<Outcome>,
    failed: bool,
}

impl Batch {
    /// `Err` when the session ended before the script did.
    fn run(&mut self, mut opts: Options, input: impl BufRead) -> Result<Exit, End> {
        if let Some(exit) = self.login(&opts.name, opts.secret.take())? {
            return Ok(exit);
        }
        // A long --linger must not look idle to the server.
        self.session.spawn_keepalive();
        let quit_text = self.commands(input, &opts)?;
        if quit_text.is_none() {
            self.linger(opts.linger)?;
        }
        let text = quit_text.unwrap_or_default();
        let quit = Request::Quit { text };
        match call(&self.session, &self.outcomes, quit, Some(QUIT_WAIT)) {
            Ok(_) | Err(End::Quit) => {}
            Err(end) => return Err(end),
        }
        Ok(if self.failed {
            Exit::CommandFailed
        } else {
            Exit::Ok
        })
    }

    /// `Some` is the exit status when the server did not let us join: the secret was
    /// missing or wrong, or the name taken or invalid.
    fn login(&mut self, name: &str, secret: Option<Given>) -> Result<Option<Exit>, End> {
        let name = match UserName::new(name) {
            Ok(n) => n,
            Err(e) => {
                show(&Line::error(
                    PLAIN,
                    &format!("{:?} is not a valid user name: {e}", sanitize(name)),
                ));
                self.leave_quietly();
                return Ok(Some(Exit::NameRefused));
            }
        };
        if let Some(given) = secret {
            let auth = Request::Auth {
                secret: given.secret,
            };
            if let Err((code, text)) = self.quiet_call(auth)? {
                show(&Line::error(
                    PLAIN,
                    &format!(
                        "{} (the secret from {})",
                        error_words(&code, &text, None),
                        given.source
                    ),
                ));
                self.leave_quietly();
                return Ok(Some(Exit::NameRefused));
            }
        }
        // A script reads what happens from now on; /history asks for the past.
        let hello = Request::Hello {
            name,
            history: None,
            stamps: true,
            data: Some(MAX_BIG_DATA as u32),
        };
        let mut answer = self.quiet_call(hello.clone())?;
        if let Err((ErrorCode::BadRequest, _)) = answer {
            answer = self.quiet_call(plain_hello(&hello))?;
        }
        match answer {
            Ok(_) => Ok(None),
            Err((code, text)) => {
                show(&Line::error(
                    PLAIN,
                    &error_words(&code, &text, Some(&hello)),
                ));
                self.leave_quietly();
                Ok(Some(Exit::NameRefused))
            }
        }
    }

    /// Sends `req` without the reader showing its reply, and waits for the reply.
    fn quiet_call(&mut self, req: Request) -> Result<Answer, End> {
        let id = self.session.send(req, true);
        wait_reply(&self.outcomes, id, None)
    }

    /// Runs the script to its end or to a `/quit`, whose text it returns.
    fn commands(&mut self, mut input: impl BufRead, opts: &Options) -> Result<Option<String>, End> {
        let mut mode = Mode::Everyone;
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match input.read_until(b'\n', &mut raw) {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) => {
                    show(&Line::error(PLAIN, &format!("cannot read commands: {e}")));
                    self.failed = true;
                    return Ok(None);
                }
            }
            let text = String::from_utf8_lossy(&raw);
            let line = text.trim_end_matches(['\n', '\r']);
            let command = match commands::parse_line(line, &mode) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => {
                    show(&Line::error(PLAIN, &e.to_string()));
                    self.failed = true;
                    continue;
                }
            };
            match command {
                Command::Send(Request::Quit { text }) => return Ok(Some(text)),
                Command::Send(req) => {
                    if call(&self.session, &self.outcomes, req, None)?.is_err() {
                        self.failed = true;
                    }
                }
                Command::Split { parts, bytes } => {
                    show(&Line::info(
                        PLAIN,
                        &commands::split_note(bytes, parts.len()),
                    ));
                    for req in parts {
                        if call(&self.session, &self.outcomes, req, None)?.is_err() {
                            self.failed = true;
                        }
                    }
                }
                Command::SetMode(m) => {
                    let refusal = match &m {
                        Mode::Private(to) => commands::private_refusal(
                            to,
                            self.session.me().as_ref(),
                            self.session.is_online(to),
                        ),
                        Mode::Everyone => None,
                    };
                    if let Some(why) = refusal {
                        let still = format!("{why}; plain text still goes to {}", mode.target());
                        self.local_failure(&still);
                        continue;
                    }
                    let text = match &m {
                        Mode::Everyone => "talking to everyone".to_string(),
                        Mode::Private(to) => format!("talking privately to {to}"),
                    };
                    show(&Line::info(PLAIN, &text));
                    mode = m;
                }
                Command::Sums => {
                    self.session.sums();
                }
                Command::Help(None) => {
                    for l in commands::help_lines(COMMANDS) {
                        show(&Line::plain(l));
                    }
                }
                Command::Help(Some(spec)) => show(&Line::plain(format!(
                    "usage: {}  {}",
                    spec.usage(),
                    spec.help
                ))),
                Command::Get(file) => {
                    match DownloadPlan::prepare(&opts.download_dir, file, opts.overwrite) {
                        Ok(plan) => {
                            let job = self.session.get(plan);
                            self.transfer(job)?;
                        }
                        Err(why) => self.local_failure(&why),
                    }
                }
                // Every transfer was waited for, so none is running: said in words.
                Command::Cancel(which) => {
                    if let Err(why) = self.session.cancel(which.as_deref()) {
                        self.local_failure(&why);
                    }
                }
                Command::Put {
                    local,
                    name,
                    unsplit,
                    bad_name,
                } => match super::upload_plan(local, name, unsplit, bad_name)
                    .and_then(|p| p.hashed())
                {
                    Ok(plan) => {
                        let job = self.session.put(plan);
                        self.transfer(job)?;
                    }
                    Err(why) => self.local_failure(&why),
                },
            }
        }
    }

    /// Waits until the `/get` or `/put` numbered `job` has ended, whichever way.
    fn transfer(&mut self, job: u64) -> Result<(), End> {
        if !wait_transfer(&self.outcomes, job)? {
            self.failed = true;
        }
        Ok(())
    }

    fn local_failure(&mut self, why: &str) {
        show(&Line::error(PLAIN, why));
        self.failed = true;
    }

    /// Keeps receiving (the reader prints) until `linger` has passed.
    fn linger(&mut self, linger: Duration) -> Result<(), End> {
        let deadline = Instant::now() + linger;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            match self.outcomes.recv_timeout(left) {
                Ok(Outcome::Ended(end)) => return Err(end),
                Ok(Outcome::Reply { .. } | Outcome::Transfer { .. }) => {}
                Err(RecvTimeoutError::Timeout) => return Ok(()),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(End::Lost("the reader stopped".into()))
                }
            }
        }
    }

    fn leave_quietly(&self) {
        let quit = Request::Quit {
            text: String::new(),
        };
        let _ = call(&self.session, &self.outcomes, quit, Some(QUIT_WAIT));
    }

    fn ended(&self, end: &End) -> Exit {
        if *end != End::Quit {
            show(&Line::error(PLAIN, &end.message(&self.session.target)));
        }
        end.exit()
    }
}
