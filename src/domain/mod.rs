//! Validated domain types: resident ID numbers (GB 11643), plates (GA 36) and the GA code tables.
//! Constructors refuse bad input with a reason; a value of these types is always valid.

pub mod card;
pub mod codes;
pub mod id_number;
pub mod plate;
pub mod receipt;

pub use card::{CardType, Gender, IdCard, Photo, ValidUntil};
pub use codes::{
    CodeTable, LicenceClass, LicenceStatus, Nation, PlateType, StatusSet, VehicleStatus, VehicleUse,
};
pub use id_number::{IdNumber, IdNumberError};
pub use plate::{Plate, PlateError, PlateKind};
pub use receipt::{PrintJob, Receipt};

/// A sum of money in fen (分, 1/100 yuan). Never a float.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Fen(pub i64);

impl Fen {
    pub fn from_yuan(yuan: i64) -> Self {
        Fen(yuan * 100)
    }
}

impl std::fmt::Display for Fen {
    /// `200.00元` — the printer-safe form (devices.md: never the half-width ¥).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}元", a / 100, a % 100)
    }
}
