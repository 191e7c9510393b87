//! Flood control and per-address accounting. Pure: time comes in as an argument.
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
    /// Who an address belongs to: an IPv4 address (an IPv4-mapped IPv6 one counts as
    /// its IPv4 address), or an IPv6 /64, which is what one subscriber or one host is
    /// given; counting each /128 would let one machine take every slot.
    fn key(ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) if !v6.is_loopback() => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
            other => other,
        }
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
    fn secrets_compare_exactly() {
        assert!(constant_time_eq(b"hunter2", b"hunter2"));
        assert!(!constant_time_eq(b"hunter2", b"hunter3"));
        assert!(!constant_time_eq(b"hunter2", b"hunter22"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(constant_time_eq(b"", b""));
    }
}
