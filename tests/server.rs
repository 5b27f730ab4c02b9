//! `kiosk serve` as a subprocess over a temporary SQLite city, called through `RemotePlatform`,
//! raw signed HTTP and `kiosk platform --server`: every operation answers as the local store
//! does, retries replay, a key reused for another request is refused (422), a concurrent
//! duplicate is told so (409), identities are checked (401), and the demo identity is accepted
//! only by a demo server.

#[path = "support/remote.rs"]
mod remote;

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::{SignedDuration, Timestamp};
use kiosk::domain::{IdNumber, Plate, PlateType};
use kiosk::remote::{Attempt, RemotePlatform};
use kiosk::store::demo::{self, DEMO_PERSONS, DemoOptions};
use kiosk::store::platform::*;
use kiosk::store::{StoreError, schema};
use kiosk::wire::auth::KioskIdentity;
use kiosk::wire::ops::{Op, PayBody, WithNow};

/// 2022-10-24 11:06 in Chongqing: inside opening hours.
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
    VehicleKey::new(
        Plate::parse(plate).unwrap(),
        PlateType::parse("02").unwrap(),
    )
}

/// The demo city in `dir/name`.
fn city(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut c = schema::open(&path).unwrap();
    demo::build_city(
        &mut c,
        &DemoOptions {
            persons: 200,
            seed: 5,
            anchor: anchor(),
        },
    )
    .unwrap();
    path
}

