//! The kiosk's states, the events that move it and the effects it asks for.

use std::collections::VecDeque;

use jiff::Timestamp;

use super::ports::{
    BackendError, DeviceHealth, FaceOutcome, FeedbackReceipt, FeedbackTopic, FilingCandidate,
    FilingError, FilingView, HandleError, HandlingView, PayError, PaymentQr, PaymentView,
    PersonView, PrintOutcome, SmsSent, ViolationList,
};
use crate::config::{KioskConfig, Language};
use crate::domain::{Fen, IdCard, IdNumber, Plate, PrintJob, Receipt};
use crate::privacy::Masked;
use crate::rules::Eligibility;
use crate::rules::cycle::CyclePreview;
use crate::rules::payment::PaymentRefusal;

/// How often the payment screen asks the platform whether the payment arrived.
pub const PAYMENT_POLL: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);

/// How often the attract screen probes whether the platform can be reached.
pub const LINK_PROBE: jiff::SignedDuration = jiff::SignedDuration::from_secs(15);

/// Wrong operator PINs in a row after which the operator screen locks for [`PIN_LOCKOUT`].
pub const PIN_LOCKOUT_AFTER: u32 = 5;
/// How long the operator screen stays locked after [`PIN_LOCKOUT_AFTER`] wrong PINs (and again
/// after each wrong PIN until a right one).
pub const PIN_LOCKOUT: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// The wait after the `failures`-th wrong PIN in a row before the next try: 1, 2, 4, 8 s, then
/// the lockout.
pub fn pin_delay(failures: u32) -> jiff::SignedDuration {
    if failures >= PIN_LOCKOUT_AFTER {
        PIN_LOCKOUT
    } else if failures == 0 {
        jiff::SignedDuration::ZERO
    } else {
        jiff::SignedDuration::from_secs(1i64 << (failures - 1).min(10))
    }
}

/// What an entered operator PIN is checked against: the argon2 hash of `[operator] pin_hash`,
/// or the demo's plain `pin`. Masked in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSecret {
    Hash(Masked<String>),
    Plain(Masked<String>),
}

impl PinSecret {
    pub fn from_config(op: &crate::config::OperatorSection) -> Self {
        match op.pin_hash.trim() {
            "" => PinSecret::Plain(Masked::new(op.pin.clone())),
            h => PinSecret::Hash(Masked::new(h.to_string())),
        }
    }

    /// Whether `entered` is the PIN (argon2 for a hash: tens of milliseconds, so only ever on
    /// the flow's worker, never in `next`).
    pub fn matches(&self, entered: &str) -> bool {
        match self {
            PinSecret::Hash(h) => crate::config::operator::verify_pin(h.expose(), entered),
            PinSecret::Plain(p) => {
                // Compare every byte so the time taken does not tell how much matched.
                let a = p.expose().as_bytes();
                let b = entered.as_bytes();
                a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
            }
        }
    }
}

/// How many recent errors the operator screen keeps (never personal data).
pub const RECENT_ERRORS: usize = 20;

