//! Registration and talk: AUTH HELLO SAY TELL WHO STATUS ECHO CALC GUESS PING QUIT.
//!
//! Each handler changes the room and queues output through the outbox; none of them
//! can reach a socket, so a broadcast costs one encode however many receive it.

use super::{error, reply, ConnRef, Listing, Outbox, Room};
use crate::services::{self, Game, Hint, GUESS_HI, GUESS_LO};
use natter_protocol::{
    ErrorCode, GuessReply, LeaveReason, Reply, Secret, ServerFrame, Time, UserName,
};

/// Wrong secrets one connection may send before it is closed.
pub const MAX_AUTH_FAILURES: u8 = 3;

impl Room {
    pub(super) fn quit(&mut self, out: &mut impl Outbox, from: ConnRef, text: String) {
        reply(out, from, Reply::Quit);
        self.depart(out, from, LeaveReason::Quit, &text);
        out.close(from);
    }

    /// Without a configured secret AUTH is accepted and changes nothing.
    pub(super) fn auth(&mut self, out: &mut impl Outbox, from: ConnRef, secret: Secret) {
        let Some(want) = &self.settings.secret else {
            return reply(out, from, Reply::Auth);
        };
        let ok = crate::limits::constant_time_eq(secret.as_bytes(), want.as_bytes());
        let Some(c) = self.client_mut(from) else {
            return;
        };
        let ip = c.addr.ip();
        if ok {
            c.authed = true;
            self.brake.succeeded(ip);
            return reply(out, from, Reply::Auth);
        }
        c.auth_failures += 1;
        let failures = c.auth_failures;
        let (label, addr) = (c.label(), c.addr);
        let lately = self.brake.failed(ip, std::time::Instant::now());
        // Never log what was tried: a near-miss is most of the secret. Nor every
        // try of a guesser: the first few, then at each doubling.
        if lately <= 3 || lately.is_power_of_two() {
            log::warn!(
                "{label} from {addr}: wrong secret ({failures} of {MAX_AUTH_FAILURES}; {lately} from that address lately)"
            );
        }
        if failures >= MAX_AUTH_FAILURES {
            error(
                out,
                from,
                ErrorCode::AuthFailed,
                "wrong secret; too many tries, closing",
            );
            self.depart(out, from, LeaveReason::Error, "too many wrong secrets");
            out.close(from);
        } else {
            let text = format!("wrong secret ({failures} of {MAX_AUTH_FAILURES} tries used)");
            error(out, from, ErrorCode::AuthFailed, &text);
        }
    }

    pub(super) fn hello(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        name: UserName,
        history: Option<u64>,
        stamps: bool,
        data: Option<u32>,
    ) {
        let Some(c) = self.client(from) else { return };
        if !c.authed {
            return error(
                out,
                from,
                ErrorCode::AuthRequired,
                "this server needs its secret first: AUTH <secret>",
            );
        }
        if let (Some(current), true) = (&c.name, c.is_member()) {
            let text = format!("you are already {current}; names cannot change on a connection");
            return error(out, from, ErrorCode::AlreadyNamed, &text);
        }
        let key = name.folded();
        if let Some(&holder) = self.names.get(&key) {
            let held = self.member_name(holder);
            let text = format!(
                "{} is taken; choose another name",
                held.as_ref().unwrap_or(&name)
            );
            return error(out, from, ErrorCode::NameTaken, &text);
        }
        let id = c.id;
        if let Some(c) = self.client_mut(from) {
            c.wants_history = history.unwrap_or(0).min(u32::MAX as u64) as u32;
            c.stamps = stamps;
            c.data = data.unwrap_or(natter_protocol::MAX_DATA as u32);
        }
        if self.cluster.is_some() && self.hello_on_cluster(out, from, id, &name) {
            return;
        }
        self.named(out, from, name);
    }

