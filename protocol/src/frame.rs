//! The frames of protocol v1 as types, and their encoder.
//!
//! [`Request`] is everything a client sends (including upload `DATA`), [`ServerFrame`]
//! everything a server sends: the welcome, final replies, items and events. Encoding
//! appends to a caller's `Vec<u8>` so a sender can batch many frames in one buffer.
//! Text fields are written as given, except that a `\n` in them, or a `\r` at their
//! very end, becomes a space: a text can never split a frame in two.
//!
//! Over 500 lines because the two enums and their encoders mirror the spec word for
//! word, one variant and its encoding per frame; split, they would drift apart.

use crate::fields::{ErrorCode, FileName, LeaveReason, Secret, Sha256, Time, UserName};
use std::io::Write;
use std::net::SocketAddr;

/// The version token in `WELCOME`.
pub const VERSION: &str = "natter/1";

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Auth {
        secret: Secret,
    },
    Hello {
        name: UserName,
        /// `history=N`: the room's last N messages, sent before `OK HELLO`.
        history: Option<u64>,
        /// `stamps`: messages come as `SAID` and `TOLD`, with the server's id and time.
        stamps: bool,
        /// `data=N`: the client takes download `DATA` bodies of up to N bytes
        /// ([`crate::MAX_DATA`] to [`crate::MAX_BIG_DATA`]); at most `MAX_DATA` without.
        data: Option<u32>,
    },
    Say {
        text: String,
    },
    Tell {
        name: UserName,
        text: String,
    },
    Who,
    Status,
    Files,
    /// Marks the sender away, with what others are told (`away` if empty).
    Away {
        text: String,
    },
    /// The sender is back.
    Back,
    /// The room's last `count` messages (all it keeps, without a count).
    History {
        count: Option<u64>,
    },
    Get {
        file: FileName,
        offset: Option<u64>,
    },
    Put {
        file: FileName,
        size: u64,
        /// The sender's SHA-256 of the file: the server publishes it only if what
        /// arrived has this one.
        sha256: Option<Sha256>,
    },
    Abort {
        xfer: u64,
    },
    Delete {
        file: FileName,
    },
    Rename {
        old: FileName,
        new: FileName,
    },
    Echo {
        text: String,
    },
    Calc {
        expr: String,
    },
    Guess {
        guess: Option<u64>,
    },
    Ping {
        text: String,
    },
    Quit {
        text: String,
    },
    /// A piece of an upload; not a request, so it gets no reply when all is well.
    Data {
        xfer: u64,
        data: Vec<u8>,
    },
}

