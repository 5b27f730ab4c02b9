//! Signing keys of the platform (vehicle QR tokens, receipt seals) and the published keys that
//! verify them.
//!
//! - A **key file** holds one ed25519 private key and its key id: one line `KID HEX`, `HEX` the 64
//!   hex digits of the private seed. `kiosk keygen --qr|--receipt --kid KID --out FILE` writes one
//!   (mode 0600, never over an existing file); [`read_key_file`] refuses a file whose mode lets
//!   its group or others read or write it.
//! - A **published key** is `KID:HEX`, `HEX` the 64 hex digits of the public key: what `keygen`
//!   prints, what a verifier lists (`[qr] public_keys`, `receipt_public_keys`).
//! - A [`Keyring`] has at most one active signing key and every published key that still
//!   verifies: rotating is publishing the new key, switching the signing key file to it, and
//!   removing the old key from the list once what it signed has expired.

use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};

/// The longest key id.
pub const MAX_KID_LEN: usize = 32;

/// Why a key, a key file or a key list is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("密钥编号“{0}”无效 / Key id “{0}” is not valid: 1–32 letters, digits, '-', '_' or '.'")]
    BadKid(String),
    #[error("cannot read the key file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error(
        "key file {path} has mode {mode:o}: its group or others may read it; `chmod 600 {path}`"
    )]
    Exposed { path: String, mode: u32 },
    #[error("key file {path}: one line “KID HEX” expected (HEX: 64 hex digits of an ed25519 key)")]
    BadKeyFile { path: String },
    #[error("cannot write the key file {path}: {detail}")]
    Write { path: String, detail: String },
    #[error(
        "published key “{0}”: “KID:HEX” expected (HEX: 64 hex digits of an ed25519 public key)"
    )]
    BadPublished(String),
    #[error("key id “{0}” is listed twice with different keys")]
    Duplicate(String),
    #[error(
        "key “{0}” is a demo key (derived from a public seed): it proves nothing outside demo mode"
    )]
    DemoKey(String),
    #[error("no key to verify with: list the published keys")]
    Empty,
}

/// A key id: 1–32 ASCII letters, digits, `-`, `_`, `.` (it is printed inside QR codes).
pub fn check_kid(kid: &str) -> Result<(), KeyError> {
    let ok = !kid.is_empty()
        && kid.len() <= MAX_KID_LEN
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::BadKid(kid.chars().take(40).collect()))
    }
}

/// `KID:HEX` of a public key.
pub fn published(kid: &str, key: &VerifyingKey) -> String {
    format!("{kid}:{}", hex::encode(key.to_bytes()))
}

/// Parse a published key `KID:HEX`.
pub fn parse_published(text: &str) -> Result<(String, VerifyingKey), KeyError> {
    let bad = || KeyError::BadPublished(text.chars().take(120).collect());
    let (kid, hex_key) = text.trim().split_once(':').ok_or_else(bad)?;
    check_kid(kid)?;
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    let key = VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
    Ok((kid.to_string(), key))
}

/// Read a key file: refused when its mode lets group or others at it, or it is not `KID HEX`.
pub fn read_key_file(path: &Path) -> Result<(String, SigningKey), KeyError> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let shown = path.display().to_string();
    let read_err = |e: std::io::Error| KeyError::Read {
        path: shown.clone(),
        detail: e.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let meta = file.metadata().map_err(read_err)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Exposed { path: shown, mode });
    }
    // A key file is one short line: read at most 1 KiB of it.
    let mut text = String::new();
    file.take(1024)
        .read_to_string(&mut text)
        .map_err(|_| KeyError::BadKeyFile {
            path: shown.clone(),
        })?;
    let bad = || KeyError::BadKeyFile {
        path: shown.clone(),
    };
    let mut words = text.split_whitespace();
    let (Some(kid), Some(seed_hex), None) = (words.next(), words.next(), words.next()) else {
        return Err(bad());
    };
    check_kid(kid)?;
    let seed: [u8; 32] = hex::decode(seed_hex)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok((kid.to_string(), SigningKey::from_bytes(&seed)))
}

