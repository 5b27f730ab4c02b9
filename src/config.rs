//! `kiosk.toml`: one kiosk's configuration. The repository's `kiosk.toml` is embedded as the default,
//! and a file on disk overrides it key by key.

use serde::{Deserialize, Serialize};
use std::path::Path;

mod audit;
mod face;
pub mod operator;
mod payment;
mod qr;
pub mod remote;
mod server;
mod sms;
mod staff_call;

pub use audit::AuditSection;
pub use face::{FACE_TIMEOUT_MS, FaceSection};
pub use operator::{OperatorSection, PIN_DIGITS};
pub use payment::PaymentSection;
pub use qr::QrSection;
pub use remote::{RemoteSettings, SignedSettings};
pub use server::{NotifySection, ServerConfig};

pub use sms::{SmsConfigError, SmsSection};
pub use staff_call::{STAFF_CALL_TIMEOUT_MS, StaffCallSection, mask_url};

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
    pub platform: PlatformSection,
    pub voice: VoiceSection,
    #[serde(default)]
    pub metrics: MetricsSection,
    #[serde(default)]
    pub payment: PaymentSection,
    #[serde(default)]
    pub sms: SmsSection,
    #[serde(default)]
    pub qr: QrSection,
    #[serde(default)]
    pub face: FaceSection,
    #[serde(default)]
    pub audit: AuditSection,
    /// 呼叫工作人员: who hears it.
    #[serde(default)]
    pub staff_call: StaffCallSection,
}

/// The Prometheus endpoint (`crate::ops::metrics`): `listen` empty, off; else a local address
/// such as `127.0.0.1:9464` (`GET /metrics`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    pub listen: String,
}

