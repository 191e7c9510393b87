//! A recording [`Outbox`] for the room's unit tests: what every connection would
//! receive, in order, and what the room asked of the loop. No socket, no thread.

use super::{ConnRef, Outbox, Room, Settings, Traffic};
use crate::config::Config;
use crate::folder::{FileSend, SharedFolder};
use natter_protocol::{Decoded, Request, ServerFrame};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// One frame for one connection; a broadcast is one of these per recipient.
    Frame(ConnRef, ServerFrame),
    /// The room has more for this connection, to be pulled.
    PullLater(ConnRef),
    Closed(ConnRef),
    DownloadStarted(ConnRef, u64),
    DownloadStopped(ConnRef, u64),
    /// A bus message, for one node or (`None`) all.
    Published(Option<String>, String),
    Claim(ConnRef, u64, String),
    Release(String),
}

#[derive(Default)]
pub struct Recorder {
    pub events: Vec<Event>,
    /// Downloads handed to the "loop", still running.
    pub downloads: Vec<(ConnRef, FileSend)>,
    pub traffic: HashMap<ConnRef, Traffic>,
    /// Connections the room has more for (a listing), until pulled to the end.
    pub pulling: HashSet<ConnRef>,
    /// How many broadcasts were asked for (each encoded once by the real loop).
    pub broadcasts: usize,
    /// Connections that asked for stamped messages.
    pub stamped: HashSet<ConnRef>,
}

impl Recorder {
    /// Everything recorded so far, forgotten by the recorder.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The frames `conn` got since the last `take`, in order.
    pub fn frames(&self, conn: ConnRef) -> Vec<ServerFrame> {
        let mut got = Vec::new();
        for e in &self.events {
            if let Event::Frame(c, f) = e {
                if *c == conn {
                    got.push(f.clone());
                }
            }
        }
        got
    }

    pub fn closed(&self, conn: ConnRef) -> bool {
        self.events.contains(&Event::Closed(conn))
    }
}

impl Outbox for Recorder {
    fn send(&mut self, to: ConnRef, frame: &ServerFrame) {
        self.events.push(Event::Frame(to, frame.clone()));
    }

    fn pull_later(&mut self, conn: ConnRef) {
        self.events.push(Event::PullLater(conn));
        self.pulling.insert(conn);
    }

    fn broadcast(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        frame: &ServerFrame,
    ) -> u64 {
        self.broadcast_stamped(members, except, frame, frame)
    }

    fn broadcast_stamped(
        &mut self,
        members: &[ConnRef],
        except: Option<ConnRef>,
        plain: &ServerFrame,
        stamped: &ServerFrame,
    ) -> u64 {
        self.broadcasts += 1;
        let mut n = 0;
        for &m in members {
            if Some(m) != except {
                let f = if self.stamped.contains(&m) {
                    stamped
                } else {
                    plain
                };
                self.events.push(Event::Frame(m, f.clone()));
                n += 1;
            }
        }
        n
    }

    fn stamps(&mut self, conn: ConnRef) {
        self.stamped.insert(conn);
    }

    fn close(&mut self, conn: ConnRef) {
        self.events.push(Event::Closed(conn));
    }

    fn start_download(&mut self, conn: ConnRef, send: FileSend) {
        self.events.push(Event::DownloadStarted(conn, send.xfer));
        self.downloads.push((conn, send));
    }

    fn stop_download(&mut self, conn: ConnRef, xfer: u64) -> Option<FileSend> {
        let i = self
            .downloads
            .iter()
            .position(|(c, d)| *c == conn && d.xfer == xfer)?;
        self.events.push(Event::DownloadStopped(conn, xfer));
        Some(self.downloads.remove(i).1)
    }

    fn traffic(&self, conn: ConnRef) -> Traffic {
        self.traffic.get(&conn).copied().unwrap_or_default()
    }

    fn publish(&mut self, to: Option<&crate::cluster::NodeName>, payload: Vec<u8>) {
        let text = String::from_utf8_lossy(&payload).into_owned();
        self.events
            .push(Event::Published(to.map(|n| n.to_string()), text));
    }

