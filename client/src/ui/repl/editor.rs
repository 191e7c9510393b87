//! The rustyline editor as natter sets it up: its configuration, the helper that
//! completes, hints usages and colours the prompt (and tells [`Screen`] when rustyline
//! has redrawn), and the history file. The loop that reads lines with it is in
//! `repl`; nothing here sends anything.

use super::keys::Keys;
use crate::display::{io_words, Line, Style};
use crate::session::Session;
use crate::ui::commands::{self, COMMANDS};
use crate::ui::complete;
use crate::ui::terminal::Screen;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::config::{ColorMode, CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::{Hint, Hinter};
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter, Helper};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub type ChatEditor = Editor<ChatHelper, FileHistory>;
pub type Printer = Box<dyn ExternalPrinter + Send>;

/// History entries kept, in memory and in the file.
pub const HISTORY_SIZE: usize = 1000;

/// The editor, the printer that shows lines above its prompt, and the keys natter
/// handles itself (see `keys`). `Err` when this terminal cannot have them, in words.
pub fn make(
    style: Style,
    screen: &Arc<Screen>,
    session: &Arc<Session>,
) -> Result<(ChatEditor, Printer, Arc<Keys>), String> {
    let config = Config::builder()
        .max_history_size(HISTORY_SIZE)
        .and_then(|b| b.history_ignore_dups(true))
        .map_err(|e| e.to_string())?
        .auto_add_history(false)
        .completion_type(CompletionType::List)
        // The highlighter is how `Screen` learns that the prompt was drawn, so
        // rustyline must always call it, NO_COLOR or not (`Enabled` would stop calling
        // it under NO_COLOR). It adds colour only when asked.
        .color_mode(ColorMode::Forced)
        .build();
    let mut editor: ChatEditor = Editor::with_config(config).map_err(|e| e.to_string())?;
    editor.set_helper(Some(ChatHelper {
        screen: screen.clone(),
        session: session.clone(),
        color: style.color,
        paths: FilenameCompleter::new(),
    }));
    let keys = {
        let screen = screen.clone();
        Keys::bind(
            &mut editor,
            Box::new(move || {
                // The shell writes to the terminal meanwhile, so the bars above the
                // prompt are not known to be there when natter comes back.
                screen.lose_block();
                screen.suspend()
            }),
        )
    };
    let printer = editor
        .create_external_printer()
        .map_err(|e| format!("this terminal cannot show messages above the prompt ({e})"))?;
    Ok((editor, Box::new(printer), keys))
}

/// Loads the history file; returns the path to append to, or `None` (with a warning
/// shown) when it cannot be used.
pub fn load_history(
    editor: &mut ChatEditor,
    path: &Path,
    screen: &Screen,
    style: Style,
) -> Option<PathBuf> {
    let warn = |what: String| {
        screen.print([Line::error(
            style,
            &format!("{what}; history will not be saved this session"),
        )])
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            warn(format!("cannot create {}: {}", dir.display(), io_words(&e)));
            return None;
        }
    }
    match editor.load_history(path) {
        Ok(()) => Some(path.to_path_buf()),
        Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(path.to_path_buf())
        }
        Err(e) => {
            warn(format!(
                "cannot read history {}: {}",
                path.display(),
                readline_words(&e)
            ));
            None
        }
    }
}

/// A rustyline error in words; I/O errors without std's `(os error N)`.
pub fn readline_words(e: &ReadlineError) -> String {
    match e {
        ReadlineError::Io(io) => io_words(io),
        other => other.to_string(),
    }
}

/// Completion, usage hints and the prompt's colour; also tells [`Screen`] each time
/// rustyline redraws in raw mode and what the input line holds.
pub struct ChatHelper {
    screen: Arc<Screen>,
    session: Arc<Session>,
    color: bool,
    /// Local paths after `/put`.
    paths: FilenameCompleter,
}

/// The arguments a command still wants, greyed after the cursor. Never inserted: a
/// placeholder like `<name>` is not text to send.
pub struct UsageHint(String);

impl Hint for UsageHint {
    fn display(&self) -> &str {
        &self.0
    }

    fn completion(&self) -> Option<&str> {
        None
    }
}

impl Hinter for ChatHelper {
    type Hint = UsageHint;

    fn hint(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> Option<UsageHint> {
        self.screen.edited(line);
        if pos != line.len() {
            return None;
        }
        let rest = line.strip_prefix('/')?;
        let name = rest.strip_suffix(' ')?;
        if name.contains(' ') {
            return None;
        }
        let spec = commands::find(name)?;
        (!spec.args.is_empty()).then(|| UsageHint(spec.args.to_string()))
    }
}

impl Completer for ChatHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        if complete::local_path_wanted(COMMANDS, line, pos) {
            let found = self.paths.complete_path(line, pos)?;
            if found.1.len() > 1 {
                self.screen.lose_block();
            }
            return Ok(found);
        }
        let (start, words) = complete::complete(COMMANDS, line, pos, &self.session.known());
        if words.len() > 1 {
            // rustyline may list them under the prompt: the bars are not right
            // above it any more.
            self.screen.lose_block();
        }
        let pairs = words
            .into_iter()
            .map(|w| Pair {
                display: w.trim_end_matches([' ', ':']).to_string(),
                replacement: w,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Highlighter for ChatHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        // rustyline calls this on every full redraw, in raw mode: the moment the
        // session may be left from this thread (see `Screen`).
        self.screen.drawn();
        Cow::Borrowed(line)
    }

    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(
        &'s self,
        prompt: &'p str,
        _default: bool,
    ) -> Cow<'b, str> {
        if self.color {
            Cow::Owned(format!("\x1b[1m{prompt}\x1b[0m"))
        } else {
            Cow::Borrowed(prompt)
        }
    }

    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        if self.color {
            Cow::Owned(format!("\x1b[2m{hint}\x1b[0m"))
        } else {
            Cow::Borrowed(hint)
        }
    }
}

impl Validator for ChatHelper {}

impl Helper for ChatHelper {}

/// `$XDG_STATE_HOME/natter/history`, else `~/.local/state/natter/history`; `None`
/// without either variable. A relative `XDG_STATE_HOME` is ignored, as the XDG
/// specification asks.
pub fn default_history_file(
    xdg_state_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let state = xdg_state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("state"))
        })?;
    Some(state.join("natter").join("history"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_file_follows_xdg() {
        assert_eq!(
            default_history_file(Some("/x/state".into()), Some("/home/a".into())),
            Some(PathBuf::from("/x/state/natter/history"))
        );
        assert_eq!(
            default_history_file(Some("relative".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/state/natter/history"))
        );
        assert_eq!(
            default_history_file(None, Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/state/natter/history"))
        );
        assert_eq!(default_history_file(None, None), None);
    }
}
