//! The session: a greeted connection in use, from the request sent to the line shown.
//!
//! - this file: [`Session`], shared by the main thread, which sends, the reader
//!   thread, which receives, and the writer thread, which alone writes to the socket:
//!   the transfers running, the names the session knows for completion, and its
//!   [`outbox::Outbox`]. Replies travel back to the main thread as [`Outcome`]s on a
//!   channel; the main thread waits on it only where order matters (logging in, batch
//!   mode, quitting), with [`call`], [`wait_reply`] and [`wait_transfer`].
//! - [`outbox`]: the requests still waiting for their final reply (in order, as the
//!   protocol answers them) and the channel to the writer, kept in step.
//! - [`writer`]: the writer thread: requests first, then upload chunks.
//! - [`reader`]: the reader thread: socket -> frames -> session state, files and
//!   lines -> a [`reader::Sink`].
//! - [`transfers`]: what a `/get` or `/put` prepares, uploads in chunks, progress.
//! - [`download`]: downloads into `.part` files, and the checks of which version of
//!   the file a `.part` holds before it is continued or saved; [`record`]: the
//!   record of that version kept beside the `.part`.
//!
//! Arrows: `reader` -> this file -> `writer` -> `outbox`; this file -> `outbox`; all
//! -> `transfers`; and down to `net`, `display`, `exit`. The writer knows only the
//! outbox, never the session. Nothing here uses `ui`: lines go out through the `Sink`
//! the caller passes in.

pub mod download;
pub mod outbox;
pub mod reader;
pub mod record;
#[cfg(test)]
mod testing;
pub mod transfers;
pub mod writer;

use crate::exit::Exit;
use crate::net::transport::{Closer, WriteHalf};
use crate::session::download::DownloadPlan;
use crate::session::outbox::{Msg, Outbox, Pending};
use crate::session::transfers::{Plan, Upload, UploadPlan};
use natter_protocol::{ErrorCode, Reply, Request, UserName};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the connection may stay silent before the client sends a `PING` of its
/// own, unless `--keepalive` says otherwise: the server drops connections idle for
/// its idle timeout (300 s by default), and someone who only reads is not idle.
pub const KEEPALIVE: Duration = Duration::from_secs(60);

/// What the reader thread tells the main thread.
#[derive(Debug)]
pub enum Outcome {
    /// The final reply to request `id`: `Ok` or the `ERR` code and text.
    Reply {
        id: u64,
        req: Request,
        result: Result<Reply, (ErrorCode, String)>,
    },
    /// The `/get` or `/put` numbered `job` ended: the file verified and in place
    /// (`ok`), or not (refused, failed, cancelled).
    Transfer { job: u64, ok: bool },
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

/// A transfer under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// Its id on the wire, for `ABORT`; `None`: an upload whose SHA-256 is still
    /// being read, before its `PUT` goes.
    pub xfer: Option<u64>,
    /// `downloading cat.png`, `uploading ./song.mp3`.
    pub what: String,
    pub upload: bool,
    /// What `/cancel <file>` may call it: the shared name, and for an upload the
    /// local path as given and its last part.
    pub names: Vec<String>,
}

#[derive(Default)]
struct Jobs {
    running: BTreeMap<u64, Running>,
    /// Uploads cancelled before the server gave them an id: their hashing stops,
    /// and a `PUT` already sent is aborted once it is accepted.
    stopped: BTreeSet<u64>,
}

/// The names the session knows right now: a snapshot for Tab completion.
#[derive(Debug, Default, Clone)]
pub struct Known {
    pub users: Vec<String>,
    pub files: Vec<String>,
}

#[derive(Default)]
struct Names {
    me: Option<UserName>,
    /// By case-folded key, as the server keeps them unique.
    users: BTreeMap<String, UserName>,
    /// A full listing (`WHO`) arrived: `users` is everyone, not just who joined since.
    users_listed: bool,
    files: BTreeSet<String>,
    /// Who is away (case-folded keys), from `AWAY`/`BACK`, `WHO` and `OK TELL`.
    away: BTreeSet<String>,
}

pub struct Session {
    /// `host:port` as the user gave it, for messages.
    pub target: String,
    outbox: Arc<Outbox>,
    names: Mutex<Names>,
    /// Transfers running, by job: their transfer id on the wire and what they are
    /// (`downloading cat.png`), for the user leaving or cancelling mid-way.
    transfers: Mutex<Jobs>,
    next_job: AtomicU64,
    quitting: AtomicBool,
    closed: AtomicBool,
    /// How long the connection may stay silent before a `PING` (see [`KEEPALIVE`]).
    keepalive: Mutex<Duration>,
}

