//! `kiosk.toml`: one kiosk's configuration. The repository's `kiosk.toml` is embedded as the default,
//! and a file on disk overrides it key by key.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The embedded default configuration (the repository's `kiosk.toml`).
pub const EMBEDDED_DEFAULT: &str = include_str!("../kiosk.toml");

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    pub kiosk: KioskSection,
    pub screen: ScreenSection,
    pub devices: DevicesSection,
    pub database: DatabaseSection,
    pub timeouts: TimeoutsSection,
    pub policy: PolicySection,
    pub operator: OperatorSection,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KioskSection {
    pub id: String,
    pub language: Language,
    pub hall_name: String,
    pub hall_phones: Vec<String>,
    pub demo: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScreenSection {
    pub width_mm: f32,
    pub height_mm: f32,
    pub min_touch_mm: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DevicesSection {
    pub reader: String,
    pub scanner: String,
    pub scanner_suffix: String,
    pub printer: String,
    pub paper_mm: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSection {
    pub path: String,
    pub demo_persons: u32,
    pub demo_seed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsSection {
    pub idle_seconds: u32,
    pub idle_warning_seconds: u32,
    pub card_read_ms: u32,
    pub payment_window_minutes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    pub file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatorSection {
    pub pin: String,
}

/// A configuration that cannot be used, with the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: &'static str,
        message: String,
    },
}

impl KioskConfig {
    /// The embedded default.
    pub fn embedded() -> Self {
        toml::from_str(EMBEDDED_DEFAULT).expect("the embedded kiosk.toml is valid (tested)")
    }

    /// Load `path`, or `./kiosk.toml` when present, or the embedded default. Keys missing from the
    /// file keep their default; unknown keys and bad values are refused with the key named.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let (text, name) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => match std::fs::read_to_string("kiosk.toml") {
                Ok(t) => (t, "kiosk.toml".to_string()),
                Err(_) => return Ok(Self::embedded()),
            },
        };
        Self::from_toml_over_default(&text, &name)
    }

    /// Parse `text` as a partial configuration laid over the embedded default.
    pub fn from_toml_over_default(text: &str, name: &str) -> Result<Self, ConfigError> {
        let parse_err = |e: toml::de::Error| ConfigError::Parse {
            path: name.to_string(),
            message: e.to_string(),
        };
        let mut base: toml::Table = toml::from_str(EMBEDDED_DEFAULT).map_err(parse_err)?;
        let over: toml::Table = toml::from_str(text).map_err(parse_err)?;
        merge(&mut base, over);
        let config: KioskConfig = toml::Value::Table(base).try_into().map_err(parse_err)?;
        config.validate(name)?;
        Ok(config)
    }

    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let bad = |key, message: &str| ConfigError::Invalid {
            path: name.to_string(),
            key,
            message: message.to_string(),
        };
        if self.kiosk.id.trim().is_empty() {
            return Err(bad("kiosk.id", "must not be empty"));
        }
        if !matches!(self.devices.paper_mm, 58 | 80) {
            return Err(bad("devices.paper_mm", "must be 58 or 80"));
        }
        if !matches!(self.devices.scanner_suffix.as_str(), "\r" | "\n" | "\r\n") {
            return Err(bad(
                "devices.scanner_suffix",
                "must be \"\\r\", \"\\n\" or \"\\r\\n\"",
            ));
        }
        if self.timeouts.idle_seconds < 10 {
            return Err(bad("timeouts.idle_seconds", "must be at least 10"));
        }
        if self.timeouts.idle_warning_seconds >= self.timeouts.idle_seconds {
            return Err(bad(
                "timeouts.idle_warning_seconds",
                "must be shorter than idle_seconds",
            ));
        }
        if self.timeouts.payment_window_minutes == 0 || self.timeouts.payment_window_minutes > 120 {
            return Err(bad(
                "timeouts.payment_window_minutes",
                "must be between 1 and 120 (六.2 allows at most 2 hours)",
            ));
        }
        if self.operator.pin.len() < 4 || !self.operator.pin.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("operator.pin", "must be at least 4 digits"));
        }
        if self.screen.width_mm <= 0.0 || self.screen.height_mm <= 0.0 {
            return Err(bad("screen.width_mm", "screen size must be positive"));
        }
        Ok(())
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_demo_with_simulated_devices() {
        let c = KioskConfig::embedded();
        assert!(c.kiosk.demo);
        assert_eq!(c.devices.reader, "sim");
        assert_eq!(c.devices.printer, "sim");
        assert_eq!(c.kiosk.language, Language::ZhCn);
    }

    #[test]
    fn a_partial_file_overrides_key_by_key() {
        let c = KioskConfig::from_toml_over_default("[devices]\npaper_mm = 58\n", "t").unwrap();
        assert_eq!(c.devices.paper_mm, 58);
        assert_eq!(c.devices.reader, "sim");
    }

    #[test]
    fn malformed_config_names_the_key() {
        let e = KioskConfig::from_toml_over_default("[devices]\npaper_mm = 57\n", "t").unwrap_err();
        assert!(e.to_string().contains("devices.paper_mm"), "{e}");
        let e = KioskConfig::from_toml_over_default("[devices]\nprinterr = \"sim\"\n", "t")
            .unwrap_err();
        assert!(e.to_string().contains("printerr"), "{e}");
        let e = KioskConfig::from_toml_over_default("[devices\n", "t").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }));
    }
}
