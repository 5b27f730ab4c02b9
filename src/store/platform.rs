//! The [`Platform`] trait — what the kiosk flow asks of the platform — and [`SqlitePlatform`], its
//! local implementation on one SQLite file.
//!
//! Every operation is one SQLite transaction: `IMMEDIATE` (the write lock taken at the start, so
//! counts read inside it cannot change before the write) for every operation that writes, and a
//! snapshot read transaction for the three look-ups (person, vehicles, violations), which write
//! nothing. Every operation takes `now` from the caller (the clock is injected), is idempotent
//! where a person may tap twice, and appends to the audit log whenever it changes state. Rules are
//! decided only by [`crate::rules`].

use std::path::Path;
use std::sync::Mutex;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde_json::json;

use super::payment::{DemoPaymentProvider, PaymentProvider};
use super::sms::{self, DemoSmsGateway, SmsGateway};
use super::token::{self, QrKeys};
use super::{StoreError, audit, schema};
use crate::domain::{
    Fen, IdNumber, LicenceStatus, PlateType, StatusSet, VehicleStatus, VehicleUse,
};
use crate::rules::filing::{self, FilingCounts, FilingMethod, OwnerKind};
use crate::rules::payment::{self as pay_rules, HandlingState, PaymentWindow};
use crate::rules::{
    self, DriverFacts, Eligibility, EligibilityRequest, Penalty, PolicyBook, RecordedBy, Relation,
    RentalPeriod, VehicleFacts, ViolationFacts, maintenance, surcharge,
};

// ---------------------------------------------------------------------------------------------
// Plain data: what the trait takes and returns.
// ---------------------------------------------------------------------------------------------

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

/// What the kiosk asks of the platform. Object-safe: the flow holds a `Box<dyn Platform>`, so a
/// city's central server can replace the local file without touching the flow.
pub trait Platform: Send + Sync {
    /// Look a person up by ID number.
    fn person(&self, id: &IdNumber, now: Timestamp) -> Result<PersonView, StoreError>;
    /// The person's vehicles with the relation (own, filed, unit-filed, rental).
    fn vehicles(&self, id: &IdNumber, now: Timestamp) -> Result<Vec<VehicleView>, StoreError>;
    /// A vehicle's pending violations with the rule core's decision for each, and its unpaid
    /// decisions with what is due.
    fn violations(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<ViolationList, StoreError>;
    /// Send a registration code to `phone`.
    fn send_register_code(&self, phone: &str, now: Timestamp) -> Result<SmsSent, StoreError>;
    /// Register as a user (phone + SMS code). Idempotent for the same phone.
    fn register(&self, req: &RegisterRequest, now: Timestamp) -> Result<PersonView, StoreError>;
    /// Send a filing code to the vehicle's owner (a unit's vehicle: its manager phone).
    fn send_filing_code(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError>;
    /// File another person's vehicle (三.2, 三.3): pending review until [`Platform::review_filing`].
    fn file_vehicle(&self, req: &FilingRequest, now: Timestamp) -> Result<FilingView, StoreError>;
    /// Approve or reject a pending filing. Repeating the same verdict returns the filing.
    fn review_filing(
        &self,
        filing_id: i64,
        approve: bool,
        note: &str,
        now: Timestamp,
    ) -> Result<FilingView, StoreError>;
    /// Withdraw the person's filing of a vehicle; the slot is free at once.
    fn unfile(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingView, StoreError>;
    /// The person's filings, and the active filings on their own vehicles.
    fn filings(&self, id: &IdNumber, now: Timestamp) -> Result<FilingList, StoreError>;
    /// The owner withdraws another person's filing of one of their vehicles, freeing the slot
    /// (三.2: "a 4th waits until the owner un-files one"). Repeating it returns the filing.
    fn remove_driver(
        &self,
        owner: &IdNumber,
        filing_id: i64,
        now: Timestamp,
    ) -> Result<FilingView, StoreError>;
    /// Handle selected violations: each gets a decision with a number, its points become pending.
    /// A violation already handled returns its existing decision.
    fn handle(&self, req: &HandleRequest, now: Timestamp) -> Result<HandleOutcome, StoreError>;
    /// Pay one decision, exactly once.
    fn pay(&self, req: &PayRequest, now: Timestamp) -> Result<PaymentView, StoreError>;
    /// Revert kiosk handlings unpaid after 2 hours (六.2).
    fn revert_due(&self, now: Timestamp) -> Result<RevertReport, StoreError>;
    /// A receipt kept for reprint (回执补打).
    fn receipt(&self, decision_number: &str, kind: ReceiptKind) -> Result<ReceiptView, StoreError>;
    /// Record feedback (意见反馈); returns its number.
    fn feedback(&self, req: &FeedbackRequest, now: Timestamp) -> Result<i64, StoreError>;
    /// Issue a vehicle QR token for one of the owner's vehicles.
    fn issue_vehicle_qr(
        &self,
        owner: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<IssuedToken, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// The SQLite implementation.
// ---------------------------------------------------------------------------------------------

/// The local platform: one SQLite file, shared safely by several processes.
pub struct SqlitePlatform {
    conn: Mutex<Connection>,
    policy: PolicyBook,
    /// How long a kiosk handling stays payable (`timeouts.payment_window_minutes`, at most 2 h).
    payment_window: jiff::SignedDuration,
    qr: QrKeys,
    sms: Box<dyn SmsGateway>,
    payments: Box<dyn PaymentProvider>,
}

impl std::fmt::Debug for SqlitePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlitePlatform")
            .field("qr", &self.qr)
            .finish_non_exhaustive()
    }
}

/// Where the payment came from.
pub(crate) enum PaymentSource<'a> {
    /// Charged through the configured provider.
    Provider,
    /// Notified by the payment platform with its transaction number and amount.
    Notified {
        transaction_no: &'a str,
        amount: Fen,
    },
}

pub(crate) fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

struct PersonRow {
    id: i64,
    name: String,
    phone: String,
    registered_phone: Option<String>,
}

struct VehicleRow {
    id: i64,
    plate: String,
    plate_type: String,
    use_code: String,
    status: String,
    owner_person_id: Option<i64>,
    owner_unit_id: Option<i64>,
}

struct DecisionRow {
    id: i64,
    number: String,
    violation_id: String,
    person_id: i64,
    channel: String,
    decided_at: i64,
    payment_deadline: i64,
    state: String,
    fine: i64,
    points: u32,
    confirmed: bool,
}

const DECISION_COLS: &str = "id, number, violation_id, person_id, channel, decided_at, payment_deadline, state, fine_fen, points, confirmed_at IS NOT NULL";

fn decision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionRow> {
    Ok(DecisionRow {
        id: r.get(0)?,
        number: r.get(1)?,
        violation_id: r.get(2)?,
        person_id: r.get(3)?,
        channel: r.get(4)?,
        decided_at: r.get(5)?,
        payment_deadline: r.get(6)?,
        state: r.get(7)?,
        fine: r.get(8)?,
        points: r.get(9)?,
        confirmed: r.get(10)?,
    })
}

fn handling_state(s: &str) -> Result<HandlingState, StoreError> {
    match s {
        "handled_unpaid" => Ok(HandlingState::HandledUnpaid),
        "paid" => Ok(HandlingState::Paid),
        "reverted" => Ok(HandlingState::Reverted),
        other => Err(StoreError::Corrupt(format!("decision state {other}"))),
    }
}

impl DecisionRow {
    /// The payment window: 2 hours for a kiosk handling (六.2); a decision made elsewhere has no
    /// 2-hour revert, so its window is "open now" and only its state and 六.7 are checked.
    fn window(&self, now: Timestamp) -> PaymentWindow {
        if self.channel == "kiosk" {
            PaymentWindow {
                handled_at: ts(self.decided_at),
                deadline: ts(self.payment_deadline),
            }
        } else {
            PaymentWindow::starting(now)
        }
    }

    fn view(&self, now: Timestamp) -> HandlingView {
        let today = maintenance::local_time(now).date();
        let decided_on = maintenance::local_time(ts(self.decided_at)).date();
        let s = if self.state == "handled_unpaid" {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, today)
        } else {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, decided_on)
        };
        let due = if self.state == "handled_unpaid" {
            Fen(self.fine + s.amount.0 + rules::SERVICE_FEE.0)
        } else {
            Fen(0)
        };
        HandlingView {
            number: self.number.clone(),
            violation_id: self.violation_id.clone(),
            channel: self.channel.clone(),
            decided_at: ts(self.decided_at),
            payment_deadline: ts(self.payment_deadline),
            state: self.state.clone(),
            fine: Fen(self.fine),
            points: self.points,
            surcharge: s.amount,
            surcharge_days: s.days,
            fee: rules::SERVICE_FEE,
            amount_due: due,
            amount_due_text: due.to_string(),
        }
    }
}

