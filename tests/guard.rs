//! Issue 12, items 1, 6 and 7 through the binary: with `demo = false`, `kiosk`, `kiosk config`
//! and `kiosk serve` refuse demo parts and guessable PINs, naming each key, before anything is
//! created; `kiosk pin-hash` refuses trivial PINs; `kiosk db check` names an inserted payment and
//! a recomputed audit chain by exit code and message.

#[path = "support/remote.rs"]
mod remote;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

fn kiosk(args: &[&str], dir: &Path) -> Output {
    Command::new(KIOSK)
        .args(args)
        .current_dir(dir)
        .env_remove("KIOSK_LOG")
        .env("KIOSK_LOG_STDERR", "0")
        .stdin(Stdio::null())
        .output()
        .expect("kiosk runs")
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(KIOSK)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kiosk runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn err(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `kiosk pin-hash` of `pin`: its PHC string.
fn pin_hash(pin: &str) -> String {
    let out = with_stdin(&["pin-hash"], &format!("{pin}\n"));
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// `kiosk db audit-key --out DIR/audit.key`.
fn audit_key(dir: &Path) -> PathBuf {
    let path = dir.join("audit.key");
    let out = kiosk(&["db", "audit-key", "--out", path.to_str().unwrap()], dir);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    path
}

/// A production kiosk.toml that passes every start-up refusal (its providers are names no demo
/// part has), with `extra` laid over it (TOML tables repeated later win key by key in the
/// kiosk's merge only when written as one table, so `extra` is merged here by section).
fn production_config(dir: &Path, over: &[(&str, &str, &str)]) -> PathBuf {
    let key = audit_key_once(dir);
    let hash = pin_hash_once(dir);
    let mut sections: Vec<(String, Vec<(String, String)>)> = vec![
        ("kiosk".into(), vec![("demo".into(), "false".into())]),
        (
            "database".into(),
            vec![("path".into(), "\"prod.sqlite3\"".into())],
        ),
        (
            "operator".into(),
            vec![
                ("pin".into(), "\"\"".into()),
                ("pin_hash".into(), format!("{hash:?}")),
            ],
        ),
        (
            "payment".into(),
            vec![
                ("provider".into(), "\"alipay\"".into()),
                ("gateway".into(), "\"http://127.0.0.1:9/gateway.do\"".into()),
                ("app_id".into(), "\"2021000000000001\"".into()),
                ("private_key_file".into(), file(dir, "app_private_key.pem")),
                (
                    "alipay_public_key_file".into(),
                    file(dir, "alipay_public_key.pem"),
                ),
                (
                    "notify_url".into(),
                    "\"http://127.0.0.1:9/notify/alipay\"".into(),
                ),
            ],
        ),
        (
            "sms".into(),
            vec![
                ("provider".into(), "\"aliyun\"".into()),
                ("endpoint".into(), "\"http://127.0.0.1:9/\"".into()),
                ("access_key_id".into(), "\"LTAI-test\"".into()),
                ("secret_file".into(), file(dir, "sms.secret")),
                ("sign_name".into(), "\"交管12123\"".into()),
                ("template_code".into(), "\"SMS_100000001\"".into()),
                ("filing_template_code".into(), "\"SMS_100000002\"".into()),
            ],
        ),
        (
            "qr".into(),
            vec![
                ("provider".into(), "\"keyfile\"".into()),
                ("signing_key_file".into(), qr_key_once(dir, "qr")),
                ("receipt_key_file".into(), qr_key_once(dir, "receipt")),
            ],
        ),
        (
            "face".into(),
            vec![
                ("provider".into(), "\"http\"".into()),
                ("url".into(), "\"http://127.0.0.1:9/v1/face/verify\"".into()),
                ("camera".into(), "\"files:camera\"".into()),
            ],
        ),
        (
            "audit".into(),
            vec![(
                "key_file".into(),
                format!("{:?}", key.display().to_string()),
            )],
        ),
        ("metrics".into(), vec![("listen".into(), "\"\"".into())]),
        (
            "staff_call".into(),
            vec![("provider".into(), "\"platform\"".into())],
        ),
        ("voice".into(), vec![("enabled".into(), "false".into())]),
        ("platform".into(), vec![]),
    ];
    for (section, k, v) in over {
        let s = match sections.iter_mut().find(|(n, _)| n == section) {
            Some(s) => s,
            None => panic!("no section {section}"),
        };
        match s.1.iter_mut().find(|(n, _)| n == k) {
            Some(kv) => kv.1 = v.to_string(),
            None => s.1.push((k.to_string(), v.to_string())),
        }
    }
    let mut text = String::new();
    for (name, kvs) in sections {
        text.push_str(&format!("[{name}]\n"));
        for (k, v) in kvs {
            text.push_str(&format!("{k} = {v}\n"));
        }
    }
    let path = dir.join("kiosk-prod.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A file's path in `dir` as a TOML string (the file need not exist for these refusals).
fn file(dir: &Path, name: &str) -> String {
    format!("{:?}", dir.join(name).display().to_string())
}

/// A platform signing key file (`kiosk keygen --qr|--receipt`), made once, as a TOML string.
fn qr_key_once(dir: &Path, kid: &str) -> String {
    let path = dir.join(format!("{kid}.key"));
    if !path.exists() {
        kiosk::store::keyring::generate_key_file(kid, &path).unwrap();
    }
    format!("{:?}", path.display().to_string())
}

fn audit_key_once(dir: &Path) -> PathBuf {
    let path = dir.join("audit.key");
    if path.exists() { path } else { audit_key(dir) }
}

fn pin_hash_once(dir: &Path) -> String {
    let path = dir.join("pin.hash");
    if let Ok(h) = std::fs::read_to_string(&path) {
        return h;
    }
    let h = pin_hash("802413");
    std::fs::write(&path, &h).unwrap();
    h
}

/// A hash of a trivial PIN made by another tool (`kiosk pin-hash` refuses to make one).
fn weak_hash(pin: &str) -> String {
    use argon2::PasswordHasher as _;
    let salt = argon2::password_hash::SaltString::encode_b64(&[3u8; 16]).unwrap();
    argon2::Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

#[test]
fn kiosk_with_demo_false_and_any_demo_part_or_weak_pin_exits_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let weak = format!("{:?}", weak_hash("246810"));
    // The keys set over the production base (section, key, TOML value): the key named.
    type Case<'a> = (Vec<(&'a str, &'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("payment", "provider", "\"demo\"")],
            "payment.provider",
        ),
        (
            vec![("payment", "provider", "\"simulator\"")],
            "payment.provider",
        ),
        (vec![("sms", "provider", "\"demo\"")], "sms.provider"),
        (vec![("qr", "provider", "\"demo\"")], "qr.provider"),
        (vec![("face", "provider", "\"demo\"")], "face.provider"),
        // 呼叫工作人员 through the demo's pager reaches nobody.
        (
            vec![("staff_call", "provider", "\"demo\"")],
            "staff_call.provider",
        ),
        (vec![("payment", "provider", "\"\"")], "payment.provider"),
        (vec![("audit", "key_file", "\"\"")], "audit.key_file"),
        (vec![("operator", "pin", "\"246810\"")], "operator.pin"),
        (vec![("operator", "pin", "\"1111\"")], "operator.pin"),
        (vec![("operator", "pin", "\"123456\"")], "operator.pin"),
        (vec![("operator", "pin", "\"987654\"")], "operator.pin"),
        (vec![("operator", "pin", "\"802413\"")], "operator.pin"),
        (vec![("operator", "pin_hash", "\"\"")], "operator.pin_hash"),
        (
            vec![("operator", "pin_hash", weak.as_str())],
            "operator.pin_hash",
        ),
        (
            vec![("operator", "pin_hash", "\"802413\"")],
            "operator.pin_hash",
        ),
        // A server's terminal: its own identity, not the public demo one.
        (
            vec![("platform", "url", "\"http://127.0.0.1:9\"")],
            "platform.key_file",
        ),
        (
            vec![
                ("platform", "url", "\"http://127.0.0.1:9\""),
                ("face", "provider", "\"demo\""),
            ],
            "face.provider",
        ),
        (
            vec![
                ("platform", "url", "\"http://127.0.0.1:9\""),
                ("staff_call", "provider", "\"demo\""),
            ],
            "staff_call.provider",
        ),
        // A value the section refuses is named too (before anything is created).
        (
            vec![("staff_call", "provider", "\"pager\"")],
            "staff_call.provider",
        ),
        (
            vec![
                ("staff_call", "provider", "\"wecom\""),
                ("staff_call", "url", "\"not a url?key=secret-robot-key\""),
            ],
            "staff_call.url",
        ),
    ];
    for (over, key) in cases {
        let config = production_config(dir.path(), &over);
        let c = config.to_str().unwrap();
        for args in [vec!["--config", c], vec!["--config", c, "config"]] {
            let out = kiosk(&args, dir.path());
            let said = err(&out);
            assert_eq!(out.status.code(), Some(2), "{over:?} {args:?}: {said}");
            assert!(
                said.contains(key),
                "{over:?} {args:?}: {key} not named: {said}"
            );
            assert!(!said.contains("panicked"), "{said}");
            assert!(
                !said.contains("secret-robot-key"),
                "a webhook key said: {said}"
            );
            assert!(
                !dir.path().join("prod.sqlite3").exists(),
                "{over:?}: nothing is created before the refusal"
            );
        }
    }
    // Every part demo at once: each key is named in one message.
    let config = production_config(
        dir.path(),
        &[
            ("payment", "provider", "\"demo\""),
            ("sms", "provider", "\"demo\""),
            ("qr", "provider", "\"demo\""),
            ("face", "provider", "\"demo\""),
            ("operator", "pin", "\"246810\""),
        ],
    );
    let out = kiosk(&["--config", config.to_str().unwrap()], dir.path());
    let said = err(&out);
    for key in [
        "payment.provider",
        "sms.provider",
        "qr.provider",
        "face.provider",
        "operator.pin",
        "不启动",
    ] {
        assert!(said.contains(key), "{key}: {said}");
    }
    // The production configuration itself passes `kiosk config`.
    let config = production_config(dir.path(), &[]);
    let out = kiosk(
        &["--config", config.to_str().unwrap(), "config"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    // With the staff's WeCom group robot: accepted, and its webhook key never printed.
    let config = production_config(
        dir.path(),
        &[
            ("staff_call", "provider", "\"wecom\""),
            (
                "staff_call",
                "url",
                "\"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-secret-4711\"",
            ),
            ("staff_call", "mentioned_mobile_list", "[\"13800001111\"]"),
        ],
    );
    let out = kiosk(
        &["--config", config.to_str().unwrap(), "config"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("webhook/send?…"), "{printed}");
    assert!(!printed.contains("robot-secret-4711"), "{printed}");
    assert!(
        !printed.contains("13800001111"),
        "a staff mobile in clear: {printed}"
    );
    assert!(!err(&out).contains("robot-secret-4711"));
}

#[test]
fn kiosk_pin_hash_refuses_trivial_pins_and_hashes_others() {
    for pin in ["246810", "1111", "123456", "987654", "12", "12ab", ""] {
        let out = with_stdin(&["pin-hash"], &format!("{pin}\n"));
        assert_eq!(out.status.code(), Some(2), "{pin}: {}", err(&out));
        assert!(out.stdout.is_empty(), "{pin}");
    }
    let phc = pin_hash("802413");
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(kiosk::config::operator::verify_pin(&phc, "802413"));
    assert!(!kiosk::config::operator::verify_pin(&phc, "802414"));
    assert_ne!(phc, pin_hash("802413"), "a fresh salt each time");
}

/// `kiosk serve --config FILE` (or no file: every provider the demo's) without demo mode.
#[test]
fn kiosk_serve_without_demo_mode_and_any_demo_part_exits_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let key = audit_key(dir.path());
    let (_, public) = remote::keygen(dir.path(), "k.key");
    let kiosks = dir.path().join("kiosks.toml");
    std::fs::write(&kiosks, format!("[kiosks.K1]\npublic_key = \"{public}\"\n")).unwrap();
    let db = dir.path().join("never.sqlite3");
    let serve = |extra: &[&str]| {
        let mut args = vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            db.to_str().unwrap(),
            "--kiosks",
            kiosks.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        kiosk(&args, dir.path())
    };
    // No configuration at all: every provider is the demo's.
    let out = serve(&[]);
    let said = err(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    for k in [
        "payment.provider",
        "sms.provider",
        "qr.provider",
        "audit.key_file",
    ] {
        assert!(said.contains(k), "{k}: {said}");
    }
    let base = |payment: &str, sms: &str, qr: &str, key_file: &str| {
        format!(
            "demo = false\n[payment]\nprovider = \"{payment}\"\n[sms]\nprovider = \"{sms}\"\n[qr]\nprovider = \"{qr}\"\n[audit]\nkey_file = {key_file:?}\n"
        )
    };
    let k = key.display().to_string();
    for (text, named) in [
        (base("demo", "real", "real", &k), "payment.provider"),
        (base("real", "demo", "real", &k), "sms.provider"),
        (base("real", "real", "demo", &k), "qr.provider"),
        (base("real", "real", "real", ""), "audit.key_file"),
    ] {
        let config = dir.path().join("serve.toml");
        std::fs::write(&config, &text).unwrap();
        let out = serve(&["--config", config.to_str().unwrap()]);
        let said = err(&out);
        assert_eq!(out.status.code(), Some(2), "{text}: {said}");
        assert!(said.contains(named), "{text}: {named} not named: {said}");
        assert!(!db.exists(), "nothing is opened before the refusal");
    }
    // Unknown keys in the server's file are refused, named.
    let config = dir.path().join("serve.toml");
    std::fs::write(&config, "demo = false\nprovidr = 1\n").unwrap();
    let out = serve(&["--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("providr"), "{}", err(&out));
}

/// A demo city made by `kiosk db init --demo`.
fn demo_db(dir: &Path) -> PathBuf {
    let db = dir.join("city.sqlite3");
    let out = kiosk(
        &[
            "db",
            "init",
            "--demo",
            "--persons",
            "200",
            "--path",
            db.to_str().unwrap(),
        ],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    db
}

fn db_check(db: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["db", "check", "--path", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    kiosk(&args, db.parent().unwrap())
}

#[test]
fn kiosk_db_check_names_an_inserted_payment_by_exit_code_and_message() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let out = db_check(&db, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the clean demo city: {}",
        err(&out)
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO payments (decision_id, idempotency_key, method, transaction_no, fine_fen, surcharge_fen, fee_fen, total_fen, paid_at)
         SELECT id, 'forged', 'cash', 'T-FORGED', fine_fen, 0, 0, fine_fen, 0 FROM decisions WHERE state = 'handled_unpaid' ORDER BY id LIMIT 1",
        [],
    )
    .unwrap();
    let payment = conn.last_insert_rowid();
    assert!(payment > 0);
    drop(conn);
    let out = db_check(&db, &[]);
    let said = err(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!(
            "breach: payment_not_audited: payment {payment} on decision"
        )),
        "{said}"
    );
}

#[test]
fn kiosk_db_check_names_the_first_entry_of_a_recomputed_chain_and_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    // Under a key that did not anchor it (not the demo key): entry 1 is named.
    let key = audit_key(dir.path());
    let out = db_check(&db, &["--audit-key", key.to_str().unwrap()]);
    let said = err(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("audit_chain_broken: entry 1:"), "{said}");
    // Edit entry 1 and recompute its hash with SQL (the hash function is public).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_no_update;")
        .unwrap();
    let (at, action, subject): (i64, String, String) = conn
        .query_row(
            "SELECT at, action, subject FROM audit_log WHERE seq = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let detail = r#"{"edited":true}"#;
    let hash = kiosk::store::audit::entry_hash(
        kiosk::store::audit::GENESIS,
        1,
        at,
        &action,
        &subject,
        detail,
    );
    conn.execute(
        "UPDATE audit_log SET detail = ?1, hash = ?2 WHERE seq = 1",
        rusqlite::params![detail, hash],
    )
    .unwrap();
    drop(conn);
    let out = db_check(&db, &[]);
    let said = err(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("audit_chain_broken: entry 1: its anchor (HMAC) does not match"),
        "{said}"
    );
    // A key file that is not one is said plainly.
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not hex").unwrap();
    let out = db_check(&db, &["--audit-key", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(err(&out).contains("64 hex digits"), "{}", err(&out));
}

#[test]
fn a_store_anchored_with_its_own_key_checks_clean_only_under_that_key() {
    use kiosk::store::audit::AuditKey;
    let dir = tempfile::tempdir().unwrap();
    let key_file = audit_key(dir.path());
    let key = AuditKey::from_file(&key_file).unwrap();
    let db = dir.path().join("own.sqlite3");
    let p = kiosk::store::SqlitePlatform::open_demo(&db)
        .unwrap()
        .with_audit_key(key);
    p.build_demo_city(&kiosk::store::demo::DemoOptions {
        persons: 200,
        seed: 4,
        anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
    })
    .unwrap();
    drop(p);
    let out = db_check(&db, &["--audit-key", key_file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", err(&out));
    let out = db_check(&db, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err(&out).contains("entry 1: anchored with audit key"),
        "{}",
        err(&out)
    );
}
