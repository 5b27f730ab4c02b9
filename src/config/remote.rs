//! Remote configuration (issue 14): the operational keys of `kiosk.toml` a city's server may set
//! per hall or per kiosk (`kiosk serve --remote-config`), and the signed document that carries
//! them to a kiosk. Device URIs, key files, the database, `demo` and the kiosk's id stay local:
//! they are not [`RemoteSettings`] fields, so no document can name them.

use serde::{Deserialize, Serialize};

use super::{KioskConfig, Language};

/// The operational keys, each optional (absent: the kiosk's own `kiosk.toml` value). Flat names:
/// `idle_seconds`, …, `voice_volume`, `voice_enabled`. Serialized in this field order without
/// the absent ones: that JSON is canonical (the server signs it byte for byte).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_warning_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_read_ms: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_window_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_name_en: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hall_phones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consultation_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_volume: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice_enabled: Option<bool>,
    /// The dated policies (`assets/policy.toml` format) as TOML text: the server reads the file
    /// `policy_file` names and ships its text; absent, the kiosk's own `[policy] file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// The keys a remote configuration may set, as written in `kiosk serve --remote-config`
/// (`policy_file` names a policy file the server reads; the document carries its text as
/// `policy`).
pub const REMOTE_KEYS: [&str; 12] = [
    "idle_seconds",
    "idle_warning_seconds",
    "card_read_ms",
    "payment_window_minutes",
    "language",
    "hall_name",
    "hall_name_en",
    "hall_phones",
    "consultation_phone",
    "voice_volume",
    "voice_enabled",
    "policy_file",
];

/// Keys of `kiosk.toml` that stay on the kiosk (devices, keys, files, identity, demo): a remote
/// configuration naming one is refused as "not operational".
pub const LOCAL_ONLY_KEYS: &[&str] = &[
    "id",
    "demo",
    "reader",
    "scanner",
    "scanner_suffix",
    "printer",
    "paper_mm",
    "path",
    "demo_persons",
    "demo_seed",
    "width_mm",
    "height_mm",
    "min_touch_mm",
    "file",
    "pin",
    "pin_hash",
    "url",
    "key_file",
    "config_public_key",
    "recordings",
    "listen",
    "provider",
    "keyfile",
    "public_keys",
    "receipt_public_keys",
    "camera",
    "api_key_file",
];

impl RemoteSettings {
    /// Lay `over` on `self`: each key `over` sets wins.
    pub fn overlay(&mut self, over: &RemoteSettings) {
        macro_rules! take {
            ($($f:ident),*) => { $( if over.$f.is_some() { self.$f = over.$f.clone(); } )* };
        }
        take!(
            idle_seconds,
            idle_warning_seconds,
            card_read_ms,
            payment_window_minutes,
            language,
            hall_name,
            hall_name_en,
            hall_phones,
            consultation_phone,
            voice_volume,
            voice_enabled,
            policy
        );
    }

    /// `config` with these settings laid over it (the caller validates the result with
    /// [`KioskConfig::validate_values`]).
    pub fn apply_to(&self, config: &mut KioskConfig) {
        let t = &mut config.timeouts;
        macro_rules! set {
            ($dst:expr, $f:ident) => {
                if let Some(v) = &self.$f {
                    $dst = v.clone();
                }
            };
        }
        set!(t.idle_seconds, idle_seconds);
        set!(t.idle_warning_seconds, idle_warning_seconds);
        set!(t.card_read_ms, card_read_ms);
        set!(t.payment_window_minutes, payment_window_minutes);
        let k = &mut config.kiosk;
        set!(k.language, language);
        set!(k.hall_name, hall_name);
        set!(k.hall_name_en, hall_name_en);
        set!(k.hall_phones, hall_phones);
        set!(k.consultation_phone, consultation_phone);
        set!(config.voice.volume, voice_volume);
        set!(config.voice.enabled, voice_enabled);
    }

    /// Every operational value of `config` (all keys set but `policy`, which stays absent: the
    /// kiosk's own policy file): what a kiosk runs with.
    pub fn effective(config: &KioskConfig) -> Self {
        RemoteSettings {
            idle_seconds: Some(config.timeouts.idle_seconds),
            idle_warning_seconds: Some(config.timeouts.idle_warning_seconds),
            card_read_ms: Some(config.timeouts.card_read_ms),
            payment_window_minutes: Some(config.timeouts.payment_window_minutes),
            language: Some(config.kiosk.language),
            hall_name: Some(config.kiosk.hall_name.clone()),
            hall_name_en: Some(config.kiosk.hall_name_en.clone()),
            hall_phones: Some(config.kiosk.hall_phones.clone()),
            consultation_phone: Some(config.kiosk.consultation_phone.clone()),
            voice_volume: Some(config.voice.volume),
            voice_enabled: Some(config.voice.enabled),
            policy: None,
        }
    }

    /// The canonical JSON: fields in declaration order, absent ones left out, no spaces.
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// `base` with these settings over it, checked with the ranges of `kiosk.toml` (the policy
    /// text is not checked here: the server parses its file, the kiosk what it receives).
    pub fn checked_over(&self, base: &KioskConfig) -> Result<KioskConfig, (&'static str, String)> {
        let mut c = base.clone();
        self.apply_to(&mut c);
        c.validate_values()?;
        Ok(c)
    }
}

/// A remote configuration as the server hands it to one kiosk: the merged settings as canonical
/// JSON (`settings`), its `version` (SHA-256 hex of those bytes), the signing key's id and the
/// ed25519 signature (hex) over the `settings` bytes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SignedSettings {
    pub settings: String,
    pub version: String,
    pub kid: String,
    pub signature: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_keys_and_local_keys_do_not_meet_and_the_json_is_canonical() {
        for k in REMOTE_KEYS {
            assert!(!LOCAL_ONLY_KEYS.contains(&k), "{k}");
        }
        let s = RemoteSettings {
            voice_volume: Some(60),
            idle_seconds: Some(120),
            ..Default::default()
        };
        assert_eq!(
            s.canonical_json(),
            r#"{"idle_seconds":120,"voice_volume":60}"#
        );
        let e = RemoteSettings::effective(&KioskConfig::embedded());
        let text = serde_json::to_value(&e).unwrap();
        // Every key but the policy, which the document carries as text (`policy`).
        assert_eq!(text.as_object().unwrap().len(), REMOTE_KEYS.len() - 1);
        for k in REMOTE_KEYS.iter().filter(|k| **k != "policy_file") {
            assert!(text.get(k).is_some(), "{k}");
        }
        let with_policy = RemoteSettings {
            policy: Some("[[epidemic_relief]]\n".into()),
            ..Default::default()
        };
        assert_eq!(
            with_policy.canonical_json(),
            r#"{"policy":"[[epidemic_relief]]\n"}"#
        );
    }
}