impl Request {
    /// The verb, upper case, as written on the wire.
    pub fn verb(&self) -> &'static str {
        match self {
            Request::Auth { .. } => "AUTH",
            Request::Hello { .. } => "HELLO",
            Request::History { .. } => "HISTORY",
            Request::Away { .. } => "AWAY",
            Request::Back => "BACK",
            Request::Say { .. } => "SAY",
            Request::Tell { .. } => "TELL",
            Request::Who => "WHO",
            Request::Status => "STATUS",
            Request::Files => "FILES",
            Request::Get { .. } => "GET",
            Request::Put { .. } => "PUT",
            Request::Abort { .. } => "ABORT",
            Request::Delete { .. } => "DELETE",
            Request::Rename { .. } => "RENAME",
            Request::Echo { .. } => "ECHO",
            Request::Calc { .. } => "CALC",
            Request::Guess { .. } => "GUESS",
            Request::Ping { .. } => "PING",
            Request::Quit { .. } => "QUIT",
            Request::Data { .. } => "DATA",
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Request::Data { xfer, data } = self {
            encode_data_header(*xfer, data.len(), out);
            out.extend_from_slice(data);
            return;
        }
        out.extend_from_slice(self.verb().as_bytes());
        match self {
            Request::Auth { secret } => {
                out.push(b' ');
                secret.encode(out);
            }
            Request::Hello {
                name,
                history,
                stamps,
                data,
            } => {
                field(out, name.as_str());
                if let Some(n) = history {
                    let _ = write!(out, " history={n}");
                }
                if *stamps {
                    field(out, "stamps");
                }
                if let Some(n) = data {
                    let _ = write!(out, " data={n}");
                }
            }
            Request::History { count } => {
                if let Some(n) = count {
                    int_field(out, *n);
                }
            }
            Request::Say { text }
            | Request::Away { text }
            | Request::Echo { text }
            | Request::Ping { text }
            | Request::Quit { text } => text_field(out, text),
            Request::Calc { expr } => text_field(out, expr),
            Request::Tell { name, text } => {
                field(out, name.as_str());
                text_field(out, text);
            }
            Request::Who | Request::Status | Request::Files | Request::Back => {}
            Request::Get { file, offset } => {
                file_field(out, file);
                if let Some(o) = offset {
                    int_field(out, *o);
                }
            }
            Request::Put { file, size, sha256 } => {
                file_field(out, file);
                int_field(out, *size);
                if let Some(h) = sha256 {
                    let _ = write!(out, " {h}");
                }
            }
            Request::Abort { xfer } => int_field(out, *xfer),
            Request::Delete { file } => file_field(out, file),
            Request::Rename { old, new } => {
                file_field(out, old);
                file_field(out, new);
            }
            Request::Guess { guess } => {
                if let Some(g) = guess {
                    int_field(out, *g);
                }
            }
            Request::Data { .. } => {}
        }
        out.push(b'\n');
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

/// The answer to `GUESS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuessReply {
    Started { lo: u64, hi: u64 },
    Higher { tries: u64 },
    Lower { tries: u64 },
    Correct { tries: u64 },
}

/// The final `OK` reply to each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Auth,
    Hello {
        name: UserName,
    },
    Say {
        delivered: u64,
    },
    Tell {
        name: UserName,
        /// The receiver's away text, if it is away.
        away: Option<String>,
    },
    Away,
    Back,
    /// How many `HISTORY` items came before it.
    History {
        sent: u64,
    },
    Who {
        count: u64,
        /// How the cluster stands, on a node of one (`""` on a lone server).
        note: String,
    },
    Status {
        active: u64,
        max_clients: u64,
        uptime_s: u64,
        /// The shared folder's use and limits (`None` from a server before December
        /// 2026, which did not send them).
        usage: Option<FolderUsage>,
        /// How the cluster stands, on a node of one (`""` on a lone server).
        note: String,
    },
    Files {
        /// How many `FILE` items came before.
        count: u64,
        /// The shared folder's use and limits (`None` from a server before December
        /// 2026, which did not send them).
        usage: Option<FolderUsage>,
    },
    Get {
        xfer: u64,
        file: FileName,
        size: u64,
        /// The file's SHA-256, if the server knows it: the client checks what it got.
        sha256: Option<Sha256>,
    },
    Put {
        xfer: u64,
        stored_as: FileName,
    },
    Abort {
        xfer: u64,
    },
    Delete {
        file: FileName,
    },
    Rename {
        old: FileName,
        new: FileName,
    },
    Echo {
        text: String,
    },
    Calc {
        result: String,
    },
    Guess(GuessReply),
    Ping {
        text: String,
    },
    Quit,
}

impl Reply {
    pub fn verb(&self) -> &'static str {
        match self {
            Reply::Auth => "AUTH",
            Reply::Hello { .. } => "HELLO",
            Reply::Say { .. } => "SAY",
            Reply::Tell { .. } => "TELL",
            Reply::Away => "AWAY",
            Reply::Back => "BACK",
            Reply::History { .. } => "HISTORY",
            Reply::Who { .. } => "WHO",
            Reply::Status { .. } => "STATUS",
            Reply::Files { .. } => "FILES",
            Reply::Get { .. } => "GET",
            Reply::Put { .. } => "PUT",
            Reply::Abort { .. } => "ABORT",
            Reply::Delete { .. } => "DELETE",
            Reply::Rename { .. } => "RENAME",
            Reply::Echo { .. } => "ECHO",
            Reply::Calc { .. } => "CALC",
            Reply::Guess(_) => "GUESS",
            Reply::Ping { .. } => "PING",
            Reply::Quit => "QUIT",
        }
    }
}

/// How full the shared folder is and what it may hold, as `OK FILES` and `OK STATUS`
/// carry it: `<files> <bytes> <max-files> <max-bytes>`, a limit `-` when there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderUsage {
    /// The regular files in the folder, as the server's index sees them.
    pub files: u64,
    /// Their sizes, summed.
    pub bytes: u64,
    /// The most files the folder may hold (`natterd --max-files`); `None`: no limit.
    pub max_files: Option<u64>,
    /// The most bytes its files may take (`natterd --max-folder-size`); `None`: no
    /// limit.
    pub max_bytes: Option<u64>,
}

