//! Alipay 当面付 (face-to-face payment, QR code shown by the merchant): the adapter the platform
//! uses as its [`PaymentProvider`] with `[payment] provider = "alipay"`, and its simulator.
//!
//! The API (Alipay open platform, `gateway.do`, version 1.0, RSA2):
//! - `alipay.trade.precreate` (`out_trade_no`, `total_amount`, `subject`) → `qr_code`;
//! - `alipay.trade.query` (`out_trade_no`) → `trade_status` (`WAIT_BUYER_PAY`, `TRADE_SUCCESS`,
//!   `TRADE_FINISHED`, `TRADE_CLOSED`), `trade_no`, `total_amount`; an order never scanned is
//!   `ACQ.TRADE_NOT_EXIST`;
//! - the asynchronous notification (`notify_type=trade_status_sync`, a form post to
//!   `notify_url`, answered `success`);
//! - `alipay.trade.refund` (`out_trade_no`, `refund_amount`, `out_request_no`) for money that
//!   arrived after the 六.2 revert.
//!
//! The bytes are [`protocol`]'s, shared with the simulator ([`sim`]). Calls are blocking
//! (`ureq`), with a connect timeout of [`CONNECT_TIMEOUT`] and [`CALL_TIMEOUT`] per call; an
//! answer is read up to [`protocol::MAX_BODY_BYTES`] and trusted only when Alipay's signature
//! over it holds and it names the order asked about.

pub mod protocol;
pub mod sim;

use std::time::Duration;

use jiff::Timestamp;

use crate::config::PaymentSection;
use crate::store::payment::{
    CreatedOrder, NotificationError, Notified, OrderRef, OrderRequest, PaymentProvider,
    ProviderError, TradeStatus,
};
use protocol::{ProtocolError, SignKey, VerifyKey};

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The Alipay adapter.
pub struct AlipayProvider {
    gateway: String,
    app_id: String,
    notify_url: String,
    key: SignKey,
    alipay_key: VerifyKey,
    agent: ureq::Agent,
}

impl std::fmt::Debug for AlipayProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayProvider")
            .field("gateway", &self.gateway)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// Why the adapter cannot be built, with the configuration key at fault.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct AlipayConfigError {
    pub key: &'static str,
    pub message: String,
}

fn declined(what: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Declined(format!("支付宝 {what}: {e}"))
}