fn valid_phone(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

impl SqlitePlatform {
    /// Open (creating and migrating if needed) the database at `path`, with the demo SMS gateway,
    /// the demo payment provider, the demo QR keys and the embedded policy.
    pub fn open_demo(path: &Path) -> Result<Self, StoreError> {
        let conn = schema::open(path)?;
        Self::with_connection(conn)
    }

    /// A demo platform on an existing connection (already configured and migrated).
    pub fn with_connection(conn: Connection) -> Result<Self, StoreError> {
        let policy = PolicyBook::embedded()
            .map_err(|e| StoreError::Corrupt(format!("embedded policy: {e}")))?;
        Ok(Self::new(
            conn,
            policy,
            QrKeys::demo(),
            Box::new(DemoSmsGateway),
            Box::new(DemoPaymentProvider),
        ))
    }

    /// A platform with explicit parts.
    pub fn new(
        conn: Connection,
        policy: PolicyBook,
        qr: QrKeys,
        sms: Box<dyn SmsGateway>,
        payments: Box<dyn PaymentProvider>,
    ) -> Self {
        SqlitePlatform {
            conn: Mutex::new(conn),
            policy,
            payment_window: pay_rules::PAYMENT_WINDOW,
            qr,
            sms,
            payments,
        }
    }

    /// Open and run the start-up revert (六.2 survives restarts: deadlines are stored).
    pub fn open_and_recover(
        path: &Path,
        now: Timestamp,
    ) -> Result<(Self, RevertReport), StoreError> {
        let p = Self::open_demo(path)?;
        let report = p.revert_due(now)?;
        Ok((p, report))
    }

    /// Use a shorter payment window (`timeouts.payment_window_minutes` of `kiosk.toml`); the rule
    /// core never lets it exceed 2 hours (六.2).
    /// Decide with these dated policies (kiosk.toml `[policy] file`) instead of the embedded ones.
    pub fn with_policy(mut self, policy: PolicyBook) -> Self {
        self.policy = policy;
        self
    }

    pub fn with_payment_window(mut self, length: jiff::SignedDuration) -> Self {
        self.payment_window = length;
        self
    }

    pub fn qr_keys(&self) -> &QrKeys {
        &self.qr
    }

    /// Run `f` in one transaction of the given behaviour; commit on `Ok`, roll back on `Err`
    /// (except a wrong SMS code, whose counted attempt is committed).
    pub(crate) fn with_tx<T>(
        &self,
        behavior: TransactionBehavior,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction_with_behavior(behavior)?;
        match f(&tx) {
            Ok(out) => {
                tx.commit()?;
                Ok(out)
            }
            // A wrong SMS code is the one refusal whose trace is kept: the attempt is counted
            // (nothing else has been written by then), so codes cannot be guessed.
            Err(StoreError::SmsCodeWrong) => {
                tx.commit()?;
                Err(StoreError::SmsCodeWrong)
            }
            Err(e) => Err(e),
        }
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_tx(TransactionBehavior::Immediate, f)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_tx(TransactionBehavior::Deferred, f)
    }

    /// Run read-only SQL for tools (`db check`, `sms-outbox`).
    pub fn with_connection_ref<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&conn)
    }

    // --- loading --------------------------------------------------------------------------

    /// The counts `check_new_filing` needs (三.2): pending filings count as well as approved ones.
    fn filing_counts_in(
        tx: &Connection,
        person_id: i64,
        v: &VehicleRow,
    ) -> Result<FilingCounts, StoreError> {
        Ok(FilingCounts {
            user_active_filings: tx.query_row(
                "SELECT count(*) FROM filings WHERE person_id = ?1 AND state IN ('pending_review', 'approved')",
                [person_id],
                |r| r.get(0),
            )?,
            vehicle_active_drivers: tx.query_row(
                "SELECT count(*) FROM filings WHERE vehicle_id = ?1 AND state IN ('pending_review', 'approved')",
                [v.id],
                |r| r.get(0),
            )?,
            already_filed_by_user: tx.query_row(
                "SELECT count(*) FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state IN ('pending_review', 'approved')",
                params![person_id, v.id],
                |r| r.get::<_, i64>(0),
            )? > 0,
            user_is_owner: v.owner_person_id == Some(person_id),
        })
    }

    /// Would this person's filing of this vehicle pass the limits now? (A look-up for the screen
    /// before face verification; `file_vehicle` counts again inside its own transaction.)
    pub fn filing_precheck(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
    ) -> Result<(FilingCounts, OwnerKind), StoreError> {
        self.read(|tx| {
            let p = Self::person_row(tx, applicant)?;
            let v = Self::vehicle_row(tx, vehicle)?;
            let kind = if v.owner_unit_id.is_some() {
                OwnerKind::Unit
            } else {
                OwnerKind::Person
            };
            Ok((Self::filing_counts_in(tx, p.id, &v)?, kind))
        })
    }

    fn person_row(tx: &Connection, id: &IdNumber) -> Result<PersonRow, StoreError> {
        tx.query_row(
            "SELECT id, name, phone, registered_phone FROM persons WHERE id_number = ?1",
            [id.expose()],
            |r| {
                Ok(PersonRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    phone: r.get(2)?,
                    registered_phone: r.get(3)?,
                })
            },
        )
        .optional()?
        .ok_or(StoreError::PersonNotFound)
    }

    fn vehicle_row(tx: &Connection, key: &VehicleKey) -> Result<VehicleRow, StoreError> {
        Self::vehicle_where(
            tx,
            "plate = ?1 AND plate_type = ?2",
            params![key.plate, key.plate_type],
        )
    }

    fn vehicle_by_id(tx: &Connection, id: i64) -> Result<VehicleRow, StoreError> {
        Self::vehicle_where(tx, "id = ?1", params![id])
    }

    fn vehicle_where(
        tx: &Connection,
        cond: &str,
        p: impl rusqlite::Params,
    ) -> Result<VehicleRow, StoreError> {
        tx.query_row(
            &format!("SELECT id, plate, plate_type, use_code, status, owner_person_id, owner_unit_id FROM vehicles WHERE {cond}"),
            p,
            |r| {
                Ok(VehicleRow {
                    id: r.get(0)?,
                    plate: r.get(1)?,
                    plate_type: r.get(2)?,
                    use_code: r.get(3)?,
                    status: r.get(4)?,
                    owner_person_id: r.get(5)?,
                    owner_unit_id: r.get(6)?,
                })
            },
        )
        .optional()?
        .ok_or(StoreError::VehicleNotFound)
    }

    /// Where a filing code goes: the owner's phone, or a unit's manager phone (三.2, 三.3).
    fn owner_phone(tx: &Connection, v: &VehicleRow) -> Result<String, StoreError> {
        Ok(match (v.owner_person_id, v.owner_unit_id) {
            (Some(owner), _) => {
                tx.query_row("SELECT phone FROM persons WHERE id = ?1", [owner], |r| {
                    r.get(0)
                })?
            }
            (None, Some(unit)) => tx.query_row(
                "SELECT manager_phone FROM units WHERE id = ?1",
                [unit],
                |r| r.get(0),
            )?,
            (None, None) => return Err(StoreError::Corrupt("vehicle without owner".into())),
        })
    }

    fn licence(tx: &Connection, person_id: i64) -> Result<Option<LicenceView>, StoreError> {
        let row = tx
            .query_row(
                "SELECT licence_class, first_issued, cycle_start, cycle_points, pending_points, status, full_12_count FROM licences WHERE person_id = ?1",
                [person_id],
                |r| {
                    Ok(LicenceView {
                        class: r.get(0)?,
                        first_issued: r.get(1)?,
                        cycle_start: r.get(2)?,
                        cycle_points: r.get(3)?,
                        pending_points: r.get(4)?,
                        status: r.get(5)?,
                        status_names: Vec::new(),
                        full_12_count: r.get(6)?,
                    })
                },
            )
            .optional()?;
        let Some(mut l) = row else { return Ok(None) };
        let set = parse_licence_status(&l.status)?;
        l.status_names = set.iter().map(|s| s.name_zh().to_string()).collect();
        Ok(Some(l))
    }

    fn driver_facts(tx: &Connection, person_id: i64) -> Result<DriverFacts, StoreError> {
        Ok(match Self::licence(tx, person_id)? {
            None => DriverFacts::without_licence(),
            Some(l) => DriverFacts {
                has_license: true,
                license_status: parse_licence_status(&l.status)?,
                cycle_points: l.cycle_points,
                pending_points: l.pending_points,
                full_12_count_in_cycle: l.full_12_count,
            },
        })
    }

    /// The person's relation to a vehicle, strongest first: own, filed, unit-filed, renter,
    /// temporary driver (the latest contract).
    fn relation(tx: &Connection, person_id: i64, v: &VehicleRow) -> Result<Relation, StoreError> {
        if v.owner_person_id == Some(person_id) {
            return Ok(Relation::Own);
        }
        let filed: Option<i64> = tx
            .query_row(
                "SELECT reviewed_at FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state = 'approved'",
                params![person_id, v.id],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        if let Some(at) = filed {
            let filed_at = ts(at);
            return Ok(if v.owner_unit_id.is_some() {
                Relation::UnitFiled { filed_at }
            } else {
                Relation::Filed { filed_at }
            });
        }
        let rental: Option<(String, i64, i64, i64)> = tx
            .query_row(
                "SELECT role, start_at, end_at, filed_at FROM rentals WHERE person_id = ?1 AND vehicle_id = ?2 ORDER BY role = 'renter' DESC, start_at DESC LIMIT 1",
                params![person_id, v.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        Ok(match rental {
            Some((role, start, end, filed_at)) => {
                let rental = RentalPeriod {
                    start: ts(start),
                    end: ts(end),
                };
                if role == "renter" {
                    Relation::RentalRenter { rental }
                } else {
                    Relation::RentalTempDriver {
                        filed_at: ts(filed_at),
                        rental,
                    }
                }
            }
            None => Relation::None,
        })
    }

    fn vehicle_facts(v: &VehicleRow, relation: Relation) -> Result<VehicleFacts, StoreError> {
        Ok(VehicleFacts {
            plate: crate::domain::Plate::parse(&v.plate)
                .map_err(|e| StoreError::Corrupt(format!("plate: {e}")))?,
            plate_type: PlateType::parse(&v.plate_type)
                .map_err(|e| StoreError::Corrupt(format!("plate type: {e}")))?,
            use_: VehicleUse::parse(&v.use_code)
                .map_err(|e| StoreError::Corrupt(format!("vehicle use: {e}")))?,
            status: StatusSet::<VehicleStatus>::parse_codes([v.status.as_str()])
                .map_err(|e| StoreError::Corrupt(format!("vehicle status: {e}")))?,
            relation,
        })
    }

    fn vehicle_view(
        tx: &Connection,
        v: &VehicleRow,
        relation: &Relation,
    ) -> Result<VehicleView, StoreError> {
        let pending: u32 = tx.query_row(
            "SELECT count(*) FROM violations WHERE vehicle_id = ?1 AND state = 'pending'",
            [v.id],
            |r| r.get(0),
        )?;
        let (filed_at, rental) = match relation {
            Relation::Filed { filed_at } | Relation::UnitFiled { filed_at } => {
                (Some(*filed_at), None)
            }
            Relation::RentalRenter { rental } => (None, Some(*rental)),
            Relation::RentalTempDriver { filed_at, rental } => (Some(*filed_at), Some(*rental)),
            Relation::Own | Relation::None => (None, None),
        };
        Ok(VehicleView {
            plate: v.plate.clone(),
            plate_type: v.plate_type.clone(),
            plate_type_name: PlateType::parse(&v.plate_type)
                .map(|p| p.name_zh().to_string())
                .unwrap_or_default(),
            use_code: v.use_code.clone(),
            use_name: VehicleUse::parse(&v.use_code)
                .map(|u| u.name_zh().to_string())
                .unwrap_or_default(),
            status: v.status.clone(),
            relation: relation.code().to_string(),
            filed_at,
            rental_start: rental.map(|r| r.start),
            rental_end: rental.map(|r| r.end),
            owner_kind: if v.owner_unit_id.is_some() {
                "unit"
            } else {
                "person"
            }
            .into(),
            pending_violations: pending,
        })
    }

    fn pending_violation_facts(
        tx: &Connection,
        vehicle_id: i64,
        only: Option<&[String]>,
    ) -> Result<Vec<(ViolationFacts, ViolationExtra)>, StoreError> {
        let mut stmt = tx.prepare_cached(
            "SELECT id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address
             FROM violations WHERE vehicle_id = ?1 AND state = 'pending' ORDER BY occurred_at, id",
        )?;
        let rows = stmt.query_map([vehicle_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, bool>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, u32>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, String>(11)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, at, place, description, province, online, rec, pen, fine, points, auth, addr) =
                row?;
            if let Some(only) = only
                && !only.contains(&id)
            {
                continue;
            }
            let recorded_by = RecordedBy::from_code(&rec)
                .ok_or_else(|| StoreError::Corrupt(format!("recorded_by {rec}")))?;
            let penalty = Penalty::from_code(&pen)
                .ok_or_else(|| StoreError::Corrupt(format!("penalty {pen}")))?;
            let prov = province
                .chars()
                .next()
                .ok_or_else(|| StoreError::Corrupt("empty province".into()))?;
            out.push((
                ViolationFacts {
                    id,
                    occurred_at: ts(at),
                    recorded_by,
                    penalty,
                    fine: Fen(fine),
                    points,
                    province: prov,
                    province_online: online,
                },
                ViolationExtra {
                    place,
                    description,
                    recorded_by: rec,
                    penalty: pen,
                    authority: auth,
                    authority_address: addr,
                },
            ));
        }
        Ok(out)
    }

    fn decision_by_number(tx: &Connection, number: &str) -> Result<DecisionRow, StoreError> {
        tx.query_row(
            &format!("SELECT {DECISION_COLS} FROM decisions WHERE number = ?1"),
            [number],
            decision_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::DecisionNotFound(number.to_string()))
    }

    fn live_decision_of(
        tx: &Connection,
        violation: &str,
    ) -> Result<Option<DecisionRow>, StoreError> {
        Ok(tx
            .query_row(
                &format!("SELECT {DECISION_COLS} FROM decisions WHERE violation_id = ?1 AND state <> 'reverted'"),
                [violation],
                decision_from_row,
            )
            .optional()?)
    }

    fn filing_view(tx: &Connection, id: i64) -> Result<FilingView, StoreError> {
        tx.query_row(
            "SELECT f.id, v.plate, v.plate_type, f.method, f.state, f.requested_at, f.reviewed_at, f.withdrawn_at, p.name
             FROM filings f JOIN vehicles v ON v.id = f.vehicle_id JOIN persons p ON p.id = f.person_id WHERE f.id = ?1",
            [id],
            |r| {
                Ok(FilingView {
                    id: r.get(0)?,
                    plate: r.get(1)?,
                    plate_type: r.get(2)?,
                    method: r.get(3)?,
                    state: r.get(4)?,
                    requested_at: ts(r.get(5)?),
                    reviewed_at: r.get::<_, Option<i64>>(6)?.map(ts),
                    withdrawn_at: r.get::<_, Option<i64>>(7)?.map(ts),
                    driver_masked: crate::privacy::mask_text(&r.get::<_, String>(8)?),
                })
            },
        )
        .optional()?
        .ok_or(StoreError::FilingNotFound)
    }

    fn change_pending_points(
        tx: &Connection,
        person_id: i64,
        delta: i64,
    ) -> Result<(), StoreError> {
        if delta == 0 {
            return Ok(());
        }
        let n = tx.execute(
            "UPDATE licences SET pending_points = pending_points + ?1 WHERE person_id = ?2",
            params![delta, person_id],
        )?;
        if n != 1 {
            return Err(StoreError::Corrupt(
                "points on a decision of a person without a licence".into(),
            ));
        }
        Ok(())
    }

    fn next_decision_number(tx: &Connection, now: Timestamp) -> Result<(i64, String), StoreError> {
        let id: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM decisions", [], |r| {
            r.get(0)
        })?;
        let day = maintenance::local_time(now).date().strftime("%Y%m%d");
        Ok((id, format!("5001{day}{id:08}")))
    }

    /// Record a payment for `d` (inside the caller's IMMEDIATE transaction).
    pub(crate) fn pay_in_tx(
        &self,
        tx: &Connection,
        req: &PayRequest,
        source: PaymentSource<'_>,
        now: Timestamp,
    ) -> Result<PaymentView, StoreError> {
        if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 128 {
            return Err(StoreError::Invalid("idempotency key".into()));
        }
        // The same key again: the same payment, nothing charged twice.
        let existing: Option<PaymentView> = tx
            .query_row(
                "SELECT d.number, p.method, p.transaction_no, p.fine_fen, p.surcharge_fen, p.fee_fen, p.total_fen, p.paid_at
                 FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE p.idempotency_key = ?1",
                [&req.idempotency_key],
                |r| {
                    let (fine, sur, fee, total) = (Fen(r.get(3)?), Fen(r.get(4)?), Fen(r.get(5)?), Fen(r.get(6)?));
                    Ok(PaymentView {
                        decision_number: r.get(0)?,
                        idempotency_key: req.idempotency_key.clone(),
                        method: r.get(1)?,
                        transaction_no: r.get(2)?,
                        fine,
                        surcharge: sur,
                        fee,
                        total,
                        fine_text: fine.to_string(),
                        surcharge_text: sur.to_string(),
                        fee_text: fee.to_string(),
                        total_text: total.to_string(),
                        paid_at: ts(r.get(7)?),
                        replayed: true,
                    })
                },
            )
            .optional()?;
        if let Some(previous) = existing {
            if previous.decision_number != req.decision_number {
                return Err(StoreError::IdempotencyKeyReused);
            }
            return Ok(previous);
        }
        let d = Self::decision_by_number(tx, &req.decision_number)?;
        let state = handling_state(&d.state)?;
        pay_rules::check_payment(state, d.window(now), now).map_err(StoreError::Payment)?;
        let view = d.view(now);
        let total = view.amount_due;
        let transaction_no = match source {
            PaymentSource::Provider => {
                self.payments
                    .charge(&req.decision_number, &req.idempotency_key, total)?
            }
            PaymentSource::Notified {
                transaction_no,
                amount,
            } => {
                if amount != total {
                    return Err(StoreError::Invalid(format!(
                        "notified amount {amount} differs from the amount due {total}"
                    )));
                }
                transaction_no.to_string()
            }
        };
        tx.execute(
            "INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![d.id, req.idempotency_key, req.method, transaction_no, d.fine, view.surcharge.0, rules::SERVICE_FEE.0, total.0, now.as_second()],
        )?;
        let payment_id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE decisions SET state = 'paid' WHERE id = ?1 AND state = 'handled_unpaid'",
            [d.id],
        )?;
        tx.execute(
            "UPDATE violations SET state = 'paid' WHERE id = ?1",
            [&d.violation_id],
        )?;
        let out = PaymentView {
            decision_number: d.number.clone(),
            idempotency_key: req.idempotency_key.clone(),
            method: req.method.clone(),
            transaction_no,
            fine: Fen(d.fine),
            surcharge: view.surcharge,
            fee: rules::SERVICE_FEE,
            total,
            fine_text: Fen(d.fine).to_string(),
            surcharge_text: view.surcharge.to_string(),
            fee_text: rules::SERVICE_FEE.to_string(),
            total_text: total.to_string(),
            paid_at: now,
            replayed: false,
        };
        let body = serde_json::to_string(&out).expect("serialize");
        tx.execute(
            "INSERT INTO receipts (kind, decision_id, payment_id, body, created_at) VALUES ('payment', ?1, ?2, ?3, ?4)",
            params![d.id, payment_id, body, now.as_second()],
        )?;
        tracing::info!(decision = %d.number, total = %total, "decision paid");
        audit::append(
            tx,
            now.as_second(),
            "pay",
            &format!("decision:{}", d.number),
            &json!({"payment": payment_id, "total_fen": total.0, "surcharge_fen": view.surcharge.0, "method": req.method}),
        )?;
        Ok(out)
    }
}