fn count(db: &Path, sql: &str) -> i64 {
    let c = rusqlite::Connection::open(db).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn text<T: std::fmt::Debug>(r: &Result<T, StoreError>) -> String {
    match r {
        Ok(v) => format!("ok {v:?}"),
        Err(e) => format!("err {} {:?} {e}", e.code(), e.kind()),
    }
}

/// The SMS code the demo phone received for an outbox row, read through the platform (a demo
/// server serves the demo gateway's phone; the database keeps no code).
fn code_of(p: &dyn Platform, outbox_id: i64) -> String {
    p.sms_outbox(50)
        .unwrap()
        .into_iter()
        .find(|e| e.id == outbox_id)
        .and_then(|e| e.message)
        .expect("the demo phone received the code")
        .code
}

/// Every operation of the trait, answers and refusals, as text.
fn every_operation(p: &dyn Platform) -> Vec<String> {
    let mut out = Vec::new();
    let t = now();
    let lxh = id("李小红");
    let lxh_car = car("渝A8K2L6");
    out.push(text(&p.person(&lxh, t)));
    out.push(text(
        &p.person(&IdNumber::parse("11010519491231002X").unwrap(), t),
    ));
    out.push(text(&p.vehicles(&lxh, t)));
    out.push(text(&p.violations(&lxh, &lxh_car, t)));
    out.push(text(&p.violations(&lxh, &car("渝Z99999"), t)));
    out.push(text(&p.vehicle_by_plate(&lxh_car.plate, t)));
    out.push(text(
        &p.vehicle_by_plate(&Plate::parse("渝Z99999").unwrap(), t),
    ));
    out.push(text(&p.vehicle_owner(&car("渝A6R2T8"), t)));
    out.push(text(&p.filing_precheck(&lxh, &car("渝A6R2T8"), t)));
    // Handle, open the payment order, and pay (ask the provider), then again with the same key
    // and with another: the one payment, replayed (issue 12).
    let handled = p.handle(
        &HandleRequest {
            id_number: lxh.clone(),
            vehicle: lxh_car.clone(),
            violation_ids: vec!["5001000000000001".into()],
            kiosk_id: kiosk::wire::auth::DEMO_KIOSK_ID.into(),
        },
        t,
    );
    out.push(text(&handled));
    let number = handled.unwrap().items[0].decision.number.clone();
    let pay = |key: &str| {
        p.pay(
            &PayRequest {
                decision_number: number.clone(),
                idempotency_key: key.into(),
                method: "demo".into(),
            },
            t,
        )
    };
    out.push(text(&p.payment_order(&number, t)));
    out.push(text(&pay("pay-1")));
    out.push(text(&pay("pay-1")));
    out.push(text(&pay("pay-2")));
    out.push(text(&p.receipt(&number, ReceiptKind::Payment)));
    out.push(text(&p.receipt(&number, ReceiptKind::Handling)));
    out.push(text(
        &p.receipt(&DecisionNumber("0".into()), ReceiptKind::Payment),
    ));
    // Filing by the owner's QR code, review, the owner's list, unfiling.
    let owner = id("刘芳");
    let token = p.issue_vehicle_qr(&owner, &car("渝A6R2T8"), t);
    out.push(text(&token));
    let token = token.unwrap().token;
    out.push(text(&p.verify_vehicle_qr(&token, t)));
    out.push(text(&p.verify_vehicle_qr("not a token", t)));
    let filed = p.file_vehicle(
        &FilingRequest {
            id_number: lxh.clone(),
            proof: FilingProof::QrToken(token.clone()),
        },
        t,
    );
    out.push(text(&filed));
    let filing = filed.unwrap().id;
    out.push(text(&p.review_filing(filing, true, "ok", t)));
    out.push(text(&p.review_filing(filing, false, "", t)));
    out.push(text(&p.filings(&lxh, t)));
    out.push(text(&p.filings(&owner, t)));
    out.push(text(&p.unfile(&lxh, &car("渝A6R2T8"), t)));
    out.push(text(&p.unfile(&lxh, &car("渝A6R2T8"), t)));
    // The owner removes a filed driver.
    let wang = id("王建国");
    let on_his = p.filings(&wang, t).unwrap().on_my_vehicles;
    out.push(text(&p.remove_driver(&wang, on_his[0].id, t)));
    out.push(text(&p.remove_driver(&lxh, on_his[1].id, t)));
    // Filing by an SMS code to the owner.
    let sent = p.send_filing_code("K1", &lxh, &car("渝A6R2T8"), t);
    out.push(text(&sent));
    let code = code_of(p, sent.unwrap().outbox_id);
    let by_sms = |code: String| {
        p.file_vehicle(
            &FilingRequest {
                id_number: lxh.clone(),
                proof: FilingProof::SmsCode {
                    vehicle: car("渝A6R2T8"),
                    code,
                },
            },
            t,
        )
    };
    let wrong = if code == "000000" { "111111" } else { "000000" };
    // Checked at the code's entry (a wrong check and a wrong filing share the tries), then filed.
    out.push(text(&p.check_filing_code(&lxh, &car("渝A6R2T8"), wrong, t)));
    out.push(text(&by_sms(wrong.into())));
    out.push(text(&p.check_filing_code(&lxh, &car("渝A6R2T8"), &code, t)));
    out.push(text(&by_sms(code)));
    // Registering.
    let wu = id("吴丽");
    out.push(text(&p.send_register_code("K1", "12345", t)));
    let sent = p.send_register_code("K1", "13912345678", t);
    out.push(text(&sent));
    let code = code_of(p, sent.unwrap().outbox_id);
    let reg = RegisterRequest {
        id_number: wu.clone(),
        phone: "13912345678".into(),
        sms_code: code,
    };
    out.push(text(&p.register(&reg, t)));
    out.push(text(&p.register(&reg, t)));
    out.push(text(&p.sms_outbox(10).map(|v| v.len())));
    // Feedback, and the 六.2 revert of a handling left unpaid.
    out.push(text(&p.feedback(
        &FeedbackRequest {
            id_number: Some(lxh.clone()),
            kiosk_id: kiosk::wire::auth::DEMO_KIOSK_ID.into(),
            category: "general".into(),
            text: "好".into(),
        },
        t,
    )));
    out.push(text(&p.handle(
        &HandleRequest {
            id_number: lxh.clone(),
            vehicle: lxh_car.clone(),
            violation_ids: vec!["5001000000000002".into()],
            kiosk_id: kiosk::wire::auth::DEMO_KIOSK_ID.into(),
        },
        t,
    )));
    out.push(text(&p.revert_due(t + SignedDuration::from_hours(3))));
    out.push(text(&p.violations(
        &lxh,
        &lxh_car,
        t + SignedDuration::from_hours(3),
    )));
    out
}

#[test]
fn every_operation_answers_through_the_server_as_the_local_store_does() {
    let dir = tempfile::tempdir().unwrap();
    let local = SqlitePlatform::open_demo(&city(dir.path(), "local.sqlite3")).unwrap();
    let served = city(dir.path(), "served.sqlite3");
    let (_server, remote) = remote::start_remote(&served);
    let payments = count(&served, "SELECT COUNT(*) FROM payments");
    let want = every_operation(&local);
    let got = every_operation(&remote);
    assert_eq!(want.len(), got.len());
    for (w, g) in want.iter().zip(&got) {
        assert_eq!(w, g);
    }
    // The authenticated kiosk is recorded, whatever the body said.
    assert_eq!(
        count(
            &served,
            "SELECT COUNT(*) FROM decisions WHERE kiosk_id = 'demo-kiosk'"
        ),
        2
    );
    assert_eq!(
        count(&served, "SELECT COUNT(*) FROM payments"),
        payments + 1
    );
    let check = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["db", "check", "--path"])
        .arg(&served)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// A handled decision on `db`'s 李小红, through `p`.
fn handled_decision(p: &dyn Platform) -> DecisionNumber {
    p.handle(
        &HandleRequest {
            id_number: id("李小红"),
            vehicle: car("渝A8K2L6"),
            violation_ids: vec!["5001000000000001".into()],
            kiosk_id: String::new(),
        },
        now(),
    )
    .unwrap()
    .items[0]
        .decision
        .number
        .clone()
}

fn pay_body(number: &DecisionNumber, method: &str) -> PayBody {
    WithNow {
        request: PayRequest {
            decision_number: number.clone(),
            idempotency_key: "once".into(),
            method: method.into(),
        },
        now: now(),
    }
}

#[test]
fn a_retry_replays_the_answer_and_a_reused_key_or_a_running_duplicate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (_server, p) = remote::start_remote(&db);
    let number = handled_decision(&p);
    let payments = count(&db, "SELECT COUNT(*) FROM payments");
    let body = pay_body(&number, "demo");
    let first: PaymentView = p.call_with_key(Op::Pay, &body, Some("K-1")).unwrap();
    // The answer was lost; the kiosk sends the same request with the same key: the same answer,
    // nothing charged again.
    let again: PaymentView = p.call_with_key(Op::Pay, &body, Some("K-1")).unwrap();
    assert_eq!(first, again);
    assert!(
        !again.replayed,
        "the stored answer itself, not a second payment"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments + 1);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM idempotency WHERE state = 'done'"),
        2,
        "the handling and the payment"
    );
    // The same key for another request: 422.
    let other = pay_body(&number, "wechat");
    let raw = serde_json::to_vec(&other).unwrap();
    match p.attempt(
        Op::Pay,
        &raw,
        Some("K-1"),
        std::time::Duration::from_secs(5),
    ) {
        Attempt::Answer(status, _) => assert_eq!(status, 422),
        Attempt::Network(e) => panic!("{e}"),
    }
    let e = p
        .call_with_key::<_, PaymentView>(Op::Pay, &other, Some("K-1"))
        .unwrap_err();
    assert_eq!(e.code(), "idempotency_key_reused");
    // A duplicate while the first is still running on this server: 409, retried, then said.
    let health: serde_json::Value = ureq::get(format!("{}/healthz", _server.url))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let instance = health["instance"].as_str().unwrap().to_string();
    let running = pay_body(&number, "alipay");
    let raw = serde_json::to_vec(&running).unwrap();
    let fp = kiosk::server::fingerprint(Op::Pay, &raw);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute(
        "INSERT INTO idempotency (kiosk_id, key, fingerprint, instance, state, created_at, updated_at)
         VALUES ('demo-kiosk', 'K-2', ?1, ?2, 'in_flight', 0, 0)",
        rusqlite::params![fp, instance],
    )
    .unwrap();
    match p.attempt(
        Op::Pay,
        &raw,
        Some("K-2"),
        std::time::Duration::from_secs(5),
    ) {
        Attempt::Answer(status, _) => assert_eq!(status, 409),
        Attempt::Network(e) => panic!("{e}"),
    }
    let quick = RemotePlatform::new(&_server.url, KioskIdentity::demo())
        .unwrap()
        .with_retries(2, std::time::Duration::from_millis(20));
    let e = quick
        .call_with_key::<_, PaymentView>(Op::Pay, &running, Some("K-2"))
        .unwrap_err();
    assert_eq!(e.code(), "request_in_flight");
    // Left in flight by a server that died (another instance): taken over and run again; the
    // store's own key makes it the same payment.
    c.execute(
        "UPDATE idempotency SET instance = 'killed-instance' WHERE key = 'K-2'",
        [],
    )
    .unwrap();
    let taken: PaymentView = p.call_with_key(Op::Pay, &running, Some("K-2")).unwrap();
    assert!(
        taken.replayed,
        "the store's key: the first payment, not a new one"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments + 1);
}

