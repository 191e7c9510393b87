//! `Index`: what the shared folder holds, kept in memory and in name order, so that a
//! listing, a lookup or the choice of an upload's name never scans or stats the
//! directory on the loop thread. Built by one scan when natterd starts; kept true by
//! natterd's own changes as it makes them and by the loop's directory watch for
//! everyone else's (another natterd on the same folder, a person with `cp` or `rm`).

use natter_protocol::{FileName, Sha256, Time};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

/// What a listing shows of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub size: u64,
    pub mtime: Time,
    /// A regular file, shared; anything else (a folder, a link, a device) only holds
    /// its name, so no upload is given it.
    pub regular: bool,
    /// Its SHA-256, once known (of this size and mtime: a change forgets it).
    pub sha256: Option<Sha256>,
}

/// A number of files and the bytes they take.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub files: u64,
    pub bytes: u64,
}

impl Totals {
    fn add(&mut self, e: &Entry) {
        if e.regular {
            self.files += 1;
            self.bytes = self.bytes.saturating_add(e.size);
        }
    }

    fn take(&mut self, e: &Entry) {
        if e.regular {
            self.files = self.files.saturating_sub(1);
            self.bytes = self.bytes.saturating_sub(e.size);
        }
    }
}

#[derive(Default)]
pub struct Index {
    entries: BTreeMap<FileName, Entry>,
    /// The regular files among the entries, kept as they change: what the folder's
    /// limits are judged by, without a walk over the index.
    totals: Totals,
}

impl Index {
    /// Every name in `root` a client could ask for (hidden names and names that break
    /// the file-name rules are not shareable and are left out).
    pub fn scan(root: &Path) -> std::io::Result<Index> {
        let mut index = Index::default();
        for entry in std::fs::read_dir(root)? {
            let Ok(entry) = entry else { continue };
            if let Some(name) = shareable(entry.file_name().as_os_str()) {
                index.refresh(root, name);
            }
        }
        Ok(index)
    }

    /// Looks at one name on disk again and records what is there now.
    pub fn refresh(&mut self, root: &Path, name: FileName) {
        // symlink_metadata does not follow a link: a link is never a shared file.
        match root.join(name.as_str()).symlink_metadata() {
            Ok(meta) => {
                let mut entry = Entry {
                    size: meta.len(),
                    mtime: mtime(&meta),
                    regular: meta.is_file(),
                    sha256: None,
                };
                // The same size and time as when it was hashed: the same file.
                if let Some(old) = self.entries.get(&name) {
                    if old.size == entry.size && old.mtime == entry.mtime {
                        entry.sha256 = old.sha256;
                    }
                }
                self.insert(name, entry);
            }
            Err(_) => self.remove(&name),
        }
    }

    pub fn insert(&mut self, name: FileName, entry: Entry) {
        self.totals.add(&entry);
        if let Some(old) = self.entries.insert(name, entry) {
            self.totals.take(&old);
        }
    }

    pub fn remove(&mut self, name: &FileName) {
        if let Some(old) = self.entries.remove(name) {
            self.totals.take(&old);
        }
    }

    /// The regular files and their sizes, summed.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    pub fn get(&self, name: &FileName) -> Option<Entry> {
        self.entries.get(name).copied()
    }

    /// Records a file's hash, if it is still as it was when hashed.
    pub fn set_hash(&mut self, name: &FileName, size: u64, mtime: Time, sha256: Sha256) {
        if let Some(e) = self.entries.get_mut(name) {
            if e.size == size && e.mtime == mtime {
                e.sha256 = Some(sha256);
            }
        }
    }

    /// The first regular file after `after` (in name order, wrapping) whose hash is
    /// not known and that is not in `skip`.
    pub fn next_unhashed(
        &self,
        after: Option<&FileName>,
        skip: &std::collections::BTreeSet<FileName>,
    ) -> Option<(FileName, Entry)> {
        let wanted = |(n, e): (&FileName, &Entry)| {
            (e.regular && e.sha256.is_none() && !skip.contains(n)).then(|| (n.clone(), *e))
        };
        let from = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.clone()));
        self.entries
            .range((from, Bound::Unbounded))
            .find_map(wanted)
            .or_else(|| self.entries.iter().find_map(wanted))
    }

    /// Whether anything holds the name.
    pub fn contains(&self, name: &FileName) -> bool {
        self.entries.contains_key(name)
    }

    /// The shared files after `after` (from the first if `None`), in name order.
    pub fn files_after<'a>(
        &'a self,
        after: Option<&FileName>,
    ) -> impl Iterator<Item = (&'a FileName, Entry)> + 'a {
        let from = match after {
            Some(name) => Bound::Excluded(name.clone()),
            None => Bound::Unbounded,
        };
        self.entries
            .range((from, Bound::Unbounded))
            .filter(|(_, e)| e.regular)
            .map(|(n, e)| (n, *e))
    }

    /// A number `n` such that `wanted` numbered `n` (`song_n.mp3`) is free here, from
    /// `from` on, in O(log n) lookups: the numbers doubled until one is free, then the
    /// smallest free one between the last taken and that one, as if the taken ones
    /// were contiguous. Holes left by deletions may be passed over; the answer is
    /// always free. `None` if no such name can be formed.
    pub fn free_number(&self, wanted: &FileName, from: u32) -> Option<u32> {
        let taken = |n: u32| wanted.numbered(n).map(|f| self.contains(&f));
        let from = from.max(1);
        if !taken(from)? {
            return Some(from);
        }
        // taken(lo) holds throughout; find a free hi by doubling.
        let mut lo = from;
        let mut step = 1u32;
        let mut hi = loop {
            let probe = lo.checked_add(step)?;
            if !taken(probe)? {
                break probe;
            }
            lo = probe;
            step = step.saturating_mul(2);
        };
        // Smallest free in (lo, hi], taking taken-ness as monotone.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if taken(mid)? {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(hi)
    }
}

