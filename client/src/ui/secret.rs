//! The server's shared secret on the client's side: read from `--secret-file` or the
//! `NATTER_SECRET` environment variable ([`load`]), or typed at a prompt that shows
//! nothing ([`read_hidden`]).
//!
//! The secret never reaches the screen, the history file or a log: the prompt reads
//! the terminal itself with echo off (rustyline has no password mode and would keep
//! the line in its history), and `natter_protocol::Secret` prints as `<redacted>`.

use crate::display::io_words;
use natter_protocol::Secret;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

/// A secret given before connecting, and where it came from (for messages).
pub struct Given {
    pub secret: Secret,
    pub source: String,
}

/// The secret from `file` (one trailing newline ignored, as natterd does), else from
/// `env` (the value of `NATTER_SECRET`; empty counts as unset). `Err` is a message
/// naming the file and what to do.
pub fn load(file: Option<&Path>, env: Option<OsString>) -> Result<Option<Given>, String> {
    let (bytes, source) = match (file, env.filter(|v| !v.is_empty())) {
        (Some(path), _) => {
            let b = std::fs::read(path).map_err(|e| {
                format!(
                    "cannot read the secret file {}: {} (check --secret-file)",
                    path.display(),
                    io_words(&e)
                )
            })?;
            let source = format!("--secret-file {}", path.display());
            (Secret::from_file_contents(b), source)
        }
        (None, Some(v)) => (
            Secret::new(v.as_encoded_bytes()),
            "NATTER_SECRET".to_string(),
        ),
        (None, None) => return Ok(None),
    };
    let secret = bytes.map_err(|e| format!("{source}: {e}"))?;
    Ok(Some(Given { secret, source }))
}

/// What the hidden prompt got.
pub enum Typed {
    Secret(Secret),
    /// A line that cannot be a secret (empty, or too long); the words say why.
    Invalid(String),
    /// Ctrl-C, or Ctrl-D on an empty line, or the end of input.
    Cancelled,
}

/// Writes `prompt`, then reads one line from the terminal on stdin with echo off and
/// signals off (so Ctrl-C is a key here, not the end of the program), restoring the
/// terminal's settings afterwards whatever happens. Backspace and Ctrl-U edit; escape
/// sequences (arrow keys, paste brackets) are ignored.
pub fn read_hidden(prompt: &str) -> io::Result<Typed> {
    let mut out = io::stdout().lock();
    write!(out, "{prompt}")?;
    out.flush()?;
    let guard = NoEcho::new(libc::STDIN_FILENO)?;
    let mut keys = Keys::default();
    let step = loop {
        let mut b = 0u8;
        // SAFETY: read(2) of one byte into a byte we own.
        let n = unsafe { libc::read(libc::STDIN_FILENO, (&mut b as *mut u8).cast(), 1) };
        match n {
            1 => match keys.feed(b) {
                Step::More => {}
                done => break done,
            },
            0 => break Step::Cancel,
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    };
    drop(guard);
    // Enter was not echoed either: end the prompt's line ourselves.
    writeln!(out)?;
    let typed = match step {
        Step::Done => match Secret::new(&keys.line) {
            Ok(s) => Typed::Secret(s),
            Err(e) => Typed::Invalid(e.to_string()),
        },
        _ => Typed::Cancelled,
    };
    keys.wipe();
    Ok(typed)
}

/// Echo and signal keys off for the life of the value; the settings found are put
/// back on drop.
struct NoEcho {
    fd: i32,
    saved: libc::termios,
}

impl NoEcho {
    fn new(fd: i32) -> io::Result<NoEcho> {
        // SAFETY: a zeroed termios is a valid value of that plain C struct; tcgetattr
        // and tcsetattr read and write only the structs we pass.
        unsafe {
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut t = saved;
            t.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN);
            t.c_iflag &= !(libc::ICRNL | libc::IXON);
            t.c_cc[libc::VMIN] = 1;
            t.c_cc[libc::VTIME] = 0;
            // TCSANOW, not TCSAFLUSH: keys typed ahead are the secret, not noise.
            if libc::tcsetattr(fd, libc::TCSANOW, &t) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(NoEcho { fd, saved })
        }
    }
}