    /// The room's last messages, oldest first, then `OK HISTORY n`.
    pub(super) fn replay(&mut self, out: &mut impl Outbox, from: ConnRef, count: Option<u64>) {
        let mut sent = 0;
        for said in self.said.recent(count) {
            out.send(from, &said.frame());
            sent += 1;
        }
        reply(out, from, Reply::History { sent });
    }

    /// The name is `from`'s: it is a member from now on.
    pub(super) fn named(&mut self, out: &mut impl Outbox, from: ConnRef, name: UserName) {
        if self.names.get(&name.folded()).is_some() {
            // Taken here while a claim was out (the link dropped, the node decided
            // alone): first come, first served.
            let text = format!("{name} is taken; choose another name");
            return error(out, from, ErrorCode::NameTaken, &text);
        }
        self.names.insert(name.folded(), from);
        let Some(c) = self.client_mut(from) else {
            return;
        };
        c.name = Some(name.clone());
        c.named_at = Time::now();
        let replay = std::mem::take(&mut c.wants_history);
        let stamps = c.stamps;
        log::info!("client {} is now {name}", c.id);
        if stamps {
            out.stamps(from);
            self.stamped_members += 1;
        }
        // What was said before it came, just before it is in the room: no message
        // is both replayed and heard live, none is missed in between.
        if replay > 0 {
            for said in self.said.recent(Some(u64::from(replay))) {
                out.send(from, &said.frame());
            }
        }
        self.add_member(from);
        reply(out, from, Reply::Hello { name: name.clone() });
        // To everyone, the newcomer too: its JOIN says it is in the room.
        out.broadcast(&self.members, None, &ServerFrame::Join { name });
        if self.cluster.is_some() {
            self.announce_user(out, from);
        }
    }

    pub(super) fn say(&mut self, out: &mut impl Outbox, from: ConnRef, text: String) {
        let Some(name) = self.member_name(from) else {
            return;
        };
        let time = Time::now();
        let id = self.said.push(time, name.clone(), &text);
        let delivered =
            self.announce_said(out, Some(from), ServerFrame::From { name, text }, id, time);
        reply(out, from, Reply::Say { delivered });
    }

    pub(super) fn tell(
        &mut self,
        out: &mut impl Outbox,
        from: ConnRef,
        to: UserName,
        text: String,
    ) {
        let Some(sender) = self.member_name(from) else {
            return;
        };
        let Some(&target) = self.names.get(&to.folded()) else {
            if self.cluster.is_some() {
                match self.tell_on_cluster(out, from, sender, &to, text) {
                    Ok(Some((to, away))) => {
                        return reply(out, from, Reply::Tell { name: to, away })
                    }
                    Err(()) => return,
                    Ok(None) => {}
                }
            }
            return error(
                out,
                from,
                ErrorCode::NoSuchUser,
                &format!("no user named {to} is connected"),
            );
        };
        // Reply with the name as its holder spelled it, which may differ in case.
        let to = self.member_name(target).unwrap_or(to);
        let away = self
            .client(target)
            .and_then(|c| c.away.as_deref().map(String::from));
        let private = self.private_for(target, sender, text);
        out.send(target, &private);
        reply(out, from, Reply::Tell { name: to, away });
    }

    /// Away: everyone hears it, WHO shows it, a private message gets it back.
    pub(super) fn away(&mut self, out: &mut impl Outbox, from: ConnRef, text: String) {
        let Some(name) = self.member_name(from) else {
            return;
        };
        let text = if text.trim().is_empty() {
            "away".to_string()
        } else {
            text
        };
        if let Some(c) = self.client_mut(from) {
            c.away = Some(Box::new(text.clone()));
        }
        reply(out, from, Reply::Away);
        self.announce(out, Some(from), ServerFrame::Away { name, text });
    }

    pub(super) fn back(&mut self, out: &mut impl Outbox, from: ConnRef) {
        let Some(name) = self.member_name(from) else {
            return;
        };
        let was = self.client_mut(from).and_then(|c| c.away.take());
        reply(out, from, Reply::Back);
        if was.is_some() {
            self.announce(out, Some(from), ServerFrame::Back { name });
        }
    }

