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
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::payment::{DemoPaymentProvider, PaymentProvider};
use super::sms::{DemoSmsGateway, SmsGateway};
use super::token::QrKeys;
use super::{StoreError, schema};
use crate::domain::{IdNumber, Plate};
use crate::rules::PolicyBook;
use crate::rules::payment as pay_rules;

mod jobs;
mod lookups;
mod notify;
mod ops;
mod rows;
mod types;

pub use jobs::spawn_periodic_revert;
pub use notify::ReceiveError;
use ops::PaymentSource;
pub use types::*;

pub use crate::store::sms::OutboxEntry;
pub use crate::store::token::VehicleQrClaims;

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
        filing_id: FilingId,
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
        filing_id: FilingId,
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
    fn receipt(
        &self,
        decision_number: &DecisionNumber,
        kind: ReceiptKind,
    ) -> Result<ReceiptView, StoreError>;
    /// Record feedback (意见反馈); returns its number.
    fn feedback(&self, req: &FeedbackRequest, now: Timestamp) -> Result<i64, StoreError>;
    /// Issue a vehicle QR token for one of the owner's vehicles.
    fn issue_vehicle_qr(
        &self,
        owner: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<IssuedToken, StoreError>;

    // Look-ups for the kiosk's screens and the operator's tools (snapshot reads, no writes).

    /// The vehicle a plate names (a kiosk screen names vehicles by plate alone).
    fn vehicle_by_plate(&self, plate: &Plate, now: Timestamp) -> Result<VehicleKey, StoreError>;
    /// The vehicle's owner as a screen shows it (a person's name masked, a unit's name).
    fn vehicle_owner(
        &self,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<VehicleOwner, StoreError>;
    /// The filing limits as they stand and who owns the vehicle (the store counts again inside
    /// [`Platform::file_vehicle`]).
    fn filing_precheck(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingPrecheck, StoreError>;
    /// A vehicle-QR token's claims, when its signature and validity hold at `now`.
    fn verify_vehicle_qr(&self, token: &str, now: Timestamp)
    -> Result<VehicleQrClaims, StoreError>;
    /// The demo SMS outbox, newest first (a development mail catcher: demo only).
    fn sms_outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;
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
    fn with_tx<T>(
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
}

#[cfg(test)]
mod tests;
