//! What each request means: registration, chat, and the replies they get.
//!
//! Handlers only queue output (`send`, `broadcast`) and change state; they never
//! touch a socket, so one broadcast costs one encode however many receive it, and
//! the loop flushes each connection once per turn.

use crate::event_loop::Server;
use crate::services::{self, Game, Hint, GUESS_HI, GUESS_LO};
use natter_protocol::{
    ErrorCode, GuessReply, LeaveReason, Reply, Request, ServerFrame, SessionInfo, Time,
};

/// Wrong secrets one connection may send before it is closed.
const MAX_AUTH_FAILURES: u8 = 3;

impl Server {
    pub(crate) fn handle(&mut self, t: usize, req: Request) {
        let named = self.conns.get(t).is_some_and(|c| c.name.is_some());
        match req {
            Request::Ping { text } => self.reply(t, Reply::Ping { text }),
            Request::Quit { text } => {
                self.reply(t, Reply::Quit);
                self.close(t, LeaveReason::Quit, &text);
            }
            Request::Auth { secret } => self.auth(t, secret),
            Request::Hello { name } => self.hello(t, name),
            Request::Data { xfer, data } => self.data(t, xfer, &data),
            _ if !named => self.error(
                t,
                ErrorCode::NoName,
                "Choose a user name first: HELLO <name>",
            ),
            Request::Say { text } => self.say(t, text),
            Request::Tell { name, text } => self.tell(t, name, text),
            Request::Who => self.who(t),
            Request::Status => self.status(t),
            Request::Echo { text } => self.reply(t, Reply::Echo { text }),
            Request::Calc { expr } => match services::calc(&expr) {
                Ok(result) => self.reply(t, Reply::Calc { result }),
                Err(e) => self.error(t, ErrorCode::Calc, &e.to_string()),
            },
            Request::Guess { guess } => self.guess(t, guess),
            Request::Files => self.files(t),
            Request::Get { file, offset } => self.get(t, file, offset),
            Request::Put { file, size } => self.put(t, file, size),
            Request::Abort { xfer } => self.abort(t, xfer),
            Request::Delete { file } => self.delete(t, file),
            Request::Rename { old, new } => self.rename(t, old, new),
        }
    }

    pub(crate) fn reply(&mut self, t: usize, reply: Reply) {
        self.send(t, &ServerFrame::Ok(reply));
    }

    pub(crate) fn error(&mut self, t: usize, code: ErrorCode, text: &str) {
        self.send(t, &ServerFrame::err(code, text));
    }

    /// Without a configured secret AUTH is accepted and changes nothing.
    fn auth(&mut self, t: usize, secret: natter_protocol::Secret) {
        let Some(want) = &self.config.secret else {
            return self.reply(t, Reply::Auth);
        };
        let ok = crate::limits::constant_time_eq(secret.as_bytes(), want.as_bytes());
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        if ok {
            c.authed = true;
            return self.reply(t, Reply::Auth);
        }
        c.auth_failures += 1;
        let failures = c.auth_failures;
        // Never log what was tried: a near-miss is most of the secret.
        log::warn!(
            "{} from {}: wrong secret ({failures} of {MAX_AUTH_FAILURES})",
            c.label(),
            c.addr
        );
        if failures >= MAX_AUTH_FAILURES {
            self.error(
                t,
                ErrorCode::AuthFailed,
                "wrong secret; too many tries, closing",
            );
            self.close(t, LeaveReason::Error, "too many wrong secrets");
        } else {
            let text = format!("wrong secret ({failures} of {MAX_AUTH_FAILURES} tries used)");
            self.error(t, ErrorCode::AuthFailed, &text);
        }
    }

    fn hello(&mut self, t: usize, name: natter_protocol::UserName) {
        let Some(c) = self.conns.get(t) else { return };
        if !c.authed {
            return self.error(
                t,
                ErrorCode::AuthRequired,
                "this server needs its secret first: AUTH <secret>",
            );
        }
        if let Some(current) = &c.name {
            let text = format!("you are already {current}; names cannot change on a connection");
            return self.error(t, ErrorCode::AlreadyNamed, &text);
        }
        let key = name.folded();
        if let Some(&holder) = self.names.get(&key) {
            let held = self.conns.get(holder).and_then(|c| c.name.clone());
            let text = format!(
                "{} is taken; choose another name",
                held.as_ref().unwrap_or(&name)
            );
            return self.error(t, ErrorCode::NameTaken, &text);
        }
        self.names.insert(key, t);
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        c.name = Some(name.clone());
        c.session_name = Some(name.clone());
        c.named_at = Time::now();
        log::info!("client {} is now {name}", c.id);
        self.add_member(t);
        self.reply(t, Reply::Hello { name: name.clone() });
        self.broadcast(&ServerFrame::Join { name }, None);
    }

