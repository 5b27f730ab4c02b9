//! The JSON `kiosk platform …` prints: one serde shape per view of the store, made from the
//! typed views at this edge. Field names and value formats are the contract operators' scripts
//! and `tests/store.rs` read: codes for code tables (`"02"`, `"own"`, `"paid"`), money as integer
//! fen beside its `*_text` form (`200.00元`), timestamps in RFC 3339.

use jiff::Timestamp;
use serde::Serialize;

use crate::domain::Fen;
use crate::rules::Eligibility;
use crate::store::platform::{
    FilingCodeChecked, FilingList, FilingView, HandleOutcome, HandlingView, IssuedToken,
    LicenceView, PaymentView, PersonView, ReceiptBody, ReceiptView, RevertReport, SmsSent,
    VehicleView, ViolationList, ViolationView, codes,
};

#[derive(Serialize)]
pub struct LicenceOut {
    class: &'static str,
    first_issued: String,
    cycle_start: String,
    cycle_points: u32,
    pending_points: u32,
    status: String,
    status_names: Vec<&'static str>,
    full_12_count: u32,
}

impl From<&LicenceView> for LicenceOut {
    fn from(l: &LicenceView) -> Self {
        LicenceOut {
            class: l.class.code(),
            first_issued: l.first_issued.to_string(),
            cycle_start: l.cycle_start.to_string(),
            cycle_points: l.cycle_points,
            pending_points: l.pending_points,
            status: l.status.to_codes(),
            status_names: l.status.iter().map(|s| s.name_zh()).collect(),
            full_12_count: l.full_12_count,
        }
    }
}

#[derive(Serialize)]
pub struct PersonOut {
    id_number_masked: String,
    name: String,
    phone_masked: String,
    registered: bool,
    licence: Option<LicenceOut>,
}

impl From<&PersonView> for PersonOut {
    fn from(p: &PersonView) -> Self {
        PersonOut {
            id_number_masked: p.id_number_masked.clone(),
            name: p.name.expose().clone(),
            phone_masked: p.phone_masked.clone(),
            registered: p.registered,
            licence: p.licence.as_ref().map(LicenceOut::from),
        }
    }
}

#[derive(Serialize)]
pub struct VehicleOut {
    plate: String,
    plate_type: &'static str,
    plate_type_name: &'static str,
    use_code: &'static str,
    use_name: &'static str,
    status: String,
    relation: &'static str,
    filed_at: Option<Timestamp>,
    rental_start: Option<Timestamp>,
    rental_end: Option<Timestamp>,
    owner_kind: &'static str,
    pending_violations: u32,
}

impl From<&VehicleView> for VehicleOut {
    fn from(v: &VehicleView) -> Self {
        use crate::rules::Relation;
        let (filed_at, rental) = match &v.relation {
            Relation::Filed { filed_at } | Relation::UnitFiled { filed_at } => {
                (Some(*filed_at), None)
            }
            Relation::RentalRenter { rental } => (None, Some(*rental)),
            Relation::RentalTempDriver { filed_at, rental } => (Some(*filed_at), Some(*rental)),
            Relation::Own | Relation::None => (None, None),
        };
        VehicleOut {
            plate: v.plate.to_string(),
            plate_type: v.plate_type.code(),
            plate_type_name: v.plate_type.name_zh(),
            use_code: v.use_.code(),
            use_name: v.use_.name_zh(),
            status: v.status.to_codes(),
            relation: v.relation.code(),
            filed_at,
            rental_start: rental.map(|r| r.start),
            rental_end: rental.map(|r| r.end),
            owner_kind: codes::owner_kind(v.owner_kind),
            pending_violations: v.pending_violations,
        }
    }
}

/// One failing reason of the rule core.
#[derive(Serialize)]
pub struct ReasonOut {
    code: &'static str,
    clauses: Vec<String>,
    message_zh: &'static str,
    message_en: &'static str,
}

/// The rule core's decision for one violation.
#[derive(Serialize)]
pub struct RuleDecisionOut {
    eligible: bool,
    reasons: Vec<ReasonOut>,
    points_after: u32,
    clauses: Vec<String>,
    message_zh: String,
    message_en: String,
}

impl From<&Eligibility> for RuleDecisionOut {
    fn from(e: &Eligibility) -> Self {
        RuleDecisionOut {
            eligible: e.eligible(),
            reasons: e
                .reasons
                .iter()
                .map(|r| ReasonOut {
                    code: r.code(),
                    clauses: r.clauses().iter().map(|c| c.code().to_string()).collect(),
                    message_zh: r.message_zh(),
                    message_en: r.message_en(),
                })
                .collect(),
            points_after: e.points_after,
            clauses: e.clauses().iter().map(|c| c.code().to_string()).collect(),
            message_zh: e.message_zh(),
            message_en: e.message_en(),
        }
    }
}

#[derive(Serialize)]
pub struct ViolationOut {
    id: String,
    occurred_at: Timestamp,
    place: String,
    description: String,
    province: String,
    province_online: bool,
    recorded_by: &'static str,
    penalty: &'static str,
    fine: Fen,
    fine_text: String,
    points: u32,
    authority: String,
    authority_address: String,
    decision: RuleDecisionOut,
}

