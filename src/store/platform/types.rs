//! Plain data: what the [`Platform`](super::Platform) trait takes and returns.

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::{Fen, IdNumber};
use crate::rules::Eligibility;
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

/// A vehicle is named by its plate and plate type (号牌号码 + 号牌种类).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct VehicleKey {
    pub plate: String,
    /// Plate type code, e.g. `02` (小型汽车).
    pub plate_type: String,
}

/// A driving licence as the platform holds it.
#[derive(Debug, Clone, Serialize)]
pub struct LicenceView {
    /// 准驾车型, e.g. `C1`.
    pub class: String,
    pub first_issued: String,
    /// The current scoring cycle's first day (记分周期起始).
    pub cycle_start: String,
    /// Points recorded by the police network in this cycle.
    pub cycle_points: u32,
    /// Points of handlings not yet confirmed back (六.3, 七.2).
    pub pending_points: u32,
    /// Status codes, e.g. `"A"` or `"HS"`.
    pub status: String,
    /// The statuses' Chinese names.
    pub status_names: Vec<String>,
    /// Times the licence reached 12 points in this cycle.
    pub full_12_count: u32,
}

/// A person (the owner of the card on the reader).
#[derive(Debug, Clone, Serialize)]
pub struct PersonView {
    /// Masked ID number (`5001**********002X`), for screens.
    pub id_number_masked: String,
    /// The full name — shown only to the person themself.
    pub name: String,
    pub phone_masked: String,
    /// Registered as a user of the platform (phone + SMS code).
    pub registered: bool,
    pub licence: Option<LicenceView>,
}

/// One of the person's vehicles and how they are related to it.
#[derive(Debug, Clone, Serialize)]
pub struct VehicleView {
    pub plate: String,
    pub plate_type: String,
    pub plate_type_name: String,
    pub use_code: String,
    pub use_name: String,
    pub status: String,
    /// `own`, `filed`, `unit_filed`, `rental_renter`, `rental_temp_driver`.
    pub relation: String,
    /// When the filing was approved (filed relations).
    pub filed_at: Option<Timestamp>,
    pub rental_start: Option<Timestamp>,
    pub rental_end: Option<Timestamp>,
    /// `person` or `unit`.
    pub owner_kind: String,
    /// Violations not yet handled.
    pub pending_violations: u32,
}

/// One failing reason of the rule core.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonView {
    pub code: String,
    pub clauses: Vec<String>,
    pub message_zh: String,
    pub message_en: String,
}

/// The rule core's decision for one violation.
#[derive(Debug, Clone, Serialize)]
pub struct RuleDecisionView {
    pub eligible: bool,
    pub reasons: Vec<ReasonView>,
    pub points_after: u32,
    pub clauses: Vec<String>,
    pub message_zh: String,
    pub message_en: String,
}

impl From<&Eligibility> for RuleDecisionView {
    fn from(e: &Eligibility) -> Self {
        RuleDecisionView {
            eligible: e.eligible(),
            reasons: e
                .reasons
                .iter()
                .map(|r| ReasonView {
                    code: r.code().into(),
                    clauses: r.clauses().iter().map(|c| c.code().to_string()).collect(),
                    message_zh: r.message_zh().into(),
                    message_en: r.message_en().into(),
                })
                .collect(),
            points_after: e.points_after,
            clauses: e.clauses().iter().map(|c| c.code().to_string()).collect(),
            message_zh: e.message_zh(),
            message_en: e.message_en(),
        }
    }
}

/// A pending violation with the rule core's decision for it (decided as if selected alone).
#[derive(Debug, Clone, Serialize)]
pub struct ViolationView {
    pub id: String,
    pub occurred_at: Timestamp,
    pub place: String,
    pub description: String,
    pub province: String,
    pub province_online: bool,
    /// `camera` or `officer`.
    pub recorded_by: String,
    /// `warning`, `fine` or `other`.
    pub penalty: String,
    pub fine: Fen,
    pub fine_text: String,
    pub points: u32,
    /// The authority where it happened, for a dispute (六.1).
    pub authority: String,
    pub authority_address: String,
    pub decision: RuleDecisionView,
}

/// A penalty decision (处罚决定) and what is due on it at `now`.
#[derive(Debug, Clone, Serialize)]
pub struct HandlingView {
    pub number: String,
    pub violation_id: String,
    /// `kiosk` (handled here) or `elsewhere`.
    pub channel: String,
    pub decided_at: Timestamp,
    pub payment_deadline: Timestamp,
    /// `handled_unpaid`, `paid` or `reverted`.
    pub state: String,
    pub fine: Fen,
    pub points: u32,
    /// Late-payment surcharge due at `now` (beyond-seed, 行政处罚法 art. 72).
    pub surcharge: Fen,
    pub surcharge_days: i64,
    pub fee: Fen,
    pub amount_due: Fen,
    pub amount_due_text: String,
}

