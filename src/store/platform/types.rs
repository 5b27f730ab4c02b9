//! Plain data: what the [`Platform`](super::Platform) trait takes and returns, in the domain's
//! types (plates, code tables, the rule core's relation and decisions, `Fen`, timestamps). The
//! JSON the operator sees is made from these at the edge (`src/cli/platform.rs`).
//!
//! Requests and views have a wire form (serde) for the platform server and its remote client
//! (`src/wire`, `src/server`, `src/remote`); the operator's JSON is made separately, at the CLI.
//! The wire form carries personal data in clear (ID numbers, names): it is for the authenticated
//! link to the server, never for logs (`Debug` stays masked).

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::domain::{
    IdNumber, LicenceClass, LicenceStatus, Plate, PlateType, StatusSet, VehicleStatus, VehicleUse,
};
use crate::privacy::Masked;
use crate::rules::filing::{FilingCounts, FilingMethod, OwnerKind};
use crate::rules::payment::{AmountDue, HandlingState};
use crate::rules::{Eligibility, Relation, VehicleFacts, ViolationFacts};
use crate::store::StoreError;

/// Requests carry the ID number in clear when serialized (a central server needs it); they are
/// for the wire, never for logs (their `Debug` stays masked).
mod id_serde {
    use crate::domain::IdNumber;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &IdNumber, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IdNumber, D::Error> {
        let text = String::deserialize(d)?;
        IdNumber::parse(&text).map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(id: &Option<IdNumber>, s: S) -> Result<S::Ok, S::Error> {
            match id {
                Some(id) => s.serialize_some(id.expose()),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IdNumber>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|t| IdNumber::parse(&t).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// A masked datum on the wire (in clear: the wire is the authenticated link, never a log).
mod masked_serde {
    use crate::privacy::Masked;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &Masked<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(m.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Masked<String>, D::Error> {
        Ok(Masked::new(String::deserialize(d)?))
    }
}

/// A vehicle is named by its plate and plate type (号牌号码 + 号牌种类).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VehicleKey {
    pub plate: Plate,
    /// 号牌种类, e.g. `02` (小型汽车).
    pub plate_type: PlateType,
}

impl VehicleKey {
    pub fn new(plate: Plate, plate_type: PlateType) -> Self {
        VehicleKey { plate, plate_type }
    }

    /// A key from text (an operator's arguments, a token's claims); a plate that fits no GA 36
    /// layout, or an unknown plate type, is an invalid request.
    pub fn parse(plate: &str, plate_type: &str) -> Result<Self, StoreError> {
        Ok(VehicleKey {
            plate: Plate::parse(plate).map_err(|e| StoreError::Invalid(e.to_string()))?,
            plate_type: PlateType::parse(plate_type)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        })
    }
}

/// A penalty decision's number (处罚决定书编号), e.g. `50012022102400000001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DecisionNumber(pub String);

impl DecisionNumber {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DecisionNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for DecisionNumber {
    fn from(s: &str) -> Self {
        DecisionNumber(s.to_string())
    }
}

/// A filing's number (备案编号).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FilingId(pub i64);

impl std::fmt::Display for FilingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A driving licence as the platform holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceView {
    /// 准驾车型, e.g. `C1`.
    pub class: LicenceClass,
    pub first_issued: Date,
    /// The current scoring cycle's first day (记分周期起始).
    pub cycle_start: Date,
    /// Points recorded by the police network in this cycle.
    pub cycle_points: u32,
    /// Points of handlings not yet confirmed back (六.3, 七.2).
    pub pending_points: u32,
    /// 驾驶证状态, e.g. `A`, or `H` and `S`.
    pub status: StatusSet<LicenceStatus>,
    /// Times the licence reached 12 points in this cycle.
    pub full_12_count: u32,
}

/// A person (the owner of the card on the reader).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonView {
    /// Masked ID number (`5001**********002X`), for screens.
    pub id_number_masked: String,
    /// The full name — shown only to the person themself.
    #[serde(with = "masked_serde")]
    pub name: Masked<String>,
    pub phone_masked: String,
    /// Registered as a user of the platform (phone + SMS code).
    pub registered: bool,
    pub licence: Option<LicenceView>,
}

/// One of the person's vehicles and how they are related to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleView {
    pub plate: Plate,
    pub plate_type: PlateType,
    /// 使用性质.
    pub use_: VehicleUse,
    /// 机动车状态.
    pub status: StatusSet<VehicleStatus>,
    /// Own, filed (with when it was approved), unit-filed, renter or temporary driver (with the
    /// rental period).
    pub relation: Relation,
    pub owner_kind: OwnerKind,
    /// Violations not yet handled.
    pub pending_violations: u32,
}

impl VehicleView {
    pub fn key(&self) -> VehicleKey {
        VehicleKey::new(self.plate.clone(), self.plate_type)
    }

    /// The facts the rule core decides on.
    pub fn facts(&self) -> VehicleFacts {
        VehicleFacts {
            plate: self.plate.clone(),
            plate_type: self.plate_type,
            use_: self.use_,
            status: self.status.clone(),
            relation: self.relation.clone(),
        }
    }
}

/// A pending violation with the rule core's decision for it (decided as if selected alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViolationView {
    /// What the rule core decides on: id, time, who recorded it, penalty, fine, points, province.
    pub facts: ViolationFacts,
    pub place: String,
    pub description: String,
    /// The authority where it happened, for a dispute (六.1).
    pub authority: String,
    pub authority_address: String,
    pub decision: Eligibility,
}

/// Where a penalty decision was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionChannel {
    /// Handled at a kiosk: 2 hours to pay (六.2).
    Kiosk,
    /// Decided elsewhere (a window, the app): no 2-hour revert; a surcharge after 15 days.
    Elsewhere,
}

impl DecisionChannel {
    /// `kiosk` or `elsewhere`, as the store writes it.
    pub fn code(self) -> &'static str {
        match self {
            DecisionChannel::Kiosk => "kiosk",
            DecisionChannel::Elsewhere => "elsewhere",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [DecisionChannel::Kiosk, DecisionChannel::Elsewhere]
            .into_iter()
            .find(|c| c.code() == code)
    }
}

/// A penalty decision (处罚决定) and what is due on it at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlingView {
    pub number: DecisionNumber,
    pub violation_id: String,
    pub channel: DecisionChannel,
    pub decided_at: Timestamp,
    pub payment_deadline: Timestamp,
    pub state: HandlingState,
    pub points: u32,
    /// The fine, the late-payment surcharge at `now` (beyond-seed, 行政处罚法 art. 72) and the
    /// fee (七.1: 0).
    pub charges: AmountDue,
    /// Days the surcharge counts.
    pub surcharge_days: i64,
}

