//! Who may write to the terminal when, in interactive mode, and how it is left sane
//! when the server goes away.
//!
//! Two threads write: the main thread (rustyline, local messages) and the reader
//! thread (everything from the server). While the main thread sits in `readline`, the
//! reader's lines go through rustyline's `ExternalPrinter`, which prints them above the
//! prompt and redraws the half-typed line. While the main thread is busy outside
//! `readline`, they are held here and printed by the main thread just before the next
//! prompt, so nothing interleaves with the main thread's own output.
//!
//! The trap is a lost server: rustyline has no way to interrupt a `readline` in
//! progress, so nobody would tell the user until they pressed a key. [`Screen`] solves
//! it without a race: whichever thread learns last that both "the session ended" and
//! "rustyline is in raw mode with its prompt drawn" holds, does the leaving, under one
//! lock. It puts back the terminal settings captured at start (`tcsetattr`), turns off
//! bracketed paste, erases the prompt, prints why on stderr and exits with the
//! documented status. The main thread learns "prompt drawn" from the highlighter
//! callback, which rustyline calls on every full redraw in raw mode (after each
//! external print too), so it can leave from there.
//!
//! Before leaving, the reader pushes an empty line through the printer: when that
//! print returns, every earlier line was taken by rustyline, so the last chat lines
//! are on screen before the goodbye.

use crate::display::Line;
use crate::exit::Exit;
use rustyline::GraphemeClusterMode;
use std::io::{IsTerminal, Write};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use unicode_segmentation::UnicodeSegmentation;

/// How long the reader waits for the main thread to leave by itself once the session
/// ended during `readline`; after that the reader leaves (the prompt is drawn, and
/// every earlier line was taken by rustyline).
const LEAVE_GRACE: Duration = Duration::from_millis(300);

/// Turns off bracketed paste (rustyline turns it on in raw mode), returns to column 0
/// and clears the prompt and anything below it.
const RESET_SEQUENCE: &str = "\x1b[?2004l\r\x1b[J";

#[derive(Default)]
struct State {
    /// The main thread is in (or about to enter) `readline`.
    editing: bool,
    /// rustyline drew the prompt in raw mode since `editing` began.
    drawn: bool,
    /// Lines passed to the printer since the last redraw; while not zero, something
    /// may have been written below the input line.
    unrendered: usize,
    /// The input line as last drawn, for erasing it after Ctrl-C.
    last_line: String,
    /// Lines that arrived while the main thread was busy.
    held: Vec<String>,
    /// The session ended: the goodbye line and the exit status.
    ended: Option<(String, Exit)>,
    /// The reader's last print returned: every earlier line was taken by rustyline.
    flushed: bool,
}

pub struct Screen {
    state: Mutex<State>,
    changed: Condvar,
    /// stdin's terminal settings before rustyline touched them.
    saved: Option<libc::termios>,
}

impl Default for Screen {
    fn default() -> Screen {
        Screen::new()
    }
}

