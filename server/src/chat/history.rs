//! The room's memory of what was said: the last messages (`SAY`s, this node's and,
//! on a cluster, other nodes'), bounded by count (`--history`) and by bytes, so a
//! newcomer can be shown the conversation it missed. Private messages are never kept.
//!
//! With `--history-file` it survives restarts: every message is appended to the file
//! as one line, `<crc32> <id> <unix-time> <name> <text>`, the CRC-32 over the rest
//! of the line. Lines are gathered during a turn and written once at its end (one
//! `write` to the page cache, microseconds; never an fsync, which could hold the
//! loop for as long as the disk likes: a process crash loses nothing, a power cut the
//! last seconds). Reading it back at startup takes every whole line whose checksum
//! holds and drops the rest (a torn last line after kill -9, a damaged sector). Once
//! the file holds four times what the history keeps, and 4,096 lines or 1 MiB, it is
//! rewritten with only what is kept (a temporary, then a rename): about a MiB at most.

use natter_protocol::{ServerFrame, Time, UserName, MAX_TEXT};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Bytes of text the history keeps at most, whatever its count: what one newcomer's
/// replay may queue stays well under the 1 MiB output cap.
pub const MAX_BYTES: usize = 256 * 1024;

/// The file is rewritten only past this many lines (and four times what is kept):
/// a rewrite is a create and a rename, so not every few hundred messages.
const COMPACT_LINES: usize = 4096;
/// ...or past this many bytes (and four times what is kept): 4,096 lines of long
/// messages would be 16 MiB, much for a Raspberry Pi's SD card.
const COMPACT_BYTES: usize = 1024 * 1024;
/// 9999-12-31T23:59:59Z: the last time an RFC 3339 date can say.
const LAST_TIME: u64 = 253_402_300_799;
/// Ids read back stay below this, so counting on from them can never overflow.
const MAX_ID: u64 = 1 << 62;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub id: u64,
    pub time: Time,
    pub name: UserName,
    pub text: String,
}

impl Said {
    fn cost(&self) -> usize {
        // The text and the name, and what an entry costs besides.
        self.text.len() + self.name.as_str().len() + 48
    }

    pub fn frame(&self) -> ServerFrame {
        ServerFrame::History {
            id: self.id,
            time: self.time,
            name: self.name.clone(),
            text: self.text.clone(),
        }
    }
}

pub struct History {
    kept: VecDeque<Said>,
    max: usize,
    bytes: usize,
    next_id: u64,
    file: Option<HistoryFile>,
}

/// The history's file: where, what waits to be written, how much it holds.
struct HistoryFile {
    path: PathBuf,
    out: Option<std::fs::File>,
    pending: Vec<u8>,
    /// Lines and bytes in the file (read at startup plus appended since).
    lines: usize,
    bytes: usize,
    /// An error was logged; the next is logged only once it has worked again.
    failing: bool,
}

impl History {
    /// Keeps at most `max` messages (0: none).
    pub fn new(max: usize) -> History {
        History {
            kept: VecDeque::new(),
            max,
            bytes: 0,
            next_id: 1,
            file: None,
        }
    }

