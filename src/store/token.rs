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
//! **Keys.** [`QrKeys::demo`] derives its key pairs from fixed, public seeds: it is for the demo
//! city only and proves nothing. A production platform (`[qr] provider = "keyfile"`) loads its
//! signing keys from key files ([`crate::store::keyring`]) and trusts the published keys listed
//! in its configuration; a kiosk verifies with the published keys only, and any demo key is
//! refused outside demo mode. A token is valid for at most [`VALIDITY`] whatever it claims.
//!
//! The same keys seal the receipts' verification codes ([`QrKeys::seal_receipt`], a keyring of
//! its own with its own key ids).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use super::keyring::{KeyError, Keyring};
use crate::domain::IdNumber;
use crate::domain::receipt_code::{ReceiptCode, ReceiptCodeError, ReceiptSeal};

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
    #[error(
        "二维码声明的有效期超过10分钟，不予受理 / The QR code claims a validity longer than 10 minutes; it is refused"
    )]
    ValidityTooLong,
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
            TokenError::ValidityTooLong => "token_validity_too_long",
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

/// The receipt key's id in demo mode.
pub const DEMO_RECEIPT_KEY_ID: &str = "demo-r1";
/// The public, fixed seed of the demo receipt key (demo mode only).
const DEMO_RECEIPT_SEED_TEXT: &[u8] = b"kiosk demo city receipt-seal key, not a secret";

/// The longest token text a verifier reads (a token is about 250 bytes).
pub const MAX_TOKEN_BYTES: usize = 1024;
/// How far in the future a token's `issued_at` may be (the owner's phone's clock against the
/// kiosk's).
pub const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(60);

fn demo_vehicle_key() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(DEMO_SEED_TEXT).into())
}

fn demo_receipt_key() -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(DEMO_RECEIPT_SEED_TEXT).into())
}

/// The demo public keys (vehicle QR and receipt): refused by every non-demo keyring.
pub fn demo_public_keys() -> [VerifyingKey; 2] {
    [
        demo_vehicle_key().verifying_key(),
        demo_receipt_key().verifying_key(),
    ]
}

/// Why a receipt code is not certified genuine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptCheckError {
    /// Not a receipt code at all (or a malformed one): unreadable.
    #[error("无法识别的凭证二维码 / Not a readable receipt code: {0}")]
    Unreadable(#[from] ReceiptCodeError),
    /// A well-formed code without the platform's seal (form /1): anyone can print it.
    #[error("凭证二维码没有平台签章 / The receipt code carries no platform seal")]
    Unsealed,
    /// Sealed by a key this verifier does not trust (never published, or rotated out).
    #[error("凭证由未知密钥“{0}”签章 / The receipt was sealed by an unknown key “{0}”")]
    UnknownKey(String),
    /// The signature does not match the code: altered, or forged.
    #[error("凭证签章无效（可能被伪造或篡改） / The receipt's seal is invalid (forged or altered)")]
    BadSignature,
}

impl ReceiptCheckError {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptCheckError::Unreadable(_) => "receipt_unreadable",
            ReceiptCheckError::Unsealed => "receipt_unsealed",
            ReceiptCheckError::UnknownKey(_) => "receipt_unknown_key",
            ReceiptCheckError::BadSignature => "receipt_bad_signature",
        }
    }
}

/// The platform's keys: the vehicle-QR keyring (issue and verify tokens) and the receipt
/// keyring (seal and verify receipt codes), each one active signing key (on the platform) and the
/// published keys that still verify. Only [`QrKeys::demo`] holds keys from a public seed.
#[derive(Clone)]
pub struct QrKeys {
    vehicle: Keyring,
    receipt: Keyring,
    demo: bool,
}

impl std::fmt::Debug for QrKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QrKeys")
            .field("demo", &self.demo)
            .field("vehicle", &self.vehicle)
            .field("receipt", &self.receipt)
            .finish()
    }
}

