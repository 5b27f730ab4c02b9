//! Every string the kiosk screen shows, in one table: zh-CN first, English second.
//! Rule texts (reasons, notices, refusals) come from `crate::rules` in both languages.

use crate::config::Language;
use crate::flow::ports::{
    BackendError, FaceOutcome, FeedbackTopic, FilingError, FilingStatus, PaperStatus, PayError,
    PrintOutcome,
};
use crate::flow::{Message, Service};
use crate::rules::filing::FilingMethod;
use crate::rules::maintenance::local_time;
use crate::rules::{Eligibility, Reason};

/// A key of the string table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum T {
    Title,
    Subtitle,
    Start,
    PlaceCard,
    PlaceCardHint,
    LanguageToggle,
    Back,
    Home,
    Exit,
    Continue,
    StillHere,
    IdleCountdown,
    Loading,
    /// A call has been outstanding for a while.
    PleaseWait,
    Unavailable,
    Offline,
    IdentityTitle,
    Name,
    IdNumber,
    CardType,
    NotRegistered,
    FaceTitle,
    FaceHint,
    FaceStart,
    FaceDemo,
    ServicesTitle,
    ServiceViolations,
    ServiceFiling,
    ServiceRegister,
    ServiceFeedback,
    ServiceDownloadApp,
    ServiceHelp,
    ChooseVehicleTitle,
    NoVehicles,
    Pending,
    RelationOwn,
    RelationFiled,
    RelationUnitFiled,
    RelationRental,
    RelationNone,
    ViolationsTitle,
    NoViolations,
    Fine,
    Points,
    Place,
    Time,
    Dispute,
    DisputeTitle,
    Close,
    Selected,
    Amount,
    Surcharge,
    Fee,
    Total,
    ToNotices,
    /// 待缴款: the vehicle's handled-but-unpaid decisions.
    UnpaidTitle,
    /// 去缴款.
    PayUnpaid,
    MaintenanceBanner,
    NoticesTitle,
    Agree,
    HandleNow,
    PaymentTitle,
    PaymentHint,
    PaymentDemo,
    PaidButton,
    PayBy,
    Decision,
    PrintingTitle,
    DoneTitle,
    DoneHint,
    /// The done screen when no receipt came out: the card only.
    DoneHintNoReceipt,
    /// After 退出 or the timeout, until the card is removed.
    TakeYourCard,
    /// Before paying, when the printer has no paper.
    PaperOutBeforePay,
    PrintFailed,
    FilingsTitle,
    NoFilings,
    FilingScan,
    FilingSms,
    Unfile,
    FilingScanHint,
    FilingPlateHint,
    SendCode,
    SubmitCode,
    CodeSentTo,
    CodeSentToManager,
    /// Registration: the code went to the number the person typed (shown masked after it).
    RegisterCodeSentTo,
    EnterCode,
    FilingConfirmTitle,
    Owner,
    ConfirmFiling,
    FilingSubmittedTitle,
    FilingSubmittedHint,
    StatusPendingReview,
    StatusApproved,
    MethodQr,
    MethodSms,
    MethodUnitSms,
    RegisterTitle,
    Phone,
    RegisterDone,
    FeedbackTitle,
    FeedbackSatisfied,
    FeedbackSlow,
    FeedbackHard,
    FeedbackWrongData,
    DownloadTitle,
    DownloadApp,
    DownloadWebsite,
    HelpTitle,
    HelpText,
    HelpPhones,
    ConsultationPhone,
    Backspace,
    Operator,
    OperatorPinTitle,
    OperatorTitle,
    OperatorTestPrint,
    OperatorReprint,
    OperatorRefresh,
    OperatorClose,
    DeviceReader,
    DeviceScanner,
    DevicePrinter,
    DevicePaper,
    DeviceOk,
    RecentErrors,
    NoErrors,
    LastPrint,
    ElderMode,
    StepCard,
    StepVerify,
    StepChoose,
    StepPay,
    StepReceipt,
    Finish,
    PointsUnit,
    CallStaff,
    StaffCalled,
    StaffCallSending,
    StaffCallFailed,
    StaffCallAgain,
    ClauseNote,
    NextStepTitle,
    NothingHandleable,
    ChangeVehicle,
    AgreeAndHandle,
    PayingAuto,
    /// The hall's English name when `kiosk.hall_name_en` is empty.
    HallFallback,
}

/// The text of `key` in `lang`.
pub fn tr(lang: Language, key: T) -> &'static str {
    let (zh, en) = pair(key);
    match lang {
        Language::ZhCn => zh,
        Language::En => en,
    }
}