/// What every state carries: the clock as last told, the language, the kiosk's settings and the
/// operator's records. Holds no personal data.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The time of the last `Tick` (the flow never reads a clock).
    pub now: Timestamp,
    pub lang: Language,
    /// The kiosk's configured language (`kiosk.language`): `lang` returns to it when a session
    /// ends, so the next person starts in it.
    pub default_lang: Language,
    /// 长辈模式: larger text and targets, fewer items per screen, and the idle timeout (and its
    /// countdown) doubled. Turned on from the header on any screen; off again when a session ends
    /// or the attract screen times out.
    pub elder: bool,
    /// When the person last touched the screen (idle timeout counts from here).
    pub last_input: Timestamp,
    pub idle_seconds: u32,
    pub idle_warning_seconds: u32,
    pub payment_window_minutes: u32,
    pub kiosk_id: String,
    pub hall_name: String,
    /// `kiosk.hall_name_en`, for English screens.
    pub hall_name_en: String,
    pub hall_phones: Vec<String>,
    /// 六.6: the online service's consultation phone.
    pub consultation_phone: String,
    pub demo: bool,
    pub(super) operator_secret: PinSecret,
    /// Wrong operator PINs in a row (reset by a right one).
    pub pin_failures: u32,
    /// No PIN is checked before this (the delay after a wrong one, or the lockout).
    pub pin_wait_until: Option<Timestamp>,
    /// A PIN is being checked on the worker.
    pub pin_checking: bool,
    /// A message for the person (a refusal, an error), cleared by the next touch.
    pub message: Option<Message>,
    /// For the operator's reprint. Receipts carry masked personal data only.
    pub last_receipt: Option<Receipt>,
    /// Recent errors for the operator screen, newest last.
    pub recent_errors: VecDeque<String>,
    pub health: Option<DeviceHealth>,
    /// The session ended (退出 or the idle timeout) with the ID card still on the reader:
    /// 请取走身份证 shows until `CardRemoved`. Not set when the removal itself ended it.
    pub card_left: bool,
    /// The result of the operator's last test print or reprint.
    pub last_print: Option<PrintOutcome>,
    /// Operations started, for idempotency keys.
    pub seq: u64,
    /// The platform answered the last probe or call (false: the network is gone; the attract
    /// screen and the services say so).
    pub online: bool,
    /// When the attract screen last probed the link (None: probe at the next tick).
    pub last_probe: Option<Timestamp>,
    /// The platform is a server (`[platform] url`): the attract screen probes the link. A local
    /// store is always reachable and never probed.
    pub probe_link: bool,
    /// Remote settings (`Event::RemoteSettings`) that arrived during a session or on the
    /// operator screen: applied when the kiosk is back on the attract screen.
    pub pending_settings: Option<crate::config::RemoteSettings>,
    /// The policy text of the remote settings last applied (None: the kiosk's own policy
    /// file); a change sends the worker [`Effect::UsePolicy`].
    pub remote_policy: Option<String>,
    /// 呼叫工作人员 in this session: none, being sent, delivered (when), or not delivered.
    pub staff_call: StaffCallState,
}

/// Within this long after a delivered staff call, another touch of 呼叫工作人员 in the same
/// session sends nothing and says the call was already sent.
pub const STAFF_CALL_REPEAT_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_mins(2);

/// Where the session's call to hall staff stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StaffCallState {
    #[default]
    None,
    /// Handed to the worker, no answer yet.
    Sending,
    Delivered {
        at: Timestamp,
    },
    /// The last call did not get through (another touch tries again).
    NotDelivered,
}

/// What the message strip says about a staff call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffCallNotice {
    /// 正在呼叫工作人员…
    Sending,
    /// 已通知工作人员，请在此稍候.
    Delivered,
    /// 呼叫未能送达，请到服务窗口求助.
    NotDelivered,
    /// A call was delivered moments ago: not sent again.
    AlreadySent,
}

impl Ctx {
    pub fn from_config(config: &KioskConfig, now: Timestamp) -> Self {
        Ctx {
            now,
            lang: config.kiosk.language,
            default_lang: config.kiosk.language,
            elder: false,
            last_input: now,
            idle_seconds: config.timeouts.idle_seconds,
            idle_warning_seconds: config.timeouts.idle_warning_seconds,
            payment_window_minutes: config.timeouts.payment_window_minutes,
            kiosk_id: config.kiosk.id.clone(),
            hall_name: config.kiosk.hall_name.clone(),
            hall_name_en: config.kiosk.hall_name_en.clone(),
            hall_phones: config.kiosk.hall_phones.clone(),
            consultation_phone: config.kiosk.consultation_phone.clone(),
            demo: config.kiosk.demo,
            operator_secret: PinSecret::from_config(&config.operator),
            pin_failures: 0,
            pin_wait_until: None,
            pin_checking: false,
            message: None,
            last_receipt: None,
            recent_errors: VecDeque::new(),
            health: None,
            card_left: false,
            last_print: None,
            seq: 0,
            online: true,
            last_probe: None,
            probe_link: config.platform.remote_url().is_some(),
            pending_settings: None,
            remote_policy: None,
            staff_call: StaffCallState::None,
        }
    }

