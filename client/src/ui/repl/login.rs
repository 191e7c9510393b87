//! Joining, in interactive mode: `AUTH` with a given secret, then `HELLO` until a
//! name is accepted, asking at a hidden prompt for the secret when the server wants
//! one and at a `name> ` prompt for another name when one is taken or invalid. What
//! the server says stays on screen; a refusal another try cannot fix ends the session
//! with its exit status.

use super::{Input, Repl};
use crate::display::{error_words, io_words, sanitize, Line};
use crate::exit::Exit;
use crate::session::{wait_reply, Answer, End};
use crate::ui::plain_hello;
use crate::ui::secret::{self, Given, Typed};
use natter_protocol::{ErrorCode, Reply, Request, Secret, UserName, MAX_BIG_DATA};
use std::time::Duration;

/// Room messages shown on joining; `/history N` shows more.
pub const HISTORY_ON_JOIN: u64 = 20;

/// How long the server may take to show it is still there after a wrong secret.
const ALIVE_WAIT: Duration = Duration::from_secs(10);

impl Repl {
    /// Sends `AUTH` with a given secret, then `HELLO` until a name is accepted:
    /// asking for the secret at a hidden prompt when the server wants one, and for
    /// another name at a `name> ` prompt when one is taken or invalid.
    pub(super) fn login(
        &mut self,
        mut name: String,
        secret: Option<Given>,
    ) -> Result<UserName, Exit> {
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
                    // The conversation so far, shown dimmed before the live one.
                    let hello = Request::Hello {
                        name: n,
                        history: Some(HISTORY_ON_JOIN),
                        stamps: true,
                        data: Some(MAX_BIG_DATA as u32),
                    };
                    let mut answer = self.quiet_call(hello.clone());
                    if let Ok(Err((ErrorCode::BadRequest, _))) = answer {
                        answer = self.quiet_call(plain_hello(&hello));
                    }
                    match answer {
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
                match self.read("name> ") {
                    Input::Line(l) if !l.trim().is_empty() => break l,
                    Input::Line(_) | Input::Cleared(_) => {}
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
                        &format!("cannot read the secret from the terminal: {}", io_words(&e)),
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
}
