//! The cluster's pure parts: where Redis is and how to reach it, what nodes say to
//! each other over it, and RESP. No sockets here: the Redis connections live in the
//! loop (`net::bus`), what the messages mean for the chat lives in the room
//! (`chat::cluster`).
//!
//! How nodes act as one chat, in short (ARCHITECTURE.md has the whole of it):
//! - every node subscribes to [`ALL`] and to its own [`node_channel`]; what one node
//!   publishes, in order, every other node hears in that order (Redis pub/sub), and a
//!   node drops what it hears from itself;
//! - a name is claimed cluster-wide with `SET natter:name:<name> <node> NX PX`,
//!   refreshed by its node every [`REFRESH_EVERY`] and released when its user leaves;
//! - each node keeps a copy of every other node's users, from their `U`, `E LEAVE` and
//!   roster messages, and forgets a node it has not heard for [`NODE_TIMEOUT`].

pub mod bus;
pub mod resp;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The channel every node hears.
pub const ALL: &str = "natter:all";

/// The channel only `node` hears (private messages, rosters asked of it).
pub fn node_channel(node: &NodeName) -> String {
    format!("natter:node:{node}")
}

/// The key that holds a name's claim; `folded` is the name in lower case.
pub fn name_key(folded: &str) -> String {
    format!("natter:name:{folded}")
}

/// How often a node says it is alive, on [`ALL`].
pub const BEAT_EVERY: Duration = Duration::from_secs(2);
/// A node not heard for this long is gone: its users get `LEAVE lost` everywhere.
/// Four beats missed: a busy node is late by milliseconds, not seconds.
pub const NODE_TIMEOUT: Duration = Duration::from_secs(9);
/// How long a claim on a name lives unless refreshed: a node killed with SIGKILL
/// frees its names this long after its last refresh at the latest.
pub const CLAIM_TTL: Duration = Duration::from_secs(9);
/// How often a node refreshes its users' claims (and re-claims any Redis lost).
pub const REFRESH_EVERY: Duration = Duration::from_secs(3);
/// A command unanswered this long, or a subscriber connection silent this long
/// (it hears the node's own beats), means the link is dead though TCP has not said so.
pub const LINK_TIMEOUT: Duration = Duration::from_secs(6);
/// Reconnecting starts at the first delay and doubles up to the second.
pub const BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(2));

/// A node's name: 1 to 64 of `A-Z a-z 0-9 _ - . : [ ]` (a host name, an IP address
/// and port), so it is one field on the bus and one in `STATUS`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(String);

impl NodeName {
    pub const MAX: usize = 64;