/// Both languages of `key` (zh-CN, English).
pub fn pair(key: T) -> (&'static str, &'static str) {
    use T::*;
    match key {
        Title => ("交通违法自助处理终端", "Traffic Violation Self-Service"),
        Subtitle => (
            "处理交通违法 · 备案非本人机动车 · 注册 · 下载APP",
            "Handle violations · File another's vehicle · Register · Get the app",
        ),
        Start => ("开始办理", "Start"),
        PlaceCard => ("请放置身份证", "Place your ID card"),
        PlaceCardHint => (
            "请将居民身份证平放在下方读卡区，读卡期间请勿移动。",
            "Lay your resident ID card flat on the reader below and keep it still.",
        ),
        LanguageToggle => ("English", "中文"),
        Back => ("返回", "Back"),
        Home => ("首页", "Menu"),
        Exit => ("退出", "Finish"),
        Continue => ("继续", "Continue"),
        StillHere => ("我还在", "I'm still here"),
        IdleCountdown => (
            "长时间无操作，即将退出",
            "No activity: ending the session in",
        ),
        Loading => ("正在查询，请稍候…", "Looking up, please wait…"),
        PleaseWait => ("请稍候…", "Please wait…"),
        Offline => (
            "网络连接中断：暂时不能处理违法和缴款，请到交巡警窗口办理或稍后再试。",
            "The network is down: violations cannot be handled or paid here now. Please go to a traffic police counter or try again later.",
        ),
        Unavailable => (
            "暂时无法连接平台，您的信息未被改动。请稍后再试或到窗口办理。",
            "The platform cannot be reached; nothing was changed. Try later or go to a counter.",
        ),
        IdentityTitle => ("请核对您的身份信息", "Check your identity"),
        Name => ("姓名", "Name"),
        IdNumber => ("身份证号码", "ID number"),
        CardType => ("证件类型", "Card"),
        NotRegistered => (
            "您尚未注册交管12123，可在“注册”中完成注册。",
            "You are not registered on 12123 yet; use Register.",
        ),
        FaceTitle => ("人脸核验", "Face verification"),
        FaceHint => (
            "请正对屏幕上方的摄像头，保持面部无遮挡。",
            "Look at the camera above the screen, face uncovered.",
        ),
        FaceStart => ("开始核验", "Verify"),
        FaceDemo => (
            "演示模式：人脸核验为模拟实现，不采集图像。",
            "Demo mode: face verification is simulated; no image is taken.",
        ),
        ServicesTitle => ("请选择业务", "Choose a service"),
        ServiceViolations => ("处理交通违法", "Handle violations"),
        ServiceFiling => ("备案非本人机动车", "File another's vehicle"),
        ServiceRegister => ("注册", "Register"),
        ServiceFeedback => ("意见反馈", "Feedback"),
        ServiceDownloadApp => ("下载APP", "Get the app"),
        ServiceHelp => ("帮助", "Help"),
        ChooseVehicleTitle => ("请选择机动车", "Choose a vehicle"),
        NoVehicles => (
            "没有与您关联的机动车。可先“备案非本人机动车”。",
            "No vehicle is linked to you. You can file another's vehicle first.",
        ),
        Pending => ("未处理违法", "pending"),
        RelationOwn => ("本人名下", "own"),
        RelationFiled => ("已备案", "filed"),
        RelationUnitFiled => ("单位车辆备案", "unit, filed"),
        RelationRental => ("租赁", "rented"),
        RelationNone => ("无关联", "not related"),
        ViolationsTitle => ("未处理的交通违法", "Pending violations"),
        NoViolations => ("该车没有未处理的交通违法。", "No pending violations."),
        Fine => ("罚款", "Fine"),
        Points => ("记分", "Points"),
        Place => ("地点", "Place"),
        Time => ("时间", "Time"),
        Dispute => ("有异议", "Dispute"),
        DisputeTitle => ("对违法有异议", "Disputing a violation"),
        Close => ("关闭", "Close"),
        Selected => ("已选", "Selected"),
        Amount => ("罚款合计", "Fines"),
        Surcharge => ("加处罚款", "Late surcharge"),
        Fee => ("手续费", "Fee"),
        Total => ("应缴合计", "Total to pay"),
        ToNotices => ("下一步：业务须知", "Next: notices"),
        UnpaidTitle => ("待缴款", "Handled, awaiting payment"),
        PayUnpaid => ("去缴款", "Pay"),
        MaintenanceBanner => (
            "每天22:00至次日01:00为银行对账维护时间，暂停处理和缴款，可以查询。恢复时间：",
            "22:00–01:00 is the bank's reconciliation window: handling and payment are closed, look-ups are open. Reopens at",
        ),
        NoticesTitle => ("业务须知", "Before you agree"),
        Agree => ("我已阅读并同意以上须知", "I have read and agree"),
        HandleNow => ("确认处理", "Handle now"),
        PaymentTitle => ("请扫码缴款", "Scan to pay"),
        PaymentHint => (
            "请用手机银行或支付应用扫描二维码缴款。",
            "Scan the code with your banking or payment app.",
        ),
        PaymentDemo => (
            "演示模式：二维码为演示链接，不会产生真实扣款；本机约5秒后询问平台时，演示平台即视为已付款。",
            "Demo mode: the code is a demo link; no money moves. When the kiosk asks after about 5 s, the demo platform counts it as paid.",
        ),
        PaidButton => ("已完成支付", "I have paid"),
        PayBy => (
            "请在此时间前缴款，逾期处理将被退回（六.2）：",
            "Pay before this time or the handling is reverted (六.2):",
        ),
        Decision => ("决定书编号", "Decision no."),
        PrintingTitle => ("正在打印凭条…", "Printing your receipt…"),
        DoneTitle => ("缴款成功", "Paid"),
        DoneHint => (
            "请取走凭条和身份证。数据同步可能有延迟，请勿重复缴款。",
            "Take your receipt and ID card. Data may lag; do not pay again.",
        ),
        DoneHintNoReceipt => (
            "请取走身份证。数据同步可能有延迟，请勿重复缴款。",
            "Take your ID card. Data may lag; do not pay again.",
        ),
        TakeYourCard => ("请取走身份证。", "Please take your ID card."),
        PaperOutBeforePay => (
            "打印机缺纸，现在不能打印凭条。缴款仍然有效，凭条会保存，可请大厅工作人员补打。",
            "The printer is out of paper: no receipt can be printed now. The payment still counts; the receipt is kept and staff in the hall can reprint it.",
        ),
        PrintFailed => (
            "凭条未能打印，缴款已成功。凭条已保存，可请大厅工作人员补打。",
            "The receipt could not be printed; the payment succeeded. The receipt is kept: staff in the hall can reprint it.",
        ),
        FilingsTitle => ("我的备案", "My filings"),
        NoFilings => (
            "您还没有备案他人名下的机动车。",
            "You have not filed anyone's vehicle.",
        ),
        FilingScan => ("扫描车主二维码备案", "File by owner's QR code"),
        FilingSms => ("短信验证备案", "File by SMS code"),
        Unfile => ("解除备案", "Un-file"),
        FilingScanHint => (
            "请车主在交管12123中打开“机动车二维码”，对准下方扫码口。",
            "Ask the owner to open the vehicle QR code in 12123 and hold it to the scanner below.",
        ),
        FilingPlateHint => (
            "输入号牌号码（渝），验证码将发送给车主；单位车辆发送给管理人。",
            "Enter the plate after its province character; the code goes to the owner, or a unit's manager.",
        ),
        SendCode => ("发送验证码", "Send code"),
        SubmitCode => ("确定", "OK"),
        CodeSentTo => ("验证码已发送至车主手机", "Code sent to the owner's phone"),
        CodeSentToManager => (
            "验证码已发送至单位管理人手机",
            "Code sent to the unit manager's phone",
        ),
        RegisterCodeSentTo => ("验证码已发送至", "Code sent to"),
        EnterCode => (
            "请输入6位验证码，输完自动提交",
            "Enter the 6-digit code; it is checked once complete",
        ),
        FilingConfirmTitle => ("确认备案车辆", "Confirm the vehicle"),
        Owner => ("所有人", "Owner"),
        ConfirmFiling => ("确认并人脸核验", "Confirm and verify face"),
        FilingSubmittedTitle => ("备案申请已提交", "Filing submitted"),
        FilingSubmittedHint => (
            "备案申请已提交审核，审核通过后可处理该车备案后发生的交通违法。",
            "Your filing is under review; once approved you can handle this vehicle's violations after the filing date.",
        ),
        StatusPendingReview => ("待审核", "under review"),
        StatusApproved => ("已通过", "approved"),
        MethodQr => ("扫码备案", "QR code"),
        MethodSms => ("短信验证", "SMS code"),
        MethodUnitSms => ("单位管理人短信验证", "unit manager SMS"),
        RegisterTitle => ("注册交管12123", "Register on 12123"),
        Phone => ("手机号码", "Phone number"),
        RegisterDone => ("注册成功。", "Registered."),
        FeedbackTitle => ("意见反馈", "Feedback"),
        FeedbackSatisfied => ("满意", "Satisfied"),
        FeedbackSlow => ("速度慢或卡住", "Slow or stuck"),
        FeedbackHard => ("操作不便", "Hard to use"),
        FeedbackWrongData => ("信息有误", "Wrong data"),
        DownloadTitle => ("下载交管12123 APP", "Get the 12123 app"),
        DownloadApp => ("扫码下载APP", "Scan to download the app"),
        DownloadWebsite => ("重庆交管互联网服务平台", "Chongqing online platform"),
        HelpTitle => ("帮助", "Help"),
        HelpText => (
            "放置身份证后按屏幕提示操作。对违法事实有异议的，请到违法发生地交管部门处理（六.1）。自助处理不收取任何费用（七.1）。",
            "Place your ID card and follow the screen. To dispute a violation, go to the traffic police where it happened (六.1). Self-service is free of charge (七.1).",
        ),
        HelpPhones => ("本大厅咨询电话", "This hall's phone"),
        ConsultationPhone => (
            "处理中遇到问题，可在工作时间拨打互联网办理咨询电话",
            "A problem while handling? In working hours call the online service help line",
        ),
        Backspace => ("删除", "Delete"),
        Operator => ("运维", "Operator"),
        OperatorPinTitle => ("请输入运维密码", "Operator PIN"),
        OperatorTitle => ("运维界面", "Operator"),
        OperatorTestPrint => ("打印测试页", "Test print"),
        OperatorReprint => ("补打上一张凭条", "Reprint last receipt"),
        OperatorRefresh => ("刷新设备状态", "Refresh devices"),
        OperatorClose => ("关闭运维界面", "Close"),
        DeviceReader => ("身份证读卡器", "ID card reader"),
        DeviceScanner => ("扫码器", "QR scanner"),
        DevicePrinter => ("凭条打印机", "Receipt printer"),
        DevicePaper => ("纸张", "Paper"),
        DeviceOk => ("正常", "OK"),
        RecentErrors => ("最近错误", "Recent errors"),
        NoErrors => ("无", "none"),
        LastPrint => ("上次打印", "Last print"),
        ElderMode => ("长辈模式", "Elder mode"),
        StepCard => ("读卡", "Card"),
        StepVerify => ("核验", "Verify"),
        StepChoose => ("选择", "Choose"),
        StepPay => ("缴款", "Pay"),
        StepReceipt => ("凭条", "Receipt"),
        Finish => ("完成", "Done"),
        PointsUnit => ("分", " pt"),
        CallStaff => ("呼叫工作人员", "Call staff"),
        StaffCalled => (
            "已通知工作人员，请在此稍候",
            "Staff have been told: please wait here",
        ),
        StaffCallSending => ("正在呼叫工作人员…", "Calling staff…"),
        StaffCallFailed => (
            "呼叫未能送达，请到服务窗口求助",
            "The call did not get through: please go to the service window",
        ),
        StaffCallAgain => (
            "刚才已通知工作人员，请在此稍候",
            "Staff were already told a moment ago: please wait here",
        ),
        ClauseNote => ("依据", "Under"),
        NextStepTitle => ("下一步怎么办", "What to do next"),
        NothingHandleable => (
            "这些交通违法都不能在本机处理。请按下面的提示办理，或呼叫工作人员。",
            "None of these can be handled at this kiosk. Follow the advice below, or call staff.",
        ),
        ChangeVehicle => ("换一辆车", "Other vehicle"),
        AgreeAndHandle => ("【阅读并同意】", "Read and agree"),
        PayingAuto => (
            "付款后本机会自动确认，无需再点按钮；凭条自动打印。",
            "Once you have paid, the kiosk notices by itself and prints your receipt.",
        ),
        HallFallback => ("交通违法自助服务区", "Traffic police self-service area"),
    }
}

