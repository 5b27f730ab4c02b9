//! `kiosk db bench`: how fast the kiosk's two hot paths are on a (city-scale) database, printed
//! beside the machine's bare fsync time so the ratio can be read.
//!
//! - *look-up*: person + vehicles + every vehicle's pending violations with the rule core's
//!   decisions (what the kiosk shows after a card is read);
//! - *handle+pay*: handle one eligible violation and pay its decision (two `IMMEDIATE`
//!   transactions with `synchronous=FULL`, each one WAL fsync at commit).
//!
//! It writes decisions and payments into the database it measures: run it on a demo database.

use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::demo::Rng;
use super::platform::{HandleRequest, PayRequest, Platform, SqlitePlatform, VehicleKey};
use super::{StoreError, demo, schema};
use crate::domain::IdNumber;

/// Percentiles of one measured operation, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Timing {
    pub fn of(mut xs: Vec<Duration>) -> Timing {
        xs.sort();
        let at = |q: f64| -> f64 {
            if xs.is_empty() {
                return 0.0;
            }
            let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
            xs[i].as_secs_f64() * 1000.0
        };
        Timing {
            samples: xs.len(),
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub persons: i64,
    pub vehicles: i64,
    pub violations: i64,
    pub lookup: Timing,
    pub handle_pay: Timing,
    pub bare_fsync: Timing,
    /// handle+pay p50 over bare fsync p50.
    pub handle_pay_over_fsync_p50: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Schema(#[from] schema::SchemaError),
    #[error("bare fsync probe: {0}")]
    Io(#[from] std::io::Error),
    #[error("the database has no vehicles to measure; build it with `kiosk db init --demo`")]
    Empty,
}

/// The time of the measured operations: 11:00 local on the demo's anchor day (opening hours).
fn bench_now(conn: &rusqlite::Connection) -> Result<Timestamp, BenchError> {
    let meta: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'demo'", [], |r| {
            r.get(0)
        })
        .optional()?;
    let anchor = meta
        .and_then(|m| serde_json::from_str::<serde_json::Value>(&m).ok())
        .and_then(|v| {
            v["anchor"]
                .as_str()
                .and_then(|s| s.parse::<Timestamp>().ok())
        })
        .unwrap_or_else(demo::today_anchor);
    Ok(anchor + SignedDuration::from_hours(2))
}

/// Time `fsync` of a 4 KiB write next to the database.
fn bare_fsync(dir: &Path, n: u32) -> Result<Timing, BenchError> {
    let path = dir.join(format!(".kiosk-fsync-probe-{}", std::process::id()));
    let mut f = std::fs::File::create(&path)?;
    let block = [0x5Au8; 4096];
    let mut xs = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_all()?;
        xs.push(t.elapsed());
    }
    drop(f);
    std::fs::remove_file(&path)?;
    Ok(Timing::of(xs))
}

/// Run the benchmark on the database at `path`.
pub fn run(path: &Path, lookups: u32, payments: u32) -> Result<BenchReport, BenchError> {
    let conn = schema::open(path)?;
    let count =
        |sql: &str| -> Result<i64, rusqlite::Error> { conn.query_row(sql, [], |r| r.get(0)) };
    let persons = count("SELECT count(*) FROM persons")?;
    let vehicles = count("SELECT count(*) FROM vehicles")?;
    let violations = count("SELECT count(*) FROM violations")?;
    let max_vehicle = count("SELECT coalesce(max(id), 0) FROM vehicles")?;
    if max_vehicle == 0 {
        return Err(BenchError::Empty);
    }
    let now = bench_now(&conn)?;
    let mut rng = Rng::new(0xBE4C);
    // Random owners of vehicles.
    let sample = |rng: &mut Rng| -> Result<Option<(String, i64)>, rusqlite::Error> {
        let vid = 1 + rng.below(max_vehicle as u64) as i64;
        conn.query_row(
            "SELECT p.id_number, p.id FROM vehicles v JOIN persons p ON p.id = v.owner_person_id WHERE v.id = ?1",
            [vid],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    };
    let mut owners = Vec::new();
    while owners.len() < lookups as usize {
        if let Some((id, _)) = sample(&mut rng)? {
            owners.push(id);
        }
    }
    let p = SqlitePlatform::with_connection(conn)?;
    let mut lookup_times = Vec::new();
    let mut payable: Vec<(IdNumber, VehicleKey, String)> = Vec::new();
    for id in &owners {
        let id = IdNumber::parse(id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let t = Instant::now();
        p.person(&id, now)?;
        let vs = p.vehicles(&id, now)?;
        let mut found = None;
        for v in &vs {
            let key = v.key();
            let list = p.violations(&id, &key, now)?;
            if found.is_none()
                && let Some(ok) = list.violations.iter().find(|x| x.decision.eligible())
            {
                found = Some((key, ok.facts.id.clone()));
            }
        }
        lookup_times.push(t.elapsed());
        // An owner drawn twice offers the same violation: measure each violation once.
        if let Some((key, vid)) = found
            && !payable.iter().any(|(_, _, v)| *v == vid)
        {
            payable.push((id.clone(), key, vid));
        }
    }
    let mut pay_times = Vec::new();
    for (i, (id, key, vid)) in payable.into_iter().take(payments as usize).enumerate() {
        let t = Instant::now();
        let out = p.handle(
            &HandleRequest {
                id_number: id,
                vehicle: key,
                violation_ids: vec![vid],
                kiosk_id: "bench".into(),
            },
            now,
        )?;
        p.pay(
            &PayRequest {
                decision_number: out.items[0].decision.number.clone(),
                idempotency_key: format!(
                    "bench-{}-{}-{i}",
                    std::process::id(),
                    Timestamp::now().as_nanosecond()
                ),
                method: "demo".into(),
            },
            now,
        )?;
        pay_times.push(t.elapsed());
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let fsync = bare_fsync(dir, 200)?;
    let handle_pay = Timing::of(pay_times);
    let ratio = if fsync.p50_ms > 0.0 {
        handle_pay.p50_ms / fsync.p50_ms
    } else {
        0.0
    };
    Ok(BenchReport {
        persons,
        vehicles,
        violations,
        lookup: Timing::of(lookup_times),
        handle_pay,
        bare_fsync: fsync,
        handle_pay_over_fsync_p50: (ratio * 10.0).round() / 10.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::demo::DemoOptions;

    #[test]
    fn percentiles_are_read_from_the_sorted_samples() {
        let xs: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let t = Timing::of(xs);
        assert_eq!(
            (t.samples, t.p50_ms.round(), t.p99_ms.round(), t.max_ms),
            (100, 51.0, 99.0, 100.0)
        );
        assert_eq!(Timing::of(Vec::new()).samples, 0);
    }

    #[test]
    fn the_bench_runs_on_a_small_city_and_leaves_it_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.db");
        let mut c = schema::open(&path).unwrap();
        demo::build_city(
            &mut c,
            &DemoOptions {
                persons: 400,
                seed: 9,
                anchor: "2022-10-24T09:00:00+08:00".parse().unwrap(),
            },
        )
        .unwrap();
        drop(c);
        let r = run(&path, 50, 10).unwrap();
        assert_eq!(r.lookup.samples, 50);
        assert!(r.handle_pay.samples > 0);
        assert_eq!(r.bare_fsync.samples, 200);
        let c = schema::open(&path).unwrap();
        assert!(crate::store::check::run(&c).unwrap().ok());
    }
}
