//! `[audit]`: the key that anchors the audit chain (an HMAC-SHA256 over each entry, kept out of
//! the database). In kiosk.toml for a kiosk on its own store, and in the server's configuration.

use serde::{Deserialize, Serialize};

/// `[audit]` of kiosk.toml and of the server's configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// The audit key file (64 hex digits, `kiosk db audit-key --out FILE`); empty: the demo key
    /// (demo mode only).
    #[serde(default)]
    pub key_file: String,
}

impl AuditSection {
    /// The key file, when one is configured.
    pub fn key_path(&self) -> Option<&std::path::Path> {
        let f = self.key_file.trim();
        (!f.is_empty()).then(|| std::path::Path::new(f))
    }
}