/// The label separator: `：` in Chinese, `: ` in English.
pub fn colon(lang: Language) -> &'static str {
    match lang {
        Language::ZhCn => "：",
        Language::En => ": ",
    }
}

/// A service's label.
pub fn service(lang: Language, s: Service) -> &'static str {
    tr(
        lang,
        match s {
            Service::Violations => T::ServiceViolations,
            Service::Filing => T::ServiceFiling,
            Service::Register => T::ServiceRegister,
            Service::Feedback => T::ServiceFeedback,
            Service::DownloadApp => T::ServiceDownloadApp,
            Service::Help => T::ServiceHelp,
        },
    )
}

/// 六.6: the online service's consultation phone (kiosk.toml `kiosk.consultation_phone`), shown
/// on the help and feedback screens.
pub fn consultation_line(lang: Language, phone: &str) -> String {
    match lang {
        Language::ZhCn => format!("{}：{phone}（六.6）", tr(lang, T::ConsultationPhone)),
        Language::En => format!("{}: {phone} (六.6)", tr(lang, T::ConsultationPhone)),
    }
}

pub fn feedback_topic(lang: Language, t: FeedbackTopic) -> &'static str {
    tr(
        lang,
        match t {
            FeedbackTopic::Satisfied => T::FeedbackSatisfied,
            FeedbackTopic::SlowOrStuck => T::FeedbackSlow,
            FeedbackTopic::HardToUse => T::FeedbackHard,
            FeedbackTopic::WrongData => T::FeedbackWrongData,
        },
    )
}

