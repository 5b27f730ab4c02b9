//! The kiosk's heartbeat (issue 14): every [`HEARTBEAT_EVERY`] a `heartbeat` kiosk event with
//! what the city's fleet page shows — the software's version, a hash of the configuration, each
//! device up or not, the paper, sessions and payments today (Chongqing's day) — through the same
//! path as the kiosk's other events (the local store, or the outbox to the server). No personal
//! data: the figures come from the metrics registry, whose labels carry none.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::civil::Date;
use sha2::{Digest, Sha256};

use super::outbox::KioskEvents;
use crate::config::KioskConfig;
use crate::ops::metrics::Snapshot;
use crate::ui::Clock;

/// How often a kiosk reports.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(60);
/// The first report after start.
pub const FIRST_HEARTBEAT: Duration = Duration::from_secs(10);

pub use crate::wire::heartbeat::Heartbeat;

/// The configuration's hash as the heartbeat reports it: equal hashes, equal configurations.
pub fn config_hash(config: &KioskConfig) -> String {
    let text = toml::to_string(config).unwrap_or_default();
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// The day's counters start from the figures at the first heartbeat of the day.
#[derive(Debug, Clone, Copy)]
pub struct Day {
    date: Date,
    sessions_base: u64,
    payments_base: u64,
}

/// Chongqing's date at `now` (UTC+8, no daylight saving).
fn local_date(now: Timestamp) -> Date {
    crate::rules::maintenance::local_time(now).date()
}

/// The heartbeat at `now` from the figures `s`; `day` carries the day's starting counters.
pub fn beat(s: &Snapshot, day: &mut Option<Day>, now: Timestamp, config_hash: &str) -> Heartbeat {
    let today = local_date(now);
    let d = match *day {
        Some(d) if d.date == today => d,
        _ => {
            let d = Day {
                date: today,
                sessions_base: s.sessions_started,
                payments_base: s.payments,
            };
            *day = Some(d);
            d
        }
    };
    Heartbeat {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config_hash: config_hash.to_string(),
        devices: s.devices.clone(),
        paper: s.paper.clone(),
        sessions_today: s.sessions_started.saturating_sub(d.sessions_base),
        payments_today: s.payments.saturating_sub(d.payments_base),
    }
}

/// The configuration hash the heartbeat reports: the kiosk's file's, then the effective one once
/// remote settings are applied (`app::remote_config`).
pub type SharedHash = Arc<std::sync::Mutex<String>>;

/// Report on a thread of its own until `stop`.
pub fn spawn(events: KioskEvents, clock: Clock, config_hash: SharedHash, stop: Arc<AtomicBool>) {
    let spawned = std::thread::Builder::new()
        .name("heartbeat".into())
        .spawn(move || {
            let mut day = None;
            let mut next = Instant::now() + FIRST_HEARTBEAT;
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(250));
                    continue;
                }
                next = Instant::now() + HEARTBEAT_EVERY;
                let hash = config_hash.lock().map(|h| h.clone()).unwrap_or_default();
                let hb = beat(
                    &crate::ops::metrics::kiosk().snapshot(),
                    &mut day,
                    clock.now(),
                    &hash,
                );
                match serde_json::to_string(&hb) {
                    Ok(detail) => events.record("heartbeat", &detail, clock.now()),
                    Err(e) => tracing::warn!(error = %e, "heartbeat not encoded"),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "heartbeat thread not started");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_day_counts_from_its_first_heartbeat_and_restarts_at_chongqing_midnight() {
        let mut s = Snapshot {
            sessions_started: 40,
            payments: 7,
            paper: Some("ok".into()),
            devices: [("printer".to_string(), true)].into_iter().collect(),
        };
        let mut day = None;
        let hb = beat(&s, &mut day, at("2026-12-07T08:00:00+08:00"), "abc");
        assert_eq!((hb.sessions_today, hb.payments_today), (0, 0));
        s.sessions_started = 55;
        s.payments = 9;
        let hb = beat(&s, &mut day, at("2026-12-07T23:59:00+08:00"), "abc");
        assert_eq!((hb.sessions_today, hb.payments_today), (15, 2));
        assert_eq!(hb.paper.as_deref(), Some("ok"));
        assert_eq!(hb.devices.get("printer"), Some(&true));
        // 00:01 in Chongqing is still 16:01 UTC of the day before: the day is Chongqing's.
        s.sessions_started = 56;
        let hb = beat(&s, &mut day, at("2026-12-08T00:01:00+08:00"), "abc");
        assert_eq!(hb.sessions_today, 0);
        assert_eq!(hb.version, env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn the_configuration_hash_changes_with_the_configuration() {
        let a = KioskConfig::embedded();
        let mut b = a.clone();
        assert_eq!(config_hash(&a), config_hash(&b));
        b.timeouts.idle_seconds += 1;
        assert_ne!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 16);
    }
}
