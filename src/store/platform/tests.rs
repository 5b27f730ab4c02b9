use std::path::Path;
use std::sync::{Arc, Barrier};

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::domain::{Fen, Plate, PlateType};
use crate::rules::filing::FilingMethod;
use crate::store::demo::{self, DEMO_PERSONS, DemoOptions};
use crate::store::{check, sms, token};

/// 2022-10-24 11:06 in Chongqing: inside opening hours, relief not in force.
fn now() -> Timestamp {
    "2022-10-24T11:06:10+08:00".parse().unwrap()
}

fn anchor() -> Timestamp {
    "2022-10-24T09:00:00+08:00".parse().unwrap()
}

fn id(name: &str) -> IdNumber {
    let p = DEMO_PERSONS.iter().find(|p| p.name == name).expect(name);
    IdNumber::parse(p.id_number).unwrap()
}

fn car(plate: &str) -> VehicleKey {
    VehicleKey {
        plate: Plate::parse(plate).unwrap(),
        plate_type: PlateType::parse("02").unwrap(),
    }
}

fn city() -> SqlitePlatform {
    let mut c = schema::open_in_memory().unwrap();
    demo::build_city(
        &mut c,
        &DemoOptions {
            persons: 200,
            seed: 5,
            anchor: anchor(),
        },
    )
    .unwrap();
    SqlitePlatform::with_connection(c).unwrap()
}

fn city_file(path: &Path) {
    let mut c = schema::open(path).unwrap();
    demo::build_city(
        &mut c,
        &DemoOptions {
            persons: 200,
            seed: 5,
            anchor: anchor(),
        },
    )
    .unwrap();
}

fn assert_checks(p: &SqlitePlatform) {
    let r = p.with_connection_ref(|c| Ok(check::run(c)?)).unwrap();
    assert!(r.ok(), "{:#?}", r.breaches);
}

