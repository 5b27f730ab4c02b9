//! The verification code printed as a QR on every receipt, and its strict parser (a scanned text
//! is untrusted input). Self-contained (`jiff`, `thiserror` and `Fen`) so that the fuzz target
//! can build it alone.
//!
//! Two forms:
//! - `CQKIOSK-RCPT/1|KIND|KIOSK|NUMBER|FEN|YYYYMMDDhhmmss`: unsealed (what the kiosk itself
//!   lays out when the platform gave it no seal); it proves nothing, anyone can print it;
//! - `CQKIOSK-RCPT/2|KIND|KIOSK|NUMBER|FEN|YYYYMMDDhhmmss|KID|SIG`: sealed by the platform,
//!   `SIG` the base64url (no padding, 86 characters) ed25519 signature by the platform's receipt
//!   key `KID` over everything before `|SIG` ([`ReceiptCode::signed_message`]);
//!   `kiosk platform verify-receipt` checks it against the published receipt keys
//!   (`crate::store::token::QrKeys::verify_receipt`).
//!
//! `NUMBER` is one decision number, or several joined by `+` (one payment of several
//! decisions).

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
    /// The platform's seal (form /2); `None`: an unsealed code (form /1).
    pub seal: Option<ReceiptSeal>,
}

/// The platform's signature over a receipt code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSeal {
    /// The receipt key's id.
    pub key_id: String,
    /// base64url (no padding) of the 64-byte ed25519 signature.
    pub signature: String,
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
const SEALED_PREFIX: &str = "CQKIOSK-RCPT/2";
/// The length of a base64url ed25519 signature without padding.
const SIG_LEN: usize = 86;
/// The most decision numbers one code names (one payment receipt of several decisions).
pub const MAX_NUMBERS: usize = 20;

fn ident(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn key_id_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl ReceiptCode {
    /// `CQKIOSK-RCPT/1|H|CQ-DEMO-0001|NUMBER|20000|20261125093000` (amount in fen, Beijing time),
    /// or with a seal `CQKIOSK-RCPT/2|…|KID|SIG`.
    pub fn encode(&self) -> String {
        match &self.seal {
            None => format!("{RECEIPT_PREFIX}|{}", self.fields()),
            Some(seal) => format!("{}|{}", self.signed_message(&seal.key_id), seal.signature),
        }
    }

    /// What the platform's receipt key `key_id` signs: the sealed form up to the signature.
    pub fn signed_message(&self, key_id: &str) -> String {
        format!("{SEALED_PREFIX}|{}|{key_id}", self.fields())
    }

    fn fields(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}",
            self.kind.code(),
            self.kiosk_id,
            self.number,
            self.amount.as_fen(),
            self.at.strftime("%Y%m%d%H%M%S")
        )
    }

    /// The decision numbers the code names (one, or several joined by `+`).
    pub fn numbers(&self) -> impl Iterator<Item = &str> {
        self.number.split('+')
    }

    /// Parse a scanned text strictly; anything else is refused.
    pub fn parse(text: &str) -> Result<Self, ReceiptCodeError> {
        let mut parts = text.split('|');
        let sealed = match parts.next() {
            Some(RECEIPT_PREFIX) => false,
            Some(SEALED_PREFIX) => true,
            _ => return Err(ReceiptCodeError::NotReceipt),
        };
        let fields: Vec<&str> = parts.take(8).collect();
        let (kind, kiosk, number, amount, at, seal) = match (sealed, &fields[..]) {
            (false, [kind, kiosk, number, amount, at]) => {
                (*kind, *kiosk, *number, *amount, *at, None)
            }
            (true, [kind, kiosk, number, amount, at, key_id, sig]) => {
                if !key_id_ok(key_id) {
                    return Err(ReceiptCodeError::Field("key"));
                }
                if sig.len() != SIG_LEN
                    || !sig
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err(ReceiptCodeError::Field("signature"));
                }
                let seal = ReceiptSeal {
                    key_id: key_id.to_string(),
                    signature: sig.to_string(),
                };
                (*kind, *kiosk, *number, *amount, *at, Some(seal))
            }
            _ => return Err(ReceiptCodeError::Field("count")),
        };
        let kind = match kind {
            "H" => ReceiptKind::Handling,
            "P" => ReceiptKind::Payment,
            "D" => ReceiptKind::Decision,
            _ => return Err(ReceiptCodeError::Field("kind")),
        };
        if !ident(kiosk) {
            return Err(ReceiptCodeError::Field("kiosk"));
        }
        if number.split('+').take(MAX_NUMBERS + 1).count() > MAX_NUMBERS
            || !number.split('+').all(ident)
        {
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
            seal,
        })
    }
}