impl MetricsSection {
    /// The address to serve on, when on (checked by `validate_values`).
    pub fn listen_addr(&self) -> Option<Result<std::net::SocketAddr, std::net::AddrParseError>> {
        let l = self.listen.trim();
        (!l.is_empty()).then(|| l.parse())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KioskSection {
    pub id: String,
    pub language: Language,
    pub hall_name: String,
    /// The hall's name on an English screen.
    pub hall_name_en: String,
    pub hall_phones: Vec<String>,
    /// The online service's consultation phone (六.6: 互联网办理咨询电话), shown on the help and
    /// feedback screens.
    pub consultation_phone: String,
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

/// Where the platform is: empty `url`, the local store (`[database]`); else a `kiosk serve`
/// server, called as this kiosk (`[kiosk] id`) with the private key in `key_file` (written by
/// `kiosk keygen`; empty: the built-in demo identity, which only a demo server accepts).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlatformSection {
    pub url: String,
    pub key_file: String,
    /// The city's remote-configuration key as published (`KID:HEX`, from `kiosk keygen --qr
    /// --kid ID`): with a `url`, the kiosk asks the server for its signed operational settings
    /// every minute and applies those this key signed. Empty: no remote configuration.
    #[serde(default)]
    pub config_public_key: String,
}

impl PlatformSection {
    /// The server's URL, when the platform is remote.
    pub fn remote_url(&self) -> Option<&str> {
        let u = self.url.trim();
        (!u.is_empty()).then_some(u)
    }
}

/// Voice guidance: spoken prompts for each step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VoiceSection {
    /// Off: the kiosk is silent.
    pub enabled: bool,
    /// 0 to 100 (percent of the recording's or the synthesizer's level).
    pub volume: u32,
    /// Recorded prompts (`<prompt>.wav`, `<prompt>.en.wav`) replacing the synthesized ones.
    pub recordings: String,
}

/// A configuration that cannot be used, with the key and the reason.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The OS error appears once, in the sentence (not again as a source).
    #[error(
        "cannot read the configuration file {path}: {cause}; give an existing file with --config, or none to use ./kiosk.toml or the embedded default"
    )]
    Read { path: String, cause: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: String,
        key: &'static str,
        message: String,
    },
    /// `demo = false` with demo parts or a guessable PIN: every key at fault.
    #[error("{}", refusal_message(path, refusals))]
    Refused {
        path: String,
        refusals: Vec<Refusal>,
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
                std::fs::read_to_string(p).map_err(|cause| ConfigError::Read {
                    path: p.display().to_string(),
                    cause,
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
        self.validate_values()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: name.to_string(),
                key,
                message,
            })
    }

    /// Every value that can be checked without a device, a file or the database: numbers finite
    /// and in range, strings in their form. The first bad key with what is wrong.
    pub fn validate_values(&self) -> Result<(), (&'static str, String)> {
        fn bad(
            key: &'static str,
            message: impl Into<String>,
        ) -> Result<(), (&'static str, String)> {
            Err((key, message.into()))
        }
        fn in_range(
            key: &'static str,
            v: f32,
            lo: f32,
            hi: f32,
        ) -> Result<(), (&'static str, String)> {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                bad(
                    key,
                    format!("must be a number from {lo} to {hi} (mm), not {v}"),
                )
            }
        }
        let c = self;
        if c.kiosk.id.trim().is_empty() {
            return bad("kiosk.id", "must not be empty");
        }
        if c.kiosk.id.chars().count() > MAX_KIOSK_ID_CHARS {
            return bad(
                "kiosk.id",
                format!(
                    "must be at most {MAX_KIOSK_ID_CHARS} characters (it is printed on every receipt)"
                ),
            );
        }
        if !is_phone(&c.kiosk.consultation_phone) {
            return bad("kiosk.consultation_phone", PHONE_FORM);
        }
        if c.kiosk.hall_phones.len() > MAX_HALL_PHONES {
            return bad(
                "kiosk.hall_phones",
                format!("at most {MAX_HALL_PHONES} phone numbers"),
            );
        }
        if !c.kiosk.hall_phones.iter().all(|p| is_phone(p)) {
            return bad("kiosk.hall_phones", PHONE_FORM);
        }
        if c.voice.volume > 100 {
            return bad(
                "voice.volume",
                format!("must be from 0 to 100, not {}", c.voice.volume),
            );
        }
        if let Some(Err(e)) = c.metrics.listen_addr() {
            return bad(
                "metrics.listen",
                format!("empty (off) or an address such as 127.0.0.1:9464: {e}"),
            );
        }
        in_range("screen.width_mm", c.screen.width_mm, 100.0, 3000.0)?;
        in_range("screen.height_mm", c.screen.height_mm, 100.0, 3000.0)?;
        in_range("screen.min_touch_mm", c.screen.min_touch_mm, 5.0, 50.0)?;
        if !matches!(c.devices.paper_mm, 58 | 80) {
            return bad("devices.paper_mm", "must be 58 or 80");
        }
        if !SCANNER_SUFFIXES.contains(&c.devices.scanner_suffix.as_str()) {
            return bad(
                "devices.scanner_suffix",
                "must be \"any\" (or empty: any of \\r, \\n, \\r\\n ends a scan), \"\\r\", \"\\n\" or \"\\r\\n\"",
            );
        }
        if c.database.path.trim().is_empty() {
            return bad(
                "database.path",
                "must not be empty (the SQLite file of this kiosk)",
            );
        }
        let t = &c.timeouts;
        if !(10..=3600).contains(&t.idle_seconds) {
            return bad("timeouts.idle_seconds", "must be from 10 to 3600");
        }
        if t.idle_warning_seconds == 0 || t.idle_warning_seconds >= t.idle_seconds {
            return bad(
                "timeouts.idle_warning_seconds",
                "must be at least 1 and shorter than idle_seconds",
            );
        }
        if !(100..=600_000).contains(&t.card_read_ms) {
            return bad("timeouts.card_read_ms", "must be from 100 to 600000 (ms)");
        }
        if t.payment_window_minutes == 0 || t.payment_window_minutes > 120 {
            return bad(
                "timeouts.payment_window_minutes",
                "must be between 1 and 120 (六.2 allows at most 2 hours)",
            );
        }
        // `[payment]`: a known provider, and everything it needs (the key named).
        c.payment.validate()?;
        c.face.validate()?;
        c.staff_call.validate()?;
        let url = c.platform.url.trim();
        if !url.is_empty() {
            let rest = url
                .strip_prefix("http://")
                .or_else(|| url.strip_prefix("https://"));
            match rest {
                Some(host) if !host.is_empty() && !host.starts_with('/') => {}
                _ => {
                    return bad(
                        "platform.url",
                        "must be empty (the local store) or http(s)://HOST[:PORT] of a kiosk serve server",
                    );
                }
            }
            if !c.kiosk.id.chars().all(|ch| ch.is_ascii_graphic()) {
                return bad(
                    "kiosk.id",
                    "must be ASCII letters, digits and punctuation when platform.url is set (it travels in the X-Kiosk-Id header)",
                );
            }
            if url.chars().any(char::is_whitespace) || url.contains('@') {
                return bad(
                    "platform.url",
                    "must be http(s)://HOST[:PORT], without spaces or credentials (the kiosk signs its requests with platform.key_file)",
                );
            }
        } else if !c.platform.key_file.trim().is_empty() {
            return bad(
                "platform.key_file",
                "is set but platform.url is empty: a key is used only with a platform server",
            );
        } else if !c.platform.config_public_key.trim().is_empty() {
            return bad(
                "platform.config_public_key",
                "is set but platform.url is empty: remote configuration comes from a platform server",
            );
        }
        let cpk = c.platform.config_public_key.trim();
        if !cpk.is_empty() {
            let ok = cpk.split_once(':').is_some_and(|(kid, hex)| {
                !kid.is_empty() && hex.len() == 64 && hex.chars().all(|ch| ch.is_ascii_hexdigit())
            });
            if !ok {
                return bad(
                    "platform.config_public_key",
                    "must be empty or KID:HEX (the published key `kiosk keygen --qr --kid ID --out FILE` prints)",
                );
            }
        }
        let (pin, hash) = (&c.operator.pin, c.operator.pin_hash.trim());
        if !hash.is_empty() {
            if let Err(e) = operator::check_pin_hash(hash) {
                return bad("operator.pin_hash", e);
            }
        } else if !operator::pin_form_ok(pin) {
            return bad(
                "operator.pin",
                format!(
                    "must be {} to {} digits (or set operator.pin_hash, made by `kiosk pin-hash`)",
                    PIN_DIGITS.start(),
                    PIN_DIGITS.end()
                ),
            );
        }
        Ok(())
    }
}

