//! The user interface: what a person types and what they see. The top layer: it
//! drives the session and the connection, and nothing below calls into it except
//! through what it hands down: the reader thread's `Sink` and the progress `Report`.
//!
//! Pure, unit-tested without a network or a terminal:
//! - [`commands`]: an input line and the current mode in, a [`commands::Command`] out;
//!   the command table every command lives in.
//! - [`complete`]: what Tab offers at a cursor position.
//!
//! Doing I/O:
//! - [`repl`]: interactive mode: the rustyline editor on the main thread.
//! - [`terminal`]: who may write to the terminal when, and leaving it sane.
//! - [`batch`]: commands from a script on stdin, one line per event on stdout.
//! - [`secret`]: the server's secret from a file, the environment, or a prompt that
//!   shows nothing.
//! - [`trust`]: trust on first use: the question about a certificate nobody vouches
//!   for, and the loud refusal of one that changed.

pub mod batch;
pub mod commands;
pub mod complete;
pub mod repl;
pub mod secret;
pub mod terminal;
pub mod trust;

use crate::session::transfers::{expand_home, UploadPlan};
use natter_protocol::{FileName, Request};
use std::path::PathBuf;

/// The `HELLO` every natter/1 server takes: `hello`'s name, none of the options. For
/// a server older than an option natter asks for, which refuses it as `bad-request`;
/// natter shows plain `FROM`s as well as stamped ones, and downloads take 64 KiB
/// frames as well as big ones.
fn plain_hello(hello: &Request) -> Request {
    let Request::Hello { name, .. } = hello else {
        return hello.clone();
    };
    Request::Hello {
        name: name.clone(),
        history: None,
        stamps: false,
        data: None,
    }
}

/// A `/put`'s upload, checked, for both modes: the path as split into words, or the
/// whole unquoted rest of the line when only that names a file
/// ([`commands::put_target`]). `Err` is the message, with how to quote a path when
/// neither was there.
fn upload_plan(
    local: PathBuf,
    name: Option<FileName>,
    unsplit: Option<PathBuf>,
    bad_name: Option<String>,
) -> Result<UploadPlan, String> {
    let home = std::env::var_os("HOME");
    let exists = |p: &std::path::Path| expand_home(p, home.clone()).exists();
    let (local, name, hint) = commands::put_target(local, name, unsplit, bad_name, exists)?;
    UploadPlan::prepare(&local, name).map_err(|why| match hint {
        Some(hint) => format!("{why} ({hint})"),
        None => why,
    })
}
