//! The 256-byte text block (UCS-2 little-endian, padded with spaces) of a card read, and the card
//! type marker in byte 248.

use jiff::civil::Date;

use crate::domain::{CardType, Gender, IdCard, IdNumber, IdNumberError, Nation, Photo, ValidUntil};
use crate::privacy::Masked;

/// Length of the text block.
pub const TEXT_LEN: usize = 256;
/// Length of the WLT photo.
pub const PHOTO_LEN: usize = 1024;
/// Offset of the card type marker (`J`, `I`, `Y`; a space on a resident card).
pub const TYPE_OFFSET: usize = 248;

/// A field of the mainland layout: (name, offset, length in bytes).
#[derive(Debug, Clone, Copy)]
struct Field(&'static str, usize, usize);

const NAME: Field = Field("name", 0, 30);
const GENDER: Field = Field("gender", 30, 2);
const NATION: Field = Field("nation", 32, 4);
const BIRTH: Field = Field("birth_date", 36, 16);
const ADDRESS: Field = Field("address", 52, 70);
const ID_NUMBER: Field = Field("id_number", 122, 36);
const AUTHORITY: Field = Field("authority", 158, 30);
const VALID_FROM: Field = Field("valid_from", 188, 16);
const VALID_UNTIL: Field = Field("valid_until", 204, 16);

/// A text block that cannot be turned into a card, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the text block has {0} bytes, expected {TEXT_LEN}")]
    Length(usize),
    #[error("field {field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("身份证号码校验失败 / the ID number on the card fails its check: {0}")]
    IdNumber(IdNumberError),
    #[error(
        "放置的是{}，本机只能读取居民身份证和港澳台居民居住证 / a {} was placed; this kiosk reads resident ID cards and HK/Macao/Taiwan residence permits",
        .0.name_zh(), .0.name_en()
    )]
    Unsupported(CardType),
}

/// Which card the text block belongs to (byte 248).
pub fn card_type(text: &[u8]) -> CardType {
    match text.get(TYPE_OFFSET) {
        Some(b'J') => CardType::HkMoTwResidencePermit,
        Some(b'I') => CardType::ForeignPermanentResident2017,
        Some(b'Y') => CardType::ForeignPermanentResident2023,
        _ => CardType::Resident,
    }
}

fn ucs2(bytes: &[u8]) -> Result<String, String> {
    let units = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let s: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not UCS-2: {e}"))?;
    Ok(s.trim_end_matches([' ', '\0']).trim_start().to_string())
}

fn field(text: &[u8], f: Field) -> Result<String, TextError> {
    ucs2(&text[f.1..f.1 + f.2]).map_err(|reason| TextError::Field { field: f.0, reason })
}

fn date(text: &[u8], f: Field) -> Result<Date, TextError> {
    let s = field(text, f)?;
    parse_yyyymmdd(&s).ok_or_else(|| TextError::Field {
        field: f.0,
        reason: format!("“{s}” is not a YYYYMMDD date"),
    })
}

fn parse_yyyymmdd(s: &str) -> Option<Date> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Date::new(
        s[..4].parse().ok()?,
        s[4..6].parse().ok()?,
        s[6..].parse().ok()?,
    )
    .ok()
}

