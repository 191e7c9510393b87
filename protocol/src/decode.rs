//! The incremental decoder: whatever bytes have arrived in, whole frames out.
//!
//! It never buffers: it looks at the caller's bytes and says how many a frame used.
//! "Not enough bytes yet" is the normal [`Decoded::Incomplete`], not an error. An
//! over-long header is refused as soon as the limit has arrived without a newline,
//! so a reader never has to hold more than `max header + MAX_DATA` bytes (a client
//! reading the server: `MAX_BIG_DATA`, which it may have asked for).

use crate::fields::{
    parse_int, ErrorCode, FieldError, FileName, LeaveReason, Secret, Time, UserName,
};
use crate::frame::{FolderUsage, GuessReply, Reply, Request, ServerFrame, SessionInfo};
use crate::{MAX_BIG_DATA, MAX_DATA, MAX_HEADER, MAX_SERVER_HEADER};
use std::fmt;
use std::net::SocketAddr;

/// What one call to a decoder found at the front of the bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<F> {
    /// A whole frame, and how many bytes it used.
    Frame(F, usize),
    /// An empty line, which is not a request; drop `used` bytes and go on.
    Blank(usize),
    /// The frame at the front has not fully arrived.
    Incomplete,
}

/// A frame that could not be decoded. Unless `fatal`, the reader drops `used` bytes
/// (the bad line) and goes on; when `fatal` the stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub code: ErrorCode,
    pub text: String,
    pub used: usize,
    pub fatal: bool,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.text)
    }
}

impl std::error::Error for DecodeError {}

/// Decodes the client frame at the front of `buf` (header limit [`MAX_HEADER`]).
pub fn decode_request(buf: &[u8]) -> Result<Decoded<Request>, DecodeError> {
    decode_with(buf, MAX_HEADER, MAX_DATA, parse_request, |xfer, data| {
        Request::Data { xfer, data }
    })
}

/// Decodes the server frame at the front of `buf` (header limit [`MAX_SERVER_HEADER`],
/// `DATA` bodies up to [`MAX_BIG_DATA`]: the client may have asked for them).
pub fn decode_server_frame(buf: &[u8]) -> Result<Decoded<ServerFrame>, DecodeError> {
    decode_with(
        buf,
        MAX_SERVER_HEADER,
        MAX_BIG_DATA,
        parse_server_frame,
        |xfer, data| ServerFrame::Data { xfer, data },
    )
}

fn decode_with<F>(
    buf: &[u8],
    max_header: usize,
    max_data: usize,
    parse: fn(&str) -> Result<F, LineError>,
    data: fn(u64, Vec<u8>) -> F,
) -> Result<Decoded<F>, DecodeError> {
    let window = &buf[..buf.len().min(max_header)];
    let Some(nl) = window.iter().position(|&b| b == b'\n') else {
        if buf.len() >= max_header {
            return Err(DecodeError {
                code: ErrorCode::LineTooLong,
                text: format!("a line is at most {max_header} bytes"),
                used: buf.len(),
                fatal: true,
            });
        }
        return Ok(Decoded::Incomplete);
    };
    let header_len = nl + 1;
    let mut line = &buf[..nl];
    // Every CR before the LF goes, so a decoded text never ends in one (an encoder
    // could not write it back).
    while let [rest @ .., b'\r'] = line {
        line = rest;
    }
    if line.is_empty() {
        return Ok(Decoded::Blank(header_len));
    }
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    if line[..verb_end].eq_ignore_ascii_case(b"DATA") {
        let fatal = |text: String| DecodeError {
            code: ErrorCode::BadRequest,
            text,
            used: buf.len(),
            fatal: true,
        };
        let (xfer, len) = parse_data_header(line, max_data).map_err(fatal)?;
        let end = header_len + len;
        if buf.len() < end {
            return Ok(Decoded::Incomplete);
        }
        return Ok(Decoded::Frame(
            data(xfer, buf[header_len..end].to_vec()),
            end,
        ));
    }
    let err = |e: LineError| DecodeError {
        code: e.code,
        text: e.text,
        used: header_len,
        fatal: false,
    };
    let line = std::str::from_utf8(line).map_err(|_| {
        err(LineError::new(
            ErrorCode::BadRequest,
            "a line must be valid UTF-8",
        ))
    })?;
    parse(line)
        .map(|f| Decoded::Frame(f, header_len))
        .map_err(err)
}

