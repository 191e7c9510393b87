//! The certificates trusted on first use, one per `host:port`, as ssh keeps host
//! keys: `$XDG_DATA_HOME/natter/known_hosts`, else `~/.local/share/natter/known_hosts`.
//!
//! One line per server: `host:port sha256:3F:A0:...`; `#` starts a comment. natter
//! only ever adds a line for a server it has none for; a line is removed by hand,
//! when a server's certificate was replaced on purpose. Nothing here asks anyone:
//! the question is the terminal's (`ui::trust`).

use crate::display::io_words;
use crate::net::trust::Fingerprint;
use std::io::Write;
use std::path::PathBuf;

const HEADER: &str = "# natter: certificates trusted on first use, one per host:port. Remove a\n\
                      # server's line only if you know its certificate was replaced.\n";

pub struct KnownHosts {
    pub path: PathBuf,
}

/// `$XDG_DATA_HOME/natter/known_hosts`, else `~/.local/share/natter/known_hosts`;
/// `None` without either variable. A relative `XDG_DATA_HOME` is ignored, as the XDG
/// specification asks.
pub fn default_path(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    let data = xdg_data_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".local").join("share"))
        })?;
    Some(data.join("natter").join("known_hosts"))
}

impl KnownHosts {
    pub fn new(path: PathBuf) -> KnownHosts {
        KnownHosts { path }
    }

    /// The fingerprint trusted for `server` (`host:port`), if any. A missing file is
    /// an empty one; one that cannot be read, or a line for `server` that cannot be,
    /// is an error, since guessing would either trust too much or ask again about a
    /// server the user already trusted.
    pub fn lookup(&self, server: &str) -> Result<Option<Fingerprint>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cannot read {}: {}",
                    self.path.display(),
                    io_words(&e)
                ))
            }
        };
        lookup_in(&text, server).map_err(|(line, e)| {
            format!(
                "line {line} of {} cannot be read: {e}; fix or remove it",
                self.path.display()
            )
        })
    }

    /// Remembers `fingerprint` for `server`, creating the file and its folder.
    pub fn add(&self, server: &str, fingerprint: &Fingerprint) -> Result<(), String> {
        let cannot = |e: std::io::Error| {
            format!(
                "cannot keep the certificate in {}: {}",
                self.path.display(),
                io_words(&e)
            )
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(cannot)?;
        }
        let fresh = !self.path.exists();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(cannot)?;
        let mut text = String::new();
        if fresh {
            text.push_str(HEADER);
        }
        text.push_str(&format!("{server} {fingerprint}\n"));
        f.write_all(text.as_bytes()).map_err(cannot)?;
        f.sync_all().map_err(cannot)
    }
}

/// The fingerprint for `server` in a file's text; `Err` names the line that is
/// about `server` and cannot be read.
fn lookup_in(text: &str, server: &str) -> Result<Option<Fingerprint>, (usize, String)> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        if fields.next() != Some(server) {
            continue;
        }
        let fp = fields.next().ok_or((i + 1, "no fingerprint".to_string()))?;
        return Fingerprint::parse(fp).map(Some).map_err(|e| (i + 1, e));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_follows_xdg() {
        assert_eq!(
            default_path(Some("/x/data".into()), Some("/home/a".into())),
            Some(PathBuf::from("/x/data/natter/known_hosts"))
        );
        assert_eq!(
            default_path(Some("rel".into()), Some("/home/a".into())),
            Some(PathBuf::from("/home/a/.local/share/natter/known_hosts"))
        );
        assert_eq!(default_path(None, None), None);
    }

    #[test]
    fn entries_are_found_by_host_and_port() {
        let a = Fingerprint::of(b"a");
        let b = Fingerprint::of(b"b");
        let text = format!("# comment\n\nlocalhost:7878 {a}\n[::1]:7878 {b}\n");
        assert_eq!(lookup_in(&text, "localhost:7878"), Ok(Some(a)));
        assert_eq!(lookup_in(&text, "[::1]:7878"), Ok(Some(b)));
        assert_eq!(lookup_in(&text, "localhost:7879"), Ok(None));
        let broken = "pi4:7878 sha256:00\n";
        let (line, e) = lookup_in(broken, "pi4:7878").unwrap_err();
        assert_eq!(line, 1);
        assert!(e.contains("not 64"), "{e}");
        assert_eq!(
            lookup_in(broken, "other:1"),
            Ok(None),
            "other lines do not matter"
        );
    }

    #[test]
    fn added_entries_are_found_again() {
        let dir = std::env::temp_dir().join(format!("natter-unit-kh-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let kh = KnownHosts::new(dir.join("natter").join("known_hosts"));
        let fp = Fingerprint::of(b"cert");
        assert_eq!(kh.lookup("h:1"), Ok(None));
        kh.add("h:1", &fp).unwrap();
        kh.add("h:2", &Fingerprint::of(b"other")).unwrap();
        assert_eq!(kh.lookup("h:1"), Ok(Some(fp)));
        let text = std::fs::read_to_string(&kh.path).unwrap();
        assert!(text.starts_with("# natter:"), "{text}");
        assert_eq!(text.matches("# natter:").count(), 1, "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
