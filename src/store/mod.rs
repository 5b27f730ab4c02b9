//! The platform store: the system of record behind the [`Platform`] trait, on SQLite (a kiosk's
//! own file) or PostgreSQL (the city server), with one body of operation code over [`sql::Sql`].
//!
//! - [`schema`] owns the tables and migrations of both databases; [`audit`] the hash-chained
//!   audit log.
//! - [`sql`] is the thin SQL layer every operation is written against (owned values and rows,
//!   `?N` placeholders); [`backend`] runs transactions on it: [`backend::Sqlite`] (`IMMEDIATE`
//!   writes) or [`backend::Pg`] (a pool; `SERIALIZABLE` writes retried on a conflict).
//! - [`platform`] holds the [`Platform`] trait, its plain data types and [`StorePlatform`]
//!   ([`SqlitePlatform`], [`PgPlatform`]): every operation is one transaction, idempotent, and
//!   takes `now` from the caller.
//! - [`token`] the signed vehicle-QR token, [`sms`] and [`payment`] the gateways behind traits
//!   (demo and production shapes), [`demo`] the deterministic demo city, [`check`] the invariants
//!   `kiosk db check` verifies, [`bench`] the benchmark. The `kiosk db` / `kiosk platform`
//!   commands that print them as JSON live at the binary's edge, `src/cli/`.
//!
//! Try it:
//!
//! ```text
//! kiosk db init --demo --path city.sqlite3                 # the demo city (200 persons)
//! kiosk platform --db city.sqlite3 demo-persons            # the well-known cards
//! kiosk platform --db city.sqlite3 violations --id 50010619851120002X --plate 渝A8K2L6
//! kiosk platform --db city.sqlite3 handle --id 50010619851120002X --plate 渝A8K2L6 --violation 5001000000000001
//! kiosk platform --db city.sqlite3 pay --decision <number> --key <once-per-payment key>
//! kiosk db check --path city.sqlite3
//! kiosk db init --demo --persons 1000000 --path big.sqlite3 && kiosk db bench --path big.sqlite3
//! kiosk serve --database city.sqlite3 --listen 127.0.0.1:8080 --demo &   # the platform server
//! kiosk platform --server http://127.0.0.1:8080 person --id 50010619851120002X
//! kiosk db init --demo --path postgres://postgres@127.0.0.1:5432/city   # the same, in PostgreSQL
//! kiosk platform --db postgres://postgres@127.0.0.1:5432/city demo-persons
//! kiosk db check --path postgres://postgres@127.0.0.1:5432/city
//! ```

pub mod audit;
pub mod backend;
pub mod bench;
pub mod bench_fleet;
pub mod check;
pub mod demo;
pub mod idempotency;
pub mod keyring;
pub mod payment;
pub mod platform;
pub mod schema;
pub mod sms;
pub mod sql;
pub mod token;

pub use platform::{
    DecisionNumber, FeedbackRequest, FilingId, FilingList, FilingProof, FilingRequest, FilingState,
    FilingView, HandleOutcome, HandleRequest, HandledItem, HandlingView, LicenceView, PayRequest,
    PaymentView, PersonView, PgPlatform, Platform, ReceiptBody, ReceiptView, RegisterRequest,
    RevertReport, RevertedItem, SmsSent, SqlitePlatform, StorePlatform, VehicleKey, VehicleView,
    ViolationList, ViolationView,
};

use crate::rules::filing::FilingRefusal;
use crate::rules::payment::PaymentRefusal;

/// What kind of failure, for callers that only need to choose a screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing matches what was asked (unknown person, vehicle, violation, decision, filing).
    NotFound,
    /// The rules or the state refuse it (limit reached, already paid, not eligible, bad code).
    Refused,
    /// The request itself is malformed.
    Invalid,
    /// The database failed (disk full, corruption, busy beyond the timeout).
    Storage,
    /// The platform server cannot be reached, refused this kiosk, or is still busy with the same
    /// request (a remote platform only).
    Unavailable,
}

