//! Server frames in, lines out: an event ([`event`]), a request's final reply with the
//! items before it ([`reply`], listings as tables), and an `ERR` code in words
//! ([`error_words`]), all in the context of a [`View`] (who you are, the local time,
//! the style).

use super::escape::sanitize;
use super::line::{Line, Style, BOLD, DIM, GREEN, MAGENTA};
use super::words::{duration_words, group_digits, human_size, limit_size};
use natter_protocol::{ErrorCode, FolderUsage, GuessReply, Reply, Request, ServerFrame, Time};
use std::time::Duration;

/// What the lines are shown in the context of.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    /// The user's own name, once the server accepted it.
    pub me: Option<&'a str>,
    /// The local time for the stamp, hours and minutes.
    pub hm: (u32, u32),
    /// Now, and the local time zone's offset from UTC in seconds, for listings that
    /// say how long ago something was, or when.
    pub now: Time,
    pub utc_offset: i64,
    pub style: Style,
}

impl View<'_> {
    fn stamp(&self) -> String {
        self.style
            .paint(DIM, &format!("[{:02}:{:02}]", self.hm.0, self.hm.1))
    }

    /// The server's time of a message, as the local stamp shows it.
    fn stamp_at(&self, t: Time) -> String {
        self.style.paint(DIM, &format!("[{}]", self.when(t)))
    }

    /// A line about something that happened in the room (a join, a leave, a file
    /// shared, deleted or renamed), with the time as chat lines have it.
    fn happened(&self, text: &str) -> Line {
        let line = Line::info(self.style, text);
        Line::plain(format!("{} {}", self.stamp(), line.text))
    }

    fn is_me(&self, name: &str) -> bool {
        self.me.is_some_and(|m| m.eq_ignore_ascii_case(name))
    }

    /// `14:02` for a time today, `2026-11-21 14:02` for another day (local time).
    fn when(&self, t: Time) -> String {
        let local = |t: Time| Time(t.0.saturating_add_signed(self.utc_offset)).to_string();
        let (t, today) = (local(t), local(self.now));
        if t[..10] == today[..10] {
            t[11..16].to_string()
        } else {
            format!("{} {}", &t[..10], &t[11..16])
        }
    }
}

/// The line for an event (or `None` for frames that are not shown on their own:
/// items, which belong to a reply, file data, and `SHUTDOWN`, which ends the session
/// and is reported then).
pub fn event(frame: &ServerFrame, v: &View) -> Option<Line> {
    let s = v.style;
    Some(match frame {
        // A message with the server's id and time (natter asks for them): shown at
        // the time the server relayed it.
        ServerFrame::Said {
            time, name, text, ..
        } => Line::plain(format!(
            "{} <{}> {}",
            v.stamp_at(*time),
            s.name(name.as_str()),
            sanitize(text)
        )),
        ServerFrame::Told {
            time, name, text, ..
        } => Line::plain(format!(
            "{} {} {}",
            v.stamp_at(*time),
            s.paint(&format!("{BOLD};{MAGENTA}"), &format!("[{name} → you]")),
            sanitize(text)
        )),
        ServerFrame::From { name, text } => Line::plain(format!(
            "{} <{}> {}",
            v.stamp(),
            s.name(name.as_str()),
            sanitize(text)
        )),
        // What was said before you came (or asked again with /history): dimmed,
        // with the server's time of it, so it never reads as live.
        ServerFrame::History {
            time, name, text, ..
        } => Line::plain(s.paint(
            DIM,
            &format!("[{}] <{name}> {}", v.when(*time), sanitize(text)),
        )),
        ServerFrame::Private { name, text } => Line::plain(format!(
            "{} {} {}",
            v.stamp(),
            s.paint(&format!("{BOLD};{MAGENTA}"), &format!("[{name} → you]")),
            sanitize(text)
        )),
        ServerFrame::Away { name, text } => {
            v.happened(&format!("{name} is away: {}", sanitize(text)))
        }
        ServerFrame::Back { name } => v.happened(&format!("{name} is back")),
        ServerFrame::Join { name } if v.is_me(name.as_str()) => {
            v.happened(&format!("you have joined as {name}"))
        }
        ServerFrame::Join { name } => v.happened(&format!("{name} has joined")),
        ServerFrame::Leave { name, reason, text } => {
            let why = match (reason.describe(), sanitize(text)) {
                (r, t) if t.is_empty() => r.to_string(),
                (r, t) => format!("{r}: {t}"),
            };
            v.happened(&format!("{name} has left ({why})"))
        }
        ServerFrame::Shared { name, file, size } => v.happened(&format!(
            "{name} shared {} ({})",
            sanitize(file.as_str()),
            human_size(*size)
        )),
        ServerFrame::Deleted { name, file } => {
            v.happened(&format!("{name} deleted {}", sanitize(file.as_str())))
        }
        ServerFrame::Renamed { name, old, new } => v.happened(&format!(
            "{name} renamed {} to {}",
            sanitize(old.as_str()),
            sanitize(new.as_str())
        )),
        ServerFrame::Done { xfer, stored } => match stored {
            Some((file, size)) => Line::info(
                s,
                &format!(
                    "transfer {xfer} done: stored as {} ({})",
                    sanitize(file.as_str()),
                    human_size(*size)
                ),
            ),
            None => Line::info(s, &format!("transfer {xfer} done")),
        },
        ServerFrame::Failed { xfer, code, text } => Line::error(
            s,
            &format!("transfer {xfer} failed: {}", error_words(code, text, None)),
        ),
        ServerFrame::Ok(_) | ServerFrame::Err { .. } => return None,
        ServerFrame::Welcome { .. }
        | ServerFrame::User { .. }
        | ServerFrame::Session(_)
        | ServerFrame::File { .. }
        | ServerFrame::Data { .. }
        | ServerFrame::Shutdown { .. } => return None,
    })
}

