//! What Tab offers at a cursor position: command names after `/`, then whatever the
//! command's table entry says its first argument is (user names, shared file names,
//! command names), and user names anywhere in plain text. Pure: the caller passes the
//! names it knows. Local paths (after `/put`) come from the file system, so this only
//! says where they are wanted ([`local_path_wanted`]) and the editor asks rustyline.
//!
//! Shared file names are inserted with a backslash before each blank, quote and
//! backslash, as the command parser reads them (`holiday\ photo.jpg`).

use crate::session::Known;
use crate::ui::commands::{CommandSpec, Completion};

/// Where the word being completed starts, and what could replace it. Each candidate
/// ends with the separator that should follow it, so a unique match leaves the cursor
/// ready for the next word.
pub fn complete(
    table: &[CommandSpec],
    line: &str,
    pos: usize,
    known: &Known,
) -> (usize, Vec<String>) {
    let Some(before) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let is_command = before.starts_with('/') && !before.starts_with("//");
    if !is_command {
        // Plain text: a name at the start of a line is an address (`bob: `), anywhere
        // else just a word.
        let start = word_start(before);
        let prefix = &before[start..];
        if prefix.is_empty() {
            return (pos, Vec::new());
        }
        let sep = if start == 0 { ": " } else { " " };
        return (start, matching(&known.users, prefix, sep));
    }
    let Some((spec, arg_start)) = command_arg(table, before) else {
        if !before.contains([' ', '\t']) {
            return (0, command_names(table, &before[1..], "/"));
        }
        return (pos, Vec::new());
    };
    let arg = &before[arg_start..];
    if arg_index(arg) > 0 {
        // Past the first argument: free text or a second name, nothing to offer.
        return (pos, Vec::new());
    }
    let words = match spec.completion {
        Completion::Nothing | Completion::LocalPath => Vec::new(),
        Completion::Command => command_names(table, arg.strip_prefix('/').unwrap_or(arg), ""),
        Completion::User => matching(&known.users, arg, " "),
        Completion::File => {
            // What was typed so far, unquoted; a quote still open is closed for it.
            let typed = ["", "\"", "'"]
                .iter()
                .find_map(|close| crate::ui::commands::words(&format!("{arg}{close}")).ok())
                .and_then(|w| w.into_iter().next())
                .unwrap_or_default();
            matching(&known.files, &typed, " ")
                .into_iter()
                .map(|w| escape(&w[..w.len() - 1]) + " ")
                .collect()
        }
    };
    let start = if spec.completion == Completion::Command && arg.starts_with('/') {
        arg_start + 1
    } else {
        arg_start
    };
    (start, words)
}

/// Whether the cursor is in the first argument of a command that takes a local path
/// (`/put`): then the editor completes from the file system.
pub fn local_path_wanted(table: &[CommandSpec], line: &str, pos: usize) -> bool {
    let Some(before) = line.get(..pos) else {
        return false;
    };
    if !before.starts_with('/') || before.starts_with("//") {
        return false;
    }
    match command_arg(table, before) {
        Some((spec, start)) => {
            spec.completion == Completion::LocalPath && arg_index(&before[start..]) == 0
        }
        None => false,
    }
}

/// The command of a `/name args...` line and where its arguments start, once the
/// name is followed by a blank.
fn command_arg<'t>(table: &'t [CommandSpec], before: &str) -> Option<(&'t CommandSpec, usize)> {
    let blank = before.find([' ', '\t'])?;
    let name = &before[1..blank];
    let spec = table.iter().find(|c| c.matches(name))?;
    let arg_start = blank + before[blank..].len() - before[blank..].trim_start().len();
    Some((spec, arg_start))
}

/// Which argument (from 0) the end of `args` is in, counting blanks that are not
/// escaped or quoted as separators.
fn arg_index(args: &str) -> usize {
    let (mut index, mut in_word) = (0, true);
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in args.chars() {
        if escaped {
            escaped = false;
            in_word = true;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            ' ' | '\t' if !single && !double => {
                if in_word {
                    index += 1;
                    in_word = false;
                }
                continue;
            }
            _ => {}
        }
        in_word = true;
    }
    index
}

/// A backslash before each character the parser would otherwise split or unquote.
fn escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, ' ' | '\t' | '"' | '\'' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn word_start(before: &str) -> usize {
    before.rfind([' ', '\t']).map_or(0, |i| i + 1)
}

/// Names starting with `prefix`, ignoring ASCII case as the server does for users.
fn matching(names: &[String], prefix: &str, sep: &str) -> Vec<String> {
    let lower = prefix.to_ascii_lowercase();
    let mut out: Vec<String> = names
        .iter()
        .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
        .map(|n| format!("{n}{sep}"))
        .collect();
    out.sort_by_key(|n| n.to_ascii_lowercase());
    out.dedup();
    out
}

