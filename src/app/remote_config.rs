//! Remote configuration on the kiosk (issue 14): with `[platform] url` and
//! `config_public_key`, a thread asks the server for this kiosk's signed settings every
//! [`REMOTE_CONFIG_EVERY`], verifies the signature with that published key, checks the values
//! with the ranges of `kiosk.toml` laid over the kiosk's own file, and hands the effective
//! settings to the flow (`Event::RemoteSettings`), which applies them at its next idle moment
//! (the attract screen). A document signed by another key, with a bad signature, a version that
//! is not its hash, an unknown key or a value out of range is refused and logged, never applied.
//! Device URIs and keys are no settings at all: they stay in the local file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};

use crate::config::{KioskConfig, RemoteSettings, SignedSettings};
use crate::flow::Event;
use crate::store::platform::Platform;

/// How often the kiosk asks.
pub const REMOTE_CONFIG_EVERY: Duration = Duration::from_secs(60);
/// The first question after start.
pub const FIRST_FETCH: Duration = Duration::from_secs(2);

/// Why a remote configuration was not applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("signed by key “{got}”, not the configured “{expected}”")]
    OtherKey { got: String, expected: String },
    #[error("the signature does not verify with the configured key")]
    BadSignature,
    #[error("the version is not the SHA-256 of the settings")]
    BadVersion,
    #[error("the settings cannot be read (an unknown key?): {0}")]
    Unreadable(String),
    #[error("{key}: {message}")]
    OutOfRange { key: &'static str, message: String },
    #[error("the policy is not a policy book: {0}")]
    BadPolicy(String),
}

/// The published configuration key (`[platform] config_public_key`, `KID:HEX`).
#[derive(Debug, Clone)]
pub struct ConfigVerifier {
    kid: String,
    key: VerifyingKey,
}

impl ConfigVerifier {
    pub fn parse(published: &str) -> Result<Self, crate::store::keyring::KeyError> {
        let (kid, key) = crate::store::keyring::parse_published(published.trim())?;
        Ok(ConfigVerifier { kid, key })
    }

    /// The settings `doc` carries, when this key signed them.
    pub fn verify(&self, doc: &SignedSettings) -> Result<RemoteSettings, Refused> {
        if doc.kid != self.kid {
            return Err(Refused::OtherKey {
                got: doc.kid.clone(),
                expected: self.kid.clone(),
            });
        }
        let sig = hex::decode(&doc.signature)
            .ok()
            .and_then(|b| Signature::from_slice(&b).ok())
            .ok_or(Refused::BadSignature)?;
        self.key
            .verify_strict(doc.settings.as_bytes(), &sig)
            .map_err(|_| Refused::BadSignature)?;
        if crate::wire::sha256_hex(doc.settings.as_bytes()) != doc.version {
            return Err(Refused::BadVersion);
        }
        serde_json::from_str(&doc.settings).map_err(|e| Refused::Unreadable(e.to_string()))
    }

    /// What the kiosk runs with under `doc`: every operational value of `base` (its own
    /// `kiosk.toml`) with the verified settings laid over, checked with the same ranges.
    pub fn accept(
        &self,
        doc: &SignedSettings,
        base: &KioskConfig,
    ) -> Result<RemoteSettings, Refused> {
        let s = self.verify(doc)?;
        if let Some(text) = &s.policy {
            crate::rules::PolicyBook::parse(text).map_err(|e| Refused::BadPolicy(e.to_string()))?;
        }
        let config = s
            .checked_over(base)
            .map_err(|(key, message)| Refused::OutOfRange { key, message })?;
        Ok(RemoteSettings {
            // The server's policy, or (absent) the kiosk's own file.
            policy: s.policy,
            ..RemoteSettings::effective(&config)
        })
    }
}

/// The configuration hash the heartbeat reports once `applied` runs on `base`: with a remote
/// policy, the hash of the configuration and the policy's text together.
pub fn effective_hash(base: &KioskConfig, applied: &RemoteSettings) -> String {
    let mut c = base.clone();
    applied.apply_to(&mut c);
    let hash = super::heartbeat::config_hash(&c);
    match &applied.policy {
        None => hash,
        Some(policy) => {
            let both = format!("{hash}\n{policy}");
            crate::wire::sha256_hex(both.as_bytes())[..16].to_string()
        }
    }
}

/// Ask once: the effective settings to hand the flow, when the server has a document for this
/// kiosk that `verifier` accepts and whose version differs from `last`.
pub fn fetch_once(
    platform: &dyn Platform,
    verifier: &ConfigVerifier,
    base: &KioskConfig,
    last: &mut Option<String>,
) -> Option<RemoteSettings> {
    let doc = match platform.remote_config(&base.kiosk.id) {
        Ok(Some(doc)) => doc,
        Ok(None) => return None,
        Err(e) => {
            tracing::debug!(error = %e, "remote configuration not fetched");
            return None;
        }
    };
    if last.as_deref() == Some(doc.version.as_str()) {
        return None;
    }
    match verifier.accept(&doc, base) {
        Ok(s) => {
            tracing::info!(version = %doc.version, kid = %doc.kid, "remote configuration received");
            *last = Some(doc.version);
            Some(s)
        }
        Err(e) => {
            tracing::error!(version = %doc.version, kid = %doc.kid, reason = %e, "remote configuration refused; not applied");
            // Said once per version, not every minute.
            *last = Some(doc.version);
            None
        }
    }
}

