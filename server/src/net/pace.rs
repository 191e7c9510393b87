//! `Pacer`: when queued output goes out. Quiet, at once; busy, a connection's output
//! gathers for a short window and goes out in one vectored write, the way a network
//! card moderates its interrupts. The window follows the load: it is zero below a
//! quiet rate of messages, grows with the rate above it, and never passes a bound
//! (`--coalesce-max`), so no reply waits longer than that. Pure: time comes in.
//!
//! Why the rate of queued messages and not the loop's CPU: coalescing lowers the CPU
//! it saves, so a window sized by CPU would shrink as soon as it worked, and swing.
//! The rate of messages is what the clients send, whatever the loop does with it.
//!
//! When the window ends, the connections held go out as one flush, a slice of them
//! a loop turn ([`FLUSH_SLICE`]), and the loop reads between slices: writing a
//! thousand members takes longer than a window on a small host, and a message that
//! arrives meanwhile still reaches the members not yet written in the same flush,
//! instead of waiting, unread, for the whole flush and then for the next one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Messages queued per second below which nothing waits: a quiet room keeps today's
/// latency, one write per message.
const QUIET_RATE: f64 = 20_000.0;
/// The window's growth above the quiet rate: one millisecond per this many messages
/// a second (100 clients sending 20 a second, 198,000 a second, wait about 1.2 ms;
/// 500 sending 5, 1.25 million a second, reach the bound).
const RATE_PER_MS: f64 = 150_000.0;
/// How often the rate is sampled, and the time constant it is smoothed over.
const SAMPLE: Duration = Duration::from_millis(5);
const SMOOTHING: Duration = Duration::from_millis(50);
/// The bound unless `--coalesce-max` says otherwise.
pub const DEFAULT_MAX_WINDOW: Duration = Duration::from_millis(8);
/// Connections written per loop turn while a flush is under way: about a
/// millisecond of writes here (16 us each), so reads are never held up longer.
pub const FLUSH_SLICE: usize = 64;
/// A flush's buffer is kept between flushes up to this many connections.
const SMALL_FLUSH: usize = 1024;

/// `T`: how the loop names a connection in a flush (its slab key and its id, so an
/// entry whose connection went and whose key was given to another is told apart).
pub struct Pacer<T = usize> {
    max: Duration,
    /// Messages a second, smoothed.
    rate: f64,
    count: u64,
    since: Instant,
    window: Duration,
    /// When output held back now must go out.
    due: Option<Instant>,
    /// The flush under way: connections still to be written, in the order they
    /// became dirty.
    cycle: VecDeque<T>,
}

impl<T: Copy> Pacer<T> {
    pub fn new(max: Duration, now: Instant) -> Pacer<T> {
        Pacer {
            max,
            rate: 0.0,
            count: 0,
            since: now,
            window: Duration::ZERO,
            due: None,
            cycle: VecDeque::new(),
        }
    }

    /// `n` messages were queued for delivery.
    pub fn queued(&mut self, n: u64) {
        self.count += n;
    }

