//! Who may write to the terminal when, in interactive mode, and how it is left sane
//! when the server goes away.
//!
//! Two threads produce output: the main thread (rustyline, and local messages such as
//! `/help`) and the reader thread (everything from the server). The reader never
//! writes: it queues its lines here ([`Screen::push`]), and a printer thread
//! ([`Screen::next_to_print`]) hands them one at a time to rustyline's
//! `ExternalPrinter`, which prints them above the prompt and redraws the half-typed
//! line. One at a time, because rustyline's printer holds a single line and blocks
//! the caller when a second comes before the first is drawn; the next line goes only
//! once rustyline has redrawn (it calls our highlighter, which calls
//! [`Screen::drawn`]). So the reader is never blocked, and a line is never left in
//! rustyline's hands while the main thread is busy outside `readline`.
//!
//! The trap is a lost server: rustyline has no way to interrupt a `readline` in
//! progress, so nobody would tell the user until they pressed a key. Here the thread
//! that sees, under the lock, that the session ended, that rustyline is in raw mode
//! with its prompt drawn, and that every queued line is on screen, does the leaving:
//! the printer thread, or the main thread from the highlighter. It puts back the
//! terminal settings captured at start (`tcsetattr`), turns off bracketed paste,
//! erases the prompt, prints why on stderr and exits with the documented status.
//! When the main thread is outside `readline`, it sees the end itself and returns.
//!
//! From [`Screen::new`] to [`Screen::restore`] the terminal stays in rustyline's raw
//! input mode, between two `readline` calls too: keys typed while the main thread is
//! busy wait as bytes for the next `readline`, instead of being echoed and
//! line-edited by the kernel. It never goes back to line mode in between, not even
//! for an instant: a key arriving then would get the kernel's meaning (Ctrl-D an
//! end-of-file that becomes a NUL, Ctrl-U erasing what came before it, Ctrl-C a
//! SIGINT). So rustyline finds raw mode already set when `readline` starts and
//! leaves it so when it returns; it would also leave it so when suspending on
//! Ctrl-Z, which is why natter suspends itself ([`Screen::suspend`]): line mode
//! while stopped, raw mode again on `fg`.

use crate::display::Line;
use crate::exit::Exit;
use rustyline::GraphemeClusterMode;
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use unicode_segmentation::UnicodeSegmentation;

/// How long the printer thread waits, once the session ended, for rustyline to draw
/// the last line it was given before leaving anyway.
const LEAVE_GRACE: Duration = Duration::from_secs(1);

/// Turns off bracketed paste (rustyline turns it on in raw mode), returns to column 0
/// and clears the prompt and anything below it.
const RESET_SEQUENCE: &str = "\x1b[?2004l\r\x1b[J";

#[derive(Default)]
struct State {
    /// The main thread is in (or about to enter) `readline`.
    editing: bool,
    /// rustyline drew the prompt in raw mode since `editing` began.
    drawn: bool,
    /// The line handed to rustyline's printer and not drawn yet.
    in_flight: Option<String>,
    /// Lines from the reader, oldest first, not handed to rustyline yet.
    queue: VecDeque<String>,
    /// The input line as last edited, for erasing it after Ctrl-C.
    last_line: String,
    /// The session ended: the goodbye line, the exit status, and when.
    ended: Option<(String, Exit, Instant)>,
}

pub struct Screen {
    state: Mutex<State>,
    changed: Condvar,
    /// stdin's terminal settings before this program touched them.
    saved: Option<libc::termios>,
}

impl Default for Screen {
    fn default() -> Screen {
        Screen::new()
    }
}

impl Screen {
    /// Captures the terminal settings now, then holds typed keys as described above:
    /// call before creating the editor.
    pub fn new() -> Screen {
        let saved = saved_termios();
        if let Some(t) = &saved {
            hold_input(t);
        }
        Screen {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            saved,
        }
    }

