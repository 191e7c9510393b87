//! Server frames in, lines for people out: the words, the optional colours, and the
//! escaping of everything that came from the network.
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

use natter_protocol::{ErrorCode, Reply, Request, ServerFrame, Time};
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

/// The line for a request's final reply (`OK` or `ERR`), given the request it answers,
/// the items that came before it, and how long it took. `None` when the reply needs no
/// line (the `OK` to `HELLO` or `QUIT`).
pub fn reply(
    req: &Request,
    items: &[ServerFrame],
    fin: &ServerFrame,
    rtt: Duration,
    v: &View,
) -> Option<Line> {
    let s = v.style;
    let reply = match fin {
        ServerFrame::Err { code, text } => {
            return Some(Line::error(s, &error_words(code, text, Some(req))))
        }
        ServerFrame::Ok(reply) => reply,
        _ => return None,
    };
    Some(match (reply, req) {
        (Reply::Hello { .. } | Reply::Quit, _) => return None,
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
        (Reply::Files { count }, _) => {
            let files: Vec<String> = items
                .iter()
                .filter_map(|f| match f {
                    ServerFrame::File { file, size, .. } => Some(format!(
                        "{} ({})",
                        sanitize(file.as_str()),
                        human_size(*size)
                    )),
                    _ => None,
                })
                .collect();
            let noun = if *count == 1 { "file" } else { "files" };
            Line::info(s, &format!("{count} shared {noun}: {}", files.join(", ")))
        }
        (Reply::Echo { text }, _) => Line::info(s, &format!("echo: {}", sanitize(text))),
        (Reply::Calc { result }, _) => Line::info(s, &format!("= {}", sanitize(result))),
        // A reply this client has no words for yet: say what it was.
        (other, _) => Line::info(s, &format!("{} done", other.verb())),
    })
}

/// An `ERR` code and its text in words; the request it answers fills in names.
pub fn error_words(code: &ErrorCode, text: &str, req: Option<&Request>) -> String {
    let text = sanitize(text);
    match (code, req) {
        (ErrorCode::NoSuchUser, Some(Request::Tell { name, .. })) => {
            format!("no such user: {name}")
        }
        (ErrorCode::NameTaken, Some(Request::Hello { name })) => {
            format!("the name {name} is taken")
        }
        (ErrorCode::BadName, Some(Request::Hello { name })) => {
            format!("{name} is not a valid name: {text}")
        }
        // The server's text tells a protocol speaker to send AUTH; a person needs to
        // know this client has no way to give a secret yet.
        (ErrorCode::AuthRequired, _) => {
            "this server wants a secret before a name, and natter cannot send one yet".into()
        }
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

    fn rep(req: Request, items: &[&str], fin: &str) -> Option<Line> {
        let items: Vec<ServerFrame> = items.iter().map(|w| frame(w)).collect();
        reply(
            &req,
            &items,
            &frame(fin),
            Duration::from_micros(420),
            &PLAIN,
        )
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
            .starts_with("this server wants a secret"));
        assert_eq!(
            error_words(&ErrorCode::ReadOnly, "", None),
            "the shared folder is read-only"
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
            rep(Request::Status, &[], "OK STATUS 1 10 5").unwrap().text,
            "* STATUS done"
        );
        let files = rep(
            Request::Files,
            &["FILE a%20b.txt 2048 2026-11-22T17:03:05Z"],
            "OK FILES 1",
        );
        assert_eq!(files.unwrap().text, "* 1 shared file: a b.txt (2.0 KiB)");
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
    fn local_time_is_a_time_of_day() {
        let (h, m) = local_hm(Time::now());
        assert!(h < 24 && m < 60);
    }
}
