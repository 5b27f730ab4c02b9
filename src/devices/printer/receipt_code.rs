//! The verification code printed as a QR on every receipt, and its strict parser (a scanned text
//! is untrusted input). Self-contained (`jiff`, `thiserror` and `Fen`) so that the fuzz target
//! can build it alone.

use crate::domain::Fen;
use jiff::civil::DateTime;

/// What a receipt's verification QR code names: kind, kiosk, number, amount, time. An operator
/// scans it and checks the number and amount against the platform record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptCode {
    pub kind: ReceiptKind,
    pub kiosk_id: String,
    pub number: String,
    pub amount: Fen,
    pub at: DateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Handling,
    Payment,
    Decision,
}

impl ReceiptKind {
    fn code(self) -> char {
        match self {
            ReceiptKind::Handling => 'H',
            ReceiptKind::Payment => 'P',
            ReceiptKind::Decision => 'D',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptCodeError {
    #[error("not a kiosk receipt code")]
    NotReceipt,
    #[error("receipt code field {0} is malformed")]
    Field(&'static str),
}

const RECEIPT_PREFIX: &str = "CQKIOSK-RCPT/1";

impl ReceiptCode {
    /// `CQKIOSK-RCPT/1|H|CQ-DEMO-0001|NUMBER|20000|20261125093000` (amount in fen, Beijing time).
    pub fn encode(&self) -> String {
        format!(
            "{RECEIPT_PREFIX}|{}|{}|{}|{}|{}",
            self.kind.code(),
            self.kiosk_id,
            self.number,
            self.amount.as_fen(),
            self.at.strftime("%Y%m%d%H%M%S")
        )
    }

    /// Parse a scanned text strictly; anything else is refused.
    pub fn parse(text: &str) -> Result<Self, ReceiptCodeError> {
        let mut parts = text.split('|');
        if parts.next() != Some(RECEIPT_PREFIX) {
            return Err(ReceiptCodeError::NotReceipt);
        }
        let fields: Vec<&str> = parts.collect();
        let [kind, kiosk, number, amount, at] = fields[..] else {
            return Err(ReceiptCodeError::Field("count"));
        };
        let kind = match kind {
            "H" => ReceiptKind::Handling,
            "P" => ReceiptKind::Payment,
            "D" => ReceiptKind::Decision,
            _ => return Err(ReceiptCodeError::Field("kind")),
        };
        let ident = |s: &str| {
            !s.is_empty()
                && s.len() <= 40
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !ident(kiosk) {
            return Err(ReceiptCodeError::Field("kiosk"));
        }
        if !ident(number) {
            return Err(ReceiptCodeError::Field("number"));
        }
        let amount = amount
            .parse::<i64>()
            .ok()
            .filter(|a| (0..=100_000_000).contains(a) && !amount.starts_with('+'))
            .ok_or(ReceiptCodeError::Field("amount"))?;
        if at.len() != 14 || !at.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ReceiptCodeError::Field("time"));
        }
        let n = |r: std::ops::Range<usize>| at[r].parse::<i16>().unwrap_or(-1);
        let at = jiff::civil::DateTime::new(
            n(0..4),
            n(4..6) as i8,
            n(6..8) as i8,
            n(8..10) as i8,
            n(10..12) as i8,
            n(12..14) as i8,
            0,
        )
        .map_err(|_| ReceiptCodeError::Field("time"))?;
        Ok(ReceiptCode {
            kind,
            kiosk_id: kiosk.to_string(),
            number: number.to_string(),
            amount: Fen(amount),
            at,
        })
    }
}
