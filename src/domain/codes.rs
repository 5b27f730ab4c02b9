//! GA code tables as data: each table is a list of (code, Chinese name), each type a validated
//! index into its table. Status fields are sets of one-letter codes.

use std::collections::BTreeSet;

/// An unknown code, with the table it was looked up in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{code}”不是有效的{table}代码 / “{code}” is not a {table} code")]
pub struct UnknownCode {
    pub table: &'static str,
    pub code: String,
}

macro_rules! code_table {
    ($(#[$m:meta])* $name:ident, $table:literal, [$(($code:literal, $zh:literal)),* $(,)?]) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u8);

        impl $name {
            /// The table: (code, Chinese name).
            pub const TABLE: &'static [(&'static str, &'static str)] = &[$(($code, $zh)),*];
            /// The table's Chinese title.
            pub const TITLE: &'static str = $table;

            pub fn parse(code: &str) -> Result<Self, UnknownCode> {
                Self::TABLE
                    .iter()
                    .position(|(c, _)| *c == code)
                    .map(|i| $name(i as u8))
                    .ok_or_else(|| UnknownCode { table: $table, code: code.to_string() })
            }
            pub fn code(self) -> &'static str {
                Self::TABLE[self.0 as usize].0
            }
            pub fn name_zh(self) -> &'static str {
                Self::TABLE[self.0 as usize].1
            }
            pub fn all() -> impl Iterator<Item = Self> {
                (0..Self::TABLE.len()).map(|i| $name(i as u8))
            }
        }

        impl CodeTable for $name {
            fn parse_code(code: &str) -> Result<Self, UnknownCode> {
                Self::parse(code)
            }
            fn code_str(self) -> &'static str {
                self.code()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({} {})", stringify!($name), self.code(), self.name_zh())
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name_zh())
            }
        }
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.code())
            }
        }
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_table!(
    /// 号牌种类 (GA 24.7).
    PlateType, "号牌种类", [
    ("01", "大型汽车"), ("02", "小型汽车"), ("03", "使馆汽车"), ("04", "领馆汽车"), ("05", "境外汽车"),
    ("06", "外籍汽车"), ("07", "普通摩托车"), ("08", "轻便摩托车"), ("09", "使馆摩托车"), ("10", "领馆摩托车"),
    ("11", "境外摩托车"), ("12", "外籍摩托车"), ("13", "低速车"), ("14", "拖拉机"), ("15", "挂车"),
    ("16", "教练汽车"), ("17", "教练摩托车"), ("18", "试验汽车"), ("19", "试验摩托车"), ("20", "临时入境汽车"),
    ("21", "临时入境摩托车"), ("22", "临时行驶车"), ("23", "警用汽车"), ("24", "警用摩托"), ("26", "香港入出境车"),
    ("27", "澳门入出境车"), ("51", "大型新能源汽车"), ("52", "小型新能源汽车"), ("99", "其他号牌"),
]);

code_table!(
    /// 使用性质.
    VehicleUse, "使用性质", [
    ("A", "非营运"), ("B", "公路客运"), ("C", "公交客运"), ("D", "出租客运"), ("E", "旅游客运"), ("F", "货运"),
    ("G", "租赁"), ("H", "警用"), ("I", "消防"), ("J", "救护"), ("K", "工程救险"), ("L", "营转非"), ("M", "出租转非"),
    ("N", "教练"), ("O", "幼儿校车"), ("P", "小学生校车"), ("Q", "初中生校车"), ("R", "危化品运输"),
    ("S", "中小学生校车"), ("T", "预约出租客运"), ("U", "预约出租转非"),
]);

code_table!(
    /// 机动车状态.
    VehicleStatus, "机动车状态", [
    ("A", "正常"), ("B", "转出"), ("C", "被盗抢"), ("D", "停驶"), ("E", "注销"), ("G", "违法未处理"),
    ("H", "海关监管"), ("I", "事故未处理"), ("J", "嫌疑车"), ("K", "查封"), ("L", "暂扣"), ("M", "强制注销"),
    ("N", "事故逃逸"), ("O", "锁定"), ("P", "达到报废标准公告牌证作废"), ("Q", "逾期未检验"),
]);

code_table!(
    /// 驾驶证状态.
    LicenceStatus, "驾驶证状态", [
    ("A", "正常"), ("B", "超分(记满12分)"), ("C", "转出"), ("D", "暂扣"), ("E", "撤销"), ("F", "吊销"),
    ("G", "注销"), ("H", "违法未处理"), ("I", "事故未处理"), ("J", "停止使用"), ("K", "扣押"), ("L", "锁定"),
    ("M", "逾期未换证"), ("N", "延期换证"), ("P", "延期体检"), ("R", "注销可恢复"), ("S", "逾期未审验"),
    ("T", "延期审验"), ("U", "扣留"), ("Z", "其他"),
]);

