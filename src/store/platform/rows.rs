//! Row mapping: loading the store's rows and turning them into the rule core's facts and the
//! trait's views.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::*;
use crate::domain::{
    Fen, IdNumber, LicenceClass, LicenceStatus, Plate, PlateType, StatusSet, VehicleStatus,
    VehicleUse,
};
use crate::rules::filing::{FilingCounts, OwnerKind};
use crate::rules::payment::{AmountDue, HandlingState, PaymentWindow};
use crate::rules::{
    DriverFacts, Penalty, RecordedBy, Relation, RentalPeriod, VehicleFacts, ViolationFacts,
    maintenance, surcharge,
};
use crate::sql_params;
use crate::store::StoreError;
use crate::store::sql::{Row, Sql, SqlError, Value};

pub(super) fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
}

pub(super) struct PersonRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) phone: String,
    pub(super) registered_phone: Option<String>,
}

pub(super) struct VehicleRow {
    pub(super) id: i64,
    pub(super) plate: String,
    pub(super) plate_type: String,
    pub(super) use_code: String,
    pub(super) status: String,
    pub(super) owner_person_id: Option<i64>,
    pub(super) owner_unit_id: Option<i64>,
}

impl VehicleRow {
    pub(super) fn owner_kind(&self) -> OwnerKind {
        if self.owner_unit_id.is_some() {
            OwnerKind::Unit
        } else {
            OwnerKind::Person
        }
    }
}

pub(super) struct DecisionRow {
    pub(super) id: i64,
    pub(super) number: String,
    pub(super) violation_id: String,
    pub(super) person_id: i64,
    pub(super) channel: String,
    pub(super) decided_at: i64,
    pub(super) payment_deadline: i64,
    pub(super) state: String,
    pub(super) fine: i64,
    pub(super) points: u32,
    pub(super) confirmed: bool,
}

pub(super) const DECISION_COLS: &str = "id, number, violation_id, person_id, channel, decided_at, payment_deadline, state, fine_fen, points, confirmed_at IS NOT NULL";

pub(super) fn decision_from_row(r: &Row) -> Result<DecisionRow, SqlError> {
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

pub(super) fn handling_state(s: &str) -> Result<HandlingState, StoreError> {
    codes::parse_handling_state(s).ok_or_else(|| StoreError::Corrupt(format!("decision state {s}")))
}

fn corrupt(what: &str) -> impl FnOnce(crate::domain::codes::UnknownCode) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn parse_plate(s: &str) -> Result<Plate, StoreError> {
    Plate::parse(s).map_err(|e| StoreError::Corrupt(format!("plate: {e}")))
}

pub(super) fn parse_plate_type(s: &str) -> Result<PlateType, StoreError> {
    PlateType::parse(s).map_err(corrupt("plate type"))
}

fn parse_date(what: &str, s: &str) -> Result<Date, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("{what} “{s}”: {e}")))
}

/// A handling receipt as the `receipts` table keeps it (a JSON document; the `*_text` fields are
/// written for readers of the database and ignored when read back).
#[derive(Serialize, Deserialize)]
pub(super) struct HandlingRecord {
    number: String,
    violation_id: String,
    channel: String,
    decided_at: Timestamp,
    payment_deadline: Timestamp,
    state: String,
    fine: Fen,
    points: u32,
    surcharge: Fen,
    surcharge_days: i64,
    fee: Fen,
    amount_due: Fen,
    #[serde(default, skip_deserializing)]
    amount_due_text: String,
}

