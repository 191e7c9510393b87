//! The input line parser: a typed line and the current mode in, a [`Command`] out, or
//! a [`ParseError`] whose words say what to type instead. `/name args` goes to the
//! table's entry, `//text` and plain text go where the mode says, and nothing leaves
//! here that the server would refuse as too long: a message is split into several
//! (`long`), any other request is refused.

use super::long::split_message;
use super::spec::{find_in, ArgError, Command, CommandSpec, Mode};
use super::table::COMMANDS;
use super::words::split_word;
use natter_protocol::{Request, MAX_HEADER};
use std::fmt;

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
            return match split_message(req) {
                Some(parts) => Ok(Some(Command::Split { parts, bytes })),
                None => Err(ParseError::TooLong { bytes }),
            };
        }
    }
    Ok(Some(command))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::commands::spec::Completion;
    use crate::ui::commands::testing::*;

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
    fn messages_too_long_for_the_wire_are_split_and_other_requests_refused() {
        let fits = "x".repeat(MAX_HEADER - "SAY \n".len());
        assert_eq!(parse(&fits), Ok(Some(say(&fits))));
        let over = format!("{fits}y");
        let Ok(Some(Command::Split { parts, bytes })) = parse(&over) else {
            panic!("not split: {:?}", parse(&over));
        };
        assert_eq!(bytes, MAX_HEADER + 1);
        assert_eq!(
            parts,
            [say(&fits), say("y")].map(|c| match c {
                Command::Send(r) => r,
                other => panic!("{other:?}"),
            })
        );
        let tell_over = format!("/msg bob {fits}");
        let Ok(Some(Command::Split { parts, .. })) = parse(&tell_over) else {
            panic!("/msg not split");
        };
        assert!(parts
            .iter()
            .all(|p| matches!(p, Request::Tell { name, .. } if name.as_str() == "bob")));
        let echo_over = format!("/echo {fits}");
        assert_eq!(
            parse(&echo_over),
            Err(ParseError::TooLong {
                bytes: MAX_HEADER + 1
            })
        );
        assert!(parse(&echo_over)
            .unwrap_err()
            .to_string()
            .contains("shorten it by 1 bytes"));
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
