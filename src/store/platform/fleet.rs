//! What the fleet page shows of each kiosk (issue 14): its last heartbeat (version, configuration
//! hash, devices, paper, sessions today, as the kiosk reported them in a `heartbeat` kiosk event)
//! and its problems since a given time (printer out of paper, a device failure, offline). Kiosk
//! events never carry personal data.

use jiff::Timestamp;

use super::*;
use crate::sql_params;

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

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl<B: Backend> FleetSource for StorePlatform<B> {
    fn fleet(&self, since: Timestamp) -> Result<Vec<KioskLatest>, StoreError> {
        self.read(|tx| {
            let mut out: std::collections::BTreeMap<String, KioskLatest> = Default::default();
            for row in tx.query(
                "SELECT e.kiosk_id, e.at, e.detail FROM kiosk_events e
                 WHERE e.id IN (SELECT max(id) FROM kiosk_events WHERE kind = 'heartbeat'
                                GROUP BY kiosk_id)",
                &[],
            )? {
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
            for row in tx.query(
                "SELECT e.kiosk_id, e.kind, e.detail, e.at FROM kiosk_events e
                 WHERE e.id IN (SELECT max(id) FROM kiosk_events WHERE kind <> 'heartbeat'
                                GROUP BY kiosk_id)",
                &[],
            )? {
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
            for row in tx.query(
                "SELECT kiosk_id, count(*) FROM kiosk_events
                 WHERE kind IN (?1, ?2, ?3) AND at >= ?4 GROUP BY kiosk_id",
                &sql_params![
                    PROBLEM_KINDS[0],
                    PROBLEM_KINDS[1],
                    PROBLEM_KINDS[2],
                    since.as_second()
                ],
            )? {
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
            for row in tx.query(
                "SELECT kiosk_id, at, detail FROM kiosk_events WHERE kind = ?1 AND at >= ?2
                 ORDER BY at DESC, id DESC LIMIT ?3",
                &sql_params![
                    crate::domain::staff_call::STAFF_CALL_EVENT,
                    since.as_second(),
                    MAX_STAFF_CALLS
                ],
            )? {
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
