//! [`RemotePlatform`]: the [`Platform`] trait over HTTP to `kiosk serve` — the kiosk as the
//! city platform's terminal. Blocking (`ureq`), called on the flow's worker thread.
//!
//! Every call is signed with the kiosk's identity (`crate::wire::auth`); every write carries an
//! idempotency key made once per call and sent again, unchanged, with each retry. A call has a
//! connect timeout of [`CONNECT_TIMEOUT`] and an overall deadline of [`CALL_DEADLINE`]; network
//! failures, 5xx answers and 409 (the same request still running) are retried with backoff
//! within that deadline. A network failure comes back as [`StoreError::Unavailable`] (网络连接中断…),
//! so the flow can say so in words.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::{IdNumber, Plate};
use crate::store::StoreError;
use crate::store::platform::*;
use crate::wire::auth::{
    HEADER_IDEMPOTENCY_KEY, HEADER_KIOSK_ID, HEADER_SIGNATURE, HEADER_TIME, KioskIdentity,
};
use crate::wire::error::{self as wire_error, ErrorBody};
use crate::wire::ops::*;

/// How long to wait for the TCP connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one call may take, retries included.
pub const CALL_DEADLINE: Duration = Duration::from_secs(10);
/// Retries after the first attempt.
pub const RETRIES: u32 = 3;
/// The first retry's wait; each next one doubles.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// The largest answer read.
pub const MAX_ANSWER_BYTES: u64 = 4 * 1024 * 1024;

/// The platform on a `kiosk serve` server.
pub struct RemotePlatform {
    base: String,
    agent: ureq::Agent,
    identity: KioskIdentity,
    retries: u32,
    first_backoff: Duration,
    deadline: Duration,
}

impl std::fmt::Debug for RemotePlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePlatform")
            .field("base", &self.base)
            .field("kiosk", &self.identity.kiosk_id)
            .finish_non_exhaustive()
    }
}

/// One attempt's outcome: an answer (status, bytes), or no answer.
#[derive(Debug)]
pub enum Attempt {
    Answer(u16, Vec<u8>),
    Network(String),
}

impl RemotePlatform {
    /// A client of the server at `url` (`http://host:port`), calling as `identity`.
    pub fn new(url: &str, identity: KioskIdentity) -> Result<Self, StoreError> {
        let base = url.trim().trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(StoreError::Invalid(format!(
                "platform url {base:?}: http:// or https:// expected"
            )));
        }
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_DEADLINE))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Ok(RemotePlatform {
            base,
            agent: config.into(),
            identity,
            retries: RETRIES,
            first_backoff: FIRST_BACKOFF,
            deadline: CALL_DEADLINE,
        })
    }

    /// Retry `retries` times, waiting `first_backoff`, then twice as long each time.
    pub fn with_retries(mut self, retries: u32, first_backoff: Duration) -> Self {
        self.retries = retries;
        self.first_backoff = first_backoff;
        self
    }

    /// The overall deadline of one call, retries included.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    pub fn kiosk_id(&self) -> &str {
        &self.identity.kiosk_id
    }

    /// A fresh idempotency key (one per call; every retry of the call sends it again).
    pub fn new_key() -> String {
        crate::wire::random_hex(16)
    }

    /// One signed attempt with this body and key, without retries (for tests and tools).
    pub fn attempt(&self, op: Op, body: &[u8], key: Option<&str>, deadline: Duration) -> Attempt {
        let path = op.path();
        let time = Timestamp::now().as_second();
        let sig = self
            .identity
            .sign("POST", &path, time, key.unwrap_or(""), body);
        let mut req = self
            .agent
            .post(format!("{}{path}", self.base))
            .config()
            .timeout_global(Some(deadline))
            .build()
            .header("content-type", "application/json")
            .header(HEADER_KIOSK_ID, self.identity.kiosk_id.as_str())
            .header(HEADER_TIME, time.to_string())
            .header(HEADER_SIGNATURE, sig);
        if let Some(k) = key {
            req = req.header(HEADER_IDEMPOTENCY_KEY, k);
        }
        match req.send(body) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                match resp
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER_BYTES)
                    .read_to_vec()
                {
                    Ok(bytes) => Attempt::Answer(status, bytes),
                    Err(e) => Attempt::Network(format!("reading the answer: {e}")),
                }
            }
            Err(e) => Attempt::Network(e.to_string()),
        }
    }

    /// Call `op` with `body` under `key` (writes) with retries: the status and bytes of a final
    /// answer (2xx or 4xx but 409), or the error that ended the call.
    pub fn call_raw(
        &self,
        op: Op,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<(u16, Vec<u8>), StoreError> {
        let start = Instant::now();
        let mut wait = self.first_backoff;
        let mut attempt = 0;
        loop {
            let left = self.deadline.saturating_sub(start.elapsed());
            let last = match self.attempt(op, body, key, left.max(Duration::from_millis(1))) {
                Attempt::Answer(status, bytes) if status < 500 && status != 409 => {
                    return Ok((status, bytes));
                }
                Attempt::Answer(status, bytes) => error_of(status, &bytes),
                Attempt::Network(e) => StoreError::Unavailable(e),
            };
            attempt += 1;
            if attempt > self.retries || start.elapsed() + wait >= self.deadline {
                tracing::warn!(op = op.name(), attempts = attempt, error = %last, "platform call failed");
                return Err(last);
            }
            std::thread::sleep(wait);
            wait *= 2;
        }
    }

    /// Call `op` with `request` under `key` and read the answer.
    pub fn call_with_key<Q: Serialize, A: DeserializeOwned>(
        &self,
        op: Op,
        request: &Q,
        key: Option<&str>,
    ) -> Result<A, StoreError> {
        let body = serde_json::to_vec(request)
            .map_err(|e| StoreError::Invalid(format!("request: {e}")))?;
        let (status, bytes) = self.call_raw(op, &body, key)?;
        if (200..300).contains(&status) {
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Remote {
                code: "unknown_error",
                kind: crate::store::ErrorKind::Storage,
                message: format!(
                    "平台应答无法识别 / The platform's answer was not understood ({}: {e})",
                    op.name()
                ),
            })
        } else {
            Err(error_of(status, &bytes))
        }
    }

    /// Call `op`: a write under a fresh idempotency key, a look-up without one.
    pub fn call<Q: Serialize, A: DeserializeOwned>(
        &self,
        op: Op,
        request: &Q,
    ) -> Result<A, StoreError> {
        let key = op.writes().then(Self::new_key);
        self.call_with_key(op, request, key.as_deref())
    }
}