/// A key that keeps a kiosk (or a server) with `demo = false` from starting: a demo part, a
/// default or trivial operator PIN, a plain-text PIN, a demo key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub key: &'static str,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Each provider section (`key`, provider name) that is a demo part or missing.
pub fn demo_provider_refusals(sections: &[(&'static str, &str)]) -> Vec<Refusal> {
    sections
        .iter()
        .filter_map(|&(key, name)| match name.trim() {
            "" => Some(Refusal {
                key,
                message: "no provider configured".into(),
            }),
            // "simulator": a gateway simulator inside the kiosk (`[payment]`), a demo part too.
            demo @ ("demo" | "simulator") => Some(Refusal {
                key,
                message: format!("{demo:?} is a demo part (demo mode only)"),
            }),
            _ => None,
        })
        .collect()
}

/// The audit key: empty is the demo key, which only a demo may use.
pub fn audit_key_refusal(audit: &AuditSection) -> Option<Refusal> {
    audit.key_path().is_none().then(|| Refusal {
        key: "audit.key_file",
        message: "empty: the audit chain would be anchored with the public demo key; make one with `kiosk db audit-key --out FILE`".into(),
    })
}

impl KioskConfig {
    /// With `kiosk.demo = false`, every key that would run a demo part or let a guessable PIN
    /// in (empty in demo mode). A kiosk on its own store needs real `[payment]`, `[sms]`, `[qr]`,
    /// `[face]` and an audit key; a server's terminal (`[platform] url`) leaves payment, SMS and
    /// QR signing to the server but still needs a real face check, the QR verification keys and
    /// its own identity (`platform.key_file`). The operator PIN must be an argon2 hash
    /// (`operator.pin_hash`) of a PIN that is not trivial, and the plain `operator.pin` empty.
    pub fn production_refusals(&self) -> Vec<Refusal> {
        if self.kiosk.demo {
            return Vec::new();
        }
        let mut out = match self.platform.remote_url() {
            None => {
                let mut v = demo_provider_refusals(&[
                    ("payment.provider", self.payment.provider.as_str()),
                    ("sms.provider", self.sms.provider.as_str()),
                    ("qr.provider", self.qr.provider.as_str()),
                    ("face.provider", self.face.provider.as_str()),
                    ("staff_call.provider", self.staff_call.provider.as_str()),
                ]);
                v.extend(audit_key_refusal(&self.audit));
                v
            }
            Some(_) => {
                let mut v = demo_provider_refusals(&[
                    ("qr.provider", self.qr.provider.as_str()),
                    ("face.provider", self.face.provider.as_str()),
                    ("staff_call.provider", self.staff_call.provider.as_str()),
                ]);
                if self.platform.key_file.trim().is_empty() {
                    v.push(Refusal {
                        key: "platform.key_file",
                        message: "empty: the public demo identity; make this kiosk's key with `kiosk keygen --out FILE`".into(),
                    });
                }
                v
            }
        };
        let op = &self.operator;
        if !op.pin.is_empty() {
            let why = operator::trivial_pin(&op.pin)
                .map(|w| format!(" and trivial ({w})"))
                .unwrap_or_default();
            out.push(Refusal {
                key: "operator.pin",
                message: format!(
                    "a plain-text PIN{why}: leave it empty and set operator.pin_hash (`kiosk pin-hash`)"
                ),
            });
        }
        let hash = op.pin_hash.trim();
        if hash.is_empty() {
            out.push(Refusal {
                key: "operator.pin_hash",
                message: "empty: make one with `kiosk pin-hash` (a PIN that is not trivial)".into(),
            });
        } else if let Some(p) = operator::hash_of_trivial_pin(hash) {
            let why = operator::trivial_pin(p).unwrap_or("trivial");
            out.push(Refusal {
                key: "operator.pin_hash",
                message: format!(
                    "is the hash of a trivial PIN ({why}); choose another with `kiosk pin-hash`"
                ),
            });
        }
        out
    }
}

/// The refusals as one message (both languages), each key on its own line.
pub fn refusal_message(what: &str, refusals: &[Refusal]) -> String {
    let mut m = format!(
        "{what}: demo = false, but these keys would run demo parts or a guessable PIN; 非演示模式不能使用演示部件或弱密码，程序不启动 / not started:"
    );
    for r in refusals {
        m.push_str("\n  ");
        m.push_str(&r.to_string());
    }
    m
}

/// The longest kiosk id.
pub const MAX_KIOSK_ID_CHARS: usize = 32;
/// The most hall phone numbers shown.
pub const MAX_HALL_PHONES: usize = 5;
/// The spellings of `devices.scanner_suffix` (devices::scanner::Suffix parses the same).
pub const SCANNER_SUFFIXES: &[&str] = &["", "any", "\r", "\n", "\r\n"];

const PHONE_FORM: &str =
    "must be a phone number of 3 to 20 digits, with - between groups (e.g. 023-68620626)";

fn is_phone(p: &str) -> bool {
    let digits = p.chars().filter(|c| c.is_ascii_digit()).count();
    (3..=20).contains(&digits)
        && p.chars().all(|c| c.is_ascii_digit() || c == '-')
        && !p.starts_with('-')
        && !p.ends_with('-')
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

    /// The demo's in-process Alipay simulator is a demo part: refused with demo = false, named,
    /// on a kiosk and on a server, like "demo".
    #[test]
    fn the_payment_simulator_is_refused_outside_demo_naming_payment_provider() {
        let c = KioskConfig::from_toml_over_default(
            "[kiosk]\ndemo = false\n[payment]\nprovider = \"simulator\"\n",
            "t.toml",
        )
        .unwrap();
        let r = c.production_refusals();
        let pay = r
            .iter()
            .find(|r| r.key == "payment.provider")
            .unwrap_or_else(|| panic!("payment.provider not named: {r:?}"));
        assert!(pay.message.contains("simulator"), "{}", pay.message);
        let mut on = c.clone();
        on.kiosk.demo = true;
        assert!(on.production_refusals().is_empty());
        let server = ServerConfig {
            payment: PaymentSection {
                provider: "simulator".into(),
                ..PaymentSection::default()
            },
            ..ServerConfig::default()
        };
        assert!(
            server
                .production_refusals()
                .iter()
                .any(|r| r.key == "payment.provider")
        );
    }

    #[test]
    fn a_partial_file_overrides_key_by_key() {
        let c = KioskConfig::from_toml_over_default("[devices]\npaper_mm = 58\n", "t").unwrap();
        assert_eq!(c.devices.paper_mm, 58);
        assert_eq!(c.devices.reader, "sim");
    }

    #[test]
    fn voice_volume_is_0_to_100() {
        let c = KioskConfig::embedded();
        assert!(c.voice.enabled && c.voice.volume <= 100);
        let e = KioskConfig::from_toml_over_default("[voice]\nvolume = 101\n", "t.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("voice.volume"), "{e}");
        let off =
            KioskConfig::from_toml_over_default("[voice]\nenabled = false\n", "t.toml").unwrap();
        assert!(!off.voice.enabled);
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

    #[test]
    fn the_platform_is_local_by_default_and_a_server_url_is_checked() {
        assert_eq!(KioskConfig::embedded().platform.remote_url(), None);
        let c = KioskConfig::from_toml_over_default(
            "[platform]\nurl = \"http://10.0.0.5:8080\"\nkey_file = \"/etc/kiosk/key\"\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.platform.remote_url(), Some("http://10.0.0.5:8080"));
        for bad in [
            "[platform]\nurl = \"ftp://x\"\n",
            "[platform]\nurl = \"http://\"\n",
            "[platform]\nurl = \"http://u:p@host\"\n",
            "[platform]\nkey_file = \"/k\"\n",
            "[kiosk]\nid = \"渝北 1\"\n[platform]\nurl = \"http://h\"\n",
        ] {
            let e = KioskConfig::from_toml_over_default(bad, "t").unwrap_err();
            assert!(
                e.to_string().contains("platform.") || e.to_string().contains("kiosk.id"),
                "{bad}: {e}"
            );
        }
    }
}
