//! The heartbeat a kiosk reports (a `heartbeat` kiosk event's detail, JSON) and the fleet page
//! reads: no personal data, figures only.

use std::collections::BTreeMap;

/// One heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Heartbeat {
    pub version: String,
    /// The first 16 hex digits of SHA-256 over the configuration as loaded.
    pub config_hash: String,
    /// Each device reported so far: up or not.
    pub devices: BTreeMap<String, bool>,
    /// `ok`, `low`, `out`; None before the printer's first status.
    pub paper: Option<String>,
    /// Sessions started and payments made today (Chongqing's day).
    pub sessions_today: u64,
    pub payments_today: u64,
}
