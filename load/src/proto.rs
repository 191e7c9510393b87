//! The three protocols natter-load speaks, reduced to what a chat load test needs:
//! register, send to the room, see an acknowledgement, see a message. natter uses the
//! real decoder; IRC and Redis are parsed just enough.

use natter_protocol::{decode_server_frame, Decoded, Reply, ServerFrame};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Proto {
    Natter,
    Irc,
    Redis,
}

/// What a client learned from the bytes it received. Texts borrow the receive buffer:
/// a load tool that allocated per delivery would measure itself, not the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// Registered and in the room: ready to send.
    Ready,
    /// `n` of this client's sends were acknowledged.
    Acked(u64),
    /// A room message's text.
    Message(&'a [u8]),
    /// Bytes of a download's body, and whether the download is complete.
    Body(usize),
    Done,
    /// Something to send back at once (an IRC server's PING).
    Reply(Vec<u8>),
    /// The server refused something; the text says what.
    Error(String),
    Closed,
}

pub const ROOM: &str = "load";

impl Proto {
    /// What a new connection sends first. Redis clients in a room use two connections:
    /// `pubsub` selects the subscribing one.
    pub fn register(self, name: &str, pubsub: bool) -> Vec<u8> {
        match self {
            Proto::Natter => format!("HELLO {name}\n").into_bytes(),
            // JOIN waits for the welcome (see `join`): some daemons refuse it before.
            Proto::Irc => format!("NICK {name}\r\nUSER {name} 0 * :{name}\r\n").into_bytes(),
            Proto::Redis if pubsub => format!("SUBSCRIBE {ROOM}\r\n").into_bytes(),
            // A PING whose answer says the publishing connection is up.
            Proto::Redis => b"PING\r\n".to_vec(),
        }
    }

    /// What a registered IRC client sends to enter the room.
    pub fn join(self) -> Option<Vec<u8>> {
        match self {
            Proto::Irc => Some(format!("JOIN #{ROOM}\r\n").into_bytes()),
            _ => None,
        }
    }

    /// One message to the room.
    pub fn say(self, text: &str, out: &mut Vec<u8>) {
        match self {
            Proto::Natter => {
                out.extend_from_slice(b"SAY ");
                out.extend_from_slice(text.as_bytes());
                out.push(b'\n');
            }
            Proto::Irc => {
                out.extend_from_slice(format!("PRIVMSG #{ROOM} :").as_bytes());
                out.extend_from_slice(text.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Proto::Redis => {
                let cmd = format!(
                    "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{ROOM}\r\n${}\r\n{text}\r\n",
                    ROOM.len(),
                    text.len()
                );
                out.extend_from_slice(cmd.as_bytes());
            }
        }
    }

    /// IRC has no per-message acknowledgement: a PING after a window of messages is
    /// answered once the server has handled them all.
    pub fn window_probe(self) -> Option<&'static [u8]> {
        match self {
            Proto::Irc => Some(b"PING :window\r\n"),
            _ => None,
        }
    }

    pub fn quit(self) -> &'static [u8] {
        match self {
            Proto::Natter => b"QUIT\n",
            Proto::Irc => b"QUIT :done\r\n",
            Proto::Redis => b"QUIT\r\n",
        }
    }

    /// Takes whole frames off the front of `buf`, handing each to `f`, and says how
    /// many bytes they used.
    pub fn parse(self, buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> usize {
        match self {
            Proto::Natter => parse_natter(buf, f),
            Proto::Irc => parse_irc(buf, f),
            Proto::Redis => parse_redis(buf, f),
        }
    }

    /// `parse` into a list, for the scenarios that handle few frames.
    pub fn parse_owned(self, buf: &mut Vec<u8>, out: &mut Vec<Owned>) {
        let used = self.parse(buf, &mut |e| out.push(Owned::from(e)));
        buf.drain(..used);
    }
}

/// An `Event` that outlives its buffer (message texts dropped).
#[derive(Debug, PartialEq, Eq)]
pub enum Owned {
    Ready,
    Acked(u64),
    Message,
    Body(usize),
    Done,
    Reply(Vec<u8>),
    Error(String),
    Closed,
}

impl From<Event<'_>> for Owned {
    fn from(e: Event<'_>) -> Owned {
        match e {
            Event::Ready => Owned::Ready,
            Event::Acked(n) => Owned::Acked(n),
            Event::Message(_) => Owned::Message,
            Event::Body(n) => Owned::Body(n),
            Event::Done => Owned::Done,
            Event::Reply(b) => Owned::Reply(b),
            Event::Error(e) => Owned::Error(e),
            Event::Closed => Owned::Closed,
        }
    }
}

fn find(hay: &[u8], b: u8) -> Option<usize> {
    memchr::memchr(b, hay)
}

