//! `[payment]`: who collects the money (issue 12, item 2).

use serde::{Deserialize, Serialize};

/// `[payment]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PaymentSection {
    /// `demo`: the demo provider (demo mode only). Other names: see `crate::providers`.
    pub provider: String,
}

impl Default for PaymentSection {
    fn default() -> Self {
        PaymentSection {
            provider: "demo".into(),
        }
    }
}