code_table!(
    /// 准驾车型.
    LicenceClass, "准驾车型", [
    ("A1", "大型客车"), ("A2", "牵引车"), ("A3", "城市公交车"), ("B1", "中型客车"), ("B2", "大型货车"),
    ("C1", "小型汽车"), ("C2", "小型自动挡汽车"), ("C3", "低速载货汽车"), ("C4", "三轮汽车"),
    ("C5", "残疾人专用小型自动挡载客汽车"), ("C6", "轻型牵引挂车"), ("D", "普通三轮摩托车"), ("E", "普通二轮摩托车"),
    ("F", "轻便摩托车"), ("M", "轮式自行机械车"), ("N", "无轨电车"), ("P", "有轨电车"),
]);

code_table!(
    /// 民族 (GB 3304), the 56 nations with their codes 01–56.
    Nation, "民族", [
    ("01", "汉"), ("02", "蒙古"), ("03", "回"), ("04", "藏"), ("05", "维吾尔"), ("06", "苗"), ("07", "彝"),
    ("08", "壮"), ("09", "布依"), ("10", "朝鲜"), ("11", "满"), ("12", "侗"), ("13", "瑶"), ("14", "白"),
    ("15", "土家"), ("16", "哈尼"), ("17", "哈萨克"), ("18", "傣"), ("19", "黎"), ("20", "傈僳"), ("21", "佤"),
    ("22", "畲"), ("23", "高山"), ("24", "拉祜"), ("25", "水"), ("26", "东乡"), ("27", "纳西"), ("28", "景颇"),
    ("29", "柯尔克孜"), ("30", "土"), ("31", "达斡尔"), ("32", "仫佬"), ("33", "羌"), ("34", "布朗"),
    ("35", "撒拉"), ("36", "毛南"), ("37", "仡佬"), ("38", "锡伯"), ("39", "阿昌"), ("40", "普米"),
    ("41", "塔吉克"), ("42", "怒"), ("43", "乌孜别克"), ("44", "俄罗斯"), ("45", "鄂温克"), ("46", "德昂"),
    ("47", "保安"), ("48", "裕固"), ("49", "京"), ("50", "塔塔尔"), ("51", "独龙"), ("52", "鄂伦春"),
    ("53", "赫哲"), ("54", "门巴"), ("55", "珞巴"), ("56", "基诺"),
]);

/// A set of one-letter status codes (a licence can be both `H` and `S`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StatusSet<T: Ord>(pub BTreeSet<T>);

impl<T: Ord> Default for StatusSet<T> {
    fn default() -> Self {
        StatusSet(BTreeSet::new())
    }
}

/// A GA code table's entry type.
pub trait CodeTable: Sized + Copy + Ord {
    fn parse_code(code: &str) -> Result<Self, UnknownCode>;
    fn code_str(self) -> &'static str;
}

impl<T: Ord + Copy> StatusSet<T> {
    pub fn contains(&self, t: T) -> bool {
        self.0.contains(&t)
    }
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.0.iter().copied()
    }
}

impl<T: Ord> FromIterator<T> for StatusSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        StatusSet(iter.into_iter().collect())
    }
}

impl<T: CodeTable> StatusSet<T> {
    /// Parse a list of codes, or a concatenated string of one-letter codes (`"HS"`).
    pub fn parse_codes<'a>(codes: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownCode> {
        let mut set = BTreeSet::new();
        for code in codes {
            if code.chars().count() > 1 && T::parse_code(code).is_err() {
                for ch in code.chars() {
                    set.insert(T::parse_code(&ch.to_string())?);
                }
            } else {
                set.insert(T::parse_code(code)?);
            }
        }
        Ok(StatusSet(set))
    }
    /// The codes concatenated, e.g. `"HS"` (how the store keeps them).
    pub fn to_codes(&self) -> String {
        self.0.iter().map(|c| c.code_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_their_sizes() {
        assert_eq!(Nation::all().count(), 56);
        assert_eq!(PlateType::all().count(), 29);
        assert_eq!(VehicleUse::all().count(), 21);
        assert_eq!(LicenceClass::all().count(), 17);
        assert_eq!(Nation::parse("05").unwrap().name_zh(), "维吾尔");
        assert_eq!(Nation::parse("56").unwrap().name_zh(), "基诺");
        assert!(Nation::parse("57").is_err());
        assert!(PlateType::parse("25").is_err());
        assert_eq!(PlateType::parse("52").unwrap().name_zh(), "小型新能源汽车");
    }

    #[test]
    fn status_sets_parse_lists_and_strings() {
        let s = StatusSet::<LicenceStatus>::parse_codes(["H", "S"]).unwrap();
        assert_eq!(s.to_codes(), "HS");
        let s2 = StatusSet::<LicenceStatus>::parse_codes(["HS"]).unwrap();
        assert_eq!(s, s2);
        let e = StatusSet::<VehicleStatus>::parse_codes(["F"]).unwrap_err();
        assert_eq!(e.table, "机动车状态");
    }
}
