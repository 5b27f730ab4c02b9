//! Row mapping: loading the store's rows and turning them into the rule core's facts and the
//! trait's views.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::*;
use crate::domain::{
    Fen, IdNumber, LicenceStatus, PlateType, StatusSet, VehicleStatus, VehicleUse,
};
use crate::rules::filing::FilingCounts;
use crate::rules::payment::{HandlingState, PaymentWindow};
use crate::rules::{
    self, DriverFacts, Penalty, RecordedBy, Relation, RentalPeriod, VehicleFacts, ViolationFacts,
    maintenance, surcharge,
};
use crate::store::StoreError;

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

pub(super) fn decision_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionRow> {
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

    pub(super) fn view(&self, now: Timestamp) -> HandlingView {
        let today = maintenance::local_time(now).date();
        let decided_on = maintenance::local_time(ts(self.decided_at)).date();
        let s = if self.state == "handled_unpaid" {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, today)
        } else {
            surcharge::late_payment_surcharge(Fen(self.fine), decided_on, decided_on)
        };
        let due = if self.state == "handled_unpaid" {
            rules::payment::AmountDue::new(Fen(self.fine), s.amount).total()
        } else {
            Fen::ZERO
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

pub(super) struct ViolationExtra {
    pub(super) place: String,
    pub(super) description: String,
    pub(super) recorded_by: String,
    pub(super) penalty: String,
    pub(super) authority: String,
    pub(super) authority_address: String,
}

pub(super) fn parse_licence_status(s: &str) -> Result<StatusSet<LicenceStatus>, StoreError> {
    StatusSet::<LicenceStatus>::parse_codes([s])
        .map_err(|e| StoreError::Corrupt(format!("licence status: {e}")))
}

impl SqlitePlatform {
    /// The counts `check_new_filing` needs (三.2): pending filings count as well as approved ones.
    pub(super) fn filing_counts_in(
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

    pub(super) fn person_row(tx: &Connection, id: &IdNumber) -> Result<PersonRow, StoreError> {
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

    pub(super) fn vehicle_row(tx: &Connection, key: &VehicleKey) -> Result<VehicleRow, StoreError> {
        Self::vehicle_where(
            tx,
            "plate = ?1 AND plate_type = ?2",
            params![key.plate, key.plate_type],
        )
    }

    pub(super) fn vehicle_by_id(tx: &Connection, id: i64) -> Result<VehicleRow, StoreError> {
        Self::vehicle_where(tx, "id = ?1", params![id])
    }

    pub(super) fn vehicle_where(
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
    pub(super) fn owner_phone(tx: &Connection, v: &VehicleRow) -> Result<String, StoreError> {
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

    pub(super) fn licence(
        tx: &Connection,
        person_id: i64,
    ) -> Result<Option<LicenceView>, StoreError> {
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

    pub(super) fn driver_facts(tx: &Connection, person_id: i64) -> Result<DriverFacts, StoreError> {
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
    pub(super) fn relation(
        tx: &Connection,
        person_id: i64,
        v: &VehicleRow,
    ) -> Result<Relation, StoreError> {
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

    pub(super) fn vehicle_facts(
        v: &VehicleRow,
        relation: Relation,
    ) -> Result<VehicleFacts, StoreError> {
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

    pub(super) fn vehicle_view(
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

    pub(super) fn pending_violation_facts(
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

    pub(super) fn decision_by_number(
        tx: &Connection,
        number: &str,
    ) -> Result<DecisionRow, StoreError> {
        tx.query_row(
            &format!("SELECT {DECISION_COLS} FROM decisions WHERE number = ?1"),
            [number],
            decision_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::DecisionNotFound(number.to_string()))
    }

    pub(super) fn live_decision_of(
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

    pub(super) fn filing_view(tx: &Connection, id: i64) -> Result<FilingView, StoreError> {
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
}