    pub(super) fn who(&mut self, out: &mut impl Outbox, from: ConnRef) {
        let listing = Listing::Who {
            after: None,
            sent: 0,
        };
        self.start_listing(out, from, listing);
    }

    /// Live sessions by connection id, then the ended ones, most recent first.
    pub(super) fn status(&mut self, out: &mut impl Outbox, from: ConnRef) {
        let listing = Listing::Status {
            live_after: None,
            ended_before: None,
            live_done: false,
            remote_after: None,
            remote_done: false,
            ended_sent: 0,
        };
        self.start_listing(out, from, listing);
    }

    pub(super) fn calc(&mut self, out: &mut impl Outbox, from: ConnRef, expr: &str) {
        match services::calc(expr) {
            Ok(result) => reply(out, from, Reply::Calc { result }),
            Err(e) => error(out, from, ErrorCode::Calc, &e.to_string()),
        }
    }

    pub(super) fn guess(&mut self, out: &mut impl Outbox, from: ConnRef, guess: Option<u64>) {
        let Some(c) = self.client_mut(from) else {
            return;
        };
        let Some(n) = guess else {
            // A bare GUESS always starts afresh, dropping a running game.
            c.game = Some(Box::new(Game::new(services::random_seed())));
            let started = GuessReply::Started {
                lo: GUESS_LO,
                hi: GUESS_HI,
            };
            return reply(out, from, Reply::Guess(started));
        };
        if !(GUESS_LO..=GUESS_HI).contains(&n) {
            let text = format!("a guess is a whole number from {GUESS_LO} to {GUESS_HI}, not {n}");
            return error(out, from, ErrorCode::BadRequest, &text);
        }
        let game = c
            .game
            .get_or_insert_with(|| Box::new(Game::new(services::random_seed())));
        let (hint, tries) = game.guess(n);
        let answer = match hint {
            Hint::Higher => GuessReply::Higher { tries },
            Hint::Lower => GuessReply::Lower { tries },
            Hint::Correct => {
                c.game = None;
                GuessReply::Correct { tries }
            }
        };
        reply(out, from, Reply::Guess(answer));
    }
}

#[cfg(test)]
mod tests {
    use super::super::recorder::{Event, Fixture};
    use super::super::ConnRef;
    use natter_protocol::{Secret, ServerFrame};

    #[test]
    fn welcome_counts_who_is_online() {
        let mut fx = Fixture::new();
        let a = ConnRef(1);
        fx.room
            .connect(&mut fx.out, a, 7, "10.0.0.1:4000".parse().unwrap());
        assert_eq!(fx.lines(a), ["WELCOME natter/1 7 Welcome - 0 users online"]);
        fx.send(a, "HELLO alice");
        fx.out.take();
        let b = ConnRef(2);
        fx.room
            .connect(&mut fx.out, b, 8, "10.0.0.2:4000".parse().unwrap());
        assert_eq!(fx.lines(b), ["WELCOME natter/1 8 Welcome - 1 user online"]);
    }

