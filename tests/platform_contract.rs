//! The `Platform` contract: every scenario is written once, against `&dyn Platform` only, and
//! instantiated per implementation with `contract_suite!(name, factory)`: SQLite, PostgreSQL, and
//! a kiosk's `RemotePlatform` calling `kiosk serve` on PostgreSQL.
//!
//! Plus the race on PostgreSQL: two threads on two pool connections hammering the same last
//! filing slot and the same payment, 200 rounds, rows counted afterwards.

mod support;

use std::sync::{Arc, Barrier};

use jiff::{SignedDuration, Timestamp};
use kiosk::domain::IdNumber;
use kiosk::store::demo::{DEMO_PERSONS, DemoOptions};
use kiosk::store::platform::*;
use kiosk::store::{PgPlatform, SqlitePlatform, schema};

/// 2022-10-24 11:06 in Chongqing: inside opening hours, relief not in force.
fn now() -> Timestamp {
    "2022-10-24T11:06:10+08:00".parse().unwrap()
}

fn city_options() -> DemoOptions {
    DemoOptions {
        persons: 200,
        seed: 5,
        anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
    }
}

fn id(name: &str) -> IdNumber {
    let p = DEMO_PERSONS.iter().find(|p| p.name == name).expect(name);
    IdNumber::parse(p.id_number).unwrap()
}

fn car(plate: &str) -> VehicleKey {
    VehicleKey::parse(plate, "02").unwrap()
}

/// What a scenario gets: the platform, and the one look behind it a test needs (the code of an
/// SMS the demo gateway kept in its outbox, as a phone would show it).
pub struct Subject {
    pub platform: Arc<dyn Platform>,
    pub sms_code: Box<dyn Fn(i64) -> String>,
}

impl Subject {
    fn p(&self) -> &dyn Platform {
        self.platform.as_ref()
    }
}

fn subject<B: Backend>(p: StorePlatform<B>) -> Subject {
    p.build_demo_city(&city_options()).expect("demo city");
    let p = Arc::new(p);
    let q = p.clone();
    Subject {
        platform: p,
        sms_code: Box::new(move |outbox_id| {
            q.sms_outbox(1000)
                .unwrap()
                .into_iter()
                .find(|e| e.id == outbox_id)
                .expect("the SMS in the outbox")
                .code
        }),
    }
}

fn make_sqlite() -> Subject {
    subject(SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap())
}

fn make_pg() -> Subject {
    let url = support::pg::fresh_database("contract");
    subject(PgPlatform::connect_demo(&url, 4).unwrap())
}

/// A kiosk's `RemotePlatform` calling `kiosk serve` (in this process, the demo identity) on a
/// fresh PostgreSQL demo city: every scenario through the wire, the signed requests and the
/// server's idempotency ledger. The SMS outbox is read beside the server, as a phone would.
fn make_remote_pg() -> Subject {
    let url = support::pg::fresh_database("remote");
    let store = PgPlatform::connect_demo(&url, 2).unwrap();
    store.build_demo_city(&city_options()).expect("demo city");
    let store = Arc::new(store);
    let addr = kiosk::server::spawn(kiosk::server::ServeOptions {
        database: url,
        listen: "127.0.0.1:0".parse().unwrap(),
        demo: true,
        kiosks: None,
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: std::time::Duration::from_secs(3600),
        payment: Default::default(),
    })
    .expect("kiosk serve starts");
    let remote = kiosk::remote::RemotePlatform::new(
        &format!("http://{addr}"),
        kiosk::wire::auth::KioskIdentity::demo(),
    )
    .unwrap();
    Subject {
        platform: Arc::new(remote),
        sms_code: Box::new(move |outbox_id| {
            store
                .sms_outbox(1000)
                .unwrap()
                .into_iter()
                .find(|e| e.id == outbox_id)
                .expect("the SMS in the outbox")
                .code
        }),
    }
}

/// Every scenario of [`scenarios`], as one `#[test]` each of the implementation `$make` builds.
macro_rules! contract_suite {
    ($name:ident, $make:ident) => {
        mod $name {
            use super::*;
            scenario_tests!(
                $make: person_and_vehicles,
                violations_come_with_decisions,
                handle_then_pay_exactly_once_with_replay,
                refusals_write_nothing,
                filing_limits_and_unfile,
                feedback_is_numbered,
                kiosk_events_are_numbered_and_checked,
                receipts_are_kept_for_reprint,
                revert_after_the_window,
                register_with_the_sms_code,
                filing_by_sms_code,
            );
        }
    };
}

macro_rules! scenario_tests {
    ($make:ident: $($scenario:ident),+ $(,)?) => {
        $(
            #[test]
            fn $scenario() {
                scenarios::$scenario(&$make());
            }
        )+
    };
}

contract_suite!(sqlite, make_sqlite);
contract_suite!(postgres, make_pg);
contract_suite!(remote_on_postgres, make_remote_pg);

mod scenarios {
    use super::*;

