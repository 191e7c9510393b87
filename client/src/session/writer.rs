//! The writer thread: the only code that writes to the connection.
//!
//! Requests arrive as encoded frames on a channel (see `outbox`), in the
//! order their replies are expected. Uploads arrive as [`Upload`] jobs and are
//! streamed one `DATA` frame at a time, round robin, and every frame waiting on the
//! channel goes out before the next chunk. So the main thread never blocks on the
//! socket, a chat line typed during a 1 GiB upload waits for at most one chunk, and
//! no file is ever read into memory whole.
//!
//! A write that fails closes the connection: the reader thread then sees the end
//! and reports it, so anyone waiting for a reply hears back. A local read that fails
//! aborts that upload with an `ABORT` request whose reply tells the user why.

use crate::net::transport::WriteHalf;
use crate::session::outbox::{Msg, Outbox};
use crate::session::transfers::{Plan, Upload};
use natter_protocol::Request;
use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

pub fn spawn(out: WriteHalf, rx: Receiver<Msg>, outbox: Arc<Outbox>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("natter-writer".into())
        .spawn(move || {
            Writer {
                out,
                outbox,
                frames: VecDeque::new(),
                uploads: VecDeque::new(),
                broken: false,
                chunk: Vec::new(),
            }
            .run(rx)
        })
        .map(|_| ())
}

struct Writer {
    out: WriteHalf,
    outbox: Arc<Outbox>,
    frames: VecDeque<Vec<u8>>,
    uploads: VecDeque<Box<Upload>>,
    /// A write failed and the connection is closed: everything else is dropped.
    broken: bool,
    /// The buffer each `DATA` frame is built in, reused.
    chunk: Vec<u8>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        loop {
            // Block only when there is nothing to stream.
            if self.uploads.is_empty() {
                match rx.recv() {
                    Ok(m) => self.take(m),
                    Err(_) => return,
                }
            }
            loop {
                match rx.try_recv() {
                    Ok(m) => self.take(m),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => return,
                }
            }
            while let Some(f) = self.frames.pop_front() {
                self.write(&f);
            }
            self.upload_one_chunk();
        }
    }

    fn take(&mut self, m: Msg) {
        match m {
            Msg::Frame(f) => self.frames.push_back(f),
            Msg::Upload(u) if !self.broken => self.uploads.push_back(u),
            Msg::Upload(_) => {}
            Msg::Cancel(xfer) => self.uploads.retain(|u| u.xfer != xfer),
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        if self.out.send(bytes).is_err() {
            self.broken = true;
            self.uploads.clear();
            self.outbox.close();
        }
    }

    /// Sends the next chunk of the front upload, then puts it at the back.
    fn upload_one_chunk(&mut self) {
        let Some(mut up) = self.uploads.pop_front() else {
            return;
        };
        if up.is_done() {
            return;
        }
        let mut chunk = std::mem::take(&mut self.chunk);
        match up.next_frame(&mut chunk) {
            Ok(body) => {
                self.write(&chunk);
                up.sent_frame(body, Instant::now());
                if !up.is_done() && !self.broken {
                    self.uploads.push_back(up);
                }
            }
            Err(why) => {
                let xfer = up.xfer;
                self.outbox.send(
                    Request::Abort { xfer },
                    true,
                    Some(Plan::Abort { xfer, why }),
                );
            }
        }
        self.chunk = chunk;
    }
}
