//! The [`Platform`] trait — what the kiosk flow asks of the platform — and [`StorePlatform`], its
//! implementation on the store: [`SqlitePlatform`] on one SQLite file, [`PgPlatform`] on the
//! city's PostgreSQL database, one body of operations for both.
//!
//! Every operation is one transaction of the backend (see [`crate::store::backend`]): a write
//! transaction (SQLite `IMMEDIATE`; PostgreSQL `SERIALIZABLE`, retried on a conflict) for every
//! operation that writes, and a snapshot read transaction for the look-ups, which write
//! nothing. Every operation takes `now` from the caller (the clock is injected), is idempotent
//! where a person may tap twice, and appends to the audit log whenever it changes state. Rules are
//! decided only by [`crate::rules`].

use std::path::Path;

use jiff::Timestamp;
use rusqlite::Connection;

pub use super::backend::{Backend, Pg, Sqlite};
use super::check::{self, CheckReport};
use super::demo::{self, CitySummary, DemoError, DemoOptions};
use super::payment::{DemoPaymentProvider, PaymentProvider};
use super::sms::{self, DemoSmsGateway, SmsGateway};
use super::sql::Sql;
use super::token::QrKeys;
use super::{StoreError, schema};
use crate::domain::{IdNumber, Plate};
use crate::rules::PolicyBook;
use crate::rules::payment as pay_rules;

pub mod fleet;
mod jobs;
mod lookups;
mod notify;
mod ops;
mod points;
mod rows;
mod seal;
mod types;

