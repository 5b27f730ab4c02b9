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
/// [notify]                      # POST /notify/alipay (optional; these are the defaults)
/// per_ip_per_minute = 600
/// per_ip_burst = 120
/// refused_audited_per_minute = 60
/// [retention]                   # (optional; the default)
/// kiosk_events_days = 90        # 0: keep kiosk events forever
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
    #[serde(default)]
    pub notify: NotifySection,
    #[serde(default)]
    pub retention: RetentionSection,
}

/// How long the platform keeps operational telemetry. Kiosk events (heartbeats every 60 s,
/// printer, device, link and staff-call events: 144,000 rows a day for 100 kiosks) older than
/// `kiosk_events_days` are deleted by the server's jobs thread every hour, in batches; the
/// operator screen's PIN tries are kept (the audit log names them). 0 keeps everything.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionSection {
    pub kiosk_events_days: u32,
}

/// The most days `kiosk_events_days` may keep (ten years).
pub const MAX_KIOSK_EVENTS_DAYS: u32 = 3650;

impl Default for RetentionSection {
    fn default() -> Self {
        RetentionSection {
            kiosk_events_days: 90,
        }
    }
}

impl RetentionSection {
    /// The first key out of range, named with why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.kiosk_events_days > MAX_KIOSK_EVENTS_DAYS {
            return Err((
                "retention.kiosk_events_days",
                format!("0 (keep) or 1 to {MAX_KIOSK_EVENTS_DAYS}"),
            ));
        }
        Ok(())
    }
}

/// The bounds of `POST /notify/alipay`, which anyone may call (Alipay does, without a kiosk's
/// identity): a token bucket per source address (answered 429 when empty, before any check), and
/// a cap on the audit rows written for notifications whose signature does not hold (beyond it
/// they are counted in `kiosk_serve_notify_refused_unaudited_total`, with one log line a minute).
/// A notification whose signature holds is never capped. The per-address bucket is generous:
/// Alipay sends one notification per payment (and repeats it until it hears `success`). The
/// address is the connection's peer: behind a reverse proxy every notification comes from the
/// proxy, so raise `per_ip_per_minute` there or turn it off (0) and limit at the proxy.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifySection {
    /// Notifications a source address may send per minute, sustained (0: no per-address limit).
    pub per_ip_per_minute: u32,
    /// How many it may send at once before the per-minute rate applies.
    pub per_ip_burst: u32,
    /// Audit rows written per minute for refused notifications whose signature does not hold.
    pub refused_audited_per_minute: u32,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            per_ip_per_minute: 600,
            per_ip_burst: 120,
            refused_audited_per_minute: 60,
        }
    }
}

impl NotifySection {
    /// The first key out of range, named with why (a burst of 0 with a rate refuses everything).
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.per_ip_per_minute > 0 && self.per_ip_burst == 0 {
            return Err((
                "notify.per_ip_burst",
                "at least 1 while per_ip_per_minute is set".into(),
            ));
        }
        for (key, v, max) in [
            (
                "notify.per_ip_per_minute",
                self.per_ip_per_minute,
                1_000_000,
            ),
            ("notify.per_ip_burst", self.per_ip_burst, 1_000_000),
            (
                "notify.refused_audited_per_minute",
                self.refused_audited_per_minute,
                100_000,
            ),
        ] {
            if v > max {
                return Err((key, format!("at most {max}")));
            }
        }
        Ok(())
    }
}

impl ServerConfig {
    /// Read and parse `path` (unknown keys refused, named).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: name.clone(),
            cause,
        })?;
        let config: Self = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: name.clone(),
            message: e.to_string(),
        })?;
        config
            .notify
            .check()
            .and_then(|()| config.retention.check())
            .map_err(|(key, message)| ConfigError::Invalid {
                path: name,
                key,
                message,
            })?;
        Ok(config)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<ServerConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.toml");
        std::fs::write(&path, text).unwrap();
        ServerConfig::load(&path)
    }

    #[test]
    fn kiosk_events_are_kept_90_days_unless_configured() {
        assert_eq!(
            load("demo = true\n").unwrap().retention.kiosk_events_days,
            90
        );
        let c = load("[retention]\nkiosk_events_days = 0\n").unwrap();
        assert_eq!(c.retention.kiosk_events_days, 0);
        let c = load("[retention]\nkiosk_events_days = 3650\n").unwrap();
        assert_eq!(c.retention.kiosk_events_days, 3650);
    }

    #[test]
    fn the_notify_bounds_default_when_absent_and_a_bad_one_is_named() {
        assert_eq!(
            load("demo = true\n").unwrap().notify,
            NotifySection::default()
        );
        let c = load("[notify]\nper_ip_per_minute = 0\n").unwrap();
        assert_eq!(c.notify.per_ip_per_minute, 0);
        assert_eq!(c.notify.refused_audited_per_minute, 60);
        for (text, key) in [
            ("[notify]\nper_ip_burst = 0\n", "notify.per_ip_burst"),
            (
                "[notify]\nrefused_audited_per_minute = 100001\n",
                "notify.refused_audited_per_minute",
            ),
            ("[notify]\nper_ip_per_minut = 5\n", "per_ip_per_minut"),
            (
                "[retention]\nkiosk_events_days = 3651\n",
                "retention.kiosk_events_days",
            ),
            ("[retention]\nkiosk_event_days = 30\n", "kiosk_event_days"),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
