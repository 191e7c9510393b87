//! Flood control, per-address accounting, the brake on secret guessing and the gate
//! on repeated warnings. Pure: time comes in as an argument.
//!
//! A connection over its request rate is not disconnected; the loop stops reading it
//! until a token returns ("fake lag", as IRC servers do), so TCP flow control holds
//! the sender back and nothing piles up on the server.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Default requests per second per connection.
pub const DEFAULT_MAX_RATE: f64 = 20.0;
/// Default burst: a client may send this many requests at once after a quiet spell
/// (a pasted block of text, a script's opening volley).
pub const DEFAULT_MAX_BURST: f64 = 60.0;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    pub fn new(burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            tokens: burst,
            last: now,
        }
    }

    /// Takes one token, or says how long until one is there.
    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate))
        }
    }
}

/// Live connections per remote address, for `--max-per-ip`. Loopback is never
/// counted against the limit, so local load tests can open thousands.
#[derive(Default)]
pub struct PerAddress {
    counts: HashMap<IpAddr, u32>,
}

impl PerAddress {
    /// Who an address belongs to (see [`subscriber`]).
    fn key(ip: IpAddr) -> IpAddr {
        subscriber(ip)
    }

    pub fn exempt(ip: IpAddr) -> bool {
        Self::key(ip).is_loopback()
    }

    pub fn count(&self, ip: IpAddr) -> u32 {
        self.counts.get(&Self::key(ip)).copied().unwrap_or(0)
    }

    pub fn add(&mut self, ip: IpAddr) {
        *self.counts.entry(Self::key(ip)).or_insert(0) += 1;
    }

    pub fn remove(&mut self, ip: IpAddr) {
        let key = Self::key(ip);
        if let Some(n) = self.counts.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.counts.remove(&key);
            }
        }
    }
}

/// Who an address belongs to: an IPv4 address (an IPv4-mapped IPv6 one counts as its
/// IPv4 address), or an IPv6 /64, which is what one subscriber or one host is given;
/// counting each /128 would let one machine take every slot.
pub fn subscriber(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(std::net::Ipv6Addr::from(bits))
        }
        other => other,
    }
}

/// The first wrong secret from an address costs nothing (people mistype); each one
/// after doubles the wait before that address's next secret is judged, from this.
const GUESS_DELAY: Duration = Duration::from_millis(250);
/// The longest an address waits between judged secrets.
const GUESS_DELAY_MAX: Duration = Duration::from_secs(30);
/// An address's wrong secrets are forgotten after this long without one.
const GUESS_FORGET: Duration = Duration::from_secs(15 * 60);
/// Wrong secrets from everyone together, per window, before all guessing is spaced.
const GUESS_GLOBAL_BURST: u32 = 30;
const GUESS_GLOBAL_WINDOW: Duration = Duration::from_secs(10);
/// The spacing then: at most ten secrets a second are judged, from anyone.
const GUESS_GLOBAL_SPACING: Duration = Duration::from_millis(100);
/// Addresses remembered at once; past it only the global brake applies to newcomers.
const GUESS_SOURCES: usize = 10_000;

/// The brake on guessing the secret, as sshd and mail servers slow failed logins: a
/// wait that grows with each wrong secret from one address, whatever connection it
/// comes on, and a cap on wrong secrets from everyone together. Closing a connection
/// after three wrong secrets alone does not slow an attacker who opens hundreds.
#[derive(Default)]
pub struct GuessBrake {
    sources: HashMap<IpAddr, Guesses>,
    window_start: Option<Instant>,
    window_failures: u32,
    global_next: Option<Instant>,
}

struct Guesses {
    failures: u32,
    last: Instant,
    next: Instant,
}

impl GuessBrake {
    /// When the next secret from `ip` may be judged, if not now.
    pub fn wait(&self, ip: IpAddr, now: Instant) -> Option<Instant> {
        let own = self.sources.get(&subscriber(ip)).map(|g| g.next);
        [own, self.global_next]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .max()
    }

    /// A wrong secret from `ip`; returns how many it has sent lately.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) -> u32 {
        let start = *self.window_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= GUESS_GLOBAL_WINDOW {
            self.window_start = Some(now);
            self.window_failures = 0;
        }
        self.window_failures += 1;
        if self.window_failures > GUESS_GLOBAL_BURST {
            self.global_next = Some(now + GUESS_GLOBAL_SPACING);
        }
        let key = subscriber(ip);
        if !self.sources.contains_key(&key) && self.sources.len() >= GUESS_SOURCES {
            self.forget(now);
            if self.sources.len() >= GUESS_SOURCES {
                return 1;
            }
        }
        let g = self.sources.entry(key).or_insert(Guesses {
            failures: 0,
            last: now,
            next: now,
        });
        g.failures += 1;
        g.last = now;
        let delay = match g.failures {
            0 | 1 => Duration::ZERO,
            f => GUESS_DELAY
                .saturating_mul(1u32 << (f - 2).min(16))
                .min(GUESS_DELAY_MAX),
        };
        g.next = now + delay;
        g.failures
    }

    /// The right secret from `ip`: its slate is clean.
    pub fn succeeded(&mut self, ip: IpAddr) {
        self.sources.remove(&subscriber(ip));
    }

    /// Forgets addresses quiet for long enough.
    pub fn forget(&mut self, now: Instant) {
        self.sources
            .retain(|_, g| now.saturating_duration_since(g.last) < GUESS_FORGET);
        if self.sources.capacity() > 2 * self.sources.len() + 64 {
            self.sources.shrink_to_fit();
        }
    }
}

/// Warnings of one kind let through per minute.
const LOGGED_PER_MINUTE: u32 = 10;