/// One kept session, as listed by `STATUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub conn_id: u64,
    pub name: Option<UserName>,
    pub addr: SocketAddr,
    pub connected: Time,
    pub ended: Option<Time>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Why an ended session ended; `None` while it is live.
    pub reason: Option<LeaveReason>,
    /// The cluster node the session is on (`None` on a lone server).
    pub node: Option<String>,
}

/// What a server sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerFrame {
    Welcome {
        version: String,
        conn_id: u64,
        text: String,
    },
    Ok(Reply),
    Err {
        code: ErrorCode,
        text: String,
    },
    User {
        name: UserName,
        addr: SocketAddr,
        since: Time,
        /// Its away text, if it is away.
        away: Option<String>,
    },
    /// Someone is away now, and why.
    Away {
        name: UserName,
        text: String,
    },
    /// Someone is back.
    Back {
        name: UserName,
    },
    Session(SessionInfo),
    File {
        file: FileName,
        size: u64,
        mtime: Time,
        /// Its SHA-256, once the server knows it.
        sha256: Option<Sha256>,
    },
    Join {
        name: UserName,
    },
    Leave {
        name: UserName,
        reason: LeaveReason,
        text: String,
    },
    From {
        name: UserName,
        text: String,
    },
    Private {
        name: UserName,
        text: String,
    },
    /// `FROM` with the server's id and time of it, for a client that asked
    /// (`HELLO ... stamps`); ids are those of `HISTORY`.
    Said {
        id: u64,
        time: Time,
        name: UserName,
        text: String,
    },
    /// `PRIVATE` with the server's id and time of it, for a client that asked.
    Told {
        id: u64,
        time: Time,
        name: UserName,
        text: String,
    },
    /// One message the room kept: its id (rising, per server), when the server
    /// relayed it, who said it, what.
    History {
        id: u64,
        time: Time,
        name: UserName,
        text: String,
    },
    Shared {
        name: UserName,
        file: FileName,
        size: u64,
    },
    /// A file was deleted from the shared folder, by `name`.
    Deleted {
        name: UserName,
        file: FileName,
    },
    /// A file in the shared folder was renamed, by `name`.
    Renamed {
        name: UserName,
        old: FileName,
        new: FileName,
    },
    Data {
        xfer: u64,
        data: Vec<u8>,
    },
    /// `stored` is the name and size an upload was stored under; `None` for a download.
    Done {
        xfer: u64,
        stored: Option<(FileName, u64)>,
    },
    Failed {
        xfer: u64,
        code: ErrorCode,
        text: String,
    },
    Shutdown {
        text: String,
    },
}

impl ServerFrame {
    /// True for the frames that end a request: `OK` and `ERR`.
    pub fn is_final(&self) -> bool {
        matches!(self, ServerFrame::Ok(_) | ServerFrame::Err { .. })
    }