/// Make a new key with id `kid`, write it to `out` (mode 0600, never over an existing file) and
/// return its published form `KID:HEX`.
pub fn generate_key_file(kid: &str, out: &Path) -> Result<String, KeyError> {
    use std::io::{Read as _, Write as _};
    use std::os::unix::fs::OpenOptionsExt as _;
    check_kid(kid)?;
    let werr = |e: std::io::Error| KeyError::Write {
        path: out.display().to_string(),
        detail: e.to_string(),
    };
    // A signing key comes from the system's random source, or not at all.
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(werr)?;
    let key = SigningKey::from_bytes(&seed);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(werr)?;
    f.write_all(format!("{kid} {}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(werr)?;
    Ok(published(kid, &key.verifying_key()))
}

/// One active signing key (when this installation signs) and the keys it trusts.
#[derive(Clone)]
pub struct Keyring {
    signing: Option<(String, SigningKey)>,
    trusted: Vec<(String, VerifyingKey)>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.trusted.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Keyring")
            .field("signing", &self.signing.as_ref().map(|(k, _)| k))
            .field("trusted", &ids)
            .finish()
    }
}

impl Keyring {
    /// A keyring that signs with `signing` (its own public key trusted) and trusts `published`.
    /// Refused: a bad key id, one id with two keys, and nothing to verify with.
    pub fn new(
        signing: Option<(String, SigningKey)>,
        published: Vec<(String, VerifyingKey)>,
    ) -> Result<Self, KeyError> {
        let mut trusted: Vec<(String, VerifyingKey)> = Vec::new();
        let own = signing
            .as_ref()
            .map(|(kid, sk)| (kid.clone(), sk.verifying_key()));
        for (kid, key) in own.into_iter().chain(published) {
            check_kid(&kid)?;
            match trusted.iter().find(|(k, _)| *k == kid) {
                Some((_, known)) if *known == key => {}
                Some(_) => return Err(KeyError::Duplicate(kid)),
                None => trusted.push((kid, key)),
            }
        }
        if trusted.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Keyring { signing, trusted })
    }

    /// A keyring that neither signs nor verifies anything.
    pub fn empty() -> Self {
        Keyring {
            signing: None,
            trusted: Vec::new(),
        }
    }

    /// Refuse any key equal to one of `demo` (a key derived from a public seed).
    pub fn refuse_keys(self, demo: &[VerifyingKey]) -> Result<Self, KeyError> {
        match self.trusted.iter().find(|(_, k)| demo.contains(k)) {
            Some((kid, _)) => Err(KeyError::DemoKey(kid.clone())),
            None => Ok(self),
        }
    }

    /// True when it trusts no key (verifies nothing).
    pub fn is_empty(&self) -> bool {
        self.trusted.is_empty()
    }

    /// The active signing key.
    pub fn signing(&self) -> Option<(&str, &SigningKey)> {
        self.signing.as_ref().map(|(k, sk)| (k.as_str(), sk))
    }

    /// The trusted key with this id.
    pub fn key(&self, kid: &str) -> Option<&VerifyingKey> {
        self.trusted.iter().find(|(k, _)| k == kid).map(|(_, v)| v)
    }

    /// The trusted keys' ids, the signing key's first when it signs.
    pub fn key_ids(&self) -> Vec<&str> {
        self.trusted.iter().map(|(k, _)| k.as_str()).collect()
    }

    /// The published form of every trusted key.
    pub fn published(&self) -> Vec<String> {
        self.trusted.iter().map(|(k, v)| published(k, v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_generated_key_file_is_private_and_reads_back_with_its_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qr.key");
        let public = generate_key_file("qr-2026a", &path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (kid, sk) = read_key_file(&path).unwrap();
        assert_eq!(kid, "qr-2026a");
        assert_eq!(published(&kid, &sk.verifying_key()), public);
        assert_eq!(parse_published(&public).unwrap().1, sk.verifying_key());
        assert!(
            generate_key_file("qr-2026a", &path).is_err(),
            "never overwrites a key"
        );
    }

    #[test]
    fn a_key_file_others_may_read_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qr.key");
        generate_key_file("k1", &path).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(
                matches!(read_key_file(&path), Err(KeyError::Exposed { .. })),
                "mode {mode:o}"
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(read_key_file(&path).is_ok());
    }

    #[test]
    fn garbled_key_files_and_published_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        for text in [
            "",
            "k1",
            "k1 zz",
            "k1 00 11",
            "bad|kid 0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            assert!(read_key_file(&path).is_err(), "{text:?}");
        }
        assert!(matches!(
            read_key_file(&dir.path().join("missing.key")),
            Err(KeyError::Read { .. })
        ));
        for text in ["", "k1", "k1:", "k1:abcd", ":00", &"k".repeat(40)] {
            assert!(parse_published(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn a_keyring_refuses_one_kid_with_two_keys_and_an_empty_list() {
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        assert_eq!(
            Keyring::new(
                Some(("k1".into(), a.clone())),
                vec![("k1".into(), b.verifying_key())]
            )
            .unwrap_err(),
            KeyError::Duplicate("k1".into())
        );
        assert_eq!(Keyring::new(None, vec![]).unwrap_err(), KeyError::Empty);
        let ring = Keyring::new(
            Some(("k2".into(), b.clone())),
            vec![
                ("k1".into(), a.verifying_key()),
                ("k2".into(), b.verifying_key()),
            ],
        )
        .unwrap();
        assert_eq!(ring.key_ids(), ["k2", "k1"]);
        assert_eq!(
            ring.clone().refuse_keys(&[a.verifying_key()]).unwrap_err(),
            KeyError::DemoKey("k1".into())
        );
    }
}