impl HandlingView {
    /// What is still to pay: the charges while unpaid, nothing once paid or reverted.
    pub fn due(&self) -> AmountDue {
        if self.state == HandlingState::HandledUnpaid {
            self.charges
        } else {
            AmountDue::default()
        }
    }
}

/// A vehicle's pending violations and its unpaid decisions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ViolationList {
    pub vehicle: VehicleView,
    pub violations: Vec<ViolationView>,
    pub unpaid_decisions: Vec<HandlingView>,
}

/// Register as a user: the phone and the SMS code sent to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub phone: String,
    pub sms_code: String,
}

/// How the owner consented to a filing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingProof {
    /// The owner's vehicle QR token, scanned at the kiosk (三.2).
    QrToken(String),
    /// The SMS code sent to the owner (or the unit's manager, 三.3) for this vehicle.
    SmsCode { vehicle: VehicleKey, code: String },
}

/// File another person's (or a unit's) vehicle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilingRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub proof: FilingProof,
}

/// Where a filing (备案) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingState {
    /// 待审核: counts against the limits (三.2) until reviewed.
    PendingReview,
    /// 已通过.
    Approved,
    /// 未通过.
    Rejected,
    /// 已撤销: un-filed by the driver or removed by the owner.
    Withdrawn,
}

