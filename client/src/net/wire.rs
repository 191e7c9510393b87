//! Whole server frames out of whatever bytes a reader gives: a read buffer in front of
//! `natter_protocol::decode_server_frame`, which itself never buffers.
//!
//! The buffer stays small: the decoder refuses a header longer than the server limit
//! as soon as that many bytes arrived, and a `DATA` body is at most `MAX_BIG_DATA`
//! (what natter asks for in its HELLO).

use natter_protocol::{decode_server_frame, DecodeError, Decoded, ServerFrame};
use std::io::{self, Read};

/// How much one `read` asks for.
const READ_CHUNK: usize = 16 * 1024;

/// What the next call found.
#[derive(Debug)]
pub enum Incoming {
    Frame(ServerFrame),
    /// A line that could not be decoded; the stream goes on after it. `reply`: the
    /// line was a final reply (`OK ...` or `ERR ...`), which answers a request.
    Garbled {
        error: DecodeError,
        reply: bool,
    },
}

/// Why frames stopped coming.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (EOF).
    Closed,
    Io(io::Error),
    /// The stream cannot be resynchronised (an over-long line, an unreadable `DATA`
    /// header).
    Fatal(DecodeError),
}

pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: Vec::new(),
        }
    }

    /// The reader underneath (to set a timeout on it).
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Blocks until a whole frame, a garbled line, or the end of the stream.
    pub fn next_frame(&mut self) -> Result<Incoming, ReadError> {
        loop {
            match decode_server_frame(&self.buf) {
                Ok(Decoded::Frame(frame, used)) => {
                    self.buf.drain(..used);
                    return Ok(Incoming::Frame(frame));
                }
                Ok(Decoded::Blank(used)) => {
                    self.buf.drain(..used);
                    continue;
                }
                Ok(Decoded::Incomplete) => {}
                Err(e) if e.fatal => return Err(ReadError::Fatal(e)),
                Err(e) => {
                    let line = &self.buf[..e.used.min(self.buf.len())];
                    let first = line
                        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
                        .next();
                    let reply = matches!(first, Some(b"OK" | b"ERR"));
                    self.buf.drain(..line.len());
                    return Ok(Incoming::Garbled { error: e, reply });
                }
            }
            let start = self.buf.len();
            self.buf.resize(start + READ_CHUNK, 0);
            let got = loop {
                match self.inner.read(&mut self.buf[start..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            match got {
                Ok(0) => {
                    self.buf.truncate(start);
                    return Err(ReadError::Closed);
                }
                Ok(n) => self.buf.truncate(start + n),
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(ReadError::Io(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::{ErrorCode, Reply};

    /// Hands out its bytes a few at a time, as a socket may.
    struct Trickle(Vec<u8>, usize);

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(out.len()).min(self.0.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(n)
        }
    }

    fn frames(bytes: &[u8], step: usize) -> Vec<String> {
        let mut r = FrameReader::new(Trickle(bytes.to_vec(), step));
        let mut out = Vec::new();
        loop {
            match r.next_frame() {
                Ok(Incoming::Frame(f)) => out.push(format!("{f:?}")),
                Ok(Incoming::Garbled { error, reply }) => {
                    out.push(format!("garbled {} reply={reply}", error.code))
                }
                Err(ReadError::Closed) => return out,
                Err(e) => {
                    out.push(format!("error {e:?}"));
                    return out;
                }
            }
        }
    }

    #[test]
    fn frames_from_any_split() {
        let wire = b"OK PING\r\n\nJOIN bob\nDATA 1 3\nab\nOK SAY 2\n";
        for step in 1..wire.len() {
            let got = frames(wire, step);
            assert_eq!(got.len(), 4, "step {step}: {got:?}");
            assert_eq!(
                got[0],
                format!(
                    "{:?}",
                    ServerFrame::Ok(Reply::Ping {
                        text: String::new()
                    })
                )
            );
            assert!(got[2].contains("[97, 98, 10]"), "{}", got[2]);
        }
    }

    #[test]
    fn a_garbled_line_is_skipped() {
        let got = frames(b"NONSENSE here\nJOIN bob\n", 64);
        assert_eq!(got[0], "garbled unknown-command reply=false");
        assert!(got[1].contains("Join"));
        // A final reply that cannot be read is told apart: it answers a request.
        let got = frames(b"OK GET 7 ..%2Fevil 5\nERR\r\nOKAY\n", 64);
        assert_eq!(got[0], "garbled bad-name reply=true", "{got:?}");
        assert!(got[1].ends_with("reply=true"), "{got:?}");
        assert!(got[2].ends_with("reply=false"), "{got:?}");
    }

    #[test]
    fn an_endless_line_is_fatal() {
        let got = frames(&vec![b'x'; 20_000], 4096);
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("error Fatal"), "{}", got[0]);
        assert!(got[0].contains(&format!("{:?}", ErrorCode::LineTooLong)));
    }
}
