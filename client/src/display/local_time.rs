//! The local time zone, from the C library: the one part of `display` that is not
//! pure, kept apart so the rest can be tested with a fixed clock.

use natter_protocol::Time;

/// The local time zone's offset from UTC at `t`, in seconds; 0 if the C library
/// cannot say.
pub fn utc_offset(t: Time) -> i64 {
    let Ok(secs) = libc::time_t::try_from(t.0) else {
        return 0;
    };
    // SAFETY: as in `local_hm`.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff as i64
    }
}

/// Hours and minutes of `t` in the local time zone; UTC if the C library cannot say.
pub fn local_hm(t: Time) -> (u32, u32) {
    let Ok(secs) = libc::time_t::try_from(t.0) else {
        return t.hour_minute();
    };
    // SAFETY: localtime_r reads one time_t and writes one tm, both ours; a zeroed tm is
    // a valid value of that plain C struct.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return t.hour_minute();
        }
        (tm.tm_hour as u32, tm.tm_min as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_time_is_utc_moved_by_the_offset() {
        // 2023-11-14 22:13:20 UTC, and a minute and a day around it.
        for t in [1_700_000_000u64, 1_700_000_060, 1_700_086_400, 0] {
            let local = i64::try_from(t).unwrap() + utc_offset(Time(t));
            let of_day = local.rem_euclid(86_400);
            let want = (of_day / 3600, of_day % 3600 / 60);
            let (h, m) = local_hm(Time(t));
            assert_eq!((i64::from(h), i64::from(m)), want, "at {t}");
        }
    }
}