pub fn filing_status(lang: Language, s: FilingStatus) -> &'static str {
    tr(
        lang,
        match s {
            FilingStatus::PendingReview => T::StatusPendingReview,
            FilingStatus::Approved => T::StatusApproved,
        },
    )
}

pub fn filing_method(lang: Language, m: FilingMethod) -> &'static str {
    tr(
        lang,
        match m {
            FilingMethod::OwnerQr => T::MethodQr,
            FilingMethod::OwnerSms => T::MethodSms,
            FilingMethod::UnitManagerSms => T::MethodUnitSms,
        },
    )
}

pub fn paper(lang: Language, p: PaperStatus) -> &'static str {
    match (lang, p) {
        (Language::ZhCn, PaperStatus::Ok) => "正常",
        (Language::ZhCn, PaperStatus::Low) => "将尽",
        (Language::ZhCn, PaperStatus::Out) => "缺纸",
        (Language::En, PaperStatus::Ok) => "OK",
        (Language::En, PaperStatus::Low) => "low",
        (Language::En, PaperStatus::Out) => "out",
    }
}

pub fn print_outcome(lang: Language, p: &PrintOutcome) -> String {
    match (lang, p) {
        (Language::ZhCn, PrintOutcome::Printed) => "已打印".into(),
        (Language::ZhCn, PrintOutcome::OutOfPaper) => "缺纸，未打印".into(),
        (Language::ZhCn, PrintOutcome::Failed(why)) => format!("打印失败：{why}"),
        (Language::En, PrintOutcome::Printed) => "printed".into(),
        (Language::En, PrintOutcome::OutOfPaper) => "out of paper, not printed".into(),
        (Language::En, PrintOutcome::Failed(why)) => format!("print failed: {why}"),
    }
}

fn backend(lang: Language, e: &BackendError) -> String {
    let zh = lang == Language::ZhCn;
    match e {
        BackendError::NotRegistered | BackendError::NotFound if zh => {
            "平台未查到相关信息，请到窗口办理。".into()
        }
        BackendError::NotRegistered | BackendError::NotFound => {
            "The platform has no record of this; please go to a counter.".into()
        }
        BackendError::WrongCode {
            tries_left: Some(0),
        } if zh => "验证码已失效，请重新获取验证码。".into(),
        BackendError::WrongCode {
            tries_left: Some(0),
        } => "The code is no longer valid; request a new code.".into(),
        BackendError::WrongCode {
            tries_left: Some(n),
        } if zh => {
            format!("验证码错误，请重新输入（还可输入{n}次）。")
        }
        BackendError::WrongCode {
            tries_left: Some(n),
        } => {
            format!("The code is wrong; enter it again ({n} tries left).")
        }
        BackendError::WrongCode { tries_left: None } if zh => {
            "验证码错误或已失效，请重新输入。".into()
        }
        BackendError::WrongCode { tries_left: None } => {
            "The code is wrong or expired; enter it again.".into()
        }
        BackendError::TryLater { zh: m, .. } if zh => m.clone(),
        BackendError::TryLater { en, .. } => en.clone(),
        BackendError::Invalid(_) if zh => "输入有误，请检查后重试。".into(),
        BackendError::Invalid(_) => "The input is not valid; check and retry.".into(),
        BackendError::Unavailable(_) => tr(lang, T::Unavailable).into(),
        BackendError::Offline(_) => tr(lang, T::Offline).into(),
    }
}

/// The hall's name as configured: `kiosk.hall_name`, or `kiosk.hall_name_en` on an English
/// screen (a generic English name when that is empty).
pub fn hall_name(lang: Language, zh: &str, en: &str) -> String {
    match lang {
        Language::ZhCn => zh.to_string(),
        Language::En if en.trim().is_empty() => tr(lang, T::HallFallback).to_string(),
        Language::En => en.to_string(),
    }
}

/// An amount: `200.00元`, or `200.00 yuan` on an English screen.
pub fn money(lang: Language, f: crate::domain::Fen) -> String {
    let zh = f.to_string();
    match lang {
        Language::ZhCn => zh,
        Language::En => format!("{} yuan", zh.trim_end_matches('元')),
    }
}