/// The lines for a request's final reply (`OK` or `ERR`), given the request it
/// answers, the items that came before it, and how long it took. Most replies are one
/// line; listings are a line and a table; the `OK` to `HELLO`, `QUIT`, `GET` and
/// `PUT` has none (a transfer speaks for itself as it goes).
pub fn reply(
    req: &Request,
    items: &[ServerFrame],
    fin: &ServerFrame,
    rtt: Duration,
    v: &View,
) -> Vec<Line> {
    let s = v.style;
    let reply = match fin {
        ServerFrame::Err { code, text } => {
            return vec![Line::error(s, &error_words(code, text, Some(req)))]
        }
        ServerFrame::Ok(reply) => reply,
        _ => return Vec::new(),
    };
    let line = match (reply, req) {
        (Reply::Hello { .. } | Reply::Quit | Reply::Get { .. } | Reply::Put { .. }, _) => {
            return Vec::new()
        }
        (Reply::Files { count, usage }, _) => return files_table(*count, usage.as_ref(), items, s),
        (
            Reply::Status {
                active,
                max_clients,
                uptime_s,
                usage,
                note,
            },
            _,
        ) => {
            return status_table(
                (*active, *max_clients, *uptime_s),
                usage.as_ref(),
                note,
                items,
                v,
            )
        }
        (Reply::Say { delivered }, Request::Say { text }) => Line::plain(format!(
            "{} <{}> {} {}",
            v.stamp(),
            s.paint(BOLD, "you"),
            sanitize(text),
            s.paint(&format!("{DIM};{GREEN}"), &format!("✓ {delivered}"))
        )),
        (Reply::Tell { name, away }, Request::Tell { text, .. }) => {
            let sent = Line::plain(format!(
                "{} {} {}",
                v.stamp(),
                s.paint(&format!("{BOLD};{MAGENTA}"), &format!("[you → {name}]")),
                sanitize(text)
            ));
            return match away {
                Some(why) => vec![
                    sent,
                    Line::info(s, &format!("{name} is away: {}", sanitize(why))),
                ],
                None => vec![sent],
            };
        }
        (Reply::Who { count, note }, _) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|f| match f {
                    ServerFrame::User { name, .. } if v.is_me(name.as_str()) => {
                        Some(format!("{name} (you)"))
                    }
                    ServerFrame::User {
                        name,
                        away: Some(why),
                        ..
                    } => Some(format!("{name} (away: {})", sanitize(why))),
                    ServerFrame::User { name, .. } => Some(name.to_string()),
                    _ => None,
                })
                .collect();
            let people = if *count == 1 { "user" } else { "users" };
            let note = cluster_note(note);
            if names.is_empty() {
                Line::info(s, &format!("{count} {people} online{note}"))
            } else {
                Line::info(
                    s,
                    &format!("{count} {people} online{note}: {}", names.join(", ")),
                )
            }
        }
        (Reply::Away, Request::Away { text }) => Line::info(
            s,
            &format!(
                "you are away ({}): others see it, and a private message to you gets it back; /back when you are back",
                if text.trim().is_empty() { "away".into() } else { sanitize(text) }
            ),
        ),
        (Reply::Back, _) => Line::info(s, "you are back"),
        (Reply::History { sent }, Request::History { .. }) => Line::info(
            s,
            &match sent {
                0 => "no earlier messages are kept".to_string(),
                1 => "1 earlier message above".to_string(),
                n => format!("{n} earlier messages above"),
            },
        ),
        (Reply::Ping { .. }, _) => Line::info(
            s,
            &format!("pong: {:.2} ms round trip", rtt.as_secs_f64() * 1000.0),
        ),
        (Reply::Delete { file }, _) => {
            Line::info(s, &format!("deleted {}", sanitize(file.as_str())))
        }
        (Reply::Rename { old, new }, _) => Line::info(
            s,
            &format!(
                "renamed {} to {}",
                sanitize(old.as_str()),
                sanitize(new.as_str())
            ),
        ),
        (Reply::Echo { text }, _) => Line::info(s, &format!("echo: {}", sanitize(text))),
        (Reply::Calc { result }, _) => Line::info(s, &format!("= {}", sanitize(result))),
        (Reply::Guess(g), _) => Line::info(
            s,
            &match g {
                GuessReply::Started { lo, hi } => format!("guess a number from {lo} to {hi}"),
                GuessReply::Higher { .. } => "higher".into(),
                GuessReply::Lower { .. } => "lower".into(),
                GuessReply::Correct { tries: 1 } => "correct in 1 try!".into(),
                GuessReply::Correct { tries } => format!("correct in {tries} tries!"),
            },
        ),
        // A reply this client has no words for yet: say what it was.
        (other, _) => Line::info(s, &format!("{} done", other.verb())),
    };
    vec![line]
}

