//! `kiosk bench platform --database postgres://…`: the platform server on PostgreSQL over loopback
//! HTTP with N concurrent simulated kiosks (N = 1, 10, 100), beside the embedded SQLite figures of
//! `kiosk db bench`, in one run.
//!
//! Each simulated kiosk is a thread with its own `RemotePlatform` (the demo identity, signed
//! requests, idempotency keys) against an in-process `kiosk serve` on the given database. One
//! round is a look-up as a card read makes it (a demo person, their vehicles, the first one's
//! violations) and a handle+pay of one violation of its own. All kiosks act for the practice driver: every handle of the round runs against the
//! same licence and the same decision numbering, the worst case for PostgreSQL's serialization
//! conflicts (retried by the store).

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
    let needed = KIOSKS.iter().sum::<usize>() * rounds;
    let anchor = demo::today_anchor();
    let now = anchor + SignedDuration::from_hours(2);
    // The city: the demo city when the database is empty, and the practice driver's violations.
    let store = PgPlatform::connect_demo(database, 2).context("open the database")?;
    let persons: i64 = store.read_sql(|tx| Ok(tx.one("SELECT count(*) FROM persons", &[])?))?;
    if persons == 0 {
        store.build_demo_city(&DemoOptions {
            persons: 2000,
            seed: 2022,
            anchor,
        })?;
    }
    let have: i64 = store.read_sql(|tx| {
        Ok(tx.one(
            "SELECT count(*) FROM violations WHERE id LIKE 'P%' AND state = 'pending'",
            &[],
        )?)
    })?;
    let total: i64 = store
        .read_sql(|tx| Ok(tx.one("SELECT count(*) FROM violations WHERE id LIKE 'P%'", &[])?))?;
    let want = u32::try_from(total - have + needed as i64).unwrap_or(u32::MAX);
    store.ensure_practice_fixture(want, anchor)?;
    let mut pending: Vec<String> = store.read_sql(|tx| {
        Ok(tx.column(
            "SELECT id FROM violations WHERE id LIKE 'P%' AND state = 'pending' ORDER BY id",
            &[],
        )?)
    })?;
    // Look-ups as a card read makes them (person, vehicles, the first vehicle's violations), of
    // the demo city's people.
    let people: Vec<String> = store.read_sql(|tx| {
        Ok(tx.column(
            "SELECT p.id_number FROM persons p JOIN vehicles v ON v.owner_person_id = p.id \
             WHERE p.id_number <> ?1 GROUP BY p.id_number ORDER BY p.id_number LIMIT 500",
            &crate::sql_params![demo::PRACTICE_PERSON],
        )?)
    })?;
    let people: Arc<Vec<IdNumber>> = Arc::new(
        people
            .iter()
            .filter_map(|s| IdNumber::parse(s).ok())
            .collect(),
    );
    anyhow::ensure!(!people.is_empty(), "the demo city has no vehicle owners");
    drop(store);

    let addr = spawn(ServeOptions {
        database: database.to_string(),
        listen: "127.0.0.1:0".parse()?,
        demo: true,
        kiosks: None,
        revert_every: None,
        kiosk_clock: true,
        confirm_points_after: Duration::from_secs(3600),
    })?;
    let url = format!("http://{addr}");
    let who = IdNumber::parse(demo::PRACTICE_PERSON)?;
    let vehicle = VehicleKey::parse(demo::PRACTICE_PLATE, "02")?;

    let mut steps = Vec::new();
    for kiosks in KIOSKS {
        let barrier = Arc::new(Barrier::new(kiosks));
        let started = Instant::now();
        let threads: Vec<_> = (0..kiosks)
            .map(|k| {
                let mine: Vec<String> = pending.drain(..rounds).collect();
                let (url, who, vehicle, barrier, people) = (
                    url.clone(),
                    who.clone(),
                    vehicle.clone(),
                    barrier.clone(),
                    people.clone(),
                );
                std::thread::spawn(move || {
                    let p = RemotePlatform::new(&url, KioskIdentity::demo())?;
                    barrier.wait();
                    let (mut lookups, mut paid, mut failed) = (Vec::new(), Vec::new(), 0usize);
                    for (i, violation) in mine.into_iter().enumerate() {
                        let t = Instant::now();
                        let person = &people[(k * 7919 + i) % people.len()];
                        p.person(person, now)?;
                        if let Some(v) = p.vehicles(person, now)?.first() {
                            p.violations(person, &v.key(), now)?;
                        }
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
                                        idempotency_key: format!("bench-{kiosks}-{k}-{i}"),
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