/// A poisoned lock only means another thread panicked while holding it; the data
/// (queues and name sets) is still usable, and the client should keep going.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Session {
    /// Starts the writer thread on `write` and returns the session.
    pub fn start(write: WriteHalf, closer: Closer, target: String) -> std::io::Result<Session> {
        let (tx, rx) = mpsc::channel();
        let outbox = Arc::new(Outbox::new(tx, closer));
        if let WriteHalf::Tls(t) = &write {
            // Records rustls makes while reading (an alert, a key update) go out
            // through the writer thread, like everything else.
            let outbox = outbox.clone();
            t.shared()
                .on_flush(Box::new(move || outbox.to_writer(Msg::Frame(Vec::new()))));
        }
        writer::spawn(write, rx, outbox.clone())?;
        Ok(Session {
            target,
            outbox,
            names: Mutex::new(Names::default()),
            transfers: Mutex::new(Jobs::default()),
            next_job: AtomicU64::new(1),
            quitting: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            keepalive: Mutex::new(KEEPALIVE),
        })
    }

    /// Sends `req`; returns its id for [`wait_reply`]. A failed write closes the
    /// connection, so the reader thread ends and reports the end: a waiter always
    /// hears back.
    pub fn send(&self, req: Request, quiet: bool) -> u64 {
        self.send_with(req, quiet, None)
    }

    /// Sends `req` with what its reply sets going.
    /// `/sums`: the listing, shown as the files' SHA-256s.
    pub fn sums(&self) -> u64 {
        self.send_with(Request::Files, false, Some(Plan::Sums))
    }

    pub fn send_with(&self, req: Request, quiet: bool, plan: Option<Plan>) -> u64 {
        if matches!(req, Request::Quit { .. }) {
            self.quitting.store(true, Ordering::SeqCst);
        }
        self.outbox.send(req, quiet, plan)
    }

    /// The reader thread saw the end of the connection.
    pub fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Ends the connection now (a reply that never came).
    pub fn close(&self) {
        self.outbox.close();
    }

    /// How long the connection may stay silent before a `PING`, instead of
    /// [`KEEPALIVE`]; set before [`Session::spawn_keepalive`].
    pub fn set_keepalive(&self, every: Duration) {
        *lock(&self.keepalive) = every;
    }

    /// Sends a quiet `PING` whenever nothing was sent for the keepalive time, until
    /// the session quits or closes.
    pub fn spawn_keepalive(self: &Arc<Session>) {
        let every = *lock(&self.keepalive);
        let session = self.clone();
        let _ = std::thread::Builder::new()
            .name("natter-keepalive".into())
            .spawn(move || loop {
                if session.is_quitting() || session.closed.load(Ordering::SeqCst) {
                    return;
                }
                let idle = session.outbox.idle();
                if idle >= every {
                    session.send(
                        Request::Ping {
                            text: "keepalive".into(),
                        },
                        true,
                    );
                    continue;
                }
                std::thread::sleep(every - idle);
            });
    }

    /// Reader: the server accepted an upload; the writer streams it.
    pub fn start_upload(&self, up: Upload) {
        self.outbox.to_writer(Msg::Upload(Box::new(up)));
    }

    /// Reader: the server failed upload `xfer`; the writer stops sending it.
    pub fn cancel_upload(&self, xfer: u64) {
        self.outbox.to_writer(Msg::Cancel(xfer));
    }

    /// Reader: rustls queued records of its own (an alert, a key update).
    pub fn flush(&self) {
        self.outbox.to_writer(Msg::Frame(Vec::new()));
    }

    /// `/get`: the `FILES` listing that records the file's version (quiet), then
    /// the `GET`. Returns the job that [`wait_transfer`] waits for.
    pub fn get(&self, mut plan: DownloadPlan) -> u64 {
        plan.job = self.next_job.fetch_add(1, Ordering::SeqCst);
        let job = plan.job;
        self.send(Request::Files, true);
        self.send_with(plan.request(), false, Some(Plan::Download(plan)));
        job
    }

    /// `/put` of a file whose SHA-256 is about to be read: from now on it is a
    /// running transfer, which `/cancel`, Ctrl-C and `/quit` know of. Returns its job.
    pub fn begin_put(&self, plan: &mut UploadPlan) -> u64 {
        plan.job = self.next_job.fetch_add(1, Ordering::SeqCst);
        let local = plan.local.display().to_string();
        let mut names = vec![plan.name.to_string(), local.clone()];
        names.dedup();
        let running = Running {
            xfer: None,
            what: format!("uploading {local}"),
            upload: true,
            names,
        };
        lock(&self.transfers).running.insert(plan.job, running);
        plan.job
    }

    /// Upload `job` was cancelled before its `PUT` was accepted.
    pub fn is_stopped(&self, job: u64) -> bool {
        lock(&self.transfers).stopped.contains(&job)
    }

    /// `/put`, after [`Session::begin_put`] or without it. Returns the job that
    /// [`wait_transfer`] waits for.
    pub fn put(&self, mut plan: UploadPlan) -> u64 {
        if plan.job == 0 {
            plan.job = self.next_job.fetch_add(1, Ordering::SeqCst);
        }
        let job = plan.job;
        self.send_with(plan.request(), false, Some(Plan::Upload(plan)));
        job
    }

    /// Reader: job `job` runs as this transfer now (again, after a start over).
    /// `false`: the user cancelled it before it got here; it is over.
    pub fn transfer_started(&self, job: u64, running: Running) -> bool {
        let mut jobs = lock(&self.transfers);
        if jobs.stopped.remove(&job) {
            jobs.running.remove(&job);
            return false;
        }
        jobs.running.insert(job, running);
        true
    }

    /// `/cancel`: `ABORT`s the running transfers `which` names (every one when
    /// `None`); the reader says how each ended. `Ok` is what is being cancelled,
    /// `Err` why nothing is.
    pub fn cancel(&self, which: Option<&str>) -> Result<Vec<String>, String> {
        let mut jobs = lock(&self.transfers);
        if jobs.running.is_empty() {
            return Err("no transfer is running".into());
        }
        let chosen: Vec<(u64, Running)> = jobs
            .running
            .iter()
            .filter(|(_, r)| match which {
                None => true,
                Some(w) => r.names.iter().any(|n| n == w),
            })
            .map(|(job, r)| (*job, r.clone()))
            .collect();
        if chosen.is_empty() {
            let all: Vec<&str> = jobs.running.values().map(|r| r.what.as_str()).collect();
            return Err(format!(
                "no transfer of {} is running (now: {}); /cancel alone stops them all",
                which.unwrap_or_default(),
                all.join(", ")
            ));
        }
        // One not on the wire yet stops here: its hashing stops, or the reply to
        // its PUT aborts it. Marked under the lock `transfer_started` takes, so the
        // reply cannot slip in between.
        for (job, r) in &chosen {
            if r.xfer.is_none() {
                jobs.stopped.insert(*job);
            }
        }
        drop(jobs);
        for (_, r) in &chosen {
            self.abort(r);
        }
        Ok(chosen.into_iter().map(|(_, r)| r.what).collect())
    }

    /// `ABORT`s a transfer on the wire; the reader says how it ended.
    fn abort(&self, r: &Running) {
        let Some(xfer) = r.xfer else { return };
        if r.upload {
            // Before the ABORT, on the same channel: no chunk follows it.
            self.cancel_upload(xfer);
        }
        self.send_with(Request::Abort { xfer }, true, Some(Plan::Cancel { xfer }));
    }

    pub fn transfer_ended(&self, job: u64) {
        let mut jobs = lock(&self.transfers);
        jobs.running.remove(&job);
        jobs.stopped.remove(&job);
    }

    /// What is being transferred now, oldest first.
    pub fn running(&self) -> Vec<Running> {
        lock(&self.transfers).running.values().cloned().collect()
    }

    /// What is being transferred now (`downloading cat.png`), oldest first.
    pub fn transfers(&self) -> Vec<String> {
        lock(&self.transfers)
            .running
            .values()
            .map(|r| r.what.clone())
            .collect()
    }

    /// The oldest request still waiting, which the next final reply answers.
    pub fn take_pending(&self) -> Option<Pending> {
        self.outbox.take_pending()
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
        let mut n = lock(&self.names);
        n.users.remove(&name.key());
        n.away.remove(&name.key());
    }

    /// Someone went away (`true`) or came back.
    pub fn set_away(&self, name: &UserName, away: bool) {
        let mut n = lock(&self.names);
        if away {
            n.away.insert(name.key());
        } else {
            n.away.remove(&name.key());
        }
    }

    pub fn is_away(&self, name: &UserName) -> bool {
        lock(&self.names).away.contains(&name.key())
    }

    /// Replaces the known users with a full listing (`WHO`).
    pub fn set_users(&self, users: impl IntoIterator<Item = UserName>) {
        let mut n = lock(&self.names);
        n.users = users.into_iter().map(|u| (u.key(), u)).collect();
        n.users_listed = true;
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

    pub fn remove_file(&self, file: &str) {
        lock(&self.names).files.remove(file);
    }

    /// Whether `name` is online: `None` until the first `WHO` listing arrived.
    pub fn is_online(&self, name: &UserName) -> Option<bool> {
        let n = lock(&self.names);
        let known = n.users.contains_key(&name.key());
        (known || n.users_listed).then_some(known)
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

/// The final reply: `Ok`, or the `ERR` code and text.
pub type Answer = Result<Reply, (ErrorCode, String)>;

/// Sends `req` and waits for its reply (see [`wait_reply`]).
pub fn call(
    session: &Session,
    outcomes: &Receiver<Outcome>,
    req: Request,
    limit: Option<Duration>,
) -> Result<Answer, End> {
    let id = session.send(req, false);
    wait_reply(outcomes, id, limit)
}

/// Waits for the final reply to request `id`, skipping replies to other requests.
/// `Err` when the session ended first, or (with a `limit`) when the reply did not come
/// in time, which counts as the connection being lost.
pub fn wait_reply(
    outcomes: &Receiver<Outcome>,
    id: u64,
    limit: Option<Duration>,
) -> Result<Answer, End> {
    let deadline = limit.map(|l| Instant::now() + l);
    loop {
        let next = match deadline {
            None => outcomes.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => outcomes.recv_timeout(d.saturating_duration_since(Instant::now())),
        };
        match next {
            Ok(Outcome::Reply {
                id: got, result, ..
            }) if got == id => return Ok(result),
            Ok(Outcome::Reply { .. } | Outcome::Transfer { .. }) => continue,
            Ok(Outcome::Ended(end)) => return Err(end),
            Err(RecvTimeoutError::Timeout) => {
                return Err(End::Lost("no reply from the server in time".into()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                return Err(End::Lost("the reader stopped".into()))
            }
        }
    }
}

/// Waits until the `/get` or `/put` numbered `job` ends; `Ok(true)` when it
/// succeeded.
pub fn wait_transfer(outcomes: &Receiver<Outcome>, job: u64) -> Result<bool, End> {
    loop {
        match outcomes.recv() {
            Ok(Outcome::Transfer { job: got, ok }) if got == job => return Ok(ok),
            Ok(Outcome::Reply { .. } | Outcome::Transfer { .. }) => continue,
            Ok(Outcome::Ended(end)) => return Err(end),
            Err(_) => return Err(End::Lost("the reader stopped".into())),
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
    fn who_is_online_is_unknown_until_listed() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let t = crate::net::transport::plain(
            std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap(),
        )
        .unwrap();
        let s = Session::start(t.write, t.closer, "t".into()).unwrap();
        let bob = UserName::new("bob").unwrap();
        let carol = UserName::new("Carol").unwrap();
        assert_eq!(s.is_online(&bob), None);
        s.joined(&carol);
        assert_eq!(s.is_online(&UserName::new("carol").unwrap()), Some(true));
        s.set_me(UserName::new("alice").unwrap());
        s.set_users([bob.clone()]);
        assert_eq!(s.is_online(&bob), Some(true));
        assert_eq!(s.is_online(&carol), Some(false));
        s.left(&bob);
        assert_eq!(s.is_online(&bob), Some(false));
        assert_eq!(s.known().users, Vec::<String>::new(), "not yourself");
        s.joined(&carol);
        assert_eq!(s.known().users, vec!["Carol".to_string()]);
    }

    #[test]
    fn waiting_skips_earlier_replies() {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(Outcome::Reply {
            id: 1,
            req: Request::Who,
            result: Ok(Reply::Who {
                count: 1,
                note: String::new(),
            }),
        })
        .unwrap();
        tx.send(Outcome::Reply {
            id: 2,
            req: Request::Quit {
                text: String::new(),
            },
            result: Ok(Reply::Quit),
        })
        .unwrap();
        assert_eq!(wait_reply(&rx, 2, None), Ok(Ok(Reply::Quit)));
        assert!(matches!(
            wait_reply(&rx, 3, Some(Duration::from_millis(1))),
            Err(End::Lost(_))
        ));
        drop(tx);
        assert!(wait_reply(&rx, 3, None).is_err());
    }
}
