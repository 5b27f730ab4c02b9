//! The store across processes: SIGKILL at random points inside handle and pay, races between
//! processes, and the 2-hour revert across a restart — all through the `kiosk` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const KIOSK: &str = env!("CARGO_BIN_EXE_kiosk");
const NOW: &str = "2022-10-24T11:00:00+08:00";
const ANCHOR: &str = "2022-10-24T09:00:00+08:00";

fn kiosk(args: &[&str]) -> Output {
    Command::new(KIOSK)
        .args(args)
        .env("KIOSK_LOG", "error")
        .output()
        .expect("run kiosk")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn demo_db(dir: &Path) -> PathBuf {
    let path = dir.join("city.sqlite3");
    let out = kiosk(&[
        "db",
        "init",
        "--demo",
        "--persons",
        "60",
        "--seed",
        "4",
        "--anchor",
        ANCHOR,
        "--path",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    path
}

fn platform(db: &Path, args: &[&str]) -> Output {
    let mut all = vec!["platform", "--db", db.to_str().unwrap(), "--now", NOW];
    all.extend_from_slice(args);
    kiosk(&all)
}

fn check_passes(db: &Path) {
    let out = kiosk(&["db", "check", "--path", db.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "db check: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SplitMix64 for the kill times (deterministic per run).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

#[test]
fn sigkill_inside_handle_and_pay_leaves_nothing_half_done() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let violations = "1500";
    // The worker is this test binary again, running only `crash_loop_worker`.
    let worker = |seed: u64| {
        Command::new(std::env::current_exe().expect("the test binary"))
            .args(["--exact", "crash_loop_worker", "--ignored", "--nocapture"])
            .env(WORKER_DB, &db)
            .env(WORKER_SEED, seed.to_string())
            .env(WORKER_VIOLATIONS, violations)
            .env("KIOSK_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn worker")
    };
    let mut rng = Rng(2022);
    let started = Instant::now();
    let mut kills = 0u32;
    let mut finished_early = 0u32;
    while kills < 300 && started.elapsed() < Duration::from_secs(40) {
        let mut child = worker(u64::from(kills));
        std::thread::sleep(Duration::from_micros(2_000 + rng.below(25_000)));
        match child.try_wait().unwrap() {
            Some(_) => finished_early += 1,
            None => {
                child.kill().expect("SIGKILL");
                kills += 1;
            }
        }
        child.wait().unwrap();
        if kills.is_multiple_of(75) {
            check_passes(&db);
        }
    }
    eprintln!(
        "crash loop: {kills} SIGKILLs, {finished_early} runs ended before the kill, {:?}",
        started.elapsed()
    );
    assert!(kills >= 100, "only {kills} kills in the time budget");
    check_passes(&db);
    // Nothing half-done: every practice decision is unpaid without a payment, or paid with one.
    let conn = rusqlite::Connection::open(&db).unwrap();
    let half: i64 = conn
        .query_row(
            "SELECT count(*) FROM decisions d LEFT JOIN payments p ON p.decision_id = d.id
             WHERE (d.state = 'paid') <> (p.id IS NOT NULL)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(half, 0);
    drop(conn);
    // A last worker run to the end completes every practice violation exactly once.
    let status = worker(99_999).wait().unwrap();
    assert!(status.success());
    check_passes(&db);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (decisions, payments): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM decisions WHERE violation_id LIKE 'P%'),
                    (SELECT count(*) FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE d.violation_id LIKE 'P%')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (decisions, payments),
        (1500, 1500),
        "kills {kills}, early {finished_early}"
    );
}

const WORKER_DB: &str = "KIOSK_CRASH_WORKER_DB";
const WORKER_SEED: &str = "KIOSK_CRASH_WORKER_SEED";
const WORKER_VIOLATIONS: &str = "KIOSK_CRASH_WORKER_VIOLATIONS";

/// The crash-loop worker, started as a subprocess by
/// `sigkill_inside_handle_and_pay_leaves_nothing_half_done` (the database in `KIOSK_CRASH_WORKER_DB`):
/// handles and pays the practice violations one by one until killed or done. Each step is
/// idempotent, so a worker killed anywhere and started again simply continues. It is no command
/// of the shipped `kiosk` binary.
#[test]
#[ignore = "a subprocess of sigkill_inside_handle_and_pay_leaves_nothing_half_done"]
fn crash_loop_worker() {
    use kiosk::domain::IdNumber;
    use kiosk::store::platform::{HandleRequest, PayRequest, Platform, SqlitePlatform, VehicleKey};
    use kiosk::store::{demo, schema};

    let Some(db) = std::env::var_os(WORKER_DB) else {
        eprintln!("crash_loop_worker runs only as a subprocess ({WORKER_DB} is not set)");
        return;
    };
    let db = PathBuf::from(db);
    let number = |name: &str, default: u64| -> u64 {
        std::env::var(name)
            .ok()
            .map_or(default, |s| s.parse().expect(name))
    };
    let seed = number(WORKER_SEED, 0);
    let violations = number(WORKER_VIOLATIONS, 400);
    let now: jiff::Timestamp = NOW.parse().unwrap();
    {
        let mut conn = schema::open(&db).unwrap();
        demo::ensure_practice_fixture(&mut conn, violations as u32, now).unwrap();
    }
    let p = SqlitePlatform::open_demo(&db).unwrap();
    let who = IdNumber::parse(demo::PRACTICE_PERSON).unwrap();
    let vehicle = VehicleKey::parse(demo::PRACTICE_PLATE, "02").unwrap();
    let mut rng = demo::Rng::new(seed ^ u64::from(std::process::id()));
    let start = rng.below(violations.max(1));
    for k in 0..violations {
        let vid = format!("P{:011}", (start + k) % violations);
        let out = p
            .handle(
                &HandleRequest {
                    id_number: who.clone(),
                    vehicle: vehicle.clone(),
                    violation_ids: vec![vid.clone()],
                    kiosk_id: "crash".into(),
                },
                now,
            )
            .unwrap();
        let d = &out.items[0].decision;
        if d.state == kiosk::rules::payment::HandlingState::HandledUnpaid {
            p.pay(
                &PayRequest {
                    decision_number: d.number.clone(),
                    idempotency_key: format!("crash-{vid}"),
                    method: "demo".into(),
                },
                now,
            )
            .unwrap();
        }
    }
}

#[test]
fn the_crash_loop_worker_is_no_command_of_the_binary() {
    let out = kiosk(&["platform", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("revert-due"), "{help}");
    assert!(!help.contains("crash"), "{help}");
    let out = kiosk(&["platform", "crash-loop-worker"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown command is a usage error"
    );
}

/// Start `n` processes at once and collect their outputs.
fn at_once(n: usize, args: impl Fn(usize) -> Vec<String>) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|i| {
            Command::new(KIOSK)
                .args(args(i))
                .env("KIOSK_LOG", "error")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn codes(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .map(|o| {
            if o.status.success() {
                "ok".to_string()
            } else {
                json(o)["error"].as_str().unwrap_or("?").to_string()
            }
        })
        .collect()
}

#[test]
fn racing_processes_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let dbs = db.to_str().unwrap().to_string();
    let base = move |verb: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = ["platform", "--db", &dbs, "--now", NOW]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(verb.iter().map(|s| s.to_string()));
        v
    };
    // 刘芳's car: 1 filed driver; 吴丽 takes the 2nd; four people race for the 3rd.
    let tok = json(&platform(
        &db,
        &[
            "issue-qr",
            "--id",
            "500107198209150056",
            "--plate",
            "渝A6R2T8",
        ],
    ))["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        platform(
            &db,
            &["file", "--id", "500109199501010170", "--token", &tok]
        )
        .status
        .success()
    );
    let racers = [
        "50010619851120002X",
        "50010419860808013X",
        "50011619700720015X",
        "500117198304030194",
    ];
    let outs = at_once(4, |i| base(&["file", "--id", racers[i], "--token", &tok]));
    let c = codes(&outs);
    assert_eq!(c.iter().filter(|c| *c == "ok").count(), 1, "{c:?}");
    assert!(
        c.iter()
            .all(|c| c == "ok" || c == "filing_vehicle_limit_reached"),
        "{c:?}"
    );

    // Four kiosks handle 李小红's violation at once: one decision.
    let list = json(&platform(
        &db,
        &[
            "violations",
            "--id",
            "50010619851120002X",
            "--plate",
            "渝A8K2L6",
        ],
    ));
    let vid = list["violations"][0]["id"].as_str().unwrap().to_string();
    let outs = at_once(4, |_| {
        base(&[
            "handle",
            "--id",
            "50010619851120002X",
            "--plate",
            "渝A8K2L6",
            "--violation",
            &vid,
        ])
    });
    let results: Vec<serde_json::Value> = outs.iter().map(json).collect();
    assert!(outs.iter().all(|o| o.status.success()));
    let fresh = results
        .iter()
        .filter(|r| r["items"][0]["already_handled"] == false)
        .count();
    assert_eq!(fresh, 1);
    let number = results[0]["items"][0]["decision"]["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        results
            .iter()
            .all(|r| r["items"][0]["decision"]["number"] == number.as_str())
    );

    // Four processes ask about that decision's payment at once, with different keys (issue 12:
    // `pay` asks the provider and records what it confirms): recorded once, and all four
    // answer with that one payment.
    let outs = at_once(4, |i| {
        base(&["pay", "--decision", &number, "--key", &format!("race-{i}")])
    });
    let c = codes(&outs);
    assert!(c.iter().all(|c| c == "ok"), "{c:?}");
    let paid: Vec<serde_json::Value> = outs.iter().map(json).collect();
    assert_eq!(
        paid.iter().filter(|p| p["replayed"] == false).count(),
        1,
        "{paid:?}"
    );
    assert!(
        paid.iter()
            .all(|p| p["transaction_no"] == paid[0]["transaction_no"])
    );
    check_passes(&db);
}

#[test]
fn an_unpaid_handling_is_reverted_by_a_later_process() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let list = json(&platform(
        &db,
        &[
            "violations",
            "--id",
            "50010619851120002X",
            "--plate",
            "渝A8K2L6",
        ],
    ));
    let vid = list["violations"][0]["id"].as_str().unwrap().to_string();
    let out = platform(
        &db,
        &[
            "handle",
            "--id",
            "50010619851120002X",
            "--plate",
            "渝A8K2L6",
            "--violation",
            &vid,
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let at = |t: &str, verb: &[&str]| {
        let mut all = vec!["platform", "--db", db.to_str().unwrap(), "--now", t];
        all.extend_from_slice(verb);
        json(&kiosk(&all))
    };
    let early = at("2022-10-24T12:59:59+08:00", &["revert-due"]);
    assert_eq!(early["reverted"].as_array().unwrap().len(), 0);
    let due = at("2022-10-24T13:00:00+08:00", &["revert-due"]);
    assert_eq!(due["reverted"].as_array().unwrap().len(), 1);
    assert_eq!(due["reverted"][0]["violation_id"], vid.as_str());
    let person = at(
        "2022-10-24T13:00:01+08:00",
        &["person", "--id", "50010619851120002X"],
    );
    assert_eq!(person["licence"]["pending_points"], 0);
    check_passes(&db);
}

#[test]
fn db_check_names_a_breach_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let db = demo_db(dir.path());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE licences SET pending_points = 5 WHERE person_id = 1",
        [],
    )
    .unwrap();
    drop(conn);
    let out = kiosk(&["db", "check", "--path", db.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pending_points_disagree"));
}
