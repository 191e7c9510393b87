//! natter-server: natterd, the natter chat and shared-folder server.
//!
//! One thread, one `mio::Poll`, every connection in a `slab::Slab` keyed by its token.
//! Three parts, and the arrows go one way (ARCHITECTURE.md draws them):
//! - [`net`], the Loop: poll, sockets, TLS, reading, flushing, closing. The only part
//!   that names mio, sockets or descriptors.
//! - [`chat`], the Room: the chat state and what every request means, written against
//!   the [`chat::Outbox`] seam, so it is tested without a socket.
//! - the leaves both use: `folder` (the shared folder, downloads and uploads),
//!   `services` (calculator, guessing game), `limits` (flood control, per-address
//!   counts, secret comparison), `config` (settings and the reason for each limit).

pub mod chat;
pub mod cluster;
mod config;
mod folder;
mod limits;
pub mod net;
mod services;

pub use config::{
    default_shared_dir, descriptor_budget, hostname, parse_size, Config, DEFAULT_HISTORY,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PER_IP,
    DEFAULT_MAX_QUEUE, DEFAULT_REGISTER_TIMEOUT, DEFAULT_SESSION_HISTORY,
};
pub use folder::OnDuplicate;
pub use limits::{DEFAULT_MAX_BURST, DEFAULT_MAX_RATE};
pub use net::{load_tls_config, tls_fingerprint, Server, DEFAULT_COALESCE_MAX};
pub use services::calc;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Serves `listener` until SIGINT or SIGTERM. If the loop fails (an I/O error on the
/// poll itself, or a panic), every client is still sent `SHUTDOWN` before this returns
/// the error, so no client is left hanging without a word.
pub fn run(listener: std::net::TcpListener, config: Config) -> std::io::Result<()> {
    let mut server = Server::new(listener, config)?;
    serve(&mut server, Server::run)
}

/// Runs `body` on the server (the loop, or in a test a few turns of it) so that if it
/// fails, by an error or a panic, every client is still told `SHUTDOWN` and every
/// socket closed before the error is returned.
pub fn serve(
    server: &mut Server,
    body: impl FnOnce(&mut Server) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match catch_unwind(AssertUnwindSafe(|| body(server))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            log::error!("event loop failed: {e}");
            server.emergency_shutdown("internal error");
            Err(e)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            log::error!("event loop panicked: {what}");
            server.emergency_shutdown("internal error");
            Err(std::io::Error::other(format!(
                "event loop panicked: {what}"
            )))
        }
    }
}