/// Every failure of a platform operation, with a sentence for the person in Chinese and English.
/// Nothing is written when an operation returns one of these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("未找到该身份证号码对应的人员信息 / No person is registered under this ID number")]
    PersonNotFound,
    #[error("未找到该号牌的机动车 / No vehicle with this plate is registered")]
    VehicleNotFound,
    #[error("未找到交通违法记录{0} / Violation record {0} was not found on this vehicle")]
    ViolationNotFound(String),
    #[error("未找到处罚决定书{0} / Penalty decision {0} was not found")]
    DecisionNotFound(String),
    #[error("未找到该备案记录 / The filing was not found")]
    FilingNotFound,
    #[error(
        "该决定书没有可补打的回执 / There is no receipt of this kind to reprint for this decision"
    )]
    ReceiptNotFound,
    #[error("您未备案该车辆 / You have no active filing for this vehicle")]
    NotFiled,
    #[error(
        "该备案已审核为“{state}”，不能再改为“{wanted}” / The filing is already {state}; it cannot become {wanted}"
    )]
    FilingAlreadyReviewed { state: String, wanted: String },
    #[error("{zh} / {en}")]
    NotEligible {
        violation: String,
        zh: String,
        en: String,
    },
    #[error("{0} / {en}", en = .0.message_en())]
    Filing(FilingRefusal),
    #[error("{0} / {en}", en = payment_refusal_en(*.0))]
    Payment(PaymentRefusal),
    #[error(
        "该支付编号已用于另一笔缴款，请重新发起支付 / This payment key was already used for another payment; start a new payment"
    )]
    IdempotencyKeyReused,
    #[error(transparent)]
    Token(#[from] token::TokenError),
    #[error(
        "二维码与该车当前车主不符，请车主重新出示二维码 / The QR code does not match the vehicle's current owner; ask the owner for a new code"
    )]
    TokenOwnerMismatch,
    /// A wrong code; `tries_left` more wrong tries burn it (0: burned, request a new one).
    #[error(
        "短信验证码不正确，还可输入{tries_left}次 / The SMS code is not correct; {tries_left} tries left"
    )]
    SmsCodeWrong { tries_left: u32 },
    #[error(
        "短信验证码已过期或未发送，请重新获取 / The SMS code has expired or was never sent; request a new one"
    )]
    SmsCodeExpired,
    /// A limit on SMS codes ([`sms::LIMITS`]) is reached; try again in `retry_after_secs`.
    #[error("{zh} / {en}", zh = sms::limit_zh(*scope, *retry_after_secs), en = sms::limit_en(*scope, *retry_after_secs))]
    SmsRateLimited {
        scope: sms::LimitScope,
        retry_after_secs: i64,
    },
    #[error(
        "该身份证已用另一手机号注册 / This ID number is already registered with another phone number"
    )]
    RegisteredWithOtherPhone,
    #[error("手机号码格式不正确 / The phone number is not valid")]
    BadPhone,
    #[error("请求无效：{0} / Invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Sms(#[from] sms::SmsError),
    #[error(transparent)]
    PaymentProvider(#[from] payment::ProviderError),
    /// The provider has not confirmed the payment yet (the kiosk keeps asking).
    #[error(
        "尚未收到支付，请用手机扫码支付 / The payment has not arrived yet; scan the code with your phone to pay"
    )]
    NotPaidYet,
    /// A payment notification was refused (bad signature, unknown order, another amount).
    #[error("支付通知已拒绝：{0} / The payment notification was refused: {0}")]
    NotificationRefused(String),
    #[error(transparent)]
    PointsNetwork(#[from] platform::ConfirmError),
    #[error("数据库中的数据无效：{0} / Invalid data in the database: {0}")]
    Corrupt(String),
    /// SQLite's own words appear once, in the sentence (not again as a source).
    #[error("{}", schema::storage_message(.0))]
    Sqlite(rusqlite::Error),
    /// PostgreSQL's own words appear once, in the sentence.
    #[error("{}", schema::pg_storage_message(.0))]
    Postgres(postgres::Error),
    #[error("{}", schema::pool_message(.0))]
    Pool(r2d2::Error),
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
    /// The platform server could not be reached or did not answer in time (a remote platform);
    /// the detail is for logs.
    #[error(
        "网络连接中断，暂时无法连接交管平台，请稍后再试 / The network is down: the platform cannot be reached now; try again later ({0})"
    )]
    Unavailable(String),
    /// The platform server refused this kiosk's identity (unknown kiosk, bad signature, clock).
    #[error(
        "交管平台拒绝了本机的身份：{zh} / The platform refused this kiosk's identity: {en}",
        zh = zh_half(.0),
        en = en_half(.0)
    )]
    Unauthorized(String),
    /// The same request (same idempotency key) is still being processed by the server.
    #[error(
        "同一请求正在处理中，请稍候再试 / The same request is still being processed; try again in a moment"
    )]
    InFlight,
    /// A failure on the server that has no local form (its database, its providers), rebuilt by
    /// a remote client from the server's code, kind and sentence.
    #[error("{message}")]
    Remote {
        code: &'static str,
        kind: ErrorKind,
        message: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// The Chinese half of a `中文 / English` sentence (all of it when it has no ` / `).
fn zh_half(s: &str) -> &str {
    s.split_once(" / ").map_or(s, |(zh, _)| zh)
}

/// The English half of a `中文 / English` sentence (all of it when it has no ` / `).
fn en_half(s: &str) -> &str {
    s.split_once(" / ").map_or(s, |(_, en)| en)
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

impl From<sql::SqlError> for StoreError {
    fn from(e: sql::SqlError) -> Self {
        match e {
            sql::SqlError::Sqlite(e) => StoreError::Sqlite(e),
            sql::SqlError::Postgres(e) => StoreError::Postgres(e),
            e @ (sql::SqlError::Type { .. } | sql::SqlError::NoRow) => {
                StoreError::Corrupt(e.to_string())
            }
        }
    }
}

fn payment_refusal_en(r: PaymentRefusal) -> &'static str {
    match r {
        PaymentRefusal::AlreadyPaid => "This decision is already paid; do not pay again (六.3)",
        PaymentRefusal::WindowClosed => {
            "The 2-hour payment window has passed and the handling was reverted; handle it again (六.2)"
        }
        PaymentRefusal::MaintenanceWindow => {
            "From 22:00 to 01:00 the bank reconciles; payment is closed now (六.7)"
        }
    }
}

impl StoreError {
    /// The one refusal whose writes are committed: a wrong SMS code counts an attempt (nothing
    /// else has been written by then), so codes cannot be guessed.
    pub fn keeps_writes(&self) -> bool {
        matches!(self, StoreError::SmsCodeWrong { .. })
    }

    /// A PostgreSQL conflict that a fresh attempt of the whole transaction resolves: a
    /// serialization failure (40001), a deadlock (40P01), or a unique key taken by a concurrent
    /// transaction (23505: the retry re-reads and answers as for a repeated request).
    pub fn is_retryable_conflict(&self) -> bool {
        use postgres::error::SqlState;
        match self {
            StoreError::Postgres(e) => e.code().is_some_and(|c| {
                *c == SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == SqlState::T_R_DEADLOCK_DETECTED
                    || *c == SqlState::UNIQUE_VIOLATION
            }),
            _ => false,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        use StoreError::*;
        match self {
            PersonNotFound | VehicleNotFound | ViolationNotFound(_) | DecisionNotFound(_)
            | FilingNotFound | NotFiled | ReceiptNotFound => ErrorKind::NotFound,
            FilingAlreadyReviewed { .. }
            | NotEligible { .. }
            | Filing(_)
            | Payment(_)
            | IdempotencyKeyReused
            | Token(_)
            | TokenOwnerMismatch
            | SmsCodeWrong { .. }
            | SmsCodeExpired
            | SmsRateLimited { .. }
            | RegisteredWithOtherPhone
            | NotPaidYet
            | NotificationRefused(_) => ErrorKind::Refused,
            BadPhone | Invalid(_) => ErrorKind::Invalid,
            Sms(_) | PaymentProvider(_) | PointsNetwork(_) | Corrupt(_) | Sqlite(_)
            | Postgres(_) | Pool(_) | Schema(_) => ErrorKind::Storage,
            Unavailable(_) | Unauthorized(_) | InFlight => ErrorKind::Unavailable,
            Remote { kind, .. } => *kind,
        }
    }

    /// A stable code for machines (the CLI's JSON, the UI adapter).
    pub fn code(&self) -> &'static str {
        use StoreError::*;
        match self {
            PersonNotFound => "person_not_found",
            VehicleNotFound => "vehicle_not_found",
            ViolationNotFound(_) => "violation_not_found",
            DecisionNotFound(_) => "decision_not_found",
            FilingNotFound => "filing_not_found",
            NotFiled => "not_filed",
            ReceiptNotFound => "receipt_not_found",
            FilingAlreadyReviewed { .. } => "filing_already_reviewed",
            NotEligible { .. } => "not_eligible",
            Filing(r) => match r {
                FilingRefusal::UserLimitReached => "filing_user_limit_reached",
                FilingRefusal::VehicleLimitReached => "filing_vehicle_limit_reached",
                FilingRefusal::AlreadyFiled => "already_filed",
                FilingRefusal::OwnVehicle => "own_vehicle",
                FilingRefusal::UnitNeedsManagerSms => "unit_needs_manager_sms",
                FilingRefusal::PersonNeedsOwnerConsent => "person_needs_owner_consent",
                FilingRefusal::UnitVehicleNotSmallNonOperating => {
                    "unit_vehicle_not_small_non_operating"
                }
                FilingRefusal::UnitFilingNeedsRelief => "unit_filing_needs_relief",
            },
            Payment(r) => match r {
                PaymentRefusal::AlreadyPaid => "already_paid",
                PaymentRefusal::WindowClosed => "payment_window_closed",
                PaymentRefusal::MaintenanceWindow => "maintenance_window",
            },
            IdempotencyKeyReused => "idempotency_key_reused",
            Token(e) => e.code(),
            TokenOwnerMismatch => "token_owner_mismatch",
            SmsCodeWrong { .. } => "sms_code_wrong",
            SmsCodeExpired => "sms_code_expired",
            SmsRateLimited { .. } => "sms_rate_limited",
            RegisteredWithOtherPhone => "registered_with_other_phone",
            BadPhone => "bad_phone",
            Invalid(_) => "invalid_request",
            Sms(_) => "sms_gateway_failed",
            PointsNetwork(_) => "points_network_unavailable",
            PaymentProvider(_) => "payment_provider_failed",
            NotPaidYet => "not_paid_yet",
            NotificationRefused(_) => "payment_notification_refused",
            Corrupt(_) => "corrupt_data",
            Sqlite(_) | Postgres(_) | Pool(_) => "database_unavailable",
            Schema(_) => "database_unusable",
            Unavailable(_) => "platform_unavailable",
            Unauthorized(_) => "kiosk_unauthorized",
            InFlight => "request_in_flight",
            Remote { code, .. } => code,
        }
    }
}
