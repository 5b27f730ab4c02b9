//! The ports the flow's [`Driver`](super::Driver) executes effects against: the platform
//! ([`KioskBackend`]), the devices the flow commands ([`Peripherals`]) and face verification
//! ([`FaceVerifier`]). Each is small and object-safe (`Box<dyn KioskBackend + Send>`); the data
//! crossing them is plain owned structs defined here, whose fields are the rule core's and the
//! domain's types, so an adapter from the real store or devices is a field-by-field copy.
//!
//! Device *input* (card placed/removed, a scan) never goes through a port: it reaches the flow as
//! an [`Event`](super::Event).

use jiff::{Timestamp, civil::Date};

use crate::devices::{DeviceError, ErrorKind};
use crate::domain::{Fen, IdNumber, LicenceStatus, Plate, PrintJob, StatusSet};
use crate::privacy::Masked;
use crate::rules::filing::{FilingMethod, FilingRefusal};
use crate::rules::payment::PaymentRefusal;
use crate::rules::{DriverFacts, Eligibility, EligibilityRequest, VehicleFacts, ViolationFacts};

/// The platform, as the kiosk's screens need it. Every call gets `now` from the flow (the rules
/// never read a clock). Implementations re-decide with `crate::rules` inside their own
/// transaction; the decisions they return are the rule core's.
pub trait KioskBackend {
    /// The person behind an ID card, with their vehicles (本人名下, 备案, 租赁) and licence facts.
    fn person(&mut self, id: &IdNumber, now: Timestamp) -> Result<PersonView, BackendError>;
    /// A vehicle's pending violations (未处理), each with its decision taken alone.
    fn violations(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<ViolationList, BackendError>;
    /// Handle (处理) the selected violations in one decision; idempotent by `key`.
    fn handle(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        violations: &[String],
        key: &str,
        now: Timestamp,
    ) -> Result<HandlingView, HandleError>;
    /// The payment order of a handled decision (缴款): the payment provider's own QR code for
    /// what is due. Several decisions handled together are paid one order after another: the QR
    /// of the first one unpaid.
    fn payment_order(&mut self, decision: &str, now: Timestamp) -> Result<PaymentQr, PayError>;
    /// Ask whether the payment provider confirmed the payment (缴款): the payment once it did,
    /// [`PayError::NotYet`] (with the QR to show now) until then. Records nothing the provider did
    /// not confirm. Refused when reverted or in the maintenance window.
    fn pay(&mut self, decision: &str, now: Timestamp) -> Result<PaymentView, PayError>;
    /// The person's filings of other people's vehicles (我的备案).
    fn filings(&mut self, id: &IdNumber, now: Timestamp) -> Result<Vec<FilingView>, BackendError>;
    /// Check an owner's vehicle QR code (扫码备案) and the filing limits; nothing is written yet.
    fn check_filing_qr(
        &mut self,
        id: &IdNumber,
        token: &str,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError>;
    /// Send a code to the owner's phone (unit: its manager's), 短信验证备案.
    fn request_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<SmsSent, FilingError>;
    /// Check the code the owner read out with the platform, before the face check, without
    /// using it: no filing is written; a wrong code counts one of the code's tries
    /// (`BackendError::WrongCode` with the tries left). [`KioskBackend::submit_filing`] checks it
    /// again and uses it.
    fn check_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        code: &str,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError>;
    /// Submit a checked filing for review (待审核), re-checking the limits.
    fn submit_filing(
        &mut self,
        id: &IdNumber,
        candidate: &FilingCandidate,
        now: Timestamp,
    ) -> Result<FilingView, FilingError>;
    /// 解除备案.
    fn unfile(&mut self, id: &IdNumber, filing: &str, now: Timestamp) -> Result<(), BackendError>;
    /// Send a registration code to `phone` (注册).
    fn request_register_code(
        &mut self,
        id: &IdNumber,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, BackendError>;
    /// Register the person with `phone`, proved by `code`.
    fn register(
        &mut self,
        id: &IdNumber,
        phone: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<(), BackendError>;
    /// 意见反馈: recorded on the platform, or (the platform out of reach) kept in the kiosk's
    /// outbox and delivered when the link returns.
    fn feedback(
        &mut self,
        id: Option<&IdNumber>,
        topic: FeedbackTopic,
        now: Timestamp,
    ) -> Result<FeedbackReceipt, BackendError>;
    /// Whether the platform can be reached now: a cheap probe (a local store always can).
    fn link_up(&mut self, _now: Timestamp) -> bool {
        true
    }
    /// Record an event of this kiosk (the operator screen's PIN tries) in the platform's
    /// record: `kind` a code, `detail` words, never personal data or a PIN. Never fails the
    /// flow (a failure is logged; a server's terminal queues it in its outbox).
    fn record_event(&mut self, kind: &str, detail: &str, now: Timestamp) {
        tracing::info!(kind, detail, %now, "kiosk event (not recorded: no platform)");
    }
    /// Decide with `policy` from now on (remote configuration, applied on the attract screen);
    /// None: back to the kiosk's own policy book. A backend without a policy ignores it.
    fn use_policy(&mut self, _policy: Option<crate::rules::PolicyBook>) {}
}

/// What became of a feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackReceipt {
    /// The platform recorded it.
    Recorded,
    /// The platform is out of reach: kept in the kiosk's outbox, delivered when the link returns.
    Queued,
}

/// The devices the flow commands: the receipt printer, and health for the operator.
pub trait Peripherals {
    /// Print a receipt (a reprint is marked 补打); returns when it is out (or failed).
    fn print(&mut self, job: &PrintJob) -> PrintOutcome;
    /// The devices' health, for the operator screen.
    fn health(&mut self) -> DeviceHealth;
}

/// 人脸核验: is the person at the kiosk the card's holder?
pub trait FaceVerifier {
    /// `true` when this verifier is a stand-in; the screen then says so.
    fn is_demo(&self) -> bool;
    /// Capture and check, on the flow's worker: returns within a bounded time (the camera's
    /// deadline plus the service's timeout), whatever the camera or the service does.
    fn verify(&mut self, id: &IdNumber) -> FaceOutcome;
}

/// 呼叫工作人员: tell hall staff that someone at this kiosk needs them. The adapter knows the
/// kiosk's id and hall (from the assembly); the call carries only the step and a reason code,
/// never personal data. Runs on the flow's worker and returns within `deadline`.
pub trait StaffCaller {
    fn call(&mut self, call: &StaffCall, deadline: std::time::Duration) -> StaffCallOutcome;
}

pub use crate::domain::staff_call::{StaffCall, StaffCallReason, StaffCallStep};

/// How long a staff call may take before the person is told it did not get through.
pub const STAFF_CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// What became of a staff call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaffCallOutcome {
    /// Staff (or the platform's record they watch) have it.
    Delivered,
    /// It did not get through within the deadline (why, in words, for the operator's record:
    /// never a secret such as a webhook key).
    NotDelivered(String),
}

/// A staff caller that reaches nobody (tests, benchmarks): says so honestly.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoStaffCaller;

impl StaffCaller for NoStaffCaller {
    fn call(&mut self, _: &StaffCall, _: std::time::Duration) -> StaffCallOutcome {
        StaffCallOutcome::NotDelivered("no staff caller configured".into())
    }
}

/// A platform failure the person is told about in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// 未注册: the person is not known to the platform.
    #[error("not registered on the platform")]
    NotRegistered,
    #[error("not found")]
    NotFound,
    /// The SMS code is wrong (`tries_left` more wrong tries before it is burned), or expired or
    /// burned (`Some(0)`: a new code must be requested). `None`: not known.
    #[error("the SMS code is wrong or expired")]
    WrongCode { tries_left: Option<u32> },
    /// A limit was reached (e.g. SMS codes to one phone): the platform's words, which say when
    /// to try again, in Chinese and in English.
    #[error("{en}")]
    TryLater { zh: String, en: String },
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The platform failed; nothing was changed.
    #[error("platform unavailable: {0}")]
    Unavailable(String),
    /// The platform server cannot be reached (the network is gone); nothing was changed.
    #[error("the platform server cannot be reached: {0}")]
    Offline(String),
}

/// Why a handling was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandleError {
    /// The rule core refused some of the selected violations (its decisions, with reasons).
    #[error("refused by the rules")]
    Refused(Vec<Eligibility>),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// The provider has not confirmed the payment yet: keep showing this QR and asking.
    #[error("not paid yet")]
    NotYet(PaymentQr),
    #[error(transparent)]
    Refused(#[from] PaymentRefusal),
    #[error(transparent)]
    Backend(#[from] BackendError),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilingError {
    /// The rule core's filing limits (三.2, 三.3).
    #[error(transparent)]
    Refused(#[from] FilingRefusal),
    /// The QR code is not a vehicle QR code of this platform, or was altered.
    #[error("the vehicle QR code is not valid")]
    TokenInvalid,
    /// The owner's QR code has expired; the owner must show a fresh one.
    #[error("the vehicle QR code has expired")]
    TokenExpired,
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// A person as the platform knows them. Personal fields are masked in logs and wiped on drop.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonView {
    pub name: Masked<String>,
    /// Masked phone on record, when registered.
    pub phone: Option<Masked<String>>,
    pub registered: bool,
    pub driver: DriverFacts,
    /// First licence date (初次领证日期), for the scoring cycle.
    pub licence_first_issued: Option<Date>,
    pub licence_status: StatusSet<LicenceStatus>,
    pub vehicles: Vec<VehicleView>,
}

/// A vehicle linked to the person, with its relation (本人, 备案, 租赁).
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleView {
    pub facts: VehicleFacts,
    /// Pending violations count (for the choose-vehicle screen).
    pub pending: usize,
}

/// One pending violation, with what the screen shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationView {
    pub facts: ViolationFacts,
    /// 违法行为, e.g. "机动车违反禁止标线指示的".
    pub behaviour: String,
    /// 违法地点.
    pub place: String,
    /// 处罚机关 (where a dispute goes, 六.1).
    pub authority: String,
    pub authority_address: String,
    /// When a decision already exists (决定日期), its date; a late surcharge may apply.
    pub decided_on: Option<Date>,
    /// The rule core's decision for this violation taken alone.
    pub decision: Eligibility,
}

/// A vehicle's pending violations, with the facts the rule core needs to re-decide a selection.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationList {
    pub plate: Plate,
    /// The request the decisions were made from; the flow re-decides the selection with it.
    pub request: EligibilityRequest,
    pub violations: Vec<ViolationView>,
    /// 待缴款: the vehicle's decisions handled but not yet paid (here or elsewhere), payable from
    /// the violations screen in any session until reverted (六.2).
    pub unpaid: Vec<HandlingView>,
}

/// A handling decision (处理决定) awaiting payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlingView {
    /// 决定书编号.
    pub decision: String,
    pub plate: Plate,
    pub violations: Vec<String>,
    pub fines: Fen,
    /// 加处罚款 (beyond-seed), included in `total`.
    pub surcharge: Fen,
    /// Always `crate::rules::SERVICE_FEE` (七.1).
    pub fee: Fen,
    pub total: Fen,
    pub points: u32,
    pub handled_at: Timestamp,
    /// 六.2: unpaid at this instant, the handling is reverted.
    pub pay_by: Timestamp,
}