    pub fn person_and_vehicles(s: &Subject) {
        let p = s.p();
        let person = p.person(&id("王建国"), now()).unwrap();
        assert_eq!(person.licence.unwrap().cycle_points, 10);
        assert_eq!(person.id_number_masked, "5001**********0017");
        assert_eq!(person.name.expose(), "王建国");
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
                "孙婷",
                &[("渝A3M7P9", "filed"), ("渝A2Z8X4", "rental_temp_driver")],
            ),
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
        let nobody = IdNumber::synthesize("500101", jiff::civil::date(1901, 1, 1), 999).unwrap();
        assert_eq!(
            p.person(&nobody, now()).unwrap_err().code(),
            "person_not_found"
        );
        assert_eq!(
            p.violations(&id("李小红"), &car("渝Z99999"), now())
                .unwrap_err()
                .code(),
            "vehicle_not_found"
        );
    }

    pub fn violations_come_with_decisions(s: &Subject) {
        let p = s.p();
        let l = p
            .violations(&id("李小红"), &car("渝A8K2L6"), now())
            .unwrap();
        assert_eq!(l.violations.len(), 2);
        assert!(l.violations.iter().all(|v| v.decision.eligible()));
        let l = p.violations(&id("张伟"), &car("渝A5N4Q1"), now()).unwrap();
        let reasons: Vec<&str> = l.violations[0]
            .decision
            .reasons
            .iter()
            .map(|r| r.code())
            .collect();
        assert_eq!(reasons, vec!["license_status_blocked"]);
        // 黄勇's decision made elsewhere 30 days ago is overdue: the surcharge shows.
        let l = p.violations(&id("黄勇"), &car("渝A4C6E2"), now()).unwrap();
        assert_eq!(l.unpaid_decisions.len(), 1);
        let d = &l.unpaid_decisions[0];
        assert_eq!(d.channel, DecisionChannel::Elsewhere);
        assert_eq!(d.surcharge_days, 15);
        assert_eq!(d.due().total().to_string(), "290.00元");
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
        assert_eq!(paid.amount.total().to_string(), "290.00元");
    }

    pub fn handle_then_pay_exactly_once_with_replay(s: &Subject) {
        let p = s.p();
        let who = id("李小红");
        let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        let ids: Vec<String> = list.violations.iter().map(|v| v.facts.id.clone()).collect();
        let req = HandleRequest {
            id_number: who.clone(),
            vehicle: car("渝A8K2L6"),
            violation_ids: ids,
            kiosk_id: "K1".into(),
        };
        let first = p.handle(&req, now()).unwrap();
        assert_eq!(first.items.len(), 2);
        assert!(first.items.iter().all(|i| !i.already_handled));
        assert_eq!(first.amount_due.total().to_string(), "350.00元");
        let pending = || {
            p.person(&who, now())
                .unwrap()
                .licence
                .unwrap()
                .pending_points
        };
        assert_eq!(pending(), 3);
        let again = p
            .handle(&req, now() + SignedDuration::from_secs(5))
            .unwrap();
        assert!(again.items.iter().all(|i| i.already_handled));
        assert_eq!(
            again
                .items
                .iter()
                .map(|i| &i.decision.number)
                .collect::<Vec<_>>(),
            first
                .items
                .iter()
                .map(|i| &i.decision.number)
                .collect::<Vec<_>>()
        );
        assert_eq!(pending(), 3, "nothing counted twice");
        // The violations now travel as unpaid decisions.
        let l = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        assert!(l.violations.is_empty());
        assert_eq!(l.unpaid_decisions.len(), 2);
        let number = first.items[0].decision.number.clone();
        let pay = PayRequest {
            decision_number: number.clone(),
            idempotency_key: "k-1".into(),
            method: "demo".into(),
        };
        let paid = p.pay(&pay, now()).unwrap();
        assert!(!paid.replayed);
        assert_eq!(paid.amount.fee.as_fen(), 0);
        let replay = p.pay(&pay, now() + SignedDuration::from_secs(3)).unwrap();
        assert!(replay.replayed);
        assert_eq!(replay.transaction_no, paid.transaction_no);
        assert_eq!(replay.paid_at, paid.paid_at);
        // Issue 12: `pay` asks the provider and records what it confirms, once per decision;
        // asked again with another key, it answers with that one payment (it used to refuse:
        // already_paid, and a key reused on another decision: idempotency_key_reused).
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
        let l = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        assert_eq!(l.unpaid_decisions.len(), 1);
    }

    pub fn refusals_write_nothing(s: &Subject) {
        let p = s.p();
        let who = id("王建国");
        let list = p.violations(&who, &car("渝A3M7P9"), now()).unwrap();
        // The 3-point violation would bring him to 12 (not eligible).
        let three = list
            .violations
            .iter()
            .find(|v| v.facts.points == 3)
            .unwrap()
            .facts
            .id
            .clone();
        let all: Vec<String> = list.violations.iter().map(|v| v.facts.id.clone()).collect();
        let e = p
            .handle(
                &HandleRequest {
                    id_number: who.clone(),
                    vehicle: car("渝A3M7P9"),
                    violation_ids: all,
                    kiosk_id: "K1".into(),
                },
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code(), "not_eligible", "{e}");
        assert!(
            e.to_string().contains(&three) || e.to_string().contains("12"),
            "{e}"
        );
        let after = p.violations(&who, &car("渝A3M7P9"), now()).unwrap();
        assert_eq!(
            after.violations.len(),
            list.violations.len(),
            "nothing handled"
        );
        assert!(after.unpaid_decisions.is_empty());
        assert_eq!(
            p.person(&who, now())
                .unwrap()
                .licence
                .unwrap()
                .pending_points,
            0
        );
        // Unknown violation, unknown decision, nothing selected, bad phone.
        let e = p
            .handle(
                &HandleRequest {
                    id_number: who.clone(),
                    vehicle: car("渝A3M7P9"),
                    violation_ids: vec!["nope".into()],
                    kiosk_id: "K1".into(),
                },
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code(), "violation_not_found");
        let e = p
            .pay(
                &PayRequest {
                    decision_number: DecisionNumber("5001x".into()),
                    idempotency_key: "k".into(),
                    method: "demo".into(),
                },
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code(), "decision_not_found");
        let e = p
            .handle(
                &HandleRequest {
                    id_number: who,
                    vehicle: car("渝A3M7P9"),
                    violation_ids: vec![],
                    kiosk_id: "K1".into(),
                },
                now(),
            )
            .unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert_eq!(
            p.send_register_code("12345", now()).unwrap_err().code(),
            "bad_phone"
        );
    }

    fn file_by_qr(p: &dyn Platform, who: &str, token: &str) -> Result<FilingView, String> {
        p.file_vehicle(
            &FilingRequest {
                id_number: id(who),
                proof: FilingProof::QrToken(token.to_string()),
            },
            now(),
        )
        .map_err(|e| e.code().to_string())
    }

    pub fn filing_limits_and_unfile(s: &Subject) {
        let p = s.p();
        let tok = |owner: &str, plate: &str| {
            p.issue_vehicle_qr(&id(owner), &car(plate), now())
                .unwrap()
                .token
        };
        // 王建国's car has 3 filed drivers: the vehicle limit.
        let wjg = tok("王建国", "渝A3M7P9");
        assert_eq!(
            file_by_qr(p, "李小红", &wjg).unwrap_err(),
            "filing_vehicle_limit_reached"
        );
        // 赵敏 files 3 cars: the user limit.
        assert_eq!(
            file_by_qr(p, "赵敏", &tok("黄勇", "渝A4C6E2")).unwrap_err(),
            "filing_user_limit_reached"
        );
        assert_eq!(file_by_qr(p, "赵敏", &wjg).unwrap_err(), "already_filed");
        let own = tok("李小红", "渝A8K2L6");
        assert_eq!(file_by_qr(p, "李小红", &own).unwrap_err(), "own_vehicle");
        assert_eq!(
            file_by_qr(p, "李小红", "not a token").unwrap_err(),
            "token_malformed"
        );
        // Someone else cannot issue a code for her car.
        assert_eq!(
            p.issue_vehicle_qr(&id("李小红"), &car("渝A6R2T8"), now())
                .unwrap_err()
                .code(),
            "vehicle_not_found"
        );
        // 赵敏 un-files one: the slot is free at once, for her and on the car.
        let u = p.unfile(&id("赵敏"), &car("渝A3M7P9"), now()).unwrap();
        assert_eq!(u.state.code(), "withdrawn");
        assert_eq!(
            p.unfile(&id("赵敏"), &car("渝A3M7P9"), now()).unwrap().id,
            u.id,
            "tapped twice"
        );
        let f = file_by_qr(p, "李小红", &wjg).unwrap();
        assert_eq!(f.state.code(), "pending_review");
        let f = p.review_filing(f.id, true, "ok", now()).unwrap();
        assert_eq!(f.state.code(), "approved");
        assert_eq!(
            p.review_filing(f.id, false, "", now()).unwrap_err().code(),
            "filing_already_reviewed"
        );
        assert!(
            p.vehicles(&id("李小红"), now())
                .unwrap()
                .iter()
                .any(|v| v.plate.as_str() == "渝A3M7P9" && v.relation.code() == "filed")
        );
        // The owner sees the drivers on the car and removes one.
        let list = p.filings(&id("王建国"), now()).unwrap();
        assert_eq!(list.on_my_vehicles.len(), 3);
        let removed = p.remove_driver(&id("王建国"), f.id, now()).unwrap();
        assert_eq!(removed.state.code(), "withdrawn");
        assert_eq!(
            p.filings(&id("王建国"), now())
                .unwrap()
                .on_my_vehicles
                .len(),
            2
        );
        assert_eq!(
            p.remove_driver(&id("李小红"), f.id, now())
                .unwrap_err()
                .code(),
            "filing_not_found",
            "not the owner"
        );
        assert_eq!(
            p.unfile(&id("李小红"), &car("渝A6R2T8"), now())
                .unwrap_err()
                .code(),
            "not_filed"
        );
    }

    pub fn feedback_is_numbered(s: &Subject) {
        let p = s.p();
        let a = p
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
        let b = p
            .feedback(
                &FeedbackRequest {
                    id_number: None,
                    kiosk_id: "K2".into(),
                    category: "other".into(),
                    text: "很好".into(),
                },
                now(),
            )
            .unwrap();
        assert!(a > 0 && b > a, "{a} {b}");
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
        assert_eq!(e.code(), "invalid_request");
    }

    pub fn kiosk_events_are_numbered_and_checked(s: &Subject) {
        let p = s.p();
        let event = |kind: &str, detail: &str| KioskEventRequest {
            kiosk_id: "K1".into(),
            kind: kind.into(),
            detail: detail.into(),
        };
        let a = p
            .record_kiosk_event(&event("printer_out_of_paper", "打印机缺纸"), now())
            .unwrap();
        let b = p.record_kiosk_event(&event("online", ""), now()).unwrap();
        assert!(a > 0 && b > a, "{a} {b}");
        for bad in [
            event(" ", "x"),
            event(&"k".repeat(65), ""),
            event("x", &"d".repeat(501)),
        ] {
            let e = p.record_kiosk_event(&bad, now()).unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{bad:?}");
        }
    }

    pub fn receipts_are_kept_for_reprint(s: &Subject) {
        let p = s.p();
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
        let h = p.receipt(&d.number, ReceiptKind::Handling).unwrap();
        assert!(matches!(&h.body, ReceiptBody::Handling(x) if x.number == d.number));
        assert_eq!(
            p.receipt(&d.number, ReceiptKind::Payment)
                .unwrap_err()
                .code(),
            "receipt_not_found"
        );
        let paid = p
            .pay(
                &PayRequest {
                    decision_number: d.number.clone(),
                    idempotency_key: "r-1".into(),
                    method: "demo".into(),
                },
                now(),
            )
            .unwrap();
        let r = p.receipt(&d.number, ReceiptKind::Payment).unwrap();
        assert!(
            matches!(&r.body, ReceiptBody::Payment(b) if b.transaction_no == paid.transaction_no && b.amount.total() == paid.amount.total())
        );
        assert_eq!(r.created_at, now());
    }

    pub fn revert_after_the_window(s: &Subject) {
        let p = s.p();
        let who = id("李小红");
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
        let number = out.items[0].decision.number.clone();
        assert!(
            p.revert_due(now() + SignedDuration::from_mins(119))
                .unwrap()
                .reverted
                .is_empty()
        );
        let later = now() + SignedDuration::from_hours(2);
        let report = p.revert_due(later).unwrap();
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
        // Handled again after the revert: a new decision, payable.
        let again = p
            .handle(
                &HandleRequest {
                    id_number: who,
                    vehicle: car("渝A8K2L6"),
                    violation_ids: vec![list.violations[0].facts.id.clone()],
                    kiosk_id: "K1".into(),
                },
                later,
            )
            .unwrap();
        assert!(!again.items[0].already_handled);
        assert_ne!(
            again.items[0].decision.number,
            report.reverted[0].decision_number
        );
    }

    pub fn register_with_the_sms_code(s: &Subject) {
        let p = s.p();
        let who = id("吴丽");
        let sent = p.send_register_code("13912345678", now()).unwrap();
        assert_eq!(sent.phone_masked, "139****5678");
        let code = (s.sms_code)(sent.outbox_id);
        let req = RegisterRequest {
            id_number: who.clone(),
            phone: "13912345678".into(),
            sms_code: code,
        };
        let wrong = if req.sms_code == "000000" {
            "111111"
        } else {
            "000000"
        };
        let bad = RegisterRequest {
            sms_code: wrong.into(),
            ..req.clone()
        };
        assert_eq!(
            p.register(&bad, now()).unwrap_err().code(),
            "sms_code_wrong"
        );
        assert!(p.register(&req, now()).unwrap().registered);
        assert!(p.register(&req, now()).unwrap().registered, "idempotent");
        assert!(p.person(&who, now()).unwrap().registered);
        let other = RegisterRequest {
            phone: "13912345679".into(),
            ..req
        };
        assert_eq!(
            p.register(&other, now()).unwrap_err().code(),
            "registered_with_other_phone"
        );
    }

    pub fn filing_by_sms_code(s: &Subject) {
        let p = s.p();
        let who = id("李小红");
        let sent = p.send_filing_code(&who, &car("渝A6R2T8"), now()).unwrap();
        assert_eq!(sent.phone_masked, "139****0004");
        let req = |code: String| FilingRequest {
            id_number: who.clone(),
            proof: FilingProof::SmsCode {
                vehicle: car("渝A6R2T8"),
                code,
            },
        };
        // A wrong code is refused, and the attempt counts (it is committed, not rolled back):
        // five wrong tries burn the code.
        for _ in 0..5 {
            assert_eq!(
                p.file_vehicle(&req("abc".into()), now())
                    .unwrap_err()
                    .code(),
                "sms_code_wrong"
            );
        }
        let code = (s.sms_code)(sent.outbox_id);
        assert_eq!(
            p.file_vehicle(&req(code), now()).unwrap_err().code(),
            "sms_code_expired"
        );
        let sent = p.send_filing_code(&who, &car("渝A6R2T8"), now()).unwrap();
        let f = p
            .file_vehicle(&req((s.sms_code)(sent.outbox_id)), now())
            .unwrap();
        assert_eq!(f.state.code(), "pending_review");
    }
}

