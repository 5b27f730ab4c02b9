//! The flow's [`KioskBackend`] port over the platform (`dyn Platform`: the local store or a
//! remote server): a field-by-field
//! translation. Decisions shown to the person are the rule core's (`crate::rules::decide`), made
//! from the facts the store holds, with the same policy book the store uses.

use std::sync::Arc;

use crate::domain::receipt_code::ReceiptCode;
use crate::domain::{Fen, IdNumber, Plate};
use crate::flow::ports::{
    BackendError, FeedbackReceipt, FeedbackTopic, FilingCandidate, FilingError, FilingStatus,
    FilingView, HandleError, HandlingView, KioskBackend, PayError, PaymentQr, PaymentView,
    PersonView, SmsSent, VehicleView, ViolationList, ViolationView,
};
use crate::privacy::{Masked, mask_text};
use crate::rules::filing::{self, FilingCounts, FilingMethod, OwnerKind};
use crate::rules::payment::PaymentWindow;
use crate::rules::{
    DriverFacts, EligibilityRequest, PolicyBook, ViolationFacts, decide, decide_each_alone,
};
use crate::store::platform::{
    DecisionChannel, DecisionNumber, FeedbackRequest, FilingProof, FilingRequest, FilingState,
    HandleRequest, PayRequest, Platform, RegisterRequest, SealRequest, VehicleKey,
};
use crate::store::{
    ErrorKind, StoreError,
    token::{QrKeys, TokenError},
};
use crate::ui::{Outbox as SmsPanel, SmsMessage};

use super::outbox::{Item, KioskEvents, Outbox};
use jiff::Timestamp;

/// The kiosk's view of the local platform store.
pub struct StoreBackend {
    platform: Arc<dyn Platform>,
    policy: PolicyBook,
    /// The kiosk's own policy book (`[policy] file`), back in use when the remote settings
    /// stop naming a policy.
    own_policy: PolicyBook,
    kiosk_id: String,
    /// Codes sent are copied here for the simulator panel's SMS outbox (demo mode only).
    outbox: Option<SmsPanel>,
    /// The owner's consent checked before face verification, submitted after it.
    pending_proof: Option<(Plate, FilingProof)>,
    /// A server's terminal: feedback and the kiosk's events wait here for the link; the link
    /// probe asks its courier.
    mailbox: Option<Arc<Outbox>>,
    events: Option<KioskEvents>,
    /// The link as the last probe found it (went offline / online are kiosk events).
    link_was_up: bool,
    /// The published vehicle-QR keys (`[qr]`): a scanned token is checked with them before any
    /// platform call (None: the platform's check only).
    qr_verifier: Option<QrKeys>,
}

impl StoreBackend {
    pub fn new(
        platform: Arc<dyn Platform>,
        policy: PolicyBook,
        kiosk_id: String,
        outbox: Option<SmsPanel>,
    ) -> Self {
        StoreBackend {
            platform,
            own_policy: policy.clone(),
            policy,
            kiosk_id,
            outbox,
            pending_proof: None,
            mailbox: None,
            events: None,
            link_was_up: true,
            qr_verifier: None,
        }
    }

    /// Check scanned vehicle QR tokens with these published keys before asking the platform.
    pub fn with_qr_verifier(mut self, keys: QrKeys) -> Self {
        self.qr_verifier = Some(keys);
        self
    }

    /// The verification code of the payment receipt of `numbers`, sealed by the platform; None
    /// when the platform cannot seal it now (the payment stands; the receipt prints unsealed).
    fn sealed_code(&self, numbers: &[DecisionNumber], now: Timestamp) -> Option<ReceiptCode> {
        let req = SealRequest {
            kiosk_id: self.kiosk_id.clone(),
            decision_numbers: numbers.to_vec(),
        };
        match self.platform.seal_receipt(&req, now) {
            Ok(sealed) => match ReceiptCode::parse(&sealed.code) {
                Ok(code) if code.seal.is_some() => Some(code),
                _ => {
                    tracing::warn!("the platform's receipt seal is not a sealed receipt code");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = e.code(), "receipt not sealed: {e}");
                None
            }
        }
    }

    /// Feedback goes through `mailbox` (delivered exactly once when the link returns); the link
    /// probe asks its courier; its changes are recorded in `events`.
    pub fn with_outbox(mut self, mailbox: Arc<Outbox>, events: KioskEvents) -> Self {
        self.mailbox = Some(mailbox);
        self.events = Some(events);
        self
    }

