//! English names for the Chinese the platform sends: the demo city's violation kinds, Chongqing's
//! districts and roads, the provinces (by their plate abbreviation, GA 36), and the place and
//! authority names the platform composes from them. A name the tables do not know is `None`;
//! the caller decides what to show then (the screen shows the Chinese as received).
//!
//! The platform carries no violation code (违法代码) with a violation, only its description, so
//! the kinds are keyed by the description; when the store gains the code this table is keyed by
//! it instead.

/// The demo city's violation kinds (`store::demo`): description, English name.
pub const VIOLATION_KINDS: &[(&str, &str)] = &[
    (
        "机动车违反规定停放、临时停车",
        "Parking or stopping where not allowed",
    ),
    (
        "驾驶机动车不按导向车道行驶",
        "Not keeping to the lane for your direction",
    ),
    (
        "机动车违反禁止标线指示",
        "Disobeying prohibitory road markings",
    ),
    (
        "驾驶机动车违反道路交通信号灯通行",
        "Disobeying traffic lights",
    ),
    ("驾驶机动车超过规定时速未达20%", "Speeding by less than 20%"),
    ("驾驶人未按规定使用安全带", "Seat belt not worn"),
    ("驾驶机动车超过规定时速50%以上", "Speeding by 50% or more"),
    ("饮酒后驾驶机动车", "Driving after drinking alcohol"),
    ("机动车不按规定停放", "Parking where not allowed"),
];

/// A violation's description in English, when the table knows it.
pub fn violation_kind(zh: &str) -> Option<&'static str> {
    let zh = zh.trim().trim_end_matches('的');
    VIOLATION_KINDS
        .iter()
        .find(|(k, _)| *k == zh)
        .map(|(_, en)| *en)
}

/// Province abbreviations (GA 36, as on plates) and the province's English name.
pub const PROVINCES_EN: &[(char, &str)] = &[
    ('京', "Beijing"),
    ('津', "Tianjin"),
    ('冀', "Hebei"),
    ('晋', "Shanxi"),
    ('蒙', "Inner Mongolia"),
    ('辽', "Liaoning"),
    ('吉', "Jilin"),
    ('黑', "Heilongjiang"),
    ('沪', "Shanghai"),
    ('苏', "Jiangsu"),
    ('浙', "Zhejiang"),
    ('皖', "Anhui"),
    ('闽', "Fujian"),
    ('赣', "Jiangxi"),
    ('鲁', "Shandong"),
    ('豫', "Henan"),
    ('鄂', "Hubei"),
    ('湘', "Hunan"),
    ('粤', "Guangdong"),
    ('桂', "Guangxi"),
    ('琼', "Hainan"),
    ('渝', "Chongqing"),
    ('川', "Sichuan"),
    ('贵', "Guizhou"),
    ('云', "Yunnan"),
    ('藏', "Tibet"),
    ('陕', "Shaanxi"),
    ('甘', "Gansu"),
    ('青', "Qinghai"),
    ('宁', "Ningxia"),
    ('新', "Xinjiang"),
];

/// The province of a plate abbreviation, in English.
pub fn province(abbr: char) -> Option<&'static str> {
    PROVINCES_EN
        .iter()
        .find(|(c, _)| *c == abbr)
        .map(|(_, en)| *en)
}

/// Administrative areas, largest first in Chinese: provinces, cities, Chongqing's districts.
const AREAS: &[(&str, &str)] = &[
    ("四川省", "Sichuan"),
    ("贵州省", "Guizhou"),
    ("湖南省", "Hunan"),
    ("西藏自治区", "Tibet"),
    ("重庆市", "Chongqing"),
    ("成都市", "Chengdu"),
    ("贵阳市", "Guiyang"),
    ("长沙市", "Changsha"),
    ("拉萨市", "Lhasa"),
    ("万州区", "Wanzhou District"),
    ("涪陵区", "Fuling District"),
    ("渝中区", "Yuzhong District"),
    ("大渡口区", "Dadukou District"),
    ("江北区", "Jiangbei District"),
    ("沙坪坝区", "Shapingba District"),
    ("九龙坡区", "Jiulongpo District"),
    ("南岸区", "Nan'an District"),
    ("北碚区", "Beibei District"),
    ("綦江区", "Qijiang District"),
    ("大足区", "Dazu District"),
    ("渝北区", "Yubei District"),
    ("巴南区", "Banan District"),
    ("黔江区", "Qianjiang District"),
    ("长寿区", "Changshou District"),
    ("江津区", "Jiangjin District"),
    ("合川区", "Hechuan District"),
    ("永川区", "Yongchuan District"),
    ("南川区", "Nanchuan District"),
    ("璧山区", "Bishan District"),
    ("铜梁区", "Tongliang District"),
    ("潼南区", "Tongnan District"),
    ("荣昌区", "Rongchang District"),
    ("开州区", "Kaizhou District"),
    ("梁平区", "Liangping District"),
    ("武隆区", "Wulong District"),
];

