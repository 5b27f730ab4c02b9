//! Issue 12's "done when": a kiosk and a server with `demo = false`, every provider real and played
//! by its simulator — Alipay 当面付's gateway (payment), Alibaba Cloud SMS, the face verification
//! service with the test camera, key files for vehicle QR codes and receipts, an audit key — run
//! card → face → handle → pay → receipt end to end. The fine is paid only after the phone paid the
//! provider's QR; the receipt's code is sealed by the server and verifies with the published key;
//! `db check` under the audit key is clean.

use super::*;
use crate::devices::camera::jpeg;
use crate::providers::alipay::sim as alipay_sim;
use crate::providers::face_sim::{self, FaceSim};
use crate::providers::sms_aliyun_sim::{self, SimClock, SimOptions};
use crate::store::audit::AuditKey;

const KIOSK: &str = "CQ-E2E-0001";
const APP_ID: &str = "2021000000000001";
const SMS_KEY_ID: &str = "LTAI-e2e";
const SMS_SECRET: &str = "e2e-secret-of-the-sms-account";
const PIN: &str = "802413";

fn free_addr() -> std::net::SocketAddr {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}").parse().unwrap()
}

/// The printed receipts' text (the `file:` printer appends each job's ESC/POS bytes).
fn printed_text(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    crate::devices::printer::render::to_text(&crate::devices::printer::render::parse(&bytes))
}

