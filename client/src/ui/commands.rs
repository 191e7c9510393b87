//! The input line parser and the command table: a typed line and the current mode in,
//! a [`Command`] out. Pure: no I/O, no terminal, no socket.
//!
//! Every slash command is one [`CommandSpec`] in [`COMMANDS`]: its name, aliases,
//! argument usage, one line of help, what Tab completes after it, and the function that
//! turns its arguments into a [`Command`]. `/help`, completion and the usage errors all
//! read the table, so adding a command is adding one entry (plus, for a new kind of
//! reply, one arm in `display::reply`).

use natter_protocol::{FileName, Request, UserName, MAX_HEADER};
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
    /// The prompt, which always shows where plain text goes: `alice> `, `alice → bob> `.
    pub fn prompt(&self, me: &str) -> String {
        match self {
            Mode::Everyone => format!("{me}> "),
            Mode::Private(to) => format!("{me} → {to}> "),
        }
    }
}

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A request for the server; its reply is shown when it arrives.
    Send(Request),
    /// Plain text goes somewhere else from now on.
    SetMode(Mode),
    /// Show the command list, or one command's usage.
    Help(Option<&'static CommandSpec>),
    /// Download a shared file into the download folder (a `GET` once the `.part` is
    /// ready).
    Get(FileName),
    /// Upload a local file, under its own name or `name` (a `PUT` once the file is
    /// checked).
    Put {
        local: PathBuf,
        name: Option<FileName>,
    },
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

/// Every slash command, in the order `/help` lists them.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "help",
        aliases: &[],
        args: "[<command>]",
        help: "list the commands, or show how to use one",
        completion: Completion::Command,
        parse: parse_help,
    },
    CommandSpec {
        name: "who",
        aliases: &["names"],
        args: "",
        help: "list who is online",
        completion: Completion::Nothing,
        parse: |args| no_args(args, Request::Who),
    },
    CommandSpec {
        name: "to",
        aliases: &["query"],
        args: "<name>",
        help: "talk privately to one person from now on",
        completion: Completion::User,
        parse: parse_to,
    },
    CommandSpec {
        name: "all",
        aliases: &[],
        args: "[<text>]",
        help: "talk to everyone again, or send just <text> to everyone",
        completion: Completion::Nothing,
        parse: parse_all,
    },
    CommandSpec {
        name: "msg",
        aliases: &["tell"],
        args: "<name> <text>",
        help: "send one private message without switching",
        completion: Completion::User,
        parse: parse_msg,
    },
    CommandSpec {
        name: "files",
        aliases: &["shared"],
        args: "",
        help: "list the shared folder",
        completion: Completion::Nothing,
        parse: |args| no_args(args, Request::Files),
    },
    CommandSpec {
        name: "get",
        aliases: &[],
        args: "<file>",
        help: "download a shared file; again to resume it",
        completion: Completion::File,
        parse: |args| Ok(Command::Get(one_file(args)?)),
    },
    CommandSpec {
        name: "put",
        aliases: &[],
        args: "<path> [<name>]",
        help: "upload a local file to the shared folder",
        completion: Completion::LocalPath,
        parse: parse_put,
    },
    CommandSpec {
        name: "rm",
        aliases: &["delete"],
        args: "<file>",
        help: "delete a shared file",
        completion: Completion::File,
        parse: |args| {
            Ok(Command::Send(Request::Delete {
                file: one_file(args)?,
            }))
        },
    },
    CommandSpec {
        name: "mv",
        aliases: &["rename"],
        args: "<old> <new>",
        help: "rename a shared file",
        completion: Completion::File,
        parse: parse_mv,
    },
    CommandSpec {
        name: "status",
        aliases: &[],
        args: "",
        help: "the server's sessions, live and ended, and its uptime",
        completion: Completion::Nothing,
        parse: |args| no_args(args, Request::Status),
    },
    CommandSpec {
        name: "echo",
        aliases: &[],
        args: "<text>",
        help: "have the server say <text> back",
        completion: Completion::Nothing,
        parse: |args| {
            if args.is_empty() {
                return Err(ArgError::Usage);
            }
            Ok(Command::Send(Request::Echo { text: args.into() }))
        },
    },
    CommandSpec {
        name: "calc",
        aliases: &[],
        args: "<expr>",
        help: "calculate: + - * / % ^ and parentheses",
        completion: Completion::Nothing,
        parse: |args| {
            if args.trim().is_empty() {
                return Err(ArgError::Usage);
            }
            Ok(Command::Send(Request::Calc { expr: args.into() }))
        },
    },
    CommandSpec {
        name: "guess",
        aliases: &[],
        args: "[<n>]",
        help: "alone: start a guessing game; with a number: guess",
        completion: Completion::Nothing,
        parse: parse_guess,
    },
    CommandSpec {
        name: "ping",
        aliases: &[],
        args: "",
        help: "measure the round trip to the server",
        completion: Completion::Nothing,
        parse: |args| {
            no_args(
                args,
                Request::Ping {
                    text: String::new(),
                },
            )
        },
    },
    CommandSpec {
        name: "quit",
        aliases: &["exit"],
        args: "[<message>]",
        help: "leave (Ctrl-D too); others see the message",
        completion: Completion::Nothing,
        parse: |args| {
            Ok(Command::Send(Request::Quit {
                text: args.to_string(),
            }))
        },
    },
];