/// The payment provider's QR code for one order, as the payment screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentQr {
    /// The provider's own QR text (e.g. `https://qr.alipay.com/…`).
    pub qr: String,
    /// What this order asks.
    pub amount: Fen,
    /// 1-based: which of the handling's orders this is (several decisions handled together).
    pub part: usize,
    pub parts: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub decision: String,
    pub amount: Fen,
    pub paid_at: Timestamp,
    /// 缴款流水号.
    pub reference: String,
    /// The payment receipt's verification code as the platform sealed it (`None`: the platform
    /// gave none; the receipt prints the unsealed code).
    pub sealed_code: Option<crate::domain::receipt_code::ReceiptCode>,
}

/// A checked filing, ready to submit after face verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingCandidate {
    pub plate: Plate,
    pub method: FilingMethod,
    /// Owner's name, masked (张*) — shown so the person can confirm the vehicle.
    pub owner: String,
}

/// One of the person's filings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilingView {
    pub id: String,
    pub plate: Plate,
    pub method: FilingMethod,
    pub status: FilingStatus,
    pub filed_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingStatus {
    /// 待审核.
    PendingReview,
    /// 已通过.
    Approved,
}

/// An SMS was sent; the phone is shown masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsSent {
    pub to_masked: String,
    /// The code went to a unit's manager (三.3).
    pub to_unit_manager: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackTopic {
    Satisfied,
    SlowOrStuck,
    HardToUse,
    WrongData,
}

