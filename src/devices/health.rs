//! Device health (ok / degraded with a reason / absent), published by the adapters for the UI
//! and the operator screen, and the backoff used to reopen a device that went away.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ErrorKind;

/// How a device is doing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "health", content = "reason")]
pub enum Health {
    Ok,
    /// Present but not fully usable (paper near end, garbled answers, no answer).
    Degraded(String),
    /// Not there (unplugged, port gone, wrong configuration).
    Absent(String),
}

impl Health {
    /// The health an error of this kind implies. A card that cannot be used says nothing bad
    /// about the reader, and a timeout waiting for a person (no card, no scan) neither.
    pub fn after_error(kind: ErrorKind, message: String) -> Option<Health> {
        match kind {
            ErrorKind::Disconnected | ErrorKind::Config => Some(Health::Absent(message)),
            ErrorKind::Timeout | ErrorKind::InvalidData => None,
            ErrorKind::Protocol | ErrorKind::DeviceReported | ErrorKind::Other => {
                Some(Health::Degraded(message))
            }
        }
    }

    /// The printer's health from its status (`None`: the transport cannot tell).
    pub fn of_printer(status: Option<super::printer::PrinterStatus>) -> Health {
        use super::printer::PrinterState;
        match status {
            None => Health::Ok,
            Some(s) if s.state() == PrinterState::Ok => Health::Ok,
            Some(s) => Health::Degraded(s.message().to_string()),
        }
    }
}

/// A health value shared between an adapter (which writes it) and the screens (which read it).
#[derive(Debug, Clone)]
pub struct HealthCell(Arc<Mutex<Health>>);

impl Default for HealthCell {
    fn default() -> Self {
        HealthCell(Arc::new(Mutex::new(Health::Absent(
            "not opened yet".into(),
        ))))
    }
}

impl HealthCell {
    pub fn get(&self) -> Health {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn set(&self, h: Health) {
        let mut cur = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *cur != h {
            tracing::info!(from = ?*cur, to = ?h, "device health changed");
            *cur = h;
        }
    }
}

/// Exponential backoff for reopening a device: first retry after `min`, doubling up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    delay: Duration,
    next: Option<Instant>,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            delay: min,
            next: None,
        }
    }

    /// Whether an attempt may be made at `now`.
    pub fn ready(&self, now: Instant) -> bool {
        self.next.is_none_or(|t| now >= t)
    }

    /// The pause until the next attempt is allowed.
    pub fn wait(&self, now: Instant) -> Duration {
        self.next
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// An attempt failed at `now`: the next one waits longer.
    pub fn failed(&mut self, now: Instant) {
        self.next = Some(now + self.delay);
        self.delay = (self.delay * 2).min(self.max);
    }

    /// An attempt succeeded: start again from `min`.
    pub fn succeeded(&mut self) {
        self.delay = self.min;
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_maximum_and_resets() {
        let t0 = Instant::now();
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        assert!(b.ready(t0));
        let waits: Vec<u128> = (0..4)
            .map(|_| {
                b.failed(t0);
                b.wait(t0).as_millis()
            })
            .collect();
        assert_eq!(waits, vec![100, 200, 350, 350]);
        assert!(!b.ready(t0));
        assert!(b.ready(t0 + Duration::from_millis(350)));
        b.succeeded();
        assert!(b.ready(t0));
        b.failed(t0);
        assert_eq!(b.wait(t0).as_millis(), 100);
    }

    #[test]
    fn errors_map_to_health() {
        let table = [
            (ErrorKind::Disconnected, Some("absent")),
            (ErrorKind::Config, Some("absent")),
            (ErrorKind::Protocol, Some("degraded")),
            (ErrorKind::DeviceReported, Some("degraded")),
            (ErrorKind::Timeout, None),
            (ErrorKind::InvalidData, None),
        ];
        for (kind, expected) in table {
            let got = Health::after_error(kind, "x".into()).map(|h| match h {
                Health::Ok => "ok",
                Health::Degraded(_) => "degraded",
                Health::Absent(_) => "absent",
            });
            assert_eq!(got, expected, "{kind:?}");
        }
    }

    #[test]
    fn printer_health_follows_its_status() {
        use crate::devices::printer::PrinterStatus;
        assert_eq!(Health::of_printer(None), Health::Ok);
        assert_eq!(
            Health::of_printer(Some(PrinterStatus::default())),
            Health::Ok
        );
        let near = PrinterStatus {
            paper_near_end: true,
            ..Default::default()
        };
        assert!(
            matches!(Health::of_printer(Some(near)), Health::Degraded(r) if r.contains("纸将尽"))
        );
    }

    #[test]
    fn health_serialises_for_the_operator_screen() {
        assert_eq!(
            serde_json::to_string(&Health::Degraded("缺纸".into())).unwrap(),
            r#"{"health":"degraded","reason":"缺纸"}"#
        );
        assert_eq!(
            serde_json::to_string(&Health::Ok).unwrap(),
            r#"{"health":"ok"}"#
        );
    }
}