/// Why a line could not be turned into a command. `Display` is the line shown after
/// `! `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    UnknownCommand(String),
    Usage {
        usage: String,
        reason: Option<String>,
    },
    /// The request would pass the protocol's header limit, and the server would close
    /// the connection for it.
    TooLong {
        bytes: usize,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownCommand(name) if name.is_empty() => write!(
                f,
                "a lone / is not a command: /help lists the commands, //text sends text starting with /"
            ),
            ParseError::UnknownCommand(name) => write!(
                f,
                "unknown command /{name}: /help lists the commands, //{name} sends it as text"
            ),
            ParseError::Usage {
                usage,
                reason: None,
            } => write!(f, "usage: {usage}"),
            ParseError::Usage {
                usage,
                reason: Some(why),
            } => write!(f, "{why} (usage: {usage})"),
            ParseError::TooLong { bytes } => write!(
                f,
                "too long to send: that is {bytes} bytes on the wire and a line may be at most {MAX_HEADER}; shorten it by {} bytes",
                bytes - MAX_HEADER
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses one typed line with the built-in [`COMMANDS`].
pub fn parse_line(line: &str, mode: &Mode) -> Result<Option<Command>, ParseError> {
    parse_line_with(COMMANDS, line, mode)
}

/// Parses one typed line against `table`. `Ok(None)` is a line with nothing to do
/// (empty or only blanks).
///
/// - `/name args` is a command; the name ignores case.
/// - `//text` sends `/text` as plain text.
/// - anything else is plain text for the current mode, sent as typed.
pub fn parse_line_with(
    table: &[CommandSpec],
    line: &str,
    mode: &Mode,
) -> Result<Option<Command>, ParseError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let command = match line.strip_prefix('/') {
        Some(rest) if rest.starts_with('/') => text_for(mode, rest),
        Some(rest) => {
            let (name, args) = split_word(rest);
            let spec =
                find_in(table, name).ok_or_else(|| ParseError::UnknownCommand(name.to_string()))?;
            (spec.parse)(args).map_err(|e| ParseError::Usage {
                usage: spec.usage(),
                reason: match e {
                    ArgError::Usage => None,
                    ArgError::Invalid(why) => Some(why),
                },
            })?
        }
        None => text_for(mode, line),
    };
    if let Command::Send(req) = &command {
        let bytes = req.to_bytes().len();
        if bytes > MAX_HEADER {
            return Err(ParseError::TooLong { bytes });
        }
    }
    Ok(Some(command))
}

/// The entry whose name or alias is `name` (ignoring case and one leading `/`).
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    find_in(COMMANDS, name)
}

fn find_in<'t>(table: &'t [CommandSpec], name: &str) -> Option<&'t CommandSpec> {
    let name = name.strip_prefix('/').unwrap_or(name);
    table.iter().find(|c| c.matches(name))
}

/// `/help`: one line per command, then how plain text, `//` and the keys work.
pub fn help_lines(table: &[CommandSpec]) -> Vec<String> {
    let width = table
        .iter()
        .map(|c| c.usage().chars().count())
        .max()
        .unwrap_or(0);
    let mut lines = vec!["commands:".to_string()];
    for c in table {
        let mut help = c.help.to_string();
        if !c.aliases.is_empty() {
            let aliases: Vec<String> = c.aliases.iter().map(|a| format!("/{a}")).collect();
            help.push_str(&format!(" (also {})", aliases.join(", ")));
        }
        lines.push(format!("  {:<width$}  {help}", c.usage()));
    }
    lines.push("plain text goes to everyone, or to one person after /to;".into());
    lines.push("//text sends text that starts with /; quote file names with spaces".into());
    lines.push("keys: Tab completes, Up/Down recall, Ctrl-R searches,".into());
    lines.push("      Ctrl-C clears the line, Ctrl-D quits".into());
    lines
}

