//! Commands: a typed line and the current mode in, a [`Command`] out. Pure: no I/O,
//! no terminal, no socket.
//!
//! Every slash command is one [`CommandSpec`] in [`COMMANDS`]: its name, aliases,
//! argument usage, one line of help, what Tab completes after it, and the function that
//! turns its arguments into a [`Command`]. `/help`, completion and the usage errors all
//! read the table, so adding a command is adding one entry (plus, for a new kind of
//! reply, one arm in `display::reply`).
//!
//! - `spec`: the types: [`Mode`], [`Command`], [`CommandSpec`] and what it holds.
//! - `table`: [`COMMANDS`], each entry's argument parser, and the `/help` text.
//! - `parse`: the line parser, [`parse_line`].
//! - `long`: a message too long for one line, as several.
//! - `words`: how arguments split into words, as a shell would.
//! - `testing` (tests only): the helpers the tests here share.
//!
//! Arrows: `parse` -> `table` -> `spec`; `parse`, `table` -> `words` -> `spec`;
//! `parse` -> `long`.
//! Callers use the names below; the files are this folder's own business.

mod long;
mod parse;
mod spec;
mod table;
#[cfg(test)]
mod testing;
mod words;

pub use long::split_note;
pub use parse::{parse_line, parse_line_with, ParseError};
pub use spec::{private_refusal, ArgError, Command, CommandSpec, Completion, Mode};
pub use table::{find, help_lines, put_target, COMMANDS};
pub use words::words;