/// A violation's description (违法行为) as the platform sends it, in English when the code
/// table (`domain::english`) knows it; else as received.
pub fn violation_kind(lang: Language, zh: &str) -> String {
    match lang {
        Language::En => {
            crate::domain::english::violation_kind(zh).map_or_else(|| zh.into(), Into::into)
        }
        Language::ZhCn => zh.to_string(),
    }
}

/// A place, an authority or an address from the platform, in English when its parts are known
/// (`domain::english::place`); else as received.
pub fn place(lang: Language, zh: &str) -> String {
    match lang {
        Language::En => crate::domain::english::place(zh).unwrap_or_else(|| zh.to_string()),
        Language::ZhCn => zh.to_string(),
    }
}

/// A seed clause code in English: 六.2 → §6.2 (the seed's articles are numbered 一 … 七).
pub fn clause_en(code: &str) -> String {
    english_clauses(code).into_owned()
}

fn chinese_numeral(c: char) -> Option<u32> {
    "一二三四五六七八九"
        .chars()
        .position(|d| d == c)
        .map(|i| i as u32 + 1)
}

/// Every seed clause code in an English text (`(六.2)`, `Under 四.1`) written `§6.2`; the rest
/// of the text unchanged.
pub fn english_clauses(text: &str) -> std::borrow::Cow<'_, str> {
    let chars: Vec<char> = text.chars().collect();
    let is_code = |i: usize| {
        chinese_numeral(chars[i]).is_some()
            && chars.get(i + 1) == Some(&'.')
            && chars.get(i + 2).is_some_and(char::is_ascii_digit)
    };
    if !(0..chars.len()).any(is_code) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in chars.iter().enumerate() {
        match chinese_numeral(*c) {
            Some(n) if is_code(i) => {
                out.push('§');
                out.push_str(&n.to_string());
            }
            _ => out.push(*c),
        }
    }
    out.into()
}

/// The source of a beyond-seed rule in English.
fn beyond_seed_en(source: &'static str) -> &'static str {
    match source {
        s if s.starts_with("记分管理办法(公安部令第163号)") => {
            "Measures on Scoring Traffic Violations (MPS Order 163), arts. 3 and 13"
        }
        s if s.starts_with("行政处罚法(2021)") => {
            "Administrative Penalty Law (2021) art. 72(1); Provisions on Handling Road Traffic Violations art. 60"
        }
        s if s.starts_with("道路交通安全法") => {
            "Road Traffic Safety Law art. 19; Measures on Scoring Traffic Violations art. 3"
        }
        _ => "national regulations",
    }
}

/// Chinese on a screen: CJK ideographs, CJK punctuation and full-width forms.
pub fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}') || is_ideograph(c)
}

fn is_ideograph(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2FFFF}')
}

/// The Chinese left in a text drawn on an English screen, besides the deliberately bilingual
/// items, which are exactly: the language toggle (中文, the way back); a plate's province
/// character (a GA 36 abbreviation followed by the plate's authority letter, 渝A8K2L6, or alone
/// with the letters typed so far in the plate entry, 渝A7U); and a masked personal name (a run
/// of ideographs holding a `*`: 李*红, 刘*). Empty when none is left.
pub fn chinese_left_in_english(text: &str) -> String {
    let text = text.trim();
    if text == tr(Language::En, T::LanguageToggle) {
        return String::new();
    }
    let chars: Vec<char> = text.chars().collect();
    let is_province = |c: char| crate::domain::plate::PROVINCES.contains(c);
    // The plate being typed: a province character and letters or digits.
    if chars.first().copied().is_some_and(is_province)
        && chars[1..].iter().all(char::is_ascii_alphanumeric)
    {
        return String::new();
    }
    let mut left = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if !is_cjk(c) {
            i += 1;
            continue;
        }
        if is_province(c) && chars.get(i + 1).is_some_and(char::is_ascii_uppercase) {
            i += 1;
            continue;
        }
        // A run of ideographs and `*`: a masked name when it holds a `*`.
        let mut j = i;
        while j < chars.len() && (chars[j] == '*' || is_ideograph(chars[j])) {
            j += 1;
        }
        let j = j.max(i + 1);
        let run = &chars[i..j];
        if !run.contains(&'*') {
            left.extend(run.iter().filter(|c| is_cjk(**c)));
        }
        i = j;
    }
    left
}

/// A clause in small print: 依据：四.1 / Under 四.1. Beyond-seed rules name their source, never
/// the internal word.
pub fn clause_note(lang: Language, code: &str) -> String {
    match lang {
        Language::ZhCn => format!("{}：{code}", tr(lang, T::ClauseNote)),
        Language::En => format!("{} {}", tr(lang, T::ClauseNote), clause_en(code)),
    }
}

fn clause_text(lang: Language, c: crate::rules::Clause) -> &'static str {
    match (lang, c) {
        (_, crate::rules::Clause::Seed(s)) => s,
        (Language::ZhCn, crate::rules::Clause::BeyondSeed(source)) => source,
        (Language::En, crate::rules::Clause::BeyondSeed(source)) => beyond_seed_en(source),
    }
}

/// A decision in plain words, without clause codes (those go in [`decision_clause`]).
pub fn decision_plain(lang: Language, d: &Eligibility) -> String {
    let zh = lang == Language::ZhCn;
    if d.eligible() {
        return if zh {
            format!("可以自助处理，处理后累积记分{}/12分", d.points_after)
        } else {
            format!(
                "Can be handled here; afterwards {}/12 points",
                d.points_after
            )
        };
    }
    let parts: Vec<&str> = d
        .reasons
        .iter()
        .map(|r| if zh { r.message_zh() } else { r.message_en() })
        .collect();
    if zh {
        format!("不能自助处理：{}", parts.join("；"))
    } else {
        format!("Cannot be handled here: {}", parts.join("; "))
    }
}