impl AlipayProvider {
    pub fn new(
        gateway: &str,
        app_id: &str,
        notify_url: &str,
        key: SignKey,
        alipay_key: VerifyKey,
    ) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        AlipayProvider {
            gateway: gateway.to_string(),
            app_id: app_id.to_string(),
            notify_url: notify_url.to_string(),
            key,
            alipay_key,
            agent,
        }
    }

    /// From `[payment]` (keys read from their files).
    pub fn from_section(s: &PaymentSection) -> Result<Self, AlipayConfigError> {
        s.validate()
            .map_err(|(key, message)| AlipayConfigError { key, message })?;
        let err = |key: &'static str| {
            move |e: ProtocolError| AlipayConfigError {
                key,
                message: e.to_string(),
            }
        };
        let key = SignKey::from_file(s.private_key_file.as_deref().unwrap_or("".as_ref()))
            .map_err(err("payment.private_key_file"))?;
        let alipay_key =
            VerifyKey::from_file(s.alipay_public_key_file.as_deref().unwrap_or("".as_ref()))
                .map_err(err("payment.alipay_public_key_file"))?;
        Ok(Self::new(
            &s.gateway,
            &s.app_id,
            &s.notify_url,
            key,
            alipay_key,
        ))
    }

    /// One signed call; the verified response object.
    fn call(
        &self,
        method: &str,
        biz: serde_json::Value,
        now: Timestamp,
    ) -> Result<protocol::Response, ProviderError> {
        let notify = (method == protocol::METHOD_PRECREATE).then_some(self.notify_url.as_str());
        let params = protocol::signed_request(&self.key, &self.app_id, method, notify, &biz, now);
        let body = protocol::encode_form(&params);
        let mut resp = self
            .agent
            .post(format!("{}?charset=utf-8", self.gateway))
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .send(body.as_bytes())
            .map_err(|e| declined(method, e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(protocol::MAX_BODY_BYTES as u64)
            .read_to_vec()
            .map_err(|e| declined(method, e))?;
        if status != 200 {
            return Err(declined(method, format!("HTTP {status}")));
        }
        let r = protocol::read_response(&bytes, method, &self.alipay_key)
            .map_err(|e| declined(method, e))?;
        Ok(r)
    }

    fn check_order(r: &protocol::Response, out_trade_no: &str) -> Result<(), ProviderError> {
        match r.field("out_trade_no") {
            Some(o) if o == out_trade_no => Ok(()),
            _ => Err(declined("answer", "for another order")),
        }
    }
}

fn business_failure(method: &str, r: &protocol::Response) -> ProviderError {
    declined(
        method,
        format!(
            "{} {} {}",
            r.code,
            r.sub_code.as_deref().unwrap_or(""),
            r.sub_msg.as_deref().unwrap_or(&r.msg)
        ),
    )
}

impl PaymentProvider for AlipayProvider {
    fn method(&self) -> &'static str {
        "alipay"
    }

    fn create_order(
        &self,
        order: &OrderRequest,
        now: Timestamp,
    ) -> Result<CreatedOrder, ProviderError> {
        let m = protocol::METHOD_PRECREATE;
        let r = self.call(
            m,
            serde_json::json!({
                "out_trade_no": order.out_trade_no,
                "total_amount": protocol::yuan(order.amount),
                "subject": order.subject,
                "time_expire": protocol::gateway_time(order.expires),
            }),
            now,
        )?;
        if !r.ok() {
            return Err(business_failure(m, &r));
        }
        Self::check_order(&r, &order.out_trade_no)?;
        let qr_code = r
            .field("qr_code")
            .filter(|q| !q.is_empty() && q.len() <= 512)
            .ok_or_else(|| declined(m, "no qr_code"))?;
        Ok(CreatedOrder {
            qr_code: qr_code.to_string(),
        })
    }

    fn query(&self, order: &OrderRef, now: Timestamp) -> Result<TradeStatus, ProviderError> {
        let m = protocol::METHOD_QUERY;
        let r = self.call(
            m,
            serde_json::json!({"out_trade_no": order.out_trade_no}),
            now,
        )?;
        if !r.ok() {
            // Not scanned yet: Alipay knows no trade for the order.
            if r.sub_code.as_deref() == Some(protocol::SUB_TRADE_NOT_EXIST) {
                return Ok(TradeStatus::Waiting);
            }
            return Err(business_failure(m, &r));
        }
        Self::check_order(&r, &order.out_trade_no)?;
        let status = r.field("trade_status").unwrap_or("");
        if protocol::is_paid_status(status) {
            let amount = protocol::parse_yuan(r.field("total_amount").unwrap_or(""))
                .map_err(|e| declined(m, e))?;
            let trade_no = r
                .field("trade_no")
                .filter(|t| !t.is_empty())
                .ok_or_else(|| declined(m, "no trade_no"))?;
            return Ok(TradeStatus::Paid {
                trade_no: trade_no.to_string(),
                amount,
            });
        }
        Ok(match status {
            "TRADE_CLOSED" => TradeStatus::Closed,
            _ => TradeStatus::Waiting,
        })
    }

    fn refund(
        &self,
        order: &OrderRef,
        out_request_no: &str,
        now: Timestamp,
    ) -> Result<(), ProviderError> {
        let m = protocol::METHOD_REFUND;
        let r = self.call(
            m,
            serde_json::json!({
                "out_trade_no": order.out_trade_no,
                "refund_amount": protocol::yuan(order.amount),
                "out_request_no": out_request_no,
                "refund_reason": "缴款期限已过，处理已撤销 / paid after the payment window closed",
            }),
            now,
        )?;
        if !r.ok() {
            return Err(business_failure(m, &r));
        }
        Self::check_order(&r, &order.out_trade_no)
    }

    fn verify_notification(&self, body: &[u8]) -> Result<Notified, NotificationError> {
        let n = protocol::read_notification(body, &self.alipay_key).map_err(|e| match e {
            ProtocolError::BadSignature => NotificationError::BadSignature,
            e => NotificationError::Malformed(e.to_string()),
        })?;
        if n.app_id != self.app_id {
            return Err(NotificationError::OtherMerchant);
        }
        Ok(Notified {
            paid: protocol::is_paid_status(&n.trade_status),
            notify_id: n.notify_id,
            out_trade_no: n.out_trade_no,
            trade_no: n.trade_no,
            amount: n.total_amount,
        })
    }
}
