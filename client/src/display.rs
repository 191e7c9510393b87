//! Server frames in, lines for people out: the words, the optional colours, and the
//! escaping of everything that came from the network; also sizes, durations and I/O
//! errors in words. It uses no other module of the client, so every layer may use it
//! (the connection's errors, the reader's lines, the prompt's messages).
//!
//! Pure, apart from [`local_hm`], which asks the C library for the local time zone.
//! Conventions (the README lists them for users):
//! - `[14:02] <bob> hi` a broadcast; `[14:02] <you> hi ✓ 3` your own, with how many it
//!   reached; `[14:02] [bob → you] psst` and `[14:02] [you → bob] psst` private ones.
//! - `* ...` something happened (joins, leaves, listings, replies).
//! - `! ...` something went wrong; batch mode writes these to stderr.
//!
//! Text from the network is passed through [`sanitize`] before it is shown, so a peer
//! cannot move the cursor, clear the screen or reorder the line with control or
//! bidirectional-override characters.

use natter_protocol::{ErrorCode, GuessReply, Reply, Request, ServerFrame, Time};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::time::Duration;

/// One line for the screen (without its `\n`), and whether it reports a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub is_error: bool,
}

impl Line {
    pub fn info(style: Style, text: &str) -> Line {
        Line {
            text: format!("{} {text}", style.paint(CYAN, "*")),
            is_error: false,
        }
    }

    pub fn error(style: Style, text: &str) -> Line {
        Line {
            text: style.paint(RED, &format!("! {text}")),
            is_error: true,
        }
    }

    /// Shown as given: help text and the like, written by this program.
    pub fn plain(text: impl Into<String>) -> Line {
        Line {
            text: text.into(),
            is_error: false,
        }
    }
}

/// Whether to colour. Off unless the output is a terminal and neither `--no-color`
/// nor `NO_COLOR` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
}

const RED: &str = "31";
const GREEN: &str = "32";
const MAGENTA: &str = "35";
const CYAN: &str = "36";
const DIM: &str = "2";
const BOLD: &str = "1";
/// Colours for other people's names, picked by a hash of the name so a person keeps
/// theirs. Red is left out: it means an error here.
const NAME_COLORS: &[&str] = &["32", "33", "34", "35", "36", "92", "93", "94", "95", "96"];

impl Style {
    pub fn paint(self, sgr: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn name(self, name: &str) -> String {
        let h = name
            .to_ascii_lowercase()
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        self.paint(NAME_COLORS[h as usize % NAME_COLORS.len()], name)
    }
}

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

/// Makes text from the network safe to print: C0 controls become `^X`, DEL `^?`,
/// C1 controls and bidirectional overrides `<U+XXXX>`, a tab a space.
pub fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(' '),
            '\x7f' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push((c as u8 + 0x40) as char);
            }
            c if needs_escape(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        // Marks and overrides that reorder what follows them on the line.
        | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        // Line and paragraph separators, which some terminals honour.
        | '\u{2028}' | '\u{2029}')
}

