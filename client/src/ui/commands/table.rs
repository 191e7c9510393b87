//! The command table: every slash command as one [`CommandSpec`] in [`COMMANDS`], with
//! the function that turns its arguments into a [`Command`], and the `/help` text read
//! from it. Adding a command is adding one entry here (plus, for a new kind of reply,
//! one arm in `display::reply`).

use super::spec::{find_in, ArgError, Command, CommandSpec, Completion, Mode};
use super::words::{split_word, words};
use natter_protocol::{FileName, Request, UserName};
use std::path::{Path, PathBuf};

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
        name: "away",
        aliases: &[],
        args: "[<text>]",
        help: "say you are away, and why (others see it)",
        completion: Completion::Nothing,
        parse: |args| {
            Ok(Command::Send(Request::Away {
                text: args.trim().to_string(),
            }))
        },
    },
    CommandSpec {
        name: "back",
        aliases: &[],
        args: "",
        help: "say you are back",
        completion: Completion::Nothing,
        parse: |args| no_args(args, Request::Back),
    },
    CommandSpec {
        name: "history",
        aliases: &[],
        args: "[<n>]",
        help: "show the room's last n messages again (50 unless given)",
        completion: Completion::Nothing,
        parse: parse_history,
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
        name: "sums",
        aliases: &["sha256"],
        args: "",
        help: "each shared file's SHA-256, as sha256sum",
        completion: Completion::Nothing,
        parse: |args| {
            if args.trim().is_empty() {
                Ok(Command::Sums)
            } else {
                Err(ArgError::Usage)
            }
        },
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
        name: "cancel",
        aliases: &[],
        args: "[<file>]",
        help: "stop a running transfer, or all of them",
        completion: Completion::File,
        parse: |args| {
            let args = args.trim();
            Ok(Command::Cancel(
                (!args.is_empty()).then(|| args.to_string()),
            ))
        },
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

/// The entry whose name or alias is `name` (ignoring case and one leading `/`).
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    find_in(COMMANDS, name)
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
    let plain = args.trim_matches([' ', '\t']);
    let unsplit = (plain.contains([' ', '\t']) && !plain.contains(['"', '\'', '\\']))
        .then(|| PathBuf::from(plain));
    let split = match words(args)?.as_slice() {
        [local] => Ok((PathBuf::from(local), None)),
        [local, name] => file_name(name).map(|n| (PathBuf::from(local), Some(n))),
        _ => Err(ArgError::Usage),
    };
    match (split, unsplit) {
        (Ok((local, name)), unsplit) => Ok(Command::Put {
            local,
            name,
            unsplit,
            bad_name: None,
        }),
        // Not a path and a name: the whole line may still be a path, or the first
        // word one and the second a name that cannot be.
        (Err(e), Some(whole)) => {
            let first = words(args)
                .ok()
                .filter(|w| w.len() == 2)
                .and_then(|w| w.into_iter().next());
            Ok(match (first, e) {
                (Some(first), ArgError::Invalid(why)) => Command::Put {
                    local: PathBuf::from(first),
                    name: None,
                    unsplit: Some(whole),
                    bad_name: Some(why),
                },
                _ => Command::Put {
                    local: whole.clone(),
                    name: None,
                    unsplit: Some(whole),
                    bad_name: None,
                },
            })
        }
        (Err(e), None) => Err(e),
    }
}

