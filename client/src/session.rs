//! The connection once greeted, shared by the main thread, which sends, and the reader
//! thread, which receives: the socket's write half, the requests still waiting for
//! their final reply (in order, as the protocol answers them), and the names the
//! session knows for completion.
//!
//! Replies travel back to the main thread as [`Outcome`]s on a channel; the main
//! thread waits on it only where order matters (logging in, batch mode, quitting).

use crate::complete::Known;
use crate::exit::Exit;
use natter_protocol::{ErrorCode, Reply, Request, UserName};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A request on the wire whose final reply has not come yet.
#[derive(Debug)]
pub struct Pending {
    pub req: Request,
    /// Sent by the client itself (the `WHO` after logging in): the reply updates
    /// state but shows no line.
    pub quiet: bool,
    pub sent_at: Instant,
}

/// What the reader thread tells the main thread.
#[derive(Debug)]
pub enum Outcome {
    /// The final reply to `req`: `Ok` or the `ERR` code and text.
    Reply {
        req: Request,
        result: Result<Reply, (ErrorCode, String)>,
    },
    /// No more frames will come.
    Ended(End),
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// We sent `QUIT` and the server closed the connection, as asked.
    Quit,
    /// The connection dropped: EOF or an error, in words.
    Lost(String),
    /// The server said `SHUTDOWN` with this text, then closed.
    Shutdown(String),
}

impl End {
    /// The line shown to the user (after `! `).
    pub fn message(&self, target: &str) -> String {
        match self {
            End::Quit => format!("disconnected from {target}"),
            End::Lost(why) => format!("connection to {target} lost ({why})"),
            End::Shutdown(text) if text.is_empty() => {
                format!("the server at {target} shut down")
            }
            End::Shutdown(text) => format!(
                "the server at {target} shut down: {}",
                crate::display::sanitize(text)
            ),
        }
    }

    pub fn exit(&self) -> Exit {
        match self {
            End::Quit => Exit::Ok,
            End::Lost(_) | End::Shutdown(_) => Exit::ConnectionLost,
        }
    }
}

#[derive(Default)]
struct Names {
    me: Option<UserName>,
    /// By case-folded key, as the server keeps them unique.
    users: BTreeMap<String, UserName>,
    files: BTreeSet<String>,
}

pub struct Session {
    /// `host:port` as the user gave it, for messages.
    pub target: String,
    writer: Mutex<TcpStream>,
    pending: Mutex<VecDeque<Pending>>,
    names: Mutex<Names>,
    quitting: AtomicBool,
}