    pub fn new(s: &str) -> Result<NodeName, String> {
        if s.is_empty() || s.len() > Self::MAX {
            return Err(format!(
                "a node name is 1 to {} characters, not {}",
                Self::MAX,
                s.len()
            ));
        }
        match s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_-.:[]".contains(*c)))
        {
            Some(c) => Err(format!(
                "a node name holds only letters, digits and _ - . : [ ], not {c:?}"
            )),
            None => Ok(NodeName(s.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How to reach Redis: `redis://[USER:PASSWORD@]HOST:PORT[/DB]`, `rediss://` for TLS.
#[derive(Clone)]
pub struct RedisUrl {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub db: u32,
}

impl fmt::Debug for RedisUrl {
    // Never the password, wherever a URL is printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for RedisUrl {
    /// The URL as the log shows it: the password is never written.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://")?;
        match (&self.user, &self.password) {
            (Some(u), _) => write!(f, "{u}@")?,
            (None, Some(_)) => write!(f, "(password)@")?,
            (None, None) => {}
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)?;
        } else {
            write!(f, "{}:{}", self.host, self.port)?;
        }
        if self.db != 0 {
            write!(f, "/{}", self.db)?;
        }
        Ok(())
    }
}

impl RedisUrl {
    pub fn parse(s: &str) -> Result<RedisUrl, String> {
        let bad = |why: &str| {
            format!("{why}; expected redis://[USER:PASSWORD@]HOST:PORT[/DB] or rediss://...")
        };
        let (tls, rest) = if let Some(r) = s.strip_prefix("redis://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("rediss://") {
            (true, r)
        } else {
            return Err(bad("not a redis:// or rediss:// URL"));
        };
        let (auth, rest) = match rest.rsplit_once('@') {
            Some((a, r)) => (Some(a), r),
            None => (None, rest),
        };
        let (hostport, db) = match rest.split_once('/') {
            Some((h, "")) => (h, 0),
            Some((h, d)) => (
                h,
                d.parse()
                    .map_err(|_| bad(&format!("database {d:?} is not a number")))?,
            ),
            None => (rest, 0),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, p) = v6
                .split_once("]:")
                .ok_or_else(|| bad("an IPv6 host needs [ADDR]:PORT"))?;
            (h, p)
        } else {
            hostport
                .rsplit_once(':')
                .ok_or_else(|| bad("no port (Redis listens on 6379 unless told otherwise)"))?
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = port
            .parse()
            .map_err(|_| bad(&format!("port {port:?} is not a number")))?;
        let (user, password) = match auth {
            None => (None, None),
            Some(a) => {
                let (u, p) = match a.split_once(':') {
                    Some((u, p)) => (u, Some(unescape(p)?)),
                    None => (a, None),
                };
                let u = (!u.is_empty()).then(|| unescape(u)).transpose()?;
                (u, p.filter(|p| !p.is_empty()))
            }
        };
        Ok(RedisUrl {
            tls,
            host: host.to_string(),
            port,
            user,
            password,
            db,
        })
    }
}

/// Percent-decoding, so a password may hold `@`, `:` or `/`.
fn unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % in the URL's user or password is not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's user or password is not UTF-8".to_string())
}

/// The shared folder's identity: this machine and the folder's device and inode.
/// Nodes that print the same one serve the same files (nodes on one host started
/// with one `--shared-dir`); across hosts each node has its own folder.
pub fn folder_id(root: &std::path::Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let machine = std::fs::read_to_string("/etc/machine-id")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(crate::config::hostname);
    let machine: String = machine
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    match std::fs::metadata(root) {
        Ok(m) => format!("{machine}.{}.{}", m.dev(), m.ino()),
        Err(_) => format!("{machine}.{}", std::process::id()),
    }
}

/// Everything a node needs to join a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub url: RedisUrl,
    pub node: NodeName,
    /// For `rediss://`: a CA file to trust instead of the system's roots.
    pub ca_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_every_documented_form_and_never_show_the_password() {
        let u = RedisUrl::parse("redis://127.0.0.1:6379").unwrap();
        assert!(!u.tls && u.host == "127.0.0.1" && u.port == 6379 && u.db == 0);
        assert!(u.user.is_none() && u.password.is_none());

        let u = RedisUrl::parse("rediss://natter:p%40ss:w@redis.lan:6380/2").unwrap();
        assert!(u.tls && u.host == "redis.lan" && u.port == 6380 && u.db == 2);
        assert_eq!(u.user.as_deref(), Some("natter"));
        assert_eq!(u.password.as_deref(), Some("p@ss:w"));
        assert_eq!(u.to_string(), "rediss://natter@redis.lan:6380/2");
        assert!(!format!("{u:?}").contains("p@ss"));

        let u = RedisUrl::parse("redis://:secret@[::1]:7000/").unwrap();
        assert!(u.user.is_none() && u.password.as_deref() == Some("secret"));
        assert_eq!((u.host.as_str(), u.port), ("::1", 7000));
        assert_eq!(u.to_string(), "redis://(password)@[::1]:7000");

        for bad in [
            "http://x:1",
            "redis://host",
            "redis://:1",
            "redis://h:port",
            "redis://h:1/db",
            "redis://[::1:5",
            "redis://u:%zz@h:1",
        ] {
            assert!(RedisUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_names_are_one_field() {
        for ok in ["pi", "pi.lan:7878", "[::1]:7878", "node-2_a"] {
            assert!(NodeName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "x/y", &"n".repeat(65), "é"] {
            assert!(NodeName::new(bad).is_err(), "{bad}");
        }
    }
}