/// A filing code's check writes a wrong try: its retry (the same key, the answer lost) replays
/// the answer and counts no second try; a new check (a new key) counts one.
#[test]
fn a_retried_wrong_filing_code_check_counts_one_try() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (_server, p) = remote::start_remote(&db);
    let lxh = id("李小红");
    let sent = p
        .send_filing_code("K1", &lxh, &car("渝A6R2T8"), now())
        .unwrap();
    let code = code_of(&p, sent.outbox_id);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let body = kiosk::wire::ops::FilingCode {
        id_number: lxh.clone(),
        vehicle: car("渝A6R2T8"),
        code: wrong.into(),
        now: now(),
    };
    let tries = || {
        count(
            &db,
            "SELECT failed_attempts FROM sms_codes ORDER BY id DESC LIMIT 1",
        )
    };
    for _ in 0..2 {
        let e = p
            .call_with_key::<_, FilingCodeChecked>(Op::CheckFilingCode, &body, Some("C-1"))
            .unwrap_err();
        assert!(
            matches!(e, StoreError::SmsCodeWrong { tries_left: 4 }),
            "{e:?}"
        );
        assert_eq!(tries(), 1);
    }
    let e = p
        .check_filing_code(&lxh, &car("渝A6R2T8"), wrong, now())
        .unwrap_err();
    assert!(
        matches!(e, StoreError::SmsCodeWrong { tries_left: 3 }),
        "{e:?}"
    );
    assert_eq!(tries(), 2);
    // Without a key it is refused, as every write is.
    let raw = serde_json::to_vec(&body).unwrap();
    match p.attempt(
        Op::CheckFilingCode,
        &raw,
        None,
        std::time::Duration::from_secs(5),
    ) {
        Attempt::Answer(status, _) => assert_eq!(status, 400),
        Attempt::Network(e) => panic!("{e}"),
    }
    assert_eq!(tries(), 2);
    let ok = p
        .check_filing_code(&lxh, &car("渝A6R2T8"), &code, now())
        .unwrap();
    assert_eq!(ok.expires_at, sent.expires_at);
}