    /// A history kept in `path` too: what it holds is read back first (the lines
    /// that are whole and whose checksum holds), then new messages are appended.
    /// An unreadable file is an error: natterd does not start over it silently.
    pub fn with_file(max: usize, path: &Path) -> io::Result<History> {
        let mut h = History::new(max);
        let (mut lines, mut dropped, mut size) = (0usize, 0usize, 0usize);
        match std::fs::read(path) {
            Ok(bytes) => {
                size = bytes.len();
                for line in bytes.split_inclusive(|&b| b == b'\n') {
                    // Ids only rise: a line that goes back was not written by natterd.
                    match parse_record(line).filter(|said| said.id >= h.next_id) {
                        Some(said) => {
                            h.next_id = said.id.saturating_add(1);
                            h.keep(said);
                            lines += 1;
                        }
                        None => dropped += 1,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if dropped > 0 {
            log::warn!(
                "history file {}: {dropped} line{} dropped: damaged, cut short (a crash mid-write leaves one), or not as natterd writes them",
                path.display(),
                if dropped == 1 { "" } else { "s" }
            );
        }
        log::info!(
            "history: {} message{} read back from {}",
            h.kept.len(),
            if h.kept.len() == 1 { "" } else { "s" },
            path.display()
        );
        h.file = Some(HistoryFile {
            path: path.to_path_buf(),
            out: None,
            pending: Vec::new(),
            lines: lines + dropped,
            bytes: size,
            failing: false,
        });
        // Start from a clean file: the damaged lines go, and an unfinished last line
        // is not continued by the next append.
        if dropped > 0 || h.kept.len() < lines {
            h.compact();
        }
        Ok(h)
    }

    /// Remembers one message; returns its id. With history off, ids still rise.
    pub fn push(&mut self, time: Time, name: UserName, text: &str) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        if self.max == 0 {
            return id;
        }
        let said = Said {
            id,
            time,
            name,
            text: text.to_string(),
        };
        if let Some(f) = self.file.as_mut() {
            record(&mut f.pending, &said);
        }
        self.keep(said);
        id
    }

    /// An id for a message that is not kept (a private one), from the same count.
    pub fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn keep(&mut self, said: Said) {
        if self.max == 0 {
            return;
        }
        self.bytes += said.cost();
        self.kept.push_back(said);
        while self.kept.len() > self.max || self.bytes > MAX_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.bytes -= old.cost(),
                None => break,
            }
        }
    }

    /// Writes what this turn added to the file, in one write; once the file holds
    /// four times what is kept, rewrites it with what is kept. Called once a turn.
    pub fn persist(&mut self) {
        let Some(f) = self.file.as_mut() else { return };
        if f.pending.is_empty() {
            return;
        }
        let added = f.pending.iter().filter(|&&b| b == b'\n').count();
        let added_bytes = f.pending.len();
        let result = f.append();
        match result {
            Ok(()) => {
                f.lines += added;
                f.bytes += added_bytes;
                if f.failing {
                    f.failing = false;
                    log::info!("history file {}: written again", f.path.display());
                }
            }
            Err(e) => {
                // Kept in memory all the same; the file misses these lines.
                f.pending.clear();
                f.out = None;
                if !f.failing {
                    f.failing = true;
                    log::warn!(
                        "history file {}: cannot write ({}); the history goes on in memory",
                        f.path.display(),
                        crate::folder::describe(&e)
                    );
                }
            }
        }
        let kept_bytes = self.bytes.max(1);
        if (f.lines > 4 * self.kept.len().max(1) && f.lines > COMPACT_LINES)
            || (f.bytes > 4 * kept_bytes && f.bytes > COMPACT_BYTES)
        {
            self.compact();
        }
    }

    /// Rewrites the file with only what is kept: a temporary beside it, then a rename.
    fn compact(&mut self) {
        let Some(f) = self.file.as_mut() else { return };
        let mut all = Vec::with_capacity(self.bytes + self.kept.len() * 16);
        for said in &self.kept {
            record(&mut all, said);
        }
        let tmp = f.path.with_extension("tmp");
        let written = std::fs::write(&tmp, &all).and_then(|()| std::fs::rename(&tmp, &f.path));
        match written {
            Ok(()) => {
                f.out = None;
                f.lines = self.kept.len();
                f.bytes = all.len();
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                log::warn!(
                    "history file {}: cannot rewrite it ({}); it grows until it can",
                    f.path.display(),
                    crate::folder::describe(&e)
                );
            }
        }
    }

    /// The last `n` messages kept (all of them for `None`), oldest first.
    pub fn recent(&self, n: Option<u64>) -> impl Iterator<Item = &Said> + '_ {
        let n = n.map_or(self.kept.len(), |n| n.min(self.kept.len() as u64) as usize);
        self.kept.iter().skip(self.kept.len() - n)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.kept.len()
    }
}

impl HistoryFile {
    fn append(&mut self) -> io::Result<()> {
        if self.out.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.out = Some(f);
        }
        if let Some(out) = self.out.as_mut() {
            out.write_all(&self.pending)?;
        }
        self.pending.clear();
        Ok(())
    }
}