// ---------------------------------------------------------------------------------------------
// The race on PostgreSQL.
// ---------------------------------------------------------------------------------------------

/// Two threads on two pool connections, released together each round: both take the same last
/// filing slot, both handle the same violation, both pay its decision (each with its own key, then
/// again with that key as if the response had been lost). Afterwards the rows are counted.
#[test]
fn postgres_two_clients_race_for_the_last_slot_and_the_same_payment() {
    const ROUNDS: usize = 200;
    let url = support::pg::fresh_database("race");
    let p = PgPlatform::connect_demo(&url, 4).unwrap();
    p.build_demo_city(&city_options()).unwrap();
    // ROUNDS more payable camera violations (parking, 150元, 0 points) on 李小红's car.
    let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "INSERT INTO violations (id, vehicle_id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address, state)
         SELECT 'R' || lpad(g::text, 11, '0'), v.id, {at}, '重庆市渝中区解放碑路口', '机动车违反规定停放、临时停车', '渝', 1, 'camera', 'fine', 15000, 0, '重庆市公安局交通管理局渝中区支队', '重庆市渝中区交巡警支队违法处理窗口', 'pending'
         FROM generate_series(1, {ROUNDS}) g, vehicles v WHERE v.plate = '渝A8K2L6'",
        at = (now() - SignedDuration::from_hours(24 * 5)).as_second()
    ))
    .unwrap();
    let p: Arc<dyn Platform> = Arc::new(p);
    // 刘芳's car: 赵敏 is filed; 吴丽 takes the 2nd slot; the 3rd is raced for every round.
    let tok = p
        .issue_vehicle_qr(&id("刘芳"), &car("渝A6R2T8"), now())
        .unwrap()
        .token;
    scenarios_support::file(&*p, "吴丽", &tok).unwrap();
    let racers = ["李小红", "黄勇"];
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (p, barrier, tok) = (p.clone(), barrier.clone(), tok.clone());
            std::thread::spawn(move || {
                let mut outcomes = Vec::new();
                // Nothing in the loop panics (a panicking thread would leave the other one
                // waiting at the barrier): every outcome is kept and judged afterwards.
                for round in 0..ROUNDS {
                    // The last filing slot.
                    barrier.wait();
                    let filed = scenarios_support::file(&*p, racers[t], &tok);
                    barrier.wait();
                    let unfiled = match &filed {
                        Ok(_) => p
                            .unfile(&id(racers[t]), &car("渝A6R2T8"), now())
                            .map(|_| ())
                            .map_err(|e| e.code()),
                        Err(_) => Ok(()),
                    };
                    // One violation, one decision; one decision, one payment.
                    let violation = format!("R{:011}", round + 1);
                    barrier.wait();
                    let handled = p
                        .handle(
                            &HandleRequest {
                                id_number: id("李小红"),
                                vehicle: car("渝A8K2L6"),
                                violation_ids: vec![violation],
                                kiosk_id: format!("K{t}"),
                            },
                            now(),
                        )
                        .map_err(|e| e.code())
                        .and_then(|o| o.items.into_iter().next().ok_or("handled_nothing"));
                    let pay = PayRequest {
                        decision_number: handled
                            .as_ref()
                            .map(|h| h.decision.number.clone())
                            .unwrap_or_else(|_| DecisionNumber("none".into())),
                        idempotency_key: format!("race-{round}-{t}"),
                        method: "demo".into(),
                    };
                    barrier.wait();
                    let paid = p.pay(&pay, now()).map_err(|e| e.code());
                    // The response was lost: the kiosk retries with the same key.
                    let retried = p.pay(&pay, now()).map_err(|e| e.code());
                    outcomes.push((filed, unfiled, handled, paid, retried));
                }
                outcomes
            })
        })
        .collect();
    let outcomes: Vec<Vec<_>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    let (mut filing_wins, mut payments_won) = (0, 0);
    assert!(
        outcomes.iter().all(|o| o.len() == ROUNDS),
        "every round ran"
    );
    for (round, (a, b)) in outcomes[0].iter().zip(&outcomes[1]).enumerate() {
        let wins = [&a.0, &b.0].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {:?} / {:?}", a.0, b.0);
        for r in [&a.0, &b.0] {
            if let Err(code) = r {
                assert_eq!(code, "filing_vehicle_limit_reached", "round {round}");
            }
        }
        assert_eq!((&a.1, &b.1), (&Ok(()), &Ok(())), "round {round}: unfile");
        filing_wins += wins;
        let (ha, hb) = match (&a.2, &b.2) {
            (Ok(ha), Ok(hb)) => (ha, hb),
            other => panic!("round {round}: handle failed: {other:?}"),
        };
        assert_eq!(
            ha.decision.number, hb.decision.number,
            "round {round}: one live decision"
        );
        assert_eq!(
            [ha, hb].iter().filter(|h| !h.already_handled).count(),
            1,
            "round {round}"
        );
        // Both ask about the same payment at once: it is recorded once (one answer not
        // `replayed`), and both get that one payment (issue 12: `pay` asks the provider).
        let (pa, pb) = match (&a.3, &b.3) {
            (Ok(pa), Ok(pb)) => (pa, pb),
            other => panic!("round {round}: pay failed: {other:?}"),
        };
        assert_eq!(
            [pa, pb].iter().filter(|p| !p.replayed).count(),
            1,
            "round {round}: {pa:?} / {pb:?}"
        );
        assert_eq!(pa.transaction_no, pb.transaction_no, "round {round}");
        for o in [a, b] {
            let retried = o.4.as_ref().expect("a retry replays");
            assert!(retried.replayed);
            assert_eq!(retried.transaction_no, pa.transaction_no);
        }
        payments_won += 1;
    }
    // Count the rows.
    let one = |sql: &str| support::pg::query_i64(&url, sql)[0];
    let payments = one(
        "SELECT count(*) FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE d.violation_id LIKE 'R%'",
    );
    let doubled = one(
        "SELECT count(*) FROM (SELECT decision_id FROM payments GROUP BY decision_id HAVING count(*) > 1) x",
    );
    let decisions = one("SELECT count(*) FROM decisions WHERE violation_id LIKE 'R%'");
    let over_vehicle = one(
        "SELECT count(*) FROM (SELECT vehicle_id FROM filings WHERE state IN ('pending_review', 'approved') GROUP BY vehicle_id HAVING count(*) > 3) x",
    );
    let over_person = one(
        "SELECT count(*) FROM (SELECT person_id FROM filings WHERE state IN ('pending_review', 'approved') GROUP BY person_id HAVING count(*) > 3) x",
    );
    let retried = kiosk::store::backend::pg_conflicts_retried();
    let race_filings = one(
        "SELECT count(*) FROM filings f JOIN vehicles v ON v.id = f.vehicle_id WHERE v.plate = '渝A6R2T8' AND f.state = 'withdrawn'",
    );
    println!(
        "race on PostgreSQL, {ROUNDS} rounds × 2 clients: conflicts retried {retried} (process-wide), filing wins {filing_wins}, withdrawn filings {race_filings}, decisions {decisions}, payments {payments} (won {payments_won}), decisions paid twice {doubled}, vehicles over 3 drivers {over_vehicle}, filers over 3 vehicles {over_person}"
    );
    assert_eq!(filing_wins, ROUNDS);
    assert_eq!(race_filings, ROUNDS as i64);
    assert_eq!(decisions, ROUNDS as i64);
    assert_eq!(payments, ROUNDS as i64);
    assert_eq!((doubled, over_vehicle, over_person), (0, 0, 0));
    let pg = PgPlatform::connect_demo(&url, 1).unwrap();
    let report = pg.check().unwrap();
    assert!(report.ok(), "{:#?}", report.breaches);
}