impl QrKeys {
    /// The demo key pairs, derived from fixed public seeds (demo mode only; see the module doc).
    pub fn demo() -> Self {
        let ring = |kid: &str, sk: SigningKey| {
            Keyring::new(Some((kid.to_string(), sk)), vec![]).expect("the demo keyring")
        };
        QrKeys {
            vehicle: ring(DEMO_KEY_ID, demo_vehicle_key()),
            receipt: ring(DEMO_RECEIPT_KEY_ID, demo_receipt_key()),
            demo: true,
        }
    }

    /// Production keys (`[qr] provider = "keyfile"`): any demo key among them is refused, so a
    /// token or receipt made with the public demo seeds never verifies.
    pub fn from_keyrings(vehicle: Keyring, receipt: Keyring) -> Result<Self, KeyError> {
        let demo = demo_public_keys();
        Ok(QrKeys {
            vehicle: vehicle.refuse_keys(&demo)?,
            receipt: receipt.refuse_keys(&demo)?,
            demo: false,
        })
    }

    /// A key pair from a 32-byte secret seed for vehicle tokens (its receipt key derived from the
    /// same seed), trusting its own verifying keys (tests).
    pub fn from_seed(key_id: &str, seed: [u8; 32]) -> Self {
        let receipt_seed: [u8; 32] = Sha256::new()
            .chain_update(b"receipt key of\0")
            .chain_update(seed)
            .finalize()
            .into();
        QrKeys {
            vehicle: Keyring::new(
                Some((key_id.to_string(), SigningKey::from_bytes(&seed))),
                vec![],
            )
            .expect("a keyring of one key"),
            receipt: Keyring::new(
                Some((format!("{key_id}-r"), SigningKey::from_bytes(&receipt_seed))),
                vec![],
            )
            .expect("a keyring of one key"),
            demo: false,
        }
    }

    /// Verification of vehicle tokens only, trusting these keys (no receipt keys).
    pub fn verify_only(trusted: Vec<(String, VerifyingKey)>) -> Result<Self, KeyError> {
        QrKeys::from_keyrings(Keyring::new(None, trusted)?, Keyring::empty())
    }

    /// True for the demo keys.
    pub fn is_demo(&self) -> bool {
        self.demo
    }

    pub fn vehicle_keys(&self) -> &Keyring {
        &self.vehicle
    }

    pub fn receipt_keys(&self) -> &Keyring {
        &self.receipt
    }

    /// Issue a token for `plate`/`plate_type` owned by `owner`, valid for [`VALIDITY`].
    pub fn issue(
        &self,
        plate: &str,
        plate_type: &str,
        owner: &IdNumber,
        now: Timestamp,
    ) -> Result<(String, VehicleQrClaims), TokenError> {
        let (key_id, sk) = self.vehicle.signing().ok_or(TokenError::NoSigningKey)?;
        let claims = VehicleQrClaims {
            plate: plate.to_string(),
            plate_type: plate_type.to_string(),
            owner: owner_tag(owner),
            issued_at: now.as_second(),
            expires_at: (now + VALIDITY).as_second(),
            key_id: key_id.to_string(),
        };
        Ok((sign_claims(&claims, sk), claims))
    }

