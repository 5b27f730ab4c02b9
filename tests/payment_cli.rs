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

/// The Alipay gateway simulator, its keys written to `dir`, and the `[payment]` section that
/// pays through it.
fn alipay_sim_and_section(dir: &std::path::Path) -> (sim::SimHandle, String) {
    let phone = sim::spawn("127.0.0.1:0".parse().unwrap(), APP_ID, sim::test_keys()).unwrap();
    phone.keys.write(dir).unwrap();
    let section = format!(
        "[payment]\nprovider = \"alipay\"\ngateway = \"{}\"\napp_id = \"{APP_ID}\"\nprivate_key_file = \"{}\"\nalipay_public_key_file = \"{}\"\nnotify_url = \"http://127.0.0.1:9/notify/alipay\"\n",
        phone.gateway(),
        dir.join(sim::APP_PRIVATE_KEY_FILE).display(),
        dir.join(sim::ALIPAY_PUBLIC_KEY_FILE).display(),
    );
    (phone, section)
}

#[test]
fn platform_pay_records_only_what_the_alipay_provider_confirms() {
    let dir = tempfile::tempdir().unwrap();
    let (db, d) = city_with_a_decision(dir.path());
    let (phone, payment) = alipay_sim_and_section(dir.path());
    std::fs::write(dir.path().join("kiosk.toml"), payment).unwrap();
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
    phone.pay(&order.qr_code, sim::Notify::Lose).unwrap();
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

/// `POST /notify/alipay` from the local address `from` (127.0.0.0/8 are all this machine's), as
/// raw HTTP: the status and the `x-notify-ack` header.
fn notify_from(from: &str, server: std::net::SocketAddr, body: &str) -> (u16, Option<String>) {
    use std::io::{Read as _, Write as _};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stream = rt
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(format!("{from}:0").parse().unwrap())?;
            socket.connect(server).await?.into_std()
        })
        .expect("connects");
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /notify/alipay HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/x-www-form-urlencoded;charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let ack = answer
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{}: ", kiosk::wire::ops::HEADER_NOTIFY_ACK)))
        .map(str::to_string);
    (status, ack)
}