/// The same filer racing for their own last slot on two different cars (3 vehicles per filer).
#[test]
fn postgres_one_filer_on_two_clients_never_exceeds_three_vehicles() {
    const ROUNDS: usize = 50;
    let url = support::pg::fresh_database("race_filer");
    let p = PgPlatform::connect_demo(&url, 4).unwrap();
    p.build_demo_city(&city_options()).unwrap();
    let p: Arc<dyn Platform> = Arc::new(p);
    // 李小红 files 2 cars; the 3rd slot is raced for on 刘芳's and 黄勇's cars.
    let tok = |owner: &str, plate: &str| {
        p.issue_vehicle_qr(&id(owner), &car(plate), now())
            .unwrap()
            .token
    };
    scenarios_support::file(&*p, "李小红", &tok("吴丽", "渝A1B2C3")).unwrap();
    scenarios_support::file(&*p, "李小红", &tok("周强", "渝A9H3J5")).unwrap();
    let cars = [("刘芳", "渝A6R2T8"), ("黄勇", "渝A4C6E2")];
    let tokens: Vec<String> = cars.iter().map(|(o, c)| tok(o, c)).collect();
    let barrier = Arc::new(Barrier::new(2));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (p, barrier, token) = (p.clone(), barrier.clone(), tokens[t].clone());
            std::thread::spawn(move || {
                let mut wins = Vec::new();
                for _ in 0..ROUNDS {
                    barrier.wait();
                    let r = scenarios_support::file(&*p, "李小红", &token);
                    barrier.wait();
                    let unfiled = match &r {
                        Ok(_) => p
                            .unfile(&id("李小红"), &car(cars[t].1), now())
                            .map(|_| ())
                            .map_err(|e| e.code().to_string()),
                        Err(_) => Ok(()),
                    };
                    wins.push(r.and_then(|f| unfiled.map(|()| f)));
                }
                wins
            })
        })
        .collect();
    let results: Vec<Vec<_>> = threads.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().all(|r| r.len() == ROUNDS), "every round ran");
    for (round, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
        assert_eq!(
            [a, b].iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {a:?} / {b:?}"
        );
        for r in [a, b] {
            if let Err(code) = r {
                assert_eq!(code, "filing_user_limit_reached");
            }
        }
    }
    let pg = PgPlatform::connect_demo(&url, 1).unwrap();
    assert!(pg.check().unwrap().ok());
}