fn count(p: &SqlitePlatform, sql: &str) -> i64 {
    p.with_connection_ref(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

fn reasons(v: &ViolationView) -> Vec<&str> {
    v.decision.reasons.iter().map(|r| r.code()).collect()
}

#[test]
fn the_platform_is_object_safe_and_send() {
    let p: Box<dyn Platform> = Box::new(city());
    let shared: Arc<dyn Platform> = Arc::from(p);
    let t = std::thread::spawn(move || {
        shared
            .person(&id("李小红"), now())
            .unwrap()
            .name
            .expose()
            .clone()
    });
    assert_eq!(t.join().unwrap(), "李小红");
}

#[test]
fn an_unknown_person_or_vehicle_is_named_as_such() {
    let p = city();
    let nobody = IdNumber::parse("500101199001010014").unwrap_or_else(|_| {
        IdNumber::synthesize("500101", jiff::civil::date(1901, 1, 1), 999).unwrap()
    });
    let e = p.person(&nobody, now()).unwrap_err();
    assert_eq!(e.code(), "person_not_found");
    assert!(e.to_string().contains("No person"));
    let e = p
        .violations(&id("李小红"), &car("渝Z99999"), now())
        .unwrap_err();
    assert_eq!(e.kind(), crate::store::ErrorKind::NotFound);
}

#[test]
fn vehicles_carry_every_relation() {
    let p = city();
    let table: &[(&str, &[(&str, &str)])] = &[
        ("李小红", &[("渝A8K2L6", "own")]),
        (
            "赵敏",
            &[
                ("渝A3M7P9", "filed"),
                ("渝A6R2T8", "filed"),
                ("渝A8K2L6", "filed"),
            ],
        ),
        ("陈静", &[("渝A7U5W3", "unit_filed")]),
        (
            "杨磊",
            &[("渝A3M7P9", "filed"), ("渝A2Z8X4", "rental_renter")],
        ),
        (
            "孙婷",
            &[("渝A3M7P9", "filed"), ("渝A2Z8X4", "rental_temp_driver")],
        ),
        ("吴丽", &[("渝A1B2C3", "own")]),
    ];
    for (name, want) in table {
        let got: Vec<(String, String)> = p
            .vehicles(&id(name), now())
            .unwrap()
            .into_iter()
            .map(|v| (v.plate.to_string(), v.relation.code().to_string()))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{name}");
    }
    let person = p.person(&id("王建国"), now()).unwrap();
    assert_eq!(person.licence.unwrap().cycle_points, 10);
    assert_eq!(person.id_number_masked, "5001**********0017");
}

#[test]
fn violations_come_with_the_rule_cores_decision() {
    let p = city();
    let list = |name: &str, plate: &str| p.violations(&id(name), &car(plate), now()).unwrap();
    let l = list("李小红", "渝A8K2L6");
    assert_eq!(l.violations.len(), 2);
    assert!(l.violations.iter().all(|v| v.decision.eligible()), "{l:#?}");
    let l = list("王建国", "渝A3M7P9");
    let by_points: Vec<(u32, Vec<&str>)> = l
        .violations
        .iter()
        .map(|v| (v.facts.points, reasons(v)))
        .collect();
    assert!(
        by_points.contains(&(3, vec!["points_would_reach_12"])),
        "{by_points:?}"
    );
    assert!(by_points.contains(&(1, vec![])), "{by_points:?}");
    let l = list("张伟", "渝A5N4Q1");
    assert_eq!(reasons(&l.violations[0]), vec!["license_status_blocked"]);
    let l = list("周强", "渝A9H3J5");
    let all: Vec<&str> = l.violations.iter().flat_map(reasons).collect();
    for want in [
        "not_camera_recorded",
        "fine_over_limit",
        "points_over_6",
        "province_not_online",
        "penalty_not_simple",
    ] {
        assert!(all.contains(&want), "{want} in {all:?}");
    }
    assert!(
        l.violations
            .iter()
            .any(|v| v.facts.province == '川' && v.decision.eligible())
    );
    let l = list("陈静", "渝A7U5W3");
    assert_eq!(reasons(&l.violations[0]), vec!["unit_vehicle_not_allowed"]);
    let l = list("杨磊", "渝A2Z8X4");
    let r: Vec<Vec<&str>> = l.violations.iter().map(reasons).collect();
    assert!(
        r.contains(&vec![]) && r.contains(&vec!["outside_rental_period"]),
        "{r:?}"
    );
    let l = list("赵敏", "渝A8K2L6");
    assert!(
        l.violations
            .iter()
            .any(|v| reasons(v) == vec!["before_filing"])
    );
    let l = list("吴丽", "渝A1B2C3");
    let r: Vec<(u32, Vec<&str>)> = l
        .violations
        .iter()
        .map(|v| (v.facts.points, reasons(v)))
        .collect();
    assert!(
        r.contains(&(0, vec![])) && r.contains(&(2, vec!["no_license"])),
        "{r:?}"
    );
    let l = list("徐刚", "渝A3D5F7");
    assert!(reasons(&l.violations[0]).contains(&"full_12_three_times"));
    let l = list("马超", "渝A6G8H2");
    assert_eq!(reasons(&l.violations[0]), vec!["vehicle_status_blocked"]);
    let l = list("马超", "渝A7T3X9");
    assert_eq!(reasons(&l.violations[0]), vec!["vehicle_operating_use"]);
    // A stranger sees the violations but may handle none.
    let l = list("吴丽", "渝A8K2L6");
    assert!(
        l.violations
            .iter()
            .all(|v| reasons(v).contains(&"vehicle_not_related"))
    );
    // 黄勇's decision made elsewhere 30 days ago is overdue: the surcharge shows.
    let l = list("黄勇", "渝A4C6E2");
    assert_eq!(l.unpaid_decisions.len(), 1);
    let d = &l.unpaid_decisions[0];
    assert_eq!(d.channel, DecisionChannel::Elsewhere);
    assert_eq!(d.surcharge_days, 15);
    assert_eq!(d.charges.surcharge, Fen::from_yuan(90));
    assert_eq!(d.due().total().to_string(), "290.00元");
}

#[test]
fn handle_then_pay_is_exactly_once_and_idempotent() {
    let p = city();
    let who = id("李小红");
    let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
    let ids: Vec<String> = list.violations.iter().map(|v| v.facts.id.clone()).collect();
    let req = HandleRequest {
        id_number: who.clone(),
        vehicle: car("渝A8K2L6"),
        violation_ids: ids.clone(),
        kiosk_id: "K1".into(),
    };
    let first = p.handle(&req, now()).unwrap();
    assert_eq!(first.items.len(), 2);
    assert!(first.items.iter().all(|i| !i.already_handled));
    assert_eq!(first.amount_due.total().to_string(), "350.00元");
    assert_eq!(
        p.person(&who, now())
            .unwrap()
            .licence
            .unwrap()
            .pending_points,
        3
    );
    // Tapped twice: the same decisions, nothing new.
    let again = p
        .handle(&req, now() + SignedDuration::from_secs(5))
        .unwrap();
    assert!(again.items.iter().all(|i| i.already_handled));
    let numbers = |o: &HandleOutcome| {
        o.items
            .iter()
            .map(|i| i.decision.number.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&first), numbers(&again));
    assert_eq!(
        count(&p, "SELECT count(*) FROM decisions WHERE channel = 'kiosk'"),
        2
    );
    assert_eq!(
        p.person(&who, now())
            .unwrap()
            .licence
            .unwrap()
            .pending_points,
        3
    );
    // Pay the first decision; the same key again is the same payment.
    let number = first.items[0].decision.number.clone();
    let pay = PayRequest {
        decision_number: number.clone(),
        idempotency_key: "k-1".into(),
        method: "demo".into(),
    };
    let paid = p.pay(&pay, now()).unwrap();
    assert!(!paid.replayed);
    assert_eq!(paid.amount.fee, Fen(0));
    assert_eq!(paid.amount.total(), paid.amount.fine);
    let replay = p.pay(&pay, now()).unwrap();
    assert!(replay.replayed);
    assert_eq!(replay.transaction_no, paid.transaction_no);
    // Asked again with another key (the kiosk's next poll, an operator): the same payment, the
    // one the provider confirmed; nothing recorded twice (issue 12: `pay` asks, it never charges).
    let again = p
        .pay(
            &PayRequest {
                idempotency_key: "k-2".into(),
                ..pay.clone()
            },
            now(),
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.transaction_no, paid.transaction_no);
    assert_eq!(
        count(
            &p,
            &format!(
                "SELECT count(*) FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE d.number = '{number}'"
            )
        ),
        1
    );
    // Receipts kept for reprint.
    let payment = p.receipt(&number, ReceiptKind::Payment).unwrap();
    assert!(
        matches!(&payment.body, ReceiptBody::Payment(b) if b.transaction_no == paid.transaction_no)
    );
    let handling = p.receipt(&number, ReceiptKind::Handling).unwrap();
    assert!(matches!(&handling.body, ReceiptBody::Handling(h) if h.number == number));
    let other = first.items[1].decision.number.clone();
    assert_eq!(
        p.receipt(&other, ReceiptKind::Payment).unwrap_err().code(),
        "receipt_not_found"
    );
    assert_checks(&p);
}

#[test]
fn an_ineligible_selection_writes_nothing() {
    let p = city();
    let who = id("王建国");
    let list = p.violations(&who, &car("渝A3M7P9"), now()).unwrap();
    let three = list
        .violations
        .iter()
        .find(|v| v.facts.points == 3)
        .unwrap()
        .facts
        .id
        .clone();
    let before = count(&p, "SELECT count(*) FROM audit_log");
    let e = p
        .handle(
            &HandleRequest {
                id_number: who.clone(),
                vehicle: car("渝A3M7P9"),
                violation_ids: vec![three.clone()],
                kiosk_id: "K1".into(),
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "not_eligible");
    assert!(e.to_string().contains("12"), "{e}");
    assert_eq!(count(&p, "SELECT count(*) FROM audit_log"), before);
    assert_eq!(
        count(&p, "SELECT count(*) FROM decisions WHERE channel = 'kiosk'"),
        0
    );
    // In the maintenance window nothing is handled either (六.7).
    let night: Timestamp = "2022-10-24T22:30:00+08:00".parse().unwrap();
    let one = list
        .violations
        .iter()
        .find(|v| v.facts.points == 1)
        .unwrap()
        .facts
        .id
        .clone();
    let e = p
        .handle(
            &HandleRequest {
                id_number: who,
                vehicle: car("渝A3M7P9"),
                violation_ids: vec![one],
                kiosk_id: "K1".into(),
            },
            night,
        )
        .unwrap_err();
    assert!(e.to_string().contains("22:00"), "{e}");
}

#[test]
fn unpaid_handlings_revert_after_two_hours_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    city_file(&path);
    let who = id("李小红");
    let number = {
        let p = SqlitePlatform::open_demo(&path).unwrap();
        let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        let out = p
            .handle(
                &HandleRequest {
                    id_number: who.clone(),
                    vehicle: car("渝A8K2L6"),
                    violation_ids: vec![list.violations[0].facts.id.clone()],
                    kiosk_id: "K1".into(),
                },
                now(),
            )
            .unwrap();
        assert!(
            p.revert_due(now() + SignedDuration::from_mins(119))
                .unwrap()
                .reverted
                .is_empty()
        );
        out.items[0].decision.number.clone()
    };
    // The kiosk restarts later: the start-up revert finds the expired handling.
    let later = now() + SignedDuration::from_hours(2);
    let (p, report) = SqlitePlatform::open_and_recover(&path, later).unwrap();
    assert_eq!(report.reverted.len(), 1);
    assert_eq!(report.reverted[0].decision_number, number);
    assert_eq!(report.reverted[0].released_points, 3);
    assert_eq!(
        p.person(&who, later)
            .unwrap()
            .licence
            .unwrap()
            .pending_points,
        0
    );
    assert_eq!(
        p.violations(&who, &car("渝A8K2L6"), later)
            .unwrap()
            .violations
            .len(),
        2
    );
    let e = p
        .pay(
            &PayRequest {
                decision_number: number,
                idempotency_key: "late".into(),
                method: "demo".into(),
            },
            later,
        )
        .unwrap_err();
    assert_eq!(e.code(), "payment_window_closed");
    assert!(
        p.revert_due(later).unwrap().reverted.is_empty(),
        "idempotent"
    );
    assert_checks(&p);
}

#[test]
fn a_decision_made_elsewhere_is_paid_with_its_surcharge() {
    let p = city();
    let who = id("黄勇");
    let d = p
        .violations(&who, &car("渝A4C6E2"), now())
        .unwrap()
        .unpaid_decisions
        .remove(0);
    let paid = p
        .pay(
            &PayRequest {
                decision_number: d.number.clone(),
                idempotency_key: "hy".into(),
                method: "demo".into(),
            },
            now(),
        )
        .unwrap();
    assert_eq!(
        (paid.amount.fine, paid.amount.surcharge, paid.amount.total()),
        (Fen::from_yuan(200), Fen::from_yuan(90), Fen::from_yuan(290))
    );
    // Not reverted by the 2-hour rule: it is not a kiosk handling.
    assert!(
        p.revert_due(now() + SignedDuration::from_hours(48))
            .unwrap()
            .reverted
            .is_empty()
    );
    assert_checks(&p);
}

#[test]
fn filing_by_qr_token_then_review_and_unfile() {
    let p = city();
    let owner = id("刘芳");
    let tok = p.issue_vehicle_qr(&owner, &car("渝A6R2T8"), now()).unwrap();
    // Someone else cannot issue a code for her car.
    assert_eq!(
        p.issue_vehicle_qr(&id("李小红"), &car("渝A6R2T8"), now())
            .unwrap_err()
            .code(),
        "vehicle_not_found"
    );
    let who = id("李小红");
    let req = FilingRequest {
        id_number: who.clone(),
        proof: FilingProof::QrToken(tok.token.clone()),
    };
    let f = p.file_vehicle(&req, now()).unwrap();
    assert_eq!(
        (f.state.code(), codes::filing_method(f.method)),
        ("pending_review", "owner_qr")
    );
    assert_eq!(
        p.file_vehicle(&req, now()).unwrap_err().code(),
        "already_filed"
    );
    let f = p.review_filing(f.id, true, "ok", now()).unwrap();
    assert_eq!(f.state.code(), "approved");
    assert_eq!(
        p.review_filing(f.id, true, "", now()).unwrap().state.code(),
        "approved",
        "same verdict again"
    );
    assert_eq!(
        p.review_filing(f.id, false, "", now()).unwrap_err().code(),
        "filing_already_reviewed"
    );
    assert!(
        p.vehicles(&who, now())
            .unwrap()
            .iter()
            .any(|v| v.plate.as_str() == "渝A6R2T8" && v.relation.code() == "filed")
    );
    let u = p.unfile(&who, &car("渝A6R2T8"), now()).unwrap();
    assert_eq!(u.state.code(), "withdrawn");
    assert_eq!(
        p.unfile(&who, &car("渝A6R2T8"), now()).unwrap().id,
        u.id,
        "tapped twice"
    );
    assert!(
        !p.vehicles(&who, now())
            .unwrap()
            .iter()
            .any(|v| v.plate.as_str() == "渝A6R2T8")
    );
    assert_checks(&p);
}

#[test]
fn refused_filings_say_why_and_write_nothing() {
    let p = city();
    let tok = p
        .issue_vehicle_qr(&id("刘芳"), &car("渝A6R2T8"), now())
        .unwrap()
        .token;
    let tok_wjg = p
        .issue_vehicle_qr(&id("王建国"), &car("渝A3M7P9"), now())
        .unwrap()
        .token;
    let tok_own = p
        .issue_vehicle_qr(&id("李小红"), &car("渝A8K2L6"), now())
        .unwrap()
        .token;
    let mut tampered = tok.clone();
    tampered.replace_range(10..11, if &tok[10..11] == "A" { "B" } else { "A" });
    let table: Vec<(&str, &str, String, Timestamp, &str)> = vec![
        (
            "user limit",
            "赵敏",
            tok_wjg.clone(),
            now(),
            "already_filed",
        ),
        (
            "user limit, new car",
            "赵敏",
            p.issue_vehicle_qr(&id("黄勇"), &car("渝A4C6E2"), now())
                .unwrap()
                .token,
            now(),
            "filing_user_limit_reached",
        ),
        (
            "vehicle limit",
            "李小红",
            tok_wjg,
            now(),
            "filing_vehicle_limit_reached",
        ),
        ("own vehicle", "李小红", tok_own, now(), "own_vehicle"),
        (
            "expired",
            "李小红",
            tok.clone(),
            now() + token::VALIDITY,
            "token_expired",
        ),
        ("tampered", "李小红", tampered, now(), "token_bad_signature"),
        (
            "garbage",
            "李小红",
            "not a token".into(),
            now(),
            "token_malformed",
        ),
        (
            "signed, but for another owner (the car was sold)",
            "黄勇",
            p.qr_keys()
                .issue("渝A6R2T8", "02", &id("李小红"), now())
                .unwrap()
                .0,
            now(),
            "token_owner_mismatch",
        ),
        (
            "signed, for a vehicle the platform does not know",
            "黄勇",
            p.qr_keys()
                .issue("渝A00000", "02", &id("李小红"), now())
                .unwrap()
                .0,
            now(),
            "vehicle_not_found",
        ),
    ];
    let before = count(&p, "SELECT count(*) FROM audit_log");
    for (what, who, t, at, want) in table {
        let e = p
            .file_vehicle(
                &FilingRequest {
                    id_number: id(who),
                    proof: FilingProof::QrToken(t),
                },
                at,
            )
            .unwrap_err();
        assert_eq!(e.code(), want, "{what}: {e}");
    }
    assert_eq!(count(&p, "SELECT count(*) FROM audit_log"), before);
}

/// A platform whose dated policy has epidemic relief in force at `now()` (三.3 unit filing).
fn city_under_relief() -> SqlitePlatform {
    city().with_policy(
        crate::rules::PolicyBook::parse(
            "[[epidemic_relief]]\nname = \"test\"\nfrom = \"2022-10-01T00:00:00+08:00\"\nuntil = \"2022-11-01T00:00:00+08:00\"\n",
        )
        .unwrap(),
    )
}

/// 三.3 (rules.md, corrected): a unit's vehicle is filed only while relief is in force and only
/// when it is a small non-operating car; otherwise refused with the clause before any SMS.
/// The code the demo phone received in SMS `outbox_id` (the database keeps only its hash).
fn demo_phone_code(p: &SqlitePlatform, outbox_id: i64) -> String {
    p.sms_outbox(100)
        .unwrap()
        .into_iter()
        .find(|e| e.id == outbox_id)
        .and_then(|e| e.message)
        .expect("the demo phone received the SMS")
        .code
}

#[test]
fn clause_3_3_unit_filing_refused_before_any_sms() {
    let who = id("李小红");
    let outbox = |p: &SqlitePlatform| count(p, "SELECT count(*) FROM sms_codes");
    // No relief on 2022-10-24: refused, nothing sent, nothing audited.
    let p = city();
    let (sms_before, audit_before) = (outbox(&p), count(&p, "SELECT count(*) FROM audit_log"));
    let e = p
        .send_filing_code("K1", &who, &car("渝A7U5W3"), now())
        .unwrap_err();
    assert_eq!(e.code(), "unit_filing_needs_relief", "{e}");
    assert!(e.to_string().contains("三.3"), "{e}");
    assert_eq!(outbox(&p), sms_before);
    assert_eq!(count(&p, "SELECT count(*) FROM audit_log"), audit_before);
    // Under relief, a unit's car with operating use is refused before any SMS as well.
    let p = city_under_relief();
    p.with_connection_ref(|c| {
        c.execute(
            "UPDATE vehicles SET use_code = 'F' WHERE plate = '渝A7U5W3'",
            [],
        )?;
        Ok(())
    })
    .unwrap();
    let sms_before = outbox(&p);
    let e = p
        .send_filing_code("K1", &who, &car("渝A7U5W3"), now())
        .unwrap_err();
    assert_eq!(e.code(), "unit_vehicle_not_small_non_operating", "{e}");
    assert_eq!(outbox(&p), sms_before);
}

#[test]
fn filing_by_sms_code_to_the_owner_or_the_units_manager() {
    let p = city_under_relief();
    let who = id("李小红");
    let code_of = |outbox_id: i64| -> String { demo_phone_code(&p, outbox_id) };
    // A unit's vehicle: the code goes to the manager phone; the method is unit_manager_sms.
    let sent = p
        .send_filing_code("K1", &who, &car("渝A7U5W3"), now())
        .unwrap();
    assert_eq!(sent.phone_masked, "139****0005");
    let e = p
        .file_vehicle(
            &FilingRequest {
                id_number: who.clone(),
                proof: FilingProof::SmsCode {
                    vehicle: car("渝A7U5W3"),
                    code: "abc".into(),
                },
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "sms_code_wrong");
    let f = p
        .file_vehicle(
            &FilingRequest {
                id_number: who.clone(),
                proof: FilingProof::SmsCode {
                    vehicle: car("渝A7U5W3"),
                    code: code_of(sent.outbox_id),
                },
            },
            now(),
        )
        .unwrap();
    assert_eq!(f.method, FilingMethod::UnitManagerSms);
    // A person's vehicle: the code goes to the owner.
    let sent = p
        .send_filing_code("K1", &who, &car("渝A6R2T8"), now())
        .unwrap();
    assert_eq!(sent.phone_masked, "139****0004");
    let late = now() + sms::CODE_VALIDITY;
    let e = p
        .file_vehicle(
            &FilingRequest {
                id_number: who.clone(),
                proof: FilingProof::SmsCode {
                    vehicle: car("渝A6R2T8"),
                    code: code_of(sent.outbox_id),
                },
            },
            late,
        )
        .unwrap_err();
    assert_eq!(e.code(), "sms_code_expired");
    assert_checks(&p);
}

#[test]
fn registering_needs_the_code_sent_to_the_phone() {
    let p = city();
    let who = id("吴丽");
    assert_eq!(
        p.send_register_code("K1", "12345", now())
            .unwrap_err()
            .code(),
        "bad_phone"
    );
    let sent = p.send_register_code("K1", "13912345678", now()).unwrap();
    let code = demo_phone_code(&p, sent.outbox_id);
    let req = RegisterRequest {
        id_number: who.clone(),
        phone: "13912345678".into(),
        sms_code: code,
    };
    let bad = RegisterRequest {
        sms_code: "x".into(),
        ..req.clone()
    };
    assert_eq!(
        p.register(&bad, now()).unwrap_err().code(),
        "sms_code_wrong"
    );
    assert!(p.register(&req, now()).unwrap().registered);
    assert!(p.register(&req, now()).unwrap().registered, "idempotent");
    let other = RegisterRequest {
        phone: "13912345679".into(),
        ..req
    };
    assert_eq!(
        p.register(&other, now()).unwrap_err().code(),
        "registered_with_other_phone"
    );
}

#[test]
fn feedback_is_recorded() {
    let p = city();
    let n = p
        .feedback(
            &FeedbackRequest {
                id_number: Some(id("李小红")),
                kiosk_id: "K1".into(),
                category: "printer".into(),
                text: "回执打印不清晰".into(),
            },
            now(),
        )
        .unwrap();
    assert!(n > 0);
    let e = p
        .feedback(
            &FeedbackRequest {
                id_number: None,
                kiosk_id: "K1".into(),
                category: "x".into(),
                text: "  ".into(),
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(e.kind(), crate::store::ErrorKind::Invalid);
}

/// Run `n` threads, each with its own connection to the file, released at the same instant.
fn race<T: Send + 'static>(
    path: &Path,
    n: usize,
    f: impl Fn(usize, &SqlitePlatform) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (b, f, path) = (barrier.clone(), f.clone(), path.to_path_buf());
            std::thread::spawn(move || {
                let p = SqlitePlatform::open_demo(&path).unwrap();
                b.wait();
                f(i, &p)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn racing_threads_for_the_last_filing_slot_one_decision_and_one_violation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    city_file(&path);
    let p = SqlitePlatform::open_demo(&path).unwrap();
    // 刘芳's car has 1 filed driver; 吴丽 takes the 2nd; four people race for the 3rd.
    let tok = p
        .issue_vehicle_qr(&id("刘芳"), &car("渝A6R2T8"), now())
        .unwrap()
        .token;
    p.file_vehicle(
        &FilingRequest {
            id_number: id("吴丽"),
            proof: FilingProof::QrToken(tok.clone()),
        },
        now(),
    )
    .unwrap();
    let racers = ["李小红", "黄勇", "周强", "徐刚"];
    let results = race(&path, 4, move |i, p| {
        p.file_vehicle(
            &FilingRequest {
                id_number: id(racers[i]),
                proof: FilingProof::QrToken(tok.clone()),
            },
            now(),
        )
        .map_err(|e| e.code())
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|c| *c == "filing_vehicle_limit_reached"),
        "{results:?}"
    );

    // Four kiosks handle the same violation at once: exactly one decision.
    let who = id("李小红");
    let v = p
        .violations(&who, &car("渝A8K2L6"), now())
        .unwrap()
        .violations[0]
        .facts
        .id
        .clone();
    let results = race(&path, 4, move |_, p| {
        p.handle(
            &HandleRequest {
                id_number: id("李小红"),
                vehicle: car("渝A8K2L6"),
                violation_ids: vec![v.clone()],
                kiosk_id: "K".into(),
            },
            now(),
        )
        .unwrap()
        .items
        .remove(0)
    });
    assert_eq!(results.iter().filter(|i| !i.already_handled).count(), 1);
    let number = results[0].decision.number.clone();
    assert!(results.iter().all(|i| i.decision.number == number));

    // Four kiosks ask about that decision's payment at once, with different keys: it is
    // recorded exactly once, and all four get that one payment.
    let results = race(&path, 4, move |i, p| {
        p.pay(
            &PayRequest {
                decision_number: number.clone(),
                idempotency_key: format!("race-{i}"),
                method: "demo".into(),
            },
            now(),
        )
        .map(|v| (v.transaction_no, v.replayed))
        .map_err(|e| e.code())
    });
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Ok((_, false))))
            .count(),
        1,
        "{results:?}"
    );
    let first = results[0].as_ref().unwrap().0.clone();
    assert!(results.iter().all(|r| r.as_ref().unwrap().0 == first));
    assert_eq!(
        count(
            &p,
            "SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"
        ),
        1
    );
    assert_checks(&p);
}

#[test]
fn the_periodic_revert_follows_the_injected_clock() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let p: Arc<dyn Platform> = Arc::new(city());
    let who = id("李小红");
    let v = p
        .violations(&who, &car("渝A8K2L6"), now())
        .unwrap()
        .violations[0]
        .facts
        .id
        .clone();
    p.handle(
        &HandleRequest {
            id_number: who.clone(),
            vehicle: car("渝A8K2L6"),
            violation_ids: vec![v],
            kiosk_id: "K1".into(),
        },
        now(),
    )
    .unwrap();
    let clock_s = Arc::new(AtomicI64::new(now().as_second()));
    let c = clock_s.clone();
    let clock: Arc<dyn Fn() -> Timestamp + Send + Sync> =
        Arc::new(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let h = spawn_periodic_revert(
        p.clone(),
        clock,
        std::time::Duration::from_millis(10),
        stop.clone(),
    );
    let pending = |p: &Arc<dyn Platform>| {
        p.person(&who, now())
            .unwrap()
            .licence
            .unwrap()
            .pending_points
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(pending(&p), 3, "not yet due");
    clock_s.store(
        (now() + SignedDuration::from_hours(2)).as_second(),
        Ordering::SeqCst,
    );
    let started = std::time::Instant::now();
    while pending(&p) != 0 && started.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    assert_eq!(
        pending(&p),
        0,
        "reverted once the clock passed the deadline"
    );
}

#[test]
fn the_payment_receipt_kept_for_reprint() {
    let p = city();
    let who = id("黄勇");
    let d = p
        .violations(&who, &car("渝A4C6E2"), now())
        .unwrap()
        .unpaid_decisions
        .remove(0);
    p.pay(
        &PayRequest {
            decision_number: d.number.clone(),
            idempotency_key: "receipt".into(),
            method: "unionpay_qr".into(),
        },
        now(),
    )
    .unwrap();
    // As the receipts table keeps it (the document printed back by `kiosk platform receipt`).
    let body: String = p
        .with_connection_ref(|c| {
            Ok(c.query_row(
                "SELECT body FROM receipts WHERE kind = 'payment'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("payment_receipt_huang_yong", body);
    // Read back typed, it is the payment as made.
    let kept = p.receipt(&d.number, ReceiptKind::Payment).unwrap();
    let ReceiptBody::Payment(paid) = kept.body else {
        panic!("a payment receipt");
    };
    assert_eq!(paid.amount.total(), Fen::from_yuan(290));
    assert_eq!(paid.amount.fee, Fen(0));
}

#[test]
fn an_sms_code_is_burned_after_five_wrong_tries() {
    let p = city();
    let who = id("吴丽");
    let sent = p.send_register_code("K1", "13912345678", now()).unwrap();
    let code = demo_phone_code(&p, sent.outbox_id);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let req = |c: &str| RegisterRequest {
        id_number: who.clone(),
        phone: "13912345678".into(),
        sms_code: c.into(),
    };
    // Each wrong try says how many are left; the fifth burns the code.
    for i in 0..sms::MAX_FAILED_ATTEMPTS {
        let left = u32::try_from(sms::MAX_FAILED_ATTEMPTS - 1 - i).unwrap();
        assert!(matches!(
            p.register(&req(wrong), now()).unwrap_err(),
            StoreError::SmsCodeWrong { tries_left } if tries_left == left
        ));
    }
    assert_eq!(
        p.register(&req(&code), now()).unwrap_err().code(),
        "sms_code_expired"
    );
    assert!(!p.person(&who, now()).unwrap().registered);
}

#[test]
fn a_shorter_configured_payment_window_is_honoured_and_never_longer_than_two_hours() {
    let table = [(30, 30), (120, 120), (300, 120)];
    for (configured, expected) in table {
        let p = city().with_payment_window(SignedDuration::from_mins(configured));
        let who = id("李小红");
        let v = p
            .violations(&who, &car("渝A8K2L6"), now())
            .unwrap()
            .violations[0]
            .facts
            .id
            .clone();
        let d = p
            .handle(
                &HandleRequest {
                    id_number: who,
                    vehicle: car("渝A8K2L6"),
                    violation_ids: vec![v],
                    kiosk_id: "K1".into(),
                },
                now(),
            )
            .unwrap()
            .items
            .remove(0)
            .decision;
        assert_eq!(
            d.payment_deadline,
            now() + SignedDuration::from_mins(expected),
            "{configured}"
        );
    }
}

#[test]
fn the_owner_sees_and_removes_a_filed_driver_freeing_the_slot() {
    let p = city();
    let owner = id("王建国");
    let list = p.filings(&owner, now()).unwrap();
    assert_eq!(
        list.on_my_vehicles.len(),
        3,
        "his car is at the 3-driver limit"
    );
    assert!(
        list.on_my_vehicles
            .iter()
            .all(|f| f.driver_masked.contains('*'))
    );
    let tok = p
        .issue_vehicle_qr(&owner, &car("渝A3M7P9"), now())
        .unwrap()
        .token;
    let file = |who: &str| {
        p.file_vehicle(
            &FilingRequest {
                id_number: id(who),
                proof: FilingProof::QrToken(tok.clone()),
            },
            now(),
        )
    };
    assert_eq!(
        file("李小红").unwrap_err().code(),
        "filing_vehicle_limit_reached"
    );
    let first = list.on_my_vehicles[0].id;
    // Nobody but the owner can remove it.
    assert_eq!(
        p.remove_driver(&id("李小红"), first, now())
            .unwrap_err()
            .code(),
        "filing_not_found"
    );
    let removed = p.remove_driver(&owner, first, now()).unwrap();
    assert_eq!(removed.state.code(), "withdrawn");
    assert_eq!(
        p.remove_driver(&owner, first, now()).unwrap().id,
        first,
        "tapped twice"
    );
    assert_eq!(file("李小红").unwrap().state.code(), "pending_review");
    assert_eq!(p.filings(&id("李小红"), now()).unwrap().mine.len(), 1);
    assert_checks(&p);
}

#[test]
fn a_selected_batch_is_decided_in_the_order_given() {
    let p = city();
    // 赵敏 filed 王建国's car before both of its violations (3 and 1 points); put her at 8 points.
    p.with_connection_ref(|c| {
        Ok(c.execute(
            "UPDATE licences SET cycle_points = 8 WHERE person_id = (SELECT id FROM persons WHERE name = '赵敏')",
            [],
        )?)
    })
    .unwrap();
    let who = id("赵敏");
    let list = p.violations(&who, &car("渝A3M7P9"), now()).unwrap();
    let by = |pts: u32| {
        list.violations
            .iter()
            .find(|v| v.facts.points == pts)
            .unwrap()
            .facts
            .id
            .clone()
    };
    let (three, one) = (by(3), by(1));
    let req = |ids: Vec<String>| HandleRequest {
        id_number: who.clone(),
        vehicle: car("渝A3M7P9"),
        violation_ids: ids,
        kiosk_id: "K1".into(),
    };
    // 8 + 3 = 11, then 11 + 1 = 12: the second is refused, and with it the request.
    let e = p
        .handle(&req(vec![three.clone(), one.clone()]), now())
        .unwrap_err();
    match &e {
        StoreError::NotEligible { violation, .. } => assert_eq!(*violation, one),
        other => panic!("{other}"),
    }
    // 8 + 1 = 9, then 9 + 3 = 12: now the 3-point one is refused.
    let e = p
        .handle(&req(vec![one.clone(), three.clone()]), now())
        .unwrap_err();
    match &e {
        StoreError::NotEligible { violation, .. } => assert_eq!(*violation, three),
        other => panic!("{other}"),
    }
    assert_eq!(
        count(&p, "SELECT count(*) FROM decisions WHERE channel = 'kiosk'"),
        0
    );
    // Either alone is fine.
    let out = p.handle(&req(vec![three]), now()).unwrap();
    assert_eq!(out.items[0].decision.points, 3);
    assert_eq!(
        p.person(&who, now())
            .unwrap()
            .licence
            .unwrap()
            .pending_points,
        3
    );
    assert_checks(&p);
}

#[test]
fn requests_travel_as_json_and_refuse_a_bad_id_number() {
    let req = HandleRequest {
        id_number: id("李小红"),
        vehicle: car("渝A8K2L6"),
        violation_ids: vec!["5001000000000001".into()],
        kiosk_id: "K1".into(),
    };
    let text = serde_json::to_string(&req).unwrap();
    let back: HandleRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(back.id_number, req.id_number);
    assert!(
        !format!("{back:?}").contains("50010619851120002X"),
        "Debug stays masked"
    );
    let bad = text.replace("50010619851120002X", "500106198511200021");
    assert!(
        serde_json::from_str::<HandleRequest>(&bad)
            .unwrap_err()
            .to_string()
            .contains("校验")
    );
    let f = FilingRequest {
        id_number: id("李小红"),
        proof: FilingProof::QrToken("CQVQR1.x.y".into()),
    };
    let back: FilingRequest = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
    assert!(matches!(back.proof, FilingProof::QrToken(t) if t == "CQVQR1.x.y"));
    let fb = FeedbackRequest {
        id_number: None,
        kiosk_id: "K".into(),
        category: "c".into(),
        text: "t".into(),
    };
    let back: FeedbackRequest = serde_json::from_str(&serde_json::to_string(&fb).unwrap()).unwrap();
    assert!(back.id_number.is_none());
}

/// Sending, a wrong try and registering log what happened, never the code or the phone in clear.
#[test]
fn sms_codes_and_phones_never_reach_the_logs() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let p = city();
    let phone = "13912345678";
    let buf = Buf::default();
    let w = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || w.clone())
        .finish();
    let code = tracing::subscriber::with_default(subscriber, || {
        let sent = p.send_register_code("K1", phone, now()).unwrap();
        let code = demo_phone_code(&p, sent.outbox_id);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let req = RegisterRequest {
            id_number: id("吴丽"),
            phone: phone.into(),
            sms_code: wrong.into(),
        };
        assert_eq!(
            p.register(&req, now()).unwrap_err().code(),
            "sms_code_wrong"
        );
        let req = RegisterRequest {
            sms_code: code.clone(),
            ..req
        };
        p.register(&req, now()).unwrap();
        code
    });
    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("demo SMS delivered") && logs.contains("139****5678"),
        "{logs}"
    );
    assert!(!logs.contains(&code) && !logs.contains(phone), "{logs}");
}

/// The server's retention thread: run at once, then every period, on the injected clock; it
/// deletes a heartbeat once the clock has moved past the kept days, never the recent one.
#[test]
fn the_periodic_retention_follows_the_injected_clock() {
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
    let p = Arc::new(SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap());
    let event = |at: Timestamp| {
        p.record_kiosk_event(
            &KioskEventRequest {
                kiosk_id: "K1".into(),
                kind: "heartbeat".into(),
                detail: "{}".into(),
            },
            at,
        )
        .unwrap()
    };
    event(now() - SignedDuration::from_hours(24 * 9));
    event(now());
    let rows = |p: &SqlitePlatform| count(p, "SELECT count(*) FROM kiosk_events");
    let clock_s = Arc::new(AtomicI64::new(now().as_second()));
    let c = clock_s.clone();
    let clock: Arc<dyn Fn() -> Timestamp + Send + Sync> =
        Arc::new(move || Timestamp::from_second(c.load(Ordering::SeqCst)).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let h = spawn_periodic_purge(
        p.clone(),
        clock,
        10,
        std::time::Duration::from_millis(10),
        stop.clone(),
    );
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(rows(&p), 2, "9 days old: kept for 10 days");
    clock_s.store(
        (now() + SignedDuration::from_hours(24 * 2)).as_second(),
        Ordering::SeqCst,
    );
    let started = std::time::Instant::now();
    while rows(&p) != 1 && started.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    assert_eq!(rows(&p), 1, "the old heartbeat went, the recent one stayed");
}

#[test]
fn a_retention_sweep_refuses_a_negative_period_or_an_empty_batch() {
    let p = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
    for (keep, batch) in [
        (SignedDuration::from_secs(-1), 10),
        (SignedDuration::ZERO, 0),
    ] {
        let e = p.purge_kiosk_events(now(), keep, batch).unwrap_err();
        assert_eq!(e.code(), "invalid_request");
    }
    assert_eq!(
        p.purge_kiosk_events(now(), SignedDuration::ZERO, 1)
            .unwrap(),
        PurgeReport::default(),
        "an empty table: nothing to do"
    );
}

/// The fleet page's look-ups: nothing on an empty table; per kiosk the latest heartbeat and the
/// latest other event by the time the kiosk gave, so an event that waited in a kiosk's outbox
/// and arrived last does not hide a newer one; today's problems counted per kiosk.
#[test]
fn the_fleet_shows_each_kiosks_latest_events_by_their_time() {
    use super::fleet::FleetSource;
    let p = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
    assert!(p.fleet(now()).unwrap().is_empty());
    let event = |kiosk: &str, kind: &str, detail: &str, at: Timestamp| {
        p.record_kiosk_event(
            &KioskEventRequest {
                kiosk_id: kiosk.into(),
                kind: kind.into(),
                detail: detail.into(),
            },
            at,
        )
        .unwrap();
    };
    let t = now();
    let mins = SignedDuration::from_mins;
    event("K2", "heartbeat", "new", t);
    event("K2", "printer_out_of_paper", "", t - mins(5));
    event("K2", "online", "", t - mins(1));
    // Delivered last from the outbox, but older than what K2 reported already.
    event("K2", "heartbeat", "old", t - mins(30));
    event("K2", "offline", "", t - mins(40));
    event(
        "K1",
        "device_failure",
        "",
        t - SignedDuration::from_hours(30),
    );
    let rows = p.fleet(t - SignedDuration::from_hours(1)).unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.kiosk_id.as_str()).collect();
    assert_eq!(ids, ["K1", "K2"]);
    assert_eq!(rows[0].heartbeat, None);
    assert_eq!(rows[0].problems, 0, "yesterday's failure is not today's");
    assert_eq!(
        rows[0].last_event,
        Some((
            "device_failure".into(),
            String::new(),
            t - SignedDuration::from_hours(30)
        ))
    );
    assert_eq!(rows[1].heartbeat, Some((t, "new".into())));
    assert_eq!(
        rows[1].last_event,
        Some(("online".into(), String::new(), t - mins(1)))
    );
    assert_eq!(
        rows[1].problems, 2,
        "out of paper and offline within the hour"
    );
}