impl From<&HandlingView> for HandlingRecord {
    fn from(h: &HandlingView) -> Self {
        let due = h.due().total();
        HandlingRecord {
            number: h.number.to_string(),
            violation_id: h.violation_id.clone(),
            channel: h.channel.code().into(),
            decided_at: h.decided_at,
            payment_deadline: h.payment_deadline,
            state: codes::handling_state(h.state).into(),
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

impl HandlingRecord {
    pub(super) fn view(self) -> Result<HandlingView, StoreError> {
        Ok(HandlingView {
            number: DecisionNumber(self.number),
            violation_id: self.violation_id,
            channel: DecisionChannel::from_code(&self.channel)
                .ok_or_else(|| StoreError::Corrupt(format!("receipt channel {}", self.channel)))?,
            decided_at: self.decided_at,
            payment_deadline: self.payment_deadline,
            state: handling_state(&self.state)?,
            points: self.points,
            charges: AmountDue {
                fine: self.fine,
                surcharge: self.surcharge,
                fee: self.fee,
            },
            surcharge_days: self.surcharge_days,
        })
    }
}

/// A payment receipt as the `receipts` table keeps it.
#[derive(Serialize, Deserialize)]
pub(super) struct PaymentRecord {
    decision_number: String,
    idempotency_key: String,
    method: String,
    transaction_no: String,
    fine: Fen,
    surcharge: Fen,
    fee: Fen,
    total: Fen,
    #[serde(default, skip_deserializing)]
    fine_text: String,
    #[serde(default, skip_deserializing)]
    surcharge_text: String,
    #[serde(default, skip_deserializing)]
    fee_text: String,
    #[serde(default, skip_deserializing)]
    total_text: String,
    paid_at: Timestamp,
    replayed: bool,
}

impl From<&PaymentView> for PaymentRecord {
    fn from(p: &PaymentView) -> Self {
        let a = p.amount;
        PaymentRecord {
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

impl PaymentRecord {
    pub(super) fn view(self) -> Result<PaymentView, StoreError> {
        let amount = AmountDue {
            fine: self.fine,
            surcharge: self.surcharge,
            fee: self.fee,
        };
        if amount.total() != self.total {
            return Err(StoreError::Corrupt(format!(
                "payment receipt of {}: total {} is not fine + surcharge + fee",
                self.decision_number, self.total
            )));
        }
        Ok(PaymentView {
            decision_number: DecisionNumber(self.decision_number),
            idempotency_key: self.idempotency_key,
            method: self.method,
            transaction_no: self.transaction_no,
            amount,
            paid_at: self.paid_at,
            replayed: self.replayed,
        })
    }
}

impl DecisionRow {
    /// The payment window: 2 hours for a kiosk handling (六.2); a decision made elsewhere has no
    /// 2-hour revert, so its window is "open now" and only its state and 六.7 are checked.
    pub(super) fn window(&self, now: Timestamp) -> PaymentWindow {
        if self.channel == "kiosk" {
            PaymentWindow {
                handled_at: ts(self.decided_at),
                deadline: ts(self.payment_deadline),
            }
        } else {
            PaymentWindow::starting(now)
        }
    }

    pub(super) fn view(&self, now: Timestamp) -> Result<HandlingView, StoreError> {
        let state = handling_state(&self.state)?;
        let today = maintenance::local_time(now).date();
        let decided_on = maintenance::local_time(ts(self.decided_at)).date();
        let s = if state == HandlingState::HandledUnpaid {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, today)
        } else {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, decided_on)
        };
        Ok(HandlingView {
            number: DecisionNumber(self.number.clone()),
            violation_id: self.violation_id.clone(),
            channel: DecisionChannel::from_code(&self.channel)
                .ok_or_else(|| StoreError::Corrupt(format!("decision channel {}", self.channel)))?,
            decided_at: ts(self.decided_at),
            payment_deadline: ts(self.payment_deadline),
            state,
            points: self.points,
            charges: AmountDue::new(Fen(self.fine), s.amount),
            surcharge_days: s.days,
        })
    }
}

pub(super) struct ViolationExtra {
    pub(super) place: String,
    pub(super) description: String,
    pub(super) authority: String,
    pub(super) authority_address: String,
}

pub(super) fn parse_licence_status(s: &str) -> Result<StatusSet<LicenceStatus>, StoreError> {
    StatusSet::<LicenceStatus>::parse_codes([s])
        .map_err(|e| StoreError::Corrupt(format!("licence status: {e}")))
}

/// The counts `check_new_filing` needs (三.2): pending filings count as well as approved ones.
pub(super) fn filing_counts_in(
    tx: &dyn Sql,
    person_id: i64,
    v: &VehicleRow,
) -> Result<FilingCounts, StoreError> {
    Ok(FilingCounts {
        user_active_filings: tx.one(
            "SELECT count(*) FROM filings WHERE person_id = ?1 AND state IN ('pending_review', 'approved')",
            &sql_params![person_id],
        )?,
        vehicle_active_drivers: tx.one(
            "SELECT count(*) FROM filings WHERE vehicle_id = ?1 AND state IN ('pending_review', 'approved')",
            &sql_params![v.id],
        )?,
        already_filed_by_user: tx.one::<i64>(
            "SELECT count(*) FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state IN ('pending_review', 'approved')",
            &sql_params![person_id, v.id],
        )? > 0,
        user_is_owner: v.owner_person_id == Some(person_id),
    })
}

pub(super) fn person_row(tx: &dyn Sql, id: &IdNumber) -> Result<PersonRow, StoreError> {
    let r = tx
        .query_opt(
            "SELECT id, name, phone, registered_phone FROM persons WHERE id_number = ?1",
            &sql_params![id.expose()],
        )?
        .ok_or(StoreError::PersonNotFound)?;
    Ok(PersonRow {
        id: r.get(0)?,
        name: r.get(1)?,
        phone: r.get(2)?,
        registered_phone: r.get(3)?,
    })
}

pub(super) fn vehicle_row(tx: &dyn Sql, key: &VehicleKey) -> Result<VehicleRow, StoreError> {
    vehicle_where(
        tx,
        "plate = ?1 AND plate_type = ?2",
        &sql_params![key.plate.as_str(), key.plate_type.code()],
    )
}

pub(super) fn vehicle_by_id(tx: &dyn Sql, id: i64) -> Result<VehicleRow, StoreError> {
    vehicle_where(tx, "id = ?1", &sql_params![id])
}

pub(super) fn vehicle_where(
    tx: &dyn Sql,
    cond: &str,
    p: &[Value],
) -> Result<VehicleRow, StoreError> {
    let r = tx
        .query_opt(
            &format!("SELECT id, plate, plate_type, use_code, status, owner_person_id, owner_unit_id FROM vehicles WHERE {cond}"),
            p,
        )?
        .ok_or(StoreError::VehicleNotFound)?;
    Ok(VehicleRow {
        id: r.get(0)?,
        plate: r.get(1)?,
        plate_type: r.get(2)?,
        use_code: r.get(3)?,
        status: r.get(4)?,
        owner_person_id: r.get(5)?,
        owner_unit_id: r.get(6)?,
    })
}

/// Where a filing code goes: the owner's phone, or a unit's manager phone (三.2, 三.3).
pub(super) fn owner_phone(tx: &dyn Sql, v: &VehicleRow) -> Result<String, StoreError> {
    Ok(match (v.owner_person_id, v.owner_unit_id) {
        (Some(owner), _) => tx.one(
            "SELECT phone FROM persons WHERE id = ?1",
            &sql_params![owner],
        )?,
        (None, Some(unit)) => tx.one(
            "SELECT manager_phone FROM units WHERE id = ?1",
            &sql_params![unit],
        )?,
        (None, None) => return Err(StoreError::Corrupt("vehicle without owner".into())),
    })
}

pub(super) fn licence(tx: &dyn Sql, person_id: i64) -> Result<Option<LicenceView>, StoreError> {
    let Some(r) = tx.query_opt(
        "SELECT licence_class, first_issued, cycle_start, cycle_points, pending_points, status, full_12_count FROM licences WHERE person_id = ?1",
        &sql_params![person_id],
    )?
    else {
        return Ok(None);
    };
    let class: String = r.get(0)?;
    let first_issued: String = r.get(1)?;
    let cycle_start: String = r.get(2)?;
    let status: String = r.get(5)?;
    Ok(Some(LicenceView {
        class: LicenceClass::parse(&class).map_err(corrupt("licence class"))?,
        first_issued: parse_date("first issued", &first_issued)?,
        cycle_start: parse_date("cycle start", &cycle_start)?,
        cycle_points: r.get(3)?,
        pending_points: r.get(4)?,
        status: parse_licence_status(&status)?,
        full_12_count: r.get(6)?,
    }))
}

pub(super) fn driver_facts(tx: &dyn Sql, person_id: i64) -> Result<DriverFacts, StoreError> {
    Ok(match licence(tx, person_id)? {
        None => DriverFacts::without_licence(),
        Some(l) => DriverFacts {
            has_license: true,
            license_status: l.status,
            cycle_points: l.cycle_points,
            pending_points: l.pending_points,
            full_12_count_in_cycle: l.full_12_count,
        },
    })
}

/// The person's relation to a vehicle, strongest first: own, filed, unit-filed, renter,
/// temporary driver (the latest contract).
pub(super) fn relation(
    tx: &dyn Sql,
    person_id: i64,
    v: &VehicleRow,
) -> Result<Relation, StoreError> {
    if v.owner_person_id == Some(person_id) {
        return Ok(Relation::Own);
    }
    let filed: Option<i64> = tx
        .opt::<Option<i64>>(
            "SELECT reviewed_at FROM filings WHERE person_id = ?1 AND vehicle_id = ?2 AND state = 'approved'",
            &sql_params![person_id, v.id],
        )?
        .flatten();
    if let Some(at) = filed {
        let filed_at = ts(at);
        return Ok(if v.owner_unit_id.is_some() {
            Relation::UnitFiled { filed_at }
        } else {
            Relation::Filed { filed_at }
        });
    }
    let rental = tx.query_opt(
        "SELECT role, start_at, end_at, filed_at FROM rentals WHERE person_id = ?1 AND vehicle_id = ?2 ORDER BY role = 'renter' DESC, start_at DESC LIMIT 1",
        &sql_params![person_id, v.id],
    )?;
    Ok(match rental {
        Some(r) => {
            let role: String = r.get(0)?;
            let rental = RentalPeriod {
                start: ts(r.get(1)?),
                end: ts(r.get(2)?),
            };
            if role == "renter" {
                Relation::RentalRenter { rental }
            } else {
                Relation::RentalTempDriver {
                    filed_at: ts(r.get(3)?),
                    rental,
                }
            }
        }
        None => Relation::None,
    })
}

pub(super) fn vehicle_facts(
    v: &VehicleRow,
    relation: Relation,
) -> Result<VehicleFacts, StoreError> {
    Ok(VehicleFacts {
        plate: parse_plate(&v.plate)?,
        plate_type: parse_plate_type(&v.plate_type)?,
        use_: VehicleUse::parse(&v.use_code).map_err(corrupt("vehicle use"))?,
        status: StatusSet::<VehicleStatus>::parse_codes([v.status.as_str()])
            .map_err(corrupt("vehicle status"))?,
        relation,
    })
}

pub(super) fn vehicle_view(
    tx: &dyn Sql,
    v: &VehicleRow,
    relation: &Relation,
) -> Result<VehicleView, StoreError> {
    let pending: u32 = tx.one(
        "SELECT count(*) FROM violations WHERE vehicle_id = ?1 AND state = 'pending'",
        &sql_params![v.id],
    )?;
    let facts = vehicle_facts(v, relation.clone())?;
    Ok(VehicleView {
        plate: facts.plate,
        plate_type: facts.plate_type,
        use_: facts.use_,
        status: facts.status,
        relation: facts.relation,
        owner_kind: v.owner_kind(),
        pending_violations: pending,
    })
}

pub(super) fn pending_violation_facts(
    tx: &dyn Sql,
    vehicle_id: i64,
    only: Option<&[String]>,
) -> Result<Vec<(ViolationFacts, ViolationExtra)>, StoreError> {
    let rows = tx.query(
        "SELECT id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address
         FROM violations WHERE vehicle_id = ?1 AND state = 'pending' ORDER BY occurred_at, id",
        &sql_params![vehicle_id],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.get(0)?;
        if let Some(only) = only
            && !only.contains(&id)
        {
            continue;
        }
        let rec: String = r.get(6)?;
        let pen: String = r.get(7)?;
        let province: String = r.get(4)?;
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
                occurred_at: ts(r.get(1)?),
                recorded_by,
                penalty,
                fine: Fen(r.get(8)?),
                points: r.get(9)?,
                province: prov,
                province_online: r.get(5)?,
            },
            ViolationExtra {
                place: r.get(2)?,
                description: r.get(3)?,
                authority: r.get(10)?,
                authority_address: r.get(11)?,
            },
        ));
    }
    Ok(out)
}

pub(super) fn decision_by_number(tx: &dyn Sql, number: &str) -> Result<DecisionRow, StoreError> {
    tx.query_opt(
        &format!("SELECT {DECISION_COLS} FROM decisions WHERE number = ?1"),
        &sql_params![number],
    )?
    .map(|r| decision_from_row(&r))
    .transpose()?
    .ok_or_else(|| StoreError::DecisionNotFound(number.to_string()))
}

pub(super) fn live_decision_of(
    tx: &dyn Sql,
    violation: &str,
) -> Result<Option<DecisionRow>, StoreError> {
    Ok(tx
        .query_opt(
            &format!("SELECT {DECISION_COLS} FROM decisions WHERE violation_id = ?1 AND state <> 'reverted'"),
            &sql_params![violation],
        )?
        .map(|r| decision_from_row(&r))
        .transpose()?)
}

pub(super) fn filing_view(tx: &dyn Sql, id: i64) -> Result<FilingView, StoreError> {
    let r = tx
        .query_opt(
            "SELECT f.id, v.plate, v.plate_type, f.method, f.state, f.requested_at, f.reviewed_at, f.withdrawn_at, p.name
             FROM filings f JOIN vehicles v ON v.id = f.vehicle_id JOIN persons p ON p.id = f.person_id WHERE f.id = ?1",
            &sql_params![id],
        )?
        .ok_or(StoreError::FilingNotFound)?;
    let (plate, plate_type, method, state, name): (String, String, String, String, String) =
        (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(8)?);
    Ok(FilingView {
        id: FilingId(r.get(0)?),
        vehicle: VehicleKey::new(parse_plate(&plate)?, parse_plate_type(&plate_type)?),
        method: codes::parse_filing_method(&method)
            .ok_or_else(|| StoreError::Corrupt(format!("filing method {method}")))?,
        state: FilingState::from_code(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("filing state {state}")))?,
        requested_at: ts(r.get(5)?),
        reviewed_at: r.get::<Option<i64>>(6)?.map(ts),
        withdrawn_at: r.get::<Option<i64>>(7)?.map(ts),
        driver_masked: crate::privacy::mask_text(&name),
    })
}
