//! 机动车号牌 (GA 36): the formats the kiosk accepts, and a reason for everything else.

/// The provinces' abbreviations (GA 36), in the order of the standard.
pub const PROVINCES: &str = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新";

/// Which GA 36 layout a plate follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateKind {
    /// 普通号牌: province, authority letter, 5 letters/digits (渝A12345).
    Ordinary,
    /// 小型新能源: province, authority, `D`/`F`, a letter or digit, 4 digits (渝AD12345).
    NewEnergySmall,
    /// 大型新能源: province, authority, 5 digits, `D`/`F` (渝A12345D).
    NewEnergyLarge,
    /// 挂 学 警 港 澳 领 endings: province, authority, 4 letters/digits, the ending (渝A1234学).
    SpecialEnding(char),
    /// 使馆: 使 then 6 digits (使014578).
    Embassy,
}

/// A plate number whose layout was checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Plate(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlateError {
    #[error("号牌号码为空 / the plate is empty")]
    Empty,
    #[error("“{0}”不是省份简称 / “{0}” is not a province abbreviation")]
    Province(char),
    #[error("第二位应为发牌机关代号（字母）/ the second character must be the authority letter")]
    Authority,
    #[error("号牌长度不符：{0}个字符 / a plate of {0} characters fits no format")]
    Length(usize),
    #[error(
        "号牌序号只能由数字和字母（不含I、O）组成 / serial characters must be digits or letters other than I and O"
    )]
    Serial,
    #[error("新能源号牌格式不符 / not a valid new-energy plate")]
    NewEnergy,
    #[error("使馆号牌应为“使”加6位数字 / an embassy plate is 使 followed by 6 digits")]
    Embassy,
}

fn serial_char(c: char) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && c != 'I' && c != 'O')
}

impl Plate {
    pub fn parse(s: &str) -> Result<Self, PlateError> {
        // Separators people and systems write inside plates (渝A·12345, 渝A 12345) are dropped.
        let s: String = s
            .trim()
            .chars()
            .filter(|c| !matches!(c, '·' | '•' | '.' | ' ' | '-'))
            .collect::<String>()
            .to_uppercase();
        let chars: Vec<char> = s.chars().collect();
        let Some(&first) = chars.first() else {
            return Err(PlateError::Empty);
        };
        if first == '使' {
            return if chars.len() == 7 && chars[1..].iter().all(char::is_ascii_digit) {
                Ok(Plate(s))
            } else {
                Err(PlateError::Embassy)
            };
        }
        if !PROVINCES.contains(first) {
            return Err(PlateError::Province(first));
        }
        if chars.len() < 2 || !chars[1].is_ascii_uppercase() {
            return Err(PlateError::Authority);
        }
        let rest = &chars[2..];
        Self::kind_of_rest(rest)?;
        Ok(Plate(s))
    }

    fn kind_of_rest(rest: &[char]) -> Result<PlateKind, PlateError> {
        match rest.len() {
            5 => {
                if let Some(&end) = rest.last().filter(|c| "挂学警港澳领".contains(**c)) {
                    return if rest[..4].iter().all(|c| serial_char(*c)) {
                        Ok(PlateKind::SpecialEnding(end))
                    } else {
                        Err(PlateError::Serial)
                    };
                }
                if rest.iter().all(|c| serial_char(*c)) {
                    Ok(PlateKind::Ordinary)
                } else {
                    Err(PlateError::Serial)
                }
            }
            6 => {
                let de = |c: char| c == 'D' || c == 'F';
                if de(rest[0]) && serial_char(rest[1]) && rest[2..].iter().all(char::is_ascii_digit)
                {
                    Ok(PlateKind::NewEnergySmall)
                } else if rest[..5].iter().all(char::is_ascii_digit) && de(rest[5]) {
                    Ok(PlateKind::NewEnergyLarge)
                } else {
                    Err(PlateError::NewEnergy)
                }
            }
            n => Err(PlateError::Length(n + 2)),
        }
    }

    pub fn kind(&self) -> PlateKind {
        let chars: Vec<char> = self.0.chars().collect();
        if chars[0] == '使' {
            return PlateKind::Embassy;
        }
        Self::kind_of_rest(&chars[2..]).expect("validated")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The province abbreviation (None for embassy plates).
    pub fn province(&self) -> Option<char> {
        self.0.chars().next().filter(|c| PROVINCES.contains(*c))
    }
}

impl std::fmt::Display for Plate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Plate {
    /// A plate on the wire is checked like any other.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Plate::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for Plate {
    type Err = PlateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ga36_valid_plates_and_their_kinds() {
        let cases = [
            ("渝A12345", PlateKind::Ordinary),
            ("京BX7K29", PlateKind::Ordinary),
            ("渝AD12345", PlateKind::NewEnergySmall),
            ("沪AFK1234", PlateKind::NewEnergySmall),
            ("渝A12345D", PlateKind::NewEnergyLarge),
            ("粤B12345F", PlateKind::NewEnergyLarge),
            ("渝A1234学", PlateKind::SpecialEnding('学')),
            ("川A1234挂", PlateKind::SpecialEnding('挂')),
            ("渝A0001警", PlateKind::SpecialEnding('警')),
            ("粤Z1234港", PlateKind::SpecialEnding('港')),
            ("使014578", PlateKind::Embassy),
        ];
        for (s, kind) in cases {
            let p = Plate::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(p.kind(), kind, "{s}");
        }
        assert_eq!(Plate::parse("渝a12345").unwrap().as_str(), "渝A12345");
        assert_eq!(Plate::parse("渝A·12345").unwrap().as_str(), "渝A12345");
        assert_eq!(Plate::parse(" 渝A 12345 ").unwrap().as_str(), "渝A12345");
    }

    #[test]
    fn ga36_invalid_plates_say_why() {
        assert_eq!(Plate::parse(""), Err(PlateError::Empty));
        assert_eq!(Plate::parse("港A12345"), Err(PlateError::Province('港')));
        assert_eq!(Plate::parse("渝112345"), Err(PlateError::Authority));
        assert_eq!(Plate::parse("渝A1234"), Err(PlateError::Length(6)));
        assert_eq!(Plate::parse("渝A1234567"), Err(PlateError::Length(9)));
        assert_eq!(Plate::parse("渝A1234O"), Err(PlateError::Serial));
        assert_eq!(Plate::parse("渝AI2345"), Err(PlateError::Serial));
        assert_eq!(Plate::parse("渝AX12345"), Err(PlateError::NewEnergy));
        assert_eq!(Plate::parse("渝AD1234X"), Err(PlateError::NewEnergy));
        assert_eq!(Plate::parse("使01457"), Err(PlateError::Embassy));
        assert_eq!(Plate::parse("渝A123学4"), Err(PlateError::Serial));
    }
}