/// What a cluster node says of the cluster after a listing's count: ` (cluster of 3
/// nodes)`; nothing from a lone server.
fn cluster_note(note: &str) -> String {
    if note.is_empty() {
        String::new()
    } else {
        format!(" ({})", sanitize(note))
    }
}

/// What the shared folder holds against its limits: `12 files, 3.1 GiB`, `12 files,
/// 3.1 GiB of 10 GiB`, `12 of 500 files, 3.1 GiB`.
fn usage_words(u: &FolderUsage) -> String {
    let noun = |n: u64| if n == 1 { "file" } else { "files" };
    let files = match u.max_files {
        Some(max) => format!("{} of {max} {}", u.files, noun(max)),
        None => format!("{} {}", u.files, noun(u.files)),
    };
    let bytes = match u.max_bytes {
        Some(max) => format!("{} of {}", human_size(u.bytes), limit_size(max)),
        None => human_size(u.bytes),
    };
    format!("{files}, {bytes}")
}

/// `* 3 connected of at most 1000; up 2 h 5 min`, the shared folder's usage (from a
/// server that sends it), then a header and one row per session: live ones (marked
/// `●`) with how long ago they connected, ended ones with when they began and ended,
/// and the traffic the server counted each way; on a cluster, the node each session
/// is on.
fn status_table(
    summary: (u64, u64, u64),
    usage: Option<&FolderUsage>,
    note: &str,
    items: &[ServerFrame],
    v: &View,
) -> Vec<Line> {
    let (active, max, uptime) = summary;
    let s = v.style;
    let nodes = items
        .iter()
        .any(|f| matches!(f, ServerFrame::Session(x) if x.node.is_some()));
    let mut header = vec![" ", "name", "address", "connected", "in", "out"];
    if nodes {
        header.push("node");
    }
    let mut rows: Vec<Vec<String>> = vec![header.into_iter().map(String::from).collect()];
    for f in items {
        let ServerFrame::Session(x) = f else {
            continue;
        };
        let live = x.ended.is_none();
        let mut name = x.name.as_ref().map_or("-".to_string(), |n| n.to_string());
        if live && v.is_me(&name) {
            name.push_str(" (you)");
        }
        let when = match x.ended {
            None => format!(
                "{} ago",
                duration_words(Duration::from_secs(v.now.0.saturating_sub(x.connected.0)))
            ),
            Some(end) => match &x.reason {
                Some(why) => format!(
                    "{} to {} ({})",
                    v.when(x.connected),
                    v.when(end),
                    why.describe()
                ),
                None => format!("{} to {}", v.when(x.connected), v.when(end)),
            },
        };
        let mut row = vec![
            if live { "●" } else { " " }.to_string(),
            name,
            x.addr.to_string(),
            when,
            human_size(x.bytes_in),
            human_size(x.bytes_out),
        ];
        if nodes {
            row.push(x.node.clone().unwrap_or_else(|| "-".into()));
        }
        rows.push(row);
    }
    let mut widths = vec![0usize; rows[0].len()];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut lines = vec![Line::info(
        s,
        &format!(
            "{active} connected of at most {max}; up {}{}; ● live",
            duration_words(Duration::from_secs(uptime)),
            cluster_note(note)
        ),
    )];
    if let Some(u) = usage {
        lines.push(Line::info(s, &format!("shared folder: {}", usage_words(u))));
    }
    for (i, r) in rows.iter().enumerate() {
        let mut text = format!("  {}", r[0]);
        for (cell, &w) in r.iter().zip(&widths).skip(1) {
            text.push_str(&format!("  {cell:<w$}"));
        }
        let text = text.trim_end().to_string();
        lines.push(Line::plain(match (i, r[0].as_str()) {
            (0, _) => s.paint(DIM, &text),
            (_, "●") => text.replacen('●', &s.paint(GREEN, "●"), 1),
            _ => text,
        }));
    }
    lines
}