impl RemotePlatform {
    /// `GET /healthz` answered 200 within `timeout`: the server is reachable. Cheap, unsigned,
    /// no retries (the attract screen's probe).
    pub fn reachable(&self, timeout: Duration) -> bool {
        let req = self
            .agent
            .get(format!("{}/healthz", self.base))
            .config()
            .timeout_global(Some(timeout))
            .build();
        matches!(req.call(), Ok(resp) if resp.status().as_u16() == 200)
    }

    /// Record feedback under `key`, made when it was queued (the outbox sends it again with the
    /// same key until the server answered: the server's ledger records it once).
    pub fn feedback_with_key(
        &self,
        req: &FeedbackRequest,
        now: Timestamp,
        key: &str,
    ) -> Result<i64, StoreError> {
        self.call_with_key::<_, FeedbackNumber>(
            Op::Feedback,
            &WithNow {
                request: req.clone(),
                now,
            },
            Some(key),
        )
        .map(|n| n.feedback)
    }

    /// Record a kiosk event under `key` (as [`RemotePlatform::feedback_with_key`]).
    pub fn kiosk_event_with_key(
        &self,
        req: &KioskEventRequest,
        at: Timestamp,
        key: &str,
    ) -> Result<i64, StoreError> {
        self.call_with_key::<_, KioskEventNumber>(
            Op::KioskEvent,
            &KioskEventBody {
                request: req.clone(),
                at,
            },
            Some(key),
        )
        .map(|n| n.event)
    }
}

/// The error an error answer stands for.
pub fn error_of(status: u16, bytes: &[u8]) -> StoreError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(b) => wire_error::rebuild(status, b),
        Err(_) => wire_error::from_status(status, &String::from_utf8_lossy(bytes)),
    }
}

impl Platform for RemotePlatform {
    fn person(&self, id: &IdNumber, now: Timestamp) -> Result<PersonView, StoreError> {
        self.call(
            Op::Person,
            &ById {
                id_number: id.clone(),
                now,
            },
        )
    }

    fn vehicles(&self, id: &IdNumber, now: Timestamp) -> Result<Vec<VehicleView>, StoreError> {
        self.call(
            Op::Vehicles,
            &ById {
                id_number: id.clone(),
                now,
            },
        )
    }

