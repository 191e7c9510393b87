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
//! Transfers show as bars ([`Meter`]): one row per running transfer, kept directly
//! above the prompt as a status block, and redrawn in place. rustyline's printer
//! clears the prompt and leaves the cursor where the prompt began, right under the
//! block; so a message that starts by moving the cursor up over the block and
//! clearing to the end of the screen, then writes whatever lines came, then the bars
//! again, replaces the block without a trace, and rustyline redraws the half-typed
//! line under it. Lines natter prints itself go the same way, above the block. The
//! block is only known to be there while nothing but natter wrote to the terminal:
//! rustyline's completion list, a suspension (Ctrl-Z), a line echoed and not erased,
//! each make the block "lost", and the next draw starts a new one below (the old
//! rows stay in the scrollback as they were). Bars are drawn at most every
//! [`BAR_EVERY`], never wider than the terminal (so each is one row), and a bar that
//! ends stays until the line that says how its transfer ended replaces it.
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

use crate::display::{bar_line, Line, Snapshot};
use crate::exit::Exit;
use crate::session::transfers::Meter;
use rustyline::GraphemeClusterMode;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
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

/// The bars are redrawn at most this often: smooth enough to watch, and rare enough
/// that rustyline's redraws cost nothing.
pub const BAR_EVERY: Duration = Duration::from_millis(250);

/// Transfers whose end is remembered, so that a late update (the writer thread
/// reports an upload's last chunk as the reader hears it is done) cannot bring a bar
/// back.
const ENDED_KEPT: usize = 64;

#[derive(Default)]
struct State {
    /// The main thread is in (or about to enter) `readline`.
    editing: bool,
    /// rustyline drew the prompt in raw mode since `editing` began.
    drawn: bool,
    /// The lines handed to rustyline's printer and not drawn yet.
    in_flight: Option<Vec<String>>,
    /// Lines from the reader, oldest first, not handed to rustyline yet.
    queue: VecDeque<String>,
    /// The input line as last edited, for erasing it after Ctrl-C.
    last_line: String,
    /// The session ended: the goodbye line, the exit status, and when.
    ended: Option<(String, Exit, Instant)>,
    /// The running transfers' latest progress, by transfer id.
    bars: BTreeMap<u64, Snapshot>,
    /// A bar changed since the block was last drawn.
    bars_changed: bool,
    /// Transfers that ended, so that no late update draws them again.
    bars_ended: BTreeSet<u64>,
    /// Rows of the bar block directly above the prompt (or above the cursor, between
    /// two `readline`s, once the echoed line is erased); 0 when there is none, or it
    /// is lost.
    block_rows: usize,
    /// `readline` returned and the line it left on the screen is not erased yet: the
    /// block is not directly above the cursor.
    echo_left: bool,
    last_bar_draw: Option<Instant>,
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

