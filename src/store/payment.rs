//! Payment behind traits.
//!
//! - [`PaymentProvider`] charges an amount for a decision. [`DemoPaymentProvider`] approves at
//!   once with a transaction number derived from the idempotency key (so a retried payment gets
//!   the same number).
//! - The production shape is a payment platform that calls back: [`NotificationReceiver`] checks
//!   the notification's HMAC-SHA256 signature over the raw body and its timestamp window. The
//!   platform records it (`SqlitePlatform::receive_payment_notification`, which refuses a
//!   replayed nonce in the same transaction as the payment).
//!
//! This module knows nothing of the platform: the platform uses it, never the other way round.

use hmac::{Hmac, KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::{Digest, Sha256};

use crate::domain::Fen;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("支付未完成：{0} / The payment did not go through: {0}")]
    Declined(String),
}

/// Charges money for a decision.
pub trait PaymentProvider: Send + Sync {
    /// Charge `amount` for `decision_number`; returns the provider's transaction number. Called
    /// inside the payment's transaction; the same idempotency key must give the same result.
    fn charge(
        &self,
        decision_number: &str,
        idempotency_key: &str,
        amount: Fen,
    ) -> Result<String, ProviderError>;
}

/// The demo provider: every charge succeeds at once.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoPaymentProvider;

impl PaymentProvider for DemoPaymentProvider {
    fn charge(
        &self,
        _decision_number: &str,
        idempotency_key: &str,
        _amount: Fen,
    ) -> Result<String, ProviderError> {
        let h = Sha256::digest(idempotency_key.as_bytes());
        Ok(format!("DEMO{}", hex::encode_upper(&h[..10])))
    }
}

/// A payment notification as the payment platform sends it (JSON body).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentNotification {
    pub decision_number: String,
    pub idempotency_key: String,
    pub transaction_no: String,
    pub amount_fen: i64,
    pub method: String,
    /// Unix seconds when the platform sent it.
    pub timestamp: i64,
    /// Unique per notification.
    pub nonce: String,
}

/// Why a notification fails verification.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error("支付通知签名无效 / The payment notification's signature is invalid")]
    BadSignature,
    #[error("支付通知格式错误 / The payment notification is malformed: {0}")]
    Malformed(String),
    #[error(
        "支付通知时间超出允许范围 / The payment notification's time is outside the allowed window"
    )]
    Stale,
}

type HmacSha256 = Hmac<Sha256>;

/// Receives payment notifications for one shared secret.
pub struct NotificationReceiver {
    secret: Vec<u8>,
    window: SignedDuration,
}

impl std::fmt::Debug for NotificationReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationReceiver")
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// The default tolerance between the sender's and the kiosk's clocks.
pub const DEFAULT_WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// The hex HMAC-SHA256 of `body` under `secret` (what the sender puts in its signature header).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl NotificationReceiver {
    pub fn new(secret: &[u8], window: SignedDuration) -> Self {
        NotificationReceiver {
            secret: secret.to_vec(),
            window,
        }
    }

    /// Check signature and time; parse. Writes nothing.
    pub fn verify(
        &self,
        body: &[u8],
        signature_hex: &str,
        now: Timestamp,
    ) -> Result<PaymentNotification, NotificationError> {
        let sig = hex::decode(signature_hex.trim()).map_err(|_| NotificationError::BadSignature)?;
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(body);
        mac.verify_slice(&sig)
            .map_err(|_| NotificationError::BadSignature)?;
        let n: PaymentNotification = serde_json::from_slice(body)
            .map_err(|e| NotificationError::Malformed(e.to_string()))?;
        let skew = (now.as_second() - n.timestamp).abs();
        if skew > self.window.as_secs() {
            return Err(NotificationError::Stale);
        }
        if n.nonce.is_empty() || n.nonce.len() > 128 {
            return Err(NotificationError::Malformed("nonce".into()));
        }
        Ok(n)
    }
}
