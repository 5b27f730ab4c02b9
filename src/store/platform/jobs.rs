//! Background jobs: the revert sweep (六.2) and the thread that runs it periodically.

use jiff::Timestamp;
use serde_json::json;

use super::rows::*;
use super::*;
use crate::rules::payment as pay_rules;
use crate::sql_params;
use crate::store::sql::Value;
use crate::store::{StoreError, audit};

impl<B: Backend> StorePlatform<B> {
    /// Revert kiosk handlings unpaid at their deadline (六.2), in one IMMEDIATE transaction.
    pub(super) fn revert_due_sweep(&self, now: Timestamp) -> Result<RevertReport, StoreError> {
        self.write(|tx| {
            let due: Vec<DecisionRow> = tx
                .query(
                    &format!(
                        "SELECT {DECISION_COLS} FROM decisions WHERE state = 'handled_unpaid' AND channel = 'kiosk' AND payment_deadline <= ?1 ORDER BY id"
                    ),
                    &sql_params![now.as_second()],
                )?
                .iter()
                .map(decision_from_row)
                .collect::<Result<_, _>>()?;
            let mut report = RevertReport::default();
            for d in due {
                let Some(release) = pay_rules::revert_due(
                    handling_state(&d.state)?,
                    d.window(now),
                    now,
                    d.points,
                    1,
                ) else {
                    continue;
                };
                tx.exec(
                    "UPDATE decisions SET state = 'reverted', reverted_at = ?1 WHERE id = ?2",
                    &sql_params![now.as_second(), d.id],
                )?;
                tx.exec(
                    "UPDATE violations SET state = 'pending', decision_id = NULL WHERE id = ?1 AND decision_id = ?2",
                    &sql_params![d.violation_id, d.id],
                )?;
                if !d.confirmed {
                    super::ops::change_pending_points(tx, d.person_id, -i64::from(release.released_points))?;
                }
                audit::append(tx, now.as_second(), "revert", &format!("decision:{}", d.number), &json!({"released_points": release.released_points}))?;
                report.reverted.push(RevertedItem {
                    decision_number: DecisionNumber(d.number.clone()),
                    violation_id: d.violation_id.clone(),
                    released_points: release.released_points,
                });
            }
            if !report.reverted.is_empty() {
                tracing::info!(count = report.reverted.len(), "reverted unpaid handlings (六.2)");
            }
            Ok(report)
        })
    }
}

/// Run [`Platform::revert_due`] now and then every `every`, with the time from `clock`, until
/// `stop` is set (六.2: "handled but unpaid after 2 hours is reverted"). The deadlines are stored,
/// so a kiosk that was off simply reverts everything due at its next start.
pub fn spawn_periodic_revert(
    platform: std::sync::Arc<dyn Platform>,
    clock: std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    spawn_periodic("revert-due", every, stop, move || {
        if let Err(e) = platform.revert_due(clock()) {
            tracing::warn!(error = %e, code = e.code(), "periodic revert failed; retrying");
        }
    })
}

/// Run `tick` now and then every `every` on a thread named `name`, until `stop` is set.
pub(super) fn spawn_periodic(
    name: &str,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mut tick: impl FnMut() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let slice = std::time::Duration::from_millis(200).min(every);
            while !stop.load(Ordering::Relaxed) {
                tick();
                let started = std::time::Instant::now();
                while started.elapsed() < every && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(slice);
                }
            }
        })
        .unwrap_or_else(|e| panic!("spawn the {name} thread: {e}"))
}

/// Kiosk events are operational telemetry, not a ledger: nothing in `db check` or the audit
/// chain needs an old heartbeat, and the table is not append-only by trigger. Kinds starting with
/// this prefix are kept whatever their age: the operator screen's PIN tries, whose audit entries
/// name their row (`kiosk_event:ID`).
pub const KEPT_EVENT_PREFIX: &str = "operator_";

/// Rows a retention sweep deletes per transaction (a short write lock on SQLite, a small
/// transaction on PostgreSQL, so kiosks' events and the page never wait long behind it).
pub const PURGE_BATCH: u32 = 5_000;

/// How often the server sweeps.
pub const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// What a retention sweep deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted: u64,
    /// Write transactions it took.
    pub batches: u32,
}

/// The kinds present, by a skip scan over `kiosk_events_by_kind` (one descent per kind).
pub const EVENT_KINDS: &str = "WITH RECURSIVE kinds(k) AS (
         SELECT (SELECT kind FROM kiosk_events ORDER BY kind LIMIT 1)
         UNION ALL
         SELECT (SELECT kind FROM kiosk_events WHERE kind > kinds.k ORDER BY kind LIMIT 1)
         FROM kinds WHERE kinds.k IS NOT NULL)
     SELECT k FROM kinds WHERE k IS NOT NULL";