/// Roads and places within an area.
const ROADS: &[(&str, &str)] = &[
    ("解放碑路口", "Jiefangbei junction"),
    ("嘉陵江大桥", "Jialing River Bridge"),
    ("内环快速路", "Inner Ring Expressway"),
    ("渝澳大道", "Yu'ao Avenue"),
    ("石桥铺立交", "Shiqiaopu interchange"),
    ("南坪转盘", "Nanping roundabout"),
    ("观音桥步行街", "Guanyinqiao Pedestrian Street"),
    ("大学城南路", "Daxuecheng South Road"),
    ("机场路", "Airport Road"),
    ("长江滨江路", "Yangtze Riverside Road"),
    ("练习路", "Practice Road"),
];

/// A place, an authority or an address the platform composed from an area and what is in it
/// (`重庆市沙坪坝区解放碑路口`, `重庆市公安局交通管理局沙坪坝区支队`,
/// `重庆市沙坪坝区交巡警支队违法处理窗口`, `四川省成都市某道路`, …), in English; `None` when
/// any part of it is unknown.
pub fn place(zh: &str) -> Option<String> {
    let mut rest = zh.trim();
    let mut areas: Vec<&str> = Vec::new();
    while let Some((k, en)) = AREAS.iter().find(|(k, _)| rest.starts_with(k)) {
        areas.push(en);
        rest = &rest[k.len()..];
    }
    if areas.is_empty() {
        return None;
    }
    let area = || areas.iter().rev().copied().collect::<Vec<_>>().join(", ");
    if rest.is_empty() {
        return Some(area());
    }
    if let Some((_, road)) = ROADS.iter().find(|(k, _)| *k == rest) {
        return Some(format!("{road}, {}", area()));
    }
    Some(match rest {
        "某道路" => format!("a road in {}", area()),
        "交巡警支队" => format!("Traffic Patrol Police Division, {}", area()),
        "交巡警支队违法处理窗口" => format!(
            "Violation handling window, Traffic Patrol Police Division, {}",
            area()
        ),
        "公安局交通警察支队" => {
            format!("Traffic Police Division, {} Public Security Bureau", area())
        }
        "公安局交通警察支队违法处理大厅" => format!(
            "Violation handling hall, Traffic Police Division, {} Public Security Bureau",
            area()
        ),
        _ => {
            // 公安局交通管理局 + a district + 支队: the district's division of the city's bureau.
            let division = rest
                .strip_prefix("公安局交通管理局")?
                .strip_suffix("支队")?;
            let (_, district) = AREAS.iter().find(|(k, _)| *k == division)?;
            format!(
                "{district} Division, Traffic Administration Bureau, {} Public Security Bureau",
                area()
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_authorities_and_addresses_of_the_demo_city() {
        assert_eq!(
            place("重庆市沙坪坝区解放碑路口").as_deref(),
            Some("Jiefangbei junction, Shapingba District, Chongqing")
        );
        assert_eq!(
            place("重庆市公安局交通管理局沙坪坝区支队").as_deref(),
            Some(
                "Shapingba District Division, Traffic Administration Bureau, Chongqing Public Security Bureau"
            )
        );
        assert_eq!(
            place("重庆市沙坪坝区交巡警支队违法处理窗口").as_deref(),
            Some(
                "Violation handling window, Traffic Patrol Police Division, Shapingba District, Chongqing"
            )
        );
        assert_eq!(
            place("四川省成都市某道路").as_deref(),
            Some("a road in Chengdu, Sichuan")
        );
        assert_eq!(
            place("成都市公安局交通警察支队").as_deref(),
            Some("Traffic Police Division, Chengdu Public Security Bureau")
        );
        assert_eq!(
            place("重庆市万州区").as_deref(),
            Some("Wanzhou District, Chongqing")
        );
        assert_eq!(place("北京市朝阳区某路"), None);
        assert_eq!(place("重庆市沙坪坝区不知道路"), None);
    }

    #[test]
    fn violation_kinds_and_provinces() {
        assert_eq!(
            violation_kind("机动车违反禁止标线指示的"),
            Some("Disobeying prohibitory road markings")
        );
        assert_eq!(violation_kind("不认识的违法"), None);
        assert_eq!(province('川'), Some("Sichuan"));
        // Every plate province has an English name.
        for c in super::super::plate::PROVINCES.chars() {
            assert!(province(c).is_some(), "{c}");
        }
        for (_, en) in VIOLATION_KINDS.iter().chain(AREAS).chain(ROADS) {
            assert!(en.is_ascii(), "{en}");
        }
    }
}