mod scenarios_support {
    use super::*;

    pub fn file(p: &dyn Platform, who: &str, token: &str) -> Result<FilingView, String> {
        p.file_vehicle(
            &FilingRequest {
                id_number: id(who),
                proof: FilingProof::QrToken(token.to_string()),
            },
            now(),
        )
        .map_err(|e| e.code().to_string())
    }
}

// ---------------------------------------------------------------------------------------------
// The points-confirmation job (a server job, not part of `Platform`), on both backends.
// ---------------------------------------------------------------------------------------------

fn points_are_confirmed_once_and_leave_the_pending_count<B: Backend>(p: StorePlatform<B>) {
    p.build_demo_city(&city_options()).unwrap();
    let who = id("李小红");
    let licence = |p: &StorePlatform<B>| p.person(&who, now()).unwrap().licence.unwrap();
    let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
    let handled = p
        .handle(
            &HandleRequest {
                id_number: who.clone(),
                vehicle: car("渝A8K2L6"),
                violation_ids: list.violations.iter().map(|v| v.facts.id.clone()).collect(),
                kiosk_id: "K1".into(),
            },
            now(),
        )
        .unwrap();
    // Only paid decisions are confirmed: pay the first (3 points), leave the second unpaid.
    let paid = &handled.items[0].decision;
    assert_eq!(paid.points, 3);
    p.pay(
        &PayRequest {
            decision_number: paid.number.clone(),
            idempotency_key: "pts".into(),
            method: "demo".into(),
        },
        now(),
    )
    .unwrap();
    assert_eq!(
        (licence(&p).cycle_points, licence(&p).pending_points),
        (0, 3)
    );
    assert_eq!(p.pending_points().unwrap().len(), 1);
    let network = SimulatedConfirmer {
        delay: SignedDuration::from_hours(24),
    };
    let early = p
        .confirm_points(&network, now() + SignedDuration::from_hours(23))
        .unwrap();
    assert!(early.confirmed.is_empty(), "not yet: {early:?}");
    let later = now() + SignedDuration::from_hours(24);
    let report = p.confirm_points(&network, later).unwrap();
    assert_eq!(
        report.confirmed,
        vec![ConfirmedItem {
            decision_number: paid.number.clone(),
            points: 3
        }]
    );
    // The points left the pending count for the cycle's recorded points, once.
    assert_eq!(
        (licence(&p).cycle_points, licence(&p).pending_points),
        (3, 0)
    );
    assert!(
        p.confirm_points(&network, later)
            .unwrap()
            .confirmed
            .is_empty()
    );
    assert!(p.pending_points().unwrap().is_empty());
    let report = p.check().unwrap();
    assert!(report.ok(), "{:#?}", report.breaches);
}

