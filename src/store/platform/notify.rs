//! Payment notifications from the payment platform: verified by
//! [`NotificationReceiver`](crate::store::payment::NotificationReceiver), then recorded with the
//! payment in one transaction.

use super::{Backend, DecisionNumber, PayRequest, PaymentSource, PaymentView, StorePlatform};
use crate::domain::Fen;
use crate::sql_params;
use crate::store::payment::{NotificationError, NotificationReceiver};
use crate::store::{StoreError, audit};
use jiff::Timestamp;

/// Why a payment notification was not recorded. Nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error(transparent)]
    Notification(#[from] NotificationError),
    #[error("重复的支付通知已拒绝 / A replayed payment notification was refused")]
    Replay,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<B: Backend> StorePlatform<B> {
    /// Verify, then in one transaction: record the nonce (a replay is refused) and the payment.
    pub fn receive_payment_notification(
        &self,
        receiver: &NotificationReceiver,
        body: &[u8],
        signature_hex: &str,
        now: Timestamp,
    ) -> Result<PaymentView, ReceiveError> {
        let n = receiver.verify(body, signature_hex, now)?;
        let mut replay = false;
        let out = self.write(|tx| {
            let inserted = tx.exec(
                "INSERT INTO payment_nonces (nonce, received_at) VALUES (?1, ?2) ON CONFLICT (nonce) DO NOTHING",
                &sql_params![&n.nonce, now.as_second()],
            )?;
            if inserted == 0 {
                replay = true;
                return Err(StoreError::Invalid("replay".into()));
            }
            audit::append(
                tx,
                now.as_second(),
                "payment_notification",
                &format!("decision:{}", n.decision_number),
                &serde_json::json!({"transaction_no": n.transaction_no}),
            )?;
            self.pay_in_tx(
                tx,
                &PayRequest {
                    decision_number: DecisionNumber(n.decision_number.clone()),
                    idempotency_key: n.idempotency_key.clone(),
                    method: n.method.clone(),
                },
                PaymentSource::Notified {
                    transaction_no: &n.transaction_no,
                    amount: Fen(n.amount_fen),
                },
                now,
            )
        });
        match out {
            Err(_) if replay => Err(ReceiveError::Replay),
            Err(e) => Err(ReceiveError::Store(e)),
            Ok(v) => Ok(v),
        }
    }
}
