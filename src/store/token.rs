//! The vehicle QR token (车辆二维码): an owner shows it, another person scans it at the kiosk to
//! file the vehicle (三.2). Text form, fit for a QR code:
//!
//! `CQVQR1.<base64url payload>.<base64url ed25519 signature>`
//!
//! The signature covers `CQVQR1.<payload>`. The payload (JSON) binds the plate, the plate type
//! and the owner (a SHA-256 tag of the owner's ID number, never the number itself), with issue and
//! expiry times and the signing key's id. A tampered, expired or unknown-key token is refused
//! before anything is written.
//!
//! **Keys.** [`QrKeys::demo`] derives a key pair from a fixed, public seed: it is for the demo
//! city only and proves nothing. A production platform loads its signing key from its key store
//! and gives kiosks only the verifying keys.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::domain::IdNumber;

/// The version prefix of the text form.
pub const PREFIX: &str = "CQVQR1";
/// How long an issued token stays valid.
pub const VALIDITY: SignedDuration = SignedDuration::from_mins(10);
/// The id of the demo key.
pub const DEMO_KEY_ID: &str = "demo1";
/// The public, fixed seed of the demo key pair (demo mode only).
const DEMO_SEED_TEXT: &[u8] = b"kiosk demo city vehicle-QR signing key, not a secret";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VehicleQrClaims {
    /// Plate number.
    #[serde(rename = "p")]
    pub plate: String,
    /// Plate type code (号牌种类).
    #[serde(rename = "t")]
    pub plate_type: String,
    /// The owner's tag, see [`owner_tag`].
    #[serde(rename = "o")]
    pub owner: String,
    /// Issued at, Unix seconds.
    #[serde(rename = "i")]
    pub issued_at: i64,
    /// Valid until (exclusive), Unix seconds.
    #[serde(rename = "e")]
    pub expires_at: i64,
    /// The signing key's id.
    #[serde(rename = "k")]
    pub key_id: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("二维码无法识别，请重新扫描 / The QR code is not a vehicle code; scan it again")]
    Malformed,
    #[error(
        "二维码签名无效（可能被篡改） / The QR code's signature is invalid (it may have been altered)"
    )]
    BadSignature,
    #[error("二维码由未知机构签发 / The QR code was signed by an unknown key")]
    UnknownKey,
    #[error(
        "二维码已过期，请车主刷新后重新出示 / The QR code has expired; ask the owner to refresh it"
    )]
    Expired,
    #[error(
        "二维码的签发时间晚于当前时间 / The QR code is issued in the future; check the kiosk clock"
    )]
    NotYetValid,
    #[error("本机没有签发二维码的密钥 / This installation has no key to issue QR codes")]
    NoSigningKey,
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed => "token_malformed",
            TokenError::BadSignature => "token_bad_signature",
            TokenError::UnknownKey => "token_unknown_key",
            TokenError::Expired => "token_expired",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::NoSigningKey => "token_no_signing_key",
        }
    }
}

/// The owner binding: base64url of the first 16 bytes of SHA-256 over a domain tag and the number.
pub fn owner_tag(owner: &IdNumber) -> String {
    let mut h = Sha256::new();
    h.update(b"CQVQR1 owner\0");
    h.update(owner.expose().as_bytes());
    B64.encode(&h.finalize()[..16])
}

/// The signing key (when this installation issues tokens) and the verifying keys it trusts.
pub struct QrKeys {
    signing: Option<(String, SigningKey)>,
    trusted: Vec<(String, VerifyingKey)>,
}

impl std::fmt::Debug for QrKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.trusted.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("QrKeys")
            .field("signing", &self.signing.as_ref().map(|(k, _)| k))
            .field("trusted", &ids)
            .finish()
    }
}

impl QrKeys {
    /// The demo key pair, derived from a fixed public seed (demo mode only; see the module doc).
    pub fn demo() -> Self {
        let seed: [u8; 32] = Sha256::digest(DEMO_SEED_TEXT).into();
        Self::from_seed(DEMO_KEY_ID, seed)
    }

