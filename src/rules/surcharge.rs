//! Beyond the seed: the late-payment surcharge (加处罚款). A fine decided elsewhere and unpaid
//! 15 days after its decision accrues 3 % of the fine per day, capped at the fine itself.
//! 行政处罚法 (2021) art. 72(1); 道路交通安全违法行为处理程序规定 art. 60.

use jiff::civil::Date;

use super::Clause;
use crate::domain::Fen;

pub const CLAUSE: Clause =
    Clause::BeyondSeed("行政处罚法(2021)第72条第1款; 道路交通安全违法行为处理程序规定第60条");
/// Days after the decision within which the fine must be paid.
pub const GRACE_DAYS: i64 = 15;
/// Per-day rate, in percent of the fine.
pub const DAILY_PERCENT: i64 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Surcharge {
    /// Days counted (0 while within the grace period).
    pub days: i64,
    pub amount: Fen,
    /// The cap (the fine itself) was reached.
    pub capped: bool,
}

/// The surcharge due on `today` for a fine decided on `decided_on` (both local dates, UTC+8).
/// Day 16 after the decision is the first surcharged day.
pub fn late_payment_surcharge(fine: Fen, decided_on: Date, today: Date) -> Surcharge {
    let elapsed = (today - decided_on).get_days() as i64;
    let days = (elapsed - GRACE_DAYS).max(0);
    // Round half up to the fen.
    let uncapped = fine.percent(DAILY_PERCENT.saturating_mul(days));
    let capped = uncapped >= fine;
    Surcharge {
        days,
        amount: if capped { fine } else { uncapped },
        capped: capped && days > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn beyond_seed_surcharge_starts_after_15_days_and_caps_at_the_fine() {
        let fine = Fen::from_yuan(200);
        let d = date(2022, 9, 1);
        let table = [
            (date(2022, 9, 1), 0, 0),
            (date(2022, 9, 16), 0, 0),
            (date(2022, 9, 17), 1, 6_00),
            (date(2022, 9, 26), 10, 60_00),
            (date(2022, 10, 20), 34, 200_00),
            (date(2022, 11, 30), 75, 200_00),
        ];
        for (today, days, fen) in table {
            let s = late_payment_surcharge(fine, d, today);
            assert_eq!((s.days, s.amount), (days, Fen(fen)), "{today}");
        }
        assert!(late_payment_surcharge(fine, d, date(2022, 11, 30)).capped);
        // 3 % of 50 yuan is 1.50 a day.
        assert_eq!(
            late_payment_surcharge(Fen::from_yuan(50), d, date(2022, 9, 17)).amount,
            Fen(1_50)
        );
    }

    #[test]
    fn surcharge_of_a_warning_is_zero() {
        let s = late_payment_surcharge(Fen(0), date(2022, 1, 1), date(2022, 12, 1));
        assert_eq!(s.amount, Fen(0));
    }
}
