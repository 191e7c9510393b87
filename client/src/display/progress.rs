//! A transfer's progress as a fact ([`Snapshot`]: how far, how fast) and as the one
//! line a terminal shows for it, fitted to the terminal's width ([`bar_line`]):
//!
//! `* downloading big.iso: 42% [========>           ] 1.3 GiB of 3.0 GiB, 82.5 MiB/s, 21 s left`
//!
//! The bar is the first thing to go when the terminal is narrow, then the line is
//! cut; it never wraps, so whoever redraws it knows it takes exactly one row.

use super::words::{duration_words, human_size};
use std::sync::Arc;
use std::time::Duration;

/// Cells of the bar between its brackets.
const BAR_CELLS: usize = 20;

/// Where one transfer stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `downloading big.iso`, made safe to print.
    pub label: Arc<str>,
    pub done: u64,
    pub size: u64,
    /// Bytes moved in this run (a resumed download had the others already).
    pub moved: u64,
    /// How long this run has taken.
    pub elapsed: Duration,
}

impl Snapshot {
    fn percent(&self) -> u64 {
        match self.size {
            0 => 100,
            size => (self.done.min(size) as u128 * 100 / size as u128) as u64,
        }
    }

    fn bar(&self) -> String {
        let filled = match self.size {
            0 => BAR_CELLS,
            size => (self.done.min(size) as u128 * BAR_CELLS as u128 / size as u128) as usize,
        };
        let head = usize::from(filled < BAR_CELLS);
        format!(
            "[{}{}{}]",
            "=".repeat(filled),
            ">".repeat(head),
            " ".repeat(BAR_CELLS - filled - head)
        )
    }

    /// `1.3 GiB of 3.0 GiB, 82.5 MiB/s, 21 s left`: the rate is this run's average.
    fn figures(&self) -> String {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.moved as f64 / secs
        } else {
            0.0
        };
        let left = if rate >= 1.0 {
            let s = (self.size.saturating_sub(self.done)) as f64 / rate;
            format!(
                "{} left",
                duration_words(Duration::from_secs_f64(s.ceil().min(1e9)))
            )
        } else {
            "stalled".to_string()
        };
        format!(
            "{} of {}, {}/s, {left}",
            human_size(self.done),
            human_size(self.size),
            human_size(rate as u64)
        )
    }
}

/// The snapshot as one line at most `width` columns wide, as `width_of` measures
/// text on this terminal.
pub fn bar_line(s: &Snapshot, width: usize, width_of: &dyn Fn(&str) -> usize) -> String {
    let head = format!("* {}: {}%", s.label, s.percent());
    let full = format!("{head} {} {}", s.bar(), s.figures());
    if width_of(&full) <= width {
        return full;
    }
    let plain = format!("{head} {}", s.figures());
    if width_of(&plain) <= width {
        return plain;
    }
    // Cut to fit, character by character: a narrow terminal still gets one row.
    let mut out = String::new();
    for c in plain.chars() {
        let mut next = out.clone();
        next.push(c);
        if width_of(&next) > width {
            break;
        }
        out = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(done: u64, size: u64) -> Snapshot {
        Snapshot {
            label: "downloading big.iso".into(),
            done,
            size,
            moved: done,
            elapsed: Duration::from_secs(2),
        }
    }

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn a_bar_line_fits_its_terminal() {
        let mib = 1 << 20;
        let s = snap(20 * mib, 48 * mib);
        assert_eq!(
            bar_line(&s, 200, &chars),
            "* downloading big.iso: 41% [========>           ] 20.0 MiB of 48.0 MiB, 10.0 MiB/s, 3 s left"
        );
        assert_eq!(
            bar_line(&s, 79, &chars),
            "* downloading big.iso: 41% 20.0 MiB of 48.0 MiB, 10.0 MiB/s, 3 s left",
            "the bar goes first"
        );
        let cut = bar_line(&s, 30, &chars);
        assert_eq!(cut, "* downloading big.iso: 41% 20.");
        assert!(bar_line(&snap(0, 10), 200, &chars)
            .contains("[>                   ] 0 B of 10 B, 0 B/s, stalled"));
        assert!(bar_line(&snap(10, 10), 200, &chars).contains("100% [====================]"));
        assert!(bar_line(&snap(0, 0), 200, &chars).contains("100% [====================]"));
    }
}
