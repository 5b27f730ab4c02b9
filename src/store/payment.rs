//! Payment behind a trait: money is recorded only on the provider's word.
//!
//! A [`PaymentProvider`] is a QR-payment service: the platform asks it to open an order for the
//! amount the rule core says is due ([`PaymentProvider::create_order`]: the provider's own QR
//! code comes back), asks whether an order is paid ([`PaymentProvider::query`]), verifies the
//! provider's signed asynchronous notification ([`PaymentProvider::verify_notification`]) and
//! refunds money that arrived after the 六.2 revert ([`PaymentProvider::refund`]). Every call is
//! idempotent by the order's number, so a retried call never opens or refunds twice.
//!
//! - [`DemoPaymentProvider`] (demo mode only): an order is paid the first time it is asked
//!   about (the demo's simulated phone pays at once); it verifies no notification.
//! - The real adapter (Alipay 当面付) and its simulator live in `crate::providers::alipay`.
//!
//! This module knows nothing of the platform: the platform uses it, never the other way round.

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use crate::domain::Fen;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("支付未完成：{0} / The payment did not go through: {0}")]
    Declined(String),
}

/// An order to open with the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// Our order number (商户订单号): one per decision, so a retry opens the same order.
    pub out_trade_no: String,
    pub amount: Fen,
    /// What the payer's phone shows (no personal data).
    pub subject: String,
    /// The order closes unpaid at this instant (the payment window's end, 六.2).
    pub expires: Timestamp,
}

/// An order the provider opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedOrder {
    /// The provider's own QR code text, shown on the kiosk as it is.
    pub qr_code: String,
}

/// An order as the platform keeps it, for a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub out_trade_no: String,
    pub amount: Fen,
}

/// What the provider says about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeStatus {
    /// The money is in (Alipay `TRADE_SUCCESS` / `TRADE_FINISHED`).
    Paid { trade_no: String, amount: Fen },
    /// Open, not paid yet (`WAIT_BUYER_PAY`, or not scanned yet).
    Waiting,
    /// Closed unpaid, or fully refunded (`TRADE_CLOSED`).
    Closed,
}

/// A verified notification: the provider says an order's status changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    /// Unique per notification (a retry of the same notification repeats it).
    pub notify_id: String,
    pub out_trade_no: String,
    pub trade_no: String,
    /// Whether the status means the money is in.
    pub paid: bool,
    pub amount: Fen,
}

/// Why a notification was not accepted. Nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("支付通知签名无效 / The payment notification's signature is invalid")]
    BadSignature,
    #[error("支付通知格式错误：{0} / The payment notification is malformed: {0}")]
    Malformed(String),
    #[error("支付通知不属于本商户 / The payment notification is for another merchant")]
    OtherMerchant,
    #[error("该支付方式不接收通知 / This payment provider sends no notifications")]
    NotSupported,
}

/// A QR-payment service.
pub trait PaymentProvider: Send + Sync {
    /// The method recorded with a payment (`alipay`, `demo`).
    fn method(&self) -> &'static str;
    /// Open (or, for the same `out_trade_no` and amount, return again) an order.
    fn create_order(
        &self,
        order: &OrderRequest,
        now: Timestamp,
    ) -> Result<CreatedOrder, ProviderError>;
    /// Ask whether an order is paid.
    fn query(&self, order: &OrderRef, now: Timestamp) -> Result<TradeStatus, ProviderError>;
    /// Refund `amount` of a paid order; `out_request_no` makes a retry the same refund.
    fn refund(
        &self,
        order: &OrderRef,
        out_request_no: &str,
        now: Timestamp,
    ) -> Result<(), ProviderError>;
    /// Verify the provider's signature on a notification's raw body and read it.
    fn verify_notification(&self, body: &[u8]) -> Result<Notified, NotificationError>;
}

/// The demo provider (demo mode only): an order is paid the first time it is asked about.
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoPaymentProvider;

impl DemoPaymentProvider {
    fn trade_no(out_trade_no: &str) -> String {
        let h = Sha256::digest(out_trade_no.as_bytes());
        format!("DEMO{}", hex::encode_upper(&h[..10]))
    }
}

impl PaymentProvider for DemoPaymentProvider {
    fn method(&self) -> &'static str {
        "demo"
    }

    fn create_order(
        &self,
        order: &OrderRequest,
        _now: Timestamp,
    ) -> Result<CreatedOrder, ProviderError> {
        // The demo's QR names the decision (our order number is `KD` + its number).
        let decision = order
            .out_trade_no
            .strip_prefix("KD")
            .unwrap_or(&order.out_trade_no);
        Ok(CreatedOrder {
            qr_code: format!("https://pay.demo.invalid/kiosk?d={decision}"),
        })
    }

    fn query(&self, order: &OrderRef, _now: Timestamp) -> Result<TradeStatus, ProviderError> {
        Ok(TradeStatus::Paid {
            trade_no: Self::trade_no(&order.out_trade_no),
            amount: order.amount,
        })
    }

    fn refund(
        &self,
        _order: &OrderRef,
        _out_request_no: &str,
        _now: Timestamp,
    ) -> Result<(), ProviderError> {
        Ok(())
    }

    fn verify_notification(&self, _body: &[u8]) -> Result<Notified, NotificationError> {
        Err(NotificationError::NotSupported)
    }
}