    /// Lay the operational settings `s` over the kiosk's (each key `s` sets). The language the
    /// next person starts in follows `language`; the current one is left to the caller (no
    /// session runs when this is called).
    pub fn apply_settings(&mut self, s: &crate::config::RemoteSettings) {
        macro_rules! set {
            ($dst:ident, $f:ident) => {
                if let Some(v) = &s.$f {
                    self.$dst = v.clone();
                }
            };
        }
        set!(idle_seconds, idle_seconds);
        set!(idle_warning_seconds, idle_warning_seconds);
        set!(payment_window_minutes, payment_window_minutes);
        set!(default_lang, language);
        set!(hall_name, hall_name);
        set!(hall_name_en, hall_name_en);
        set!(hall_phones, hall_phones);
        set!(consultation_phone, consultation_phone);
    }

    /// 六.7: while the maintenance window is open at `now`, the notice that handling and payment
    /// are closed until it reopens (look-ups stay open). Every screen, the attract screen
    /// included, shows it from here.
    pub fn maintenance_notice(&self) -> Option<Message> {
        crate::rules::maintenance::in_maintenance_window(self.now).then(|| Message::Maintenance {
            reopens: crate::rules::maintenance::reopens_at(self.now),
        })
    }

    /// Seconds without a touch before the session is wiped: doubled in 长辈模式 (no time pressure).
    pub fn idle_limit(&self) -> u32 {
        if self.elder {
            self.idle_seconds.saturating_mul(2)
        } else {
            self.idle_seconds
        }
    }

    /// Length of the visible countdown before the wipe: doubled in 长辈模式 too.
    pub fn idle_warning(&self) -> u32 {
        if self.elder {
            self.idle_warning_seconds.saturating_mul(2)
        } else {
            self.idle_warning_seconds
        }
    }

    /// The platform server cannot be reached: the notice every screen, the attract screen
    /// included, shows until a probe finds the link back.
    pub fn offline_notice(&self) -> Option<Message> {
        (!self.online).then_some(Message::Offline)
    }

    /// The printer last reported no paper: the notices and payment screens say so before paying.
    pub fn paper_out(&self) -> bool {
        matches!(&self.health, Some(h) if h.paper == super::ports::PaperStatus::Out)
    }

    pub(super) fn record_error(&mut self, what: String) {
        tracing::warn!(error = %what, "kiosk error");
        self.recent_errors.push_back(format!(
            "{} {what}",
            crate::rules::maintenance::local_time(self.now).strftime("%m-%d %H:%M:%S")
        ));
        while self.recent_errors.len() > RECENT_ERRORS {
            self.recent_errors.pop_front();
        }
    }
}

