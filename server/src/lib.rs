//! natter-server: natterd, the natter chat and shared-folder server.
//!
//! One thread, one `mio::Poll`, every connection in a `slab::Slab` keyed by its token.
//! - `config`: settings, defaults and the reason for each limit.
//! - `event_loop`: accept, read, flush, close; the mio traps are handled there.
//! - `handler`: what each request means.
//! - `conn`, `out_queue`: one connection's state and its queued output.
//! - `tls`: rustls fed by the loop, for `--tls-cert`/`--tls-key`.
//! - `limits`: flood control, per-address counts, secret comparison.
//! - `files`: the shared folder, downloads and uploads; `transfers`: their requests.
//! - `services`: the calculator and the guessing game; `sessions`: ended sessions for STATUS.

mod config;
mod conn;
mod event_loop;
mod files;
mod handler;
mod limits;
mod out_queue;
mod services;
mod sessions;
mod tls;
mod transfers;

pub use config::{
    default_shared_dir, hostname, parse_size, Config, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS,
    DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PER_IP, DEFAULT_MAX_QUEUE, DEFAULT_REGISTER_TIMEOUT,
};
pub use event_loop::Server;
pub use files::OnDuplicate;
pub use limits::{DEFAULT_MAX_BURST, DEFAULT_MAX_RATE};
pub use services::calc;
pub use sessions::DEFAULT_SESSION_HISTORY;
pub use tls::load_config as load_tls_config;

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Serves `listener` until SIGINT or SIGTERM. If the loop fails (an I/O error on the
/// poll itself, or a panic), every client is still sent `SHUTDOWN` before this returns
/// the error, so no client is left hanging without a word.
pub fn run(listener: std::net::TcpListener, config: Config) -> std::io::Result<()> {
    let mut server = Server::new(listener, config)?;
    match catch_unwind(AssertUnwindSafe(|| server.run())) {
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