impl FeedbackTopic {
    pub const ALL: [FeedbackTopic; 4] = [
        FeedbackTopic::Satisfied,
        FeedbackTopic::SlowOrStuck,
        FeedbackTopic::HardToUse,
        FeedbackTopic::WrongData,
    ];
}

/// A device that failed: its kind (what the kiosk does about it) and, for the operator screen, a
/// message in words. Holds no personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeviceFailure {
    pub kind: ErrorKind,
    pub message: String,
}

impl DeviceFailure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        DeviceFailure {
            kind,
            message: message.into(),
        }
    }

    /// A device error, with its kind kept.
    pub fn of(error: &impl DeviceError) -> Self {
        DeviceFailure::new(error.kind(), error.to_string())
    }
}

/// One device's health: fine, or failed with a kind and a reason.
pub type DeviceStatus = Result<(), DeviceFailure>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintOutcome {
    Printed,
    /// 缺纸.
    OutOfPaper,
    /// Anything else: the receipt is kept in the print queue for reprint.
    Failed(DeviceFailure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaperStatus {
    Ok,
    Low,
    Out,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceHealth {
    pub reader: DeviceStatus,
    pub scanner: DeviceStatus,
    pub printer: DeviceStatus,
    pub paper: PaperStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceOutcome {
    Match,
    NoMatch,
    /// The camera failed; the person may retry or go to a window.
    Unavailable,
    /// The verification service gave no decision (no answer in time, an error, an answer not
    /// understood); nothing was verified: the person may retry or call staff.
    ServiceUnavailable,
}