/// A poisoned lock only means another thread panicked while holding it; the data
/// (queues and name sets) is still usable, and the client should keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    pub fn new(writer: TcpStream, target: String) -> Session {
        Session {
            target,
            writer: Mutex::new(writer),
            pending: Mutex::new(VecDeque::new()),
            names: Mutex::new(Names::default()),
            quitting: AtomicBool::new(false),
        }
    }

    /// Queues `req` as pending and writes it. The pending entry goes in first, under
    /// the writer's lock, so the reply can never arrive before its entry and entries
    /// stay in wire order. A failed write shuts the socket so the reader thread sees
    /// the end too.
    pub fn send(&self, req: Request, quiet: bool) -> io::Result<()> {
        if matches!(req, Request::Quit { .. }) {
            self.quitting.store(true, Ordering::SeqCst);
        }
        let bytes = req.to_bytes();
        let mut w = lock(&self.writer);
        lock(&self.pending).push_back(Pending {
            req,
            quiet,
            sent_at: Instant::now(),
        });
        let r = w.write_all(&bytes);
        if r.is_err() {
            let _ = w.shutdown(Shutdown::Both);
        }
        r
    }

    /// The oldest request still waiting, which the next final reply answers.
    pub fn take_pending(&self) -> Option<Pending> {
        lock(&self.pending).pop_front()
    }

    /// True once `QUIT` was sent: the server closing the connection is then expected.
    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    pub fn me(&self) -> Option<UserName> {
        lock(&self.names).me.clone()
    }

    pub fn set_me(&self, name: UserName) {
        let mut n = lock(&self.names);
        n.users.insert(name.key(), name.clone());
        n.me = Some(name);
    }

    pub fn joined(&self, name: &UserName) {
        lock(&self.names).users.insert(name.key(), name.clone());
    }

    pub fn left(&self, name: &UserName) {
        lock(&self.names).users.remove(&name.key());
    }

    /// Replaces the known users with a full listing (`WHO`).
    pub fn set_users(&self, users: impl IntoIterator<Item = UserName>) {
        let mut n = lock(&self.names);
        n.users = users.into_iter().map(|u| (u.key(), u)).collect();
        if let Some(me) = n.me.clone() {
            n.users.insert(me.key(), me);
        }
    }

    /// Replaces the known files with a full listing (`FILES`).
    pub fn set_files(&self, files: impl IntoIterator<Item = String>) {
        lock(&self.names).files = files.into_iter().collect();
    }

    pub fn add_file(&self, file: String) {
        lock(&self.names).files.insert(file);
    }

    pub fn is_known_user(&self, name: &UserName) -> bool {
        lock(&self.names).users.contains_key(&name.key())
    }

    /// A snapshot for Tab completion; the user's own name is left out.
    pub fn known(&self) -> Known {
        let n = lock(&self.names);
        let me = n.me.as_ref().map(|m| m.key());
        Known {
            users: n
                .users
                .iter()
                .filter(|(k, _)| Some(*k) != me.as_ref())
                .map(|(_, u)| u.to_string())
                .collect(),
            files: n.files.iter().cloned().collect(),
        }
    }
}

/// Waits for the final reply to the request whose verb is `verb`, skipping replies to
/// earlier requests. `Err` when the session ended first, or (with a `limit`) when the
/// reply did not come in time, which counts as the connection being lost.
pub fn wait_reply(
    outcomes: &Receiver<Outcome>,
    verb: &str,
    limit: Option<Duration>,
) -> Result<Result<Reply, (ErrorCode, String)>, End> {
    let deadline = limit.map(|l| Instant::now() + l);
    loop {
        let next = match deadline {
            None => outcomes.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => outcomes.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(Outcome::Reply { req, result }) if req.verb() == verb => return Ok(result),
            Ok(Outcome::Reply { .. }) => continue,
            Ok(Outcome::Ended(end)) => return Err(end),
            Err(RecvTimeoutError::Timeout) => {
                return Err(End::Lost(format!("no reply to {verb} in time")))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(End::Lost("the reader stopped".into()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_messages() {
        let t = "127.0.0.1:7878";
        assert_eq!(
            End::Lost("the server closed the connection".into()).message(t),
            "connection to 127.0.0.1:7878 lost (the server closed the connection)"
        );
        assert_eq!(
            End::Shutdown("natterd is shutting down".into()).message(t),
            "the server at 127.0.0.1:7878 shut down: natterd is shutting down"
        );
        assert_eq!(End::Shutdown(String::new()).exit(), Exit::ConnectionLost);
        assert_eq!(End::Quit.exit(), Exit::Ok);
    }

    #[test]
    fn waiting_skips_earlier_replies() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Outcome::Reply {
            req: Request::Who,
            result: Ok(Reply::Who { count: 1 }),
        })
        .unwrap();
        tx.send(Outcome::Reply {
            req: Request::Quit {
                text: String::new(),
            },
            result: Ok(Reply::Quit),
        })
        .unwrap();
        assert_eq!(wait_reply(&rx, "QUIT", None), Ok(Ok(Reply::Quit)));
        assert!(matches!(
            wait_reply(&rx, "QUIT", Some(Duration::from_millis(1))),
            Err(End::Lost(_))
        ));
        drop(tx);
        assert!(wait_reply(&rx, "QUIT", None).is_err());
    }
}
