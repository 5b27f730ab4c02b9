//! The binary on hostile ground, run as a subprocess: standard output or error closed early,
//! configurations `run` could not use, oversized work. Each answer is bounded and clear.

use std::process::{Command, Output, Stdio};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");

/// A pipe whose reading end is already closed: the first write to it fails with EPIPE.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Stdio::from(writer)
}

fn kiosk(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(KIOSK)
        .args(args)
        .current_dir(dir)
        .env_remove("KIOSK_LOG")
        .output()
        .expect("kiosk runs")
}

fn assert_no_panic(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// A small ESC/POS job with one byte the interpreter does not know.
fn job(dir: &std::path::Path) -> String {
    let path = dir.join("job.bin");
    std::fs::write(&path, b"\x1b@HELLO\x07\n\x1dV\x00").unwrap();
    path.display().to_string()
}

/// `kiosk config | head -c1`, `device list`, `device status`, `device render --text` with their
/// standard output closed: no panic, the documented status 141.
#[test]
fn a_closed_standard_output_ends_quietly_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let png = dir.path().join("o.png").display().to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["config"],
        vec!["device", "list"],
        vec!["device", "status", "--printer", "sim"],
        vec!["device", "render", &job, "--png", &png, "--text"],
        vec!["db", "init", "--path", "k.sqlite3"],
    ];
    for args in cases {
        let out = Command::new(KIOSK)
            .args(&args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_no_panic(&args.join(" "), &out);
        assert_eq!(out.status.code(), Some(141), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains("Broken pipe") && !err.contains("kiosk:"),
            "{args:?}: quiet: {err}"
        );
    }
}

/// Errors said on a closed standard error are dropped, not a panic.
#[test]
fn a_closed_standard_error_is_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let job = job(dir.path());
    let png = dir.path().join("o.png").display().to_string();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["config", "--config", "/no/such/kiosk.toml"], 2),
        (vec!["device", "render", &job, "--png", &png], 0),
        (vec!["device", "status", "--printer", "lpt1"], 2),
    ];
    for (args, code) in cases {
        let out = Command::new(KIOSK)
            .args(&args)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(closed_pipe())
            .output()
            .unwrap();
        assert_no_panic(&args.join(" "), &out);
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

/// `kiosk config` checks what `run` would and names the key, exit 2.
#[test]
fn kiosk_config_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let table = [
        ("[screen]\nwidth_mm = nan\n", "screen.width_mm"),
        ("[timeouts]\ncard_read_ms = 0\n", "timeouts.card_read_ms"),
        ("[database]\npath = \"\"\n", "database.path"),
        ("[devices]\nprinter = \"usb:zz:11\"\n", "devices.printer"),
        ("[policy]\nfile = \"missing.toml\"\n", "policy.file"),
    ];
    for (toml, key) in table {
        std::fs::write(dir.path().join("kiosk.toml"), toml).unwrap();
        let out = kiosk(&["config"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(key), "{key}: {err}");
        assert!(out.stdout.is_empty(), "{key}: nothing printed");
    }
    std::fs::write(
        dir.path().join("kiosk.toml"),
        "[operator]\npin = \"13579\"\n",
    )
    .unwrap();
    let out = kiosk(&["config"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("consultation_phone = \"023-68620626\""));
}

/// A missing configuration file: the OS error once, and what to do.
#[test]
fn a_missing_config_file_is_said_once_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiosk(&["config", "--config", "nope.toml"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    assert!(err.contains("--config"), "{err}");
}

#[test]
fn db_init_refuses_too_many_persons_and_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiosk(
        &[
            "db",
            "init",
            "--demo",
            "--path",
            "x.sqlite3",
            "--persons",
            "18446744073709551615",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("2000000"), "{err}");
    assert!(
        !dir.path().join("x.sqlite3").exists(),
        "refused before anything is written"
    );

    let out = kiosk(&["db", "init", "--path", "."], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("is a directory") && !err.contains("damaged"),
        "{err}"
    );

    let out = kiosk(&["db", "init", "--help"], dir.path());
    assert!(String::from_utf8_lossy(&out.stdout).contains("2000000"));
}

/// Render: a file over the job limit is refused at once; many unknown bytes give a bounded
/// number of warning lines, the rest counted once; the help states the bounds.
#[test]
fn device_render_bounds_its_work_and_its_warnings() {
    use kiosk::devices::printer::render::{MAX_JOB_BYTES, MAX_UNKNOWN_LISTED};
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![0x07u8; MAX_JOB_BYTES + 1]).unwrap();
    let out = kiosk(
        &["device", "render", "big.bin", "--png", "o.png"],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&MAX_JOB_BYTES.to_string()), "{err}");

    std::fs::write(&big, vec![0x07u8; 100_000]).unwrap();
    let out = kiosk(
        &["device", "render", "big.bin", "--png", "o.png"],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.lines().count(), MAX_UNKNOWN_LISTED + 1, "{err}");
    assert!(err.contains("100000 in all"), "{err}");

    let out = kiosk(&["device", "render", "--help"], dir.path());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains(&MAX_JOB_BYTES.to_string()), "{help}");
    assert!(
        help.contains(&kiosk::devices::printer::font::MAX_HEIGHT.to_string()),
        "{help}"
    );
}

/// A time past jiff's range (year 9999 in UTC+8) is said in words, not as jiff's range error.
#[test]
fn a_time_out_of_range_is_said_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let out = kiosk(
        &[
            "db",
            "init",
            "--demo",
            "--path",
            "y.sqlite3",
            "--anchor",
            "9999-12-31T09:00:00+08:00",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("outside the supported times") && err.contains("9999-12-30"),
        "{err}"
    );
    assert!(!err.contains("Unix timestamp seconds"), "{err}");
}

/// `kiosk bench fleet` fills an empty SQLite file with the kiosks' days of events, times the
/// fleet page on it, and prints the figures as JSON; a second run measures without filling and
/// `--keep-days` times the retention sweep; without --database or with 0 kiosks it says what is
/// wrong, exit 1.
#[test]
fn bench_fleet_fills_measures_and_sweeps_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let db = db.to_str().unwrap();
    let args = [
        "bench",
        "fleet",
        "--database",
        db,
        "--kiosks",
        "2",
        "--days",
        "2",
    ];
    let out = kiosk(&[&args[..], &["--calls", "3"]].concat(), dir.path());
    assert_no_panic("bench fleet", &out);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["rows"], 2 * 2 * (1440 + 9));
    assert_eq!(
        (r["fleet_kiosks"].as_i64(), r["open_staff_calls"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["fleet"]["samples"], 3);
    assert!(r["retention"].is_null());
    let out = kiosk(&[&args[..], &["--keep-days", "1"]].concat(), dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["fill_seconds"], 0.0);
    assert_eq!(r["retention"]["keep_days"], 1);
    assert!(r["retention"]["deleted"].as_u64().unwrap() >= 1440 * 2);
    for (bad, says) in [
        (vec!["bench", "fleet"], "--database"),
        (
            vec!["bench", "fleet", "--database", db, "--kiosks", "0"],
            "kiosks 1 to 10000",
        ),
    ] {
        let out = kiosk(&bad, dir.path());
        assert_no_panic("bench fleet", &out);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(says),
            "{bad:?}: {err}"
        );
    }
}