#[test]
fn sqlite_points_confirmation() {
    points_are_confirmed_once_and_leave_the_pending_count(
        SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap(),
    );
}

#[test]
fn postgres_points_confirmation() {
    let url = support::pg::fresh_database("points");
    points_are_confirmed_once_and_leave_the_pending_count(
        PgPlatform::connect_demo(&url, 2).unwrap(),
    );
}

// ---------------------------------------------------------------------------------------------
// Money on the provider's word: the payment contract with Alipay 当面付's simulator as the
// provider, on SQLite, PostgreSQL and through `kiosk serve` (whose `POST /notify/alipay` the
// simulator itself posts its notifications to).
// ---------------------------------------------------------------------------------------------

mod payments {
    use super::*;
    use kiosk::config::PaymentSection;
    use kiosk::providers::alipay::AlipayProvider;
    use kiosk::providers::alipay::protocol::Notification;
    use kiosk::providers::alipay::sim::{self, SimHandle};

    const APP_ID: &str = "2021000000000001";

    /// What a payment scenario gets: the platform, the gateway simulator (its phone), rows
    /// counted in the platform's database, and whether the simulator posts its notifications to
    /// the platform by itself (through the server) or a test relays them.
    pub struct PaySubject {
        pub platform: Arc<dyn Platform>,
        pub sim: SimHandle,
        pub count: Box<dyn Fn(&str) -> i64>,
        pub check_ok: Box<dyn Fn() -> bool>,
        pub delivers: bool,
    }

    fn spawn_sim() -> SimHandle {
        sim::spawn("127.0.0.1:0".parse().unwrap(), APP_ID, sim::test_keys()).expect("simulator")
    }

    fn provider(sim: &SimHandle, notify_url: &str) -> Box<AlipayProvider> {
        Box::new(AlipayProvider::new(
            &sim.gateway(),
            APP_ID,
            notify_url,
            sim.keys.app.clone(),
            sim.keys.alipay.verify_key(),
        ))
    }

