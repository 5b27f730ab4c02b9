//! Who may call the server: the `--kiosks` file (TOML, kiosk id → public key, optional hall) and,
//! on a demo server only, the built-in demo identity.
//!
//! ```toml
//! [kiosks.CQ-YB-0001]
//! public_key = "3b6a27bc…"   # 64 hex digits, printed by `kiosk keygen`
//! hall = "渝北车管分所"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;

use crate::wire::auth::{self, AuthError, DEMO_KIOSK_ID};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KiosksFile {
    #[serde(default)]
    kiosks: BTreeMap<String, KioskEntryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KioskEntryFile {
    public_key: String,
    #[serde(default)]
    hall: Option<String>,
}

/// One kiosk the server knows.
#[derive(Debug, Clone)]
pub struct KioskEntry {
    pub key: VerifyingKey,
    pub hall: Option<String>,
}

/// The kiosks allowed to call, and whether the demo identity is one of them.
#[derive(Debug, Clone, Default)]
pub struct KioskRegistry {
    kiosks: BTreeMap<String, KioskEntry>,
    demo: bool,
}

/// Why the `--kiosks` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KiosksFileError {
    #[error("cannot read the kiosks file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("kiosks file {path}: {detail}")]
    Invalid { path: String, detail: String },
}

impl KioskRegistry {
    /// No kiosk but, with `demo`, the demo identity.
    pub fn new(demo: bool) -> Self {
        KioskRegistry {
            kiosks: BTreeMap::new(),
            demo,
        }
    }

    /// Read a kiosks file. The demo kiosk's id and its public key are refused in it: the demo
    /// identity is never a real kiosk.
    pub fn load(path: &Path, demo: bool) -> Result<Self, KiosksFileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KiosksFileError::Read {
            path: name.clone(),
            source,
        })?;
        Self::parse(&text, demo).map_err(|detail| KiosksFileError::Invalid { path: name, detail })
    }

    pub fn parse(text: &str, demo: bool) -> Result<Self, String> {
        let file: KiosksFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let demo_key = auth::demo_public_key();
        let mut kiosks = BTreeMap::new();
        for (id, e) in file.kiosks {
            if id == DEMO_KIOSK_ID {
                return Err(format!("kiosk id “{DEMO_KIOSK_ID}” is the demo identity's"));
            }
            if id.is_empty() || id.len() > 64 || id.chars().any(|c| c.is_control()) {
                return Err(format!("kiosk id {id:?}: 1 to 64 printable characters"));
            }
            let key = auth::parse_public_key(&e.public_key)
                .map_err(|err| format!("kiosks.{id}.public_key: {err}"))?;
            if key == demo_key {
                return Err(format!(
                    "kiosks.{id}.public_key is the demo identity's public key"
                ));
            }
            kiosks.insert(id, KioskEntry { key, hall: e.hall });
        }
        Ok(KioskRegistry { kiosks, demo })
    }

    /// Every kiosk in the file, by id, with its hall.
    pub fn entries(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.kiosks
            .iter()
            .map(|(id, e)| (id.as_str(), e.hall.as_deref()))
    }

    /// The hall of a kiosk in the file.
    pub fn hall_of(&self, kiosk_id: &str) -> Option<&str> {
        self.kiosks.get(kiosk_id)?.hall.as_deref()
    }

    pub fn demo(&self) -> bool {
        self.demo
    }

    pub fn len(&self) -> usize {
        self.kiosks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kiosks.is_empty()
    }

    /// The public key of a kiosk allowed to call.
    pub fn key_of(&self, kiosk_id: &str) -> Result<VerifyingKey, AuthError> {
        if kiosk_id == DEMO_KIOSK_ID {
            return if self.demo {
                Ok(auth::demo_public_key())
            } else {
                Err(AuthError::DemoRefused)
            };
        }
        self.kiosks
            .get(kiosk_id)
            .map(|e| e.key)
            .ok_or_else(|| AuthError::UnknownKiosk(kiosk_id.chars().take(64).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::auth::KioskIdentity;

    #[test]
    fn the_file_lists_kiosks_and_never_the_demo_identity() {
        let demo_pub = KioskIdentity::demo().public_key_hex();
        let other = hex::encode(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .to_bytes(),
        );
        let r = KioskRegistry::parse(
            &format!("[kiosks.CQ-1]\npublic_key = \"{other}\"\nhall = \"渝北\"\n"),
            false,
        )
        .unwrap();
        assert_eq!(r.len(), 1);
        assert!(r.key_of("CQ-1").is_ok());
        assert!(matches!(r.key_of("CQ-2"), Err(AuthError::UnknownKiosk(_))));
        assert!(matches!(
            r.key_of(DEMO_KIOSK_ID),
            Err(AuthError::DemoRefused)
        ));
        assert!(KioskRegistry::new(true).key_of(DEMO_KIOSK_ID).is_ok());
        assert!(
            KioskRegistry::parse(&format!("[kiosks.X]\npublic_key = \"{demo_pub}\"\n"), true)
                .is_err()
        );
        assert!(
            KioskRegistry::parse(
                &format!("[kiosks.demo-kiosk]\npublic_key = \"{other}\"\n"),
                true
            )
            .is_err()
        );
        assert!(KioskRegistry::parse("[kiosks.X]\npublic_key = \"zz\"\n", true).is_err());
        assert!(KioskRegistry::parse("[kiosks.X]\nkey = \"zz\"\n", true).is_err());
    }
}