/// A vehicle's pending violations and its unpaid decisions.
#[derive(Debug, Clone, Serialize)]
pub struct ViolationList {
    pub vehicle: VehicleView,
    pub violations: Vec<ViolationView>,
    pub unpaid_decisions: Vec<HandlingView>,
}

/// Register as a user: the phone and the SMS code sent to it.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct RegisterRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub phone: String,
    pub sms_code: String,
}

/// How the owner consented to a filing.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilingProof {
    /// The owner's vehicle QR token, scanned at the kiosk (三.2).
    QrToken(String),
    /// The SMS code sent to the owner (or the unit's manager, 三.3) for this vehicle.
    SmsCode { vehicle: VehicleKey, code: String },
}

/// File another person's (or a unit's) vehicle.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FilingRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub proof: FilingProof,
}

/// A filing (备案).
#[derive(Debug, Clone, Serialize)]
pub struct FilingView {
    pub id: i64,
    pub plate: String,
    pub plate_type: String,
    /// `owner_qr`, `owner_sms`, `unit_manager_sms`.
    pub method: String,
    /// `pending_review`, `approved`, `rejected`, `withdrawn`.
    pub state: String,
    pub requested_at: Timestamp,
    pub reviewed_at: Option<Timestamp>,
    pub withdrawn_at: Option<Timestamp>,
    /// The filed driver's name, masked (`李*红`), for the owner's list.
    pub driver_masked: String,
}

/// A person's filings: those they made, and those others made on their vehicles.
#[derive(Debug, Clone, Serialize)]
pub struct FilingList {
    /// Filings this person made (active and past).
    pub mine: Vec<FilingView>,
    /// Active filings (pending review or approved) on this person's own vehicles.
    pub on_my_vehicles: Vec<FilingView>,
}

/// Which receipt (回执) of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// A receipt kept for reprint: what was printed, as it was at the time.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptView {
    pub kind: ReceiptKind,
    pub decision_number: String,
    pub created_at: Timestamp,
    /// The handling ([`HandlingView`]) or payment ([`PaymentView`]) as recorded.
    pub body: serde_json::Value,
}

/// An SMS code was sent.
#[derive(Debug, Clone, Serialize)]
pub struct SmsSent {
    pub outbox_id: i64,
    pub phone_masked: String,
    pub expires_at: Timestamp,
}

/// Handle the selected violations of one vehicle.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct HandleRequest {
    #[serde(with = "id_serde")]
    pub id_number: IdNumber,
    pub vehicle: VehicleKey,
    /// In the order the person selected them (the batch is decided in this order).
    pub violation_ids: Vec<String>,
    pub kiosk_id: String,
}

/// One handled violation.
#[derive(Debug, Clone, Serialize)]
pub struct HandledItem {
    pub violation_id: String,
    /// True when it had been handled before: this is the existing decision, not a new one.
    pub already_handled: bool,
    pub decision: HandlingView,
}

#[derive(Debug, Clone, Serialize)]
pub struct HandleOutcome {
    pub items: Vec<HandledItem>,
    pub amount_due: Fen,
    pub amount_due_text: String,
}

/// Pay one decision. The idempotency key is made by the kiosk once per payment attempt; sending
/// the same key again returns the same payment.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct PayRequest {
    pub decision_number: String,
    pub idempotency_key: String,
    /// e.g. `unionpay_qr`, `wechat`, `alipay`, `demo`.
    pub method: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    pub decision_number: String,
    pub idempotency_key: String,
    pub method: String,
    pub transaction_no: String,
    pub fine: Fen,
    pub surcharge: Fen,
    /// Always 0 (七.1).
    pub fee: Fen,
    pub total: Fen,
    pub fine_text: String,
    pub surcharge_text: String,
    /// `0.00元`: every receipt shows the fee (七.1).
    pub fee_text: String,
    pub total_text: String,
    pub paid_at: Timestamp,
    /// True when this key had already paid: nothing new was charged.
    pub replayed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RevertedItem {
    pub decision_number: String,
    pub violation_id: String,
    pub released_points: u32,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct RevertReport {
    pub reverted: Vec<RevertedItem>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct FeedbackRequest {
    #[serde(with = "id_serde::option")]
    pub id_number: Option<IdNumber>,
    pub kiosk_id: String,
    pub category: String,
    pub text: String,
}

/// A vehicle QR token issued to the owner.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub plate: String,
    pub plate_type: String,
    pub expires_at: Timestamp,
}