fn parse_data_header(line: &[u8], max_data: usize) -> Result<(u64, usize), String> {
    let usage = || format!("a DATA header is `DATA <xfer> <bytes>` with at most {max_data} bytes");
    let line = std::str::from_utf8(line).map_err(|_| usage())?;
    // Extra spaces are forgiven here as everywhere else.
    let mut parts = line.split(' ').filter(|p| !p.is_empty()).skip(1);
    let (Some(x), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(usage());
    };
    let xfer = parse_int(x).map_err(|_| usage())?;
    let len = parse_int(n).map_err(|_| usage())?;
    if len > max_data as u64 {
        return Err(usage());
    }
    Ok((xfer, len as usize))
}

/// Why one line was refused, before the decoder adds how many bytes it used.
#[derive(Debug)]
struct LineError {
    code: ErrorCode,
    text: String,
}

impl LineError {
    fn new(code: ErrorCode, text: impl Into<String>) -> LineError {
        LineError {
            code,
            text: text.into(),
        }
    }
}

/// Maps a field rule to the `ERR` code the spec gives it.
fn field_err(e: FieldError) -> LineError {
    use FieldError::*;
    let code = match e {
        NameEmpty | NameTooLong(_) | NameBadStart(_) | NameBadChar(_) | FileEmpty
        | FileTooLong(_) | FileBadEscape | FileNotUtf8 | FileSlash | FileControl | FileBidi
        | FileDot => ErrorCode::BadName,
        _ => ErrorCode::BadRequest,
    };
    LineError::new(code, e.to_string())
}

/// Walks the fields of one line: single spaces between fields, the `text` field the
/// rest of the line as is. Extra spaces before a non-text field are forgiven, for
/// people typing into `nc`.
#[derive(Clone)]
struct Fields<'a> {
    rest: &'a str,
    usage: &'static str,
}

impl<'a> Fields<'a> {
    fn new(after_verb: &'a str, usage: &'static str) -> Fields<'a> {
        Fields {
            rest: after_verb.strip_prefix(' ').unwrap_or(after_verb),
            usage,
        }
    }

    fn usage(&self) -> LineError {
        LineError::new(ErrorCode::BadRequest, format!("usage: {}", self.usage))
    }

    fn opt(&mut self) -> Option<&'a str> {
        let rest = self.rest.trim_start_matches(' ');
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let (f, r) = rest.split_once(' ').unwrap_or((rest, ""));
        self.rest = r;
        Some(f)
    }

    fn next(&mut self) -> Result<&'a str, LineError> {
        self.opt().ok_or_else(|| self.usage())
    }

    fn int(&mut self) -> Result<u64, LineError> {
        let s = self.next()?;
        parse_int(s).map_err(field_err)
    }

    fn name(&mut self) -> Result<UserName, LineError> {
        UserName::new(self.next()?).map_err(field_err)
    }

    fn file(&mut self) -> Result<FileName, LineError> {
        FileName::decode(self.next()?).map_err(field_err)
    }

    fn time(&mut self) -> Result<Time, LineError> {
        Time::parse(self.next()?).map_err(field_err)
    }

    fn addr(&mut self) -> Result<SocketAddr, LineError> {
        let s = self.next()?;
        s.parse()
            .map_err(|_| field_err(FieldError::BadAddr(crate::fields::shown(s))))
    }

    /// An optional SHA-256 field (64 hex digits).
    fn sha256(&mut self) -> Result<Option<crate::fields::Sha256>, LineError> {
        match self.opt() {
            None => Ok(None),
            Some(h) => crate::fields::Sha256::parse(h).map(Some).map_err(field_err),
        }
    }

    /// An `int`, or `-` for none.
    fn int_or_dash(&mut self) -> Result<Option<u64>, LineError> {
        match self.next()? {
            "-" => Ok(None),
            s => parse_int(s).map(Some).map_err(field_err),
        }
    }

    /// The shared folder's `<files> <bytes> <max-files> <max-bytes>`.
    fn folder_usage(&mut self) -> Result<FolderUsage, LineError> {
        Ok(FolderUsage {
            files: self.int()?,
            bytes: self.int()?,
            max_files: self.int_or_dash()?,
            max_bytes: self.int_or_dash()?,
        })
    }

    /// Whether only spaces are left.
    fn at_end(&self) -> bool {
        self.rest.trim_start_matches(' ').is_empty()
    }

    fn text(&mut self) -> String {
        std::mem::take(&mut self.rest).to_string()
    }

    fn end(&self) -> Result<(), LineError> {
        if self.at_end() {
            Ok(())
        } else {
            Err(self.usage())
        }
    }
}