    /// A key pair from a 32-byte secret seed, trusting its own verifying key.
    pub fn from_seed(key_id: &str, seed: [u8; 32]) -> Self {
        let sk = SigningKey::from_bytes(&seed);
        let vk = sk.verifying_key();
        QrKeys {
            signing: Some((key_id.to_string(), sk)),
            trusted: vec![(key_id.to_string(), vk)],
        }
    }

    /// Verification only, trusting these keys.
    pub fn verify_only(trusted: Vec<(String, VerifyingKey)>) -> Self {
        QrKeys {
            signing: None,
            trusted,
        }
    }

    /// Issue a token for `plate`/`plate_type` owned by `owner`, valid for [`VALIDITY`].
    pub fn issue(
        &self,
        plate: &str,
        plate_type: &str,
        owner: &IdNumber,
        now: Timestamp,
    ) -> Result<(String, VehicleQrClaims), TokenError> {
        let (key_id, sk) = self.signing.as_ref().ok_or(TokenError::NoSigningKey)?;
        let claims = VehicleQrClaims {
            plate: plate.to_string(),
            plate_type: plate_type.to_string(),
            owner: owner_tag(owner),
            issued_at: now.as_second(),
            expires_at: (now + VALIDITY).as_second(),
            key_id: key_id.clone(),
        };
        let payload = serde_json::to_vec(&claims).expect("claims serialize");
        let signed = format!("{PREFIX}.{}", B64.encode(payload));
        let sig = sk.sign(signed.as_bytes());
        Ok((format!("{signed}.{}", B64.encode(sig.to_bytes())), claims))
    }

