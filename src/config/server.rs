//! The configuration of `kiosk serve` (`--config FILE`): demo mode and the platform's providers,
//! parsed with the same section structs as kiosk.toml.

use serde::{Deserialize, Serialize};
use std::path::Path;

use super::{
    AuditSection, ConfigError, PaymentSection, QrSection, Refusal, SmsSection, audit_key_refusal,
    demo_provider_refusals,
};

/// `kiosk serve --config FILE`:
///
/// ```toml
/// demo = false
/// [payment]
/// provider = "…"
/// [sms]
/// provider = "…"
/// [qr]
/// provider = "…"
/// [audit]
/// key_file = "/etc/kiosk/audit.key"
/// ```
///
/// A missing section is the demo provider (refused unless demo).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Demo mode: the demo parts may run (`kiosk serve --demo` sets it too).
    #[serde(default)]
    pub demo: bool,
    #[serde(default)]
    pub payment: PaymentSection,
    #[serde(default)]
    pub sms: SmsSection,
    #[serde(default)]
    pub qr: QrSection,
    #[serde(default)]
    pub audit: AuditSection,
}

impl ServerConfig {
    /// Read and parse `path` (unknown keys refused, named).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: name.clone(),
            cause,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: name,
            message: e.to_string(),
        })
    }

    /// With demo off, each key that would run a demo part (empty in demo mode).
    pub fn production_refusals(&self) -> Vec<Refusal> {
        if self.demo {
            return Vec::new();
        }
        let mut v = demo_provider_refusals(&[
            ("payment.provider", self.payment.provider.as_str()),
            ("sms.provider", self.sms.provider.as_str()),
            ("qr.provider", self.qr.provider.as_str()),
        ]);
        v.extend(audit_key_refusal(&self.audit));
        v
    }
}
