//! Unforgeable codes through the binary (issue 12, items 3 and 7): `kiosk keygen --qr|--receipt`
//! makes private platform keys, `kiosk platform seal-receipt` seals a paid receipt with the
//! configured receipt key, `kiosk platform verify-receipt TEXT` says genuine (0), forged (1) or
//! unreadable (2), and a vehicle token from the demo seed or one claiming 100 years is refused by a
//! key-file platform.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use jiff::Timestamp;
use kiosk::domain::IdNumber;
use kiosk::store::SqlitePlatform;
use kiosk::store::demo::{DEMO_PERSONS, DemoOptions};
use kiosk::store::platform::*;
use kiosk::store::token::QrKeys;

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

fn kiosk(args: &[&str], dir: &Path) -> Output {
    Command::new(KIOSK)
        .args(args)
        .current_dir(dir)
        .env_remove("KIOSK_LOG")
        .output()
        .expect("kiosk runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            stdout(out),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// 2022-10-24 11:06 in Chongqing: inside opening hours.
fn now() -> Timestamp {
    "2022-10-24T11:06:10+08:00".parse().unwrap()
}

fn id(name: &str) -> IdNumber {
    let p = DEMO_PERSONS.iter().find(|p| p.name == name).expect(name);
    IdNumber::parse(p.id_number).unwrap()
}

/// `kiosk keygen --qr|--receipt --kid KID --out FILE`: the published `KID:HEX` it prints.
fn keygen(dir: &Path, what: &str, kid: &str) -> String {
    let out = kiosk(&["keygen", what, "--kid", kid, "--out", kid], dir);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    stdout(&out).trim().to_string()
}

/// A kiosk.toml with `[qr] provider = "keyfile"`: the key files `qr_kid` / `receipt_kid` (empty:
/// none) and the published keys.
fn config(
    dir: &Path,
    name: &str,
    files: (&str, &str),
    public: &[String],
    receipt_public: &[String],
) -> String {
    let list = |l: &[String]| {
        l.iter()
            .map(|k| format!("{k:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let file = |kid: &str| {
        if kid.is_empty() {
            String::new()
        } else {
            dir.join(kid).display().to_string()
        }
    };
    let text = format!(
        "[qr]\nprovider = \"keyfile\"\nsigning_key_file = {:?}\nreceipt_key_file = {:?}\npublic_keys = [{}]\nreceipt_public_keys = [{}]\n",
        file(files.0),
        file(files.1),
        list(public),
        list(receipt_public)
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A demo city in `k.sqlite3` where 李小红 has handled and paid one violation: its decision number.
fn paid_decision(dir: &Path) -> String {
    let p = SqlitePlatform::open_demo(&dir.join("k.sqlite3")).unwrap();
    p.build_demo_city(&DemoOptions {
        persons: 200,
        seed: 5,
        anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
    })
    .unwrap();
    let car = VehicleKey::parse("渝A8K2L6", "02").unwrap();
    let who = id("李小红");
    let v = p.violations(&who, &car, now()).unwrap().violations[0]
        .facts
        .id
        .clone();
    let d = p
        .handle(
            &HandleRequest {
                id_number: who,
                vehicle: car,
                violation_ids: vec![v],
                kiosk_id: "K1".into(),
            },
            now(),
        )
        .unwrap()
        .items
        .remove(0)
        .decision
        .number;
    p.pay(
        &PayRequest {
            decision_number: d.clone(),
            idempotency_key: "keys-1".into(),
            method: "demo".into(),
        },
        now(),
    )
    .unwrap();
    d.0
}

#[test]
fn keygen_writes_a_private_platform_key_and_prints_its_published_form() {
    let dir = tempfile::tempdir().unwrap();
    let published = keygen(dir.path(), "--qr", "qr-2026a");
    let (kid, hex) = published.split_once(':').unwrap();
    assert_eq!(kid, "qr-2026a");
    assert_eq!(hex.len(), 64);
    let mode = std::fs::metadata(dir.path().join("qr-2026a"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Never over an existing key; a bad key id and --kid alone are refused.
    for args in [
        vec!["keygen", "--qr", "--kid", "qr-2026a", "--out", "qr-2026a"],
        vec!["keygen", "--receipt", "--kid", "bad|id", "--out", "x"],
        vec!["keygen", "--kid", "k1", "--out", "y"],
        vec!["keygen", "--qr", "--out", "z"],
    ] {
        let out = kiosk(&args, dir.path());
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: no panic");
    }
    assert!(!dir.path().join("x").exists());
}

#[test]
fn verify_receipt_says_genuine_forged_or_unreadable_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let number = paid_decision(d);
    let qr = keygen(d, "--qr", "qr-1");
    let receipt = keygen(d, "--receipt", "rc-1");
    let platform = config(d, "platform.toml", ("qr-1", "rc-1"), &[], &[]);
    let verifier = config(d, "verifier.toml", ("", ""), &[qr], &[receipt]);

    // The platform seals the paid decision's receipt with its receipt key.
    let out = kiosk(
        &[
            "--config",
            &platform,
            "platform",
            "--db",
            "k.sqlite3",
            "seal-receipt",
            "--decision",
            &number,
            "--kiosk",
            "CQ-0007",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let code = json(&out)["code"].as_str().unwrap().to_string();
    assert!(code.starts_with("CQKIOSK-RCPT/2|P|CQ-0007|"), "{code}");

    let verify = |text: &str| {
        kiosk(
            &["--config", &verifier, "platform", "verify-receipt", text],
            d,
        )
    };
    // Genuine: what it certifies.
    let out = verify(&code);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["genuine"], true);
    assert_eq!(v["certifies"]["kind"], "payment");
    assert_eq!(v["certifies"]["decision_numbers"][0], number.as_str());
    assert_eq!(v["certifies"]["kiosk"], "CQ-0007");
    assert_eq!(v["certifies"]["key_id"], "rc-1");
    assert_eq!(v["certifies"]["time"], "2022-10-24T11:06:10+08:00");
    let fen = v["certifies"]["amount_fen"].as_i64().unwrap();
    assert!(fen > 0);

    // Forged: another amount under the seal, the seal of the public demo key, no seal at all,
    // a key that is not published (rotated out).
    let altered = code.replacen(&format!("|{fen}|"), &format!("|{}|", fen + 10000), 1);
    let demo = QrKeys::demo()
        .seal_receipt(
            &kiosk::domain::receipt_code::ReceiptCode::parse(&code)
                .map(|c| kiosk::domain::receipt_code::ReceiptCode { seal: None, ..c })
                .unwrap(),
        )
        .unwrap()
        .encode();
    let unsealed = format!("CQKIOSK-RCPT/1|P|CQ-0007|{number}|{fen}|20221024110610");
    let other = keygen(d, "--receipt", "rc-0");
    let rotated = config(d, "rotated.toml", ("", ""), &[], &[other]);
    for (what, text, want, cfg) in [
        (
            "altered amount",
            altered.as_str(),
            "receipt_bad_signature",
            &verifier,
        ),
        ("demo seal", demo.as_str(), "receipt_unknown_key", &verifier),
        ("unsealed", unsealed.as_str(), "receipt_unsealed", &verifier),
        (
            "key not published",
            code.as_str(),
            "receipt_unknown_key",
            &rotated,
        ),
    ] {
        let out = kiosk(&["--config", cfg, "platform", "verify-receipt", text], d);
        assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
        let v = json(&out);
        assert_eq!(v["genuine"], false, "{what}");
        assert_eq!(v["error"], want, "{what}");
        assert!(
            v["message"].as_str().unwrap().contains(" / "),
            "{what}: both languages"
        );
    }

    // Unreadable: not a receipt code, a broken one, an oversized scan.
    let huge = "A".repeat(5000);
    for text in [
        "hello",
        "",
        "CQKIOSK-RCPT/2|P|K|N|1|20221024110610|rc-1|short",
        huge.as_str(),
    ] {
        let out = verify(text);
        assert_eq!(out.status.code(), Some(2), "{text:.40}: {out:?}");
        assert_eq!(json(&out)["error"], "receipt_unreadable");
    }
}

#[test]
fn a_keyfile_platform_refuses_demo_seed_and_century_tokens_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    paid_decision(d);
    keygen(d, "--qr", "qr-1");
    keygen(d, "--receipt", "rc-1");
    let platform = config(d, "platform.toml", ("qr-1", "rc-1"), &[], &[]);
    let verify = |token: &str| {
        kiosk(
            &[
                "--config",
                &platform,
                "platform",
                "--db",
                "k.sqlite3",
                "--now",
                "2022-10-24T11:06:10+08:00",
                "verify-qr",
                "--token",
                token,
            ],
            d,
        )
    };
    // A token the platform issues with its key file verifies.
    let out = kiosk(
        &[
            "--config",
            &platform,
            "platform",
            "--db",
            "k.sqlite3",
            "--now",
            "2022-10-24T11:06:10+08:00",
            "issue-qr",
            "--id",
            id("李小红").expose(),
            "--plate",
            "渝A8K2L6",
        ],
        d,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let token = json(&out)["token"].as_str().unwrap().to_string();
    let out = verify(&token);
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // The same claims signed with the public demo seed: refused.
    let (forged, _) = QrKeys::demo()
        .issue("渝A8K2L6", "02", &id("李小红"), now())
        .unwrap();
    let out = verify(&forged);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json(&out)["error"], "token_unknown_key");

    // Signed with the platform's own key but claiming 100 years: refused.
    let (kid, sk) = kiosk::store::keyring::read_key_file(&d.join("qr-1")).unwrap();
    let century = kiosk::store::token::VehicleQrClaims {
        plate: "渝A8K2L6".into(),
        plate_type: "02".into(),
        owner: kiosk::store::token::owner_tag(&id("李小红")),
        issued_at: now().as_second(),
        expires_at: now().as_second() + 100 * 365 * 86400,
        key_id: kid,
    };
    let out = verify(&kiosk::store::token::sign_claims(&century, &sk));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json(&out)["error"], "token_validity_too_long");

    // A key file others may read is refused, naming the key.
    std::fs::set_permissions(d.join("qr-1"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = verify(&token);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("qr.signing_key_file"), "{err}");
    assert!(err.contains("chmod 600"), "{err}");
}