impl FilingState {
    /// `pending_review`, `approved`, `rejected`, `withdrawn`, as the store writes it.
    pub fn code(self) -> &'static str {
        match self {
            FilingState::PendingReview => "pending_review",
            FilingState::Approved => "approved",
            FilingState::Rejected => "rejected",
            FilingState::Withdrawn => "withdrawn",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [
            FilingState::PendingReview,
            FilingState::Approved,
            FilingState::Rejected,
            FilingState::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Pending review or approved: it holds a slot (三.2).
    pub fn is_active(self) -> bool {
        matches!(self, FilingState::PendingReview | FilingState::Approved)
    }
}

/// A filing (备案).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingView {
    pub id: FilingId,
    pub vehicle: VehicleKey,
    pub method: FilingMethod,
    pub state: FilingState,
    pub requested_at: Timestamp,
    pub reviewed_at: Option<Timestamp>,
    pub withdrawn_at: Option<Timestamp>,
    /// The filed driver's name, masked (`李*红`), for the owner's list.
    pub driver_masked: String,
}

/// A person's filings: those they made, and those others made on their vehicles.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FilingList {
    /// Filings this person made (active and past).
    pub mine: Vec<FilingView>,
    /// Active filings (pending review or approved) on this person's own vehicles.
    pub on_my_vehicles: Vec<FilingView>,
}

/// Which receipt (回执) of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptKind {
    /// 处理回执, printed after handling.
    Handling,
    /// 缴款回执, printed after payment.
    Payment,
}

impl std::str::FromStr for ReceiptKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "handling" => Ok(ReceiptKind::Handling),
            "payment" => Ok(ReceiptKind::Payment),
            other => Err(StoreError::Invalid(format!(
                "receipt kind “{other}”: handling or payment"
            ))),
        }
    }
}

impl ReceiptKind {
    pub fn code(self) -> &'static str {
        match self {
            ReceiptKind::Handling => "handling",
            ReceiptKind::Payment => "payment",
        }
    }
}

/// What a kept receipt recorded: the handling or the payment, as it was at the time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiptBody {
    Handling(HandlingView),
    Payment(PaymentView),
}

/// A receipt kept for reprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptView {
    pub decision_number: DecisionNumber,
    pub created_at: Timestamp,
    pub body: ReceiptBody,
}

impl ReceiptView {
    pub fn kind(&self) -> ReceiptKind {
        match self.body {
            ReceiptBody::Handling(_) => ReceiptKind::Handling,
            ReceiptBody::Payment(_) => ReceiptKind::Payment,
        }
    }
}

/// An SMS code was sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsSent {
    pub outbox_id: i64,
    pub phone_masked: String,
    pub expires_at: Timestamp,
}

/// A filing's SMS code was found right ([`super::Platform::check_filing_code`]); it stays usable
/// for the filing until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingCodeChecked {
    pub expires_at: Timestamp,
}

/// Handle the selected violations of one vehicle.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub vehicle: VehicleKey,
    /// In the order the person selected them (the batch is decided in this order).
    pub violation_ids: Vec<String>,
    pub kiosk_id: String,
}

/// One handled violation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandledItem {
    pub violation_id: String,
    /// True when it had been handled before: this is the existing decision, not a new one.
    pub already_handled: bool,
    pub decision: HandlingView,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleOutcome {
    pub items: Vec<HandledItem>,
    /// What is due on the items still unpaid, added up.
    pub amount_due: AmountDue,
}

/// Pay one decision. The idempotency key is made by the kiosk once per payment attempt; sending
/// the same key again returns the same payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PayRequest {
    pub decision_number: DecisionNumber,
    pub idempotency_key: String,
    /// e.g. `unionpay_qr`, `wechat`, `alipay`, `demo`.
    pub method: String,
}

/// `seal_receipt`: seal the verification code of the payment receipt of these paid decisions
/// (`kiosk_id`: the kiosk that prints it; the server writes the authenticated kiosk over it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRequest {
    pub kiosk_id: String,
    pub decision_numbers: Vec<DecisionNumber>,
}

/// A sealed receipt verification code: the text its QR holds
/// (`crate::domain::receipt_code`, form `CQKIOSK-RCPT/2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedReceipt {
    pub code: String,
}

