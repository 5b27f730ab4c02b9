//! 六.7: every night 22:00 to 01:00 (UTC+8) the bank reconciles; handling and payment are closed,
//! look-ups stay open.

use jiff::{Timestamp, ToSpan, civil::Time, tz::Offset};

use super::Clause;

pub const CLAUSE: Clause = Clause::Seed("六.7");

/// The platform's time zone: UTC+8 all year (China has no daylight saving).
pub fn china_offset() -> Offset {
    Offset::constant(8)
}

/// Local wall-clock time (UTC+8) of an instant.
pub fn local_time(now: Timestamp) -> jiff::civil::DateTime {
    china_offset().to_datetime(now)
}

/// True when local time is in [22:00, 01:00) — the window crosses midnight.
pub fn in_maintenance_window(now: Timestamp) -> bool {
    let t = local_time(now).time();
    t >= Time::constant(22, 0, 0, 0) || t < Time::constant(1, 0, 0, 0)
}

/// When handling reopens: the next 01:00 local, or `now` when open.
pub fn reopens_at(now: Timestamp) -> Timestamp {
    if !in_maintenance_window(now) {
        return now;
    }
    let local = local_time(now);
    let mut day = local.date();
    if local.time() >= Time::constant(22, 0, 0, 0) {
        day = day.checked_add(1.day()).expect("date in range");
    }
    let reopen = day.to_datetime(Time::constant(1, 0, 0, 0));
    china_offset().to_timestamp(reopen).expect("in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clause_6_7_window_boundaries_in_utc8_and_utc() {
        let cases = [
            ("2022-10-24T21:59:59+08:00", false),
            ("2022-10-24T22:00:00+08:00", true),
            ("2022-10-24T23:59:59+08:00", true),
            ("2022-10-25T00:00:00+08:00", true),
            ("2022-10-25T00:59:59+08:00", true),
            ("2022-10-25T01:00:00+08:00", false),
            ("2022-10-24T13:59:59Z", false),
            ("2022-10-24T14:00:00Z", true),
            ("2022-10-24T16:59:59Z", true),
            ("2022-10-24T17:00:00Z", false),
            ("2022-10-24T12:00:00-02:00", true),
        ];
        for (s, closed) in cases {
            assert_eq!(in_maintenance_window(ts(s)), closed, "{s}");
        }
    }

    #[test]
    fn clause_6_7_reopens_at_one_next_morning() {
        assert_eq!(
            reopens_at(ts("2022-10-24T22:30:00+08:00")),
            ts("2022-10-25T01:00:00+08:00")
        );
        assert_eq!(
            reopens_at(ts("2022-10-25T00:10:00+08:00")),
            ts("2022-10-25T01:00:00+08:00")
        );
        let open = ts("2022-10-25T09:00:00+08:00");
        assert_eq!(reopens_at(open), open);
    }
}
