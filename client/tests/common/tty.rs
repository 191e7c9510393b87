//! natter in a pseudo-terminal (expectrl), its screen kept by a terminal emulator
//! (vt100), so tests assert what a person would see, not escape sequences. Every wait
//! has a deadline ([`WAIT`]) and waits for a condition.

use super::{natter_bin, scratch_cwd, WAIT};
use expectrl::process::unix::{PtyStream, UnixProcess};
use expectrl::{Session, WaitStatus};
use std::io::Write;
use std::num::NonZeroU16;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// natter on a pseudo-terminal, its screen kept by a vt100 emulator.
pub struct Tty {
    pub session: Session<UnixProcess, PtyStream>,
    pub screen: vt100::Parser,
    pub raw: Vec<u8>,
}

impl Tty {
    pub fn start(args: &[&str]) -> Tty {
        let mut cmd = Command::new(natter_bin());
        cmd.args(args)
            .current_dir(scratch_cwd())
            .env_remove("NATTER_SECRET")
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("TERM_PROGRAM");
        let mut session = Session::spawn(cmd).expect("spawn natter in a pty");
        // A terminal echoes what is typed until a program says otherwise; the pty
        // library starts with echo off.
        session
            .get_process_mut()
            .set_echo(true, None)
            .expect("echo on");
        let (cols, rows) = session
            .get_process()
            .get_window_size()
            .expect("window size");
        Tty {
            session,
            screen: vt100::Parser::new(
                NonZeroU16::new(rows).expect("rows"),
                NonZeroU16::new(cols).expect("cols"),
                0,
            ),
            raw: Vec::new(),
        }
    }

    pub fn pump(&mut self) {
        let mut buf = [0u8; 8192];
        loop {
            match self.session.try_read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    self.screen.process(&buf[..n]);
                    self.raw.extend_from_slice(&buf[..n]);
                }
                Err(_) => return,
            }
        }
    }

    /// The screen's rows, trailing blanks trimmed, empty rows at the bottom dropped.
    pub fn rows(&self) -> Vec<String> {
        let cols = self.screen.screen().size().1.get();
        let mut rows: Vec<String> = self
            .screen
            .screen()
            .rows(0, cols)
            .map(|r| r.trim_end().to_string())
            .collect();
        while rows.last().is_some_and(|r| r.is_empty()) {
            rows.pop();
        }
        rows
    }

    /// The row the cursor is on.
    pub fn cursor_row(&self) -> String {
        let (row, _) = self.screen.screen().cursor_position();
        let cols = self.screen.screen().size().1.get();
        self.screen
            .screen()
            .rows(0, cols)
            .nth(row as usize)
            .unwrap_or_default()
            .trim_end()
            .to_string()
    }

    /// Waits until `cond` holds for the screen; fails with the screen after [`WAIT`].
    pub fn wait(&mut self, what: &str, cond: impl Fn(&Tty) -> bool) {
        let end = Instant::now() + WAIT;
        loop {
            self.pump();
            if cond(self) {
                return;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; screen:\n{}\n(cursor on {:?})",
                self.rows().join("\n"),
                self.cursor_row()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn wait_for_text(&mut self, needle: &str) {
        self.wait(&format!("{needle:?} on screen"), |t| {
            t.rows().iter().any(|r| r.contains(needle))
        });
    }

    /// Waits until `needle` has been written to the terminal, on screen or not.
    pub fn wait_output(&mut self, needle: &str) {
        self.wait(&format!("{needle:?} written"), |t| {
            String::from_utf8_lossy(&t.raw).contains(needle)
        });
    }

    /// Waits until the cursor's row reads exactly `row` (the prompt and the line).
    pub fn wait_for_prompt(&mut self, row: &str) {
        self.wait(&format!("the prompt row {row:?}"), |t| {
            t.cursor_row() == row
        });
    }

    pub fn type_text(&mut self, s: &str) {
        self.session.write_all(s.as_bytes()).expect("type");
        self.session.flush().expect("flush");
    }

    /// Waits for the process to end; its exit code.
    pub fn wait_exit(&mut self) -> i32 {
        let end = Instant::now() + WAIT;
        loop {
            self.pump();
            match self.session.get_process().status() {
                Ok(WaitStatus::Exited(_, code)) => {
                    self.pump();
                    return code;
                }
                Ok(WaitStatus::Signaled(_, sig, _)) => panic!("natter died of {sig:?}"),
                _ => {}
            }
            assert!(
                Instant::now() < end,
                "natter did not exit; screen:\n{}\nraw output: {:?}",
                self.rows().join("\n"),
                String::from_utf8_lossy(&self.raw)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Whether the terminal is back in line mode (rustyline turns `ICANON` off).
    pub fn canonical(&self) -> bool {
        // SAFETY: tcgetattr on the pty master reads the pair's settings into ours.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(
                libc::tcgetattr(self.session.get_stream().as_raw_fd(), &mut t),
                0
            );
            t.c_lflag & libc::ICANON != 0
        }
    }
}

pub fn args<'a>(history: &'a Path, name: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "--history-file",
        history.to_str().expect("utf-8 temp path"),
        name,
        "127.0.0.1",
        port,
    ]
}
