//! The operations: the [`Platform`](super::Platform) trait over SQLite, one transaction each.

use jiff::Timestamp;
use serde_json::json;

use super::rows::*;
use super::*;
use crate::domain::{Fen, IdNumber};
use crate::privacy::Masked;
use crate::rules::filing::{self, FilingMethod, OwnerKind};
use crate::rules::payment::{self as pay_rules, AmountDue, PaymentWindow};
use crate::rules::{self, EligibilityRequest, ViolationFacts, maintenance};
use crate::sql_params;
use crate::store::sms;
use crate::store::sql::{Dialect, Sql};
use crate::store::token;
use crate::store::{StoreError, audit};

fn valid_phone(phone: &str) -> bool {
    phone.len() == 11 && phone.starts_with('1') && phone.bytes().all(|b| b.is_ascii_digit())
}

/// Where the payment came from.
pub(super) enum PaymentSource<'a> {
    /// Confirmed by the payment provider (its notification or an order query), with its
    /// transaction number and the amount of the order, which was priced at `priced_at` (what
    /// was due when the order was opened: fine + surcharge + fee).
    Notified {
        transaction_no: &'a str,
        amount: Fen,
        priced_at: Timestamp,
    },
}

/// The owner's consent to a filing, checked inside the transaction.
enum Consent<'a> {
    /// The owner tag of a verified vehicle-QR token.
    Qr(String),
    /// The SMS code the applicant typed.
    Sms(&'a str),
}

impl<B: Backend> StorePlatform<B> {
    /// Hand a recorded code to the gateway (after its transaction committed: a retried
    /// transaction never sends twice), then record the outcome. A failed delivery leaves no
    /// usable code and is the error.
    fn deliver_code(&self, pending: sms::Pending, now: Timestamp) -> Result<SmsSent, StoreError> {
        let id = pending.message.id;
        let outcome = self.sms.deliver(&pending.message);
        if let Err(e) = &outcome {
            tracing::warn!(sms = id, error = %e, "SMS not delivered");
        }
        self.write(|tx| Ok(sms::record_delivery(tx, id, &outcome, now)?))?;
        outcome?;
        Ok(SmsSent {
            outbox_id: id,
            phone_masked: crate::privacy::mask_text(&pending.message.phone),
            expires_at: pending.expires_at,
        })
    }

