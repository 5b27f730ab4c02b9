//! `[sms]`: who delivers verification codes (issue 12, item 4).

use serde::{Deserialize, Serialize};

/// `[sms]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmsSection {
    /// `demo`: the demo gateway (demo mode only). Other names: see `crate::providers`.
    pub provider: String,
}

impl Default for SmsSection {
    fn default() -> Self {
        SmsSection {
            provider: "demo".into(),
        }
    }
}