/// The kiosk: nobody there, a person's session, or the operator.
#[derive(Debug, Clone)]
pub enum State {
    /// 待机: the attract screen and the pages anyone may open without a card.
    Attract { ctx: Ctx, page: AttractPage },
    /// A person's session, from the card read to its removal or the timeout.
    Session { ctx: Ctx, session: Box<Session> },
    /// The operator screen (运维), opened with the PIN.
    Operator { ctx: Ctx },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttractPage {
    Welcome,
    /// 请放置身份证.
    PlaceCard,
    Help,
    DownloadApp,
    /// The operator's PIN keypad; the digits are not shown.
    OperatorPin {
        entered: KeyEntry,
    },
}

/// Keypad input that may be personal (a phone number): masked in `Debug`, wiped on drop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyEntry(Masked<String>);

impl KeyEntry {
    pub fn text(&self) -> &str {
        self.0.expose()
    }
    pub fn len(&self) -> usize {
        self.0.expose().chars().count()
    }
    pub fn is_empty(&self) -> bool {
        self.0.expose().is_empty()
    }
    pub(super) fn push(&mut self, c: char, max: usize) {
        if self.len() < max {
            self.0 = Masked::new(format!("{}{c}", self.0.expose()));
        }
    }
    /// An entry holding `text` (cut to `max` characters).
    pub(super) fn from_text(text: &str, max: usize) -> Self {
        let mut k = KeyEntry::default();
        for c in text.chars() {
            k.push(c, max);
        }
        k
    }
    pub(super) fn pop(&mut self) {
        let mut s = self.0.expose().clone();
        s.pop();
        self.0 = Masked::new(s);
    }
}

/// One person's session. Dropping it wipes the card, the person and every entry.
#[derive(Debug, Clone)]
pub struct Session {
    pub card: IdCard,
    pub person: Option<PersonView>,
    pub face_verified: bool,
    pub screen: Screen,
    /// The owner's code last sent for an SMS filing (plate, where it went): a wrong code found
    /// when the filing is submitted (after the face check) returns to its entry.
    pub owner_code: Option<(Plate, super::ports::SmsSent)>,
}

impl Session {
    /// 张* — the name as any screen shows it.
    pub fn masked_name(&self) -> String {
        self.card.name.masked()
    }
    /// 5001**********0017.
    pub fn masked_id(&self) -> String {
        self.card.id_number.masked()
    }
}

/// Why face verification is being done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacePurpose {
    /// Before any service.
    Login,
    /// Before a filing is submitted (三.2).
    Filing(FilingCandidate),
}

/// Which vehicle-filing method the filing screen is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilingEntry {
    /// 扫码备案: waiting for the owner's QR code.
    Scan,
    /// 短信验证备案: plate, then the owner's code.
    Sms {
        plate: KeyEntry,
        code: KeyEntry,
        sent: Option<(Plate, SmsSent)>,
    },
}

/// The violations screen's data: the list, the ticked ones, the live decision of the selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub list: ViolationList,
    /// Ticked violation ids, in list order.
    pub selected: Vec<String>,
    /// The rule core's decisions for the ticked violations taken together, in order.
    pub decisions: Vec<Eligibility>,
    /// "处理后累积记分 N/12分，本记分周期至…止".
    pub cycle: Option<CyclePreview>,
    /// The violation whose dispute notice (六.1) is open.
    pub dispute: Option<String>,
}

impl Selection {
    /// Fines of the ticked violations plus any late surcharge due `today`.
    pub fn amounts(&self, now: Timestamp) -> (Fen, Fen) {
        let today = crate::rules::maintenance::local_time(now).date();
        let mut fines = Fen::ZERO;
        let mut surcharge = Fen::ZERO;
        for v in self
            .list
            .violations
            .iter()
            .filter(|v| self.selected.contains(&v.facts.id))
        {
            fines += v.facts.fine;
            if let Some(d) = v.decided_on {
                surcharge +=
                    crate::rules::surcharge::late_payment_surcharge(v.facts.fine, d, today).amount;
            }
        }
        (fines, surcharge)
    }

    /// The ticked violations, in list order.
    pub fn selected_views(&self) -> impl Iterator<Item = &super::ports::ViolationView> {
        self.list
            .violations
            .iter()
            .filter(|v| self.selected.contains(&v.facts.id))
    }

    /// 业务须知 for the ticked violations, in the order shown: the out-of-province notice of each
    /// other province (六.4), then 六.3 data lag, 六.5 documents and 七.1 no fee.
    pub fn notices(&self) -> Vec<crate::rules::notices::Notice> {
        use crate::rules::notices;
        let mut provinces: Vec<char> = Vec::new();
        for v in self.selected_views() {
            if !provinces.contains(&v.facts.province) {
                provinces.push(v.facts.province);
            }
        }
        let mut out: Vec<_> = provinces
            .into_iter()
            .filter_map(notices::out_of_province)
            .collect();
        out.extend([notices::data_lag(), notices::documents(), notices::no_fee()]);
        out
    }