/// Ask on a thread of its own until `stop`; each accepted document goes to the flow through
/// `events` (the window takes them at its next frame: at least once a minute when idle).
pub fn spawn(
    platform: Arc<dyn Platform>,
    verifier: ConfigVerifier,
    base: KioskConfig,
    events: Sender<Event>,
    stop: Arc<AtomicBool>,
) {
    let spawned = std::thread::Builder::new()
        .name("remote-config".into())
        .spawn(move || {
            let mut last = None;
            let mut next = Instant::now() + FIRST_FETCH;
            while !stop.load(Ordering::Relaxed) {
                if Instant::now() < next {
                    std::thread::sleep(Duration::from_millis(250));
                    continue;
                }
                next = Instant::now() + REMOTE_CONFIG_EVERY;
                if let Some(s) = fetch_once(platform.as_ref(), &verifier, &base, &mut last)
                    && events.send(Event::RemoteSettings(s)).is_err()
                {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "remote configuration thread not started");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(key: &SigningKey, kid: &str, settings: &str) -> SignedSettings {
        SignedSettings {
            settings: settings.into(),
            version: crate::wire::sha256_hex(settings.as_bytes()),
            kid: kid.into(),
            signature: hex::encode(key.sign(settings.as_bytes()).to_bytes()),
        }
    }

    fn verifier(key: &SigningKey, kid: &str) -> ConfigVerifier {
        ConfigVerifier::parse(&crate::store::keyring::published(kid, &key.verifying_key())).unwrap()
    }

    #[test]
    fn a_genuine_document_is_applied_and_a_tampered_or_foreign_one_refused() {
        let city = SigningKey::from_bytes(&[1u8; 32]);
        let other = SigningKey::from_bytes(&[2u8; 32]);
        let v = verifier(&city, "cfg-1");
        let base = KioskConfig::embedded();
        let settings = r#"{"idle_seconds":150,"hall_name":"渝中大厅","voice_volume":60}"#;

        // Genuine: every operational value, the server's over the kiosk's own.
        let doc = sign(&city, "cfg-1", settings);
        let s = v.accept(&doc, &base).unwrap();
        assert_eq!(s.idle_seconds, Some(150));
        assert_eq!(s.hall_name.as_deref(), Some("渝中大厅"));
        assert_eq!(s.voice_volume, Some(60));
        assert_eq!(s.hall_name_en, Some(base.kiosk.hall_name_en.clone()));
        assert_ne!(
            effective_hash(&base, &s),
            super::super::heartbeat::config_hash(&base)
        );

        // Tampered: the settings changed after signing.
        let mut tampered = doc.clone();
        tampered.settings = tampered.settings.replace("150", "900");
        tampered.version = crate::wire::sha256_hex(tampered.settings.as_bytes());
        assert_eq!(v.accept(&tampered, &base), Err(Refused::BadSignature));
        // A version that is not the settings' hash.
        let mut stale = doc.clone();
        stale.version = "00".repeat(32);
        assert_eq!(v.accept(&stale, &base), Err(Refused::BadVersion));
        // Signed by another key, under the configured id or its own.
        let forged = sign(&other, "cfg-1", settings);
        assert_eq!(v.accept(&forged, &base), Err(Refused::BadSignature));
        let foreign = sign(&other, "cfg-2", settings);
        assert!(matches!(
            v.accept(&foreign, &base),
            Err(Refused::OtherKey { .. })
        ));
        // Signed, but naming a key that is not operational (a device URI): refused.
        let device = sign(&city, "cfg-1", r#"{"reader":"serial:/dev/ttyUSB0"}"#);
        assert!(matches!(
            v.accept(&device, &base),
            Err(Refused::Unreadable(_))
        ));
        // Signed, but out of the ranges of kiosk.toml.
        // Signed, but a policy text that is no policy book: refused, not applied.
        let bad_policy = sign(
            &city,
            "cfg-1",
            r#"{"idle_seconds":150,"policy":"[[epidemic_relief]]\nname = 3\n"}"#,
        );
        assert!(matches!(
            v.accept(&bad_policy, &base),
            Err(Refused::BadPolicy(_))
        ));
        // A good one is carried as it came, and changes the hash the heartbeat reports.
        let relief = "[[epidemic_relief]]\nname = \"r\"\nfrom = \"2026-01-01T00:00:00+08:00\"\nuntil = \"2028-01-01T00:00:00+08:00\"\n";
        let with_policy = RemoteSettings {
            idle_seconds: Some(150),
            policy: Some(relief.into()),
            ..Default::default()
        };
        let doc = sign(&city, "cfg-1", &with_policy.canonical_json());
        let p = v.accept(&doc, &base).unwrap();
        assert_eq!(p.policy.as_deref(), Some(relief));
        assert_eq!(s.policy, None, "no policy: the kiosk's own");
        let without = RemoteSettings {
            policy: None,
            ..p.clone()
        };
        assert_ne!(effective_hash(&base, &p), effective_hash(&base, &without));
        let loud = sign(&city, "cfg-1", r#"{"voice_volume":300}"#);
        assert!(matches!(
            v.accept(&loud, &base),
            Err(Refused::OutOfRange {
                key: "voice.volume",
                ..
            })
        ));
    }
}
