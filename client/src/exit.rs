//! The exit statuses of `natter`, in one place, so the README's table and the code
//! cannot drift apart.

/// Why `natter` stopped. The discriminant is the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything went well (interactive: the user quit).
    Ok = 0,
    /// Batch: at least one command got `ERR`, or was not a valid command.
    CommandFailed = 1,
    /// The command line was wrong (clap's own status for usage errors).
    Usage = 2,
    /// The connection could not be made: refused, unreachable, timed out, or the peer
    /// is not a natter server.
    ConnectFailed = 3,
    /// The host name does not resolve.
    UnknownHost = 4,
    /// The server answered `ERR server-full`.
    ServerFull = 5,
    /// The server did not let us join: the secret was missing or wrong, or (batch
    /// mode) the name was taken or invalid; interactively natter asks again, and this
    /// is giving up or a refusal asking again cannot fix.
    NameRefused = 6,
    /// The connection was lost or the server shut down during the session.
    ConnectionLost = 7,
    /// TLS did not work out: `--tls` against a server without TLS, a server with TLS
    /// reached without `--tls`, or a handshake that failed or did not finish.
    TlsMismatch = 8,
    /// The server's certificate did not verify (`--tls`).
    Untrusted = 9,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(e as u8)
    }
}