    pub fn err(code: ErrorCode, text: impl Into<String>) -> ServerFrame {
        ServerFrame::Err {
            code,
            text: text.into(),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerFrame::Welcome {
                version,
                conn_id,
                text,
            } => {
                out.extend_from_slice(b"WELCOME");
                field(out, version);
                int_field(out, *conn_id);
                text_field(out, text);
            }
            ServerFrame::Ok(reply) => {
                out.extend_from_slice(b"OK ");
                out.extend_from_slice(reply.verb().as_bytes());
                encode_reply_fields(reply, out);
            }
            ServerFrame::Err { code, text } => {
                out.extend_from_slice(b"ERR");
                field(out, code.as_str());
                text_field(out, text);
            }
            ServerFrame::User {
                name,
                addr,
                since,
                away,
            } => {
                out.extend_from_slice(b"USER");
                field(out, name.as_str());
                let _ = write!(out, " {addr} {since}");
                if let Some(a) = away {
                    text_field(out, if a.is_empty() { "away" } else { a });
                }
            }
            ServerFrame::Away { name, text } => {
                out.extend_from_slice(b"AWAY");
                field(out, name.as_str());
                text_field(out, text);
            }
            ServerFrame::Back { name } => {
                out.extend_from_slice(b"BACK");
                field(out, name.as_str());
            }
            ServerFrame::Session(s) => {
                out.extend_from_slice(b"SESSION");
                int_field(out, s.conn_id);
                field(out, s.name.as_ref().map_or("-", |n| n.as_str()));
                let _ = write!(out, " {} {}", s.addr, s.connected);
                match s.ended {
                    Some(t) => {
                        let _ = write!(out, " {t}");
                    }
                    None => field(out, "-"),
                }
                int_field(out, s.bytes_in);
                int_field(out, s.bytes_out);
                match (&s.reason, &s.node) {
                    (Some(r), _) => field(out, r.as_str()),
                    (None, Some(_)) => field(out, "-"),
                    (None, None) => {}
                }
                if let Some(n) = &s.node {
                    field(out, n);
                }
            }
            ServerFrame::File {
                file,
                size,
                mtime,
                sha256,
            } => {
                out.extend_from_slice(b"FILE");
                file_field(out, file);
                int_field(out, *size);
                let _ = write!(out, " {mtime}");
                if let Some(h) = sha256 {
                    let _ = write!(out, " {h}");
                }
            }
            ServerFrame::Join { name } => {
                out.extend_from_slice(b"JOIN");
                field(out, name.as_str());
            }
            ServerFrame::Leave { name, reason, text } => {
                out.extend_from_slice(b"LEAVE");
                field(out, name.as_str());
                field(out, reason.as_str());
                text_field(out, text);
            }
            ServerFrame::From { name, text } => {
                out.extend_from_slice(b"FROM");
                field(out, name.as_str());
                text_field(out, text);
            }
            ServerFrame::History {
                id,
                time,
                name,
                text,
            }
            | ServerFrame::Said {
                id,
                time,
                name,
                text,
            }
            | ServerFrame::Told {
                id,
                time,
                name,
                text,
            } => {
                out.extend_from_slice(match self {
                    ServerFrame::Said { .. } => b"SAID",
                    ServerFrame::Told { .. } => b"TOLD",
                    _ => b"HISTORY",
                });
                int_field(out, *id);
                let _ = write!(out, " {time}");
                field(out, name.as_str());
                text_field(out, text);
            }
            ServerFrame::Private { name, text } => {
                out.extend_from_slice(b"PRIVATE");
                field(out, name.as_str());
                text_field(out, text);
            }
            ServerFrame::Deleted { name, file } => {
                out.extend_from_slice(b"DELETED");
                field(out, name.as_str());
                file_field(out, file);
            }
            ServerFrame::Renamed { name, old, new } => {
                out.extend_from_slice(b"RENAMED");
                field(out, name.as_str());
                file_field(out, old);
                file_field(out, new);
            }
            ServerFrame::Shared { name, file, size } => {
                out.extend_from_slice(b"SHARED");
                field(out, name.as_str());
                file_field(out, file);
                int_field(out, *size);
            }
            ServerFrame::Data { xfer, data } => {
                encode_data_header(*xfer, data.len(), out);
                out.extend_from_slice(data);
                return;
            }
            ServerFrame::Done { xfer, stored } => {
                out.extend_from_slice(b"DONE");
                int_field(out, *xfer);
                if let Some((file, size)) = stored {
                    file_field(out, file);
                    int_field(out, *size);
                }
            }
            ServerFrame::Failed { xfer, code, text } => {
                out.extend_from_slice(b"FAILED");
                int_field(out, *xfer);
                field(out, code.as_str());
                text_field(out, text);
            }
            ServerFrame::Shutdown { text } => {
                out.extend_from_slice(b"SHUTDOWN");
                text_field(out, text);
            }
        }
        out.push(b'\n');
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode(&mut v);
        v
    }
}