/// A cluster node's name, as `SESSION` carries it: 1 to 64 of
/// `A-Z a-z 0-9 _ - . : [ ]`.
fn node_name(s: &str) -> Result<String, LineError> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:[]".contains(c));
    if ok {
        Ok(s.to_string())
    } else {
        Err(LineError::new(
            ErrorCode::BadRequest,
            format!("{:?} is not a node name", crate::fields::shown(s)),
        ))
    }
}

fn split_verb(line: &str) -> (&str, &str) {
    match line.find(' ') {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    }
}

/// One line of usage per request verb, for `bad-request` texts.
pub const REQUEST_USAGE: &[(&str, &str)] = &[
    ("AUTH", "AUTH <secret>"),
    ("HELLO", "HELLO <name> [history=<n>] [stamps] [data=<N>]"),
    ("HISTORY", "HISTORY [<n>]"),
    ("AWAY", "AWAY [<text>]"),
    ("BACK", "BACK"),
    ("SAY", "SAY <text>"),
    ("TELL", "TELL <name> <text>"),
    ("WHO", "WHO"),
    ("STATUS", "STATUS"),
    ("FILES", "FILES"),
    ("GET", "GET <file> [<offset>]"),
    ("PUT", "PUT <file> <size> [<sha256>]"),
    ("ABORT", "ABORT <xfer>"),
    ("DELETE", "DELETE <file>"),
    ("RENAME", "RENAME <old> <new>"),
    ("ECHO", "ECHO <text>"),
    ("CALC", "CALC <expression>"),
    ("GUESS", "GUESS [<number>]"),
    ("PING", "PING [<text>]"),
    ("QUIT", "QUIT [<text>]"),
];

fn parse_request(line: &str) -> Result<Request, LineError> {
    let (verb, rest) = split_verb(line);
    let verb_uc = verb.to_ascii_uppercase();
    let Some(&(_, usage)) = REQUEST_USAGE.iter().find(|(v, _)| *v == verb_uc) else {
        let shown: String = verb.chars().take(32).collect();
        return Err(LineError::new(
            ErrorCode::UnknownCommand,
            format!("unknown command {shown:?}"),
        ));
    };
    let mut f = Fields::new(rest, usage);
    let req = match verb_uc.as_str() {
        "AUTH" => Request::Auth {
            secret: Secret::decode(f.next()?).map_err(field_err)?,
        },
        "HELLO" => {
            let name = f.name()?;
            let (mut history, mut stamps, mut data) = (None, false, None);
            let data_range = MAX_DATA as u64..=MAX_BIG_DATA as u64;
            while let Some(opt) = f.opt() {
                let bad = |text: String| Err(LineError::new(ErrorCode::BadRequest, text));
                let key = opt.split('=').next().unwrap_or(opt).to_ascii_lowercase();
                let repeated = match key.as_str() {
                    "data" => data.is_some(),
                    "history" => history.is_some(),
                    "stamps" => stamps,
                    _ => false,
                };
                if repeated {
                    return bad(format!(
                        "HELLO takes {key} once; it came twice (the second: {:?})",
                        crate::fields::shown(opt)
                    ));
                }
                if let Some(n) = opt.strip_prefix("data=") {
                    match parse_int(n) {
                        Ok(n) if data_range.contains(&n) => data = Some(n as u32),
                        _ => {
                            return bad(format!(
                                "data= is the largest DATA body wanted, {} to {} bytes, not {:?}",
                                MAX_DATA,
                                MAX_BIG_DATA,
                                crate::fields::shown(n)
                            ))
                        }
                    }
                    continue;
                }
                match opt.strip_prefix("history=").map(parse_int) {
                    Some(Ok(n)) => history = Some(n),
                    None if opt.eq_ignore_ascii_case("stamps") => stamps = true,
                    _ => {
                        return bad(format!(
                            "HELLO takes a name, then history=<n>, stamps and data=<N> if wanted, not {:?}",
                            crate::fields::shown(opt)
                        ))
                    }
                }
            }
            Request::Hello {
                name,
                history,
                stamps,
                data,
            }
        }
        "AWAY" => Request::Away { text: f.text() },
        "BACK" => Request::Back,
        "HISTORY" => Request::History {
            count: match f.opt() {
                Some(n) => Some(parse_int(n).map_err(field_err)?),
                None => None,
            },
        },
        "SAY" => Request::Say { text: f.text() },
        "TELL" => Request::Tell {
            name: f.name()?,
            text: f.text(),
        },
        "WHO" => Request::Who,
        "STATUS" => Request::Status,
        "FILES" => Request::Files,
        "GET" => {
            let file = f.file()?;
            let offset = match f.opt() {
                Some(s) => Some(parse_int(s).map_err(field_err)?),
                None => None,
            };
            Request::Get { file, offset }
        }
        "PUT" => Request::Put {
            file: f.file()?,
            size: f.int()?,
            sha256: f.sha256()?,
        },
        "ABORT" => Request::Abort { xfer: f.int()? },
        "DELETE" => Request::Delete { file: f.file()? },
        "RENAME" => Request::Rename {
            old: f.file()?,
            new: f.file()?,
        },
        "ECHO" => Request::Echo { text: f.text() },
        "CALC" => Request::Calc { expr: f.text() },
        "GUESS" => {
            let guess = match f.opt() {
                Some(s) => Some(parse_int(s).map_err(|_| {
                    LineError::new(
                        ErrorCode::BadRequest,
                        format!(
                            "a guess is a whole number from 1 to 100, not {:?}",
                            crate::fields::shown(s)
                        ),
                    )
                })?),
                None => None,
            };
            Request::Guess { guess }
        }
        "PING" => Request::Ping { text: f.text() },
        "QUIT" => Request::Quit { text: f.text() },
        _ => unreachable!("every verb in REQUEST_USAGE is matched above"),
    };
    f.end()?;
    Ok(req)
}

