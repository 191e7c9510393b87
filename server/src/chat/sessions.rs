//! `SessionHistory`: the most recent ended sessions, kept for `STATUS`. Bounded, so
//! memory never grows with the number of past connections.

use natter_protocol::SessionInfo;
use std::collections::VecDeque;

pub struct SessionHistory {
    /// (order of ending, session), oldest first.
    ended: VecDeque<(u64, SessionInfo)>,
    cap: usize,
}

impl SessionHistory {
    pub fn new(cap: usize) -> SessionHistory {
        SessionHistory {
            ended: VecDeque::new(),
            cap,
        }
    }

    pub fn push(&mut self, seq: u64, s: SessionInfo) {
        if self.cap == 0 {
            return;
        }
        if self.ended.len() == self.cap {
            self.ended.pop_front();
        }
        self.ended.push_back((seq, s));
    }

    /// The kept sessions that ended before the one numbered `seq`, most recent first.
    pub fn before(&self, seq: u64) -> impl Iterator<Item = &(u64, SessionInfo)> {
        let end = self.ended.partition_point(|(s, _)| *s < seq);
        self.ended.range(..end).rev()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use natter_protocol::Time;

    fn s(id: u64) -> SessionInfo {
        SessionInfo {
            conn_id: id,
            name: None,
            addr: "127.0.0.1:1".parse().unwrap(),
            connected: Time(0),
            ended: Some(Time(1)),
            bytes_in: 0,
            bytes_out: 0,
            reason: Some(natter_protocol::LeaveReason::Quit),
            node: None,
        }
    }

    #[test]
    fn keeps_only_the_most_recent() {
        let mut h = SessionHistory::new(3);
        for id in 1..=5 {
            h.push(id, s(id));
        }
        let ids: Vec<u64> = h.before(u64::MAX).map(|(_, s)| s.conn_id).collect();
        assert_eq!(ids, [5, 4, 3]);
        let ids: Vec<u64> = h.before(5).map(|(_, s)| s.conn_id).collect();
        assert_eq!(ids, [4, 3]);
        assert_eq!(h.before(3).count(), 0);
        let mut none = SessionHistory::new(0);
        none.push(1, s(1));
        assert_eq!(none.before(u64::MAX).count(), 0);
    }
}
