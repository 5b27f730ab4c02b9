//! Remote configuration (issue 14): `kiosk serve --remote-config FILE --config-key FILE`. The
//! file sets operational keys per hall and per kiosk; a kiosk's own table overrides its hall's
//! (the hall from the `--kiosks` file). The `remote_config` operation answers the authenticated
//! kiosk with its merged settings as canonical JSON, signed with the configuration key.
//!
//! ```toml
//! [halls."渝中大厅"]
//! idle_seconds = 120
//! hall_phones = ["023-63961234"]
//!
//! [kiosks.CQ-YZ-0001]
//! voice_volume = 60
//! policy_file = "policy-relief.toml"
//! ```
//!
//! `policy_file` names a policy file (`assets/policy.toml` format; a relative path is taken from
//! the remote configuration's directory): it is read and parsed at start, and its text goes to
//! the kiosk in the signed document (`policy`).
//!
//! Only the keys of [`REMOTE_KEYS`] are allowed: an unknown key, or a key that stays on the kiosk
//! (a device URI, a key file, `demo`, …), is refused at start, every one named.

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::{Signer, SigningKey};

use super::KioskRegistry;
use crate::config::remote::{LOCAL_ONLY_KEYS, REMOTE_KEYS};
use crate::config::{KioskConfig, RemoteSettings, SignedSettings};

/// Why the remote configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RemoteConfigError {
    #[error("cannot read the remote configuration {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("remote configuration {path}: {detail}")]
    Invalid { path: String, detail: String },
    #[error("--config-key: {0}")]
    Key(#[from] crate::store::keyring::KeyError),
    #[error(
        "--remote-config needs --config-key FILE (the signing key: `kiosk keygen --qr --kid ID --out FILE`)"
    )]
    NoKey,
}

/// The settings per hall and per kiosk, and the key that signs what a kiosk is handed.
pub struct RemoteConfig {
    halls: BTreeMap<String, RemoteSettings>,
    kiosks: BTreeMap<String, RemoteSettings>,
    kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("halls", &self.halls)
            .field("kiosks", &self.kiosks)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Settings by hall name or by kiosk id.
pub type Tables = BTreeMap<String, RemoteSettings>;

/// The tables of the file: `halls.NAME` and `kiosks.ID`, each checked key by key. Every refused
/// key is named (`halls."渝中大厅".reader: …`). A `policy_file` is taken from the working
/// directory when relative (see [`parse_in`]).
pub fn parse(text: &str) -> Result<(Tables, Tables), String> {
    parse_in(text, Path::new(""))
}

/// The text of the policy file `value` names (relative: from `dir`), parsed as a policy book.
fn read_policy(value: &toml::Value, dir: &Path) -> Result<String, String> {
    let Some(name) = value.as_str() else {
        return Err("must be a path (a string)".into());
    };
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::rules::PolicyBook::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text)
}

/// [`parse`], with a relative `policy_file` taken from `dir` (the remote configuration's).
pub fn parse_in(text: &str, dir: &Path) -> Result<(Tables, Tables), String> {
    let top: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut refused = Vec::new();
    let mut out: [BTreeMap<String, RemoteSettings>; 2] = Default::default();
    for (section, value) in top {
        let slot = match section.as_str() {
            "halls" => 0,
            "kiosks" => 1,
            other => {
                refused.push(format!(
                    "{other}: unknown section (only [halls.\"NAME\"] and [kiosks.ID])"
                ));
                continue;
            }
        };
        let toml::Value::Table(entries) = value else {
            refused.push(format!("{section}: must be a table"));
            continue;
        };
        for (name, table) in entries {
            let at = format!("{section}.{name:?}");
            let toml::Value::Table(mut table) = table else {
                refused.push(format!("{at}: must be a table"));
                continue;
            };
            let mut bad = false;
            for key in table.keys() {
                if REMOTE_KEYS.contains(&key.as_str()) {
                    continue;
                }
                bad = true;
                if LOCAL_ONLY_KEYS.contains(&key.as_str()) {
                    refused.push(format!(
                        "{at}.{key}: not operational (device URIs, keys, files and demo stay in the kiosk's own kiosk.toml)"
                    ));
                } else {
                    refused.push(format!(
                        "{at}.{key}: unknown key (allowed: {})",
                        REMOTE_KEYS.join(", ")
                    ));
                }
            }
            if bad {
                continue;
            }
            let policy = match table.remove("policy_file") {
                None => None,
                Some(v) => match read_policy(&v, dir) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        refused.push(format!("{at}.policy_file: {e}"));
                        continue;
                    }
                },
            };
            match toml::Value::Table(table).try_into::<RemoteSettings>() {
                Ok(mut s) => {
                    s.policy = policy;
                    out[slot].insert(name, s);
                }
                Err(e) => refused.push(format!("{at}: {}", e.to_string().trim())),
            }
        }
    }
    if !refused.is_empty() {
        return Err(refused.join("; "));
    }
    let [halls, kiosks] = out;
    Ok((halls, kiosks))
}