/// One message as a line of the history file.
fn record(out: &mut Vec<u8>, said: &Said) {
    // Written in place, the checksum filled in last: no allocation per message.
    let start = out.len();
    out.extend_from_slice(b"00000000 ");
    let body = out.len();
    let _ = write!(out, "{} {} {} ", said.id, said.time.0, said.name);
    // A text never holds a newline (the protocol's lines cannot), but a file line
    // must not get one from anywhere.
    out.extend(said.text.bytes().map(|b| if b == b'\n' { b' ' } else { b }));
    let sum = format!("{:08x}", crc32(&out[body..]));
    out[start..start + 8].copy_from_slice(sum.as_bytes());
    out.push(b'\n');
}

/// One line of the history file back as a message, if it is whole and unharmed.
fn parse_record(line: &[u8]) -> Option<Said> {
    let line = line.strip_suffix(b"\n")?;
    let line = std::str::from_utf8(line).ok()?;
    let (sum, body) = line.split_once(' ')?;
    if u32::from_str_radix(sum, 16).ok()? != crc32(body.as_bytes()) || sum.len() != 8 {
        return None;
    }
    let mut f = body.splitn(4, ' ');
    let id: u64 = f.next()?.parse().ok()?;
    let time = Time(f.next()?.parse().ok()?);
    let name = UserName::new(f.next()?).ok()?;
    let text = f.next().unwrap_or("").to_string();
    // What natterd writes, and nothing a hand could add that it would not: a text a
    // client could have sent (a longer one would make a `HISTORY` line no client
    // reads), a time with a four-digit year, an id that leaves room to count on.
    if text.len() > MAX_TEXT || time.0 > LAST_TIME || id > MAX_ID {
        return None;
    }
    Some(Said {
        id,
        time,
        name,
        text,
    })
}