    /// Check a scanned token: form, key, signature, then time. Returns its claims.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VehicleQrClaims, TokenError> {
        let token = token.trim();
        let mut parts = token.split('.');
        let (Some(prefix), Some(payload_b64), Some(sig_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if prefix != PREFIX {
            return Err(TokenError::Malformed);
        }
        let payload = B64.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
        let sig_bytes: [u8; 64] = B64
            .decode(sig_b64)
            .map_err(|_| TokenError::Malformed)?
            .try_into()
            .map_err(|_| TokenError::Malformed)?;
        // The key id is read before the signature is checked only to pick the key; a payload that
        // is not even JSON was altered (or is not ours).
        let claims: VehicleQrClaims =
            serde_json::from_slice(&payload).map_err(|_| TokenError::BadSignature)?;
        let vk = self
            .trusted
            .iter()
            .find(|(id, _)| *id == claims.key_id)
            .map(|(_, vk)| vk)
            .ok_or(TokenError::UnknownKey)?;
        let signed_len = prefix.len() + 1 + payload_b64.len();
        vk.verify(
            &token.as_bytes()[..signed_len],
            &Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| TokenError::BadSignature)?;
        let t = now.as_second();
        if t >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        // A minute of clock skew between the owner's phone and the kiosk is tolerated.
        if claims.issued_at > t + 60 {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> IdNumber {
        IdNumber::parse("50010619851120002X").unwrap()
    }
    fn now() -> Timestamp {
        "2022-10-24T11:00:00+08:00".parse().unwrap()
    }

    #[test]
    fn an_issued_token_verifies_and_carries_plate_type_and_owner() {
        let keys = QrKeys::demo();
        let (tok, claims) = keys.issue("渝A12345", "02", &owner(), now()).unwrap();
        assert!(tok.starts_with("CQVQR1."));
        assert!(!tok.contains("50010619851120002X"));
        let got = keys
            .verify(&tok, now() + SignedDuration::from_mins(9))
            .unwrap();
        assert_eq!(got, claims);
        assert_eq!(got.owner, owner_tag(&owner()));
        // fits comfortably in a QR code (version 10-ish at level M)
        assert!(tok.len() < 300, "{}", tok.len());
    }

    #[test]
    fn refused_tokens_say_why() {
        let keys = QrKeys::demo();
        let (tok, _) = keys.issue("渝A12345", "02", &owner(), now()).unwrap();
        let parts: Vec<&str> = tok.split('.').collect();
        // Payload altered: another plate under the old signature.
        let mut claims: VehicleQrClaims =
            serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        claims.plate = "渝A99999".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(serde_json::to_vec(&claims).unwrap()),
            parts[2]
        );
        let other = QrKeys::from_seed("other", [7u8; 32]);
        let (foreign, _) = other.issue("渝A12345", "02", &owner(), now()).unwrap();
        let mut sig_flip = tok.clone();
        let last = sig_flip.pop().unwrap();
        sig_flip.push(if last == 'A' { 'B' } else { 'A' });
        let table: Vec<(&str, String, Timestamp, TokenError)> = vec![
            ("altered payload", forged, now(), TokenError::BadSignature),
            (
                "altered signature",
                sig_flip,
                now(),
                TokenError::BadSignature,
            ),
            ("unknown key", foreign, now(), TokenError::UnknownKey),
            (
                "expired",
                tok.clone(),
                now() + VALIDITY,
                TokenError::Expired,
            ),
            (
                "issued in the future",
                tok.clone(),
                now() - SignedDuration::from_mins(5),
                TokenError::NotYetValid,
            ),
            ("garbage", "hello".into(), now(), TokenError::Malformed),
            (
                "wrong prefix",
                tok.replacen("CQVQR1", "CQVQR2", 1),
                now(),
                TokenError::Malformed,
            ),
            ("empty", String::new(), now(), TokenError::Malformed),
        ];
        for (what, t, at, want) in table {
            assert_eq!(keys.verify(&t, at), Err(want.clone()), "{what}");
        }
        // A key trusted by verifier-only installations works the same.
        let verifier = QrKeys::verify_only(vec![(
            DEMO_KEY_ID.into(),
            SigningKey::from_bytes(&Sha256::digest(DEMO_SEED_TEXT).into()).verifying_key(),
        )]);
        assert!(verifier.verify(&tok, now()).is_ok());
        assert_eq!(
            verifier
                .issue("渝A12345", "02", &owner(), now())
                .unwrap_err(),
            TokenError::NoSigningKey
        );
    }
}

/// Property tests of the scanned-token parser: whatever a scanner hands over, `verify` answers
/// with an error (never a panic), and no change to a valid token's text is accepted.
#[cfg(test)]
mod scanned_token_properties {
    use super::*;
    use proptest::prelude::*;

    fn now() -> Timestamp {
        "2026-11-25T10:00:00+08:00".parse().unwrap()
    }

    fn valid() -> String {
        let owner = IdNumber::parse("500107198209150056").unwrap();
        QrKeys::demo()
            .issue("渝A6R2T8", "02", &owner, now())
            .unwrap()
            .0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn arbitrary_text_is_refused_without_panicking(s in ".{0,300}") {
            prop_assert!(QrKeys::demo().verify(&s, now()).is_err());
        }

        #[test]
        fn arbitrary_bytes_as_lossy_text_are_refused(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let s = String::from_utf8_lossy(&b);
            prop_assert!(QrKeys::demo().verify(&s, now()).is_err());
        }

        #[test]
        fn any_single_character_change_is_refused(i in 0usize..400, c in proptest::char::range('!', '~')) {
            let token = valid();
            let mut chars: Vec<char> = token.chars().collect();
            let i = i % chars.len();
            prop_assume!(chars[i] != c);
            chars[i] = c;
            let altered: String = chars.into_iter().collect();
            prop_assert!(QrKeys::demo().verify(&altered, now()).is_err(), "accepted {altered}");
        }
    }

    #[test]
    fn the_valid_token_itself_verifies() {
        assert!(QrKeys::demo().verify(&valid(), now()).is_ok());
    }
}