    /// Check a scanned token: size and form, key, signature, then time. Returns its claims.
    ///
    /// Whatever the token claims, it is valid for at most [`VALIDITY`] from its `issued_at`
    /// (`expires_at - issued_at <= VALIDITY`, `now < issued_at + VALIDITY`, `now < expires_at`),
    /// and `issued_at` may be at most [`CLOCK_SKEW`] ahead of `now`.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VehicleQrClaims, TokenError> {
        let token = token.trim();
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed);
        }
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
            .vehicle
            .key(&claims.key_id)
            .ok_or(TokenError::UnknownKey)?;
        let signed_len = prefix.len() + 1 + payload_b64.len();
        vk.verify_strict(
            &token.as_bytes()[..signed_len],
            &Signature::from_bytes(&sig_bytes),
        )
        .map_err(|_| TokenError::BadSignature)?;
        check_validity(&claims, now)?;
        Ok(claims)
    }

    /// Seal a receipt code with the active receipt key: the same code with its [`ReceiptSeal`].
    pub fn seal_receipt(&self, code: &ReceiptCode) -> Result<ReceiptCode, TokenError> {
        let (key_id, sk) = self.receipt.signing().ok_or(TokenError::NoSigningKey)?;
        let sig = sk.sign(code.signed_message(key_id).as_bytes());
        Ok(ReceiptCode {
            seal: Some(ReceiptSeal {
                key_id: key_id.to_string(),
                signature: B64.encode(sig.to_bytes()),
            }),
            ..code.clone()
        })
    }

    /// Check a scanned receipt code (what its QR holds): genuine when sealed by a trusted receipt
    /// key and unaltered. Returns the code (what it certifies).
    pub fn verify_receipt(&self, text: &str) -> Result<ReceiptCode, ReceiptCheckError> {
        let code = ReceiptCode::parse(text.trim())?;
        let seal = code.seal.as_ref().ok_or(ReceiptCheckError::Unsealed)?;
        let vk = self
            .receipt
            .key(&seal.key_id)
            .ok_or_else(|| ReceiptCheckError::UnknownKey(seal.key_id.clone()))?;
        let sig: [u8; 64] = B64
            .decode(&seal.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(ReceiptCheckError::BadSignature)?;
        vk.verify_strict(
            code.signed_message(&seal.key_id).as_bytes(),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| ReceiptCheckError::BadSignature)?;
        Ok(code)
    }
}

/// `CQVQR1.<payload>.<signature>` of these claims under `sk` (whatever they claim: tests forge
/// with it).
pub fn sign_claims(claims: &VehicleQrClaims, sk: &SigningKey) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let signed = format!("{PREFIX}.{}", B64.encode(payload));
    let sig = sk.sign(signed.as_bytes());
    format!("{signed}.{}", B64.encode(sig.to_bytes()))
}