    fn say(&mut self, t: usize, text: String) {
        let Some(name) = self.conns.get(t).and_then(|c| c.name.clone()) else {
            return;
        };
        let delivered = self.broadcast(&ServerFrame::From { name, text }, Some(t));
        self.reply(t, Reply::Say { delivered });
    }

    fn tell(&mut self, t: usize, to: natter_protocol::UserName, text: String) {
        let Some(from) = self.conns.get(t).and_then(|c| c.name.clone()) else {
            return;
        };
        let Some(&target) = self.names.get(&to.folded()) else {
            return self.error(
                t,
                ErrorCode::NoSuchUser,
                &format!("no user named {to} is connected"),
            );
        };
        // Reply with the name as its holder spelled it, which may differ in case.
        let to = self
            .conns
            .get(target)
            .and_then(|c| c.name.clone())
            .unwrap_or(to);
        self.send(target, &ServerFrame::Private { name: from, text });
        self.reply(t, Reply::Tell { name: to });
    }

    fn who(&mut self, t: usize) {
        let mut users: Vec<ServerFrame> = self
            .members
            .iter()
            .filter_map(|&k| self.conns.get(k))
            .filter(|c| c.is_member())
            .filter_map(|c| {
                Some(ServerFrame::User {
                    name: c.name.clone()?,
                    addr: c.addr,
                    since: c.named_at,
                })
            })
            .collect();
        users.sort_by_key(|f| match f {
            ServerFrame::User { name, .. } => name.key(),
            _ => String::new(),
        });
        let count = users.len() as u64;
        self.send_listing(t, &users, &ServerFrame::Ok(Reply::Who { count }));
    }

    /// Live sessions by connection id, then the ended ones, most recent first.
    fn status(&mut self, t: usize) {
        let mut live = Vec::new();
        let mut ended: Vec<(u64, SessionInfo)> = self.history.iter().cloned().collect();
        for (_, c) in self.conns.iter() {
            if c.is_open() {
                live.push(c.session());
            } else {
                // Still closing: ended, but not yet moved into the history.
                ended.push((c.ended_seq, c.session()));
            }
        }
        live.sort_by_key(|s| s.conn_id);
        ended.sort_by_key(|(seq, _)| std::cmp::Reverse(*seq));
        ended.truncate(self.history.cap());
        let active = live.len() as u64;
        let items: Vec<ServerFrame> = live
            .into_iter()
            .chain(ended.into_iter().map(|(_, s)| s))
            .map(ServerFrame::Session)
            .collect();
        let reply = Reply::Status {
            active,
            max_clients: self.config.max_clients as u64,
            uptime_s: self.started.elapsed().as_secs(),
        };
        self.send_listing(t, &items, &ServerFrame::Ok(reply));
    }

    fn guess(&mut self, t: usize, guess: Option<u64>) {
        let Some(c) = self.conns.get_mut(t) else {
            return;
        };
        let Some(n) = guess else {
            // A bare GUESS always starts afresh, dropping a running game.
            c.game = Some(Game::new(services::random_seed()));
            return self.reply(
                t,
                Reply::Guess(GuessReply::Started {
                    lo: GUESS_LO,
                    hi: GUESS_HI,
                }),
            );
        };
        if !(GUESS_LO..=GUESS_HI).contains(&n) {
            let text = format!("a guess is a whole number from {GUESS_LO} to {GUESS_HI}, not {n}");
            return self.error(t, ErrorCode::BadRequest, &text);
        }
        let game = c
            .game
            .get_or_insert_with(|| Game::new(services::random_seed()));
        let (hint, tries) = game.guess(n);
        let reply = match hint {
            Hint::Higher => GuessReply::Higher { tries },
            Hint::Lower => GuessReply::Lower { tries },
            Hint::Correct => {
                c.game = None;
                GuessReply::Correct { tries }
            }
        };
        self.reply(t, Reply::Guess(reply));
    }
}