/// A decimal number made of ASCII digits only (no sign, no spaces); `None` if it is
/// empty, has anything else in it, or does not fit.
pub fn digits(w: &[u8]) -> Option<u64> {
    if w.is_empty() {
        return None;
    }
    w.iter().try_fold(0u64, |n, &c| {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// Splits off the first space-separated word (extra spaces forgiven).
fn word(s: &[u8]) -> (&[u8], &[u8]) {
    let s = &s[s.iter().take_while(|&&c| c == b' ').count()..];
    match find(s, b' ') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// The two frames a load test sees by the million, `FROM` and `DATA`, are taken apart
/// here by hand (no copy of a text or a body); anything else goes through the real
/// decoder.
fn fast_natter(buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> Option<Option<usize>> {
    let nl = find(&buf[..buf.len().min(8192)], b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(rest) = line.strip_prefix(b"FROM ") {
        let (_name, text) = word(rest);
        f(Event::Message(text));
        return Some(Some(nl + 1));
    }
    // Presence news: 10,000 idle clients joining make 50 million of these.
    if line.starts_with(b"JOIN ") || line.starts_with(b"LEAVE ") {
        return Some(Some(nl + 1));
    }
    if let Some(rest) = line.strip_prefix(b"DATA ") {
        let (_xfer, rest) = word(rest);
        let (len, _) = word(rest);
        let len = usize::try_from(digits(len)?).ok()?;
        if buf.len() - (nl + 1) < len {
            return Some(None);
        }
        f(Event::Body(len));
        return Some(Some(nl + 1 + len));
    }
    None
}

fn parse_natter(buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> usize {
    let mut used = 0;
    loop {
        match fast_natter(&buf[used..], f) {
            Some(Some(n)) => {
                used += n;
                continue;
            }
            Some(None) => return used,
            None => {}
        }
        match decode_server_frame(&buf[used..]) {
            Ok(Decoded::Frame(frame, n)) => {
                used += n;
                match frame {
                    ServerFrame::Ok(Reply::Hello { .. }) => f(Event::Ready),
                    ServerFrame::Ok(Reply::Say { .. }) => f(Event::Acked(1)),
                    ServerFrame::From { text, .. } => f(Event::Message(text.as_bytes())),
                    ServerFrame::Data { data, .. } => f(Event::Body(data.len())),
                    ServerFrame::Done { .. } => f(Event::Done),
                    ServerFrame::Err { code, text } => f(Event::Error(format!("{code} {text}"))),
                    ServerFrame::Failed { code, text, .. } => {
                        f(Event::Error(format!("{code} {text}")))
                    }
                    ServerFrame::Shutdown { .. } => f(Event::Closed),
                    _ => {}
                }
            }
            Ok(Decoded::Blank(n)) => used += n,
            Ok(Decoded::Incomplete) => return used,
            Err(e) => {
                f(Event::Error(e.to_string()));
                return buf.len();
            }
        }
    }
}

fn parse_irc(buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> usize {
    let mut used = 0;
    while let Some(nl) = find(&buf[used..], b'\n') {
        let line = &buf[used..used + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        used += nl + 1;
        let rest = match line.strip_prefix(b":") {
            Some(r) => word(r).1,
            None => line,
        };
        let (cmd, args) = word(rest);
        match cmd {
            b"PING" => {
                let mut pong = b"PONG ".to_vec();
                pong.extend_from_slice(args);
                pong.extend_from_slice(b"\r\n");
                f(Event::Reply(pong));
            }
            b"PONG" => f(Event::Acked(0)),
            // Registered (001), and the end of the NAMES list: the JOIN is complete (366).
            b"001" | b"366" => f(Event::Ready),
            b"PRIVMSG" => {
                if let Some(i) = args.windows(2).position(|w| w == b" :") {
                    f(Event::Message(&args[i + 2..]));
                }
            }
            b"ERROR" => f(Event::Closed),
            // Refusals: bad or taken nickname, not registered, bad password, banned,
            // cannot join. Other 4xx numerics (422 "no MOTD") are not errors.
            b"431" | b"432" | b"433" | b"436" | b"451" | b"464" | b"465" | b"471" | b"473"
            | b"474" | b"475" => f(Event::Error(String::from_utf8_lossy(line).into_owned())),
            _ => {}
        }
    }
    used
}

/// RESP: just the shapes pub/sub and PUBLISH produce.
fn parse_redis(buf: &[u8], f: &mut impl FnMut(Event<'_>)) -> usize {
    let mut used = 0;
    while let Some((value, n)) = resp(&buf[used..]) {
        used += n;
        match value {
            Resp::Array(items, count) => match items[0] {
                b"message" if count >= 3 => f(Event::Message(items[2])),
                b"subscribe" => f(Event::Ready),
                _ => {}
            },
            Resp::Int => f(Event::Acked(1)),
            Resp::Simple(b"PONG") => f(Event::Ready),
            Resp::Simple(_) => {}
            Resp::Error(e) => f(Event::Error(String::from_utf8_lossy(e).into_owned())),
        }
    }
    used
}

enum Resp<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Int,
    /// The first three elements (pub/sub never sends more), and how many there were.
    Array([&'a [u8]; 3], usize),
}

fn resp_line(b: &[u8]) -> Option<(&[u8], usize)> {
    let i = find(b, b'\n')?;
    Some((b[..i].strip_suffix(b"\r").unwrap_or(&b[..i]), i + 1))
}

fn resp(b: &[u8]) -> Option<(Resp<'_>, usize)> {
    let (&kind, _) = b.split_first()?;
    let (line, n) = resp_line(&b[1..])?;
    match kind {
        b'+' => Some((Resp::Simple(line), 1 + n)),
        b'-' => Some((Resp::Error(line), 1 + n)),
        b':' => Some((Resp::Int, 1 + n)),
        b'*' => {
            let count: usize = std::str::from_utf8(line).ok()?.parse().ok()?;
            let mut used = 1 + n;
            let mut items: [&[u8]; 3] = [&[]; 3];
            for i in 0..count {
                let (item, m) = resp_item(&b[used..])?;
                if let Some(slot) = items.get_mut(i) {
                    *slot = item;
                }
                used += m;
            }
            Some((Resp::Array(items, count), used))
        }
        _ => Some((Resp::Error(b"unexpected RESP type"), 1 + n)),
    }
}

/// One array element (bulk strings and integers are all pub/sub sends).
fn resp_item(b: &[u8]) -> Option<(&[u8], usize)> {
    let (&kind, _) = b.split_first()?;
    let (line, n) = resp_line(&b[1..])?;
    match kind {
        b'$' => {
            let len: usize = std::str::from_utf8(line).ok()?.parse().ok()?;
            let start = 1 + n;
            if b.len() < start + len + 2 {
                return None;
            }
            Some((&b[start..start + len], start + len + 2))
        }
        _ => Some((line, 1 + n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `b` and names each event; returns the names and the bytes left over.
    fn all(p: Proto, b: &[u8]) -> (Vec<String>, Vec<u8>) {
        let mut out = Vec::new();
        let used = p.parse(b, &mut |e| {
            out.push(match e {
                Event::Message(t) => format!("msg {}", String::from_utf8_lossy(t)),
                Event::Reply(r) => format!("reply {}", String::from_utf8_lossy(&r)),
                other => format!("{other:?}"),
            })
        });
        (out, b[used..].to_vec())
    }

    #[test]
    fn parses_each_protocol() {
        let (ev, left) = all(
            Proto::Natter,
            b"WELCOME natter/1 1 hi\nOK HELLO a\nFROM b 1 2 x\nOK SAY 3\nDATA 1 2\nxyDONE 1\nDATA 1 5\nab",
        );
        assert_eq!(ev, ["Ready", "msg 1 2 x", "Acked(1)", "Body(2)", "Done"]);
        assert_eq!(left, b"DATA 1 5\nab");

        let (ev, left) = all(
            Proto::Irc,
            b":srv 001 a :hi\r\n:srv 366 a #load :End\r\nPING :123\r\n:b!b@h PRIVMSG #load :1 2 x\r\n:srv PONG srv :window\r\n:srv 433 * a :taken\r\npart",
        );
        assert_eq!(
            ev,
            [
                "Ready",
                "Ready",
                "reply PONG :123\r\n",
                "msg 1 2 x",
                "Acked(0)",
                "Error(\":srv 433 * a :taken\")"
            ]
        );
        assert_eq!(left, b"part");

        let (ev, left) = all(
            Proto::Redis,
            b"*3\r\n$9\r\nsubscribe\r\n$4\r\nload\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nload\r\n$5\r\n1 2 x\r\n:7\r\n+PONG\r\n-ERR no\r\n*3\r\n$7\r\nmes",
        );
        assert_eq!(
            ev,
            [
                "Ready",
                "msg 1 2 x",
                "Acked(1)",
                "Ready",
                "Error(\"ERR no\")"
            ]
        );
        assert_eq!(left, b"*3\r\n$7\r\nmes");
    }

    #[test]
    fn natter_errors_and_split_frames() {
        let (ev, left) = all(Proto::Natter, b"ERR bad-name no such name\nFROM a hel");
        assert_eq!(ev.len(), 1);
        assert!(ev[0].starts_with("Error(\"bad-name"), "{ev:?}");
        assert_eq!(left, b"FROM a hel");
    }
}