impl Drop for NoEcho {
    fn drop(&mut self) {
        // SAFETY: puts back the termios read from this same descriptor.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved);
        }
    }
}

/// What one key did to the hidden line.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    More,
    Done,
    Cancel,
}

/// The hidden line's editor: a pure state machine fed one byte at a time.
#[derive(Default)]
struct Keys {
    line: Vec<u8>,
    /// Inside an escape sequence: 1 after ESC, 2 inside `ESC [` or `ESC O`.
    escape: u8,
}

impl Keys {
    fn feed(&mut self, b: u8) -> Step {
        match (self.escape, b) {
            (1, b'[' | b'O') => self.escape = 2,
            (1, _) => self.escape = 0,
            // A control sequence ends with a byte from `@` to `~`.
            (2, 0x40..=0x7e) => self.escape = 0,
            (2, _) => {}
            (_, 0x1b) => self.escape = 1,
            (_, b'\r' | b'\n') => return Step::Done,
            (_, 0x03) => return Step::Cancel,
            (_, 0x04) if self.line.is_empty() => return Step::Cancel,
            (_, 0x7f | 0x08) => {
                // One character, not one byte: drop UTF-8 continuation bytes too.
                while let Some(last) = self.line.pop() {
                    if last & 0xc0 != 0x80 {
                        break;
                    }
                }
            }
            (_, 0x15) => self.wipe(),
            (_, c) if c < 0x20 => {}
            (_, c) => self.line.push(c),
        }
        Step::More
    }

    /// Overwrites the typed bytes before letting them go.
    fn wipe(&mut self) {
        for b in self.line.iter_mut() {
            // SAFETY: a volatile write to a byte we own, so the wipe is not optimised
            // away as a dead store.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        self.line.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(bytes: &[u8]) -> (Step, Vec<u8>) {
        let mut k = Keys::default();
        for &b in bytes {
            match k.feed(b) {
                Step::More => {}
                done => return (done, k.line.clone()),
            }
        }
        (Step::More, k.line.clone())
    }

    #[test]
    fn the_hidden_line_edits_like_a_terminal() {
        assert_eq!(
            typed(b"open sesame\r"),
            (Step::Done, b"open sesame".to_vec())
        );
        assert_eq!(typed(b"abc\x7f\x7fd\n"), (Step::Done, b"ad".to_vec()));
        assert_eq!(typed(b"xy\x15z\r"), (Step::Done, b"z".to_vec()));
        assert_eq!(
            typed("zwölf\x7f\x7f\x7fx\r".as_bytes()),
            (Step::Done, "zwx".as_bytes().to_vec())
        );
        assert_eq!(typed(b"ab\x03").0, Step::Cancel);
        assert_eq!(typed(b"\x04").0, Step::Cancel);
        assert_eq!(typed(b"a\x04b\r"), (Step::Done, b"ab".to_vec()));
        // Arrow keys and a bracketed paste around the secret.
        assert_eq!(
            typed(b"\x1b[Aa\x1bOBb\x1b[200~pasted\x1b[201~\r"),
            (Step::Done, b"abpasted".to_vec())
        );
    }

    #[test]
    fn secrets_load_from_a_file_or_the_environment() {
        let dir = std::env::temp_dir().join(format!("natter-unit-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secret.txt");
        std::fs::write(&file, b"s3cret\r\n").unwrap();
        let g = load(Some(&file), Some("ignored".into())).unwrap().unwrap();
        assert_eq!(g.secret.as_bytes(), b"s3cret");
        assert_eq!(g.source, format!("--secret-file {}", file.display()));
        let g = load(None, Some("from env".into())).unwrap().unwrap();
        assert_eq!(
            (g.secret.as_bytes(), g.source.as_str()),
            (&b"from env"[..], "NATTER_SECRET")
        );
        assert!(load(None, Some("".into())).unwrap().is_none());
        assert!(load(None, None).unwrap().is_none());
        let e = load(Some(&dir.join("missing")), None).err().unwrap();
        assert!(
            e.starts_with("cannot read the secret file ") && e.ends_with("(check --secret-file)"),
            "{e}"
        );
        std::fs::write(&file, b"\n").unwrap();
        let e = load(Some(&file), None).err().unwrap();
        assert!(e.contains("cannot be empty"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