/// The clauses of a decision, in small print.
pub fn decision_clause(lang: Language, d: &Eligibility) -> String {
    let list: Vec<&str> = d
        .clauses()
        .into_iter()
        .map(|c| clause_text(lang, c))
        .collect();
    let sep = if lang == Language::ZhCn { "、" } else { "; " };
    clause_note(lang, &list.join(sep))
}

/// Where to go instead, for a refused violation: the 交巡警 window, the owner, the 12123 app,
/// the province where it happened.
pub fn next_step(lang: Language, r: Reason) -> &'static str {
    let zh = lang == Language::ZhCn;
    match r {
        Reason::MaintenanceWindow if zh => "请在01:00以后再来本机办理，或用交管12123 APP办理。",
        Reason::MaintenanceWindow => "Come back after 01:00, or use the 12123 app.",
        Reason::VehicleNotRelated | Reason::BeforeFiling | Reason::OutsideRentalPeriod if zh => {
            "请车主本人用交管12123 APP或到交巡警支队违法处理窗口处理；也可以先在本机“备案非本人机动车”。"
        }
        Reason::VehicleNotRelated | Reason::BeforeFiling | Reason::OutsideRentalPeriod => {
            "The owner can handle it in the 12123 app or at a traffic police violation window; you can also file the vehicle here first."
        }
        Reason::ProvinceNotOnline if zh => {
            "请到违法发生地的公安交通管理部门处理，或用该省的交管12123 APP办理。"
        }
        Reason::ProvinceNotOnline => {
            "Go to the traffic police where it happened, or use that province's 12123 app."
        }
        _ if zh => "请携带身份证、驾驶证到交巡警支队违法处理窗口办理。",
        _ => "Bring your ID card and driving licence to a traffic police violation window.",
    }
}

/// The time a closed service reopens, local (UTC+8).
pub fn local_hm(ts: jiff::Timestamp) -> String {
    local_time(ts).strftime("%H:%M").to_string()
}

/// Which of a handling's payment orders the QR is for (several decisions handled together).
pub fn payment_part(
    lang: Language,
    part: usize,
    parts: usize,
    amount: crate::domain::Fen,
) -> String {
    let amount = money(lang, amount);
    if lang == Language::ZhCn {
        format!("共{parts}笔，请扫码支付第{part}笔：{amount}")
    } else {
        format!("Payment {part} of {parts}: scan to pay {amount}")
    }
}

/// A flow message in words.
pub fn message(lang: Language, m: &Message) -> String {
    let zh = lang == Language::ZhCn;
    match m {
        Message::Backend(e) => backend(lang, e),
        Message::Filing(FilingError::Refused(r)) => {
            if zh {
                r.to_string()
            } else {
                r.message_en().into()
            }
        }
        Message::Filing(FilingError::TokenInvalid) if zh => {
            "二维码无效或已被篡改，请车主重新出示机动车二维码（三.2）。".into()
        }
        Message::Filing(FilingError::TokenInvalid) => {
            "The QR code is not valid or was altered; ask the owner to show it again (三.2).".into()
        }
        Message::Filing(FilingError::TokenExpired) if zh => {
            "二维码已过期，请车主刷新后重新出示（三.2）。".into()
        }
        Message::Filing(FilingError::TokenExpired) => {
            "The QR code has expired; ask the owner to refresh it (三.2).".into()
        }
        Message::Filing(FilingError::Backend(e)) => backend(lang, e),
        Message::PayRefused(r) | Message::Pay(PayError::Refused(r)) => {
            if zh {
                r.to_string()
            } else {
                match r {
                    crate::rules::payment::PaymentRefusal::AlreadyPaid => {
                        "This decision is already paid; do not pay again (六.3).".into()
                    }
                    crate::rules::payment::PaymentRefusal::WindowClosed => {
                        "The 2-hour payment window has passed; the handling was reverted (六.2)."
                            .into()
                    }
                    crate::rules::payment::PaymentRefusal::MaintenanceWindow => {
                        "22:00–01:00 is the bank's reconciliation window; payment is closed (六.7)."
                            .into()
                    }
                }
            }
        }
        Message::Pay(PayError::Backend(e)) => backend(lang, e),
        Message::Pay(PayError::NotYet(_)) if zh => "尚未收到支付，请用手机扫描二维码支付。".into(),
        Message::Pay(PayError::NotYet(_)) => {
            "The payment has not arrived yet; scan the QR code with your phone to pay.".into()
        }
        Message::Refused(decisions) => decisions
            .iter()
            .map(|d| format!("{}{}{}", d.violation, colon(lang), decision_plain(lang, d)))
            .collect::<Vec<_>>()
            .join("\n"),
        Message::Face(FaceOutcome::NoMatch) if zh => {
            "人脸与身份证不一致，请正对摄像头重试。".into()
        }
        Message::Face(FaceOutcome::NoMatch) => {
            "Your face does not match the card; look at the camera and retry.".into()
        }
        Message::Face(FaceOutcome::ServiceUnavailable) if zh => {
            "人脸核验服务暂时无应答，未能核验。请稍后重试，或呼叫工作人员。".into()
        }
        Message::Face(FaceOutcome::ServiceUnavailable) => {
            "The face verification service is not answering; nothing was verified. Retry later, or call staff.".into()
        }
        Message::Face(_) if zh => "摄像头暂不可用，请重试或到窗口办理。".into(),
        Message::Face(_) => "The camera is not available; retry or go to a counter.".into(),
        Message::Maintenance { reopens } => {
            format!("{} {}", tr(lang, T::MaintenanceBanner), local_hm(*reopens))
        }
        Message::WrongPin if zh => "密码错误。".into(),
        Message::WrongPin => "Wrong PIN.".into(),
        Message::PinWait { until } if zh => {
            format!("密码错误，请于 {} 后再试。", local_hm_s(*until))
        }
        Message::PinWait { until } => format!("Wrong PIN. Try again after {}.", local_hm_s(*until)),
        Message::PinLocked { until } if zh => format!(
            "连续 5 次密码错误，运维界面已锁定至 {}。",
            local_hm_s(*until)
        ),
        Message::PinLocked { until } => format!(
            "5 wrong PINs: the operator screen is locked until {}.",
            local_hm_s(*until)
        ),
        Message::BadEntry if zh => "号码或验证码格式不正确。".into(),
        Message::BadEntry => "The number or code is not well-formed.".into(),
        Message::NotAMobile if zh => "这不是手机号码（应为13–19开头的11位数字），请检查后重新输入。".into(),
        Message::NotAMobile => {
            "This is not a mobile number (11 digits starting 13–19); check and correct it.".into()
        }
        Message::NothingSelected if zh => "请先勾选要处理的违法。".into(),
        Message::NothingSelected => "Tick the violations to handle first.".into(),
        Message::NotAgreed if zh => "请先阅读并勾选同意业务须知。".into(),
        Message::NotAgreed => "Read and tick “I agree” first.".into(),
        Message::SessionTimedOut if zh => "长时间无操作，已退出并清除您的信息。".into(),
        Message::SessionTimedOut => {
            "Session ended after no activity; your data was cleared.".into()
        }
        Message::SessionEnded if zh => "已退出并清除您的信息。".into(),
        Message::SessionEnded => "Session ended and your data cleared.".into(),
        Message::ScanNotExpected if zh => "当前页面不需要扫码。".into(),
        Message::ScanNotExpected => "No scan is expected on this screen.".into(),
        Message::Unfiled if zh => "已解除备案。".into(),
        Message::Unfiled => "Un-filed.".into(),
        Message::FeedbackThanks if zh => "感谢您的反馈。".into(),
        Message::FeedbackThanks => "Thank you for your feedback.".into(),
        Message::FeedbackQueued if zh => "已保存，网络恢复后自动提交。".into(),
        Message::FeedbackQueued => {
            "Saved: it will be sent automatically when the network is back.".into()
        }
        Message::Offline => tr(lang, T::Offline).into(),
        Message::StaffCall(n) => tr(
            lang,
            match n {
                crate::flow::StaffCallNotice::Sending => T::StaffCallSending,
                crate::flow::StaffCallNotice::Delivered => T::StaffCalled,
                crate::flow::StaffCallNotice::NotDelivered => T::StaffCallFailed,
                crate::flow::StaffCallNotice::AlreadySent => T::StaffCallAgain,
            },
        )
        .into(),
    }
}

