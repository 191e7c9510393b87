//! What nodes say to each other, one Redis pub/sub message each: a text line (a
//! roster: lines) that starts with the sender's node name and a one-letter kind.
//!
//! | kind | rest | on | meaning |
//! | --- | --- | --- | --- |
//! | `U` | `<conn-id> <name> <addr> <connected> <since>` | all | a user joined on the sender; everyone hears `JOIN` |
//! | `E` | a natter/1 server frame (`FROM`, `LEAVE`, `SHARED`, `DELETED`, `RENAMED`) | all | for every member; a `LEAVE` also removes the user |
//! | `F` | `<folder> ` then a `SHARED`, `DELETED` or `RENAMED` frame | all | for every member of a node serving that same folder |
//! | `P` | `<to-name> PRIVATE <from> <text>` | the user's node | a `TELL` |
//! | `B` | `<instance>` | all | the sender is alive (every 2 s) |
//! | `R` | then one line per user, as in `U` | all, or the asker's node | every user the sender has, replacing what was known |
//! | `Y` | | all | a node (re)joined: send it your roster |
//! | `Q` | | all | the sender is stopping: its users are gone |
//!
//! Frames travel in natter/1's own encoding, so the bus carries exactly what clients
//! would see, and a node decodes it with the same decoder as a client.

use super::NodeName;
use natter_protocol::{
    decode_request, decode_server_frame, Decoded, Request, ServerFrame, Time, UserName, MAX_TEXT,
};
use std::net::SocketAddr;

/// A user on another node, as known here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUser {
    pub conn_id: u64,
    pub name: UserName,
    pub addr: SocketAddr,
    pub connected: Time,
    pub since: Time,
    /// Its away text, if it is away.
    pub away: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    User(RemoteUser),
    Event(ServerFrame),
    /// A change in the shared folder `folder` (see `cluster::folder_id`): news only
    /// on nodes that serve that same folder.
    Folder {
        folder: String,
        frame: ServerFrame,
    },
    Private {
        to: UserName,
        frame: ServerFrame,
    },
    Beat {
        instance: u64,
    },
    Roster(Vec<RemoteUser>),
    Sync,
    Stop,
}

pub fn encode(node: &NodeName, msg: &Msg) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(node.as_str().as_bytes());
    let frame_line = |out: &mut Vec<u8>, f: &ServerFrame| {
        f.encode(out);
        // The frame's own newline ends the message.
        if out.last() == Some(&b'\n') {
            out.pop();
        }
    };
    match msg {
        Msg::User(u) => {
            out.extend_from_slice(b" U ");
            user(&mut out, u);
        }
        Msg::Event(f) => {
            out.extend_from_slice(b" E ");
            frame_line(&mut out, f);
        }
        Msg::Folder { folder, frame } => {
            out.extend_from_slice(b" F ");
            out.extend_from_slice(folder.as_bytes());
            out.push(b' ');
            frame_line(&mut out, frame);
        }
        Msg::Private { to, frame } => {
            out.extend_from_slice(b" P ");
            out.extend_from_slice(to.as_str().as_bytes());
            out.push(b' ');
            frame_line(&mut out, frame);
        }
        Msg::Beat { instance } => out.extend_from_slice(format!(" B {instance:x}").as_bytes()),
        Msg::Roster(users) => {
            out.extend_from_slice(b" R");
            for u in users {
                out.push(b'\n');
                user(&mut out, u);
            }
        }
        Msg::Sync => out.extend_from_slice(b" Y"),
        Msg::Stop => out.extend_from_slice(b" Q"),
    }
    out
}

fn user(out: &mut Vec<u8>, u: &RemoteUser) {
    out.extend_from_slice(
        format!(
            "{} {} {} {} {}",
            u.conn_id, u.name, u.addr, u.connected, u.since
        )
        .as_bytes(),
    );
    if let Some(a) = &u.away {
        out.push(b' ');
        // One line per user: an away text cannot break it.
        out.extend_from_slice(a.replace(['\n', '\r'], " ").as_bytes());
    }
}

