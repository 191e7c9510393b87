//! The keys natter handles itself instead of rustyline: a bracketed paste, Ctrl-C,
//! Ctrl-D on an empty line and Ctrl-Z, all so that no typed or pasted byte is lost.
//!
//! rustyline reads the terminal through a buffer of its own, so one read can hold
//! more than the line it returns: the keys typed right after Enter, the rest of a
//! paste. It keeps that buffer for the next `readline` when a line is accepted (with
//! its `buffer-redux` feature, which natter turns on), but drops it when `readline`
//! ends with an error, which is how it reports Ctrl-C and Ctrl-D. So those two keys
//! accept the line instead, and [`Keys::take_ending`] says which key it was.
//!
//! rustyline reads a bracketed paste whole and inserts it as one edit, line breaks
//! included, which then waits for an extra Enter. Here a paste is taken key by key
//! instead: each line break accepts the line, so every pasted line goes out as its
//! own message exactly as if it had been typed, and an unfinished last line stays at
//! the prompt. Inside a paste, every other key is text or nothing: a tab is a tab,
//! not completion; Ctrl-C, Ctrl-D and escape sequences do nothing.
//!
//! Ctrl-Z stops natter through `Screen::suspend`, since the terminal stays in raw
//! mode between lines (see `ui::terminal`) and rustyline would leave it so for the
//! shell.
//!
//! A handler answers each key with one command, so pasted text is gathered and
//! inserted in one edit when a line break or the paste's end comes (a command per
//! character would redraw the whole line for each); the line break's accept follows
//! with the next key, and a paste always has one more, its end.

use rustyline::{
    Cmd, ConditionalEventHandler, Editor, Event, EventContext, EventHandler, Helper, KeyCode,
    KeyEvent, Modifiers, RepeatCount,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// How a line that rustyline returned was really ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Ctrl-C: the line is to be dropped.
    Interrupted,
    /// Ctrl-D on an empty line.
    EndOfFile,
}

/// What Ctrl-Z calls: stop the program, and return once it is continued.
pub type Suspend = Box<dyn Fn() + Send + Sync>;

/// The state the bound keys share with the loop that reads lines.
pub struct Keys {
    state: Mutex<State>,
    suspend: Suspend,
}

#[derive(Default)]
struct State {
    /// Between the start and the end of a bracketed paste.
    pasting: bool,
    /// Pasted edits not handed to rustyline yet, oldest first: after each key at
    /// most one is left.
    queue: VecDeque<Pasted>,
    ending: Option<Ending>,
}

#[derive(Debug, PartialEq)]
enum Pasted {
    Text(String),
    LineBreak,
}

impl Keys {
    pub fn new(suspend: Suspend) -> Keys {
        Keys {
            state: Mutex::default(),
            suspend,
        }
    }

    /// Binds the keys on `editor`; the returned value tells how each line ended.
    pub fn bind<H: Helper, I: rustyline::history::History>(
        editor: &mut Editor<H, I>,
        suspend: Suspend,
    ) -> Arc<Keys> {
        let keys = Arc::new(Keys::new(suspend));
        let events = [
            Event::from(KeyEvent(KeyCode::BracketedPasteStart, Modifiers::NONE)),
            Event::from(KeyEvent(KeyCode::BracketedPasteEnd, Modifiers::NONE)),
            Event::from(KeyEvent::ctrl('C')),
            Event::from(KeyEvent::ctrl('D')),
            Event::from(KeyEvent::ctrl('Z')),
            // Every other key, while a paste is coming in.
            Event::Any,
        ];
        for event in events {
            editor.bind_sequence(
                event,
                EventHandler::Conditional(Box::new(Bound(keys.clone()))),
            );
        }
        keys
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How the line just returned was ended, if by Ctrl-C or Ctrl-D; clears it.
    pub fn take_ending(&self) -> Option<Ending> {
        self.lock().ending.take()
    }

    /// What `key` does, given the line being edited; `None` leaves it to rustyline.
    fn command(&self, key: KeyEvent, line: &str) -> Option<Cmd> {
        let mut st = self.lock();
        let KeyEvent(code, mods) = key;
        match code {
            KeyCode::BracketedPasteStart => {
                st.pasting = true;
                return Some(Cmd::Noop);
            }
            KeyCode::BracketedPasteEnd => {
                st.pasting = false;
                return Some(st.next_edit(true));
            }
            _ => {}
        }
        if st.pasting {
            match (code, mods) {
                (KeyCode::Enter, _) | (KeyCode::Char('J' | 'M'), Modifiers::CTRL) => {
                    st.queue.push_back(Pasted::LineBreak)
                }
                (KeyCode::Tab, _) => st.push_text('\t'),
                (KeyCode::Char(c), Modifiers::NONE | Modifiers::SHIFT) => st.push_text(c),
                _ => {}
            }
            return Some(st.next_edit(false));
        }
        if let (KeyCode::Char('Z'), Modifiers::CTRL) = (code, mods) {
            drop(st);
            (self.suspend)();
            return Some(Cmd::Repaint);
        }
        let ending = match (code, mods) {
            (KeyCode::Char('C'), Modifiers::CTRL) => Ending::Interrupted,
            (KeyCode::Char('D'), Modifiers::CTRL) if line.is_empty() => Ending::EndOfFile,
            _ => return None,
        };
        st.ending = Some(ending);
        Some(Cmd::AcceptLine)
    }
}

impl State {
    fn push_text(&mut self, c: char) {
        match self.queue.back_mut() {
            Some(Pasted::Text(t)) => t.push(c),
            _ => self.queue.push_back(Pasted::Text(c.to_string())),
        }
    }

