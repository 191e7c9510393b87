//! The record beside a `.part` (`<file>.part.info`): what the server said about the
//! file when the download of that `.part` started, so that a later `/get` continues
//! it only if the server's file is still that version. A few lines of text, with
//! room for a checksum once the protocol has one.

use natter_protocol::Time;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The suffix of a `.part`'s record, after the `.part`'s name.
pub const RECORD_SUFFIX: &str = ".info";

/// What the server said about the file when the download of a `.part` started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub size: u64,
    pub mtime: Time,
}

const RECORD_HEADER: &str = "natter part record 1";

impl Record {
    /// `natter part record 1`, then `size N` and `mtime T` lines; unknown lines are
    /// ignored, so a later version can add a checksum without breaking this one.
    fn to_text(self) -> String {
        format!(
            "{RECORD_HEADER}\nsize {}\nmtime {}\n",
            self.size, self.mtime
        )
    }

    pub fn parse(text: &str) -> Option<Record> {
        let mut lines = text.lines();
        if lines.next()? != RECORD_HEADER {
            return None;
        }
        let (mut size, mut mtime) = (None, None);
        for line in lines {
            match line.split_once(' ') {
                Some(("size", v)) => size = v.parse().ok(),
                Some(("mtime", v)) => mtime = Time::parse(v).ok(),
                _ => {}
            }
        }
        Some(Record {
            size: size?,
            mtime: mtime?,
        })
    }

    pub fn read(path: &Path) -> Option<Record> {
        Record::parse(&std::fs::read_to_string(path).ok()?)
    }

    /// Written beside, then renamed over, so a crash leaves the old record or the
    /// new one, never half of one.
    /// A failure removes what it had written beside, so a full disk leaves no
    /// empty `.info-new` behind.
    pub fn write(self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("info-new");
        let written = File::create(&tmp).and_then(|mut f| {
            f.write_all(self.to_text().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        });
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

pub fn record_path(part: &Path) -> PathBuf {
    let mut name = part.as_os_str().to_os_string();
    name.push(RECORD_SUFFIX);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Time = Time(1_700_000_000);

    #[test]
    fn records_read_back_and_ignore_what_they_do_not_know() {
        let r = Record { size: 42, mtime: T };
        assert_eq!(Record::parse(&r.to_text()), Some(r));
        let later = format!("{}sha256 00ff\n", r.to_text());
        assert_eq!(Record::parse(&later), Some(r));
        assert_eq!(Record::parse("size 42\n"), None);
        assert_eq!(Record::parse(&r.to_text().replace("mtime", "mtim")), None);
    }
}