/// Command names starting with `prefix`; an alias is offered only when it matches and
/// its command's name does not, so the list stays short.
fn command_names(table: &[CommandSpec], prefix: &str, slash: &str) -> Vec<String> {
    let lower = prefix.to_ascii_lowercase();
    let mut out = Vec::new();
    for c in table {
        if c.name.starts_with(&lower) {
            out.push(format!("{slash}{} ", c.name));
        } else if let Some(a) = c.aliases.iter().find(|a| a.starts_with(&lower)) {
            out.push(format!("{slash}{a} "));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::commands::{ArgError, Command, COMMANDS};

    fn known() -> Known {
        Known {
            users: vec!["alice".into(), "bob".into(), "Bobby".into(), "carol".into()],
            files: vec!["notes.txt".into(), "now.png".into(), "x.bin".into()],
        }
    }

    fn at_end(line: &str) -> (usize, Vec<String>) {
        complete(COMMANDS, line, line.len(), &known())
    }

    #[test]
    fn command_names_after_a_slash() {
        assert_eq!(at_end("/ms"), (0, vec!["/msg ".to_string()]));
        assert_eq!(
            at_end("/m"),
            (0, vec!["/msg ".to_string(), "/mv ".to_string()])
        );
        assert_eq!(
            at_end("/"),
            (0, {
                let mut all: Vec<String> =
                    COMMANDS.iter().map(|c| format!("/{} ", c.name)).collect();
                all.sort();
                all
            })
        );
        assert_eq!(
            at_end("/Q"),
            (0, vec!["/query ".to_string(), "/quit ".to_string()])
        );
        assert_eq!(at_end("/ex"), (0, vec!["/exit ".to_string()]));
        assert_eq!(at_end("/zzz"), (0, vec![]));
        assert_eq!(at_end("//").1, Vec::<String>::new());
    }

    #[test]
    fn user_names_after_to_and_msg() {
        assert_eq!(
            at_end("/to b"),
            (4, vec!["bob ".to_string(), "Bobby ".to_string()])
        );
        assert_eq!(at_end("/msg  ca"), (6, vec!["carol ".to_string()]));
        assert_eq!(at_end("/tell A"), (6, vec!["alice ".to_string()]));
        assert_eq!(at_end("/msg bob hel").1, Vec::<String>::new());
        assert_eq!(at_end("/who b").1, Vec::<String>::new());
    }

    #[test]
    fn command_names_after_help() {
        assert_eq!(at_end("/help pi"), (6, vec!["ping ".to_string()]));
        assert_eq!(at_end("/help /pi"), (7, vec!["ping ".to_string()]));
        assert_eq!(
            at_end("/help p"),
            (6, vec!["ping ".to_string(), "put ".to_string()])
        );
    }

    #[test]
    fn user_names_in_plain_text() {
        assert_eq!(at_end("ca"), (0, vec!["carol: ".to_string()]));
        assert_eq!(at_end("hi ali"), (3, vec!["alice ".to_string()]));
        assert_eq!(at_end("hi ").1, Vec::<String>::new());
        assert_eq!(at_end("").1, Vec::<String>::new());
    }

    #[test]
    fn the_cursor_position_counts_not_the_line_end() {
        let k = known();
        assert_eq!(
            complete(COMMANDS, "/to b and more", 5, &k),
            (4, vec!["bob ".to_string(), "Bobby ".to_string()])
        );
        // A position inside a character is no position at all.
        assert_eq!(complete(COMMANDS, "é", 1, &k), (1, vec![]));
    }

    #[test]
    fn shared_file_names_are_escaped_and_local_paths_handed_over() {
        let k = Known {
            users: vec![],
            files: vec!["holiday photo.jpg".into(), "holiday.txt".into()],
        };
        let at = |line: &str| complete(COMMANDS, line, line.len(), &k);
        assert_eq!(
            at("/get hol"),
            (
                5,
                vec![
                    r"holiday\ photo.jpg ".to_string(),
                    "holiday.txt ".to_string()
                ]
            )
        );
        assert_eq!(
            at(r"/rm holiday\ p"),
            (4, vec![r"holiday\ photo.jpg ".to_string()])
        );
        assert_eq!(
            at(r#"/mv "holiday p"#),
            (4, vec![r"holiday\ photo.jpg ".to_string()])
        );
        assert_eq!(at(r"/mv holiday\ photo.jpg ho").1, Vec::<String>::new());
        let wanted = |line: &str| local_path_wanted(COMMANDS, line, line.len());
        assert!(wanted("/put ~/Mu"));
        assert!(wanted(r"/put my\ so"));
        assert!(wanted("/PUT "));
        assert!(!wanted("/put a.txt b"));
        assert!(!wanted("/get a"));
        assert!(!wanted("/put"));
        assert_eq!(at("/put x").1, Vec::<String>::new());
    }

    #[test]
    fn file_names_for_commands_that_take_files() {
        static TABLE: &[CommandSpec] = &[CommandSpec {
            name: "get",
            aliases: &[],
            args: "<file>",
            help: "download a shared file",
            completion: Completion::File,
            parse: |_| Err::<Command, _>(ArgError::Usage),
        }];
        let k = known();
        assert_eq!(
            complete(TABLE, "/get no", 7, &k),
            (5, vec!["notes.txt ".to_string(), "now.png ".to_string()])
        );
        assert_eq!(complete(TABLE, "/g", 2, &k), (0, vec!["/get ".to_string()]));
    }
}
