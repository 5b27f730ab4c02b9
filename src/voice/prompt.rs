//! What the kiosk says on each step, in both languages, and which prompt a state calls for.
//! Pure: the app asks [`Prompter`] on every frame and speaks only when the answer changes, so a
//! new screen speaks once, never every frame.

use crate::config::Language;
use crate::flow::ports::PrintOutcome;
use crate::flow::{AttractPage, FacePurpose, FilingEntry, Screen, State};

/// A spoken prompt. Its [`Prompt::name`] names its recorded file (`assets/voice/<name>.wav`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// 请将身份证放在感应区.
    PlaceCard,
    /// 请核对信息.
    CheckInfo,
    /// 请看摄像头.
    LookAtCamera,
    /// 请选择业务.
    ChooseService,
    /// 请选择机动车.
    ChooseVehicle,
    /// 请选择要处理的违法.
    ChooseViolations,
    /// 请阅读并同意.
    ReadAndAgree,
    /// 请扫码缴款.
    ScanToPay,
    /// 正在打印凭条，请稍候.
    Printing,
    /// 请取走凭条和身份证.
    TakeReceiptAndCard,
    /// 请取走身份证.
    TakeCard,
    /// 请将车主的机动车二维码对准扫码口.
    ScanOwnerQr,
    /// 请输入号码.
    EnterNumber,
}

impl Prompt {
    pub const ALL: [Prompt; 13] = [
        Prompt::PlaceCard,
        Prompt::CheckInfo,
        Prompt::LookAtCamera,
        Prompt::ChooseService,
        Prompt::ChooseVehicle,
        Prompt::ChooseViolations,
        Prompt::ReadAndAgree,
        Prompt::ScanToPay,
        Prompt::Printing,
        Prompt::TakeReceiptAndCard,
        Prompt::TakeCard,
        Prompt::ScanOwnerQr,
        Prompt::EnterNumber,
    ];

    /// The file name of its recording, without `.wav` (`.en.wav` for English).
    pub fn name(self) -> &'static str {
        match self {
            Prompt::PlaceCard => "place_card",
            Prompt::CheckInfo => "check_info",
            Prompt::LookAtCamera => "look_at_camera",
            Prompt::ChooseService => "choose_service",
            Prompt::ChooseVehicle => "choose_vehicle",
            Prompt::ChooseViolations => "choose_violations",
            Prompt::ReadAndAgree => "read_and_agree",
            Prompt::ScanToPay => "scan_to_pay",
            Prompt::Printing => "printing",
            Prompt::TakeReceiptAndCard => "take_receipt_and_card",
            Prompt::TakeCard => "take_card",
            Prompt::ScanOwnerQr => "scan_owner_qr",
            Prompt::EnterNumber => "enter_number",
        }
    }

    /// What is said, in `lang`.
    pub fn text(self, lang: Language) -> &'static str {
        let (zh, en) = match self {
            Prompt::PlaceCard => (
                "请将身份证放在感应区",
                "Please place your ID card on the reader.",
            ),
            Prompt::CheckInfo => ("请核对信息", "Please check your information."),
            Prompt::LookAtCamera => ("请看摄像头", "Please look at the camera."),
            Prompt::ChooseService => ("请选择业务", "Please choose a service."),
            Prompt::ChooseVehicle => ("请选择机动车", "Please choose a vehicle."),
            Prompt::ChooseViolations => (
                "请选择要处理的违法",
                "Please choose the violations to handle.",
            ),
            Prompt::ReadAndAgree => ("请阅读并同意", "Please read and agree."),
            Prompt::ScanToPay => ("请扫码缴款", "Please scan the code to pay."),
            Prompt::Printing => (
                "正在打印凭条，请稍候",
                "Printing your receipt, please wait.",
            ),
            Prompt::TakeReceiptAndCard => (
                "请取走凭条和身份证",
                "Please take your receipt and your ID card.",
            ),
            Prompt::TakeCard => ("请取走身份证", "Please take your ID card."),
            Prompt::ScanOwnerQr => (
                "请将车主的机动车二维码对准扫码口",
                "Please hold the owner's vehicle QR code to the scanner.",
            ),
            Prompt::EnterNumber => ("请输入号码", "Please enter the number."),
        };
        match lang {
            Language::ZhCn => zh,
            Language::En => en,
        }
    }
}

/// The prompt `state` calls for, if any. The attract screen itself, lists, forms and the operator
/// screen are silent; a session that ended with the card on the reader asks for it.
pub fn prompt_of(state: &State) -> Option<Prompt> {
    match state {
        State::Operator { .. } => None,
        State::Attract { ctx, page } => match page {
            _ if ctx.card_left => Some(Prompt::TakeCard),
            AttractPage::PlaceCard => Some(Prompt::PlaceCard),
            _ => None,
        },
        State::Session { session, .. } => match &session.screen {
            Screen::Identity | Screen::FilingConfirm(_) => Some(Prompt::CheckInfo),
            Screen::Face {
                purpose: FacePurpose::Login | FacePurpose::Filing(_),
                ..
            } => Some(Prompt::LookAtCamera),
            Screen::Services => Some(Prompt::ChooseService),
            Screen::ChooseVehicle => Some(Prompt::ChooseVehicle),
            Screen::Violations(_) => Some(Prompt::ChooseViolations),
            Screen::Notices { .. } => Some(Prompt::ReadAndAgree),
            Screen::Payment { .. } => Some(Prompt::ScanToPay),
            Screen::Printing { .. } => Some(Prompt::Printing),
            Screen::Done { printed, .. } if *printed == PrintOutcome::Printed => {
                Some(Prompt::TakeReceiptAndCard)
            }
            Screen::Done { .. } => Some(Prompt::TakeCard),
            Screen::FilingEntry(FilingEntry::Scan) => Some(Prompt::ScanOwnerQr),
            Screen::FilingEntry(FilingEntry::Sms { .. }) | Screen::Register { done: false, .. } => {
                Some(Prompt::EnterNumber)
            }
            _ => None,
        },
    }
}

/// Decides, frame by frame, when to speak: only when the prompt the state calls for (or the
/// language) changes. A screen that stays up, or changes within the same step (a tick, a typed
/// digit), says nothing more.
#[derive(Debug, Default)]
pub struct Prompter {
    last: Option<(Prompt, Language)>,
}

impl Prompter {
    /// The prompt to say now, if any.
    pub fn on_frame(&mut self, state: &State) -> Option<(Prompt, Language)> {
        let now = prompt_of(state).map(|p| (p, state.ctx().lang));
        if now == self.last {
            return None;
        }
        self.last = now;
        now
    }
}