/// The owner's consent to a filing, checked inside the transaction.
enum Consent<'a> {
    /// The owner tag of a verified vehicle-QR token.
    Qr(String),
    /// The SMS code the applicant typed.
    Sms(&'a str),
}

struct ViolationExtra {
    place: String,
    description: String,
    recorded_by: String,
    penalty: String,
    authority: String,
    authority_address: String,
}

fn parse_licence_status(s: &str) -> Result<StatusSet<LicenceStatus>, StoreError> {
    StatusSet::<LicenceStatus>::parse_codes([s])
        .map_err(|e| StoreError::Corrupt(format!("licence status: {e}")))
}

impl Platform for SqlitePlatform {
    fn person(&self, id: &IdNumber, _now: Timestamp) -> Result<PersonView, StoreError> {
        self.read(|tx| {
            let p = Self::person_row(tx, id)?;
            Ok(PersonView {
                id_number_masked: id.masked(),
                name: p.name.clone(),
                phone_masked: crate::privacy::mask_text(&p.phone),
                registered: p.registered_phone.is_some(),
                licence: Self::licence(tx, p.id)?,
            })
        })
    }

    fn vehicles(&self, id: &IdNumber, now: Timestamp) -> Result<Vec<VehicleView>, StoreError> {
        let _ = now;
        self.read(|tx| {
            let p = Self::person_row(tx, id)?;
            let mut ids: Vec<i64> = Vec::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id FROM vehicles WHERE owner_person_id = ?1
                     UNION SELECT vehicle_id FROM filings WHERE person_id = ?1 AND state = 'approved'
                     UNION SELECT vehicle_id FROM rentals WHERE person_id = ?1",
                )?;
                for r in stmt.query_map([p.id], |r| r.get(0))? {
                    ids.push(r?);
                }
            }
            let mut out = Vec::new();
            for vid in ids {
                let v = Self::vehicle_by_id(tx, vid)?;
                let rel = Self::relation(tx, p.id, &v)?;
                out.push(Self::vehicle_view(tx, &v, &rel)?);
            }
            out.sort_by(|a, b| {
                let rank = |r: &str| ["own", "filed", "unit_filed", "rental_renter", "rental_temp_driver"]
                    .iter()
                    .position(|x| *x == r)
                    .unwrap_or(9);
                rank(&a.relation).cmp(&rank(&b.relation)).then(a.plate.cmp(&b.plate))
            });
            Ok(out)
        })
    }

    fn violations(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<ViolationList, StoreError> {
        self.read(|tx| {
            let p = Self::person_row(tx, id)?;
            let v = Self::vehicle_row(tx, vehicle)?;
            let relation = Self::relation(tx, p.id, &v)?;
            let driver = Self::driver_facts(tx, p.id)?;
            let vfacts = Self::vehicle_facts(&v, relation.clone())?;
            let policy = self.policy.at(now);
            let mut violations = Vec::new();
            for (facts, extra) in Self::pending_violation_facts(tx, v.id, None)? {
                // Each decided as if selected alone; handling re-decides the selected batch.
                let req = EligibilityRequest {
                    now,
                    policy,
                    driver: driver.clone(),
                    vehicle: vfacts.clone(),
                    violations: vec![facts.clone()],
                };
                let decision = rules::decide(&req)
                    .pop()
                    .ok_or_else(|| StoreError::Corrupt("rule core returned nothing".into()))?;
                violations.push(ViolationView {
                    id: facts.id.clone(),
                    occurred_at: facts.occurred_at,
                    place: extra.place,
                    description: extra.description,
                    province: facts.province.to_string(),
                    province_online: facts.province_online,
                    recorded_by: extra.recorded_by,
                    penalty: extra.penalty,
                    fine: facts.fine,
                    fine_text: facts.fine.to_string(),
                    points: facts.points,
                    authority: extra.authority,
                    authority_address: extra.authority_address,
                    decision: RuleDecisionView::from(&decision),
                });
            }
            let mut unpaid = Vec::new();
            {
                // From the vehicle's handled violations to their decisions (both indexed).
                let cols = DECISION_COLS
                    .split(", ")
                    .map(|c| format!("d.{c}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {cols} FROM violations v JOIN decisions d ON d.id = v.decision_id
                     WHERE v.vehicle_id = ?1 AND v.state = 'handled' AND d.state = 'handled_unpaid' ORDER BY d.id"
                ))?;
                for d in stmt.query_map([v.id], decision_from_row)? {
                    unpaid.push(d?.view(now));
                }
            }
            Ok(ViolationList {
                vehicle: Self::vehicle_view(tx, &v, &relation)?,
                violations,
                unpaid_decisions: unpaid,
            })
        })
    }

    fn send_register_code(&self, phone: &str, now: Timestamp) -> Result<SmsSent, StoreError> {
        if !valid_phone(phone) {
            return Err(StoreError::BadPhone);
        }
        self.write(|tx| {
            let (outbox_id, expires_at) = sms::issue_code(
                tx,
                self.sms.as_ref(),
                phone,
                "register",
                "【交管12123】您的注册验证码为{code}，5分钟内有效。",
                now,
            )?;
            audit::append(
                tx,
                now.as_second(),
                "sms_register_code",
                &format!("sms:{outbox_id}"),
                &json!({}),
            )?;
            Ok(SmsSent {
                outbox_id,
                phone_masked: crate::privacy::mask_text(phone),
                expires_at,
            })
        })
    }

    fn register(&self, req: &RegisterRequest, now: Timestamp) -> Result<PersonView, StoreError> {
        if !valid_phone(&req.phone) {
            return Err(StoreError::BadPhone);
        }
        self.write(|tx| {
            let p = Self::person_row(tx, &req.id_number)?;
            match &p.registered_phone {
                Some(ph) if *ph == req.phone => {}
                Some(_) => return Err(StoreError::RegisteredWithOtherPhone),
                None => {
                    sms::consume_code(tx, &req.phone, "register", &req.sms_code, now)?;
                    tx.execute(
                        "UPDATE persons SET registered_phone = ?1, registered_at = ?2 WHERE id = ?3",
                        params![req.phone, now.as_second(), p.id],
                    )?;
                    audit::append(tx, now.as_second(), "register", &format!("person:{}", p.id), &json!({}))?;
                }
            }
            Ok(PersonView {
                id_number_masked: req.id_number.masked(),
                name: p.name.clone(),
                phone_masked: crate::privacy::mask_text(&req.phone),
                registered: true,
                licence: Self::licence(tx, p.id)?,
            })
        })
    }

    fn send_filing_code(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError> {
        self.write(|tx| {
            let p = Self::person_row(tx, applicant)?;
            let v = Self::vehicle_row(tx, vehicle)?;
            let owner = if v.owner_unit_id.is_some() { OwnerKind::Unit } else { OwnerKind::Person };
            // 三.3: a unit's vehicle that may not be filed is refused before any SMS is sent.
            filing::check_filable_vehicle(owner, &v.plate_type, &v.use_code, self.policy.at(now).epidemic_relief).map_err(StoreError::Filing)?;
            let phone = Self::owner_phone(tx, &v)?;
            let purpose = format!("filing:{}:{}", v.id, p.id);
            let (outbox_id, expires_at) = sms::issue_code(
                tx,
                self.sms.as_ref(),
                &phone,
                &purpose,
                &format!("【交管12123】有人申请备案您的车辆{}，如同意请告知其验证码{{code}}，5分钟内有效。", v.plate),
                now,
            )?;
            audit::append(tx, now.as_second(), "sms_filing_code", &format!("sms:{outbox_id}"), &json!({"vehicle": v.id, "applicant": p.id}))?;
            Ok(SmsSent {
                outbox_id,
                phone_masked: crate::privacy::mask_text(&phone),
                expires_at,
            })
        })
    }

    fn file_vehicle(&self, req: &FilingRequest, now: Timestamp) -> Result<FilingView, StoreError> {
        // The token is checked before anything is read or written.
        let (key, method, consent) = match &req.proof {
            FilingProof::QrToken(t) => {
                let c = self.qr.verify(t, now)?;
                (
                    VehicleKey {
                        plate: c.plate.clone(),
                        plate_type: c.plate_type.clone(),
                    },
                    FilingMethod::OwnerQr,
                    Consent::Qr(c.owner),
                )
            }
            FilingProof::SmsCode { vehicle, code } => (
                vehicle.clone(),
                FilingMethod::OwnerSms,
                Consent::Sms(code.as_str()),
            ),
        };
        self.write(|tx| {
            let p = Self::person_row(tx, &req.id_number)?;
            let v = Self::vehicle_row(tx, &key)?;
            let owner_kind = if v.owner_unit_id.is_some() { OwnerKind::Unit } else { OwnerKind::Person };
            let method = match (method, owner_kind) {
                (FilingMethod::OwnerSms, OwnerKind::Unit) => FilingMethod::UnitManagerSms,
                (m, _) => m,
            };
            filing::check_filable_vehicle(owner_kind, &v.plate_type, &v.use_code, self.policy.at(now).epidemic_relief).map_err(StoreError::Filing)?;
            let counts = Self::filing_counts_in(tx, p.id, &v)?;
            filing::check_new_filing(counts, owner_kind, method).map_err(StoreError::Filing)?;
            // The owner's consent.
            match consent {
                Consent::Qr(owner_tag) => {
                    let owner_id: Option<String> = match v.owner_person_id {
                        Some(o) => Some(tx.query_row(
                            "SELECT id_number FROM persons WHERE id = ?1",
                            [o],
                            |r| r.get(0),
                        )?),
                        None => None,
                    };
                    let owner = owner_id
                        .map(|s| {
                            IdNumber::parse(&s)
                                .map_err(|e| StoreError::Corrupt(format!("owner id: {e}")))
                        })
                        .transpose()?;
                    if owner.map(|o| token::owner_tag(&o)).as_ref() != Some(&owner_tag) {
                        return Err(StoreError::TokenOwnerMismatch);
                    }
                }
                Consent::Sms(code) => {
                    let phone = Self::owner_phone(tx, &v)?;
                    let purpose = format!("filing:{}:{}", v.id, p.id);
                    sms::consume_code(tx, &phone, &purpose, code, now)?;
                }
            }
            let method_code = match method {
                FilingMethod::OwnerQr => "owner_qr",
                FilingMethod::OwnerSms => "owner_sms",
                FilingMethod::UnitManagerSms => "unit_manager_sms",
            };
            tx.execute(
                "INSERT INTO filings (person_id, vehicle_id, method, state, requested_at) VALUES (?1, ?2, ?3, 'pending_review', ?4)",
                params![p.id, v.id, method_code, now.as_second()],
            )?;
            let id = tx.last_insert_rowid();
            tracing::info!(person = %req.id_number, filing = id, method = method_code, "filing requested");
            audit::append(tx, now.as_second(), "file", &format!("filing:{id}"), &json!({"person": p.id, "vehicle": v.id, "method": method_code}))?;
            Self::filing_view(tx, id)
        })
    }

    fn review_filing(
        &self,
        filing_id: i64,
        approve: bool,
        note: &str,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        let wanted = if approve { "approved" } else { "rejected" };
        self.write(|tx| {
            let f = Self::filing_view(tx, filing_id)?;
            if f.state == wanted {
                return Ok(f);
            }
            if f.state != "pending_review" {
                return Err(StoreError::FilingAlreadyReviewed {
                    state: f.state,
                    wanted: wanted.into(),
                });
            }
            tx.execute(
                "UPDATE filings SET state = ?1, reviewed_at = ?2, review_note = ?3 WHERE id = ?4",
                params![wanted, now.as_second(), note, filing_id],
            )?;
            audit::append(
                tx,
                now.as_second(),
                "review",
                &format!("filing:{filing_id}"),
                &json!({"state": wanted}),
            )?;
            Self::filing_view(tx, filing_id)
        })
    }

    fn unfile(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.write(|tx| {
            let p = Self::person_row(tx, id)?;
            let v = Self::vehicle_row(tx, vehicle)?;
            let active: Option<i64> = tx
                .query_row(
                    "SELECT id FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state IN ('pending_review', 'approved')",
                    params![p.id, v.id],
                    |r| r.get(0),
                )
                .optional()?;
            match active {
                Some(fid) => {
                    tx.execute(
                        "UPDATE filings SET state = 'withdrawn', withdrawn_at = ?1 WHERE id = ?2",
                        params![now.as_second(), fid],
                    )?;
                    audit::append(tx, now.as_second(), "unfile", &format!("filing:{fid}"), &json!({}))?;
                    Self::filing_view(tx, fid)
                }
                None => {
                    // Tapped twice: the filing withdrawn last time.
                    let last: Option<i64> = tx
                        .query_row(
                            "SELECT id FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state = 'withdrawn' ORDER BY id DESC LIMIT 1",
                            params![p.id, v.id],
                            |r| r.get(0),
                        )
                        .optional()?;
                    match last {
                        Some(fid) => Self::filing_view(tx, fid),
                        None => Err(StoreError::NotFiled),
                    }
                }
            }
        })
    }

    fn filings(&self, id: &IdNumber, _now: Timestamp) -> Result<FilingList, StoreError> {
        self.read(|tx| {
            let p = Self::person_row(tx, id)?;
            let ids = |sql: &str| -> Result<Vec<i64>, StoreError> {
                let mut stmt = tx.prepare_cached(sql)?;
                let rows = stmt.query_map([p.id], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            };
            let mine = ids("SELECT id FROM filings WHERE person_id = ?1 ORDER BY id")?;
            let on_mine = ids(
                "SELECT f.id FROM filings f JOIN vehicles v ON v.id = f.vehicle_id
                 WHERE v.owner_person_id = ?1 AND f.state IN ('pending_review', 'approved') ORDER BY f.id",
            )?;
            Ok(FilingList {
                mine: mine
                    .into_iter()
                    .map(|f| Self::filing_view(tx, f))
                    .collect::<Result<_, _>>()?,
                on_my_vehicles: on_mine
                    .into_iter()
                    .map(|f| Self::filing_view(tx, f))
                    .collect::<Result<_, _>>()?,
            })
        })
    }

    fn remove_driver(
        &self,
        owner: &IdNumber,
        filing_id: i64,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.write(|tx| {
            let p = Self::person_row(tx, owner)?;
            let row: Option<(i64, String)> = tx
                .query_row(
                    "SELECT v.owner_person_id, f.state FROM filings f JOIN vehicles v ON v.id = f.vehicle_id WHERE f.id = ?1",
                    [filing_id],
                    |r| Ok((r.get::<_, Option<i64>>(0)?.unwrap_or(0), r.get(1)?)),
                )
                .optional()?;
            match row {
                // Only the owner may remove a driver from their vehicle; to anyone else it does
                // not exist.
                Some((o, _)) if o != p.id => Err(StoreError::FilingNotFound),
                None => Err(StoreError::FilingNotFound),
                Some((_, state)) if state == "withdrawn" => Self::filing_view(tx, filing_id),
                Some((_, state)) if state == "rejected" => Err(StoreError::FilingAlreadyReviewed {
                    state,
                    wanted: "withdrawn".into(),
                }),
                Some(_) => {
                    tx.execute(
                        "UPDATE filings SET state = 'withdrawn', withdrawn_at = ?1 WHERE id = ?2",
                        params![now.as_second(), filing_id],
                    )?;
                    audit::append(
                        tx,
                        now.as_second(),
                        "remove_driver",
                        &format!("filing:{filing_id}"),
                        &json!({"owner": p.id}),
                    )?;
                    Self::filing_view(tx, filing_id)
                }
            }
        })
    }

    fn handle(&self, req: &HandleRequest, now: Timestamp) -> Result<HandleOutcome, StoreError> {
        if req.violation_ids.is_empty() {
            return Err(StoreError::Invalid("no violation selected".into()));
        }
        self.write(|tx| {
            let p = Self::person_row(tx, &req.id_number)?;
            let v = Self::vehicle_row(tx, &req.vehicle)?;
            let mut items: Vec<Option<HandledItem>> = vec![None; req.violation_ids.len()];
            let mut fresh: Vec<String> = Vec::new();
            for (i, vid) in req.violation_ids.iter().enumerate() {
                let state: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT vehicle_id, state FROM violations WHERE id = ?1",
                        [vid],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                match state {
                    Some((veh, _)) if veh != v.id => return Err(StoreError::ViolationNotFound(vid.clone())),
                    None => return Err(StoreError::ViolationNotFound(vid.clone())),
                    Some((_, s)) if s == "pending" => {
                        if !fresh.contains(vid) {
                            fresh.push(vid.clone());
                        }
                    }
                    Some(_) => {
                        let d = Self::live_decision_of(tx, vid)?
                            .ok_or_else(|| StoreError::Corrupt(format!("violation {vid} handled without a decision")))?;
                        items[i] = Some(HandledItem {
                            violation_id: vid.clone(),
                            already_handled: true,
                            decision: d.view(now),
                        });
                    }
                }
            }
            if !fresh.is_empty() {
                let relation = Self::relation(tx, p.id, &v)?;
                let facts: Vec<ViolationFacts> = {
                    let mut all = Self::pending_violation_facts(tx, v.id, Some(&fresh))?;
                    // Decide in the order the person selected them.
                    all.sort_by_key(|(f, _)| fresh.iter().position(|x| *x == f.id));
                    all.into_iter().map(|(f, _)| f).collect()
                };
                let erq = EligibilityRequest {
                    now,
                    policy: self.policy.at(now),
                    driver: Self::driver_facts(tx, p.id)?,
                    vehicle: Self::vehicle_facts(&v, relation)?,
                    violations: facts.clone(),
                };
                let decided = rules::decide(&erq);
                if let Some(no) = decided.iter().find(|e| !e.eligible()) {
                    return Err(StoreError::NotEligible {
                        violation: no.violation.clone(),
                        zh: format!("违法{}：{}", no.violation, no.message_zh()),
                        en: format!("Violation {}: {}", no.violation, no.message_en()),
                    });
                }
                let window = PaymentWindow::with_length(now, self.payment_window);
                for f in &facts {
                    let (id, number) = Self::next_decision_number(tx, now)?;
                    tx.execute(
                        "INSERT INTO decisions (id, number, violation_id, person_id, channel, kiosk_id, decided_at, payment_deadline, state, fine_fen, points)
                         VALUES (?1, ?2, ?3, ?4, 'kiosk', ?5, ?6, ?7, 'handled_unpaid', ?8, ?9)",
                        params![id, number, f.id, p.id, req.kiosk_id, now.as_second(), window.deadline.as_second(), f.fine.0, f.points],
                    )?;
                    let n = tx.execute(
                        "UPDATE violations SET state = 'handled', decision_id = ?1 WHERE id = ?2 AND state = 'pending'",
                        params![id, f.id],
                    )?;
                    if n != 1 {
                        return Err(StoreError::Corrupt(format!("violation {} changed under the write lock", f.id)));
                    }
                    Self::change_pending_points(tx, p.id, i64::from(f.points))?;
                    let d = Self::decision_by_number(tx, &number)?;
                    let view = d.view(now);
                    tx.execute(
                        "INSERT INTO receipts (kind, decision_id, body, created_at) VALUES ('handling', ?1, ?2, ?3)",
                        params![id, serde_json::to_string(&view).expect("serialize"), now.as_second()],
                    )?;
                    audit::append(tx, now.as_second(), "handle", &format!("decision:{number}"), &json!({"violation": f.id, "person": p.id, "points": f.points, "fine_fen": f.fine.0, "kiosk": req.kiosk_id}))?;
                    let i = req.violation_ids.iter().position(|x| *x == f.id).expect("selected");
                    items[i] = Some(HandledItem {
                        violation_id: f.id.clone(),
                        already_handled: false,
                        decision: view,
                    });
                }
            }
            // A violation selected twice appears once.
            let mut seen = std::collections::BTreeSet::new();
            let items: Vec<HandledItem> = items
                .into_iter()
                .flatten()
                .filter(|it| seen.insert(it.violation_id.clone()))
                .collect();
            let due = Fen(items.iter().map(|i| i.decision.amount_due.0).sum());
            tracing::info!(
                person = %req.id_number,
                handled = fresh.len(),
                selected = items.len(),
                "violations handled"
            );
            Ok(HandleOutcome {
                items,
                amount_due: due,
                amount_due_text: due.to_string(),
            })
        })
    }

    fn pay(&self, req: &PayRequest, now: Timestamp) -> Result<PaymentView, StoreError> {
        self.write(|tx| self.pay_in_tx(tx, req, PaymentSource::Provider, now))
    }

    fn revert_due(&self, now: Timestamp) -> Result<RevertReport, StoreError> {
        self.write(|tx| {
            let due: Vec<DecisionRow> = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {DECISION_COLS} FROM decisions WHERE state = 'handled_unpaid' AND channel = 'kiosk' AND payment_deadline <= ?1 ORDER BY id"
                ))?;
                stmt.query_map([now.as_second()], decision_from_row)?
                    .collect::<Result<_, _>>()?
            };
            let mut report = RevertReport::default();
            for d in due {
                let Some(release) = pay_rules::revert_due(
                    handling_state(&d.state)?,
                    d.window(now),
                    now,
                    d.points,
                    1,
                ) else {
                    continue;
                };
                tx.execute(
                    "UPDATE decisions SET state = 'reverted', reverted_at = ?1 WHERE id = ?2",
                    params![now.as_second(), d.id],
                )?;
                tx.execute(
                    "UPDATE violations SET state = 'pending', decision_id = NULL WHERE id = ?1 AND decision_id = ?2",
                    params![d.violation_id, d.id],
                )?;
                if !d.confirmed {
                    Self::change_pending_points(tx, d.person_id, -i64::from(release.released_points))?;
                }
                audit::append(tx, now.as_second(), "revert", &format!("decision:{}", d.number), &json!({"released_points": release.released_points}))?;
                report.reverted.push(RevertedItem {
                    decision_number: d.number.clone(),
                    violation_id: d.violation_id.clone(),
                    released_points: release.released_points,
                });
            }
            if !report.reverted.is_empty() {
                tracing::info!(count = report.reverted.len(), "reverted unpaid handlings (六.2)");
            }
            Ok(report)
        })
    }

    fn receipt(&self, decision_number: &str, kind: ReceiptKind) -> Result<ReceiptView, StoreError> {
        self.read(|tx| {
            let d = Self::decision_by_number(tx, decision_number)?;
            let (body, at): (String, i64) = tx
                .query_row(
                    "SELECT body, created_at FROM receipts WHERE decision_id = ?1 AND kind = ?2",
                    params![d.id, kind.code()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or(StoreError::ReceiptNotFound)?;
            Ok(ReceiptView {
                kind,
                decision_number: d.number,
                created_at: ts(at),
                body: serde_json::from_str(&body)
                    .map_err(|e| StoreError::Corrupt(format!("receipt body: {e}")))?,
            })
        })
    }

    fn feedback(&self, req: &FeedbackRequest, now: Timestamp) -> Result<i64, StoreError> {
        let text = req.text.trim();
        if text.is_empty() || text.chars().count() > 2000 {
            return Err(StoreError::Invalid(
                "feedback text must be 1 to 2000 characters".into(),
            ));
        }
        self.write(|tx| {
            let person = match &req.id_number {
                Some(id) => Some(Self::person_row(tx, id)?.id),
                None => None,
            };
            tx.execute(
                "INSERT INTO feedback (person_id, kiosk_id, category, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![person, req.kiosk_id, req.category, text, now.as_second()],
            )?;
            let id = tx.last_insert_rowid();
            audit::append(tx, now.as_second(), "feedback", &format!("feedback:{id}"), &json!({"category": req.category}))?;
            Ok(id)
        })
    }

    fn issue_vehicle_qr(
        &self,
        owner: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<IssuedToken, StoreError> {
        let v = self.read(|tx| {
            let p = Self::person_row(tx, owner)?;
            let v = Self::vehicle_row(tx, vehicle)?;
            if v.owner_person_id != Some(p.id) {
                return Err(StoreError::VehicleNotFound);
            }
            Ok(v)
        })?;
        let (token, claims) = self.qr.issue(&v.plate, &v.plate_type, owner, now)?;
        Ok(IssuedToken {
            token,
            plate: v.plate,
            plate_type: v.plate_type,
            expires_at: ts(claims.expires_at),
        })
    }
}

/// Run [`Platform::revert_due`] now and then every `every`, with the time from `clock`, until
/// `stop` is set (六.2: "handled but unpaid after 2 hours is reverted"). The deadlines are stored,
/// so a kiosk that was off simply reverts everything due at its next start.
pub fn spawn_periodic_revert(
    platform: std::sync::Arc<dyn Platform>,
    clock: std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new()
        .name("revert-due".into())
        .spawn(move || {
            let slice = std::time::Duration::from_millis(200).min(every);
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = platform.revert_due(clock()) {
                    tracing::warn!(error = %e, code = e.code(), "periodic revert failed; retrying");
                }
                let started = std::time::Instant::now();
                while started.elapsed() < every && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(slice);
                }
            }
        })
        .expect("spawn the revert thread")
}

#[cfg(test)]
mod tests;