/// Plain text goes where the mode says.
fn text_for(mode: &Mode, text: &str) -> Command {
    let text = text.to_string();
    Command::Send(match mode {
        Mode::Everyone => Request::Say { text },
        Mode::Private(to) => Request::Tell {
            name: to.clone(),
            text,
        },
    })
}

/// The first word, and the rest with the blanks before it removed. A blank at the
/// very start makes the first word empty, which is how `/ who` stays unknown.
fn split_word(s: &str) -> (&str, &str) {
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start_matches([' ', '\t'])),
        None => (s, ""),
    }
}

fn no_args(args: &str, req: Request) -> Result<Command, ArgError> {
    if args.trim().is_empty() {
        Ok(Command::Send(req))
    } else {
        Err(ArgError::Usage)
    }
}

fn user_name(s: &str) -> Result<UserName, ArgError> {
    UserName::new(s).map_err(|e| ArgError::Invalid(format!("{s:?} is not a user name: {e}")))
}

fn file_name(s: &str) -> Result<FileName, ArgError> {
    FileName::new(s).map_err(|e| ArgError::Invalid(format!("{s:?} is not a file name: {e}")))
}

/// The one file name of `/get` and `/rm`. Typed plainly, it is the rest of the line
/// (spaces and all, so `/get holiday photo.jpg` works); quoted or with backslash
/// escapes (as Tab completion writes it), it is that one word.
fn one_file(args: &str) -> Result<FileName, ArgError> {
    let args = args.trim_end_matches([' ', '\t']);
    if args.is_empty() {
        return Err(ArgError::Usage);
    }
    if !args.starts_with(['"', '\'']) && !args.contains('\\') {
        return file_name(args);
    }
    match words(args)?.as_slice() {
        [one] => file_name(one),
        _ => Err(ArgError::Invalid(
            "one file name only; quote a name with spaces".into(),
        )),
    }
}

fn parse_put(args: &str) -> Result<Command, ArgError> {
    match words(args)?.as_slice() {
        [local] => Ok(Command::Put {
            local: PathBuf::from(local),
            name: None,
        }),
        [local, name] => Ok(Command::Put {
            local: PathBuf::from(local),
            name: Some(file_name(name)?),
        }),
        _ => Err(ArgError::Usage),
    }
}

fn parse_mv(args: &str) -> Result<Command, ArgError> {
    match words(args)?.as_slice() {
        [old, new] => Ok(Command::Send(Request::Rename {
            old: file_name(old)?,
            new: file_name(new)?,
        })),
        _ => Err(ArgError::Usage),
    }
}

/// Splits arguments as a shell would, so names with spaces can be given: blanks
/// separate words; `'...'` keeps everything; `"..."` keeps everything but a backslash
/// before `"`, `\\`, `$` or a backquote; elsewhere a backslash keeps the next
/// character. This is also how rustyline's file name completion escapes what it
/// inserts.
pub fn words(s: &str) -> Result<Vec<String>, ArgError> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = word.take() {
                    out.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unclosed('\'')),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unclosed('"')),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unclosed('"')),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    Ok(out)
}

fn unclosed(q: char) -> ArgError {
    ArgError::Invalid(format!("a {q} is not closed"))
}

fn parse_guess(args: &str) -> Result<Command, ArgError> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Command::Send(Request::Guess { guess: None }));
    }
    // The range is the server's to say (it names it in its answer).
    match args.parse::<u64>() {
        Ok(n) if args.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Command::Send(Request::Guess { guess: Some(n) }))
        }
        _ => Err(ArgError::Invalid(format!(
            "{args:?} is not a whole number; guess like this: /guess 50"
        ))),
    }
}

fn parse_help(args: &str) -> Result<Command, ArgError> {
    match split_word(args) {
        ("", _) => Ok(Command::Help(None)),
        (name, "") => find(name).map(|c| Command::Help(Some(c))).ok_or_else(|| {
            let name = name.strip_prefix('/').unwrap_or(name);
            ArgError::Invalid(format!("there is no command /{name}"))
        }),
        _ => Err(ArgError::Usage),
    }
}

