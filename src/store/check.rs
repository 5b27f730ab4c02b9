//! `kiosk db check`: the audit hash chain with its anchors (under the audit key, `store::audit`),
//! that every decision and every payment has its audit entry, and the invariants of the record.
//! Each breach is named with the rows involved (by internal id or number, never by personal data).

use std::collections::HashSet;

use serde::Serialize;

use super::audit;
use super::sql::{Dialect, Sql, SqlError};

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// A stable name of the invariant.
    pub invariant: &'static str,
    pub detail: String,
}

/// What the check found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub audit_entries: u64,
    pub breaches: Vec<Breach>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.breaches.is_empty()
    }
}

/// Each invariant: a name and a query listing the offending rows as text (empty when it holds).
const INVARIANTS: &[(&str, &str)] = &[
    (
        "violation_handled_twice",
        "SELECT 'violation ' || violation_id || ' has ' || count(*) || ' live decisions'
         FROM decisions WHERE state <> 'reverted' GROUP BY violation_id HAVING count(*) > 1",
    ),
    (
        "violation_state_disagrees_with_decision",
        "SELECT 'violation ' || v.id || ' is ' || v.state || ' but its decision is ' || coalesce(d.state, 'none')
         FROM violations v LEFT JOIN decisions d ON d.violation_id = v.id AND d.state <> 'reverted'
         WHERE NOT ((v.state = 'pending' AND d.id IS NULL AND v.decision_id IS NULL)
                 OR (v.state = 'handled' AND coalesce(d.state, '') = 'handled_unpaid' AND coalesce(v.decision_id, -1) = coalesce(d.id, -2))
                 OR (v.state = 'paid' AND coalesce(d.state, '') = 'paid' AND coalesce(v.decision_id, -1) = coalesce(d.id, -2)))",
    ),
    (
        "decision_paid_twice",
        "SELECT 'decision ' || d.number || ' has ' || count(p.id) || ' payments'
         FROM decisions d JOIN payments p ON p.decision_id = d.id GROUP BY d.id HAVING count(p.id) > 1",
    ),
    (
        "payment_without_paid_decision",
        "SELECT 'payment ' || p.id || ' is on decision ' || coalesce(d.number, CAST(p.decision_id AS TEXT)) || ' in state ' || coalesce(d.state, 'missing')
         FROM payments p LEFT JOIN decisions d ON d.id = p.decision_id WHERE d.id IS NULL OR d.state <> 'paid'",
    ),
    (
        "paid_decision_without_payment",
        "SELECT 'decision ' || d.number || ' is paid without a payment'
         FROM decisions d LEFT JOIN payments p ON p.decision_id = d.id WHERE d.state = 'paid' AND p.id IS NULL",
    ),
    (
        "payment_amount_wrong",
        "SELECT 'payment ' || p.id || ': ' || p.total_fen || ' <> ' || p.fine_fen || ' + ' || p.surcharge_fen || ' + ' || p.fee_fen || ' or fine differs from the decision'
         FROM payments p JOIN decisions d ON d.id = p.decision_id
         WHERE p.total_fen <> p.fine_fen + p.surcharge_fen + p.fee_fen OR p.fee_fen <> 0 OR p.fine_fen <> d.fine_fen",
    ),
    (
        "filing_user_limit_exceeded",
        "SELECT 'person ' || person_id || ' has ' || count(*) || ' active filings'
         FROM filings WHERE state IN ('pending_review', 'approved') GROUP BY person_id HAVING count(*) > 3",
    ),
    (
        "filing_vehicle_limit_exceeded",
        "SELECT 'vehicle ' || vehicle_id || ' has ' || count(*) || ' filed drivers'
         FROM filings WHERE state IN ('pending_review', 'approved') GROUP BY vehicle_id HAVING count(*) > 3",
    ),
    (
        "own_vehicle_filed",
        "SELECT 'filing ' || f.id || ' is on the person''s own vehicle'
         FROM filings f JOIN vehicles v ON v.id = f.vehicle_id WHERE v.owner_person_id = f.person_id",
    ),
    (
        "pending_points_disagree",
        "SELECT 'person ' || l.person_id || ': pending_points ' || l.pending_points || ' but open decisions hold ' || coalesce(s.points, 0)
         FROM licences l LEFT JOIN (
             SELECT person_id, CAST(sum(points) AS BIGINT) AS points FROM decisions
             WHERE state IN ('handled_unpaid', 'paid') AND confirmed_at IS NULL GROUP BY person_id
         ) s ON s.person_id = l.person_id
         WHERE l.pending_points <> coalesce(s.points, 0)",
    ),
    (
        "pending_points_without_licence",
        "SELECT 'person ' || d.person_id || ' has unconfirmed points without a licence'
         FROM decisions d LEFT JOIN licences l ON l.person_id = d.person_id
         WHERE d.state IN ('handled_unpaid', 'paid') AND d.confirmed_at IS NULL AND d.points > 0 AND l.person_id IS NULL
         GROUP BY d.person_id",
    ),
];