/// The line for an event (or `None` for frames that are not shown on their own:
/// items, which belong to a reply, file data, and `SHUTDOWN`, which ends the session
/// and is reported then).
pub fn event(frame: &ServerFrame, v: &View) -> Option<Line> {
    let s = v.style;
    Some(match frame {
        ServerFrame::From { name, text } => Line::plain(format!(
            "{} <{}> {}",
            v.stamp(),
            s.name(name.as_str()),
            sanitize(text)
        )),
        ServerFrame::Private { name, text } => Line::plain(format!(
            "{} {} {}",
            v.stamp(),
            s.paint(&format!("{BOLD};{MAGENTA}"), &format!("[{name} → you]")),
            sanitize(text)
        )),
        ServerFrame::Join { name } if v.is_me(name.as_str()) => {
            Line::info(s, &format!("you have joined as {name}"))
        }
        ServerFrame::Join { name } => Line::info(s, &format!("{name} has joined")),
        ServerFrame::Leave { name, reason, text } => {
            let why = match (reason.describe(), sanitize(text)) {
                (r, t) if t.is_empty() => r.to_string(),
                (r, t) => format!("{r}: {t}"),
            };
            Line::info(s, &format!("{name} has left ({why})"))
        }
        ServerFrame::Shared { name, file, size } => Line::info(
            s,
            &format!(
                "{name} shared {} ({})",
                sanitize(file.as_str()),
                human_size(*size)
            ),
        ),
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
        (Reply::Files { count }, _) => return files_table(*count, items, s),
        (
            Reply::Status {
                active,
                max_clients,
                uptime_s,
            },
            _,
        ) => return status_table((*active, *max_clients, *uptime_s), items, v),
        (Reply::Say { delivered }, Request::Say { text }) => Line::plain(format!(
            "{} <{}> {} {}",
            v.stamp(),
            s.paint(BOLD, "you"),
            sanitize(text),
            s.paint(&format!("{DIM};{GREEN}"), &format!("✓ {delivered}"))
        )),
        (Reply::Tell { name }, Request::Tell { text, .. }) => Line::plain(format!(
            "{} {} {}",
            v.stamp(),
            s.paint(&format!("{BOLD};{MAGENTA}"), &format!("[you → {name}]")),
            sanitize(text)
        )),
        (Reply::Who { count }, _) => {
            let names: Vec<String> = items
                .iter()
                .filter_map(|f| match f {
                    ServerFrame::User { name, .. } if v.is_me(name.as_str()) => {
                        Some(format!("{name} (you)"))
                    }
                    ServerFrame::User { name, .. } => Some(name.to_string()),
                    _ => None,
                })
                .collect();
            let people = if *count == 1 { "user" } else { "users" };
            if names.is_empty() {
                Line::info(s, &format!("{count} {people} online"))
            } else {
                Line::info(s, &format!("{count} {people} online: {}", names.join(", ")))
            }
        }
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

/// `* 3 connected of at most 1000; up 2 h 5 min`, then a header and one row per
/// session: live ones (marked `●`) with how long ago they connected, ended ones with
/// when they began and ended, and the traffic the server counted each way.
fn status_table(summary: (u64, u64, u64), items: &[ServerFrame], v: &View) -> Vec<Line> {
    let (active, max, uptime) = summary;
    let s = v.style;
    let mut rows = vec![[
        " ".to_string(),
        "name".to_string(),
        "address".to_string(),
        "connected".to_string(),
        "in".to_string(),
        "out".to_string(),
    ]];
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
            Some(end) => format!("{} to {}", v.when(x.connected), v.when(end)),
        };
        rows.push([
            if live { "●" } else { " " }.to_string(),
            name,
            x.addr.to_string(),
            when,
            human_size(x.bytes_in),
            human_size(x.bytes_out),
        ]);
    }
    let mut widths = [0usize; 6];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut lines = vec![Line::info(
        s,
        &format!(
            "{active} connected of at most {max}; up {}; ● live",
            duration_words(Duration::from_secs(uptime))
        ),
    )];
    for (i, r) in rows.iter().enumerate() {
        let mut text = format!("  {}", r[0]);
        for (cell, w) in r.iter().zip(widths).skip(1) {
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

/// `* SharedFiles: 2 files`, then one row per file: name, size in human units, exact
/// bytes.
fn files_table(count: u64, items: &[ServerFrame], s: Style) -> Vec<Line> {
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
    let noun = if count == 1 { "file" } else { "files" };
    let mut lines = vec![Line::info(s, &format!("SharedFiles: {count} {noun}"))];
    let name_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let size_w = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    for (name, human, exact) in rows {
        lines.push(Line::plain(format!(
            "  {name:<name_w$}  {human:>size_w$}   ({exact} bytes)"
        )));
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
        (ErrorCode::NameTaken, Some(Request::Hello { name })) => {
            format!("the name {name} is taken")
        }
        (ErrorCode::BadName, Some(Request::Hello { name })) => {
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
        ErrorCode::NoSpace => "the server is out of space",
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
        ErrorCode::Other(code) => code,
    }
}

/// `512 B`, `12.3 KiB`, `4.0 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: &[&str] = &["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `3 s`, `2 min 5 s`, `1 h 3 min`, `2 d 4 h`: two units at most.
pub fn duration_words(d: Duration) -> String {
    let s = d.as_secs();
    let (big, small, units) = match s {
        0..=59 => return format!("{s} s"),
        60..=3599 => (s / 60, s % 60, ("min", "s")),
        3600..=86399 => (s / 3600, s % 3600 / 60, ("h", "min")),
        _ => (s / 86400, s % 86400 / 3600, ("d", "h")),
    };
    match small {
        0 => format!("{big} {}", units.0),
        _ => format!("{big} {} {small} {}", units.0, units.1),
    }
}

/// `48213` -> `48,213`: exact byte counts a person can read.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    // The leading group has 1 to 3 digits; every later one exactly 3.
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// An I/O error as a person reads it: std's text without the `(os error N)` tail.
pub fn io_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

/// The local time zone's offset from UTC at `t`, in seconds; 0 if the C library
/// cannot say.
pub fn utc_offset(t: Time) -> i64 {
    let Ok(secs) = libc::time_t::try_from(t.0) else {
        return 0;
    };
    // SAFETY: as in `local_hm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff as i64
    }
}

/// Hours and minutes of `t` in the local time zone; UTC if the C library cannot say.
pub fn local_hm(t: Time) -> (u32, u32) {
    let Ok(secs) = libc::time_t::try_from(t.0) else {
        return t.hour_minute();
    };
    // SAFETY: localtime_r reads one time_t and writes one tm, both ours; a zeroed tm is
    // a valid value of that plain C struct.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return t.hour_minute();
        }
        (tm.tm_hour as u32, tm.tm_min as u32)
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
        assert_eq!(ev("JOIN bob").unwrap(), "* bob has joined");
        assert_eq!(ev("JOIN Alice").unwrap(), "* you have joined as Alice");
        assert_eq!(
            ev("LEAVE bob lost").unwrap(),
            "* bob has left (connection lost)"
        );
        assert_eq!(
            ev("LEAVE bob quit see you").unwrap(),
            "* bob has left (quit: see you)"
        );
        assert_eq!(
            ev("LEAVE bob too-slow").unwrap(),
            "* bob has left (too slow to keep up)"
        );
        assert_eq!(
            ev("LEAVE bob banned").unwrap(),
            "* bob has left (banned)",
            "an unknown reason is shown as its code"
        );
        assert_eq!(LeaveReason::Timeout.describe(), "timed out");
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
        let hello = Request::Hello { name: name("bob") };
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
                    name: name("alice")
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
                "* SharedFiles: 3 files",
                "  a b.txt   2.0 KiB   (2,048 bytes)",
                "  cat.png  47.1 KiB   (48,213 bytes)",
                "  x             7 B   (7 bytes)",
            ]
        );
        assert_eq!(
            rep_all(Request::Files, &[], "OK FILES 0"),
            ["* SharedFiles: 0 files"]
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
    fn network_text_cannot_drive_the_terminal() {
        assert_eq!(sanitize("plain ünïcode ✓"), "plain ünïcode ✓");
        assert!(matches!(sanitize("fine"), Cow::Borrowed(_)));
        assert_eq!(sanitize("\x1b[2J\x1b[H"), "^[[2J^[[H");
        assert_eq!(sanitize("a\rb\x07c\x08\x7f"), "a^Mb^Gc^H^?");
        assert_eq!(sanitize("tab\there"), "tab here");
        assert_eq!(sanitize("\u{9b}31m"), "<U+009B>31m");
        assert_eq!(sanitize("abc\u{202e}fed"), "abc<U+202E>fed");
        assert_eq!(
            ev("FROM bob \x1b]0;pwned\x07 hi").unwrap(),
            "[09:05] <bob> ^[]0;pwned^G hi"
        );
        assert_eq!(
            ev("LEAVE bob quit \x1b[31mred").unwrap(),
            "* bob has left (quit: ^[[31mred)"
        );
        let f = FileName::new("x\u{85}y").unwrap();
        let shared = ServerFrame::Shared {
            name: name("bob"),
            file: f,
            size: 1,
        };
        assert_eq!(
            event(&shared, &PLAIN).unwrap().text,
            "* bob shared x<U+0085>y (1 B)"
        );
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
            "! transfer 3 failed: the server is out of space: disk full"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 20), "5.0 MiB");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(48213), "48,213");
        assert_eq!(group_digits(3201112), "3,201,112");
        assert_eq!(group_digits(1_000_000), "1,000,000");
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(Duration::from_secs(3)), "3 s");
        assert_eq!(duration_words(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(duration_words(Duration::from_secs(720)), "12 min");
        assert_eq!(duration_words(Duration::from_secs(7500)), "2 h 5 min");
        assert_eq!(duration_words(Duration::from_secs(7200)), "2 h");
        assert_eq!(duration_words(Duration::from_secs(187200)), "2 d 4 h");
    }

    #[test]
    fn io_words_drop_the_os_error_number() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(io_words(&e), "connection reset by peer");
    }

    #[test]
    fn local_time_is_a_time_of_day() {
        let (h, m) = local_hm(Time::now());
        assert!(h < 24 && m < 60);
    }
}
