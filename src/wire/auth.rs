//! The kiosk's identity on the wire: every kiosk has its own ed25519 key; each request carries
//!
//! - `X-Kiosk-Id`: the kiosk's id (as the server's `--kiosks` file lists it),
//! - `X-Kiosk-Time`: Unix seconds (the server accepts ±[`MAX_SKEW_SECS`]),
//! - `X-Kiosk-Signature`: hex of the ed25519 signature over [`signing_message`] — the kiosk id,
//!   method, path, time, idempotency key (empty for a look-up) and SHA-256 of the body,
//! - `Idempotency-Key` on every write.
//!
//! No shared secret: the server holds public keys only. A built-in demo identity (its key derived
//! from a public seed, [`KioskIdentity::demo`]) is what a client uses when none is configured; a
//! server accepts it only when started with `--demo`.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

pub const HEADER_KIOSK_ID: &str = "x-kiosk-id";
pub const HEADER_TIME: &str = "x-kiosk-time";
pub const HEADER_SIGNATURE: &str = "x-kiosk-signature";
pub const HEADER_IDEMPOTENCY_KEY: &str = "idempotency-key";

/// How far a request's time may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The demo kiosk's id. Its key is public: a server accepts it only with `--demo`.
pub const DEMO_KIOSK_ID: &str = "demo-kiosk";
const DEMO_SEED_TEXT: &[u8] = b"kiosk demo identity v1 (public seed: demo servers only)";

/// Why an identity could not be read or a request not authenticated (every one a 401 at the
/// server, with its sentence).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("请求缺少{0}头 / The request has no {0} header")]
    MissingHeader(&'static str),
    #[error("{0}头无效 / The {0} header is not valid")]
    BadHeader(&'static str),
    #[error("未登记的自助机“{0}” / Unknown kiosk “{0}”: it is not in the server's kiosk list")]
    UnknownKiosk(String),
    #[error(
        "演示身份只被演示服务器（kiosk serve --demo）接受 / The demo identity is accepted only by a demo server (kiosk serve --demo)"
    )]
    DemoRefused,
    #[error(
        "自助机时钟与服务器相差{skew}秒（允许±300秒），请校准时钟 / The kiosk's clock is {skew} s off the server's (±300 s accepted); set the clock"
    )]
    StaleTime { skew: i64 },
    #[error("签名无效 / The request's signature is not valid for this kiosk")]
    BadSignature,
    #[error("cannot read the kiosk key file {path}: {detail}")]
    KeyFile { path: String, detail: String },
    #[error("cannot write the kiosk key file {path}: {source}")]
    WriteKey {
        path: String,
        source: std::io::Error,
    },
    #[error("public key “{0}”: 64 hex digits of an ed25519 public key expected")]
    BadPublicKey(String),
}

/// What the signature covers, one field a line.
pub fn signing_message(
    kiosk_id: &str,
    method: &str,
    path: &str,
    time: i64,
    idempotency_key: &str,
    body: &[u8],
) -> Vec<u8> {
    format!(
        "kiosk-request-v1\n{kiosk_id}\n{method}\n{path}\n{time}\n{idempotency_key}\n{}",
        hex::encode(Sha256::digest(body))
    )
    .into_bytes()
}

/// A kiosk's id and private key.
#[derive(Clone)]
pub struct KioskIdentity {
    pub kiosk_id: String,
    key: SigningKey,
}

impl std::fmt::Debug for KioskIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KioskIdentity")
            .field("kiosk_id", &self.kiosk_id)
            .field("public_key", &self.public_key_hex())
            .finish()
    }
}

impl KioskIdentity {
    /// The built-in demo identity (a public key: only a `--demo` server accepts it).
    pub fn demo() -> Self {
        KioskIdentity {
            kiosk_id: DEMO_KIOSK_ID.to_string(),
            key: demo_signing_key(),
        }
    }

    pub fn new(kiosk_id: impl Into<String>, key: SigningKey) -> Self {
        KioskIdentity {
            kiosk_id: kiosk_id.into(),
            key,
        }
    }

