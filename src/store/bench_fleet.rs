//! `kiosk bench fleet`: the fleet page's look-ups (`FleetSource`) on a city's `kiosk_events`, on
//! SQLite or PostgreSQL. An empty table is first filled with `days` days of `kiosks` kiosks: a
//! heartbeat every 60 s each (1440 a day) and a few other events a day (paper out and back,
//! offline and online, a device failure and back, three staff calls, the last one still open at
//! the end); a table that holds events
//! already is measured as it is (so one database measures the schema before and after a
//! migration). Then `calls` times each: `fleet(since)` (last heartbeat, last other event and
//! today's problems of every kiosk) and `staff_calls(now - 30 min)`, p50/p99/max, with the
//! plans the database chose for them.

use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::StoreError;
use super::backend::Backend;
use super::bench::Timing;
use super::platform::fleet::{self, FleetSource};
use super::platform::{EVENT_KINDS, PURGE_BATCH, PURGE_KIND_BATCH, StorePlatform};
use super::sql::{Dialect, Sql};
use crate::sql_params;

/// What to fill and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct FleetBenchOptions {
    pub kiosks: u32,
    pub days: u32,
    pub calls: u32,
    /// After measuring, run the retention sweep keeping this many days (it deletes from the
    /// database measured) and time it.
    pub keep_days: Option<u32>,
}

/// At most this many kiosks and days are filled (10,000 × 400 days ≈ 5.8 billion rows is far
/// beyond any disk here; these bound the command's work on a mistyped number).
pub const MAX_KIOSKS: u32 = 10_000;
pub const MAX_DAYS: u32 = 400;