/// Parse a text block (and the photo that came with it) into a card. The ID number is checked
/// (GB 11643) before anything is trusted; foreigners' permanent residence cards are recognised
/// and refused with their type named.
pub fn parse_card(text: &[u8], photo: &[u8]) -> Result<IdCard, TextError> {
    if text.len() != TEXT_LEN {
        return Err(TextError::Length(text.len()));
    }
    let card_type = card_type(text);
    if matches!(
        card_type,
        CardType::ForeignPermanentResident2017 | CardType::ForeignPermanentResident2023
    ) {
        return Err(TextError::Unsupported(card_type));
    }
    let id_number = IdNumber::parse(&field(text, ID_NUMBER)?).map_err(TextError::IdNumber)?;
    let gender = match field(text, GENDER)?.as_str() {
        "1" => Gender::Male,
        "2" => Gender::Female,
        other => {
            return Err(TextError::Field {
                field: GENDER.0,
                reason: format!("“{other}” is neither 1 (male) nor 2 (female)"),
            });
        }
    };
    let nation_code = field(text, NATION)?;
    let nation = match (card_type, nation_code.as_str()) {
        // The residence permit has no nation.
        (CardType::HkMoTwResidencePermit, "") => None,
        (_, code) => Some(Nation::parse(code).map_err(|e| TextError::Field {
            field: NATION.0,
            reason: e.to_string(),
        })?),
    };
    let name = field(text, NAME)?;
    if name.is_empty() {
        return Err(TextError::Field {
            field: NAME.0,
            reason: "empty".into(),
        });
    }
    let valid_until = match field(text, VALID_UNTIL)?.as_str() {
        "长期" => ValidUntil::LongTerm,
        s => ValidUntil::Date(parse_yyyymmdd(s).ok_or_else(|| TextError::Field {
            field: VALID_UNTIL.0,
            reason: format!("“{s}” is neither YYYYMMDD nor 长期"),
        })?),
    };
    Ok(IdCard {
        card_type,
        name: Masked::new(name),
        gender,
        nation,
        birth_date: date(text, BIRTH)?,
        address: Masked::new(field(text, ADDRESS)?),
        id_number,
        authority: field(text, AUTHORITY)?,
        valid_from: date(text, VALID_FROM)?,
        valid_until,
        photo: Photo(photo.to_vec()),
    })
}

fn put(text: &mut [u8], f: Field, value: &str) {
    let units: Vec<u16> = value.encode_utf16().collect();
    let slot = &mut text[f.1..f.1 + f.2];
    for (i, pair) in slot.chunks_exact_mut(2).enumerate() {
        let u = units.get(i).copied().unwrap_or(u16::from(b' '));
        pair.copy_from_slice(&u.to_le_bytes());
    }
}

/// The text block a reader sends for `card` (the simulator's side). Values longer than their
/// field are cut, as on a real card.
pub fn encode_card(card: &IdCard) -> [u8; TEXT_LEN] {
    let mut text = [0u8; TEXT_LEN];
    for pair in text.chunks_exact_mut(2) {
        pair.copy_from_slice(&[b' ', 0]);
    }
    let ymd = |d: Date| d.strftime("%Y%m%d").to_string();
    put(&mut text, NAME, card.name.expose());
    put(
        &mut text,
        GENDER,
        match card.gender {
            Gender::Male => "1",
            Gender::Female => "2",
        },
    );
    put(&mut text, NATION, card.nation.map_or("", |n| n.code()));
    put(&mut text, BIRTH, &ymd(card.birth_date));
    put(&mut text, ADDRESS, card.address.expose());
    put(&mut text, ID_NUMBER, card.id_number.expose());
    put(&mut text, AUTHORITY, &card.authority);
    put(&mut text, VALID_FROM, &ymd(card.valid_from));
    let until = match card.valid_until {
        ValidUntil::Date(d) => ymd(d),
        ValidUntil::LongTerm => "长期".to_string(),
    };
    put(&mut text, VALID_UNTIL, &until);
    text[TYPE_OFFSET] = match card.card_type {
        CardType::Resident => b' ',
        CardType::HkMoTwResidencePermit => b'J',
        CardType::ForeignPermanentResident2017 => b'I',
        CardType::ForeignPermanentResident2023 => b'Y',
    };
    text
}

/// Decodes the WLT-compressed photo. The real decoder is the vendor's licensed library; the
/// kiosk works without one (the photo is then kept opaque and not shown).
pub trait PhotoDecoder {
    fn decode(&self, photo: &Photo) -> Result<image::RgbImage, PhotoError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("no licensed WLT decoder is installed; the photo is kept as opaque bytes")]
    NoDecoder,
    #[error("the photo could not be decoded: {0}")]
    Corrupt(String),
}