#[test]
fn a_write_without_an_idempotency_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (_server, p) = remote::start_remote(&db);
    let raw = serde_json::to_vec(&pay_body(&DecisionNumber("1".into()), "demo")).unwrap();
    match p.attempt(Op::Pay, &raw, None, std::time::Duration::from_secs(5)) {
        Attempt::Answer(status, body) => {
            assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
        }
        Attempt::Network(e) => panic!("{e}"),
    }
    // A body over the bound is refused before anything reads it.
    let huge = vec![b' '; 100 * 1024];
    match p.attempt(
        Op::Pay,
        &huge,
        Some("big"),
        std::time::Duration::from_secs(5),
    ) {
        Attempt::Answer(status, _) => assert_eq!(status, 413),
        Attempt::Network(e) => panic!("{e}"),
    }
    // An unknown operation.
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let resp = agent
        .post(format!("{}/v1/drop_tables", _server.url))
        .send(&b"{}"[..])
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}

use remote::keygen;

/// One signed call with explicit headers: the status and the error code.
fn raw_call(url: &str, kiosk: &str, time: i64, signature: &str) -> (u16, String) {
    let body = br#"{"now":"2022-10-24T03:06:10Z"}"#;
    let resp = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
        .post(format!("{url}/v1/revert_due"))
        .header("x-kiosk-id", kiosk)
        .header("x-kiosk-time", time.to_string())
        .header("x-kiosk-signature", signature)
        .header("idempotency-key", "raw-1")
        .send(&body[..]);
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    let v: serde_json::Value = resp.body_mut().read_json().unwrap_or_default();
    (status, v["error"].as_str().unwrap_or("").to_string())
}