    /// Record a payment for `d` (inside the caller's IMMEDIATE transaction).
    pub(super) fn pay_in_tx(
        &self,
        tx: &dyn Sql,
        req: &PayRequest,
        source: PaymentSource<'_>,
        now: Timestamp,
    ) -> Result<PaymentView, StoreError> {
        if req.idempotency_key.trim().is_empty() || req.idempotency_key.len() > 128 {
            return Err(StoreError::Invalid("idempotency key".into()));
        }
        // The same key again: the same payment, nothing charged twice.
        let existing: Option<PaymentView> = tx
            .query_opt(
                "SELECT d.number, p.method, p.transaction_no, p.fine_fen, p.surcharge_fen, p.fee_fen, p.total_fen, p.paid_at
                 FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE p.idempotency_key = ?1",
                &sql_params![&req.idempotency_key],
            )?
            .map(|r| -> Result<PaymentView, crate::store::sql::SqlError> {
                    Ok(PaymentView {
                        decision_number: DecisionNumber(r.get(0)?),
                        idempotency_key: req.idempotency_key.clone(),
                        method: r.get(1)?,
                        transaction_no: r.get(2)?,
                        amount: AmountDue {
                            fine: Fen(r.get(3)?),
                            surcharge: Fen(r.get(4)?),
                            fee: Fen(r.get(5)?),
                        },
                        paid_at: ts(r.get(7)?),
                        replayed: true,
                    })
            })
            .transpose()?;
        if let Some(previous) = existing {
            if previous.decision_number != req.decision_number {
                return Err(StoreError::IdempotencyKeyReused);
            }
            return Ok(previous);
        }
        let d = decision_by_number(tx, req.decision_number.as_str())?;
        let state = handling_state(&d.state)?;
        // Money the provider confirmed: recorded while the handling stands (六.2).
        pay_rules::check_confirmed_payment(state).map_err(StoreError::Payment)?;
        let PaymentSource::Notified { priced_at, .. } = source;
        let view = d.view(priced_at)?;
        let due = view.due();
        let total = due.total();
        let transaction_no = match source {
            PaymentSource::Notified {
                transaction_no,
                amount,
                ..
            } => {
                if amount != total {
                    return Err(StoreError::Invalid(format!(
                        "notified amount {amount} differs from the amount due {total}"
                    )));
                }
                transaction_no.to_string()
            }
        };
        let payment_id: i64 = tx.one(
            "INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
            &sql_params![d.id, req.idempotency_key, req.method, transaction_no, due.fine.as_fen(), due.surcharge.as_fen(), due.fee.as_fen(), total.as_fen(), now.as_second()],
        )?;
        tx.exec(
            "UPDATE decisions SET state = 'paid' WHERE id = ?1 AND state = 'handled_unpaid'",
            &sql_params![d.id],
        )?;
        tx.exec(
            "UPDATE violations SET state = 'paid' WHERE id = ?1",
            &sql_params![&d.violation_id],
        )?;
        let out = PaymentView {
            decision_number: view.number.clone(),
            idempotency_key: req.idempotency_key.clone(),
            method: req.method.clone(),
            transaction_no,
            amount: due,
            paid_at: now,
            replayed: false,
        };
        let body = serde_json::to_string(&PaymentRecord::from(&out)).expect("serialize");
        tx.exec(
            "INSERT INTO receipts (kind, decision_id, payment_id, body, created_at) VALUES ('payment', ?1, ?2, ?3, ?4)",
            &sql_params![d.id, payment_id, body, now.as_second()],
        )?;
        tracing::info!(decision = %d.number, total = %total, "decision paid");
        audit::append(
            tx,
            now.as_second(),
            "pay",
            &format!("decision:{}", d.number),
            &json!({"payment": payment_id, "total_fen": total.as_fen(), "surcharge_fen": due.surcharge.as_fen(), "method": req.method}),
        )?;
        Ok(out)
    }
}

pub(super) fn change_pending_points(
    tx: &dyn Sql,
    person_id: i64,
    delta: i64,
) -> Result<(), StoreError> {
    if delta == 0 {
        return Ok(());
    }
    let n = tx.exec(
        "UPDATE licences SET pending_points = pending_points + ?1 WHERE person_id = ?2",
        &sql_params![delta, person_id],
    )?;
    if n != 1 {
        return Err(StoreError::Corrupt(
            "points on a decision of a person without a licence".into(),
        ));
    }
    Ok(())
}

pub(super) fn next_decision_number(
    tx: &dyn Sql,
    now: Timestamp,
) -> Result<(i64, String), StoreError> {
    let id: i64 = match tx.dialect() {
        // Under the write lock: nobody else can take the same id.
        Dialect::Sqlite => tx.one("SELECT coalesce(max(id), 0) + 1 FROM decisions", &[])?,
        // A sequence: no read of the table, so no serialization conflict between handlings.
        Dialect::Postgres => tx.one("SELECT nextval('decision_ids')", &[])?,
    };
    let day = maintenance::local_time(now).date().strftime("%Y%m%d");
    Ok((id, format!("5001{day}{id:08}")))
}

impl<B: Backend> Platform for StorePlatform<B> {
    fn person(&self, id: &IdNumber, _now: Timestamp) -> Result<PersonView, StoreError> {
        self.read(|tx| {
            let p = person_row(tx, id)?;
            Ok(PersonView {
                id_number_masked: id.masked(),
                name: Masked::new(p.name.clone()),
                phone_masked: crate::privacy::mask_text(&p.phone),
                registered: p.registered_phone.is_some(),
                licence: licence(tx, p.id)?,
            })
        })
    }

