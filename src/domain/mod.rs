//! Validated domain types: resident ID numbers (GB 11643), plates (GA 36) and the GA code tables.
//! Constructors refuse bad input with a reason; a value of these types is always valid.

pub mod card;
pub mod codes;
pub mod english;
pub mod id_number;
pub mod phone;
pub mod plate;
pub mod receipt;
pub mod receipt_code;
pub mod staff_call;

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
    pub const ZERO: Fen = Fen(0);

    pub fn from_yuan(yuan: i64) -> Self {
        Fen(yuan * 100)
    }

    /// The amount in fen, for the edges that store or send a number (database, JSON, QR codes).
    pub fn as_fen(self) -> i64 {
        self.0
    }

    /// `percent` % of this amount, rounded half up to the fen; saturates instead of overflowing.
    /// (A late-payment surcharge is `fine.percent(3 × days)`.)
    pub fn percent(self, percent: i64) -> Fen {
        Fen(self
            .0
            .saturating_mul(percent)
            .saturating_add(50)
            .div_euclid(100))
    }
}

impl std::ops::Add for Fen {
    type Output = Fen;
    fn add(self, rhs: Fen) -> Fen {
        Fen(self.0 + rhs.0)
    }
}

impl std::ops::AddAssign for Fen {
    fn add_assign(&mut self, rhs: Fen) {
        self.0 += rhs.0;
    }
}

impl std::ops::Sub for Fen {
    type Output = Fen;
    fn sub(self, rhs: Fen) -> Fen {
        Fen(self.0 - rhs.0)
    }
}

impl std::iter::Sum for Fen {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Fen {
        iter.fold(Fen::ZERO, |a, b| a + b)
    }
}

impl<'a> std::iter::Sum<&'a Fen> for Fen {
    fn sum<I: Iterator<Item = &'a Fen>>(iter: I) -> Fen {
        iter.copied().sum()
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

#[cfg(test)]
mod fen_tests {
    use super::Fen;

    #[test]
    fn fen_adds_sums_and_takes_percentages_rounding_half_up() {
        assert_eq!(Fen(1_50) + Fen(50), Fen(2_00));
        assert_eq!(Fen(2_00) - Fen(50), Fen(1_50));
        let mut f = Fen::ZERO;
        f += Fen(7);
        assert_eq!(f, Fen(7));
        assert_eq!([Fen(1), Fen(2), Fen(3)].iter().sum::<Fen>(), Fen(6));
        assert_eq!(vec![Fen(1), Fen(2)].into_iter().sum::<Fen>(), Fen(3));
        // 3 % of 50.00 is 1.50; 3 % of 0.50 is 0.015, rounded half up to 0.02.
        assert_eq!(Fen::from_yuan(50).percent(3), Fen(1_50));
        assert_eq!(Fen(50).percent(3), Fen(2));
        assert_eq!(Fen(49).percent(3), Fen(1));
        // Never overflows.
        assert_eq!(Fen(i64::MAX).percent(300), Fen(i64::MAX / 100));
        assert_eq!(Fen(123).as_fen(), 123);
    }
}
