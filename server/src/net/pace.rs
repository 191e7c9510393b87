//! `Pacer`: when queued output goes out. Quiet, at once; busy, a connection's output
//! gathers for a short window and goes out in one vectored write, the way a network
//! card moderates its interrupts. The window follows the load: it is zero below a
//! quiet rate of messages, grows with the rate above it, and never passes a bound
//! (`--coalesce-max`), so no reply waits longer than that. Pure: time comes in.
//!
//! Why the rate of queued messages and not the loop's CPU: coalescing lowers the CPU
//! it saves, so a window sized by CPU would shrink as soon as it worked, and swing.
//! The rate of messages is what the clients send, whatever the loop does with it.

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

pub struct Pacer {
    max: Duration,
    /// Messages a second, smoothed.
    rate: f64,
    count: u64,
    since: Instant,
    window: Duration,
    /// When output held back now must go out.
    due: Option<Instant>,
}

impl Pacer {
    pub fn new(max: Duration, now: Instant) -> Pacer {
        Pacer {
            max,
            rate: 0.0,
            count: 0,
            since: now,
            window: Duration::ZERO,
            due: None,
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
    pub fn is_due(&self, now: Instant) -> bool {
        self.window.is_zero() || self.due.is_some_and(|d| now >= d)
    }

    /// Output is being held back: it goes out one window from now at the latest.
    pub fn hold(&mut self, now: Instant) {
        if self.due.is_none() {
            self.due = Some(now + self.window);
        }
    }

    /// Everything held back went out.
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

    #[test]
    fn a_bound_of_zero_turns_coalescing_off() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Duration::ZERO, t0);
        run(&mut p, t0, 5_000_000, 1);
        assert_eq!(p.window(), Duration::ZERO);
    }
}
