//! `Config`: every setting natterd runs with, and the parsing of sizes like `1M`.
//! Defaults and the reason for each limit live here, in one place.

use crate::folder::OnDuplicate;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default per-connection output cap: about 250 full-length chat lines, plenty for a
/// reader that is merely slow, small enough that 1,000 stuck readers cannot take
/// more than 1 GiB.
pub const DEFAULT_MAX_QUEUE: usize = 1024 * 1024;
/// Default client limit; natterd lowers it if the descriptor limit is smaller.
pub const DEFAULT_MAX_CLIENTS: usize = 1000;
/// Transfers one connection may run at once, either way.
pub const MAX_TRANSFERS_PER_CONNECTION: usize = 4;
/// Descriptors natterd keeps for itself: stdio, the listener, the poll, the signal
/// pipe, the folder's watch, the log file, a folder opened to fsync it, and headroom
/// so that accepting (and refusing politely, `ERR server-full`) always finds one.
pub const FIXED_FDS: u64 = 16;
/// Descriptors the client limit leaves for natterd's own and for open files: at the
/// least 48 transfers can run when every client slot is taken.
pub const RESERVED_FDS: u64 = 64;

/// The client limit and the open-file budget under a descriptor limit (`None`: not
/// known). Clients come first, lowered to leave `RESERVED_FDS`; files get the rest.
pub fn descriptor_budget(limit: Option<u64>, max_clients: usize) -> (usize, usize) {
    let most_files = |clients: usize| MAX_TRANSFERS_PER_CONNECTION * clients;
    let Some(limit) = limit else {
        return (max_clients, most_files(max_clients));
    };
    let clients = (max_clients as u64).min(limit.saturating_sub(RESERVED_FDS).max(1));
    let files = limit.saturating_sub(clients + FIXED_FDS) as usize;
    let clients = clients as usize;
    (clients, files.min(most_files(clients)))
}
/// How long a closing connection gets to take its last bytes (`OK QUIT`, an `ERR`,
/// `SHUTDOWN`) before it is cut.
pub const CLOSE_DEADLINE_MS: u64 = 2000;