fn parse_server_frame(line: &str) -> Result<ServerFrame, LineError> {
    let (verb, rest) = split_verb(line);
    let mut f = Fields::new(rest, "a natter/1 server frame");
    let frame = match verb.to_ascii_uppercase().as_str() {
        "WELCOME" => ServerFrame::Welcome {
            version: f.next()?.to_string(),
            conn_id: f.int()?,
            text: f.text(),
        },
        "OK" => ServerFrame::Ok(parse_reply(&mut f)?),
        "ERR" => ServerFrame::Err {
            code: ErrorCode::parse(f.next()?).map_err(field_err)?,
            text: f.text(),
        },
        "USER" => ServerFrame::User {
            name: f.name()?,
            addr: f.addr()?,
            since: f.time()?,
            away: Some(f.text()).filter(|t| !t.is_empty()),
        },
        "AWAY" => ServerFrame::Away {
            name: f.name()?,
            text: f.text(),
        },
        "BACK" => ServerFrame::Back { name: f.name()? },
        "SESSION" => {
            let conn_id = f.int()?;
            let name = match f.next()? {
                "-" => None,
                n => Some(UserName::new(n).map_err(field_err)?),
            };
            let addr = f.addr()?;
            let connected = f.time()?;
            let ended = match f.next()? {
                "-" => None,
                t => Some(Time::parse(t).map_err(field_err)?),
            };
            ServerFrame::Session(SessionInfo {
                conn_id,
                name,
                addr,
                connected,
                ended,
                bytes_in: f.int()?,
                bytes_out: f.int()?,
                reason: match f.opt() {
                    Some("-") | None => None,
                    Some(r) => Some(LeaveReason::parse(r).map_err(field_err)?),
                },
                node: match f.opt() {
                    Some(n) => Some(node_name(n)?),
                    None => None,
                },
            })
        }
        "FILE" => ServerFrame::File {
            file: f.file()?,
            size: f.int()?,
            mtime: f.time()?,
            sha256: f.sha256()?,
        },
        "JOIN" => ServerFrame::Join { name: f.name()? },
        "LEAVE" => ServerFrame::Leave {
            name: f.name()?,
            reason: LeaveReason::parse(f.next()?).map_err(field_err)?,
            text: f.text(),
        },
        "HISTORY" => ServerFrame::History {
            id: f.int()?,
            time: f.time()?,
            name: f.name()?,
            text: f.text(),
        },
        "SAID" => ServerFrame::Said {
            id: f.int()?,
            time: f.time()?,
            name: f.name()?,
            text: f.text(),
        },
        "TOLD" => ServerFrame::Told {
            id: f.int()?,
            time: f.time()?,
            name: f.name()?,
            text: f.text(),
        },
        "FROM" => ServerFrame::From {
            name: f.name()?,
            text: f.text(),
        },
        "PRIVATE" => ServerFrame::Private {
            name: f.name()?,
            text: f.text(),
        },
        "DELETED" => ServerFrame::Deleted {
            name: f.name()?,
            file: f.file()?,
        },
        "RENAMED" => ServerFrame::Renamed {
            name: f.name()?,
            old: f.file()?,
            new: f.file()?,
        },
        "SHARED" => ServerFrame::Shared {
            name: f.name()?,
            file: f.file()?,
            size: f.int()?,
        },
        "DONE" => {
            let xfer = f.int()?;
            let stored = match f.opt() {
                Some(s) => Some((FileName::decode(s).map_err(field_err)?, f.int()?)),
                None => None,
            };
            ServerFrame::Done { xfer, stored }
        }
        "FAILED" => ServerFrame::Failed {
            xfer: f.int()?,
            code: ErrorCode::parse(f.next()?).map_err(field_err)?,
            text: f.text(),
        },
        "SHUTDOWN" => ServerFrame::Shutdown { text: f.text() },
        _ => {
            let shown: String = verb.chars().take(32).collect();
            return Err(LineError::new(
                ErrorCode::UnknownCommand,
                format!("unknown server frame {shown:?}"),
            ));
        }
    };
    f.end()?;
    Ok(frame)
}

