//! What the fleet page shows of each kiosk (issue 14): its last heartbeat (version, configuration
//! hash, devices, paper, sessions today, as the kiosk reported them in a `heartbeat` kiosk event)
//! and its problems since a given time (printer out of paper, a device failure, offline). Kiosk
//! events never carry personal data.

use jiff::Timestamp;

use super::*;
use crate::sql_params;
use crate::store::sql::Value;

/// The kinds of kiosk event that are problems (their recoveries are `printer_paper_back`,
/// `device_back`, `online`).
pub const PROBLEM_KINDS: &[&str] = &["printer_out_of_paper", "device_failure", "offline"];

/// One kiosk's line on the fleet page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KioskLatest {
    pub kiosk_id: String,
    /// The last heartbeat's time and what it said (JSON, see `app::heartbeat`).
    pub heartbeat: Option<(Timestamp, String)>,
    /// Problems since the given time.
    pub problems: u32,
    /// The last event that was not a heartbeat: kind, detail, time.
    pub last_event: Option<(String, String, Timestamp)>,
}

/// The fleet page's source: the store (both backends).
pub trait FleetSource: Send + Sync {
    /// Every kiosk that ever reported, ordered by id, with its problems since `since`.
    fn fleet(&self, since: Timestamp) -> Result<Vec<KioskLatest>, StoreError>;
    /// The kiosks' staff calls (呼叫工作人员, `staff_call` events) since `since`, newest first, at
    /// most [`MAX_STAFF_CALLS`].
    fn staff_calls(&self, since: Timestamp) -> Result<Vec<StaffCallRow>, StoreError>;
}

/// The most staff calls the fleet page lists.
pub const MAX_STAFF_CALLS: i64 = 200;

/// One staff call as a kiosk reported it: the detail holds codes only
/// (`crate::domain::staff_call::StaffCall::detail`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffCallRow {
    pub kiosk_id: String,
    pub at: Timestamp,
    pub detail: String,
}

/// The fleet page's queries, by name (`kiosk bench fleet` prints their plans). They are written
/// for the indexes of migration 8, in SQL both backends run: the kiosks that reported are found
/// by a skip scan (`ks`: from one kiosk id to the next, one index descent each) rather than by
/// grouping millions of heartbeats, and each kiosk's latest row by one descent of an index.
/// "Latest" is by the time the kiosk gave (`at`), then by arrival (`id`): an event that waited
/// in a kiosk's outbox is placed when it happened.
macro_rules! kiosks_cte {
    () => {
        "WITH RECURSIVE ks(k) AS (
             SELECT (SELECT kiosk_id FROM kiosk_events ORDER BY kiosk_id LIMIT 1)
             UNION ALL
             SELECT (SELECT kiosk_id FROM kiosk_events WHERE kiosk_id > ks.k
                     ORDER BY kiosk_id LIMIT 1)
             FROM ks WHERE ks.k IS NOT NULL)"
    };
}

/// Each kiosk's last heartbeat (`kiosk_events_by_kiosk_kind`).
pub const LAST_HEARTBEATS: &str = concat!(
    kiosks_cte!(),
    ",
     last(id) AS (
         SELECT (SELECT id FROM kiosk_events WHERE kiosk_id = ks.k AND kind = 'heartbeat'
                 ORDER BY at DESC, id DESC LIMIT 1)
         FROM ks WHERE ks.k IS NOT NULL)
     SELECT e.kiosk_id, e.at, e.detail FROM last JOIN kiosk_events e ON e.id = last.id"
);
/// Each kiosk's last event that is not a heartbeat (the partial index
/// `kiosk_events_other_by_kiosk`: its predicate is written out, as it must be for the index to
/// apply).
pub const LAST_OTHER_EVENTS: &str = concat!(
    kiosks_cte!(),
    ",
     last(id) AS (
         SELECT (SELECT id FROM kiosk_events WHERE kiosk_id = ks.k AND kind <> 'heartbeat'
                 ORDER BY at DESC, id DESC LIMIT 1)
         FROM ks WHERE ks.k IS NOT NULL)
     SELECT e.kiosk_id, e.kind, e.detail, e.at FROM last JOIN kiosk_events e ON e.id = last.id"
);
/// Problems per kiosk since ?4 (`kiosk_events_by_kind`).
pub const PROBLEMS_SINCE: &str = "SELECT kiosk_id, count(*) FROM kiosk_events
     WHERE kind IN (?1, ?2, ?3) AND at >= ?4 GROUP BY kiosk_id";