    /// The dispute notice (六.1) of violation `id`: its authority and address.
    pub fn dispute_notice(&self, id: &str) -> Option<crate::rules::notices::Notice> {
        self.list
            .violations
            .iter()
            .find(|v| v.facts.id == id)
            .map(|v| crate::rules::notices::dispute(&v.authority, &v.authority_address))
    }

    /// Every ticked violation is eligible taken together.
    pub fn all_eligible(&self) -> bool {
        !self.selected.is_empty() && self.decisions.iter().all(Eligibility::eligible)
    }
}

/// The screens of a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    LoadingPerson,
    /// The platform could not be reached; nothing was changed.
    Unavailable,
    /// 身份信息 (masked).
    Identity,
    Face {
        purpose: FacePurpose,
        attempts: u32,
    },
    /// 服务菜单.
    Services,
    ChooseVehicle,
    Violations(Box<Selection>),
    /// 业务须知: must be agreed before handling.
    Notices {
        selection: Box<Selection>,
        agreed: bool,
    },
    /// 缴款: the handling is made; the payment QR is shown. The kiosk asks the platform by
    /// itself whether the payment arrived, [`PAYMENT_POLL`] after `since` (when the screen
    /// opened or the last answer came), so nobody has to touch 已完成支付.
    Payment {
        handling: HandlingView,
        /// The payment provider's QR code, once its order is open (`None`: being opened).
        qr: Option<PaymentQr>,
        paying: bool,
        since: Timestamp,
    },
    Printing {
        handling: HandlingView,
        payment: PaymentView,
    },
    Done {
        handling: HandlingView,
        payment: PaymentView,
        printed: PrintOutcome,
    },
    /// 我的备案, with the filing methods.
    Filings(Vec<FilingView>),
    FilingEntry(FilingEntry),
    /// The checked vehicle, before face verification.
    FilingConfirm(FilingCandidate),
    FilingSubmitted(FilingView),
    Register {
        phone: KeyEntry,
        code: KeyEntry,
        sent: Option<SmsSent>,
        done: bool,
    },
    Feedback {
        sent: bool,
    },
    DownloadApp,
    Help,
}

/// What the person is told; the UI renders it in the chosen language.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Backend(BackendError),
    Filing(FilingError),
    PayRefused(PaymentRefusal),
    Pay(PayError),
    /// The rule core refused these violations (its reasons and clauses).
    Refused(Vec<Eligibility>),
    Face(FaceOutcome),
    /// 六.7: handling and payment are closed until `reopens`.
    Maintenance {
        reopens: Timestamp,
    },
    WrongPin,
    /// A wrong PIN was entered just now: the next try is taken from `until`.
    PinWait {
        until: Timestamp,
    },
    /// 5 wrong PINs: the operator screen is locked until `until`.
    PinLocked {
        until: Timestamp,
    },
    /// The phone number or code typed is not well-formed.
    BadEntry,
    /// 11 digits were typed that are not a mainland mobile number (said before anything is sent).
    NotAMobile,
    /// Nothing ticked, or the notices were not agreed.
    NothingSelected,
    NotAgreed,
    SessionTimedOut,
    /// Session ended (退出 or the card removed); the reminder to take the card is
    /// `Ctx::card_left`.
    SessionEnded,
    /// A scan arrived where none is expected.
    ScanNotExpected,
    Unfiled,
    FeedbackThanks,
    /// The platform is out of reach: the feedback was saved and is delivered when it returns.
    FeedbackQueued,
    /// The network is gone: handling and payment are not possible here now.
    Offline,
    /// 呼叫工作人员: where the call to hall staff stands.
    StaffCall(StaffCallNotice),
}

