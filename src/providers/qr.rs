//! `[qr] provider = "keyfile"`: the vehicle-QR and receipt keys from key files and published key
//! lists (`crate::store::keyring`). `demo`: the demo keys from public seeds (demo mode only).
//!
//! The platform (`kiosk serve`, or a kiosk on its own store) needs both signing key files; a
//! verifier (a server's terminal, `kiosk platform verify-receipt`) needs only the published keys.
//! A verifier takes its keys from its own configuration, never from the server it checks: a
//! spoofed server cannot make its forgeries verify, and rotating is publishing the new key in the
//! configurations before the platform signs with it.

use std::path::Path;

use super::ProvidersError;
use crate::config::QrSection;
use crate::store::keyring::{self, KeyError, Keyring};
use crate::store::token::QrKeys;

/// What the keys are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The platform: signs tokens and receipts (both key files required).
    Platform,
    /// Verification only (key files used when given, for their public keys).
    Verifier,
}

fn config(key: &'static str, e: KeyError) -> ProvidersError {
    ProvidersError::Config {
        key,
        message: e.to_string(),
    }
}

fn ring(
    file_key: &'static str,
    file: &str,
    list_key: &'static str,
    list: &[String],
    role: Role,
) -> Result<Keyring, ProvidersError> {
    let signing = match (file.trim(), role) {
        ("", Role::Platform) => {
            return Err(ProvidersError::Config {
                key: file_key,
                message: "the platform signs with a key file: `kiosk keygen --qr|--receipt --kid ID --out FILE`".into(),
            });
        }
        ("", Role::Verifier) => None,
        (path, _) => {
            Some(keyring::read_key_file(Path::new(path)).map_err(|e| config(file_key, e))?)
        }
    };
    let published = list
        .iter()
        .map(|s| keyring::parse_published(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config(list_key, e))?;
    if signing.is_none() && published.is_empty() {
        // A verifier with nothing listed verifies nothing: the caller says whether that is fine.
        return Ok(Keyring::empty());
    }
    Keyring::new(signing, published).map_err(|e| config(list_key, e))
}

/// The keys `[qr]` names, for `role`.
pub fn keys(section: &QrSection, role: Role) -> Result<QrKeys, ProvidersError> {
    match section.provider.as_str() {
        "demo" => Ok(QrKeys::demo()),
        "keyfile" => {
            let vehicle = ring(
                "qr.signing_key_file",
                &section.signing_key_file,
                "qr.public_keys",
                &section.public_keys,
                role,
            )?;
            let receipt = ring(
                "qr.receipt_key_file",
                &section.receipt_key_file,
                "qr.receipt_public_keys",
                &section.receipt_public_keys,
                role,
            )?;
            QrKeys::from_keyrings(vehicle, receipt).map_err(|e| config("qr.public_keys", e))
        }
        other => Err(super::unknown("qr.provider", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(dir: &Path) -> QrSection {
        let q = dir.join("qr.key");
        let r = dir.join("receipt.key");
        let qp = keyring::generate_key_file("qr-1", &q).unwrap();
        let rp = keyring::generate_key_file("rc-1", &r).unwrap();
        QrSection {
            provider: "keyfile".into(),
            signing_key_file: q.display().to_string(),
            receipt_key_file: r.display().to_string(),
            public_keys: vec![qp],
            receipt_public_keys: vec![rp],
        }
    }

    #[test]
    fn keyfile_keys_sign_on_the_platform_and_verify_on_a_terminal() {
        let dir = tempfile::tempdir().unwrap();
        let s = section(dir.path());
        let platform = keys(&s, Role::Platform).unwrap();
        assert!(!platform.is_demo());
        let owner = crate::domain::IdNumber::parse("50010619851120002X").unwrap();
        let now: jiff::Timestamp = "2026-11-25T10:00:00+08:00".parse().unwrap();
        let (tok, _) = platform.issue("渝A12345", "02", &owner, now).unwrap();
        let terminal = keys(
            &QrSection {
                signing_key_file: String::new(),
                receipt_key_file: String::new(),
                ..s.clone()
            },
            Role::Verifier,
        )
        .unwrap();
        assert!(terminal.verify(&tok, now).is_ok());
        assert!(terminal.issue("渝A12345", "02", &owner, now).is_err());
    }

    #[test]
    fn rotating_key_files_keeps_the_listed_previous_key_until_it_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = section(dir.path());
        let owner = crate::domain::IdNumber::parse("50010619851120002X").unwrap();
        let now: jiff::Timestamp = "2026-11-25T10:00:00+08:00".parse().unwrap();
        let (old_token, _) = keys(&s, Role::Platform)
            .unwrap()
            .issue("渝A12345", "02", &owner, now)
            .unwrap();
        // The new key signs; the old one stays published.
        let new_file = dir.path().join("qr-2.key");
        let new_published = keyring::generate_key_file("qr-2", &new_file).unwrap();
        let rotated = QrSection {
            signing_key_file: new_file.display().to_string(),
            public_keys: vec![new_published.clone(), s.public_keys[0].clone()],
            ..s.clone()
        };
        let platform = keys(&rotated, Role::Platform).unwrap();
        let (new_token, claims) = platform.issue("渝A12345", "02", &owner, now).unwrap();
        assert_eq!(claims.key_id, "qr-2");
        assert!(platform.verify(&old_token, now).is_ok());
        assert!(platform.verify(&new_token, now).is_ok());
        // The old key removed from the list: its tokens are refused.
        let after = QrSection {
            public_keys: vec![new_published],
            ..rotated
        };
        let platform = keys(&after, Role::Platform).unwrap();
        assert_eq!(
            platform.verify(&old_token, now),
            Err(crate::store::token::TokenError::UnknownKey)
        );
        assert!(platform.verify(&new_token, now).is_ok());
    }

    #[test]
    fn a_platform_without_key_files_or_with_bad_keys_names_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let s = section(dir.path());
        let cases: Vec<(QrSection, &str)> = vec![
            (
                QrSection {
                    signing_key_file: String::new(),
                    ..s.clone()
                },
                "qr.signing_key_file",
            ),
            (
                QrSection {
                    receipt_key_file: dir.path().join("none.key").display().to_string(),
                    ..s.clone()
                },
                "qr.receipt_key_file",
            ),
            (
                QrSection {
                    public_keys: vec!["qr-1:00".into()],
                    ..s.clone()
                },
                "qr.public_keys",
            ),
            (
                QrSection {
                    provider: "vault".into(),
                    ..s.clone()
                },
                "qr.provider",
            ),
        ];
        for (section, want) in cases {
            match keys(&section, Role::Platform) {
                Err(ProvidersError::Config { key, .. }) => assert_eq!(key, want),
                Ok(_) => panic!("accepted, expected {want}"),
            }
        }
        // A terminal with no published key at all: nothing verifies.
        let empty = QrSection {
            provider: "keyfile".into(),
            ..QrSection::default()
        };
        let none = keys(&empty, Role::Verifier).unwrap();
        assert!(none.vehicle_keys().is_empty() && none.receipt_keys().is_empty());
    }
}