    /// The oldest pasted edit, once it is complete: text when something follows it
    /// (or the paste has ended, `flush`), a line break at once.
    fn next_edit(&mut self, flush: bool) -> Cmd {
        let ready = match self.queue.front() {
            Some(Pasted::LineBreak) => true,
            Some(Pasted::Text(_)) => flush || self.queue.len() > 1,
            None => false,
        };
        match self.queue.pop_front() {
            Some(Pasted::LineBreak) if ready => Cmd::AcceptLine,
            Some(Pasted::Text(t)) if ready => Cmd::Insert(1, t),
            Some(held) => {
                self.queue.push_front(held);
                Cmd::Noop
            }
            None => Cmd::Noop,
        }
    }
}

/// One binding's handler; all of them share one [`Keys`].
struct Bound(Arc<Keys>);

impl ConditionalEventHandler for Bound {
    fn handle(
        &self,
        evt: &Event,
        _n: RepeatCount,
        _positive: bool,
        ctx: &EventContext,
    ) -> Option<Cmd> {
        let key = *evt.get(0)?;
        self.0.command(key, ctx.line())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys whose Ctrl-Z does nothing.
    fn quiet() -> Keys {
        Keys::new(Box::new(|| {}))
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(c, Modifiers::NONE)
    }

    const START: KeyEvent = KeyEvent(KeyCode::BracketedPasteStart, Modifiers::NONE);
    const END: KeyEvent = KeyEvent(KeyCode::BracketedPasteEnd, Modifiers::NONE);

    /// Feeds `keys` to a handler as rustyline would, applying each command to a
    /// line; returns the lines accepted and the line left.
    fn replay(k: &Keys, keys: &[KeyEvent]) -> (Vec<String>, String, Vec<Cmd>) {
        let (mut accepted, mut line, mut cmds) = (Vec::new(), String::new(), Vec::new());
        for &key in keys {
            let cmd = k.command(key, &line);
            match &cmd {
                Some(Cmd::Insert(1, text)) => line.push_str(text),
                Some(Cmd::AcceptLine) => accepted.push(std::mem::take(&mut line)),
                Some(Cmd::Noop) => {}
                None => line.push_str("<rustyline>"),
                Some(other) => panic!("unexpected {other:?}"),
            }
            cmds.extend(cmd);
        }
        (accepted, line, cmds)
    }

    fn typed(text: &str) -> Vec<KeyEvent> {
        text.chars().map(key).collect()
    }

    fn pasted(text: &str) -> Vec<KeyEvent> {
        let mut keys = vec![START];
        keys.extend(typed(text));
        keys.push(END);
        keys
    }

    #[test]
    fn each_pasted_line_is_accepted_and_the_last_waits() {
        let k = quiet();
        let (accepted, line, cmds) = replay(&k, &pasted("first\rsecond\tcol\nthird"));
        assert_eq!(accepted, ["first", "second\tcol"]);
        assert_eq!(line, "third");
        // One insert per line, not one per character.
        let inserts = cmds.iter().filter(|c| matches!(c, Cmd::Insert(..))).count();
        assert_eq!(inserts, 3);
        // After the paste, keys are rustyline's again.
        assert_eq!(k.command(key('a'), ""), None);
        assert_eq!(k.command(key('\t'), ""), None);
        assert_eq!(k.command(key('\r'), "a"), None);
    }

    #[test]
    fn a_paste_ending_in_line_breaks_accepts_them_all() {
        let k = quiet();
        let (accepted, line, _) = replay(&k, &pasted("a\r\rb\r"));
        assert_eq!(accepted, ["a", "", "b"]);
        assert_eq!(line, "");
        let (accepted, line, _) = replay(&k, &pasted("\r"));
        assert_eq!((accepted, line), (vec![String::new()], String::new()));
    }

    #[test]
    fn keys_that_edit_or_quit_are_nothing_inside_a_paste() {
        let k = quiet();
        let (accepted, line, _) = replay(&k, &pasted("x\x03\x04\x7fy\x1b"));
        assert!(accepted.is_empty());
        assert_eq!(line, "xy");
        assert_eq!(k.take_ending(), None);
    }

    #[test]
    fn ctrl_z_suspends_and_redraws_except_inside_a_paste() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let count = Arc::new(AtomicUsize::new(0));
        let k = {
            let count = count.clone();
            Keys::new(Box::new(move || {
                count.fetch_add(1, Ordering::Relaxed);
            }))
        };
        assert_eq!(k.command(key('\x1a'), "half"), Some(Cmd::Repaint));
        assert_eq!(count.load(Ordering::Relaxed), 1);
        let (_, line, _) = replay(&k, &pasted("a\x1ab"));
        assert_eq!(line, "ab");
        assert_eq!(count.load(Ordering::Relaxed), 1, "not inside a paste");
    }

    #[test]
    fn ctrl_c_and_ctrl_d_accept_and_say_so() {
        let k = quiet();
        assert_eq!(k.command(key('\x03'), "half"), Some(Cmd::AcceptLine));
        assert_eq!(k.take_ending(), Some(Ending::Interrupted));
        assert_eq!(k.take_ending(), None, "taken once");
        // Ctrl-D deletes under the cursor on a line with text, as usual.
        assert_eq!(k.command(key('\x04'), "text"), None);
        assert_eq!(k.take_ending(), None);
        assert_eq!(k.command(key('\x04'), ""), Some(Cmd::AcceptLine));
        assert_eq!(k.take_ending(), Some(Ending::EndOfFile));
    }
}
