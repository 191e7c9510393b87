//! What a line is, and how it is painted: [`Line`], [`Style`] and the colours of chat
//! lines. Whether to colour at all is decided once, from the command line and the
//! environment, and carried in the `Style`.

/// One line for the screen (without its `\n`), and whether it reports a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub is_error: bool,
}

impl Line {
    pub fn info(style: Style, text: &str) -> Line {
        Line {
            text: format!("{} {text}", style.paint(CYAN, "*")),
            is_error: false,
        }
    }

    pub fn error(style: Style, text: &str) -> Line {
        Line {
            text: style.paint(RED, &format!("! {text}")),
            is_error: true,
        }
    }

    /// Shown as given: help text and the like, written by this program.
    pub fn plain(text: impl Into<String>) -> Line {
        Line {
            text: text.into(),
            is_error: false,
        }
    }
}

/// Whether to colour. Off unless the output is a terminal and neither `--no-color`
/// nor `NO_COLOR` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
}

const RED: &str = "31";
pub(super) const GREEN: &str = "32";
pub(super) const MAGENTA: &str = "35";
const CYAN: &str = "36";
pub(super) const DIM: &str = "2";
pub(super) const BOLD: &str = "1";
/// Colours for other people's names, picked by a hash of the name so a person keeps
/// theirs. Red is left out: it means an error here.
const NAME_COLORS: &[&str] = &["32", "33", "34", "35", "36", "92", "93", "94", "95", "96"];

impl Style {
    pub fn paint(self, sgr: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub(super) fn name(self, name: &str) -> String {
        let h = name
            .to_ascii_lowercase()
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        self.paint(NAME_COLORS[h as usize % NAME_COLORS.len()], name)
    }
}
