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
use kiosk::domain::receipt_code::ReceiptKind as ReceiptCodeKind;
use kiosk::providers::sms_aliyun::AliyunSms;
use kiosk::providers::sms_aliyun_sim::{self, SimClock, SimHandle, SimOptions};
use kiosk::store::demo::{DEMO_PERSONS, DemoOptions};
use kiosk::store::platform::*;
use kiosk::store::token::QrKeys;
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

/// What a scenario gets: the platform, and the looks behind it a test needs: the code of an SMS
/// as the phone shows it (the SMS simulator's inbox, or the demo gateway's phone through the
/// server), every text value in the database, and a count by SQL.
pub struct Subject {
    pub platform: Arc<dyn Platform>,
    pub sms_code: Box<dyn Fn(i64) -> String>,
    pub texts: Box<dyn Fn() -> Vec<String>>,
    pub count: Box<dyn Fn(&str) -> i64>,
    /// The fleet page's staff calls since a time, read from the store behind the platform.
    pub staff_calls: Box<dyn Fn(Timestamp) -> Vec<kiosk::store::platform::fleet::StaffCallRow>>,
    /// The server's retention sweep on the store behind the platform: `(now, keep, batch)`.
    pub purge_events: Box<dyn Fn(Timestamp, SignedDuration, u32) -> PurgeReport>,
    /// `kiosk db check` on the store behind the platform: whether it is clean.
    pub check_ok: Box<dyn Fn() -> bool>,
}

impl Subject {
    fn p(&self) -> &dyn Platform {
        self.platform.as_ref()
    }
}

/// The AccessKey the simulator accepts and the adapter signs with.
const SMS_KEY_ID: &str = "LTAIkioskContract";
const SMS_SECRET: &str = "contract-secret";

/// An in-process Alibaba Cloud SMS simulator on the requests' clock (the scenarios play a fixed
/// day in 2022).
fn sms_simulator() -> SimHandle {
    sms_aliyun_sim::spawn(
        SimOptions::kiosk(SMS_KEY_ID, SMS_SECRET, SimClock::Request),
        "127.0.0.1:0".parse().unwrap(),
    )
    .expect("the SMS simulator starts")
}

/// The adapter configured for the simulator, signing with `secret`.
fn aliyun_gateway(sim: &SimHandle, secret: &str) -> Box<dyn kiosk::store::sms::SmsGateway> {
    let section = kiosk::config::SmsSection {
        provider: "aliyun".into(),
        endpoint: sim.endpoint(),
        access_key_id: SMS_KEY_ID.into(),
        secret_file: "unused".into(),
        sign_name: "交管12123".into(),
        template_code: "SMS_100000001".into(),
        filing_template_code: "SMS_100000002".into(),
        timeout_secs: 5,
    };
    Box::new(AliyunSms::new(&section, secret.into()))
}

fn with_gateway<B: Backend>(
    backend: B,
    sms: Box<dyn kiosk::store::sms::SmsGateway>,
) -> StorePlatform<B> {
    StorePlatform::with_backend(
        backend,
        kiosk::rules::PolicyBook::embedded().unwrap(),
        kiosk::store::token::QrKeys::demo(),
        sms,
        Box::new(kiosk::store::payment::DemoPaymentProvider),
    )
}

/// The code in the message the simulator delivered for `sms_codes` row `outbox_id`.
fn code_in_inbox(sim: &SimHandle, outbox_id: i64) -> String {
    sim.sim
        .all_messages()
        .into_iter()
        .find(|m| m.out_id.as_deref() == Some(outbox_id.to_string().as_str()))
        .expect("the SMS in the simulator's inbox")
        .params["code"]
        .clone()
}

/// Every text (and blob) value of every table, on either backend.
fn all_texts<B: Backend>(p: &StorePlatform<B>) -> Vec<String> {
    p.read_sql(|tx| {
        let pg = tx.dialect() == kiosk::store::sql::Dialect::Postgres;
        // (table, column, whether it holds bytes)
        let mut columns: Vec<(String, String, bool)> = Vec::new();
        if pg {
            for r in tx.query(
                "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying', 'bytea')",
                &[],
            )? {
                let ty: String = r.get(2)?;
                columns.push((r.get(0)?, r.get(1)?, ty == "bytea"));
            }
        } else {
            let tables: Vec<String> =
                tx.column("SELECT name FROM sqlite_master WHERE type = 'table'", &[])?;
            for t in tables {
                for r in tx.query(&format!("SELECT name, type FROM pragma_table_info('{t}')"), &[])? {
                    let (name, ty): (String, String) = (r.get(0)?, r.get(1)?);
                    if ty.eq_ignore_ascii_case("TEXT") || ty.eq_ignore_ascii_case("BLOB") {
                        columns.push((t.clone(), name, false));
                    }
                }
            }
        }
        assert!(columns.iter().any(|(t, _, _)| t == "sms_codes"), "{columns:?}");
        let mut out = Vec::new();
        for (t, c, bytes) in columns {
            let sql = match (pg, bytes) {
                (true, true) => format!("SELECT encode(\"{c}\", 'escape') FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"),
                (true, false) => format!("SELECT \"{c}\"::text FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"),
                (false, _) => format!("SELECT CAST(\"{c}\" AS TEXT) FROM \"{t}\" WHERE \"{c}\" IS NOT NULL"),
            };
            out.extend(tx.column::<String>(&sql, &[])?);
        }
        Ok(out)
    })
    .unwrap()
}

fn count_in<B: Backend>(p: &StorePlatform<B>, sql: &str) -> i64 {
    p.read_sql(|tx| Ok(tx.one::<i64>(sql, &[])?)).unwrap()
}

