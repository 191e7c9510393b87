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

/// What a client learned from the bytes it received.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Registered and in the room: ready to send.
    Ready,
    /// `n` of this client's sends were acknowledged.
    Acked(u64),
    /// A room message's text.
    Message(String),
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

    /// Takes whole frames off the front of `buf` and turns them into events.
    pub fn parse(self, buf: &mut Vec<u8>, out: &mut Vec<Event>) {
        let used = match self {
            Proto::Natter => parse_natter(buf, out),
            Proto::Irc => parse_irc(buf, out),
            Proto::Redis => parse_redis(buf, out),
        };
        buf.drain(..used);
    }
}

fn parse_natter(buf: &[u8], out: &mut Vec<Event>) -> usize {
    let mut used = 0;
    loop {
        match decode_server_frame(&buf[used..]) {
            Ok(Decoded::Frame(f, n)) => {
                used += n;
                match f {
                    ServerFrame::Ok(Reply::Hello { .. }) => out.push(Event::Ready),
                    ServerFrame::Ok(Reply::Say { .. }) => out.push(Event::Acked(1)),
                    ServerFrame::From { text, .. } => out.push(Event::Message(text)),
                    ServerFrame::Data { data, .. } => out.push(Event::Body(data.len())),
                    ServerFrame::Done { .. } => out.push(Event::Done),
                    ServerFrame::Err { code, text } => {
                        out.push(Event::Error(format!("{code} {text}")))
                    }
                    ServerFrame::Failed { code, text, .. } => {
                        out.push(Event::Error(format!("{code} {text}")))
                    }
                    ServerFrame::Shutdown { .. } => out.push(Event::Closed),
                    _ => {}
                }
            }
            Ok(Decoded::Blank(n)) => used += n,
            Ok(Decoded::Incomplete) => return used,
            Err(e) => {
                out.push(Event::Error(e.to_string()));
                return buf.len();
            }
        }
    }
}

fn parse_irc(buf: &[u8], out: &mut Vec<Event>) -> usize {
    let mut used = 0;
    while let Some(nl) = buf[used..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&buf[used..used + nl])
            .trim_end_matches('\r')
            .to_string();
        used += nl + 1;
        let (prefix, rest) = match line.strip_prefix(':') {
            Some(r) => r.split_once(' ').unwrap_or((r, "")),
            None => ("", line.as_str()),
        };
        let _ = prefix;
        let mut words = rest.splitn(3, ' ');
        let cmd = words.next().unwrap_or("");
        match cmd {
            "PING" => {
                let arg = rest.strip_prefix("PING").unwrap_or("").trim();
                out.push(Event::Reply(format!("PONG {arg}\r\n").into_bytes()));
            }
            "PONG" => out.push(Event::Acked(0)),
            // Registered (001), and the end of the NAMES list: the JOIN is complete (366).
            "001" | "366" => out.push(Event::Ready),
            "PRIVMSG" => {
                if let Some(i) = rest.find(" :") {
                    out.push(Event::Message(rest[i + 2..].to_string()));
                }
            }
            "ERROR" => out.push(Event::Closed),
            // Refusals: bad or taken nickname, not registered, bad password, banned,
            // cannot join. Other 4xx numerics (422 "no MOTD") are not errors.
            "431" | "432" | "433" | "436" | "451" | "464" | "465" | "471" | "473" | "474"
            | "475" => out.push(Event::Error(line.clone())),
            _ => {}
        }
    }
    used
}

/// RESP: just the shapes pub/sub and PUBLISH produce.
fn parse_redis(buf: &[u8], out: &mut Vec<Event>) -> usize {
    let mut used = 0;
    while let Some((value, n)) = resp(&buf[used..]) {
        used += n;
        match value {
            Resp::Array(items) => match items.first().map(|s| s.as_str()) {
                Some("message") => {
                    if let Some(text) = items.get(2) {
                        out.push(Event::Message(text.clone()));
                    }
                }
                Some("subscribe") => out.push(Event::Ready),
                _ => {}
            },
            Resp::Int => out.push(Event::Acked(1)),
            Resp::Simple(s) if s == "PONG" => out.push(Event::Ready),
            Resp::Simple(_) => {}
            Resp::Error(e) => out.push(Event::Error(e)),
        }
    }
    used
}

enum Resp {
    Simple(String),
    Error(String),
    Int,
    Array(Vec<String>),
}

fn resp_line(b: &[u8]) -> Option<(&[u8], usize)> {
    let i = b.windows(2).position(|w| w == b"\r\n")?;
    Some((&b[..i], i + 2))
}

fn resp(b: &[u8]) -> Option<(Resp, usize)> {
    let (&kind, _) = b.split_first()?;
    let (line, n) = resp_line(&b[1..])?;
    let text = String::from_utf8_lossy(line).into_owned();
    match kind {
        b'+' => Some((Resp::Simple(text), 1 + n)),
        b'-' => Some((Resp::Error(text), 1 + n)),
        b':' => Some((Resp::Int, 1 + n)),
        b'*' => {
            let count: usize = text.parse().ok()?;
            let mut used = 1 + n;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (item, m) = resp_item(&b[used..])?;
                items.push(item);
                used += m;
            }
            Some((Resp::Array(items), used))
        }
        _ => Some((Resp::Error(format!("unexpected RESP {text}")), 1 + n)),
    }
}

/// One array element as a string (bulk strings and integers are all pub/sub sends).
fn resp_item(b: &[u8]) -> Option<(String, usize)> {
    let (&kind, _) = b.split_first()?;
    let (line, n) = resp_line(&b[1..])?;
    match kind {
        b'$' => {
            let len: usize = std::str::from_utf8(line).ok()?.parse().ok()?;
            let start = 1 + n;
            if b.len() < start + len + 2 {
                return None;
            }
            Some((
                String::from_utf8_lossy(&b[start..start + len]).into_owned(),
                start + len + 2,
            ))
        }
        _ => Some((String::from_utf8_lossy(line).into_owned(), 1 + n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_protocol() {
        let mut out = Vec::new();
        let mut b =
            b"WELCOME natter/1 1 hi\nOK HELLO a\nFROM b 1 2 x\nOK SAY 3\nDATA 1 2\nxyDONE 1\n"
                .to_vec();
        Proto::Natter.parse(&mut b, &mut out);
        assert_eq!(
            out,
            [
                Event::Ready,
                Event::Message("1 2 x".into()),
                Event::Acked(1),
                Event::Body(2),
                Event::Done
            ]
        );
        assert!(b.is_empty());

        out.clear();
        let mut b = b":srv 001 a :hi\r\n:srv 366 a #load :End\r\nPING :123\r\n:b!b@h PRIVMSG #load :1 2 x\r\n:srv PONG srv :window\r\npart".to_vec();
        Proto::Irc.parse(&mut b, &mut out);
        assert_eq!(
            out,
            [
                Event::Ready,
                Event::Ready,
                Event::Reply(b"PONG :123\r\n".to_vec()),
                Event::Message("1 2 x".into()),
                Event::Acked(0)
            ]
        );
        assert_eq!(b, b"part");

        out.clear();
        let mut b = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nload\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$4\r\nload\r\n$5\r\n1 2 x\r\n:7\r\n*3\r\n$7\r\nmes".to_vec();
        Proto::Redis.parse(&mut b, &mut out);
        assert_eq!(
            out,
            [
                Event::Ready,
                Event::Message("1 2 x".into()),
                Event::Acked(1)
            ]
        );
        assert_eq!(b, b"*3\r\n$7\r\nmes");
    }
}