#[derive(Debug, Clone)]
pub struct Config {
    pub bind: IpAddr,
    pub port: u16,
    pub max_clients: usize,
    /// Files (downloads and uploads) open at once, across all connections: what the
    /// descriptor limit leaves once every client and natterd's own descriptors are
    /// counted. A transfer past it gets `ERR busy`; no request can use up the
    /// descriptors new clients need.
    pub max_open_files: usize,
    pub max_queue: usize,
    /// The welcome text's first part; natterd adds how many users are online.
    pub motd: String,
    /// Ended sessions kept for `STATUS`.
    pub session_history: usize,
    /// Room messages kept for newcomers (`HELLO ... history=N`, `HISTORY`); 0: none.
    pub history: usize,
    /// Where the history survives restarts; `None`: in memory only.
    pub history_file: Option<PathBuf>,
    pub shared_dir: PathBuf,
    /// Largest upload accepted.
    pub max_file_size: u64,
    /// The most bytes the shared folder's files may take, uploads in progress
    /// counted; `None` for no limit.
    pub max_folder_size: Option<u64>,
    /// The most files the shared folder may hold, uploads in progress counted;
    /// `None` for no limit.
    pub max_files: Option<u64>,
    pub on_duplicate: OnDuplicate,
    /// Refuse PUT, DELETE and RENAME.
    pub read_only: bool,
    /// When set, `AUTH` with this secret must come before `HELLO`.
    pub secret: Option<natter_protocol::Secret>,
    /// Connections from one non-loopback address; 0 for no limit.
    pub max_per_ip: usize,
    /// Count loopback against `max_per_ip` too (to try the limit on one machine).
    pub limit_loopback: bool,
    /// A connection that has not taken a name by then is closed.
    pub register_timeout: Duration,
    /// A named connection that sends nothing and runs no transfer for this long is closed.
    pub idle_timeout: Duration,
    /// Requests per second per connection; 0 turns flood control off.
    pub max_rate: f64,
    pub max_burst: f64,
    /// The longest queued output may gather before it is written, when the server
    /// is busy (0: every message is written at once, however busy).
    pub coalesce_max: Duration,
    /// Serve TLS instead of plaintext.
    pub tls: Option<std::sync::Arc<rustls::ServerConfig>>,
    /// Join a cluster through this Redis; `None` for a lone server.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

/// Default per-address limit: a household or an office behind one NAT fits, one host
/// cannot take every slot.
pub const DEFAULT_MAX_PER_IP: usize = 16;
/// How long a new connection has to say HELLO.
pub const DEFAULT_REGISTER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a named connection may stay silent; the client pings well within it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Ended sessions `STATUS` remembers: enough to see who was here today, bounded so
/// memory never grows with the number of past connections.
pub const DEFAULT_SESSION_HISTORY: usize = 100;

/// Room messages kept by default: a day of a small group's chat, about 50 KiB.
pub const DEFAULT_HISTORY: usize = 200;

/// Default upload cap: big enough for a film, small enough for an SD card.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 30;

/// The shared folder when no flag names one: `SERVER_SHARED_FILES`, then
/// `SERVERSHAREDFILES`, then `./SharedFiles`.
pub fn default_shared_dir() -> PathBuf {
    ["SERVER_SHARED_FILES", "SERVERSHAREDFILES"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|s| !s.is_empty()))
        .map_or_else(|| PathBuf::from("SharedFiles"), PathBuf::from)
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: natter_protocol::DEFAULT_PORT,
            max_clients: DEFAULT_MAX_CLIENTS,
            max_open_files: MAX_TRANSFERS_PER_CONNECTION * DEFAULT_MAX_CLIENTS,
            max_queue: DEFAULT_MAX_QUEUE,
            motd: format!("Welcome to natter on {}", hostname()),
            session_history: DEFAULT_SESSION_HISTORY,
            history: DEFAULT_HISTORY,
            history_file: None,
            shared_dir: default_shared_dir(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            max_folder_size: None,
            max_files: None,
            on_duplicate: OnDuplicate::Rename,
            read_only: false,
            secret: None,
            max_per_ip: DEFAULT_MAX_PER_IP,
            limit_loopback: false,
            register_timeout: DEFAULT_REGISTER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_rate: crate::limits::DEFAULT_MAX_RATE,
            max_burst: crate::limits::DEFAULT_MAX_BURST,
            coalesce_max: crate::net::DEFAULT_COALESCE_MAX,
            tls: None,
            cluster: None,
        }
    }
}

/// Parses `512`, `64K`, `1M`, `2G` (powers of 1024; lower case accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (digits, mult) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 4096, 64K, 1M, 2G)"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The host's name for the default welcome text; "this host" if it cannot be read.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its whole length, and gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "this host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(s) if !s.is_empty() => s.to_string(),
        _ => "this host".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_always_leave_room_to_accept() {
        // ulimit -n 1024 with the default 1000 clients: 960 clients, 48 files.
        assert_eq!(descriptor_budget(Some(1024), 1000), (960, 48));
        // Plenty of descriptors: files are bounded by what clients can ask for.
        assert_eq!(descriptor_budget(Some(1 << 20), 1000), (1000, 4000));
        assert_eq!(descriptor_budget(None, 10), (10, 40));
        // A tiny limit still leaves natterd its own.
        let (clients, files) = descriptor_budget(Some(70), 1000);
        assert!(clients as u64 + files as u64 + FIXED_FDS <= 70);
        assert!(clients >= 1);
        for limit in [64u64, 100, 128, 1024, 4096] {
            let (c, f) = descriptor_budget(Some(limit), 5000);
            assert!(
                c as u64 + f as u64 + FIXED_FDS <= limit,
                "{limit}: {c} + {f}"
            );
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        for bad in ["", "K", "1.5M", "-1", "1T", "99999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