fn subject<B: Backend>(backend: B) -> Subject {
    let sim = sms_simulator();
    let p = with_gateway(backend, aliyun_gateway(&sim, SMS_SECRET));
    p.build_demo_city(&city_options()).expect("demo city");
    let p = Arc::new(p);
    let (q, r, f, g, h) = (p.clone(), p.clone(), p.clone(), p.clone(), p.clone());
    Subject {
        platform: p,
        sms_code: Box::new(move |outbox_id| code_in_inbox(&sim, outbox_id)),
        texts: Box::new(move || all_texts(&q)),
        count: Box::new(move |sql| count_in(&r, sql)),
        staff_calls: Box::new(move |since| {
            use kiosk::store::platform::fleet::FleetSource as _;
            f.staff_calls(since).unwrap()
        }),
        purge_events: Box::new(move |now, keep, batch| {
            g.purge_kiosk_events(now, keep, batch).unwrap()
        }),
        check_ok: Box::new(move || h.check().unwrap().ok()),
    }
}

fn make_sqlite() -> Subject {
    subject(Sqlite::new(schema::open_in_memory().unwrap()))
}

fn make_pg() -> Subject {
    let url = support::pg::fresh_database("contract");
    subject(Pg::connect(&url, 4).unwrap())
}

/// A kiosk's `RemotePlatform` calling `kiosk serve` (in this process, the demo identity) on a
/// fresh PostgreSQL demo city: every scenario through the wire, the signed requests and the
/// server's idempotency ledger. The server runs the demo SMS gateway: the phone's messages are
/// read through its demo-only `sms_outbox` (the demo phone), the database beside the server.
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
        operators: None,
        config: Default::default(),
        remote_config: None,
        config_key: None,
    })
    .expect("kiosk serve starts");
    let remote = Arc::new(
        kiosk::remote::RemotePlatform::new(
            &format!("http://{addr}"),
            kiosk::wire::auth::KioskIdentity::demo(),
        )
        .unwrap(),
    );
    let phone = remote.clone();
    let (q, r, f, g) = (store.clone(), store.clone(), store.clone(), store.clone());
    let h = store;
    Subject {
        platform: remote,
        sms_code: Box::new(move |outbox_id| {
            phone
                .sms_outbox(1000)
                .unwrap()
                .into_iter()
                .find(|e| e.id == outbox_id)
                .and_then(|e| e.message)
                .expect("the SMS on the demo phone")
                .code
        }),
        texts: Box::new(move || all_texts(&q)),
        count: Box::new(move |sql| count_in(&r, sql)),
        staff_calls: Box::new(move |since| {
            use kiosk::store::platform::fleet::FleetSource as _;
            f.staff_calls(since).unwrap()
        }),
        purge_events: Box::new(move |now, keep, batch| {
            g.purge_kiosk_events(now, keep, batch).unwrap()
        }),
        check_ok: Box::new(move || h.check().unwrap().ok()),
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
                staff_calls_are_listed_newest_first_since_a_time,
                old_kiosk_events_are_purged_and_recent_ones_kept,
                receipts_are_kept_for_reprint,
                revert_after_the_window,
                register_with_the_sms_code,
                filing_by_sms_code,
                a_checked_filing_code_then_files,
                a_wrong_filing_code_checked_counts_a_try_and_files_nothing,
                five_wrong_checks_burn_the_filing_code,
                a_checked_filing_code_is_for_its_plate_and_applicant,
                payment_receipts_are_sealed_by_the_platform,
                sms_limits_say_when_to_try_again,
                sms_codes_never_rest_in_clear,
                the_outbox_keeps_no_delivered_code,
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
            p.send_register_code("K1", "12345", now())
                .unwrap_err()
                .code(),
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

    /// 呼叫工作人员 as a `staff_call` kiosk event: the fleet page's query lists the calls since a
    /// time, newest first, and nothing else.
    pub fn staff_calls_are_listed_newest_first_since_a_time(s: &Subject) {
        let p = s.p();
        let call = |kiosk: &str, detail: &str, at: Timestamp| {
            p.record_kiosk_event(
                &KioskEventRequest {
                    kiosk_id: kiosk.into(),
                    kind: "staff_call".into(),
                    detail: detail.into(),
                },
                at,
            )
            .unwrap()
        };
        let t = now();
        call(
            "K-OLD",
            "reason=help step=card",
            t - SignedDuration::from_mins(31),
        );
        call(
            "K1",
            "reason=face_service_down step=face",
            t - SignedDuration::from_mins(5),
        );
        call("K2", "reason=refusal step=violations", t);
        p.record_kiosk_event(
            &KioskEventRequest {
                kiosk_id: "K3".into(),
                kind: "offline".into(),
                detail: String::new(),
            },
            t,
        )
        .unwrap();
        // (through the server the authenticated kiosk's id is written over the body's)
        let listed: Vec<(String, Timestamp)> = (s.staff_calls)(t - SignedDuration::from_mins(30))
            .into_iter()
            .map(|c| (c.detail, c.at))
            .collect();
        assert_eq!(
            listed,
            vec![
                ("reason=refusal step=violations".into(), t),
                (
                    "reason=face_service_down step=face".into(),
                    t - SignedDuration::from_mins(5)
                ),
            ]
        );
    }

    /// The retention sweep deletes the kiosk events older than the period, kind by kind in
    /// batches (2 here: several transactions per kind), keeps the recent ones and the operator
    /// screen's PIN tries whatever their age, says so once in the audit log, and leaves
    /// `db check` clean; a second sweep finds nothing.
    pub fn old_kiosk_events_are_purged_and_recent_ones_kept(s: &Subject) {
        let p = s.p();
        let t = now();
        let days = |n: i64| SignedDuration::from_hours(24 * n);
        let event = |kind: &str, at: Timestamp| {
            p.record_kiosk_event(
                &KioskEventRequest {
                    kiosk_id: "K1".into(),
                    kind: kind.into(),
                    detail: String::new(),
                },
                at,
            )
            .unwrap();
        };
        for d in [200, 120, 100, 91] {
            event("heartbeat", t - days(d));
        }
        event("staff_call", t - days(95));
        event(
            "printer_out_of_paper",
            t - days(90) - SignedDuration::from_secs(1),
        );
        event("operator_pin_wrong", t - days(300));
        for d in [89, 1, 0] {
            event("heartbeat", t - days(d));
        }
        event("staff_call", t - SignedDuration::from_mins(3));
        let audits =
            || (s.count)("SELECT count(*) FROM audit_log WHERE action = 'kiosk_events_purged'");
        let (events_before, audits_before) =
            ((s.count)("SELECT count(*) FROM kiosk_events"), audits());
        let r = (s.purge_events)(t, days(90), 2);
        assert_eq!(r.deleted, 6, "{r:?}");
        assert!(r.batches >= 4, "batches of 2: {r:?}");
        assert_eq!(
            (s.count)("SELECT count(*) FROM kiosk_events"),
            events_before - 6
        );
        let cutoff = (t - days(90)).as_second();
        assert_eq!(
            (s.count)(&format!(
                "SELECT count(*) FROM kiosk_events WHERE at < {cutoff} AND kind NOT LIKE 'operator%'"
            )),
            0,
            "nothing older than 90 days but the PIN tries"
        );
        assert_eq!(
            (s.count)("SELECT count(*) FROM kiosk_events WHERE kind = 'operator_pin_wrong'"),
            1
        );
        assert_eq!(
            (s.count)(&format!(
                "SELECT count(*) FROM kiosk_events WHERE kind = 'heartbeat' AND at >= {cutoff}"
            )),
            3,
            "the recent heartbeats stay"
        );
        assert_eq!(audits(), audits_before + 1);
        assert!((s.check_ok)(), "db check is clean after the sweep");
        let again = (s.purge_events)(t, days(90), 2);
        assert_eq!(again.deleted, 0);
        assert_eq!(audits(), audits_before + 1, "an empty sweep writes nothing");
        // The open staff call is still listed.
        assert_eq!((s.staff_calls)(t - SignedDuration::from_mins(30)).len(), 1);
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

    /// The platform seals a payment receipt's verification code from its own record (every
    /// decision paid, their total, the latest payment time, the asking kiosk): genuine under the
    /// platform's receipt keys, and any change to it is not; nothing unpaid is sealed.
    pub fn payment_receipts_are_sealed_by_the_platform(s: &Subject) {
        let p = s.p();
        let who = id("李小红");
        let list = p.violations(&who, &car("渝A8K2L6"), now()).unwrap();
        let ids: Vec<String> = list.violations.iter().map(|v| v.facts.id.clone()).collect();
        let handled = p
            .handle(
                &HandleRequest {
                    id_number: who,
                    vehicle: car("渝A8K2L6"),
                    violation_ids: ids,
                    kiosk_id: "K7".into(),
                },
                now(),
            )
            .unwrap();
        let numbers: Vec<DecisionNumber> = handled
            .items
            .iter()
            .map(|i| i.decision.number.clone())
            .collect();
        assert_eq!(numbers.len(), 2);
        let seal = |numbers: &[DecisionNumber]| {
            p.seal_receipt(
                &SealRequest {
                    kiosk_id: "K7".into(),
                    decision_numbers: numbers.to_vec(),
                },
                now(),
            )
        };
        // Nothing unpaid is sealed.
        assert_eq!(seal(&numbers).unwrap_err().code(), "receipt_not_found");
        let mut total = kiosk::domain::Fen(0);
        for (i, n) in numbers.iter().enumerate() {
            let paid = p
                .pay(
                    &PayRequest {
                        decision_number: n.clone(),
                        idempotency_key: format!("seal-{i}"),
                        method: "demo".into(),
                    },
                    now(),
                )
                .unwrap();
            total += paid.amount.total();
        }
        let sealed = seal(&numbers).unwrap();
        let code = QrKeys::demo().verify_receipt(&sealed.code).unwrap();
        assert_eq!(code.kind, ReceiptCodeKind::Payment);
        assert_eq!(code.amount, total);
        assert_eq!(
            code.numbers().collect::<Vec<_>>(),
            numbers.iter().map(|n| n.as_str()).collect::<Vec<_>>()
        );
        // Through a server the authenticated kiosk is certified, never the body's.
        assert!(
            ["K7", kiosk::wire::auth::DEMO_KIOSK_ID].contains(&code.kiosk_id.as_str()),
            "{}",
            code.kiosk_id
        );
        assert_eq!(
            code.at,
            kiosk::rules::maintenance::local_time(now()),
            "the payment time, Beijing time"
        );
        // Altered amount: not genuine. Sealing again: the same text (deterministic).
        let altered = sealed.code.replacen(
            &format!("|{}|", total.as_fen()),
            &format!("|{}|", total.as_fen() - 100),
            1,
        );
        assert_ne!(altered, sealed.code);
        assert!(QrKeys::demo().verify_receipt(&altered).is_err());
        assert_eq!(seal(&numbers).unwrap(), sealed);
        // Refused: no decision, too many, an unknown one.
        assert_eq!(seal(&[]).unwrap_err().code(), "invalid_request");
        let many = vec![numbers[0].clone(); MAX_SEALED_DECISIONS + 1];
        assert_eq!(seal(&many).unwrap_err().code(), "invalid_request");
        assert_eq!(
            seal(&[DecisionNumber("no-such-decision".into())])
                .unwrap_err()
                .code(),
            "receipt_not_found"
        );
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
        let sent = p.send_register_code("K1", "13912345678", now()).unwrap();
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
        let sent = p
            .send_filing_code("K1", &who, &car("渝A6R2T8"), now())
            .unwrap();
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
        // Each refusal says how many tries are left (through the server too).
        for left in (0..5u32).rev() {
            let e = p.file_vehicle(&req("abc".into()), now()).unwrap_err();
            assert_eq!(e.code(), "sms_code_wrong");
            assert!(
                matches!(e, kiosk::store::StoreError::SmsCodeWrong { tries_left } if tries_left == left),
                "{e:?}"
            );
        }
        let code = (s.sms_code)(sent.outbox_id);
        assert_eq!(
            p.file_vehicle(&req(code), now()).unwrap_err().code(),
            "sms_code_expired"
        );
        // A second code within the minute is refused with the wait; a minute later it comes.
        let e = p
            .send_filing_code(
                "K1",
                &who,
                &car("渝A6R2T8"),
                now() + SignedDuration::from_secs(20),
            )
            .unwrap_err();
        assert_eq!(e.code(), "sms_rate_limited");
        assert!(
            e.to_string().contains("40秒") && e.to_string().contains("40 s"),
            "{e}"
        );
        let later = now() + SignedDuration::from_secs(60);
        let sent = p
            .send_filing_code("K1", &who, &car("渝A6R2T8"), later)
            .unwrap();
        let f = p
            .file_vehicle(&req((s.sms_code)(sent.outbox_id)), later)
            .unwrap();
        assert_eq!(f.state.code(), "pending_review");
    }

    /// 李小红 asks for the code to file 渝A6R2T8 (its owner's phone): the code, and the request
    /// that files with `code`.
    fn filing_code_sent(s: &Subject) -> (SmsSent, String, impl Fn(&str, &str) -> FilingRequest) {
        let sent = s
            .p()
            .send_filing_code("K1", &id("李小红"), &car("渝A6R2T8"), now())
            .unwrap();
        let code = (s.sms_code)(sent.outbox_id);
        let req = |who: &str, code: &str| FilingRequest {
            id_number: id(who),
            proof: FilingProof::SmsCode {
                vehicle: car("渝A6R2T8"),
                code: code.to_string(),
            },
        };
        (sent, code, req)
    }

    fn wrong_for(code: &str) -> &'static str {
        if code == "000000" { "111111" } else { "000000" }
    }

    const FILINGS: &str = "SELECT count(*) FROM filings";
    const AUDITED: &str = "SELECT count(*) FROM audit_log";
    /// The code's row as a right check must leave it: usable, unused, no wrong try.
    const UNTOUCHED: &str = "SELECT count(*) FROM sms_codes WHERE code_hash IS NOT NULL AND salt IS NOT NULL AND used_at IS NULL AND failed_attempts = 0";

    fn wrong_tries(s: &Subject) -> i64 {
        (s.count)("SELECT max(failed_attempts) FROM sms_codes")
    }

    /// A right code checked (as often as the person likes) changes nothing; the filing then
    /// checks it again and uses it; a used code passes no check.
    pub fn a_checked_filing_code_then_files(s: &Subject) {
        let p = s.p();
        let (sent, code, req) = filing_code_sent(s);
        let (filings, audited) = ((s.count)(FILINGS), (s.count)(AUDITED));
        assert_eq!((s.count)(UNTOUCHED), 1);
        for _ in 0..2 {
            let ok = p
                .check_filing_code(&id("李小红"), &car("渝A6R2T8"), &code, now())
                .unwrap();
            assert_eq!(ok.expires_at, sent.expires_at);
        }
        assert_eq!((s.count)(UNTOUCHED), 1, "a right check writes nothing");
        assert_eq!((s.count)(FILINGS), filings, "a check files nothing");
        assert_eq!((s.count)(AUDITED), audited, "nor audits anything");
        let later = now() + SignedDuration::from_secs(30);
        let f = p.file_vehicle(&req("李小红", &code), later).unwrap();
        assert_eq!(f.state.code(), "pending_review");
        assert_eq!(f.vehicle.plate.as_str(), "渝A6R2T8");
        assert_eq!((s.count)(FILINGS), filings + 1);
        assert_eq!(
            p.check_filing_code(&id("李小红"), &car("渝A6R2T8"), &code, later)
                .unwrap_err()
                .code(),
            "sms_code_expired",
            "a used code"
        );
    }

    /// A wrong code checked is refused with the tries left, one less each time, and files
    /// nothing; a wrong code at the filing counts on the same tries; the right code still files.
    pub fn a_wrong_filing_code_checked_counts_a_try_and_files_nothing(s: &Subject) {
        let p = s.p();
        let (_, code, req) = filing_code_sent(s);
        let wrong = wrong_for(&code);
        let filings = (s.count)(FILINGS);
        let e = p
            .check_filing_code(&id("李小红"), &car("渝A6R2T8"), wrong, now())
            .unwrap_err();
        assert!(
            matches!(e, kiosk::store::StoreError::SmsCodeWrong { tries_left: 4 }),
            "{e:?}"
        );
        assert_eq!(wrong_tries(s), 1, "the wrong try is counted (committed)");
        assert_eq!((s.count)(FILINGS), filings);
        // Not a 6-digit code at all: a wrong try like any other.
        let e = p
            .check_filing_code(&id("李小红"), &car("渝A6R2T8"), "abc", now())
            .unwrap_err();
        assert!(
            matches!(e, kiosk::store::StoreError::SmsCodeWrong { tries_left: 3 }),
            "{e:?}"
        );
        // The filing's own wrong try comes off the same count.
        let e = p.file_vehicle(&req("李小红", wrong), now()).unwrap_err();
        assert!(
            matches!(e, kiosk::store::StoreError::SmsCodeWrong { tries_left: 2 }),
            "{e:?}"
        );
        assert_eq!(wrong_tries(s), 3);
        assert_eq!((s.count)(FILINGS), filings);
        p.check_filing_code(&id("李小红"), &car("渝A6R2T8"), &code, now())
            .unwrap();
        assert_eq!(wrong_tries(s), 3, "a right check counts no try");
        let f = p.file_vehicle(&req("李小红", &code), now()).unwrap();
        assert_eq!(f.state.code(), "pending_review");
        assert_eq!((s.count)(FILINGS), filings + 1);
    }

    /// Five wrong checks burn the code: the right one then passes no check and files nothing,
    /// and the row keeps no hash.
    pub fn five_wrong_checks_burn_the_filing_code(s: &Subject) {
        let p = s.p();
        let (_, code, req) = filing_code_sent(s);
        let wrong = wrong_for(&code);
        let filings = (s.count)(FILINGS);
        for left in (0..5u32).rev() {
            let e = p
                .check_filing_code(&id("李小红"), &car("渝A6R2T8"), wrong, now())
                .unwrap_err();
            assert!(
                matches!(e, kiosk::store::StoreError::SmsCodeWrong { tries_left } if tries_left == left),
                "{e:?}"
            );
        }
        assert_eq!(
            p.check_filing_code(&id("李小红"), &car("渝A6R2T8"), &code, now())
                .unwrap_err()
                .code(),
            "sms_code_expired"
        );
        assert_eq!(
            p.file_vehicle(&req("李小红", &code), now())
                .unwrap_err()
                .code(),
            "sms_code_expired"
        );
        assert_eq!((s.count)(FILINGS), filings);
        assert_eq!(
            (s.count)("SELECT count(*) FROM sms_codes WHERE code_hash IS NOT NULL"),
            0,
            "a burned code keeps no hash"
        );
    }

    /// A code checked for 李小红 and 渝A6R2T8 is no code for another plate, nor for another
    /// person on the same plate (neither a check nor a filing), and those tries cost the real
    /// code nothing; it still files for her.
    pub fn a_checked_filing_code_is_for_its_plate_and_applicant(s: &Subject) {
        let p = s.p();
        let (_, code, req) = filing_code_sent(s);
        p.check_filing_code(&id("李小红"), &car("渝A6R2T8"), &code, now())
            .unwrap();
        let filings = (s.count)(FILINGS);
        assert_eq!(
            p.check_filing_code(&id("李小红"), &car("渝A4C6E2"), &code, now())
                .unwrap_err()
                .code(),
            "sms_code_expired",
            "another plate"
        );
        assert_eq!(
            p.check_filing_code(&id("张伟"), &car("渝A6R2T8"), &code, now())
                .unwrap_err()
                .code(),
            "sms_code_expired",
            "another person"
        );
        assert_eq!(
            p.file_vehicle(&req("张伟", &code), now())
                .unwrap_err()
                .code(),
            "sms_code_expired",
            "another person files with it"
        );
        let other_plate = FilingRequest {
            id_number: id("李小红"),
            proof: FilingProof::SmsCode {
                vehicle: car("渝A4C6E2"),
                code: code.clone(),
            },
        };
        assert_eq!(
            p.file_vehicle(&other_plate, now()).unwrap_err().code(),
            "sms_code_expired",
            "another plate filed with it"
        );
        assert_eq!((s.count)(FILINGS), filings);
        assert_eq!((s.count)(UNTOUCHED), 1, "the code is untouched");
        let f = p.file_vehicle(&req("李小红", &code), now()).unwrap();
        assert_eq!(f.vehicle.plate.as_str(), "渝A6R2T8");
    }

    /// Per phone: 1 a minute, 5 an hour; a refusal says when to try again (zh and en).
    pub fn sms_limits_say_when_to_try_again(s: &Subject) {
        let p = s.p();
        let phone = "13912340001";
        let at = |secs: i64| now() + SignedDuration::from_secs(secs);
        p.send_register_code("K1", phone, at(0)).unwrap();
        let e = p.send_register_code("K2", phone, at(30)).unwrap_err();
        assert_eq!(e.code(), "sms_rate_limited");
        assert!(
            e.to_string().contains("请30秒后再试") && e.to_string().contains("try again in 30 s"),
            "{e}"
        );
        for m in 1..5 {
            p.send_register_code("K1", phone, at(60 * m)).unwrap();
        }
        let e = p.send_register_code("K1", phone, at(600)).unwrap_err();
        assert_eq!(e.code(), "sms_rate_limited");
        assert!(
            e.to_string().contains("请50分钟后再试") && e.to_string().contains("50 min"),
            "the sixth in an hour waits until the first leaves the hour: {e}"
        );
        // Another phone is not held back; and the first phone again an hour after its first.
        p.send_register_code("K1", "13912340002", at(600)).unwrap();
        p.send_register_code("K1", phone, at(3600)).unwrap();
        assert_eq!(
            (s.count)("SELECT count(*) FROM sms_codes WHERE phone = '13912340001'"),
            6
        );
    }

    /// The code is in the phone's message, and nowhere in the database: every text value that
    /// contains it was already there before the code was sent (a phone or an ID number may hold
    /// the same six digits by chance).
    pub fn sms_codes_never_rest_in_clear(s: &Subject) {
        let p = s.p();
        let who = id("吴丽");
        let phone = "13912340003";
        let before: std::collections::HashSet<String> = (s.texts)().into_iter().collect();
        let sent = p.send_register_code("K1", phone, now()).unwrap();
        let code = (s.sms_code)(sent.outbox_id);
        assert_eq!(code.len(), 6);
        let scan = |when: &str| {
            for t in (s.texts)() {
                assert!(
                    before.contains(&t) || !t.contains(&code),
                    "{when}: the code is in clear in the database: {t:?}"
                );
            }
        };
        scan("sent");
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let req = RegisterRequest {
            id_number: who.clone(),
            phone: phone.into(),
            sms_code: wrong.into(),
        };
        assert_eq!(
            p.register(&req, now()).unwrap_err().code(),
            "sms_code_wrong"
        );
        scan("a wrong try");
        let req = RegisterRequest {
            sms_code: code.clone(),
            ..req
        };
        assert!(p.register(&req, now()).unwrap().registered);
        scan("registered");
        let listed = serde_json::to_string(
            &p.sms_outbox(100)
                .unwrap()
                .into_iter()
                .map(|mut e| {
                    e.message = None; // the demo phone's own screen
                    e
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
        assert!(
            !listed.contains(&code) && !listed.contains(phone),
            "{listed}"
        );
    }

    /// Once delivered and used (or burned, or expired), a row keeps no code hash: only what the
    /// limits need; a day later it is gone.
    pub fn the_outbox_keeps_no_delivered_code(s: &Subject) {
        let p = s.p();
        let live = "SELECT count(*) FROM sms_codes WHERE code_hash IS NOT NULL";
        let phone = "13912340004";
        let sent = p.send_register_code("K1", phone, now()).unwrap();
        assert_eq!((s.count)(live), 1, "one usable code, hashed");
        assert_eq!(
            (s.count)(
                "SELECT count(*) FROM sms_codes WHERE delivery = 'sent' AND provider_ref IS NOT NULL"
            ) + (s.count)(
                "SELECT count(*) FROM sms_codes WHERE delivery = 'sent' AND provider_ref IS NULL"
            ),
            1
        );
        let req = RegisterRequest {
            id_number: id("吴丽"),
            phone: phone.into(),
            sms_code: (s.sms_code)(sent.outbox_id),
        };
        assert!(p.register(&req, now()).unwrap().registered);
        assert_eq!((s.count)(live), 0, "a used code leaves no hash");
        // A code never used: its hash goes once it expired (at the next send, any phone).
        p.send_register_code("K1", "13912340005", now()).unwrap();
        assert_eq!((s.count)(live), 1);
        p.send_register_code("K1", "13912340006", now() + SignedDuration::from_mins(6))
            .unwrap();
        assert_eq!((s.count)(live), 1, "only the newest code is usable");
        // A day later the rows the limits needed are deleted.
        p.send_register_code("K1", "13912340007", now() + SignedDuration::from_hours(25))
            .unwrap();
        assert_eq!((s.count)("SELECT count(*) FROM sms_codes"), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// The race on PostgreSQL.
// ---------------------------------------------------------------------------------------------

/// Two kiosks (two threads on two pool connections, released together) ask for a code for the
/// same phone at the same instant, 100 rounds: exactly one gets it, the other is told to wait a
/// minute, and one row per phone is left. Then the same for the fifth and sixth code of an hour.
#[test]
fn postgres_two_kiosks_race_for_one_phones_sms_limit() {
    let url = support::pg::fresh_database("sms_race");
    let p = Arc::new(PgPlatform::connect_demo(&url, 4).unwrap());
    p.build_demo_city(&city_options()).expect("demo city");
    // Two fresh kiosk ids a round: the race is for the phone's limit, not a kiosk's hourly cap.
    let race = |phone: String, at: Timestamp| -> Vec<Result<SmsSent, String>> {
        let barrier = Arc::new(Barrier::new(2));
        let threads: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|k| {
                let kiosk = format!("K-{phone}-{k}");
                let (p, b, phone) = (p.clone(), barrier.clone(), phone.clone());
                std::thread::spawn(move || {
                    b.wait();
                    p.send_register_code(&kiosk, &phone, at)
                        .map_err(|e| format!("{} {e}", e.code()))
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    };
    let rounds = 100;
    for round in 0..rounds {
        let phone = format!("1360000{round:04}");
        let got = race(phone, now());
        let ok = got.iter().filter(|r| r.is_ok()).count();
        assert_eq!(ok, 1, "round {round}: {got:?}");
        let refused = got.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            refused.starts_with("sms_rate_limited") && refused.contains("请1分钟后再试"),
            "{refused}"
        );
    }
    let rows = p
        .read_sql(|tx| {
            Ok(tx.one::<i64>(
                "SELECT count(*) FROM sms_codes WHERE phone LIKE '1360000%'",
                &[],
            )?)
        })
        .unwrap();
    assert_eq!(rows, rounds);
    // The hour's limit: four codes, then two kiosks race for the fifth (and the sixth).
    let phone = "13700000001";
    for m in 0..4 {
        p.send_register_code("K1", phone, now() + SignedDuration::from_mins(m))
            .unwrap();
    }
    let got = race(phone.into(), now() + SignedDuration::from_mins(10));
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 1, "{got:?}");
    let got = race(phone.into(), now() + SignedDuration::from_mins(12));
    assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 0, "{got:?}");
    eprintln!("sms race: {rounds} rounds, one code per phone and instant");
}

/// A gateway signing with the wrong secret: the simulator refuses the signature
/// (`SignatureDoesNotMatch`), the send fails with `sms_gateway_failed`, no code is usable and
/// none reached the phone.
fn a_refused_signature_leaves_no_usable_code<B: Backend>(backend: B) {
    let sim = sms_simulator();
    let p = with_gateway(backend, aliyun_gateway(&sim, "not-the-secret"));
    p.build_demo_city(&city_options()).expect("demo city");
    let e = p
        .send_register_code("K1", "13912345678", now())
        .unwrap_err();
    assert_eq!(e.code(), "sms_gateway_failed");
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    assert!(sim.sim.all_messages().is_empty());
    assert_eq!(
        count_in(
            &p,
            "SELECT count(*) FROM sms_codes WHERE delivery = 'failed' AND code_hash IS NULL"
        ),
        1
    );
    let e = p
        .register(
            &RegisterRequest {
                id_number: id("吴丽"),
                phone: "13912345678".into(),
                sms_code: "123456".into(),
            },
            now(),
        )
        .unwrap_err();
    assert_eq!(e.code(), "sms_code_expired");
}

#[test]
fn sqlite_a_refused_signature_leaves_no_usable_code() {
    a_refused_signature_leaves_no_usable_code(Sqlite::new(schema::open_in_memory().unwrap()));
}

#[test]
fn postgres_a_refused_signature_leaves_no_usable_code() {
    let url = support::pg::fresh_database("sms_badsig");
    a_refused_signature_leaves_no_usable_code(Pg::connect(&url, 2).unwrap());
}

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
// Tamper evidence (issue 12, item 7): the audit chain anchored with a key the database does not
// hold, and every payment and decision audited, on both backends.
// ---------------------------------------------------------------------------------------------

/// Disable the append-only triggers and rewrite entry `from` (its detail) and every hash after
/// it, as an attacker with SQL access and the (public) hash function would.
fn recompute_chain_from(tx: &dyn kiosk::store::sql::Sql, from: i64) {
    use kiosk::store::sql::{Dialect, Value};
    match tx.dialect() {
        Dialect::Sqlite => tx.exec("DROP TRIGGER audit_log_no_update", &[]).unwrap(),
        Dialect::Postgres => tx
            .exec(
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
                &[],
            )
            .unwrap(),
    };
    let mut prev: String = tx
        .one(
            "SELECT prev_hash FROM audit_log WHERE seq = ?1",
            &[Value::Int(from)],
        )
        .unwrap();
    let rows = tx
        .query(
            "SELECT seq, at, action, subject, detail FROM audit_log WHERE seq >= ?1 ORDER BY seq",
            &[Value::Int(from)],
        )
        .unwrap();
    for r in &rows {
        let seq: i64 = r.get(0).unwrap();
        let at: i64 = r.get(1).unwrap();
        let action: String = r.get(2).unwrap();
        let subject: String = r.get(3).unwrap();
        let mut detail: String = r.get(4).unwrap();
        if seq == from {
            detail = r#"{"edited":true}"#.into();
        }
        let hash = kiosk::store::audit::entry_hash(&prev, seq, at, &action, &subject, &detail);
        tx.exec(
            "UPDATE audit_log SET detail = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            &[
                Value::Text(detail),
                Value::Text(prev.clone()),
                Value::Text(hash.clone()),
                Value::Int(seq),
            ],
        )
        .unwrap();
        prev = hash;
    }
}

fn the_audit_names_an_inserted_payment_and_a_recomputed_chain<B: Backend>(p: StorePlatform<B>) {
    use kiosk::store::audit::AuditKey;
    let key = AuditKey::from_bytes([42u8; 32]);
    let p = p.with_audit_key(key.clone());
    p.build_demo_city(&city_options()).unwrap();
    let clean = p.check().unwrap();
    assert!(clean.ok(), "the clean demo city: {:#?}", clean.breaches);
    // The anchors are append-only, as the log.
    for sql in [
        "UPDATE audit_anchors SET mac = 'x'",
        "DELETE FROM audit_anchors",
    ] {
        let e = p.write_sql(|tx| Ok(tx.exec(sql, &[])?));
        assert!(e.is_err(), "{sql} was allowed");
    }
    // Under another key (the demo's) the first entry's anchor is named.
    let other = p
        .read_sql(|tx| Ok(kiosk::store::check::run_with(tx, &AuditKey::demo())?))
        .unwrap();
    assert!(
        other
            .breaches
            .iter()
            .any(|b| b.invariant == "audit_chain_broken" && b.detail.starts_with("entry 1:")),
        "{:#?}",
        other.breaches
    );
    // Handle two decisions and pay the first through the platform: still clean.
    let who = id("李小红");
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
    assert!(handled.items.len() >= 2, "{handled:?}");
    p.pay(
        &PayRequest {
            decision_number: handled.items[0].decision.number.clone(),
            idempotency_key: "audited".into(),
            method: "demo".into(),
        },
        now(),
    )
    .unwrap();
    let r = p.check().unwrap();
    assert!(r.ok(), "{:#?}", r.breaches);
    // A payment inserted with SQL (the decision and violation set paid with it) is named.
    let forged = &handled.items[1].decision.number.0;
    let payment: i64 = p
        .write_sql(|tx| {
            use kiosk::store::sql::Value;
            let pid: i64 = tx.one(
                "INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
                 SELECT id, 'forged', 'cash', 'T-FORGED', fine_fen, 0, 0, fine_fen, 0 FROM decisions WHERE number = ?1 RETURNING id",
                &[Value::Text(forged.clone())],
            )?;
            tx.exec("UPDATE decisions SET state = 'paid' WHERE number = ?1", &[Value::Text(forged.clone())])?;
            tx.exec(
                "UPDATE violations SET state = 'paid' WHERE decision_id = (SELECT id FROM decisions WHERE number = ?1)",
                &[Value::Text(forged.clone())],
            )?;
            Ok(pid)
        })
        .unwrap();
    let r = p.check().unwrap();
    let named: Vec<_> = r
        .breaches
        .iter()
        .filter(|b| b.invariant == "payment_not_audited")
        .collect();
    assert_eq!(named.len(), 1, "{:#?}", r.breaches);
    assert!(
        named[0]
            .detail
            .starts_with(&format!("payment {payment} on decision {forged}")),
        "{named:?}"
    );
    // A decision inserted with SQL is named too.
    p.write_sql(|tx| {
        tx.exec(
            "INSERT INTO decisions (id, number, violation_id, person_id, channel, decided_at, payment_deadline, state, fine_fen, points)
             SELECT 900000, 'FORGED-1', violation_id, person_id, 'elsewhere', decided_at, payment_deadline, 'reverted', fine_fen, 0 FROM decisions WHERE number = ?1",
            &[kiosk::store::sql::Value::Text(forged.clone())],
        )?;
        Ok(())
    })
    .unwrap();
    let r = p.check().unwrap();
    assert!(
        r.breaches
            .iter()
            .any(|b| b.invariant == "decision_not_audited" && b.detail.contains("FORGED-1")),
        "{:#?}",
        r.breaches
    );
    // An entry edited and the whole chain recomputed with SQL: its anchor fails, and it is the
    // first entry named.
    let last: i64 = p
        .read_sql(|tx| Ok(tx.one("SELECT max(seq) FROM audit_log", &[])?))
        .unwrap();
    let edited = last - 1;
    p.write_sql(|tx| {
        recompute_chain_from(tx, edited);
        Ok(())
    })
    .unwrap();
    let r = p.check().unwrap();
    let broken: Vec<_> = r
        .breaches
        .iter()
        .filter(|b| b.invariant == "audit_chain_broken")
        .collect();
    assert_eq!(broken.len(), 1, "{:#?}", r.breaches);
    assert!(
        broken[0].detail.starts_with(&format!("entry {edited}:"))
            && broken[0].detail.contains("anchor"),
        "{broken:?}"
    );
}

#[test]
fn sqlite_the_audit_names_an_inserted_payment_and_a_recomputed_chain() {
    the_audit_names_an_inserted_payment_and_a_recomputed_chain(
        SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap(),
    );
}

#[test]
fn postgres_the_audit_names_an_inserted_payment_and_a_recomputed_chain() {
    let url = support::pg::fresh_database("audit_anchor");
    the_audit_names_an_inserted_payment_and_a_recomputed_chain(
        PgPlatform::connect_demo(&url, 2).unwrap(),
    );
}

/// `kiosk sim sms --listen ADDR`: the simulator as a process, on the machine's clock; the adapter
/// delivers to it, the phone's inbox shows the message, a wrong secret is refused.
#[test]
fn the_sms_simulator_command_accepts_the_adapter_and_refuses_a_bad_signature() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{SMS_SECRET}\n")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "sim",
            "sms",
            "--listen",
            "127.0.0.1:0",
            "--access-key-id",
            SMS_KEY_ID,
        ])
        .arg("--secret-file")
        .arg(&secret)
        .env("KIOSK_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    let section = kiosk::config::SmsSection {
        provider: "aliyun".into(),
        endpoint: endpoint.clone(),
        access_key_id: SMS_KEY_ID.into(),
        secret_file: secret.display().to_string(),
        sign_name: "交管12123".into(),
        template_code: "SMS_100000001".into(),
        filing_template_code: "SMS_100000002".into(),
        timeout_secs: 5,
    };
    let message = kiosk::store::sms::SmsMessage {
        id: 41,
        phone: "13912345678".into(),
        template: kiosk::store::sms::SmsTemplate::Register,
        code: "246813".into(),
        at: Timestamp::now(),
    };
    let good = AliyunSms::from_section(&section).unwrap();
    use kiosk::store::sms::SmsGateway as _;
    assert!(good.deliver(&message).unwrap().provider_ref.is_some());
    let bad = AliyunSms::new(&section, "guessed".into());
    let e = bad.deliver(&message).unwrap_err();
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    let inbox: Vec<kiosk::providers::sms_aliyun_sim::SimMessage> = serde_json::from_str(
        &ureq::get(format!("{endpoint}sim/inbox?phone=13912345678"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(
        inbox[0].text,
        "【交管12123】您的注册验证码为246813，5分钟内有效。"
    );
    assert_eq!(inbox[0].out_id.as_deref(), Some("41"));
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
    /// Audit rows a minute for refused notifications whose signature does not hold, on every
    /// subject (`kiosk serve`'s `[notify] refused_audited_per_minute`).
    const REFUSALS_AUDITED: u32 = 10;

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
        let p = p
            .with_payments(provider(&sim, "http://127.0.0.1:9/notify/alipay"))
            .with_refusal_gate(Arc::new(kiosk::server::notify::NotifyGuard::new(
                REFUSALS_AUDITED,
            )));
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
            operators: None,
            config: kiosk::config::ServerConfig {
                payment: PaymentSection {
                    provider: "alipay".into(),
                    gateway: sim.gateway(),
                    app_id: APP_ID.into(),
                    private_key_file: Some(dir.join(sim::APP_PRIVATE_KEY_FILE)),
                    alipay_public_key_file: Some(dir.join(sim::ALIPAY_PUBLIC_KEY_FILE)),
                    notify_url: format!("http://{listen}/notify/alipay"),
                },
                notify: kiosk::config::NotifySection {
                    refused_audited_per_minute: REFUSALS_AUDITED,
                    ..Default::default()
                },
                ..Default::default()
            },
            remote_config: None,
            config_key: None,
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
                    a_flood_of_forged_notifications_is_audited_up_to_the_cap_and_a_real_one_records,
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
            let paid = s.sim.pay(&order.qr_code, sim::Notify::Post).unwrap();
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

        pub fn a_flood_of_forged_notifications_is_audited_up_to_the_cap_and_a_real_one_records(
            s: &PaySubject,
        ) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            let real = s
                .sim
                .pay(&order.qr_code, sim::Notify::Lose)
                .unwrap()
                .notification
                .unwrap();
            let cap = i64::from(REFUSALS_AUDITED);
            // Signed with the app's own key (not Alipay's), each with its own notify id.
            let forged = |i: i64| {
                kiosk::providers::alipay::protocol::encode_form(
                    &kiosk::providers::alipay::protocol::signed_notification(
                        &s.sim.keys.app,
                        &Notification {
                            notify_id: format!("flood-{i}"),
                            app_id: APP_ID.into(),
                            out_trade_no: order.out_trade_no.clone(),
                            trade_no: format!("20221024{i:014}"),
                            trade_status: "TRADE_SUCCESS".into(),
                            total_amount: order.amount,
                        },
                        now(),
                    ),
                )
            };
            let refuse = |range: std::ops::Range<i64>| {
                for i in range {
                    let e = p
                        .payment_notification(forged(i).as_bytes(), now())
                        .unwrap_err();
                    assert_eq!(e.code(), "payment_notification_refused", "{i}: {e}");
                }
            };
            refuse(0..2 * cap);
            // Alipay's own, in the middle of the flood: recorded.
            assert_eq!(
                p.payment_notification(real.as_bytes(), now()).unwrap(),
                NotifyAck::Recorded
            );
            refuse(2 * cap..4 * cap);
            // The flood lasts far less than a minute: one window of the cap.
            assert_eq!(audited(s, "payment_notification_refused"), cap);
            assert_eq!(audited(s, "payment_confirmed"), 1);
            assert_eq!(
                (s.count)("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
                1
            );
            assert_eq!(p.payment_order(d, now()).unwrap().state, "paid");
            assert!((s.check_ok)());
        }

        pub fn an_order_query_records_the_payment_without_a_notification(s: &PaySubject) {
            let p = s.platform.as_ref();
            let item = handled(p);
            let d = &item.decision.number;
            let order = p.payment_order(d, now()).unwrap();
            // Paid, and the notification is lost on the way.
            s.sim.pay(&order.qr_code, sim::Notify::Lose).unwrap();
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
            let paid = s.sim.pay(&order.qr_code, sim::Notify::Lose).unwrap();
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
            s.sim.pay(&order.qr_code, sim::Notify::Lose).unwrap();
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
            let paid = s.sim.pay(&o2.qr_code, sim::Notify::Lose).unwrap();
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