#[test]
fn only_listed_kiosks_with_a_good_signature_and_clock_are_served_and_never_the_demo_identity() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (key_file, public) = keygen(dir.path(), "k1.key");
    let kiosks = dir.path().join("kiosks.toml");
    std::fs::write(
        &kiosks,
        format!("[kiosks.CQ-T-1]\npublic_key = \"{public}\"\nhall = \"测试大厅\"\n"),
    )
    .unwrap();
    let config = remote::demo_parts_config(dir.path());
    let server = remote::start_server(
        &db,
        &[
            "--kiosks",
            kiosks.to_str().unwrap(),
            "--kiosk-clock",
            "--config",
            &config,
        ],
    );
    let me = KioskIdentity::from_key_file("CQ-T-1", &key_file).unwrap();
    let p = RemotePlatform::new(&server.url, me.clone()).unwrap();
    let number = handled_decision(&p);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM decisions WHERE kiosk_id = 'CQ-T-1'"
        ),
        1
    );
    assert!(p.receipt(&number, ReceiptKind::Handling).is_ok());
    // The demo SMS outbox is for demo servers only.
    assert_eq!(p.sms_outbox(1).unwrap_err().code(), "demo_only");
    let refused = |p: &RemotePlatform| p.person(&id("李小红"), now()).unwrap_err();
    // The demo identity: refused without --demo.
    let e = refused(&remote::demo_client(&server));
    assert_eq!(e.code(), "kiosk_unauthorized");
    assert!(e.to_string().contains("kiosk serve --demo"), "{e}");
    // A kiosk that is not listed.
    let (other_file, _) = keygen(dir.path(), "k2.key");
    let stranger = KioskIdentity::from_key_file("CQ-T-2", &other_file).unwrap();
    let e = refused(&RemotePlatform::new(&server.url, stranger).unwrap());
    assert_eq!(e.code(), "kiosk_unauthorized");
    assert!(e.to_string().contains("CQ-T-2"), "{e}");
    // A listed id signing with another key.
    let impostor = KioskIdentity::from_key_file("CQ-T-1", &other_file).unwrap();
    let e = refused(&RemotePlatform::new(&server.url, impostor).unwrap());
    assert_eq!(e.code(), "kiosk_unauthorized");
    assert!(e.to_string().contains("signature"), "{e}");
    // Raw requests: a good one, a stale clock, a bad signature, no signature.
    let body = br#"{"now":"2022-10-24T03:06:10Z"}"#;
    let t = Timestamp::now().as_second();
    let sig = me.sign("POST", "/v1/revert_due", t, "raw-1", body);
    assert_eq!(raw_call(&server.url, "CQ-T-1", t, &sig).0, 200);
    let stale = t - 301;
    let stale_sig = me.sign("POST", "/v1/revert_due", stale, "raw-1", body);
    assert_eq!(
        raw_call(&server.url, "CQ-T-1", stale, &stale_sig),
        (401, "kiosk_unauthorized".into())
    );
    let mut bad = sig.clone();
    bad.replace_range(0..2, if &sig[0..2] == "00" { "11" } else { "00" });
    assert_eq!(
        raw_call(&server.url, "CQ-T-1", t, &bad),
        (401, "kiosk_unauthorized".into())
    );
    assert_eq!(raw_call(&server.url, "CQ-T-1", t, "").0, 401);
}

#[test]
fn without_kiosk_clock_the_servers_clock_decides() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (key_file, public) = keygen(dir.path(), "k.key");
    let kiosks = dir.path().join("kiosks.toml");
    std::fs::write(
        &kiosks,
        format!("[kiosks.CQ-T-9]\npublic_key = \"{public}\"\n"),
    )
    .unwrap();
    let config = remote::demo_parts_config(dir.path());
    let server = remote::start_server(
        &db,
        &["--kiosks", kiosks.to_str().unwrap(), "--config", &config],
    );
    let me = KioskIdentity::from_key_file("CQ-T-9", &key_file).unwrap();
    let p = RemotePlatform::new(&server.url, me).unwrap();
    // The kiosk says it is 2022; the server records its own time.
    p.feedback(
        &FeedbackRequest {
            id_number: None,
            kiosk_id: "forged".into(),
            category: "general".into(),
            text: "时钟".into(),
        },
        now(),
    )
    .unwrap();
    let at = count(
        &db,
        "SELECT MAX(created_at) FROM feedback WHERE kiosk_id = 'CQ-T-9'",
    );
    assert!(
        (at - Timestamp::now().as_second()).abs() < 600,
        "recorded at {at}, the server's clock"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM feedback WHERE kiosk_id = 'forged'"
        ),
        0
    );
}