    fn local<B: Backend + 'static>(p: StorePlatform<B>) -> PaySubject {
        let sim = spawn_sim();
        // Nobody listens there: these subjects get their notifications relayed by the test.
        let p = p.with_payments(provider(&sim, "http://127.0.0.1:9/notify/alipay"));
        p.build_demo_city(&city_options()).expect("demo city");
        let p = Arc::new(p);
        let (q, r) = (p.clone(), p.clone());
        PaySubject {
            platform: p,
            sim,
            count: Box::new(move |sql| q.read_sql(|tx| Ok(tx.one::<i64>(sql, &[])?)).unwrap()),
            check_ok: Box::new(move || r.check().unwrap().ok()),
            delivers: false,
        }
    }

    pub fn make_sqlite() -> PaySubject {
        local(SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap())
    }

    pub fn make_pg() -> PaySubject {
        local(PgPlatform::connect_demo(&support::pg::fresh_database("pay"), 4).unwrap())
    }

    /// `kiosk serve` with `[payment] provider = "alipay"` (key files on disk), the simulator
    /// posting its notifications to the server's `POST /notify/alipay`.
    pub fn make_remote_pg() -> PaySubject {
        let url = support::pg::fresh_database("payremote");
        let store = PgPlatform::connect_demo(&url, 2).unwrap();
        store.build_demo_city(&city_options()).expect("demo city");
        let sim = spawn_sim();
        let dir = tempfile::tempdir().unwrap().keep();
        sim.keys.write(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let addr = kiosk::server::spawn(kiosk::server::ServeOptions {
            database: url,
            listen,
            demo: true,
            kiosks: None,
            revert_every: None,
            kiosk_clock: true,
            confirm_points_after: std::time::Duration::from_secs(3600),
            payment: PaymentSection {
                provider: "alipay".into(),
                gateway: sim.gateway(),
                app_id: APP_ID.into(),
                private_key_file: Some(dir.join(sim::APP_PRIVATE_KEY_FILE)),
                alipay_public_key_file: Some(dir.join(sim::ALIPAY_PUBLIC_KEY_FILE)),
                notify_url: format!("http://{listen}/notify/alipay"),
            },
        })
        .expect("kiosk serve starts");
        let remote = kiosk::remote::RemotePlatform::new(
            &format!("http://{addr}"),
            kiosk::wire::auth::KioskIdentity::demo(),
        )
        .unwrap();
        let store = Arc::new(store);
        let (q, r) = (store.clone(), store);
        PaySubject {
            platform: Arc::new(remote),
            sim,
            count: Box::new(move |sql| q.read_sql(|tx| Ok(tx.one::<i64>(sql, &[])?)).unwrap()),
            check_ok: Box::new(move || r.check().unwrap().ok()),
            delivers: true,
        }
    }

    macro_rules! payment_suite {
        ($name:ident, $make:path) => {
            mod $name {
                use super::*;
                payment_tests!(
                    $make: an_unpaid_order_is_not_paid_until_the_provider_says_so,
                    a_notification_records_the_payment_once,
                    forged_wrong_amount_and_unknown_notifications_are_refused_and_audited,
                    an_order_query_records_the_payment_without_a_notification,
                    money_after_the_revert_is_refunded_never_lost,
                    a_payment_after_the_revert_without_notification_is_found_and_refunded,
                );
            }
        };
    }

    macro_rules! payment_tests {
        ($make:path: $($scenario:ident),+ $(,)?) => {
            $(
                #[test]
                fn $scenario() {
                    scenarios::$scenario(&$make());
                }
            )+
        };
    }

    payment_suite!(sqlite, super::make_sqlite);
    payment_suite!(postgres, super::make_pg);
    payment_suite!(remote_on_postgres, super::make_remote_pg);

    /// 李小红 handles one violation of 渝A8K2L6: its decision.
    fn handled(p: &dyn Platform) -> HandledItem {
        let who = id("李小红");
        let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        p.handle(
            &HandleRequest {
                id_number: who,
                vehicle: car("渝A8K2L6"),
                violation_ids: vec![list.violations[0].facts.id.clone()],
                kiosk_id: "K1".into(),
            },
            now(),
        )
        .unwrap()
        .items
        .remove(0)
    }

    fn ask(
        p: &dyn Platform,
        d: &DecisionNumber,
        at: Timestamp,
    ) -> Result<PaymentView, kiosk::store::StoreError> {
        p.pay(
            &PayRequest {
                decision_number: d.clone(),
                idempotency_key: format!("kiosk-pay-{d}-{}", at.as_second()),
                method: "qr".into(),
            },
            at,
        )
    }

    /// Wait (bounded) until the simulator's notification of `out` was answered `success`.
    fn wait_delivered(sim: &SimHandle, out: &str) {
        for _ in 0..600 {
            if sim.order(out).is_some_and(|o| o.delivered) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the simulator's notification of {out} was never acknowledged");
    }

    fn audited(s: &PaySubject, action: &str) -> i64 {
        (s.count)(&format!(
            "SELECT count(*) FROM audit_log WHERE action = '{action}'"
        ))
    }

    mod scenarios {
        use super::*;

        pub fn an_unpaid_order_is_not_paid_until_the_provider_says_so(s: &PaySubject) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            assert!(
                order.qr_code.starts_with("https://qr.alipay.com/"),
                "{}",
                order.qr_code
            );
            assert_eq!(
                order.amount,
                item.decision.due().total(),
                "exactly what is due"
            );
            assert_eq!(order.state, "open");
            // A retry (another kiosk call, a restart) never opens a second order.
            let again = p
                .payment_order(d, now() + SignedDuration::from_secs(5))
                .unwrap();
            assert_eq!(again, order);
            assert_eq!(s.sim.order_count(), 1);
            for k in 0..3 {
                let e = ask(p, d, now() + SignedDuration::from_secs(5 * k)).unwrap_err();
                assert_eq!(e.code(), "not_paid_yet");
            }
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                0
            );
            assert_eq!(
                (s.count)(&format!(
                    "SELECT count(*) FROM decisions WHERE state = 'paid' AND number = '{d}'"
                )),
                0
            );
            assert!((s.check_ok)());
        }

        pub fn a_notification_records_the_payment_once(s: &PaySubject) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            let paid = s.sim.pay(&order.qr_code).unwrap();
            let body = paid.notification.clone().unwrap();
            if s.delivers {
                // The simulator posted it to the server, which answered `success`.
                wait_delivered(&s.sim, &order.out_trade_no);
            } else {
                assert_eq!(
                    p.payment_notification(body.as_bytes(), now()).unwrap(),
                    NotifyAck::Recorded
                );
            }
            // Sent again (the provider repeats until it hears `success`): recorded once.
            assert_eq!(
                p.payment_notification(body.as_bytes(), now()).unwrap(),
                NotifyAck::Duplicate
            );
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                1,
                "recorded exactly once"
            );
            // The kiosk's next poll finds it, with the provider's trade number.
            let view = ask(p, d, now() + SignedDuration::from_secs(5)).unwrap();
            assert_eq!(Some(view.transaction_no.clone()), paid.trade_no);
            assert_eq!(view.amount.total(), order.amount);
            assert_eq!(view.method, "alipay");
            let again = ask(p, d, now() + SignedDuration::from_secs(10)).unwrap();
            assert_eq!(again.transaction_no, view.transaction_no);
            assert_eq!(p.payment_order(d, now()).unwrap().state, "paid");
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                1
            );
            assert!(audited(s, "payment_notification_replayed") >= 1);
            assert_eq!(audited(s, "payment_confirmed"), 1);
            assert!((s.check_ok)());
        }

        pub fn forged_wrong_amount_and_unknown_notifications_are_refused_and_audited(
            s: &PaySubject,
        ) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            let n = Notification {
                notify_id: "forged-1".into(),
                app_id: APP_ID.into(),
                out_trade_no: order.out_trade_no.clone(),
                trade_no: "2022102400000000000001".into(),
                trade_status: "TRADE_SUCCESS".into(),
                total_amount: order.amount,
            };
            // Signed with a key that is not Alipay's (the app's own).
            let forged = kiosk::providers::alipay::protocol::encode_form(
                &kiosk::providers::alipay::protocol::signed_notification(
                    &s.sim.keys.app,
                    &n,
                    now(),
                ),
            );
            // Alipay's key, but another amount; and an order nobody opened.
            let cheaper = s.sim.signed_notification(&Notification {
                notify_id: "cheap-1".into(),
                total_amount: kiosk::domain::Fen(1),
                ..n.clone()
            });
            let unknown = s.sim.signed_notification(&Notification {
                notify_id: "unknown-1".into(),
                out_trade_no: "KD99999999999999999999".into(),
                ..n.clone()
            });
            // Another merchant's notification (Alipay's key, another app id).
            let other_app = s.sim.signed_notification(&Notification {
                notify_id: "other-1".into(),
                app_id: "2021999999999999".into(),
                ..n.clone()
            });
            for (what, body) in [
                ("forged", forged.as_str()),
                ("cheaper", cheaper.as_str()),
                ("unknown", unknown.as_str()),
                ("other app", other_app.as_str()),
                ("garbage", "sign=x&%zz"),
            ] {
                let e = p.payment_notification(body.as_bytes(), now()).unwrap_err();
                assert_eq!(e.code(), "payment_notification_refused", "{what}: {e}");
            }
            assert_eq!(audited(s, "payment_notification_refused"), 5);
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                0
            );
            assert_eq!(p.payment_order(d, now()).unwrap().state, "open");
            assert_eq!(ask(p, d, now()).unwrap_err().code(), "not_paid_yet");
            assert!((s.check_ok)());
        }

        pub fn an_order_query_records_the_payment_without_a_notification(s: &PaySubject) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            // Paid, and the notification is lost on the way.
            s.sim.pay_silently(&order.qr_code).unwrap();
            let view = ask(p, d, now() + SignedDuration::from_secs(5)).unwrap();
            assert_eq!(view.amount.total(), order.amount);
            assert_eq!(
                Some(view.transaction_no.clone()),
                s.sim.order(&order.out_trade_no).unwrap().trade_no
            );
            let again = ask(p, d, now() + SignedDuration::from_secs(10)).unwrap();
            assert!(again.replayed);
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                1
            );
            // The notification arriving late after all records nothing new.
            let body = s
                .sim
                .order(&order.out_trade_no)
                .unwrap()
                .notification
                .unwrap();
            assert_eq!(
                p.payment_notification(body.as_bytes(), now()).unwrap(),
                NotifyAck::Duplicate
            );
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                1
            );
            assert!((s.check_ok)());
        }

        pub fn money_after_the_revert_is_refunded_never_lost(s: &PaySubject) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            let later = now() + SignedDuration::from_hours(2);
            assert_eq!(p.revert_due(later).unwrap().reverted.len(), 1);
            // The person pays the QR after the revert; the notification comes.
            let paid = s.sim.pay_silently(&order.qr_code).unwrap();
            let body = paid.notification.unwrap();
            assert_eq!(
                p.payment_notification(body.as_bytes(), later).unwrap(),
                NotifyAck::Refunding
            );
            // Refunded through alipay.trade.refund, for the whole amount; nothing recorded paid.
            let at_sim = s.sim.order(&order.out_trade_no).unwrap();
            assert!(at_sim.refunded.is_some(), "refunded at the provider");
            assert_eq!(at_sim.status, "TRADE_CLOSED");
            assert_eq!(p.payment_order(d, later).unwrap().state, "refunded");
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                0
            );
            assert_eq!(audited(s, "payment_late"), 1);
            assert_eq!(audited(s, "payment_refunded"), 1);
            // Again: nothing twice.
            assert_eq!(
                p.payment_notification(body.as_bytes(), later).unwrap(),
                NotifyAck::Duplicate
            );
            assert_eq!(audited(s, "payment_refunded"), 1);
            assert_eq!(
                ask(p, d, later).unwrap_err().code(),
                "payment_window_closed"
            );
            assert!((s.check_ok)());
        }

        pub fn a_payment_after_the_revert_without_notification_is_found_and_refunded(
            s: &PaySubject,
        ) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            let later = now() + SignedDuration::from_hours(2);
            // Paid after the deadline (before the sweep), and the notification is lost.
            s.sim.pay_silently(&order.qr_code).unwrap();
            // The revert sweep reverts, then asks the provider about the reverted orders.
            assert_eq!(p.revert_due(later).unwrap().reverted.len(), 1);
            assert!(s.sim.order(&order.out_trade_no).unwrap().refunded.is_some());
            assert_eq!(p.payment_order(d, later).unwrap().state, "refunded");
            assert_eq!(audited(s, "payment_refunded"), 1);
            // Another decision reverted unpaid: its order is closed; money arriving for it
            // anyway is refunded too.
            let who = id("李小红");
            let list = p.violations(&who, &car("渝A8K2L6"), later).unwrap();
            let other = p
                .handle(
                    &HandleRequest {
                        id_number: who,
                        vehicle: car("渝A8K2L6"),
                        violation_ids: vec![list.violations[0].facts.id.clone()],
                        kiosk_id: "K1".into(),
                    },
                    later,
                )
                .unwrap()
                .items
                .remove(0)
                .decision
                .number;
            let o2 = p.payment_order(&other, later).unwrap();
            let much_later = later + SignedDuration::from_hours(2);
            p.revert_due(much_later).unwrap();
            assert_eq!(p.payment_order(&other, much_later).unwrap().state, "closed");
            let paid = s.sim.pay_silently(&o2.qr_code).unwrap();
            assert_eq!(
                p.payment_notification(paid.notification.unwrap().as_bytes(), much_later)
                    .unwrap(),
                NotifyAck::Refunding
            );
            assert_eq!(
                p.payment_order(&other, much_later).unwrap().state,
                "refunded"
            );
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                0
            );
            assert!((s.check_ok)());
        }
    }
}