fn encode_reply_fields(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Auth | Reply::Quit => {}
        Reply::Hello { name } => field(out, name.as_str()),
        Reply::Tell { name, away } => {
            field(out, name.as_str());
            if let Some(a) = away {
                // Never empty once it is there: an away text is at least `away`.
                text_field(out, if a.is_empty() { "away" } else { a });
            }
        }
        Reply::Away | Reply::Back => {}
        Reply::Say { delivered } => int_field(out, *delivered),
        Reply::Files { count, usage } => {
            int_field(out, *count);
            if let Some(u) = usage {
                usage_fields(out, u);
            }
        }
        Reply::History { sent } => int_field(out, *sent),
        Reply::Who { count, note } => {
            int_field(out, *count);
            text_field(out, note);
        }
        Reply::Status {
            active,
            max_clients,
            uptime_s,
            usage,
            note,
        } => {
            int_field(out, *active);
            int_field(out, *max_clients);
            int_field(out, *uptime_s);
            if let Some(u) = usage {
                usage_fields(out, u);
            }
            text_field(out, note);
        }
        Reply::Get {
            xfer,
            file,
            size,
            sha256,
        } => {
            int_field(out, *xfer);
            file_field(out, file);
            int_field(out, *size);
            if let Some(h) = sha256 {
                let _ = write!(out, " {h}");
            }
        }
        Reply::Put { xfer, stored_as } => {
            int_field(out, *xfer);
            file_field(out, stored_as);
        }
        Reply::Abort { xfer } => int_field(out, *xfer),
        Reply::Delete { file } => file_field(out, file),
        Reply::Rename { old, new } => {
            file_field(out, old);
            file_field(out, new);
        }
        Reply::Echo { text } | Reply::Ping { text } => text_field(out, text),
        Reply::Calc { result } => text_field(out, result),
        Reply::Guess(g) => {
            let (word, a, b) = match g {
                GuessReply::Started { lo, hi } => ("started", *lo, Some(*hi)),
                GuessReply::Higher { tries } => ("higher", *tries, None),
                GuessReply::Lower { tries } => ("lower", *tries, None),
                GuessReply::Correct { tries } => ("correct", *tries, None),
            };
            field(out, word);
            int_field(out, a);
            if let Some(b) = b {
                int_field(out, b);
            }
        }
    }
}

/// Writes `DATA <xfer> <len>\n`; the caller appends the `len` body bytes. Lets a
/// sender put a file chunk straight after the header without building a frame.
pub fn encode_data_header(xfer: u64, len: usize, out: &mut Vec<u8>) {
    let _ = writeln!(out, "DATA {xfer} {len}");
}

fn field(out: &mut Vec<u8>, s: &str) {
    out.push(b' ');
    out.extend_from_slice(s.as_bytes());
}

fn int_field(out: &mut Vec<u8>, n: u64) {
    let _ = write!(out, " {n}");
}

/// `<files> <bytes> <max-files> <max-bytes>`, `-` for a limit that is not set.
fn usage_fields(out: &mut Vec<u8>, u: &FolderUsage) {
    int_field(out, u.files);
    int_field(out, u.bytes);
    for limit in [u.max_files, u.max_bytes] {
        match limit {
            Some(n) => int_field(out, n),
            None => field(out, "-"),
        }
    }
}

fn file_field(out: &mut Vec<u8>, f: &FileName) {
    out.push(b' ');
    f.encode(out);
}

/// The empty text is written without its space, as the spec asks. A `\n` would end
/// the frame and a final `\r` would be dropped by the reader, so those two become
/// spaces; every other byte goes as is.
fn text_field(out: &mut Vec<u8>, text: &str) {
    if text.is_empty() {
        return;
    }
    out.push(b' ');
    let start = out.len();
    out.extend_from_slice(text.as_bytes());
    for b in &mut out[start..] {
        if *b == b'\n' {
            *b = b' ';
        }
    }
    if out.last() == Some(&b'\r') {
        if let Some(b) = out.last_mut() {
            *b = b' ';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    #[test]
    fn only_ok_and_err_end_a_request() {
        assert!(ServerFrame::Ok(Reply::Quit).is_final());
        assert!(ServerFrame::err(ErrorCode::Busy, "later").is_final());
        for not_final in [
            ServerFrame::Join { name: name("bob") },
            ServerFrame::From {
                name: name("bob"),
                text: "OK".into(),
            },
            ServerFrame::Data {
                xfer: 1,
                data: b"OK SAY 1\n".to_vec(),
            },
            ServerFrame::Done {
                xfer: 1,
                stored: None,
            },
            ServerFrame::Shutdown {
                text: String::new(),
            },
        ] {
            assert!(!not_final.is_final(), "{not_final:?}");
        }
    }

    #[test]
    fn to_bytes_is_the_encoding() {
        let f = ServerFrame::Leave {
            name: name("bob"),
            reason: LeaveReason::Quit,
            text: "bye".into(),
        };
        assert_eq!(f.to_bytes(), b"LEAVE bob quit bye\n");
        let mut appended = b"JOIN a\n".to_vec();
        f.encode(&mut appended);
        assert_eq!(appended, b"JOIN a\nLEAVE bob quit bye\n");
        assert_eq!(Request::Say { text: "hi".into() }.to_bytes(), b"SAY hi\n");
    }
}