/// What a `/put` uploads, once the file system has been asked (`exists`): the path and
/// name as split into words, unless that path is not there and the whole unquoted
/// rest of the line is (`/put my file.txt`). The third value is for the error when
/// neither is there: how to write a path with spaces.
/// `Err`: the second word's name error, when the first word is a file and the whole
/// line is not.
pub fn put_target(
    local: PathBuf,
    name: Option<FileName>,
    unsplit: Option<PathBuf>,
    bad_name: Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<(PathBuf, Option<FileName>, Option<&'static str>), String> {
    const QUOTES: &str = r#"a path with spaces needs quotes: /put "my file.txt" [<name>]"#;
    Ok(match (unsplit, bad_name) {
        (None, _) => (local, name, None),
        (Some(whole), Some(why)) => {
            if exists(&whole) {
                (whole, None, None)
            } else if exists(&local) {
                return Err(why);
            } else {
                (whole, None, Some(QUOTES))
            }
        }
        (Some(_), None) if exists(&local) => (local, name, None),
        (Some(whole), None) if exists(&whole) => (whole, None, None),
        (Some(_), None) => (local, name, Some(QUOTES)),
    })
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

fn parse_history(args: &str) -> Result<Command, ArgError> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Command::Send(Request::History { count: Some(50) }));
    }
    match args.parse::<u64>() {
        Ok(n) if args.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(Command::Send(Request::History { count: Some(n) }))
        }
        _ => Err(ArgError::Invalid(format!(
            "{args:?} is not a whole number; like this: /history 100"
        ))),
    }
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
    use crate::ui::commands::parse::parse_line;
    use crate::ui::commands::testing::*;

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
    fn simple_commands() {
        assert_eq!(parse("/who"), Ok(Some(Command::Send(Request::Who))));
        assert_eq!(
            parse("/history"),
            Ok(Some(Command::Send(Request::History { count: Some(50) })))
        );
        assert_eq!(
            parse("/history 7"),
            Ok(Some(Command::Send(Request::History { count: Some(7) })))
        );
        assert!(parse("/history lots").is_err());
        assert_eq!(
            parse("/away  at lunch "),
            Ok(Some(Command::Send(Request::Away {
                text: "at lunch".into()
            })))
        );
        assert_eq!(parse("/back"), Ok(Some(Command::Send(Request::Back))));
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
                name: None,
                unsplit: None,
                bad_name: None,
            })
        );
        assert_eq!(
            get("/put ./x.bin y.bin"),
            Ok(Command::Put {
                local: PathBuf::from("./x.bin"),
                name: Some(file("y.bin")),
                unsplit: Some(PathBuf::from("./x.bin y.bin")),
                bad_name: None,
            })
        );
        assert_eq!(usage_of("/put"), "usage: /put <path> [<name>]");
        assert!(usage_of(r#"/put a "b/c""#).contains("cannot contain '/'"));
        assert_eq!(usage_of(r#"/put "a b" c d"#), "usage: /put <path> [<name>]");
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
    fn an_unquoted_put_keeps_the_whole_line_as_a_path() {
        let get = |s: &str| parse(s).map(|c| c.unwrap());
        let put = |local: &str, name: Option<&str>, unsplit: Option<&str>| Command::Put {
            bad_name: None,
            local: PathBuf::from(local),
            name: name.map(file),
            unsplit: unsplit.map(PathBuf::from),
        };
        assert_eq!(
            get("/put my file.txt"),
            Ok(put("my", Some("file.txt"), Some("my file.txt")))
        );
        // Three words: only the whole. A second word that cannot be a name: the
        // whole, or the first word with the name's error (put_target chooses).
        assert_eq!(
            get("/put my big file.txt "),
            Ok(put("my big file.txt", None, Some("my big file.txt")))
        );
        let Ok(Command::Put {
            local, bad_name, ..
        }) = get("/put old files/a.txt")
        else {
            panic!("not a /put");
        };
        assert_eq!((local, bad_name.is_some()), (PathBuf::from("old"), true));
        // One word, or quotes or backslashes: the user split it.
        assert_eq!(get("/put a.txt"), Ok(put("a.txt", None, None)));
        assert_eq!(
            get(r#"/put "my file.txt" b.txt"#),
            Ok(put("my file.txt", Some("b.txt"), None))
        );
        assert_eq!(
            get(r"/put my\ file.txt"),
            Ok(put("my file.txt", None, None))
        );
    }

    #[test]
    fn put_target_takes_the_whole_line_only_when_only_it_exists() {
        let target = |local: &str, unsplit: Option<&str>, there: &[&str]| {
            let (path, name, hint) = put_target(
                PathBuf::from(local),
                Some(file("n.txt")),
                unsplit.map(PathBuf::from),
                None,
                |p| there.iter().any(|t| Path::new(t) == p),
            )
            .unwrap();
            (path.to_string_lossy().into_owned(), name, hint.is_some())
        };
        let named = Some(file("n.txt"));
        assert_eq!(
            target("my", Some("my n.txt"), &["my n.txt"]),
            ("my n.txt".into(), None, false)
        );
        assert_eq!(
            target("my", Some("my n.txt"), &["my", "my n.txt"]),
            ("my".into(), named.clone(), false),
            "the split wins when both exist"
        );
        assert_eq!(
            target("my", Some("my n.txt"), &[]),
            ("my".into(), named.clone(), true),
            "neither: the split's error, with how to quote"
        );
        assert_eq!(
            target("a.txt", None, &[]),
            ("a.txt".into(), named, false),
            "typed as one word: nothing to hint"
        );
    }

    #[test]
    fn a_bad_name_after_a_file_is_the_error_unless_the_whole_line_is_a_file() {
        let Ok(Some(Command::Put {
            local,
            name,
            unsplit,
            bad_name,
        })) = parse("/put notes.txt a/b")
        else {
            panic!("not a /put");
        };
        assert_eq!(local, PathBuf::from("notes.txt"));
        let why = bad_name.clone().unwrap_or_default();
        assert!(why.contains("cannot contain '/'"), "{why}");
        let target = |there: &[&str]| {
            put_target(
                local.clone(),
                name.clone(),
                unsplit.clone(),
                bad_name.clone(),
                |p| there.iter().any(|t| Path::new(t) == p),
            )
            .map(|(p, _, hint)| (p.to_string_lossy().into_owned(), hint.is_some()))
        };
        assert_eq!(
            target(&["notes.txt"]),
            Err(why),
            "the file is there: the name is wrong"
        );
        assert_eq!(
            target(&["notes.txt a/b"]),
            Ok(("notes.txt a/b".into(), false))
        );
        assert_eq!(
            target(&[]),
            Ok(("notes.txt a/b".into(), true)),
            "neither: how to quote"
        );
    }
}