/// The time checks of a token whose signature holds.
fn check_validity(claims: &VehicleQrClaims, now: Timestamp) -> Result<(), TokenError> {
    let t = now.as_second();
    let limit = VALIDITY.as_secs();
    // Claims of a validity longer than VALIDITY (or negative) are refused whatever they say.
    let span = claims.expires_at.checked_sub(claims.issued_at);
    if !matches!(span, Some(s) if (0..=limit).contains(&s)) {
        return Err(TokenError::ValidityTooLong);
    }
    if claims.issued_at > t.saturating_add(CLOCK_SKEW.as_secs()) {
        return Err(TokenError::NotYetValid);
    }
    if t >= claims.expires_at || t >= claims.issued_at.saturating_add(limit) {
        return Err(TokenError::Expired);
    }
    Ok(())
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
        let (tok, _) = other.issue("渝A12345", "02", &owner(), now()).unwrap();
        let verifier = QrKeys::verify_only(vec![(
            "other".into(),
            SigningKey::from_bytes(&[7u8; 32]).verifying_key(),
        )])
        .unwrap();
        assert!(verifier.verify(&tok, now()).is_ok());
        assert_eq!(
            verifier
                .issue("渝A12345", "02", &owner(), now())
                .unwrap_err(),
            TokenError::NoSigningKey
        );
    }

    /// A production keyring: signs with `active`, trusts `published` besides.
    fn production(active: (&str, u8), published: &[(&str, u8)]) -> QrKeys {
        let key = |b: u8| SigningKey::from_bytes(&[b; 32]);
        let vehicle = Keyring::new(
            Some((active.0.to_string(), key(active.1))),
            published
                .iter()
                .map(|(k, b)| (k.to_string(), key(*b).verifying_key()))
                .collect(),
        )
        .unwrap();
        let receipt = Keyring::new(Some(("r1".into(), key(99))), vec![]).unwrap();
        QrKeys::from_keyrings(vehicle, receipt).unwrap()
    }

    #[test]
    fn a_token_forged_with_the_demo_seed_is_refused_by_a_keyfile_verifier() {
        let keys = production(("qr-2026a", 11), &[]);
        // Byte for byte what the old demo platform issued: the public seed's key, its key id.
        let (forged, _) = QrKeys::demo()
            .issue("渝A12345", "02", &owner(), now())
            .unwrap();
        assert_eq!(keys.verify(&forged, now()), Err(TokenError::UnknownKey));
        // Even under a key id the verifier trusts, the demo key's signature does not verify.
        let mut claims: VehicleQrClaims =
            serde_json::from_slice(&B64.decode(forged.split('.').nth(1).unwrap()).unwrap())
                .unwrap();
        claims.key_id = "qr-2026a".into();
        let relabelled = sign_claims(&claims, &demo_vehicle_key());
        assert_eq!(
            keys.verify(&relabelled, now()),
            Err(TokenError::BadSignature)
        );
        // And the demo key cannot be published as a production key.
        let demo_listed = Keyring::new(
            None,
            vec![(DEMO_KEY_ID.into(), demo_vehicle_key().verifying_key())],
        )
        .unwrap();
        assert!(matches!(
            QrKeys::from_keyrings(demo_listed, Keyring::empty()),
            Err(KeyError::DemoKey(_))
        ));
    }

    #[test]
    fn a_token_claiming_100_years_is_refused() {
        let keys = production(("qr-2026a", 11), &[]);
        let sk = SigningKey::from_bytes(&[11; 32]);
        let (_, honest) = keys.issue("渝A12345", "02", &owner(), now()).unwrap();
        let century = VehicleQrClaims {
            expires_at: honest.issued_at + 100 * 365 * 24 * 3600,
            ..honest.clone()
        };
        let tok = sign_claims(&century, &sk);
        // Refused at once, and a year later.
        for at in [now(), now() + SignedDuration::from_hours(24 * 365)] {
            assert_eq!(keys.verify(&tok, at), Err(TokenError::ValidityTooLong));
        }
        // 10 minutes and one second: refused; expiry before issue: refused.
        let long = VehicleQrClaims {
            expires_at: honest.issued_at + 601,
            ..honest.clone()
        };
        let backwards = VehicleQrClaims {
            expires_at: honest.issued_at - 1,
            ..honest.clone()
        };
        let overflow = VehicleQrClaims {
            issued_at: i64::MIN,
            expires_at: i64::MAX,
            ..honest.clone()
        };
        for c in [long, backwards, overflow] {
            assert_eq!(
                keys.verify(&sign_claims(&c, &sk), now()),
                Err(TokenError::ValidityTooLong),
                "{c:?}"
            );
        }
        // Exactly 10 minutes: valid until issued_at + 10 min, not a second longer.
        let tok = sign_claims(&honest, &sk);
        assert!(
            keys.verify(&tok, now() + SignedDuration::from_secs(599))
                .is_ok()
        );
        assert_eq!(
            keys.verify(&tok, now() + SignedDuration::from_secs(600)),
            Err(TokenError::Expired)
        );
        // Issued a minute ahead of the kiosk clock: tolerated; 61 s: refused.
        assert!(
            keys.verify(&tok, now() - SignedDuration::from_secs(60))
                .is_ok()
        );
        assert_eq!(
            keys.verify(&tok, now() - SignedDuration::from_secs(61)),
            Err(TokenError::NotYetValid)
        );
    }

    #[test]
    fn a_rotated_out_key_is_refused_and_the_previous_listed_key_still_verifies() {
        // Before the rotation: 2026a signs.
        let before = production(("qr-2026a", 11), &[]);
        let (old_tok, _) = before.issue("渝A12345", "02", &owner(), now()).unwrap();
        // Rotated: 2026b signs, 2026a is still listed: old tokens verify until they expire.
        let during = production(("qr-2026b", 12), &[("qr-2026a", 11)]);
        assert!(during.verify(&old_tok, now()).is_ok());
        let (new_tok, claims) = during.issue("渝A12345", "02", &owner(), now()).unwrap();
        assert_eq!(claims.key_id, "qr-2026b");
        assert!(during.verify(&new_tok, now()).is_ok());
        // 2026a removed: its tokens are refused.
        let after = production(("qr-2026b", 12), &[]);
        assert_eq!(after.verify(&old_tok, now()), Err(TokenError::UnknownKey));
        assert!(after.verify(&new_tok, now()).is_ok());
    }

    #[test]
    fn an_oversized_token_is_refused_before_it_is_decoded() {
        let keys = QrKeys::demo();
        let (tok, _) = keys.issue("渝A12345", "02", &owner(), now()).unwrap();
        let padded = format!("{tok}{}", "A".repeat(MAX_TOKEN_BYTES));
        assert_eq!(keys.verify(&padded, now()), Err(TokenError::Malformed));
    }

    fn receipt_code() -> ReceiptCode {
        ReceiptCode::parse("CQKIOSK-RCPT/1|P|CQ-0001|5001061100123456|20000|20261125093000")
            .unwrap()
    }

    #[test]
    fn a_sealed_receipt_is_genuine_and_any_change_or_other_key_is_not() {
        let keys = production(("qr-2026a", 11), &[]);
        let sealed = keys.seal_receipt(&receipt_code()).unwrap();
        let text = sealed.encode();
        assert!(text.starts_with("CQKIOSK-RCPT/2|P|CQ-0001|"), "{text}");
        assert_eq!(keys.verify_receipt(&text).unwrap(), sealed);
        // Another amount under the same seal.
        let altered = text.replacen("|20000|", "|2000|", 1);
        assert_eq!(
            keys.verify_receipt(&altered),
            Err(ReceiptCheckError::BadSignature)
        );
        // Sealed with the demo receipt key: not trusted by a production verifier.
        let demo = QrKeys::demo()
            .seal_receipt(&receipt_code())
            .unwrap()
            .encode();
        assert_eq!(
            keys.verify_receipt(&demo),
            Err(ReceiptCheckError::UnknownKey(DEMO_RECEIPT_KEY_ID.into()))
        );
        // The demo key relabelled with the production key id.
        let relabelled = demo.replacen(DEMO_RECEIPT_KEY_ID, "r1", 1);
        assert_eq!(
            keys.verify_receipt(&relabelled),
            Err(ReceiptCheckError::BadSignature)
        );
        // A vehicle key cannot seal a receipt (its own keyring).
        let vehicle_sig = {
            let sk = SigningKey::from_bytes(&[11; 32]);
            let msg = receipt_code().signed_message("qr-2026a");
            format!("{msg}|{}", B64.encode(sk.sign(msg.as_bytes()).to_bytes()))
        };
        assert_eq!(
            keys.verify_receipt(&vehicle_sig),
            Err(ReceiptCheckError::UnknownKey("qr-2026a".into()))
        );
        assert_eq!(
            keys.verify_receipt(&receipt_code().encode()),
            Err(ReceiptCheckError::Unsealed)
        );
        assert!(matches!(
            keys.verify_receipt("hello"),
            Err(ReceiptCheckError::Unreadable(_))
        ));
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

    fn sealed_receipt() -> String {
        let code = ReceiptCode::parse(
            "CQKIOSK-RCPT/1|P|CQ-0001|5001061100123456+5001061100123457|35000|20261125093000",
        )
        .unwrap();
        QrKeys::demo().seal_receipt(&code).unwrap().encode()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_single_character_change_to_a_sealed_receipt_is_not_genuine(i in 0usize..400, c in proptest::char::range('!', '~')) {
            let text = sealed_receipt();
            let mut chars: Vec<char> = text.chars().collect();
            let i = i % chars.len();
            prop_assume!(chars[i] != c);
            chars[i] = c;
            let altered: String = chars.into_iter().collect();
            prop_assert!(QrKeys::demo().verify_receipt(&altered).is_err(), "accepted {altered}");
        }

        #[test]
        fn arbitrary_text_is_no_genuine_receipt(s in ".{0,300}") {
            prop_assert!(QrKeys::demo().verify_receipt(&s).is_err());
        }
    }

    #[test]
    fn the_sealed_receipt_itself_is_genuine() {
        assert!(QrKeys::demo().verify_receipt(&sealed_receipt()).is_ok());
    }

    #[test]
    fn the_valid_token_itself_verifies() {
        assert!(QrKeys::demo().verify(&valid(), now()).is_ok());
    }
}