impl Screen {
    /// Captures the terminal settings now: call before creating the editor.
    pub fn new() -> Screen {
        Screen {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            saved: saved_termios(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reader: a line for the screen. `Some` means "print it through the
    /// `ExternalPrinter` now"; otherwise it is held for the main thread.
    pub fn pass(&self, text: String) -> Option<String> {
        let mut st = self.lock();
        if st.editing {
            st.unrendered += 1;
            Some(text)
        } else {
            st.held.push(text);
            None
        }
    }

    /// Main: about to call `readline`. Prints the held lines first. `Err` is the
    /// goodbye when the session has ended.
    pub fn begin_edit(&self) -> Result<(), (String, Exit)> {
        let mut st = self.lock();
        write_lines(&mut std::io::stdout().lock(), &mut st.held);
        if let Some(end) = &st.ended {
            return Err(end.clone());
        }
        st.editing = true;
        st.drawn = false;
        st.unrendered = 0;
        Ok(())
    }

    /// Main, from the highlighter: rustyline just drew the prompt and the line in raw
    /// mode (it does after every external print too).
    pub fn drawn(&self) {
        let mut st = self.lock();
        st.drawn = true;
        st.unrendered = 0;
        if st.ended.is_some() && st.flushed {
            self.leave(&mut st);
        }
    }

    /// Main, from the hinter: the input line is now `line` (called on every edit,
    /// including the ones rustyline draws without a full redraw).
    pub fn edited(&self, line: &str) {
        let mut st = self.lock();
        if st.last_line != line {
            st.last_line = line.to_string();
        }
    }

    /// Main: `readline` returned. True when nothing was printed below the input line
    /// since rustyline last drew it, so the echoed input may be erased. The second
    /// value is the line as last drawn.
    pub fn end_edit(&self) -> (bool, String) {
        let mut st = self.lock();
        let clean = st.drawn && st.unrendered == 0;
        st.editing = false;
        st.drawn = false;
        self.changed.notify_all();
        (clean, std::mem::take(&mut st.last_line))
    }

    /// Main, not editing: prints held lines, then these.
    pub fn print(&self, lines: impl IntoIterator<Item = Line>) {
        let mut st = self.lock();
        let mut out = std::io::stdout().lock();
        write_lines(&mut out, &mut st.held);
        for l in lines {
            let _ = writeln!(out, "{}", l.text);
        }
        let _ = out.flush();
    }

    /// Main, not editing: erases the input line rustyline left on screen (`prompt`
    /// followed by `line`), so a sent message shows once, in its final form.
    pub fn erase_echo(&self, prompt: &str, line: &str) {
        let _st = self.lock();
        let rows = echo_rows(prompt, line, columns(), GraphemeClusterMode::from_env());
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[{rows}A\r\x1b[J");
        let _ = out.flush();
    }

    /// Main, not editing: the session ended; print what is held and the goodbye.
    pub fn finish(&self, goodbye: &Line) {
        self.print([]);
        eprintln!("{}", goodbye.text);
    }

    /// Reader: the session ended. `print` is the `ExternalPrinter`, used for the
    /// flushing empty line. Returns only if the main thread is not editing (it will
    /// see the end itself) or left by itself.
    pub fn session_ended(&self, goodbye: String, exit: Exit, print: &mut dyn FnMut(String)) {
        let editing = {
            let mut st = self.lock();
            st.ended = Some((goodbye, exit));
            st.editing
        };
        if editing {
            print(String::new());
        }
        let mut st = self.lock();
        st.flushed = true;
        let deadline = Instant::now() + LEAVE_GRACE;
        while st.editing {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                self.leave(&mut st);
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Puts the terminal back and exits. Called with the lock held, so the other
    /// thread cannot draw in between.
    fn leave(&self, st: &mut State) -> ! {
        if let Some(t) = &self.saved {
            // SAFETY: tcsetattr reads the termios we captured from this same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, t);
            }
        }
        let (goodbye, exit) = st
            .ended
            .take()
            .unwrap_or_else(|| (String::new(), Exit::ConnectionLost));
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{RESET_SEQUENCE}");
        write_lines(&mut out, &mut st.held);
        let _ = out.flush();
        eprintln!("{goodbye}");
        std::process::exit(exit.code())
    }
}

fn write_lines(out: &mut impl Write, lines: &mut Vec<String>) {
    for l in lines.drain(..) {
        let _ = writeln!(out, "{l}");
    }
    let _ = out.flush();
}

fn saved_termios() -> Option<libc::termios> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    // SAFETY: a zeroed termios is a valid value of that plain C struct, and tcgetattr
    // only writes into the one we pass.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        (libc::tcgetattr(libc::STDIN_FILENO, &mut t) == 0).then_some(t)
    }
}

/// The terminal's width in columns; 80 if it cannot be read.
pub fn columns() -> usize {
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            ws.ws_col as usize
        } else {
            80
        }
    }
}

/// How many rows `prompt` + `line` took, counted the way rustyline 19 lays them out
/// (grapheme by grapheme, each as wide as `gcm` says; a wide character that does not
/// fit moves whole to the next row; a row filled exactly puts the cursor on the next
/// one), plus the row the cursor moved to when Enter was pressed. That is how far up
/// the echo starts.
pub fn echo_rows(prompt: &str, line: &str, cols: usize, gcm: GraphemeClusterMode) -> usize {
    let cols = cols.max(1);
    let (mut row, mut col) = (0usize, 0usize);
    for g in prompt.graphemes(true).chain(line.graphemes(true)) {
        if g == "\n" {
            row += 1;
            col = 0;
            continue;
        }
        let w = if g == "\t" {
            8 - col % 8
        } else {
            usize::from(gcm.width(g))
        };
        col += w;
        if col > cols {
            row += 1;
            col = w;
        }
    }
    if col == cols {
        row += 1;
    }
    row + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_an_echoed_line() {
        let echo_rows = |p: &str, l: &str, c| echo_rows(p, l, c, GraphemeClusterMode::WcWidth);
        assert_eq!(echo_rows("alice> ", "hi", 80), 1);
        assert_eq!(echo_rows("alice> ", "", 80), 1);
        // 7 + 73 = 80: the row is full and the cursor sits on the next one.
        assert_eq!(echo_rows("alice> ", &"x".repeat(73), 80), 2);
        assert_eq!(echo_rows("alice> ", &"x".repeat(72), 80), 1);
        assert_eq!(echo_rows("alice> ", &"x".repeat(200), 80), 3);
        // A wide character that does not fit goes whole to the next row.
        assert_eq!(
            echo_rows("alice> ", &format!("{}界", "x".repeat(72)), 80),
            2
        );
        assert_eq!(echo_rows("alice → bob> ", "ok", 10), 2);
    }

    #[test]
    fn held_lines_wait_for_the_main_thread() {
        let s = Screen {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            saved: None,
        };
        assert_eq!(s.pass("one".into()), None);
        assert_eq!(s.lock().held, vec!["one".to_string()]);
        s.lock().held.clear();
        s.lock().editing = true;
        assert_eq!(s.pass("two".into()), Some("two".into()));
        assert!(!s.end_edit().0, "a line went out since the last draw");
        s.lock().editing = true;
        s.edited("half");
        s.drawn();
        assert_eq!(s.end_edit(), (true, "half".to_string()));
    }

    #[test]
    fn an_end_while_not_editing_is_left_to_the_main_thread() {
        let s = Screen {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            saved: None,
        };
        let mut printed = Vec::new();
        s.session_ended("bye".into(), Exit::ConnectionLost, &mut |l| printed.push(l));
        assert!(
            printed.is_empty(),
            "no flushing line when nothing is on the prompt"
        );
        assert_eq!(
            s.begin_edit(),
            Err(("bye".to_string(), Exit::ConnectionLost))
        );
    }
}