/// Services of the menu (服务).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// 处理交通违法.
    Violations,
    /// 备案非本人机动车.
    Filing,
    /// 注册.
    Register,
    /// 意见反馈.
    Feedback,
    /// 下载APP.
    DownloadApp,
    /// 帮助.
    Help,
}

/// A touch on the kiosk screen (or the operator's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Touch on the attract screen.
    Start,
    ToggleLanguage,
    /// 长辈模式 on or off (the header's toggle, on every screen).
    ToggleElder,
    /// 呼叫工作人员: ask hall staff to come to this kiosk.
    CallStaff,
    /// 我还在: dismiss the idle countdown.
    StillHere,
    Back,
    /// Back to the services menu.
    Home,
    /// End the session.
    Exit,
    Continue,
    StartFace,
    Open(Service),
    ChooseVehicle(Plate),
    ToggleViolation(String),
    ShowDispute(String),
    CloseDispute,
    ToNotices,
    SetAgreed(bool),
    Handle,
    /// 去缴款: pay an unpaid decision (待缴款) of the vehicle, by its number.
    PayUnpaid(String),
    /// 已完成支付: ask the platform now whether the provider confirmed the payment (it records
    /// nothing by itself; the screen also asks every [`PAYMENT_POLL`]).
    Pay,
    FilingScan,
    FilingSms,
    Unfile(String),
    Key(char),
    Backspace,
    SendCode,
    SubmitCode,
    ConfirmFiling,
    Feedback(FeedbackTopic),
    /// The hidden operator entry on the attract screen.
    OperatorEntry,
    OperatorTestPrint,
    OperatorReprint,
    OperatorRefresh,
    OperatorClose,
}

/// Everything that moves the flow: device input, touches, time, and the results of effects.
#[derive(Debug, Clone)]
pub enum Event {
    Tick(Timestamp),
    CardPlaced(IdCard),
    CardRemoved,
    Scanned(String),
    Ui(Action),
    PrintFinished(PrintOutcome),
    PersonLoaded(Result<PersonView, BackendError>),
    FaceChecked(FaceOutcome),
    ViolationsLoaded(Result<ViolationList, BackendError>),
    Handled(Result<HandlingView, HandleError>),
    /// The payment order is open (its QR), or could not be opened.
    PaymentOrdered(Result<PaymentQr, PayError>),
    Paid(Result<PaymentView, PayError>),
    FilingsLoaded(Result<Vec<FilingView>, BackendError>),
    FilingChecked(Result<FilingCandidate, FilingError>),
    OwnerCodeSent(Result<(Plate, SmsSent), FilingError>),
    FilingSubmitted(Result<FilingView, FilingError>),
    Unfiled(Result<(), BackendError>),
    RegisterCodeSent(Result<SmsSent, BackendError>),
    Registered(Result<(), BackendError>),
    FeedbackSent(Result<FeedbackReceipt, BackendError>),
    /// The link probe's answer: the platform can (true) or cannot be reached.
    LinkChecked(bool),
    /// The operator PIN entered was right (true) or wrong.
    OperatorPinChecked(bool),
    /// The staff call's outcome.
    StaffCallAnswered(super::ports::StaffCallOutcome),
    Health(DeviceHealth),
    /// Verified operational settings from the city's server (remote configuration): applied on
    /// the attract screen, kept pending while a session (or the operator screen) runs.
    RemoteSettings(crate::config::RemoteSettings),
}

