//! The points-confirmation job (六.3, 七.2): the points of a paid decision stay *pending* on the
//! licence until the police network confirms them; then they move into the cycle's recorded
//! points, so the 12-point guard counts them once, as recorded points that leave with the scoring
//! cycle, not forever as pending ones.
//!
//! The police network is out of reach: [`PointsConfirmer`] is the port, [`SimulatedConfirmer`]
//! its adapter here (it confirms a paid decision a configurable delay after it was decided). The
//! job asks the confirmer outside any transaction, then records every confirmation in one write
//! transaction that re-checks each decision (idempotent: a decision is confirmed once).

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::jobs::spawn_periodic;
use super::rows::ts;
use super::{Backend, DecisionNumber, StorePlatform};
use crate::sql_params;
use crate::store::{StoreError, audit};

/// A paid decision whose points the police network has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPoints {
    pub decision_number: DecisionNumber,
    pub decided_at: Timestamp,
    pub points: u32,
}

/// The police network could not be asked (the job tries again later; nothing is written).
#[derive(Debug, thiserror::Error)]
#[error(
    "公安交管网络暂不可用，记分确认稍后重试 / The police network is unavailable; points are confirmed later ({0})"
)]
pub struct ConfirmError(pub String);

/// The police network's side: which of these decisions has it recorded by `now`?
pub trait PointsConfirmer: Send + Sync {
    fn confirmed(
        &self,
        pending: &[PendingPoints],
        now: Timestamp,
    ) -> Result<Vec<DecisionNumber>, ConfirmError>;
}

/// The simulator: the network records a paid decision `delay` after it was decided.
#[derive(Debug, Clone, Copy)]
pub struct SimulatedConfirmer {
    pub delay: SignedDuration,
}

impl PointsConfirmer for SimulatedConfirmer {
    fn confirmed(
        &self,
        pending: &[PendingPoints],
        now: Timestamp,
    ) -> Result<Vec<DecisionNumber>, ConfirmError> {
        Ok(pending
            .iter()
            .filter(|p| p.decided_at + self.delay <= now)
            .map(|p| p.decision_number.clone())
            .collect())
    }
}

/// One confirmed decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedItem {
    pub decision_number: DecisionNumber,
    pub points: u32,
}

/// What one run of the job confirmed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfirmReport {
    pub confirmed: Vec<ConfirmedItem>,
}

/// At most this many decisions are asked about per run.
const BATCH: i64 = 1000;

impl<B: Backend> StorePlatform<B> {
    /// Paid decisions whose points still wait for confirmation, oldest first.
    pub fn pending_points(&self) -> Result<Vec<PendingPoints>, StoreError> {
        self.read(|tx| {
            tx.query(
                "SELECT number, decided_at, points FROM decisions
                 WHERE state = 'paid' AND confirmed_at IS NULL ORDER BY id LIMIT ?1",
                &sql_params![BATCH],
            )?
            .iter()
            .map(|r| {
                Ok(PendingPoints {
                    decision_number: DecisionNumber(r.get(0)?),
                    decided_at: ts(r.get(1)?),
                    points: r.get(2)?,
                })
            })
            .collect()
        })
    }

    /// Ask `confirmer` about the pending decisions and record what it confirmed: the decision is
    /// marked confirmed and its points move from the licence's pending points to the cycle's.
    pub fn confirm_points(
        &self,
        confirmer: &dyn PointsConfirmer,
        now: Timestamp,
    ) -> Result<ConfirmReport, StoreError> {
        let pending = self.pending_points()?;
        if pending.is_empty() {
            return Ok(ConfirmReport::default());
        }
        let numbers = confirmer.confirmed(&pending, now)?;
        self.write(|tx| {
            let mut report = ConfirmReport::default();
            for number in &numbers {
                // Still paid and unconfirmed (a concurrent run, or a retry, confirms it once).
                let Some(r) = tx.query_opt(
                    "UPDATE decisions SET confirmed_at = ?1
                     WHERE number = ?2 AND state = 'paid' AND confirmed_at IS NULL
                     RETURNING person_id, points",
                    &sql_params![now.as_second(), number.as_str()],
                )?
                else {
                    continue;
                };
                let (person, points): (i64, u32) = (r.get(0)?, r.get(1)?);
                if points > 0 {
                    let n = tx.exec(
                        "UPDATE licences SET pending_points = pending_points - ?1, cycle_points = cycle_points + ?1
                         WHERE person_id = ?2",
                        &sql_params![points, person],
                    )?;
                    if n != 1 {
                        return Err(StoreError::Corrupt(format!(
                            "points of decision {number} for a person without a licence"
                        )));
                    }
                }
                audit::append(
                    tx,
                    now.as_second(),
                    "confirm_points",
                    &format!("decision:{number}"),
                    &json!({"points": points}),
                )?;
                report.confirmed.push(ConfirmedItem {
                    decision_number: number.clone(),
                    points,
                });
            }
            if !report.confirmed.is_empty() {
                tracing::info!(count = report.confirmed.len(), "points confirmed by the police network");
            }
            Ok(report)
        })
    }
}

/// The points-confirmation job as the city server holds it, whichever backend keeps the store.
pub trait ConfirmsPoints: Send + Sync {
    fn confirm_points(
        &self,
        confirmer: &dyn PointsConfirmer,
        now: Timestamp,
    ) -> Result<ConfirmReport, StoreError>;
}

impl<B: Backend> ConfirmsPoints for StorePlatform<B> {
    fn confirm_points(
        &self,
        confirmer: &dyn PointsConfirmer,
        now: Timestamp,
    ) -> Result<ConfirmReport, StoreError> {
        StorePlatform::confirm_points(self, confirmer, now)
    }
}

/// Run [`StorePlatform::confirm_points`] now and then every `every`, with the time from `clock`,
/// until `stop` is set (the city server runs it once, for every kiosk).
pub fn spawn_periodic_confirm(
    platform: std::sync::Arc<dyn ConfirmsPoints>,
    confirmer: std::sync::Arc<dyn PointsConfirmer>,
    clock: std::sync::Arc<dyn Fn() -> Timestamp + Send + Sync>,
    every: std::time::Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    spawn_periodic("confirm-points", every, stop, move || {
        if let Err(e) = platform.confirm_points(confirmer.as_ref(), clock()) {
            tracing::warn!(error = %e, code = e.code(), "points confirmation failed; retrying");
        }
    })
}