#[test]
fn a_demo_server_accepts_the_demo_identity_and_a_server_with_no_kiosks_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let (_server, p) = remote::start_remote(&db);
    assert!(p.person(&id("李小红"), now()).is_ok());
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--kiosks"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_server_that_is_gone_is_said_in_words() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = RemotePlatform::new(&format!("http://127.0.0.1:{port}"), KioskIdentity::demo())
        .unwrap()
        .with_retries(1, std::time::Duration::from_millis(10));
    let e = p.person(&id("李小红"), now()).unwrap_err();
    assert_eq!(e.code(), "platform_unavailable");
    assert!(e.to_string().starts_with("网络连接中断"), "{e}");
    assert!(e.to_string().contains("The network is down"), "{e}");
}

/// `kiosk platform ARGS…`: exit status and standard output.
fn platform_cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .arg("platform")
        .args(args)
        .env("KIOSK_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[test]
fn kiosk_platform_server_prints_what_kiosk_platform_db_prints() {
    let dir = tempfile::tempdir().unwrap();
    let local = city(dir.path(), "local.sqlite3");
    let served = city(dir.path(), "served.sqlite3");
    let server = remote::start_demo_server(&served);
    let t = now().to_string();
    let both = |args: &[&str]| -> (i32, String) {
        let mut db: Vec<&str> = vec!["--db", local.to_str().unwrap(), "--now", &t];
        db.extend_from_slice(args);
        let mut srv: Vec<&str> = vec!["--server", &server.url, "--now", &t];
        srv.extend_from_slice(args);
        // The demo phone's message carries a random code: compared with it blanked.
        let blank = |(code, out): (i32, String)| -> (i32, String) {
            let out = out
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("\"demo_phone\"") {
                        l.chars()
                            .map(|c| if c.is_ascii_digit() { '#' } else { c })
                            .collect()
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<String>>()
                .join("\n");
            (code, out)
        };
        let want = platform_cli(&db);
        let got = platform_cli(&srv);
        assert_eq!(blank(want.clone()), blank(got), "kiosk platform {args:?}");
        want
    };
    let lxh = DEMO_PERSONS[0].id_number;
    both(&["person", "--id", lxh]);
    both(&["violations", "--id", lxh, "--plate", "渝A8K2L6"]);
    let (code, handled) = both(&[
        "handle",
        "--id",
        lxh,
        "--plate",
        "渝A8K2L6",
        "--violation",
        "5001000000000001",
        "--kiosk",
        "demo-kiosk",
    ]);
    assert_eq!(code, 0, "{handled}");
    let v: serde_json::Value = serde_json::from_str(&handled).unwrap();
    let decision = v.to_string();
    let decision = decision
        .split("\"decision_number\":\"")
        .nth(1)
        .or_else(|| decision.split("\"number\":\"").nth(1))
        .and_then(|s| s.split('"').next())
        .expect("a decision number in the handle output")
        .to_string();
    let (code, paid) = both(&["pay", "--decision", &decision, "--key", "k-1"]);
    assert_eq!(code, 0, "{paid}");
    let (code, replayed) = both(&["pay", "--decision", &decision, "--key", "k-1"]);
    assert_eq!(code, 0);
    assert!(replayed.contains("\"replayed\": true"), "{replayed}");
    // Issue 12: `pay` asks the provider; asked again with another key, the one payment.
    let (code, again) = both(&["pay", "--decision", &decision, "--key", "k-2"]);
    assert_eq!(code, 0, "{again}");
    assert!(again.contains("\"replayed\": true"), "{again}");
    // Refusals: unknown things.
    assert_eq!(both(&["pay", "--decision", "0", "--key", "k-1"]).0, 1);
    assert_eq!(both(&["person", "--id", DEMO_PERSONS[1].id_number]).0, 0);
    assert_eq!(
        both(&["violations", "--id", lxh, "--plate", "渝Z99999"]).0,
        1
    );
    both(&["receipt", "--decision", &decision]);
    both(&["receipt", "--decision", &decision, "--kind", "handling"]);
    both(&["revert-due"]);
    assert_eq!(both(&["verify-qr", "--token", "nonsense"]).0, 1);
    // Filing by the owner's QR code, review, lists, unfiling, the owner removing a driver.
    let owner = DEMO_PERSONS
        .iter()
        .find(|p| p.name == "刘芳")
        .unwrap()
        .id_number;
    let (code, issued) = both(&["issue-qr", "--id", owner, "--plate", "渝A6R2T8"]);
    assert_eq!(code, 0, "{issued}");
    let issued: serde_json::Value = serde_json::from_str(&issued).unwrap();
    let token = issued["token"].as_str().expect("a token").to_string();
    assert_eq!(both(&["verify-qr", "--token", &token]).0, 0);
    let (code, filed) = both(&["file", "--id", lxh, "--token", &token]);
    assert_eq!(code, 0, "{filed}");
    let filed: serde_json::Value = serde_json::from_str(&filed).unwrap();
    let filing = filed["id"].to_string();
    assert_eq!(both(&["file", "--id", lxh, "--token", &token]).0, 1);
    assert_eq!(both(&["review", "--filing", &filing, "--approve"]).0, 0);
    assert_eq!(both(&["review", "--filing", &filing, "--reject"]).0, 1);
    both(&["filings", "--id", lxh]);
    both(&["filings", "--id", owner]);
    both(&["vehicles", "--id", lxh]);
    assert_eq!(both(&["unfile", "--id", lxh, "--plate", "渝A6R2T8"]).0, 0);
    assert_eq!(both(&["remove-driver", "--id", lxh, "--filing", "1"]).0, 1);
    // SMS verbs: the answers match; the codes themselves are random, so only the outbox's exit.
    assert_eq!(both(&["send-register-code", "--phone", "12345"]).0, 1);
    let (code, sent) = both(&["send-register-code", "--phone", "13912345678"]);
    assert_eq!(code, 0, "{sent}");
    assert!(
        sent.contains("\"demo_phone\": \"【交管12123】您的注册验证码为"),
        "{sent}"
    );
    let (code, filing_sent) = both(&["send-filing-code", "--id", lxh, "--plate", "渝A6R2T8"]);
    assert_eq!(code, 0, "{filing_sent}");
    // A wrong filing code checked: the same refusal, with the same tries left.
    let (code, checked) = both(&[
        "check-filing-code",
        "--id",
        lxh,
        "--plate",
        "渝A6R2T8",
        "--code",
        "x",
    ]);
    assert_eq!(code, 1, "{checked}");
    assert!(
        checked.contains("sms_code_wrong") && checked.contains("4"),
        "{checked}"
    );
    // The right one (the local city's, from its demo phone): its expiry, and still usable.
    let sent: serde_json::Value = serde_json::from_str(&filing_sent).unwrap();
    let text = sent["demo_phone"]
        .as_str()
        .expect("the demo phone's message");
    let right: String = text
        .split("验证码")
        .nth(1)
        .expect("a code in the message")
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    assert_eq!(right.len(), 6, "{text}");
    let check = |t: &str| {
        platform_cli(&[
            "--db",
            local.to_str().unwrap(),
            "--now",
            t,
            "check-filing-code",
            "--id",
            lxh,
            "--plate",
            "渝A6R2T8",
            "--code",
            &right,
        ])
    };
    for _ in 0..2 {
        let (code, out) = check(&t);
        assert_eq!(code, 0, "{out}");
        let out: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(out["expires_at"], sent["expires_at"], "{out}");
    }
    assert_eq!(
        both(&[
            "register",
            "--id",
            lxh,
            "--phone",
            "13912345678",
            "--code",
            "x"
        ])
        .0,
        1
    );
    assert_eq!(
        platform_cli(&["--server", &server.url, "sms-outbox", "--limit", "2"]).0,
        0
    );
    both(&[
        "feedback",
        "--id",
        lxh,
        "--text",
        "很好",
        "--kiosk",
        "demo-kiosk",
    ]);
    both(&["demo-persons"]);
}

#[test]
fn an_answer_kept_before_a_sigkill_is_replayed_by_the_next_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    let serve = |db: &Path| remote::start_server(db, &["--demo", "--revert-every", "0"]);
    let mut server = serve(&db);
    let p = remote::demo_client(&server);
    let number = handled_decision(&p);
    let payments = count(&db, "SELECT COUNT(*) FROM payments");
    let body = pay_body(&number, "demo");
    let first: PaymentView = p.call_with_key(Op::Pay, &body, Some("K-kill")).unwrap();
    server.kill(); // SIGKILL
    let _next = serve(&db);
    let p = remote::demo_client(&_next);
    let again: PaymentView = p.call_with_key(Op::Pay, &body, Some("K-kill")).unwrap();
    assert_eq!(first, again);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments + 1);
    let other = pay_body(&number, "wechat");
    let e = p
        .call_with_key::<_, PaymentView>(Op::Pay, &other, Some("K-kill"))
        .unwrap_err();
    assert_eq!(e.code(), "idempotency_key_reused");
}

