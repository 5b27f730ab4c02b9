//! Beyond the seed: the scoring cycle (记分周期) is 12 months running from the first licence date;
//! points are recorded when the decision is made, in the cycle current at that moment.
//! 道路交通安全违法行为记分管理办法 (公安部令第163号) arts. 3, 13.

use jiff::{ToSpan, civil::Date};

use super::{Clause, FULL_POINTS};

pub const CLAUSE: Clause = Clause::BeyondSeed("记分管理办法(公安部令第163号)第3条、第13条");

/// One scoring cycle: `start ..= end` (local dates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoringCycle {
    pub start: Date,
    pub end: Date,
}

/// The cycle containing `today` for a licence first issued on `first_issued`.
/// A 29 February first date has its anniversaries on 28 February in common years.
pub fn cycle_containing(first_issued: Date, today: Date) -> ScoringCycle {
    let anniversary = |year: i16| -> Date {
        Date::new(year, first_issued.month(), first_issued.day())
            .unwrap_or_else(|_| Date::new(year, 2, 28).expect("valid"))
    };
    let mut start = anniversary(today.year());
    if start > today {
        start = anniversary(today.year() - 1);
    }
    if today < first_issued {
        start = first_issued;
    }
    let next = anniversary(start.year() + 1);
    let end = next.checked_sub(1.day()).expect("in range");
    ScoringCycle { start, end }
}

/// "after handling: N/12, cycle ends YYYY-MM-DD".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CyclePreview {
    pub points_after: u32,
    pub full: u32,
    pub cycle: ScoringCycle,
}

impl CyclePreview {
    pub fn new(points_after: u32, first_issued: Date, today: Date) -> Self {
        CyclePreview {
            points_after,
            full: FULL_POINTS,
            cycle: cycle_containing(first_issued, today),
        }
    }
    pub fn message_zh(&self) -> String {
        format!(
            "处理后累积记分：{}/{}分，本记分周期至{}止",
            self.points_after,
            self.full,
            self.cycle.end.strftime("%Y-%m-%d")
        )
    }
    pub fn message_en(&self) -> String {
        format!(
            "After handling: {}/{} points, cycle ends {}",
            self.points_after,
            self.full,
            self.cycle.end.strftime("%Y-%m-%d")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn beyond_seed_cycle_runs_12_months_from_first_issue() {
        let first = date(2015, 6, 12);
        let c = cycle_containing(first, date(2022, 10, 24));
        assert_eq!((c.start, c.end), (date(2022, 6, 12), date(2023, 6, 11)));
        let c = cycle_containing(first, date(2022, 6, 11));
        assert_eq!((c.start, c.end), (date(2021, 6, 12), date(2022, 6, 11)));
        let c = cycle_containing(first, date(2022, 6, 12));
        assert_eq!(c.start, date(2022, 6, 12));
    }

    #[test]
    fn leap_day_first_issue() {
        let c = cycle_containing(date(2016, 2, 29), date(2022, 3, 1));
        assert_eq!((c.start, c.end), (date(2022, 2, 28), date(2023, 2, 27)));
    }

    #[test]
    fn preview_message() {
        let p = CyclePreview::new(7, date(2015, 6, 12), date(2022, 10, 24));
        assert_eq!(
            p.message_zh(),
            "处理后累积记分：7/12分，本记分周期至2023-06-11止"
        );
        assert_eq!(
            p.message_en(),
            "After handling: 7/12 points, cycle ends 2023-06-11"
        );
    }
}