pub use jobs::{
    EVENT_KINDS, KEPT_EVENT_PREFIX, PURGE_BATCH, PURGE_EVERY, PURGE_KIND_BATCH, PurgeReport,
    PurgesEvents, spawn_periodic_purge, spawn_periodic_revert,
};
pub use notify::{AuditEveryRefusal, ReceiveError, RefusalGate, out_trade_no};
pub use points::{
    ConfirmError, ConfirmReport, ConfirmedItem, ConfirmsPoints, PendingPoints, PointsConfirmer,
    SimulatedConfirmer, spawn_periodic_confirm,
};
pub use seal::MAX_SEALED_DECISIONS;
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
    /// Send a registration code to `phone`, asked for by `kiosk` (its hourly limit; the server
    /// uses the authenticated kiosk's id, a `RemotePlatform` ignores the argument).
    fn send_register_code(
        &self,
        kiosk: &str,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError>;
    /// Register as a user (phone + SMS code). Idempotent for the same phone.
    fn register(&self, req: &RegisterRequest, now: Timestamp) -> Result<PersonView, StoreError>;
    /// Send a filing code to the vehicle's owner (a unit's vehicle: its manager phone).
    fn send_filing_code(
        &self,
        kiosk: &str,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError>;
    /// Check the filing code the vehicle's owner (or unit's manager) received for `applicant`,
    /// without using it, so a mistyped code is said at its entry, before the face check. A right
    /// code changes nothing (the filing, [`Platform::file_vehicle`], checks and uses it again; it
    /// may have expired by then); a wrong one counts against the code's tries exactly as a wrong
    /// code at the filing does ([`StoreError::SmsCodeWrong`] with the tries left; 5 wrong tries
    /// in all, checks and filings together, burn it: [`StoreError::SmsCodeExpired`]). A code is
    /// for one applicant and one vehicle.
    fn check_filing_code(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        code: &str,
        now: Timestamp,
    ) -> Result<FilingCodeChecked, StoreError>;
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
    /// The decision's payment as the payment provider confirms it, recorded exactly once: the
    /// recorded payment (`replayed`) when there is one, else the provider is asked about the
    /// decision's order (opened if needed); not paid yet: [`StoreError::NotPaidYet`]. Nothing a
    /// kiosk or an operator sends records money the provider did not confirm.
    fn pay(&self, req: &PayRequest, now: Timestamp) -> Result<PaymentView, StoreError>;
    /// The payment order of a payable decision, opened with the provider for exactly what is due
    /// (one per decision: a retry returns the same order); its `qr_code` is the provider's own.
    fn payment_order(
        &self,
        decision: &DecisionNumber,
        now: Timestamp,
    ) -> Result<PaymentOrderView, StoreError>;
    /// The payment provider's asynchronous notification (its raw body, signed by the provider,
    /// not by a kiosk): verified, then recorded once; refusals are audited
    /// ([`StoreError::NotificationRefused`]).
    fn payment_notification(&self, body: &[u8], now: Timestamp) -> Result<NotifyAck, StoreError>;
    /// Revert kiosk handlings unpaid after 2 hours (六.2).
    fn revert_due(&self, now: Timestamp) -> Result<RevertReport, StoreError>;
    /// A receipt kept for reprint (回执补打).
    fn receipt(
        &self,
        decision_number: &DecisionNumber,
        kind: ReceiptKind,
    ) -> Result<ReceiptView, StoreError>;
    /// Seal the verification code of the payment receipt of `req`'s paid decisions with the
    /// platform's receipt key (refused, `receipt_not_found`, while one is not paid).
    fn seal_receipt(&self, req: &SealRequest, now: Timestamp) -> Result<SealedReceipt, StoreError>;
    /// Record feedback (意见反馈); returns its number.
    fn feedback(&self, req: &FeedbackRequest, now: Timestamp) -> Result<i64, StoreError>;
    /// Record an event a kiosk reports about itself (table `kiosk_events`), which happened `at`;
    /// returns its number.
    fn record_kiosk_event(&self, req: &KioskEventRequest, at: Timestamp)
    -> Result<i64, StoreError>;
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
    /// The SMS codes sent, newest first, never a code (`kiosk platform sms-outbox`); with the demo
    /// gateway each carries the message the demo phone received (a development mail catcher:
    /// demo only).
    fn sms_outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError>;
    /// The calling kiosk's remote configuration (issue 14), signed by the city's configuration
    /// key; None: there is none (a local store never has one; `kiosk serve` without
    /// `--remote-config`). `kiosk`: the server uses the authenticated kiosk's id.
    fn remote_config(
        &self,
        kiosk: &str,
    ) -> Result<Option<crate::config::SignedSettings>, StoreError>;
}

// ---------------------------------------------------------------------------------------------
// The store's implementation, on SQLite or PostgreSQL.
// ---------------------------------------------------------------------------------------------

thread_local! {
    /// The policy book deciding on this thread instead of the platform's own, while set by
    /// [`with_policy_override`].
    static POLICY_OVERRIDE: std::cell::RefCell<Option<PolicyBook>> =
        const { std::cell::RefCell::new(None) };
}

/// Run `f` with `book` (when given) deciding instead of the platform's own policy, on this thread:
/// `kiosk serve` decides a kiosk's requests with the policy its remote configuration ships to that
/// kiosk, so what the kiosk shows and what the server decides agree. Restored even if `f` panics.
pub fn with_policy_override<T>(book: Option<PolicyBook>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<PolicyBook>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            POLICY_OVERRIDE.with(|o| *o.borrow_mut() = old);
        }
    }
    let previous = POLICY_OVERRIDE.with(|o| std::mem::replace(&mut *o.borrow_mut(), book));
    let _restore = Restore(previous);
    f()
}

/// The platform on the store: the operations (`ops.rs`, `rows.rs`, `notify.rs`, `jobs.rs`) are
/// written once against [`Sql`](crate::store::sql::Sql); the backend `B` only runs transactions.
pub struct StorePlatform<B: Backend> {
    backend: B,
    policy: PolicyBook,
    /// How long a kiosk handling stays payable (`timeouts.payment_window_minutes`, at most 2 h).
    payment_window: jiff::SignedDuration,
    qr: QrKeys,
    sms: Box<dyn SmsGateway>,
    payments: Box<dyn PaymentProvider>,
    /// Anchors every audit entry a write appends (`store::audit`); the demo key by default.
    audit_key: super::audit::AuditKey,
    /// Told of every refused payment notification; decides whether an unverified one is audited
    /// ([`RefusalGate`]; every one by default).
    refusals: std::sync::Arc<dyn RefusalGate>,
}

