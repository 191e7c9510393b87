//! The connection: getting one, and the bytes on it. Nothing here knows what a
//! request is waiting for, nor that there is a terminal.
//!
//! - [`connect`]: resolve, connect to each address with a timeout, read the server's
//!   `WELCOME`, and turn every failure into a [`connect::ConnectError`] that names the
//!   host, the cause and a hint, with its exit status.
//! - [`transport`]: the open connection's read half, write half, and a closer that
//!   ends it from any thread; plaintext or TLS.
//! - [`trust`]: `--tls`: whom to believe the server is (authorities, a certificate
//!   given byte for byte, pinned fingerprints), and the words for a refusal.
//! - [`known_hosts`]: the certificates trusted on first use, per `host:port`.
//! - [`tls`]: the handshake with its deadline and a name for each way it fails, and
//!   one rustls connection shared by the reader and the writer.
//! - [`wire`]: whole frames out of whatever bytes a read gave.
//!
//! Arrows: `connect` -> `transport` -> `tls` -> `trust`; `connect` -> `tls`, `wire`. Errors
//! become words through `display`.

pub mod connect;
pub mod known_hosts;
pub mod tls;
pub mod transport;
pub mod trust;
pub mod wire;