    /// The vehicle a plate names (a kiosk screen names vehicles by plate alone).
    fn vehicle_key(&self, plate: &Plate, now: Timestamp) -> Result<VehicleKey, BackendError> {
        self.platform
            .vehicle_by_plate(plate, now)
            .map_err(backend_error)
    }

    /// The vehicle's owner as the screen shows it: a person's name masked, a unit's name.
    fn owner_name(&self, key: &VehicleKey, now: Timestamp) -> Result<String, BackendError> {
        self.platform
            .vehicle_owner(key, now)
            .map(|o| o.shown_name)
            .map_err(backend_error)
    }

    /// The filing limits as they stand (the store counts again inside `file_vehicle`), and who
    /// owns the vehicle.
    fn precheck(
        &self,
        id: &IdNumber,
        key: &VehicleKey,
        now: Timestamp,
    ) -> Result<(FilingCounts, OwnerKind), BackendError> {
        self.platform
            .filing_precheck(id, key, now)
            .map(|p| (p.counts, p.owner_kind))
            .map_err(backend_error)
    }

    fn candidate(
        &mut self,
        id: &IdNumber,
        key: VehicleKey,
        method: FilingMethod,
        proof: FilingProof,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError> {
        let (counts, owner_kind) = self.precheck(id, &key, now)?;
        filing::check_new_filing(counts, owner_kind, method)?;
        let owner = self.owner_name(&key, now)?;
        let plate = key.plate.clone();
        self.pending_proof = Some((plate.clone(), proof));
        Ok(FilingCandidate {
            plate,
            method,
            owner,
        })
    }

    /// Copy the message the demo phone just received to the simulator panel (demo mode: the
    /// demo gateway's inbox, never the database, which keeps no code).
    fn mirror_outbox(&self) {
        let Some(outbox) = &self.outbox else { return };
        if let Ok(mut entries) = self.platform.sms_outbox(1)
            && let Some(e) = entries.pop()
            && let Some(m) = e.message
            && let Ok(mut out) = outbox.lock()
        {
            out.push(SmsMessage {
                to: mask_text(&m.phone),
                text: m.text,
                code: m.code,
                at: m.at,
            });
        }
    }

    fn driver_facts(&self, id: &IdNumber, now: Timestamp) -> Result<DriverFacts, BackendError> {
        let person = self.platform.person(id, now).map_err(backend_error)?;
        Ok(driver_facts(&person))
    }
}

fn driver_facts(person: &crate::store::platform::PersonView) -> DriverFacts {
    match &person.licence {
        Some(l) => DriverFacts {
            has_license: true,
            license_status: l.status.clone(),
            cycle_points: l.cycle_points,
            pending_points: l.pending_points,
            full_12_count_in_cycle: l.full_12_count,
        },
        None => DriverFacts::without_licence(),
    }
}

/// How an SMS filing's consent is asked for: the owner's phone, or a unit's manager (三.3).
fn sms_method(owner: OwnerKind) -> FilingMethod {
    match owner {
        OwnerKind::Unit => FilingMethod::UnitManagerSms,
        OwnerKind::Person => FilingMethod::OwnerSms,
    }
}

/// A store failure in the words of the flow's port.
fn backend_error(e: StoreError) -> BackendError {
    match e {
        // No answer from the platform server: the network is gone (said in its own words).
        StoreError::Unavailable(m) => BackendError::Offline(m),
        StoreError::PersonNotFound => BackendError::NotRegistered,
        StoreError::SmsCodeWrong { tries_left } => BackendError::WrongCode {
            tries_left: Some(tries_left),
        },
        StoreError::SmsCodeExpired => BackendError::WrongCode {
            tries_left: Some(0),
        },
        StoreError::SmsRateLimited {
            scope,
            retry_after_secs,
        } => BackendError::TryLater {
            zh: crate::store::sms::limit_zh(scope, retry_after_secs),
            en: crate::store::sms::limit_en(scope, retry_after_secs),
        },
        e => match e.kind() {
            ErrorKind::NotFound => BackendError::NotFound,
            ErrorKind::Invalid | ErrorKind::Refused => BackendError::Invalid(e.to_string()),
            ErrorKind::Storage | ErrorKind::Unavailable => BackendError::Unavailable(e.to_string()),
        },
    }
}

fn pay_error(e: StoreError) -> PayError {
    match e {
        StoreError::Payment(r) => PayError::Refused(r),
        e => PayError::Backend(backend_error(e)),
    }
}

fn filing_error(e: StoreError) -> FilingError {
    match e {
        StoreError::Filing(r) => FilingError::Refused(r),
        StoreError::Token(TokenError::Expired) => FilingError::TokenExpired,
        StoreError::Token(_) | StoreError::TokenOwnerMismatch => FilingError::TokenInvalid,
        e => FilingError::Backend(backend_error(e)),
    }
}

fn filing_view(f: &crate::store::platform::FilingView) -> Result<FilingView, BackendError> {
    Ok(FilingView {
        id: f.id.to_string(),
        plate: f.vehicle.plate.clone(),
        method: f.method,
        status: if f.state == FilingState::Approved {
            FilingStatus::Approved
        } else {
            FilingStatus::PendingReview
        },
        filed_at: f.requested_at,
    })
}

/// An unpaid decision (待缴款) as the payment screen shows it. A kiosk handling keeps its 六.2
/// window; a decision made elsewhere has none of its own, and the store opens one from `now`
/// (`PaymentWindow::starting`), so the flow's check agrees with the store's.
fn unpaid_handling(
    d: &crate::store::platform::HandlingView,
    plate: &Plate,
    now: Timestamp,
) -> HandlingView {
    let due = d.due();
    let pay_by = match d.channel {
        DecisionChannel::Kiosk => d.payment_deadline,
        DecisionChannel::Elsewhere => PaymentWindow::starting(now).deadline,
    };
    let decision = d.number.as_str().to_string();
    HandlingView {
        decision,
        plate: plate.clone(),
        violations: vec![d.violation_id.clone()],
        fines: due.fine,
        surcharge: due.surcharge,
        fee: due.fee,
        total: due.total(),
        points: d.points,
        handled_at: d.decided_at,
        pay_by,
    }
}

/// Several decisions handled together travel as one string, `number+number+…`.
const DECISION_SEPARATOR: char = '+';

impl KioskBackend for StoreBackend {
    fn person(&mut self, id: &IdNumber, now: Timestamp) -> Result<PersonView, BackendError> {
        let p = self.platform.person(id, now).map_err(backend_error)?;
        let vehicles = self.platform.vehicles(id, now).map_err(backend_error)?;
        let licence_first_issued = p.licence.as_ref().map(|l| l.first_issued);
        let driver = driver_facts(&p);
        Ok(PersonView {
            name: p.name.clone(),
            phone: (!p.phone_masked.is_empty()).then(|| Masked::new(p.phone_masked.clone())),
            registered: p.registered,
            licence_status: driver.license_status.clone(),
            driver,
            licence_first_issued,
            vehicles: vehicles
                .iter()
                .map(|v| {
                    Ok(VehicleView {
                        facts: v.facts(),
                        pending: v.pending_violations as usize,
                    })
                })
                .collect::<Result<_, BackendError>>()?,
        })
    }