/// A `kiosk serve` process, killed when dropped.
struct Serve(std::process::Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `kiosk --config DIR/serve.toml serve` over `db` (demo, no revert): the process and its address.
fn serve(dir: &std::path::Path, db: &std::path::Path) -> (Serve, std::net::SocketAddr) {
    let mut child = Command::new(KIOSK)
        .arg("--config")
        .arg(dir.join("serve.toml"))
        .args(["serve", "--database"])
        .arg(db)
        .args(["--listen", "127.0.0.1:0", "--demo", "--revert-every", "0"])
        .env("KIOSK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    (Serve(child), addr)
}

/// A counter of the server's `GET /metrics` (0 when not there yet).
fn metric(server: std::net::SocketAddr, name: &str) -> u64 {
    let text = ureq::get(format!("http://{server}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0)
}

/// Anyone may post to `POST /notify/alipay`. A flood of forged notifications from one address is
/// told 429 once its bucket is spent (`[notify] per_ip_burst`), writes at most
/// `refused_audited_per_minute` audit rows, and is counted in the metrics; a real notification
/// from another address in the middle of it is recorded.
#[test]
fn a_flood_of_forged_notifications_is_bounded_and_a_real_one_is_still_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let (db, d) = city_with_a_decision(dir.path());
    let (phone, payment) = alipay_sim_and_section(dir.path());
    std::fs::write(
        dir.path().join("serve.toml"),
        format!(
            "demo = true\n{payment}[notify]\nper_ip_per_minute = 1\nper_ip_burst = 40\nrefused_audited_per_minute = 5\n"
        ),
    )
    .unwrap();
    // The decision's order, opened with the provider; the phone pays it, and its notification
    // is what Alipay would post.
    let provider = AlipayProvider::new(
        &phone.gateway(),
        APP_ID,
        "http://127.0.0.1:9/notify/alipay",
        phone.keys.app.clone(),
        phone.keys.alipay.verify_key(),
    );
    let now = NOW.parse().unwrap();
    let local = SqlitePlatform::open_demo(&db)
        .unwrap()
        .with_payments(Box::new(provider));
    let order = local.payment_order(&d, now).unwrap();
    let real = phone
        .pay(&order.qr_code, sim::Notify::Lose)
        .unwrap()
        .notification
        .unwrap();
    drop(local);

    let (_serve, addr) = serve(dir.path(), &db);

    // Forged: signed with the app's own key, not Alipay's; each with its own notify id.
    let forged = |i: usize| {
        kiosk::providers::alipay::protocol::encode_form(
            &kiosk::providers::alipay::protocol::signed_notification(
                &phone.keys.app,
                &kiosk::providers::alipay::protocol::Notification {
                    notify_id: format!("forged-{i}"),
                    app_id: APP_ID.into(),
                    out_trade_no: order.out_trade_no.clone(),
                    trade_no: format!("20221024{i:014}"),
                    trade_status: "TRADE_SUCCESS".into(),
                    total_amount: order.amount,
                },
                now,
            ),
        )
    };
    let mut statuses = Vec::new();
    for i in 0..30 {
        statuses.push(notify_from("127.0.0.1", addr, &forged(i)).0);
    }
    assert!(
        statuses.iter().all(|s| *s == 400),
        "within the burst, each is checked and refused: {statuses:?}"
    );
    // Alipay's own notification, from another address, in the middle of the flood.
    assert_eq!(
        notify_from("127.0.0.2", addr, &real),
        (200, Some("recorded".into()))
    );
    for i in 30..60 {
        statuses.push(notify_from("127.0.0.1", addr, &forged(i)).0);
    }
    let refused = statuses.iter().filter(|s| **s == 400).count() as u64;
    let limited = statuses.iter().filter(|s| **s == 429).count() as u64;
    assert_eq!(refused + limited, 60, "{statuses:?}");
    // The burst, and at most the token a minute adds meanwhile.
    assert!((40..=41).contains(&refused), "{statuses:?}");
    assert!(limited >= 19, "{statuses:?}");

    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(&db)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    // The flood took well under a minute: one window, 5 rows.
    assert_eq!(
        count("SELECT count(*) FROM audit_log WHERE action = 'payment_notification_refused'"),
        5
    );
    assert_eq!(
        count("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
        1,
        "the real payment, once"
    );
    assert_eq!(
        count("SELECT count(*) FROM audit_log WHERE action = 'payment_confirmed'"),
        1
    );
    // Every refusal is counted, by reason.
    assert_eq!(
        metric(
            addr,
            "kiosk_serve_notify_refused_total{reason=\"bad_signature\"}"
        ),
        refused
    );
    assert_eq!(
        metric(addr, "kiosk_serve_notify_refused_unaudited_total"),
        refused - 5
    );
    assert_eq!(
        metric(
            addr,
            "kiosk_serve_notify_refused_total{reason=\"rate_limited\"}"
        ),
        limited
    );
    // Alipay repeats its notification until it hears `success`: still acknowledged, once.
    assert_eq!(
        notify_from("127.0.0.2", addr, &real),
        (200, Some("duplicate".into()))
    );
    assert_eq!(
        count("SELECT count(*) FROM payments WHERE idempotency_key LIKE 'KD%'"),
        1
    );
}

/// A notification body over the 64 KiB bound is refused (413) before the store sees it: no audit row;
/// a bad one under it is refused and audited.
#[test]
fn an_oversized_notification_is_refused_413_and_not_audited() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = city_with_a_decision(dir.path());
    std::fs::write(dir.path().join("serve.toml"), "demo = true\n").unwrap();
    let (_serve, addr) = serve(dir.path(), &db);
    let post = |body: Vec<u8>| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
            .post(format!("http://{addr}/notify/alipay"))
            .send(&body[..])
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(post(vec![b'a'; 100 * 1024]), 413);
    assert_eq!(post(b"sign=x&%zz".to_vec()), 400);
    let audited: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM audit_log WHERE action = 'payment_notification_refused'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(audited, 1);
}