/// `* SharedFiles: 2 files, 3.1 KiB` (`of 10 GiB`, `2 of 500 files` when the server
/// limits the folder), then one row per file: name, size in human units, exact bytes.
/// Without the folder's usage in the reply (a server with no limit, or one from
/// before December 2026) the listed files are the whole folder.
fn files_table(
    count: u64,
    usage: Option<&FolderUsage>,
    items: &[ServerFrame],
    s: Style,
) -> Vec<Line> {
    let rows: Vec<(String, String, String)> = items
        .iter()
        .filter_map(|f| match f {
            ServerFrame::File { file, size, .. } => Some((
                sanitize(file.as_str()).into_owned(),
                human_size(*size),
                group_digits(*size),
            )),
            _ => None,
        })
        .collect();
    let listed = FolderUsage {
        files: count,
        bytes: items
            .iter()
            .map(|f| match f {
                ServerFrame::File { size, .. } => *size,
                _ => 0,
            })
            .fold(0u64, u64::saturating_add),
        max_files: None,
        max_bytes: None,
    };
    let usage = usage_words(usage.unwrap_or(&listed));
    let mut lines = vec![Line::info(s, &format!("SharedFiles: {usage}"))];
    let name_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let size_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let shown = rows.len() as u64;
    for (name, human, exact) in rows {
        lines.push(Line::plain(format!(
            "  {name:<name_w$}  {human:>size_w$}   ({exact} bytes)"
        )));
    }
    // Lines natter could not read were skipped (and said so): the count says more.
    if let Some(missing) = count.checked_sub(shown).filter(|&n| n > 0) {
        let (n, them) = if missing == 1 {
            ("1 file".to_string(), "its line")
        } else {
            (format!("{} files", group_digits(missing)), "their lines")
        };
        lines.push(Line::info(
            s,
            &format!("{n} more in the listing could not be shown: {them} could not be read"),
        ));
    }
    lines
}

/// An `ERR` code and its text in words; the request it answers fills in names.
pub fn error_words(code: &ErrorCode, text: &str, req: Option<&Request>) -> String {
    let text = sanitize(text);
    match (code, req) {
        (ErrorCode::NoSuchUser, Some(Request::Tell { name, .. })) => {
            format!("no such user: {name}")
        }
        (
            ErrorCode::NoSuchFile,
            Some(
                Request::Get { file, .. }
                | Request::Delete { file }
                | Request::Rename { old: file, .. },
            ),
        ) => format!("no such file: {}", sanitize(file.as_str())),
        (ErrorCode::Exists, Some(Request::Rename { new, .. })) => {
            format!("{} already exists", sanitize(new.as_str()))
        }
        (ErrorCode::Exists, Some(Request::Put { file, .. })) => format!(
            "{} already exists on the server, which keeps existing files; give another name: /put <path> <name>",
            sanitize(file.as_str())
        ),
        (ErrorCode::ReadOnly, _) => "the server's shared folder is read-only".into(),
        (ErrorCode::Calc, _) => format!("calc: {text}"),
        // The server's words say what a guess must be.
        (ErrorCode::BadRequest, Some(Request::Guess { .. })) if !text.is_empty() => {
            text.into_owned()
        }
        (ErrorCode::NameTaken, Some(Request::Hello { name, .. })) => {
            format!("the name {name} is taken")
        }
        (ErrorCode::BadName, Some(Request::Hello { name, .. })) => {
            format!("{name} is not a valid name: {text}")
        }
        // The server's text tells a protocol speaker to send AUTH; a person needs to
        // know how to give natter the secret.
        (ErrorCode::AuthRequired, _) => {
            "this server wants a secret before a name: give it with --secret-file PATH or the NATTER_SECRET environment variable".into()
        }
        (ErrorCode::AuthFailed, _) if text.is_empty() => "the server refused the secret".into(),
        (ErrorCode::AuthFailed, _) => format!("the server refused the secret: {text}"),
        (ErrorCode::UnknownCommand, Some(req)) => {
            format!("this server does not offer {} ({text})", req.verb())
        }
        (ErrorCode::Other(code), _) if text.is_empty() => code.clone(),
        (ErrorCode::Other(_), _) => text.into_owned(),
        (code, _) => {
            let words = code_words(code);
            if text.is_empty() {
                words.to_string()
            } else {
                format!("{words}: {text}")
            }
        }
    }
}

