//! `kiosk db init|check` and `kiosk platform` on a `postgres://` URL do what they do on a SQLite
//! file: the same demo city, the same JSON, the same exit codes; `db check` finds a broken audit
//! chain on the server as it does in a file.

mod support;

use std::process::{Command, Output};

use serde_json::Value;

const ANCHOR: &str = "2022-10-24T09:00:00+08:00";
const NOW: &str = "2022-10-24T11:06:10+08:00";
const LXH: &str = "50010619851120002X";

fn kiosk(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args(args)
        .env("KIOSK_LOG", "error")
        .output()
        .expect("run kiosk")
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.code().is_some(),
        "killed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn ok(out: Output) -> Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
}

/// Run one platform verb against both databases; both answers and exit codes must agree.
fn both(sqlite: &str, pg: &str, verb: &[&str]) -> (Option<i32>, Value) {
    let run = |db: &str| {
        let mut args = vec!["platform", "--db", db, "--now", NOW];
        args.extend_from_slice(verb);
        kiosk(&args)
    };
    let (a, b) = (run(sqlite), run(pg));
    assert_eq!(
        a.status.code(),
        b.status.code(),
        "{verb:?}: sqlite {} / postgres {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let (ja, jb) = (json(&a), json(&b));
    assert_eq!(ja, jb, "{verb:?}: the same JSON from both");
    (a.status.code(), ja)
}

#[test]
fn db_init_check_and_platform_verbs_on_postgres_match_sqlite() {
    let url = support::pg::fresh_database("cli");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("city.sqlite3");
    let file = file.to_str().unwrap();
    let init = |path: &str| {
        ok(kiosk(&[
            "db",
            "init",
            "--demo",
            "--persons",
            "300",
            "--anchor",
            ANCHOR,
            "--path",
            path,
        ]))
    };
    let (s, p) = (init(file), init(&url));
    assert_eq!(s["summary"], p["summary"], "the same demo city");
    assert_eq!(s["schema_version"], p["schema_version"]);
    assert_eq!(p["path"], Value::String(url.clone()));
    assert!(p["summary"]["persons"].as_u64() == Some(300), "{p}");
    // Again without --demo: migrations are idempotent; with --demo: refused, nothing written.
    ok(kiosk(&["db", "init", "--path", &url]));
    let again = kiosk(&["db", "init", "--demo", "--path", &url]);
    assert_ne!(again.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds persons"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let check = ok(kiosk(&["db", "check", "--path", &url]));
    assert_eq!(check["breaches"], serde_json::json!([]));
    assert_eq!(check["audit_entries"], 1);

    // Verbs: the same answers, refusals and exit codes.
    both(file, &url, &["person", "--id", LXH]);
    both(file, &url, &["vehicles", "--id", LXH]);
    let (_, list) = both(
        file,
        &url,
        &["violations", "--id", LXH, "--plate", "渝A8K2L6"],
    );
    let violation = list["violations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{list}"))
        .to_string();
    let (code, handled) = both(
        file,
        &url,
        &[
            "handle",
            "--id",
            LXH,
            "--plate",
            "渝A8K2L6",
            "--violation",
            &violation,
        ],
    );
    assert_eq!(code, Some(0), "{handled}");
    let number = handled["items"][0]["decision"]["number"]
        .as_str()
        .unwrap_or_else(|| panic!("{handled}"))
        .to_string();
    let (code, paid) = both(
        file,
        &url,
        &["pay", "--decision", &number, "--key", "cli-1"],
    );
    assert_eq!(code, Some(0), "{paid}");
    let (_, replay) = both(
        file,
        &url,
        &["pay", "--decision", &number, "--key", "cli-1"],
    );
    assert_eq!(replay["replayed"], true, "{replay}");
    // Issue 12: `pay` asks the provider; asked again with another key, the one payment.
    let (code, again) = both(
        file,
        &url,
        &["pay", "--decision", &number, "--key", "cli-2"],
    );
    assert_eq!(code, Some(0), "{again}");
    assert_eq!(again["replayed"], true, "{again}");
    assert_eq!(again["transaction_no"], paid["transaction_no"], "{again}");
    both(
        file,
        &url,
        &["receipt", "--decision", &number, "--kind", "payment"],
    );
    let (code, _) = both(file, &url, &["person", "--id", "500101200001010996"]);
    assert_eq!(code, Some(1), "unknown person");
    ok(kiosk(&["db", "check", "--path", &url]));

    // Tamper with the audit log behind the server's back: db check names it and exits 1.
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
         UPDATE audit_log SET detail = '{}' WHERE seq = 2;",
    )
    .unwrap();
    let out = kiosk(&["db", "check", "--path", &url]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(
        report["breaches"][0]["invariant"], "audit_chain_broken",
        "{report}"
    );
}

#[test]
fn the_audit_log_on_postgres_refuses_updates_deletes_and_truncation() {
    let url = support::pg::fresh_database("append_only");
    ok(kiosk(&[
        "db",
        "init",
        "--demo",
        "--persons",
        "20",
        "--anchor",
        ANCHOR,
        "--path",
        &url,
    ]));
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for sql in [
        "UPDATE audit_log SET action = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        assert!(
            e.to_string().contains("append-only") || format!("{e:?}").contains("append-only"),
            "{sql}: {e:?}"
        );
    }
    let versions = support::pg::query_i64(
        &url,
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(
        versions,
        (1..=kiosk::store::schema::PG_MIGRATIONS.len() as i64).collect::<Vec<_>>()
    );
}

#[test]
fn an_unreachable_server_is_named_not_a_panic() {
    // A port nothing listens on (the cluster's own port plus nothing: bind and drop one).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/nowhere");
    let out = kiosk(&["db", "check", "--path", &url]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be reached"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
