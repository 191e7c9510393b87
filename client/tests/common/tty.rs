//! natter on a real pseudo-terminal (expectrl), its screen kept by a terminal
//! emulator (vt100), so a test asserts what a person would see, scrollback included.
//! Every wait has a deadline and waits for a condition.

use super::{natter_bin, scratch_cwd, WAIT};
use expectrl::process::unix::{PtyStream, UnixProcess};
use expectrl::{Session, WaitStatus};
use std::io::Write;
use std::num::NonZeroU16;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Rows of scrollback the emulator keeps, so a test can see what scrolled away.
const SCROLLBACK: usize = 1000;

pub struct Tty {
    pub session: Session<UnixProcess, PtyStream>,
    pub screen: vt100::Parser,
    pub raw: Vec<u8>,
}

impl Tty {
    /// natter with `args`.
    pub fn start(args: &[&str]) -> Tty {
        Tty::start_env(args, &[])
    }

    /// natter with `args`, and `env` set on top of a clean environment for it.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Tty {
        let mut cmd = Command::new(natter_bin());
        cmd.args(args)
            .current_dir(scratch_cwd())
            .env_remove("NATTER_SECRET")
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("TERM_PROGRAM")
            .envs(env.iter().copied());
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
                SCROLLBACK,
            ),
            raw: Vec::new(),
        }
    }

    /// Gives the terminal another size, as a window resized before natter draws.
    pub fn resize(&mut self, cols: u16, rows: u16) {
        self.session
            .get_process_mut()
            .set_window_size(cols, rows)
            .expect("resize the pty");
        self.screen.screen_mut().set_size(
            NonZeroU16::new(rows).expect("rows"),
            NonZeroU16::new(cols).expect("cols"),
        );
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

    /// The visible rows, trailing blanks trimmed, empty rows at the bottom dropped.
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

    /// Every row that scrolled off the top, oldest first, then the visible ones.
    pub fn all_rows(&mut self) -> Vec<String> {
        let cols = self.screen.screen().size().1.get();
        let mut lines = Vec::new();
        let mut back = SCROLLBACK;
        // vt100 shows scrollback by moving the view; collect it page by page.
        loop {
            self.screen.screen_mut().set_scrollback(back);
            let offset = self.screen.screen().scrollback();
            if offset == 0 {
                break;
            }
            let rows = self.screen.screen().size().0.get() as usize;
            let page: Vec<String> = self
                .screen
                .screen()
                .rows(0, cols)
                .map(|r| r.trim_end().to_string())
                .collect();
            // The top `min(offset, rows)` rows of this view are scrollback rows not
            // yet collected.
            let fresh = offset.min(rows);
            lines.extend(page.into_iter().take(fresh));
            back = offset.saturating_sub(rows);
            if back == 0 {
                break;
            }
        }
        self.screen.screen_mut().set_scrollback(0);
        lines.extend(self.rows());
        lines
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

    /// Waits until `needle` is on the screen, in a row or in a line the terminal
    /// wrapped over several rows.
    pub fn wait_for_text(&mut self, needle: &str) {
        self.wait(&format!("{needle:?} on screen"), |t| {
            t.screen.screen().contents().contains(needle)
        });
    }

    /// Waits until the cursor's row reads exactly `row` (the prompt and the line).
    pub fn wait_for_prompt(&mut self, row: &str) {
        self.wait(&format!("the prompt row {row:?}"), |t| {
            t.cursor_row() == row
        });
    }

    /// Types `s`, in pieces, reading what natter writes in between: a long paste
    /// makes natter redraw the line, and a terminal nobody reads would stop it
    /// (and then the typing) for good.
    pub fn type_text(&mut self, s: &str) {
        for piece in s.as_bytes().chunks(512) {
            self.session.write_all(piece).expect("type");
            self.session.flush().expect("flush");
            self.pump();
        }
    }

    /// Runs `f` on another thread (a peer waiting for what natter sends, say) while
    /// reading the terminal, so natter is never stopped by a full terminal meanwhile.
    pub fn while_reading<T: Send + 'static>(
        &mut self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let job = std::thread::spawn(f);
        let end = Instant::now() + WAIT;
        while !job.is_finished() {
            assert!(Instant::now() < end, "still waiting after {WAIT:?}");
            self.pump();
            std::thread::sleep(Duration::from_millis(5));
        }
        match job.join() {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e),
        }
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
    /// Waits until `needle` has been written to the terminal, on screen or not.
    pub fn wait_output(&mut self, needle: &str) {
        self.wait(&format!("{needle:?} written"), |t| {
            String::from_utf8_lossy(&t.raw).contains(needle)
        });
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
