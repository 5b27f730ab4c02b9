//! `kiosk bench platform --database postgres://…`: the platform server on PostgreSQL over loopback
//! HTTP with N concurrent simulated kiosks (N = 1, 10, 100), beside the embedded SQLite figures of
//! `kiosk db bench`, in one run.
//!
//! Each simulated kiosk is a thread with its own `RemotePlatform` (the demo identity, signed
//! requests, idempotency keys) against an in-process `kiosk serve` on the given database, acting
//! for a driver of its own from the demo city (given zero-point camera fines for the run). One
//! round is the look-up a card read makes (person, vehicles, the car's violations) and a
//! handle+pay of one of the driver's fines.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};

use crate::domain::IdNumber;
use crate::remote::RemotePlatform;
use crate::server::{ServeOptions, spawn};
use crate::store::bench::{self, Timing};
use crate::store::demo::{self, DemoOptions};
use crate::store::platform::{
    HandleRequest, PayRequest, PgPlatform, Platform, SqlitePlatform, VehicleKey,
};
use crate::store::schema;
use crate::wire::auth::KioskIdentity;

/// The concurrent kiosks of each step.
const KIOSKS: [usize; 3] = [1, 10, 100];

struct Step {
    kiosks: usize,
    lookup: Timing,
    handle_pay: Timing,
    failed: usize,
    wall: Duration,
}

