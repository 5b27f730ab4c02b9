//! Receipt seals: the platform signs the verification code of a payment receipt with its receipt
//! key (`[qr] receipt_key_file`), from its own record of the payments, so a receipt's QR proves
//! what the platform recorded (`kiosk platform verify-receipt`).

use jiff::Timestamp;

use super::{Backend, SealRequest, SealedReceipt, StorePlatform};
use crate::domain::Fen;
use crate::domain::receipt_code::{ReceiptCode, ReceiptKind};
use crate::rules::maintenance::local_time;
use crate::sql_params;
use crate::store::StoreError;

/// The most decisions one payment receipt names (what its verification code can name).
pub const MAX_SEALED_DECISIONS: usize = crate::domain::receipt_code::MAX_NUMBERS;

impl<B: Backend> StorePlatform<B> {
    /// Seal the payment receipt of `req`'s decisions: every one paid, the total of their
    /// payments, the latest payment time, the asking kiosk.
    pub(super) fn seal_payment_receipt(
        &self,
        req: &SealRequest,
    ) -> Result<SealedReceipt, StoreError> {
        let n = req.decision_numbers.len();
        if n == 0 || n > MAX_SEALED_DECISIONS {
            return Err(StoreError::Invalid(format!(
                "a receipt names 1 to {MAX_SEALED_DECISIONS} decisions"
            )));
        }
        let ident = |s: &str| {
            !s.is_empty()
                && s.len() <= 40
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !ident(&req.kiosk_id) {
            return Err(StoreError::Invalid("kiosk id".into()));
        }
        let (total, paid_at) = self.read(|tx| {
            let mut total = Fen(0);
            let mut latest = i64::MIN;
            for number in &req.decision_numbers {
                let row = tx.query_opt(
                    "SELECT p.total_fen, p.paid_at FROM payments p JOIN decisions d ON d.id = p.decision_id WHERE d.number = ?1",
                    &sql_params![number.as_str()],
                )?;
                let Some(row) = row else {
                    return Err(StoreError::ReceiptNotFound);
                };
                total += Fen(row.get(0)?);
                latest = latest.max(row.get::<i64>(1)?);
            }
            Ok((total, latest))
        })?;
        let paid_at = Timestamp::from_second(paid_at)
            .map_err(|e| StoreError::Corrupt(format!("payment time: {e}")))?;
        let number = req
            .decision_numbers
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("+");
        if !number.split('+').all(ident) {
            return Err(StoreError::DecisionNotFound(number));
        }
        let code = ReceiptCode {
            kind: ReceiptKind::Payment,
            kiosk_id: req.kiosk_id.clone(),
            number,
            amount: total,
            at: local_time(paid_at),
            seal: None,
        };
        let sealed = self.qr.seal_receipt(&code)?;
        Ok(SealedReceipt {
            code: sealed.encode(),
        })
    }
}