/// A decision's payment order with the provider (table `payment_orders`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentOrderView {
    pub decision_number: DecisionNumber,
    /// Our order number (商户订单号), one per decision.
    pub out_trade_no: String,
    /// The provider (`alipay`, `demo`).
    pub method: String,
    /// What the order asks: the rule core's amount due when it was opened.
    pub amount: crate::domain::Fen,
    /// The provider's own QR code text, shown as it is.
    pub qr_code: String,
    /// `open`, `paid`, `refund_pending`, `refunded`.
    pub state: String,
}

/// What became of a verified payment notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAck {
    /// The payment is recorded now.
    Recorded,
    /// Already recorded (a repeated notification): nothing new.
    Duplicate,
    /// Not a payment (e.g. the order was closed): nothing to record.
    Ignored,
    /// Money for a decision that can no longer be paid (六.2): refunded through the provider.
    Refunding,
}

/// A payment (缴款) of one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    pub decision_number: DecisionNumber,
    pub idempotency_key: String,
    pub method: String,
    pub transaction_no: String,
    /// Fine, surcharge and fee (七.1: 0, every receipt shows it) as charged.
    pub amount: AmountDue,
    pub paid_at: Timestamp,
    /// True when this key had already paid: nothing new was charged.
    pub replayed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RevertedItem {
    pub decision_number: DecisionNumber,
    pub violation_id: String,
    pub released_points: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RevertReport {
    pub reverted: Vec<RevertedItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FeedbackRequest {
    #[serde(with = "id_serde::option")]
    pub id_number: Option<IdNumber>,
    pub kiosk_id: String,
    pub category: String,
    pub text: String,
}

/// An event a kiosk reports about itself (printer out of paper / back, a device failure, went
/// offline / online). `kind` is a short code, `detail` words for the operator: never personal
/// data. The server writes the authenticated kiosk's id over `kiosk_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskEventRequest {
    pub kiosk_id: String,
    pub kind: String,
    pub detail: String,
}

/// A vehicle QR token issued to the owner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    pub token: String,
    pub vehicle: VehicleKey,
    pub expires_at: Timestamp,
}

/// A vehicle's owner as a kiosk screen shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleOwner {
    pub kind: OwnerKind,
    /// A person's name masked (`李*红`), or the unit's name.
    pub shown_name: String,
}

/// The filing limits as they stand before a filing, and who owns the vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilingPrecheck {
    pub counts: FilingCounts,
    pub owner_kind: OwnerKind,
}

/// The codes the store writes (and `kiosk platform` prints) for the rule core's enums.
pub mod codes {
    use crate::rules::filing::{FilingMethod, OwnerKind};
    use crate::rules::payment::HandlingState;

    /// `person` or `unit`.
    pub fn owner_kind(k: OwnerKind) -> &'static str {
        match k {
            OwnerKind::Person => "person",
            OwnerKind::Unit => "unit",
        }
    }

    /// `owner_qr`, `owner_sms` or `unit_manager_sms`.
    pub fn filing_method(m: FilingMethod) -> &'static str {
        match m {
            FilingMethod::OwnerQr => "owner_qr",
            FilingMethod::OwnerSms => "owner_sms",
            FilingMethod::UnitManagerSms => "unit_manager_sms",
        }
    }

    pub fn parse_filing_method(code: &str) -> Option<FilingMethod> {
        [
            FilingMethod::OwnerQr,
            FilingMethod::OwnerSms,
            FilingMethod::UnitManagerSms,
        ]
        .into_iter()
        .find(|m| filing_method(*m) == code)
    }

    /// `handled_unpaid`, `paid` or `reverted`.
    pub fn handling_state(s: HandlingState) -> &'static str {
        match s {
            HandlingState::HandledUnpaid => "handled_unpaid",
            HandlingState::Paid => "paid",
            HandlingState::Reverted => "reverted",
        }
    }

    pub fn parse_handling_state(code: &str) -> Option<HandlingState> {
        [
            HandlingState::HandledUnpaid,
            HandlingState::Paid,
            HandlingState::Reverted,
        ]
        .into_iter()
        .find(|s| handling_state(*s) == code)
    }
}