impl From<&ViolationView> for ViolationOut {
    fn from(v: &ViolationView) -> Self {
        let f = &v.facts;
        ViolationOut {
            id: f.id.clone(),
            occurred_at: f.occurred_at,
            place: v.place.clone(),
            description: v.description.clone(),
            province: f.province.to_string(),
            province_online: f.province_online,
            recorded_by: f.recorded_by.code(),
            penalty: f.penalty.code(),
            fine: f.fine,
            fine_text: f.fine.to_string(),
            points: f.points,
            authority: v.authority.clone(),
            authority_address: v.authority_address.clone(),
            decision: RuleDecisionOut::from(&v.decision),
        }
    }
}

#[derive(Serialize)]
pub struct HandlingOut {
    number: String,
    violation_id: String,
    channel: &'static str,
    decided_at: Timestamp,
    payment_deadline: Timestamp,
    state: &'static str,
    fine: Fen,
    points: u32,
    surcharge: Fen,
    surcharge_days: i64,
    fee: Fen,
    amount_due: Fen,
    amount_due_text: String,
}

impl From<&HandlingView> for HandlingOut {
    fn from(h: &HandlingView) -> Self {
        let due = h.due().total();
        HandlingOut {
            number: h.number.to_string(),
            violation_id: h.violation_id.clone(),
            channel: h.channel.code(),
            decided_at: h.decided_at,
            payment_deadline: h.payment_deadline,
            state: codes::handling_state(h.state),
            fine: h.charges.fine,
            points: h.points,
            surcharge: h.charges.surcharge,
            surcharge_days: h.surcharge_days,
            fee: h.charges.fee,
            amount_due: due,
            amount_due_text: due.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct ViolationListOut {
    vehicle: VehicleOut,
    violations: Vec<ViolationOut>,
    unpaid_decisions: Vec<HandlingOut>,
}

impl From<&ViolationList> for ViolationListOut {
    fn from(l: &ViolationList) -> Self {
        ViolationListOut {
            vehicle: VehicleOut::from(&l.vehicle),
            violations: l.violations.iter().map(ViolationOut::from).collect(),
            unpaid_decisions: l.unpaid_decisions.iter().map(HandlingOut::from).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct SmsSentOut {
    outbox_id: i64,
    phone_masked: String,
    expires_at: Timestamp,
    /// Demo only: the text the demo phone received (the demo gateway is the phone; the
    /// database keeps no code).
    #[serde(skip_serializing_if = "Option::is_none")]
    demo_phone: Option<String>,
}

impl From<&SmsSent> for SmsSentOut {
    fn from(s: &SmsSent) -> Self {
        SmsSentOut {
            outbox_id: s.outbox_id,
            phone_masked: s.phone_masked.clone(),
            expires_at: s.expires_at,
            demo_phone: None,
        }
    }
}

/// `check-filing-code`: the code is right and usable until `expires_at`.
#[derive(Serialize)]
pub struct FilingCodeCheckedOut {
    expires_at: Timestamp,
}

impl From<&FilingCodeChecked> for FilingCodeCheckedOut {
    fn from(c: &FilingCodeChecked) -> Self {
        FilingCodeCheckedOut {
            expires_at: c.expires_at,
        }
    }
}

impl SmsSentOut {
    /// With the text the demo phone received, when the platform's gateway is the demo's.
    pub fn with_demo_phone(mut self, outbox: &[crate::store::sms::OutboxEntry]) -> Self {
        self.demo_phone = outbox
            .iter()
            .find(|e| e.id == self.outbox_id)
            .and_then(|e| e.message.as_ref())
            .map(|m| m.text.clone());
        self
    }
}

#[derive(Serialize)]
pub struct FilingOut {
    id: i64,
    plate: String,
    plate_type: &'static str,
    method: &'static str,
    state: &'static str,
    requested_at: Timestamp,
    reviewed_at: Option<Timestamp>,
    withdrawn_at: Option<Timestamp>,
    driver_masked: String,
}

impl From<&FilingView> for FilingOut {
    fn from(f: &FilingView) -> Self {
        FilingOut {
            id: f.id.0,
            plate: f.vehicle.plate.to_string(),
            plate_type: f.vehicle.plate_type.code(),
            method: codes::filing_method(f.method),
            state: f.state.code(),
            requested_at: f.requested_at,
            reviewed_at: f.reviewed_at,
            withdrawn_at: f.withdrawn_at,
            driver_masked: f.driver_masked.clone(),
        }
    }
}

#[derive(Serialize)]
pub struct FilingListOut {
    mine: Vec<FilingOut>,
    on_my_vehicles: Vec<FilingOut>,
}

impl From<&FilingList> for FilingListOut {
    fn from(l: &FilingList) -> Self {
        FilingListOut {
            mine: l.mine.iter().map(FilingOut::from).collect(),
            on_my_vehicles: l.on_my_vehicles.iter().map(FilingOut::from).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct HandledItemOut {
    violation_id: String,
    already_handled: bool,
    decision: HandlingOut,
}

#[derive(Serialize)]
pub struct HandleOutcomeOut {
    items: Vec<HandledItemOut>,
    amount_due: Fen,
    amount_due_text: String,
}

impl From<&HandleOutcome> for HandleOutcomeOut {
    fn from(o: &HandleOutcome) -> Self {
        let due = o.amount_due.total();
        HandleOutcomeOut {
            items: o
                .items
                .iter()
                .map(|i| HandledItemOut {
                    violation_id: i.violation_id.clone(),
                    already_handled: i.already_handled,
                    decision: HandlingOut::from(&i.decision),
                })
                .collect(),
            amount_due: due,
            amount_due_text: due.to_string(),
        }
    }
}

#[derive(Serialize)]
pub struct PaymentOut {
    decision_number: String,
    idempotency_key: String,
    method: String,
    transaction_no: String,
    fine: Fen,
    surcharge: Fen,
    fee: Fen,
    total: Fen,
    fine_text: String,
    surcharge_text: String,
    fee_text: String,
    total_text: String,
    paid_at: Timestamp,
    replayed: bool,
}

impl From<&PaymentView> for PaymentOut {
    fn from(p: &PaymentView) -> Self {
        let a = p.amount;
        PaymentOut {
            decision_number: p.decision_number.to_string(),
            idempotency_key: p.idempotency_key.clone(),
            method: p.method.clone(),
            transaction_no: p.transaction_no.clone(),
            fine: a.fine,
            surcharge: a.surcharge,
            fee: a.fee,
            total: a.total(),
            fine_text: a.fine.to_string(),
            surcharge_text: a.surcharge.to_string(),
            fee_text: a.fee.to_string(),
            total_text: a.total().to_string(),
            paid_at: p.paid_at,
            replayed: p.replayed,
        }
    }
}

#[derive(Serialize)]
pub struct RevertedItemOut {
    decision_number: String,
    violation_id: String,
    released_points: u32,
}

#[derive(Serialize)]
pub struct RevertReportOut {
    reverted: Vec<RevertedItemOut>,
}

impl From<&RevertReport> for RevertReportOut {
    fn from(r: &RevertReport) -> Self {
        RevertReportOut {
            reverted: r
                .reverted
                .iter()
                .map(|i| RevertedItemOut {
                    decision_number: i.decision_number.to_string(),
                    violation_id: i.violation_id.clone(),
                    released_points: i.released_points,
                })
                .collect(),
        }
    }
}

/// A kept receipt. Its body keeps the key order it always had (sorted: it was stored as a JSON
/// document and printed back from it).
#[derive(Serialize)]
pub struct ReceiptOut {
    kind: &'static str,
    decision_number: String,
    created_at: Timestamp,
    body: serde_json::Value,
}

impl From<&ReceiptView> for ReceiptOut {
    fn from(r: &ReceiptView) -> Self {
        let body = match &r.body {
            ReceiptBody::Handling(h) => serde_json::to_value(HandlingOut::from(h)),
            ReceiptBody::Payment(p) => serde_json::to_value(PaymentOut::from(p)),
        }
        .expect("plain data serializes");
        ReceiptOut {
            kind: r.kind().code(),
            decision_number: r.decision_number.to_string(),
            created_at: r.created_at,
            body,
        }
    }
}

#[derive(Serialize)]
pub struct IssuedTokenOut {
    token: String,
    plate: String,
    plate_type: &'static str,
    expires_at: Timestamp,
}

impl From<&IssuedToken> for IssuedTokenOut {
    fn from(t: &IssuedToken) -> Self {
        IssuedTokenOut {
            token: t.token.clone(),
            plate: t.vehicle.plate.to_string(),
            plate_type: t.vehicle.plate_type.code(),
            expires_at: t.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IdNumber;
    use crate::store::demo::{self, DEMO_PERSONS, DemoOptions};
    use crate::store::platform::{Platform, SqlitePlatform, VehicleKey};
    use crate::store::schema;

    /// The store's test city (200 persons, seed 5), on 2022-10-24 in Chongqing.
    fn city() -> SqlitePlatform {
        let mut c = schema::open_in_memory().unwrap();
        demo::build_city(
            &mut c,
            &DemoOptions {
                persons: 200,
                seed: 5,
                anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
            },
        )
        .unwrap();
        SqlitePlatform::with_connection(c).unwrap()
    }

    fn id(name: &str) -> IdNumber {
        let p = DEMO_PERSONS.iter().find(|p| p.name == name).expect(name);
        IdNumber::parse(p.id_number).unwrap()
    }

    #[test]
    fn the_violation_list_of_a_driver_with_every_kind_of_refusal() {
        let p = city();
        let now: Timestamp = "2022-10-24T11:06:10+08:00".parse().unwrap();
        let car = VehicleKey::parse("渝A9H3J5", "02").unwrap();
        let list = p.violations(&id("周强"), &car, now).unwrap();
        insta::assert_json_snapshot!("violations_zhou_qiang", ViolationListOut::from(&list));
    }
}