    /// Brings the rate and the window up to date.
    pub fn tick(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.since);
        if elapsed < SAMPLE {
            return;
        }
        let instant = self.count as f64 / elapsed.as_secs_f64();
        let weight = (elapsed.as_secs_f64() / SMOOTHING.as_secs_f64()).min(1.0);
        self.rate += (instant - self.rate) * weight;
        self.count = 0;
        self.since = now;
        let ms = ((self.rate - QUIET_RATE) / RATE_PER_MS).max(0.0);
        self.window = Duration::from_secs_f64(ms / 1000.0).min(self.max);
    }

    /// How long output may gather now.
    #[cfg(test)]
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Whether held-back output must go out now.
    fn is_due(&self, now: Instant) -> bool {
        self.window.is_zero() || self.due.is_some_and(|d| now >= d)
    }

    /// Sorts connections that became dirty: those `urgent` says go now are returned
    /// to be written at once; the others start a flush if the window is over and no
    /// flush is under way (or `closing`), else wait in `held`. A connection written
    /// by the flush under way and dirty again waits for the next one, so a member is
    /// written about once a window however long a flush takes. `entry` names a
    /// connection in a flush.
    pub fn sort(
        &mut self,
        now: Instant,
        closing: bool,
        dirty: Vec<usize>,
        mut entry: impl FnMut(usize) -> T,
        mut urgent: impl FnMut(usize) -> bool,
        held: &mut Vec<usize>,
    ) -> Vec<usize> {
        let start = self.cycle.is_empty() && (closing || self.is_due(now));
        let mut at_once = Vec::new();
        for t in dirty {
            if urgent(t) {
                at_once.push(t);
            } else if start {
                self.cycle.push_back(entry(t));
            } else {
                held.push(t);
            }
        }
        if start {
            // The next window starts with the first connection held from now on.
            self.due = None;
        }
        at_once
    }

    /// The next connection the flush under way writes, while `slice` lasts.
    pub fn next_in_flush(&mut self, slice: &mut usize) -> Option<T> {
        if *slice == 0 {
            return None;
        }
        let t = self.cycle.pop_front()?;
        *slice -= 1;
        if self.cycle.is_empty() && self.cycle.capacity() > SMALL_FLUSH {
            // A flush of every member of a big room leaves a big buffer behind; idle
            // memory per connection is a figure people pay for.
            self.cycle = VecDeque::new();
        }
        Some(t)
    }

    /// A flush is under way: the loop must come back at once for its next slice.
    pub fn flushing(&self) -> bool {
        !self.cycle.is_empty()
    }

    /// Output is being held back: it goes out one window from now at the latest, or,
    /// while a flush is under way, one window after it is done. (Were the window to
    /// run during the flush, a flush longer than the window would start the next at
    /// once, and the loop would do nothing but write.)
    pub fn hold(&mut self, now: Instant) {
        if self.due.is_none() && self.cycle.is_empty() {
            self.due = Some(now + self.window);
        }
    }

    /// Nothing is held back (any more).
    pub fn flushed(&mut self) {
        self.due = None;
    }

    /// When the loop must wake to send what is held back.
    pub fn next(&self) -> Option<Instant> {
        self.due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the pacer for `secs` at `rate` messages a second, in 1 ms turns.
    fn run(p: &mut Pacer, start: Instant, rate: u64, secs: u64) -> Instant {
        let mut now = start;
        for _ in 0..secs * 1000 {
            now += Duration::from_millis(1);
            p.queued(rate / 1000);
            p.tick(now);
        }
        now
    }

    #[test]
    fn quiet_means_at_once_busy_means_a_bounded_window() {
        let t0 = Instant::now();
        let mut p = Pacer::new(DEFAULT_MAX_WINDOW, t0);
        let t = run(&mut p, t0, 10_000, 1);
        assert_eq!(p.window(), Duration::ZERO, "a quiet room waits for nothing");
        assert!(p.is_due(t));
        let t = run(&mut p, t, 198_000, 1);
        let w = p.window();
        assert!(
            w > Duration::from_micros(1000) && w < Duration::from_micros(1400),
            "{w:?}"
        );
        let t = run(&mut p, t, 5_000_000, 1);
        assert_eq!(p.window(), DEFAULT_MAX_WINDOW, "never past the bound");
        // Held back output is due one window later, and not before.
        assert!(!p.is_due(t));
        p.hold(t);
        assert!(!p.is_due(t + Duration::from_millis(7)));
        assert!(p.is_due(t + DEFAULT_MAX_WINDOW));
        assert_eq!(p.next(), Some(t + DEFAULT_MAX_WINDOW));
        p.flushed();
        assert_eq!(p.next(), None);
        // When the load goes, the window goes within a few tens of milliseconds.
        let t = run(&mut p, t, 0, 1);
        assert_eq!(p.window(), Duration::ZERO);
        assert!(p.is_due(t));
    }

    /// What a loop turn writes of the flush under way.
    fn slice(p: &mut Pacer) -> Vec<usize> {
        let mut slice = FLUSH_SLICE;
        std::iter::from_fn(|| p.next_in_flush(&mut slice)).collect()
    }

    #[test]
    fn a_flush_goes_a_slice_a_turn_and_who_is_dirty_again_waits_for_the_next() {
        let t0 = Instant::now();
        let mut p = Pacer::new(DEFAULT_MAX_WINDOW, t0);
        let t = run(&mut p, t0, 500_000, 1);
        let w = p.window();
        assert!(w > Duration::ZERO);
        // Busy: 200 dirty connections wait for the window...
        let mut held = Vec::new();
        assert!(p
            .sort(t, false, (0..200).collect(), |t| t, |_| false, &mut held)
            .is_empty());
        assert_eq!(held.len(), 200);
        assert!(!p.flushing());
        p.hold(t);
        // ...but urgent output never does.
        let mut none = Vec::new();
        assert_eq!(
            p.sort(t, false, vec![900], |t| t, |_| true, &mut none),
            vec![900]
        );
        assert!(none.is_empty());
        // The window over, they are one flush, written a slice a turn in order.
        let t = t + w;
        let mut again = Vec::new();
        assert!(p
            .sort(t, false, held, |t| t, |_| false, &mut again)
            .is_empty());
        assert!(again.is_empty());
        assert!(p.flushing());
        assert_eq!(slice(&mut p), (0..64).collect::<Vec<_>>());
        // Written by this flush and dirty again: waits for the next flush, however
        // long this one takes, and so does a connection this flush does not hold;
        // their window starts when this flush is done.
        p.sort(t, false, vec![0, 1, 500], |t| t, |_| false, &mut again);
        assert_eq!(again, vec![0, 1, 500]);
        p.hold(t);
        assert_eq!(p.next(), None, "no window runs during a flush");
        let late = t + 3 * w;
        let mut still = Vec::new();
        p.sort(late, false, again, |t| t, |_| false, &mut still);
        assert_eq!(still, vec![0, 1, 500]);
        assert_eq!(slice(&mut p), (64..128).collect::<Vec<_>>());
        assert_eq!(slice(&mut p), (128..192).collect::<Vec<_>>());
        assert_eq!(slice(&mut p), (192..200).collect::<Vec<_>>());
        assert!(!p.flushing());
        assert!(slice(&mut p).is_empty());
        // This flush done, the next one starts one window later.
        let mut again = Vec::new();
        p.sort(late, false, still, |t| t, |_| false, &mut again);
        assert_eq!(again, vec![0, 1, 500]);
        p.hold(late);
        assert_eq!(p.next(), Some(late + w));
        let mut none = Vec::new();
        p.sort(late + w, false, again, |t| t, |_| false, &mut none);
        assert!(none.is_empty());
        assert_eq!(slice(&mut p), vec![0, 1, 500]);
        // A server shutting down starts a flush whatever the window.
        p.hold(late);
        let mut none = Vec::new();
        p.sort(late, true, vec![7], |t| t, |_| false, &mut none);
        assert!(none.is_empty());
        assert_eq!(slice(&mut p), vec![7]);
    }

    #[test]
    fn a_bound_of_zero_turns_coalescing_off() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, t0);
        run(&mut p, t0, 5_000_000, 1);
        assert_eq!(p.window(), Duration::ZERO);
    }
}
