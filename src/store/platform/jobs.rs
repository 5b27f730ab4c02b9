//! Background jobs: the revert sweep (六.2) and the thread that runs it periodically.

use jiff::Timestamp;
use serde_json::json;

use super::rows::*;
use super::*;
use crate::rules::payment as pay_rules;
use crate::sql_params;
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