#[derive(Debug, Clone, Serialize)]
pub struct FleetBenchReport {
    pub backend: &'static str,
    pub schema_version: i64,
    pub kiosks: u32,
    pub days: u32,
    /// Rows in `kiosk_events` when measured.
    pub rows: i64,
    /// Seconds spent filling (0 when the table held events already).
    pub fill_seconds: f64,
    pub fleet: Timing,
    pub staff_calls: Timing,
    /// Kiosks and staff calls the last calls returned.
    pub fleet_kiosks: usize,
    pub open_staff_calls: usize,
    /// Each query's plan (EXPLAIN / EXPLAIN QUERY PLAN).
    pub plans: Vec<(String, Vec<String>)>,
    /// The retention sweep when asked for: days kept, rows deleted, transactions, seconds.
    pub retention: Option<RetentionFigure>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionFigure {
    pub keep_days: u32,
    pub deleted: u64,
    pub batches: u32,
    pub seconds: f64,
}

/// Other events of a kiosk's day: kind and second of the day (UTC offset from the day's start).
const DAY_EVENTS: &[(&str, i64)] = &[
    ("printer_out_of_paper", 3 * 3600 + 17),
    ("printer_paper_back", 3 * 3600 + 900),
    ("offline", 5 * 3600 + 33),
    ("online", 5 * 3600 + 400),
    ("staff_call", 6 * 3600 + 71),
    ("device_failure", 8 * 3600 + 5),
    ("device_back", 8 * 3600 + 125),
    ("staff_call", 9 * 3600 + 43),
    // Ten minutes before the day's end: on the last day, a call still open "now".
    ("staff_call", 86_400 - 600),
];

/// A heartbeat's detail as a kiosk sends it (about the size of `wire::heartbeat::Heartbeat`).
const HEARTBEAT_DETAIL: &str = r#"{"version":"0.1.0","config_hash":"3f9a0c2d1b4e5f60","devices":{"reader":"ok","scanner":"ok","printer":"ok"},"paper":"ok","sessions_today":42,"payments_today":17}"#;

/// One day of events for every kiosk, in time order, in one statement (portable SQL: a
/// recursive series on both backends).
fn fill_day(tx: &dyn Sql, kiosks: u32, day_start: i64) -> Result<u64, StoreError> {
    let others = DAY_EVENTS
        .iter()
        .map(|(k, s)| format!("SELECT '{k}' AS kind, {s} AS off"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let sql = format!(
        "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < CAST(?1 AS BIGINT)),
              m(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM m WHERE j + 1 < 1440),
              ev(kind, off) AS ({others}),
              rows(kiosk_id, kind, detail, at) AS (
                  SELECT 'BENCH-' || CAST(1000 + i AS TEXT), 'heartbeat', ?2, CAST(?3 AS BIGINT) + j * 60 + i
                  FROM k, m
                  UNION ALL
                  SELECT 'BENCH-' || CAST(1000 + i AS TEXT), ev.kind, '', CAST(?3 AS BIGINT) + ev.off + i
                  FROM k, ev)
         INSERT INTO kiosk_events (kiosk_id, kind, detail, at)
         SELECT kiosk_id, kind, detail, at FROM rows ORDER BY at, kiosk_id"
    );
    Ok(tx.exec(
        &sql,
        &sql_params![kiosks as i64, HEARTBEAT_DETAIL, day_start],
    )?)
}

/// The plan of `sql` with `params`, one line per step.
pub fn plan(
    tx: &dyn Sql,
    sql: &str,
    params: &[super::sql::Value],
) -> Result<Vec<String>, StoreError> {
    Ok(match tx.dialect() {
        Dialect::Postgres => tx.column::<String>(&format!("EXPLAIN {sql}"), params)?,
        Dialect::Sqlite => tx
            .query(&format!("EXPLAIN QUERY PLAN {sql}"), params)?
            .iter()
            .map(|r| r.get::<String>(3))
            .collect::<Result<_, _>>()?,
    })
}

/// Fill (if empty) and measure.
pub fn run<B: Backend>(
    p: &StorePlatform<B>,
    opts: FleetBenchOptions,
    now: Timestamp,
) -> Result<FleetBenchReport, StoreError> {
    if opts.kiosks == 0 || opts.kiosks > MAX_KIOSKS || opts.days == 0 || opts.days > MAX_DAYS {
        return Err(StoreError::Invalid(format!(
            "kiosks 1 to {MAX_KIOSKS}, days 1 to {MAX_DAYS}"
        )));
    }
    let now = Timestamp::from_second(now.as_second() - now.as_second() % 60)
        .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let count = |p: &StorePlatform<B>| {
        p.read_sql(|tx| Ok(tx.one::<i64>("SELECT count(*) FROM kiosk_events", &[])?))
    };
    let mut fill_seconds = 0.0;
    if count(p)? == 0 {
        let started = Instant::now();
        let first = now.as_second() - i64::from(opts.days) * 86_400;
        for d in 0..i64::from(opts.days) {
            p.write_sql(|tx| fill_day(tx, opts.kiosks, first + d * 86_400))?;
        }
        // Fresh statistics, as autovacuum / ANALYZE would have them on a table that grew slowly.
        p.write_sql(|tx| {
            tx.exec("ANALYZE kiosk_events", &[])?;
            Ok(())
        })?;
        fill_seconds = started.elapsed().as_secs_f64();
    }
    let rows = count(p)?;
    let schema_version = p.read_sql(|tx| {
        Ok(match tx.dialect() {
            Dialect::Postgres => tx.one::<i64>(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )?,
            Dialect::Sqlite => tx.one::<i64>("PRAGMA user_version", &[])?,
        })
    })?;
    // The fleet page's "today": 11 hours back (the page uses Chongqing's midnight).
    let since = now - SignedDuration::from_hours(11);
    let calls_since = now - SignedDuration::from_mins(30);
    let (mut fleet_times, mut call_times) = (Vec::<Duration>::new(), Vec::<Duration>::new());
    let (mut fleet_kiosks, mut open_staff_calls) = (0, 0);
    for _ in 0..opts.calls.max(1) {
        let t = Instant::now();
        fleet_kiosks = p.fleet(since)?.len();
        fleet_times.push(t.elapsed());
        let t = Instant::now();
        open_staff_calls = p.staff_calls(calls_since)?.len();
        call_times.push(t.elapsed());
    }
    let plans = p.read_sql(|tx| {
        let mut queries = fleet::queries(since, calls_since);
        // The retention sweep's: the kinds present, and one batch of old heartbeats.
        queries.push(("retention_kinds", EVENT_KINDS, Vec::new()));
        queries.push((
            "retention_batch",
            PURGE_KIND_BATCH,
            sql_params!["heartbeat", since.as_second(), i64::from(PURGE_BATCH)].to_vec(),
        ));
        queries
            .into_iter()
            .map(|(name, sql, params)| Ok((name.to_string(), plan(tx, sql, &params)?)))
            .collect::<Result<Vec<_>, StoreError>>()
    })?;
    let backend = p.read_sql(|tx| {
        Ok(match tx.dialect() {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        })
    })?;
    let retention = match opts.keep_days {
        None => None,
        Some(keep_days) => {
            let t = Instant::now();
            let r = p.purge_kiosk_events(
                now,
                SignedDuration::from_hours(24 * i64::from(keep_days)),
                PURGE_BATCH,
            )?;
            Some(RetentionFigure {
                keep_days,
                deleted: r.deleted,
                batches: r.batches,
                seconds: t.elapsed().as_secs_f64(),
            })
        }
    };
    Ok(FleetBenchReport {
        retention,
        backend,
        schema_version,
        kiosks: opts.kiosks,
        days: opts.days,
        rows,
        fill_seconds,
        fleet: Timing::of(fleet_times),
        staff_calls: Timing::of(call_times),
        fleet_kiosks,
        open_staff_calls,
        plans,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqlitePlatform;
    use crate::store::schema;

    #[test]
    fn the_fleet_bench_fills_every_kiosk_and_day_and_measures_the_page() {
        let p = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
        let now: Timestamp = "2026-12-07T03:00:00Z".parse().unwrap();
        let opts = FleetBenchOptions {
            kiosks: 3,
            days: 2,
            calls: 2,
            keep_days: None,
        };
        let r = run(&p, opts, now).unwrap();
        assert_eq!(r.rows, 3 * 2 * (1440 + DAY_EVENTS.len() as i64));
        assert_eq!((r.fleet_kiosks, r.open_staff_calls), (3, 3));
        assert_eq!((r.fleet.samples, r.staff_calls.samples), (2, 2));
        assert!(r.fill_seconds > 0.0);
        assert!(!r.plans.is_empty() && r.plans.iter().all(|(_, p)| !p.is_empty()));
        // Every kiosk's last heartbeat is the last minute's.
        let rows = p.fleet(now - SignedDuration::from_hours(11)).unwrap();
        for k in &rows {
            let (at, _) = k.heartbeat.as_ref().unwrap();
            assert!(*at >= now - SignedDuration::from_mins(2), "{k:?}");
        }
        // A second run measures what is there, without filling again.
        let again = run(&p, opts, now).unwrap();
        assert_eq!((again.rows, again.fill_seconds), (r.rows, 0.0));
        // Keeping one day deletes the older day's events (the PIN tries aside: none here).
        let swept = run(
            &p,
            FleetBenchOptions {
                keep_days: Some(1),
                ..opts
            },
            now,
        )
        .unwrap();
        let figure = swept.retention.unwrap();
        assert_eq!(figure.deleted as i64, r.rows / 2);
        let left = p
            .read_sql(|tx| Ok(tx.one::<i64>("SELECT count(*) FROM kiosk_events", &[])?))
            .unwrap();
        assert_eq!(left, r.rows / 2);
    }

    #[test]
    fn the_fleet_bench_refuses_zero_or_too_many_kiosks_or_days() {
        let p = SqlitePlatform::with_connection(schema::open_in_memory().unwrap()).unwrap();
        let now = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(24 * 400);
        for (kiosks, days) in [(0, 1), (1, 0), (MAX_KIOSKS + 1, 1), (1, MAX_DAYS + 1)] {
            let e = run(
                &p,
                FleetBenchOptions {
                    kiosks,
                    days,
                    calls: 1,
                    keep_days: None,
                },
                now,
            )
            .unwrap_err();
            assert_eq!(e.code(), "invalid_request", "{kiosks} {days}");
        }
    }
}