/// Lets one kind of warning through a few times a minute and counts the rest, so a
/// flood of bad input (from Redis, say) can neither fill the disk with log lines nor
/// hold the loop writing them; the next warning let through says how many were not.
#[derive(Debug, Default)]
pub struct LogGate {
    since: Option<Instant>,
    passed: u32,
    held: u64,
}

impl LogGate {
    /// Whether to log this one: `Some(n)` with the `n` held back since the last one
    /// let through, or `None` to stay quiet.
    pub fn pass(&mut self, now: Instant) -> Option<u64> {
        let fresh = self
            .since
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_secs(60));
        if fresh {
            self.since = Some(now);
            self.passed = 0;
        }
        if self.passed >= LOGGED_PER_MINUTE {
            self.held += 1;
            return None;
        }
        self.passed += 1;
        Some(std::mem::take(&mut self.held))
    }
}

/// What a warning let through by a [`LogGate`] adds about those that were not.
pub fn held_back(n: u64) -> String {
    match n {
        0 => String::new(),
        1 => " (and 1 more like it since the last logged)".into(),
        n => format!(" (and {n} more like it since the last logged)"),
    }
}

/// Compares two secrets in time that depends only on their lengths, not on where
/// they first differ, so the secret cannot be guessed a byte at a time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= (x ^ y) as u64;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_gate_lets_a_few_through_a_minute_and_counts_the_rest() {
        let t0 = Instant::now();
        let mut g = LogGate::default();
        for _ in 0..LOGGED_PER_MINUTE {
            assert_eq!(g.pass(t0), Some(0));
        }
        for i in 0..1000 {
            assert_eq!(g.pass(t0 + Duration::from_millis(i)), None);
        }
        let later = t0 + Duration::from_secs(60);
        assert_eq!(
            g.pass(later),
            Some(1000),
            "the next says how many were held"
        );
        assert_eq!(g.pass(later), Some(0));
        assert_eq!(held_back(0), "");
        assert_eq!(
            held_back(1000),
            " (and 1000 more like it since the last logged)"
        );
    }

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0, t0);
        for _ in 0..3 {
            assert!(b.take(10.0, 3.0, t0).is_ok());
        }
        let wait = b.take(10.0, 3.0, t0).unwrap_err();
        assert!(
            wait > Duration::from_millis(99) && wait <= Duration::from_millis(100),
            "{wait:?}"
        );
        assert!(b.take(10.0, 3.0, t0 + Duration::from_millis(100)).is_ok());
        assert!(b.take(10.0, 3.0, t0 + Duration::from_millis(100)).is_err());
        // Tokens never pile up beyond the burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(b.take(10.0, 3.0, later).is_ok());
        }
        assert!(b.take(10.0, 3.0, later).is_err());
    }

    #[test]
    fn addresses_are_counted_canonically() {
        let mut p = PerAddress::default();
        let v4: IpAddr = "10.1.2.3".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        p.add(v4);
        p.add(mapped);
        assert_eq!(p.count(v4), 2);
        p.remove(v4);
        p.remove(v4);
        assert_eq!(p.count(mapped), 0);
        assert!(PerAddress::exempt("127.0.0.5".parse().unwrap()));
        assert!(PerAddress::exempt("::1".parse().unwrap()));
        assert!(PerAddress::exempt("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!PerAddress::exempt(v4));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let mut p = PerAddress::default();
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        p.add(a);
        p.add(b);
        assert_eq!(p.count(a), 2);
        assert_eq!(p.count("2001:db8:1:2::99".parse().unwrap()), 2);
        assert_eq!(p.count(other), 0);
        p.remove(b);
        p.remove(a);
        assert_eq!(p.count(a), 0);
        assert!(PerAddress::exempt("::1".parse().unwrap()));
    }

    #[test]
    fn guessing_slows_down_per_address_and_for_everyone() {
        let t0 = Instant::now();
        let mut b = GuessBrake::default();
        let me: IpAddr = "10.0.0.1".parse().unwrap();
        // One mistake costs nothing.
        assert_eq!(b.failed(me, t0), 1);
        assert_eq!(b.wait(me, t0), None);
        // The next ones wait longer and longer, on any connection from the address.
        assert_eq!(b.failed(me, t0), 2);
        assert_eq!(b.wait(me, t0), Some(t0 + Duration::from_millis(250)));
        b.failed(me, t0);
        assert_eq!(b.wait(me, t0), Some(t0 + Duration::from_millis(500)));
        for _ in 0..20 {
            b.failed(me, t0);
        }
        assert_eq!(b.wait(me, t0), Some(t0 + Duration::from_secs(30)), "capped");
        // Past 30 wrong secrets in the window, everyone's are spaced.
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..10 {
            b.failed(me, t0);
        }
        assert_eq!(
            b.wait(other, t0),
            Some(t0 + Duration::from_millis(100)),
            "global"
        );
        assert_eq!(b.wait(other, t0 + Duration::from_millis(100)), None);
        b.succeeded(me);
        assert_eq!(
            b.wait(me, t0 + Duration::from_millis(100)),
            None,
            "a clean slate"
        );
        // The same /64 is the same address.
        let v6a: IpAddr = "2001:db8::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8::2".parse().unwrap();
        let later = t0 + Duration::from_secs(60);
        b.failed(v6a, later);
        b.failed(v6a, later);
        assert!(b.wait(v6b, later).is_some());
        // Forgotten after a quiet spell.
        b.forget(later + GUESS_FORGET);
        assert_eq!(b.failed(v6b, later + GUESS_FORGET), 1);
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"hunter2", b"hunter2"));
        assert!(!constant_time_eq(b"hunter2", b"hunter3"));
        assert!(!constant_time_eq(b"hunter2", b"hunter22"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
