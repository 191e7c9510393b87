//! natter-client: the pieces of the `natter` terminal client.
//!
//! Pure parts, unit-tested without a network or a terminal:
//! - [`commands`]: an input line and the current mode in, a [`commands::Command`] out;
//!   the command table every command lives in.
//! - [`complete`]: what Tab offers at a cursor position.
//! - [`display`]: server frames in, lines for people out (words, colours, escaping).
//! - [`wire`]: whole frames out of whatever bytes the socket gave.
//!
//! The parts that do I/O, each one job:
//! - [`connect`]: resolve and connect with a timeout, and name every failure.
//! - [`transport`]: the open connection's read half, write half and closer.
//! - [`tls`]: `--tls`: whom to trust, the handshake, one rustls connection shared by
//!   the reader and the writer.
//! - [`session`]: the connection once greeted: what it knows, how replies come back.
//! - [`outbox`]: requests waiting for their replies, and the channel to the writer.
//! - [`writer`]: the writer thread, the only writer to the socket: requests first,
//!   then upload chunks.
//! - [`reader`]: the reader thread, socket -> frames -> lines -> a [`reader::Sink`];
//!   download bodies -> files.
//! - [`transfers`]: downloads into `.part` files, uploads in chunks, progress.
//! - [`terminal`]: who may write to the terminal when, and leaving it sane.
//! - [`repl`]: the interactive line editor; [`batch`]: commands from a script.
//! - [`secret`]: the server's secret from a file, the environment, or a hidden prompt.
//! - [`exit`]: the exit statuses, in one place.

pub mod batch;
pub mod commands;
pub mod complete;
pub mod connect;
pub mod display;
pub mod exit;
pub mod outbox;
pub mod reader;
pub mod repl;
pub mod secret;
pub mod session;
pub mod terminal;
pub mod tls;
pub mod transfers;
pub mod transport;
pub mod wire;
pub mod writer;