#[test]
fn a_kiosk_and_a_server_with_demo_false_run_card_face_handle_pay_receipt_on_real_providers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let now: Timestamp = DAY.parse().unwrap();

    // Keys: the audit key, the vehicle-QR and receipt signing keys, the kiosk's identity.
    let audit = AuditKey::write_new(&d.join("audit.key"), [7u8; 32]).unwrap();
    let qr_pub = crate::store::keyring::generate_key_file("qr-e2e", &d.join("qr.key")).unwrap();
    let receipt_pub =
        crate::store::keyring::generate_key_file("rc-e2e", &d.join("receipt.key")).unwrap();
    let kiosk_pub = crate::wire::auth::generate_key_file(&d.join("kiosk.key")).unwrap();
    std::fs::write(
        d.join("kiosks.toml"),
        format!("[kiosks.{KIOSK}]\npublic_key = \"{kiosk_pub}\"\nhall = \"测试大厅\"\n"),
    )
    .unwrap();

    // The city's data, its audit entries anchored under the audit key.
    let db = d.join("city.sqlite3");
    {
        let conn = crate::store::schema::open(&db).unwrap();
        let parts = crate::providers::platform_parts(
            &Default::default(),
            &Default::default(),
            &Default::default(),
        )
        .unwrap();
        let city = crate::store::platform::SqlitePlatform::new(
            conn,
            crate::rules::PolicyBook::embedded().unwrap(),
            parts.qr,
            parts.sms,
            parts.payments,
        )
        .with_audit_key(audit.clone());
        city.build_demo_city(&DemoOptions {
            persons: 30,
            seed: 1,
            anchor: ANCHOR.parse().unwrap(),
        })
        .unwrap();
    }

    // The simulators: Alipay's gateway (and the person's phone), the SMS service, the face
    // verification service.
    let phone = alipay_sim::spawn(free_addr(), APP_ID, alipay_sim::test_keys()).unwrap();
    phone.keys.write(d).unwrap();
    let sms = sms_aliyun_sim::spawn(
        SimOptions::kiosk(SMS_KEY_ID, SMS_SECRET, SimClock::Request),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("sms.secret"), format!("{SMS_SECRET}\n")).unwrap();
    let faces = FaceSim::default();
    let face_url = face_sim::spawn(faces.clone()).unwrap();

    // The server: demo = false, no --demo, every provider real.
    let listen = free_addr();
    let server_config = crate::config::ServerConfig {
        demo: false,
        payment: crate::config::PaymentSection {
            provider: "alipay".into(),
            gateway: phone.gateway(),
            app_id: APP_ID.into(),
            private_key_file: Some(d.join(alipay_sim::APP_PRIVATE_KEY_FILE)),
            alipay_public_key_file: Some(d.join(alipay_sim::ALIPAY_PUBLIC_KEY_FILE)),
            notify_url: format!("http://{listen}/notify/alipay"),
        },
        sms: crate::config::SmsSection {
            provider: "aliyun".into(),
            endpoint: sms.endpoint(),
            access_key_id: SMS_KEY_ID.into(),
            secret_file: d.join("sms.secret").display().to_string(),
            sign_name: "交管12123".into(),
            template_code: "SMS_100000001".into(),
            filing_template_code: "SMS_100000002".into(),
            timeout_secs: 5,
        },
        qr: crate::config::QrSection {
            provider: "keyfile".into(),
            signing_key_file: d.join("qr.key").display().to_string(),
            receipt_key_file: d.join("receipt.key").display().to_string(),
            public_keys: vec![qr_pub.clone()],
            receipt_public_keys: vec![receipt_pub.clone()],
        },
        audit: crate::config::AuditSection {
            key_file: d.join("audit.key").display().to_string(),
        },
        notify: Default::default(),
        retention: Default::default(),
    };
    assert!(
        server_config.production_refusals().is_empty(),
        "{:?}",
        server_config.production_refusals()
    );
    let addr = crate::server::spawn(crate::server::ServeOptions {
        database: db.display().to_string(),
        listen,
        demo: false,
        kiosks: Some(d.join("kiosks.toml")),
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: std::time::Duration::from_secs(3600),
        operators: None,
        config: server_config,
        remote_config: None,
        config_key: None,
    })
    .unwrap();

    // The kiosk: demo = false, the server's terminal with its own key, the real face check
    // (the test camera shows 李小红), the published keys, a hashed operator PIN, a file printer.
    let camera = d.join("camera");
    std::fs::create_dir(&camera).unwrap();
    let face = jpeg::synthetic(640, 480, b"li xiaohong");
    std::fs::write(camera.join("1.jpg"), &face).unwrap();
    let printer = d.join("printer.bin");
    let mut config = KioskConfig::embedded();
    config.kiosk.demo = false;
    config.kiosk.id = KIOSK.into();
    config.database.path = d.join("spool.sqlite3").display().to_string();
    config.platform.url = format!("http://{addr}");
    config.platform.key_file = d.join("kiosk.key").display().to_string();
    config.operator.pin = String::new();
    config.operator.pin_hash = crate::config::operator::hash_pin(PIN, b"e2e-salt-16bytes").unwrap();
    config.face.provider = "http".into();
    config.face.url = face_url;
    config.staff_call.provider = "platform".into();
    config.face.camera = format!("files:{}", camera.display());
    config.qr.provider = "keyfile".into();
    config.qr.public_keys = vec![qr_pub];
    config.qr.receipt_public_keys = vec![receipt_pub.clone()];
    config.devices.printer = format!("file:{}", printer.display());
    config.voice.enabled = false;
    assert!(
        config.production_refusals().is_empty(),
        "{:?}",
        config.production_refusals()
    );
    let Assembled {
        mut app,
        stop,
        demo,
        ..
    } = assemble(config, Clock::manual(now)).unwrap();
    assert!(demo.is_none(), "nothing demo runs with demo = false");
    let _stop = StopOnDrop(stop);
    let send = |app: &mut KioskApp, e: Event| {
        app.send(e);
        assert!(app.settle(SETTLE), "the worker did not answer");
    };
    let screen = |app: &KioskApp| app.state().session().map(|s| s.screen.clone());

    // Card → identity → the face check against the service.
    let store = crate::store::platform::SqlitePlatform::open_demo(&db).unwrap();
    let card = sim_source::demo_cards(&store)
        .into_iter()
        .find(|c| c.label == "李小红")
        .unwrap()
        .card;
    faces.register(&card.id_number, &face);
    send(&mut app, Event::CardPlaced(card));
    assert_eq!(screen(&app), Some(Screen::Identity));
    send(&mut app, Event::Ui(Action::Continue));
    assert_eq!(
        screen(&app),
        Some(Screen::Services),
        "{:?}",
        app.state().ctx().message
    );
    // Violations → 【阅读并同意】 → handled.
    send(&mut app, Event::Ui(Action::Open(Service::Violations)));
    let Some(Screen::Violations(sel)) = screen(&app) else {
        panic!("{:?} {:?}", screen(&app), app.state().ctx().message)
    };
    assert_eq!(sel.selected, [LXH_V1, LXH_V2]);
    send(&mut app, Event::Ui(Action::ToNotices));
    send(&mut app, Event::Ui(Action::Handle));
    assert!(
        matches!(screen(&app), Some(Screen::Payment { .. })),
        "{:?} {:?}",
        screen(&app),
        app.state().ctx().message
    );
    // Asking, and the screen's own polls, record nothing until the provider says so.
    for _ in 0..3 {
        send(&mut app, Event::Ui(Action::Pay));
        app.clock().advance(PAYMENT_POLL);
        let t = app.clock().now();
        send(&mut app, Event::Tick(t));
        assert!(matches!(screen(&app), Some(Screen::Payment { .. })));
    }
    let paid = |sql: &str| -> i64 {
        store
            .with_connection_ref(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
            .unwrap()
    };
    assert_eq!(
        paid("SELECT count(*) FROM payments WHERE method = 'alipay'"),
        0
    );
    // The phone pays each order's QR as the screen shows it (one order per decision).
    for part in 0..2 {
        let qr = store
            .with_connection_ref(|c| {
                Ok(c.query_row(
                    "SELECT qr_code FROM payment_orders WHERE state = 'open' ORDER BY decision_id LIMIT 1",
                    [],
                    |r| r.get::<_, String>(0),
                )?)
            })
            .unwrap_or_else(|e| panic!("order {part}: {e}"));
        let order = phone.pay(&qr, alipay_sim::Notify::Post).unwrap();
        // The gateway's signed notification reaches the server's POST /notify/alipay.
        for _ in 0..600 {
            if phone
                .order(&order.out_trade_no)
                .is_some_and(|o| o.delivered)
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        app.clock().advance(PAYMENT_POLL);
        let t = app.clock().now();
        send(&mut app, Event::Tick(t));
        if part == 0 {
            app.clock().advance(PAYMENT_POLL);
            let t = app.clock().now();
            send(&mut app, Event::Tick(t));
        }
    }
    let Some(Screen::Done {
        payment, printed, ..
    }) = screen(&app)
    else {
        panic!("{:?} {:?}", screen(&app), app.state().ctx().message)
    };
    assert_eq!(printed, PrintOutcome::Printed);
    assert_eq!(payment.amount, Fen(35000));
    assert_eq!(
        paid("SELECT count(*) FROM payments WHERE method = 'alipay'"),
        2,
        "paid on the provider's word, once per decision"
    );
    // The receipt: printed, its verification code sealed by the server, genuine under the
    // published receipt key, naming this kiosk.
    let sealed = payment.sealed_code.clone().expect("a sealed code");
    let text = printed_text(&printer);
    assert!(text.contains("350.00"), "{text}");
    let verifier = crate::providers::qr::keys(
        &crate::config::QrSection {
            provider: "keyfile".into(),
            receipt_public_keys: vec![receipt_pub],
            ..Default::default()
        },
        crate::providers::qr::Role::Verifier,
    )
    .unwrap();
    let code = verifier.verify_receipt(&sealed.encode()).expect("genuine");
    assert!(format!("{code:?}").contains(KIOSK), "{code:?}");
    // The record holds: every payment and decision audited, the chain anchored under the key.
    let report = store
        .read_sql(|tx| Ok(crate::store::check::run_with(tx, &audit)?))
        .unwrap();
    assert!(report.ok(), "{:#?}", report.breaches);
    // Card taken: the session ends.
    send(&mut app, Event::CardRemoved);
    assert!(matches!(app.state(), State::Attract { .. }));
}

struct StopOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
