//! `[qr]`: the keys of vehicle QR codes and receipts (issue 12, items 3 and 7).

use serde::{Deserialize, Serialize};

/// `[qr]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QrSection {
    /// `demo`: the demo key pair from a public seed (demo mode only). Other names: see
    /// `crate::providers`.
    pub provider: String,
}

impl Default for QrSection {
    fn default() -> Self {
        QrSection {
            provider: "demo".into(),
        }
    }
}