impl RemoteConfig {
    /// Read the file and the signing key; each hall's settings, and each kiosk's over its hall's,
    /// are checked with the ranges of `kiosk.toml` (laid over the embedded default).
    pub fn load(
        path: &Path,
        key_file: Option<&Path>,
        kiosks: &KioskRegistry,
    ) -> Result<Self, RemoteConfigError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RemoteConfigError::Read {
            path: name.clone(),
            source,
        })?;
        let key_file = key_file.ok_or(RemoteConfigError::NoKey)?;
        let (kid, key) = crate::store::keyring::read_key_file(key_file)?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Self::new_in(&text, dir, kid, key, kiosks)
            .map_err(|detail| RemoteConfigError::Invalid { path: name, detail })
    }

    /// From the file's text and the signing key (a relative `policy_file` from the working
    /// directory).
    pub fn new(
        text: &str,
        kid: String,
        key: SigningKey,
        kiosks: &KioskRegistry,
    ) -> Result<Self, String> {
        Self::new_in(text, Path::new(""), kid, key, kiosks)
    }

    /// From the file's text (a relative `policy_file` taken from `dir`) and the signing key.
    pub fn new_in(
        text: &str,
        dir: &Path,
        kid: String,
        key: SigningKey,
        kiosks: &KioskRegistry,
    ) -> Result<Self, String> {
        let (halls, kiosk_tables) = parse_in(text, dir)?;
        let rc = RemoteConfig {
            halls,
            kiosks: kiosk_tables,
            kid,
            key,
        };
        let base = KioskConfig::embedded();
        let mut bad = Vec::new();
        for (hall, s) in &rc.halls {
            if let Err((key, msg)) = s.checked_over(&base) {
                bad.push(format!("halls.{hall:?}: {key}: {msg}"));
            }
        }
        for id in rc.kiosks.keys() {
            let s = rc.merged(id, kiosks.hall_of(id));
            if let Err((key, msg)) = s.checked_over(&base) {
                bad.push(format!("kiosks.{id:?}: {key}: {msg}"));
            }
        }
        if bad.is_empty() {
            Ok(rc)
        } else {
            Err(bad.join("; "))
        }
    }

    /// The settings of `kiosk` in `hall`: the hall's, then the kiosk's own over them.
    pub fn merged(&self, kiosk: &str, hall: Option<&str>) -> RemoteSettings {
        let mut s = hall
            .and_then(|h| self.halls.get(h))
            .cloned()
            .unwrap_or_default();
        if let Some(own) = self.kiosks.get(kiosk) {
            s.overlay(own);
        }
        s
    }

    /// The policy book `kiosk` in `hall` is handed (its `policy_file`, checked at start), which the
    /// server then decides that kiosk's requests with.
    pub fn policy_for(&self, kiosk: &str, hall: Option<&str>) -> Option<crate::rules::PolicyBook> {
        let text = self.merged(kiosk, hall).policy?;
        match crate::rules::PolicyBook::parse(&text) {
            Ok(book) => Some(book),
            Err(e) => {
                tracing::error!(error = %e, "a remote policy that passed at start no longer parses");
                None
            }
        }
    }

    /// What `kiosk` is handed: its merged settings as canonical JSON, their SHA-256, the key id
    /// and the signature over the JSON bytes.
    pub fn signed(&self, kiosk: &str, hall: Option<&str>) -> SignedSettings {
        let settings = self.merged(kiosk, hall).canonical_json();
        SignedSettings {
            version: crate::wire::sha256_hex(settings.as_bytes()),
            kid: self.kid.clone(),
            signature: hex::encode(self.key.sign(settings.as_bytes()).to_bytes()),
            settings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn registry() -> KioskRegistry {
        let pk = hex::encode(
            SigningKey::from_bytes(&[9u8; 32])
                .verifying_key()
                .to_bytes(),
        );
        KioskRegistry::parse(
            &format!(
                "[kiosks.K1]\npublic_key = \"{pk}\"\nhall = \"渝中大厅\"\n[kiosks.K2]\npublic_key = \"{pk}\"\nhall = \"渝中大厅\"\n"
            ),
            false,
        )
        .unwrap()
    }

    #[test]
    fn a_kiosk_gets_its_halls_settings_with_its_own_over_them() {
        let text = r#"
[halls."渝中大厅"]
idle_seconds = 120
hall_name = "渝中区车管所大厅"
hall_phones = ["023-63961234"]
voice_volume = 40

[kiosks.K1]
voice_volume = 60
idle_warning_seconds = 20
"#;
        let rc = RemoteConfig::new(text, "cfg-1".into(), key(), &registry()).unwrap();
        let reg = registry();
        let k1 = rc.merged("K1", reg.hall_of("K1"));
        assert_eq!(k1.idle_seconds, Some(120));
        assert_eq!(k1.hall_name.as_deref(), Some("渝中区车管所大厅"));
        assert_eq!(k1.voice_volume, Some(60), "the kiosk's own table wins");
        assert_eq!(k1.idle_warning_seconds, Some(20));
        let k2 = rc.merged("K2", reg.hall_of("K2"));
        assert_eq!(k2.voice_volume, Some(40));
        assert_eq!(k2.idle_warning_seconds, None);
        // A kiosk of no hall in the file gets nothing.
        assert_eq!(rc.merged("K9", None), RemoteSettings::default());
        // Signed: canonical JSON, its hash as version, the key id, a signature over the bytes.
        let doc = rc.signed("K1", reg.hall_of("K1"));
        assert_eq!(doc.kid, "cfg-1");
        assert_eq!(
            doc.version,
            crate::wire::sha256_hex(doc.settings.as_bytes())
        );
        assert!(
            doc.settings
                .starts_with(r#"{"idle_seconds":120,"idle_warning_seconds":20,"#)
        );
        let sig =
            ed25519_dalek::Signature::from_slice(&hex::decode(&doc.signature).unwrap()).unwrap();
        use ed25519_dalek::Verifier;
        key()
            .verifying_key()
            .verify(doc.settings.as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn unknown_and_local_only_keys_are_refused_each_named() {
        let text = r#"
[halls."渝中大厅"]
idle_seconds = 120
reader = "serial:/dev/ttyUSB0"
key_file = "/etc/kiosk/kiosk.key"

[kiosks.K1]
demo = true
idle_secs = 30
"#;
        let err = RemoteConfig::new(text, "cfg-1".into(), key(), &registry()).unwrap_err();
        for named in [
            r#"halls."渝中大厅".reader: not operational"#,
            r#"halls."渝中大厅".key_file: not operational"#,
            r#"kiosks."K1".demo: not operational"#,
            r#"kiosks."K1".idle_secs: unknown key"#,
        ] {
            assert!(err.contains(named), "{named} in {err}");
        }
        // Out of the ranges of kiosk.toml: refused with the key.
        let err = RemoteConfig::new(
            "[halls.\"渝中大厅\"]\nvoice_volume = 300\n",
            "cfg-1".into(),
            key(),
            &registry(),
        )
        .unwrap_err();
        assert!(err.contains("voice.volume"), "{err}");
    }

    #[test]
    fn a_halls_policy_file_is_shipped_as_its_text_and_a_bad_one_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let relief = "[[epidemic_relief]]\nname = \"relief\"\nfrom = \"2026-01-01T00:00:00+08:00\"\nuntil = \"2028-01-01T00:00:00+08:00\"\n";
        std::fs::write(dir.path().join("relief.toml"), relief).unwrap();
        let text = "[halls.\"渝中大厅\"]\npolicy_file = \"relief.toml\"\nidle_seconds = 120\n";
        let rc =
            RemoteConfig::new_in(text, dir.path(), "cfg-1".into(), key(), &registry()).unwrap();
        let reg = registry();
        let k1 = rc.merged("K1", reg.hall_of("K1"));
        assert_eq!(k1.policy.as_deref(), Some(relief));
        assert_eq!(rc.merged("K9", None).policy, None);
        // Shipped in the signed, canonical document as `policy` (the text), never the path.
        let doc = rc.signed("K1", reg.hall_of("K1"));
        let back: RemoteSettings = serde_json::from_str(&doc.settings).unwrap();
        assert_eq!(back.policy.as_deref(), Some(relief));
        assert_eq!(back.canonical_json(), doc.settings);
        assert!(!doc.settings.contains("policy_file"));

        // A policy file that does not parse: refused at start, naming the table, key and file.
        std::fs::write(
            dir.path().join("bad.toml"),
            "[[epidemic_relief]]\nname = 3\n",
        )
        .unwrap();
        let err = RemoteConfig::new_in(
            "[kiosks.K1]\npolicy_file = \"bad.toml\"\n",
            dir.path(),
            "cfg-1".into(),
            key(),
            &registry(),
        )
        .unwrap_err();
        assert!(err.contains(r#"kiosks."K1".policy_file: "#), "{err}");
        assert!(err.contains("bad.toml"), "{err}");
        // A missing one too.
        let err = RemoteConfig::new_in(
            "[halls.\"渝中大厅\"]\npolicy_file = \"missing.toml\"\n",
            dir.path(),
            "cfg-1".into(),
            key(),
            &registry(),
        )
        .unwrap_err();
        assert!(
            err.contains(r#"halls."渝中大厅".policy_file: cannot read"#),
            "{err}"
        );
        // The text itself is no key of the file.
        let err = RemoteConfig::new_in(
            "[halls.\"渝中大厅\"]\npolicy = \"\"\n",
            dir.path(),
            "cfg-1".into(),
            key(),
            &registry(),
        )
        .unwrap_err();
        assert!(err.contains("policy: unknown key"), "{err}");
    }
}