/// The decoder used when no vendor library is installed.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPhotoDecoder;

impl PhotoDecoder for NoPhotoDecoder {
    fn decode(&self, _photo: &Photo) -> Result<image::RgbImage, PhotoError> {
        Err(PhotoError::NoDecoder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> IdCard {
        super::super::sim::test_cards().remove(0)
    }

    #[test]
    fn text_block_round_trips_a_card() {
        let card = sample();
        let text = encode_card(&card);
        let back = parse_card(&text, &card.photo.0).unwrap();
        assert_eq!(back, card);
    }

    #[test]
    fn long_term_validity_is_read() {
        let mut card = sample();
        card.valid_until = ValidUntil::LongTerm;
        let back = parse_card(&encode_card(&card), &[]).unwrap();
        assert_eq!(back.valid_until, ValidUntil::LongTerm);
        assert_eq!(back.valid_until.to_string(), "长期");
    }

    #[test]
    fn card_type_marker_in_byte_248_is_recognised() {
        let table = [
            (b' ', CardType::Resident),
            (b'J', CardType::HkMoTwResidencePermit),
            (b'I', CardType::ForeignPermanentResident2017),
            (b'Y', CardType::ForeignPermanentResident2023),
        ];
        for (marker, expected) in table {
            let mut text = encode_card(&sample());
            text[TYPE_OFFSET] = marker;
            assert_eq!(card_type(&text), expected);
        }
    }

    #[test]
    fn foreigners_cards_are_refused_naming_their_type() {
        for marker in [b'I', b'Y'] {
            let mut text = encode_card(&sample());
            text[TYPE_OFFSET] = marker;
            let err = parse_card(&text, &[]).unwrap_err();
            assert!(matches!(err, TextError::Unsupported(_)));
            assert!(err.to_string().contains("外国人永久居留身份证"), "{err}");
        }
    }

    #[test]
    fn residence_permit_is_read_with_its_type_and_no_nation() {
        let mut card = sample();
        card.card_type = CardType::HkMoTwResidencePermit;
        card.nation = None;
        let birth = jiff::civil::date(1994, 8, 23);
        card.id_number = IdNumber::synthesize("810000", birth, 2).unwrap();
        let back = parse_card(&encode_card(&card), &[]).unwrap();
        assert_eq!(back.card_type, CardType::HkMoTwResidencePermit);
        assert_eq!(back.nation, None);
    }

    #[test]
    fn bad_fields_are_named() {
        let cases: [(&str, Field, &str); 6] = [
            ("id_number", ID_NUMBER, "500106198511200021"),
            ("gender", GENDER, "3"),
            ("nation", NATION, "99"),
            ("birth_date", BIRTH, "19851320"),
            ("valid_until", VALID_UNTIL, "永久"),
            ("name", NAME, ""),
        ];
        for (name, f, value) in cases {
            let mut text = encode_card(&sample());
            put(&mut text, f, value);
            let err = parse_card(&text, &[]).unwrap_err();
            let message = err.to_string();
            let named = message.contains(name) || matches!(err, TextError::IdNumber(_));
            assert!(named, "{name}: {message}");
        }
    }

    #[test]
    fn a_short_text_block_is_an_error() {
        assert_eq!(parse_card(&[0; 100], &[]), Err(TextError::Length(100)));
    }

    #[test]
    fn lone_surrogates_are_an_error_not_a_panic() {
        let mut text = encode_card(&sample());
        text[0] = 0x00;
        text[1] = 0xD8;
        assert!(matches!(
            parse_card(&text, &[]),
            Err(TextError::Field { field: "name", .. })
        ));
    }

    #[test]
    fn without_a_vendor_decoder_the_photo_stays_opaque() {
        assert_eq!(
            NoPhotoDecoder.decode(&sample().photo),
            Err(PhotoError::NoDecoder)
        );
    }
}