/// Staff calls since ?2, newest first (`kiosk_events_by_kind`, read backwards).
pub const STAFF_CALLS_SINCE: &str =
    "SELECT kiosk_id, at, detail FROM kiosk_events WHERE kind = ?1 AND at >= ?2
     ORDER BY at DESC, id DESC LIMIT ?3";

fn problems_params(since: Timestamp) -> Vec<Value> {
    sql_params![
        PROBLEM_KINDS[0],
        PROBLEM_KINDS[1],
        PROBLEM_KINDS[2],
        since.as_second()
    ]
    .to_vec()
}

fn staff_calls_params(since: Timestamp) -> Vec<Value> {
    sql_params![
        crate::domain::staff_call::STAFF_CALL_EVENT,
        since.as_second(),
        MAX_STAFF_CALLS
    ]
    .to_vec()
}

/// Every query of the page with its parameters: `(name, SQL, parameters)`.
pub fn queries(
    since: Timestamp,
    calls_since: Timestamp,
) -> Vec<(&'static str, &'static str, Vec<Value>)> {
    vec![
        ("last_heartbeats", LAST_HEARTBEATS, Vec::new()),
        ("last_other_events", LAST_OTHER_EVENTS, Vec::new()),
        ("problems_since", PROBLEMS_SINCE, problems_params(since)),
        (
            "staff_calls_since",
            STAFF_CALLS_SINCE,
            staff_calls_params(calls_since),
        ),
    ]
}

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl<B: Backend> FleetSource for StorePlatform<B> {
    fn fleet(&self, since: Timestamp) -> Result<Vec<KioskLatest>, StoreError> {
        self.read(|tx| {
            let mut out: std::collections::BTreeMap<String, KioskLatest> = Default::default();
            for row in tx.query(LAST_HEARTBEATS, &[])? {
                let id: String = row.get(0)?;
                let at: i64 = row.get(1)?;
                let detail: String = row.get(2)?;
                out.entry(id.clone())
                    .or_insert_with(|| KioskLatest {
                        kiosk_id: id,
                        ..Default::default()
                    })
                    .heartbeat = Some((ts(at), detail));
            }
            for row in tx.query(LAST_OTHER_EVENTS, &[])? {
                let id: String = row.get(0)?;
                let kind: String = row.get(1)?;
                let detail: String = row.get(2)?;
                let at: i64 = row.get(3)?;
                out.entry(id.clone())
                    .or_insert_with(|| KioskLatest {
                        kiosk_id: id,
                        ..Default::default()
                    })
                    .last_event = Some((kind, detail, ts(at)));
            }
            for row in tx.query(PROBLEMS_SINCE, &problems_params(since))? {
                let id: String = row.get(0)?;
                let n: i64 = row.get(1)?;
                out.entry(id.clone())
                    .or_insert_with(|| KioskLatest {
                        kiosk_id: id,
                        ..Default::default()
                    })
                    .problems = u32::try_from(n).unwrap_or(u32::MAX);
            }
            Ok(out.into_values().collect())
        })
    }

    fn staff_calls(&self, since: Timestamp) -> Result<Vec<StaffCallRow>, StoreError> {
        self.read(|tx| {
            let mut out = Vec::new();
            for row in tx.query(STAFF_CALLS_SINCE, &staff_calls_params(since))? {
                let at: i64 = row.get(1)?;
                out.push(StaffCallRow {
                    kiosk_id: row.get(0)?,
                    at: ts(at),
                    detail: row.get(2)?,
                });
            }
            Ok(out)
        })
    }
}