    /// Read a key file written by `kiosk keygen` (64 hex digits of the private seed); refused
    /// when its mode lets group or others at it (as the platform's key files are).
    pub fn from_key_file(kiosk_id: impl Into<String>, path: &Path) -> Result<Self, AuthError> {
        use std::io::Read as _;
        use std::os::unix::fs::PermissionsExt as _;
        let err = |detail: String| AuthError::KeyFile {
            path: path.display().to_string(),
            detail,
        };
        let file = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
        let mode = file
            .metadata()
            .map_err(|e| err(e.to_string()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "mode {mode:o} lets its group or others read it; `chmod 600 {}`",
                path.display()
            )));
        }
        let mut text = String::new();
        file.take(1024)
            .read_to_string(&mut text)
            .map_err(|e| err(e.to_string()))?;
        let seed: [u8; 32] = hex::decode(text.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| err("64 hex digits of an ed25519 private key expected".into()))?;
        Ok(KioskIdentity::new(kiosk_id, SigningKey::from_bytes(&seed)))
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// The `X-Kiosk-Signature` of a request.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        time: i64,
        idempotency_key: &str,
        body: &[u8],
    ) -> String {
        let msg = signing_message(&self.kiosk_id, method, path, time, idempotency_key, body);
        hex::encode(self.key.sign(&msg).to_bytes())
    }
}

fn demo_signing_key() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(DEMO_SEED_TEXT).into())
}

/// The demo identity's public key.
pub fn demo_public_key() -> VerifyingKey {
    demo_signing_key().verifying_key()
}

/// A public key from 64 hex digits.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, AuthError> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| AuthError::BadPublicKey(text.to_string()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| AuthError::BadPublicKey(text.to_string()))
}

/// Check a request's time and signature against the kiosk's public key.
#[allow(clippy::too_many_arguments)]
pub fn verify(
    key: &VerifyingKey,
    kiosk_id: &str,
    method: &str,
    path: &str,
    time: i64,
    idempotency_key: &str,
    body: &[u8],
    signature_hex: &str,
    server_now: i64,
) -> Result<(), AuthError> {
    let skew = time.saturating_sub(server_now);
    if skew.abs() > MAX_SKEW_SECS {
        return Err(AuthError::StaleTime { skew });
    }
    let sig: [u8; 64] = hex::decode(signature_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(AuthError::BadSignature)?;
    let msg = signing_message(kiosk_id, method, path, time, idempotency_key, body);
    key.verify(&msg, &Signature::from_bytes(&sig))
        .map_err(|_| AuthError::BadSignature)
}

/// Make a new private key, write it to `out` (mode 0600, never over an existing file) and
/// return its public key as hex.
pub fn generate_key_file(out: &Path) -> Result<String, AuthError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let seed: [u8; 32] = super::random_bytes(32).try_into().expect("32 random bytes");
    let key = SigningKey::from_bytes(&seed);
    let werr = |source| AuthError::WriteKey {
        path: out.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(werr)?;
    f.write_all(format!("{}\n", hex::encode(seed)).as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(werr)?;
    Ok(hex::encode(key.verifying_key().to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let id = KioskIdentity::demo();
        let sig = id.sign("POST", "/v1/pay", 1000, "k1", b"{}");
        let key = demo_public_key();
        let ok = |m: &str, p: &str, t: i64, k: &str, b: &[u8], now: i64| {
            verify(&key, DEMO_KIOSK_ID, m, p, t, k, b, &sig, now)
        };
        ok("POST", "/v1/pay", 1000, "k1", b"{}", 1000).unwrap();
        ok("POST", "/v1/pay", 1000, "k1", b"{}", 1300).unwrap();
        assert!(matches!(
            ok("POST", "/v1/pay", 1000, "k1", b"{}", 1301),
            Err(AuthError::StaleTime { skew: -301 })
        ));
        for bad in [
            ok("POST", "/v1/handle", 1000, "k1", b"{}", 1000),
            ok("POST", "/v1/pay", 1001, "k1", b"{}", 1000),
            ok("POST", "/v1/pay", 1000, "k2", b"{}", 1000),
            ok("POST", "/v1/pay", 1000, "k1", b"{ }", 1000),
            verify(
                &key, "other", "POST", "/v1/pay", 1000, "k1", b"{}", &sig, 1000,
            ),
        ] {
            assert!(matches!(bad, Err(AuthError::BadSignature)), "{bad:?}");
        }
    }

    #[test]
    fn a_key_file_is_private_and_reads_back() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiosk.key");
        let public = generate_key_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let id = KioskIdentity::from_key_file("CQ-1", &path).unwrap();
        assert_eq!(id.public_key_hex(), public);
        assert_eq!(parse_public_key(&public).unwrap().to_bytes().len(), 32);
        assert!(generate_key_file(&path).is_err(), "never overwrites a key");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = KioskIdentity::from_key_file("CQ-1", &path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert_ne!(public, KioskIdentity::demo().public_key_hex());
    }
}