/// Decodes one message: who sent it and what it says. Whatever does not parse is an
/// error to log and drop, never a reason to stop.
pub fn decode(payload: &[u8]) -> Result<(NodeName, Msg), String> {
    let text = std::str::from_utf8(payload).map_err(|_| "not UTF-8".to_string())?;
    let (head, lines) = match text.split_once('\n') {
        Some((h, l)) => (h, Some(l)),
        None => (text, None),
    };
    let (node, rest) = head.split_once(' ').ok_or("no kind")?;
    let node = NodeName::new(node)?;
    let (kind, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let msg = match kind {
        "U" => Msg::User(parse_user(rest)?),
        "E" => Msg::Event(frame(rest)?),
        "F" => {
            let (folder, f) = rest.split_once(' ').ok_or("an F with no frame")?;
            Msg::Folder {
                folder: folder.to_string(),
                frame: frame(f)?,
            }
        }
        "P" => {
            let (to, f) = rest.split_once(' ').ok_or("a P with no frame")?;
            let to = UserName::new(to).map_err(|e| e.to_string())?;
            Msg::Private {
                to,
                frame: frame(f)?,
            }
        }
        "B" => Msg::Beat {
            instance: u64::from_str_radix(rest, 16).map_err(|_| format!("beat {rest:?}"))?,
        },
        "R" => Msg::Roster(
            lines
                .unwrap_or("")
                .split('\n')
                .filter(|l| !l.is_empty())
                .map(parse_user)
                .collect::<Result<_, _>>()?,
        ),
        "Y" => Msg::Sync,
        "Q" => Msg::Stop,
        other => return Err(format!("unknown kind {other:?}")),
    };
    if lines.is_some() && !matches!(msg, Msg::Roster(_)) {
        return Err("a message of several lines".into());
    }
    Ok((node, msg))
}

fn parse_user(s: &str) -> Result<RemoteUser, String> {
    let f: Vec<&str> = s.splitn(6, ' ').collect();
    let (id, name, addr, connected, since, away) = match f[..] {
        [id, name, addr, connected, since] => (id, name, addr, connected, since, None),
        [id, name, addr, connected, since, away] if !away.is_empty() => {
            (id, name, addr, connected, since, Some(away_text(away)?))
        }
        _ => return Err(format!("a user of {} fields", f.len())),
    };
    Ok(RemoteUser {
        conn_id: id.parse().map_err(|_| format!("conn id {id:?}"))?,
        name: UserName::new(name).map_err(|e| e.to_string())?,
        addr: addr.parse().map_err(|_| format!("address {addr:?}"))?,
        connected: Time::parse(connected).map_err(|e| e.to_string())?,
        since: Time::parse(since).map_err(|e| e.to_string())?,
        away,
    })
}

/// Another node's away text obeys the rules of one set here (it fits an `AWAY`
/// request's line), so no `USER`, `OK TELL` or `AWAY` line natterd sends with it can
/// pass the protocol's limits: a client would drop its connection on such a line.
fn away_text(text: &str) -> Result<String, String> {
    let mut line = Vec::with_capacity(text.len() + 6);
    line.extend_from_slice(b"AWAY ");
    line.extend_from_slice(text.as_bytes());
    line.push(b'\n');
    match decode_request(&line) {
        Ok(Decoded::Frame(Request::Away { text: t }, n)) if n == line.len() && t == text => Ok(t),
        Ok(_) => Err("an away text that is not one".into()),
        Err(e) => Err(format!("an away text: {}", e.text)),
    }
}

fn frame(line: &str) -> Result<ServerFrame, String> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    let f = match decode_server_frame(&bytes) {
        Ok(Decoded::Frame(f, n)) if n == bytes.len() => f,
        Ok(_) => return Err("not one whole frame".into()),
        Err(e) => return Err(e.text),
    };
    // A text no client could have sent: stamped (`SAID`), kept as an away text or
    // replayed from the history, it would make lines past what clients read.
    match &f {
        ServerFrame::From { text, .. }
        | ServerFrame::Away { text, .. }
        | ServerFrame::Private { text, .. }
            if text.len() > MAX_TEXT =>
        {
            Err(format!(
                "a text of {} bytes (at most {MAX_TEXT})",
                text.len()
            ))
        }
        _ => Ok(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::LeaveReason;

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    fn alice() -> RemoteUser {
        RemoteUser {
            conn_id: 7,
            name: name("Alice"),
            addr: "[::1]:5000".parse().unwrap(),
            connected: Time(1_700_000_000),
            since: Time(1_700_000_005),
            away: None,
        }
    }

    #[test]
    fn every_message_comes_back_as_it_went() {
        let node = NodeName::new("pi.lan:7878").unwrap();
        let bob = RemoteUser {
            conn_id: 8,
            name: name("bob"),
            addr: "10.0.0.2:1".parse().unwrap(),
            away: Some("at  lunch".into()),
            ..alice()
        };
        for msg in [
            Msg::User(alice()),
            Msg::Event(ServerFrame::From {
                name: name("alice"),
                text: " two  spaces and a \r inside ".into(),
            }),
            Msg::Event(ServerFrame::Leave {
                name: name("alice"),
                reason: LeaveReason::Lost,
                text: String::new(),
            }),
            Msg::Folder {
                folder: "m1.2049.131".into(),
                frame: ServerFrame::Deleted {
                    name: name("bob"),
                    file: natter_protocol::FileName::new("a b.txt").unwrap(),
                },
            },
            Msg::Private {
                to: name("bob"),
                frame: ServerFrame::Private {
                    name: name("alice"),
                    text: "psst".into(),
                },
            },
            Msg::Beat { instance: u64::MAX },
            Msg::Roster(vec![alice(), bob]),
            Msg::Roster(vec![]),
            Msg::Sync,
            Msg::Stop,
        ] {
            let wire = encode(&node, &msg);
            assert_eq!(decode(&wire), Ok((node.clone(), msg.clone())), "{msg:?}");
        }
        assert_eq!(
            String::from_utf8(encode(&node, &Msg::User(alice()))).unwrap(),
            "pi.lan:7878 U 7 Alice [::1]:5000 2023-11-14T22:13:20Z 2023-11-14T22:13:25Z"
        );
    }

    #[test]
    fn a_bad_message_is_an_error_not_a_panic() {
        for bad in [
            &b"\xff\xfe"[..],
            b"",
            b"node",
            b"no de U 1",
            b"n X",
            b"n U 1 alice",
            b"n U x alice 1.2.3.4:5 2023-11-14T22:13:20Z 2023-11-14T22:13:20Z",
            b"n E NOPE x",
            b"n E FROM",
            b"n P bob",
            b"n F folder",
            b"n B zz",
            b"n Y\nextra",
            b"n R\n1 2 3",
        ] {
            assert!(decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn an_away_text_longer_than_a_request_could_carry_is_refused() {
        let user = |away: &str| {
            format!("n U 1 alice 1.2.3.4:5 2023-11-14T22:13:20Z 2023-11-14T22:13:20Z {away}")
        };
        let fits = "d".repeat(natter_protocol::MAX_HEADER - "AWAY \n".len());
        match decode(user(&fits).as_bytes()) {
            Ok((_, Msg::User(u))) => assert_eq!(u.away.as_deref(), Some(&*fits)),
            other => panic!("{other:?}"),
        }
        let long = format!("{fits}d");
        assert!(decode(user(&long).as_bytes()).is_err());
        assert!(decode(user(&"D".repeat(50_000)).as_bytes()).is_err());
        let roster = format!("n R\n{}", &user(&long)[4..]);
        assert!(decode(roster.as_bytes()).is_err());
        // Nor any text in a frame: a stamped FROM or an OK TELL would pass 8192 bytes.
        for verb in ["FROM bob ", "AWAY bob ", "PRIVATE bob "] {
            let text = "t".repeat(natter_protocol::MAX_TEXT);
            assert!(
                decode(format!("n E {verb}{text}").as_bytes()).is_ok(),
                "{verb}"
            );
            let line = format!("n E {verb}{text}t");
            assert!(decode(line.as_bytes()).is_err(), "{verb}");
        }
    }
}
