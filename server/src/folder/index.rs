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

#[derive(Default)]
pub struct Index {
    entries: BTreeMap<FileName, Entry>,
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
                self.entries.insert(name, entry);
            }
            Err(_) => {
                self.entries.remove(&name);
            }
        }
    }

    pub fn insert(&mut self, name: FileName, entry: Entry) {
        self.entries.insert(name, entry);
    }

    #[cfg(test)]
    pub fn remove(&mut self, name: &FileName) {
        self.entries.remove(name);
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
