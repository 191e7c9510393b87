//! The vocabulary of the command table: where plain text goes ([`Mode`]), what a line
//! asks for ([`Command`]), and what one table entry is ([`CommandSpec`], with what Tab
//! completes after it and why its arguments may be refused), and finding an entry in
//! a table by name. The entries themselves are in `table`, the line parser in `parse`.

use natter_protocol::{FileName, Request, UserName};
use std::fmt;
use std::path::PathBuf;

/// Where plain text goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// To everyone (`SAY`).
    Everyone,
    /// To one person (`TELL`).
    Private(UserName),
}

impl Mode {
    /// The prompt, which always shows where plain text goes: `alice> `, `alice → bob> `,
    /// `alice → bob (left)> ` once bob is known to have left (`gone`), and
    /// `alice → bob (away)> ` while bob is away.
    pub fn prompt(&self, me: &str, gone: bool, away: bool) -> String {
        match self {
            Mode::Everyone => format!("{me}> "),
            Mode::Private(to) if gone => format!("{me} → {to} (left)> "),
            Mode::Private(to) if away => format!("{me} → {to} (away)> "),
            Mode::Private(to) => format!("{me} → {to}> "),
        }
    }

    /// Where plain text goes, in words: `everyone`, `bob`.
    pub fn target(&self) -> String {
        match self {
            Mode::Everyone => "everyone".to_string(),
            Mode::Private(to) => to.to_string(),
        }
    }
}

/// Why `/to <to>` is refused, if it is: `to` is `me` (ignoring case, as names are),
/// or someone known not to be online (`online`, `None` when that is not known).
pub fn private_refusal(
    to: &UserName,
    me: Option<&UserName>,
    online: Option<bool>,
) -> Option<String> {
    if let Some(me) = me.filter(|me| me.key() == to.key()) {
        return Some(format!("{me} is you: /to someone else"));
    }
    (online == Some(false)).then(|| format!("{to} is not online (/who lists who is)"))
}

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A request for the server; its reply is shown when it arrives.
    Send(Request),
    /// A message too long for one line, as several in order (see `long`), and how
    /// long it was on the wire.
    Split { parts: Vec<Request>, bytes: usize },
    /// Plain text goes somewhere else from now on.
    SetMode(Mode),
    /// Show the command list, or one command's usage.
    Help(Option<&'static CommandSpec>),
    /// The shared files' SHA-256s (a `FILES`, shown as `sha256sum` prints them).
    Sums,
    /// Download a shared file into the download folder (a `GET` once the `.part` is
    /// ready).
    Get(FileName),
    /// Upload a local file, under its own name or `name` (a `PUT` once the file is
    /// checked).
    Put {
        local: PathBuf,
        name: Option<FileName>,
        /// The rest of the line as typed, when it holds blanks and no quotes or
        /// backslashes (`/put my file.txt`): the path meant if `local` is not there
        /// and this is (see `put_target`).
        unsplit: Option<PathBuf>,
        /// Why the second word cannot be a file's name, when it cannot: the error if
        /// the first word is a file and the whole line is not (`/put notes.txt a/b`).
        bad_name: Option<String>,
    },
    /// Stop the running transfer of this file (its shared name, or the local path of
    /// an upload), or every running transfer.
    Cancel(Option<String>),
}

/// What Tab completes in a command's first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    Nothing,
    /// A command name (for `/help`).
    Command,
    /// A user name, from the users the session knows (JOIN, LEAVE, WHO).
    User,
    /// A shared file name, from the last `FILES` listing and `SHARED` events.
    File,
    /// A local path (for `/put`), from the file system.
    LocalPath,
}

/// Why a command's arguments were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgError {
    /// Wrong number or shape of arguments: the usage line says it all.
    Usage,
    /// An argument was the right shape but not valid; the text says why.
    Invalid(String),
}

/// One slash command.
pub struct CommandSpec {
    /// Lower case, without the slash.
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    /// The arguments, as shown in usage lines: `<name> <text>`.
    pub args: &'static str,
    /// One line, for `/help`.
    pub help: &'static str,
    pub completion: Completion,
    /// The arguments (the rest of the line after the name, leading spaces removed) to
    /// a command.
    pub parse: fn(&str) -> Result<Command, ArgError>,
}

impl CommandSpec {
    /// `/msg <name> <text>`.
    pub fn usage(&self) -> String {
        if self.args.is_empty() {
            format!("/{}", self.name)
        } else {
            format!("/{} {}", self.name, self.args)
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

// By name: the name is unique in the table, and function pointers do not compare
// reliably.
impl PartialEq for CommandSpec {
    fn eq(&self, other: &CommandSpec) -> bool {
        self.name == other.name
    }
}

impl Eq for CommandSpec {}

impl fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommandSpec(/{})", self.name)
    }
}

/// The entry in `table` whose name or alias is `name` (ignoring case and one leading
/// `/`).
pub fn find_in<'t>(table: &'t [CommandSpec], name: &str) -> Option<&'t CommandSpec> {
    let name = name.strip_prefix('/').unwrap_or(name);
    table.iter().find(|c| c.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::commands::testing::name;

    #[test]
    fn prompts_show_the_mode() {
        assert_eq!(Mode::Everyone.prompt("alice", false, false), "alice> ");
        assert_eq!(
            Mode::Private(name("bob")).prompt("alice", false, true),
            "alice → bob (away)> "
        );
        let bob = Mode::Private(name("bob"));
        assert_eq!(bob.prompt("alice", false, false), "alice → bob> ");
        assert_eq!(bob.prompt("alice", true, false), "alice → bob (left)> ");
    }

    #[test]
    fn private_talk_is_with_someone_else_who_may_be_online() {
        let me = name("alice");
        assert_eq!(
            private_refusal(&name("ALICE"), Some(&me), Some(true)).as_deref(),
            Some("alice is you: /to someone else")
        );
        assert_eq!(
            private_refusal(&name("nobody"), Some(&me), Some(false)).as_deref(),
            Some("nobody is not online (/who lists who is)")
        );
        assert_eq!(private_refusal(&name("bob"), Some(&me), Some(true)), None);
        // Not known either way (no listing yet): allowed.
        assert_eq!(private_refusal(&name("bob"), Some(&me), None), None);
    }
}
