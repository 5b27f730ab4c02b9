//! `[qr]`: the keys of vehicle QR codes and receipts (issue 12, items 3 and 7).
//!
//! ```toml
//! [qr]
//! provider = "keyfile"
//! # The platform (the server, or a kiosk on its own store) signs with these key files
//! # (`kiosk keygen --qr --kid ID --out FILE`, mode 0600); a server's terminal leaves them empty.
//! signing_key_file = "/etc/kiosk/qr-2026b.key"
//! receipt_key_file = "/etc/kiosk/receipt-2026b.key"
//! # The published public keys ("KID:HEX", as keygen prints them) that verify: the active key's
//! # and older ones until what they signed has expired (rotation).
//! public_keys = ["qr-2026b:…", "qr-2026a:…"]
//! receipt_public_keys = ["receipt-2026b:…"]
//! ```

use serde::{Deserialize, Serialize};

/// `[qr]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QrSection {
    /// `demo`: the demo key pairs from public seeds (demo mode only). `keyfile`: the keys below.
    /// See `crate::providers::qr`.
    pub provider: String,
    /// `keyfile`: the vehicle-QR signing key file (the platform only; empty: verify only).
    #[serde(default)]
    pub signing_key_file: String,
    /// `keyfile`: the receipt-seal signing key file (the platform only; empty: verify only).
    #[serde(default)]
    pub receipt_key_file: String,
    /// `keyfile`: the published vehicle-QR keys that verify, `KID:HEX` each.
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// `keyfile`: the published receipt keys that verify, `KID:HEX` each.
    #[serde(default)]
    pub receipt_public_keys: Vec<String>,
}

impl Default for QrSection {
    fn default() -> Self {
        QrSection {
            provider: "demo".into(),
            signing_key_file: String::new(),
            receipt_key_file: String::new(),
            public_keys: Vec::new(),
            receipt_public_keys: Vec::new(),
        }
    }
}