fn parse_to(args: &str) -> Result<Command, ArgError> {
    let (name, rest) = split_word(args);
    if name.is_empty() || !rest.trim().is_empty() {
        return Err(ArgError::Usage);
    }
    Ok(Command::SetMode(Mode::Private(user_name(name)?)))
}

fn parse_all(args: &str) -> Result<Command, ArgError> {
    if args.trim().is_empty() {
        Ok(Command::SetMode(Mode::Everyone))
    } else {
        Ok(Command::Send(Request::Say {
            text: args.to_string(),
        }))
    }
}

fn parse_msg(args: &str) -> Result<Command, ArgError> {
    let (name, text) = split_word(args);
    if name.is_empty() || text.trim().is_empty() {
        return Err(ArgError::Usage);
    }
    Ok(Command::Send(Request::Tell {
        name: user_name(name)?,
        text: text.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    fn parse(line: &str) -> Result<Option<Command>, ParseError> {
        parse_line(line, &Mode::Everyone)
    }

    fn say(text: &str) -> Command {
        Command::Send(Request::Say { text: text.into() })
    }

    fn tell(to: &str, text: &str) -> Command {
        Command::Send(Request::Tell {
            name: name(to),
            text: text.into(),
        })
    }

    fn usage_of(line: &str) -> String {
        match parse(line) {
            Err(e @ ParseError::Usage { .. }) => e.to_string(),
            other => panic!("{line:?}: wanted a usage error, got {other:?}"),
        }
    }

    #[test]
    fn plain_text_follows_the_mode() {
        assert_eq!(parse("hi all"), Ok(Some(say("hi all"))));
        let private = Mode::Private(name("bob"));
        assert_eq!(parse_line("psst", &private), Ok(Some(tell("bob", "psst"))));
        // Sent as typed, blanks and all.
        assert_eq!(parse("  two  spaces "), Ok(Some(say("  two  spaces "))));
    }

    #[test]
    fn blank_lines_do_nothing() {
        for line in ["", " ", "\t  "] {
            assert_eq!(parse(line), Ok(None), "{line:?}");
        }
    }

    #[test]
    fn double_slash_sends_a_literal_slash() {
        assert_eq!(parse("//who"), Ok(Some(say("/who"))));
        assert_eq!(parse("// x"), Ok(Some(say("/ x"))));
        let private = Mode::Private(name("bob"));
        assert_eq!(
            parse_line("//shrug", &private),
            Ok(Some(tell("bob", "/shrug")))
        );
    }

    #[test]
    fn msg_sends_one_private_message() {
        assert_eq!(
            parse("/msg bob hi there"),
            Ok(Some(tell("bob", "hi there")))
        );
        assert_eq!(parse("/msg  bob   hi"), Ok(Some(tell("bob", "hi"))));
        assert_eq!(parse("/tell bob hi"), Ok(Some(tell("bob", "hi"))));
        assert_eq!(usage_of("/msg"), "usage: /msg <name> <text>");
        assert_eq!(usage_of("/msg bob"), "usage: /msg <name> <text>");
        assert_eq!(usage_of("/msg bob   "), "usage: /msg <name> <text>");
        let bad = usage_of("/msg -bob hi");
        assert!(bad.starts_with("\"-bob\" is not a user name: "), "{bad}");
        assert!(bad.ends_with("(usage: /msg <name> <text>)"), "{bad}");
    }

    #[test]
    fn to_and_all_switch_modes() {
        assert_eq!(
            parse("/to bob"),
            Ok(Some(Command::SetMode(Mode::Private(name("bob")))))
        );
        assert_eq!(
            parse("/query bob "),
            Ok(Some(Command::SetMode(Mode::Private(name("bob")))))
        );
        assert_eq!(usage_of("/to"), "usage: /to <name>");
        assert_eq!(usage_of("/to bob carol"), "usage: /to <name>");
        assert_eq!(parse("/all"), Ok(Some(Command::SetMode(Mode::Everyone))));
        let private = Mode::Private(name("bob"));
        assert_eq!(
            parse_line("/all", &private),
            Ok(Some(Command::SetMode(Mode::Everyone)))
        );
        assert_eq!(parse_line("/all hi all", &private), Ok(Some(say("hi all"))));
    }

    #[test]
    fn prompts_show_the_mode() {
        assert_eq!(Mode::Everyone.prompt("alice"), "alice> ");
        assert_eq!(Mode::Private(name("bob")).prompt("alice"), "alice → bob> ");
    }

    #[test]
    fn simple_commands() {
        assert_eq!(parse("/who"), Ok(Some(Command::Send(Request::Who))));
        assert_eq!(parse("/WHO"), Ok(Some(Command::Send(Request::Who))));
        assert_eq!(parse("/names"), Ok(Some(Command::Send(Request::Who))));
        assert_eq!(usage_of("/who everyone"), "usage: /who");
        assert_eq!(
            parse("/ping"),
            Ok(Some(Command::Send(Request::Ping {
                text: String::new()
            })))
        );
        let quit = |t: &str| Ok(Some(Command::Send(Request::Quit { text: t.into() })));
        assert_eq!(parse("/quit"), quit(""));
        assert_eq!(parse("/exit"), quit(""));
        assert_eq!(parse("/quit see you"), quit("see you"));
    }

    #[test]
    fn help() {
        assert_eq!(parse("/help"), Ok(Some(Command::Help(None))));
        let msg = find("msg").unwrap();
        assert_eq!(parse("/help msg"), Ok(Some(Command::Help(Some(msg)))));
        assert_eq!(parse("/help /TELL"), Ok(Some(Command::Help(Some(msg)))));
        assert_eq!(
            usage_of("/help nope"),
            "there is no command /nope (usage: /help [<command>])"
        );
    }

    #[test]
    fn unknown_commands_point_to_help() {
        let e = parse("/frobnicate now").unwrap_err();
        assert_eq!(e, ParseError::UnknownCommand("frobnicate".into()));
        assert_eq!(
            e.to_string(),
            "unknown command /frobnicate: /help lists the commands, //frobnicate sends it as text"
        );
        assert!(parse("/").unwrap_err().to_string().contains("/help"));
        assert!(parse("/ who").unwrap_err().to_string().contains("/help"));
    }

    #[test]
    fn lines_too_long_for_the_wire_are_refused() {
        let fits = "x".repeat(MAX_HEADER - "SAY \n".len());
        assert_eq!(parse(&fits), Ok(Some(say(&fits))));
        let over = format!("{fits}y");
        assert_eq!(
            parse(&over),
            Err(ParseError::TooLong {
                bytes: MAX_HEADER + 1
            })
        );
        assert!(parse(&over)
            .unwrap_err()
            .to_string()
            .contains("shorten it by 1 bytes"));
        let tell_over = format!("/msg bob {fits}");
        assert!(matches!(parse(&tell_over), Err(ParseError::TooLong { .. })));
    }

    #[test]
    fn the_table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS {
            for n in std::iter::once(&c.name).chain(c.aliases) {
                assert!(seen.insert(*n), "/{n} appears twice");
                assert_eq!(*n, n.to_ascii_lowercase(), "/{n} must be lower case");
                assert!(!n.is_empty() && !n.contains(' ') && !n.starts_with('/'));
            }
            assert!(!c.help.is_empty(), "/{} has no help", c.name);
            assert!(find(c.name) == Some(c));
        }
    }

    #[test]
    fn help_fits_an_80_column_terminal() {
        for line in help_lines(COMMANDS) {
            assert!(line.chars().count() <= 80, "{line:?} is wider than 80");
        }
    }

    #[test]
    fn help_lists_every_command_and_alias() {
        let lines = help_lines(COMMANDS).join("\n");
        for c in COMMANDS {
            assert!(lines.contains(&c.usage()), "{} missing", c.usage());
            assert!(lines.contains(c.help));
            for a in c.aliases {
                assert!(lines.contains(&format!("/{a}")));
            }
        }
        assert!(lines.contains("//text"));
    }

    fn file(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    #[test]
    fn words_split_like_a_shell() {
        let w = |s: &str| words(s).unwrap();
        assert_eq!(w("a b  c"), ["a", "b", "c"]);
        assert_eq!(w(r"holiday\ photo.jpg x"), ["holiday photo.jpg", "x"]);
        assert_eq!(w(r#""a b" 'c d' e"f"g"#), ["a b", "c d", "efg"]);
        assert_eq!(w(r#""say \"hi\" \n""#), [r#"say "hi" \n"#]);
        assert_eq!(w("it''s"), ["its"]);
        assert_eq!(w(""), Vec::<String>::new());
        assert_eq!(w("''"), [""]);
        assert!(words("'open").is_err());
    }

    #[test]
    fn file_commands() {
        let get = |s: &str| parse(s).map(|c| c.unwrap());
        assert_eq!(get("/get cat.png"), Ok(Command::Get(file("cat.png"))));
        assert_eq!(get("/GET cat.png "), Ok(Command::Get(file("cat.png"))));
        assert_eq!(
            get("/get holiday photo.jpg"),
            Ok(Command::Get(file("holiday photo.jpg")))
        );
        assert_eq!(
            get(r"/get holiday\ photo.jpg "),
            Ok(Command::Get(file("holiday photo.jpg")))
        );
        assert_eq!(get("/get it's.txt"), Ok(Command::Get(file("it's.txt"))));
        assert_eq!(get("/get ' x '"), Ok(Command::Get(file(" x "))));
        assert_eq!(usage_of("/get"), "usage: /get <file>");
        let bad = usage_of("/get ../etc/passwd");
        assert!(bad.contains("cannot contain '/'"), "{bad}");
        assert!(usage_of("/get .hidden").contains("cannot start with '.'"));
        assert_eq!(
            get("/rm old.txt"),
            Ok(Command::Send(Request::Delete {
                file: file("old.txt")
            }))
        );
        assert_eq!(
            get(r#"/mv "a b.txt" c.txt"#),
            Ok(Command::Send(Request::Rename {
                old: file("a b.txt"),
                new: file("c.txt")
            }))
        );
        assert_eq!(usage_of("/mv a"), "usage: /mv <old> <new>");
        assert_eq!(usage_of("/mv a b c"), "usage: /mv <old> <new>");
        assert_eq!(
            get(r"/put ~/Music/my\ song.mp3"),
            Ok(Command::Put {
                local: PathBuf::from("~/Music/my song.mp3"),
                name: None
            })
        );
        assert_eq!(
            get("/put ./x.bin y.bin"),
            Ok(Command::Put {
                local: PathBuf::from("./x.bin"),
                name: Some(file("y.bin"))
            })
        );
        assert_eq!(usage_of("/put"), "usage: /put <path> [<name>]");
        assert!(usage_of("/put a b/c").contains("cannot contain '/'"));
        assert_eq!(get("/files"), Ok(Command::Send(Request::Files)));
        assert_eq!(get("/shared"), Ok(Command::Send(Request::Files)));
    }

    #[test]
    fn service_commands() {
        let send = |r: Request| Ok(Some(Command::Send(r)));
        assert_eq!(parse("/status"), send(Request::Status));
        assert_eq!(usage_of("/status now"), "usage: /status");
        assert_eq!(
            parse("/echo  two  spaces "),
            send(Request::Echo {
                text: "two  spaces ".into()
            })
        );
        assert_eq!(usage_of("/echo"), "usage: /echo <text>");
        assert_eq!(
            parse("/calc 2 + 3 * 6"),
            send(Request::Calc {
                expr: "2 + 3 * 6".into()
            })
        );
        assert_eq!(usage_of("/calc  "), "usage: /calc <expr>");
        assert_eq!(parse("/guess"), send(Request::Guess { guess: None }));
        assert_eq!(
            parse("/guess 50 "),
            send(Request::Guess { guess: Some(50) })
        );
        assert_eq!(
            parse("/guess 500"),
            send(Request::Guess { guess: Some(500) }),
            "the server names the range"
        );
        for bad in ["/guess fifty", "/guess -3", "/guess +3", "/guess 1 2"] {
            assert!(
                usage_of(bad).contains("is not a whole number; guess like this: /guess 50"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_custom_table_is_one_entry_per_command() {
        static TABLE: &[CommandSpec] = &[CommandSpec {
            name: "echo",
            aliases: &[],
            args: "<text>",
            help: "have the server say it back",
            completion: Completion::Nothing,
            parse: |args| {
                if args.is_empty() {
                    return Err(ArgError::Usage);
                }
                Ok(Command::Send(Request::Echo { text: args.into() }))
            },
        }];
        assert_eq!(
            parse_line_with(TABLE, "/echo hi", &Mode::Everyone),
            Ok(Some(Command::Send(Request::Echo { text: "hi".into() })))
        );
        assert_eq!(
            parse_line_with(TABLE, "/echo", &Mode::Everyone)
                .unwrap_err()
                .to_string(),
            "usage: /echo <text>"
        );
    }
}