    /// Printer thread: blocks until rustyline may take the next message (the next
    /// line queued, with the bar block redrawn under it, or the block alone), and
    /// returns it without its last newline, which the printer adds. Leaves the
    /// program (and so never returns) once the session ended and every line is on
    /// screen while `readline` is running.
    pub fn next_to_print(&self) -> String {
        let mut st = self.lock();
        loop {
            let ready = st.editing && st.drawn;
            let mut wait = Duration::from_secs(3600);
            match take_message(&mut st) {
                Take::Message(message) => return message,
                Take::BarsDueIn(due) => wait = due,
                Take::Nothing => {}
            }
            if let Some((_, _, at)) = &st.ended {
                if ready {
                    let grace = (*at + LEAVE_GRACE).saturating_duration_since(Instant::now());
                    if (st.in_flight.is_none() && st.queue.is_empty()) || grace.is_zero() {
                        self.leave(&mut st);
                    }
                    wait = wait.min(grace);
                }
            }
            st = self
                .changed
                .wait_timeout(st, wait)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// The block is no longer known to be directly above the prompt (something that
    /// is not natter wrote to the terminal): the next draw starts a new one.
    pub fn lose_block(&self) {
        self.lock().block_rows = 0;
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
        st.echo_left = true;
        if !clean {
            st.block_rows = 0;
        }
        self.changed.notify_all();
        (clean, std::mem::take(&mut st.last_line))
    }

    /// Main, not editing: prints the lines queued so far (they came first), then
    /// these.
    pub fn print(&self, lines: impl IntoIterator<Item = Line>) {
        let mut st = self.lock();
        if st.echo_left {
            // The echoed line sits between the block and the cursor.
            st.block_rows = 0;
            st.echo_left = false;
        }
        let mut all: Vec<String> = st.queue.drain(..).collect();
        all.extend(lines.into_iter().map(|l| l.text));
        let message = compose(&mut st, &all);
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{message}");
        let _ = out.flush();
    }

    /// Main, not editing: erases the input line rustyline left on screen (`prompt`
    /// followed by `line`), so a sent message shows once, in its final form.
    pub fn erase_echo(&self, prompt: &str, line: &str) {
        let mut st = self.lock();
        st.echo_left = false;
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

impl Meter for Screen {
    fn moved(&self, xfer: u64, now: Snapshot) {
        let mut st = self.lock();
        if st.bars_ended.contains(&xfer) {
            return;
        }
        st.bars.insert(xfer, now);
        st.bars_changed = true;
        drop(st);
        self.changed.notify_all();
    }

    fn ended(&self, xfer: u64) {
        let mut st = self.lock();
        // Not redrawn now: the line that says how it ended replaces it.
        st.bars.remove(&xfer);
        st.bars_ended.insert(xfer);
        while st.bars_ended.len() > ENDED_KEPT {
            st.bars_ended.pop_first();
        }
    }
}

/// What the printer may send rustyline now.
#[derive(Debug, PartialEq, Eq)]
enum Take {
    /// This message (a queued line and the bars under it, or the bars alone).
    Message(String),
    /// Nothing yet; the bars are due for a redraw in this long.
    BarsDueIn(Duration),
    /// Nothing: rustyline has not drawn since the last message, or nothing is queued.
    Nothing,
}

/// The printer's decision, apart from the waiting: a message goes out only once
/// rustyline has drawn the prompt, and one at a time (the next after it redrew).
fn take_message(st: &mut State) -> Take {
    if !(st.editing && st.drawn) || st.in_flight.is_some() {
        return Take::Nothing;
    }
    if st.bars.is_empty() {
        // Only ended ones changed: the line saying how replaces them.
        st.bars_changed = false;
    }
    let bars_due = match st.last_bar_draw {
        _ if !st.bars_changed => None,
        None => Some(Duration::ZERO),
        Some(at) => Some((at + BAR_EVERY).saturating_duration_since(Instant::now())),
    };
    if !st.queue.is_empty() || bars_due == Some(Duration::ZERO) {
        let lines: Vec<String> = st.queue.pop_front().into_iter().collect();
        let mut message = compose(st, &lines);
        message.pop();
        st.in_flight = Some(lines);
        return Take::Message(message);
    }
    bars_due.map_or(Take::Nothing, Take::BarsDueIn)
}

/// What goes to the terminal for `lines`: the cursor moved up over the bar block and
/// everything below cleared, the lines, then the block drawn again. Without bars, just
/// the lines. Every line ends in a newline.
fn compose(st: &mut State, lines: &[String]) -> String {
    let mut out = String::new();
    if st.block_rows > 0 {
        out.push_str(&format!("\x1b[{}A\r\x1b[J", st.block_rows));
    }
    for l in lines {
        out.push_str(l);
        out.push('\n');
    }
    let cols = columns();
    let gcm = GraphemeClusterMode::from_env();
    let width_of = |s: &str| {
        s.graphemes(true)
            .map(|g| usize::from(gcm.width(g)))
            .sum::<usize>()
    };
    for snap in st.bars.values() {
        // One column spare: a row filled to the last column would leave the cursor
        // there, not on the next row.
        out.push_str(&bar_line(snap, cols.saturating_sub(1).max(1), &width_of));
        out.push('\n');
    }
    st.block_rows = st.bars.len();
    st.bars_changed = false;
    st.last_bar_draw = Some(Instant::now());
    out
}

/// Writes a line rustyline was given but never drew, then the queue.
fn write_pending(out: &mut impl Write, st: &mut State) {
    for l in st
        .in_flight
        .take()
        .into_iter()
        .flatten()
        .chain(st.queue.drain(..))
    {
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
        let s = screen();
        s.push("one".into());
        s.push("two".into());
        let take = || take_message(&mut s.lock());
        assert_eq!(take(), Take::Nothing, "not editing yet");
        assert_eq!(s.begin_edit(), Ok(()));
        s.edited("half");
        assert_eq!(take(), Take::Nothing, "rustyline has not drawn the prompt");
        s.drawn();
        assert_eq!(take(), Take::Message("one".into()));
        assert_eq!(take(), Take::Nothing, "the first is not printed yet");
        assert_eq!(s.lock().queue.len(), 1);
        assert!(!s.end_edit().0, "a line is still pending in rustyline");
        assert_eq!(s.begin_edit(), Ok(()));
        assert_eq!(take(), Take::Nothing, "no redraw since");
        s.drawn();
        assert_eq!(take(), Take::Message("two".into()));
    }

    #[test]
    fn the_printer_thread_hands_them_over_in_order() {
        let s = std::sync::Arc::new(screen());
        s.push("one".into());
        s.push("two".into());
        assert_eq!(s.begin_edit(), Ok(()));
        let printer = {
            let s = s.clone();
            std::thread::spawn(move || (s.next_to_print(), s.next_to_print()))
        };
        s.drawn();
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.lock().in_flight.is_none() {
            assert!(Instant::now() < deadline);
            std::thread::yield_now();
        }
        s.drawn();
        assert_eq!(
            printer.join().unwrap(),
            ("one".to_string(), "two".to_string())
        );
    }

    fn snap(label: &str, done: u64) -> Snapshot {
        Snapshot {
            label: label.into(),
            done,
            size: 100,
            moved: done,
            elapsed: Duration::from_secs(1),
        }
    }

    #[test]
    fn the_bar_block_is_replaced_in_place_under_new_lines() {
        let s = screen();
        s.moved(1, snap("downloading a", 10));
        s.moved(2, snap("uploading b", 20));
        let mut st = s.lock();
        let first = compose(&mut st, &[]);
        assert!(first.starts_with("* downloading a: 10%"), "{first:?}");
        assert_eq!(first.matches('\n').count(), 2);
        assert_eq!(st.block_rows, 2);
        drop(st);
        s.ended(1);
        s.moved(1, snap("downloading a", 11));
        let mut st = s.lock();
        let next = compose(&mut st, &["* Saved a".to_string()]);
        assert_eq!(
            next.split('\n').next(),
            Some("\x1b[2A\r\x1b[J* Saved a"),
            "up over both bars, clear, then the line"
        );
        assert!(!next.contains("downloading a"), "an ended bar stays ended");
        assert!(next.contains("* uploading b: 20%"));
        assert_eq!(st.block_rows, 1);
        drop(st);
        s.lose_block();
        let mut st = s.lock();
        assert!(
            !compose(&mut st, &[]).starts_with('\x1b'),
            "a lost block is left alone"
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
