//! What an ID card reader hands over: the card's type and, for a mainland resident card, its
//! typed fields. Personal fields are masked in `Debug` and wiped when the card is dropped.

use jiff::civil::Date;
use zeroize::Zeroize;

use super::{IdNumber, Nation};
use crate::privacy::Masked;

/// Which card was placed on the reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardType {
    /// 居民身份证 (mainland resident ID card).
    Resident,
    /// 港澳台居民居住证 (byte 248 = `J`).
    HkMoTwResidencePermit,
    /// 外国人永久居留身份证, 2017 version (byte 248 = `I`).
    ForeignPermanentResident2017,
    /// 外国人永久居留身份证, 2023 version (byte 248 = `Y`).
    ForeignPermanentResident2023,
}

impl CardType {
    pub fn name_zh(self) -> &'static str {
        match self {
            CardType::Resident => "居民身份证",
            CardType::HkMoTwResidencePermit => "港澳台居民居住证",
            CardType::ForeignPermanentResident2017 => "外国人永久居留身份证（2017版）",
            CardType::ForeignPermanentResident2023 => "外国人永久居留身份证（2023版）",
        }
    }
    pub fn name_en(self) -> &'static str {
        match self {
            CardType::Resident => "resident ID card",
            CardType::HkMoTwResidencePermit => "Hong Kong/Macao/Taiwan residence permit",
            CardType::ForeignPermanentResident2017 => "foreigner's permanent residence card (2017)",
            CardType::ForeignPermanentResident2023 => "foreigner's permanent residence card (2023)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub fn name_zh(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }
}

/// A card's end of validity: a date or 长期 (long-term).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidUntil {
    Date(Date),
    LongTerm,
}

impl std::fmt::Display for ValidUntil {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ValidUntil::Date(d) => write!(f, "{}", d.strftime("%Y-%m-%d")),
            ValidUntil::LongTerm => f.write_str("长期"),
        }
    }
}

/// A card read from the reader. For non-resident card types the mainland fields hold what the
/// layout shares (name, dates, number) as far as it was parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCard {
    pub card_type: CardType,
    pub name: Masked<String>,
    pub gender: Gender,
    pub nation: Option<Nation>,
    pub birth_date: Date,
    pub address: Masked<String>,
    pub id_number: IdNumber,
    pub authority: String,
    pub valid_from: Date,
    pub valid_until: ValidUntil,
    /// The WLT-compressed photo, opaque (decoding needs the vendor's licensed decoder).
    pub photo: Photo,
}

/// Opaque photo bytes, wiped on drop, never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Photo(pub Vec<u8>);

impl Drop for Photo {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Photo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Photo({} bytes)", self.0.len())
    }
}

impl std::fmt::Debug for IdCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCard")
            .field("card_type", &self.card_type)
            .field("name", &self.name.to_string())
            .field("id_number", &self.id_number)
            .finish_non_exhaustive()
    }
}