    fn violations(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<ViolationList, BackendError> {
        let key = self.vehicle_key(plate, now)?;
        let list = self
            .platform
            .violations(id, &key, now)
            .map_err(backend_error)?;
        let driver = self.driver_facts(id, now)?;
        let vehicle = list.vehicle.facts();
        let facts: Vec<ViolationFacts> = list.violations.iter().map(|v| v.facts.clone()).collect();
        let request = EligibilityRequest {
            now,
            policy: self.policy.at(now),
            driver,
            vehicle,
            violations: facts.clone(),
        };
        // Each decided as if selected alone; the flow re-decides a selection in order.
        let decisions = decide_each_alone(&request);
        let violations = list
            .violations
            .iter()
            .zip(facts)
            .zip(decisions)
            .map(|((v, f), decision)| ViolationView {
                decision,
                facts: f,
                behaviour: v.description.clone(),
                place: v.place.clone(),
                authority: v.authority.clone(),
                authority_address: v.authority_address.clone(),
                decided_on: None,
            })
            .collect();
        let unpaid = list
            .unpaid_decisions
            .iter()
            .map(|d| unpaid_handling(d, plate, now))
            .collect();
        Ok(ViolationList {
            plate: plate.clone(),
            request,
            violations,
            unpaid,
        })
    }

    fn handle(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        violations: &[String],
        _key: &str,
        now: Timestamp,
    ) -> Result<HandlingView, HandleError> {
        let vehicle = self.vehicle_key(plate, now)?;
        let req = HandleRequest {
            id_number: id.clone(),
            vehicle,
            violation_ids: violations.to_vec(),
            kiosk_id: self.kiosk_id.clone(),
        };
        let outcome = match self.platform.handle(&req, now) {
            Ok(o) => o,
            Err(StoreError::NotEligible { .. }) => {
                // Say why with the rule core's decisions for the selection, in its order.
                let list = self.violations(id, plate, now)?;
                let selected = violations
                    .iter()
                    .filter_map(|v| list.request.violations.iter().find(|f| &f.id == v).cloned())
                    .collect();
                let refused = decide(&EligibilityRequest {
                    violations: selected,
                    ..list.request
                })
                .into_iter()
                .filter(|d| !d.eligible())
                .collect();
                return Err(HandleError::Refused(refused));
            }
            Err(e) => return Err(HandleError::Backend(backend_error(e))),
        };
        let first = outcome
            .items
            .first()
            .ok_or_else(|| BackendError::Invalid("no violation selected".into()))?;
        let decision = outcome
            .items
            .iter()
            .map(|i| i.decision.number.as_str())
            .collect::<Vec<_>>()
            .join(&DECISION_SEPARATOR.to_string());
        // What is due on the decisions still unpaid, added up by the store (rules::AmountDue).
        let due = outcome.amount_due;
        Ok(HandlingView {
            decision,
            plate: plate.clone(),
            violations: outcome
                .items
                .iter()
                .map(|i| i.violation_id.clone())
                .collect(),
            fines: due.fine,
            surcharge: due.surcharge,
            fee: due.fee,
            total: due.total(),
            points: outcome.items.iter().map(|i| i.decision.points).sum(),
            handled_at: outcome
                .items
                .iter()
                .map(|i| i.decision.decided_at)
                .min()
                .unwrap_or(first.decision.decided_at),
            pay_by: outcome
                .items
                .iter()
                .map(|i| i.decision.payment_deadline)
                .min()
                .unwrap_or(first.decision.payment_deadline),
        })
    }

    fn payment_order(&mut self, decision: &str, now: Timestamp) -> Result<PaymentQr, PayError> {
        let numbers: Vec<&str> = decision
            .split(DECISION_SEPARATOR)
            .filter(|s| !s.is_empty())
            .collect();
        let mut last = None;
        for (i, number) in numbers.iter().enumerate() {
            let order = self
                .platform
                .payment_order(&DecisionNumber::from(*number), now)
                .map_err(pay_error)?;
            let qr = PaymentQr {
                qr: order.qr_code,
                amount: order.amount,
                part: i + 1,
                parts: numbers.len(),
            };
            // Several decisions are paid one order after another: the first one still open.
            if order.state == "open" {
                return Ok(qr);
            }
            last = Some(qr);
        }
        last.ok_or_else(|| PayError::Backend(BackendError::Invalid("no decision".into())))
    }

    fn pay(&mut self, decision: &str, now: Timestamp) -> Result<PaymentView, PayError> {
        let mut amount = Fen(0);
        let mut references = Vec::new();
        let mut paid_at = now;
        let mut numbers = Vec::new();
        for number in decision.split(DECISION_SEPARATOR).filter(|s| !s.is_empty()) {
            numbers.push(DecisionNumber::from(number));
            // Ask the platform whether the provider confirmed this decision's payment: it
            // records it (once) only on the provider's word.
            let req = PayRequest {
                decision_number: DecisionNumber::from(number),
                idempotency_key: format!("kiosk-pay-{number}"),
                method: "qr".to_string(),
            };
            match self.platform.pay(&req, now) {
                Ok(p) => {
                    amount += p.amount.total();
                    references.push(p.transaction_no);
                    paid_at = p.paid_at;
                }
                // Not yet: the QR to show now is this decision's order.
                Err(StoreError::NotPaidYet) => {
                    return Err(match self.payment_order(decision, now) {
                        Ok(qr) => PayError::NotYet(qr),
                        Err(e) => e,
                    });
                }
                Err(e) => return Err(pay_error(e)),
            }
        }
        Ok(PaymentView {
            decision: decision.to_string(),
            amount,
            paid_at,
            reference: references.join(","),
            sealed_code: self.sealed_code(&numbers, now),
        })
    }

    fn filings(&mut self, id: &IdNumber, now: Timestamp) -> Result<Vec<FilingView>, BackendError> {
        let list = self.platform.filings(id, now).map_err(backend_error)?;
        list.mine
            .iter()
            .filter(|f| f.state.is_active())
            .map(filing_view)
            .collect()
    }

    fn check_filing_qr(
        &mut self,
        id: &IdNumber,
        token: &str,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError> {
        // The signature and expiry are checked before anything else (devices.md §2): with the
        // published keys here, then by the platform.
        if let Some(keys) = &self.qr_verifier {
            match keys.verify(token.trim(), now) {
                Ok(_) => {}
                Err(TokenError::Expired) => return Err(FilingError::TokenExpired),
                Err(e) => {
                    tracing::info!(reason = e.code(), "vehicle QR token refused by the kiosk");
                    return Err(FilingError::TokenInvalid);
                }
            }
        }
        let claims = match self.platform.verify_vehicle_qr(token.trim(), now) {
            Ok(c) => c,
            Err(StoreError::Token(TokenError::Expired)) => return Err(FilingError::TokenExpired),
            Err(StoreError::Token(_)) => return Err(FilingError::TokenInvalid),
            Err(e) => return Err(FilingError::Backend(backend_error(e))),
        };
        let key = VehicleKey::parse(&claims.plate, &claims.plate_type).map_err(filing_error)?;
        self.candidate(
            id,
            key,
            FilingMethod::OwnerQr,
            FilingProof::QrToken(token.trim().to_string()),
            now,
        )
    }

    fn request_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        now: Timestamp,
    ) -> Result<SmsSent, FilingError> {
        let key = self.vehicle_key(plate, now)?;
        let (counts, owner_kind) = self.precheck(id, &key, now)?;
        filing::check_new_filing(counts, owner_kind, sms_method(owner_kind))?;
        let sent = self
            .platform
            .send_filing_code(&self.kiosk_id, id, &key, now)
            .map_err(filing_error)?;
        self.mirror_outbox();
        Ok(SmsSent {
            to_masked: sent.phone_masked,
            to_unit_manager: owner_kind == OwnerKind::Unit,
        })
    }

    fn check_owner_code(
        &mut self,
        id: &IdNumber,
        plate: &Plate,
        code: &str,
        now: Timestamp,
    ) -> Result<FilingCandidate, FilingError> {
        let key = self.vehicle_key(plate, now)?;
        let (counts, owner_kind) = self.precheck(id, &key, now)?;
        let method = sms_method(owner_kind);
        // A filing the limits refuse is said before the code costs a try.
        filing::check_new_filing(counts, owner_kind, method)?;
        let code = code.trim();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FilingError::Backend(BackendError::WrongCode {
                tries_left: None,
            }));
        }
        // Checked now, at its entry and before the face check (a wrong try counts as one at the
        // filing would); the filing checks it again and uses it when it is submitted.
        self.platform
            .check_filing_code(id, &key, code, now)
            .map_err(filing_error)?;
        let proof = FilingProof::SmsCode {
            vehicle: key.clone(),
            code: code.to_string(),
        };
        self.candidate(id, key, method, proof, now)
    }