/// A server that answers 503 twice, then a revert report; it keeps every request's
/// Idempotency-Key header.
fn flaky_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keys = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = keys.clone();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                if let Some(v) = lower.strip_prefix("idempotency-key:") {
                    seen.lock().unwrap().push(v.trim().to_string());
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let (status, text) = if n < 2 {
                ("503 Service Unavailable", "busy".to_string())
            } else {
                ("200 OK", r#"{"reverted":[]}"#.to_string())
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (url, keys)
}

#[test]
fn every_retry_of_a_call_carries_the_same_idempotency_key() {
    let (url, keys) = flaky_server();
    let p = RemotePlatform::new(&url, KioskIdentity::demo())
        .unwrap()
        .with_retries(3, std::time::Duration::from_millis(10));
    let report = p.revert_due(now()).unwrap();
    assert!(report.reverted.is_empty());
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "two 503s, then the answer");
    assert!(!keys[0].is_empty());
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    // The next call has a key of its own.
    let (url, keys) = flaky_server();
    let p = RemotePlatform::new(&url, KioskIdentity::demo())
        .unwrap()
        .with_retries(1, std::time::Duration::from_millis(10));
    let e = p.revert_due(now()).unwrap_err();
    assert_eq!(e.code(), "platform_unavailable", "{e}");
    assert_eq!(keys.lock().unwrap().len(), 2);
}

/// The server is SIGKILLed at a different instant of a payment each round; the kiosk retries with
/// its key against the next server: every retry gets the one payment, nothing is left in flight,
/// and the database's invariants hold.
#[test]
fn a_server_killed_mid_request_loses_nothing_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = city(dir.path(), "c.sqlite3");
    // The decisions are made on the test's clock (2022): no revert by the server's clock.
    let serve = |db: &Path| remote::start_server(db, &["--demo", "--revert-every", "0"]);
    let mut server = serve(&db);
    let number = handled_decision(&remote::demo_client(&server));
    let payments = count(&db, "SELECT COUNT(*) FROM payments");
    let body = pay_body(&number, "demo");
    let mut paid: Option<PaymentView> = None;
    let (mut unanswered, mut left_in_flight) = (0, 0);
    const ROUNDS: u64 = 50;
    for round in 0..ROUNDS {
        let key = format!("K-{round}");
        let (url, b, k) = (server.url.clone(), body.clone(), key.clone());
        let call = std::thread::spawn(move || {
            RemotePlatform::new(&url, KioskIdentity::demo())
                .unwrap()
                .with_retries(0, std::time::Duration::from_millis(1))
                .call_with_key::<_, PaymentView>(Op::Pay, &b, Some(&k))
        });
        std::thread::sleep(std::time::Duration::from_micros((round % 25) * 150));
        server.kill();
        if call.join().unwrap().is_err() {
            unanswered += 1;
        }
        left_in_flight += count(
            &db,
            "SELECT COUNT(*) FROM idempotency WHERE state = 'in_flight'",
        );
        server = serve(&db);
        let again: PaymentView = remote::demo_client(&server)
            .call_with_key(Op::Pay, &body, Some(&key))
            .unwrap();
        match &paid {
            None => paid = Some(again),
            Some(p) => assert_eq!(p.transaction_no, again.transaction_no, "round {round}"),
        }
    }
    assert_eq!(count(&db, "SELECT COUNT(*) FROM payments"), payments + 1);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM idempotency WHERE state = 'in_flight'"
        ),
        0
    );
    drop(server);
    let check = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(["db", "check", "--path"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    println!(
        "{ROUNDS} kills ({unanswered} before the answer, {left_in_flight} left in flight and taken over): one payment, nothing in flight, db check clean"
    );
}
