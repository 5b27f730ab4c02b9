//! Notices the person must see before agreeing: the out-of-province fine standard (六.4), the
//! dispute path (六.1), where the decision document and the bank receipt are had (六.5), the
//! no-fee statement (七.1) and the lag warning (六.3, 七.2).

use super::{Clause, HOME_PROVINCE};

/// A notice with its clause, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub clause: Clause,
    pub zh: String,
    pub en: String,
}

/// 六.4: a violation from another province is handled under that province's fine standard.
pub fn out_of_province(province: char) -> Option<Notice> {
    (province != HOME_PROVINCE).then(|| Notice {
        clause: Clause::Seed("六.4"),
        zh: format!(
            "该违法发生在“{province}”，罚款金额以违法发生地的裁量标准为准，可能与在重庆本地处理的金额不一致。"
        ),
        en: format!(
            "This violation happened in {}: the fine follows that province's standard and may differ from Chongqing's.",
            crate::domain::english::province(province).unwrap_or("another province")
        ),
    })
}

/// 六.1: a disputed violation goes to the authority where it happened, not to self-service.
pub fn dispute(authority: &str, address: &str) -> Notice {
    Notice {
        clause: Clause::Seed("六.1"),
        zh: format!(
            "如对违法事实有异议，请向违法行为发生地公安机关交通管理部门提出，不要在本机处理：{authority}，地址：{address}。"
        ),
        en: format!(
            "If you dispute the facts, raise it with the traffic police where it happened, not here: {authority}, {address}."
        ),
    }
}

/// 六.5: where the penalty decision document and the bank's fine receipt can be had.
pub fn documents() -> Notice {
    Notice {
        clause: Clause::Seed("六.5"),
        zh: "如需处罚决定书，可持身份证、驾驶证至我市交巡警违法处理窗口打印（本机也可打印）；如需罚款票据，请到邮政储蓄银行重庆分行直属支行营业部（渝中区嘉陵桥西村83号，电话023-63613285）索取。".to_string(),
        en: "For the penalty decision document, bring your ID card and licence to a traffic police violation window (this kiosk can also print it); for the bank's fine receipt, visit the Postal Savings Bank Chongqing branch office (83 Jialingqiao Xicun, Yuzhong; 023-63613285).".to_string(),
    }
}

/// 七.1: no fee of any kind.
pub fn no_fee() -> Notice {
    Notice {
        clause: Clause::Seed("七.1"),
        zh: "自助处理交通违法不收取任何手续费或代办费（手续费：0.00元）。".to_string(),
        en: "No fee of any kind is charged for self-service (fee: 0.00 yuan).".to_string(),
    }
}

/// 六.3, 七.2: data lag; do not handle or pay twice.
pub fn data_lag() -> Notice {
    Notice {
        clause: Clause::Seed("六.3"),
        zh: "公安内网与互联网数据交换有延迟（一般不超过24小时），处理或缴款后短时间内可能仍显示未处理、未缴款，请勿重复操作。".to_string(),
        en: "Data between the police network and the internet lags (usually under 24 hours); a handled or paid violation may still show as pending for a while. Do not repeat the operation.".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_6_4_only_other_provinces_get_the_notice() {
        assert!(out_of_province('渝').is_none());
        let n = out_of_province('川').unwrap();
        assert_eq!(n.clause, Clause::Seed("六.4"));
        assert!(n.zh.contains("川"));
    }

    #[test]
    fn clause_6_1_dispute_names_the_authority_and_address() {
        let n = dispute("成都市公安局交通管理局", "成都市青羊区");
        assert!(n.zh.contains("成都市公安局交通管理局") && n.zh.contains("青羊区"));
        assert_eq!(n.clause.code(), "六.1");
    }

    #[test]
    fn clause_7_1_no_fee() {
        assert!(no_fee().zh.contains("0.00元"));
        assert_eq!(super::super::SERVICE_FEE.to_string(), "0.00元");
    }
}