    #[test]
    fn hello_replies_then_everyone_hears_join_the_newcomer_too() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.connect(2);
        let before = fx.out.broadcasts;
        fx.send(b, "HELLO bob");
        assert_eq!(fx.out.frames(b).len(), 2);
        assert_eq!(fx.out.frames(a).len(), 1);
        let events = fx.out.take();
        let lines: Vec<(usize, String)> = events
            .iter()
            .map(|e| match e {
                Event::Frame(c, f) => (c.0, super::super::recorder::wire(f)),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        // The reply first, then the JOIN to every member, in one broadcast.
        assert_eq!(lines[0], (2, "OK HELLO bob".to_string()));
        assert!(lines[1..].contains(&(1, "JOIN bob".to_string())));
        assert!(lines[1..].contains(&(2, "JOIN bob".to_string())));
        assert_eq!(fx.out.broadcasts, before + 1, "one broadcast per join");
        assert!(fx.room.is_named(b));
    }

    #[test]
    fn a_newcomer_asks_for_what_was_said_and_gets_it_just_before_it_joins() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        for i in 1..=4 {
            fx.send(a, &format!("SAY m{i}"));
        }
        fx.send(b, "TELL alice private, never kept");
        fx.out.take();
        let c = fx.connect(3);
        fx.send(c, "HELLO carol history=3");
        let got = fx.lines(c);
        let shown: Vec<String> = got
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.splitn(5, ' ').collect();
                match f[0] {
                    "HISTORY" => format!("{} {} {}", f[1], f[3], f[4]),
                    _ => l.clone(),
                }
            })
            .collect();
        assert_eq!(
            shown,
            [
                "2 alice m2",
                "3 alice m3",
                "4 alice m4",
                "OK HELLO carol",
                "JOIN carol"
            ]
        );
        // Asked again later: the last n, then how many.
        assert_eq!(fx.ask(c, "HISTORY 0"), "OK HISTORY 0");
        fx.send(c, "HISTORY");
        let all = fx.lines(c);
        assert_eq!(all.len(), 5);
        assert!(
            all[0].starts_with("HISTORY 1 ") && all[0].ends_with(" alice m1"),
            "{all:?}"
        );
        assert_eq!(all[4], "OK HISTORY 4");
        // Without history=, nothing is replayed.
        let d = fx.connect(4);
        fx.send(d, "HELLO dave");
        assert_eq!(fx.lines(d), ["OK HELLO dave", "JOIN dave"]);
    }

    #[test]
    fn who_asked_for_stamps_gets_ids_and_the_servers_time_and_nobody_else_does() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.connect(2);
        fx.send(b, "HELLO bob stamps");
        fx.out.take();
        fx.send(a, "SAY one");
        fx.send(a, "TELL bob two");
        fx.send(b, "SAY three");
        fx.send(b, "TELL alice four");
        let to_b = fx
            .out
            .frames(b)
            .iter()
            .map(super::super::recorder::wire)
            .collect::<Vec<_>>();
        let to_a = fx.lines(a);
        let fields = |l: &str| l.splitn(5, ' ').map(String::from).collect::<Vec<_>>();
        let said = fields(&to_b[0]);
        assert_eq!(
            (
                said[0].as_str(),
                said[1].as_str(),
                said[3].as_str(),
                said[4].as_str()
            ),
            ("SAID", "1", "alice", "one")
        );
        assert!(natter_protocol::Time::parse(&said[2]).is_ok());
        let told = fields(&to_b[1]);
        assert_eq!(
            (told[0].as_str(), told[1].as_str(), told[4].as_str()),
            ("TOLD", "2", "two")
        );
        // Those who did not ask get the plain frames, as ever.
        assert!(to_a.contains(&"FROM bob three".to_string()), "{to_a:?}");
        assert!(to_a.contains(&"PRIVATE bob four".to_string()), "{to_a:?}");
        // The ids are the history's: what was replayed is told apart from what is live.
        fx.send(b, "HISTORY");
        let kept = fx.lines(b);
        assert!(
            kept[0].starts_with("HISTORY 1 ") && kept[1].starts_with("HISTORY 3 "),
            "{kept:?}"
        );
    }

    #[test]
    fn away_is_heard_shown_in_who_and_answers_a_private_message() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.send(b, "AWAY  at lunch");
        assert_eq!(
            fx.out
                .frames(b)
                .iter()
                .map(super::super::recorder::wire)
                .collect::<Vec<_>>(),
            ["OK AWAY"]
        );
        assert_eq!(fx.lines(a), ["AWAY bob  at lunch"]);
        fx.send(a, "WHO");
        let who = fx.lines(a);
        assert!(
            who.iter()
                .any(|l| l.starts_with("USER bob ") && l.ends_with("Z  at lunch")),
            "{who:?}"
        );
        fx.send(a, "TELL BOB are you there");
        assert_eq!(fx.lines(a), ["OK TELL bob  at lunch"]);
        assert_eq!(fx.ask(b, "BACK"), "OK BACK");
        fx.send(a, "TELL bob and now");
        assert_eq!(fx.lines(a), ["OK TELL bob"]);
        // A bare AWAY still says something; BACK when not away tells nobody.
        fx.send(a, "AWAY");
        assert_eq!(fx.lines(b), ["AWAY alice away"]);
        fx.send(b, "BACK");
        assert!(fx.out.frames(a).is_empty());
    }

    #[test]
    fn with_history_off_nothing_is_kept() {
        let mut fx = Fixture::with(|s| s.history = 0);
        let a = fx.join(1, "alice");
        fx.send(a, "SAY hello");
        fx.out.take();
        assert_eq!(fx.ask(a, "HISTORY"), "OK HISTORY 0");
    }

    #[test]
    fn names_are_unique_ignoring_case_and_fixed_once_taken() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "Alice");
        let b = fx.connect(2);
        assert_eq!(
            fx.ask(b, "HELLO aLiCe"),
            "ERR name-taken Alice is taken; choose another name"
        );
        assert!(!fx.room.is_named(b));
        assert_eq!(
            fx.ask(a, "HELLO alicia"),
            "ERR already-named you are already Alice; names cannot change on a connection"
        );
        assert_eq!(fx.room.label(a), "Alice (client 101)");
        assert_eq!(fx.room.label(b), "client 102");
    }

    #[test]
    fn only_registration_pings_and_quit_are_served_before_hello() {
        let mut fx = Fixture::new();
        let a = fx.connect(1);
        let no_name = "ERR no-name Choose a user name first: HELLO <name>";
        for line in [
            "SAY hi",
            "TELL bob hi",
            "WHO",
            "STATUS",
            "ECHO x",
            "CALC 1+1",
            "GUESS",
            "FILES",
            "GET a.txt",
            "PUT a.txt 3",
            "ABORT 1",
            "DELETE a.txt",
            "RENAME a.txt b.txt",
        ] {
            assert_eq!(fx.ask(a, line), no_name, "{line}");
        }
        assert_eq!(fx.ask(a, "PING x"), "OK PING x");
        assert_eq!(fx.ask(a, "AUTH c2VjcmV0"), "OK AUTH");
        assert!(!fx.dir.join("a.txt").exists());
    }

    #[test]
    fn say_reaches_every_other_member_and_counts_them() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        let c = fx.join(3, "carol");
        let lurker = fx.connect(4);
        fx.send(a, "SAY  hi all");
        assert_eq!(
            fx.out.frames(a),
            [ServerFrame::Ok(natter_protocol::Reply::Say {
                delivered: 2
            })]
        );
        assert_eq!(fx.out.frames(b), fx.out.frames(c));
        assert!(fx.out.frames(lurker).is_empty(), "only members hear chat");
        assert_eq!(fx.lines(b), ["FROM alice  hi all"]);
    }

    #[test]
    fn tell_reaches_one_and_the_reply_spells_the_name_as_its_holder_does() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "Bob");
        let c = fx.join(3, "carol");
        fx.send(a, "TELL BOB psst");
        assert_eq!(fx.out.frames(c), []);
        assert_eq!(
            super::super::recorder::wire(&fx.out.frames(b)[0]),
            "PRIVATE alice psst"
        );
        assert_eq!(fx.lines(a), ["OK TELL Bob"]);
        assert_eq!(
            fx.ask(a, "TELL dave hi"),
            "ERR no-such-user no user named dave is connected"
        );
    }

    #[test]
    fn who_lists_members_by_name_ignoring_case() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "carol");
        fx.join(2, "Bob");
        fx.join(3, "alice");
        fx.connect(4);
        fx.send(a, "WHO");
        let got = fx.out.frames(a);
        let (last, items) = got.split_last().expect("a reply");
        let names: Vec<String> = items
            .iter()
            .map(|f| match f {
                ServerFrame::User { name, addr, .. } => format!("{name} {addr}"),
                other => panic!("not a USER: {other:?}"),
            })
            .collect();
        assert_eq!(
            names,
            [
                "alice 10.0.0.3:40003",
                "Bob 10.0.0.2:40002",
                "carol 10.0.0.1:40001"
            ]
        );
        assert_eq!(super::super::recorder::wire(last), "OK WHO 3");
    }

    #[test]
    fn status_lists_live_sessions_then_the_most_recently_ended() {
        let mut fx = Fixture::with(|s| {
            s.session_history = 2;
            s.max_clients = 50;
        });
        let a = fx.join(1, "alice");
        for (n, name) in [(2, "bob"), (3, "carol"), (4, "dave")] {
            let c = fx.join(n, name);
            fx.room
                .depart(&mut fx.out, c, natter_protocol::LeaveReason::Lost, "");
            if n != 4 {
                // dave is still closing: ended, but not yet let go by the loop.
                fx.room.disconnected(
                    c,
                    super::super::Traffic {
                        bytes_in: n as u64,
                        bytes_out: 10 * n as u64,
                    },
                );
            }
        }
        fx.connect(5);
        fx.out.traffic.insert(
            a,
            super::super::Traffic {
                bytes_in: 5,
                bytes_out: 6,
            },
        );
        fx.send(a, "STATUS");
        let lines = fx.lines(a);
        let fields: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
        let summary: Vec<String> = fields
            .iter()
            .take(lines.len() - 1)
            .map(|f| format!("{} {} {} {}", f[1], f[2], f[6], f[7]))
            .collect();
        assert_eq!(
            summary,
            [
                "101 alice 5 6",
                "105 - 0 0",
                "104 dave 0 0",
                "103 carol 3 30"
            ],
            "{lines:?}"
        );
        assert!(fields[0][5] == "-" && fields[2][5] != "-");
        let last = lines.last().unwrap();
        assert!(last.starts_with("OK STATUS 2 50 "), "{last}");
    }

    #[test]
    fn echo_calc_and_ping_answer_in_kind() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        assert_eq!(fx.ask(a, "ECHO  two  spaces "), "OK ECHO  two  spaces ");
        assert_eq!(fx.ask(a, "CALC 2 + 3 * 6"), "OK CALC 20");
        assert_eq!(
            fx.ask(a, "CALC 1 +"),
            "ERR calc expected a number at position 4"
        );
        assert_eq!(fx.ask(a, "PING"), "OK PING");
    }

    #[test]
    fn guess_game_is_won_by_halving_within_seven_tries() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        assert_eq!(fx.ask(a, "GUESS"), "OK GUESS started 1 100");
        assert_eq!(
            fx.ask(a, "GUESS 101"),
            "ERR bad-request a guess is a whole number from 1 to 100, not 101"
        );
        let (mut lo, mut hi) = (1u64, 100u64);
        let mut tries = 0;
        loop {
            let g = (lo + hi) / 2;
            tries += 1;
            let answer = fx.ask(a, &format!("GUESS {g}"));
            match answer.strip_prefix("OK GUESS ") {
                Some(rest) if rest == format!("higher {tries}") => lo = g + 1,
                Some(rest) if rest == format!("lower {tries}") => hi = g - 1,
                Some(rest) if rest == format!("correct {tries}") => break,
                _ => panic!("try {tries}: {answer}"),
            }
            assert!(
                lo <= hi && tries < 7,
                "the game lied: {lo}..{hi} after {tries}"
            );
        }
        // A won game is over: the next guess starts another, counting from one.
        assert!(fx.ask(a, "GUESS 50").ends_with(" 1"));
    }

    #[test]
    fn quit_replies_then_others_hear_leave_then_the_connection_closes() {
        let mut fx = Fixture::new();
        let a = fx.join(1, "alice");
        let b = fx.join(2, "bob");
        fx.send(a, "QUIT see you");
        let got = fx.out.take();
        let wire = super::super::recorder::wire;
        assert_eq!(
            got,
            [
                Event::Frame(a, ServerFrame::Ok(natter_protocol::Reply::Quit)),
                Event::Frame(
                    b,
                    ServerFrame::Leave {
                        name: natter_protocol::UserName::new("alice").unwrap(),
                        reason: natter_protocol::LeaveReason::Quit,
                        text: "see you".into()
                    }
                ),
                Event::Closed(a),
            ]
        );
        assert_eq!(
            wire(&ServerFrame::Ok(natter_protocol::Reply::Quit)),
            "OK QUIT"
        );
        // Whatever else it sent is not served, and its name is free.
        fx.send(a, "SAY still here?");
        assert!(fx.out.take().is_empty());
        assert!(!fx.room.is_named(a));
        fx.join(3, "ALICE");
    }

    #[test]
    fn auth_guards_hello_and_the_third_wrong_secret_closes() {
        let secret = Secret::new(b"hunter2").unwrap();
        let mut fx = Fixture::with(|s| s.secret = Some(secret.clone()));
        let a = fx.connect(1);
        assert_eq!(
            fx.ask(a, "HELLO alice"),
            "ERR auth-required this server needs its secret first: AUTH <secret>"
        );
        assert_eq!(
            fx.ask(a, "AUTH wrong"),
            "ERR auth-failed wrong secret (1 of 3 tries used)"
        );
        assert_eq!(fx.ask(a, "AUTH hunter2"), "OK AUTH");
        fx.send(a, "HELLO alice");
        assert_eq!(fx.lines(a), ["OK HELLO alice", "JOIN alice"]);

        let b = fx.connect(2);
        fx.send(b, "AUTH x");
        fx.send(b, "AUTH y");
        assert!(!fx.out.closed(b));
        fx.send(b, "AUTH z");
        let got = fx.out.take();
        assert_eq!(
            got.last(),
            Some(&Event::Closed(b)),
            "the third failure closes: {got:?}"
        );
        assert!(got.contains(&Event::Frame(
            b,
            ServerFrame::err(
                natter_protocol::ErrorCode::AuthFailed,
                "wrong secret; too many tries, closing"
            )
        )));
    }

    #[test]
    fn a_guessers_next_secret_waits_but_nothing_else_does() {
        let secret = Secret::new(b"hunter2").unwrap();
        let auth = natter_protocol::Request::Auth {
            secret: Secret::new(b"again").unwrap(),
        };
        let ping = natter_protocol::Request::Ping {
            text: String::new(),
        };
        let mut fx = Fixture::with(|s| s.secret = Some(secret.clone()));
        let a = fx.connect(1);
        assert_eq!(
            fx.room.hold_until(a, &auth),
            None,
            "the first try waits for nothing"
        );
        fx.send(a, "AUTH wrong");
        fx.send(a, "AUTH wrong");
        assert!(fx.room.hold_until(a, &auth).is_some(), "a guesser waits");
        assert_eq!(fx.room.hold_until(a, &ping), None, "only secrets wait");

        let mut open = Fixture::new();
        let b = open.connect(1);
        open.send(b, "AUTH wrong");
        open.send(b, "AUTH wrong");
        assert_eq!(open.room.hold_until(b, &auth), None, "no secret, no brake");
    }

    #[test]
    fn without_a_secret_auth_is_accepted_and_changes_nothing() {
        let mut fx = Fixture::new();
        let a = fx.connect(1);
        assert_eq!(fx.ask(a, "AUTH anything"), "OK AUTH");
        fx.send(a, "HELLO alice");
        assert_eq!(fx.lines(a), ["OK HELLO alice", "JOIN alice"]);
    }
}