/// At most this many rows are reported per invariant.
const MAX_ROWS: usize = 20;

/// What the audit entries say was done: decisions handled, payments made, history imported.
#[derive(Default)]
struct Audited {
    decisions: HashSet<String>,
    payments: HashSet<i64>,
    imported_decisions: Vec<[i64; 2]>,
    imported_payments: Vec<[i64; 2]>,
}

impl Audited {
    fn note(&mut self, action: &str, subject: &str, detail: &str) {
        match action {
            "handle" => {
                if let Some(n) = subject.strip_prefix("decision:") {
                    self.decisions.insert(n.to_string());
                }
            }
            "pay" => {
                let d: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
                if let Some(id) = d.get("payment").and_then(|v| v.as_i64()) {
                    self.payments.insert(id);
                }
            }
            "demo_city_built" => {
                let d: serde_json::Value = serde_json::from_str(detail).unwrap_or_default();
                let ranges = |k: &str| -> Vec<[i64; 2]> {
                    serde_json::from_value(d["imported"][k].clone()).unwrap_or_default()
                };
                self.imported_decisions.extend(ranges("decisions"));
                self.imported_payments.extend(ranges("payments"));
            }
            _ => {}
        }
    }

    fn imported(ranges: &[[i64; 2]], id: i64) -> bool {
        ranges.iter().any(|r| (r[0]..=r[1]).contains(&id))
    }
}

/// Rows read per query by the coverage check.
const COVER_PAGE: i64 = 5000;

/// Every decision and payment whose audit entry is missing.
fn coverage(conn: &dyn Sql, audited: &Audited, breaches: &mut Vec<Breach>) -> Result<(), SqlError> {
    let mut found = [0usize; 4];
    let mut push = |which: usize, invariant: &'static str, detail: String| {
        found[which] += 1;
        if found[which] <= MAX_ROWS {
            breaches.push(Breach { invariant, detail });
        } else if found[which] == MAX_ROWS + 1 {
            breaches.push(Breach {
                invariant,
                detail: "… more rows".into(),
            });
        }
    };
    // What the audit records must still be there: a decision or payment deleted with SQL is
    // named by its entry.
    let mut seen_decisions: HashSet<String> = HashSet::new();
    let mut seen_payments: HashSet<i64> = HashSet::new();
    let mut after = i64::MIN;
    loop {
        let page = conn.query(
            "SELECT id, number FROM decisions WHERE id > ?1 ORDER BY id LIMIT ?2",
            &crate::sql_params![after, COVER_PAGE],
        )?;
        let Some(last) = page.last() else { break };
        after = last.get(0)?;
        for r in &page {
            let (id, number): (i64, String) = (r.get(0)?, r.get(1)?);
            if audited.decisions.contains(&number) {
                seen_decisions.insert(number.clone());
            }
            if !audited.decisions.contains(&number)
                && !Audited::imported(&audited.imported_decisions, id)
            {
                push(
                    0,
                    "decision_not_audited",
                    format!(
                        "decision {number} (id {id}) has no audit entry: not made by the platform"
                    ),
                );
            }
        }
    }
    let mut after = i64::MIN;
    loop {
        let page = conn.query(
            "SELECT p.id, coalesce(d.number, '?') FROM payments p LEFT JOIN decisions d ON d.id = p.decision_id
             WHERE p.id > ?1 ORDER BY p.id LIMIT ?2",
            &crate::sql_params![after, COVER_PAGE],
        )?;
        let Some(last) = page.last() else { break };
        after = last.get(0)?;
        for r in &page {
            let (id, number): (i64, String) = (r.get(0)?, r.get(1)?);
            if audited.payments.contains(&id) {
                seen_payments.insert(id);
            }
            if !audited.payments.contains(&id) && !Audited::imported(&audited.imported_payments, id)
            {
                push(
                    1,
                    "payment_not_audited",
                    format!(
                        "payment {id} on decision {number} has no audit entry: not made by the platform (inserted with SQL?)"
                    ),
                );
            }
        }
    }
    let mut gone: Vec<&String> = audited.decisions.difference(&seen_decisions).collect();
    gone.sort();
    for number in gone {
        push(
            2,
            "audited_decision_missing",
            format!("the audit records decision {number}, which is not in the database (deleted?)"),
        );
    }
    let mut gone: Vec<i64> = audited
        .payments
        .difference(&seen_payments)
        .copied()
        .collect();
    gone.sort();
    for id in gone {
        push(
            3,
            "audited_payment_missing",
            format!("the audit records payment {id}, which is not in the database (deleted?)"),
        );
    }
    Ok(())
}

