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
    fn local_time_is_a_time_of_day() {
        let (h, m) = local_hm(Time::now());
        assert!(h < 24 && m < 60);
    }
}
