//! 六.2: a handling unpaid 2 hours after it was made is reverted: the violation is pending again
//! and its points are released. 六.3: never handled or paid twice.

use jiff::{SignedDuration, Timestamp};

use super::Clause;
use crate::domain::Fen;

pub const CLAUSE: Clause = Clause::Seed("六.2");
/// 六.2: the payment window.
pub const PAYMENT_WINDOW: SignedDuration = SignedDuration::from_hours(2);

/// 缴款期限: the window between a handling and the automatic revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentWindow {
    pub handled_at: Timestamp,
    pub deadline: Timestamp,
}

impl PaymentWindow {
    /// The window of a handling made at `handled_at` (deadline = handled_at + 2 h).
    pub fn starting(handled_at: Timestamp) -> Self {
        PaymentWindow {
            handled_at,
            deadline: handled_at + PAYMENT_WINDOW,
        }
    }
    /// A shorter window configured by the operator (never longer than 六.2's 2 hours).
    pub fn with_length(handled_at: Timestamp, length: SignedDuration) -> Self {
        let length = length.min(PAYMENT_WINDOW).max(SignedDuration::ZERO);
        PaymentWindow {
            handled_at,
            deadline: handled_at + length,
        }
    }
    /// Payment is accepted strictly before the deadline.
    pub fn is_open(&self, now: Timestamp) -> bool {
        now < self.deadline
    }
    /// At or after the deadline an unpaid handling must be reverted.
    pub fn must_revert(&self, now: Timestamp) -> bool {
        !self.is_open(now)
    }
    /// Time left to pay (zero once closed).
    pub fn remaining(&self, now: Timestamp) -> SignedDuration {
        self.deadline.duration_since(now).max(SignedDuration::ZERO)
    }
}

/// What is due on penalty decisions: the fine, the late-payment surcharge (beyond-seed, see
/// [`super::surcharge`]) and the fee, which 七.1 makes always 0. The one place the amount due is
/// added up; several decisions paid together sum with `Iterator::sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AmountDue {
    pub fine: Fen,
    pub surcharge: Fen,
    /// 七.1: no fee of any kind ([`super::SERVICE_FEE`]); every receipt still shows it.
    pub fee: Fen,
}

impl AmountDue {
    /// Due on one decision: its fine and surcharge, and 七.1's fee.
    pub fn new(fine: Fen, surcharge: Fen) -> Self {
        AmountDue {
            fine,
            surcharge,
            fee: super::SERVICE_FEE,
        }
    }

    /// 合计: fine + surcharge + fee.
    pub fn total(&self) -> Fen {
        self.fine + self.surcharge + self.fee
    }
}

impl std::ops::Add for AmountDue {
    type Output = AmountDue;
    fn add(self, rhs: AmountDue) -> AmountDue {
        AmountDue {
            fine: self.fine + rhs.fine,
            surcharge: self.surcharge + rhs.surcharge,
            fee: self.fee + rhs.fee,
        }
    }
}

impl std::iter::Sum for AmountDue {
    fn sum<I: Iterator<Item = AmountDue>>(iter: I) -> AmountDue {
        iter.fold(AmountDue::default(), |a, b| a + b)
    }
}

/// The state of a handling decision, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HandlingState {
    /// 已处理未缴款.
    HandledUnpaid,
    /// 已缴款.
    Paid,
    /// 已退回 (六.2).
    Reverted,
}

/// What reverting a handling releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevertRelease {
    /// Points no longer pending on the licence.
    pub released_points: u32,
    /// The violations become pending (未处理) again.
    pub violations_pending_again: usize,
}

/// Decide whether a handling is reverted now, and what it releases.
pub fn revert_due(
    state: HandlingState,
    window: PaymentWindow,
    now: Timestamp,
    points: u32,
    violations: usize,
) -> Option<RevertRelease> {
    (state == HandlingState::HandledUnpaid && window.must_revert(now)).then_some(RevertRelease {
        released_points: points,
        violations_pending_again: violations,
    })
}

/// Why a payment is refused (六.2, 六.3, 六.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefusal {
    #[error("该决定已缴款，请勿重复缴款（六.3）")]
    AlreadyPaid,
    #[error("已超过2小时缴款期限，处理已退回，请重新处理（六.2）")]
    WindowClosed,
    #[error("每天22时至次日1时为对账维护时间，暂停缴款（六.7）")]
    MaintenanceWindow,
}

impl PaymentRefusal {
    pub fn clause(self) -> Clause {
        match self {
            PaymentRefusal::AlreadyPaid => Clause::Seed("六.3"),
            PaymentRefusal::WindowClosed => Clause::Seed("六.2"),
            PaymentRefusal::MaintenanceWindow => Clause::Seed("六.7"),
        }
    }
}