/// The local platform: one SQLite file, shared safely by several processes.
pub type SqlitePlatform = StorePlatform<Sqlite>;

/// The city's platform: one PostgreSQL database behind a connection pool.
pub type PgPlatform = StorePlatform<Pg>;

impl<B: Backend> std::fmt::Debug for StorePlatform<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorePlatform")
            .field("backend", &self.backend.describe())
            .field("qr", &self.qr)
            .finish_non_exhaustive()
    }
}

fn embedded_policy() -> Result<PolicyBook, StoreError> {
    PolicyBook::embedded().map_err(|e| StoreError::Corrupt(format!("embedded policy: {e}")))
}

impl<B: Backend> StorePlatform<B> {
    /// A platform with explicit parts.
    pub fn with_backend(
        backend: B,
        policy: PolicyBook,
        qr: QrKeys,
        sms: Box<dyn SmsGateway>,
        payments: Box<dyn PaymentProvider>,
    ) -> Self {
        StorePlatform {
            backend,
            policy,
            payment_window: pay_rules::PAYMENT_WINDOW,
            qr,
            sms,
            payments,
            audit_key: super::audit::AuditKey::demo(),
            refusals: std::sync::Arc::new(AuditEveryRefusal),
        }
    }

    /// A demo platform (demo SMS gateway, payment provider and QR keys, embedded policy).
    pub fn demo_on(backend: B) -> Result<Self, StoreError> {
        Ok(Self::with_backend(
            backend,
            embedded_policy()?,
            QrKeys::demo(),
            Box::new(DemoSmsGateway::default()),
            Box::new(DemoPaymentProvider),
        ))
    }

    /// Decide with these dated policies (kiosk.toml `[policy] file`) instead of the embedded ones.
    pub fn with_policy(mut self, policy: PolicyBook) -> Self {
        self.policy = policy;
        self
    }

    /// Use a shorter payment window (`timeouts.payment_window_minutes` of `kiosk.toml`); the rule
    /// core never lets it exceed 2 hours (六.2).
    pub fn with_payment_window(mut self, length: jiff::SignedDuration) -> Self {
        self.payment_window = length;
        self
    }

    /// Anchor the audit entries with this key (`[audit] key_file`) instead of the demo key.
    pub fn with_audit_key(mut self, key: super::audit::AuditKey) -> Self {
        self.audit_key = key;
        self
    }

    /// Tell `gate` of every refused payment notification; it decides which unverified ones are
    /// written to the audit log (`kiosk serve` caps them per minute: `server::notify`).
    pub fn with_refusal_gate(mut self, gate: std::sync::Arc<dyn RefusalGate>) -> Self {
        self.refusals = gate;
        self
    }

    pub fn audit_key(&self) -> &super::audit::AuditKey {
        &self.audit_key
    }

    /// Issue, verify and seal with these keys (`[qr]`, `crate::providers::qr`).
    pub fn with_qr_keys(mut self, qr: QrKeys) -> Self {
        self.qr = qr;
        self
    }

    /// Use this payment provider instead of the one given at construction.
    pub fn with_payments(mut self, payments: Box<dyn PaymentProvider>) -> Self {
        self.payments = payments;
        self
    }

    /// The policy in force at `now`: the thread's override ([`with_policy_override`]) or the
    /// platform's own book.
    pub(super) fn policy_at(&self, now: Timestamp) -> crate::rules::policy::Policy {
        POLICY_OVERRIDE
            .with(|o| o.borrow().as_ref().map(|b| b.at(now)))
            .unwrap_or_else(|| self.policy.at(now))
    }

