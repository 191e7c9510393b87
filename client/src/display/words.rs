//! Numbers, durations and I/O errors as a person reads them: `47.1 KiB`, `48,213`,
//! `2 min 5 s`, `connection reset by peer`.

use std::time::Duration;

/// `512 B`, `12.3 KiB`, `4.0 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: &[&str] = &["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A limit, which is usually a whole number of units: `10 GiB`, `500 MiB`; anything
/// else as [`human_size`] has it.
pub fn limit_size(n: u64) -> String {
    let mut unit = 1u64;
    for name in ["KiB", "MiB", "GiB", "TiB"] {
        let next = unit << 10;
        if n < next {
            break;
        }
        unit = next;
        if n.is_multiple_of(unit) && (n / unit < 1024 || name == "TiB") {
            return format!("{} {name}", n / unit);
        }
    }
    human_size(n)
}

/// `3 s`, `2 min 5 s`, `1 h 3 min`, `2 d 4 h`: two units at most.
pub fn duration_words(d: Duration) -> String {
    let s = d.as_secs();
    let (big, small, units) = match s {
        0..=59 => return format!("{s} s"),
        60..=3599 => (s / 60, s % 60, ("min", "s")),
        3600..=86399 => (s / 3600, s % 3600 / 60, ("h", "min")),
        _ => (s / 86400, s % 86400 / 3600, ("d", "h")),
    };
    match small {
        0 => format!("{big} {}", units.0),
        _ => format!("{big} {} {small} {}", units.0, units.1),
    }
}

/// `48213` -> `48,213`: exact byte counts a person can read.
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    // The leading group has 1 to 3 digits; every later one exactly 3.
    let first = match digits.len() % 3 {
        0 => 3,
        r => r,
    };
    let mut out = digits[..first].to_string();
    for group in digits.as_bytes()[first..].chunks(3) {
        out.push(',');
        out.extend(group.iter().map(|&b| b as char));
    }
    out
}

/// An I/O error as a person reads it: std's text without the `(os error N)` tail.
pub fn io_words(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_lowercase(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 << 20), "5.0 MiB");
    }

    #[test]
    fn limits_are_whole_units_when_they_can_be() {
        assert_eq!(limit_size(10 << 30), "10 GiB");
        assert_eq!(limit_size(500 << 20), "500 MiB");
        assert_eq!(limit_size(1 << 10), "1 KiB");
        assert_eq!(limit_size(1 << 20), "1 MiB");
        assert_eq!(limit_size(2048 << 40), "2048 TiB");
        assert_eq!(limit_size(1000), "1000 B");
        assert_eq!(limit_size(1536), "1.5 KiB");
        assert_eq!(limit_size((10 << 30) + 1), "10.0 GiB");
    }

    #[test]
    fn digits_are_grouped() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(48213), "48,213");
        assert_eq!(group_digits(3201112), "3,201,112");
        assert_eq!(group_digits(1_000_000), "1,000,000");
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(Duration::from_secs(3)), "3 s");
        assert_eq!(duration_words(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(duration_words(Duration::from_secs(720)), "12 min");
        assert_eq!(duration_words(Duration::from_secs(7500)), "2 h 5 min");
        assert_eq!(duration_words(Duration::from_secs(7200)), "2 h");
        assert_eq!(duration_words(Duration::from_secs(187200)), "2 d 4 h");
    }

    #[test]
    fn io_words_drop_the_os_error_number() {
        let e = std::io::Error::from_raw_os_error(libc::ECONNRESET);
        assert_eq!(io_words(&e), "connection reset by peer");
    }
}