/// CRC-32 (IEEE 802.3, as zlib and gzip compute it): enough to tell a torn or damaged
/// line from a whole one.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in bytes {
        c = TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        // The check value every CRC-32 implementation publishes.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("natter-history-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d.join("history")
    }

    #[test]
    fn the_file_brings_history_back_and_ids_go_on() {
        let path = temp("back");
        let mut h = History::with_file(10, &path).unwrap();
        for i in 1..=3 {
            h.push(
                Time(1_700_000_000 + i),
                name("alice"),
                &format!("m{i} with  spaces"),
            );
        }
        h.persist();
        let again = History::with_file(10, &path).unwrap();
        let got: Vec<(u64, String)> = again.recent(None).map(|s| (s.id, s.text.clone())).collect();
        assert_eq!(got[2], (3, "m3 with  spaces".to_string()));
        assert_eq!(
            again.recent(None).next().map(|s| s.time),
            Some(Time(1_700_000_001))
        );
        let mut again = again;
        assert_eq!(again.push(Time(1), name("bob"), "next"), 4);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn a_torn_or_damaged_line_is_dropped_not_fatal() {
        let path = temp("torn");
        let mut h = History::with_file(10, &path).unwrap();
        for i in 1..=3 {
            h.push(Time(i), name("alice"), &format!("m{i}"));
        }
        h.persist();
        let mut bytes = std::fs::read(&path).unwrap();
        // A flipped byte in the second line, and half a line at the end (kill -9).
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 12;
        bytes[second] ^= 0x20;
        bytes.extend_from_slice(b"0badf00d 9 9 zed half a li");
        std::fs::write(&path, &bytes).unwrap();
        let mut back = History::with_file(10, &path).unwrap();
        let texts: Vec<&str> = back.recent(None).map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["m1", "m3"]);
        // The file was made clean again: what is appended next is a line of its own.
        back.push(Time(4), name("bob"), "after");
        back.persist();
        let last = History::with_file(10, &path).unwrap();
        let texts: Vec<&str> = last.recent(None).map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["m1", "m3", "after"]);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_file_stays_a_few_times_what_is_kept() {
        let path = temp("bounded");
        let mut h = History::with_file(20, &path).unwrap();
        for i in 0..10_000 {
            h.push(
                Time(i),
                name("alice"),
                "a message of some length, as chat has",
            );
            h.persist();
        }
        let lines = std::fs::read(&path)
            .unwrap()
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        assert!(
            lines <= COMPACT_LINES + 1,
            "{lines} lines on disk for 20 kept"
        );
        assert!(lines < 10_000, "never rewritten");
        let back = History::with_file(20, &path).unwrap();
        assert_eq!(back.recent(None).count(), 20);
        assert_eq!(back.recent(None).last().map(|s| s.id), Some(10_000));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn long_messages_keep_the_file_near_a_mib() {
        let path = temp("long");
        let mut h = History::with_file(10, &path).unwrap();
        let text = "x".repeat(MAX_TEXT);
        let mut biggest = 0;
        for i in 0..2_000 {
            h.push(Time(i), name("alice"), &text);
            h.persist();
            biggest = biggest.max(std::fs::metadata(&path).unwrap().len());
        }
        assert!(
            biggest <= COMPACT_BYTES as u64 + 8192,
            "{biggest} bytes on disk"
        );
        assert_eq!(
            History::with_file(10, &path).unwrap().recent(None).count(),
            10
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// A line a hand added with a good checksum, that natterd would never write.
    fn forged(id: u64, time: u64, text: &str) -> Vec<u8> {
        let said = Said {
            id,
            time: Time(time),
            name: name("mallory"),
            text: text.into(),
        };
        let mut line = Vec::new();
        record(&mut line, &said);
        line
    }

    #[test]
    fn lines_natterd_would_not_write_are_dropped_even_with_a_good_checksum() {
        let path = temp("forged");
        let mut h = History::with_file(10, &path).unwrap();
        for i in 1..=3 {
            h.push(Time(i), name("alice"), &format!("m{i}"));
        }
        h.persist();
        let mut bytes = std::fs::read(&path).unwrap();
        for line in [
            forged(4, 4, &"y".repeat(MAX_TEXT + 1)),
            forged(2, 5, "an id that goes back"),
            forged(6, LAST_TIME + 1, "a year past 9999"),
            forged(u64::MAX, 7, "no id after it"),
            forged(u64::MAX - 1, 7, "one id after it"),
            forged(MAX_ID + 1, 7, "too near the end to count on"),
            forged(8, 8, &"z".repeat(MAX_TEXT)),
        ] {
            bytes.extend_from_slice(&line);
        }
        std::fs::write(&path, &bytes).unwrap();
        let mut back = History::with_file(10, &path).unwrap();
        let ids: Vec<u64> = back.recent(None).map(|s| s.id).collect();
        assert_eq!(ids, [1, 2, 3, 8]);
        assert_eq!(back.push(Time(9), name("bob"), "next"), 9);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    fn name(s: &str) -> UserName {
        UserName::new(s).unwrap()
    }

    #[test]
    fn keeps_the_last_by_count_oldest_first() {
        let mut h = History::new(3);
        for i in 1..=5u64 {
            assert_eq!(h.push(Time(i), name("alice"), &format!("m{i}")), i);
        }
        let texts: Vec<&str> = h.recent(None).map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["m3", "m4", "m5"]);
        let last: Vec<u64> = h.recent(Some(2)).map(|s| s.id).collect();
        assert_eq!(last, [4, 5]);
        assert_eq!(h.recent(Some(99)).count(), 3);
        assert_eq!(h.recent(Some(0)).count(), 0);
    }

    #[test]
    fn keeps_at_most_its_bytes_whatever_the_count() {
        let mut h = History::new(100_000);
        let big = "x".repeat(8000);
        for _ in 0..100 {
            h.push(Time(1), name("bob"), &big);
        }
        assert!(h.bytes <= MAX_BYTES);
        assert_eq!(h.len(), MAX_BYTES / (8000 + 3 + 48));
        let kept: usize = h.recent(None).map(Said::cost).sum();
        assert_eq!(kept, h.bytes);
    }

    #[test]
    fn off_keeps_nothing_but_ids_still_rise() {
        let mut h = History::new(0);
        assert_eq!(h.push(Time(1), name("a"), "x"), 1);
        assert_eq!(h.push(Time(1), name("a"), "y"), 2);
        assert_eq!(h.len(), 0);
    }
}