    pub fn qr_keys(&self) -> &QrKeys {
        &self.qr
    }

    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Run `f` in one write transaction (see [`Backend::write`]); the audit entries it appended
    /// are anchored with the platform's audit key before it commits.
    fn write<T>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.write(&mut |tx: &dyn Sql| {
            let before = super::audit::last_seq(tx)?;
            let out = f(tx);
            // An error that keeps its writes commits them: their entries are anchored too.
            if out.is_ok() || out.as_ref().is_err_and(|e| e.keeps_writes()) {
                super::audit::anchor_after(tx, &self.audit_key, before)?;
            }
            out
        })
    }

    /// Run `f` in one read-only snapshot transaction.
    fn read<T>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.read(&mut f)
    }

    /// `kiosk db check`: the audit chain and the invariants, in one snapshot.
    pub fn check(&self) -> Result<CheckReport, StoreError> {
        self.read(|tx| Ok(check::run_with(tx, &self.audit_key)?))
    }

    /// The latest `limit` codes sent, newest first, never a code; each with the message the
    /// demo phone received when this platform's gateway is the demo's.
    pub fn sms_outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut rows = self.read(|tx| Ok(sms::outbox(tx, limit)?))?;
        if let Some(inbox) = self.sms.demo_inbox(sms::DEMO_INBOX_MAX) {
            for r in &mut rows {
                r.message = inbox.iter().find(|m| m.id == r.id).cloned();
            }
        }
        Ok(rows)
    }

    /// The SMS gateway (the demo's phone reads the demo gateway's inbox).
    pub fn sms_gateway(&self) -> &dyn SmsGateway {
        self.sms.as_ref()
    }

    /// The practice driver with at least `violations` payable zero-point fines (the crash,
    /// race and kill tests and the benchmarks), in one transaction; idempotent.
    pub fn ensure_practice_fixture(
        &self,
        violations: u32,
        anchor: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            demo::ensure_practice_fixture_in(tx, violations, anchor).map_err(|e| match e {
                DemoError::Store(e) => e,
                DemoError::Sql(e) => e.into(),
                DemoError::Sqlite(e) => e.into(),
                e => StoreError::Invalid(e.to_string()),
            })
        })
    }

    /// Build the demo city into this (empty) database, in one transaction.
    pub fn build_demo_city(&self, opts: &DemoOptions) -> Result<CitySummary, DemoError> {
        opts.check()?;
        let mut failed = None;
        let out = self.write(|tx| match demo::build_city_in(tx, opts) {
            Ok(s) => Ok(s),
            Err(DemoError::Store(e)) => Err(e),
            Err(DemoError::Sql(e)) => Err(e.into()),
            Err(DemoError::Sqlite(e)) => Err(e.into()),
            Err(e) => {
                failed = Some(e);
                Err(StoreError::Invalid("demo city".into()))
            }
        });
        match (out, failed) {
            (_, Some(e)) => Err(e),
            (Ok(s), None) => Ok(s),
            (Err(e), None) => Err(DemoError::Store(e)),
        }
    }

    /// Run SQL that writes through the store's layer, in one write transaction (benchmark and
    /// test fixtures; never an operation of the platform).
    pub fn write_sql<T>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write(&mut f)
    }

    /// Run read-only SQL through the store's layer (tools, tests).
    pub fn read_sql<T>(
        &self,
        mut f: impl FnMut(&dyn Sql) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(&mut f)
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
        Self::demo_on(Sqlite::new(conn))
    }

    /// A platform with explicit parts.
    pub fn new(
        conn: Connection,
        policy: PolicyBook,
        qr: QrKeys,
        sms: Box<dyn SmsGateway>,
        payments: Box<dyn PaymentProvider>,
    ) -> Self {
        Self::with_backend(Sqlite::new(conn), policy, qr, sms, payments)
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

    /// Run read-only SQL for SQLite-only tools and tests.
    pub fn with_connection_ref<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.with_connection_ref(f)
    }
}

impl PgPlatform {
    /// Connect to the PostgreSQL database at `url` (a pool of `pool_size` connections), migrate
    /// it, with the demo parts (as [`SqlitePlatform::open_demo`]).
    pub fn connect_demo(url: &str, pool_size: u32) -> Result<Self, StoreError> {
        Self::demo_on(Pg::connect(url, pool_size)?)
    }
}

#[cfg(test)]
mod tests;