/// What the flow asks the driver to do. Results come back as events.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    LoadPerson(IdNumber),
    VerifyFace(IdNumber),
    LoadViolations {
        id: IdNumber,
        plate: Plate,
    },
    Handle {
        id: IdNumber,
        plate: Plate,
        violations: Vec<String>,
        key: String,
    },
    /// Open (or find again) the payment order of a handling: its QR comes back.
    PaymentOrder {
        decision: String,
    },
    /// Ask whether the provider confirmed the payment.
    Pay {
        decision: String,
    },
    Print(PrintJob),
    LoadFilings(IdNumber),
    CheckFilingQr {
        id: IdNumber,
        token: String,
    },
    RequestOwnerCode {
        id: IdNumber,
        plate: Plate,
    },
    CheckOwnerCode {
        id: IdNumber,
        plate: Plate,
        code: String,
    },
    SubmitFiling {
        id: IdNumber,
        candidate: FilingCandidate,
    },
    Unfile {
        id: IdNumber,
        filing: String,
    },
    RequestRegisterCode {
        id: IdNumber,
        phone: Masked<String>,
    },
    Register {
        id: IdNumber,
        phone: Masked<String>,
        code: String,
    },
    Feedback {
        id: IdNumber,
        topic: FeedbackTopic,
    },
    QueryHealth,
    /// Probe whether the platform can be reached (cheap; [`LINK_PROBE`] on the attract screen).
    ProbeLink,
    /// Check an operator PIN against the secret (argon2, on the worker); answers
    /// [`Event::OperatorPinChecked`].
    VerifyOperatorPin {
        entered: Masked<String>,
        secret: PinSecret,
    },
    /// Record what happened at the operator screen as a kiosk event (the platform's audit):
    /// `kind` a code, `detail` words, never the digits. No answer.
    RecordOperatorEvent {
        kind: &'static str,
        detail: String,
    },
    /// 呼叫工作人员: deliver this call to hall staff ([`super::ports::StaffCaller`]); answers
    /// [`Event::StaffCallAnswered`].
    CallStaff(super::ports::StaffCall),
    /// The session's personal data was dropped; the UI drops its copies (text buffers, textures).
    SessionWiped,
    /// Remote settings were applied to the kiosk (the driver tells the app, which reports the
    /// new configuration hash); never reaches the worker.
    SettingsApplied(crate::config::RemoteSettings),
    /// The applied remote settings changed the policy: the backend decides with this policy
    /// book (TOML text, already checked; None: the kiosk's own) from now on. No answer.
    UsePolicy(Option<String>),
}

impl State {
    /// The attract screen for a fresh kiosk.
    pub fn new(config: &KioskConfig, now: Timestamp) -> Self {
        State::Attract {
            ctx: Ctx::from_config(config, now),
            page: AttractPage::Welcome,
        }
    }

    pub fn ctx(&self) -> &Ctx {
        match self {
            State::Attract { ctx, .. } | State::Session { ctx, .. } | State::Operator { ctx } => {
                ctx
            }
        }
    }

    pub fn ctx_mut(&mut self) -> &mut Ctx {
        match self {
            State::Attract { ctx, .. } | State::Session { ctx, .. } | State::Operator { ctx } => {
                ctx
            }
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match self {
            State::Session { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Seconds left before the idle wipe, once the visible countdown has started.
    pub fn idle_countdown(&self) -> Option<i64> {
        if matches!(
            self,
            State::Attract {
                page: AttractPage::Welcome,
                ..
            }
        ) {
            return None;
        }
        let ctx = self.ctx();
        let left = i64::from(ctx.idle_limit()) - ctx.now.duration_since(ctx.last_input).as_secs();
        (left <= i64::from(ctx.idle_warning())).then_some(left.max(0))
    }

    /// Seconds until the idle countdown starts or advances (for scheduling a repaint), if any.
    pub fn next_deadline_in(&self) -> Option<f32> {
        if matches!(
            self,
            State::Attract {
                page: AttractPage::Welcome,
                ..
            }
        ) {
            return None;
        }
        let ctx = self.ctx();
        let elapsed = ctx.now.duration_since(ctx.last_input).as_secs();
        let until_warning = i64::from(ctx.idle_limit()) - i64::from(ctx.idle_warning()) - elapsed;
        Some(if until_warning > 0 {
            until_warning as f32
        } else {
            1.0
        })
    }
}