/// [`run_with`] under the demo key (a demo database; any other fails at its first anchor).
pub fn run(conn: &dyn Sql) -> Result<CheckReport, SqlError> {
    run_with(conn, &audit::AuditKey::demo())
}

/// Run every check, the audit anchors under `key` (on SQLite also the foreign keys, which it
/// enforces only per connection, and `quick_check`; PostgreSQL enforces its foreign keys always).
pub fn run_with(conn: &dyn Sql, key: &audit::AuditKey) -> Result<CheckReport, SqlError> {
    let mut breaches = Vec::new();
    let mut audited = Audited::default();
    let walked = audit::verify_with(conn, key, &mut |a, s, d| audited.note(a, s, d))?;
    let audit_entries = match walked {
        Ok(n) => {
            coverage(conn, &audited, &mut breaches)?;
            n
        }
        Err(b) => {
            // The entries after a breach cannot be trusted: the coverage is not judged on them.
            breaches.push(Breach {
                invariant: "audit_chain_broken",
                detail: format!("entry {}: {}", b.seq, b.what),
            });
            0
        }
    };
    for (name, sql) in INVARIANTS {
        let rows: Vec<String> = conn.column(&format!("{sql} LIMIT {}", MAX_ROWS + 1), &[])?;
        for (i, row) in rows.into_iter().enumerate() {
            if i >= MAX_ROWS {
                breaches.push(Breach {
                    invariant: name,
                    detail: "… more rows".into(),
                });
                break;
            }
            breaches.push(Breach {
                invariant: name,
                detail: row,
            });
        }
    }
    if conn.dialect() == Dialect::Sqlite {
        let fk = conn.query("PRAGMA foreign_key_check", &[])?;
        for r in fk.iter().take(MAX_ROWS) {
            breaches.push(Breach {
                invariant: "foreign_key_broken",
                detail: format!(
                    "{} row {:?} -> {}",
                    r.get::<String>(0)?,
                    r.get::<Option<i64>>(1)?,
                    r.get::<String>(2)?
                ),
            });
        }
        let integrity: String = conn.one("PRAGMA quick_check", &[])?;
        if integrity != "ok" {
            breaches.push(Breach {
                invariant: "sqlite_integrity",
                detail: integrity,
            });
        }
    }
    Ok(CheckReport {
        audit_entries,
        breaches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::demo::{self, DemoOptions};
    use crate::store::schema;
    use rusqlite::Connection;

    fn city() -> Connection {
        let mut c = schema::open_in_memory().unwrap();
        demo::build_city(
            &mut c,
            &DemoOptions {
                persons: 300,
                seed: 3,
                anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
            },
        )
        .unwrap();
        c
    }

    #[test]
    fn a_fresh_demo_city_passes_every_check() {
        let c = city();
        let r = run(&c).unwrap();
        assert!(r.ok(), "{:#?}", r.breaches);
        assert_eq!(r.audit_entries, 1);
    }

    #[test]
    fn each_breach_is_named() {
        // Each corruption (done behind the platform's back) and the invariant it must trip.
        let table: &[(&str, &str)] = &[
            (
                "UPDATE licences SET pending_points = pending_points + 2 WHERE person_id = 1",
                "pending_points_disagree",
            ),
            (
                "UPDATE violations SET state = 'paid' WHERE id = (SELECT min(id) FROM violations WHERE state = 'pending')",
                "violation_state_disagrees_with_decision",
            ),
            (
                "INSERT INTO filings (person_id, vehicle_id, method, state, requested_at) SELECT 7, v.id, 'owner_qr', 'approved', 0 FROM vehicles v WHERE v.owner_person_id <> 7 AND v.id NOT IN (SELECT vehicle_id FROM filings WHERE person_id = 7) LIMIT 1",
                "filing_user_limit_exceeded",
            ),
            (
                "UPDATE payments SET total_fen = total_fen + 1 WHERE id = (SELECT min(id) FROM payments)",
                "payment_amount_wrong",
            ),
            (
                "UPDATE decisions SET state = 'handled_unpaid' WHERE id = (SELECT decision_id FROM payments ORDER BY id LIMIT 1)",
                "payment_without_paid_decision",
            ),
            (
                "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET detail = '{}'",
                "audit_chain_broken",
            ),
            (
                "INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
                 SELECT id, 'forged', 'cash', 'T', fine_fen, 0, 0, fine_fen, 0 FROM decisions WHERE state = 'handled_unpaid' LIMIT 1",
                "payment_not_audited",
            ),
            (
                "INSERT INTO decisions (id, number, violation_id, person_id, channel, decided_at, payment_deadline, state, fine_fen, points)
                 SELECT 990000, 'FORGED', violation_id, person_id, 'elsewhere', decided_at, payment_deadline, 'reverted', fine_fen, 0 FROM decisions LIMIT 1",
                "decision_not_audited",
            ),
            (
                "INSERT INTO audit_log (seq, at, action, subject, detail, prev_hash, hash) SELECT 2, 0, 'x', 'y', '{}', hash, 'h' FROM audit_log WHERE seq = 1",
                "audit_chain_broken",
            ),
        ];
        for (sql, want) in table {
            let c = city();
            c.execute_batch(sql).unwrap();
            let r = run(&c).unwrap();
            assert!(
                r.breaches.iter().any(|b| b.invariant == *want),
                "{sql}: wanted {want}, got {:#?}",
                r.breaches
            );
        }
    }

    /// A payment made by the platform, then deleted with SQL: its audit entry names it.
    #[test]
    fn a_deleted_payment_is_named_by_its_audit_entry() {
        use crate::store::platform::{HandleRequest, PayRequest, Platform, SqlitePlatform};
        let p = SqlitePlatform::with_connection(city()).unwrap();
        let now: jiff::Timestamp = "2022-10-24T11:06:10+08:00".parse().unwrap();
        let who = crate::domain::IdNumber::parse(
            demo::DEMO_PERSONS
                .iter()
                .find(|x| x.name == "李小红")
                .unwrap()
                .id_number,
        )
        .unwrap();
        let car = crate::store::platform::VehicleKey::parse("渝A8K2L6", "02").unwrap();
        let list = p.violations(&who, &car, now).unwrap();
        let handled = p
            .handle(
                &HandleRequest {
                    id_number: who.clone(),
                    vehicle: car,
                    violation_ids: vec![list.violations[0].facts.id.clone()],
                    kiosk_id: "K".into(),
                },
                now,
            )
            .unwrap();
        let paid = p
            .pay(
                &PayRequest {
                    decision_number: handled.items[0].decision.number.clone(),
                    idempotency_key: "k".into(),
                    method: "demo".into(),
                },
                now,
            )
            .unwrap();
        assert!(p.check().unwrap().ok());
        p.write_sql(|tx| {
            tx.exec("DELETE FROM receipts WHERE payment_id IS NOT NULL", &[])?;
            tx.exec("DELETE FROM payments", &[])?;
            Ok(())
        })
        .unwrap();
        let r = p.check().unwrap();
        assert!(
            r.breaches
                .iter()
                .any(|b| b.invariant == "audited_payment_missing"),
            "{:#?} ({paid:?})",
            r.breaches
        );
    }
}