/// One batch of one kind's rows older than ?2, oldest first (`kiosk_events_by_kind`). They are
/// then deleted by id ([`delete_by_ids`]): a `DELETE … WHERE id IN (SELECT …)` leaves the
/// planner free to join a scan of the whole table (PostgreSQL does when the batch is a large
/// part of it), and by primary key it never scans.
pub const PURGE_KIND_BATCH: &str =
    "SELECT id FROM kiosk_events WHERE kind = ?1 AND at < ?2 ORDER BY at, id LIMIT ?3";

/// Ids deleted per statement (one prepared statement of this many placeholders; a short chunk
/// repeats its first id).
const DELETE_CHUNK: usize = 500;

/// `DELETE FROM kiosk_events WHERE id IN (?1, …, ?500)`.
fn delete_by_ids() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let marks: Vec<String> = (1..=DELETE_CHUNK).map(|i| format!("?{i}")).collect();
        format!(
            "DELETE FROM kiosk_events WHERE id IN ({})",
            marks.join(", ")
        )
    })
}

impl<B: Backend> StorePlatform<B> {
    /// Delete the kiosk events older than `now - keep` (but [`KEPT_EVENT_PREFIX`] kinds), kind by
    /// kind in transactions of at most `batch` rows; one audit entry
    /// (`kiosk_events_purged`) says how many went and up to when.
    pub fn purge_kiosk_events(
        &self,
        now: Timestamp,
        keep: jiff::SignedDuration,
        batch: u32,
    ) -> Result<PurgeReport, StoreError> {
        if keep.is_negative() || batch == 0 {
            return Err(StoreError::Invalid(
                "retention: a period of at least 0 and a batch of at least 1".into(),
            ));
        }
        let before = now.as_second().saturating_sub(keep.as_secs());
        let kinds: Vec<String> = self.read(|tx| Ok(tx.column(EVENT_KINDS, &[])?))?;
        let mut report = PurgeReport::default();
        for kind in kinds.iter().filter(|k| !k.starts_with(KEPT_EVENT_PREFIX)) {
            loop {
                let (found, n) = self.write(|tx| {
                    let ids: Vec<i64> = tx.column(
                        PURGE_KIND_BATCH,
                        &sql_params![kind, before, i64::from(batch)],
                    )?;
                    let mut n = 0;
                    for chunk in ids.chunks(DELETE_CHUNK) {
                        let mut params: Vec<Value> =
                            chunk.iter().map(|id| Value::Int(*id)).collect();
                        params.resize(DELETE_CHUNK, Value::Int(chunk[0]));
                        n += tx.exec(delete_by_ids(), &params)?;
                    }
                    Ok((ids.len(), n))
                })?;
                report.deleted += n;
                report.batches += 1;
                if found < batch as usize {
                    break;
                }
            }
        }
        if report.deleted > 0 {
            self.write(|tx| {
                audit::append(
                    tx,
                    now.as_second(),
                    "kiosk_events_purged",
                    "kiosk_events",
                    &json!({"before": before, "deleted": report.deleted}),
                )?;
                Ok(())
            })?;
            tracing::info!(
                deleted = report.deleted,
                batches = report.batches,
                "old kiosk events deleted (retention)"
            );
        }
        Ok(report)
    }
}

/// The retention sweep, for the server's jobs thread (either backend).
pub trait PurgesEvents: Send + Sync {
    fn purge_kiosk_events(
        &self,
        now: Timestamp,
        keep: jiff::SignedDuration,
        batch: u32,
    ) -> Result<PurgeReport, StoreError>;
}

impl<B: Backend> PurgesEvents for StorePlatform<B> {
    fn purge_kiosk_events(
        &self,
        now: Timestamp,
        keep: jiff::SignedDuration,
        batch: u32,
    ) -> Result<PurgeReport, StoreError> {
        StorePlatform::purge_kiosk_events(self, now, keep, batch)
    }
}

/// Run the retention sweep (keep `days` days of kiosk events) now and then every `every`, with
/// the time from `clock`, until `stop` is set.
pub fn spawn_periodic_purge(
    platform: std::sync::Arc<dyn PurgesEvents>,
    clock: std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>,
    days: u32,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let keep = jiff::SignedDuration::from_hours(24 * i64::from(days));
    spawn_periodic("purge-events", every, stop, move || {
        if let Err(e) = platform.purge_kiosk_events(clock(), keep, PURGE_BATCH) {
            tracing::warn!(error = %e, code = e.code(), "kiosk events retention failed; retrying");
        }
    })
}