/// `HH:MM:SS` in UTC+8 (the PIN delay is seconds long).
fn local_hm_s(t: jiff::Timestamp) -> String {
    crate::rules::maintenance::local_time(t)
        .strftime("%H:%M:%S")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key, for the completeness tests.
    const ALL_KEYS: &[T] = {
        use T::*;
        &[
            Title,
            Subtitle,
            Start,
            PlaceCard,
            PlaceCardHint,
            LanguageToggle,
            Back,
            Home,
            Exit,
            Continue,
            StillHere,
            IdleCountdown,
            Loading,
            PleaseWait,
            Unavailable,
            Offline,
            IdentityTitle,
            Name,
            IdNumber,
            CardType,
            NotRegistered,
            FaceTitle,
            FaceHint,
            FaceStart,
            FaceDemo,
            ServicesTitle,
            ServiceViolations,
            ServiceFiling,
            ServiceRegister,
            ServiceFeedback,
            ServiceDownloadApp,
            ServiceHelp,
            ChooseVehicleTitle,
            NoVehicles,
            Pending,
            RelationOwn,
            RelationFiled,
            RelationUnitFiled,
            RelationRental,
            RelationNone,
            ViolationsTitle,
            NoViolations,
            Fine,
            Points,
            Place,
            Time,
            Dispute,
            DisputeTitle,
            Close,
            Selected,
            Amount,
            Surcharge,
            Fee,
            Total,
            ToNotices,
            UnpaidTitle,
            PayUnpaid,
            MaintenanceBanner,
            NoticesTitle,
            Agree,
            HandleNow,
            PaymentTitle,
            PaymentHint,
            PaymentDemo,
            PaidButton,
            PayBy,
            Decision,
            PrintingTitle,
            DoneTitle,
            DoneHint,
            DoneHintNoReceipt,
            TakeYourCard,
            PaperOutBeforePay,
            PrintFailed,
            FilingsTitle,
            NoFilings,
            FilingScan,
            FilingSms,
            Unfile,
            FilingScanHint,
            FilingPlateHint,
            SendCode,
            SubmitCode,
            CodeSentTo,
            CodeSentToManager,
            RegisterCodeSentTo,
            EnterCode,
            FilingConfirmTitle,
            Owner,
            ConfirmFiling,
            FilingSubmittedTitle,
            FilingSubmittedHint,
            StatusPendingReview,
            StatusApproved,
            MethodQr,
            MethodSms,
            MethodUnitSms,
            RegisterTitle,
            Phone,
            RegisterDone,
            FeedbackTitle,
            FeedbackSatisfied,
            FeedbackSlow,
            FeedbackHard,
            FeedbackWrongData,
            DownloadTitle,
            DownloadApp,
            DownloadWebsite,
            HelpTitle,
            HelpText,
            HelpPhones,
            ConsultationPhone,
            Backspace,
            Operator,
            OperatorPinTitle,
            OperatorTitle,
            OperatorTestPrint,
            OperatorReprint,
            OperatorRefresh,
            OperatorClose,
            DeviceReader,
            DeviceScanner,
            DevicePrinter,
            DevicePaper,
            DeviceOk,
            RecentErrors,
            NoErrors,
            LastPrint,
            ElderMode,
            StepCard,
            StepVerify,
            StepChoose,
            StepPay,
            StepReceipt,
            Finish,
            PointsUnit,
            CallStaff,
            StaffCalled,
            StaffCallSending,
            StaffCallFailed,
            StaffCallAgain,
            ClauseNote,
            NextStepTitle,
            NothingHandleable,
            ChangeVehicle,
            AgreeAndHandle,
            PayingAuto,
            HallFallback,
        ]
    };

    #[test]
    fn clause_6_6_consultation_phone_line_in_both_languages() {
        let c = crate::config::KioskConfig::embedded();
        assert_eq!(c.kiosk.consultation_phone, "023-68620626");
        let zh = consultation_line(Language::ZhCn, &c.kiosk.consultation_phone);
        let en = consultation_line(Language::En, &c.kiosk.consultation_phone);
        assert_eq!(
            zh,
            "处理中遇到问题，可在工作时间拨打互联网办理咨询电话：023-68620626（六.6）"
        );
        assert!(en.contains("023-68620626") && en.contains("六.6"), "{en}");
    }

    #[test]
    fn english_screens_keep_only_the_listed_chinese() {
        for ok in [
            "中文",
            "Pending violations  渝A8K2L6",
            "渝",
            "渝A7U",
            "李*红  5001**********0017",
            "Owner: 刘*",
            "Fine 200.00 yuan",
        ] {
            assert_eq!(chinese_left_in_english(ok), "", "{ok}");
        }
        assert_eq!(
            chinese_left_in_english("Place 重庆市沙坪坝区"),
            "重庆市沙坪坝区"
        );
        assert_eq!(chinese_left_in_english("Fine 200.00元"), "元");
        assert_eq!(chinese_left_in_english("Under 六.1"), "六");
        assert_eq!(chinese_left_in_english("a：b"), "：");
        assert_eq!(chinese_left_in_english("渝 road"), "渝");
        assert_eq!(chinese_left_in_english("中文 mode"), "中文");
    }

    #[test]
    fn english_units_clauses_and_hall() {
        use crate::domain::Fen;
        assert_eq!(money(Language::En, Fen(200_50)), "200.50 yuan");
        assert_eq!(money(Language::ZhCn, Fen(200_50)), "200.50元");
        assert_eq!(
            english_clauses("Pay by (六.2), under 四.1 and 七.1"),
            "Pay by (§6.2), under §4.1 and §7.1"
        );
        assert_eq!(clause_note(Language::En, "六.1"), "Under §6.1");
        assert_eq!(
            hall_name(Language::En, "大厅", ""),
            "Traffic police self-service area"
        );
        assert_eq!(hall_name(Language::En, "大厅", "Hall"), "Hall");
        assert_eq!(hall_name(Language::ZhCn, "大厅", "Hall"), "大厅");
        for key in ALL_KEYS {
            let en = english_clauses(pair(*key).1);
            assert_eq!(chinese_left_in_english(&en), "", "{key:?}: {en}");
        }
        for r in crate::rules::Reason::ALL {
            let en = english_clauses(next_step(Language::En, r));
            assert_eq!(chinese_left_in_english(&en), "", "{r:?}");
        }
    }

    /// Every key has text in both languages, and the Chinese differs from the English.
    #[test]
    fn every_key_has_both_languages() {
        for key in ALL_KEYS {
            let (zh, en) = pair(*key);
            assert!(!zh.is_empty() && !en.is_empty(), "{key:?}");
            assert_ne!(zh, en, "{key:?}");
            assert!(!zh.contains('¥') && !en.contains('¥'), "{key:?}");
        }
    }

    /// A wrong SMS code says the tries left; a burned one asks for a new code; a number that is
    /// not a mobile says what a mobile looks like. Both languages, no Chinese in the English.
    #[test]
    fn sms_code_messages_say_the_tries_left_in_both_languages() {
        let wrong = |n| Message::Backend(BackendError::WrongCode { tries_left: n });
        assert!(message(Language::ZhCn, &wrong(Some(3))).contains("还可输入3次"));
        assert!(message(Language::En, &wrong(Some(3))).contains("3 tries left"));
        assert!(message(Language::ZhCn, &wrong(Some(0))).contains("请重新获取验证码"));
        assert!(message(Language::En, &wrong(Some(0))).contains("request a new code"));
        assert!(message(Language::ZhCn, &Message::NotAMobile).contains("13–19"));
        assert!(message(Language::En, &Message::NotAMobile).contains("13–19"));
        for m in [
            wrong(Some(3)),
            wrong(Some(0)),
            wrong(None),
            Message::NotAMobile,
        ] {
            assert_eq!(
                chinese_left_in_english(&message(Language::En, &m)),
                "",
                "{m:?}"
            );
        }
    }

    /// Every character the kiosk may show is in the shipped CJK font subset.
    #[test]
    fn the_font_subset_covers_every_string() {
        let mut texts: Vec<String> = ALL_KEYS.iter().map(|k| pair(*k).0.to_string()).collect();
        for r in crate::rules::Reason::ALL {
            texts.push(r.message_zh().into());
        }
        texts.push(crate::rules::notices::documents().zh);
        texts.push(crate::rules::notices::data_lag().zh);
        texts.push(crate::rules::notices::no_fee().zh);
        texts.push(crate::rules::notices::out_of_province('川').unwrap().zh);
        // The SMS code's and the phone number's messages.
        for m in [
            Message::NotAMobile,
            Message::BadEntry,
            Message::Backend(BackendError::WrongCode {
                tries_left: Some(4),
            }),
            Message::Backend(BackendError::WrongCode {
                tries_left: Some(0),
            }),
            Message::Backend(BackendError::WrongCode { tries_left: None }),
        ] {
            texts.push(message(Language::ZhCn, &m));
        }
        let missing = crate::ui::fonts::missing_glyphs(texts.iter().map(String::as_str));
        assert!(missing.is_empty(), "missing glyphs: {missing:?}");
    }
}
