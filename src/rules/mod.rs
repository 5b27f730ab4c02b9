//! The rule core: pure functions over plain data. No clock, file, database, device or async here;
//! the caller passes `now` and the policy. Every decision carries the clause of the seed
//! (`../shared/seed`, Chongqing's guide) that produced it, or `beyond-seed` with its article.

pub mod clause;
pub mod cycle;
pub mod eligibility;
pub mod filing;
pub mod maintenance;
pub mod notices;
pub mod payment;
pub mod policy;
pub mod surcharge;

pub use clause::Clause;
pub use eligibility::{
    DriverFacts, Eligibility, EligibilityRequest, Penalty, Reason, RecordedBy, Relation,
    RentalPeriod, VehicleFacts, ViolationFacts, decide, decide_each_alone,
};
pub use policy::{Policy, PolicyBook};

/// 七.1: no fee of any kind; every receipt shows it as 0.00.
pub const SERVICE_FEE: crate::domain::Fen = crate::domain::Fen(0);

/// The points at which a licence is full (记满12分), 四.3.
pub const FULL_POINTS: u32 = 12;

/// The home province of this platform (Chongqing).
pub const HOME_PROVINCE: char = '渝';

#[cfg(test)]
mod tests;