    fn submit_filing(
        &mut self,
        id: &IdNumber,
        candidate: &FilingCandidate,
        now: Timestamp,
    ) -> Result<FilingView, FilingError> {
        let proof = match self.pending_proof.take() {
            Some((plate, proof)) if plate == candidate.plate => proof,
            _ => {
                return Err(FilingError::Backend(BackendError::Invalid(
                    "no checked filing to submit".into(),
                )));
            }
        };
        let req = FilingRequest {
            id_number: id.clone(),
            proof,
        };
        let view = self
            .platform
            .file_vehicle(&req, now)
            .map_err(filing_error)?;
        Ok(filing_view(&view)?)
    }

    fn unfile(&mut self, id: &IdNumber, filing: &str, now: Timestamp) -> Result<(), BackendError> {
        let list = self.platform.filings(id, now).map_err(backend_error)?;
        let f = list
            .mine
            .iter()
            .find(|f| f.id.to_string() == filing)
            .ok_or(BackendError::NotFound)?;
        let key = f.vehicle.clone();
        self.platform
            .unfile(id, &key, now)
            .map(|_| ())
            .map_err(backend_error)
    }

    fn request_register_code(
        &mut self,
        _id: &IdNumber,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, BackendError> {
        let sent = self
            .platform
            .send_register_code(&self.kiosk_id, phone, now)
            .map_err(backend_error)?;
        self.mirror_outbox();
        Ok(SmsSent {
            to_masked: sent.phone_masked,
            to_unit_manager: false,
        })
    }

    fn register(
        &mut self,
        id: &IdNumber,
        phone: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<(), BackendError> {
        let req = RegisterRequest {
            id_number: id.clone(),
            phone: phone.to_string(),
            sms_code: code.to_string(),
        };
        self.platform
            .register(&req, now)
            .map(|_| ())
            .map_err(backend_error)
    }

    fn feedback(
        &mut self,
        id: Option<&IdNumber>,
        topic: FeedbackTopic,
        now: Timestamp,
    ) -> Result<FeedbackReceipt, BackendError> {
        // The store wants a text (1 to 2000 characters): the topic the person touched.
        let (category, text) = match topic {
            FeedbackTopic::Satisfied => ("satisfied", "满意 / satisfied"),
            FeedbackTopic::SlowOrStuck => ("slow_or_stuck", "慢或卡住 / slow or stuck"),
            FeedbackTopic::HardToUse => ("hard_to_use", "操作不便 / hard to use"),
            FeedbackTopic::WrongData => ("wrong_data", "信息有误 / wrong data"),
        };
        let req = FeedbackRequest {
            id_number: id.cloned(),
            kiosk_id: self.kiosk_id.clone(),
            category: category.to_string(),
            text: text.to_string(),
        };
        let Some(mailbox) = &self.mailbox else {
            return self
                .platform
                .feedback(&req, now)
                .map(|_| FeedbackReceipt::Recorded)
                .map_err(backend_error);
        };
        // A server's terminal: queued first under its key, then the queue is sent in order; if
        // the server cannot take it now, it waits and the person is told it will be delivered.
        let fail = |e: super::outbox::OutboxError| {
            tracing::error!(error = %e, "feedback not saved in the outbox");
            BackendError::Offline(e.to_string())
        };
        let seq = mailbox
            .push(Item::Feedback { request: req, now })
            .map_err(fail)?;
        mailbox.flush().map_err(fail)?;
        match seq {
            Some(seq) if mailbox.waiting(seq).map_err(fail)? => Ok(FeedbackReceipt::Queued),
            _ => Ok(FeedbackReceipt::Recorded),
        }
    }

    fn use_policy(&mut self, policy: Option<PolicyBook>) {
        self.policy = policy.unwrap_or_else(|| self.own_policy.clone());
        tracing::info!("the policy book in use changed (remote configuration)");
    }

    fn record_event(&mut self, kind: &str, detail: &str, now: Timestamp) {
        match &self.events {
            // A server's terminal: through the outbox, delivered exactly once.
            Some(events) => events.record(kind, detail, now),
            None => KioskEvents::local(self.kiosk_id.clone(), self.platform.clone())
                .record(kind, detail, now),
        }
    }

    fn link_up(&mut self, now: Timestamp) -> bool {
        let Some(mailbox) = &self.mailbox else {
            return true;
        };
        let up = mailbox.reachable();
        if up != self.link_was_up {
            self.link_was_up = up;
            if let Some(events) = &self.events {
                let (kind, detail) = if up {
                    ("online", "平台连接恢复 / the platform link is back")
                } else {
                    ("offline", "平台连接中断 / the platform cannot be reached")
                };
                events.record(kind, detail, now);
            }
        }
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Relation;
    use crate::store::demo::{DemoOptions, build_city};
    use crate::store::platform::SqlitePlatform;
    use crate::store::schema;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    const ANCHOR: &str = "2026-11-25T09:00:00+08:00";

    /// A demo city in a temporary file, and a backend over it.
    fn backend() -> (tempfile::TempDir, StoreBackend, Arc<SqlitePlatform>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.sqlite3");
        let mut conn = schema::open(&path).unwrap();
        build_city(
            &mut conn,
            &DemoOptions {
                persons: 40,
                seed: 7,
                anchor: ts(ANCHOR),
            },
        )
        .unwrap();
        drop(conn);
        let platform = Arc::new(SqlitePlatform::open_demo(&path).unwrap());
        let outbox: SmsPanel = SmsPanel::default();
        let b = StoreBackend::new(
            platform.clone(),
            PolicyBook::embedded().unwrap(),
            "CQ-TEST-0001".into(),
            Some(outbox),
        );
        (dir, b, platform)
    }

    fn id(s: &str) -> IdNumber {
        IdNumber::parse(s).unwrap()
    }

    #[test]
    fn a_clean_driver_handles_and_pays_exactly_once() {
        let (_d, mut b, platform) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let me = id("50010619851120002X");
        let person = b.person(&me, now).unwrap();
        assert_eq!(person.name.expose(), "李小红");
        let own = person
            .vehicles
            .iter()
            .find(|v| v.facts.relation == Relation::Own)
            .expect("an own vehicle");
        let plate = own.facts.plate.clone();
        let list = b.violations(&me, &plate, now).unwrap();
        let eligible: Vec<String> = list
            .violations
            .iter()
            .filter(|v| v.decision.eligible())
            .map(|v| v.facts.id.clone())
            .collect();
        assert!(
            !eligible.is_empty(),
            "the demo's clean driver has payable violations"
        );
        let handled = b.handle(&me, &plate, &eligible, "k1", now).unwrap();
        assert_eq!(handled.fee, Fen(0));
        assert_eq!(handled.violations.len(), eligible.len());
        let paid = b.pay(&handled.decision, now).unwrap();
        assert_eq!(paid.amount, handled.total);
        // A second tap pays nothing new: the same transactions come back.
        let again = b.pay(&handled.decision, now).unwrap();
        assert_eq!(again.reference, paid.reference);
        let payments: i64 = platform
            .with_connection_ref(|c| {
                Ok(c.query_row("SELECT COUNT(*) FROM payments", [], |r| r.get::<_, i64>(0))?)
            })
            .unwrap();
        let decisions = handled.decision.split(DECISION_SEPARATOR).count() as i64;
        assert!(payments >= decisions);
        let after = b.violations(&me, &plate, now).unwrap();
        assert!(
            after
                .violations
                .iter()
                .all(|v| !eligible.contains(&v.facts.id))
        );
    }

    #[test]
    fn a_refusal_comes_back_with_the_rule_cores_reasons() {
        let (_d, mut b, _p) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let suspended = id("500105197805120032");
        let person = b.person(&suspended, now).unwrap();
        let v = &person.vehicles[0];
        let list = b.violations(&suspended, &v.facts.plate, now).unwrap();
        let ids: Vec<String> = list.violations.iter().map(|v| v.facts.id.clone()).collect();
        assert!(!ids.is_empty());
        match b.handle(&suspended, &v.facts.plate, &ids, "k", now) {
            Err(HandleError::Refused(decisions)) => {
                assert!(decisions.iter().all(|d| {
                    d.reasons
                        .contains(&crate::rules::Reason::LicenseStatusBlocked)
                }));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_kiosk_with_published_keys_refuses_a_demo_seed_token_the_demo_platform_would_accept() {
        let (_d, b, platform) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let owner = id("500107198209150056");
        let applicant = id("50010619851120002X");
        let owned = platform.vehicles(&owner, now).unwrap();
        let v = owned.iter().find(|v| v.relation == Relation::Own).unwrap();
        // The demo platform signs with the public seed: the forger's token is the same bytes.
        let token = platform
            .issue_vehicle_qr(&owner, &v.key(), now)
            .unwrap()
            .token;
        assert!(platform.verify_vehicle_qr(&token, now).is_ok());
        let published = crate::store::keyring::Keyring::new(
            None,
            vec![(
                "qr-2026a".into(),
                ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key(),
            )],
        )
        .unwrap();
        let keys =
            QrKeys::from_keyrings(published, crate::store::keyring::Keyring::empty()).unwrap();
        let mut b = b.with_qr_verifier(keys);
        assert_eq!(
            b.check_filing_qr(&applicant, &token, now),
            Err(FilingError::TokenInvalid)
        );
    }

    #[test]
    fn filing_by_the_owners_qr_code_then_unfiling() {
        let (_d, mut b, platform) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let owner = id("500107198209150056");
        let applicant = id("50010619851120002X");
        let owned = platform.vehicles(&owner, now).unwrap();
        let v = owned.iter().find(|v| v.relation == Relation::Own).unwrap();
        let key = v.key();
        let token = platform.issue_vehicle_qr(&owner, &key, now).unwrap().token;

        // A tampered code is refused before anything is written.
        let mut forged = token.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(
            b.check_filing_qr(&applicant, &forged, now),
            Err(FilingError::TokenInvalid)
        );
        // An expired one too.
        let later = now + jiff::SignedDuration::from_hours(2);
        assert_eq!(
            b.check_filing_qr(&applicant, &token, later),
            Err(FilingError::TokenExpired)
        );

        let candidate = b.check_filing_qr(&applicant, &token, now).unwrap();
        assert_eq!(candidate.plate, v.plate);
        assert_eq!(candidate.owner, "刘*");
        let filed = b.submit_filing(&applicant, &candidate, now).unwrap();
        assert_eq!(filed.status, FilingStatus::PendingReview);
        let mine = b.filings(&applicant, now).unwrap();
        assert!(mine.iter().any(|f| f.id == filed.id));
        b.unfile(&applicant, &filed.id, now).unwrap();
        assert!(
            b.filings(&applicant, now)
                .unwrap()
                .iter()
                .all(|f| f.id != filed.id)
        );
    }

    #[test]
    fn filing_by_an_sms_code_to_the_owner_and_to_a_units_manager() {
        let (_d, mut b, _p) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let applicant = id("50010619851120002X");
        // 刘芳's car: the code goes to her phone.
        let owner = id("500107198209150056");
        let plate = b
            .person(&owner, now)
            .unwrap()
            .vehicles
            .iter()
            .find(|v| v.facts.relation == Relation::Own)
            .unwrap()
            .facts
            .plate
            .clone();
        let sent = b.request_owner_code(&applicant, &plate, now).unwrap();
        assert!(!sent.to_unit_manager);
        assert!(sent.to_masked.contains('*'), "the phone is shown masked");
        let candidate = b
            .check_owner_code(&applicant, &plate, &last_code(&b), now)
            .unwrap();
        assert_eq!(candidate.method, FilingMethod::OwnerSms);
        let filed = b.submit_filing(&applicant, &candidate, now).unwrap();
        assert_eq!(filed.plate, plate);

        // The unit's car (三.3): only while relief is in force, which it is not on this date;
        // refused with the clause before any SMS is sent (store tests cover the manager SMS).
        let unit_plate = Plate::parse("渝A7U5W3").unwrap();
        let code_before = last_code(&b);
        let refused = b.request_owner_code(&applicant, &unit_plate, now);
        assert!(
            matches!(
                refused,
                Err(FilingError::Refused(
                    crate::rules::filing::FilingRefusal::UnitFilingNeedsRelief
                ))
            ),
            "{:?}",
            refused.map(|s| s.to_unit_manager)
        );
        assert_eq!(last_code(&b), code_before, "no SMS was sent");
        assert_eq!(b.filings(&applicant, now).unwrap().len(), 1);
    }

    /// The code the simulator panel's outbox shows last.
    fn last_code(b: &StoreBackend) -> String {
        let outbox = b.outbox.as_ref().unwrap().lock().unwrap();
        outbox.last().unwrap().code.clone()
    }

    #[test]
    fn registering_sends_a_code_the_simulator_can_show() {
        let (_d, mut b, _p) = backend();
        let now = ts("2026-11-25T11:00:00+08:00");
        let me = id("50010619851120002X");
        b.request_register_code(&me, "13800001234", now).unwrap();
        let first = last_code(&b);
        let wrong = if first == "000000" {
            "111111"
        } else {
            "000000"
        };
        assert_eq!(
            b.register(&me, "13800001234", wrong, now),
            Err(BackendError::WrongCode {
                tries_left: Some(4)
            })
        );
        // A new code: not within the minute (the phone's limit says when), a minute later.
        assert!(matches!(
            b.request_register_code(&me, "13800001234", now),
            Err(BackendError::TryLater { zh, en }) if zh.contains("请1分钟后再试") && en.contains("try again in 1 min")
        ));
        let later = now + jiff::SignedDuration::from_mins(1);
        b.request_register_code(&me, "13800001234", later).unwrap();
        b.register(&me, "13800001234", &last_code(&b), later)
            .unwrap();
        assert!(b.person(&me, later).unwrap().registered);
    }
}
