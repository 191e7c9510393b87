//! natter-client: the pieces of the `natter` terminal client, in three layers and two
//! leaves. Each layer uses only the ones below it:
//!
//! - [`ui`]: what a person types and sees: the line parser and the command table,
//!   completion, the interactive editor and its terminal bookkeeping, batch mode, the
//!   hidden secret prompt.
//! - [`session`]: a greeted connection in use: the requests waiting for replies, the
//!   writer thread (the only writer to the socket), the reader thread (socket ->
//!   frames -> lines -> a [`session::reader::Sink`]), file transfers.
//! - [`net`]: getting a connection and the bytes on it: resolving and connecting with
//!   a timeout, TLS, the two halves of the open connection, whole frames out of bytes.
//! - [`display`]: server frames in, lines for people out (words, colours, escaping);
//!   pure, and used by every layer.
//! - [`exit`]: the exit statuses, in one place.
//!
//! Never: `net` -> `session` or `ui`; `session` -> `ui` (the reader reaches the screen
//! only through the `Sink` and the progress `Report` that `ui` hands it). `main.rs` is the command line and
//! wires the layers together.

pub mod display;
pub mod exit;
pub mod net;
pub mod session;
pub mod ui;