    fn claim(&mut self, conn: ConnRef, conn_id: u64, folded: &natter_protocol::UserName) {
        self.events
            .push(Event::Claim(conn, conn_id, folded.to_string()));
    }

    fn release(&mut self, folded: &natter_protocol::UserName) {
        self.events.push(Event::Release(folded.to_string()));
    }
}

/// A room over a fresh temporary shared folder, a recorder, and short ways to say
/// what a client does, in wire words.
pub struct Fixture {
    pub room: Room,
    pub out: Recorder,
    pub dir: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    /// A room whose settings `change` adjusts from the defaults.
    pub fn with(change: impl FnOnce(&mut Settings)) -> Fixture {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "natter-room-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut settings = Settings::from_config(&Config {
            motd: "Welcome".into(),
            shared_dir: dir.clone(),
            ..Config::default()
        });
        change(&mut settings);
        let folder = SharedFolder::open(&dir).expect("a temporary shared folder");
        Fixture {
            room: Room::new(settings, folder),
            out: Recorder::default(),
            dir,
        }
    }

    /// Connection `n` arrives; what it was sent is forgotten.
    pub fn connect(&mut self, n: usize) -> ConnRef {
        let c = ConnRef(n);
        let addr = SocketAddr::from(([10, 0, 0, n as u8], 40000 + n as u16));
        self.room.connect(&mut self.out, c, 100 + n as u64, addr);
        self.out.take();
        c
    }

    /// Connection `n` arrives and takes `name`; what anyone was sent is forgotten.
    pub fn join(&mut self, n: usize, name: &str) -> ConnRef {
        let c = self.connect(n);
        self.send(c, &format!("HELLO {name}"));
        assert!(self.room.is_named(c), "{name} could not join");
        self.out.take();
        c
    }

    /// `line` (one request in wire form, without its `\n`) arrives from `from`, and
    /// (as a loop whose client reads promptly would) whatever it starts is pulled to
    /// its end.
    pub fn send(&mut self, from: ConnRef, line: &str) {
        let bytes = format!("{line}\n");
        match natter_protocol::decode_request(bytes.as_bytes()) {
            Ok(Decoded::Frame(req, _)) => self.request(from, req),
            other => panic!("{line:?} is not a request: {other:?}"),
        }
    }

    /// Like `send`, for a request built as a value (an upload's `DATA`).
    pub fn request(&mut self, from: ConnRef, req: Request) {
        self.room.handle(&mut self.out, from, req);
        self.pull_all(from);
    }

    /// Pulls `conn`'s listing to its end; returns how many pulls that took.
    pub fn pull_all(&mut self, conn: ConnRef) -> usize {
        let mut pulls = 0;
        while self.out.pulling.contains(&conn) {
            pulls += 1;
            if !self.room.pull(&mut self.out, conn) {
                self.out.pulling.remove(&conn);
            }
            assert!(pulls < 100_000, "a listing that never ends");
        }
        pulls
    }

    /// What `conn` got since the last take, as wire lines, and forgets everything.
    pub fn lines(&mut self, conn: ConnRef) -> Vec<String> {
        let got = self.out.frames(conn);
        self.out.take();
        got.iter().map(wire).collect()
    }

    /// The one line `from` got in answer to `line`; panics on more or fewer.
    pub fn ask(&mut self, from: ConnRef, line: &str) -> String {
        self.send(from, line);
        let mut got = self.lines(from);
        assert_eq!(got.len(), 1, "{line:?} got {got:?}");
        got.remove(0)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Puts a file into the shared folder from outside, as a person would, and tells
    /// the room, as the loop's watch would.
    pub fn file(&mut self, name: &str, bytes: &[u8]) {
        std::fs::write(self.path(name), bytes).expect("write into the shared folder");
        self.changed(name);
    }

    /// Tells the room that `name` changed in the folder.
    pub fn changed(&mut self, name: &str) {
        self.room
            .folder_changed([std::ffi::OsStr::new(name)], false);
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A frame as the wire shows it, without its `\n`.
pub fn wire(f: &ServerFrame) -> String {
    let b = f.to_bytes();
    String::from_utf8_lossy(&b[..b.len() - 1]).into_owned()
}
