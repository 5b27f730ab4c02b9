//! Money on the provider's word from a shell (issue 12): `kiosk platform pay` asks the payment
//! provider `[payment]` names and records only what it confirms; with `demo = false` the demo
//! provider is refused; `kiosk sim alipay` serves the gateway simulator.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use kiosk::providers::alipay::AlipayProvider;
use kiosk::providers::alipay::sim;
use kiosk::store::demo::{DEMO_PERSONS, DemoOptions};
use kiosk::store::platform::*;

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");
const NOW: &str = "2022-10-24T11:06:10+08:00";
const APP_ID: &str = "2021000000000001";

fn kiosk(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(KIOSK)
        .args(args)
        .current_dir(dir)
        .env_remove("KIOSK_LOG")
        .output()
        .expect("kiosk runs")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "JSON expected: {} / {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// A demo city in `dir`, and one decision of 李小红 handled in it.
fn city_with_a_decision(dir: &std::path::Path) -> (std::path::PathBuf, DecisionNumber) {
    let db = dir.join("city.sqlite3");
    let p = SqlitePlatform::open_demo(&db).unwrap();
    p.build_demo_city(&DemoOptions {
        persons: 30,
        seed: 1,
        anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
    })
    .unwrap();
    let who = DEMO_PERSONS.iter().find(|p| p.name == "李小红").unwrap();
    let who = kiosk::domain::IdNumber::parse(who.id_number).unwrap();
    let car = VehicleKey::parse("渝A8K2L6", "02").unwrap();
    let now = NOW.parse().unwrap();
    let list = p.violations(&who, &car, now).unwrap();
    let d = p
        .handle(
            &HandleRequest {
                id_number: who,
                vehicle: car,
                violation_ids: vec![list.violations[0].facts.id.clone()],
                kiosk_id: "K1".into(),
            },
            now,
        )
        .unwrap()
        .items
        .remove(0)
        .decision
        .number;
    (db, d)
}

#[test]
fn platform_pay_records_only_what_the_alipay_provider_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let (db, d) = city_with_a_decision(dir.path());
    let phone = sim::spawn("127.0.0.1:0".parse().unwrap(), APP_ID, sim::test_keys()).unwrap();
    phone.keys.write(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("kiosk.toml"),
        format!(
            "[payment]\nprovider = \"alipay\"\ngateway = \"{}\"\napp_id = \"{APP_ID}\"\nprivate_key_file = \"{}\"\nalipay_public_key_file = \"{}\"\nnotify_url = \"http://127.0.0.1:9/notify/alipay\"\n",
            phone.gateway(),
            dir.path().join(sim::APP_PRIVATE_KEY_FILE).display(),
            dir.path().join(sim::ALIPAY_PUBLIC_KEY_FILE).display(),
        ),
    )
    .unwrap();
    let db_arg = db.display().to_string();
    let pay = |key: &str| {
        kiosk(
            &[
                "--config",
                "kiosk.toml",
                "platform",
                "--db",
                &db_arg,
                "--now",
                NOW,
                "pay",
                "--decision",
                d.as_str(),
                "--key",
                key,
            ],
            dir.path(),
        )
    };
    // Nobody paid: nothing recorded, however often it is asked.
    for key in ["k-1", "k-2"] {
        let out = pay(key);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(json(&out)["error"], "not_paid_yet");
    }
    let payments = || {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    assert_eq!(payments(), 0);
    // The order the shell opened is at the provider; the phone pays its QR.
    let order = phone
        .order(&out_trade_no(&d))
        .expect("the order was opened");
    assert_eq!(order.amount.as_fen(), 20000);
    phone.pay_silently(&order.qr_code).unwrap();
    let out = pay("k-3");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paid = json(&out);
    assert_eq!(
        Some(paid["transaction_no"].as_str().unwrap().to_string()),
        phone.order(&order.out_trade_no).unwrap().trade_no
    );
    assert_eq!(paid["method"], "alipay");
    assert_eq!(json(&pay("k-4"))["replayed"], true);
    assert_eq!(payments(), 1);
}

#[test]
fn platform_pay_refuses_the_demo_provider_outside_demo_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (db, d) = city_with_a_decision(dir.path());
    std::fs::write(dir.path().join("kiosk.toml"), "[kiosk]\ndemo = false\n").unwrap();
    let out = kiosk(
        &[
            "--config",
            "kiosk.toml",
            "platform",
            "--db",
            &db.display().to_string(),
            "--now",
            NOW,
            "pay",
            "--decision",
            d.as_str(),
            "--key",
            "k-1",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("payment.provider"), "{err}");
    let n: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn kiosk_sim_alipay_makes_its_keys_and_answers_in_alipay_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let mut child = Command::new(KIOSK)
        .args(["sim", "alipay", "--listen", "127.0.0.1:0", "--keys"])
        .arg(&keys)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    for f in [
        sim::APP_PRIVATE_KEY_FILE,
        sim::APP_PUBLIC_KEY_FILE,
        sim::ALIPAY_PUBLIC_KEY_FILE,
    ] {
        assert!(keys.join(f).exists(), "{f}");
    }
    // The adapter, with the keys it wrote, opens an order and reads the signed answer.
    let provider = AlipayProvider::new(
        &format!("http://{addr}/gateway.do"),
        APP_ID,
        "http://127.0.0.1:9/notify/alipay",
        kiosk::providers::alipay::protocol::SignKey::from_file(
            &keys.join(sim::APP_PRIVATE_KEY_FILE),
        )
        .unwrap(),
        kiosk::providers::alipay::protocol::VerifyKey::from_file(
            &keys.join(sim::ALIPAY_PUBLIC_KEY_FILE),
        )
        .unwrap(),
    );
    use kiosk::store::payment::{OrderRequest, PaymentProvider};
    let now = NOW.parse().unwrap();
    let created = provider
        .create_order(
            &OrderRequest {
                out_trade_no: "KD1".into(),
                amount: kiosk::domain::Fen(20000),
                subject: "交通违法罚款".into(),
                expires: now,
            },
            now,
        )
        .unwrap();
    assert!(created.qr_code.starts_with("https://qr.alipay.com/"));
    // Another app's key is refused by the gateway (signature check), and said so.
    let stranger = AlipayProvider::new(
        &format!("http://{addr}/gateway.do"),
        APP_ID,
        "",
        kiosk::providers::alipay::protocol::SignKey::from_text(&sim::test_keys().alipay.to_pem())
            .unwrap(),
        kiosk::providers::alipay::protocol::VerifyKey::from_file(
            &keys.join(sim::ALIPAY_PUBLIC_KEY_FILE),
        )
        .unwrap(),
    );
    let e = stranger
        .query(
            &kiosk::store::payment::OrderRef {
                out_trade_no: "KD1".into(),
                amount: kiosk::domain::Fen(20000),
            },
            now,
        )
        .unwrap_err();
    assert!(e.to_string().contains("isv.invalid-signature"), "{e}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn kiosk_config_names_the_missing_payment_key() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        ("[payment]\nprovider = \"alipay\"\n", "payment.gateway"),
        ("[payment]\nprovider = \"Demo\"\n", "payment.provider"),
        (
            "[payment]\nprovider = \"alipay\"\ngateway = \"http://127.0.0.1:9/gateway.do\"\nnotify_url = \"http://127.0.0.1:8/notify/alipay\"\napp_id = \"2021\"\nprivate_key_file = \"k.pem\"\n",
            "payment.alipay_public_key_file",
        ),
    ] {
        std::fs::write(dir.path().join("kiosk.toml"), toml).unwrap();
        let out = kiosk(&["config"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(key), "{key}: {err}");
    }
}
