//! The room's memory of what was said: the last messages (`SAY`s, this node's and,
//! on a cluster, other nodes'), bounded by count (`--history`) and by bytes, so a
//! newcomer can be shown the conversation it missed. Private messages are never kept.

use natter_protocol::{ServerFrame, Time, UserName};
use std::collections::VecDeque;

/// Bytes of text the history keeps at most, whatever its count: what one newcomer's
/// replay may queue stays well under the 1 MiB output cap.
pub const MAX_BYTES: usize = 256 * 1024;

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
}

impl History {
    /// Keeps at most `max` messages (0: none).
    pub fn new(max: usize) -> History {
        History {
            kept: VecDeque::new(),
            max,
            bytes: 0,
            next_id: 1,
        }
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
        self.bytes += said.cost();
        self.kept.push_back(said);
        while self.kept.len() > self.max || self.bytes > MAX_BYTES {
            match self.kept.pop_front() {
                Some(old) => self.bytes -= old.cost(),
                None => break,
            }
        }
        id
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

#[cfg(test)]
mod tests {
    use super::*;

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
