//! 公民身份号码 (GB 11643-1999): 6-digit division code, 8-digit birth date, 3-digit sequence
//! (odd = male), check character.

use jiff::civil::Date;
use zeroize::Zeroize;

/// A resident ID number whose structure, birth date and check character were verified.
/// Its `Display` and `Debug` are masked; [`IdNumber::expose`] gives the clear text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("身份证号码应为18位，实为{0}位 / an ID number has 18 characters, this one has {0}")]
    Length(usize),
    #[error(
        "身份证号码前17位应为数字，最后一位为数字或X / the first 17 characters must be digits, the last a digit or X"
    )]
    Characters,
    #[error("行政区划代码{0}无效 / division code {0} is not valid")]
    Division(String),
    #[error("出生日期{0}无效 / birth date {0} is not a real date")]
    BirthDate(String),
    #[error(
        "校验码应为{expected}，实为{found} / check character should be {expected}, found {found}"
    )]
    CheckCharacter { expected: char, found: char },
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The check character for the first 17 digits (which must be ASCII digits).
pub fn check_character(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] as char
}

impl IdNumber {
    /// Validate `s` (a lower-case `x` is accepted and stored upper-case).
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        let upper = s.to_ascii_uppercase();
        let b = upper.as_bytes();
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(IdNumberError::Characters);
        }
        let division = &upper[..6];
        // Province-level prefixes of GB/T 2260 (11..65, 71 Taiwan, 81 HK, 82 Macao).
        let province: u32 = division[..2].parse().unwrap_or(0);
        let valid_province = matches!(province, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82);
        if !valid_province {
            return Err(IdNumberError::Division(division.to_string()));
        }
        let birth = &upper[6..14];
        let y: i16 = birth[..4].parse().unwrap_or(0);
        let m: i8 = birth[4..6].parse().unwrap_or(0);
        let d: i8 = birth[6..8].parse().unwrap_or(0);
        if !(1850..=2100).contains(&y) || Date::new(y, m, d).is_err() {
            return Err(IdNumberError::BirthDate(birth.to_string()));
        }
        let expected = check_character(&upper[..17]);
        let found = b[17] as char;
        if expected != found {
            return Err(IdNumberError::CheckCharacter { expected, found });
        }
        Ok(IdNumber(upper))
    }

    /// Build a valid number from a division code, a birth date and a sequence (for synthetic data).
    pub fn synthesize(division: &str, birth: Date, sequence: u16) -> Result<Self, IdNumberError> {
        let first17 = format!(
            "{division}{}{:03}",
            birth.strftime("%Y%m%d"),
            sequence % 1000
        );
        let c = check_character(&first17);
        Self::parse(&format!("{first17}{c}"))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn division_code(&self) -> &str {
        &self.0[..6]
    }
    pub fn birth_date(&self) -> Date {
        let b = &self.0[6..14];
        Date::new(
            b[..4].parse().unwrap(),
            b[4..6].parse().unwrap(),
            b[6..8].parse().unwrap(),
        )
        .expect("validated")
    }
    /// Odd sequence digit: male.
    pub fn is_male(&self) -> bool {
        (self.0.as_bytes()[16] - b'0') % 2 == 1
    }
    /// `5001**********0017`, for screens other people can see and for logs.
    pub fn masked(&self) -> String {
        crate::privacy::mask_text(&self.0)
    }
}

impl Drop for IdNumber {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Display for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.masked())
    }
}

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl std::str::FromStr for IdNumber {
    type Err = IdNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb11643_valid_samples() {
        for s in [
            "500103199003070017",
            "50010619851120002X",
            "11010519491231002X",
            "440524188001010014",
        ] {
            let id = IdNumber::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(id.expose(), s);
        }
        assert!(
            IdNumber::parse("50010619851120002x").is_ok(),
            "lower-case x accepted"
        );
        let id = IdNumber::parse("500103199003070017").unwrap();
        assert!(id.is_male());
        assert_eq!(id.birth_date(), jiff::civil::date(1990, 3, 7));
        assert!(!IdNumber::parse("50010619851120002X").unwrap().is_male());
    }

    #[test]
    fn gb11643_invalid_samples_say_why() {
        assert_eq!(
            IdNumber::parse("50010319900307001"),
            Err(IdNumberError::Length(17))
        );
        assert_eq!(
            IdNumber::parse("5001031990030700A7"),
            Err(IdNumberError::Characters)
        );
        assert!(matches!(
            IdNumber::parse("990103199003070017"),
            Err(IdNumberError::Division(_))
        ));
        assert!(matches!(
            IdNumber::parse("500103199002300017"),
            Err(IdNumberError::BirthDate(_))
        ));
        assert_eq!(
            IdNumber::parse("500103199003070018"),
            Err(IdNumberError::CheckCharacter {
                expected: '7',
                found: '8'
            })
        );
    }

    #[test]
    fn synthesized_numbers_are_valid() {
        let id = IdNumber::synthesize("500106", jiff::civil::date(1985, 11, 20), 2).unwrap();
        assert_eq!(id.expose(), "50010619851120002X");
    }

    #[test]
    fn display_and_debug_are_masked() {
        let id = IdNumber::parse("500103199003070017").unwrap();
        assert!(!format!("{id} {id:?}").contains("199003"));
    }
}