/// Run the benchmark; `rounds`: handle+pay rounds per kiosk in each step.
pub fn run(database: &str, rounds: usize) -> anyhow::Result<i32> {
    if !schema::is_postgres_url(database) {
        anyhow::bail!(
            "`kiosk bench platform` measures the server on PostgreSQL: give --database postgres://USER@HOST:PORT/DB (an empty database, or one made by `kiosk db init --demo`)"
        );
    }
    let rounds = rounds.max(1);
    let anchor = demo::today_anchor();
    let now = anchor + SignedDuration::from_hours(2);
    // The city: the demo city when the database is empty.
    let store = PgPlatform::connect_demo(database, 2).context("open the database")?;
    let persons: i64 = store.read_sql(|tx| Ok(tx.one("SELECT count(*) FROM persons", &[])?))?;
    if persons == 0 {
        store.build_demo_city(&DemoOptions {
            persons: 2000,
            seed: 2022,
            anchor,
        })?;
    }
    // One driver per simulated kiosk: the demo city's owners of a non-operating small car with a
    // valid licence, each given `rounds` zero-point camera fines per step of their own (ids `B<kiosk><n>`,
    // made again on every run), so kiosks conflict only where a city's would: on shared tables.
    let most = *KIOSKS.iter().max().unwrap_or(&1);
    let drivers: Vec<(String, String, i64)> = store.read_sql(|tx| {
        let rows = tx.query(
            "SELECT p.id_number, v.plate, v.id FROM persons p
             JOIN licences l ON l.person_id = p.id
             JOIN vehicles v ON v.owner_person_id = p.id
             WHERE l.status = 'A' AND l.cycle_points + l.pending_points < 6 AND l.full_12_count = 0
               AND v.status = 'A'
               AND v.plate_type = '02' AND v.use_code = 'A' AND p.id_number <> ?1
             ORDER BY p.id LIMIT ?2",
            &crate::sql_params![demo::PRACTICE_PERSON, most as i64 * 3],
        )?;
        let mut out: Vec<(String, String, i64)> = Vec::new();
        for r in rows {
            let id: String = r.get(0)?;
            if out.iter().all(|(seen, _, _)| *seen != id) {
                out.push((id, r.get(1)?, r.get(2)?));
            }
        }
        Ok(out)
    })?;
    anyhow::ensure!(
        drivers.len() >= most,
        "the demo city has {} drivers with a car of their own; the benchmark needs {most}",
        drivers.len()
    );
    let run_tag = Timestamp::now().as_second() % 100_000;
    let fined = anchor - SignedDuration::from_hours(24);
    let work: Vec<(IdNumber, VehicleKey, Vec<String>)> = store.write_sql(|tx| {
        let mut work = Vec::new();
        for (k, (id, plate, vehicle_id)) in drivers.iter().take(most).enumerate() {
            let mut ids = Vec::new();
            for i in 0..rounds * KIOSKS.len() {
                let vid = format!("B{run_tag:05}{k:03}{i:04}");
                tx.exec(
                    "INSERT INTO violations (id, vehicle_id, occurred_at, place, description, province, province_online, recorded_by, penalty, fine_fen, points, authority, authority_address, state)
                     VALUES (?1, ?2, ?3, '重庆市渝中区测试路', '机动车违反规定停放、临时停车', '渝', 1, 'camera', 'fine', 15000, 0, '重庆市公安局交通管理局渝中区支队', '重庆市渝中区交巡警支队', 'pending')",
                    &crate::sql_params![vid, vehicle_id, fined.as_second()],
                )?;
                ids.push(vid);
            }
            let who = IdNumber::parse(id).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            let key = VehicleKey::parse(plate, "02")?;
            work.push((who, key, ids));
        }
        Ok(work)
    })?;
    drop(store);

    let addr = spawn(ServeOptions {
        database: database.to_string(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        kiosks: None,
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: Duration::from_secs(3600),
        operators: None,
        config: Default::default(),
        remote_config: None,
        config_key: None,
    })?;
    let url = format!("http://{addr}");

    let mut steps = Vec::new();
    for kiosks in KIOSKS {
        let barrier = Arc::new(Barrier::new(kiosks));
        let started = Instant::now();
        let threads: Vec<_> = (0..kiosks)
            .map(|k| {
                // Each step uses its own slice of every driver's fines.
                let (who, vehicle, all) = &work[k];
                let step = KIOSKS.iter().position(|&n| n == kiosks).unwrap_or(0);
                let mine: Vec<String> = all[step * rounds..(step + 1) * rounds].to_vec();
                let (url, who, vehicle, barrier) =
                    (url.clone(), who.clone(), vehicle.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let p = RemotePlatform::new(&url, KioskIdentity::demo())?;
                    // Warm up (connection, the server's prepared statements), untimed.
                    p.person(&who, now)?;
                    barrier.wait();
                    let (mut lookups, mut paid, mut failed) = (Vec::new(), Vec::new(), 0usize);
                    for (i, violation) in mine.into_iter().enumerate() {
                        // The look-up a card read makes: person, vehicles, the car's violations.
                        let t = Instant::now();
                        p.person(&who, now)?;
                        p.vehicles(&who, now)?;
                        p.violations(&who, &vehicle, now)?;
                        lookups.push(t.elapsed());
                        let t = Instant::now();
                        let done = p
                            .handle(
                                &HandleRequest {
                                    id_number: who.clone(),
                                    vehicle: vehicle.clone(),
                                    violation_ids: vec![violation],
                                    kiosk_id: String::new(),
                                },
                                now,
                            )
                            .and_then(|out| {
                                p.pay(
                                    &PayRequest {
                                        decision_number: out.items[0].decision.number.clone(),
                                        idempotency_key: format!(
                                            "bench-{run_tag}-{kiosks}-{k}-{i}"
                                        ),
                                        method: "demo".into(),
                                    },
                                    now,
                                )
                            });
                        match done {
                            Ok(_) => paid.push(t.elapsed()),
                            Err(e) => {
                                failed += 1;
                                tracing::warn!(error = %e, "bench: handle+pay failed");
                            }
                        }
                    }
                    Ok::<_, crate::store::StoreError>((lookups, paid, failed))
                })
            })
            .collect();
        let (mut lookups, mut paid, mut failed) = (Vec::new(), Vec::new(), 0);
        for t in threads {
            let (l, p, f) = t
                .join()
                .map_err(|_| anyhow::anyhow!("a kiosk thread panicked"))??;
            lookups.extend(l);
            paid.extend(p);
            failed += f;
        }
        steps.push(Step {
            kiosks,
            lookup: Timing::of(lookups),
            handle_pay: Timing::of(paid),
            failed,
            wall: started.elapsed(),
        });
    }

    // The embedded SQLite figures, as `kiosk db bench` measures them, on a demo city of the same
    // size in a temporary file.
    let dir = tempfile_dir()?;
    let sqlite = dir.join("bench.sqlite3");
    let local = SqlitePlatform::open_demo(&sqlite)?;
    local.build_demo_city(&DemoOptions {
        persons: 2000,
        seed: 2022,
        anchor,
    })?;
    drop(local);
    let embedded = bench::run(&sqlite, 2000, 200)?;
    let _ = std::fs::remove_dir_all(&dir);

    crate::outln!(
        "platform benchmark: kiosk serve on {} over loopback HTTP, {rounds} rounds per kiosk",
        crate::store::backend::without_password(database)
    )?;
    crate::outln!(
        "| where | kiosks | look-up p50 | look-up p99 | handle+pay p50 | handle+pay p99 | handle+pay failed | rounds/s |"
    )?;
    crate::outln!("| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for s in &steps {
        crate::outln!(
            "| server, PostgreSQL | {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.0} |",
            s.kiosks,
            s.lookup.p50_ms,
            s.lookup.p99_ms,
            s.handle_pay.p50_ms,
            s.handle_pay.p99_ms,
            s.failed,
            s.handle_pay.samples as f64 / s.wall.as_secs_f64()
        )?;
    }
    crate::outln!(
        "| embedded SQLite (`kiosk db bench`) | 1 | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | 0 | — |",
        embedded.lookup.p50_ms,
        embedded.lookup.p99_ms,
        embedded.handle_pay.p50_ms,
        embedded.handle_pay.p99_ms,
    )?;
    let failed: usize = steps.iter().map(|s| s.failed).sum();
    Ok(if failed == 0 { 0 } else { 1 })
}

/// A fresh temporary directory (removed by the caller).
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "kiosk-bench-platform-{}-{}",
        std::process::id(),
        Timestamp::now().as_nanosecond()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}