fn parse_reply(f: &mut Fields<'_>) -> Result<Reply, LineError> {
    let verb = f.next()?.to_ascii_uppercase();
    Ok(match verb.as_str() {
        "AUTH" => Reply::Auth,
        "HELLO" => Reply::Hello { name: f.name()? },
        "SAY" => Reply::Say {
            delivered: f.int()?,
        },
        "TELL" => Reply::Tell {
            name: f.name()?,
            away: Some(f.text()).filter(|t| !t.is_empty()),
        },
        "AWAY" => Reply::Away,
        "BACK" => Reply::Back,
        "HISTORY" => Reply::History { sent: f.int()? },
        "WHO" => Reply::Who {
            count: f.int()?,
            note: f.text(),
        },
        "STATUS" => {
            let (active, max_clients, uptime_s) = (f.int()?, f.int()?, f.int()?);
            // The folder's four fields, when they are there; a server from before
            // December 2026 sent none, and its cluster text came right after the
            // uptime. Only a text that itself begins with four such fields could be
            // taken for them, and no server ever sent one.
            let mut ahead = f.clone();
            let usage = match ahead.folder_usage() {
                Ok(u) => {
                    *f = ahead;
                    Some(u)
                }
                Err(_) => None,
            };
            Reply::Status {
                active,
                max_clients,
                uptime_s,
                usage,
                note: f.text(),
            }
        }
        "FILES" => Reply::Files {
            count: f.int()?,
            // None from a server before December 2026.
            usage: if f.at_end() {
                None
            } else {
                Some(f.folder_usage()?)
            },
        },
        "GET" => Reply::Get {
            xfer: f.int()?,
            file: f.file()?,
            size: f.int()?,
            sha256: f.sha256()?,
        },
        "PUT" => Reply::Put {
            xfer: f.int()?,
            stored_as: f.file()?,
        },
        "ABORT" => Reply::Abort { xfer: f.int()? },
        "DELETE" => Reply::Delete { file: f.file()? },
        "RENAME" => Reply::Rename {
            old: f.file()?,
            new: f.file()?,
        },
        "ECHO" => Reply::Echo { text: f.text() },
        "CALC" => Reply::Calc { result: f.text() },
        "GUESS" => {
            let word = f.next()?;
            let a = f.int()?;
            Reply::Guess(match word {
                "started" => GuessReply::Started {
                    lo: a,
                    hi: f.int()?,
                },
                "higher" => GuessReply::Higher { tries: a },
                "lower" => GuessReply::Lower { tries: a },
                "correct" => GuessReply::Correct { tries: a },
                _ => return Err(f.usage()),
            })
        }
        "PING" => Reply::Ping { text: f.text() },
        "QUIT" => Reply::Quit,
        _ => {
            return Err(LineError::new(
                ErrorCode::BadRequest,
                format!("unknown reply OK {verb}"),
            ))
        }
    })
}
