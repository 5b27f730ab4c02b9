//! The soak test (issue 14): `kiosk bench soak` drives 1,500 scripted sessions (pay, browse,
//! time out, card pulled, card pulled at payment) through the whole kiosk in accelerated time,
//! and the process must not grow: resident memory, open files, receipt files and the database per
//! session stay within generous bounds. The full figures for 10,000 sessions come from
//! `kiosk bench soak` itself (ARCHITECTURE.md).

use std::process::Command;

const SESSIONS: u64 = 1_500;

#[test]
fn fifteen_hundred_sessions_leave_memory_files_and_database_bounded() {
    let out = Command::new(env!("CARGO_BIN_EXE_kiosk"))
        .args([
            "bench",
            "soak",
            "--sessions",
            &SESSIONS.to_string(),
            "--persons",
            "500",
        ])
        .env("KIOSK_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("kiosk runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kiosk bench soak failed: {stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    eprintln!(
        "soak: {} sessions in {:.1} s ({:.1} simulated days): paid {}, timed out {}, reverted {}; start {} end {}",
        r["sessions"],
        r["wall_seconds"].as_f64().unwrap_or(0.0),
        r["simulated_days"].as_f64().unwrap_or(0.0),
        r["paid"],
        r["timed_out"],
        r["reverted"],
        r["start"],
        r["end"]
    );
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("a number: {v}"));
    assert_eq!(n(&r["sessions"]), SESSIONS);
    assert_eq!(
        n(&r["stuck"]),
        0,
        "every session ended on the attract screen"
    );

    // The interesting cases happened: payments with receipts, idle timeouts, 六.2 reverts of
    // the card pulled at payment, 六.7 maintenance-window refusals at night.
    assert!(n(&r["paid"]) >= 300, "paid: {}", r["paid"]);
    assert_eq!(r["paid"], r["printed"], "every payment printed its receipt");
    // Every handled session got its payment: a warning (no fine) too, with nothing to collect.
    assert!(
        r["outcomes"]["pay.not_paid"].is_null(),
        "handled but never paid: {}",
        r["outcomes"]
    );
    assert_eq!(
        r["timed_out"], r["scripts"]["timeout"],
        "every abandoned session was wiped by the idle timeout"
    );
    assert!(
        n(&r["reverted"]) > 0,
        "no handled-unpaid decision was reverted"
    );
    assert!(
        n(&r["messages"]["refused.MaintenanceWindow"]) > 0,
        "no session met the maintenance window"
    );

    // Bounded: generous limits that a leak of a few KiB per session breaks.
    let (start, end) = (&r["start"], &r["end"]);
    let sessions_after_start = SESSIONS - n(&start["after_sessions"]);
    let rss_growth = n(&end["rss_kib"]).saturating_sub(n(&start["rss_kib"]));
    assert!(
        rss_growth < 24 * 1024,
        "resident memory grew {rss_growth} KiB over {sessions_after_start} sessions"
    );
    assert!(
        n(&end["open_fds"]) <= n(&start["open_fds"]) + 2,
        "open files: {} at the start, {} at the end",
        start["open_fds"],
        end["open_fds"]
    );
    assert!(
        n(&end["receipt_files"]) <= 50,
        "the simulated printer keeps {} receipt files",
        end["receipt_files"]
    );
    let db_per_session =
        n(&end["db_bytes"]).saturating_sub(n(&start["db_bytes"])) / sessions_after_start;
    assert!(
        db_per_session < 16 * 1024,
        "the database grew {db_per_session} bytes per session"
    );
}