    fn violations(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<ViolationList, StoreError> {
        self.call(
            Op::Violations,
            &ByIdVehicle {
                id_number: id.clone(),
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    /// `_kiosk`: the server counts the authenticated kiosk.
    fn send_register_code(
        &self,
        _kiosk: &str,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError> {
        self.call(
            Op::SendRegisterCode,
            &ByPhone {
                phone: phone.to_string(),
                now,
            },
        )
    }

    fn register(&self, req: &RegisterRequest, now: Timestamp) -> Result<PersonView, StoreError> {
        self.call(
            Op::Register,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
    }

    fn send_filing_code(
        &self,
        _kiosk: &str,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError> {
        self.call(
            Op::SendFilingCode,
            &ByIdVehicle {
                id_number: applicant.clone(),
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    fn check_filing_code(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        code: &str,
        now: Timestamp,
    ) -> Result<FilingCodeChecked, StoreError> {
        self.call(
            Op::CheckFilingCode,
            &FilingCode {
                id_number: applicant.clone(),
                vehicle: vehicle.clone(),
                code: code.to_string(),
                now,
            },
        )
    }

    fn file_vehicle(&self, req: &FilingRequest, now: Timestamp) -> Result<FilingView, StoreError> {
        self.call(
            Op::FileVehicle,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
    }

    fn review_filing(
        &self,
        filing_id: FilingId,
        approve: bool,
        note: &str,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.call(
            Op::ReviewFiling,
            &Review {
                filing_id: filing_id.0,
                approve,
                note: note.to_string(),
                now,
            },
        )
    }

    fn unfile(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.call(
            Op::Unfile,
            &ByIdVehicle {
                id_number: id.clone(),
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    fn filings(&self, id: &IdNumber, now: Timestamp) -> Result<FilingList, StoreError> {
        self.call(
            Op::Filings,
            &ById {
                id_number: id.clone(),
                now,
            },
        )
    }

    fn remove_driver(
        &self,
        owner: &IdNumber,
        filing_id: FilingId,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.call(
            Op::RemoveDriver,
            &RemoveDriver {
                owner: owner.clone(),
                filing_id: filing_id.0,
                now,
            },
        )
    }

    fn handle(&self, req: &HandleRequest, now: Timestamp) -> Result<HandleOutcome, StoreError> {
        self.call(
            Op::Handle,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
    }

    fn pay(&self, req: &PayRequest, now: Timestamp) -> Result<PaymentView, StoreError> {
        self.call(
            Op::Pay,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
    }

    fn seal_receipt(&self, req: &SealRequest, now: Timestamp) -> Result<SealedReceipt, StoreError> {
        self.call(
            Op::SealReceipt,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
    }

    fn payment_order(
        &self,
        decision: &DecisionNumber,
        now: Timestamp,
    ) -> Result<PaymentOrderView, StoreError> {
        self.call(
            Op::PaymentOrder,
            &ByDecision {
                decision_number: decision.clone(),
                now,
            },
        )
    }

    /// Posts the provider's notification to the server's `POST /notify/alipay` as the provider
    /// would (no kiosk signature): tools and tests that relay one.
    fn payment_notification(&self, body: &[u8], _now: Timestamp) -> Result<NotifyAck, StoreError> {
        let resp = self
            .agent
            .post(format!(
                "{}{}",
                self.base,
                crate::wire::ops::NOTIFY_ALIPAY_PATH
            ))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .send(body);
        let mut resp = resp.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        match (status, text.trim()) {
            (200, "success") => Ok(resp
                .headers()
                .get(crate::wire::ops::HEADER_NOTIFY_ACK)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| serde_json::from_value(serde_json::Value::String(v.into())).ok())
                .unwrap_or(NotifyAck::Recorded)),
            (_, t) => Err(StoreError::NotificationRefused(t.to_string())),
        }
    }

    fn revert_due(&self, now: Timestamp) -> Result<RevertReport, StoreError> {
        self.call(Op::RevertDue, &AtTime { now })
    }

    fn receipt(
        &self,
        decision_number: &DecisionNumber,
        kind: ReceiptKind,
    ) -> Result<ReceiptView, StoreError> {
        self.call(
            Op::Receipt,
            &ReceiptQuery {
                decision_number: decision_number.clone(),
                kind,
            },
        )
    }

    fn feedback(&self, req: &FeedbackRequest, now: Timestamp) -> Result<i64, StoreError> {
        self.call::<_, FeedbackNumber>(
            Op::Feedback,
            &WithNow {
                request: req.clone(),
                now,
            },
        )
        .map(|n| n.feedback)
    }

    fn record_kiosk_event(
        &self,
        req: &KioskEventRequest,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        self.call::<_, KioskEventNumber>(
            Op::KioskEvent,
            &KioskEventBody {
                request: req.clone(),
                at,
            },
        )
        .map(|n| n.event)
    }

    fn issue_vehicle_qr(
        &self,
        owner: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<IssuedToken, StoreError> {
        self.call(
            Op::IssueVehicleQr,
            &ByIdVehicle {
                id_number: owner.clone(),
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    fn vehicle_by_plate(&self, plate: &Plate, now: Timestamp) -> Result<VehicleKey, StoreError> {
        self.call(
            Op::VehicleByPlate,
            &ByPlate {
                plate: plate.clone(),
                now,
            },
        )
    }

    fn vehicle_owner(
        &self,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<VehicleOwner, StoreError> {
        self.call(
            Op::VehicleOwner,
            &ByVehicle {
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    fn filing_precheck(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingPrecheck, StoreError> {
        self.call(
            Op::FilingPrecheck,
            &ByIdVehicle {
                id_number: applicant.clone(),
                vehicle: vehicle.clone(),
                now,
            },
        )
    }

    fn verify_vehicle_qr(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<VehicleQrClaims, StoreError> {
        self.call(
            Op::VerifyVehicleQr,
            &ByToken {
                token: token.to_string(),
                now,
            },
        )
    }

    fn sms_outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        self.call(Op::SmsOutbox, &Limit { limit })
    }

    fn remote_config(
        &self,
        _kiosk: &str,
    ) -> Result<Option<crate::config::SignedSettings>, StoreError> {
        self.call(Op::RemoteConfig, &RemoteConfigQuery {})
    }
}