    fn vehicles(&self, id: &IdNumber, now: Timestamp) -> Result<Vec<VehicleView>, StoreError> {
        let _ = now;
        self.read(|tx| {
            let p = person_row(tx, id)?;
            let ids: Vec<i64> = tx.column(
                "SELECT id FROM vehicles WHERE owner_person_id = ?1
                 UNION SELECT vehicle_id FROM filings WHERE person_id = ?1 AND state = 'approved'
                 UNION SELECT vehicle_id FROM rentals WHERE person_id = ?1",
                &sql_params![p.id],
            )?;
            let mut out = Vec::new();
            for vid in ids {
                let v = vehicle_by_id(tx, vid)?;
                let rel = relation(tx, p.id, &v)?;
                out.push(vehicle_view(tx, &v, &rel)?);
            }
            out.sort_by(|a, b| {
                let rank = |r: &str| {
                    [
                        "own",
                        "filed",
                        "unit_filed",
                        "rental_renter",
                        "rental_temp_driver",
                    ]
                    .iter()
                    .position(|x| *x == r)
                    .unwrap_or(9)
                };
                rank(a.relation.code())
                    .cmp(&rank(b.relation.code()))
                    .then(a.plate.as_str().cmp(b.plate.as_str()))
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
            let p = person_row(tx, id)?;
            let v = vehicle_row(tx, vehicle)?;
            let relation = relation(tx, p.id, &v)?;
            let driver = driver_facts(tx, p.id)?;
            let vfacts = vehicle_facts(&v, relation.clone())?;
            let policy = self.policy_at(now);
            let mut violations = Vec::new();
            for (facts, extra) in pending_violation_facts(tx, v.id, None)? {
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
                    facts,
                    place: extra.place,
                    description: extra.description,
                    authority: extra.authority,
                    authority_address: extra.authority_address,
                    decision,
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
                let rows = tx.query(
                    &format!(
                        "SELECT {cols} FROM violations v JOIN decisions d ON d.id = v.decision_id
                         WHERE v.vehicle_id = ?1 AND v.state = 'handled' AND d.state = 'handled_unpaid' ORDER BY d.id"
                    ),
                    &sql_params![v.id],
                )?;
                for r in &rows {
                    unpaid.push(decision_from_row(r)?.view(now)?);
                }
            }
            Ok(ViolationList {
                vehicle: vehicle_view(tx, &v, &relation)?,
                violations,
                unpaid_decisions: unpaid,
            })
        })
    }

    fn send_register_code(
        &self,
        kiosk: &str,
        phone: &str,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError> {
        if !valid_phone(phone) {
            return Err(StoreError::BadPhone);
        }
        let pending = self.write(|tx| {
            let pending = sms::issue_code(
                tx,
                kiosk,
                phone,
                "register",
                sms::SmsTemplate::Register,
                now,
            )?;
            audit::append(
                tx,
                now.as_second(),
                "sms_register_code",
                &format!("sms:{}", pending.message.id),
                &json!({"kiosk": kiosk}),
            )?;
            Ok(pending)
        })?;
        self.deliver_code(pending, now)
    }

    fn register(&self, req: &RegisterRequest, now: Timestamp) -> Result<PersonView, StoreError> {
        if !valid_phone(&req.phone) {
            return Err(StoreError::BadPhone);
        }
        self.write(|tx| {
            let p = person_row(tx, &req.id_number)?;
            match &p.registered_phone {
                Some(ph) if *ph == req.phone => {}
                Some(_) => return Err(StoreError::RegisteredWithOtherPhone),
                None => {
                    sms::consume_code(tx, &req.phone, "register", &req.sms_code, now)?;
                    tx.exec(
                        "UPDATE persons SET registered_phone = ?1, registered_at = ?2 WHERE id = ?3",
                        &sql_params![req.phone, now.as_second(), p.id],
                    )?;
                    audit::append(tx, now.as_second(), "register", &format!("person:{}", p.id), &json!({}))?;
                }
            }
            Ok(PersonView {
                id_number_masked: req.id_number.masked(),
                name: Masked::new(p.name.clone()),
                phone_masked: crate::privacy::mask_text(&req.phone),
                registered: true,
                licence: licence(tx, p.id)?,
            })
        })
    }

    fn send_filing_code(
        &self,
        kiosk: &str,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<SmsSent, StoreError> {
        let pending = self.write(|tx| {
            let p = person_row(tx, applicant)?;
            let v = vehicle_row(tx, vehicle)?;
            // 三.3: a unit's vehicle that may not be filed is refused before any SMS is sent.
            let relief = self.policy_at(now).epidemic_relief;
            filing::check_filable_vehicle(v.owner_kind(), &v.plate_type, &v.use_code, relief)
                .map_err(StoreError::Filing)?;
            let phone = owner_phone(tx, &v)?;
            let purpose = format!("filing:{}:{}", v.id, p.id);
            let template = sms::SmsTemplate::FilingConsent {
                plate: v.plate.to_string(),
            };
            let pending = sms::issue_code(tx, kiosk, &phone, &purpose, template, now)?;
            audit::append(
                tx,
                now.as_second(),
                "sms_filing_code",
                &format!("sms:{}", pending.message.id),
                &json!({"vehicle": v.id, "applicant": p.id, "kiosk": kiosk}),
            )?;
            Ok(pending)
        })?;
        self.deliver_code(pending, now)
    }

    fn check_filing_code(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        code: &str,
        now: Timestamp,
    ) -> Result<FilingCodeChecked, StoreError> {
        // A write transaction: a wrong try is counted (and committed, `keeps_writes`); a right
        // code writes nothing.
        self.write(|tx| {
            let p = person_row(tx, applicant)?;
            let v = vehicle_row(tx, vehicle)?;
            let phone = owner_phone(tx, &v)?;
            let purpose = format!("filing:{}:{}", v.id, p.id);
            let expires_at = sms::check_code(tx, &phone, &purpose, code, now)?;
            Ok(FilingCodeChecked { expires_at })
        })
    }

    fn file_vehicle(&self, req: &FilingRequest, now: Timestamp) -> Result<FilingView, StoreError> {
        // The token is checked before anything is read or written.
        let (key, method, consent) = match &req.proof {
            FilingProof::QrToken(t) => {
                let c = self.qr.verify(t, now)?;
                (
                    VehicleKey::parse(&c.plate, &c.plate_type)?,
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
            let p = person_row(tx, &req.id_number)?;
            let v = vehicle_row(tx, &key)?;
            let owner_kind = if v.owner_unit_id.is_some() { OwnerKind::Unit } else { OwnerKind::Person };
            let method = match (method, owner_kind) {
                (FilingMethod::OwnerSms, OwnerKind::Unit) => FilingMethod::UnitManagerSms,
                (m, _) => m,
            };
            let relief = self.policy_at(now).epidemic_relief;
            filing::check_filable_vehicle(owner_kind, &v.plate_type, &v.use_code, relief)
                .map_err(StoreError::Filing)?;
            let counts = filing_counts_in(tx, p.id, &v)?;
            filing::check_new_filing(counts, owner_kind, method).map_err(StoreError::Filing)?;
            // The owner's consent.
            match &consent {
                Consent::Qr(owner_tag) => {
                    let owner_id: Option<String> = match v.owner_person_id {
                        Some(o) => Some(tx.one(
                            "SELECT id_number FROM persons WHERE id = ?1",
                            &sql_params![o],
                        )?),
                        None => None,
                    };
                    let owner = owner_id
                        .map(|s| {
                            IdNumber::parse(&s)
                                .map_err(|e| StoreError::Corrupt(format!("owner id: {e}")))
                        })
                        .transpose()?;
                    if owner.map(|o| token::owner_tag(&o)).as_ref() != Some(owner_tag) {
                        return Err(StoreError::TokenOwnerMismatch);
                    }
                }
                Consent::Sms(code) => {
                    let phone = owner_phone(tx, &v)?;
                    let purpose = format!("filing:{}:{}", v.id, p.id);
                    sms::consume_code(tx, &phone, &purpose, code, now)?;
                }
            }
            let method_code = codes::filing_method(method);
            let id: i64 = tx.one(
                "INSERT INTO filings (person_id, vehicle_id, method, state, requested_at) VALUES (?1, ?2, ?3, 'pending_review', ?4) RETURNING id",
                &sql_params![p.id, v.id, method_code, now.as_second()],
            )?;
            tracing::info!(person = %req.id_number, filing = id, method = method_code, "filing requested");
            audit::append(tx, now.as_second(), "file", &format!("filing:{id}"), &json!({"person": p.id, "vehicle": v.id, "method": method_code}))?;
            filing_view(tx, id)
        })
    }

    fn review_filing(
        &self,
        filing_id: FilingId,
        approve: bool,
        note: &str,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        let wanted = if approve {
            FilingState::Approved
        } else {
            FilingState::Rejected
        };
        let filing_id = filing_id.0;
        self.write(|tx| {
            let f = filing_view(tx, filing_id)?;
            if f.state == wanted {
                return Ok(f);
            }
            if f.state != FilingState::PendingReview {
                return Err(StoreError::FilingAlreadyReviewed {
                    state: f.state.code().into(),
                    wanted: wanted.code().into(),
                });
            }
            tx.exec(
                "UPDATE filings SET state = ?1, reviewed_at = ?2, review_note = ?3 WHERE id = ?4",
                &sql_params![wanted.code(), now.as_second(), note, filing_id],
            )?;
            audit::append(
                tx,
                now.as_second(),
                "review",
                &format!("filing:{filing_id}"),
                &json!({"state": wanted.code()}),
            )?;
            filing_view(tx, filing_id)
        })
    }

    fn unfile(
        &self,
        id: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        self.write(|tx| {
            let p = person_row(tx, id)?;
            let v = vehicle_row(tx, vehicle)?;
            let active: Option<i64> = tx
                .opt("SELECT id FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state IN ('pending_review', 'approved')", &sql_params![p.id, v.id])?;
            match active {
                Some(fid) => {
                    tx.exec(
                        "UPDATE filings SET state = 'withdrawn', withdrawn_at = ?1 WHERE id = ?2",
                        &sql_params![now.as_second(), fid],
                    )?;
                    audit::append(tx, now.as_second(), "unfile", &format!("filing:{fid}"), &json!({}))?;
                    filing_view(tx, fid)
                }
                None => {
                    // Tapped twice: the filing withdrawn last time.
                    let last: Option<i64> = tx
                        .opt("SELECT id FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state = 'withdrawn' ORDER BY id DESC LIMIT 1", &sql_params![p.id, v.id])?;
                    match last {
                        Some(fid) => filing_view(tx, fid),
                        None => Err(StoreError::NotFiled),
                    }
                }
            }
        })
    }

    fn filings(&self, id: &IdNumber, _now: Timestamp) -> Result<FilingList, StoreError> {
        self.read(|tx| {
            let p = person_row(tx, id)?;
            let ids = |sql: &str| -> Result<Vec<i64>, StoreError> {
                Ok(tx.column(sql, &sql_params![p.id])?)
            };
            let mine = ids("SELECT id FROM filings WHERE person_id = ?1 ORDER BY id")?;
            let on_mine = ids(
                "SELECT f.id FROM filings f JOIN vehicles v ON v.id = f.vehicle_id
                 WHERE v.owner_person_id = ?1 AND f.state IN ('pending_review', 'approved') ORDER BY f.id",
            )?;
            Ok(FilingList {
                mine: mine
                    .into_iter()
                    .map(|f| filing_view(tx, f))
                    .collect::<Result<_, _>>()?,
                on_my_vehicles: on_mine
                    .into_iter()
                    .map(|f| filing_view(tx, f))
                    .collect::<Result<_, _>>()?,
            })
        })
    }

    fn remove_driver(
        &self,
        owner: &IdNumber,
        filing_id: FilingId,
        now: Timestamp,
    ) -> Result<FilingView, StoreError> {
        let filing_id = filing_id.0;
        self.write(|tx| {
            let p = person_row(tx, owner)?;
            let row: Option<(i64, String)> = match tx.query_opt(
                "SELECT v.owner_person_id, f.state FROM filings f JOIN vehicles v ON v.id = f.vehicle_id WHERE f.id = ?1",
                &sql_params![filing_id],
            )? {
                Some(r) => Some((r.get::<Option<i64>>(0)?.unwrap_or(0), r.get(1)?)),
                None => None,
            };
            match row {
                // Only the owner may remove a driver from their vehicle; to anyone else it does
                // not exist.
                Some((o, _)) if o != p.id => Err(StoreError::FilingNotFound),
                None => Err(StoreError::FilingNotFound),
                Some((_, state)) if state == "withdrawn" => filing_view(tx, filing_id),
                Some((_, state)) if state == "rejected" => Err(StoreError::FilingAlreadyReviewed {
                    state,
                    wanted: "withdrawn".into(),
                }),
                Some(_) => {
                    tx.exec(
                        "UPDATE filings SET state = 'withdrawn', withdrawn_at = ?1 WHERE id = ?2",
                        &sql_params![now.as_second(), filing_id],
                    )?;
                    audit::append(
                        tx,
                        now.as_second(),
                        "remove_driver",
                        &format!("filing:{filing_id}"),
                        &json!({"owner": p.id}),
                    )?;
                    filing_view(tx, filing_id)
                }
            }
        })
    }

    fn handle(&self, req: &HandleRequest, now: Timestamp) -> Result<HandleOutcome, StoreError> {
        if req.violation_ids.is_empty() {
            return Err(StoreError::Invalid("no violation selected".into()));
        }
        self.write(|tx| {
            let p = person_row(tx, &req.id_number)?;
            let v = vehicle_row(tx, &req.vehicle)?;
            let mut items: Vec<Option<HandledItem>> = vec![None; req.violation_ids.len()];
            let mut fresh: Vec<String> = Vec::new();
            for (i, vid) in req.violation_ids.iter().enumerate() {
                let state: Option<(i64, String)> = match tx.query_opt(
                    "SELECT vehicle_id, state FROM violations WHERE id = ?1",
                    &sql_params![vid],
                )? {
                    Some(r) => Some((r.get(0)?, r.get(1)?)),
                    None => None,
                };
                match state {
                    Some((veh, _)) if veh != v.id => return Err(StoreError::ViolationNotFound(vid.clone())),
                    None => return Err(StoreError::ViolationNotFound(vid.clone())),
                    Some((_, s)) if s == "pending" => {
                        if !fresh.contains(vid) {
                            fresh.push(vid.clone());
                        }
                    }
                    Some(_) => {
                        let d = live_decision_of(tx, vid)?
                            .ok_or_else(|| StoreError::Corrupt(format!("violation {vid} handled without a decision")))?;
                        items[i] = Some(HandledItem {
                            violation_id: vid.clone(),
                            already_handled: true,
                            decision: d.view(now)?,
                        });
                    }
                }
            }
            if !fresh.is_empty() {
                let relation = relation(tx, p.id, &v)?;
                let facts: Vec<ViolationFacts> = {
                    let mut all = pending_violation_facts(tx, v.id, Some(&fresh))?;
                    // Decide in the order the person selected them.
                    all.sort_by_key(|(f, _)| fresh.iter().position(|x| *x == f.id));
                    all.into_iter().map(|(f, _)| f).collect()
                };
                let erq = EligibilityRequest {
                    now,
                    policy: self.policy_at(now),
                    driver: driver_facts(tx, p.id)?,
                    vehicle: vehicle_facts(&v, relation)?,
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
                    let (id, number) = next_decision_number(tx, now)?;
                    tx.exec(
                        "INSERT INTO decisions (id, number, violation_id, person_id, channel, kiosk_id, decided_at, payment_deadline, state, fine_fen, points)
                         VALUES (?1, ?2, ?3, ?4, 'kiosk', ?5, ?6, ?7, 'handled_unpaid', ?8, ?9)",
                        &sql_params![id, number, f.id, p.id, req.kiosk_id, now.as_second(), window.deadline.as_second(), f.fine.as_fen(), f.points],
                    )?;
                    let n = tx.exec(
                        "UPDATE violations SET state = 'handled', decision_id = ?1 WHERE id = ?2 AND state = 'pending'",
                        &sql_params![id, f.id],
                    )?;
                    if n != 1 {
                        return Err(StoreError::Corrupt(format!("violation {} changed under the write lock", f.id)));
                    }
                    change_pending_points(tx, p.id, i64::from(f.points))?;
                    let d = decision_by_number(tx, &number)?;
                    let view = d.view(now)?;
                    let body = serde_json::to_string(&HandlingRecord::from(&view)).expect("serialize");
                    tx.exec(
                        "INSERT INTO receipts (kind, decision_id, body, created_at) VALUES ('handling', ?1, ?2, ?3)",
                        &sql_params![id, body, now.as_second()],
                    )?;
                    audit::append(tx, now.as_second(), "handle", &format!("decision:{number}"), &json!({"violation": f.id, "person": p.id, "points": f.points, "fine_fen": f.fine.as_fen(), "kiosk": req.kiosk_id}))?;
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
            let due: AmountDue = items.iter().map(|i| i.decision.due()).sum();
            tracing::info!(
                person = %req.id_number,
                handled = fresh.len(),
                selected = items.len(),
                "violations handled"
            );
            Ok(HandleOutcome {
                items,
                amount_due: due,
            })
        })
    }

    fn pay(&self, req: &PayRequest, now: Timestamp) -> Result<PaymentView, StoreError> {
        self.confirm_payment(req, now)
    }

    fn payment_order(
        &self,
        decision: &DecisionNumber,
        now: Timestamp,
    ) -> Result<PaymentOrderView, StoreError> {
        self.open_order(decision, now)
    }

    fn payment_notification(&self, body: &[u8], now: Timestamp) -> Result<NotifyAck, StoreError> {
        self.receive_notification(body, now)?
            .map_err(|e| StoreError::NotificationRefused(e.to_string()))
    }

    fn revert_due(&self, now: Timestamp) -> Result<RevertReport, StoreError> {
        let report = self.revert_due_sweep(now)?;
        // Money for what was just reverted (a lost notification) is found and refunded; a
        // provider out of reach is tried again at the next sweep.
        match self.reconcile_orders(now) {
            Ok(0) => {}
            Ok(n) => tracing::info!(refunded = n, "late payments refunded"),
            Err(e) => tracing::warn!(error = %e, "payment orders not reconciled"),
        }
        Ok(report)
    }

    fn receipt(
        &self,
        decision_number: &DecisionNumber,
        kind: ReceiptKind,
    ) -> Result<ReceiptView, StoreError> {
        self.read(|tx| {
            let d = decision_by_number(tx, decision_number.as_str())?;
            let r = tx
                .query_opt(
                    "SELECT body, created_at FROM receipts WHERE decision_id = ?1 AND kind = ?2",
                    &sql_params![d.id, kind.code()],
                )?
                .ok_or(StoreError::ReceiptNotFound)?;
            let (body, at): (String, i64) = (r.get(0)?, r.get(1)?);
            let bad = |e: serde_json::Error| StoreError::Corrupt(format!("receipt body: {e}"));
            let body = match kind {
                ReceiptKind::Handling => ReceiptBody::Handling(
                    serde_json::from_str::<HandlingRecord>(&body)
                        .map_err(bad)?
                        .view()?,
                ),
                ReceiptKind::Payment => ReceiptBody::Payment(
                    serde_json::from_str::<PaymentRecord>(&body)
                        .map_err(bad)?
                        .view()?,
                ),
            };
            Ok(ReceiptView {
                decision_number: DecisionNumber(d.number),
                created_at: ts(at),
                body,
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
                Some(id) => Some(person_row(tx, id)?.id),
                None => None,
            };
            let id: i64 = tx.one(
                "INSERT INTO feedback (person_id, kiosk_id, category, text, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                &sql_params![person, &req.kiosk_id, &req.category, text, now.as_second()],
            )?;
            audit::append(tx, now.as_second(), "feedback", &format!("feedback:{id}"), &json!({"category": req.category}))?;
            Ok(id)
        })
    }

    fn record_kiosk_event(
        &self,
        req: &KioskEventRequest,
        at: Timestamp,
    ) -> Result<i64, StoreError> {
        let bad = |what: &str, v: &str, max: usize| {
            (v.trim().is_empty() && what == "kind") || v.chars().count() > max
        };
        if bad("kind", &req.kind, 64) || bad("detail", &req.detail, 500) || req.kiosk_id.is_empty()
        {
            return Err(StoreError::Invalid(
                "kiosk event: kind 1 to 64 characters, detail at most 500, a kiosk id".into(),
            ));
        }
        self.write(|tx| {
            let id: i64 = tx.one(
                "INSERT INTO kiosk_events (kiosk_id, kind, detail, at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                &sql_params![&req.kiosk_id, &req.kind, &req.detail, at.as_second()],
            )?;
            // The operator screen's PIN tries belong to the audit chain too.
            if req.kind.starts_with("operator_") {
                audit::append(
                    tx,
                    at.as_second(),
                    &req.kind,
                    &format!("kiosk_event:{id}"),
                    &json!({"kiosk": req.kiosk_id}),
                )?;
            }
            Ok(id)
        })
    }

    fn seal_receipt(
        &self,
        req: &SealRequest,
        _now: Timestamp,
    ) -> Result<SealedReceipt, StoreError> {
        self.seal_payment_receipt(req)
    }

    fn issue_vehicle_qr(
        &self,
        owner: &IdNumber,
        vehicle: &VehicleKey,
        now: Timestamp,
    ) -> Result<IssuedToken, StoreError> {
        let v = self.read(|tx| {
            let p = person_row(tx, owner)?;
            let v = vehicle_row(tx, vehicle)?;
            if v.owner_person_id != Some(p.id) {
                return Err(StoreError::VehicleNotFound);
            }
            Ok(v)
        })?;
        let (token, claims) = self.qr.issue(&v.plate, &v.plate_type, owner, now)?;
        Ok(IssuedToken {
            token,
            vehicle: vehicle.clone(),
            expires_at: ts(claims.expires_at),
        })
    }

    fn vehicle_by_plate(&self, plate: &Plate, _now: Timestamp) -> Result<VehicleKey, StoreError> {
        self.lookup_vehicle_by_plate(plate)
    }

    fn vehicle_owner(
        &self,
        vehicle: &VehicleKey,
        _now: Timestamp,
    ) -> Result<VehicleOwner, StoreError> {
        self.lookup_vehicle_owner(vehicle)
    }

    fn filing_precheck(
        &self,
        applicant: &IdNumber,
        vehicle: &VehicleKey,
        _now: Timestamp,
    ) -> Result<FilingPrecheck, StoreError> {
        self.lookup_filing_precheck(applicant, vehicle)
    }

    fn verify_vehicle_qr(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<VehicleQrClaims, StoreError> {
        self.lookup_verify_vehicle_qr(token, now)
    }

    fn sms_outbox(&self, limit: u32) -> Result<Vec<OutboxEntry>, StoreError> {
        self.lookup_sms_outbox(limit)
    }

    /// The store keeps no remote configuration: the server's `--remote-config` does.
    fn remote_config(
        &self,
        _kiosk: &str,
    ) -> Result<Option<crate::config::SignedSettings>, StoreError> {
        Ok(None)
    }
}