    /// Puts back the terminal settings captured by [`Screen::new`].
    pub fn restore(&self) {
        if let Some(t) = &self.saved {
            // SAFETY: tcsetattr reads the termios we captured from this same fd.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, t);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reader: a line for the screen.
    pub fn push(&self, text: String) {
        self.lock().queue.push_back(text);
        self.changed.notify_all();
    }

    /// Printer thread: blocks until rustyline may take the next line, and returns it.
    /// Leaves the program (and so never returns) once the session ended and every
    /// line is on screen while `readline` is running.
    pub fn next_to_print(&self) -> String {
        let mut st = self.lock();
        loop {
            let ready = st.editing && st.drawn;
            if ready && st.in_flight.is_none() {
                if let Some(line) = st.queue.pop_front() {
                    st.in_flight = Some(line.clone());
                    return line;
                }
            }
            let mut wait = Duration::from_secs(3600);
            if let Some((_, _, at)) = &st.ended {
                if ready {
                    let grace = (*at + LEAVE_GRACE).saturating_duration_since(Instant::now());
                    if (st.in_flight.is_none() && st.queue.is_empty()) || grace.is_zero() {
                        self.leave(&mut st);
                    }
                    wait = grace;
                }
            }
            st = self
                .changed
                .wait_timeout(st, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Main: about to call `readline`. `Err` is the goodbye when the session ended
    /// (then the caller calls [`Screen::finish`]).
    pub fn begin_edit(&self) -> Result<(), (String, Exit)> {
        let mut st = self.lock();
        if let Some((goodbye, exit, _)) = &st.ended {
            return Err((goodbye.clone(), *exit));
        }
        st.editing = true;
        st.drawn = false;
        Ok(())
    }

    /// Main, from the Ctrl-Z key inside `readline`: stops the program the way a shell
    /// expects, with the terminal as it was found (line mode, bracketed paste off),
    /// and once continued (`fg`) puts raw mode and bracketed paste back. The caller
    /// then has rustyline redraw the line.
    pub fn suspend(&self) {
        let Some(t) = &self.saved else {
            return;
        };
        {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x1b[?2004l");
            let _ = out.flush();
        }
        self.restore();
        // SAFETY: kill(2) with pid 0 signals our own process group, as a terminal's
        // Ctrl-Z would; it stops here until continued.
        unsafe {
            libc::kill(0, libc::SIGTSTP);
        }
        hold_input(t);
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\x1b[?2004h");
        let _ = out.flush();
        // The window may have changed size while we were stopped, and the signal
        // that says so went to the shell: rustyline learns the size again from it.
        // SAFETY: raise(3) of a signal whose action is rustyline's handler or ignore.
        unsafe {
            libc::raise(libc::SIGWINCH);
        }
    }

    /// Main, from the highlighter: rustyline just drew the prompt and the line in raw
    /// mode (it does after every external print too).
    pub fn drawn(&self) {
        let mut st = self.lock();
        st.drawn = true;
        st.in_flight = None;
        if st.ended.is_some() && st.queue.is_empty() {
            self.leave(&mut st);
        }
        self.changed.notify_all();
    }

    /// Main, from the hinter: the input line is now `line` (called on every edit,
    /// including the ones rustyline draws without a full redraw).
    pub fn edited(&self, line: &str) {
        let mut st = self.lock();
        if st.last_line != line {
            st.last_line = line.to_string();
        }
    }

    /// Main: `readline` returned. True when no line from the server is pending in
    /// rustyline, so nothing can have been written below the input line and the
    /// echoed input may be erased. The second value is the line as last edited.
    pub fn end_edit(&self) -> (bool, String) {
        let mut st = self.lock();
        let clean = st.drawn && st.in_flight.is_none();
        st.editing = false;
        st.drawn = false;
        self.changed.notify_all();
        (clean, std::mem::take(&mut st.last_line))
    }

    /// Main, not editing: prints the lines queued so far (they came first), then
    /// these.
    pub fn print(&self, lines: impl IntoIterator<Item = Line>) {
        let mut st = self.lock();
        let mut out = std::io::stdout().lock();
        for l in st.queue.drain(..) {
            let _ = writeln!(out, "{l}");
        }
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

    /// Main, not editing, leaving: prints every line still pending, then the goodbye
    /// on stderr.
    pub fn finish(&self, goodbye: &Line) {
        let mut st = self.lock();
        let mut out = std::io::stdout().lock();
        write_pending(&mut out, &mut st);
        drop(out);
        eprintln!("{}", goodbye.text);
    }

    /// Reader: the session ended. Never blocks; whoever may leave, leaves.
    pub fn session_ended(&self, goodbye: String, exit: Exit) {
        self.lock().ended = Some((goodbye, exit, Instant::now()));
        self.changed.notify_all();
    }

    /// Puts the terminal back and exits. Called with the lock held, so the other
    /// thread cannot draw in between.
    fn leave(&self, st: &mut State) -> ! {
        self.restore();
        let (goodbye, exit, _) = st
            .ended
            .take()
            .unwrap_or_else(|| (String::new(), Exit::ConnectionLost, Instant::now()));
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{RESET_SEQUENCE}");
        write_pending(&mut out, st);
        drop(out);
        eprintln!("{goodbye}");
        std::process::exit(exit.code())
    }
}

/// Writes a line rustyline was given but never drew, then the queue.
fn write_pending(out: &mut impl Write, st: &mut State) {
    for l in st.in_flight.take().into_iter().chain(st.queue.drain(..)) {
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

/// Input exactly as rustyline's raw mode has it (no echo, no line editing, no signal
/// keys, no CR-to-NL), output untouched so `\n` still starts a new line. Being the
/// same settings, rustyline's switch into raw mode changes nothing, and its return
/// to what it found puts these back.
fn hold_input(saved: &libc::termios) {
    let mut t = *saved;
    t.c_iflag &= !(libc::BRKINT | libc::ICRNL | libc::INPCK | libc::ISTRIP | libc::IXON);
    t.c_cflag |= libc::CS8;
    t.c_lflag &= !(libc::ECHO | libc::ICANON | libc::IEXTEN | libc::ISIG);
    t.c_cc[libc::VMIN] = 1;
    t.c_cc[libc::VTIME] = 0;
    // SAFETY: tcsetattr reads the termios we pass.
    unsafe {
        libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, &t);
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

    fn screen() -> Screen {
        Screen {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
            saved: None,
        }
    }

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
    fn lines_go_to_rustyline_one_at_a_time_once_it_has_drawn() {
        let s = std::sync::Arc::new(screen());
        s.push("one".into());
        s.push("two".into());
        assert_eq!(s.begin_edit(), Ok(()));
        let printer = {
            let s = s.clone();
            std::thread::spawn(move || {
                let a = s.next_to_print();
                let b = s.next_to_print();
                (a, b)
            })
        };
        s.edited("half");
        // Nothing goes out before the first draw, and the second waits for a redraw.
        s.drawn();
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.lock().in_flight.is_none() {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        assert_eq!(s.lock().queue.len(), 1);
        assert!(!s.end_edit().0, "a line is still pending in rustyline");
        assert_eq!(s.begin_edit(), Ok(()));
        s.drawn();
        assert_eq!(
            printer.join().unwrap(),
            ("one".to_string(), "two".to_string())
        );
    }

    #[test]
    fn a_clean_edit_can_be_erased() {
        let s = screen();
        assert_eq!(s.begin_edit(), Ok(()));
        s.edited("half");
        s.drawn();
        assert_eq!(s.end_edit(), (true, "half".to_string()));
    }

    #[test]
    fn an_end_while_not_editing_is_left_to_the_main_thread() {
        let s = screen();
        s.session_ended("bye".into(), Exit::ConnectionLost);
        assert_eq!(
            s.begin_edit(),
            Err(("bye".to_string(), Exit::ConnectionLost))
        );
    }
}