/// The name as a shareable `FileName`, if it is one.
pub fn shareable(name: &std::ffi::OsStr) -> Option<FileName> {
    name.to_str().and_then(|s| FileName::new(s).ok())
}

pub fn mtime(meta: &std::fs::Metadata) -> Time {
    let secs = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    Time(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> FileName {
        FileName::new(s).unwrap()
    }

    fn file() -> Entry {
        Entry {
            size: 1,
            mtime: Time(0),
            regular: true,
            sha256: None,
        }
    }

    #[test]
    fn numbering_finds_a_free_name_in_few_lookups() {
        let mut ix = Index::default();
        let song = f("song.mp3");
        assert_eq!(ix.free_number(&song, 1), Some(1));
        for n in 1..=30_000 {
            ix.insert(song.numbered(n).unwrap(), file());
        }
        assert_eq!(ix.free_number(&song, 1), Some(30_001));
        // A hole is taken when the search lands in it, and never a taken name.
        ix.remove(&f("song_2.mp3"));
        assert_eq!(ix.free_number(&song, 1), Some(2));
        ix.insert(f("song_2.mp3"), file());
        ix.remove(&f("song_20000.mp3"));
        let n = ix.free_number(&song, 1).unwrap();
        assert!(!ix.contains(&song.numbered(n).unwrap()), "{n}");
        // From a given number on: what a caller uses after a reservation failed.
        assert_eq!(ix.free_number(&song, 30_001), Some(30_001));
        let n = ix.free_number(&song, 7).unwrap();
        assert!(n > 7 && !ix.contains(&song.numbered(n).unwrap()), "{n}");
        let none = f(&format!("a.{}", "x".repeat(252)));
        assert_eq!(ix.free_number(&none, 1), None);
    }

    #[test]
    fn totals_follow_every_change_and_count_regular_files_only() {
        let dir = std::env::temp_dir().join(format!("natter-index-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.bin"), [0u8; 10]).unwrap();
        std::fs::write(dir.join(".hidden"), [0u8; 100]).unwrap();
        let mut ix = Index::scan(&dir).unwrap();
        let t = |files, bytes| Totals { files, bytes };
        assert_eq!(ix.totals(), t(1, 10), "not the folder, not the hidden file");
        // Grown by hand, then seen again.
        std::fs::write(dir.join("a.bin"), [0u8; 25]).unwrap();
        ix.refresh(&dir, f("a.bin"));
        assert_eq!(ix.totals(), t(1, 25));
        ix.insert(f("b.bin"), file());
        assert_eq!(ix.totals(), t(2, 26));
        // Seen twice (its own insert, then the watch) is counted once.
        ix.insert(f("b.bin"), file());
        assert_eq!(ix.totals(), t(2, 26));
        std::fs::remove_file(dir.join("a.bin")).unwrap();
        ix.refresh(&dir, f("a.bin"));
        assert_eq!(ix.totals(), t(1, 1));
        ix.remove(&f("b.bin"));
        ix.remove(&f("b.bin"));
        assert_eq!(ix.totals(), t(0, 0));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn listings_come_in_name_order_from_any_point() {
        let mut ix = Index::default();
        for name in ["b.txt", "a b.txt", "c.txt"] {
            ix.insert(f(name), file());
        }
        ix.insert(
            f("dir"),
            Entry {
                regular: false,
                ..file()
            },
        );
        let all: Vec<&str> = ix.files_after(None).map(|(n, _)| n.as_str()).collect();
        assert_eq!(all, ["a b.txt", "b.txt", "c.txt"]);
        let rest: Vec<&str> = ix
            .files_after(Some(&f("b.txt")))
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(rest, ["c.txt"]);
        assert!(ix.contains(&f("dir")), "a folder holds its name");
    }
}