fn code_words(code: &ErrorCode) -> &str {
    match code {
        ErrorCode::BadRequest => "the server could not read that",
        ErrorCode::UnknownCommand => "unknown command",
        ErrorCode::LineTooLong => "line too long",
        ErrorCode::NoName => "choose a name first",
        ErrorCode::BadName => "not a valid name",
        ErrorCode::NameTaken => "name taken",
        ErrorCode::AlreadyNamed => "you already have a name",
        ErrorCode::NoSuchUser => "no such user",
        ErrorCode::NoSuchFile => "no such file",
        ErrorCode::Exists => "already exists",
        ErrorCode::TooLarge => "too large",
        // The disk is full, or the shared folder's limits (files or bytes) are reached.
        ErrorCode::NoSpace => "no room on the server",
        ErrorCode::BadOffset => "bad offset",
        ErrorCode::Busy => "the server is busy",
        ErrorCode::ReadOnly => "the shared folder is read-only",
        ErrorCode::AuthRequired => "this server wants a secret first",
        ErrorCode::AuthFailed => "wrong secret",
        ErrorCode::ServerFull => "the server is full",
        ErrorCode::NoSuchTransfer => "no such transfer",
        ErrorCode::Timeout => "timed out",
        ErrorCode::Calc => "cannot calculate that",
        ErrorCode::Internal => "the server failed",
        ErrorCode::ClusterDown => "another node of the cluster is out of reach",
        ErrorCode::Checksum => "the file was damaged on the way",
        ErrorCode::Other(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{decode_server_frame, Decoded, FileName, LeaveReason, UserName};

    const PLAIN: View = View {
        me: Some("alice"),
        hm: (9, 5),
        // 2026-11-22T17:03:05Z
        now: Time(1_795_366_985),
        utc_offset: 3600,
        style: Style { color: false },
    };

    fn frame(wire: &str) -> ServerFrame {
        match decode_server_frame(format!("{wire}\n").as_bytes()).unwrap() {
            Decoded::Frame(f, _) => f,
            other => panic!("{wire:?} decoded to {other:?}"),
        }
    }

    fn ev(wire: &str) -> Option<String> {
        event(&frame(wire), &PLAIN).map(|l| l.text)
    }

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    fn rep_all(req: Request, items: &[&str], fin: &str) -> Vec<String> {
        let items: Vec<ServerFrame> = items.iter().map(|w| frame(w)).collect();
        reply(
            &req,
            &items,
            &frame(fin),
            Duration::from_micros(420),
            &PLAIN,
        )
        .into_iter()
        .map(|l| l.text)
        .collect()
    }

    fn rep(req: Request, items: &[&str], fin: &str) -> Option<Line> {
        let items: Vec<ServerFrame> = items.iter().map(|w| frame(w)).collect();
        let mut lines = reply(
            &req,
            &items,
            &frame(fin),
            Duration::from_micros(420),
            &PLAIN,
        );
        assert!(lines.len() <= 1, "{lines:?}");
        lines.pop()
    }

    #[test]
    fn chat_lines() {
        assert_eq!(ev("FROM bob hi there").unwrap(), "[09:05] <bob> hi there");
        assert_eq!(ev("FROM bob").unwrap(), "[09:05] <bob> ");
        assert_eq!(ev("PRIVATE bob psst").unwrap(), "[09:05] [bob → you] psst");
        let say = rep(
            Request::Say {
                text: "hello".into(),
            },
            &[],
            "OK SAY 3",
        )
        .unwrap();
        assert_eq!(say.text, "[09:05] <you> hello ✓ 3");
        assert!(!say.is_error);
        let tell = Request::Tell {
            name: name("bob"),
            text: "psst".into(),
        };
        // The reply spells the name as its holder does.
        assert_eq!(
            rep(tell, &[], "OK TELL Bob").unwrap().text,
            "[09:05] [you → Bob] psst"
        );
    }

    #[test]
    fn joins_and_leaves_in_words() {
        assert_eq!(ev("JOIN bob").unwrap(), "[09:05] * bob has joined");
        assert_eq!(
            ev("JOIN Alice").unwrap(),
            "[09:05] * you have joined as Alice"
        );
        assert_eq!(
            ev("LEAVE bob lost").unwrap(),
            "[09:05] * bob has left (connection lost)"
        );
        assert_eq!(
            ev("LEAVE bob quit see you").unwrap(),
            "[09:05] * bob has left (quit: see you)"
        );
        assert_eq!(
            ev("LEAVE bob too-slow").unwrap(),
            "[09:05] * bob has left (too slow to keep up)"
        );
        assert_eq!(
            ev("LEAVE bob banned").unwrap(),
            "[09:05] * bob has left (banned)",
            "an unknown reason is shown as its code"
        );
        assert_eq!(LeaveReason::Timeout.describe(), "timed out");
    }

    #[test]
    fn the_folder_changing_is_timed_as_chat_is() {
        assert_eq!(
            ev("SHARED bob notes.txt 1234").unwrap(),
            "[09:05] * bob shared notes.txt (1.2 KiB)"
        );
        assert_eq!(
            ev("DELETED bob notes.txt").unwrap(),
            "[09:05] * bob deleted notes.txt"
        );
        assert_eq!(
            ev("RENAMED bob a.txt b.txt").unwrap(),
            "[09:05] * bob renamed a.txt to b.txt"
        );
    }

    #[test]
    fn errors_in_words() {
        let tell = Request::Tell {
            name: name("carol"),
            text: "hi".into(),
        };
        let l = rep(
            tell,
            &[],
            "ERR no-such-user no user named carol is connected",
        )
        .unwrap();
        assert_eq!(l.text, "! no such user: carol");
        assert!(l.is_error);
        let put = Request::Put {
            file: FileName::new("big.iso").unwrap(),
            size: 25,
            sha256: None,
        };
        assert_eq!(
            rep(
                put,
                &[],
                "ERR no-space the shared folder is limited to 3 files and has 3; none left for big.iso"
            )
            .unwrap()
            .text,
            "! no room on the server: the shared folder is limited to 3 files and has 3; none left for big.iso"
        );
        let hello = Request::Hello {
            name: name("bob"),
            history: None,
            stamps: false,
            data: None,
        };
        assert_eq!(
            rep(hello, &[], "ERR name-taken bob is taken; choose another")
                .unwrap()
                .text,
            "! the name bob is taken"
        );
        assert_eq!(
            rep(
                Request::Files,
                &[],
                "ERR unknown-command FILES is not served"
            )
            .unwrap()
            .text,
            "! this server does not offer FILES (FILES is not served)"
        );
        assert!(error_words(&ErrorCode::AuthRequired, "AUTH <secret>", None)
            .starts_with("this server wants a secret before a name: give it with --secret-file PATH or the NATTER_SECRET"));
        assert_eq!(
            error_words(
                &ErrorCode::AuthFailed,
                "wrong secret (1 of 3 tries used)",
                None
            ),
            "the server refused the secret: wrong secret (1 of 3 tries used)"
        );
        assert_eq!(
            error_words(&ErrorCode::ReadOnly, "", None),
            "the server's shared folder is read-only"
        );
        assert_eq!(
            error_words(&ErrorCode::Busy, "3 transfers running", None),
            "the server is busy: 3 transfers running"
        );
        assert_eq!(
            error_words(
                &ErrorCode::Other("brand-new".into()),
                "as the server says",
                None
            ),
            "as the server says"
        );
        assert_eq!(
            error_words(&ErrorCode::Other("brand-new".into()), "", None),
            "brand-new"
        );
    }

    #[test]
    fn replies() {
        let who = rep(
            Request::Who,
            &[
                "USER alice 127.0.0.1:1 2026-11-22T17:03:05Z",
                "USER bob 127.0.0.1:2 2026-11-22T17:03:05Z",
            ],
            "OK WHO 2",
        );
        assert_eq!(who.unwrap().text, "* 2 users online: alice (you), bob");
        assert_eq!(
            rep(Request::Who, &[], "OK WHO 0").unwrap().text,
            "* 0 users online"
        );
        assert_eq!(
            rep(
                Request::Ping {
                    text: String::new()
                },
                &[],
                "OK PING"
            )
            .unwrap()
            .text,
            "* pong: 0.42 ms round trip"
        );
        assert_eq!(
            rep(
                Request::Hello {
                    name: name("alice"),
                    history: None,
                    stamps: false,
                    data: None
                },
                &[],
                "OK HELLO alice"
            ),
            None
        );
        assert_eq!(
            rep(
                Request::Quit {
                    text: String::new()
                },
                &[],
                "OK QUIT"
            ),
            None
        );
        assert_eq!(
            rep(
                Request::Calc { expr: "1/0".into() },
                &[],
                "ERR calc division by zero"
            )
            .unwrap()
            .text,
            "! calc: division by zero"
        );
        assert_eq!(
            rep(Request::Calc { expr: "x".into() }, &[], "OK CALC 20")
                .unwrap()
                .text,
            "* = 20"
        );
        assert_eq!(
            rep(Request::Echo { text: "x".into() }, &[], "OK ECHO  hi there")
                .unwrap()
                .text,
            "* echo:  hi there"
        );
        let guess = |n| Request::Guess { guess: n };
        for (wire, want) in [
            ("OK GUESS started 1 100", "* guess a number from 1 to 100"),
            ("OK GUESS higher 1", "* higher"),
            ("OK GUESS lower 2", "* lower"),
            ("OK GUESS correct 5", "* correct in 5 tries!"),
            ("OK GUESS correct 1", "* correct in 1 try!"),
        ] {
            assert_eq!(rep(guess(Some(50)), &[], wire).unwrap().text, want);
        }
        assert_eq!(
            rep(
                guess(Some(500)),
                &[],
                "ERR bad-request a guess is a whole number from 1 to 100, not 500"
            )
            .unwrap()
            .text,
            "! a guess is a whole number from 1 to 100, not 500"
        );
        assert_eq!(
            rep_all(
                Request::Files,
                &[
                    "FILE a%20b.txt 2048 2026-11-22T17:03:05Z",
                    "FILE cat.png 48213 2026-11-22T17:03:05Z",
                    "FILE x 7 2026-11-22T17:03:05Z",
                ],
                "OK FILES 3",
            ),
            [
                "* SharedFiles: 3 files, 49.1 KiB",
                "  a b.txt   2.0 KiB   (2,048 bytes)",
                "  cat.png  47.1 KiB   (48,213 bytes)",
                "  x             7 B   (7 bytes)",
            ]
        );
        assert_eq!(
            rep_all(Request::Files, &[], "OK FILES 0"),
            ["* SharedFiles: 0 files, 0 B"]
        );
        // Lines that could not be read were skipped: what the server counted says so.
        assert_eq!(
            rep_all(
                Request::Files,
                &["FILE x 7 2026-11-22T17:03:05Z"],
                "OK FILES 3"
            ),
            [
                "* SharedFiles: 3 files, 7 B",
                "  x  7 B   (7 bytes)",
                "* 2 files more in the listing could not be shown: their lines could not be read",
            ]
        );
    }

    #[test]
    fn files_and_status_show_the_folder_against_its_limits() {
        let files =
            |fin: &str| rep_all(Request::Files, &["FILE x 7 2026-11-22T17:03:05Z"], fin).remove(0);
        // The server's count of the folder, not the listing's, against the limits.
        assert_eq!(
            files("OK FILES 1 12 3328599654 - 10737418240"),
            "* SharedFiles: 12 files, 3.1 GiB of 10 GiB"
        );
        assert_eq!(
            files("OK FILES 1 12 3328599654 500 10737418240"),
            "* SharedFiles: 12 of 500 files, 3.1 GiB of 10 GiB"
        );
        assert_eq!(
            files("OK FILES 1 1 7 1 -"),
            "* SharedFiles: 1 of 1 file, 7 B"
        );
        assert_eq!(files("OK FILES 1 1 7 - -"), "* SharedFiles: 1 file, 7 B");
        // Past a limit (files put there by hand): said as it is.
        assert_eq!(
            files("OK FILES 1 3 2048 2 1024"),
            "* SharedFiles: 3 of 2 files, 2.0 KiB of 1 KiB"
        );
        let status = |fin: &str| rep_all(Request::Status, &[], fin);
        assert_eq!(
            status("OK STATUS 2 1000 7500 12 3328599654 - 10737418240"),
            [
                "* 2 connected of at most 1000; up 2 h 5 min; ● live",
                "* shared folder: 12 files, 3.1 GiB of 10 GiB",
                "     name  address  connected  in  out",
            ]
        );
        assert_eq!(
            status("OK STATUS 2 1000 7500 12 3328599654 500 - cluster of 2 nodes; this is pi-a")[..2],
            [
                "* 2 connected of at most 1000; up 2 h 5 min (cluster of 2 nodes; this is pi-a); ● live",
                "* shared folder: 12 of 500 files, 3.1 GiB",
            ]
        );
        // A server from before December 2026 says nothing of the folder.
        assert_eq!(
            status("OK STATUS 2 1000 7500"),
            [
                "* 2 connected of at most 1000; up 2 h 5 min; ● live",
                "     name  address  connected  in  out",
            ]
        );
    }

    #[test]
    fn status_is_a_table_of_sessions() {
        let lines = rep_all(
            Request::Status,
            &[
                // Connected 12 minutes before `now`.
                "SESSION 7 alice 127.0.0.1:51234 2026-11-22T16:51:05Z - 1300 3500",
                "SESSION 9 - [::1]:40000 2026-11-22T17:03:00Z - 0 62",
                // Ended today, and one that began yesterday (local time, UTC+1).
                "SESSION 5 bob 127.0.0.1:5555 2026-11-22T13:02:00Z 2026-11-22T13:05:30Z 120 90",
                "SESSION 2 carol 127.0.0.1:6 2026-11-21T22:30:00Z 2026-11-22T01:00:00Z 5 2048",
            ],
            "OK STATUS 2 1000 7500",
        );
        assert_eq!(
            lines,
            [
                "* 2 connected of at most 1000; up 2 h 5 min; ● live",
                "     name         address          connected                  in       out",
                "  ●  alice (you)  127.0.0.1:51234  12 min ago                 1.3 KiB  3.4 KiB",
                "  ●  -            [::1]:40000      5 s ago                    0 B      62 B",
                "     bob          127.0.0.1:5555   14:02 to 14:05             120 B    90 B",
                "     carol        127.0.0.1:6      2026-11-21 23:30 to 02:00  5 B      2.0 KiB",
            ]
        );
    }

    #[test]
    fn history_is_dimmed_with_the_servers_time_and_counted() {
        let f = frame("HISTORY 7 2026-11-22T16:51:05Z bob said \x1b[31mthis");
        let line = event(&f, &PLAIN).unwrap();
        // Local time (UTC+1 here), and a control character made harmless.
        assert!(
            line.text.starts_with("[17:51] <bob> said "),
            "{}",
            line.text
        );
        assert!(line.text.ends_with("[31mthis") && !line.text.contains('\x1b'));
        assert_eq!(
            rep(Request::History { count: Some(50) }, &[], "OK HISTORY 0")
                .unwrap()
                .text,
            "* no earlier messages are kept"
        );
        assert_eq!(
            rep(Request::History { count: None }, &[], "OK HISTORY 12")
                .unwrap()
                .text,
            "* 12 earlier messages above"
        );
    }

    #[test]
    fn on_a_cluster_status_shows_each_sessions_node_and_the_cluster() {
        let lines = rep_all(
            Request::Status,
            &[
                "SESSION 7 alice 127.0.0.1:51234 2026-11-22T16:51:05Z - 1300 3500 - pi-a",
                "SESSION 3 bob 10.0.0.2:40000 2026-11-22T17:03:00Z - 0 0 - pi-b",
                "SESSION 5 carol 127.0.0.1:5555 2026-11-22T13:02:00Z 2026-11-22T13:05:30Z 120 90 quit pi-a",
            ],
            "OK STATUS 1 1000 7500 cluster of 2 nodes; this is pi-a",
        );
        assert_eq!(
            lines,
            [
                "* 1 connected of at most 1000; up 2 h 5 min (cluster of 2 nodes; this is pi-a); ● live",
                "     name         address          connected              in       out      node",
                "  ●  alice (you)  127.0.0.1:51234  12 min ago             1.3 KiB  3.4 KiB  pi-a",
                "  ●  bob          10.0.0.2:40000   5 s ago                0 B      0 B      pi-b",
                "     carol        127.0.0.1:5555   14:02 to 14:05 (quit)  120 B    90 B     pi-a",
            ]
        );
        let who = rep(
            Request::Who,
            &["USER alice 127.0.0.1:1 2026-11-22T17:03:05Z"],
            "OK WHO 1 cluster degraded: node pi-a cannot reach redis://r:6379",
        );
        assert_eq!(
            who.unwrap().text,
            "* 1 user online (cluster degraded: node pi-a cannot reach redis://r:6379): alice (you)"
        );
    }

    #[test]
    fn file_commands_in_words() {
        let f = |s: &str| FileName::new(s).unwrap();
        let del = || Request::Delete { file: f("x") };
        let mv = || Request::Rename {
            old: f("a b"),
            new: f("c"),
        };
        assert_eq!(rep(del(), &[], "OK DELETE x").unwrap().text, "* deleted x");
        assert_eq!(
            rep(mv(), &[], "OK RENAME a%20b c").unwrap().text,
            "* renamed a b to c"
        );
        assert_eq!(
            rep(del(), &[], "ERR no-such-file x is not in the shared folder")
                .unwrap()
                .text,
            "! no such file: x"
        );
        assert_eq!(
            rep(mv(), &[], "ERR no-such-file gone").unwrap().text,
            "! no such file: a b"
        );
        assert_eq!(
            rep(mv(), &[], "ERR exists c already exists").unwrap().text,
            "! c already exists"
        );
        assert_eq!(
            rep(
                del(),
                &[],
                "ERR read-only this server's shared folder is read-only"
            )
            .unwrap()
            .text,
            "! the server's shared folder is read-only"
        );
        let get = Request::Get {
            file: f("x"),
            offset: None,
        };
        assert_eq!(
            rep(get, &[], "OK GET 1 x 5"),
            None,
            "a transfer speaks for itself"
        );
    }

    #[test]
    fn network_text_in_lines_is_escaped() {
        assert_eq!(
            ev("FROM bob \x1b]0;pwned\x07 hi").unwrap(),
            "[09:05] <bob> ^[]0;pwned^G hi"
        );
        assert_eq!(
            ev("LEAVE bob quit \x1b[31mred").unwrap(),
            "[09:05] * bob has left (quit: ^[[31mred)"
        );
        // A file name cannot carry a control at all: the frame is refused whole.
        assert!(FileName::new("x\u{85}y").is_err());
        assert!(natter_protocol::decode_server_frame(b"SHARED bob x%C2%85y 1\n").is_err());
    }

    #[test]
    fn colours_only_when_asked() {
        let colored = View {
            style: Style { color: true },
            ..PLAIN
        };
        let table = reply(
            &Request::Status,
            &[frame(
                "SESSION 7 alice 127.0.0.1:1 2026-11-22T16:51:05Z - 1 1",
            )],
            &frame("OK STATUS 1 10 5"),
            Duration::ZERO,
            &colored,
        );
        assert!(table[2].text.contains("\x1b[32m●\x1b[0m"), "{table:?}");
        let l = event(&frame("FROM bob hi"), &colored).unwrap().text;
        assert!(l.contains("\x1b["), "{l:?}");
        assert!(l.ends_with(" hi"));
        let e = Line::error(Style { color: true }, "bad");
        assert_eq!(e.text, "\x1b[31m! bad\x1b[0m");
        for wire in [
            "FROM bob hi",
            "PRIVATE bob hi",
            "JOIN bob",
            "LEAVE bob lost",
        ] {
            assert!(!ev(wire).unwrap().contains('\x1b'), "{wire}");
        }
        // A name keeps its colour.
        assert_eq!(
            Style { color: true }.name("bob"),
            Style { color: true }.name("Bob").replace("Bob", "bob")
        );
    }

    #[test]
    fn events_without_a_line_of_their_own() {
        for wire in [
            "USER bob 127.0.0.1:2 2026-11-22T17:03:05Z",
            "SHUTDOWN going down",
            "OK PING",
            "WELCOME natter/1 1 hi",
        ] {
            assert_eq!(ev(wire), None, "{wire}");
        }
        assert_eq!(ev("DONE 3").unwrap(), "* transfer 3 done");
        assert_eq!(
            ev("FAILED 3 no-space disk full").unwrap(),
            "! transfer 3 failed: no room on the server: disk full"
        );
    }
}