/// May this decision be paid now?
pub fn check_payment(
    state: HandlingState,
    window: PaymentWindow,
    now: Timestamp,
) -> Result<(), PaymentRefusal> {
    match state {
        HandlingState::Paid => Err(PaymentRefusal::AlreadyPaid),
        HandlingState::Reverted => Err(PaymentRefusal::WindowClosed),
        HandlingState::HandledUnpaid if !window.is_open(now) => Err(PaymentRefusal::WindowClosed),
        HandlingState::HandledUnpaid if super::maintenance::in_maintenance_window(now) => {
            Err(PaymentRefusal::MaintenanceWindow)
        }
        HandlingState::HandledUnpaid => Ok(()),
    }
}

/// May money the payment provider confirmed for a decision's order (its signed notification or
/// an order query) be recorded? Yes while the handling stands (六.2: not reverted), whatever the
/// time it reaches the platform: the order closes at the provider with the payment window, so it
/// was paid in time; a notification may arrive late. Once reverted (or already paid) it cannot be
/// recorded: the platform gives the money back (beyond-seed: refunded through the provider).
pub fn check_confirmed_payment(state: HandlingState) -> Result<(), PaymentRefusal> {
    match state {
        HandlingState::Paid => Err(PaymentRefusal::AlreadyPaid),
        HandlingState::Reverted => Err(PaymentRefusal::WindowClosed),
        HandlingState::HandledUnpaid => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmed_money_is_recorded_only_while_the_handling_stands() {
        assert_eq!(
            check_confirmed_payment(HandlingState::HandledUnpaid),
            Ok(())
        );
        assert_eq!(
            check_confirmed_payment(HandlingState::Reverted),
            Err(PaymentRefusal::WindowClosed)
        );
        assert_eq!(
            check_confirmed_payment(HandlingState::Paid),
            Err(PaymentRefusal::AlreadyPaid)
        );
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clause_6_2_two_hour_deadline() {
        let w = PaymentWindow::starting(ts("2022-10-24T11:00:00+08:00"));
        assert_eq!(w.deadline, ts("2022-10-24T13:00:00+08:00"));
        assert!(w.is_open(ts("2022-10-24T12:59:59+08:00")));
        assert!(!w.is_open(ts("2022-10-24T13:00:00+08:00")));
        assert_eq!(
            revert_due(
                HandlingState::HandledUnpaid,
                w,
                ts("2022-10-24T13:00:00+08:00"),
                5,
                2
            ),
            Some(RevertRelease {
                released_points: 5,
                violations_pending_again: 2
            })
        );
        assert_eq!(
            revert_due(
                HandlingState::Paid,
                w,
                ts("2022-10-24T15:00:00+08:00"),
                5,
                2
            ),
            None
        );
        assert_eq!(
            revert_due(
                HandlingState::HandledUnpaid,
                w,
                ts("2022-10-24T12:00:00+08:00"),
                5,
                2
            ),
            None
        );
    }

    #[test]
    fn clause_6_3_never_paid_twice_and_6_7_closed_at_night() {
        let w = PaymentWindow::starting(ts("2022-10-24T21:00:00+08:00"));
        assert_eq!(
            check_payment(
                HandlingState::HandledUnpaid,
                w,
                ts("2022-10-24T21:30:00+08:00")
            ),
            Ok(())
        );
        assert_eq!(
            check_payment(
                HandlingState::HandledUnpaid,
                w,
                ts("2022-10-24T22:30:00+08:00")
            ),
            Err(PaymentRefusal::MaintenanceWindow)
        );
        assert_eq!(
            check_payment(HandlingState::Paid, w, ts("2022-10-24T21:30:00+08:00")),
            Err(PaymentRefusal::AlreadyPaid)
        );
        assert_eq!(
            check_payment(
                HandlingState::HandledUnpaid,
                w,
                ts("2022-10-24T23:00:00+08:00")
            ),
            Err(PaymentRefusal::WindowClosed)
        );
    }

    #[test]
    fn clause_7_1_amount_due_is_fine_plus_surcharge_and_a_zero_fee() {
        let one = AmountDue::new(Fen::from_yuan(200), Fen::from_yuan(6));
        assert_eq!(one.fee, Fen(0));
        assert_eq!(one.total(), Fen::from_yuan(206));
        let two: AmountDue = [one, AmountDue::new(Fen::from_yuan(50), Fen(0))]
            .into_iter()
            .sum();
        assert_eq!(
            (two.fine, two.surcharge, two.fee, two.total()),
            (Fen(250_00), Fen(6_00), Fen(0), Fen(256_00))
        );
        assert_eq!(
            std::iter::empty::<AmountDue>().sum::<AmountDue>().total(),
            Fen(0)
        );
    }

    #[test]
    fn a_configured_window_is_never_longer_than_two_hours() {
        let t = ts("2022-10-24T11:00:00+08:00");
        assert_eq!(
            PaymentWindow::with_length(t, SignedDuration::from_hours(5)).deadline,
            t + PAYMENT_WINDOW
        );
        assert_eq!(
            PaymentWindow::with_length(t, SignedDuration::from_mins(30)).deadline,
            ts("2022-10-24T11:30:00+08:00")
        );
    }
}
